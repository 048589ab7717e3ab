//! IPVS in a qemu TCG guest (the host kernel has no IPVS); see `tests/support/vm.rs`. Every
//! test is `#[ignore]`d with its reason; `scripts/test-all` runs them with `--include-ignored`.

#[path = "../support/mod.rs"]
mod support;

mod ecmp;
mod ecmp_frr;
mod health;
mod ipvs;
mod syncd;
mod traffic;
