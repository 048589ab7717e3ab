//! Mixed pairs: Debian's keepalived 2.2.7 in one namespace, rkeepalived in the other, same
//! VRID. Whichever has the higher priority holds the VIP, and each takes over when the other
//! is killed. VRRPv2 with PASS authentication, and VRRPv3.

use crate::support;

use std::net::IpAddr;
use std::time::{Duration, Instant};
use support::{Daemon, Lan, require_daemon, require_root, wait_until};

const STEP: Duration = Duration::from_millis(10);

fn conf(lan: &Lan, version: u8, vrid: u8, priority: u8) -> String {
    let auth = if version == 2 {
        "  authentication {\n    auth_type PASS\n    auth_pass s3cr3t\n  }\n"
    } else {
        ""
    };
    format!(
        "global_defs {{\n  vrrp_version {version}\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  priority {priority}\n  advert_int 1\n{auth}\
         \n  virtual_ipaddress {{\n    {}/24 dev eth0\n  }}\n}}\n",
        lan.ip(100)
    )
}

/// Master_Down_Interval (3 × 1 s + Skew_Time, Skew_Time ≤ 1 s) plus a second of margin.
const TAKEOVER_LIMIT: Duration = Duration::from_millis(5000);

/// `high` runs at priority 150 on node a, `low` at 100 on node b.
fn mixed_pair(test: &str, version: u8, vrid: u8, high: Daemon, low: Daemon) {
    if !require_root(test)
        || !require_daemon(test, Daemon::Rkeepalived)
        || !require_daemon(test, Daemon::Keepalived)
    {
        return;
    }
    let lan = Lan::new(&["a", "b"]);
    let vip = IpAddr::V4(lan.ip(100));
    let a = lan.node("a").spawn(high, &conf(&lan, version, vrid, 150));
    let b = lan.node("b").spawn(low, &conf(&lan, version, vrid, 100));
    let logs = |a: &support::Proc, b: &support::Proc| {
        format!(
            "a ({}):\n{}\nb ({}):\n{}",
            high.name(),
            a.log(),
            low.name(),
            b.log()
        )
    };

    // The higher priority wins, the other backs off, stably.
    assert!(
        wait_until(Duration::from_secs(12), STEP, || lan
            .node("a")
            .has_addr(vip))
        .is_some(),
        "{}",
        logs(&a, &b)
    );
    assert!(
        b.wait_log("Entering BACKUP STATE", Duration::from_secs(5)),
        "{}",
        logs(&a, &b)
    );
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert!(
            lan.node("a").has_addr(vip) && !lan.node("b").has_addr(vip),
            "{}",
            logs(&a, &b)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Both accept each other's adverts: no authentication or checksum complaints.
    for (p, name) in [(&a, high.name()), (&b, low.name())] {
        let log = p.log().to_lowercase();
        for bad in [
            "checksum",
            "authentication",
            "auth type",
            "interval mismatch",
            "invalid ttl",
        ] {
            assert!(
                !log.contains(bad),
                "{name} complained ({bad}):\n{}",
                p.log()
            );
        }
    }

    // Killing the master moves the VIP to the other implementation.
    a.kill();
    let took = wait_until(Duration::from_secs(10), STEP, || {
        lan.node("b").has_addr(vip)
    });
    let took = took.unwrap_or_else(|| panic!("b never took over\n{}", logs(&a, &b)));
    assert!(
        took <= TAKEOVER_LIMIT,
        "takeover after {took:?}\n{}",
        logs(&a, &b)
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn v2_pass_rkeepalived_master_keepalived_backup() {
    mixed_pair(
        "interop_v2_rk_master",
        2,
        61,
        Daemon::Rkeepalived,
        Daemon::Keepalived,
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn v2_pass_keepalived_master_rkeepalived_backup() {
    mixed_pair(
        "interop_v2_ka_master",
        2,
        62,
        Daemon::Keepalived,
        Daemon::Rkeepalived,
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn v3_rkeepalived_master_keepalived_backup() {
    mixed_pair(
        "interop_v3_rk_master",
        3,
        63,
        Daemon::Rkeepalived,
        Daemon::Keepalived,
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn v3_keepalived_master_rkeepalived_backup() {
    mixed_pair(
        "interop_v3_ka_master",
        3,
        64,
        Daemon::Keepalived,
        Daemon::Rkeepalived,
    );
}

/// What a mixed-pair scenario needs: the config of node `node` (`"a"` or `"b"`) at
/// `priority`, the VIP to watch, and how long a takeover may take.
struct Scenario<'a> {
    conf: &'a dyn Fn(&Lan, &str, u8) -> String,
    vip: &'a dyn Fn(&Lan) -> IpAddr,
    takeover_limit: Duration,
}

/// Like [`mixed_pair`], for any config: `high` at 150 on a, `low` at 100 on b; the higher one
/// holds the VIP stably with the other in BACKUP, neither complains about the other's adverts,
/// and killing it moves the VIP within `takeover_limit`.
fn mixed_pair_with(test: &str, high: Daemon, low: Daemon, sc: &Scenario) {
    if !require_root(test)
        || !require_daemon(test, Daemon::Rkeepalived)
        || !require_daemon(test, Daemon::Keepalived)
    {
        return;
    }
    let lan = Lan::new(&["a", "b"]);
    let vip = (sc.vip)(&lan);
    let a = lan.node("a").spawn(high, &(sc.conf)(&lan, "a", 150));
    let b = lan.node("b").spawn(low, &(sc.conf)(&lan, "b", 100));
    let logs = || {
        format!(
            "a ({}):\n{}\nb ({}):\n{}",
            high.name(),
            a.log(),
            low.name(),
            b.log()
        )
    };
    assert!(
        wait_until(Duration::from_secs(12), STEP, || lan
            .node("a")
            .has_addr(vip))
        .is_some(),
        "{}",
        logs()
    );
    assert!(
        b.wait_log("Entering BACKUP STATE", Duration::from_secs(5)),
        "{}",
        logs()
    );
    // With 100 ms adverts b may win a moment at start-up, before keepalived has started;
    // from here on it must stay backup.
    let b_masters = b.log_count("Entering MASTER STATE");
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert!(
            lan.node("a").has_addr(vip) && !lan.node("b").has_addr(vip),
            "{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        b.log_count("Entering MASTER STATE"),
        b_masters,
        "b was master during steady state\n{}",
        logs()
    );
    for (p, name) in [(&a, high.name()), (&b, low.name())] {
        let log = p.log().to_lowercase();
        for bad in [
            "checksum",
            "interval mismatch",
            "invalid ttl",
            "not a unicast peer",
            "expected multicast",
            "expected unicast",
            "ip number count",
        ] {
            assert!(
                !log.contains(bad),
                "{name} complained ({bad}):\n{}",
                p.log()
            );
        }
    }
    a.kill();
    let took = wait_until(Duration::from_secs(10), STEP, || {
        lan.node("b").has_addr(vip)
    })
    .unwrap_or_else(|| panic!("b never took over\n{}", logs()));
    assert!(
        took <= sc.takeover_limit,
        "takeover after {took:?}\n{}",
        logs()
    );
}

fn ipv6_conf(lan: &Lan, _node: &str, priority: u8) -> String {
    format!(
        "vrrp_instance VI_6 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 65\n  priority {priority}\n  advert_int 1\n\
         \x20 virtual_ipaddress {{\n    {}/64 dev eth0\n  }}\n}}\n",
        lan.ip6(100)
    )
}

const IPV6: Scenario = Scenario {
    conf: &ipv6_conf,
    vip: &|lan| IpAddr::V6(lan.ip6(100)),
    takeover_limit: TAKEOVER_LIMIT,
};

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn v3_ipv6_rkeepalived_master_keepalived_backup() {
    mixed_pair_with(
        "interop_v6_rk_master",
        Daemon::Rkeepalived,
        Daemon::Keepalived,
        &IPV6,
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn v3_ipv6_keepalived_master_rkeepalived_backup() {
    mixed_pair_with(
        "interop_v6_ka_master",
        Daemon::Keepalived,
        Daemon::Rkeepalived,
        &IPV6,
    );
}

fn unicast_conf(lan: &Lan, node: &str, priority: u8) -> String {
    let peer = if node == "a" { "b" } else { "a" };
    format!(
        "vrrp_instance VU {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 66\n  priority {priority}\n  advert_int 1\n\
         \x20 unicast_src_ip {}\n  unicast_peer {{\n    {}\n  }}\n\
         \x20 virtual_ipaddress {{\n    {}/24 dev eth0\n  }}\n}}\n",
        lan.addr(node),
        lan.addr(peer),
        lan.ip(100)
    )
}

const UNICAST: Scenario = Scenario {
    conf: &unicast_conf,
    vip: &|lan| IpAddr::V4(lan.ip(100)),
    takeover_limit: TAKEOVER_LIMIT,
};

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn unicast_v2_rkeepalived_master_keepalived_backup() {
    mixed_pair_with(
        "interop_unicast_rk_master",
        Daemon::Rkeepalived,
        Daemon::Keepalived,
        &UNICAST,
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn unicast_v2_keepalived_master_rkeepalived_backup() {
    mixed_pair_with(
        "interop_unicast_ka_master",
        Daemon::Keepalived,
        Daemon::Rkeepalived,
        &UNICAST,
    );
}

fn fast_v3_conf(lan: &Lan, _node: &str, priority: u8) -> String {
    format!(
        "vrrp_instance VF {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 67\n  priority {priority}\n  version 3\n  advert_int 0.1\n\
         \x20 virtual_ipaddress {{\n    {}/24 dev eth0\n  }}\n}}\n",
        lan.ip(100)
    )
}

/// Master_Down_Interval 3 × 0.1 s + 156 × 0.1 s / 256 = 361 ms, plus a generous margin for the
/// wall-clock `ip addr` polling.
const FAST_V3: Scenario = Scenario {
    conf: &fast_v3_conf,
    vip: &|lan| IpAddr::V4(lan.ip(100)),
    takeover_limit: Duration::from_millis(1500),
};

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn v3_100ms_rkeepalived_master_keepalived_backup() {
    mixed_pair_with(
        "interop_100ms_rk_master",
        Daemon::Rkeepalived,
        Daemon::Keepalived,
        &FAST_V3,
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn v3_100ms_keepalived_master_rkeepalived_backup() {
    mixed_pair_with(
        "interop_100ms_ka_master",
        Daemon::Keepalived,
        Daemon::Rkeepalived,
        &FAST_V3,
    );
}

/// Two instances (VI_1 on eth0, VI_2 on eth1) in one `vrrp_sync_group` on each node.
fn sync_conf(lan: &Lan, net2: [u8; 3], priority: u8) -> String {
    let vip2 = std::net::Ipv4Addr::new(net2[0], net2[1], net2[2], 100);
    format!(
        "vrrp_sync_group G1 {{\n  group {{\n    VI_1\n    VI_2\n  }}\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 91\n  priority {priority}\n  advert_int 1\n\
           virtual_ipaddress {{\n    {}/24 dev eth0\n  }}\n}}\n\
         vrrp_instance VI_2 {{\n  state BACKUP\n  interface eth1\n  virtual_router_id 92\n  priority {priority}\n  advert_int 1\n\
           virtual_ipaddress {{\n    {vip2}/24 dev eth1\n  }}\n}}\n",
        lan.ip(100)
    )
}

/// A sync group with keepalived 2.2.7 as the peer, both directions: the node whose eth1
/// fails puts both members in FAULT, and the peer's group takes both VIPs; when the link
/// comes back the higher priority takes both back.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn sync_group_with_keepalived_peer_moves_both_vips() {
    let test = "interop_sync_group";
    if !require_root(test)
        || !require_daemon(test, Daemon::Rkeepalived)
        || !require_daemon(test, Daemon::Keepalived)
    {
        return;
    }
    for (high, low) in [
        (Daemon::Rkeepalived, Daemon::Keepalived),
        (Daemon::Keepalived, Daemon::Rkeepalived),
    ] {
        let mut lan = Lan::new(&["a", "b"]);
        let net2 = lan.add_segment("eth1");
        let vips = [
            IpAddr::V4(lan.ip(100)),
            IpAddr::V4(std::net::Ipv4Addr::new(net2[0], net2[1], net2[2], 100)),
        ];
        let a = lan.node("a").spawn(high, &sync_conf(&lan, net2, 150));
        let b = lan.node("b").spawn(low, &sync_conf(&lan, net2, 100));
        let logs = || {
            format!(
                "a ({}):\n{}\nb ({}):\n{}",
                high.name(),
                a.log(),
                low.name(),
                b.log()
            )
        };
        let all_on = |node: &str, other: &str| {
            vips.iter()
                .all(|v| lan.node(node).has_addr(*v) && !lan.node(other).has_addr(*v))
        };
        assert!(
            wait_until(Duration::from_secs(12), STEP, || all_on("a", "b")).is_some(),
            "{}",
            logs()
        );
        lan.node("a").exec(&["ip", "link", "set", "eth1", "down"]);
        assert!(
            wait_until(Duration::from_secs(10), STEP, || all_on("b", "a")).is_some(),
            "{}",
            logs()
        );
        assert!(
            b.log()
                .contains("VRRP_Group(G1) Syncing instances to MASTER state"),
            "{}",
            logs()
        );
        lan.node("a").exec(&["ip", "link", "set", "eth1", "up"]);
        assert!(
            wait_until(Duration::from_secs(10), STEP, || all_on("a", "b")).is_some(),
            "{}",
            logs()
        );
    }
}
