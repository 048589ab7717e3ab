//! Proves the netns harness in `tests/support` works, using Debian's keepalived on every
//! node, so that the same harness can later drive rkeepalived.
//!
//! Tests that need root, `ip netns`, keepalived or tcpdump are `#[ignore]`d with the reason, and
//! fail when they are asked for and cannot run.

use crate::support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::failover::{self, Settings, master_down_interval, render};
use support::{Daemon, Lan, pcap, wait_until};

// ---------------------------------------------------------------------------------------------
// Pure parts (no root needed)
// ---------------------------------------------------------------------------------------------

/// pcap global header, little endian, microsecond timestamps, link type 1 (Ethernet).
fn pcap_header() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(0xa1b2_c3d4u32.to_le_bytes());
    v.extend(2u16.to_le_bytes());
    v.extend(4u16.to_le_bytes());
    v.extend(0i32.to_le_bytes());
    v.extend(0u32.to_le_bytes());
    v.extend(65535u32.to_le_bytes());
    v.extend(1u32.to_le_bytes());
    v
}

fn pcap_record(v: &mut Vec<u8>, secs: u32, usecs: u32, frame: &[u8]) {
    v.extend(secs.to_le_bytes());
    v.extend(usecs.to_le_bytes());
    v.extend((frame.len() as u32).to_le_bytes());
    v.extend((frame.len() as u32).to_le_bytes());
    v.extend(frame);
}

