//! Nothing blocks the thread that runs VRRP (issue 12 point 1): while one instance takes over
//! with a burst of gratuitous ARPs (`garp_master_repeat 5`, `vrrp_garp_interval 0.1`) and a
//! `no_accept` drop rule written by an `nft` that takes half a second, the node's other 19
//! instances keep advertising every 0.1 s and no backup on the peer changes state.
//!
//! The `nft` of the daemon is a stand-in found first in its `PATH`: it sleeps, then runs the
//! real `nft` with the same arguments and input.

use crate::support;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};
use support::{Daemon, Lan, require_daemon, require_root, require_tool, wait_until};

/// How long the stand-in `nft` sleeps before doing its work.
const NFT_DELAY: &str = "0.5";
/// The instances' advertisement interval in seconds.
const ADVERT_INT: f64 = 0.1;
const INSTANCES: u8 = 20;

/// Twenty VRRPv3 instances VI_1..VI_20 (VRIDs 1..20) at 0.1 s adverts, each with one VIP
/// `10.x.y.(100+vrid)`, one GARP round on a take-over unless said otherwise. `prio(vrid)`
/// gives each instance's priority; `vi1` is added to VI_1.
fn conf(lan: &Lan, top: &str, prio: impl Fn(u8) -> u8, vi1: &str) -> String {
    let mut s = format!(
        "global_defs {{\n  router_id test\n  vrrp_garp_interval 0.1\n  vrrp_garp_master_repeat 1\n  vrrp_garp_master_delay 0\n}}\n{top}"
    );
    for vrid in 1..=INSTANCES {
        let extra = if vrid == 1 { vi1 } else { "" };
        s.push_str(&format!(
            "vrrp_instance VI_{vrid} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n\
             \x20 priority {}\n  version 3\n  advert_int {ADVERT_INT}\n{extra}\n\
             \x20 virtual_ipaddress {{\n    {}/24 dev eth0\n  }}\n}}\n",
            prio(vrid),
            lan.ip(100 + vrid),
        ));
    }
    s
}

