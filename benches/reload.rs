//! SIGHUP reload time of rkeepalived and keepalived 2.2.7, measured the same way in the same
//! run (issue 13, "Benchmark").
//!
//! ```text
//! cargo bench --bench reload                          # 1, 50, 200 instances, 5 reloads per case
//! RELOAD_SIZES=200 RELOAD_RUNS=10 cargo bench --bench reload
//! ```
//!
//! For each daemon and each size N, one node `a` runs N VRRPv2 instances (VRID 1..N, priority
//! 150, advert_int 1 s, one `/32` VIP each) as master, alone on a LAN whose other node `b` only
//! captures the adverts. The daemon is started with `NOTIFY_SOCKET` set to a datagram socket
//! of the bench (sd_notify(3)); both daemons send `RELOADING=1` when a SIGHUP reload starts and
//! `READY=1` when it ends. Once every VIP is up, three phases of `RELOAD_RUNS` (5) steps
//! 1.5 s apart:
//!
//! * quiet: nothing is sent (the normal advert jitter);
//! * unchanged file: SIGHUP with the file as it is;
//! * 1-instance edit: VI_1's priority toggled 150 <-> 140 (the file written beside and renamed
//!   into place), then SIGHUP.
//!
//! Per reload: SIGHUP -> `READY=1` (ms), and SIGHUP -> the daemon's log line for the applied
//! edit, where it has one (rkeepalived: `(VI_1) Reload: priority changed`, which the VRRP engine
//! logs after `READY=1` was sent by the reload task; keepalived: its VRRP child's `Reload
//! complete` line, see [`KEEPALIVED_DONE`]; keepalived 2.2.7 sends no `READY=1` after a
//! reload here, measured), polled every millisecond. Per phase: the longest
//! gap between two adverts of one instance the phase does not edit (every instance but VI_1),
//! from 1 s before its first step to its end, against the quiet phase's, and how many gaps
//! exceeded one interval + Skew_Time + jitter (1.4 s).
//!
//! Runs natively in network namespaces (no IPVS: the host kernel has none; the 1000x10 virtual
//! server case needs the VM, not measured here). Needs root and tcpdump; a daemon whose binary
//! is missing is reported and skipped. Use a release build (`cargo bench` is one).

#[path = "../tests/support/mod.rs"]
mod support;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};
use support::reload::{KEEPALIVED_DONE, Outcome, Phase, RKEEPALIVED_EDIT, STEP, Timing};
use support::{Daemon, Lan, Proc};

/// Longest wait for `READY=1` or the log line after a SIGHUP.
const REPLY: Duration = Duration::from_secs(10);

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("ignoring {name}={v:?} (not a number)");
            default
        }),
        Err(_) => default,
    }
}

/// The file: `n` instances on eth0, VI_1 at priority `vi1`, the others at 150.
fn conf(n: usize, vi1: u8) -> String {
    String::from("global_defs {\n  router_id reload_bench\n}\n")
        + &support::reload::instances(n, vi1, "eth0")
}

/// The daemon under test: its process, notify socket, file and log offset.
struct Subject {
    daemon: Daemon,
    proc: Proc,
    sock: UnixDatagram,
    dir: tempfile::TempDir,
}

impl Subject {
    fn conf_path(&self) -> std::path::PathBuf {
        self.dir.path().join("keepalived.conf")
    }

    /// Sends SIGHUP and waits for `READY=1` and (if `marker`) the log line.
    fn reload(&self, marker: Option<&str>) -> Timing {
        support::reload::drain(&self.sock);
        let from = self.proc.log().len();
        let t0 = Instant::now();
        self.proc.signal(libc::SIGHUP);
        // keepalived 2.2.7 sends no `READY=1` after a reload (measured): not waited for.
        let ready_sent = self.daemon == Daemon::Rkeepalived;
        support::reload::await_reload(&self.sock, t0, REPLY, ready_sent, marker.is_some(), || {
            marker.is_some_and(|m| self.proc.log().get(from..).is_some_and(|l| l.contains(m)))
        })
    }
}

