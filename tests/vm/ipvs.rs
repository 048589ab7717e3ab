//! IPVS tests in a qemu TCG VM (the host kernel has no IPVS); see `tests/support/vm.rs`.

use crate::support;

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
#[ignore = "needs root, qemu and a cloud kernel (scripts/test-all runs it)"]
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
    // libtest names a test by its path below the crate: `ipvs::guest_genl_roundtrip`.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let path = format!("{module}::{name}");
    let script = format!(
        "set -e\n{before}\nRKVM_GUEST=1 /usr/bin/vmtest --exact {path} --ignored --nocapture --test-threads 1\n{after}\n"
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
            tun: Tunnel::default(),
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
        s.apply_all(&teardown(big.keys(), &back)).unwrap();

        // Teardown of ours leaves the foreign service alone.
        let actual = s.table().unwrap();
        s.apply_all(&teardown(want2.keys(), &actual)).unwrap();
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
#[ignore = "needs root, qemu and a cloud kernel (scripts/test-all runs it)"]
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

// ---------------------------------------------------------------------------------------------
// rkeepalived vs keepalived 2.2.7 on the same virtual_server configs
// ---------------------------------------------------------------------------------------------

/// Checker block keywords (removed before the comparison: keepalived marks a real server down
/// once its checker fails, and the VM has no real servers to check; without checkers both
/// daemons program every real server as up).
const CHECKERS: &[&str] = &[
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
];

/// `text` without its checker blocks (brace counting; a block may open on the keyword's line
/// or on the next one).
fn strip_checkers(text: &str) -> String {
    let mut out = String::new();
    let mut depth: i32 = 0;
    let mut skipping = false;
    let mut opened = false;
    for line in text.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if !skipping && CHECKERS.contains(&first) {
            skipping = true;
            opened = false;
            depth = 0;
        }
        if skipping {
            for c in line.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if opened && depth <= 0 {
                skipping = false;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `ipvsadm -Ln` as sorted rows: each service line, and each real server line prefixed with
/// its service line (so the comparison does not depend on the kernel's hash order).
fn table_rows(ipvsadm: &str) -> Vec<String> {
    let mut rows = Vec::new();
    let mut service = String::new();
    for line in ipvsadm.lines() {
        let words = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.starts_with("  ->") {
            if !words.starts_with("-> RemoteAddress") {
                // Drop the connection counters: "-> ADDR:PORT METHOD WEIGHT".
                let w: Vec<&str> = words.split(' ').take(4).collect();
                rows.push(format!("{service} | {}", w.join(" ")));
            }
        } else if ["TCP", "UDP", "SCTP", "FWM"]
            .iter()
            .any(|p| line.starts_with(p))
        {
            service = words;
            rows.push(service.clone());
        }
    }
    rows.sort();
    rows
}

fn lvs_samples() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/keepalived-samples");
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("samples")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path()).ok()?;
            text.lines()
                .any(|l| l.trim_start().starts_with("virtual_server "))
                .then(|| (e.file_name().to_string_lossy().into_owned(), text))
        })
        .collect();
    v.sort();
    v
}

