//! `lvs_sync_daemon`: the kernel's IPVS connection-sync daemon follows one VRRP instance, as
//! keepalived's VRRP process drives it (vrrp_daemon.c / ipvs_syncd_*): a backup daemon from
//! start-up, the master daemon while the instance is MASTER, back to backup when it leaves
//! MASTER (BACKUP or FAULT), and none after exit. Commands go over the IPVS generic netlink
//! family (`IPVS_CMD_NEW_DAEMON` / `IPVS_CMD_DEL_DAEMON`); failures are logged, the instance
//! carries on.

use super::Engine;
use crate::config::model::{Config, LvsSyncDaemon};
use crate::ipvs::consts::{IP_VS_STATE_BACKUP, IP_VS_STATE_MASTER};
use crate::ipvs::genl::{IpvsSocket, SyncDaemon};
use crate::vrrp::fsm::State;
use tracing::{error, info};

/// The sync daemon's owner: its configuration, the instance it follows and what runs now.
pub(super) struct Syncd {
    cfg: LvsSyncDaemon,
    /// Index of the followed instance in `Engine::instances`.
    instance: usize,
    /// Opened on first use; `None` after a failure to open (logged once).
    sock: Option<IpvsSocket>,
    open_failed: bool,
    /// `IP_VS_STATE_MASTER` / `IP_VS_STATE_BACKUP` of the daemon this process started.
    running: Option<u32>,
}

impl Syncd {
    /// The sync daemon of `config`, if it names an instance that was built (`names` are the
    /// engine's instances in order).
    pub(super) fn new(config: &Config, names: &[&str]) -> Option<Syncd> {
        // `active_active` daemons follow no instance: the checker side runs them
        // (`ipvs::syncd`).
        let cfg = config
            .global
            .lvs_sync_daemon
            .clone()
            .filter(|c| !c.active_active)?;
        let Some(instance) = names.iter().position(|n| *n == cfg.instance) else {
            error!(
                "lvs_sync_daemon: vrrp instance {} is not running - sync daemon not started",
                cfg.instance
            );
            return None;
        };
        Some(Syncd {
            cfg,
            instance,
            sock: None,
            open_failed: false,
            running: None,
        })
    }

    fn socket(&mut self) -> Option<&mut IpvsSocket> {
        if self.sock.is_none() && !self.open_failed {
            match IpvsSocket::open() {
                Ok(s) => self.sock = Some(s),
                Err(e) => {
                    self.open_failed = true;
                    error!("lvs_sync_daemon: cannot reach IPVS: {e}");
                }
            }
        }
        self.sock.as_mut()
    }

    /// Runs the daemon of `state` (stopping the other one first).
    fn set(&mut self, state: u32) {
        if self.running == Some(state) {
            return;
        }
        self.stop();
        let d = SyncDaemon {
            state,
            mcast_ifn: self.cfg.interface.clone(),
            sync_id: u32::from(self.cfg.sync_id),
            maxlen: self.cfg.maxlen,
            group: self.cfg.group,
            port: self.cfg.port,
            ttl: self.cfg.ttl,
        };
        let role = role(state);
        let (ifname, id) = (self.cfg.interface.clone(), self.cfg.sync_id);
        let Some(sock) = self.socket() else {
            return;
        };
        match sock.start_daemon(&d) {
            Ok(()) => {
                info!("Starting IPVS {role} sync daemon on {ifname}, syncid {id}");
                self.running = Some(state);
            }
            Err(e) => error!("cannot start IPVS {role} sync daemon on {ifname}: {e}"),
        }
    }

    /// Stops the daemon this process started, if any.
    pub(super) fn stop(&mut self) {
        let Some(state) = self.running.take() else {
            return;
        };
        if let Some(sock) = self.socket()
            && let Err(e) = sock.stop_daemon(state)
        {
            error!("cannot stop IPVS {} sync daemon: {e}", role(state));
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

impl Engine {
    /// At start-up: the backup daemon (the instance starts in INIT, then BACKUP or MASTER).
    pub(super) fn syncd_startup(&mut self) {
        if let Some(s) = &mut self.syncd {
            s.set(IP_VS_STATE_BACKUP);
        }
    }

    /// Follows instance `i`'s transition `from` → `to`.
    pub(super) fn syncd_follow(&mut self, i: usize, from: State, to: State) {
        let Some(s) = &mut self.syncd else {
            return;
        };
        if s.instance != i {
            return;
        }
        match (from, to) {
            (_, State::Master) => s.set(IP_VS_STATE_MASTER),
            (State::Master, State::Backup | State::Fault) => s.set(IP_VS_STATE_BACKUP),
            _ => {}
        }
    }
}