/// Starts `daemon` on `a` with `n` instances and waits until every VIP is up.
fn start(lan: &Lan, daemon: Daemon, bin: &Path, n: usize) -> Result<Subject, String> {
    let dir = tempfile::Builder::new()
        .prefix("rk-reload-bench-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let conf_path = dir.path().join("keepalived.conf");
    std::fs::write(&conf_path, conf(n, 150)).map_err(|e| e.to_string())?;
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_millis(1)))
        .map_err(|e| e.to_string())?;
    let mut argv: Vec<String> = vec![
        "env".into(),
        format!("NOTIFY_SOCKET={}", sock_path.display()),
        bin.display().to_string(),
    ];
    argv.extend(
        daemon
            .args(&conf_path, dir.path())
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned()),
    );
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let proc = lan.node("a").spawn_cmd(&argv);
    let a = lan.node("a");
    let deadline = Instant::now() + Duration::from_secs(20) + Duration::from_millis(50 * n as u64);
    loop {
        let out = a.exec(&["ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
        let up = String::from_utf8_lossy(&out.stdout)
            .matches("inet 192.168.")
            .count();
        if up >= n {
            break;
        }
        if Instant::now() > deadline || !proc.running() {
            return Err(format!("{up} of {n} VIPs up:\n{}", proc.log_tail(20)));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Subject {
        daemon,
        proc,
        sock,
        dir,
    })
}

fn measure(daemon: Daemon, bin: &Path, n: usize, runs: usize) -> Result<Outcome, String> {
    let lan = Lan::new(&["a", "b"]);
    let cap = lan.capture("b", "vrrp");
    let s = start(&lan, daemon, bin, n)?;
    std::thread::sleep(Duration::from_secs(3));
    let src = std::net::IpAddr::V4(lan.addr("a"));
    let phase = |edit: Option<bool>| -> Phase {
        let from = SystemTime::now() - Duration::from_secs(1);
        let mut p = Phase::default();
        for i in 0..runs {
            match edit {
                None => {}
                Some(false) => p.timings.push(s.reload(match daemon {
                    Daemon::Keepalived => Some(KEEPALIVED_DONE),
                    Daemon::Rkeepalived => None,
                })),
                Some(true) => {
                    let prio = if i % 2 == 0 { 140 } else { 150 };
                    let next = s.dir.path().join("keepalived.conf.next");
                    std::fs::write(&next, conf(n, prio)).expect("write the file");
                    std::fs::rename(&next, s.conf_path()).expect("rename the file");
                    p.timings.push(s.reload(Some(match daemon {
                        Daemon::Keepalived => KEEPALIVED_DONE,
                        Daemon::Rkeepalived => RKEEPALIVED_EDIT,
                    })));
                }
            }
            std::thread::sleep(STEP);
        }
        // Leave the capture a moment to write the last adverts.
        std::thread::sleep(Duration::from_millis(200));
        let skip = if edit == Some(true) { 1 } else { 0 };
        (p.gap_ms, p.late) =
            support::reload::max_gap(cap.adverts(), src, from, SystemTime::now(), skip);
        p
    };
    let quiet = phase(None);
    let unchanged = phase(Some(false));
    let edit = phase(Some(true));
    if std::env::var_os("RELOAD_PROBE").is_some() {
        println!("--- {} log tail:\n{}", s.daemon.name(), s.proc.log_tail(30));
    }
    if !s.proc.running() {
        return Err(format!("the daemon died:\n{}", s.proc.log_tail(20)));
    }
    Ok(Outcome {
        quiet,
        unchanged,
        edit,
    })
}

fn main() {
    let runs: usize = env_number("RELOAD_RUNS", 5);
    let sizes: Vec<usize> = std::env::var("RELOAD_SIZES")
        .unwrap_or_else(|_| "1,50,200".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|n| (1..=255).contains(n))
        .collect();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || support::find_program("tcpdump").is_none() {
        println!("reload bench skipped: needs root (network namespaces) and tcpdump");
        return;
    }
    support::install_interrupt_handler();
    println!(
        "reload bench: {sizes:?} instances, {runs} reloads per case {} s apart, \
         times median / max in ms",
        STEP.as_secs_f64()
    );
    let mut results: Vec<(usize, Daemon, Result<Outcome, String>)> = Vec::new();
    for &n in &sizes {
        for daemon in [Daemon::Keepalived, Daemon::Rkeepalived] {
            let r = match daemon.binary() {
                Ok(bin) => measure(daemon, &bin, n, runs),
                Err(why) => Err(why),
            };
            if let Err(why) = &r {
                println!("{} with {n} instances: {why}", daemon.name());
            }
            results.push((n, daemon, r));
            if support::interrupted() {
                return;
            }
        }
    }
    println!();
    support::reload::print_table(&sizes, &results);
}
