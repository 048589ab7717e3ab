//! SIGHUP: the configuration read again, its `virtual_server` side applied by difference, and
//! the VRRP half compared (typed) with the one the daemon started with: the `vrrp_instance`,
//! `vrrp_script`, `vrrp_sync_group`, `vrrp_track_process`, `track_file`, `static_*` blocks and
//! `global_defs` go to the VRRP engine, which applies them live by difference
//! (`vrrp::engine`'s reload), and so do the notify FIFOs and the `lvs_sync_daemon` that follows
//! an instance; the rkeepalived-only `lvs_sync_daemon IF active_active` daemons are restarted
//! here, for the IPVS side that runs them; a new `net_namespace` is refused with keepalived's
//! line (it takes a restart).

use crate::check::dump::CheckDataSlot;
use crate::config::model::{
    Command, Config, GlobalDefs, InstanceTracking, LvsSyncDaemon, Notify, SyncGroup, TrackScript,
    Tracking, VirtualAddress, VrrpInstance, VrrpScript,
};
use crate::config::routes::{VirtualRoute, VirtualRule};
use crate::config::{self, LoadOptions, Severity};
use crate::ipvs::syncd::ActiveActiveSync;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tracing::{error, info, warn};

/// SIGHUP: reads the config file again and, when it has no error, hands it to the VRRP engine
/// (its `vrrp_instance`, `vrrp_script`, `vrrp_sync_group`, `vrrp_track_process`, `track_file`
/// and `static_*` blocks and `global_defs`, applied by difference: `vrrp::engine`'s reload,
/// with the links, addresses and tracker states they need read here on the blocking pool) and
/// to the IPVS controller, both from this one read, and rebuilds the mailer from it
/// ([`crate::mail::reload`]: router_id and the mail settings are live); with an error (or an
/// unreadable file) the running configuration stays. A new `net_namespace` is not applied:
/// keepalived's line says it takes a restart.
pub(super) struct Reloader {
    pub(super) path: PathBuf,
    pub(super) opts: LoadOptions,
    /// The VRRP half of the configuration last handed to the VRRP side (at start, then at
    /// each reload).
    pub(super) started: VrrpHalf,
    /// The `global_defs` the running mailer was built from (at start, then at each reload:
    /// mail settings are live, see [`crate::mail::reload`]).
    pub(super) mail_global: GlobalDefs,
    /// The VRRP engine's control channel (`None` without VRRP, `-C`).
    pub(super) engine: Option<tokio::sync::mpsc::Sender<crate::vrrp::engine::Control>>,
    /// Whether the IPVS side runs at all (not `-P`).
    pub(super) run_ipvs: bool,
    /// The IPVS controller: reloaded, or started by a reload that brings the first
    /// virtual servers.
    pub(super) ipvs:
        std::sync::Arc<tokio::sync::Mutex<Option<crate::ipvs::controller::Controller>>>,
    pub(super) check_data: CheckDataSlot,
    /// The daemon's state record, for the routes a controller started here announces.
    pub(super) ledger: Option<std::sync::Arc<crate::net::ledger::Ledger>>,
    /// The rkeepalived-only `active_active` sync daemons the IPVS side runs (started before
    /// the runtime, stopped by the daemon at exit): a reload that changes their settings
    /// stops them and starts the new ones.
    pub(super) active_active: ActiveActiveSlot,
    /// The `lvs_sync_daemon` in force, either form, positions aside.
    pub(super) lvs_sync: Option<LvsSyncDaemon>,
}

/// Where the `active_active` sync daemons are held, shared by the start-up, the reloader and
/// the exit.
pub(super) type ActiveActiveSlot = std::sync::Arc<std::sync::Mutex<Option<ActiveActiveSync>>>;

/// Takes the daemons out of `slot` (a poisoned lock still holds them).
pub(super) fn take_active_active(slot: &ActiveActiveSlot) -> Option<ActiveActiveSync> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

