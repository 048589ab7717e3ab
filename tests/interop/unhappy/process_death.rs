//! A killed daemon must not leave its VIPs behind (issue 11): `kill -9` of each process of the
//! master's tree, and of the whole tree, for keepalived 2.2.7 and rkeepalived, measuring how
//! long two nodes hold the VIP at once and whether the dead node is left with it.
//!
//! Two nodes: `a` (priority 150) holds the VIP, `b` (priority 100) is backup; VRRPv2, 1 s
//! adverts (Skew_Time of `b` 0.61 s, Master_Down_Interval 3.61 s).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::common::{ready_both, row};
use crate::support::{Daemon, Lan, Proc, wait_until};

fn conf(lan: &Lan, priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority {priority}\n  advert_int 1\n  virtual_ipaddress {{\n    {}/24\n  }}\n}}\n",
        lan.ip(100)
    )
}

/// The children of `pid` (`/proc/PID/task/PID/children`).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn sigkill(pid: u32) {
    // SAFETY: kill has no memory preconditions; `pid` is a process this test started.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
}

/// What polling both nodes for `window` after a fault showed.
#[derive(Debug)]
struct Holders {
    /// Time both nodes held the VIP at once (summed over samples).
    both: Duration,
    /// Whether `a` still held the VIP at the end.
    a_at_end: bool,
    /// Whether `b` held it at the end.
    b_at_end: bool,
}

fn watch(lan: &Lan, vip: IpAddr, window: Duration) -> Holders {
    let start = Instant::now();
    let mut last = start;
    let mut both = Duration::ZERO;
    let (mut a, mut b) = (false, false);
    while start.elapsed() < window && !crate::support::interrupted() {
        a = lan.node("a").has_addr(vip);
        b = lan.node("b").has_addr(vip);
        let now = Instant::now();
        if a && b {
            both += now - last;
        }
        last = now;
        std::thread::sleep(Duration::from_millis(5));
    }
    Holders {
        both,
        a_at_end: a,
        b_at_end: b,
    }
}

/// Starts both nodes with `daemon` and waits until `a` holds the VIP and `b` is backup.
fn pair(lan: &Lan, daemon: Daemon) -> (Proc, Proc) {
    let vip = IpAddr::V4(lan.ip(100));
    let a = lan.node("a").spawn(daemon, &conf(lan, 150));
    let b = lan.node("b").spawn(daemon, &conf(lan, 100));
    lan.expect_addr("a", vip, Duration::from_secs(15), &a);
    b.expect_log("Entering BACKUP STATE", Duration::from_secs(10));
    // Steady adverts before the fault.
    std::thread::sleep(Duration::from_millis(1500));
    (a, b)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

/// `kill -9` of the parent (keepalived) or supervisor (rkeepalived) of the master: its VRRP
/// process stops gracefully (parent-death signal), sends priority 0 and removes the VIP; the
/// backup takes over after Skew_Time. Neither daemon leaves two holders.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn kill_9_of_the_masters_parent_releases_the_vip() {
    if !ready_both("kill_9_of_the_masters_parent") {
        return;
    }
    let mut seen = Vec::new();
    for daemon in Daemon::ALL {
        let lan = Lan::new(&["a", "b"]);
        let vip = IpAddr::V4(lan.ip(100));
        let (a, b) = pair(&lan, daemon);
        assert!(
            !children(a.pid).is_empty(),
            "{}: no child process",
            daemon.name()
        );
        sigkill(a.pid);
        let h = watch(&lan, vip, Duration::from_secs(4));
        assert!(
            !h.a_at_end,
            "{}: the dead master kept the VIP:\n{}",
            daemon.name(),
            a.log()
        );
        assert!(
            h.b_at_end,
            "{}: the backup did not take over:\n{}",
            daemon.name(),
            b.log()
        );
        assert!(
            h.both < Duration::from_millis(1500),
            "{}: two holders for {:?}",
            daemon.name(),
            h.both
        );
        seen.push(format!("two holders {}, dead node clean", ms(h.both)));
    }
    row(
        "kill -9 of the master's parent/supervisor",
        &seen[1],
        &seen[0],
    );
}

