//! Failover time of rkeepalived and keepalived, measured the same way in the same run.
//!
//! ```text
//! cargo bench --bench failover                      # 5 runs per daemon, VRRPv2, advert_int 1 s
//! FAILOVER_RUNS=10 FAILOVER_VERSION=3 cargo bench --bench failover
//! ```
//!
//! Each run builds fresh namespaces (nodes `a`, `b`, client `c`, see
//! `tests/support/failover.rs`), elects `a` (priority 150), SIGKILLs it and measures, for
//! the backup `b` (priority 100):
//!
//! * kill → VIP present on `b` (polling `ip -o addr` every 5 ms);
//! * kill → first gratuitous ARP from `b` captured on `c` (capture timestamp);
//! * overhead: (first GARP − `a`'s last captured advert) − Master_Down_Interval.
//!   The backup's timer runs from the last advert it heard, so this is the delay the daemon
//!   adds to the RFC's interval, independent of when in the advert cycle the kill fell.
//!
//! A daemon whose binary is missing is reported and skipped. Needs root and tcpdump.
//!
//! `FAILOVER_ADVERT_INT` sets the advert interval in seconds (e.g. `0.1` with VRRPv3).
//!
//! Then the steady state (skip with `FAILOVER_STEADY=0`): one node runs `FAILOVER_INSTANCES`
//! (20) VRRPv3 instances as master with `FAILOVER_STEADY_INT` (0.05 s) adverts for
//! `FAILOVER_STEADY_SECS` (20) s; the bench reports the daemon's CPU over that window
//! (utime + stime of the process and, for keepalived, its VRRP child) and the intervals between
//! consecutive adverts of each instance from a capture on the node's link (mean, and its
//! deviation from the configured interval).

#[path = "../tests/support/mod.rs"]
mod support;

use support::Daemon;
use support::failover::{self, Outcome, Settings};

/// Median and maximum of a non-empty sample.
fn median_max(mut v: Vec<f64>) -> Option<(f64, f64)> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((median, v[n - 1]))
}

fn cell(v: Vec<f64>, signed: bool) -> String {
    match median_max(v) {
        Some((m, x)) if signed => format!("{m:+.2} / {x:+.2}"),
        Some((m, x)) => format!("{m:.0} / {x:.0}"),
        None => "-".to_owned(),
    }
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("ignoring {name}={v:?} (not a number)");
            default
        }),
        Err(_) => default,
    }
}

enum Row {
    Skipped(String),
    Measured {
        ok: Vec<Outcome>,
        failed: Vec<String>,
    },
}

fn main() {
    let runs: usize = env_number("FAILOVER_RUNS", 5);
    let version: u8 = env_number("FAILOVER_VERSION", 2);
    if version != 2 && version != 3 {
        eprintln!("FAILOVER_VERSION must be 2 or 3");
        std::process::exit(2);
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || support::find_program("tcpdump").is_none() {
        println!("failover bench skipped: needs root (network namespaces) and tcpdump");
        return;
    }
    support::install_interrupt_handler();
    let advert_int: f64 = env_number("FAILOVER_ADVERT_INT", 1.0);
    let s = Settings {
        version,
        advert_int: std::time::Duration::from_secs_f64(advert_int),
        ..Settings::default()
    };
    println!(
        "failover bench: {runs} runs per daemon, VRRPv{version}, advert_int {} s, backup \
         priority {}, Master_Down_Interval {:.0} ms",
        s.advert_int.as_secs_f64(),
        s.backup_priority,
        s.mdi().as_secs_f64() * 1e3
    );

    let mut rows = Vec::new();
    let mut poll_costs = Vec::new();
    for daemon in Daemon::ALL {
        let bin = match daemon.binary() {
            Ok(bin) => bin,
            Err(why) => {
                println!("{}: skipped: {why}", daemon.name());
                rows.push((daemon, Row::Skipped(why)));
                continue;
            }
        };
        println!("{}: {}", daemon.name(), bin.display());
        let (mut ok, mut failed) = (Vec::new(), Vec::new());
        for i in 1..=runs {
            if support::interrupted() {
                break;
            }
            match failover::run(daemon, &s, &mut |_| {}) {
                Ok(o) => {
                    println!(
                        "  run {i}/{runs}: kill->VIP {:.0} ms, kill->GARP {}, last advert {} \
                         before kill, overhead {}",
                        o.kill_to_vip.as_secs_f64() * 1e3,
                        o.kill_to_garp.map_or("-".into(), |t| format!("{t:.0} ms")),
                        o.last_advert_before_kill
                            .map_or("-".into(), |t| format!("{t:.0} ms")),
                        o.overhead().map_or("-".into(), |t| format!("{t:+.2} ms")),
                    );
                    poll_costs.push(o.poll_cost.as_secs_f64() * 1e3);
                    ok.push(o);
                }
                Err(e) => {
                    let first = e.lines().next().unwrap_or("").to_owned();
                    println!("  run {i}/{runs}: FAILED: {e}");
                    failed.push(first);
                }
            }
        }
        rows.push((daemon, Row::Measured { ok, failed }));
    }
    if support::interrupted() {
        println!("interrupted; results so far:");
    }

    println!(
        "\n{:<12} {:>5}  {:>17}  {:>17}  {:>21}",
        "daemon", "runs", "kill->VIP ms", "kill->GARP ms", "overhead vs MDI ms"
    );
    println!(
        "{:<12} {:>5}  {:>17}  {:>17}  {:>21}",
        "", "ok", "median / max", "median / max", "median / max"
    );
    for (daemon, row) in rows {
        match row {
            Row::Skipped(why) => println!("{:<12} skipped: {why}", daemon.name()),
            Row::Measured { ok, failed } => {
                let vip = ok
                    .iter()
                    .map(|o| o.kill_to_vip.as_secs_f64() * 1e3)
                    .collect();
                let garp = ok.iter().filter_map(|o| o.kill_to_garp).collect();
                let over = ok.iter().filter_map(Outcome::overhead).collect();
                println!(
                    "{:<12} {:>5}  {:>17}  {:>17}  {:>21}",
                    daemon.name(),
                    format!("{}/{}", ok.len(), ok.len() + failed.len()),
                    cell(vip, false),
                    cell(garp, false),
                    cell(over, true),
                );
                for f in failed {
                    println!("{:<12} failed run: {f}", "");
                }
            }
        }
    }
    println!(
        "\nkill->VIP and kill->GARP depend on where in the {} ms advert cycle the kill fell \
         (range MDI - advert_int .. MDI);\noverhead = first GARP - last advert from the master \
         - MDI, the part the daemon adds.\nVIP polled every {} ms with `ip -o addr` (one call \
         took {:.1} ms on average): kill->VIP is an upper bound, late by a poll step or more;\n\
         kill->GARP comes from capture timestamps and is the exact figure.",
        s.advert_int.as_millis(),
        s.poll.as_millis(),
        poll_costs.iter().sum::<f64>() / poll_costs.len().max(1) as f64
    );
    if env_number("FAILOVER_STEADY", 1u8) != 0 {
        steady_state();
    }
}

/// CPU (utime + stime, in clock ticks) of `pid`, 0 when it is gone.
fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name (which may hold spaces): state is field 3; utime and
    // stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|t| t.parse::<u64>().ok()).unwrap_or(0)
}

