//! Script policy and missing scripts (issue 10 points 3 and 4), keepalived 2.2.7 and
//! rkeepalived side by side: who runs each script (scripts write `id -u` to a file), which
//! scripts are refused or disabled, the log lines, and what it does to the instance.
//!
//! Both daemons run on one LAN, keepalived on node `k` (VRID 51, VIP .100) and rkeepalived on
//! node `r` (VRID 52, VIP .101): different VRIDs, so they never elect each other.

use super::common::{ready_both, row};
use crate::support::{Daemon, Lan, Proc, wait_until};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Start-up to MASTER is 3-4 s for both daemons; the margin covers a loaded machine.
const TAKE: Duration = Duration::from_secs(15);
/// How long the scripts get to run (and the instance to stay put) after the VIP was taken.
const SETTLE: Duration = Duration::from_secs(3);
const NOBODY: u32 = 65534;

/// A directory of scripts the security check accepts (root-owned, 0755 up to `/tmp`, which
/// is sticky) and an output directory every user may write to.
struct Scripts {
    dir: tempfile::TempDir,
}

impl Scripts {
    fn new() -> Scripts {
        let dir = tempfile::Builder::new()
            .prefix("rk-unhappy-scripts-")
            .tempdir()
            .expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.path().join("bin");
        let out = dir.path().join("out");
        std::fs::create_dir(&bin).unwrap();
        std::fs::create_dir(&out).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let s = Scripts { dir };
        let uid = s.uid_script();
        std::fs::write(
            &uid,
            format!("#!/bin/sh\nid -u >> {}/uid.$1\nexit 0\n", out.display()),
        )
        .unwrap();
        std::fs::set_permissions(&uid, std::fs::Permissions::from_mode(0o755)).unwrap();
        s
    }

    /// `bin/uid.sh TAG`: appends the uid it runs as to `out/uid.TAG`, exits 0.
    fn uid_script(&self) -> PathBuf {
        self.dir.path().join("bin/uid.sh")
    }

    /// A script path in `bin` that does not exist.
    fn missing(&self) -> PathBuf {
        self.dir.path().join("bin/not-there.sh")
    }