impl Reloader {
    pub(super) async fn serve(mut self, mut requests: tokio::sync::mpsc::Receiver<()>) {
        while requests.recv().await.is_some() {
            // systemd: RELOADING=1 until the reload has ended, taken or refused.
            crate::systemd::reloading();
            let ok = self.reload().await;
            // The parse's pages go back to the page cache, as after the start-up.
            crate::resident::shed_read_only_pages();
            crate::metrics::reloaded(ok);
            let outcome = if ok {
                "taken"
            } else {
                "refused, running configuration kept (see the log)"
            };
            crate::systemd::reloaded(outcome);
        }
    }

    /// One reload; false when the file was refused (unreadable, or with errors).
    async fn reload(&mut self) -> bool {
        info!("Reloading the configuration from {}", self.path.display());
        let (path, opts) = (self.path.clone(), self.opts.clone());
        let loaded = match tokio::task::spawn_blocking(move || {
            config::load(&path, &opts).map(crate::script::policy::apply)
        })
        .await
        {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => {
                error!("Reload: {e} - keeping the running configuration");
                return false;
            }
            Err(e) => {
                error!("Reload: {e} - keeping the running configuration");
                return false;
            }
        };
        for d in &loaded.diagnostics.0 {
            match d.severity {
                Severity::Warning => warn!("{d}"),
                Severity::Error => error!("{d}"),
            }
        }
        if loaded.diagnostics.has_errors() {
            error!("Reload: the configuration has errors - keeping the running configuration");
            return false;
        }
        let new = std::sync::Arc::new(loaded.config);
        // Mail settings: the next mail follows the new file (VRRP and checker mails alike).
        crate::mail::reload(&new);
        for c in crate::vrrp::diff::global_defs(&self.mail_global, &new.global) {
            if c.apply == crate::vrrp::diff::GlobalApply::Mail {
                info!(
                    "Reload: global_defs {} changed: used from the next mail",
                    c.name
                );
            }
        }
        self.mail_global = new.global.clone();
        // `lvs_sync_daemon IF active_active` (the IPVS side's, not with -P): changed, the
        // running daemons stop first (a form that now follows an instance starts in the engine
        // after them), the new ones start once the engine applied the reload (a daemon it
        // followed an instance with is stopped then: the kernel runs one daemon per state).
        let lvs_sync = new
            .global
            .lvs_sync_daemon
            .as_ref()
            .map(LvsSyncDaemon::positionless);
        let active_active =
            |l: &Option<LvsSyncDaemon>| l.clone().filter(|l| l.active_active && self.run_ipvs);
        let (aa_old, aa_new) = (active_active(&self.lvs_sync), active_active(&lvs_sync));
        let aa_changed = aa_old != aa_new;
        let engine_had_one = self.lvs_sync.as_ref().is_some_and(|l| !l.active_active);
        if aa_changed {
            let what = match (&aa_old, &aa_new) {
                (None, _) => "started",
                (_, None) => "stopped",
                _ => "restarted",
            };
            info!("Reload: global_defs lvs_sync_daemon changed: active_active sync daemons {what}");
            if let Some(running) = take_active_active(&self.active_active) {
                // Generic netlink requests: off the thread that sends the adverts.
                let _ = tokio::task::spawn_blocking(move || running.stop()).await;
            }
        }
        self.lvs_sync = lvs_sync;
        let half = VrrpHalf::of(&new);
        if half != self.started {
            if half.net_namespace != self.started.net_namespace {
                // keepalived 2.2.7's line (measured), with this program's name.
                warn!("Cannot change network namespace at a reload - please restart rkeepalived");
            }
            if half.live_part_differs(&self.started)
                && let Some(engine) = &self.engine
            {
                // The links and addresses the new plans need, read here on the blocking pool:
                // the VRRP thread then plans without rtnetlink reads between its adverts.
                let config = new.clone();
                let facts = tokio::task::spawn_blocking(move || {
                    crate::vrrp::engine::Engine::reload_facts(&config)
                })
                .await
                .unwrap_or_default();
                let _ = engine
                    .send(crate::vrrp::engine::Control::Reload(
                        new.clone(),
                        Box::new(facts),
                    ))
                    .await;
            }
            self.started.take_live_part(half);
        }
        if aa_changed && aa_new.is_some() {
            if engine_had_one && let Some(engine) = &self.engine {
                let (done, applied) = tokio::sync::oneshot::channel();
                if engine
                    .send(crate::vrrp::engine::Control::Barrier(done))
                    .await
                    .is_ok()
                {
                    let _ = applied.await;
                }
            }
            let started =
                tokio::task::spawn_blocking(move || ActiveActiveSync::start(aa_new.as_ref()))
                    .await
                    .ok()
                    .flatten();
            *self.active_active.lock().unwrap_or_else(|e| e.into_inner()) = started;
        }
        let mut ipvs = self.ipvs.lock().await;
        match ipvs.as_ref() {
            Some(c) => c.reload(new).await,
            None if new.ipvs.virtual_servers.is_empty() => {}
            None if !self.run_ipvs => {
                warn!("Reload: virtual servers are not run with --vrrp (-P)")
            }
            None => {
                // The first virtual servers: the IPVS side starts as it would have at start-up.
                let config = new.clone();
                match tokio::task::spawn_blocking(move || crate::ipvs::program::program(&config))
                    .await
                {
                    Ok(p) if p.unavailable().is_some() => error!(
                        "Reload: virtual_server blocks added but IPVS is not available: \
                         they are not run"
                    ),
                    Ok(p) => {
                        let c = crate::ipvs::controller::Controller::start_programmed(
                            &new,
                            p,
                            self.ledger.clone(),
                        );
                        let _ = self.check_data.set(c.check_data());
                        crate::metrics::set_check_data(c.check_data());
                        *ipvs = Some(c);
                    }
                    Err(e) => error!("Reload: cannot start the IPVS side: {e}"),
                }
            }
        }
        true
    }
}

