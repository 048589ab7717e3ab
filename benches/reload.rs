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

use std::io::ErrorKind;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};
use support::{Capture, Daemon, Lan, Proc};

/// The line keepalived 2.2.7's VRRP child logs when it has applied a reload (measured).
const KEEPALIVED_DONE: &str = "Reload complete";
/// The line rkeepalived's VRRP engine logs when it has applied the edit of the last phase.
const RKEEPALIVED_EDIT: &str = "(VI_1) Reload: priority changed";
/// Between two steps of a phase.
const STEP: Duration = Duration::from_millis(1500);
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

/// The VIP of instance `i` (1-based): `192.168.0.1`, ..., one `/32` each.
fn vip(i: usize) -> String {
    format!("192.168.{}.{}", i / 250, i % 250 + 1)
}

/// The file: `n` instances, VI_1 at priority `vi1`, the others at 150.
fn conf(n: usize, vi1: u8) -> String {
    let mut s = String::from("global_defs {\n  router_id reload_bench\n}\n");
    for i in 1..=n {
        let prio = if i == 1 { vi1 } else { 150 };
        s.push_str(&format!(
            "vrrp_instance VI_{i} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {i}\n  \
             priority {prio}\n  advert_int 1\n  virtual_ipaddress {{\n    {}/32 dev eth0\n  }}\n}}\n",
            vip(i)
        ));
    }
    s
}

/// One reload: SIGHUP -> `READY=1`, SIGHUP -> the log line (ms), each if seen within
/// [`REPLY`].
#[derive(Default)]
struct Timing {
    ready: Option<f64>,
    /// `None` when no line was looked for.
    logged: Option<Option<f64>>,
}

/// What one phase measured.
#[derive(Default)]
struct Phase {
    timings: Vec<Timing>,
    /// Longest advert gap (ms) of an instance the phase does not edit (`None`: no such
    /// instance, or no two adverts of one).
    gap_ms: Option<f64>,
    /// How many of those gaps exceeded one interval + Skew_Time + jitter ([`LATE_MS`]).
    late: usize,
}

/// One daemon at one size.
struct Outcome {
    quiet: Phase,
    unchanged: Phase,
    edit: Phase,
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

    /// Every datagram received so far, dropped.
    fn drain(&self) {
        let mut buf = [0u8; 4096];
        while self.sock.recv(&mut buf).is_ok() {}
    }

    /// Sends SIGHUP and waits for `READY=1` and (if `marker`) the log line.
    fn reload(&self, marker: Option<&str>) -> Timing {
        self.drain();
        let from = self.proc.log().len();
        let t0 = Instant::now();
        self.proc.signal(libc::SIGHUP);
        let mut t = Timing {
            ready: None,
            logged: marker.map(|_| None),
        };
        let mut buf = [0u8; 4096];
        // keepalived 2.2.7 sends no `READY=1` after a reload (measured): not waited for.
        let ready_sent = self.daemon == Daemon::Rkeepalived;
        while t0.elapsed() < REPLY && (t.logged == Some(None) || (ready_sent && t.ready.is_none()))
        {
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    let msg = String::from_utf8_lossy(&buf[..n]);
                    if t.ready.is_none() && msg.lines().any(|l| l == "READY=1") {
                        t.ready = Some(t0.elapsed().as_secs_f64() * 1e3);
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("notify socket: {e}"),
            }
            if let Some(m) = marker
                && t.logged == Some(None)
                && self.proc.log().get(from..).is_some_and(|l| l.contains(m))
            {
                t.logged = Some(Some(t0.elapsed().as_secs_f64() * 1e3));
            }
        }
        t
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

/// A gap between two adverts of one instance longer than one interval (1 s) + Skew_Time
/// (0.41 s at priority 150) + jitter: an advert missed or late.
const LATE_MS: f64 = 1400.0;

/// Longest gap (ms) between two adverts of one instance but VRID `skip`, within `from..to`
/// (`None`: no two adverts of one such instance), and how many gaps exceeded [`LATE_MS`].
fn max_gap(
    cap: &Capture,
    src: std::net::IpAddr,
    from: SystemTime,
    to: SystemTime,
    skip: u8,
) -> (Option<f64>, usize) {
    let mut late = 0;
    let mut last: std::collections::HashMap<u8, SystemTime> = Default::default();
    let mut gap: Option<f64> = None;
    for ad in cap.adverts() {
        if ad.src != src || ad.vrid == skip || ad.time < from || ad.time > to {
            continue;
        }
        if let Some(prev) = last.insert(ad.vrid, ad.time) {
            let g = support::ms_between(prev, ad.time);
            late += usize::from(g > LATE_MS);
            gap = Some(gap.map_or(g, |m: f64| m.max(g)));
        }
    }
    (gap, late)
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
        (p.gap_ms, p.late) = max_gap(&cap, src, from, SystemTime::now(), skip);
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

/// `median / max` of what was seen, `-` if nothing, with the misses counted.
/// The phase called `case` of `o`.
fn phase_of<'a>(o: &'a Outcome, case: &str) -> &'a Phase {
    match case {
        "quiet" => &o.quiet,
        "unchanged" => &o.unchanged,
        _ => &o.edit,
    }
}

fn cell(v: impl Iterator<Item = Option<f64>>) -> String {
    let all: Vec<Option<f64>> = v.collect();
    let mut seen: Vec<f64> = all.iter().flatten().copied().collect();
    let missed = all.len() - seen.len();
    if seen.is_empty() {
        return if missed > 0 {
            format!("none of {missed}")
        } else {
            "-".into()
        };
    }
    seen.sort_by(f64::total_cmp);
    let median = seen[seen.len() / 2];
    let max = seen[seen.len() - 1];
    let miss = if missed > 0 {
        format!(" ({missed} missed)")
    } else {
        String::new()
    };
    format!("{median:.1} / {max:.1}{miss}")
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
    println!(
        "{:>5} | {:<10} | {:<24} | {:<24} | {:<24} | {:<24} | {:<22}",
        "inst",
        "case",
        "keepalived READY=1",
        "keepalived log line",
        "rkeepalived READY=1",
        "rkeepalived log line",
        "max gap ms (late) k / rk"
    );
    for &n in &sizes {
        let get = |d: Daemon| {
            results
                .iter()
                .find(|(m, dd, _)| *m == n && *dd == d)
                .and_then(|(_, _, r)| r.as_ref().ok())
        };
        let (k, r) = (get(Daemon::Keepalived), get(Daemon::Rkeepalived));
        for case in ["quiet", "unchanged", "1 edit"] {
            let times = |o: Option<&Outcome>, logged: bool| match o {
                None => "not run".to_owned(),
                Some(o) => cell(
                    phase_of(o, case)
                        .timings
                        .iter()
                        .filter_map(|t| if logged { t.logged } else { Some(t.ready) }),
                ),
            };
            let gap = |o: Option<&Outcome>| {
                o.map_or("-".into(), |o| {
                    phase_of(o, case).gap_ms.map_or("-".into(), |g| {
                        format!("{g:.0} ({})", phase_of(o, case).late)
                    })
                })
            };
            println!(
                "{n:>5} | {case:<10} | {:<24} | {:<24} | {:<24} | {:<24} | {:<22}",
                times(k, false),
                times(k, true),
                times(r, false),
                times(r, true),
                format!("{} / {}", gap(k), gap(r))
            );
        }
    }
}