    /// The uids the script ran as for `tag` (empty when it never ran).
    fn uids(&self, tag: &str) -> BTreeSet<u32> {
        let path = self.dir.path().join("out").join(format!("uid.{tag}"));
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

/// `global_defs` with `global`, `vrrp_script chk` running `script` with `chk_extra`, and
/// VI_1 (VRID `vrid`, VIP `.vip`) tracking it with the notify lines `notify`.
fn conf(
    lan: &Lan,
    vrid: u8,
    vip: u8,
    global: &str,
    script: &Path,
    chk_extra: &str,
    notify: &str,
) -> String {
    format!(
        "global_defs {{\n{global}\n}}\n\
         vrrp_script chk {{\n  script \"{} chk\"\n  interval 1\n{chk_extra}\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  priority 100\n  advert_int 1\n\
           virtual_ipaddress {{\n    {}/24 dev eth0\n  }}\n  track_script {{\n    chk\n  }}\n{notify}\n}}\n",
        script.display(),
        lan.ip(vip)
    )
}

/// One daemon of a row: its process and its scripts.
struct Side {
    proc: Proc,
    scripts: Scripts,
    vip: IpAddr,
    node: &'static str,
}

/// Starts keepalived on `k` and rkeepalived on `r`, each with its own scripts, on the config
/// `make(lan, vrid, vip, scripts)`.
fn start_both(lan: &Lan, make: impl Fn(&Lan, u8, u8, &Scripts) -> String) -> (Side, Side) {
    let ks = Scripts::new();
    let rs = Scripts::new();
    let kc = make(lan, 51, 100, &ks);
    let rc = make(lan, 52, 101, &rs);
    let k = lan.node("k").spawn(Daemon::Keepalived, &kc);
    let r = lan.node("r").spawn(Daemon::Rkeepalived, &rc);
    (
        Side {
            proc: k,
            scripts: ks,
            vip: IpAddr::V4(lan.ip(100)),
            node: "k",
        },
        Side {
            proc: r,
            scripts: rs,
            vip: IpAddr::V4(lan.ip(101)),
            node: "r",
        },
    )
}

/// Waits until the side holds its VIP (the instance runs and became MASTER), then lets the
/// scripts run for [`SETTLE`]; fails with the log otherwise.
fn expect_master(lan: &Lan, s: &Side) {
    lan.expect_addr(s.node, s.vip, TAKE, &s.proc);
    std::thread::sleep(SETTLE);
    assert!(s.proc.running(), "daemon exited:\n{}", s.proc.log());
}

fn no_keepalived_script_user() -> bool {
    nix::unistd::User::from_name("keepalived_script")
        .ok()
        .flatten()
        .is_none()
}

/// enable_script_security, no `script_user`, no `keepalived_script` user: keepalived removes
/// the vrrp_script and drops the notify commands; nothing runs (as root or at all).
/// keepalived 2.2.7: `Unable to set default user keepalived_script for script`, `Unable to set
/// default user for vrrp script chk - removing`, `(VI_1) track script chk not found,
/// ignoring...`, `Failed to set default user for notify script PATH - ignoring`; the instance
/// runs untracked and becomes MASTER.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn script_security_without_a_user_refuses_every_script() {
    if !ready_both("script_security_without_a_user_refuses_every_script") {
        return;
    }
    if !no_keepalived_script_user() {
        eprintln!("skip: a keepalived_script user exists on this host");
        return;
    }
    let lan = Lan::new(&["k", "r"]);
    let (k, r) = start_both(&lan, |lan, vrid, vip, s| {
        let u = s.uid_script();
        let notify = format!(
            "  notify_master \"{} master\"\n  notify_backup \"{} backup\"",
            u.display(),
            u.display()
        );
        conf(
            lan,
            vrid,
            vip,
            "  enable_script_security",
            &u,
            "  weight -20",
            &notify,
        )
    });
    for s in [&k, &r] {
        expect_master(&lan, s);
        for line in [
            "Unable to set default user keepalived_script for script",
            "Unable to set default user for vrrp script chk - removing",
            "(VI_1) track script chk not found, ignoring...",
            &format!(
                "Failed to set default user for notify script {} - ignoring",
                s.scripts.uid_script().display()
            ),
        ] {
            assert!(
                s.proc.log().contains(line),
                "no {line:?}:\n{}",
                s.proc.log()
            );
        }
        for tag in ["chk", "master", "backup"] {
            assert!(
                s.scripts.uids(tag).is_empty(),
                "{} ran script {tag}:\n{}",
                s.node,
                s.proc.log()
            );
        }
    }
    row(
        "enable_script_security, no script_user, no keepalived_script user",
        "vrrp_script removed, notifies ignored, nothing runs; instance MASTER",
        "same lines, nothing runs; instance MASTER",
    );
}

/// `script_user nobody` with enable_script_security: every script runs as nobody.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn script_user_nobody_runs_every_script_as_nobody() {
    if !ready_both("script_user_nobody_runs_every_script_as_nobody") {
        return;
    }
    let lan = Lan::new(&["k", "r"]);
    let (k, r) = start_both(&lan, |lan, vrid, vip, s| {
        let u = s.uid_script();
        let notify = format!("  notify_master \"{} master\"", u.display());
        let global = "  enable_script_security\n  script_user nobody";
        conf(lan, vrid, vip, global, &u, "  weight -20", &notify)
    });
    for s in [&k, &r] {
        expect_master(&lan, s);
        let ok = wait_until(TAKE, Duration::from_millis(50), || {
            !s.scripts.uids("master").is_empty()
        });
        assert!(ok.is_some(), "notify_master never ran:\n{}", s.proc.log());
        for tag in ["chk", "master"] {
            assert_eq!(
                s.scripts.uids(tag),
                BTreeSet::from([NOBODY]),
                "{} {tag}:\n{}",
                s.node,
                s.proc.log()
            );
        }
    }
    row(
        "enable_script_security + script_user nobody",
        "vrrp_script and notify_master run as uid 65534",
        "same",
    );
}

