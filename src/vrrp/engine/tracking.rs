//! The engine's trackers: the `vrrp_script` runners (started at start-up and by reloads),
//! `track_interface` (and the instance's own interface), `vrrp_track_process`, `track_file`;
//! sync groups; notify FIFOs and group notifies. Lives in a child module of the engine so that it can reach the engine's state
//! while keeping `engine.rs` small.
//!
//! ```text
//!  link monitor thread ──(LinkEvent)──┐
//!  /proc poller task ───(TrackEvent)──┼──► Engine::on_track_event ──► retrack ──► fsm inputs
//!  track_file poller task ────────────┘                                 │
//!                                                   sync groups ◄──────┘ (member changes)
//! ```

use super::{Engine, ScriptState};
use crate::config::model::{Config, Notify, TrackProcess};
use crate::net::link_monitor::{self, LinkEvent};
use crate::notify::{self, NotifyFifos};
use crate::script;
use crate::track_file;
use crate::vrrp::fsm::{Input, State};
use crate::vrrp::sync_group::{SyncAction, SyncGroup};
use crate::vrrp::track::{self, TrackValue, TrackWeight};
use crate::vrrp::track_process;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// A tracker other than a `vrrp_script`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum TrackerId {
    Interface(String),
    Process(String),
    File(String),
}

/// A change reported by one of the tracker tasks.
#[derive(Debug)]
pub(super) enum TrackEvent {
    Link(LinkEvent),
    Process { name: String, up: bool },
    File { name: String, value: i64 },
}

/// Tracker, sync group and FIFO state of the engine.
#[derive(Default)]
pub(super) struct TrackState {
    /// Per instance: its trackers other than scripts, with their weights.
    extra: Vec<Vec<(TrackerId, TrackWeight)>>,
    /// Current value of each tracker.
    values: HashMap<TrackerId, TrackValue>,
    /// Per instance: the fault last fed (directly or through its group).
    own_fault: Vec<bool>,
    groups: Vec<SyncGroup>,
    /// Per group: its notify commands.
    group_notify: Vec<Notify>,
    /// Per instance: the group it belongs to.
    group_of: Vec<Option<usize>>,
    /// Per instance: the Master_Down_Timer it was held with (keepalived wantstate MASTER).
    held: Vec<Option<Instant>>,
    /// Member state changes not yet shown to their sync group.
    changed: Vec<(usize, State)>,
    in_sync: bool,
    fifos: Option<NotifyFifos>,
    processes: Vec<TrackProcess>,
    files: Vec<(String, PathBuf)>,
    links: Vec<String>,
}

fn weight_of(w: Option<i32>, reverse: bool, default_w: i32, default_rev: bool) -> TrackWeight {
    match w {
        Some(weight) => TrackWeight { weight, reverse },
        None => TrackWeight {
            weight: default_w,
            reverse: default_rev,
        },
    }
}

impl Engine {
    /// Starts the runner task of `vrrp_script` `name` (its tracker exists), with a new run
    /// number: results of an earlier runner of the same name are dropped from then on. A script
    /// whose user cannot be resolved is logged and not run (its tracker stays unknown).
    pub(super) fn start_script(&mut self, name: &str) {
        let Some(tx) = self.script_tx.clone() else {
            return; // before Engine::run: it starts every tracker's runner
        };
        let Some(s) = self.scripts.get(name).cloned() else {
            return;
        };
        self.stop_script(name);
        let run_as = match script::run_as_for(s.user.as_ref()) {
            Ok(r) => r,
            Err(e) => {
                warn!("VRRP_Script({name}) not started: {e}");
                return;
            }
        };
        self.script_run_seq += 1;
        let run = self.script_run_seq;
        let task = tokio::spawn(super::run_vrrp_script(s, run, run_as, tx));
        self.script_runs
            .insert(name.to_string(), (run, task.abort_handle()));
    }

    /// Stops the runner task of `vrrp_script` `name`, if it runs (a script it started finishes
    /// on its own and is reaped; its result is dropped).
    pub(super) fn stop_script(&mut self, name: &str) {
        if let Some((_, task)) = self.script_runs.remove(name) {
            task.abort();
        }
    }

