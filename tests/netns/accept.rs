//! Accept_Mode (RFC 5798 §6.1, keepalived `accept` / `no_accept`) on the real kernel: a
//! non-owner master with `no_accept` holds its VIPs but drops traffic to them, with the same
//! nftables tables keepalived 2.2.7 installs; with `accept` (the default) the VIPs answer.
//!
//! Reachability is read from a client namespace with a TCP connect to a closed port: a VIP
//! that accepts traffic answers with a reset ("Connection refused") at once; a dropped one
//! never answers and the connect times out.

use crate::support;

use std::net::IpAddr;
use std::time::Duration;
use support::{Daemon, Lan, require_daemon, require_root, require_tool};

/// A VRRPv3 instance on eth0, priority `priority`, VIP `lan.ip(100)/24` and an excluded IPv6
/// VIP, with `mode` (`no_accept`, `accept` or empty).
fn conf(lan: &Lan, priority: u8, mode: &str) -> String {
    format!(
        "global_defs {{\n  router_id test\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 61\n  priority {priority}\n\
         \x20 version 3\n  advert_int 0.2\n  {mode}\n  virtual_ipaddress {{\n    {}/24 dev eth0\n  }}\n\
         \x20 virtual_ipaddress_excluded {{\n    fd00:61::100/64 dev eth0\n  }}\n}}\n",
        lan.ip(100)
    )
}

/// What a TCP connect from `from` to `ip` port 9 (nothing listens) gives: `Refused` when the
/// host answered, `Dropped` when nothing came back within 2 s.
#[derive(Debug, PartialEq)]
enum Reach {
    Refused,
    Dropped,
}

fn probe(lan: &Lan, from: &str, ip: IpAddr) -> Reach {
    let out = lan.node(from).exec(&[
        "timeout",
        "2",
        "bash",
        "-c",
        &format!("exec 3<>/dev/tcp/{ip}/9"),
    ]);
    // timeout(1) exits 124 when the connect was still pending.
    if out.status.code() == Some(124) {
        Reach::Dropped
    } else {
        Reach::Refused
    }
}

