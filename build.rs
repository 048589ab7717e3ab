//! Link-time layout of the release binary (Linux): the functions a running daemon executes are
//! placed together at the start of its text, in `.text.hot`, by the linker script
//! `link/hot-text.ld` (input-section patterns, one per function; `scripts/hot-text` regenerates
//! it from a callgrind profile). A daemon then keeps about 1 MiB of its text resident instead of
//! about 3 MiB (issue 11, "Memory"). Only the binaries get it, not the tests; rust-lld, GNU ld
//! and zig's linker (the packages' `cargo zigbuild`) read it. `RKEEPALIVED_HOT_TEXT=0` leaves it
//! out.

fn main() {
    println!("cargo:rerun-if-changed=link/hot-text.ld");
    println!("cargo:rerun-if-env-changed=RKEEPALIVED_HOT_TEXT");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let wanted = std::env::var("RKEEPALIVED_HOT_TEXT").map_or(true, |v| v != "0");
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let script = std::path::Path::new(&dir).join("link/hot-text.ld");
    if release && linux && wanted && script.exists() {
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
}
