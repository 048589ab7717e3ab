//! rkeepalived-only `lvs_sync_daemon IF active_active [id N] [maxlen N] [port N] [ttl N]
//! [group IP]`: connection sync between active directors (BGP ECMP, `docs/ecmp.md`).
//!
//! keepalived ties the kernel's sync daemon to one VRRP instance (master daemon while it is
//! MASTER, backup otherwise: `vrrp::engine::syncd`). Active directors have no such instance:
//! each forwards its own flows and must take over the others' when the router moves them.
//! The kernel runs a master and a backup sync thread at once in one network namespace
//! (ip_vs_sync.c `start_sync_thread` refuses only a second daemon of the same state); the
//! master multicasts this director's connections without looping them back to itself, the
//! backup installs the other directors' connections of the same sync id. So this starts both,
//! with the same settings, when the checker side starts, and stops both when it stops.
//!
//! The keepalived-compatible way to the same kernel state is `ipvsadm --start-daemon master`
//! and `--start-daemon backup` (same `--syncid`) from a script. Failures are logged; the
//! virtual servers carry on without sync.

use crate::config::model::LvsSyncDaemon;
use crate::ipvs::IpvsError;
use crate::ipvs::consts::{IP_VS_STATE_BACKUP, IP_VS_STATE_MASTER};
use crate::ipvs::genl::{IpvsSocket, SyncDaemon};
use tracing::{error, info};

/// The kernel's sync daemon of `state` (`IP_VS_STATE_MASTER` / `IP_VS_STATE_BACKUP`) with the
/// settings of `lvs_sync_daemon` (`IPVS_CMD_NEW_DAEMON`'s attributes); both forms use it.
pub fn sync_daemon(state: u32, cfg: &LvsSyncDaemon) -> SyncDaemon {
    SyncDaemon {
        state,
        mcast_ifn: cfg.interface.clone(),
        sync_id: u32::from(cfg.sync_id),
        maxlen: cfg.maxlen,
        group: cfg.group,
        port: cfg.port,
        ttl: cfg.ttl,
    }
}

/// The two sync daemons this process started (`IPVS_CMD_NEW_DAEMON` master and backup).
pub struct ActiveActiveSync {
    sock: IpvsSocket,
    /// `IP_VS_STATE_MASTER` / `IP_VS_STATE_BACKUP` of the daemons running now.
    running: Vec<u32>,
}

impl ActiveActiveSync {
    /// Starts the master and the backup daemon of `cfg` when it is an `active_active` one
    /// (`None` otherwise, or when IPVS cannot be reached: logged). A daemon of the same state
    /// that already runs (left by a killed predecessor, or started by hand) is replaced, so
    /// that the configured settings apply.
    pub fn start(cfg: Option<&LvsSyncDaemon>) -> Option<ActiveActiveSync> {
        let cfg = cfg.filter(|c| c.active_active)?;
        let sock = match IpvsSocket::open() {
            Ok(s) => s,
            Err(e) => {
                error!("lvs_sync_daemon: cannot reach IPVS: {e}");
                return None;
            }
        };
        let mut me = ActiveActiveSync {
            sock,
            running: Vec::new(),
        };
        for state in [IP_VS_STATE_MASTER, IP_VS_STATE_BACKUP] {
            let d = sync_daemon(state, cfg);
            let mut r = me.sock.start_daemon(&d);
            if let Err(IpvsError::Kernel { errno, .. }) = r
                && errno == libc::EEXIST
            {
                let _ = me.sock.stop_daemon(state);
                r = me.sock.start_daemon(&d);
            }
            let role = role(state);
            match r {
                Ok(()) => {
                    info!(
                        "Starting IPVS {role} sync daemon on {}, syncid {} (active_active)",
                        cfg.interface, cfg.sync_id
                    );
                    me.running.push(state);
                }
                Err(e) => error!(
                    "cannot start IPVS {role} sync daemon on {}: {e}",
                    cfg.interface
                ),
            }
        }
        Some(me)
    }

    /// Stops the daemons [`ActiveActiveSync::start`] started.
    pub fn stop(mut self) {
        for state in std::mem::take(&mut self.running) {
            match self.sock.stop_daemon(state) {
                Ok(()) => info!("Stopping IPVS {} sync daemon", role(state)),
                Err(e) => error!("cannot stop IPVS {} sync daemon: {e}", role(state)),
            }
        }
    }
}

fn role(state: u32) -> &'static str {
    if state == IP_VS_STATE_MASTER {
        "master"
    } else {
        "backup"
    }
}
