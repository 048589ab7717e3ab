//! VRRPv3 over IPv6 (RFC 5798 §5.1.2) and sub-second adverts, rkeepalived against the real
//! kernel: two nodes on a bridged LAN, a client `c` capturing what the LAN sees (adverts to
//! ff02::12 from link-local sources with hop limit 255, unsolicited Neighbour Advertisements).

use crate::support;

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant, SystemTime};
use support::{Daemon, Lan, ms_between, require_daemon, require_root, require_tool, wait_until};

const STEP: Duration = Duration::from_millis(10);
const GROUP6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// An IPv6 instance (VRRPv3, forced by the IPv6 VIP) with the VIP `vip/64` on eth0.
fn conf6(vrid: u8, priority: u8, advert_int: &str, vip: Ipv6Addr) -> String {
    format!(
        "vrrp_instance VI_6 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  priority {priority}\n  advert_int {advert_int}\n\
         \x20 virtual_ipaddress {{\n    {vip}/64 dev eth0\n  }}\n}}\n"
    )
}

fn ready(test: &str) -> bool {
    require_root(test) && require_daemon(test, Daemon::Rkeepalived) && require_tool(test, "tcpdump")
}

fn logs(a: &support::Proc, b: &support::Proc) -> String {
    format!("--- a ---\n{}\n--- b ---\n{}", a.log(), b.log())
}

#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn ipv6_failover_announces_the_vip_with_unsolicited_na() {
    if !ready("ipv6_failover_na") {
        return;
    }
    let lan = Lan::new(&["a", "b", "c"]);
    let vip6 = lan.ip6(100);
    let vip = IpAddr::V6(vip6);
    let (na, nb) = (lan.node("a"), lan.node("b"));
    let (ll_a, ll_b) = (na.link_local(), nb.link_local());
    let (mac_a, mac_b) = (na.mac(), nb.mac());
    let mut cap = lan.capture("c", "icmp6 or ip6 proto 112");
    let a = na.spawn(Daemon::Rkeepalived, &conf6(71, 150, "1", vip6));
    let b = nb.spawn(Daemon::Rkeepalived, &conf6(71, 100, "1", vip6));

    assert!(
        wait_until(Duration::from_secs(10), STEP, || na.has_addr(vip)).is_some(),
        "a never took {vip}\n{}",
        logs(&a, &b)
    );
    assert!(
        b.wait_log("Entering BACKUP STATE", Duration::from_secs(5)),
        "{}",
        logs(&a, &b)
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!nb.has_addr(vip), "b holds the VIP too\n{}", logs(&a, &b));

    // RFC 5798 §5.1.2: adverts from a's link-local address to ff02::12, hop limit 255, v3.
    let from_a: Vec<_> = cap
        .vrrp_ips()
        .into_iter()
        .filter(|(_, s, _, _)| *s == IpAddr::V6(ll_a))
        .collect();
    assert!(from_a.len() >= 2, "adverts from a: {from_a:?}");
    assert!(
        from_a
            .iter()
            .all(|(_, _, d, t)| *d == IpAddr::V6(GROUP6) && *t == 255),
        "{from_a:?}"
    );
    assert!(
        cap.adverts()
            .iter()
            .filter(|p| p.src == IpAddr::V6(ll_a))
            .all(|p| p.version == 3 && p.vrid == 71 && p.priority == 150)
    );
    // The checksum the kernel fills (IPV6_CHECKSUM) verifies in tshark.
    let dissect = cap.tshark_verbose();
    if !dissect.is_empty() {
        assert!(
            dissect.contains("Virtual Router Redundancy Protocol"),
            "{dissect}"
        );
        assert!(!dissect.contains("[Checksum Status: Bad]"), "{dissect}");
    }

    // Unsolicited NAs for the VIP at a's MAC: Override set, Solicited unset, to ff02::1,
    // hop limit 255, from a link-local address (RFC 4861 §7.2.6, RFC 5798 §6.4.2).
    let nas_a: Vec<_> = cap
        .nas()
        .into_iter()
        .filter(|n| n.target == vip6 && n.mac == Some(mac_a))
        .collect();
    assert!(
        !nas_a.is_empty(),
        "no NA for {vip6} from a: {:?}",
        cap.nas()
    );
    for n in &nas_a {
        assert!(n.override_flag && !n.solicited, "{n:?}");
        assert_eq!((n.dst, n.hop_limit, n.src), (ALL_NODES, 255, ll_a), "{n:?}");
    }

    let kill_wall = SystemTime::now();
    a.kill();
    assert!(
        wait_until(Duration::from_secs(8), STEP, || nb.has_addr(vip)).is_some(),
        "b never took {vip}\n{}",
        logs(&a, &b)
    );
    let mut na_b = None;
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        na_b = cap
            .nas()
            .into_iter()
            .find(|n| n.target == vip6 && n.mac == Some(mac_b) && n.time >= kill_wall);
        na_b.is_some()
    });
    let na_b = na_b.unwrap_or_else(|| panic!("no NA from b after the kill: {:?}", cap.nas()));
    assert_eq!((na_b.src, na_b.hop_limit), (ll_b, 255));
    assert!(na_b.override_flag);
    cap.stop();
    assert!(
        b.log().contains("(VI_6) Entering MASTER STATE"),
        "{}",
        b.log()
    );
}