/// The VRRP half of a configuration: every field of [`Config`] but its `virtual_server` side
/// (`ipvs`, `virtual_servers_seen`), with every source position reset (moving a block, or
/// adding a line above it, is not a change). Two halves are equal when a reload leaves the
/// VRRP side as it runs; they are compared with the model's derived `PartialEq`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct VrrpHalf {
    global: GlobalDefs,
    vrrp_scripts: BTreeMap<String, VrrpScript>,
    vrrp_instances: Vec<VrrpInstance>,
    static_ipaddress: Vec<VirtualAddress>,
    static_routes: Vec<VirtualRoute>,
    static_rules: Vec<VirtualRule>,
    tracking: Tracking,
    net_namespace: Option<String>,
}

impl VrrpHalf {
    /// Whether what the VRRP engine applies live (`vrrp_instance`, `vrrp_script`,
    /// `vrrp_sync_group`, `vrrp_track_process`, `track_file`, `static_*` blocks,
    /// `global_defs`, the notify FIFOs) differs from `running`.
    pub(super) fn live_part_differs(&self, running: &VrrpHalf) -> bool {
        self.vrrp_instances != running.vrrp_instances
            || self.vrrp_scripts != running.vrrp_scripts
            || self.global != running.global
            || self.tracking.sync_groups != running.tracking.sync_groups
            || self.tracking.processes != running.tracking.processes
            || self.tracking.files != running.tracking.files
            || self.tracking.notify_fifo != running.tracking.notify_fifo
            || self.tracking.vrrp_notify_fifo != running.tracking.vrrp_notify_fifo
            || self.static_ipaddress != running.static_ipaddress
            || self.static_routes != running.static_routes
            || self.static_rules != running.static_rules
    }

