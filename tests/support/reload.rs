//! What `benches/reload.rs` (natively, in network namespaces) and `benches/reload_vm.rs` (in
//! the qemu guest, with 1000x10 virtual servers) share: the VRRP part of the generated file,
//! one reload's timing (SIGHUP -> `READY=1` on the `NOTIFY_SOCKET`, SIGHUP -> the daemon's
//! "applied" log lines), the advert-gap figures of a phase and the side-by-side table
//! (issue 13, "Benchmark").

use super::Daemon;
use super::pcap::Advert;
use std::io::ErrorKind;
use std::net::IpAddr;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant, SystemTime};

/// The line keepalived 2.2.7's VRRP child logs when it has applied a reload (measured; its
/// checker child logs none, see `benches/reload_vm.rs`).
pub const KEEPALIVED_DONE: &str = "Reload complete";
/// The line rkeepalived's VRRP engine logs when it has applied the 1-instance edit.
pub const RKEEPALIVED_EDIT: &str = "(VI_1) Reload: priority changed";
/// The line rkeepalived's IPVS controller logs when it has applied a reload's virtual servers.
pub const RKEEPALIVED_IPVS: &str = "IPVS: reloaded";
/// Between two steps of a phase.
pub const STEP: Duration = Duration::from_millis(1500);
/// A gap between two adverts of one instance longer than one interval (1 s) + Skew_Time
/// (0.41 s at priority 150) + jitter: an advert missed or late (ms).
pub const LATE_MS: f64 = 1400.0;

/// The VIP of instance `i` (1-based): `192.168.0.1`, ..., one `/32` each.
pub fn vip(i: usize) -> String {
    format!("192.168.{}.{}", i / 250, i % 250 + 1)
}

/// `n` `vrrp_instance` blocks VI_1..VI_n on `iface`: VRID i, `state BACKUP`, priority 150
/// (VI_1: `vi1`), `advert_int 1`, one `/32` VIP each ([`vip`]).
pub fn instances(n: usize, vi1: u8, iface: &str) -> String {
    let mut s = String::new();
    for i in 1..=n {
        let prio = if i == 1 { vi1 } else { 150 };
        s.push_str(&format!(
            "vrrp_instance VI_{i} {{\n  state BACKUP\n  interface {iface}\n  virtual_router_id {i}\n  \
             priority {prio}\n  advert_int 1\n  virtual_ipaddress {{\n    {}/32 dev {iface}\n  }}\n}}\n",
            vip(i)
        ));
    }
    s
}

/// One reload: SIGHUP -> `READY=1`, SIGHUP -> the last of the awaited log lines (ms), each if
/// seen within the wait.
#[derive(Default, Clone, Debug)]
pub struct Timing {
    pub ready: Option<f64>,
    /// `None` when no line was looked for.
    pub logged: Option<Option<f64>>,
}

/// What one phase measured.
#[derive(Default, Clone, Debug)]
pub struct Phase {
    pub timings: Vec<Timing>,
    /// Longest advert gap (ms) of an instance the phase does not edit (`None`: no such
    /// instance, or no two adverts of one).
    pub gap_ms: Option<f64>,
    /// How many of those gaps exceeded [`LATE_MS`].
    pub late: usize,
}

/// One daemon at one size.
#[derive(Default, Clone, Debug)]
pub struct Outcome {
    pub quiet: Phase,
    pub unchanged: Phase,
    pub edit: Phase,
}

/// The phases in table order: `quiet`, `unchanged`, `1 edit`.
pub const CASES: [&str; 3] = ["quiet", "unchanged", "1 edit"];

impl Outcome {
    /// The phase called `case` (one of [`CASES`]).
    pub fn phase(&self, case: &str) -> &Phase {
        match case {
            "quiet" => &self.quiet,
            "unchanged" => &self.unchanged,
            _ => &self.edit,
        }
    }

    /// As [`Outcome::phase`], mutable.
    pub fn phase_mut(&mut self, case: &str) -> &mut Phase {
        match case {
            "quiet" => &mut self.quiet,
            "unchanged" => &mut self.unchanged,
            _ => &mut self.edit,
        }
    }
}

