//! What each running check last did, for the SIGUSR1 data dump ([`crate::check::dump`]).
//!
//! A check task updates its [`CheckRecord`] after every attempt (an uncontended mutex: one
//! writer, read only by a dump); the runner lists every (real server, check) pair in a
//! [`Board`] before it starts the checks.

use super::event::RsId;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

/// The state of one check as a dump shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// keepalived `Enabled`: false while suspended by `ha_suspend`.
    pub enabled: bool,
    /// keepalived `Up`: the checker's state after its retries.
    pub up: bool,
    /// keepalived `Has run`: at least one attempt was made.
    pub has_run: bool,
    /// The last attempt: `Ok(())` or the failure text (e.g. `TCP connection to
    /// [10.0.0.2]:tcp:80 failed.`), and when it ended.
    pub last: Option<(Result<(), Arc<str>>, SystemTime)>,
    /// The most recent failure text, kept after later successes (the same text as `last`'s
    /// while the last attempt failed, not a copy).
    pub last_failure: Option<Arc<str>>,
}

/// One check's [`Snapshot`], shared between its task and the dump.
#[derive(Debug)]
pub struct CheckRecord(Mutex<Snapshot>);

impl CheckRecord {
    /// A record for a check starting `up` (not `alpha`), `enabled` unless suspended.
    pub fn new(up: bool, enabled: bool) -> Arc<CheckRecord> {
        Arc::new(CheckRecord(Mutex::new(Snapshot {
            enabled,
            up,
            has_run: false,
            last: None,
            last_failure: None,
        })))
    }

    /// Records one attempt's result and the checker's state after it.
    pub fn attempt(&self, result: Result<(), String>, up: bool) {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        s.has_run = true;
        s.up = up;
        let result = result.map_err(Arc::<str>::from);
        if let Err(e) = &result {
            s.last_failure = Some(Arc::clone(e));
        }
        s.last = Some((result, SystemTime::now()));
    }

    /// Records a suspend (`false`) or resume (`true`).
    pub fn set_enabled(&self, enabled: bool) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .enabled = enabled;
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> Snapshot {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// One checker of one real server.
#[derive(Debug, Clone)]
pub struct BoardEntry {
    pub rs: RsId,
    /// The checker (shared with its task), for [`BoardEntry::service`] and
    /// [`BoardEntry::method`].
    pub checker: Arc<super::Checker>,
    pub record: Arc<CheckRecord>,
}

impl BoardEntry {
    /// keepalived's `Keepalive method` (`TCP_CHECK`, `HTTP_GET`, …).
    pub fn method(&self) -> &'static str {
        self.checker.method()
    }

    /// The checked service as keepalived's log names it (`[10.0.0.2]:tcp:80`), written when
    /// asked: a table of 10,000 checkers does not keep 10,000 strings for the rare dump.
    pub fn service(&self) -> String {
        self.checker.describe()
    }
}

/// Every checker of every real server, in subscription order.
#[derive(Debug, Clone, Default)]
pub struct Board {
    pub entries: Vec<BoardEntry>,
}

impl Board {
    /// The checkers of real server `rs`.
    pub fn of(&self, rs: RsId) -> impl Iterator<Item = &BoardEntry> {
        self.entries.iter().filter(move |e| e.rs == rs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_kept_after_later_successes() {
        let r = CheckRecord::new(true, true);
        assert!(!r.snapshot().has_run);
        r.attempt(
            Err("TCP connection to [10.0.0.2]:tcp:80 failed.".into()),
            false,
        );
        r.attempt(Ok(()), true);
        let s = r.snapshot();
        assert!(s.has_run && s.up);
        assert!(matches!(s.last, Some((Ok(()), _))));
        assert_eq!(
            s.last_failure.as_deref(),
            Some("TCP connection to [10.0.0.2]:tcp:80 failed.")
        );
        // A table keeps one record per check for the daemon's life.
        let size = std::mem::size_of::<CheckRecord>();
        assert!(size <= 64, "a CheckRecord takes {size} bytes");
    }
}