    /// The `track_script` list instance `i` runs with, from its plan's `tracks`: as a sync
    /// group member (`config`'s groups) without `sync_group_tracking_weight` its weighted
    /// scripts are left out, and its group's `track_script`s are added (as
    /// [`Engine::build_tracking`] does at start-up).
    pub(super) fn member_tracks(
        &self,
        config: &Config,
        name: &str,
        tracks: &[(String, TrackWeight)],
    ) -> Vec<(String, TrackWeight)> {
        let Some(g) = config
            .tracking
            .sync_groups
            .iter()
            .find(|g| g.members.iter().any(|m| m == name))
        else {
            return tracks.to_vec();
        };
        let mut out: Vec<(String, TrackWeight)> = tracks
            .iter()
            .filter(|(_, w)| g.tracking_weight || w.weight == 0)
            .cloned()
            .collect();
        for r in &g.track_script {
            if let Some(s) = config.vrrp_scripts.get(&r.name)
                && !out.iter().any(|(n, _)| *n == r.name)
            {
                out.push((
                    r.name.clone(),
                    weight_of(r.weight, r.reverse, s.weight, s.weight_reverse),
                ));
            }
        }
        out
    }

    /// Builds tracker lists, sync groups and FIFOs once the instances exist (called from
    /// `Engine::new` before the `vrrp_script` trackers are created, because sync groups add
    /// their `track_script`s to their members and drop the members' weighted ones).
    /// The tracking state of an instance appended by a reload (no sync group, no
    /// track_interface/process/file: the reload checks that): its own interface, when the
    /// link monitor already follows it and `dont_track_primary` is not set.
    pub(super) fn track_added_instance(&mut self, own_if: Option<&str>, dont_track_primary: bool) {
        let st = &mut self.trk;
        let own = own_if
            .filter(|n| !dont_track_primary && st.links.iter().any(|l| l == n))
            .map(|n| {
                (
                    TrackerId::Interface(n.to_string()),
                    TrackWeight {
                        weight: 0,
                        reverse: false,
                    },
                )
            });
        st.extra.push(own.into_iter().collect());
        st.own_fault.push(false);
        st.group_of.push(None);
        st.held.push(None);
    }

    /// Whether a reload may take an instance out of [`Engine::instances`]: no `lvs_sync_daemon`
    /// holds instance indexes then (sync groups are renumbered, see
    /// [`Engine::forget_instance`]).
    pub(super) fn can_forget_instances(&self) -> bool {
        self.syncd.is_none()
    }

    /// Whether no sync group runs.
    pub(super) fn has_no_groups(&self) -> bool {
        self.trk.groups.is_empty()
    }

    /// Instance `i`, about to stop for good (a reload removes it), leaves its sync group first,
    /// so that its stop does not take the group along.
    pub(super) fn leave_group(&mut self, i: usize) {
        if let Some(gi) = self.trk.group_of.get(i).copied().flatten() {
            self.trk.groups[gi].remove_member(i);
            self.trk.group_of[i] = None;
        }
    }

