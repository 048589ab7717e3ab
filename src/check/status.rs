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
///
/// Kept compact (a table keeps one per check: 64 bytes with its `Arc` and malloc's header,
/// where a stored [`Snapshot`] took 96): the last attempt's time as nanoseconds since the
/// epoch, and its failure text only as `last_failure` (which is the same text while the last
/// attempt failed).
#[derive(Debug)]
pub struct CheckRecord(Mutex<Compact>);

#[derive(Debug)]
struct Compact {
    /// [`Compact::ENABLED`], [`Compact::UP`], [`Compact::HAS_RUN`], [`Compact::LAST_OK`].
    flags: u8,
    /// When the last attempt ended, in nanoseconds since the epoch (0 before the first).
    last_at: u64,
    last_failure: Option<Arc<str>>,
}

impl Compact {
    const ENABLED: u8 = 1;
    const UP: u8 = 2;
    const HAS_RUN: u8 = 4;
    const LAST_OK: u8 = 8;

    fn set(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

impl CheckRecord {
    /// A record for a check starting `up` (not `alpha`), `enabled` unless suspended.
    pub fn new(up: bool, enabled: bool) -> Arc<CheckRecord> {
        let mut c = Compact {
            flags: 0,
            last_at: 0,
            last_failure: None,
        };
        c.set(Compact::UP, up);
        c.set(Compact::ENABLED, enabled);
        Arc::new(CheckRecord(Mutex::new(c)))
    }

    /// Records one attempt's result and the checker's state after it. A failure with the same
    /// text as the last one keeps the stored text (a check failing every round allocates it
    /// once).
    pub fn attempt(&self, result: Result<(), String>, up: bool) {
        let at = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        s.set(Compact::HAS_RUN, true);
        s.set(Compact::UP, up);
        s.set(Compact::LAST_OK, result.is_ok());
        s.last_at = at;
        if let Err(e) = result
            && s.last_failure.as_deref() != Some(e.as_str())
        {
            s.last_failure = Some(Arc::from(e));
        }
    }

    /// Records a suspend (`false`) or resume (`true`).
    pub fn set_enabled(&self, enabled: bool) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .set(Compact::ENABLED, enabled);
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> Snapshot {
        let s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let has_run = s.has(Compact::HAS_RUN);
        let last = has_run.then(|| {
            let result = match (&s.last_failure, s.has(Compact::LAST_OK)) {
                (Some(f), false) => Err(Arc::clone(f)),
                _ => Ok(()),
            };
            let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(s.last_at);
            (result, at)
        });
        Snapshot {
            enabled: s.has(Compact::ENABLED),
            up: s.has(Compact::UP),
            has_run,
            last,
            last_failure: s.last_failure.clone(),
        }
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
        assert!(size <= 40, "a CheckRecord takes {size} bytes");
    }

    #[test]
    fn a_failing_check_shows_its_text_and_time_and_keeps_one_copy() {
        let r = CheckRecord::new(true, true);
        let before = SystemTime::now();
        r.attempt(Err("connection refused".into()), true);
        let first = r.snapshot();
        r.attempt(Err("connection refused".into()), false);
        let second = r.snapshot();
        let (Some((Err(text), at)), Some(kept)) = (&second.last, &first.last_failure) else {
            panic!("no failure recorded: {second:?}");
        };
        assert_eq!(&**text, "connection refused");
        assert!(Arc::ptr_eq(text, kept), "the same text was stored again");
        let after = SystemTime::now();
        assert!(
            before <= *at && *at <= after,
            "{at:?} not within the attempt"
        );
        assert!(!second.up && second.enabled);
        r.attempt(Err("timeout".into()), false);
        assert_eq!(r.snapshot().last_failure.as_deref(), Some("timeout"));
        r.set_enabled(false);
        assert!(!r.snapshot().enabled);
    }
}