fn ruleset(lan: &Lan, node: &str) -> String {
    let out = lan.node(node).exec(&["nft", "list", "ruleset"]);
    assert!(out.status.success(), "nft list ruleset: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ready(test: &str, daemons: &[Daemon]) -> bool {
    require_root(test)
        && require_tool(test, "nft")
        && daemons.iter().all(|d| require_daemon(test, *d))
}

/// Starts `daemon` on node a with `conf`, waits for the VIP, and returns what the client c
/// sees for the VIP and for a's own address, and a's ruleset while master; then stops the
/// daemon and returns the ruleset left behind.
fn run(lan: &Lan, daemon: Daemon, priority: u8, mode: &str) -> (Reach, Reach, String, String) {
    let vip = IpAddr::V4(lan.ip(100));
    let own = IpAddr::V4(lan.addr("a"));
    let mut p = lan.node("a").spawn(daemon, &conf(lan, priority, mode));
    lan.expect_addr("a", vip, Duration::from_secs(10), &p);
    // The drop rules go in before the VIPs; give a slow daemon a moment to finish the burst.
    std::thread::sleep(Duration::from_millis(300));
    let to_vip = probe(lan, "c", vip);
    let to_own = probe(lan, "c", own);
    let master_rules = ruleset(lan, "a");
    p.term();
    assert!(
        p.wait_exit(Duration::from_secs(10)).is_some(),
        "{}",
        p.log()
    );
    let after = ruleset(lan, "a");
    (to_vip, to_own, master_rules, after)
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn no_accept_master_drops_vip_traffic_with_keepalived_tables() {
    let test = "no_accept_master_drops_vip_traffic";
    if !ready(test, &[Daemon::Rkeepalived, Daemon::Keepalived]) {
        return;
    }
    let lan = Lan::new(&["a", "c"]);
    let (vip_rk, own_rk, rules_rk, after_rk) = run(&lan, Daemon::Rkeepalived, 100, "no_accept");
    assert_eq!(
        vip_rk,
        Reach::Dropped,
        "the VIP must not answer:\n{rules_rk}"
    );
    assert_eq!(
        own_rk,
        Reach::Refused,
        "the node's own address still answers"
    );
    assert!(rules_rk.contains("table ip keepalived"), "{rules_rk}");
    assert!(rules_rk.contains("table ip6 keepalived"), "{rules_rk}");
    assert!(
        after_rk.trim().is_empty(),
        "tables left at exit:\n{after_rk}"
    );

    // keepalived 2.2.7 on the same file: same reachability, same tables, same cleanup.
    let (vip_ka, own_ka, rules_ka, after_ka) = run(&lan, Daemon::Keepalived, 100, "no_accept");
    assert_eq!((vip_ka, own_ka), (Reach::Dropped, Reach::Refused));
    assert_eq!(
        rules_rk, rules_ka,
        "rkeepalived's ruleset differs from keepalived's"
    );
    assert!(after_ka.trim().is_empty(), "{after_ka}");
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn accept_mode_and_the_address_owner_answer_on_the_vip() {
    let test = "accept_mode_answers";
    if !ready(test, &[Daemon::Rkeepalived]) {
        return;
    }
    let lan = Lan::new(&["a", "c"]);
    for (priority, mode) in [(100, "accept"), (100, ""), (255, "no_accept")] {
        let (to_vip, _, rules, _) = run(&lan, Daemon::Rkeepalived, priority, mode);
        assert_eq!(
            to_vip,
            Reach::Refused,
            "priority {priority} {mode:?}:\n{rules}"
        );
        assert!(
            rules.trim().is_empty(),
            "priority {priority} {mode:?}:\n{rules}"
        );
    }
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn strict_mode_non_owner_drops_and_failover_moves_the_drop() {
    let test = "strict_mode_non_owner_drops";
    if !ready(test, &[Daemon::Rkeepalived]) {
        return;
    }
    // vrrp_strict resolves an unset Accept_Mode to "owner only": priority 100 drops.
    let lan = Lan::new(&["a", "b", "c"]);
    let vip = IpAddr::V4(lan.ip(100));
    let strict = |p: u8| {
        conf(&lan, p, "").replace(
            "global_defs {\n",
            "global_defs {\n  vrrp_strict\n  nftables rk_test\n",
        )
    };
    let mut a = lan.node("a").spawn(Daemon::Rkeepalived, &strict(150));
    let b = lan.node("b").spawn(Daemon::Rkeepalived, &strict(100));
    lan.expect_addr("a", vip, Duration::from_secs(10), &a);
    b.expect_log("Entering BACKUP STATE", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(probe(&lan, "c", vip), Reach::Dropped);
    assert!(ruleset(&lan, "a").contains("table ip rk_test"));
    // The backup holds neither the VIP nor any drop rule for it.
    assert!(!ruleset(&lan, "b").contains(&lan.ip(100).to_string()));

    a.kill();
    lan.expect_addr("b", vip, Duration::from_secs(10), &b);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(probe(&lan, "c", vip), Reach::Dropped);
    assert!(ruleset(&lan, "b").contains(&lan.ip(100).to_string()));
    assert!(a.wait_exit(Duration::from_secs(5)).is_some());
}

/// A reload that renames the drop table and changes its priority while a `no_accept` master
/// holds its VIP. rkeepalived moves the tables in one `nft` batch (the old one deleted, the
/// new one written with the same VIPs), the VIP keeps dropping, and the exit removes the new
/// table. keepalived 2.2.7 on the same file and reload keeps its tables as they were (name
/// and priority) until a restart (measured; asserted below).
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn a_reload_moves_the_drop_tables_to_the_new_nftables_settings() {
    let test = "reload_moves_the_drop_tables";
    if !ready(test, &[Daemon::Rkeepalived, Daemon::Keepalived]) {
        return;
    }
    let lan = Lan::new(&["a", "c"]);
    let vip = IpAddr::V4(lan.ip(100));
    let mut seen = Vec::new();
    for daemon in [Daemon::Rkeepalived, Daemon::Keepalived] {
        let mut p = lan.node("a").spawn(daemon, &conf(&lan, 100, "no_accept"));
        lan.expect_addr("a", vip, Duration::from_secs(10), &p);
        std::thread::sleep(Duration::from_millis(300));
        let before = ruleset(&lan, "a");
        let moved = conf(&lan, 100, "no_accept").replace(
            "global_defs {\n",
            "global_defs {\n  nftables rk_moved\n  nftables_priority -5\n",
        );
        std::fs::write(p.dir().join("keepalived.conf"), moved).unwrap();
        p.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(1500));
        let after = ruleset(&lan, "a");
        let reach = probe(&lan, "c", vip);
        let held = lan.node("a").has_addr(vip);
        p.term();
        assert!(
            p.wait_exit(Duration::from_secs(10)).is_some(),
            "{}",
            p.log()
        );
        let exit = ruleset(&lan, "a");
        println!(
            "{daemon:?}: before the reload:\n{before}\nafter it (VIP held: {held}, traffic to \
             it {reach:?}):\n{after}\nat exit:\n{exit}"
        );
        seen.push((before, after, reach, held, exit, p.log()));
    }
    let (before, after, reach, held, exit, log) = &seen[0];
    assert!(before.contains("table ip keepalived"), "{before}");
    assert!(
        after.contains("table ip rk_moved") && after.contains("table ip6 rk_moved"),
        "{after}\n{log}"
    );
    assert!(!after.contains("keepalived"), "old table left:\n{after}");
    assert!(after.contains("priority filter - 5;"), "{after}");
    assert!(after.contains(&lan.ip(100).to_string()), "{after}");
    assert!(*held, "{log}");
    assert_eq!(*reach, Reach::Dropped, "{after}");
    assert!(exit.trim().is_empty(), "tables left at exit:\n{exit}");
    assert!(
        log.contains("Reload: global_defs nftables changed"),
        "{log}"
    );
    // keepalived 2.2.7 (measured): the tables stay as they were (name, priority) until a
    // restart; the VIP is still held and dropped, and its exit removes the old tables.
    let (_, after_ka, reach_ka, held_ka, exit_ka, log_ka) = &seen[1];
    assert!(*held_ka, "{log_ka}");
    assert_eq!(*reach_ka, Reach::Dropped);
    assert!(
        after_ka.contains("table ip keepalived") && !after_ka.contains("rk_moved"),
        "{after_ka}"
    );
    assert!(exit_ka.trim().is_empty(), "{exit_ka}");
}