/// An Ethernet/ARP request from `mac`, sender `spa`, target `tpa` (RFC 826 layout).
fn arp_frame(mac: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend(mac);
    f.extend([0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend(mac);
    f.extend(spa);
    f.extend([0; 6]);
    f.extend(tpa);
    f
}

/// A VRRPv2 advert in IPv4 from `src` (RFC 3768 §5.1), VRID `vrid`, priority `prio`.
fn vrrp_frame(src: [u8; 4], vrid: u8, prio: u8) -> Vec<u8> {
    let mut f = vec![
        0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0, 0, 0x5e, 0, 1, vrid, 0x08, 0x00,
    ];
    // IPv4 header: v4 IHL 5, TTL 255, protocol 112, dst 224.0.0.18 (checksum not checked).
    f.extend([0x45, 0xc0, 0, 40, 0, 0, 0, 0, 255, 112, 0, 0]);
    f.extend(src);
    f.extend([224, 0, 0, 18]);
    // VRRP: version 2 type 1, VRID, priority, 1 address, auth 0, advert 1 s, checksum, VIP.
    f.extend([
        0x21, vrid, prio, 1, 0, 1, 0, 0, 10, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    f
}

#[test]
fn pcap_reader_finds_garps_and_adverts() {
    let mac = [2, 0, 0, 0, 0, 0x0b];
    let mut file = pcap_header();
    pcap_record(
        &mut file,
        100,
        250_000,
        &arp_frame(mac, [10, 0, 0, 100], [10, 0, 0, 100]),
    );
    // An ordinary ARP request (target differs): not a GARP.
    pcap_record(
        &mut file,
        101,
        0,
        &arp_frame(mac, [10, 0, 0, 2], [10, 0, 0, 1]),
    );
    pcap_record(&mut file, 102, 5, &vrrp_frame([10, 0, 0, 1], 51, 150));
    // A record cut short, as when tcpdump is still writing it.
    let mut partial = Vec::new();
    pcap_record(&mut partial, 103, 0, &vrrp_frame([10, 0, 0, 1], 51, 0));
    file.extend(&partial[..partial.len() - 10]);

    let frames = pcap::parse(&file).expect("valid pcap");
    assert_eq!(frames.len(), 3, "partial last record is skipped");
    let garps: Vec<_> = frames.iter().filter_map(pcap::garp).collect();
    assert_eq!(
        garps,
        vec![pcap::Garp {
            time: UNIX_EPOCH + Duration::new(100, 250_000_000),
            ip: Ipv4Addr::new(10, 0, 0, 100),
            mac,
        }]
    );
    let adverts: Vec<_> = frames.iter().filter_map(pcap::advert).collect();
    assert_eq!(adverts.len(), 1);
    assert_eq!(adverts[0].src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(
        (adverts[0].version, adverts[0].vrid, adverts[0].priority),
        (2, 51, 150)
    );
    assert_eq!(adverts[0].time, UNIX_EPOCH + Duration::new(102, 5_000));

    assert_eq!(pcap::parse(&file[..10]), Err(pcap::PcapError::Short));
    let mut pcapng = file.clone();
    pcapng[..4].copy_from_slice(&0x0a0d_0d0au32.to_le_bytes());
    assert!(matches!(
        pcap::parse(&pcapng),
        Err(pcap::PcapError::Magic(_))
    ));
}

#[test]
fn render_fills_placeholders_and_drops_their_definitions() {
    let s = Settings {
        vrid: 42,
        version: 3,
        ..Settings::default()
    };
    let conf = s.conf("MASTER", 150, Ipv4Addr::new(10, 1, 2, 100));
    assert!(!conf.contains('$'), "no variables left:\n{conf}");
    for line in [
        "state MASTER",
        "interface eth0",
        "virtual_router_id 42",
        "priority 150",
        "version 3",
        "advert_int 1",
        "10.1.2.100/24 dev eth0",
    ] {
        assert!(conf.contains(line), "{line:?} missing in:\n{conf}");
    }
    let err = render("a ${NOPE} b\n", &[("X", "1".into())]).unwrap_err();
    assert!(err.contains("${NOPE}"), "{err}");
}

#[test]
fn master_down_interval_follows_the_rfcs() {
    // RFC 3768 §6.1: 3 * 1 s + (256 - 100) / 256 s.
    let v2 = master_down_interval(2, Duration::from_secs(1), 100);
    assert_eq!(v2, Duration::from_secs(3) + Duration::from_secs(156) / 256);
    // v2 skew does not scale with the advert interval.
    let v2_slow = master_down_interval(2, Duration::from_secs(2), 100);
    assert_eq!(v2_slow - v2, Duration::from_secs(3));
    // RFC 5798 §6.1: skew = (256 - priority) * interval / 256.
    let v3 = master_down_interval(3, Duration::from_millis(500), 100);
    assert_eq!(
        v3,
        Duration::from_millis(1500) + Duration::from_millis(500) * 156 / 256
    );
    // The higher priority waits less.
    assert!(master_down_interval(2, Duration::from_secs(1), 150) < v2);
}

// ---------------------------------------------------------------------------------------------
// The harness against the real kernel
// ---------------------------------------------------------------------------------------------

fn our_namespaces(lan_prefix: &str) -> Vec<String> {
    support::list_namespaces()
        .into_iter()
        .filter(|n| n.starts_with(lan_prefix))
        .collect()
}

#[test]
#[ignore = "needs root, network namespaces or keepalived (scripts/test-all runs it)"]
fn lan_builds_nodes_and_removes_everything_on_drop() {
    if !support::require_root("lan_builds_nodes_and_removes_everything_on_drop") {
        return;
    }
    let lan = Lan::new(&["a", "b"]);
    let prefix = lan.prefix().to_owned();
    let mut expected = lan.namespaces().to_vec();
    expected.sort();
    let mut present = our_namespaces(&prefix);
    present.sort();
    assert_eq!(present, expected);
    assert_eq!(expected.len(), 3);

    let net = lan.subnet();
    assert_eq!(net[0], 10);
    for (i, name) in ["a", "b"].into_iter().enumerate() {
        let node = lan.node(name);
        let want = Ipv4Addr::new(10, net[1], net[2], i as u8 + 1);
        assert_eq!(lan.addr(name), want);
        assert!(node.has_addr(IpAddr::V4(want)), "{name} lacks {want}");
        assert!(!node.has_addr(IpAddr::V4(lan.ip(100))));
        // IPv6 link-local exists and is not tentative (accept_dad 0).
        let out = node.exec(&["ip", "-6", "-o", "addr", "show", "dev", "eth0"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("fe80::") && !text.contains("tentative"),
            "{text}"
        );
    }
    let (ma, mb) = (lan.node("a").mac(), lan.node("b").mac());
    assert_ne!(ma, mb);
    assert_ne!(ma, [0; 6]);

    // A process still running when the Lan goes away is killed and reaped by it.
    let sleeper = lan.node("a").spawn_cmd(&["sleep", "60"]);
    assert!(sleeper.running());
    let pid = sleeper.pid;
    drop(lan);
    assert!(!sleeper.running());
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} still exists"
    );
    assert!(our_namespaces(&prefix).is_empty(), "namespaces left");
}

#[test]
#[ignore = "needs root, network namespaces or keepalived (scripts/test-all runs it)"]
fn proc_kill_takes_down_the_whole_process_group() {
    if !support::require_root("proc_kill_takes_down_the_whole_process_group") {
        return;
    }
    let lan = Lan::new(&["a"]);
    let mut p = lan
        .node("a")
        .spawn_cmd(&["sh", "-c", "sleep 60 & echo child=$!; wait"]);
    p.expect_log("child=", Duration::from_secs(5));
    let child: u32 = p.log().trim().trim_start_matches("child=").parse().unwrap();
    assert!(Path::new(&format!("/proc/{child}")).exists());
    p.kill();
    assert_eq!(
        p.wait_exit(Duration::from_secs(1)),
        Some(128 + libc::SIGKILL)
    );
    // The grandchild got SIGKILL too; once its new parent reaps it, it is gone.
    let gone = wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        std::fs::read_to_string(format!("/proc/{child}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
    });
    assert!(gone.is_some(), "grandchild {child} survived the group kill");
}

#[test]
#[ignore = "needs root, network namespaces or keepalived (scripts/test-all runs it)"]
fn keepalived_pair_elects_and_fails_over_with_garp() {
    let test = "keepalived_pair_elects_and_fails_over_with_garp";
    if !support::require_root(test)
        || !support::require_daemon(test, Daemon::Keepalived)
        || !support::require_tool(test, "tcpdump")
    {
        return;
    }
    let lan = Lan::new(&["a", "b", "c"]);
    let vip = lan.ip(100);
    let vip_ip = IpAddr::V4(vip);
    let settings = Settings {
        vrid: 77,
        ..Settings::default()
    };
    let cap = lan.capture("c", "arp or ip proto 112");
    // Both start as BACKUP: a plain election by priority.
    let pa = lan
        .node("a")
        .spawn(Daemon::Keepalived, &settings.conf("BACKUP", 150, vip));
    let pb = lan
        .node("b")
        .spawn(Daemon::Keepalived, &settings.conf("BACKUP", 100, vip));

    let ten = Duration::from_secs(10);
    assert!(
        pa.wait_log("(VI_1) Entering MASTER STATE", ten),
        "a:\n{}",
        pa.log()
    );
    assert!(
        pb.wait_log("(VI_1) Entering BACKUP STATE", ten),
        "b:\n{}",
        pb.log()
    );
    let (a, b) = (lan.node("a"), lan.node("b"));
    assert!(
        wait_until(Duration::from_secs(2), Duration::from_millis(10), || a
            .has_addr(vip_ip))
        .is_some(),
        "master a never got the VIP"
    );
    // Two more advert intervals: b must stay backup without the VIP.
    std::thread::sleep(Duration::from_secs(2));
    assert!(a.has_addr(vip_ip));
    assert!(!b.has_addr(vip_ip), "backup b holds the VIP too");
    assert_eq!(pb.log_count("Entering MASTER STATE"), 0, "b:\n{}", pb.log());
    // The client sees a's adverts with a's priority.
    assert!(
        cap.adverts()
            .iter()
            .any(|p| p.src == IpAddr::V4(lan.addr("a")) && p.vrid == 77 && p.priority == 150)
    );

    let mac_b = b.mac();
    let killed_at = SystemTime::now();
    pa.kill();
    let limit = settings.mdi() + Duration::from_secs(1);
    let took = wait_until(limit, Duration::from_millis(5), || b.has_addr(vip_ip));
    assert!(
        took.is_some(),
        "b did not hold {vip} within Master_Down_Interval + 1 s = {limit:?}\nb:\n{}",
        pb.log()
    );
    assert!(pb.wait_log("(VI_1) Entering MASTER STATE", Duration::from_secs(1)));
    let garp = wait_until(Duration::from_secs(2), Duration::from_millis(20), || {
        cap.garps()
            .iter()
            .any(|g| g.ip == vip && g.mac == mac_b && g.time >= killed_at)
    });
    assert!(
        garp.is_some(),
        "no GARP for {vip} with b's MAC: {:?}",
        cap.garps()
    );
    // SIGKILL of the whole group: the dead master never resigned with priority 0.
    assert!(!pa.log().contains("sent 0 priority"), "a:\n{}", pa.log());
    assert!(
        !cap.adverts()
            .iter()
            .any(|p| p.src == IpAddr::V4(lan.addr("a")) && p.priority == 0)
    );
}

#[test]
#[ignore = "needs root, network namespaces or keepalived (scripts/test-all runs it)"]
fn failover_scenario_measures_keepalived() {
    let test = "failover_scenario_measures_keepalived";
    if !support::require_root(test)
        || !support::require_daemon(test, Daemon::Keepalived)
        || !support::require_tool(test, "tcpdump")
    {
        return;
    }
    let s = Settings::default();
    let mut prefix = String::new();
    let o = failover::run(Daemon::Keepalived, &s, &mut |step| {
        if let failover::Step::Built { lan, .. } = step {
            prefix = lan.prefix().to_owned();
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(our_namespaces(&prefix).is_empty(), "run() left namespaces");
    assert!(!o.priority_zero_after_kill);
    let mdi_ms = s.mdi().as_secs_f64() * 1e3;
    // b's timer starts at a's last advert, at most one advert interval before the kill.
    let last = o
        .last_advert_before_kill
        .expect("a's adverts were captured");
    assert!(
        (0.0..=1100.0).contains(&last),
        "last advert {last} ms before kill"
    );
    let garp = o.kill_to_garp.expect("GARP captured");
    assert!(garp > 0.0 && garp <= mdi_ms + 1000.0, "kill→GARP {garp} ms");
    let overhead = o.overhead().unwrap();
    assert!(
        (-50.0..=500.0).contains(&overhead),
        "overhead {overhead} ms over MDI"
    );
    let vip_ms = o.kill_to_vip.as_secs_f64() * 1e3;
    assert!(
        (vip_ms - garp).abs() < 500.0,
        "VIP at {vip_ms} ms, GARP at {garp} ms"
    );
}

#[test]
#[ignore = "needs root, network namespaces or keepalived (scripts/test-all runs it)"]
fn shipped_configs_pass_keepalived_config_test() {
    let test = "shipped_configs_pass_keepalived_config_test";
    if !support::require_daemon(test, Daemon::Keepalived) {
        return;
    }
    let keepalived = Daemon::Keepalived.binary().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf");
    let mut runs: Vec<(String, Vec<String>)> = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "conf") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let file = path.to_string_lossy().into_owned();
            if name == "unicast.conf" {
                // One file for both nodes, selected by config id (`@node1` / `@node2` lines).
                for id in ["node1", "node2"] {
                    runs.push((
                        format!("{name} -i {id}"),
                        vec!["-i".into(), id.into(), "-f".into(), file.clone()],
                    ));
                }
            } else {
                runs.push((name, vec!["-f".into(), file]));
            }
        }
    }
    assert!(
        runs.len() >= 6,
        "conf/ has the five shipped files: {runs:?}"
    );
    for (what, args) in runs {
        let out = Command::new(&keepalived)
            .args(["-t", "-l"])
            .args(&args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "keepalived -t {what}: {}\n{text}",
            out.status
        );
        assert!(
            text.trim().is_empty(),
            "keepalived -t {what} complains:\n{text}"
        );
    }
}

/// The soak's counter invariant sums the instance's error blocks of `keepalived.stats` and
/// nothing else (not the advert counts, not the unmatched-packet block).
#[test]
fn soak_drop_total_sums_the_error_blocks_only() {
    let stats = "VRRP Instance: VI_1\n  Advertisements:\n    Received: 900\n    Sent: 3\n\
                 \x20 Became master: 1\n  Released master: 0\n  Packet Errors:\n    Length: 7\n\
                 \x20   TTL: 5\n    Invalid Type: 0\n    Advertisement Interval: 0\n\
                 \x20   Address List: 1\n  Authentication Errors:\n    Invalid Type: 0\n\
                 \x20   Type Mismatch: 0\n    Failure: 2\n  Priority Zero:\n    Received: 4\n\
                 \x20   Sent: 1\n  Other Packet Errors:\n    Checksum: 11\n    Version: 0\n\
                 \x20   Unicast Source: 0\nUnmatched VRRP Packets:\n  Bad Length: 50\n";
    assert_eq!(support::soak::drop_total(stats), 7 + 5 + 1 + 2 + 11);
    assert_eq!(support::soak::drop_total(""), 0);
    // Per kind: the error blocks only (the `Invalid Type` of `Packet Errors` comes first).
    assert_eq!(support::soak::error_counter(stats, "Length"), 7);
    assert_eq!(support::soak::error_counter(stats, "TTL"), 5);
    assert_eq!(support::soak::error_counter(stats, "Checksum"), 11);
    assert_eq!(support::soak::error_counter(stats, "Received"), 0);
    assert_eq!(support::soak::error_counter(stats, "Bad Length"), 0);
    assert_eq!(support::soak::error_counter("", "TTL"), 0);
}