    /// Takes from `new` what the VRRP engine applied (see [`VrrpHalf::live_part_differs`]); the
    /// rest stays as started, so that it is named again until the next restart.
    pub(super) fn take_live_part(&mut self, new: VrrpHalf) {
        // Every global_defs setting is live (the engine, the mailer or the sync daemons).
        self.global = new.global;
        self.vrrp_instances = new.vrrp_instances;
        self.vrrp_scripts = new.vrrp_scripts;
        self.tracking.sync_groups = new.tracking.sync_groups;
        self.tracking.processes = new.tracking.processes;
        self.tracking.files = new.tracking.files;
        self.tracking.notify_fifo = new.tracking.notify_fifo;
        self.tracking.vrrp_notify_fifo = new.tracking.vrrp_notify_fifo;
        self.static_ipaddress = new.static_ipaddress;
        self.static_routes = new.static_routes;
        self.static_rules = new.static_rules;
    }

    /// The VRRP half of `config`, positions reset.
    pub(super) fn of(config: &Config) -> VrrpHalf {
        // Exhaustive: a field added to Config must be placed in one half or the other.
        let Config {
            global,
            vrrp_scripts,
            vrrp_instances,
            static_ipaddress,
            static_routes,
            static_rules,
            tracking,
            virtual_servers_seen: _,
            ipvs: _,
            net_namespace,
        } = config;
        let mut half = VrrpHalf {
            global: global.clone(),
            vrrp_scripts: vrrp_scripts.clone(),
            vrrp_instances: vrrp_instances.clone(),
            static_ipaddress: static_ipaddress.clone(),
            static_routes: static_routes.clone(),
            static_rules: static_rules.clone(),
            tracking: tracking.clone(),
            net_namespace: net_namespace.clone(),
        };
        half.clear_positions();
        half
    }
}

/// Resets the source positions ([`config::diag::Span`]) a model value carries, so that equality
/// compares settings only.
trait ClearPositions {
    fn clear_positions(&mut self);
}

impl<T: ClearPositions> ClearPositions for Vec<T> {
    fn clear_positions(&mut self) {
        self.iter_mut().for_each(T::clear_positions);
    }
}

impl<T: ClearPositions> ClearPositions for Option<T> {
    fn clear_positions(&mut self) {
        self.iter_mut().for_each(T::clear_positions);
    }
}

impl<T: ClearPositions> ClearPositions for BTreeMap<String, T> {
    fn clear_positions(&mut self) {
        self.values_mut().for_each(T::clear_positions);
    }
}

/// Types whose only position is their own `span` field.
macro_rules! span_only {
    ($($t:ty),*) => {$(
        impl ClearPositions for $t {
            fn clear_positions(&mut self) {
                self.span = Default::default();
            }
        }
    )*};
}
span_only!(
    VirtualAddress,
    TrackScript,
    crate::config::model::TrackInterface,
    crate::config::model::TrackProcess,
    crate::config::model::TrackFile,
    crate::config::model::LvsSyncDaemon
);

impl ClearPositions for VrrpHalf {
    fn clear_positions(&mut self) {
        self.global.lvs_sync_daemon.clear_positions();
        self.vrrp_scripts.clear_positions();
        self.vrrp_instances.clear_positions();
        self.static_ipaddress.clear_positions();
        self.tracking.clear_positions();
    }
}

impl ClearPositions for Command {
    fn clear_positions(&mut self) {
        self.span = Default::default();
    }
}

impl ClearPositions for VrrpScript {
    fn clear_positions(&mut self) {
        self.script.clear_positions();
        self.span = Default::default();
    }
}

impl ClearPositions for Notify {
    fn clear_positions(&mut self) {
        let Notify {
            master,
            backup,
            fault,
            stop,
            any,
        } = self;
        [master, backup, fault, stop, any]
            .into_iter()
            .for_each(ClearPositions::clear_positions);
    }
}

impl ClearPositions for InstanceTracking {
    fn clear_positions(&mut self) {
        self.interfaces.clear_positions();
        self.processes.clear_positions();
        self.files.clear_positions();
    }
}