/// enable_script_security without a default user, scripts with their own `user nobody`: those
/// run as nobody, the notify without a user is dropped.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn per_script_user_runs_and_scripts_without_one_are_refused() {
    if !ready_both("per_script_user_runs_and_scripts_without_one_are_refused") {
        return;
    }
    if !no_keepalived_script_user() {
        eprintln!("skip: a keepalived_script user exists on this host");
        return;
    }
    let lan = Lan::new(&["k", "r"]);
    let (k, r) = start_both(&lan, |lan, vrid, vip, s| {
        let u = s.uid_script();
        let notify = format!(
            "  notify_master \"{} master\" nobody\n  notify_backup \"{} backup\"",
            u.display(),
            u.display()
        );
        let chk = "  weight -20\n  user nobody";
        conf(lan, vrid, vip, "  enable_script_security", &u, chk, &notify)
    });
    for s in [&k, &r] {
        expect_master(&lan, s);
        let ok = wait_until(TAKE, Duration::from_millis(50), || {
            !s.scripts.uids("master").is_empty()
        });
        assert!(ok.is_some(), "notify_master never ran:\n{}", s.proc.log());
        assert_eq!(
            s.scripts.uids("chk"),
            BTreeSet::from([NOBODY]),
            "{}",
            s.node
        );
        assert_eq!(
            s.scripts.uids("master"),
            BTreeSet::from([NOBODY]),
            "{}",
            s.node
        );
        assert!(s.scripts.uids("backup").is_empty(), "{}", s.node);
        let line = format!(
            "Failed to set default user for notify script {} - ignoring",
            s.scripts.uid_script().display()
        );
        assert!(
            s.proc.log().contains(&line),
            "no {line:?}:\n{}",
            s.proc.log()
        );
    }
    row(
        "enable_script_security, `user nobody` on vrrp_script and notify_master only",
        "those run as 65534; notify_backup without user ignored",
        "same",
    );
}

/// Without enable_script_security and without a `keepalived_script` user, scripts run as
/// root, with keepalived's two warnings.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn without_script_security_scripts_run_as_root_with_warnings() {
    if !ready_both("without_script_security_scripts_run_as_root_with_warnings") {
        return;
    }
    if !no_keepalived_script_user() {
        eprintln!("skip: a keepalived_script user exists on this host");
        return;
    }
    let lan = Lan::new(&["k", "r"]);
    let (k, r) = start_both(&lan, |lan, vrid, vip, s| {
        let u = s.uid_script();
        let notify = format!("  notify_master \"{} master\"", u.display());
        conf(lan, vrid, vip, "", &u, "  weight -20", &notify)
    });
    for s in [&k, &r] {
        expect_master(&lan, s);
        let ok = wait_until(TAKE, Duration::from_millis(50), || {
            !s.scripts.uids("master").is_empty()
        });
        assert!(ok.is_some(), "notify_master never ran:\n{}", s.proc.log());
        assert_eq!(s.scripts.uids("chk"), BTreeSet::from([0]), "{}", s.node);
        assert_eq!(s.scripts.uids("master"), BTreeSet::from([0]), "{}", s.node);
        for line in [
            "Script user 'keepalived_script' does not exist",
            "SECURITY VIOLATION - scripts are being executed but script_security not enabled.",
        ] {
            assert!(
                s.proc.log().contains(line),
                "no {line:?}:\n{}",
                s.proc.log()
            );
        }
    }
    row(
        "no enable_script_security, no keepalived_script user",
        "scripts run as uid 0; `Script user 'keepalived_script' does not exist` + SECURITY VIOLATION",
        "same",
    );
}

/// A `vrrp_script` whose file does not exist is disabled, with or without weight: the
/// priority stays 100 in the adverts and the instance never goes FAULT.
/// keepalived 2.2.7: `Script PATH cannot be accessed - No such file or directory`, `Disabling
/// track script chk since not found/accessible`.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn missing_vrrp_script_is_disabled_not_failed() {
    if !ready_both("missing_vrrp_script_is_disabled_not_failed") {
        return;
    }
    for weight in ["  weight -20", ""] {
        let lan = Lan::new(&["k", "r"]);
        let cap = lan.capture("k", "ip proto 112");
        let (k, r) = start_both(&lan, |lan, vrid, vip, s| {
            let global = "  enable_script_security\n  script_user nobody";
            conf(lan, vrid, vip, global, &s.missing(), weight, "")
        });
        for s in [&k, &r] {
            expect_master(&lan, s);
            let missing = s.scripts.missing();
            for line in [
                format!(
                    "Script {} cannot be accessed - No such file or directory",
                    missing.display()
                ),
                "Disabling track script chk since not found/accessible".to_string(),
            ] {
                assert!(
                    s.proc.log().contains(&line),
                    "no {line:?}:\n{}",
                    s.proc.log()
                );
            }
            assert!(
                !s.proc.log().contains("Entering FAULT STATE"),
                "{} went FAULT ({weight:?}):\n{}",
                s.node,
                s.proc.log()
            );
        }
        let adverts = cap.adverts();
        for (vrid, s) in [(51u8, &k), (52u8, &r)] {
            let prios: BTreeSet<u8> = adverts
                .iter()
                .filter(|a| a.vrid == vrid)
                .map(|a| a.priority)
                .collect();
            assert_eq!(
                prios,
                BTreeSet::from([100]),
                "{} advert priorities ({weight:?}):\n{}",
                s.node,
                s.proc.log()
            );
        }
    }
    row(
        "vrrp_script file missing (weight -20, and no weight)",
        "`Disabling track script chk since not found/accessible`; priority 100, MASTER, no FAULT",
        "same",
    );
}

