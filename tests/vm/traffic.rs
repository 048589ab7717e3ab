//! Traffic through an rkeepalived-programmed IPVS director, in one qemu TCG VM boot (the host
//! kernel has no IPVS; see `tests/support/vm.rs`).
//!
//! Inside the VM: namespaces `cl` (client), `dir` (director, runs rkeepalived and keepalived)
//! and `r1..r3` (real servers, busybox `httpd` answering their own name on ports 80 and 8080).
//! Two segments: `front` (a veth pair `cl` 10.9.0.2 – `dir` 10.9.0.1, the NAT VIP
//! 10.9.0.100) and `back` (a bridge in the VM's root namespace: `dir` 10.0.0.1, `cl` 10.0.0.2,
//! reals 10.0.0.11–13; the DR VIP 10.0.0.100 and the TUN VIP 10.0.0.101 live on `dir`, the
//! reals answer them directly to the client). The reals' default route is the director (NAT).

use crate::support;

use std::time::Duration;
use support::vm::{self, Vm};

/// The director's config: NAT, NAT with persistence, DR, TUN (ipip) with `lb_algo rr`, a
/// GUE tunnel service (table only), and the connection timeouts.
const LB_CONF: &str = r#"
global_defs {
  lvs_timeouts tcp 901 tcpfin 31 udp 61
}
virtual_server 10.9.0.100 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.0.0.11 80 {
    weight 1
  }
  real_server 10.0.0.12 80 {
    weight 1
  }
  real_server 10.0.0.13 80 {
    weight 1
  }
}
virtual_server 10.9.0.100 81 {
  lb_algo rr
  lb_kind NAT
  persistence_timeout 60
  protocol TCP
  real_server 10.0.0.11 80 {
    weight 1
  }
  real_server 10.0.0.12 80 {
    weight 1
  }
  real_server 10.0.0.13 80 {
    weight 1
  }
}
virtual_server 10.0.0.100 80 {
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 10.0.0.11 80 {
    weight 1
  }
  real_server 10.0.0.12 80 {
    weight 1
  }
  real_server 10.0.0.13 80 {
    weight 1
  }
}
virtual_server 10.0.0.101 8080 {
  lb_algo rr
  lvs_method TUN
  protocol TCP
  real_server 10.0.0.11 8080 {
    weight 1
  }
  real_server 10.0.0.12 8080 {
    weight 1
  }
  real_server 10.0.0.13 8080 {
    weight 1
  }
}
virtual_server 10.0.0.102 9000 {
  lb_algo wrr
  lvs_method TUN type gue port 6080 csum
  protocol UDP
  real_server 10.0.0.11 9000 {
    weight 2
  }
  real_server 10.0.0.12 9000 {
    lvs_method TUN type gre
  }
  real_server 10.0.0.13 9000 {
    lvs_method TUN type ipip
  }
}
"#;

/// `lvs_flush` removes a foreign service at start.
const FLUSH_CONF: &str = "global_defs {\n  lvs_flush\n}\nvirtual_server 10.9.0.100 80 {\n  lb_algo rr\n  protocol TCP\n  real_server 10.0.0.11 80 {\n    weight 1\n  }\n}\n";

/// Services in [`LB_CONF`].
const OURS: usize = 5;

