//! The daemon's signals (keepalived's contract): TERM and INT stop gracefully, HUP asks the
//! reloader ([`super::reload`]) for a reload, USR1/USR2 and keepalived's JSON and STATS_CLEAR
//! real-time signals ask for dumps and a counter reset; and the mask that holds them while the
//! daemon starts.

use crate::check::dump::CheckDataSlot;
use crate::vrrp::engine::Control;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

/// The signals [`handle_signals`] handles, blocked (`hold`) or unblocked in the calling
/// thread: while blocked, one that arrives stays pending and is delivered once unblocked.
pub(super) fn hold_signals(hold: bool) {
    // SAFETY: sigemptyset/sigaddset initialise and fill `set`; pthread_sigmask only reads it.
    let rc = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in crate::cli::control_signals() {
            libc::sigaddset(&mut set, s);
        }
        let how = if hold {
            libc::SIG_BLOCK
        } else {
            libc::SIG_UNBLOCK
        };
        libc::pthread_sigmask(how, &set, std::ptr::null_mut())
    };
    if rc != 0 {
        warn!(
            "cannot change the signal mask: {}",
            std::io::Error::from_raw_os_error(rc)
        );
    }
}

/// Turns the control signals into requests: [`Control`] messages to the engine on `tx`
/// (stop, dumps, counter reset), a reload request on `hup`; SIGUSR1 also writes the checker
/// data from `check_data`. Runs until aborted; logs and returns if a handler cannot be installed.
pub(super) async fn handle_signals(
    tx: tokio::sync::mpsc::Sender<Control>,
    hup: tokio::sync::mpsc::Sender<()>,
    check_data: CheckDataSlot,
) {
    let (
        Ok(mut term),
        Ok(mut int),
        Ok(mut hup_signal),
        Ok(mut usr1),
        Ok(mut usr2),
        Ok(mut json),
        Ok(mut clear),
    ) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
        signal(SignalKind::user_defined1()),
        signal(SignalKind::user_defined2()),
        signal(SignalKind::from_raw(crate::cli::json_signal())),
        signal(SignalKind::from_raw(crate::cli::stats_clear_signal())),
    )
    else {
        error!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => {
                info!("Stopping");
                crate::systemd::stopping();
                let _ = tx.send(Control::Shutdown).await;
            }
            _ = int.recv() => {
                info!("Stopping");
                crate::systemd::stopping();
                let _ = tx.send(Control::Shutdown).await;
            }
            // A reload already queued covers this one too.
            _ = hup_signal.recv() => { let _ = hup.try_send(()); }
            _ = usr1.recv() => {
                dump_data(&check_data);
                let _ = tx.send(Control::WriteData).await;
            }
            _ = usr2.recv() => { let _ = tx.send(Control::WriteStats).await; }
            _ = json.recv() => { let _ = tx.send(Control::WriteJson).await; }
            _ = clear.recv() => { let _ = tx.send(Control::ClearStats).await; }
        }
    }
}

/// SIGUSR1, checker side: writes `keepalived_check.data` (the engine writes `keepalived.data`).
fn dump_data(check_data: &CheckDataSlot) {
    let current = check_data
        .get()
        .map(|d| d.read().unwrap_or_else(|e| e.into_inner()).clone());
    match current {
        Some(d) => match d.write(&crate::data_file::data_dir()) {
            Ok(path) => info!("Checker data written to {}", path.display()),
            Err(e) => error!("cannot write the checker data file: {e}"),
        },
        None => info!("Data dump (SIGUSR1): no checker data (no virtual server running)"),
    }
}