/// 100 ms VRRPv3 adverts: b (priority 100) takes over within its Master_Down_Interval
/// (3 × 0.1 s + 156 × 0.1 s / 256 = 360.9 ms) plus 100 ms of a's last advert, measured on the
/// capture: a's last advert → b's first advert (sent on becoming master).
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn sub_second_v3_adverts_fail_over_within_master_down_interval() {
    if !ready("ipv6_100ms_failover") {
        return;
    }
    let lan = Lan::new(&["a", "b", "c"]);
    let vip6 = lan.ip6(100);
    let vip = IpAddr::V6(vip6);
    let (na, nb) = (lan.node("a"), lan.node("b"));
    let (ll_a, ll_b) = (na.link_local(), nb.link_local());
    let mut cap = lan.capture("c", "ip6 proto 112");
    let a = na.spawn(Daemon::Rkeepalived, &conf6(72, 150, "0.1", vip6));
    let b = nb.spawn(Daemon::Rkeepalived, &conf6(72, 100, "0.1", vip6));
    assert!(
        wait_until(Duration::from_secs(10), STEP, || na.has_addr(vip)).is_some(),
        "{}",
        logs(&a, &b)
    );
    assert!(
        b.wait_log("Entering BACKUP STATE", Duration::from_secs(5)),
        "{}",
        logs(&a, &b)
    );
    // Steady state over 1 s: about 10 adverts from a, none from b.
    std::thread::sleep(Duration::from_secs(1));
    let t0 = SystemTime::now();
    std::thread::sleep(Duration::from_secs(1));
    let steady: Vec<_> = cap.adverts().into_iter().filter(|p| p.time >= t0).collect();
    let n_a = steady.iter().filter(|p| p.src == IpAddr::V6(ll_a)).count();
    assert!((7..=13).contains(&n_a), "{n_a} adverts from a in 1 s");
    assert!(steady.iter().all(|p| p.src != IpAddr::V6(ll_b)));
    assert!(!nb.has_addr(vip), "{}", logs(&a, &b));

    let kill_wall = SystemTime::now();
    let kill = Instant::now();
    a.kill();
    assert!(
        wait_until(Duration::from_secs(5), STEP, || nb.has_addr(vip)).is_some(),
        "{}",
        logs(&a, &b)
    );
    // Generous bound for the wall-clock poll (ip addr every 10 ms on a shared machine).
    assert!(
        kill.elapsed() < Duration::from_secs(2),
        "{:?}",
        kill.elapsed()
    );
    std::thread::sleep(Duration::from_millis(200));
    cap.stop();
    let adverts = cap.adverts();
    let last_a = adverts
        .iter()
        .filter(|p| p.src == IpAddr::V6(ll_a) && p.time <= kill_wall && p.priority > 0)
        .map(|p| p.time)
        .next_back()
        .expect("an advert from a before the kill");
    let first_b = adverts
        .iter()
        .find(|p| p.src == IpAddr::V6(ll_b) && p.time > kill_wall)
        .map(|p| p.time)
        .expect("an advert from b after the kill");
    let gap = ms_between(last_a, first_b);
    let mdi_ms = 300.0 + 156.0 * 100.0 / 256.0;
    assert!(
        gap >= mdi_ms - 15.0 && gap <= mdi_ms + 100.0,
        "last advert of a → first advert of b: {gap:.1} ms, Master_Down_Interval {mdi_ms:.1} ms"
    );
    // b's adverts carry 10 cs.
    let first = adverts
        .iter()
        .find(|p| p.src == IpAddr::V6(ll_b))
        .expect("b advert");
    assert_eq!((first.version, first.priority), (3, 100));
}

