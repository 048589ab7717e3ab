//! `lvs_sync_daemon`: the kernel's IPVS connection-sync daemon follows one VRRP instance, as
//! keepalived's VRRP process drives it (vrrp_daemon.c / ipvs_syncd_*): a backup daemon from
//! start-up, the master daemon while the instance is MASTER, back to backup when it leaves
//! MASTER (BACKUP or FAULT), and none after exit. Commands go over the IPVS generic netlink
//! family (`IPVS_CMD_NEW_DAEMON` / `IPVS_CMD_DEL_DAEMON`); failures are logged, the instance
//! carries on.
//!
//! The engine decides ([`Syncd`]: the settings and the followed instance); the commands run
//! as jobs on the `vrrp-kernel` worker ([`SyncDaemons`], in its [`super::kernel::Kernel`]), in
//! order with the VIP changes of the same transition, never on the thread that sends adverts.
//!
//! A reload ([`Engine::reload_syncd`], after the instances changed): when `lvs_sync_daemon`
//! differs (positions aside), the daemon this process started stops and the new one starts as
//! the followed instance is now (master daemon while it is MASTER, backup otherwise); removed
//! from the file, it stops; added, it starts. Unchanged, the daemon keeps running and follows
//! its instance wherever the reload moved it in [`Engine::instances`] (instances removed before
//! it, or the instance itself re-created).

use super::Engine;
use crate::config::model::{Config, LvsSyncDaemon};
use crate::ipvs::consts::{IP_VS_STATE_BACKUP, IP_VS_STATE_MASTER};
use crate::ipvs::genl::IpvsSocket;
use crate::vrrp::fsm::State;
use tracing::{error, info};

/// The engine's side of the sync daemon: its settings and the instance it follows.
pub(super) struct Syncd {
    cfg: LvsSyncDaemon,
    /// Index of the followed instance in `Engine::instances`; `None` while a reload has
    /// taken it out (re-created: found again by name once the instances changed).
    instance: Option<usize>,
}

impl Syncd {
    /// The sync daemon of `config`, if it names an instance that was built (`names` are the
    /// engine's instances in order).
    pub(super) fn new(config: &Config, names: &[&str]) -> Option<Syncd> {
        let cfg = following(config)?;
        let Some(instance) = names.iter().position(|n| *n == cfg.instance) else {
            error!(
                "lvs_sync_daemon: vrrp instance {} is not running - sync daemon not started",
                cfg.instance
            );
            return None;
        };
        Some(Syncd {
            cfg,
            instance: Some(instance),
        })
    }

    /// Instance `i` left `Engine::instances` (a reload removed it): the index follows the
    /// instances after it, which move down by one; the followed instance itself is found
    /// again by name at the end of the reload ([`Engine::reload_syncd`]).
    pub(super) fn forget_instance(&mut self, i: usize) {
        self.instance = match self.instance {
            Some(j) if j == i => None,
            Some(j) if j > i => Some(j - 1),
            other => other,
        };
    }
}

/// The worker's side: the daemon this process started and the socket it talks over. Used
/// only on the `vrrp-kernel` worker.
#[derive(Default)]
pub(super) struct SyncDaemons {
    /// Opened on first use; `None` after a failure to open (logged once).
    sock: Option<IpvsSocket>,
    open_failed: bool,
    /// `IP_VS_STATE_MASTER` / `IP_VS_STATE_BACKUP` of the daemon this process started, with
    /// the settings it was started with.
    running: Option<(u32, LvsSyncDaemon)>,
}

impl SyncDaemons {
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

    /// Runs the daemon of `state` with `cfg` (stopping the one running first, unless it is
    /// that one already).
    pub(super) fn set(&mut self, cfg: &LvsSyncDaemon, state: u32) {
        if self
            .running
            .as_ref()
            .is_some_and(|(s, c)| *s == state && c == cfg)
        {
            return;
        }
        self.stop();
        let d = crate::ipvs::syncd::sync_daemon(state, cfg);
        let role = role(state);
        let Some(sock) = self.socket() else {
            return;
        };
        match sock.start_daemon(&d) {
            Ok(()) => {
                info!(
                    "Starting IPVS {role} sync daemon on {}, syncid {}",
                    cfg.interface, cfg.sync_id
                );
                self.running = Some((state, cfg.clone()));
            }
            Err(e) => error!(
                "cannot start IPVS {role} sync daemon on {}: {e}",
                cfg.interface
            ),
        }
    }

    /// Stops the daemon this process started, if any.
    pub(super) fn stop(&mut self) {
        let Some((state, _)) = self.running.take() else {
            return;
        };
        if let Some(sock) = self.socket() {
            match sock.stop_daemon(state) {
                Ok(()) => info!("Stopping IPVS {} sync daemon", role(state)),
                Err(e) => error!("cannot stop IPVS {} sync daemon: {e}", role(state)),
            }
        }
    }
}

/// The `lvs_sync_daemon` of `config` that follows an instance, positions aside (`active_active`
/// daemons follow no instance: the checker side runs them, `ipvs::syncd`).
fn following(config: &Config) -> Option<LvsSyncDaemon> {
    let cfg = config.global.lvs_sync_daemon.as_ref()?;
    (!cfg.active_active).then(|| cfg.positionless())
}

