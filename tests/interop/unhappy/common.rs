#![allow(dead_code)]
//! What the rows share: the prerequisites and the printed table line.

use crate::support::{Daemon, require_daemon, require_root};

/// Root, network namespaces and both daemons; otherwise the `support::skip` rule.
pub fn ready_both(test: &str) -> bool {
    require_root(test)
        && require_daemon(test, Daemon::Rkeepalived)
        && require_daemon(test, Daemon::Keepalived)
}

/// Root and rkeepalived only (rows where keepalived's behaviour was measured once and is
/// quoted in the row's doc comment, e.g. because it needs a kernel feature missing here).
pub fn ready_rk(test: &str) -> bool {
    require_root(test) && require_daemon(test, Daemon::Rkeepalived)
}

/// Prints the row of the differential table (visible with `--nocapture`).
pub fn row(scenario: &str, keepalived: &str, rkeepalived: &str) {
    println!("ROW {scenario} | keepalived: {keepalived} | rkeepalived: {rkeepalived}");
}
