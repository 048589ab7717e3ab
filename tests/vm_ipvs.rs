//! IPVS tests in a qemu TCG VM (the host kernel has no IPVS); see `tests/support/vm.rs`.

mod support;

use std::time::Duration;
use support::vm::{self, Vm};

#[test]
fn vm_output_between_markers() {
    let console = "boot noise\n@@RKVM-START@@\nhello\nworld\n@@RKVM-EXIT 3@@\nreboot: Power down\n";
    let (out, code) = vm::split_output(console);
    assert_eq!(out, "hello\nworld\n");
    assert_eq!(code, Some(3));
    assert_eq!(vm::split_output("no markers").1, None);
}

#[test]
fn vm_module_dependencies_load_first() {
    let deps = vm::parse_modules_dep(
        "kernel/a/ip_vs.ko: kernel/b/nf_conntrack.ko kernel/c/libcrc32c.ko\n\
         kernel/b/nf_conntrack.ko: kernel/c/libcrc32c.ko\n\
         kernel/c/libcrc32c.ko:\n\
         kernel/a/ip_vs_rr.ko: kernel/a/ip_vs.ko kernel/b/nf_conntrack.ko kernel/c/libcrc32c.ko\n",
    );
    let order = vm::load_order(&deps, &["ip_vs_rr", "ip_vs"]).unwrap();
    assert_eq!(
        order,
        [
            "kernel/c/libcrc32c.ko",
            "kernel/b/nf_conntrack.ko",
            "kernel/a/ip_vs.ko",
            "kernel/a/ip_vs_rr.ko"
        ]
    );
    assert!(vm::load_order(&deps, &["nope"]).is_err());
}

#[test]
fn vm_smoke() {
    let Some(vm) = Vm::new("vm_smoke") else {
        return;
    };
    let out = vm.run(
        "set -e\nipvsadm -A -t 10.0.0.1:80 -s wrr\nipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 3\nipvsadm -Ln\nip -br link\nexit 7\n",
        Duration::from_secs(120),
    );
    eprintln!(
        "boot {:?} total {:?}\n{}",
        out.boot_time, out.total_time, out.console
    );
    assert_eq!(out.exit_code, Some(7));
    assert!(out.stdout.contains("10.0.1.1:80"), "{}", out.stdout);
}
