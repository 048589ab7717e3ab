//! Unicast VRRP (`unicast_src_ip`, `unicast_peer`), rkeepalived against the real kernel: adverts
//! go to each peer and never to 224.0.0.18; two- and three-node failover; `check_unicast_src`
//! drops adverts from a host that is not a listed peer; an instance without VIPs runs.

use crate::support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use support::{Daemon, Lan, require_daemon, require_root, require_tool, wait_until};

const STEP: Duration = Duration::from_millis(10);
const GROUP4: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));

/// A unicast VRRPv2 instance of node `me` with `peers`, VIP `lan.ip(100)/24`.
fn conf(lan: &Lan, me: &str, peers: &[&str], vrid: u8, priority: u8, extra: &str) -> String {
    let peer_lines: String = peers
        .iter()
        .map(|p| format!("    {}\n", lan.addr(p)))
        .collect();
    format!(
        "vrrp_instance VU {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  priority {priority}\n  advert_int 1\n\
         \x20 unicast_src_ip {}\n  unicast_peer {{\n{peer_lines}  }}\n{extra}\n\
         \x20 virtual_ipaddress {{\n    {}/24 dev eth0\n  }}\n}}\n",
        lan.addr(me),
        lan.ip(100)
    )
}

fn ready(test: &str) -> bool {
    require_root(test) && require_daemon(test, Daemon::Rkeepalived) && require_tool(test, "tcpdump")
}

fn holds(lan: &Lan, node: &str, vip: IpAddr) -> bool {
    lan.node(node).has_addr(vip)
}