const SCRIPT: &str = r#"
D="ip netns exec dir"
C="ip netns exec cl"
ip link add br0 type bridge
ip link set br0 up
for n in cl dir r1 r2 r3; do ip netns add $n; ip -n $n link set lo up; done
back() { # namespace, interface, address
  ip link add $2 type veth peer name b$2
  ip link set $2 netns $1
  ip link set b$2 master br0 up
  ip -n $1 addr add $3 dev $2
  ip -n $1 link set $2 up
}
back dir db 10.0.0.1/24
back cl cb 10.0.0.2/24
ip link add df type veth peer name cf
ip link set df netns dir
ip link set cf netns cl
ip -n dir addr add 10.9.0.1/24 dev df
ip -n dir link set df up
ip -n cl addr add 10.9.0.2/24 dev cf
ip -n cl link set cf up
ip -n dir addr add 10.9.0.100/32 dev df
ip -n dir addr add 10.0.0.100/32 dev db
ip -n dir addr add 10.0.0.101/32 dev db
ip -n dir addr add 10.0.0.102/32 dev db
$D sysctl -q -w net.ipv4.ip_forward=1
for i in 1 2 3; do
  ns=r$i
  back $ns e$i 10.0.0.1$i/24
  ip -n $ns route add default via 10.0.0.1
  # DR: the VIP on lo, no ARP answers or announcements for it.
  ip -n $ns addr add 10.0.0.100/32 dev lo
  for k in all e$i; do
    ip netns exec $ns sysctl -q -w net.ipv4.conf.$k.arp_ignore=1
    ip netns exec $ns sysctl -q -w net.ipv4.conf.$k.arp_announce=2
  done
  # TUN: ipip into the fallback tunl0, which holds the TUN VIP; no reverse-path filter.
  ip -n $ns link set tunl0 up
  ip -n $ns addr add 10.0.0.101/32 dev tunl0
  for k in all default tunl0; do ip netns exec $ns sysctl -q -w net.ipv4.conf.$k.rp_filter=0; done
  mkdir -p /www/$ns
  echo $ns > /www/$ns/index.html
  ip netns exec $ns httpd -p 80 -h /www/$ns
  ip netns exec $ns httpd -p 8080 -h /www/$ns
done

services() { $D ipvsadm -Ln | grep -c -E '^(TCP|UDP|FWM)' || true; }
wait_services() { # until at least $1 services
  i=0
  while [ $i -lt 200 ]; do
    [ "$(services)" -ge "$1" ] && return 0
    i=$((i+1)); sleep 0.1
  done
  echo "timeout waiting for $1 services"; return 1
}
wait_log() { # file, text
  i=0
  while [ $i -lt 200 ]; do
    grep -q "$2" "$1" && return 0
    i=$((i+1)); sleep 0.1
  done
  echo "timeout waiting for '$2' in $1"; return 1
}
fetch() { # address, port, count (busybox wget crashes; nc speaks HTTP/1.0, the body is last)
  n=0
  while [ $n -lt $3 ]; do
    r=$(printf 'GET / HTTP/1.0\r\n\r\n' | $C nc -w 5 $1 $2 2>&1 | tail -n 1)
    echo "${r:-failed}"
    n=$((n+1))
  done
}

$D ipvsadm -A -t 10.250.0.1:1 -s rr
$D rkeepalived -n -l -D -C -I -p /tmp/rk1.pid -f /conf/lb.conf >/tmp/rk1.log 2>&1 &
rk=$!
wait_services 6
echo "@@ nat"; fetch 10.9.0.100 80 6
echo "@@ dr"; fetch 10.0.0.100 80 6
echo "@@ tun"; fetch 10.0.0.101 8080 6
echo "@@ persist"; fetch 10.9.0.100 81 6
echo "@@ timeouts"; $D ipvsadm -L --timeout
echo "@@ rk table"; $D ipvsadm -Sn
echo "@@ tun-info"; $D ipvsadm -Ln --tun-info
# The kernel folds its per-CPU connection counters into the totals every 2 s (estimator).
sleep 3
echo "@@ stats1"; $D ipvsadm -Ln --stats
kill -TERM $rk; wait $rk || true
echo "@@ kept"; $D ipvsadm -Ln
echo "@@ rk1 log"; cat /tmp/rk1.log

# A second start adopts the table left by -I: no change sent, counters kept.
: >/tmp/rk2.log
$D rkeepalived -n -l -D -C -p /tmp/rk2.pid -f /conf/lb.conf >/tmp/rk2.log 2>&1 &
rk=$!
wait_log /tmp/rk2.log "virtual service(s) configured"
echo "@@ stats2"; $D ipvsadm -Ln --stats
echo "@@ nat2"; fetch 10.9.0.100 80 3
kill -TERM $rk; wait $rk || true
echo "@@ down"; $D ipvsadm -Ln
echo "@@ rk2 log"; cat /tmp/rk2.log

