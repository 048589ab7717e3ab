//! rkeepalived against the real kernel: two or three nodes on a bridged LAN inside network
//! namespaces, asserting what an operator checks: who holds the VIP, how fast it moves, and
//! what the LAN sees (gratuitous ARP, adverts).

use crate::support;

use std::net::IpAddr;
use std::time::{Duration, Instant};
use support::{Daemon, Lan, require_daemon, require_root, require_tool, wait_until};

const STEP: Duration = Duration::from_millis(10);

/// A VRRPv2 instance VI_1 on eth0 with the VIP `lan.ip(100)/24`, advert_int 1.
fn conf(lan: &Lan, vrid: u8, priority: u8, extra: &str) -> String {
    format!(
        "global_defs {{\n  router_id test\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  priority {priority}\n  advert_int 1\n\
         {extra}\n  virtual_ipaddress {{\n    {}/24 dev eth0\n  }}\n}}\n",
        lan.ip(100)
    )
}

/// RFC 3768 Master_Down_Interval for a backup of `priority` with 1 s adverts:
/// 3 × 1 s + (256 − priority) / 256 s.
fn master_down_interval(priority: u8) -> Duration {
    Duration::from_secs(3) + Duration::from_secs_f64(f64::from(256 - u32::from(priority)) / 256.0)
}

/// Waits (at most 10 s) until `node` holds `vip`; fails with `daemon`'s log otherwise.
fn expect_vip(lan: &Lan, node: &str, vip: IpAddr, daemon: &support::Proc) {
    lan.expect_addr(node, vip, Duration::from_secs(10), daemon);
}