/// `kill -9` of the VRRP process itself (keepalived's VRRP child, rkeepalived's daemon under
/// its supervisor). rkeepalived's supervisor takes the VIP back at once from the daemon's
/// state record and restarts the daemon; keepalived's parent restarts its child, and the dead
/// child's VIP stays until then (measured, reported in the row).
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn kill_9_of_the_masters_vrrp_process_leaves_no_stale_vip() {
    if !ready_both("kill_9_of_the_masters_vrrp_process") {
        return;
    }
    let mut seen = Vec::new();
    for daemon in Daemon::ALL {
        let lan = Lan::new(&["a", "b"]);
        let vip = IpAddr::V4(lan.ip(100));
        let (a, b) = pair(&lan, daemon);
        let kids = children(a.pid);
        assert_eq!(kids.len(), 1, "{}: children {kids:?}", daemon.name());
        sigkill(kids[0]);
        // Up to the backup's Master_Down_Interval and a little more: the backup takes over.
        let h = watch(&lan, vip, Duration::from_secs(5));
        // The restarted daemon on `a` preempts again later: exactly one holder in the end.
        let back = wait_until(Duration::from_secs(15), Duration::from_millis(20), || {
            lan.node("a").has_addr(vip) && !lan.node("b").has_addr(vip)
        });
        let restarted = children(a.pid).first().is_some_and(|&c| c != kids[0]);
        if daemon == Daemon::Rkeepalived {
            a.expect_log(
                "Released what the daemon left applied",
                Duration::from_secs(2),
            );
            assert!(
                h.both < Duration::from_millis(1500),
                "two holders for {:?}:\n{}",
                h.both,
                a.log()
            );
            assert!(restarted, "the daemon was not restarted:\n{}", a.log());
            assert!(
                back.is_some(),
                "a did not take the VIP back:\n{}\n{}",
                a.log(),
                b.log()
            );
        }
        seen.push(format!(
            "two holders {}, child restarted: {restarted}, a master again: {}",
            ms(h.both),
            back.is_some()
        ));
    }
    row("kill -9 of the master's VRRP process", &seen[1], &seen[0]);
}

/// `kill -9` of the whole tree: nobody is left to release the VIP (both daemons leave it, and
/// the backup takes over after Master_Down_Interval: two holders). Starting the daemon again
/// on `a` must clean up: rkeepalived releases what the dead daemon recorded before anything
/// else.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn kill_9_of_the_whole_tree_is_cleaned_up_by_the_restart() {
    if !ready_both("kill_9_of_the_whole_tree") {
        return;
    }
    let mut seen = Vec::new();
    for daemon in Daemon::ALL {
        let lan = Lan::new(&["a", "b"]);
        let vip = IpAddr::V4(lan.ip(100));
        let (a, _b) = pair(&lan, daemon);
        let pidfile_dir = a.dir().to_owned();
        a.kill();
        let h = watch(&lan, vip, Duration::from_secs(5));
        assert!(
            h.a_at_end,
            "{}: expected the stale VIP on a dead tree",
            daemon.name()
        );
        // The restart, with the same pidfile (so the same state record for rkeepalived).
        let conf_path = pidfile_dir.join("keepalived.conf");
        let bin = daemon.binary().unwrap();
        let mut argv: Vec<String> = vec![bin.display().to_string()];
        argv.extend(
            daemon
                .args(&conf_path, &pidfile_dir)
                .into_iter()
                .map(|s| s.to_string_lossy().into_owned()),
        );
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let t0 = Instant::now();
        let again = lan.node("a").spawn_cmd(&argv);
        let cleaned = wait_until(Duration::from_secs(10), Duration::from_millis(5), || {
            !lan.node("a").has_addr(vip)
        })
        .map(|_| t0.elapsed());
        if daemon == Daemon::Rkeepalived {
            assert!(cleaned.is_some(), "stale VIP not removed:\n{}", again.log());
            again.expect_log(
                "Released what a previous rkeepalived left",
                Duration::from_secs(2),
            );
        }
        seen.push(format!(
            "stale VIP, two holders {}; restart removes it: {}",
            ms(h.both),
            cleaned.map_or("no".to_owned(), |d| format!("after {}", ms(d)))
        ));
        drop(again);
    }
    row(
        "kill -9 of the master's whole tree, then restart",
        &seen[1],
        &seen[0],
    );
}
