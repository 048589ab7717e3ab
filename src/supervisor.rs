//! The supervisor: a small parent process that starts the daemon, forwards signals to it, and
//! outlives it (issue 11), as keepalived's parent process does for its VRRP and checker
//! children - with one binary and one configuration read (by the daemon).
//!
//! ```text
//!   rkeepalived (supervisor)          -p pidfile; no config, no sockets, no runtime
//!     └── rkeepalived (daemon)        RKEEPALIVED_SUPERVISOR=<pid>:<state file>
//!                                     VRRP + IPVS + checkers; records what it applies
//! ```
//!
//! * The daemon dies by a signal or a panic: the supervisor takes back what the daemon had
//!   applied - VIPs, routes, rules, VMACs, nftables tables - from the state record the daemon
//!   kept ([`crate::net::ledger`]), logs it, and starts the daemon again (immediately the
//!   first time; when the daemon keeps dying within [`STABLE_RUN`] of its start, after a
//!   delay that doubles up to [`MAX_RESPAWN_DELAY`]; never with `-R/--dont-respawn`).
//! * The supervisor dies (even by SIGKILL): the daemon's parent-death signal (SIGTERM) makes it
//!   stop gracefully - a master sends its priority-0 advert and removes its VIPs - as
//!   keepalived's children do.
//! * The whole tree dies at once: nobody can release anything then; the next supervisor
//!   releases the record the dead daemon left before starting a new one.
//! * The daemon exits with a status (0 after a stop request, non-zero for a configuration or
//!   start-up error): the supervisor exits with that status, as keepalived's parent does for
//!   its children's permanent errors.
//!
//! Signals for the daemon (TERM, INT, HUP, USR1, USR2, keepalived's JSON and STATS_CLEAR
//! real-time signals) are forwarded. The supervisor waits for them and for SIGCHLD with
//! `sigwaitinfo` on a blocked mask, on its one thread; the daemon is started with an empty
//! mask (std's `Command` resets it).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use crate::cli::Cli;
use crate::net::ledger::Ledger;
use crate::net::release;

/// The environment variable that makes a process the supervised daemon:
/// `<supervisor pid>:<state record path>`.
pub const ENV: &str = "RKEEPALIVED_SUPERVISOR";

/// A daemon that lived this long before dying is restarted at once.
pub const STABLE_RUN: Duration = Duration::from_secs(10);
/// The longest wait before restarting a daemon that keeps dying.
pub const MAX_RESPAWN_DELAY: Duration = Duration::from_secs(30);

/// What a supervised daemon knows about its supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supervised {
    pub supervisor: i32,
    /// Where to keep the state record.
    pub state: PathBuf,
}

impl Supervised {
    /// From [`ENV`], if this process was started by a supervisor.
    pub fn from_env() -> Option<Supervised> {
        let v = std::env::var(ENV).ok()?;
        let (pid, state) = v.split_once(':')?;
        Some(Supervised {
            supervisor: pid.parse().ok()?,
            state: PathBuf::from(state),
        })
    }

    /// Asks the kernel for SIGTERM when the supervisor dies (`PR_SET_PDEATHSIG`), so the
    /// daemon then stops gracefully. Returns false when the supervisor is already gone.
    pub fn follow_supervisor(&self) -> bool {
        if let Err(e) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM) {
            warn!("cannot ask for the supervisor's death signal: {e}");
        }
        // The supervisor may have died before the request: then nobody would signal us.
        nix::unistd::getppid().as_raw() == self.supervisor
    }

    /// Releases what a previous daemon left in the state record (the whole tree was killed)
    /// and starts a new, empty record.
    pub fn open_ledger(&self) -> Option<std::sync::Arc<Ledger>> {
        release_leftover(&self.state, "a previous rkeepalived");
        match Ledger::create(&self.state) {
            Ok(l) => Some(std::sync::Arc::new(l)),
            Err(e) => {
                warn!(
                    "cannot keep the state record {}: {e}; a crash would leave VIPs behind",
                    self.state.display()
                );
                None
            }
        }
    }
}

/// The state record that belongs to `pidfile`: `<pidfile>.state`.
pub fn state_path(pidfile: &Path) -> PathBuf {
    let mut s = pidfile.as_os_str().to_owned();
    s.push(".state");
    PathBuf::from(s)
}

/// Releases what the record at `state` lists, if anything, and removes it.
fn release_leftover(state: &Path, whose: &str) {
    let Some(applied) = Ledger::load(state) else {
        return;
    };
    if !applied.is_empty() {
        let failed = release::release(&applied);
        info!(
            "Released what {whose} left applied: {}{}",
            applied.summary(),
            if failed > 0 {
                format!(" ({failed} could not be removed)")
            } else {
                String::new()
            }
        );
    }
    let _ = std::fs::remove_file(state);
}

/// The signals the supervisor waits for: those it forwards, and SIGCHLD.
fn wait_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a zeroed sigset_t.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in crate::cli::control_signals() {
            libc::sigaddset(&mut set, s);
        }
        libc::sigaddset(&mut set, libc::SIGCHLD);
        set
    }
}

