//! The supervisor: a small parent process that starts the daemon, forwards signals to it, and
//! outlives it (issue 11), as keepalived's parent process does for its VRRP and checker
//! children - with one binary and one configuration read (by the daemon).
//!
//! ```text
//!   rkeepalived (supervisor)          -p pidfile; no config, no sockets, no runtime
//!     └── rkeepalived (daemon)        forked by the supervisor (no exec), [`Supervised`]
//!                                     VRRP + IPVS + checkers; records what it applies
//! ```
//!
//! The daemon is a fork of the supervisor, as keepalived's children are of its parent: it
//! shares the supervisor's pages (the binary's relocated data, the libraries' state) until it
//! writes them, instead of a second copy of everything an `exec` of the binary would set up
//! (about 0.5 MiB of proportional memory for the pair). After each fork the supervisor unmaps
//! the read-only pages it ran while starting ([`crate::resident::shed_read_only_pages`]): it
//! keeps about 0.8 MiB resident while it waits, instead of 3.6.
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
//! `sigwaitinfo` on a blocked mask, on its one thread; the daemon starts with an empty mask.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use crate::cli::Cli;
use crate::net::ledger::Ledger;
use crate::net::release;

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

/// Which process returns from [`main`].
#[derive(Debug)]
pub enum Role {
    /// The supervisor, done: its exit status (that of the last daemon).
    Supervisor(ExitCode),
    /// A daemon the supervisor forked, done: its exit status. It must exit without the
    /// supervisor's clean-up (its pidfile belongs to the supervisor).
    Daemon(ExitCode),
}

/// Runs the supervisor: keeps the daemon running as the module doc says, the daemon being
/// `daemon` run in a child process forked from this one (no `exec`: the child shares this
/// process's pages until it writes them, and reads the configuration itself).
/// The caller has daemonized and written the pidfile.
pub fn main(cli: &Cli, pidfile: &Path, daemon: impl Fn(Supervised) -> ExitCode) -> Role {
    let set = wait_set();
    // SAFETY: `set` is initialised; the mask is this (single) thread's.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    let state = state_path(pidfile);
    release_leftover(&state, "a previous rkeepalived");
    let me = std::process::id();
    let mut delay = Duration::ZERO;
    loop {
        let started = Instant::now();
        // SAFETY: this process has one thread (the supervisor starts none), so the child
        // may run anything after the fork.
        let pid = match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                // The daemon starts with an empty signal mask, as a command does.
                // SAFETY: an initialised empty set; this thread's mask.
                unsafe {
                    let mut none: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut none);
                    libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                }
                // systemd's watchdog is set up for the supervisor; the daemon sends WATCHDOG=1.
                crate::systemd::in_child(me);
                return Role::Daemon(daemon(Supervised {
                    supervisor: me as i32,
                    state: state.clone(),
                }));
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                crate::resident::shed_read_only_pages();
                child.as_raw()
            }
            Err(e) => {
                error!("cannot start the daemon: {e}");
                return Role::Supervisor(ExitCode::from(1));
            }
        };
        let mut stopping = false;
        let end = loop {
            // SAFETY: `set` is initialised; a null siginfo is allowed.
            let sig = unsafe { libc::sigwaitinfo(&set, std::ptr::null_mut()) };
            if sig < 0 {
                continue; // EINTR
            }
            if sig == libc::SIGCHLD {
                use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
                match waitpid(nix::unistd::Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(_, 101)) => break End::Crashed(-1),
                    Ok(WaitStatus::Exited(_, c)) => break End::Exited(c),
                    Ok(WaitStatus::Signaled(_, s, _)) => break End::Crashed(s as i32),
                    _ => continue, // still running, stopped/continued, or another child
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
                return Role::Supervisor(ExitCode::from(u8::try_from(code).unwrap_or(1)));
            }
            End::Crashed(_) => {
                error!("the daemon (pid {pid}) {}", describe(end));
                crate::systemd::status(&format!(
                    "The daemon {}; what it applied was released; restarting it",
                    describe(end)
                ));
                release_leftover(&state, "the daemon");
                if stopping {
                    return Role::Supervisor(ExitCode::from(1));
                }
                if cli.dont_respawn {
                    error!("--dont-respawn: not restarting the daemon");
                    return Role::Supervisor(ExitCode::from(1));
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
                return Role::Supervisor(ExitCode::from(1));
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
    fn the_record_sits_beside_the_pidfile() {
        assert_eq!(
            state_path(Path::new("/run/k.pid")),
            PathBuf::from("/run/k.pid.state")
        );
    }
}