# keepalived 2.2.7 on the same config, for the table comparison.
$D keepalived -n -l -D -C -p /tmp/ka.pid -c /tmp/kac.pid -r /tmp/kav.pid -f /conf/lb.conf >/tmp/ka.log 2>&1 &
ka=$!
wait_services 6 || true
sleep 1
echo "@@ ka table"; $D ipvsadm -Sn
kill -TERM $ka; wait $ka || true
echo "@@ ka log"; tail -n 20 /tmp/ka.log

# lvs_flush
$D ipvsadm -C
$D ipvsadm -A -t 10.250.0.1:1 -s rr
: >/tmp/rk3.log
$D rkeepalived -n -l -D -C -p /tmp/rk3.pid -f /conf/flush.conf >/tmp/rk3.log 2>&1 &
rk=$!
wait_log /tmp/rk3.log "virtual service(s) configured"
echo "@@ flush"; $D ipvsadm -Ln
kill -TERM $rk; wait $rk || true
echo "@@ end"
"#;

/// `ipvsadm -Ln --stats` as `(service, real server or "", Conns)` rows.
fn conns(stats: &str) -> Vec<(String, String, u64)> {
    let mut rows = Vec::new();
    let mut service = String::new();
    for line in stats.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["->", addr, conns, ..] if *addr != "RemoteAddress:Port" => {
                rows.push((
                    service.clone(),
                    addr.to_string(),
                    conns.parse().unwrap_or(0),
                ));
            }
            [proto, addr, conns, ..] if ["TCP", "UDP", "FWM"].contains(proto) => {
                service = format!("{proto} {addr}");
                rows.push((service.clone(), String::new(), conns.parse().unwrap_or(0)));
            }
            _ => {}
        }
    }
    rows.sort();
    rows
}

