//! The IPVS controller: the task that owns the IPVS socket, the table rkeepalived programmed
//! ([`crate::ipvs::program`]) and the health of every real server. It follows the health
//! checkers' transitions ([`crate::ipvs::transition`], then the desired rows of the affected
//! virtual servers, [`crate::ipvs::desired`]), switches to a reloaded config by difference
//! ([`apply_reload`]), and removes exactly its own services at exit (unless `-I` /
//! `--dont-release-ipvs`).
//!
//! Netlink calls block (microseconds on a local socket, but a large table is thousands of
//! messages): at start they run on the main thread before the runtime exists, afterwards on
//! tokio's blocking pool.

use crate::check::build::{RsIndex, runner_carrying, runner_for};
use crate::check::dump::CheckData;
use crate::check::event::RsEvent;
use crate::check::runner::Runner;
use crate::config::model::Config;
use crate::ipvs::announce::{self, Announcer};
use crate::ipvs::desired::{desired_table_with, starting_health, vs_entries};
use crate::ipvs::genl::IpvsSocket;
use crate::ipvs::health::{VsHealth, carried_alive};
use crate::ipvs::model::Table;
use crate::ipvs::program::{Programmed, apply_reload, prepare, program, remove_owned};
use crate::ipvs::reconcile::reconcile;
use crate::ipvs::transition;
use tracing::{error, info, warn};

/// The running controller: a task that owns the IPVS socket, the table it programmed and the
/// health of every real server; checker transitions come in, minimal table changes go out.
pub struct Controller {
    stop: Option<tokio::sync::oneshot::Sender<bool>>,
    reload: tokio::sync::mpsc::Sender<std::sync::Arc<Config>>,
    task: tokio::task::JoinHandle<()>,
    /// What the SIGUSR1 checker data dump shows (replaced on reload).
    check_data: SharedCheckData,
}

/// The checker data of the running configuration, replaced by each reload.
pub type SharedCheckData = std::sync::Arc<std::sync::RwLock<std::sync::Arc<CheckData>>>;

/// The state the controller task owns.
struct Running {
    config: std::sync::Arc<Config>,
    /// The table rkeepalived programmed (and believes the kernel has) is not kept: it is
    /// always [`desired_table_with`] of `config` and `health` (start-up programs it, each
    /// transition and reload sends the change to the next one), so it is computed again where
    /// it is needed (a copy of every destination cost about 90 bytes per real server).
    health: Vec<VsHealth>,
    check_data: SharedCheckData,
    /// The `announce_route` routes of the virtual servers whose quorum is up.
    /// Shared with the blocking pool, where its rtnetlink calls run.
    announcer: std::sync::Arc<std::sync::Mutex<Announcer>>,
}

/// What the SIGUSR1 dump shows for `config` checked by `runner`.
fn checker_data(
    config: &std::sync::Arc<Config>,
    index: &RsIndex,
    runner: &Runner,
) -> std::sync::Arc<CheckData> {
    std::sync::Arc::new(CheckData {
        config: config.clone(),
        index: std::sync::Arc::clone(index),
        board: runner.board(),
    })
}

impl Controller {
    /// Opens the IPVS socket, programs the config's table (on a blocking thread, see
    /// [`program`]) and starts the health checkers; announced routes are recorded in `ledger`.
    pub async fn start(
        config: &std::sync::Arc<Config>,
        ledger: Option<std::sync::Arc<crate::net::ledger::Ledger>>,
    ) -> Controller {
        let shared = std::sync::Arc::clone(config);
        let programmed = match tokio::task::spawn_blocking(move || program(&shared)).await {
            Ok(p) => p,
            Err(e) => {
                error!("IPVS: controller task failed: {e}");
                let health = starting_health(config);
                Programmed {
                    sock: None,
                    unavailable: None,
                    owned: Table::new(),
                    health,
                }
            }
        };
        Controller::start_programmed(config, programmed, ledger)
    }

    /// Starts the health checkers and the task that owns the table [`program`] set up, and
    /// announces the routes of `announce_route` ([`announce`]), recorded in `ledger` (the
    /// supervised daemon's record) so that a dead daemon's routes are withdrawn. Must run
    /// inside the runtime.
    pub fn start_programmed(
        config: &std::sync::Arc<Config>,
        programmed: Programmed,
        ledger: Option<std::sync::Arc<crate::net::ledger::Ledger>>,
    ) -> Controller {
        let Programmed { sock, health, .. } = programmed;
        let (runner, index, problems) = runner_for(config);
        let check_data = std::sync::Arc::new(std::sync::RwLock::new(checker_data(
            config, &index, &runner,
        )));
        for p in problems {
            error!("checker not started: {p}");
        }
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(1);
        let state = Running {
            config: std::sync::Arc::clone(config),
            health,
            check_data: check_data.clone(),
            announcer: std::sync::Arc::new(std::sync::Mutex::new(Announcer::new(ledger))),
        };
        let task = tokio::spawn(state.run(sock, runner, index, stop_rx, reload_rx));
        Controller {
            stop: Some(stop_tx),
            reload: reload_tx,
            task,
            check_data,
        }
    }

