//! Chaos soak, rkeepalived and keepalived 2.2.7 in the same run (issue 11).
//!
//! ```text
//! cargo bench --bench soak                  # 200 faults per daemon, seed from the pid
//! SOAK_FAULTS=1000 SOAK_SEED=7 cargo bench --bench soak
//! SOAK_DAEMONS=rkeepalived cargo bench --bench soak
//! SOAK_SKIP="SIGHUP broken file" cargo bench --bench soak   # leave fault kinds out (by name)
//! ```
//!
//! keepalived 2.2.7 terminates on a SIGHUP with a broken file ("exited with permanent error
//! CONFIG. Terminating"), after which every check of that node fails; `SOAK_SKIP` measures its
//! other fault kinds.
//!
//! Both daemons get the same fault sequence (same seed). Per daemon and fault kind it prints
//! the number of faults, the violations of the invariants (see `tests/support/soak.rs`), the
//! bad-advert bursts after which a node's drop counters differ from what was sent, and
//! the convergence time from the fault's revert until exactly one node - the highest-priority
//! one - holds the VIP (median, p99, max). Needs root, nft and tcpdump-free namespaces only.

#[path = "../tests/support/mod.rs"]
mod support;

use support::Daemon;
use support::soak::{Fault, Soak, stats};

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || support::find_program("nft").is_none() {
        println!("soak bench skipped: needs root (network namespaces) and nft");
        return;
    }
    support::install_interrupt_handler();
    let faults: usize = std::env::var("SOAK_FAULTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let seed: u64 = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()));
    let daemons: Vec<Daemon> = match std::env::var("SOAK_DAEMONS") {
        Ok(list) => list.split(',').filter_map(Daemon::from_name).collect(),
        Err(_) => Daemon::ALL.to_vec(),
    };
    let skip = std::env::var("SOAK_SKIP").unwrap_or_default();
    let kinds: Vec<Fault> = Fault::ALL
        .into_iter()
        .filter(|f| !skip.split(',').any(|s| s.trim() == f.name()))
        .collect();
    println!(
        "soak: {faults} faults per daemon, seed {seed}, kinds: {}",
        kinds
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut tables = Vec::new();
    for daemon in daemons {
        if daemon.binary().is_err() {
            println!("{}: not installed, skipped", daemon.name());
            continue;
        }
        let started = std::time::Instant::now();
        let mut soak = Soak::start(daemon);
        let results = soak.run_kinds(faults, seed, &kinds, |k, r| {
            if let Some(v) = &r.violation {
                println!(
                    "{} fault {k} {} on {}: VIOLATION {v}",
                    daemon.name(),
                    r.fault.name(),
                    r.node
                );
            } else if let Some(c) = &r.counters {
                println!(
                    "{} fault {k} {} on {}: drop counters differ from what was sent: {c}",
                    daemon.name(),
                    r.fault.name(),
                    r.node
                );
            }
        });
        println!(
            "{}: {} faults in {:.0} s",
            daemon.name(),
            results.len(),
            started.elapsed().as_secs_f64()
        );
        tables.push((daemon, results));
    }
    println!(
        "\n{:<12} {:<20} {:>6} {:>10} {:>9} {:>10} {:>8} {:>8}",
        "daemon", "fault", "count", "violations", "counters", "median ms", "p99 ms", "max ms"
    );
    for (daemon, results) in &tables {
        let kinds = Fault::ALL.iter().map(|f| Some(*f)).chain([None]);
        for kind in kinds {
            let rs: Vec<_> = results
                .iter()
                .filter(|r| kind.is_none_or(|k| r.fault == k))
                .collect();
            if rs.is_empty() {
                continue;
            }
            let violations = rs.iter().filter(|r| r.violation.is_some()).count();
            // Bursts after which the drop counters differ from what was sent.
            let counters = rs.iter().filter(|r| r.counters.is_some()).count();
            let conv: Vec<f64> = rs
                .iter()
                .filter_map(|r| r.convergence.map(|d| d.as_secs_f64() * 1e3))
                .collect();
            let (m, p, x) = stats(conv).unwrap_or((f64::NAN, f64::NAN, f64::NAN));
            println!(
                "{:<12} {:<20} {:>6} {:>10} {:>9} {:>10.0} {:>8.0} {:>8.0}",
                daemon.name(),
                kind.map_or("all", Fault::name),
                rs.len(),
                violations,
                counters,
                m,
                p,
                x
            );
        }
    }
}