    /// A reload: the sync groups of `config` over the running instances (after the instances
    /// were added and removed). A group whose members did not change keeps running as it is
    /// (its state, its members' faults); an added group, or one whose members changed, is
    /// formed again in BACKUP and re-evaluated from its members as keepalived's groups are: a
    /// member in FAULT takes the group to FAULT, else a MASTER member takes it (and the
    /// BACKUP members) to MASTER. A removed group's members run on their own. The members'
    /// script weights follow their group's rules ([`Engine::member_tracks`]). One line is
    /// logged per group changed.
    pub(super) async fn regroup(&mut self, config: &Config) {
        let n = self.instances.len();
        let index: HashMap<String, usize> = self
            .instances
            .iter()
            .enumerate()
            .map(|(i, r)| (r.cfg.name.clone(), i))
            .collect();
        let mut groups = Vec::new();
        let mut group_notify = Vec::new();
        let mut group_of = vec![None; n];
        let mut formed = Vec::new();
        for g in &config.tracking.sync_groups {
            let members: Vec<usize> = g
                .members
                .iter()
                .filter_map(|m| index.get(m).copied())
                .collect();
            if members.is_empty() {
                continue;
            }
            let gi = groups.len();
            for &m in &members {
                group_of[m] = Some(gi);
            }
            match self.trk.groups.iter().find(|o| o.name() == g.name) {
                Some(old) if old.members() == members.as_slice() => groups.push(old.clone()),
                old => {
                    info!(
                        "Reload: vrrp_sync_group {} {}",
                        g.name,
                        if old.is_some() {
                            "members changed"
                        } else {
                            "added"
                        }
                    );
                    groups.push(SyncGroup::new(g.name.clone(), members).with_state(State::Backup));
                    formed.push(gi);
                }
            }
            group_notify.push(g.notify.clone());
        }
        for old in &self.trk.groups {
            if !groups.iter().any(|g| g.name() == old.name()) {
                info!("Reload: vrrp_sync_group {} removed", old.name());
            }
        }
        self.trk.groups = groups;
        self.trk.group_notify = group_notify;
        self.trk.group_of = group_of;
        self.trk.changed.clear();
        for i in 0..n {
            let (name, plan_tracks) = (
                self.instances[i].cfg.name.clone(),
                self.instances[i].plan.tracks.clone(),
            );
            self.instances[i].tracks = self.member_tracks(config, &name, &plan_tracks);
        }
        for gi in formed {
            let members = self.trk.groups[gi].members().to_vec();
            for &m in &members {
                self.trk.held[m] = None;
                let fault = self.trk.own_fault[m];
                let _ = self.trk.groups[gi].set_member_fault(m, fault);
            }
            let states: Vec<State> = self.instances.iter().map(|r| r.fsm.state()).collect();
            let lead = members
                .iter()
                .find(|&&m| states[m] == State::Fault)
                .or_else(|| members.iter().find(|&&m| states[m] == State::Master));
            if let Some(&m) = lead {
                let acts = self.trk.groups[gi].on_member_change(m, states[m], |j| states[j]);
                self.run_sync_actions(gi, acts).await;
            }
        }
        self.retrack().await;
    }

    /// Forgets the tracking state of instance `i`, removed by a reload (see
    /// [`Engine::can_forget_instances`]); the instances after it move down by one.
    pub(super) fn forget_instance(&mut self, i: usize) {
        let st = &mut self.trk;
        for v in [&mut st.own_fault] {
            if i < v.len() {
                v.remove(i);
            }
        }
        if i < st.extra.len() {
            st.extra.remove(i);
        }
        if i < st.group_of.len() {
            st.group_of.remove(i);
        }
        for g in &mut st.groups {
            g.remove_member(i);
            g.renumber_after_removal(i);
        }
        if i < st.held.len() {
            st.held.remove(i);
        }
        st.changed.retain(|(m, _)| *m != i);
        for (m, _) in &mut st.changed {
            if *m > i {
                *m -= 1;
            }
        }
    }