/// The service lines of `ipvsadm -Ln`.
fn service_lines(table: &str) -> Vec<String> {
    table
        .lines()
        .filter(|l| ["TCP", "UDP", "FWM"].iter().any(|p| l.starts_with(p)))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The `-A`/`-a` rules of `ipvsadm -Sn`, sorted (keepalived's console log may interleave).
fn rules(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| l.starts_with("-A ") || l.starts_with("-a "))
        .collect();
    v.sort();
    v
}

/// Asserts that `names` (one answer per line) went to r1, r2 and r3 in turn: every window of
/// three consecutive answers holds each real server once.
fn assert_round_robin(mode: &str, names: &str) {
    let got: Vec<&str> = names.lines().map(str::trim).collect();
    assert_eq!(got.len(), 6, "{mode}: {got:?}");
    for w in got.windows(3) {
        let mut s = w.to_vec();
        s.sort();
        assert_eq!(s, ["r1", "r2", "r3"], "{mode}: answers {got:?}");
    }
}

/// Client traffic through the director in NAT, DR and TUN mode (round robin over three real
/// servers), persistence, the tables of rkeepalived and keepalived 2.2.7 compared (TUN options
/// included), `lvs_timeouts`, `-I` keeping the services, a second start adopting them without
/// a change (connection counters survive), shutdown removing exactly ours, and `lvs_flush`.
#[test]
#[ignore = "needs root, qemu and a cloud kernel (scripts/test-all runs it)"]
fn vm_traffic_nat_dr_tun() {
    let Some(vm) = Vm::with_rkeepalived("vm_traffic_nat_dr_tun") else {
        return;
    };
    let files = [
        vm::GuestFile::new("/conf/lb.conf", LB_CONF),
        vm::GuestFile::new("/conf/flush.conf", FLUSH_CONF),
    ];
    let out = vm.run_with(SCRIPT, &files, Duration::from_secs(400));
    eprintln!(
        "VM boot {:?}, total {:?}\n{}",
        out.boot_time, out.total_time, out.stdout
    );
    assert_eq!(out.exit_code, Some(0), "{}", out.console);
    let s = vm::sections(&out.stdout);
    let get = |k: &str| {
        s.get(k)
            .unwrap_or_else(|| panic!("no section {k}:\n{}", out.stdout))
            .as_str()
    };
    assert!(s.contains_key("end"), "script did not finish");

    assert_round_robin("NAT", get("nat"));
    assert_round_robin("DR", get("dr"));
    assert_round_robin("TUN", get("tun"));
    let sticky: Vec<&str> = get("persist").lines().map(str::trim).collect();
    assert_eq!(sticky.len(), 6, "{sticky:?}");
    assert!(
        sticky.iter().all(|n| *n == sticky[0]) && sticky[0].starts_with('r'),
        "persistence: {sticky:?}"
    );

    assert!(
        get("timeouts").contains("901 31 61"),
        "lvs_timeouts: {}",
        get("timeouts")
    );
    let rk_table = rules(get("rk table"));
    let ka_table = rules(get("ka table"));
    assert_eq!(
        rk_table,
        ka_table,
        "rkeepalived vs keepalived (ipvsadm -Sn)\nka log:\n{}",
        get("ka log")
    );
    assert!(
        rk_table
            .iter()
            .any(|l| l.contains("10.0.0.11:9000") && l.contains("--tun-type gue --tun-port 6080")),
        "GUE tunnel: {rk_table:?}"
    );
    assert!(
        rk_table
            .iter()
            .any(|l| l.contains("10.0.0.12:9000") && l.contains("--tun-type gre")),
        "GRE tunnel: {rk_table:?}"
    );

    // -I: everything stays after SIGTERM.
    assert_eq!(
        service_lines(get("kept")).len(),
        OURS + 1,
        "-I keeps the services:\n{}",
        get("kept")
    );
    // The second start sends nothing and the kernel's counters survive.
    assert!(
        get("rk2 log").contains("configured (0 change(s) sent)"),
        "second start:\n{}",
        get("rk2 log")
    );
    let before = conns(get("stats1"));
    let after = conns(get("stats2"));
    // Every TCP service of ours that carried traffic counted connections (so the equality
    // below proves the counters survived, not that they are all zero).
    let totals: Vec<_> = before
        .iter()
        .filter(|r| r.1.is_empty() && r.0.starts_with("TCP") && r.0 != "TCP 10.250.0.1:1")
        .collect();
    assert!(
        totals.len() >= 4 && totals.iter().all(|r| r.2 > 0),
        "connections counted: {before:?}"
    );
    assert_eq!(before, after, "counters across the restart");
    assert_round_robin_partial(get("nat2"));
    // Shutdown removes exactly our services.
    assert_eq!(
        service_lines(get("down")),
        ["TCP 10.250.0.1:1 rr"],
        "after shutdown:\n{}",
        get("down")
    );
    // lvs_flush removed the foreign service.
    assert_eq!(
        service_lines(get("flush")),
        ["TCP 10.9.0.100:80 rr"],
        "lvs_flush:\n{}",
        get("flush")
    );
}

/// After the adopting restart the service still answers, from three different real servers.
fn assert_round_robin_partial(names: &str) {
    let mut got: Vec<&str> = names.lines().map(str::trim).collect();
    got.sort();
    assert_eq!(got, ["r1", "r2", "r3"], "after the restart");
}

#[test]
fn conns_rows_from_ipvsadm_stats() {
    let stats = "IP Virtual Server version 1.2.1 (size=4096)\n\
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n\
  -> RemoteAddress:Port\n\
TCP  10.9.0.100:80                       6       36       24     2184     2880\n\
  -> 10.0.0.11:80                        2       12        8      728      960\n";
    assert_eq!(
        conns(stats),
        [
            ("TCP 10.9.0.100:80".to_owned(), String::new(), 6),
            ("TCP 10.9.0.100:80".to_owned(), "10.0.0.11:80".to_owned(), 2),
        ]
    );
    assert_round_robin("t", "r1\nr2\nr3\nr1\nr2\nr3\n");
}
