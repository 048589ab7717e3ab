//! systemd's service notifications (sd_notify(3), `Type=notify`), sent with the `sd-notify`
//! crate. Without `NOTIFY_SOCKET` in the environment (not started by systemd) every call here
//! does nothing.
//!
//! The daemon sends them, not the supervisor: the supervisor is the unit's main process and
//! the daemon its child, which inherits `NOTIFY_SOCKET`; the unit therefore says
//! `NotifyAccess=all`. What is sent:
//!
//! * `READY=1` with a `STATUS=` line once the configuration is loaded, the IPVS table
//!   programmed and the VRRP sockets open (again after a respawn by the supervisor);
//! * `RELOADING=1` with `MONOTONIC_USEC=` when a SIGHUP reload starts, `READY=1` when it ends
//!   (whether the new file was taken or refused);
//! * `STOPPING=1` on SIGTERM/SIGINT;
//! * `STATUS=` when the instances' states or the real servers' health change: `VRRP: VI_1
//!   MASTER, VI_2 BACKUP; IPVS: 2 virtual servers, real servers 3/4 up`;
//! * `WATCHDOG=1` from the thread that runs the VRRP engine, every half `WATCHDOG_USEC`
//!   (`WatchdogSec=` in the unit), so that a hung engine is killed and restarted.
//!
//! systemd sets `WATCHDOG_PID` to the main process (the supervisor); the supervisor removes it
//! from the daemon's environment ([`for_child`]) so that the daemon's `WATCHDOG_USEC` applies.

use sd_notify::NotifyState;
use std::time::Duration;

/// Sends `states` as one datagram, from the notifier thread ([`notifier`]): the caller never
/// waits for the service manager. Nothing without `NOTIFY_SOCKET`.
fn send(states: &[NotifyState]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    let lines: Vec<String> = states.iter().map(|s| s.to_string()).collect();
    match notifier().try_send(lines.join("\n")) {
        Ok(()) => {
            QUEUED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        Err(std::sync::mpsc::TrySendError::Full(m)) => {
            tracing::debug!("sd_notify: the service manager is not reading; dropped {m:?}")
        }
        Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {}
    }
}

/// Messages queued for the notifier thread, and sent (or failed) by it.
static QUEUED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Waits until the messages queued so far are sent, at most `timeout` (before the process
/// exits, so that `STOPPING=1` is not lost with the notifier thread).
pub fn flush(timeout: Duration) {
    use std::sync::atomic::Ordering::SeqCst;
    let until = std::time::Instant::now() + timeout;
    while SENT.load(SeqCst) < QUEUED.load(SeqCst) && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// How many messages may wait for the service manager before new ones are dropped.
const NOTIFY_QUEUE: usize = 64;

/// The queue of the `sd-notify` thread, which sends the messages in order with the
/// `sd-notify` crate. A datagram to a manager that does not read its socket blocks once the
/// socket's queue is full (`net.unix.max_dgram_qlen`, 10 by default): the VRRP engine sends
/// `WATCHDOG=1` and `STATUS=`, and must keep advertising whatever the manager does (measured:
/// a socket nobody read stopped the adverts within a second when the engine sent itself).
fn notifier() -> &'static std::sync::mpsc::SyncSender<String> {
    static TX: std::sync::OnceLock<std::sync::mpsc::SyncSender<String>> =
        std::sync::OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<String>(NOTIFY_QUEUE);
        let spawned = std::thread::Builder::new()
            .name("sd-notify".into())
            .spawn(move || {
                for m in rx {
                    if let Err(e) = sd_notify::notify(&[NotifyState::Custom(&m)]) {
                        tracing::debug!("sd_notify: {e}");
                    }
                    SENT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("sd_notify: no notifier thread ({e}); service notifications are off");
        }
        tx
    })
}

/// `READY=1` and `STATUS=status`: start-up (or a reload) is complete.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// `RELOADING=1` and `MONOTONIC_USEC=` (systemd 253+ requires the latter with the former).
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[
            NotifyState::Reloading,
            now,
            NotifyState::Status("Reloading the configuration"),
        ]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// `STOPPING=1`.
///
/// Never inlined: scripts/hot-text has callgrind dump its counts here (the daemon's stop begins).
#[inline(never)]
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("Stopping")]);
}

/// `STATUS=status`.
pub fn status(status: &str) {
    *lock(&LAST_STATUS) = status.to_owned();
    send(&[NotifyState::Status(status)]);
}

/// `STATUS=status` unless it is the line last sent.
pub fn status_if_changed(status: &str) {
    if *lock(&LAST_STATUS) != status {
        self::status(status);
    }
}

/// The last `STATUS=` sent.
static LAST_STATUS: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());
/// How the last reload ended, shown at the end of the status line.
static LAST_RELOAD: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records how a reload ended (`taken`, or why the file was refused) for the status line and
/// sends `READY=1`; the status line follows at the next status tick (see [`STATUS_INTERVAL`]).
pub fn reloaded(outcome: &str) {
    *lock(&LAST_RELOAD) = Some(outcome.to_owned());
    lock(&LAST_STATUS).clear();
    send(&[NotifyState::Ready]);
}

/// How often the status line is brought up to date (and sent when it changed).
pub const STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// The period of the status tick: [`STATUS_INTERVAL`], shorter if the watchdog needs it.
pub fn tick_period() -> Duration {
    watchdog_interval().map_or(STATUS_INTERVAL, |w| w.min(STATUS_INTERVAL))
}

/// `WATCHDOG=1`.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC` (as sd_watchdog_enabled(3)
/// advises), or `None` when no watchdog is asked for (or it is meant for another process).
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .filter(|d| !d.is_zero())
        .map(|d| d / 2)
}

/// In the daemon the supervisor `supervisor` just forked: makes the watchdog systemd set up
/// for the main process (the supervisor) the daemon's, by removing `WATCHDOG_PID` from the
/// environment when it names the supervisor (sd-notify then sends WATCHDOG=1 from here).
pub fn in_child(supervisor: u32) {
    let theirs = std::env::var("WATCHDOG_PID")
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        == Some(supervisor);
    if theirs {
        // SAFETY: called right after the fork, while this process has one thread.
        unsafe { std::env::remove_var("WATCHDOG_PID") };
    }
}

/// The whole `STATUS=` line from its VRRP half (if the VRRP side runs), its IPVS half (if a
/// virtual server runs: `check::dump::ipvs_status`) and how the last reload ended.
pub fn status_line(vrrp: Option<String>, ipvs: Option<String>) -> String {
    let parts: Vec<String> = vrrp.into_iter().chain(ipvs).collect();
    let mut line = if parts.is_empty() {
        "Running (no VRRP instance, no virtual server)".to_owned()
    } else {
        parts.join("; ")
    };
    if let Some(r) = lock(&LAST_RELOAD).as_ref() {
        line.push_str("; last reload: ");
        line.push_str(r);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_names_what_runs() {
        assert_eq!(
            status_line(Some("VRRP: VI_1 MASTER".into()), None),
            "VRRP: VI_1 MASTER"
        );
        assert_eq!(
            status_line(None, None),
            "Running (no VRRP instance, no virtual server)"
        );
    }
}