/// A notify script whose file does not exist at load is never run, not even after the file
/// appears (here 1 s after the start, before MASTER): keepalived 2.2.7 logs `Script PATH
/// cannot be accessed - No such file or directory` and drops it; rkeepalived too, and says so
/// (`Disabling notify script PATH since not found/accessible ...`). Running it later would
/// skip the permission check `enable_script_security` makes at load.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn missing_notify_script_is_never_run_even_once_it_exists() {
    if !ready_both("missing_notify_script_is_never_run_even_once_it_exists") {
        return;
    }
    let lan = Lan::new(&["k", "r"]);
    let (k, r) = start_both(&lan, |lan, vrid, vip, s| {
        let global = "  enable_script_security\n  script_user nobody";
        let notify = format!(
            "  notify_master \"{} late\"\n  notify_backup \"{} backup\"\n",
            s.missing().display(),
            s.uid_script().display()
        );
        conf(lan, vrid, vip, global, &s.uid_script(), "", &notify)
    });
    std::thread::sleep(Duration::from_secs(1));
    for s in [&k, &r] {
        // The instances are still BACKUP (MASTER comes 3-4 s after the start).
        assert!(!lan.node(s.node).has_addr(s.vip), "{}", s.proc.log());
        std::fs::copy(s.scripts.uid_script(), s.scripts.missing()).unwrap();
    }
    for s in [&k, &r] {
        expect_master(&lan, s);
        let missing = s.scripts.missing();
        let line = format!(
            "Script {} cannot be accessed - No such file or directory",
            missing.display()
        );
        assert!(
            s.proc.log().contains(&line),
            "no {line:?}:\n{}",
            s.proc.log()
        );
        assert_eq!(
            s.scripts.uids("late"),
            BTreeSet::new(),
            "{} ran the script that was missing at load:\n{}",
            s.node,
            s.proc.log()
        );
        // Not a daemon that runs no notify at all: the other one ran, as nobody.
        assert_eq!(
            s.scripts.uids("backup"),
            BTreeSet::from([NOBODY]),
            "{}:\n{}",
            s.node,
            s.proc.log()
        );
    }
    assert!(
        r.proc.log().contains(&format!(
            "Disabling notify script {} since not found/accessible",
            r.scripts.missing().display()
        )),
        "{}",
        r.proc.log()
    );
    row(
        "notify_master file missing at load, created before MASTER",
        "`Script PATH cannot be accessed`; never run",
        "same, and `Disabling notify script PATH since not found/accessible`",
    );
}