    pub(super) fn build_tracking(&mut self, config: &Config) {
        let n = self.instances.len();
        let t = &config.tracking;
        let mut st = TrackState {
            extra: vec![Vec::new(); n],
            own_fault: vec![false; n],
            group_of: vec![None; n],
            held: vec![None; n],
            ..TrackState::default()
        };
        let index: HashMap<String, usize> = self
            .instances
            .iter()
            .enumerate()
            .map(|(i, r)| (r.cfg.name.clone(), i))
            .collect();

        // Sync groups (members that failed to start are left out).
        for g in &t.sync_groups {
            let members: Vec<usize> = g
                .members
                .iter()
                .filter_map(|m| index.get(m).copied())
                .collect();
            if members.is_empty() {
                continue;
            }
            let gi = st.groups.len();
            for &m in &members {
                st.group_of[m] = Some(gi);
            }
            st.groups.push(SyncGroup::new(g.name.clone(), members));
            st.group_notify.push(g.notify.clone());
        }

        for i in 0..n {
            let cfg = self.instances[i].cfg.clone();
            let group = st.group_of[i].map(|gi| &t.sync_groups[gi]);
            let own_if = cfg.interface.clone();
            let tr = &cfg.tracking;
            // keepalived vrrp_complete_instance: members of a sync group without
            // sync_group_tracking_weight lose their weighted trackers.
            let strip = group.is_some_and(|g| !g.tracking_weight);
            let mut list: Vec<(TrackerId, TrackWeight)> = Vec::new();
            for ti in &tr.interfaces {
                if Some(&ti.name) == own_if.as_ref() && !tr.dont_track_primary {
                    info!(
                        "({}) Ignoring track_interface {} since own interface",
                        cfg.name, ti.name
                    );
                    continue;
                }
                let w = TrackWeight {
                    weight: ti.weight,
                    reverse: ti.reverse,
                };
                if strip && w.weight != 0 {
                    warn!(
                        "({}) ignoring tracked interface {} with weight {} due to SYNC group",
                        cfg.name, ti.name, w.weight
                    );
                    continue;
                }
                list.push((TrackerId::Interface(ti.name.clone()), w));
            }
            for r in &tr.processes {
                let Some(p) = t.processes.get(&r.name) else {
                    continue;
                };
                let w = weight_of(r.weight, r.reverse, p.weight, p.weight_reverse);
                if strip && w.weight != 0 {
                    warn!(
                        "({}) ignoring tracked process {} with weight {} due to SYNC group",
                        cfg.name, r.name, w.weight
                    );
                    continue;
                }
                list.push((TrackerId::Process(r.name.clone()), w));
            }
            for r in &tr.files {
                let Some(f) = t.files.get(&r.name) else {
                    continue;
                };
                let w = weight_of(r.weight, r.reverse, f.weight, f.weight_reverse);
                if strip && w.weight != 0 {
                    warn!(
                        "({}) ignoring tracked file {} with weight {} due to SYNC group",
                        cfg.name, r.name, w.weight
                    );
                    continue;
                }
                list.push((TrackerId::File(r.name.clone()), w));
            }
            if strip {
                let before: Vec<String> = self.instances[i]
                    .tracks
                    .iter()
                    .filter(|(_, w)| w.weight != 0)
                    .map(|(n, w)| format!("{n} with weight {}", w.weight))
                    .collect();
                for b in before {
                    warn!(
                        "({}) ignoring tracked script {b} due to SYNC group",
                        cfg.name
                    );
                }
                self.instances[i].tracks.retain(|(_, w)| w.weight == 0);
            }
            // The group's own trackers apply to every member, with their weights.
            if let Some(g) = group {
                for ti in &g.tracking.interfaces {
                    list.push((
                        TrackerId::Interface(ti.name.clone()),
                        TrackWeight {
                            weight: ti.weight,
                            reverse: ti.reverse,
                        },
                    ));
                }
                for r in &g.tracking.processes {
                    if let Some(p) = t.processes.get(&r.name) {
                        let w = weight_of(r.weight, r.reverse, p.weight, p.weight_reverse);
                        list.push((TrackerId::Process(r.name.clone()), w));
                    }
                }
                for r in &g.tracking.files {
                    if let Some(f) = t.files.get(&r.name) {
                        let w = weight_of(r.weight, r.reverse, f.weight, f.weight_reverse);
                        list.push((TrackerId::File(r.name.clone()), w));
                    }
                }
                for r in &g.track_script {
                    if let Some(s) = config.vrrp_scripts.get(&r.name)
                        && !self.instances[i].tracks.iter().any(|(n, _)| *n == r.name)
                    {
                        let w = weight_of(r.weight, r.reverse, s.weight, s.weight_reverse);
                        self.instances[i].tracks.push((r.name.clone(), w));
                    }
                }
            }
            // The instance's own interface: link down = FAULT (keepalived), unless
            // dont_track_primary.
            if let Some(ifname) = own_if
                && !tr.dont_track_primary
            {
                list.push((
                    TrackerId::Interface(ifname),
                    TrackWeight {
                        weight: 0,
                        reverse: false,
                    },
                ));
            }
            st.extra[i] = list;
        }

        // Initial values, read before Startup (keepalived reads them at init).
        let mut wanted: Vec<TrackerId> = st
            .extra
            .iter()
            .flatten()
            .map(|(id, _)| id.clone())
            .collect();
        wanted.sort();
        wanted.dedup();
        let procs_needed: Vec<&TrackProcess> = wanted
            .iter()
            .filter_map(|id| match id {
                TrackerId::Process(n) => t.processes.get(n),
                _ => None,
            })
            .collect();
        let snapshot = if procs_needed.is_empty() {
            Vec::new()
        } else {
            track_process::scan_proc(procs_needed.iter().any(|p| track_process::needs_cmdline(p)))
        };
        for id in wanted {
            let value = match &id {
                TrackerId::Interface(name) => {
                    st.links.push(name.clone());
                    let up = self.netlink.link(name).map(|l| l.up).unwrap_or(false);
                    TrackValue::State(if up {
                        ScriptState::Up
                    } else {
                        ScriptState::Down
                    })
                }
                TrackerId::Process(name) => {
                    let p = &t.processes[name];
                    st.processes.push(p.clone());
                    let up = track_process::count(p, &snapshot) >= p.quorum
                        && p.quorum_max
                            .is_none_or(|m| track_process::count(p, &snapshot) <= m);
                    TrackValue::State(if up {
                        ScriptState::Up
                    } else {
                        ScriptState::Down
                    })
                }
                TrackerId::File(name) => {
                    let f = &t.files[name];
                    if let Err(e) = track_file::init_file(f) {
                        warn!(
                            "track_file {name}: cannot initialise {}: {e}",
                            f.file.display()
                        );
                    }
                    st.files.push((name.clone(), f.file.clone()));
                    TrackValue::File(track_file::read_value(&f.file))
                }
            };
            st.values.insert(id, value);
        }
        st.fifos = Some(NotifyFifos::open(t, self.default_run_as));
        self.trk = st;
    }

