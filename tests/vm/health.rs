//! Health checkers driving the IPVS table, end to end in the VM: three real servers (busybox
//! httpd on local addresses), two virtual servers sharing them (one plain, one with
//! `inhibit_on_failure`), TCP_CHECKs with delay_loop 1. Stopping a real server's service
//! removes its row (or sets weight 0); when all are down the sorry server appears and
//! quorum_down runs; when one comes back quorum_up runs and the sorry server leaves.

use crate::support;

use std::time::Duration;
use support::vm::{GuestFile, Vm};

const CONF: &str = "\
virtual_server 10.9.9.9 80 {
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  sorry_server 10.9.0.99 8080
  quorum_up \"/bin/touch /tmp/quorum-up\"
  quorum_down \"/bin/touch /tmp/quorum-down\"
  real_server 10.9.0.1 8080 {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
  real_server 10.9.0.2 8080 {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
  real_server 10.9.0.3 8080 {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
}
virtual_server 10.9.9.8 80 {
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  inhibit_on_failure
  real_server 10.9.0.1 8080 {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
  real_server 10.9.0.2 8080 {
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
}
";

const SCRIPT: &str = r#"
mkdir -p /tmp/www; echo ok > /tmp/www/index.html
for i in 1 2 3 99; do ip addr add 10.9.0.$i/32 dev lo; done
ip link set lo up
serve() { busybox httpd -f -p 10.9.0.$1:8080 -h /tmp/www & eval "pid$1=$!"; }
serve 1; serve 2; serve 3
wait_for() { # $1 = grep -E pattern that must (or with $2=absent, must not) match ipvsadm -Ln
  i=0
  while [ $i -lt 240 ]; do
    if ipvsadm -Ln | grep -q -E "$1"; then [ "$2" != absent ] && return 0
    else [ "$2" = absent ] && return 0; fi
    i=$((i+1)); sleep 0.25
  done
  echo "TIMEOUT waiting for $1 $2"; return 1
}
rkeepalived -n -l -D -C -p /tmp/rk.pid -f /etc/rk.conf >/tmp/rk.log 2>&1 &
rk=$!
wait_for '10.9.0.3:8080' || true
echo "@@ A all up"; ipvsadm -Ln
kill $pid1
wait_for '10.9.9.9:80' && wait_for '10.9.0.1:8080 +Masq +0 ' || true
echo "@@ B rs1 down"; ipvsadm -Ln
kill $pid2 $pid3
wait_for '10.9.0.99:8080' || true
sleep 1
echo "@@ C all down"; ipvsadm -Ln; ls /tmp/quorum-down 2>/dev/null && echo QUORUM_DOWN_RAN
serve 1
wait_for '10.9.0.99:8080' absent || true
sleep 1
echo "@@ D rs1 back"; ipvsadm -Ln; ls /tmp/quorum-up 2>/dev/null && echo QUORUM_UP_RAN
kill -TERM $rk; wait $rk
echo "@@ E stopped"; ipvsadm -Ln
echo "@@ LOG"; cat /tmp/rk.log
"#;

/// The `ipvsadm -Ln` rows (`-> ADDR:PORT FWD WEIGHT`) of the service `vs` in `section`.
fn rows(section: &str, vs: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in section.lines() {
        let t = line.trim();
        if t.starts_with("TCP") || t.starts_with("UDP") {
            inside = t.contains(vs);
            continue;
        }
        if inside && t.starts_with("->") && !t.contains("RemoteAddress") {
            let f: Vec<&str> = t.split_whitespace().collect();
            out.push((f[1].to_string(), f[3].parse().unwrap_or(u32::MAX)));
        }
    }
    out.sort();
    out
}

fn section<'a>(out: &'a str, name: &str) -> &'a str {
    let start = out
        .find(&format!("@@ {name}"))
        .unwrap_or_else(|| panic!("no section {name}:\n{out}"));
    let rest = &out[start..];
    let end = rest[3..].find("@@ ").map(|e| e + 3).unwrap_or(rest.len());
    &rest[..end]
}

#[test]
#[ignore = "needs root, qemu and a cloud kernel (scripts/test-all runs it)"]
fn vm_checkers_remove_inhibit_and_bring_the_sorry_server() {
    let Some(vm) = Vm::with_rkeepalived("vm_checkers") else {
        return;
    };
    let out = vm.run_with(
        SCRIPT,
        &[GuestFile::new("/etc/rk.conf", CONF)],
        Duration::from_secs(300),
    );
    let s = &out.stdout;
    eprintln!("{s}");
    let r = |name: &str, vs: &str| rows(section(s, name), vs);
    let w = |a: &str, n: u32| (a.to_string(), n);
    assert_eq!(
        r("A", "10.9.9.9:80"),
        [
            w("10.9.0.1:8080", 1),
            w("10.9.0.2:8080", 1),
            w("10.9.0.3:8080", 1)
        ],
        "{s}"
    );
    assert_eq!(
        r("A", "10.9.9.8:80"),
        [w("10.9.0.1:8080", 1), w("10.9.0.2:8080", 1)],
        "{s}"
    );
    // rs 1 down: removed from the plain service, weight 0 in the inhibit_on_failure one.
    assert_eq!(
        r("B", "10.9.9.9:80"),
        [w("10.9.0.2:8080", 1), w("10.9.0.3:8080", 1)],
        "{s}"
    );
    assert_eq!(
        r("B", "10.9.9.8:80"),
        [w("10.9.0.1:8080", 0), w("10.9.0.2:8080", 1)],
        "{s}"
    );
    // All down: quorum lost, the sorry server is the pool; quorum_down ran.
    assert_eq!(r("C", "10.9.9.9:80"), [w("10.9.0.99:8080", 1)], "{s}");
    assert_eq!(
        r("C", "10.9.9.8:80"),
        [w("10.9.0.1:8080", 0), w("10.9.0.2:8080", 0)],
        "{s}"
    );
    assert!(section(s, "C").contains("QUORUM_DOWN_RAN"), "{s}");
    // rs 1 back: quorum gained, the sorry server leaves; quorum_up ran.
    assert_eq!(r("D", "10.9.9.9:80"), [w("10.9.0.1:8080", 1)], "{s}");
    assert!(section(s, "D").contains("QUORUM_UP_RAN"), "{s}");
    // Shutdown removes our services.
    assert!(!section(s, "E").contains("10.9.9.9"), "{s}");
    // keepalived's log lines.
    let log = section(s, "LOG");
    assert!(
        log.contains("TCP connection to [10.9.0.1]:tcp:8080 failed."),
        "{log}"
    );
    assert!(
        log.contains("Removing service [10.9.0.1]:tcp:8080 from VS [10.9.9.9]:tcp:80"),
        "{log}"
    );
    assert!(
        log.contains("Disabling service [10.9.0.1]:tcp:8080 of VS [10.9.9.8]:tcp:80"),
        "{log}"
    );
    assert!(
        log.contains("Lost quorum") && log.contains("Gained quorum"),
        "{log}"
    );
}
