//! SIGHUP reload in a mixed pair (issue 13, "Tests"): keepalived 2.2.7 on one node,
//! rkeepalived on the other, one VRRP pair; each side reloaded with the same edits.
//!
//! The pair is `reload`'s: `a` (priority 150, becomes MASTER) and `b` (priority 100, BACKUP),
//! both `state BACKUP`, with VI_1 (VRID 51, VIP `.100`) and VI_2 (VRID 52, VIP `.110`, which
//! no edit touches). Four edits, in sequence on the same running pair, each written to the
//! master's file first and to the backup's [`APART`] later (an address list that differs for
//! a Master_Down_Interval makes any RFC 3768 backup take over, see
//! `reload::vip_added_on_master_only`):
//!
//! 1. priority change: VI_1 150 -> 140 on `a`, 100 -> 90 on `b`;
//! 2. VIP added: `.101` to VI_1;
//! 3. instance added: VI_3 (VRID 53, `.120`) at the node's priority;
//! 4. bad file: `advert_int nonsense` in VI_1 (keepalived applies the rest of the file,
//!    rkeepalived refuses it: the rest is unchanged, so both end the same).
//!
//! After each edit, [`SETTLE`] later (more than a Master_Down_Interval), the pair is
//! consistent: for every VRID exactly one holder, `a`, holding the VIPs of its file; `b`
//! holds nothing, sent no advert and logged no MASTER state; `a` advertised every VRID of its
//! file at its configured priority in the last second, VI_2 never paused beyond one
//! interval plus Skew_Time; no priority-0 advert; notify calls only for VI_3's start (`BACKUP` on both
//! nodes, then `MASTER` on `a`), so the backup never runs a promotion.

use super::reload::{File, Notify, vi3};
use super::unhappy::common::{ready_both, row};
use crate::support::{Capture, Daemon, Lan, Proc};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// Start-up to MASTER is 3-4 s for both daemons; the margin covers a loaded machine.
const TAKE: Duration = Duration::from_secs(15);
/// Between the master's and the backup's reload of the same edit.
const APART: Duration = Duration::from_millis(1500);
/// After the backup's reload, before the pair is checked: Master_Down_Interval (3 s +
/// Skew_Time) + margin, so that a backup that would take over has done so.
const SETTLE: Duration = Duration::from_secs(5);
/// Longest advert gap of the untouched VI_2: one interval (1 s) + Skew_Time + jitter.
const MAX_GAP_MS: f64 = 1400.0;
/// VRID of the untouched VI_2.
const UNTOUCHED: u8 = 52;

/// One node: its daemon, notify script and current file.
struct Side {
    daemon: Daemon,
    proc: Proc,
    notify: Notify,
    file: File,
}

impl Side {
    fn start(lan: &Lan, node: &str, daemon: Daemon, file: File) -> Side {
        let notify = Notify::new();
        let proc = lan
            .node(node)
            .spawn(daemon, &file.render(lan, &notify.script()));
        Side {
            daemon,
            proc,
            notify,
            file,
        }
    }

    /// Applies `edit` to the file, writes it beside the real one, renames it into place and
    /// sends SIGHUP.
    fn reload(&mut self, lan: &Lan, edit: fn(&mut File)) {
        edit(&mut self.file);
        let text = self.file.render(lan, &self.notify.script());
        let next = self.proc.dir().join("keepalived.conf.next");
        std::fs::write(&next, text).unwrap();
        std::fs::rename(&next, self.proc.dir().join("keepalived.conf")).unwrap();
        self.proc.signal(libc::SIGHUP);
    }
}

/// An edit kind: its name, the edit (applied to both files) and the notify calls it causes,
/// `(node, args)`.
type Step = (
    &'static str,
    fn(&mut File),
    &'static [(&'static str, &'static str)],
);

fn steps() -> Vec<Step> {
    vec![
        ("priority change", |f| f.inst("VI_1").priority -= 10, &[]),
        ("VIP added", |f| f.inst("VI_1").vips.push(101), &[]),
        (
            "instance added",
            |f| {
                let prio = f.inst("VI_2").priority;
                f.insts.push(vi3(prio));
            },
            &[
                ("a", "INSTANCE VI_3 BACKUP 150"),
                ("a", "INSTANCE VI_3 MASTER 150"),
                ("b", "INSTANCE VI_3 BACKUP 100"),
            ],
        ),
        (
            "bad file",
            |f| f.inst("VI_1").extra = "  advert_int nonsense\n".into(),
            &[],
        ),
    ]
}