/// Scripts whose file cannot run: a `vrrp_script` (weight -30) and a `notify_master` on a
/// file without an execute bit for `nobody`, and a `vrrp_script` (weight -20) naming a
/// directory. keepalived 2.2.7 disables the first two (`WARNING - script 'PATH' is not
/// executable for uid:gid 65534:65534 - disabling.`) and runs the directory, which counts as
/// succeeded; rkeepalived disables all three. The adverts keep priority 100 on both.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn scripts_that_cannot_run_are_disabled_like_keepalived() {
    if !ready_both("scripts_that_cannot_run_are_disabled_like_keepalived") {
        return;
    }
    let lan = Lan::new(&["k", "r"]);
    let cap = lan.capture("k", "ip proto 112");
    let noexec = |s: &Scripts| s.dir.path().join("bin/noexec.sh");
    let (k, r) = start_both(&lan, |lan, vrid, vip, s| {
        std::fs::copy(s.uid_script(), noexec(s)).unwrap();
        std::fs::set_permissions(noexec(s), std::fs::Permissions::from_mode(0o644)).unwrap();
        format!(
            "global_defs {{\n  enable_script_security\n  script_user nobody\n}}\n\
             vrrp_script chk {{\n  script \"{noexec} chk\"\n  interval 1\n  weight -30\n}}\n\
             vrrp_script dirchk {{\n  script {bin}\n  interval 1\n  weight -20\n}}\n\
             vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  priority 100\n  advert_int 1\n\
               virtual_ipaddress {{\n    {vip}/24 dev eth0\n  }}\n  track_script {{\n    chk\n    dirchk\n  }}\n\
               notify_master \"{noexec} master\"\n}}\n",
            noexec = noexec(s).display(),
            bin = s.dir.path().join("bin").display(),
            vip = lan.ip(vip),
        )
    });
    for s in [&k, &r] {
        expect_master(&lan, s);
        assert_eq!(s.scripts.uids("chk"), BTreeSet::new(), "{}", s.proc.log());
        assert_eq!(
            s.scripts.uids("master"),
            BTreeSet::new(),
            "{}",
            s.proc.log()
        );
    }
    let line = |s: &Side| {
        format!(
            "script '{}' is not executable for uid:gid 65534:65534 - disabling.",
            noexec(&s.scripts).display()
        )
    };
    assert!(
        k.proc.log().contains(&format!("WARNING - {}", line(&k))),
        "{}",
        k.proc.log()
    );
    assert!(
        k.proc.log().contains("VRRP_Script(dirchk) succeeded"),
        "{}",
        k.proc.log()
    );
    assert!(r.proc.log().contains(&line(&r)), "{}", r.proc.log());
    let dir_line = format!(
        "script '{}' is a directory - disabling.",
        r.scripts.dir.path().join("bin").display()
    );
    assert!(r.proc.log().contains(&dir_line), "{}", r.proc.log());
    let adverts = cap.adverts();
    for (vrid, s) in [(51u8, &k), (52u8, &r)] {
        let prios: BTreeSet<u8> = adverts
            .iter()
            .filter(|a| a.vrid == vrid)
            .map(|a| a.priority)
            .collect();
        assert_eq!(
            prios,
            BTreeSet::from([100]),
            "{}:\n{}",
            s.node,
            s.proc.log()
        );
    }
    row(
        "vrrp_script and notify_master not executable for nobody; vrrp_script on a directory",
        "`WARNING - script 'PATH' is not executable for uid:gid 65534:65534 - disabling.`; the \
         directory runs and `succeeded`; priority 100",
        "the same line without `WARNING - `; the directory is disabled (`is a directory`); \
         priority 100",
    );
}

/// A notify script missing at load is taken by the next reload once its file exists: here
/// `notify_stop`, created after the start, runs at SIGTERM after a SIGHUP, in both daemons.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn a_reload_takes_a_notify_script_that_was_missing() {
    if !ready_both("a_reload_takes_a_notify_script_that_was_missing") {
        return;
    }
    let lan = Lan::new(&["k", "r"]);
    let (mut k, mut r) = start_both(&lan, |lan, vrid, vip, s| {
        let global = "  enable_script_security\n  script_user nobody";
        let notify = format!("  notify_stop \"{} stop\"\n", s.missing().display());
        conf(lan, vrid, vip, global, &s.uid_script(), "", &notify)
    });
    for s in [&k, &r] {
        expect_master(&lan, s);
        std::fs::copy(s.scripts.uid_script(), s.scripts.missing()).unwrap();
        s.proc.signal(libc::SIGHUP);
    }
    // Both reload in well under a second; the VIP stays where it is meanwhile.
    std::thread::sleep(SETTLE);
    for s in [&mut k, &mut r] {
        assert!(lan.node(s.node).has_addr(s.vip), "{}", s.proc.log());
        s.proc.term();
        assert!(
            s.proc.wait_exit(Duration::from_secs(10)).is_some(),
            "{}",
            s.proc.log()
        );
    }
    for s in [&k, &r] {
        assert!(
            wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
                s.scripts.uids("stop") == BTreeSet::from([NOBODY])
            })
            .is_some(),
            "{}: notify_stop did not run after the reload: {:?}\n{}",
            s.node,
            s.scripts.uids("stop"),
            s.proc.log()
        );
    }
    row(
        "notify_stop missing at load, created, then SIGHUP and SIGTERM",
        "runs at the stop",
        "same",
    );
}