fn expect_vip(lan: &Lan, node: &str, vip: IpAddr, logs: &dyn Fn() -> String) {
    assert!(
        wait_until(Duration::from_secs(10), STEP, || holds(lan, node, vip)).is_some(),
        "{node} never took {vip}\n{}",
        logs()
    );
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn unicast_two_node_failover_without_multicast() {
    if !ready("unicast_two_node") {
        return;
    }
    let lan = Lan::new(&["a", "b"]);
    let vip = IpAddr::V4(lan.ip(100));
    let (ip_a, ip_b) = (IpAddr::V4(lan.addr("a")), IpAddr::V4(lan.addr("b")));
    // b's eth0 sees every advert a sends to it and every advert b sends.
    let mut cap = lan.capture("b", "ip proto 112");
    let a = lan
        .node("a")
        .spawn(Daemon::Rkeepalived, &conf(&lan, "a", &["b"], 81, 150, ""));
    let b = lan
        .node("b")
        .spawn(Daemon::Rkeepalived, &conf(&lan, "b", &["a"], 81, 100, ""));
    let logs = || format!("--- a ---\n{}\n--- b ---\n{}", a.log(), b.log());
    expect_vip(&lan, "a", vip, &logs);
    assert!(
        b.wait_log("Entering BACKUP STATE", Duration::from_secs(5)),
        "{}",
        logs()
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!holds(&lan, "b", vip), "{}", logs());

    a.kill();
    expect_vip(&lan, "b", vip, &logs);
    std::thread::sleep(Duration::from_millis(1500));
    cap.stop();
    let pkts = cap.vrrp_ips();
    assert!(
        pkts.iter().all(|(_, _, d, _)| *d != GROUP4),
        "multicast advert seen: {pkts:?}"
    );
    let a_to_b = pkts
        .iter()
        .filter(|(_, s, d, t)| *s == ip_a && *d == ip_b && *t == 255)
        .count();
    let b_to_a = pkts
        .iter()
        .filter(|(_, s, d, t)| *s == ip_b && *d == ip_a && *t == 255)
        .count();
    assert!(a_to_b >= 2, "adverts a→b: {pkts:?}");
    assert!(b_to_a >= 1, "adverts b→a after the takeover: {pkts:?}");
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn unicast_three_nodes_fail_over_in_priority_order() {
    if !ready("unicast_three_node") {
        return;
    }
    let lan = Lan::new(&["a", "b", "c"]);
    let vip = IpAddr::V4(lan.ip(100));
    let mut cap = lan.capture("c", "ip proto 112");
    let a = lan.node("a").spawn(
        Daemon::Rkeepalived,
        &conf(&lan, "a", &["b", "c"], 82, 150, "  unicast_ttl 64"),
    );
    let b = lan.node("b").spawn(
        Daemon::Rkeepalived,
        &conf(&lan, "b", &["a", "c"], 82, 100, ""),
    );
    let c = lan.node("c").spawn(
        Daemon::Rkeepalived,
        &conf(&lan, "c", &["a", "b"], 82, 50, ""),
    );
    let logs = || {
        format!(
            "--- a ---\n{}\n--- b ---\n{}\n--- c ---\n{}",
            a.log(),
            b.log(),
            c.log()
        )
    };
    expect_vip(&lan, "a", vip, &logs);
    assert!(
        b.wait_log("Entering BACKUP STATE", Duration::from_secs(5)),
        "{}",
        logs()
    );
    assert!(
        c.wait_log("Entering BACKUP STATE", Duration::from_secs(5)),
        "{}",
        logs()
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !holds(&lan, "b", vip) && !holds(&lan, "c", vip),
        "{}",
        logs()
    );

    a.kill();
    expect_vip(&lan, "b", vip, &logs);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!holds(&lan, "c", vip), "{}", logs());
    b.kill();
    expect_vip(&lan, "c", vip, &logs);
    cap.stop();
    let pkts = cap.vrrp_ips();
    assert!(pkts.iter().all(|(_, _, d, _)| *d != GROUP4), "{pkts:?}");
    // unicast_ttl 64 on a, the default 255 on b.
    let (ip_a, ip_b, ip_c) = (
        IpAddr::V4(lan.addr("a")),
        IpAddr::V4(lan.addr("b")),
        IpAddr::V4(lan.addr("c")),
    );
    assert!(
        pkts.iter()
            .any(|(_, s, d, t)| *s == ip_a && *d == ip_c && *t == 64),
        "{pkts:?}"
    );
    assert!(
        pkts.iter()
            .any(|(_, s, d, t)| *s == ip_b && *d == ip_c && *t == 255),
        "{pkts:?}"
    );
    assert!(pkts.iter().all(|(_, s, _, t)| *s != ip_a || *t == 64));
}

/// `intruder` (priority 200) sends unicast adverts to `b`, which lists only `a` (not running)
/// as its peer. With `check_unicast_src`, `b` drops them and becomes master; without it, the
/// intruder's adverts keep `b` in BACKUP.
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn check_unicast_src_drops_adverts_from_a_non_peer() {
    if !ready("check_unicast_src") {
        return;
    }
    for check in [true, false] {
        let lan = Lan::new(&["a", "b", "x"]);
        let vip = IpAddr::V4(lan.ip(100));
        let extra = if check { "  check_unicast_src" } else { "" };
        let mut cap = lan.capture("b", "ip proto 112");
        let x = lan
            .node("x")
            .spawn(Daemon::Rkeepalived, &conf(&lan, "x", &["b"], 83, 200, ""));
        assert!(
            wait_until(Duration::from_secs(10), STEP, || holds(&lan, "x", vip)).is_some(),
            "{}",
            x.log()
        );
        let start = Instant::now();
        let b = lan.node("b").spawn(
            Daemon::Rkeepalived,
            &conf(&lan, "b", &["a"], 83, 100, extra),
        );
        let logs = || format!("--- x ---\n{}\n--- b ---\n{}", x.log(), b.log());
        // Master_Down_Interval of b: 3 s + 156/256 s; wait well past it.
        let became_master = wait_until(Duration::from_secs(6), STEP, || holds(&lan, "b", vip));
        cap.stop();
        let from_x = cap
            .adverts()
            .iter()
            .filter(|p| p.src == IpAddr::V4(lan.addr("x")) && p.priority == 200)
            .count();
        assert!(
            from_x >= 3,
            "x's adverts did not reach b: {from_x}\n{}",
            logs()
        );
        if check {
            let took = became_master.unwrap_or_else(|| panic!("b stayed backup\n{}", logs()));
            assert!(
                took >= Duration::from_secs(3) && start.elapsed() < Duration::from_secs(8),
                "b became master after {took:?}"
            );
        } else {
            assert!(
                became_master.is_none(),
                "b became master although x outranks it\n{}",
                logs()
            );
        }
    }
}

/// keepalived only warns about an instance without VIPs (cloud setups move addresses from
/// notify scripts); it still runs the election.
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn unicast_instance_without_vips_runs() {
    if !ready("unicast_no_vip") {
        return;
    }
    let lan = Lan::new(&["a", "b"]);
    let conf = |me: &str, peer: &str, prio: u8| {
        format!(
            "vrrp_instance NV {{\n  interface eth0\n  virtual_router_id 84\n  priority {prio}\n  advert_int 1\n  version 3\n\
             \x20 unicast_src_ip {}\n  unicast_peer {{\n    {}\n  }}\n}}\n",
            lan.addr(me),
            lan.addr(peer)
        )
    };
    let a = lan
        .node("a")
        .spawn(Daemon::Rkeepalived, &conf("a", "b", 150));
    let b = lan
        .node("b")
        .spawn(Daemon::Rkeepalived, &conf("b", "a", 100));
    a.expect_log("(NV) Entering MASTER STATE", Duration::from_secs(8));
    b.expect_log("(NV) Entering BACKUP STATE", Duration::from_secs(5));
    // b keeps accepting a's (address-less) v3 adverts: it stays backup.
    std::thread::sleep(Duration::from_secs(4));
    assert!(!b.log().contains("Entering MASTER STATE"), "{}", b.log());
    a.kill();
    b.expect_log("(NV) Entering MASTER STATE", Duration::from_secs(6));
}

/// Unicast over IPv6: adverts from `unicast_src_ip` (a ULA) to the peer's ULA, hop limit 255,
/// never to ff02::12; the backup takes over when the master dies.
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn unicast_ipv6_failover() {
    if !ready("unicast_ipv6") {
        return;
    }
    let lan = Lan::new(&["a", "b"]);
    let (ua, ub) = (lan.ip6(1), lan.ip6(2));
    lan.node("a").add_ip6(ua);
    lan.node("b").add_ip6(ub);
    let vip6 = lan.ip6(100);
    let vip = IpAddr::V6(vip6);
    let conf = |me: std::net::Ipv6Addr, peer: std::net::Ipv6Addr, prio: u8| {
        format!(
            "vrrp_instance V6U {{\n  interface eth0\n  virtual_router_id 85\n  priority {prio}\n  advert_int 1\n\
             \x20 unicast_src_ip {me}\n  unicast_peer {{\n    {peer}\n  }}\n\
             \x20 virtual_ipaddress {{\n    {vip6}/64 dev eth0\n  }}\n}}\n"
        )
    };
    let mut cap = lan.capture("b", "ip6 proto 112");
    let a = lan.node("a").spawn(Daemon::Rkeepalived, &conf(ua, ub, 150));
    let b = lan.node("b").spawn(Daemon::Rkeepalived, &conf(ub, ua, 100));
    let logs = || format!("--- a ---\n{}\n--- b ---\n{}", a.log(), b.log());
    expect_vip(&lan, "a", vip, &logs);
    assert!(
        b.wait_log("Entering BACKUP STATE", Duration::from_secs(5)),
        "{}",
        logs()
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!holds(&lan, "b", vip), "{}", logs());
    a.kill();
    expect_vip(&lan, "b", vip, &logs);
    std::thread::sleep(Duration::from_millis(1200));
    cap.stop();
    let pkts = cap.vrrp_ips();
    let (ia, ib) = (IpAddr::V6(ua), IpAddr::V6(ub));
    assert!(
        pkts.iter()
            .filter(|(_, s, d, t)| *s == ia && *d == ib && *t == 255)
            .count()
            >= 2,
        "{pkts:?}"
    );
    assert!(
        pkts.iter().any(|(_, s, d, _)| *s == ib && *d == ia),
        "{pkts:?}"
    );
    assert!(
        pkts.iter()
            .all(|(_, _, d, _)| !matches!(d, IpAddr::V6(d) if d.is_multicast())),
        "{pkts:?}"
    );
}

/// Split-brain healing, for rkeepalived and (as the reference) keepalived 2.2.7 on node `a`:
/// `a` (150) sends its adverts to an address nobody has, so `b` (100) never hears it and
/// becomes master too; `b`'s adverts reach `a`, which answers each with an advert and a burst
/// of gratuitous ARPs (`garp_lower_prio_repeat`, default = `vrrp_garp_master_repeat`), so the
/// LAN learns `a`'s MAC again after `b`'s GARPs. With `garp_lower_prio_repeat 0` and
/// `lower_prio_no_advert`, `a` stays silent.
fn split_brain(test: &str, daemon_a: Daemon, healing: bool) {
    if !ready(test) || !require_daemon(test, daemon_a) {
        return;
    }
    let lan = Lan::new(&["a", "b", "c"]);
    let vip = lan.ip(100);
    let nowhere = lan.ip(200);
    let policy = if healing {
        ""
    } else {
        "  garp_lower_prio_repeat 0\n  lower_prio_no_advert\n"
    };
    let conf = |me: &str, peer: std::net::Ipv4Addr, prio: u8, extra: &str| {
        format!(
            "global_defs {{\n  vrrp_garp_master_delay 0\n}}\n\
             vrrp_instance SB {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 86\n  priority {prio}\n  advert_int 1\n\
             \x20 unicast_src_ip {}\n  unicast_peer {{\n    {peer}\n  }}\n{extra}\
             \x20 virtual_ipaddress {{\n    {vip}/24 dev eth0\n  }}\n}}\n",
            lan.addr(me)
        )
    };
    let (mac_a, mac_b) = (lan.node("a").mac(), lan.node("b").mac());
    let mut cap = lan.capture("c", "arp");
    let a = lan
        .node("a")
        .spawn(daemon_a, &conf("a", nowhere, 150, policy));
    let b = lan
        .node("b")
        .spawn(Daemon::Rkeepalived, &conf("b", lan.addr("a"), 100, ""));
    let logs = || format!("--- a ---\n{}\n--- b ---\n{}", a.log(), b.log());
    let vip_ip = IpAddr::V4(vip);
    expect_vip(&lan, "a", vip_ip, &logs);
    expect_vip(&lan, "b", vip_ip, &logs);
    assert!(
        a.wait_log("with lower priority 100, ours 150", Duration::from_secs(5)),
        "{}",
        logs()
    );
    std::thread::sleep(Duration::from_millis(2500));
    cap.stop();
    let garps: Vec<_> = cap.garps().into_iter().filter(|g| g.ip == vip).collect();
    let first_b = garps
        .iter()
        .find(|g| g.mac == mac_b)
        .unwrap_or_else(|| panic!("no GARP from b: {garps:?}\n{}", logs()))
        .time;
    let a_after = garps
        .iter()
        .filter(|g| g.mac == mac_a && g.time > first_b)
        .count();
    if healing {
        assert!(
            a_after >= 5,
            "{} re-announced {a_after} times after b's GARP\n{}",
            daemon_a.name(),
            logs()
        );
        assert!(a.log().contains("forcing new election"), "{}", logs());
    } else {
        assert_eq!(a_after, 0, "{garps:?}\n{}", logs());
        assert!(!a.log().contains("forcing new election"), "{}", logs());
    }
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn split_brain_healing_rkeepalived() {
    split_brain("split_brain_rk", Daemon::Rkeepalived, true);
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn split_brain_healing_matches_keepalived() {
    split_brain("split_brain_ka", Daemon::Keepalived, true);
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn split_brain_without_lower_prio_garp_rkeepalived() {
    split_brain("split_brain_quiet_rk", Daemon::Rkeepalived, false);
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn split_brain_without_lower_prio_garp_matches_keepalived() {
    split_brain("split_brain_quiet_ka", Daemon::Keepalived, false);
}