/// The guest script: for each config, rkeepalived then keepalived (both `-C`: IPVS side only),
/// each with a foreign service present; the table while it runs and after SIGTERM.
const COMPARE_SCRIPT: &str = r#"
wait_table() { # wait until ipvsadm -Ln has more than the foreign service and is stable
  prev=""; i=0
  while [ $i -lt 120 ]; do
    cur=$(ipvsadm -Ln)
    n=$(echo "$cur" | grep -c -E '^(TCP|UDP|SCTP|FWM)')
    if [ "$n" -gt 1 ] && [ "$cur" = "$prev" ]; then return 0; fi
    prev="$cur"; i=$((i+1)); sleep 0.25
  done
  return 1
}
run_one() { # $1 daemon tag, $2 config, $3 name, then the daemon command line
  tag=$1; conf=$2; name=$3; shift 3
  ipvsadm -C; ipvsadm -A -t 10.250.0.1:1 -s rr
  "$@" -f "$conf" >/tmp/$tag.$name.log 2>&1 &
  pid=$!
  wait_table || echo "timeout waiting for the table" >>/tmp/$tag.$name.log
  echo "@@ $name $tag up"; ipvsadm -Ln
  kill -TERM $pid; wait $pid
  echo "@@ $name $tag down"; ipvsadm -Ln
  echo "@@ $name $tag log"; tail -n 20 /tmp/$tag.$name.log
}
for conf in /conf/*; do
  name=$(basename "$conf")
  run_one rk "$conf" "$name" rkeepalived -n -l -D -C -p /tmp/rk.pid
  run_one ka "$conf" "$name" keepalived -n -l -D -C -p /tmp/ka.pid -c /tmp/kac.pid -r /tmp/kav.pid
done
# -I keeps our services.
conf=$(ls /conf/* | head -n 1)
ipvsadm -C
rkeepalived -n -l -D -C -I -p /tmp/rk.pid -f "$conf" >/tmp/keep.log 2>&1 &
pid=$!; wait_table; kill -TERM $pid; wait $pid
echo "@@ keep -I"; ipvsadm -Ln
"#;

/// For every sample with a `virtual_server` (checkers removed), rkeepalived programs the same
/// IPVS table as keepalived 2.2.7 (compared row by row, sorted), removes exactly its own
/// services on SIGTERM (a foreign service stays), and keeps them with `-I`.
#[test]
#[ignore = "needs root, qemu and a cloud kernel (scripts/test-all runs it)"]
fn vm_tables_match_keepalived() {
    let Some(vm) = Vm::with_rkeepalived("vm_tables_match_keepalived") else {
        return;
    };
    let samples = lvs_samples();
    assert!(
        samples.len() >= 10,
        "samples with virtual_server: {}",
        samples.len()
    );
    let files: Vec<vm::GuestFile> = samples
        .iter()
        .map(|(name, text)| vm::GuestFile::new(&format!("/conf/{name}"), strip_checkers(text)))
        .collect();
    let out = vm.run_with(COMPARE_SCRIPT, &files, Duration::from_secs(500));
    eprintln!("VM boot {:?}, total {:?}", out.boot_time, out.total_time);
    assert_eq!(out.exit_code, Some(0), "{}", out.console);
    let s = vm::sections(&out.stdout);
    let foreign = vec!["TCP 10.250.0.1:1 rr".to_owned()];
    let mut compared = 0;
    for (name, _) in &samples {
        let get = |k: &str| {
            s.get(&format!("{name} {k}"))
                .unwrap_or_else(|| panic!("no section {name} {k}:\n{}", out.stdout))
        };
        let rk = table_rows(get("rk up"));
        let ka = table_rows(get("ka up"));
        assert!(
            rk.len() > 1,
            "{name}: rkeepalived programmed nothing:\n{}",
            get("rk log")
        );
        assert_eq!(
            rk,
            ka,
            "{name}: rkeepalived vs keepalived\nrk log:\n{}\nka log:\n{}",
            get("rk log"),
            get("ka log")
        );
        assert!(
            rk.contains(&foreign[0]),
            "{name}: foreign service kept while running"
        );
        assert_eq!(
            table_rows(get("rk down")),
            foreign,
            "{name}: rkeepalived teardown"
        );
        assert_eq!(
            table_rows(get("ka down")),
            foreign,
            "{name}: keepalived teardown"
        );
        compared += 1;
        eprintln!("{name}: {} rows equal", rk.len());
    }
    let kept = table_rows(&s["keep -I"]);
    assert!(kept.len() > 1, "-I: services kept: {kept:?}");
    eprintln!("compared {compared} configs");
}

/// A SIGTERM that arrives while a large table is being programmed still leads to the orderly
/// shutdown: the daemon finishes, stops, and removes every service it created (a foreign
/// service stays). The signal is sent as soon as the first of 2,000 services shows up.
#[test]
#[ignore = "needs root, qemu and a cloud kernel (scripts/test-all runs it)"]
fn vm_sigterm_while_programming() {
    let Some(vm) = Vm::with_rkeepalived("vm_sigterm_while_programming") else {
        return;
    };
    let mut conf = String::new();
    for i in 0..2000u32 {
        let vip = std::net::Ipv4Addr::from(u32::from_be_bytes([10, 100, 0, 0]) + i);
        conf.push_str(&format!(
            "virtual_server {vip} 80 {{\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n"
        ));
        for j in 1..=10 {
            conf.push_str(&format!(
                "  real_server 10.200.0.{j} 80 {{\n    weight 1\n  }}\n"
            ));
        }
        conf.push_str("}\n");
    }
    let script = r#"
ipvsadm -C; ipvsadm -A -t 10.250.0.1:1 -s rr
rkeepalived -n -l -D -C -p /tmp/rk.pid -f /big.conf >/tmp/big.log 2>&1 &
pid=$!
i=0; n=0
while [ $i -lt 3000 ]; do
  n=$(ipvsadm -Ln | grep -c '^TCP')
  [ "$n" -gt 1 ] && break
  i=$((i+1))
done
kill -TERM $pid; wait $pid; status=$?
echo "@@ seen"; echo "$n"
echo "@@ status"; echo "$status"
echo "@@ after"; ipvsadm -Ln
echo "@@ log"; cat /tmp/big.log
"#;
    let out = vm.run_with(
        script,
        &[vm::GuestFile::new("/big.conf", conf)],
        Duration::from_secs(300),
    );
    out.assert_ok();
    let s = vm::sections(&out.stdout);
    let log = &s["log"];
    eprintln!("services seen when SIGTERM was sent: {}", s["seen"].trim());
    assert_eq!(s["status"].trim(), "0", "exit status\n{log}");
    assert_eq!(
        table_rows(&s["after"]),
        vec!["TCP 10.250.0.1:1 rr".to_owned()],
        "table after SIGTERM\n{log}"
    );
    assert!(log.contains("Stopping"), "orderly shutdown:\n{log}");
}

/// Shell functions for the reload scripts: `start_rk` starts rkeepalived (IPVS side only) on
/// `/tmp/k.conf`, logging to `/tmp/rk.log`, its PID in `$pid`; `wait_log PATTERN` waits (10 s
/// at most) until that log has a line matching PATTERN (a missing file counts as no match).
const RK_PRELUDE: &str = r#"
start_rk() {
  rkeepalived -n -l -D -C -p /tmp/rk.pid -f /tmp/k.conf >/tmp/rk.log 2>&1 &
  pid=$!
}
wait_log() {
  i=0
  while [ $i -lt 100 ]; do
    grep -q "$1" /tmp/rk.log 2>/dev/null && return 0
    sleep 0.1; i=$((i+1))
  done
  echo "timeout waiting for '$1'" >&2
}
"#;

/// Before/after configs for the reload test: one service unchanged, one with a real server
/// added and a weight changed, one removed and one added.
const RELOAD_BEFORE: &str = "virtual_server 10.60.0.1 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 10.61.0.1 80 {\n    weight 1\n  }\n}\n\
virtual_server 10.60.0.2 80 {\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n  real_server 10.61.0.1 80 {\n    weight 1\n  }\n  real_server 10.61.0.2 80 {\n    weight 2\n  }\n}\n\
virtual_server 10.60.0.3 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 10.61.0.1 80 {\n    weight 1\n  }\n}\n";
const RELOAD_AFTER: &str = "virtual_server 10.60.0.1 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 10.61.0.1 80 {\n    weight 1\n  }\n}\n\
virtual_server 10.60.0.2 80 {\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n  real_server 10.61.0.1 80 {\n    weight 5\n  }\n  real_server 10.61.0.2 80 {\n    weight 2\n  }\n  real_server 10.61.0.3 80 {\n    weight 1\n  }\n}\n\
virtual_server 10.60.0.4 8080 {\n  lb_algo lc\n  lb_kind NAT\n  protocol TCP\n  real_server 10.61.0.1 8080 {\n    weight 3\n  }\n}\n";

/// SIGHUP: the table follows the edited file with the minimal changes (one service removed,
/// one added with its real server, a real server added and a weight edited: 5 changes, the
/// unchanged service untouched) and ends equal to what keepalived 2.2.7 programs from the
/// edited file; a file with an error leaves the running table as it is; SIGTERM then removes
/// every service rkeepalived owns, the ones added by the reload included.
#[test]
#[ignore = "needs root, qemu and a cloud kernel (scripts/test-all runs it)"]
fn vm_reload_applies_the_difference() {
    let Some(vm) = Vm::with_rkeepalived("vm_reload_applies_the_difference") else {
        return;
    };
    let body = r#"
ipvsadm -C; ipvsadm -A -t 10.250.0.1:1 -s rr
cp /conf/before /tmp/k.conf
start_rk
wait_log "virtual service(s) configured"
echo "@@ before"; ipvsadm -Ln
cp /conf/after /tmp/k.conf; kill -HUP $pid
wait_log "reloaded"
echo "@@ after"; ipvsadm -Ln
sed 's/lb_algo lc/lb_algo nosuch/' /conf/after > /tmp/k.conf; kill -HUP $pid
wait_log "keeping the running configuration"
echo "@@ bad"; ipvsadm -Ln
kill -TERM $pid; wait $pid
echo "@@ down"; ipvsadm -Ln
echo "@@ log"; cat /tmp/rk.log
ipvsadm -C; ipvsadm -A -t 10.250.0.1:1 -s rr
keepalived -n -l -D -C -p /tmp/ka.pid -c /tmp/kac.pid -r /tmp/kav.pid -f /conf/after >/tmp/ka.log 2>&1 &
kpid=$!
i=0; while [ $i -lt 100 ] && [ "$(ipvsadm -Ln | grep -c '^TCP')" -lt 4 ]; do sleep 0.1; i=$((i+1)); done
sleep 1
echo "@@ keepalived"; ipvsadm -Ln
kill -TERM $kpid; wait $kpid
"#;
    let script = format!("{RK_PRELUDE}{body}");
    let files = [
        vm::GuestFile::new("/conf/before", RELOAD_BEFORE),
        vm::GuestFile::new("/conf/after", RELOAD_AFTER),
    ];
    let out = vm.run_with(&script, &files, Duration::from_secs(300));
    out.assert_ok();
    let s = vm::sections(&out.stdout);
    let log = &s["log"];
    let foreign = "TCP 10.250.0.1:1 rr".to_owned();
    let before = table_rows(&s["before"]);
    assert!(
        before.iter().any(|r| r.starts_with("TCP 10.60.0.3:80")),
        "{before:?}\n{log}"
    );
    let after = table_rows(&s["after"]);
    assert_eq!(
        after,
        table_rows(&s["keepalived"]),
        "after reload vs keepalived\n{log}"
    );
    assert!(after.contains(&foreign), "foreign service kept: {after:?}");
    assert!(
        log.contains("reloaded: 3 virtual service(s) configured (5 change(s) sent)"),
        "minimal changes:\n{log}"
    );
    assert_eq!(
        table_rows(&s["bad"]),
        after,
        "a bad file changes nothing\n{log}"
    );
    assert!(log.contains("nosuch"), "the error is reported:\n{log}");
    assert_eq!(
        table_rows(&s["down"]),
        vec![foreign],
        "teardown after reload\n{log}"
    );
}

/// A daemon that started without any virtual server (`-C`, nothing to program) starts its
/// IPVS side when a reload brings the first ones, and removes them on SIGTERM.
#[test]
#[ignore = "needs root, qemu and a cloud kernel (scripts/test-all runs it)"]
fn vm_reload_starts_the_ipvs_side() {
    let Some(vm) = Vm::with_rkeepalived("vm_reload_starts_the_ipvs_side") else {
        return;
    };
    let body = r#"
ipvsadm -C
printf 'global_defs {\n  router_id vm\n}\n' > /tmp/k.conf
start_rk
wait_log "waiting for a reload"
echo "@@ empty"; ipvsadm -Ln
cp /conf/after /tmp/k.conf; kill -HUP $pid
wait_log "virtual service(s) configured"
echo "@@ after"; ipvsadm -Ln
kill -TERM $pid; wait $pid
echo "@@ down"; ipvsadm -Ln
echo "@@ log"; cat /tmp/rk.log
"#;
    let script = format!("{RK_PRELUDE}{body}");
    let out = vm.run_with(
        &script,
        &[vm::GuestFile::new("/conf/after", RELOAD_AFTER)],
        Duration::from_secs(300),
    );
    out.assert_ok();
    let s = vm::sections(&out.stdout);
    let log = &s["log"];
    assert!(table_rows(&s["empty"]).is_empty(), "{log}");
    let after = table_rows(&s["after"]);
    assert_eq!(
        after.iter().filter(|r| !r.contains(" | ")).count(),
        3,
        "{after:?}\n{log}"
    );
    assert!(table_rows(&s["down"]).is_empty(), "teardown:\n{log}");
}

#[test]
fn table_rows_sort_by_service() {
    let a = "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\nTCP  10.0.0.1:80 wlc\n  -> 10.0.1.2:80   Masq    1      0          0\n  -> 10.0.1.1:80   Masq    1      3          0\nFWM  1 rr\n";
    assert_eq!(
        table_rows(a),
        [
            "FWM 1 rr",
            "TCP 10.0.0.1:80 wlc",
            "TCP 10.0.0.1:80 wlc | -> 10.0.1.1:80 Masq 1",
            "TCP 10.0.0.1:80 wlc | -> 10.0.1.2:80 Masq 1",
        ]
    );
    let stripped = strip_checkers(
        "real_server 1.2.3.4 80 {\n weight 1\n TCP_CHECK {\n  connect_timeout 3\n }\n HTTP_GET\n {\n url { path / }\n }\n}\n",
    );
    assert_eq!(stripped, "real_server 1.2.3.4 80 {\n weight 1\n}\n");
}

/// Issue 14 point 7: the metrics endpoint reads the kernel's IPVS counters of every virtual
/// and real server (this host has no IPVS; the VM has).
#[test]
#[ignore = "needs root, qemu and a cloud kernel (scripts/test-all runs it)"]
fn vm_metrics_export_ipvs_counters() {
    let Some(vm) = Vm::with_rkeepalived("vm_metrics_export_ipvs_counters") else {
        return;
    };
    let conf = "virtual_server 10.0.0.100 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\
                  real_server 10.200.0.1 8080 {\n    weight 1\n  }\n}\n";
    let script = r#"
rkeepalived -n -l -D -C -p /tmp/rk.pid -f /m.conf --metrics-listen 127.0.0.1:9650 >/tmp/m.log 2>&1 &
pid=$!
i=0
while [ $i -lt 100 ]; do
  ipvsadm -Ln | grep -q 10.200.0.1 && break
  sleep 0.1; i=$((i+1))
done
echo "@@ metrics"; wget -q -O - http://127.0.0.1:9650/metrics
kill -TERM $pid; wait $pid
echo "@@ log"; cat /tmp/m.log
"#;
    let out = vm.run_with(
        script,
        &[vm::GuestFile::new("/m.conf", conf)],
        Duration::from_secs(300),
    );
    out.assert_ok();
    let s = vm::sections(&out.stdout);
    let m = &s["metrics"];
    for needle in [
        "keepalived_ipvs_virtual_server_connections_total{virtual_server=\"[10.0.0.100]:tcp:80\"} 0",
        "keepalived_ipvs_real_server_in_bytes_total{virtual_server=\"[10.0.0.100]:tcp:80\",real_server=\"[10.200.0.1]:tcp:8080\"} 0",
        "keepalived_ipvs_virtual_server_connections_per_second{virtual_server=\"[10.0.0.100]:tcp:80\"} 0",
    ] {
        assert!(
            m.contains(needle),
            "no {needle:?} in\n{m}\nlog:\n{}",
            s["log"]
        );
    }
}