    /// The state the SIGUSR1 checker data dump writes.
    pub fn check_data(&self) -> SharedCheckData {
        self.check_data.clone()
    }

    /// Switches the controller to `config` (already validated; SIGHUP): the checkers restart
    /// with it, real servers that stay keep their state, and the table changes by the
    /// difference only ([`apply_reload`]).
    pub async fn reload(&self, config: std::sync::Arc<Config>) {
        if self.reload.send(config).await.is_err() {
            warn!("IPVS: the controller has stopped; reload ignored");
        }
    }

    /// At exit: stops the checkers and removes the owned services unless `dont_release`
    /// (`-I`); with `omega`, runs the quorum_down and notify_down scripts as keepalived does.
    pub async fn stop(mut self, dont_release: bool) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(dont_release);
        }
        let _ = self.task.await;
    }
}

/// Starts `runner` (when it has checks) with a fresh channel for its transitions.
fn start_checkers(
    runner: Runner,
) -> (
    Option<tokio::task::JoinHandle<()>>,
    tokio::sync::mpsc::Receiver<RsEvent>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let task = (runner.distinct_checks() > 0).then(|| tokio::spawn(runner.run(tx)));
    (task, rx)
}

impl Running {
    /// Switches to `config` (validated by the caller): the health carried over from the
    /// running config (`carried`, see [`health::carried_alive`]), the new desired table, and
    /// the difference sent to the kernel ([`apply_reload`], on the blocking pool). Returns the
    /// socket (`None` if it was lost).
    async fn reload(
        &mut self,
        sock: Option<IpvsSocket>,
        config: std::sync::Arc<Config>,
        carried: &[Vec<Option<bool>>],
    ) -> Option<IpvsSocket> {
        let health: Vec<VsHealth> = config
            .ipvs
            .virtual_servers
            .iter()
            .enumerate()
            .map(|(i, vs)| {
                let start = crate::check::build::rs_start(vs);
                VsHealth::with_carried(vs, &start, carried.get(i).map_or(&[], Vec::as_slice))
            })
            .collect();
        let desired = desired_table_with(&config, &health);
        let owned = self.owned();
        let timeouts = crate::config::model::IpvsConfig {
            lvs_timeouts: config.ipvs.lvs_timeouts,
            ..Default::default()
        };
        self.config = config;
        self.health = health;
        let mut sock = sock?;
        let done = tokio::task::spawn_blocking(move || {
            prepare(&mut sock, &timeouts);
            let r = apply_reload(&mut sock, &owned, &desired);
            (sock, desired, r)
        })
        .await;
        match done {
            Ok((sock, desired, r)) => {
                match r {
                    Ok(n) => info!(
                        "IPVS: reloaded: {} virtual service(s) configured ({n} change(s) sent)",
                        desired.len()
                    ),
                    Err(e) => error!("IPVS: reload: {e}"),
                }
                Some(sock)
            }
            Err(e) => {
                error!("IPVS: reload task failed: {e}");
                None
            }
        }
    }

    async fn run(
        mut self,
        mut sock: Option<IpvsSocket>,
        runner: Runner,
        mut index: RsIndex,
        mut stop: tokio::sync::oneshot::Receiver<bool>,
        mut reload: tokio::sync::mpsc::Receiver<std::sync::Arc<Config>>,
    ) {
        let (mut checkers, mut rx) = start_checkers(runner);
        self.announce().await;
        let dont_release = loop {
            tokio::select! {
                r = &mut stop => break r.unwrap_or(false),
                Some(config) = reload.recv() => {
                    // The old checkers stop (their threads end with their event channel) and
                    // their pending transitions are dropped: the new health starts from the
                    // carried state.
                    if let Some(c) = checkers.take() {
                        c.abort();
                    }
                    let carried = carried_alive(&self.config, &self.health, &config);
                    let (runner, new_index, problems) = runner_carrying(&config, &carried);
                    for p in problems {
                        error!("checker not started: {p}");
                    }
                    *self.check_data.write().unwrap_or_else(|e| e.into_inner()) =
                        checker_data(&config, &new_index, &runner);
                    sock = self.reload(sock, config, &carried).await;
                    self.announce().await;
                    index = new_index;
                    (checkers, rx) = start_checkers(runner);
                }
                Some(ev) = rx.recv() => {
                    // Take every transition already queued, then send the table changes of all
                    // affected virtual servers in one pipelined batch (a burst of failures —
                    // a switch dying — becomes one netlink exchange, not one per server).
                    let mut affected = std::collections::BTreeSet::new();
                    // The affected virtual servers' services as programmed, before the
                    // transitions change their health.
                    let mut before = Table::new();
                    let mut next = Some(ev);
                    let mut n = 0;
                    while let Some(ev) = next.take() {
                        if let Some(&(vi, ri)) = index.get(ev.rs) {
                            if affected.insert(vi) {
                                let vs = &self.config.ipvs.virtual_servers[vi];
                                before.extend(vs_entries(&self.config, vs, &self.health[vi]));
                            }
                            self.on_rs_event(vi, ri, &ev);
                        }
                        n += 1;
                        if n < 4096 {
                            next = rx.try_recv().ok();
                        }
                    }
                    sock = self.sync_vs(sock, &affected, &before).await;
                    self.announce().await;
                }
            }
        };
        if let Some(c) = checkers {
            c.abort();
        }
        self.shutdown(sock, dont_release).await;
    }