/// Every datagram received on `sock` so far, dropped.
pub fn drain(sock: &UnixDatagram) {
    let mut buf = [0u8; 4096];
    while sock.recv(&mut buf).is_ok() {}
}

/// After a SIGHUP sent at `t0`: waits up to `reply` for `READY=1` on `sock` (a datagram socket
/// with a short read timeout, the daemon's `NOTIFY_SOCKET`; not waited for unless
/// `ready_sent`) and, when `look`, until `applied()` says the daemon's log holds the lines of
/// an applied reload (polled between two reads of the socket, about every millisecond).
pub fn await_reload(
    sock: &UnixDatagram,
    t0: Instant,
    reply: Duration,
    ready_sent: bool,
    look: bool,
    mut applied: impl FnMut() -> bool,
) -> Timing {
    let mut t = Timing {
        ready: None,
        logged: look.then_some(None),
    };
    let mut buf = [0u8; 4096];
    while t0.elapsed() < reply && (t.logged == Some(None) || (ready_sent && t.ready.is_none())) {
        match sock.recv(&mut buf) {
            Ok(n) => {
                let msg = String::from_utf8_lossy(&buf[..n]);
                if t.ready.is_none() && msg.lines().any(|l| l == "READY=1") {
                    t.ready = Some(t0.elapsed().as_secs_f64() * 1e3);
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("notify socket: {e}"),
        }
        if t.logged == Some(None) && applied() {
            t.logged = Some(Some(t0.elapsed().as_secs_f64() * 1e3));
        }
    }
    t
}

/// Longest gap (ms) between two adverts of one instance from `src` but VRID `skip`, within
/// `from..to` (`None`: no two adverts of one such instance), and how many gaps exceeded
/// [`LATE_MS`].
pub fn max_gap(
    adverts: impl IntoIterator<Item = Advert>,
    src: IpAddr,
    from: SystemTime,
    to: SystemTime,
    skip: u8,
) -> (Option<f64>, usize) {
    let mut late = 0;
    let mut last: std::collections::HashMap<u8, SystemTime> = Default::default();
    let mut gap: Option<f64> = None;
    for ad in adverts {
        if ad.src != src || ad.vrid == skip || ad.time < from || ad.time > to {
            continue;
        }
        if let Some(prev) = last.insert(ad.vrid, ad.time) {
            let g = super::ms_between(prev, ad.time);
            late += usize::from(g > LATE_MS);
            gap = Some(gap.map_or(g, |m: f64| m.max(g)));
        }
    }
    (gap, late)
}

/// `median / max` of what was seen, `-` if nothing, with the misses counted.
pub fn cell(v: impl Iterator<Item = Option<f64>>) -> String {
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

/// Prints the table: per size and phase, keepalived's and rkeepalived's SIGHUP -> `READY=1`
/// and SIGHUP -> log line (`median / max` ms), and the longest gap (ms) with the count of late
/// gaps in brackets, keepalived / rkeepalived. `results` holds what [`Outcome`] each daemon
/// had at each size (`Err`: why it was not measured).
pub fn print_table(sizes: &[usize], results: &[(usize, Daemon, Result<Outcome, String>)]) {
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
    for &n in sizes {
        let get = |d: Daemon| {
            results
                .iter()
                .find(|(m, dd, _)| *m == n && *dd == d)
                .and_then(|(_, _, r)| r.as_ref().ok())
        };
        let (k, r) = (get(Daemon::Keepalived), get(Daemon::Rkeepalived));
        for case in CASES {
            let times = |o: Option<&Outcome>, logged: bool| match o {
                None => "not run".to_owned(),
                Some(o) => cell(
                    o.phase(case)
                        .timings
                        .iter()
                        .filter_map(|t| if logged { t.logged } else { Some(t.ready) }),
                ),
            };
            let gap = |o: Option<&Outcome>| {
                o.map_or("-".into(), |o| {
                    o.phase(case)
                        .gap_ms
                        .map_or("-".into(), |g| format!("{g:.0} ({})", o.phase(case).late))
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