/// One daemon: a (150) master of an IPv6 VIP, b (100) backup; the VIP is removed from a by
/// hand. Returns (ms until a held it again, whether b held it meanwhile, a's log lines after
/// the removal without time stamps).
fn vip6_removal_run(daemon: Daemon) -> (Option<u128>, bool, Vec<String>) {
    let lan = Lan::new(&["a", "b"]);
    let vip6 = lan.ip6(100);
    let vip = IpAddr::V6(vip6);
    let (na, nb) = (lan.node("a"), lan.node("b"));
    let a = na.spawn(daemon, &conf6(72, 150, "1", vip6));
    let b = nb.spawn(daemon, &conf6(72, 100, "1", vip6));
    assert!(
        wait_until(Duration::from_secs(10), STEP, || na.has_addr(vip)).is_some(),
        "{}: a never took {vip}\n{}",
        daemon.name(),
        logs(&a, &b)
    );
    std::thread::sleep(Duration::from_millis(1500));
    let before = a.log().lines().count();
    let start = Instant::now();
    na.exec(&[
        "ip",
        "-6",
        "addr",
        "del",
        &format!("{vip6}/64"),
        "dev",
        "eth0",
    ]);
    let (mut back, mut b_held) = (None, false);
    while start.elapsed() < Duration::from_secs(3) {
        b_held |= nb.has_addr(vip);
        if back.is_none() && na.has_addr(vip) {
            back = Some(start.elapsed().as_millis());
        }
        std::thread::sleep(STEP);
    }
    let lines = a
        .log()
        .lines()
        .skip(before)
        .filter_map(|l| l.split_once(": ").map(|(_, m)| m.to_string()))
        .filter(|m| !m.contains("Sending/queueing"))
        .map(|m| m.replace(&vip6.to_string(), "VIP"))
        .collect();
    (back, b_held, lines)
}

/// An IPv6 VIP removed by hand from the master comes back as an IPv4 one does
/// (`netns trackers::a_vip_removed_by_hand_on_the_master_comes_back_like_keepalived`), with
/// the same lines as keepalived 2.2.7 in the same run.
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn an_ipv6_vip_removed_by_hand_on_the_master_comes_back() {
    if !ready("ipv6_vip_removed") {
        return;
    }
    let rk = vip6_removal_run(Daemon::Rkeepalived);
    eprintln!("rkeepalived {rk:#?}");
    assert!(rk.0.is_some() && !rk.1, "{rk:#?}");
    assert_eq!(
        rk.2.first().map(String::as_str),
        Some("Netlink reflector reports IP VIP removed from eth0"),
        "{rk:#?}"
    );
    // The NA lines apart: rkeepalived's kernel worker may write the first one before the
    // main thread writes the take-over's lines.
    let na = "Sending unsolicited Neighbour Advert on eth0 for VIP";
    let split = |v: &[String]| {
        let others: Vec<String> = v.iter().filter(|l| *l != na).cloned().collect();
        (others, v.len() - v.iter().filter(|l| *l != na).count())
    };
    if require_daemon("ipv6_vip_removed", Daemon::Keepalived) {
        let ka = vip6_removal_run(Daemon::Keepalived);
        eprintln!("keepalived {ka:#?}");
        assert!(ka.0.is_some() && !ka.1, "{ka:#?}");
        assert_eq!(split(&rk.2), split(&ka.2));
    }
}