    /// The table rkeepalived programmed for the running config (see [`Running::health`]).
    fn owned(&self) -> Table {
        desired_table_with(&self.config, &self.health)
    }

    /// Records one real server transition (see [`transition::record`]); the table follows
    /// in [`Running::sync_vs`].
    fn on_rs_event(&mut self, vi: usize, ri: usize, ev: &RsEvent) {
        transition::record(&self.config, vi, ri, &mut self.health[vi], ev);
    }

    /// Brings the kernel's services of the virtual servers `affected` in line with their
    /// health: diffs what we programmed for them (`before`, their services before the
    /// transitions) against the new destinations and sends the minimal
    /// changes in one pipelined batch on tokio's blocking pool. The controller awaits the
    /// batch before it takes the next transitions, so batches go out in order and never
    /// overlap, while the runtime (VRRP) goes on. Returns the socket (`None` if it was lost).
    async fn sync_vs(
        &mut self,
        sock: Option<IpvsSocket>,
        affected: &std::collections::BTreeSet<usize>,
        before: &Table,
    ) -> Option<IpvsSocket> {
        let mut ops = Vec::new();
        for &vi in affected {
            let vs = &self.config.ipvs.virtual_servers[vi];
            let after = vs_entries(&self.config, vs, &self.health[vi]);
            let current: Table = after
                .keys()
                .filter_map(|k| before.get(k).map(|e| (*k, e.clone())))
                .collect();
            ops.extend(reconcile(&after, &current));
        }
        let mut sock = sock?;
        if ops.is_empty() {
            return Some(sock);
        }
        let sent = tokio::task::spawn_blocking(move || {
            let r = sock.apply(&ops);
            (sock, r)
        })
        .await;
        match sent {
            Ok((sock, r)) => {
                match r {
                    Ok(failed) => {
                        for (op, e) in failed {
                            error!("IPVS: cannot {op}: {e}");
                        }
                    }
                    Err(e) => error!("IPVS: {e}"),
                }
                Some(sock)
            }
            Err(e) => {
                error!("IPVS: update task failed: {e}");
                None
            }
        }
    }

    /// Announces the routes of the virtual servers whose quorum is up and withdraws the
    /// others' (after the table changes: traffic is attracted only once it can be served).
    /// The rtnetlink calls run on the blocking pool, awaited (in order); nothing leaves the
    /// runtime when the announced set does not change.
    async fn announce(&mut self) {
        let wanted = announce::routes(&self.config, &self.health);
        let announcer = self.announcer.clone();
        if lock(&announcer).holds(&wanted) {
            return;
        }
        if let Err(e) = tokio::task::spawn_blocking(move || lock(&announcer).sync(wanted)).await {
            error!("announce_route: update task failed: {e}");
        }
    }

    async fn shutdown(self, sock: Option<IpvsSocket>, dont_release: bool) {
        // Stop attracting traffic first, also with -I: nothing checks the real servers now.
        let announcer = self.announcer.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || lock(&announcer).withdraw_all()).await {
            error!("announce_route: withdrawal task failed: {e}");
        }
        for vs in &self.config.ipvs.virtual_servers {
            if !vs.health.omega {
                continue;
            }
            if let Some(c) = &vs.health.quorum_down {
                crate::script::spawn_command(c);
            }
            for rs in &vs.real_servers {
                if let Some(c) = &rs.health.notify_down {
                    crate::script::spawn_command(c);
                }
            }
        }
        let Some(mut sock) = sock else { return };
        if dont_release {
            info!("IPVS: leaving the virtual services in place (--dont-release-ipvs)");
            return;
        }
        let owned = self.owned();
        let r = tokio::task::spawn_blocking(move || remove_owned(&mut sock, &owned)).await;
        match r {
            Ok(Ok(n)) => info!("IPVS: removed {n} virtual service(s)"),
            Ok(Err(e)) => warn!("IPVS: cannot remove the virtual services: {e}"),
            Err(e) => warn!("IPVS: teardown task failed: {e}"),
        }
    }
}

/// The announcer, also after a panic on the blocking pool (its state is a list of routes).
fn lock(a: &std::sync::Mutex<Announcer>) -> std::sync::MutexGuard<'_, Announcer> {
    a.lock().unwrap_or_else(|e| e.into_inner())
}
