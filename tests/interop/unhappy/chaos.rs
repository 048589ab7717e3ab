//! The short chaos soak (issue 11): 30 random faults on a three-node rkeepalived cluster,
//! zero invariant violations (see `support::soak`). `benches/soak.rs` runs the long version
//! side by side with keepalived.

use super::common::ready_rk;
use crate::support::Daemon;
use crate::support::soak::{Soak, stats};

#[test]
#[ignore = "needs root, network namespaces and keepalived 2.2.7 (scripts/test-all runs it)"]
fn thirty_random_faults_leave_one_holder_every_time() {
    if !ready_rk("chaos_soak") || !crate::support::require_tool("chaos_soak", "nft") {
        return;
    }
    let seed = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()));
    println!("soak seed {seed} (SOAK_SEED={seed} replays it)");
    let mut soak = Soak::start(Daemon::Rkeepalived);
    let results = soak.run(30, seed, |k, r| {
        println!(
            "fault {k:>2}: {:<20} on {}: converged {}{}",
            r.fault.name(),
            r.node,
            r.convergence.map_or("never".to_owned(), |d| format!(
                "{:.0} ms",
                d.as_secs_f64() * 1e3
            )),
            r.violation
                .as_deref()
                .map_or(String::new(), |v| format!(" VIOLATION: {v}"))
        );
    });
    let violations: Vec<_> = results.iter().filter(|r| r.violation.is_some()).collect();
    let conv = results
        .iter()
        .filter_map(|r| r.convergence.map(|d| d.as_secs_f64() * 1e3))
        .collect();
    if let Some((median, p99, max)) = stats(conv) {
        println!("convergence ms: median {median:.0}, p99 {p99:.0}, max {max:.0}");
    }
    assert!(violations.is_empty(), "seed {seed}: {violations:#?}");
}
