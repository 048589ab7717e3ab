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

/// True when this test binary runs inside the VM (started by a `vm_*` test).
fn in_guest() -> bool {
    std::env::var_os("RKVM_GUEST").is_some()
}

/// Runs the `#[ignore]`d guest test `name` of this binary inside a VM, after `before`, then
/// the shell lines `after`; returns the VM's output.
fn run_guest_test(vm: &Vm, name: &str, before: &str, after: &str) -> vm::VmOutput {
    let exe = std::env::current_exe().expect("current_exe");
    let script = format!(
        "set -e\n{before}\nRKVM_GUEST=1 /usr/bin/vmtest --exact {name} --ignored --nocapture --test-threads 1\n{after}\n"
    );
    let out = vm.run_with(
        &script,
        &[vm::GuestFile::from_host("/usr/bin/vmtest", &exe)],
        Duration::from_secs(240),
    );
    eprintln!(
        "VM boot {:?}, total {:?}\n{}",
        out.boot_time, out.total_time, out.stdout
    );
    out
}

mod guest {
    use rkeepalived::ipvs::IpvsError;
    use rkeepalived::ipvs::consts::*;
    use rkeepalived::ipvs::genl::IpvsSocket;
    use rkeepalived::ipvs::model::*;
    use rkeepalived::ipvs::reconcile::{reconcile, teardown};
    use std::net::IpAddr;
    use std::time::Instant;

    pub fn service(key: ServiceKey, sched: &str, flags: u32, timeout: u32) -> Service {
        Service {
            key,
            sched: sched.into(),
            flags,
            timeout,
            netmask: Service::default_netmask(key.af()),
            pe_name: None,
        }
    }

    pub fn dest(addr: &str, port: u16, fwd: u32, weight: u32) -> Dest {
        Dest {
            key: DestKey {
                addr: addr.parse().unwrap(),
                port,
            },
            fwd,
            weight,
            u_thresh: 0,
            l_thresh: 0,
        }
    }

    pub fn entry(s: Service, ds: Vec<Dest>) -> (ServiceKey, ServiceEntry) {
        (
            s.key,
            ServiceEntry {
                service: s,
                dests: ds.into_iter().map(|d| (d.key, d)).collect(),
            },
        )
    }

