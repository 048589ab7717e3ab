//! SIGHUP reload, the parts of the VRRP side beyond `vrrp_instance` blocks (issue 13): one row
//! per edit kind, each run beside keepalived 2.2.7 with the machinery of [`super::reload`]
//! (same pair, same observations: state, VIPs, the untouched instance's advert gap, `a`'s
//! last VI_1 advert priority, priority-0 adverts, GARPs, notify calls).
//!
//! Tracker rows: both nodes run `vrrp_script chk` (`interval 1`, a weight) tracked by VI_1;
//! `a` (priority 150) then advertises 150 + the weight while the script succeeds, `b` (100)
//! runs the same block unless the row says otherwise.
//!
//! `global_defs` rows: the setting is changed on one node with an edit that makes that node go
//! through a transition (after the reload, ~3.6 s later), which must use the new setting.
//!
//! `track_interface` / `track_file` / `vrrp_track_process` rows: the tracked link is `trk0`,
//! down in every node (see [`DOWN_LINK`]), the tracked file a temporary one, the tracked
//! process a `sleep` under a name of its own. Measured with keepalived 2.2.7: the new tracker
//! counts from its current value at the reload, as in rkeepalived; where a weight-0 tracker
//! that is down is added on the master (to the instance or to its sync group), keepalived goes
//! FAULT without a priority-0 advert (its log says `entering FAULT state`, lower case), so
//! `b` waits its Master_Down_Interval before it takes over; rkeepalived goes FAULT as on a
//! tracker failure at run time, with priority-0 adverts.

use super::reload::{
    Expect, File, Mark, PAIR, Pair, Row, Shape, check_row, check_row_on, handover, step,
};
use crate::support::Daemon;
use std::time::SystemTime;

/// `vrrp_script chk` running `path` with `weight`.
fn chk(path: &str, weight: i32) -> String {
    format!("vrrp_script chk {{\n  script \"{path}\"\n  interval 1\n  weight {weight}\n}}\n")
}

