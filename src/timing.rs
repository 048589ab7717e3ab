//! Startup phase timestamps for benchmarks (`benches/ipvs.rs`).
//!
//! With `RKEEPALIVED_TIMING` set in the environment, [`mark`] writes one line
//! `rkeepalived-timing <phase> <ns> <user µs> <system µs>` to stderr: `<ns>` is
//! `CLOCK_MONOTONIC` in nanoseconds, so that a benchmark on the same machine can place each
//! phase on its own clock (the time from its `spawn` to the first mark is process start-up);
//! the other two are the process's CPU time so far (`getrusage(RUSAGE_SELF)`), whose system
//! part between two marks around netlink requests is the kernel's work on them. Without the
//! variable it does nothing beyond one cached environment lookup.

use std::io::Write as _;
use std::sync::OnceLock;

/// The environment variable that turns the marks on.
pub const ENV: &str = "RKEEPALIVED_TIMING";

/// The line prefix of a mark.
pub const PREFIX: &str = "rkeepalived-timing";

/// `CLOCK_MONOTONIC` now, in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Records that `phase` (one word) ended now, when [`ENV`] is set. Each phase is written
/// once, the first time (start-up): code that also runs later (a reload, the shutdown) may
/// mark the same phases.
pub fn mark(phase: &str) {
    static ON: OnceLock<bool> = OnceLock::new();
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    if *ON.get_or_init(|| std::env::var_os(ENV).is_some()) {
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        if seen.iter().any(|p| p == phase) {
            return;
        }
        seen.push(phase.to_owned());
        let now = monotonic_ns();
        // SAFETY: getrusage writes only into `ru`; all-zero is a valid `rusage`.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        let us = |t: libc::timeval| t.tv_sec * 1_000_000 + t.tv_usec;
        let _ = writeln!(
            std::io::stderr(),
            "{PREFIX} {phase} {now} {} {}",
            us(ru.ru_utime),
            us(ru.ru_stime)
        );
    }
}