    fn tcp(addr: &str, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: IPPROTO_TCP,
            addr: addr.parse().unwrap(),
            port,
        }
    }

    /// Everything the genl client does, against the VM's kernel.
    pub fn genl_roundtrip() {
        let mut s = IpvsSocket::open().expect("open IPVS socket");
        let info = s.info().unwrap();
        println!(
            "GUEST info version {:#x} conn_tab {}",
            info.version, info.conn_tab_size
        );
        assert!(info.version >= 0x010200);

        let foreign_key = tcp("10.9.9.9", 9);
        let actual = s.table().unwrap();
        assert!(
            actual.contains_key(&foreign_key),
            "the script made a foreign service: {actual:?}"
        );

        let mut lc = service(tcp("10.0.0.1", 80), "lc", 0, 0);
        lc.netmask = 0xffff_ff00;
        let mut udp_t = dest("10.0.1.3", 53, IP_VS_CONN_F_MASQ, 2);
        udp_t.u_thresh = 100;
        udp_t.l_thresh = 10;
        let want: Table = [
            entry(
                service(tcp("10.0.0.1", 443), "wrr", IP_VS_SVC_F_PERSISTENT, 50),
                vec![
                    dest("10.0.1.1", 443, IP_VS_CONN_F_MASQ, 3),
                    dest("10.0.1.2", 443, IP_VS_CONN_F_MASQ, 0),
                ],
            ),
            entry(lc, vec![dest("10.0.1.1", 80, IP_VS_CONN_F_DROUTE, 1)]),
            entry(
                service(
                    ServiceKey::Addr {
                        protocol: IPPROTO_UDP,
                        addr: "10.0.0.2".parse().unwrap(),
                        port: 53,
                    },
                    "sh",
                    IP_VS_SVC_F_SCHED_SH_PORT | IP_VS_SVC_F_SCHED_SH_FALLBACK,
                    0,
                ),
                vec![udp_t],
            ),
            entry(
                service(
                    ServiceKey::Fwmark {
                        af: AF_INET,
                        mark: 7,
                    },
                    "rr",
                    0,
                    0,
                ),
                vec![dest("10.0.2.1", 0, IP_VS_CONN_F_TUNNEL, 1)],
            ),
            entry(
                service(tcp("2001:db8::1", 80), "mh", IP_VS_SVC_F_SCHED1, 0),
                vec![dest("2001:db8::10", 8080, IP_VS_CONN_F_MASQ, 1)],
            ),
        ]
        .into_iter()
        .collect();

        let ops = reconcile(&want, &actual);
        s.apply_all(&ops).expect("apply");
        let back = s.table().unwrap();
        for (k, e) in &want {
            assert_eq!(&back[k], e, "read back {k}");
        }
        assert!(reconcile(&want, &back).is_empty());

        // Per-op errors: adding an existing service is EEXIST, touching a missing one ESRCH.
        let dup = want.values().next().unwrap().service.clone();
        let missing = service(tcp("10.7.7.7", 1), "rr", 0, 0);
        let failed = s
            .apply(&[
                Op::AddService(dup),
                Op::DelService(missing.key),
                Op::EditService(missing.clone()),
            ])
            .unwrap();
        let errnos: Vec<i32> = failed
            .iter()
            .map(|(_, e)| match e {
                IpvsError::Kernel { errno, .. } => *errno,
                other => panic!("{other}"),
            })
            .collect();
        assert_eq!(errnos, [libc::EEXIST, libc::ESRCH, libc::ESRCH]);
        let bad = service(tcp("10.7.7.8", 1), "nosuchsched", 0, 0);
        assert!(s.apply_all(&[Op::AddService(bad)]).is_err());

        // An edit in place: weight change and a scheduler change.
        let mut want2 = want.clone();
        let k443 = tcp("10.0.0.1", 443);
        want2.get_mut(&k443).unwrap().service.sched = "rr".into();
        want2
            .get_mut(&k443)
            .unwrap()
            .dests
            .values_mut()
            .for_each(|d| d.weight = 9);
        let ops = reconcile(&want2, &s.table().unwrap());
        assert_eq!(ops.len(), 3, "{ops:?}");
        s.apply_all(&ops).unwrap();
        assert!(reconcile(&want2, &s.table().unwrap()).is_empty());

        // A large table, pipelined: 20 services x 100 real servers.
        let big: Table = (0..20u16)
            .map(|i| {
                entry(
                    service(tcp("10.50.0.1", 1000 + i), "wlc", 0, 0),
                    (0..100u16)
                        .map(|j| {
                            let a = IpAddr::from([10, 60, (j / 250) as u8, (j % 250) as u8 + 1]);
                            dest(&a.to_string(), 80, IP_VS_CONN_F_MASQ, 1)
                        })
                        .collect(),
                )
            })
            .collect();
        let t = Instant::now();
        let ops = reconcile(&big, &s.table().unwrap());
        s.apply_all(&ops).unwrap();
        let applied = t.elapsed();
        let t = Instant::now();
        let back = s.table().unwrap();
        println!(
            "GUEST pipelined {} ops in {:?}; dumped {} services in {:?}",
            ops.len(),
            applied,
            back.len(),
            t.elapsed()
        );
        assert!(reconcile(&big, &back).is_empty());
        s.apply_all(&teardown(&big, &back)).unwrap();

        // Teardown of ours leaves the foreign service alone.
        let actual = s.table().unwrap();
        s.apply_all(&teardown(&want2, &actual)).unwrap();
        let left = s.table().unwrap();
        assert_eq!(left.keys().copied().collect::<Vec<_>>(), [foreign_key]);

        let t0 = s.timeouts().unwrap();
        s.set_timeouts(rkeepalived::ipvs::genl::Timeouts {
            tcp: 901,
            tcp_fin: 0,
            udp: 0,
        })
        .unwrap();
        let t1 = s.timeouts().unwrap();
        assert_eq!((t1.tcp, t1.tcp_fin, t1.udp), (901, t0.tcp_fin, t0.udp));
        s.flush().unwrap();
        assert!(s.table().unwrap().is_empty());
        println!("GUEST genl ok");
    }
}

#[test]
#[ignore = "runs inside the VM (vm_genl_client)"]
fn guest_genl_roundtrip() {
    assert!(in_guest(), "run by vm_genl_client inside the VM");
    guest::genl_roundtrip();
}

/// The generic netlink client against a real IPVS kernel: add, read back, edit, per-op errors,
/// a 2000-row pipelined table, teardown that spares a foreign service, timeouts, flush.
#[test]
fn vm_genl_client() {
    let Some(vm) = Vm::new("vm_genl_client") else {
        return;
    };
    let out = run_guest_test(
        &vm,
        "guest_genl_roundtrip",
        "ipvsadm -A -t 10.9.9.9:9 -s rr",
        "ipvsadm -Ln",
    );
    out.assert_ok();
    assert!(out.stdout.contains("GUEST genl ok"));
}
