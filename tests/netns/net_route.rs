//! Routes and policy rules for `virtual_routes` / `virtual_rules`, on the real kernel in a
//! namespace: what rkeepalived adds is what `ip route` / `ip rule` show, and deleting removes it.

use crate::support;

use rkeepalived::config::routes::{parse_route, parse_rule};
use rkeepalived::net::netlink::Netlink;
use rkeepalived::net::route::{Route, Rule};
use support::{Lan, require_root};

fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).expect("open netns");
        nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .expect("thread panicked")
}

fn route(nl: &Netlink, line: &str) -> Route {
    let words: Vec<&str> = line.split_whitespace().collect();
    let v = parse_route(&words).unwrap();
    let oif = v.dev.as_ref().map(|d| nl.link(d).unwrap().ifindex);
    Route {
        dst: v.dst,
        dst_len: v.dst_len,
        prefsrc: v.src,
        gateways: v.gateways,
        oif,
        table: v.table,
        metric: v.metric,
        scope: v.scope,
        kind: v.kind.into(),
        onlink: v.onlink,
        protocol: None,
    }
}

fn rule(line: &str) -> Rule {
    let words: Vec<&str> = line.split_whitespace().collect();
    let v = parse_rule(&words).unwrap();
    Rule {
        family_v6: v.is_v6(),
        from: v.from,
        to: v.to,
        table: v.table,
        priority: v.priority,
        fwmark: v.fwmark,
        iif: v.iif,
        oif: v.oif,
        tos: v.tos,
        action: rkeepalived::vrrp::kernel::fr_act(v.action),
        goto: v.goto,
        invert: v.invert,
    }
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn routes_and_rules_appear_in_ip_route_and_ip_rule_and_go_away() {
    if !require_root("routes_and_rules") {
        return;
    }
    let lan = Lan::new(&["a"]);
    let node = lan.node("a");
    let [_, x, y] = lan.subnet();
    let gw1 = format!("10.{x}.{y}.254");
    let gw2 = format!("10.{x}.{y}.253");
    let routes = vec![
        format!("10.200.1.0/24 via {gw1} dev eth0 table 100 metric 7"),
        "blackhole 10.200.2.0/24 table 100".to_string(),
        format!("10.200.3.0/24 via {gw1} or {gw2} dev eth0 table 100"),
        format!("src 10.{x}.{y}.1 10.200.5.0/24 dev eth0"),
    ];
    let rules = vec![
        "from 10.200.4.0/24 table 100 preference 500".to_string(),
        "fwmark 0x10/0xff table 100 preference 501".to_string(),
    ];

    let (r2, rl2) = (routes.clone(), rules.clone());
    in_ns(&node.ns, move || {
        let nl = Netlink::new().unwrap();
        for l in &r2 {
            nl.add_route(&route(&nl, l))
                .unwrap_or_else(|e| panic!("{l}: {e}"));
        }
        for l in &rl2 {
            nl.add_rule(&rule(l)).unwrap_or_else(|e| panic!("{l}: {e}"));
            nl.add_rule(&rule(l)).unwrap(); // already there: fine
        }
    });
    let show = |args: &[&str]| String::from_utf8_lossy(&node.exec(args).stdout).into_owned();
    let t100 = show(&["ip", "route", "show", "table", "100"]);
    assert!(
        t100.contains(&format!(
            "10.200.1.0/24 via {gw1} dev eth0 proto keepalived metric 7"
        )),
        "{t100}"
    );
    assert!(
        t100.contains("blackhole 10.200.2.0/24 proto keepalived"),
        "{t100}"
    );
    assert!(t100.contains("10.200.3.0/24 proto keepalived"), "{t100}");
    assert!(
        t100.contains(&format!("nexthop via {gw1} dev eth0 weight 1"))
            && t100.contains(&format!("nexthop via {gw2} dev eth0 weight 1")),
        "{t100}"
    );
    let main = show(&["ip", "route", "show"]);
    assert!(
        main.contains(&format!(
            // No scope written: keepalived's default (universe), not `ip route`'s link.
            "10.200.5.0/24 dev eth0 proto keepalived src 10.{x}.{y}.1"
        )),
        "{main}"
    );
    let rl = show(&["ip", "rule", "show"]);
    assert!(
        rl.contains("500:\tfrom 10.200.4.0/24 lookup 100 proto keepalived"),
        "{rl}"
    );
    assert!(
        rl.contains("501:\tfrom all fwmark 0x10/0xff lookup 100"),
        "{rl}"
    );

    in_ns(&node.ns, move || {
        let nl = Netlink::new().unwrap();
        for l in &routes {
            nl.del_route(&route(&nl, l))
                .unwrap_or_else(|e| panic!("{l}: {e}"));
            nl.del_route(&route(&nl, l)).unwrap(); // already gone: fine
        }
        for l in &rules {
            nl.del_rule(&rule(l)).unwrap();
            nl.del_rule(&rule(l)).unwrap();
        }
    });
    assert!(!show(&["ip", "route", "show", "table", "all"]).contains("10.200."));
    assert!(!show(&["ip", "rule", "show"]).contains("lookup 100"));
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn vmac_is_a_private_macvlan_with_the_virtual_router_mac_and_goes_away() {
    use rkeepalived::net::vmac::{SysctlGuard, default_name, virtual_mac};
    if !require_root("vmac") {
        return;
    }
    let lan = Lan::new(&["a"]);
    let node = lan.node("a");
    let sysctl = |key: &str| {
        String::from_utf8_lossy(&node.exec(&["sysctl", "-n", key]).stdout)
            .trim()
            .to_string()
    };
    assert_eq!(sysctl("net.ipv4.conf.eth0.arp_ignore"), "0");
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let ns = node.ns.clone();
    let worker = std::thread::spawn(move || {
        let fd = std::fs::File::open(format!("/run/netns/{ns}")).unwrap();
        nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let nl = Netlink::new().unwrap();
        let base = nl.link("eth0").unwrap().ifindex;
        let name = default_name(51);
        let ifindex = nl.create_vmac(base, &name, virtual_mac(51, false)).unwrap();
        assert!(
            nl.create_vmac(base, &name, virtual_mac(51, false)).is_err(),
            "an existing interface is never taken over"
        );
        let mut guard = SysctlGuard::default();
        guard.vmac("eth0", &name, false).unwrap();
        done_tx.send(()).unwrap();
        rx.recv().unwrap(); // the test has looked
        drop(guard);
        nl.delete_link(ifindex).unwrap();
        nl.delete_link(ifindex).unwrap(); // gone already: fine
    });
    done_rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("vmac created");
    let link = String::from_utf8_lossy(&node.exec(&["ip", "-d", "link", "show", "vrrp.51"]).stdout)
        .into_owned();
    assert!(link.contains("link/ether 00:00:5e:00:01:33"), "{link}");
    assert!(link.contains("macvlan mode private"), "{link}");
    assert!(link.contains("addrgenmode none"), "{link}");
    assert!(
        link.contains("vrrp.51@eth0") && link.contains(",UP"),
        "{link}"
    );
    assert_eq!(sysctl("net.ipv4.conf.eth0.arp_ignore"), "1");
    assert_eq!(sysctl("net.ipv4.conf.eth0.arp_filter"), "1");
    assert_eq!(sysctl("net.ipv4.conf.vrrp/51.arp_ignore"), "1");
    assert_eq!(sysctl("net.ipv4.conf.vrrp/51.accept_local"), "1");
    // An IPv4 instance's VMAC has IPv6 off, as keepalived's.
    assert_eq!(sysctl("net.ipv6.conf.vrrp/51.disable_ipv6"), "1");
    tx.send(()).unwrap();
    worker.join().unwrap();
    assert!(!String::from_utf8_lossy(&node.exec(&["ip", "link"]).stdout).contains("vrrp.51"));
    assert_eq!(
        sysctl("net.ipv4.conf.eth0.arp_ignore"),
        "0",
        "base interface sysctls restored"
    );
    assert_eq!(sysctl("net.ipv4.conf.eth0.arp_filter"), "0");
}