    /// Starts the link monitor and the process and file pollers; returns their channel.
    pub(super) fn start_trackers(&self) -> mpsc::Receiver<TrackEvent> {
        let (tx, rx) = mpsc::channel::<TrackEvent>(256);
        if !self.trk.links.is_empty() {
            let (ltx, mut lrx) = mpsc::channel::<LinkEvent>(256);
            match link_monitor::spawn(ltx) {
                Ok(()) => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        while let Some(ev) = lrx.recv().await {
                            if tx.send(TrackEvent::Link(ev)).await.is_err() {
                                return;
                            }
                        }
                    });
                }
                Err(e) => warn!("cannot monitor link state: {e}"),
            }
        }
        if !self.trk.processes.is_empty() {
            let specs = self.trk.processes.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let with_cmd = specs.iter().any(track_process::needs_cmdline);
                let first = tokio::task::spawn_blocking(move || track_process::scan_proc(with_cmd))
                    .await
                    .unwrap_or_default();
                let mut quorums: Vec<track_process::Quorum> = specs
                    .iter()
                    .map(|s| track_process::Quorum::new(s, track_process::count(s, &first)))
                    .collect();
                // The engine already holds the initial states; report the first scan's.
                for (s, q) in specs.iter().zip(&quorums) {
                    let _ = tx
                        .send(TrackEvent::Process {
                            name: s.name.clone(),
                            up: q.up(),
                        })
                        .await;
                }
                let mut tick = tokio::time::interval(track_process::POLL_INTERVAL);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let procs =
                        tokio::task::spawn_blocking(move || track_process::scan_proc(with_cmd))
                            .await
                            .unwrap_or_default();
                    let now = Instant::now();
                    for (s, q) in specs.iter().zip(quorums.iter_mut()) {
                        if let Some(up) = q.update(now, track_process::count(s, &procs))
                            && tx
                                .send(TrackEvent::Process {
                                    name: s.name.clone(),
                                    up,
                                })
                                .await
                                .is_err()
                        {
                            return;
                        }
                    }
                }
            });
        }
        if !self.trk.files.is_empty() {
            let files = self
                .trk
                .files
                .iter()
                .map(|(n, p)| (n.clone(), p.clone(), None));
            track_file::spawn_watcher(files.collect(), tx, |name, value| TrackEvent::File {
                name,
                value,
            });
        }
        rx
    }

    /// A tracker changed: record it and recompute the instances.
    pub(super) async fn on_track_event(&mut self, ev: TrackEvent) {
        let (id, value) = match ev {
            TrackEvent::Link(LinkEvent { name, up }) => {
                let id = TrackerId::Interface(name.clone());
                let value = TrackValue::State(if up {
                    ScriptState::Up
                } else {
                    ScriptState::Down
                });
                if self.trk.values.get(&id).is_some_and(|v| *v != value) {
                    info!("Netlink reports {name} {}", if up { "up" } else { "down" });
                }
                (id, value)
            }
            TrackEvent::Process { name, up } => {
                let id = TrackerId::Process(name.clone());
                let value = TrackValue::State(if up {
                    ScriptState::Up
                } else {
                    ScriptState::Down
                });
                if self.trk.values.get(&id).is_some_and(|v| *v != value) {
                    if up {
                        info!("Quorum gained for tracked process {name}");
                    } else {
                        info!("Quorum lost for tracked process {name}");
                    }
                }
                (id, value)
            }
            TrackEvent::File { name, value } => (TrackerId::File(name), TrackValue::File(value)),
        };
        match self.trk.values.get(&id) {
            None => return, // not tracked by anyone
            Some(v) if *v == value => return,
            Some(_) => {}
        }
        self.trk.values.insert(id, value);
        self.retrack().await;
    }

    /// Recomputes every instance's effective priority and fault from all of its trackers
    /// (scripts, interfaces, processes, files) and feeds the changes to the FSMs; faults of
    /// sync group members go through their group.
    pub(super) async fn retrack(&mut self) {
        let now = Instant::now();
        for i in 0..self.instances.len() {
            let rt = &self.instances[i];
            let scripts = rt.tracks.iter().map(|(n, w)| {
                let s = self
                    .trackers
                    .get(n)
                    .map_or(ScriptState::Unknown, |t| t.state());
                (TrackValue::State(s), *w)
            });
            let extra = self.trk.extra.get(i).into_iter().flatten().map(|(id, w)| {
                (
                    self.trk
                        .values
                        .get(id)
                        .copied()
                        .unwrap_or(TrackValue::State(ScriptState::Unknown)),
                    *w,
                )
            });
            let mut tracked = track::effective_priority_all(rt.cfg.priority, scripts.chain(extra));
            // An instance parked for its interface or source address stays in FAULT.
            tracked.fault |= rt.parked.is_some();
            let before = rt.last_tracked;
            self.instances[i].last_tracked = tracked;
            if tracked.priority != before.priority {
                let actions = self.instances[i]
                    .fsm
                    .handle(now, Input::SetPriority(tracked.priority));
                self.execute(i, actions).await;
            }
            if tracked.fault != self.trk.own_fault.get(i).copied().unwrap_or(false) {
                self.trk.own_fault[i] = tracked.fault;
                match self.trk.group_of[i] {
                    Some(gi) => {
                        let acts = self.trk.groups[gi].set_member_fault(i, tracked.fault);
                        self.run_sync_actions(gi, acts).await;
                    }
                    None => {
                        let actions = self.instances[i]
                            .fsm
                            .handle(now, Input::Fault(tracked.fault));
                        self.execute(i, actions).await;
                    }
                }
            }
        }
    }

    /// The fault last fed to instance `i` (directly or through its group).
    pub(super) fn trk_own_fault(&self, i: usize) -> bool {
        self.trk.own_fault.get(i).copied().unwrap_or(false)
    }

    /// Before the instances start: the groups report BACKUP, and the initial tracker values
    /// are applied (an instance with a failed tracker then starts in FAULT).
    pub(super) async fn tracking_startup(&mut self) {
        for gi in 0..self.trk.groups.len() {
            let acts = self.trk.groups[gi].startup();
            self.run_sync_actions(gi, acts).await;
        }
        self.retrack().await;
    }

    /// Shutdown begins: the FIFO scripts are stopped first, as keepalived does.
    pub(super) fn tracking_shutdown_begin(&mut self) {
        if let Some(f) = self.trk.fifos.as_mut() {
            f.stop_scripts();
        }
    }

    /// After every instance stopped: groups report STOP, FIFOs are removed.
    pub(super) async fn tracking_shutdown(&mut self) {
        for gi in 0..self.trk.groups.len() {
            let acts = self.trk.groups[gi].shutdown();
            self.run_sync_actions(gi, acts).await;
        }
        if let Some(f) = self.trk.fifos.as_mut() {
            f.close();
        }
        // keepalived gives notify scripts still running (notify_stop) about 1 s, then kills
        // them.
        script::stop_detached(std::time::Duration::from_secs(1)).await;
    }

    /// keepalived `vrrp_sync_can_goto_master` at the Master_Down_Timer: returns `true` when
    /// instance `i` must not poll now (it was held and its timer re-armed).
    pub(super) fn sync_hold(&mut self, i: usize, now: Instant) -> bool {
        let Some(gi) = self.trk.group_of.get(i).copied().flatten() else {
            return false;
        };
        if !self.instances[i].fsm.master_down_due(now) {
            return false;
        }
        // A member wants MASTER once its own timeout was handled (held) or it is MASTER. One
        // whose timer is due but not handled yet does not count, as in keepalived, which
        // handles the timeouts one by one: the member handled last finds the others waiting,
        // goes MASTER first and takes the others along in group order (measured with
        // keepalived 2.2.7 on the upstream `vrrp.sync` sample: VI_9 first, then VI_1, VI_2,
        // VI_5...; their VIPs, added in that order, decide the primary address).
        let wants = |j: usize| {
            let f = &self.instances[j].fsm;
            f.state() == State::Master
                || (f.state() == State::Backup
                    && self.trk.held[j].is_some()
                    && self.trk.held[j] == f.master_down_at())
        };
        if self.trk.groups[gi].can_goto_master(i, wants) {
            self.trk.held[i] = None;
            return false;
        }
        self.instances[i].fsm.hold_master_down(now);
        self.trk.held[i] = self.instances[i].fsm.master_down_at();
        true
    }

    /// Records a member's state change for its sync group and, at the outermost level,
    /// lets the groups react (their actions may change more members).
    pub(super) async fn after_state_change(&mut self, i: usize, to: State) {
        if self.trk.group_of.get(i).copied().flatten().is_none() {
            return;
        }
        self.trk.changed.push((i, to));
        if self.trk.in_sync {
            return;
        }
        self.trk.in_sync = true;
        // Each round moves a group to a new state; the bound is a guard.
        for _ in 0..64 {
            if self.trk.changed.is_empty() {
                break;
            }
            let (m, to) = self.trk.changed.remove(0);
            let Some(gi) = self.trk.group_of[m] else {
                continue;
            };
            let states: Vec<State> = self.instances.iter().map(|r| r.fsm.state()).collect();
            let acts = self.trk.groups[gi].on_member_change(m, to, |j| states[j]);
            Box::pin(self.run_sync_actions(gi, acts)).await;
        }
        self.trk.in_sync = false;
    }

    async fn run_sync_actions(&mut self, gi: usize, acts: Vec<SyncAction>) {
        let now = Instant::now();
        for a in acts {
            match a {
                SyncAction::Log(line) => info!("{line}"),
                SyncAction::Fault(j, f) => {
                    let actions = self.instances[j].fsm.handle(now, Input::Fault(f));
                    Box::pin(self.execute(j, actions)).await;
                }
                SyncAction::ForceMaster(j) => {
                    self.trk.held[j] = None;
                    let actions = self.instances[j].fsm.force_master(now);
                    Box::pin(self.execute(j, actions)).await;
                }
                SyncAction::ForceBackup(j) => {
                    let actions = self.instances[j].fsm.force_backup(now);
                    Box::pin(self.execute(j, actions)).await;
                }
                SyncAction::Notify(state) => self.group_notify(gi, state),
            }
        }
    }

    /// Group notify scripts (`notify_master`… then `notify` with `GROUP NAME STATE 0`)
    /// and the FIFO line.
    fn group_notify(&mut self, gi: usize, state: State) {
        let name = self.trk.groups[gi].name().to_string();
        let word = notify::state_word(state);
        let n = self.trk.group_notify[gi].clone();
        self.notify(n, "GROUP", name.clone(), state, 0);
        if let Some(f) = self.trk.fifos.as_mut() {
            f.write(&notify::fifo_line(true, &name, word, 0));
        }
        crate::mail::vrrp_state(true, &name, word);
    }

    /// The FIFO line of an instance state change.
    pub(super) fn instance_fifo(&mut self, i: usize, to: State) {
        if matches!(to, State::Init) {
            return;
        }
        let rt = &self.instances[i];
        let line = notify::fifo_line(
            false,
            &rt.cfg.name,
            notify::state_word(to),
            rt.fsm.effective_priority().0,
        );
        if let Some(f) = self.trk.fifos.as_mut() {
            f.write(&line);
        }
        crate::mail::vrrp_state(false, &self.instances[i].cfg.name, notify::state_word(to));
    }
}
