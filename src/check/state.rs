//! keepalived's checker timing as a pure state machine: `delay_loop`, `retry`,
//! `delay_before_retry`, `alpha`, and transitions reported only on edges.
//!
//! keepalived (check_api.c, check_tcp.c `tcp_epilog`): a check that fails is retried up to
//! `retry` times, `delay_before_retry` apart; only when every retry failed is the real server
//! marked down. A success resets the retry count and marks it up. Between rounds the checker
//! waits `delay_loop`. So the worst-case detection time after a service dies is
//! `delay_loop + (retry + 1) × connect_timeout + retry × delay_before_retry`.

use std::time::Duration;

/// The timing keywords of one checker (values already resolved from the checker, the
/// real_server and the virtual_server, in that order of precedence, as keepalived does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timing {
    /// `delay_loop`: time between two rounds (default 60 s).
    pub delay_loop: Duration,
    /// `connect_timeout`: limit for one attempt (default 5 s).
    pub connect_timeout: Duration,
    /// `retry` (`nb_get_retry`): extra attempts before declaring failure (default 1).
    pub retry: u32,
    /// `delay_before_retry`: wait before a retry (default 1 s).
    pub delay_before_retry: Duration,
    /// `warmup`: a random delay of up to this before the first check (default 0).
    pub warmup: Duration,
    /// `alpha`: start in the down state until the first success (default: start up).
    pub alpha: bool,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            delay_loop: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            retry: 1,
            delay_before_retry: Duration::from_secs(1),
            warmup: Duration::ZERO,
            alpha: false,
        }
    }
}

impl Timing {
    /// The longest time from a service dying to the checker reporting it down (ignores
    /// the time a failed attempt itself takes when it fails faster than `connect_timeout`).
    pub fn worst_case_detection(&self) -> Duration {
        self.delay_loop
            + self.connect_timeout * (self.retry + 1)
            + self.delay_before_retry * self.retry
    }
}

/// An edge the checker reports to its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Up,
    Down,
}

/// The retry/hysteresis state of one checker. Feed it each attempt's result; it says what
/// changed and how long to wait before the next attempt.
#[derive(Debug, Clone)]
pub struct CheckState {
    /// Shared by the checks with the same timing (a table's checks mostly have one).
    timing: std::sync::Arc<Timing>,
    up: bool,
    /// Consecutive failed attempts in the current round.
    failures: u32,
}

impl CheckState {
    /// A checker that starts up (or down with `alpha`); `timing` may be shared.
    pub fn new(timing: impl Into<std::sync::Arc<Timing>>) -> CheckState {
        let timing = timing.into();
        CheckState {
            up: !timing.alpha,
            timing,
            failures: 0,
        }
    }

    /// The checker's timing.
    pub fn timing(&self) -> Timing {
        *self.timing
    }

    /// Whether the real server is currently considered up by this checker.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Whether the current round has failed attempts and retries left (the next attempt is
    /// a retry, after `delay_before_retry`).
    pub fn retrying(&self) -> bool {
        self.failures > 0
    }

    /// Records one attempt. Returns the transition, if any, and the delay before the next
    /// attempt: `delay_before_retry` while retries remain, else `delay_loop`.
    pub fn record(&mut self, ok: bool) -> (Option<Transition>, Duration) {
        if ok {
            self.failures = 0;
            let t = (!self.up).then_some(Transition::Up);
            self.up = true;
            return (t, self.timing.delay_loop);
        }
        self.failures += 1;
        if self.failures <= self.timing.retry {
            return (None, self.timing.delay_before_retry);
        }
        self.failures = 0;
        let t = self.up.then_some(Transition::Down);
        self.up = false;
        (t, self.timing.delay_loop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(retry: u32) -> Timing {
        Timing {
            delay_loop: Duration::from_secs(6),
            connect_timeout: Duration::from_secs(2),
            retry,
            delay_before_retry: Duration::from_secs(1),
            warmup: Duration::ZERO,
            alpha: false,
        }
    }

    #[test]
    fn failure_is_reported_only_after_every_retry() {
        let mut s = CheckState::new(timing(2));
        assert!(s.is_up());
        assert_eq!(s.record(false), (None, Duration::from_secs(1)));
        assert_eq!(s.record(false), (None, Duration::from_secs(1)));
        assert_eq!(
            s.record(false),
            (Some(Transition::Down), Duration::from_secs(6))
        );
        // Still down: no new edge, the next round comes after delay_loop... after its retries.
        assert_eq!(s.record(false), (None, Duration::from_secs(1)));
        assert_eq!(s.record(false), (None, Duration::from_secs(1)));
        assert_eq!(s.record(false), (None, Duration::from_secs(6)));
        assert_eq!(
            s.record(true),
            (Some(Transition::Up), Duration::from_secs(6))
        );
        assert_eq!(s.record(true), (None, Duration::from_secs(6)));
    }

    #[test]
    fn a_success_between_failures_resets_the_retries() {
        let mut s = CheckState::new(timing(1));
        assert_eq!(s.record(false).0, None);
        assert_eq!(s.record(true).0, None);
        assert_eq!(s.record(false).0, None);
        assert_eq!(s.record(false).0, Some(Transition::Down));
    }

    #[test]
    fn retry_zero_fails_at_once() {
        let mut s = CheckState::new(timing(0));
        assert_eq!(
            s.record(false),
            (Some(Transition::Down), Duration::from_secs(6))
        );
    }

    #[test]
    fn alpha_starts_down_and_the_first_success_is_an_edge() {
        let mut s = CheckState::new(Timing {
            alpha: true,
            ..timing(1)
        });
        assert!(!s.is_up());
        assert_eq!(s.record(true).0, Some(Transition::Up));
        let mut s = CheckState::new(Timing {
            alpha: true,
            ..timing(0)
        });
        assert_eq!(s.record(false).0, None);
    }

    #[test]
    fn worst_case_detection_is_keepalived_s_formula() {
        // 6 + 3 × 2 + 2 × 1
        assert_eq!(timing(2).worst_case_detection(), Duration::from_secs(14));
    }
}