/// Starts rkeepalived on `node` with `PATH` starting at `bin` (where the stand-in `nft` is).
fn spawn_with_path(lan: &Lan, node: &str, conf: &str, bin: &std::path::Path) -> support::Proc {
    let daemon = Daemon::Rkeepalived;
    let dir = tempfile::tempdir().unwrap();
    let conf_path = dir.path().join("keepalived.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let exe = daemon.binary().unwrap();
    let path = format!(
        "PATH={}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut argv: Vec<String> = vec!["env".into(), path, exe.display().to_string()];
    argv.extend(
        daemon
            .args(&conf_path, dir.path())
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned()),
    );
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let p = lan.node(node).spawn_cmd(&refs);
    // The config and pidfile directory lives as long as the test.
    std::mem::forget(dir);
    p
}

#[test]
#[ignore = "needs root, network namespaces, tcpdump and nft (scripts/test-all runs it)"]
fn a_garp_burst_and_a_slow_nft_do_not_stop_the_other_instances() {
    let test = "garp_burst_and_slow_nft";
    if !require_root(test)
        || !require_daemon(test, Daemon::Rkeepalived)
        || !require_tool(test, "tcpdump")
        || !require_tool(test, "nft")
    {
        return;
    }
    let real_nft = support::find_program("nft").unwrap();
    let bin = tempfile::tempdir().unwrap();
    let stand_in = bin.path().join("nft");
    std::fs::write(
        &stand_in,
        format!(
            "#!/bin/sh\nsleep {NFT_DELAY}\nexec {} \"$@\"\n",
            real_nft.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();

    let lan = Lan::new(&["a", "b"]);
    let flag = tempfile::tempdir().unwrap();
    let file = flag.path().join("prio");
    // a: master of VI_2..VI_20 (150 > 100), backup of VI_1 (100 < b's 200) until b's VI_1
    // drops to 50 through its track_file; then a takes VI_1 over with 5 GARP rounds 0.1 s
    // apart and a no_accept drop rule.
    let b = lan.node("b").spawn(
        Daemon::Rkeepalived,
        &conf(
            &lan,
            &format!(
                "track_file tf {{\n  file {}\n  weight -150\n  init_file 0 overwrite\n}}\n",
                file.display()
            ),
            |v| if v == 1 { 200 } else { 100 },
            "  track_file {\n    tf\n  }\n",
        ),
    );
    // b first: it holds every VIP before a starts, so a's VI_1 stays backup from the start.
    for vrid in 1..=INSTANCES {
        lan.expect_addr(
            "b",
            IpAddr::V4(lan.ip(100 + vrid)),
            Duration::from_secs(10),
            &b,
        );
    }
    let a = spawn_with_path(
        &lan,
        "a",
        &conf(
            &lan,
            "",
            |v| if v == 1 { 100 } else { 150 },
            "  no_accept\n  garp_master_repeat 5\n",
        ),
        bin.path(),
    );
    // Settled: a holds VI_2..VI_20's VIPs, b VI_1's.
    for vrid in 1..=INSTANCES {
        let (holder, daemon) = if vrid == 1 { ("b", &b) } else { ("a", &a) };
        lan.expect_addr(
            holder,
            IpAddr::V4(lan.ip(100 + vrid)),
            Duration::from_secs(10),
            daemon,
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    let capture = lan.capture("b", "ip proto 112");
    let arp = lan.capture("b", "arp");
    std::thread::sleep(Duration::from_millis(300));
    let b_masters_before = b.log_count("Entering MASTER STATE");
    let a_takeovers_before = a.log_count("(VI_1) Entering MASTER STATE");
    let t0 = SystemTime::now();
    std::fs::write(&file, "1\n").unwrap();
    lan.expect_addr("a", IpAddr::V4(lan.ip(101)), Duration::from_secs(5), &a);
    assert!(
        wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
            a.log_count("(VI_1) Entering MASTER STATE") > a_takeovers_before
        })
        .is_some(),
        "a never took VI_1 over:\n{}",
        a.log()
    );
    // The burst (0.4 s) and the nft run (0.5 s) are over well within 2 s.
    std::thread::sleep(Duration::from_secs(2));
    let t_end = SystemTime::now();
    let mut capture = capture;
    capture.stop();
    let mut arp = arp;
    arp.stop();
    let a_ip = IpAddr::V4(lan.addr("a"));
    let mut worst = (0.0f64, 0u8);
    for vrid in 2..=INSTANCES {
        let times: Vec<SystemTime> = capture
            .adverts()
            .into_iter()
            .filter(|ad| ad.src == a_ip && ad.vrid == vrid)
            .map(|ad| ad.time)
            .collect();
        assert!(
            times.first().is_some_and(|t| *t < t0),
            "VRID {vrid}: no advert from a before the take-over:\n{}",
            a.log_tail(80)
        );
        // The silence after the last advert counts too (a that stopped advertising).
        let mut times = times;
        times.push(t_end);
        for w in times.windows(2) {
            let gap = support::ms_between(w[0], w[1]);
            if gap > worst.0 {
                worst = (gap, vrid);
            }
        }
    }
    eprintln!(
        "worst advert gap of a's other instances: {:.1} ms (VRID {})",
        worst.0, worst.1
    );
    assert!(
        worst.0 <= 3.0 * ADVERT_INT * 1000.0,
        "VRID {} went {:.1} ms without an advert from a (> 3 x advert_int):\n{}",
        worst.1,
        worst.0,
        a.log_tail(80)
    );
    assert_eq!(
        b.log_count("Entering MASTER STATE"),
        b_masters_before,
        "a backup of b changed state:\n{}",
        b.log_tail(80)
    );
    // The take-over itself was whole: five GARP rounds 0.1 s apart, the drop rule in place.
    let vip1 = lan.ip(101);
    let garps: Vec<SystemTime> = arp
        .garps()
        .into_iter()
        .filter(|g| g.ip == vip1 && g.time > t0)
        .map(|g| g.time)
        .collect();
    assert_eq!(
        garps.len(),
        5,
        "GARPs for {vip1}: {garps:?}\n{}",
        a.log_tail(80)
    );
    for w in garps.windows(2) {
        let gap = support::ms_between(w[0], w[1]);
        assert!(
            (80.0..=300.0).contains(&gap),
            "GARP rounds {gap:.1} ms apart, not vrrp_garp_interval 0.1 s"
        );
    }
    let ruleset = lan
        .node("a")
        .exec(&[real_nft.to_str().unwrap(), "list", "ruleset"]);
    let ruleset = String::from_utf8_lossy(&ruleset.stdout);
    assert!(
        ruleset.contains(&lan.ip(101).to_string()),
        "no drop rule for VI_1's VIP:\n{ruleset}"
    );
}