/// How a daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Exited with this status.
    Exited(i32),
    /// Killed by this signal (or a panic, exit status 101).
    Crashed(i32),
}

fn describe(end: End) -> String {
    match end {
        End::Exited(101) | End::Crashed(-1) => "panicked".to_owned(),
        End::Exited(c) => format!("exited with status {c}"),
        End::Crashed(s) => {
            let name = nix::sys::signal::Signal::try_from(s)
                .map(|n| n.as_str().to_owned())
                .unwrap_or_else(|_| format!("signal {s}"));
            format!("was killed by {name}")
        }
    }
}

/// Runs the supervisor: daemonizes (unless `-n`), writes the pidfile, and keeps the daemon
/// running as the module doc says. Returns the exit status of the last daemon.
pub fn main(cli: &Cli, pidfile: &Path) -> ExitCode {
    let set = wait_set();
    // SAFETY: `set` is initialised; the mask is this (single) thread's.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    let state = state_path(pidfile);
    release_leftover(&state, "a previous rkeepalived");
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let me = std::process::id();
    let mut delay = Duration::ZERO;
    loop {
        let started = Instant::now();
        let mut cmd = Command::new(&exe);
        cmd.args(&args)
            .env(ENV, format!("{me}:{}", state.display()));
        // systemd's watchdog is set up for this process; the daemon sends WATCHDOG=1.
        crate::systemd::for_child(&mut cmd);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                error!("cannot start the daemon ({}): {e}", exe.display());
                return ExitCode::from(1);
            }
        };
        let pid = child.id() as libc::pid_t;
        let mut stopping = false;
        let end = loop {
            // SAFETY: `set` is initialised; a null siginfo is allowed.
            let sig = unsafe { libc::sigwaitinfo(&set, std::ptr::null_mut()) };
            if sig < 0 {
                continue; // EINTR
            }
            if sig == libc::SIGCHLD {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        use std::os::unix::process::ExitStatusExt as _;
                        break match (status.code(), status.signal()) {
                            (Some(101), _) => End::Crashed(-1),
                            (Some(c), _) => End::Exited(c),
                            (None, Some(s)) => End::Crashed(s),
                            (None, None) => End::Exited(1),
                        };
                    }
                    _ => continue, // stopped/continued, or another child
                }
            }
            if sig == libc::SIGTERM || sig == libc::SIGINT {
                stopping = true;
            }
            // SAFETY: kill has no memory preconditions; `pid` is our child, not yet reaped.
            unsafe { libc::kill(pid, sig) };
        };
        match end {
            End::Exited(code) => {
                // A stop request, or a permanent error (configuration, start-up): the record
                // is empty after a clean stop; after an error exit, release what it lists.
                release_leftover(&state, "the daemon");
                if code != 0 && !stopping {
                    error!("the daemon {} - not restarting it", describe(end));
                }
                return ExitCode::from(u8::try_from(code).unwrap_or(1));
            }
            End::Crashed(_) => {
                error!("the daemon (pid {pid}) {}", describe(end));
                crate::systemd::status(&format!(
                    "The daemon {}; what it applied was released; restarting it",
                    describe(end)
                ));
                release_leftover(&state, "the daemon");
                if stopping {
                    return ExitCode::from(1);
                }
                if cli.dont_respawn {
                    error!("--dont-respawn: not restarting the daemon");
                    return ExitCode::from(1);
                }
            }
        }
        delay = if started.elapsed() >= STABLE_RUN {
            Duration::ZERO
        } else if delay.is_zero() {
            // The first quick death still restarts at once (a one-off crash); the next waits.
            Duration::from_millis(1)
        } else {
            (delay * 2)
                .max(Duration::from_secs(1))
                .min(MAX_RESPAWN_DELAY)
        };
        if delay >= Duration::from_secs(1) {
            warn!(
                "the daemon keeps dying; restarting it in {} s",
                delay.as_secs()
            );
            if wait_or_stop(&set, delay) {
                return ExitCode::from(1);
            }
        }
        info!("Restarting the daemon");
    }
}

/// Waits `delay` for a restart; true if a stop signal arrived meanwhile.
fn wait_or_stop(set: &libc::sigset_t, delay: Duration) -> bool {
    let deadline = Instant::now() + delay;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let ts = libc::timespec {
            tv_sec: left.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(left.subsec_nanos() as i32),
        };
        // SAFETY: `set` and `ts` are initialised; a null siginfo is allowed.
        let sig = unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), &ts) };
        if sig == libc::SIGTERM || sig == libc::SIGINT {
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_names_the_supervisor_and_the_record() {
        assert_eq!(
            state_path(Path::new("/run/k.pid")),
            PathBuf::from("/run/k.pid.state")
        );
        // SAFETY: tests in this binary do not read this variable concurrently.
        unsafe { std::env::set_var(ENV, "42:/run/k.pid.state") };
        assert_eq!(
            Supervised::from_env(),
            Some(Supervised {
                supervisor: 42,
                state: PathBuf::from("/run/k.pid.state")
            })
        );
        unsafe { std::env::remove_var(ENV) };
        assert_eq!(Supervised::from_env(), None);
    }
}