/// The row's pair with VI_1 tracking `chk` as `script` says.
fn tracked(prio: u8, script: String) -> File {
    let mut f = File::pair(prio);
    f.top = script;
    f.inst("VI_1").extra = "  track_script {\n    chk\n  }\n".into();
    f
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn tracker_weight_changed_on_master() {
    check_row(
        "tracker_weight_changed_on_master",
        Row {
            scenario: "tracker weight changed on master",
            a: tracked(150, chk("/bin/true", 10)),
            b: tracked(100, chk("/bin/true", 10)),
            steps: vec![step("a", |f| f.top = chk("/bin/true", 20))],
            keepalived: (
                "a advertises 170 (150 + the new weight); nothing else",
                Expect::untouched(&[100, 110]).vi1_prio(170),
            ),
            rkeepalived: (
                "the script keeps running with its state (weight only); a advertises 170 from \
                 the next advert; nothing else",
                Expect::untouched(&[100, 110]).vi1_prio(170),
            ),
        },
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn tracker_weight_changed_on_backup() {
    check_row(
        "tracker_weight_changed_on_backup",
        Row {
            scenario: "tracker weight changed on backup",
            a: tracked(150, chk("/bin/true", 10)),
            b: tracked(100, chk("/bin/true", 10)),
            steps: vec![step("b", |f| f.top = chk("/bin/true", 70))],
            keepalived: (
                "b's priority becomes 170 > 160: b (preempt) takes VI_1 over; VI_2 untouched",
                handover(160, "a: VI_1 BACKUP 160", "b: VI_1 MASTER 170"),
            ),
            rkeepalived: (
                "as keepalived",
                handover(160, "a: VI_1 BACKUP 160", "b: VI_1 MASTER 170"),
            ),
        },
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn script_path_changed_on_master() {
    check_row(
        "script_path_changed_on_master",
        Row {
            scenario: "script path changed on master (/bin/true -> /bin/false)",
            a: tracked(150, chk("/bin/true", 10)),
            b: tracked(100, chk("/bin/true", 10)),
            steps: vec![step("a", |f| f.top = chk("/bin/false", 10))],
            keepalived: (
                "the new script fails: a advertises 150, still above b's 110; nothing else",
                Expect::untouched(&[100, 110]).vi1_prio(150),
            ),
            rkeepalived: (
                "the script restarts (state as at start-up), fails: a advertises 150; nothing \
                 else",
                Expect::untouched(&[100, 110]).vi1_prio(150),
            ),
        },
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn script_path_changed_on_backup() {
    check_row(
        "script_path_changed_on_backup",
        Row {
            scenario: "script path changed on backup (/bin/false -> /bin/true, weight 70)",
            a: tracked(150, chk("/bin/true", 10)),
            b: tracked(100, chk("/bin/false", 70)),
            steps: vec![step("b", |f| f.top = chk("/bin/true", 70))],
            keepalived: (
                "the new script succeeds: b's priority becomes 170 > 160, b takes VI_1 over",
                handover(160, "a: VI_1 BACKUP 160", "b: VI_1 MASTER 170"),
            ),
            rkeepalived: (
                "as keepalived (the script restarts, its first success adds 70)",
                handover(160, "a: VI_1 BACKUP 160", "b: VI_1 MASTER 170"),
            ),
        },
    );
}

/// `b`'s GARPs for `.100` after the mark: about 300 ms apart (the new `vrrp_garp_interval 0.3`;
/// before the reload: back to back), 3 of them from rkeepalived (the new
/// `vrrp_garp_master_repeat 3`; before: 5), 2 from keepalived 2.2.7 (measured: one fewer than
/// the repeat, with the new interval; its count at start-up with these settings was not
/// measured).
fn garps_paced_by_the_new_settings(p: &Pair, m: &Mark, daemon: Daemon) -> String {
    let want = match daemon {
        Daemon::Keepalived => 2,
        Daemon::Rkeepalived => 3,
    };
    let times: Vec<SystemTime> = p
        .cap
        .garps()
        .iter()
        .filter(|g| g.time >= m.at && g.ip == p.lan.ip(100) && p.node_of_mac(g.mac) == "b")
        .map(|g| g.time)
        .collect();
    let gaps: Vec<f64> = times
        .windows(2)
        .map(|w| crate::support::ms_between(w[0], w[1]))
        .collect();
    if times.len() != want || gaps.iter().any(|g| !(250.0..=800.0).contains(g)) {
        format!(
            "{} GARPs from b for .100, {gaps:?} ms apart (expected {want}, 300 ms apart)\n",
            times.len()
        )
    } else {
        String::new()
    }
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn global_garp_settings_changed_on_backup() {
    check_row_on(
        "global_garp_settings_changed_on_backup",
        Row {
            scenario: "global garp settings changed on backup (vrrp_garp_master_repeat 3, \
                       vrrp_garp_interval 0.3) with its priority raised",
            a: File::pair(150),
            b: File::pair(100),
            steps: vec![step("b", |f| {
                f.global = "  vrrp_garp_master_repeat 3\n  vrrp_garp_interval 0.3\n".into();
                f.inst("VI_1").priority = 200;
            })],
            keepalived: (
                "b takes VI_1 over and announces .100 with the new interval: 2 GARPs 300 ms \
                 apart (one fewer than the new vrrp_garp_master_repeat)",
                handover(150, "a: VI_1 BACKUP 150", "b: VI_1 MASTER 200"),
            ),
            rkeepalived: (
                "b takes VI_1 over and announces .100 in 3 rounds 300 ms apart (the new \
                 vrrp_garp_master_repeat and vrrp_garp_interval, each logged as changed)",
                handover(150, "a: VI_1 BACKUP 150", "b: VI_1 MASTER 200"),
            ),
        },
        PAIR,
        Some(garps_paced_by_the_new_settings),
    );
}

/// Where `a`'s adverts went once both nodes had reloaded (from 2 s after the mark, the second
/// reload at +1.5 s): every one to the new group 224.0.0.19, for both daemons (measured for
/// keepalived 2.2.7, which takes its instances through FAULT at such a reload).
fn adverts_to_the_new_group(p: &Pair, m: &Mark, _daemon: Daemon) -> String {
    let since = m.at + std::time::Duration::from_secs(2);
    let dsts: std::collections::BTreeMap<String, usize> = p
        .cap
        .adverts()
        .iter()
        .filter(|a| a.time >= since && p.node_of_ip(a.src) == "a")
        .fold(Default::default(), |mut m, a| {
            *m.entry(format!("{:?}", a.dst)).or_default() += 1;
            m
        });
    let want = format!("{:?}", Some(std::net::IpAddr::from([224, 0, 0, 19])));
    if dsts.len() == 1 && dsts.get(&want).is_some_and(|n| *n >= 4) {
        String::new()
    } else {
        format!("a's adverts after both reloads went to {dsts:?} (expected {want} only)\n")
    }
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn multicast_group_changed_on_both() {
    let moved = |f: &mut File| f.global = "  vrrp_mcast_group4 224.0.0.19\n".into();
    check_row_on(
        "multicast_group_changed_on_both",
        Row {
            scenario: "vrrp_mcast_group4 changed to 224.0.0.19 on both (a, then b 1.5 s later)",
            a: File::pair(150),
            b: File::pair(100),
            steps: vec![step("a", moved), step("b", moved)],
            keepalived: (
                "every instance of the reloading node goes FAULT (priority 0, notify FAULT) \
                 and comes back: a's reload hands both VIPs to b, b's reload 1.5 s later \
                 hands them back after a's Master_Down_Interval; VI_2's adverts pause \
                 (measured: 1.9 s), GARPs from both nodes; then the adverts go to the new \
                 group",
                Expect {
                    a_states: None,
                    b_states: None,
                    no_gap: Some(false),
                    prio0: None,
                    garps: Some(vec![("a", 100), ("a", 110), ("b", 100), ("b", 110)]),
                    notify: Some(vec![
                        "a: VI_1 FAULT 150",
                        "a: VI_1 BACKUP 150",
                        "a: VI_2 FAULT 150",
                        "a: VI_2 BACKUP 150",
                        "a: VI_1 MASTER 150",
                        "a: VI_2 MASTER 150",
                        "b: VI_1 MASTER 100",
                        "b: VI_2 MASTER 100",
                        "b: VI_1 FAULT 100",
                        "b: VI_2 FAULT 100",
                        "b: VI_1 BACKUP 100",
                        "b: VI_2 BACKUP 100",
                    ]),
                    ..Expect::untouched(&[100, 110]).vi1_prio(150)
                },
            ),
            rkeepalived: (
                "same: each node's advert sockets join the new group and leave the old one \
                 (logged), the instances send to it; nothing moves",
                Expect::untouched(&[100, 110]).vi1_prio(150),
            ),
        },
        PAIR,
        Some(adverts_to_the_new_group),
    );
}

/// `vrrp_sync_group G` over `members`.
fn group(members: &[&str]) -> String {
    format!(
        "vrrp_sync_group G {{\n  group {{\n    {}\n  }}\n}}\n",
        members.join("\n    ")
    )
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn sync_group_member_added_on_master() {
    let grouped = |prio| {
        let mut f = File::pair(prio);
        f.top = group(&["VI_1"]);
        f
    };
    let joined = || Expect {
        a_states: Some(vec!["VI_3 BACKUP", "VI_3 MASTER"]),
        garps: Some(vec![("a", 120)]),
        notify: Some(vec!["a: VI_3 BACKUP 150", "a: VI_3 MASTER 150"]),
        ..Expect::untouched(&[100, 110, 120]).vi1_prio(150)
    };
    check_row(
        "sync_group_member_added_on_master",
        Row {
            scenario: "sync group membership changed: VI_3 added to the master's group G {VI_1}",
            a: grouped(150),
            b: grouped(100),
            steps: vec![step("a", |f| {
                f.insts.push(super::reload::vi3(150));
                f.top = group(&["VI_1", "VI_3"]);
            })],
            keepalived: (
                "the group re-forms: VI_1 drops to BACKUP with the new VI_3, then both become \
                 MASTER (notify for VI_1 too, GARPs for .100 again); b does not take VI_1 over \
                 (measured)",
                Expect {
                    a_states: Some(vec![
                        "VI_1 BACKUP",
                        "VI_3 BACKUP",
                        "VI_3 MASTER",
                        "VI_1 MASTER",
                    ]),
                    garps: Some(vec![("a", 100), ("a", 120)]),
                    notify: Some(vec![
                        "a: VI_1 BACKUP 150",
                        "a: VI_3 BACKUP 150",
                        "a: VI_3 MASTER 150",
                        "a: VI_1 MASTER 150",
                    ]),
                    ..Expect::untouched(&[100, 110, 120]).vi1_prio(150)
                },
            ),
            rkeepalived: (
                "VI_3 starts BACKUP; the group, formed again over VI_1 and VI_3, follows its \
                 MASTER member VI_1 and takes VI_3 to MASTER at once (logged: vrrp_sync_group G \
                 members changed); VI_1 untouched (no state change, GARP or notify: the \
                 issue's semantics for an unchanged instance)",
                joined(),
            ),
        },
    );
}

/// `static_ipaddress` by difference, rkeepalived only (keepalived 2.2.7 was not run on this
/// row): `a` starts with 198.51.100.7/32 and .8/32 on eth0 (inside the row's namespaces); the
/// reload replaces .7 by .9. Afterwards `a` holds .8 (untouched) and .9, not .7, and nothing
/// else moves (no state change, no gap, no GARP, no notify).
#[test]
#[ignore = "needs root and network namespaces (scripts/test-all runs it)"]
fn static_ipaddress_changed_on_master() {
    use std::fmt::Write as _;
    use std::net::{IpAddr, Ipv4Addr};
    if !super::unhappy::common::ready_rk("static_ipaddress_changed_on_master") {
        return;
    }
    let statics = |hosts: &[u8]| {
        let mut s = String::from("static_ipaddress {\n");
        for h in hosts {
            let _ = writeln!(s, "  198.51.100.{h}/32 dev eth0");
        }
        s + "}\n"
    };
    let mut a = File::pair(150);
    a.top = statics(&[7, 8]);
    let mut pair = Pair::start(Daemon::Rkeepalived, a, File::pair(100));
    let addr = |h: u8| IpAddr::V4(Ipv4Addr::new(198, 51, 100, h));
    let node = pair.lan.node("a");
    assert!(
        node.has_addr(addr(7)) && node.has_addr(addr(8)),
        "static addresses at start:\n{}",
        pair.logs()
    );
    let m = pair.mark();
    pair.reload("a", &|f| f.top = statics(&[8, 9]));
    std::thread::sleep(std::time::Duration::from_secs(3));
    let seen = pair.seen(&m);
    let mut bad = Expect::untouched(&[100, 110]).vi1_prio(150).check(&seen);
    let node = pair.lan.node("a");
    for (h, want) in [(7, false), (8, true), (9, true)] {
        if node.has_addr(addr(h)) != want {
            let _ = writeln!(bad, "198.51.100.{h} held: {}, expected {want}", !want);
        }
    }
    assert!(
        bad.is_empty(),
        "static_ipaddress changed:\n{bad}{}",
        pair.logs()
    );
}

/// The pair with a link `trk0` (a veth whose peer is `trk0p`), down, in each node's namespace: a `track_interface` that
/// is down from the start.
const DOWN_LINK: Shape = Shape {
    nodes: &["a", "b"],
    segments: &[],
    dummies: &["trk0"],
};

/// `track_interface { trk0 [weight W] }` inside VI_1.
fn track_trk0(weight: Option<i32>) -> String {
    let w = weight.map(|w| format!(" weight {w}")).unwrap_or_default();
    format!("  track_interface {{\n    trk0{w}\n  }}\n")
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn track_interface_added_down_on_master() {
    // What both daemons share: a leaves MASTER (VIP removed, notify FAULT), b takes over.
    let fault = |a_states, a_last, prio0| Expect {
        a_vips: Some(vec![110]),
        b_vips: Some(vec![100]),
        a_states: Some(a_states),
        b_states: Some(vec!["VI_1 MASTER"]),
        no_gap: Some(true),
        a_prio_vi1: Some(Some(a_last)),
        prio0: Some(prio0),
        garps: Some(vec![("b", 100)]),
        notify: Some(vec!["a: VI_1 FAULT 150", "b: VI_1 MASTER 100"]),
    };
    check_row_on(
        "track_interface_added_down_on_master",
        Row {
            scenario: "track_interface added on master for a link that is down (weight 0)",
            a: File::pair(150),
            b: File::pair(100),
            steps: vec![step("a", |f| f.inst("VI_1").extra = track_trk0(None))],
            keepalived: (
                "a goes FAULT at once (\"(VI_1): entering FAULT state (interface trk0 down)\", \
                 lower case, VIP removed, notify FAULT) without a priority-0 advert: b takes \
                 VI_1 over after its Master_Down_Interval (~3.6 s without a master)",
                fault(vec![], 150, vec![]),
            ),
            rkeepalived: (
                "a goes FAULT as on a tracker failure at run time (logged: \"(VI_1) Reload: \
                 track_interface trk0 added\"): VIP removed, notify FAULT, two priority-0 adverts, \
                 so b takes VI_1 over after Skew_Time instead of Master_Down_Interval",
                fault(vec!["VI_1 FAULT"], 0, vec![("a", 51), ("a", 51)]),
            ),
        },
        DOWN_LINK,
        None,
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn track_interface_weight_changed_on_master() {
    let tracked = |w| {
        let mut f = File::pair(150);
        f.inst("VI_1").extra = track_trk0(Some(w));
        f
    };
    check_row_on(
        "track_interface_weight_changed_on_master",
        Row {
            scenario: "track_interface weight changed on master (trk0 down, -10 -> -60)",
            a: tracked(-10),
            b: File::pair(100),
            steps: vec![step("a", |f| f.inst("VI_1").extra = track_trk0(Some(-60)))],
            keepalived: (
                "a's priority becomes 90 < 100: b takes VI_1 over",
                handover(90, "a: VI_1 BACKUP 90", "b: VI_1 MASTER 100"),
            ),
            rkeepalived: (
                "as keepalived",
                handover(90, "a: VI_1 BACKUP 90", "b: VI_1 MASTER 100"),
            ),
        },
        DOWN_LINK,
        None,
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn track_file_added_on_master() {
    let dir = tempfile::Builder::new()
        .prefix("rk-trackfile-")
        .tempdir()
        .unwrap();
    let path = dir.path().join("value");
    std::fs::write(&path, "3\n").unwrap();
    let block = format!(
        "track_file tf {{\n  file {}\n  weight 10\n}}\n",
        path.display()
    );
    check_row(
        "track_file_added_on_master",
        Row {
            scenario: "track_file added on master (value 3, weight 10)",
            a: File::pair(150),
            b: File::pair(100),
            steps: vec![step("a", move |f| {
                f.top = block.clone();
                f.inst("VI_1").extra = "  track_file {\n    tf\n  }\n".into();
            })],
            keepalived: (
                "a advertises 180 (150 + 3 x 10); nothing else",
                Expect::untouched(&[100, 110]).vi1_prio(180),
            ),
            rkeepalived: (
                "as keepalived",
                Expect::untouched(&[100, 110]).vi1_prio(180),
            ),
        },
    );
}

/// A process only this test runs: a symlink to sleep, named after the test's PID (its
/// `comm`), killed when dropped.
struct Sleeper {
    _dir: tempfile::TempDir,
    name: String,
    child: std::process::Child,
}

impl Sleeper {
    fn start(tag: &str) -> Sleeper {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("rk{tag}{}", std::process::id() % 100_000);
        let link = dir.path().join(&name);
        std::os::unix::fs::symlink("/bin/sleep", &link).unwrap();
        let child = std::process::Command::new(&link)
            .arg("1000")
            .spawn()
            .expect("start the tracked process");
        Sleeper {
            _dir: dir,
            name,
            child,
        }
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn track_process_quorum_changed_on_master() {
    let sleeper = Sleeper::start("tq");
    let block = |quorum: u32| {
        format!(
            "vrrp_track_process tp {{\n  process {}\n  quorum {quorum}\n  weight 10\n}}\n",
            sleeper.name
        )
    };
    let (one, two) = (block(1), block(2));
    let mut a = File::pair(150);
    a.top = one;
    a.inst("VI_1").extra = "  track_process {\n    tp\n  }\n".into();
    check_row(
        "track_process_quorum_changed_on_master",
        Row {
            scenario: "vrrp_track_process quorum changed on master (1 -> 2, one process, \
                       weight 10)",
            a,
            b: File::pair(100),
            steps: vec![step("a", move |f| f.top = two.clone())],
            keepalived: (
                "the quorum is lost: a advertises 150 instead of 160; nothing else",
                Expect::untouched(&[100, 110]).vi1_prio(150),
            ),
            rkeepalived: (
                "as keepalived",
                Expect::untouched(&[100, 110]).vi1_prio(150),
            ),
        },
    );
    drop(sleeper);
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn sync_group_track_interface_added_down_on_master() {
    let grouped = |prio, tracked: &str| {
        let mut f = File::pair(prio);
        f.top = group(&["VI_1"]).replace("}\n}\n", &format!("}}\n{tracked}}}\n"));
        f
    };
    let fault = |a_states, a_last, prio0| Expect {
        a_vips: Some(vec![110]),
        b_vips: Some(vec![100]),
        a_states: Some(a_states),
        b_states: Some(vec!["VI_1 MASTER"]),
        no_gap: Some(true),
        a_prio_vi1: Some(Some(a_last)),
        prio0: Some(prio0),
        garps: Some(vec![("b", 100)]),
        notify: Some(vec!["a: VI_1 FAULT 150", "b: VI_1 MASTER 100"]),
    };
    check_row_on(
        "sync_group_track_interface_added_down_on_master",
        Row {
            scenario: "sync group G {VI_1}: track_interface added to the master's group for a \
                       link that is down",
            a: grouped(150, ""),
            b: grouped(100, ""),
            steps: vec![step("a", move |f| {
                *f = grouped(150, &track_trk0(None));
            })],
            keepalived: (
                "as for an instance's track_interface: VI_1 goes FAULT (no Entering line, VIP \
                 removed, notify FAULT) without a priority-0 advert; b takes VI_1 over after \
                 its Master_Down_Interval",
                fault(vec![], 150, vec![]),
            ),
            rkeepalived: (
                "the member goes FAULT as on a tracker failure at run time, the group with it \
                 (logged: \"(VI_1) Reload: track_interface trk0 added\")",
                fault(vec!["VI_1 FAULT"], 0, vec![("a", 51), ("a", 51)]),
            ),
        },
        DOWN_LINK,
        None,
    );
}