/// The pair's failures since `since` (log and notify offsets `[a, b]`), one per line.
fn check(
    lan: &Lan,
    cap: &Capture,
    a: &Side,
    b: &Side,
    since: (SystemTime, [usize; 2], [usize; 2]),
    notify: &[(&str, &str)],
) -> String {
    let (at, [_, b_log], notes) = since;
    let mut bad = String::new();
    let holds = |node: &str| -> BTreeSet<u8> {
        [100, 101, 110, 120]
            .into_iter()
            .filter(|v| lan.node(node).has_addr(IpAddr::V4(lan.ip(*v))))
            .collect()
    };
    if holds("a") != a.file.vips() {
        let _ = writeln!(
            bad,
            "a holds {:?}, its file {:?}",
            holds("a"),
            a.file.vips()
        );
    }
    if !holds("b").is_empty() {
        let _ = writeln!(bad, "b holds {:?}", holds("b"));
    }
    let ads = cap.adverts();
    let (ip_a, ip_b) = (IpAddr::V4(lan.addr("a")), IpAddr::V4(lan.addr("b")));
    let from_b = ads.iter().filter(|d| d.time >= at && d.src == ip_b).count();
    if from_b != 0 {
        let _ = writeln!(bad, "b sent {from_b} adverts (a backup sends none)");
    }
    let prio0: Vec<u8> = ads
        .iter()
        .filter(|d| d.time >= at && d.priority == 0)
        .map(|d| d.vrid)
        .collect();
    if !prio0.is_empty() {
        let _ = writeln!(bad, "priority-0 adverts for VRIDs {prio0:?}");
    }
    let last_second = SystemTime::now() - Duration::from_millis(1200);
    for i in &a.file.insts {
        let seen: BTreeSet<u8> = ads
            .iter()
            .filter(|d| d.time >= last_second && d.src == ip_a && d.vrid == i.vrid)
            .map(|d| d.priority)
            .collect();
        if seen != BTreeSet::from([i.priority]) {
            let _ = writeln!(
                bad,
                "a's last adverts of VRID {} at priorities {seen:?}, its file {}",
                i.vrid, i.priority
            );
        }
    }
    let untouched: Vec<SystemTime> = ads
        .iter()
        .filter(|d| d.vrid == UNTOUCHED && d.time >= at - Duration::from_secs(1))
        .map(|d| d.time)
        .collect();
    let gap = untouched
        .windows(2)
        .map(|w| crate::support::ms_between(w[0], w[1]))
        .fold(0.0, f64::max);
    if gap > MAX_GAP_MS {
        let _ = writeln!(bad, "VI_2 adverts paused {gap:.0} ms");
    }
    let masters = b
        .proc
        .log()
        .get(b_log..)
        .unwrap_or("")
        .matches("Entering MASTER")
        .count();
    if masters != 0 {
        let _ = writeln!(bad, "b logged {masters} MASTER states");
    }
    let mut seen: Vec<String> = Vec::new();
    for (name, side, from) in [("a", a, notes[0]), ("b", b, notes[1])] {
        for l in side.notify.lines().into_iter().skip(from) {
            seen.push(format!("{name}: {l}"));
        }
    }
    seen.sort_unstable();
    let mut want: Vec<String> = notify.iter().map(|(n, l)| format!("{n}: {l}")).collect();
    want.sort_unstable();
    if seen != want {
        let _ = writeln!(bad, "notify {seen:?}, expected {want:?}");
    }
    if !a.proc.running() || !b.proc.running() {
        let _ = writeln!(bad, "a daemon died");
    }
    bad
}

/// Runs the four edits on a pair whose master runs `master` and whose backup runs the other
/// daemon; prints one `ROW` per edit and fails with every inconsistency.
fn mixed_pair(test: &str, master: Daemon) {
    if !ready_both(test) {
        return;
    }
    let backup = match master {
        Daemon::Keepalived => Daemon::Rkeepalived,
        Daemon::Rkeepalived => Daemon::Keepalived,
    };
    let lan = Lan::new(&["a", "b"]);
    let cap = lan.capture("b", "vrrp or arp");
    let mut a = Side::start(&lan, "a", master, File::pair(150));
    let mut b = Side::start(&lan, "b", backup, File::pair(100));
    for v in a.file.vips() {
        lan.expect_addr("a", IpAddr::V4(lan.ip(v)), TAKE, &a.proc);
    }
    std::thread::sleep(Duration::from_millis(2500));
    let mut failures = String::new();
    for (name, edit, notify) in steps() {
        let since = (
            SystemTime::now(),
            [a.proc.log().len(), b.proc.log().len()],
            [a.notify.lines().len(), b.notify.lines().len()],
        );
        a.reload(&lan, edit);
        std::thread::sleep(APART);
        b.reload(&lan, edit);
        std::thread::sleep(SETTLE);
        let bad = check(&lan, &cap, &a, &b, since, notify);
        let role = |d: Daemon| if d == master { "master" } else { "backup" };
        let verdict = if bad.is_empty() {
            "consistent"
        } else {
            bad.trim()
        };
        row(
            &format!("mixed pair: {name} on both"),
            role(Daemon::Keepalived),
            &format!("{}; the pair: {verdict}", role(Daemon::Rkeepalived)),
        );
        if !bad.is_empty() {
            let _ = write!(failures, "{name}:\n{bad}");
        }
    }
    assert!(
        failures.is_empty(),
        "{failures}--- a ({}):\n{}\n--- b ({}):\n{}",
        a.daemon.name(),
        a.proc.log_tail(40),
        b.daemon.name(),
        b.proc.log_tail(40)
    );
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn keepalived_master_rkeepalived_backup() {
    mixed_pair("keepalived_master_rkeepalived_backup", Daemon::Keepalived);
}

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn rkeepalived_master_keepalived_backup() {
    mixed_pair("rkeepalived_master_keepalived_backup", Daemon::Rkeepalived);
}
