//! Mixed pairs: Debian's keepalived 2.2.7 in one namespace, rkeepalived in the other, same
//! VRID. Whichever has the higher priority holds the VIP, and each takes over when the other
//! is killed. VRRPv2 with PASS authentication, and VRRPv3.

mod support;

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
fn v3_keepalived_master_rkeepalived_backup() {
    mixed_pair(
        "interop_v3_ka_master",
        3,
        64,
        Daemon::Keepalived,
        Daemon::Rkeepalived,
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