/// The daemon's processes: the one started (rkeepalived's supervisor, keepalived's parent)
/// and its children (rkeepalived's daemon, keepalived's VRRP child).
fn daemon_pids(p: &support::Proc) -> Vec<u32> {
    let mut pids = vec![p.pid];
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", p.pid));
    pids.extend(
        children
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|c| c.parse::<u32>().ok()),
    );
    pids
}

fn steady_state() {
    let instances: u8 = env_number("FAILOVER_INSTANCES", 20);
    let int: f64 = env_number("FAILOVER_STEADY_INT", 0.05);
    let secs: u64 = env_number("FAILOVER_STEADY_SECS", 20);
    println!(
        "\nsteady state: {instances} VRRPv3 instances, master, advert_int {int} s, {secs} s window"
    );
    println!(
        "{:<12} {:>8} {:>12} {:>14} {:>12} {:>8}",
        "daemon", "CPU %", "adverts", "mean int ms", "deviation", "p99 ms"
    );
    for daemon in Daemon::ALL {
        if support::interrupted() || daemon.binary().is_err() {
            continue;
        }
        let lan = support::Lan::new(&["a"]);
        let mut conf = String::from("global_defs {\n  vrrp_garp_master_repeat 1\n}\n");
        for k in 1..=instances {
            conf += &format!(
                "vrrp_instance VI_{k} {{\n  state MASTER\n  interface eth0\n  \
                 virtual_router_id {k}\n  priority 200\n  version 3\n  advert_int {int}\n  \
                 virtual_ipaddress {{\n    {}/24\n  }}\n}}\n",
                lan.ip(100 + k)
            );
        }
        let p = lan.node("a").spawn(daemon, &conf);
        // Settle: every instance master and its start-up GARPs sent.
        std::thread::sleep(std::time::Duration::from_secs(3));
        let cap = lan.capture("a", "ip proto 112");
        std::thread::sleep(std::time::Duration::from_millis(500));
        let pids = daemon_pids(&p);
        let before: u64 = pids.iter().map(|&pid| cpu_ticks(pid)).sum();
        let t0 = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_secs(secs));
        let after: u64 = pids.iter().map(|&pid| cpu_ticks(pid)).sum();
        let wall = t0.elapsed().as_secs_f64();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut cap = cap;
        cap.stop();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        let cpu = (after - before) as f64 / hz / wall * 100.0;
        let adverts = cap.adverts();
        let mut intervals = Vec::new();
        for k in 1..=instances {
            let times: Vec<_> = adverts
                .iter()
                .filter(|a| a.vrid == k && a.priority > 0)
                .map(|a| a.time)
                .collect();
            intervals.extend(times.windows(2).map(|w| support::ms_between(w[0], w[1])));
        }
        let n = intervals.len();
        let mean = intervals.iter().sum::<f64>() / n.max(1) as f64;
        intervals.sort_by(f64::total_cmp);
        let p99 = intervals.get(n * 99 / 100).copied().unwrap_or(f64::NAN);
        println!(
            "{:<12} {:>8.2} {:>12} {:>14.3} {:>11.2}% {:>8.2}",
            daemon.name(),
            cpu,
            adverts.len(),
            mean,
            (mean / (int * 1e3) - 1.0) * 100.0,
            p99
        );
        drop(p);
    }
}