impl ClearPositions for VrrpInstance {
    fn clear_positions(&mut self) {
        self.virtual_ipaddress.clear_positions();
        self.virtual_ipaddress_excluded.clear_positions();
        self.track_script.clear_positions();
        self.notify.clear_positions();
        self.tracking.clear_positions();
        self.span = Default::default();
    }
}

impl ClearPositions for SyncGroup {
    fn clear_positions(&mut self) {
        self.notify.clear_positions();
        self.tracking.clear_positions();
        self.track_script.clear_positions();
        self.span = Default::default();
    }
}

impl ClearPositions for crate::config::model::NotifyFifo {
    fn clear_positions(&mut self) {
        self.script.clear_positions();
        self.span = Default::default();
    }
}

impl ClearPositions for Tracking {
    fn clear_positions(&mut self) {
        self.processes.clear_positions();
        self.files.clear_positions();
        self.sync_groups.clear_positions();
        self.notify_fifo.clear_positions();
        self.vrrp_notify_fifo.clear_positions();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every span-bearing part of the VRRP half, and a virtual server.
    const CONF: &str = r#"
global_defs {
    router_id r1
    notify_fifo /run/k.fifo
    notify_fifo_script /bin/true
    vrrp_notify_fifo /run/kv.fifo
    vrrp_notify_fifo_script /bin/true
    lvs_sync_daemon lo VI_1 id 3
}
vrrp_script chk {
    script "/bin/true"
    interval 2
}
vrrp_track_process proc {
    process init
}
vrrp_track_file flag {
    file /run/flag
}
static_ipaddress {
    192.0.2.9/32 dev lo
}
vrrp_sync_group G {
    group {
        VI_1
    }
    notify_master /bin/true
    track_script {
        chk
    }
}
vrrp_instance VI_1 {
    interface lo
    virtual_router_id 51
    priority 150
    virtual_ipaddress {
        192.0.2.1/32
    }
    virtual_ipaddress_excluded {
        192.0.2.2/32
    }
    track_script {
        chk
    }
    track_interface {
        lo
    }
    track_process {
        proc
    }
    track_file {
        flag
    }
    notify_master /bin/true
    notify_backup /bin/true
}
virtual_server 192.0.2.1 80 {
    protocol TCP
    real_server 192.0.2.10 80 {
    }
}
"#;

    fn load(text: &str) -> Config {
        let opts = LoadOptions {
            config_id: "test".into(),
            all_config: false,
        };
        let loaded = config::load_str(Path::new("keepalived.conf"), text, &opts);
        let errors: Vec<String> = loaded
            .diagnostics
            .0
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(ToString::to_string)
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        loaded.config
    }

    #[test]
    fn the_fixture_has_every_part_it_is_meant_to_cover() {
        let c = load(CONF);
        assert!(c.global.lvs_sync_daemon.is_some());
        assert!(c.tracking.notify_fifo.as_ref().unwrap().script.is_some());
        assert!(c.tracking.vrrp_notify_fifo.is_some());
        assert_eq!(c.tracking.processes.len(), 1);
        assert_eq!(c.tracking.files.len(), 1);
        assert_eq!(c.tracking.sync_groups.len(), 1);
        assert_eq!(c.static_ipaddress.len(), 1);
        let i = &c.vrrp_instances[0];
        assert_eq!(i.virtual_ipaddress_excluded.len(), 1);
        assert_eq!(i.tracking.interfaces.len(), 1);
        assert_eq!(i.tracking.processes.len(), 1);
        assert_eq!(i.tracking.files.len(), 1);
        assert!(i.notify.master.is_some());
        assert_eq!(c.ipvs.virtual_servers.len(), 1);
    }

    #[test]
    fn no_position_is_left_in_a_half() {
        let half = format!("{:?}", VrrpHalf::of(&load(CONF)));
        let placed: Vec<&str> = half
            .match_indices("line: ")
            .map(|(i, _)| &half[i..(i + 8).min(half.len())])
            .filter(|s| !s.starts_with("line: 0,"))
            .collect();
        assert!(
            half.contains("line: 0,"),
            "the Debug form of Span changed: {half}"
        );
        assert!(placed.is_empty(), "positions left: {placed:?} in {half}");
    }

    #[test]
    fn moved_blocks_are_not_a_change() {
        let a = load(CONF);
        // Every block two lines lower and indented differently.
        let shifted = format!("# moved\n\n{}", CONF.replace("\n    ", "\n      "));
        let b = load(&shifted);
        assert_ne!(a, b, "the positions differ");
        assert_eq!(VrrpHalf::of(&a), VrrpHalf::of(&b));
    }

    #[test]
    fn trackers_and_notify_fifos_are_live() {
        let a = VrrpHalf::of(&load(CONF));
        for edit in [
            // An instance's tracker, a block's quorum, a file's path, a group's tracker.
            CONF.replace("    track_interface {\n        lo\n", "    track_interface {\n        lo weight 5\n"),
            CONF.replace("    process init\n", "    process init\n    quorum 2\n"),
            CONF.replace("file /run/flag", "file /run/other"),
            CONF.replace(
                "    track_script {\n        chk\n    }\n}\nvrrp_instance",
                "    track_script {\n        chk\n    }\n    track_interface {\n        lo\n    }\n}\n\
                 vrrp_instance",
            ),
        ] {
            assert_ne!(CONF, edit, "the edit applies");
            let b = VrrpHalf::of(&load(&edit));
            assert!(b.live_part_differs(&a), "{edit}");
        }
        let fifo = VrrpHalf::of(&load(&CONF.replace("/run/kv.fifo", "/run/kv2.fifo")));
        assert!(fifo.live_part_differs(&a));
    }

    /// `lvs_sync_daemon` changed, removed, or switched to `active_active`: sent to the engine
    /// (and the IPVS side), both ways.
    #[test]
    fn lvs_sync_daemon_is_live() {
        let a = VrrpHalf::of(&load(CONF));
        for edit in [
            CONF.replace(
                "lvs_sync_daemon lo VI_1 id 3",
                "lvs_sync_daemon lo VI_1 id 4",
            ),
            CONF.replace("    lvs_sync_daemon lo VI_1 id 3\n", ""),
            CONF.replace("lo VI_1 id 3", "lo active_active id 3"),
        ] {
            assert_ne!(CONF, edit, "the edit applies");
            let b = VrrpHalf::of(&load(&edit));
            assert!(b.live_part_differs(&a), "{edit}");
            assert!(a.live_part_differs(&b), "{edit}");
        }
    }

    /// Once taken, a global_defs change is not sent to the engine again by the next reload of
    /// the same file; a new net_namespace stays different until the next restart.
    #[test]
    fn a_taken_global_change_is_not_sent_twice() {
        let mut started = VrrpHalf::of(&load(CONF));
        let edited = CONF.replace("router_id r1", "router_id r2");
        let edited = format!("net_namespace other\n{edited}");
        let b = VrrpHalf::of(&load(&edited));
        assert!(b.live_part_differs(&started));
        started.take_live_part(b.clone());
        assert!(!b.live_part_differs(&started));
        assert_ne!(b, started, "net_namespace still differs");
    }

    #[test]
    fn a_vrrp_edit_is_a_change_and_a_virtual_server_edit_is_not() {
        let a = VrrpHalf::of(&load(CONF));
        let priority = load(&CONF.replace("priority 150", "priority 200"));
        assert_ne!(a, VrrpHalf::of(&priority));
        let router_id = load(&CONF.replace("router_id r1", "router_id r2"));
        assert_ne!(a, VrrpHalf::of(&router_id));
        let vs = load(&CONF.replace("192.0.2.10 80", "192.0.2.11 80"));
        assert_eq!(a, VrrpHalf::of(&vs));
    }
}