/// The log lines of `vrrp_script` results, per script, against keepalived 2.2.7 in the same
/// run: a script whose exit status goes 3, 0, 5, 2, 0, 1 (``Script `st` now returning N`` at
/// each change, `failed (exited with status N)` / `succeeded` at each state change), one
/// that kills itself (`failed (due to signal 9)`) and one that outlives its timeout and
/// ignores SIGTERM (`timed_out`). The priorities follow the same way on both.
#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn vrrp_script_result_lines_match_keepalived() {
    if !ready_both("vrrp_script_result_lines_match_keepalived") {
        return;
    }
    let lan = Lan::new(&["k", "r"]);
    let state = |s: &Scripts| s.dir.path().join("out/state");
    let (k, r) = start_both(&lan, |lan, vrid, vip, s| {
        std::fs::write(state(s), "0").unwrap();
        let w = |name: &str, body: &str| {
            let p = s.dir.path().join(format!("bin/{name}.sh"));
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            p.display().to_string()
        };
        let st = w("st", &format!("exit $(cat {})", state(s).display()));
        let hang = w("hang", "trap '' TERM\nsleep 30");
        let sig = w("sig", "kill -KILL $$");
        format!(
            "global_defs {{\n  enable_script_security\n  script_user nobody\n}}\n\
             vrrp_script st {{\n  script {st}\n  interval 1\n  weight -4\n}}\n\
             vrrp_script hang {{\n  script {hang}\n  interval 1\n  timeout 1\n  weight -1\n}}\n\
             vrrp_script sig {{\n  script {sig}\n  interval 1\n  weight -2\n}}\n\
             vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  priority 100\n  advert_int 1\n\
               virtual_ipaddress {{\n    {vip}/24 dev eth0\n  }}\n  track_script {{\n    st\n    hang\n    sig\n  }}\n}}\n",
            vip = lan.ip(vip),
        )
    });
    // Each status holds for 3 runs (interval 1 s).
    for v in ["3", "0", "5", "2", "0", "1"] {
        std::thread::sleep(Duration::from_secs(3));
        for s in [&k, &r] {
            std::fs::write(state(&s.scripts), v).unwrap();
        }
    }
    std::thread::sleep(Duration::from_secs(3));
    // The log's lines about one script, without the time stamp.
    let lines = |s: &Side, name: &str| -> Vec<String> {
        s.proc
            .log()
            .lines()
            .filter_map(|l| l.split_once(": ").map(|(_, m)| m.to_string()))
            .filter(|m| {
                m.starts_with(&format!("VRRP_Script({name})"))
                    || m.starts_with(&format!("Script `{name}`"))
            })
            .collect()
    };
    for name in ["st", "hang", "sig"] {
        assert_eq!(
            lines(&r, name),
            lines(&k, name),
            "{name}: rkeepalived (left) and keepalived (right)\n{}\n----\n{}",
            r.proc.log(),
            k.proc.log()
        );
    }
    let st = lines(&r, "st");
    assert!(
        st.contains(&"Script `st` now returning 2".to_string()),
        "{st:?}"
    );
    assert_eq!(lines(&r, "hang"), ["VRRP_Script(hang) timed_out"]);
    assert_eq!(
        lines(&r, "sig"),
        ["VRRP_Script(sig) failed (due to signal 9)"]
    );
    // Both end at 100 - 4 - 1 - 2.
    for s in [&k, &r] {
        let last = s
            .proc
            .log()
            .lines()
            .rfind(|l| l.contains("Changing effective priority"))
            .map(str::to_owned);
        assert!(
            last.as_deref().is_some_and(|l| l.ends_with("to 93")),
            "{}: {last:?}",
            s.node
        );
    }
    row(
        "vrrp_script exit statuses 3,0,5,2,0,1; killed by a signal; timed out",
        "``Script `st` now returning N`` at each change; `failed (due to signal 9)`; `timed_out`",
        "same lines, same order",
    );
}