fn role(state: u32) -> &'static str {
    if state == IP_VS_STATE_MASTER {
        "master"
    } else {
        "backup"
    }
}

/// The daemon that matches an instance in `state`: master while MASTER, backup otherwise.
fn daemon_for(state: State) -> u32 {
    if state == State::Master {
        IP_VS_STATE_MASTER
    } else {
        IP_VS_STATE_BACKUP
    }
}

impl Engine {
    /// Queues the start of the `state` daemon with the followed settings (a worker job).
    fn syncd_set(&mut self, state: u32) {
        if let Some(s) = &self.syncd {
            let cfg = s.cfg.clone();
            self.kernel
                .submit(Box::new(move |k| k.sync_daemons.set(&cfg, state)));
        }
    }

    /// Queues the stop of the daemon this process started (a worker job), at exit or when a
    /// reload removes `lvs_sync_daemon`.
    pub(super) fn syncd_stop(&mut self) {
        self.kernel.submit(Box::new(|k| k.sync_daemons.stop()));
    }

    /// At start-up: the backup daemon (the instance starts in INIT, then BACKUP or MASTER).
    pub(super) fn syncd_startup(&mut self) {
        self.syncd_set(IP_VS_STATE_BACKUP);
    }

    /// Follows instance `i`'s transition `from` → `to`.
    pub(super) fn syncd_follow(&mut self, i: usize, from: State, to: State) {
        if self.syncd.as_ref().is_none_or(|s| s.instance != Some(i)) {
            return;
        }
        match (from, to) {
            (_, State::Master) => self.syncd_set(IP_VS_STATE_MASTER),
            (State::Master, State::Backup | State::Fault) => self.syncd_set(IP_VS_STATE_BACKUP),
            _ => {}
        }
    }

    /// A reload's `lvs_sync_daemon`, once its instance changes are applied (see the module
    /// doc): `running` is the setting in force before the reload (`global_defs`), `config`
    /// the new file. One line per change.
    pub(super) fn reload_syncd(&mut self, running: Option<&LvsSyncDaemon>, config: &Config) {
        let old = running
            .filter(|c| !c.active_active)
            .map(LvsSyncDaemon::positionless);
        let new = following(config);
        if old != new {
            let what = match (&old, &new) {
                (None, _) => "sync daemon started",
                (_, None) => "sync daemon stopped",
                _ => "sync daemon restarted",
            };
            info!("Reload: global_defs lvs_sync_daemon changed: {what}");
        }
        let names: Vec<&str> = self.instances.iter().map(|r| r.cfg.name.as_str()).collect();
        // The same daemon keeps its instance found again by name (it may have moved, been
        // re-created, or started only now); new settings are taken from the new file.
        self.syncd = match (self.syncd.take(), &new) {
            (Some(mut s), Some(cfg)) if old == new => {
                s.instance = names.iter().position(|n| *n == cfg.instance);
                Some(s)
            }
            // Its instance still not running: said at start-up already.
            (None, Some(cfg)) if old == new && !names.contains(&cfg.instance.as_str()) => None,
            _ => Syncd::new(config, &names),
        };
        match self.syncd.as_ref().map(|s| s.instance) {
            // The daemon this process runs, if any, is replaced by the one of the new settings
            // in the followed instance's state (nothing happens when they are the same).
            Some(Some(i)) => self.syncd_set(daemon_for(self.instances[i].fsm.state())),
            None if old != new => self.syncd_stop(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn config_of(text: &str) -> Config {
        let loaded = config::load_str(
            std::path::Path::new("keepalived.conf"),
            text,
            &config::LoadOptions::default(),
        );
        assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics);
        loaded.config
    }

    const TWO: &str = "global_defs {\n lvs_sync_daemon eth0 VI_B id 2\n}\n\
        vrrp_instance VI_A {\n interface eth0\n virtual_router_id 1\n}\n\
        vrrp_instance VI_B {\n interface eth0\n virtual_router_id 2\n}\n";

    /// The followed instance's index moves down with the instances a reload removes before
    /// it, and is lost (until found again by name) when the instance itself goes.
    #[test]
    fn the_followed_index_follows_removals() {
        let c = config_of(TWO);
        let mut s = Syncd::new(&c, &["VI_A", "VI_B"]).expect("follows VI_B");
        assert_eq!(s.instance, Some(1));
        s.forget_instance(2);
        assert_eq!(s.instance, Some(1), "an instance after it");
        s.forget_instance(0);
        assert_eq!(s.instance, Some(0), "an instance before it");
        s.forget_instance(0);
        assert_eq!(s.instance, None, "itself");
        // Not running: no daemon.
        assert!(Syncd::new(&c, &["VI_A"]).is_none());
    }

    /// Only the form that follows an instance is the engine's, positions aside.
    #[test]
    fn the_engine_owns_the_following_form_only() {
        let c = config_of(TWO);
        let moved = config_of(&format!("\n\n{TWO}"));
        assert_eq!(following(&c), following(&moved));
        assert_eq!(following(&c).map(|f| f.sync_id), Some(2));
        let aa = config_of(&TWO.replace("VI_B id 2", "active_active id 2"));
        assert!(aa.global.lvs_sync_daemon.is_some());
        assert_eq!(following(&aa), None);
    }
}