fn ready(test: &str) -> bool {
    require_root(test) && require_daemon(test, Daemon::Rkeepalived)
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn higher_priority_holds_the_vip_and_the_other_does_not() {
    if !ready("higher_priority_holds_the_vip") {
        return;
    }
    let lan = Lan::new(&["a", "b"]);
    let vip = IpAddr::V4(lan.ip(100));
    let a = lan
        .node("a")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 51, 150, ""));
    let b = lan
        .node("b")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 51, 100, ""));
    assert!(
        wait_until(Duration::from_secs(10), STEP, || lan
            .node("a")
            .has_addr(vip))
        .is_some(),
        "a never took the VIP:\n{}",
        a.log()
    );
    // Stable for several advert intervals: a keeps it, b never has it.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        assert!(lan.node("a").has_addr(vip), "a lost the VIP:\n{}", a.log());
        assert!(!lan.node("b").has_addr(vip), "b took the VIP:\n{}", b.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        a.log().contains("(VI_1) Entering MASTER STATE"),
        "{}",
        a.log()
    );
    assert!(
        b.log().contains("(VI_1) Entering BACKUP STATE"),
        "{}",
        b.log()
    );
    assert!(!b.log().contains("Entering MASTER STATE"), "{}", b.log());
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn sigkill_of_the_master_moves_the_vip_and_the_client_sees_a_garp() {
    if !ready("sigkill_of_the_master") || !require_tool("sigkill_of_the_master", "tcpdump") {
        return;
    }
    let lan = Lan::new(&["a", "b", "c"]);
    let vip = IpAddr::V4(lan.ip(100));
    let conf_a = conf(&lan, 52, 150, "");
    let a = lan.node("a").spawn(Daemon::Rkeepalived, &conf_a);
    let b = lan
        .node("b")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 52, 100, ""));
    expect_vip(&lan, "a", vip, &a);
    b.expect_log("Entering BACKUP STATE", Duration::from_secs(5));
    let capture = lan.capture("c", "arp");
    std::thread::sleep(Duration::from_millis(1500)); // b has heard a's adverts for a while

    let killed_at = std::time::SystemTime::now();
    let t0 = Instant::now();
    a.kill();
    let took = wait_until(Duration::from_secs(10), STEP, || {
        lan.node("b").has_addr(vip)
    });
    let took = took.unwrap_or_else(|| panic!("b never took the VIP:\n{}", b.log()));
    let limit = master_down_interval(100) + Duration::from_secs(1);
    assert!(
        took <= limit,
        "b took the VIP after {took:?}, limit {limit:?}"
    );
    assert!(
        t0.elapsed() >= Duration::from_secs(2),
        "b took over before Master_Down_Interval could expire"
    );

    let b_mac = lan.node("b").mac();
    let seen = wait_until(Duration::from_secs(3), STEP, || {
        capture
            .garps()
            .iter()
            .any(|g| IpAddr::V4(g.ip) == vip && g.mac == b_mac)
    });
    assert!(
        seen.is_some(),
        "client saw no GARP for {vip} at b's MAC: {:?}",
        capture.garps()
    );
    let garp = capture
        .garps()
        .into_iter()
        .find(|g| IpAddr::V4(g.ip) == vip && g.mac == b_mac)
        .unwrap();
    assert!(support::ms_between(killed_at, garp.time) > 0.0);

    // The killed node keeps its stale VIP (the kernel does not know the daemon died); its next
    // start removes it, preempts as the higher priority, and afterwards exactly one node holds it.
    let a2 = lan.node("a").spawn(Daemon::Rkeepalived, &conf_a);
    let one_holder = wait_until(Duration::from_secs(15), Duration::from_millis(50), || {
        lan.node("a").has_addr(vip)
            && !lan.node("b").has_addr(vip)
            && a2.log().contains("Entering MASTER STATE")
    });
    assert!(one_holder.is_some(), "a:\n{}\nb:\n{}", a2.log(), b.log());
    assert!(
        a2.log().contains("Entering BACKUP STATE"),
        "restarted node should start as backup:\n{}",
        a2.log()
    );
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn sigterm_of_the_master_hands_over_after_the_priority_zero_advert() {
    if !ready("sigterm_of_the_master") || !require_tool("sigterm_of_the_master", "tcpdump") {
        return;
    }
    let lan = Lan::new(&["a", "b", "c"]);
    let vip = IpAddr::V4(lan.ip(100));
    let mut a = lan
        .node("a")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 53, 150, ""));
    let b = lan
        .node("b")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 53, 100, ""));
    expect_vip(&lan, "a", vip, &a);
    b.expect_log("Entering BACKUP STATE", Duration::from_secs(5));
    let capture = lan.capture("c", "ip proto 112");
    std::thread::sleep(Duration::from_millis(1500));

    a.term();
    let took = wait_until(Duration::from_secs(10), STEP, || {
        lan.node("b").has_addr(vip)
    });
    let took = took.unwrap_or_else(|| panic!("b never took the VIP:\n{}", b.log()));
    // Skew_Time for priority 100 is 0.61 s; Master_Down_Interval would be 3.61 s.
    assert!(
        took < Duration::from_millis(2000),
        "takeover after {took:?}: the priority-0 advert was not honoured"
    );
    assert_eq!(a.wait_exit(Duration::from_secs(5)), Some(0), "{}", a.log());
    assert!(
        !lan.node("a").has_addr(vip),
        "the stopped node still holds the VIP"
    );
    assert!(
        b.log().contains("Backup received priority 0 advertisement"),
        "{}",
        b.log()
    );
    let a_ip = IpAddr::V4(lan.addr("a"));
    assert!(
        capture
            .adverts()
            .iter()
            .any(|ad| ad.src == a_ip && ad.priority == 0 && ad.vrid == 53),
        "no priority-0 advert from a on the wire: {:?}",
        capture.adverts()
    );
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn nopreempt_backup_does_not_take_over_a_lower_master() {
    if !ready("nopreempt") {
        return;
    }
    let lan = Lan::new(&["a", "b"]);
    let vip = IpAddr::V4(lan.ip(100));
    let b = lan
        .node("b")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 54, 100, ""));
    expect_vip(&lan, "b", vip, &b);
    let a = lan
        .node("a")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 54, 150, "  nopreempt\n"));
    // Well past a's Master_Down_Interval (3.4 s): b keeps the VIP.
    let deadline = Instant::now() + master_down_interval(150) + Duration::from_secs(2);
    while Instant::now() < deadline {
        assert!(
            !lan.node("a").has_addr(vip),
            "nopreempt node took the VIP:\n{}",
            a.log()
        );
        assert!(lan.node("b").has_addr(vip), "b lost the VIP:\n{}", b.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    // When b goes away, a does take over.
    b.kill();
    assert!(
        wait_until(
            master_down_interval(150) + Duration::from_secs(2),
            STEP,
            || lan.node("a").has_addr(vip)
        )
        .is_some(),
        "{}",
        a.log()
    );
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn preempt_delay_postpones_preemption() {
    if !ready("preempt_delay") {
        return;
    }
    let lan = Lan::new(&["a", "b"]);
    let vip = IpAddr::V4(lan.ip(100));
    let b = lan
        .node("b")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 55, 100, ""));
    expect_vip(&lan, "b", vip, &b);
    let started = Instant::now();
    let a = lan.node("a").spawn(
        Daemon::Rkeepalived,
        &conf(&lan, 55, 150, "  preempt_delay 4\n"),
    );
    // Without the delay a preempts after its Master_Down_Interval (~3.4 s); with it, not
    // before 4 s after the first lower-priority advert plus Master_Down_Interval.
    while started.elapsed() < Duration::from_millis(5000) {
        assert!(
            !lan.node("a").has_addr(vip),
            "a preempted after {:?}:\n{}",
            started.elapsed(),
            a.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = wait_until(Duration::from_secs(12), STEP, || {
        lan.node("a").has_addr(vip) && !lan.node("b").has_addr(vip)
    });
    assert!(
        took.is_some(),
        "a never preempted:\na:\n{}\nb:\n{}",
        a.log(),
        b.log()
    );
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn failing_vrrp_script_lowers_priority_and_the_peer_takes_over() {
    if !ready("failing_vrrp_script") {
        return;
    }
    let lan = Lan::new(&["a", "b"]);
    let vip = IpAddr::V4(lan.ip(100));
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("service-up");
    std::fs::write(&flag, "").unwrap();
    let script = format!(
        "vrrp_script chk_service {{\n  script \"/usr/bin/test -e {}\"\n  interval 1\n  weight -60\n  fall 1\n  rise 1\n}}\n",
        flag.display()
    );
    let conf_a = format!(
        "{script}{}",
        conf(&lan, 56, 150, "  track_script {\n    chk_service\n  }\n")
    );
    let a = lan.node("a").spawn(Daemon::Rkeepalived, &conf_a);
    let b = lan
        .node("b")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 56, 100, ""));
    expect_vip(&lan, "a", vip, &a);
    a.expect_log("VRRP_Script(chk_service) succeeded", Duration::from_secs(5));

    std::fs::remove_file(&flag).unwrap();
    // 150 - 60 = 90 < 100: b stops accepting a's adverts and takes over after its
    // Master_Down_Interval; a yields when it hears b's higher priority.
    let took = wait_until(Duration::from_secs(10), STEP, || {
        lan.node("b").has_addr(vip) && !lan.node("a").has_addr(vip)
    });
    assert!(took.is_some(), "a:\n{}\nb:\n{}", a.log(), b.log());
    assert!(
        a.log().contains("VRRP_Script(chk_service) failed"),
        "{}",
        a.log()
    );
    assert!(
        a.log()
            .contains("Changing effective priority from 150 to 90"),
        "{}",
        a.log()
    );

    // The service comes back: a's priority returns to 150 and it preempts.
    std::fs::write(&flag, "").unwrap();
    let back = wait_until(Duration::from_secs(10), STEP, || {
        lan.node("a").has_addr(vip) && !lan.node("b").has_addr(vip)
    });
    assert!(back.is_some(), "a:\n{}\nb:\n{}", a.log(), b.log());
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn notify_scripts_get_keepalived_arguments() {
    if !ready("notify_scripts") {
        return;
    }
    let lan = Lan::new(&["a"]);
    let vip = IpAddr::V4(lan.ip(100));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("notify.log");
    let script = dir.path().join("notify.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let extra = format!(
        "  notify \"{s}\"\n  notify_master \"{s} entered-master\"\n  notify_backup \"{s} entered-backup\"\n  notify_stop \"{s} entered-stop\"\n",
        s = script.display()
    );
    let mut a = lan
        .node("a")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 57, 120, &extra));
    expect_vip(&lan, "a", vip, &a);
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(3), STEP, || read()
            .contains("INSTANCE VI_1 MASTER 120"))
        .is_some(),
        "{}",
        read()
    );
    a.term();
    assert_eq!(a.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(
        wait_until(Duration::from_secs(3), STEP, || read()
            .contains("INSTANCE VI_1 STOP"))
        .is_some(),
        "{}",
        read()
    );
    let lines: Vec<String> = read().lines().map(str::to_owned).collect();
    for want in [
        "entered-backup",
        "INSTANCE VI_1 BACKUP 120",
        "entered-master",
        "INSTANCE VI_1 MASTER 120",
        "entered-stop",
    ] {
        assert!(
            lines.iter().any(|l| l == want),
            "missing {want:?} in {lines:?}"
        );
    }
    // The state-specific script runs before the generic one, as keepalived does.
    let pos = |w: &str| lines.iter().position(|l| l == w).unwrap();
    assert!(pos("entered-backup") < pos("entered-master"));
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn virtual_routes_rules_and_excluded_addresses_follow_the_master() {
    if !ready("virtual_routes") || !require_tool("virtual_routes", "tcpdump") {
        return;
    }
    let lan = Lan::new(&["a", "b", "c"]);
    let vip = IpAddr::V4(lan.ip(100));
    let [_, x, y] = lan.subnet();
    let extra = format!(
        "  virtual_ipaddress_excluded {{\n    192.0.2.77/32 dev eth0\n  }}\n\
           virtual_routes {{\n    198.51.100.0/24 via 10.{x}.{y}.254 dev eth0\n    blackhole 203.0.113.0/24 table 77\n  }}\n\
           virtual_rules {{\n    from 198.51.100.0/24 table 77 preference 1077\n  }}\n"
    );
    let capture = lan.capture("c", "ip proto 112");
    let a = lan
        .node("a")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 58, 150, &extra));
    let b = lan
        .node("b")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 58, 100, &extra));
    expect_vip(&lan, "a", vip, &a);
    b.expect_log("Entering BACKUP STATE", Duration::from_secs(5));
    let show = |node: &str, args: &[&str]| {
        String::from_utf8_lossy(&lan.node(node).exec(args).stdout).into_owned()
    };
    let has_all = |node: &str| {
        show(node, &["ip", "route", "show"]).contains("198.51.100.0/24")
            && show(node, &["ip", "route", "show", "table", "77"])
                .contains("blackhole 203.0.113.0/24")
            && show(node, &["ip", "rule", "show"]).contains("1077:")
            && lan.node(node).has_addr("192.0.2.77".parse().unwrap())
    };
    let has_none = |node: &str| {
        !show(node, &["ip", "route", "show", "table", "all"]).contains("198.51.100.0/24")
            && !show(node, &["ip", "rule", "show"]).contains("1077:")
            && !lan.node(node).has_addr("192.0.2.77".parse().unwrap())
    };
    assert!(
        wait_until(Duration::from_secs(3), STEP, || has_all("a")).is_some(),
        "{}",
        a.log()
    );
    assert!(
        has_none("b"),
        "the backup must not have the master's routes/rules/excluded address"
    );

    a.kill();
    assert!(
        wait_until(Duration::from_secs(8), STEP, || has_all("b")).is_some(),
        "{}",
        b.log()
    );
    let mut capture = capture;
    capture.stop();
    let text = capture.tshark_verbose();
    if !text.is_empty() {
        assert!(text.contains(&format!("IP Address: {vip}")), "{text}");
        assert!(
            !text.contains("IP Address: 192.0.2.77"),
            "excluded addresses are not advertised:\n{text}"
        );
    }
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn use_vmac_gives_the_client_the_virtual_mac_across_failover() {
    if !ready("use_vmac") {
        return;
    }
    let lan = Lan::new(&["a", "b", "c"]);
    let vip = IpAddr::V4(lan.ip(100));
    // VIP without `dev`: it goes on the VMAC.
    let conf_v = |prio: u8| {
        format!(
            "vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 59\n  priority {prio}\n  advert_int 1\n  use_vmac\n  virtual_ipaddress {{\n    {}/24\n  }}\n}}\n",
            lan.ip(100)
        )
    };
    let mut a = lan.node("a").spawn(Daemon::Rkeepalived, &conf_v(150));
    let b = lan.node("b").spawn(Daemon::Rkeepalived, &conf_v(100));
    expect_vip(&lan, "a", vip, &a);
    let link = String::from_utf8_lossy(
        &lan.node("a")
            .exec(&["ip", "-d", "link", "show", "vrrp.59"])
            .stdout,
    )
    .into_owned();
    assert!(
        link.contains("00:00:5e:00:01:3b") && link.contains("macvlan mode private"),
        "{link}\n{}",
        a.log()
    );
    let on_vmac = String::from_utf8_lossy(
        &lan.node("a")
            .exec(&["ip", "-o", "addr", "show", "dev", "vrrp.59"])
            .stdout,
    )
    .into_owned();
    assert!(
        on_vmac.contains(&vip.to_string()),
        "VIP not on the VMAC: {on_vmac}"
    );

    // A TCP connection attempt (refused: nothing listens) makes the client resolve the VIP.
    let touch = |c: &support::Node| {
        c.exec(&[
            "timeout",
            "2",
            "bash",
            "-c",
            &format!("exec 3<>/dev/tcp/{vip}/9"),
        ])
    };
    let neigh = || {
        let c = lan.node("c");
        touch(c);
        String::from_utf8_lossy(&c.exec(&["ip", "neigh", "show", &vip.to_string()]).stdout)
            .into_owned()
    };
    let first = neigh();
    assert!(
        first.contains("lladdr 00:00:5e:00:01:3b"),
        "client's ARP entry: {first}"
    );

    a.term();
    assert_eq!(a.wait_exit(Duration::from_secs(5)), Some(0), "{}", a.log());
    expect_vip(&lan, "b", vip, &b);
    assert!(
        !String::from_utf8_lossy(&lan.node("a").exec(&["ip", "link"]).stdout).contains("vrrp.59"),
        "the stopped node removed its VMAC"
    );
    let after = neigh();
    assert!(
        after.contains("lladdr 00:00:5e:00:01:3b"),
        "client's ARP entry after failover: {after}"
    );
    assert!(
        after.contains("REACHABLE") || after.contains("STALE") || after.contains("DELAY"),
        "{after}"
    );
    let reply = String::from_utf8_lossy(&touch(lan.node("c")).stderr).into_owned();
    assert!(
        reply.contains("Connection refused"),
        "the new master answers at the same MAC: {reply}"
    );
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn static_addresses_routes_and_rules_are_set_at_start_and_removed_at_exit() {
    if !ready("static_addresses") {
        return;
    }
    let lan = Lan::new(&["a"]);
    let [_, x, y] = lan.subnet();
    let conf_s = format!(
        "static_ipaddress {{\n  192.0.2.55/32 dev eth0 label eth0:st\n}}\n\
         static_routes {{\n  198.51.100.0/24 via 10.{x}.{y}.254 dev eth0\n}}\n\
         static_rules {{\n  from 198.51.100.0/24 table 55 preference 1055\n}}\n{}",
        conf(&lan, 60, 100, "")
    );
    let mut a = lan.node("a").spawn(Daemon::Rkeepalived, &conf_s);
    let node = lan.node("a");
    let show = |args: &[&str]| String::from_utf8_lossy(&node.exec(args).stdout).into_owned();
    let all_there = || {
        node.has_addr("192.0.2.55".parse().unwrap())
            && show(&["ip", "route", "show"]).contains("198.51.100.0/24")
            && show(&["ip", "rule", "show"]).contains("1055:")
    };
    assert!(
        wait_until(Duration::from_secs(5), STEP, all_there).is_some(),
        "{}",
        a.log()
    );
    // Static items do not depend on the VRRP state: they are there while still backup.
    assert!(!a.log().contains("Entering MASTER STATE"), "{}", a.log());
    a.term();
    assert_eq!(a.wait_exit(Duration::from_secs(5)), Some(0), "{}", a.log());
    assert!(!node.has_addr("192.0.2.55".parse().unwrap()));
    assert!(!show(&["ip", "route", "show"]).contains("198.51.100.0/24"));
    assert!(!show(&["ip", "rule", "show"]).contains("1055:"));
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn vip_peer_and_no_track_options() {
    if !ready("vip_peer") {
        return;
    }
    let lan = Lan::new(&["a"]);
    let [_, x, y] = lan.subnet();
    let conf_p = format!(
        "vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 61\n  priority 255\n  advert_int 1\n  virtual_ipaddress {{\n    10.{x}.{y}.100 peer 10.{x}.{y}.200 dev eth0 no_track\n  }}\n}}\n"
    );
    let a = lan.node("a").spawn(Daemon::Rkeepalived, &conf_p);
    let vip = IpAddr::V4(lan.ip(100));
    expect_vip(&lan, "a", vip, &a);
    let addrs = String::from_utf8_lossy(
        &lan.node("a")
            .exec(&["ip", "-o", "addr", "show", "dev", "eth0"])
            .stdout,
    )
    .into_owned();
    assert!(
        addrs.contains(&format!("inet 10.{x}.{y}.100 peer 10.{x}.{y}.200/32")),
        "{addrs}"
    );
    assert!(!a.log().contains("does not implement"), "{}", a.log());
}

/// SIGHUP on a master: the instance stays master and keeps its VIP (no state change); an
/// edited vrrp_instance is applied in place, router_id and multicast group edits are taken and
/// a new net_namespace is named as waiting for the next restart; a file with an error is
/// reported (file:line:col) and changes nothing;
/// the daemon keeps running throughout.
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn sighup_keeps_the_master_and_says_what_waits_for_a_restart() {
    if !ready("sighup_keeps_the_master") {
        return;
    }
    let lan = Lan::new(&["a"]);
    let vip = IpAddr::V4(lan.ip(100));
    let a = lan
        .node("a")
        .spawn(Daemon::Rkeepalived, &conf(&lan, 61, 150, ""));
    expect_vip(&lan, "a", vip, &a);
    a.expect_log("Entering MASTER STATE", Duration::from_secs(5));
    let file = a.dir().join("keepalived.conf");
    let steady = |what: &str| {
        let deadline = Instant::now() + Duration::from_millis(2500);
        while Instant::now() < deadline {
            assert!(
                lan.node("a").has_addr(vip),
                "{what}: VIP lost:\n{}",
                a.log()
            );
            assert!(a.running(), "{what}: the daemon died:\n{}", a.log_tail(20));
            std::thread::sleep(Duration::from_millis(100));
        }
        // Only the start-up transitions: BACKUP (init), then MASTER.
        assert_eq!(
            a.log_count("Entering MASTER STATE"),
            1,
            "{what}:\n{}",
            a.log()
        );
        assert_eq!(
            a.log_count("Entering BACKUP STATE"),
            1,
            "{what}:\n{}",
            a.log()
        );
        assert!(!a.log().contains("Stopping"), "{what}:\n{}", a.log());
    };
    // Unchanged file.
    a.signal(libc::SIGHUP);
    a.expect_log("Reloading the configuration", Duration::from_secs(5));
    steady("same file");
    assert!(!a.log().contains("next restart"), "{}", a.log());
    // An edited instance: applied in place (issue 13), one line per change, no transition.
    std::fs::write(&file, conf(&lan, 61, 200, "")).unwrap();
    a.signal(libc::SIGHUP);
    a.expect_log(
        "(VI_1) Reload: priority changed from 150 to 200",
        Duration::from_secs(5),
    );
    a.expect_log(
        "(VI_1) Changing effective priority from 150 to 200",
        Duration::from_secs(5),
    );
    steady("edited instance");
    // global_defs: router_id is live (the next mail), so is a multicast group (the advert
    // socket moves to the new group); a new net_namespace is refused in keepalived 2.2.7's
    // words (measured: "Cannot change network namespace at a reload - please restart
    // keepalived"), the rest of the file is taken.
    std::fs::write(
        &file,
        format!(
            "net_namespace rk_elsewhere\n{}",
            conf(&lan, 61, 200, "").replace(
                "router_id test",
                "router_id other\n  vrrp_mcast_group4 224.0.0.19",
            )
        ),
    )
    .unwrap();
    a.signal(libc::SIGHUP);
    a.expect_log(
        "Reload: global_defs router_id changed: used from the next mail",
        Duration::from_secs(5),
    );
    a.expect_log(
        "Reload: global_defs vrrp_mcast_group4 changed from 224.0.0.18 to 224.0.0.19: 1 \
         advert socket(s) moved to the new group",
        Duration::from_secs(5),
    );
    a.expect_log(
        "Cannot change network namespace at a reload - please restart rkeepalived",
        Duration::from_secs(5),
    );
    steady("edited global_defs");
    // An error: reported with its position, nothing changes.
    std::fs::write(&file, conf(&lan, 61, 150, "  advert_int nonsense")).unwrap();
    a.signal(libc::SIGHUP);
    a.expect_log("keeping the running configuration", Duration::from_secs(5));
    assert!(
        a.log().contains("keepalived.conf:"),
        "position of the error:\n{}",
        a.log()
    );
    steady("bad file");
    // A hostile file (issue 11): 20,000 braces and a non-ASCII character on one line used to
    // overflow the stack of the reloading daemon, which died with its VIP configured.
    let hostile = format!(
        "{}\nglobal_defs {{\n{}\u{e9}\n",
        conf(&lan, 61, 150, ""),
        "}".repeat(20_000)
    );
    std::fs::write(&file, hostile).unwrap();
    let before = a.log_count("keeping the running configuration");
    a.signal(libc::SIGHUP);
    assert!(
        support::wait_until(Duration::from_secs(10), STEP, || a
            .log_count("keeping the running configuration")
            > before)
        .is_some(),
        "hostile file not refused:\n{}",
        a.log_tail(20)
    );
    steady("hostile file");
}
