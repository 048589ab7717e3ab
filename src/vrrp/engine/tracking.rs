//! The engine's trackers: the `vrrp_script` runners (started at start-up and by reloads),
//! `track_interface` (and the instance's own interface), `vrrp_track_process`, `track_file`
//! (their lists built by [`track::instance_trackers`] at start-up and at each reload, which
//! applies them by difference: [`Engine::reload_trackers`]); sync groups; notify FIFOs and
//! group notifies. Lives in a child module of the engine so that it can reach the engine's
//! state while keeping `engine.rs` small.
//!
//! ```text
//!  link monitor thread ──(LinkEvent)──┐
//!  /proc poller task ───(TrackEvent)──┼──► Engine::on_track_event ──► retrack ──► fsm inputs
//!  track_file poller task ────────────┘                                 │
//!                                                   sync groups ◄──────┘ (member changes)
//! ```

use super::{Engine, ScriptState};
use crate::config::model::{Config, Notify, TrackFile, TrackProcess};
use crate::net::link_monitor::{self, LinkEvent};
use crate::notify::{self, NotifyFifos};
use crate::script;
use crate::track_file;
use crate::vrrp::diff::{self, TrackerChange};
use crate::vrrp::fsm::{Input, State};
use crate::vrrp::sync_group::{SyncAction, SyncGroup};
use crate::vrrp::track::{self, TrackValue, TrackWeight, TrackerId};
use crate::vrrp::track_process;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Instant;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// A change reported by one of the tracker tasks. `run` is the run of the poller that sent it
/// (a reload that changes what is polled starts new pollers; the old ones' late events are
/// dropped).
#[derive(Debug)]
pub(super) enum TrackEvent {
    Link(LinkEvent),
    Process { name: String, up: bool, run: u64 },
    File { name: String, value: i64, run: u64 },
}

/// What a reload reads for the trackers of the new file, off the VRRP thread (see
/// [`super::Engine::reload_facts`]): each tracked link's state, each tracked
/// `vrrp_track_process` block's quorum state from one `/proc` scan, each tracked
/// `track_file`'s value (a missing file is created from `init_file` first, as keepalived does
/// at a reload; an existing one is never overwritten then).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackFacts {
    /// Interface name -> up and running.
    pub links: BTreeMap<String, bool>,
    /// `vrrp_track_process` name -> in quorum.
    pub processes: BTreeMap<String, bool>,
    /// `track_file` name -> the number in the file.
    pub files: BTreeMap<String, i64>,
}

impl TrackFacts {
    /// Reads the state of every tracker the instances of `config` list (see the type's doc).
    /// Blocking: rtnetlink reads, a `/proc` scan, file reads.
    pub fn read(config: &Config, netlink: Option<&crate::net::netlink::Netlink>) -> TrackFacts {
        let mut ids: Vec<TrackerId> = config
            .vrrp_instances
            .iter()
            .flat_map(|i| track::instance_trackers(config, i).list)
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        ids.dedup();
        let t = &config.tracking;
        let specs: Vec<&TrackProcess> = ids
            .iter()
            .filter_map(|id| match id {
                TrackerId::Process(n) => t.processes.get(n),
                _ => None,
            })
            .collect();
        let procs = if specs.is_empty() {
            Vec::new()
        } else {
            track_process::scan_proc(specs.iter().any(|p| track_process::needs_cmdline(p)))
        };
        let mut out = TrackFacts::default();
        for id in ids {
            match id {
                TrackerId::Interface(name) => {
                    // A link that does not exist is down (as at start-up); without a socket,
                    // nothing is known.
                    if let Some(n) = netlink {
                        let up = n.link(&name).is_ok_and(|l| l.up);
                        out.links.insert(name, up);
                    }
                }
                TrackerId::Process(name) => {
                    let p = &t.processes[&name];
                    let up = track_process::Quorum::new(p, track_process::count(p, &procs)).up();
                    out.processes.insert(name, up);
                }
                TrackerId::File(name) => {
                    let f = &t.files[&name];
                    if f.init_file.is_some() && !f.file.exists() {
                        let create = crate::config::model::TrackFile {
                            init_file: f.init_file.map(|(v, _)| (v, false)),
                            ..f.clone()
                        };
                        if let Err(e) = track_file::init_file(&create) {
                            warn!(
                                "track_file {name}: cannot initialise {}: {e}",
                                f.file.display()
                            );
                        }
                    }
                    out.files.insert(name, track_file::read_value(&f.file));
                }
            }
        }
        out
    }

    /// The value of tracker `id` as read, if it was.
    fn value(&self, id: &TrackerId) -> Option<TrackValue> {
        let state = |up: bool| {
            TrackValue::State(if up {
                ScriptState::Up
            } else {
                ScriptState::Down
            })
        };
        match id {
            TrackerId::Interface(n) => self.links.get(n).map(|&up| state(up)),
            TrackerId::Process(n) => self.processes.get(n).map(|&up| state(up)),
            TrackerId::File(n) => self.files.get(n).map(|&v| TrackValue::File(v)),
        }
    }
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
    /// `notify_fifo` and `vrrp_notify_fifo` as the FIFOs were opened (positions cleared).
    fifo_conf: FifoConf,
    /// The `vrrp_track_process` blocks some instance tracks, as the /proc poller follows them.
    processes: Vec<TrackProcess>,
    /// The `track_file` blocks some instance tracks (name, path), as the file poller reads them.
    files: Vec<(String, PathBuf)>,
    links: Vec<String>,
    /// The `vrrp_track_process` / `track_file` blocks of the configuration in force (a reload
    /// diffs them with the new file's).
    process_blocks: BTreeMap<String, TrackProcess>,
    file_blocks: BTreeMap<String, TrackFile>,
    /// The tracker tasks' channel (set by [`Engine::start_trackers`]), whether the link monitor
    /// runs, and the current run and task of each poller.
    tx: Option<mpsc::Sender<TrackEvent>>,
    link_monitor: bool,
    proc_run: u64,
    proc_task: Option<tokio::task::AbortHandle>,
    file_run: u64,
    file_task: Option<tokio::task::AbortHandle>,
}

/// `notify_fifo` and `vrrp_notify_fifo` (with their scripts), without their positions: what a
/// reload compares to decide whether the FIFOs are opened again.
type FifoConf = [Option<crate::config::model::NotifyFifo>; 2];

fn fifo_conf(t: &crate::config::model::Tracking) -> FifoConf {
    [&t.notify_fifo, &t.vrrp_notify_fifo].map(|f| {
        f.clone().map(|f| crate::config::model::NotifyFifo {
            script: f.script.map(|c| crate::config::model::Command {
                span: Default::default(),
                ..c
            }),
            span: Default::default(),
            ..f
        })
    })
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

    /// The tracking state of an instance appended by a reload (no sync group yet:
    /// [`Engine::regroup`] follows): its `track_interface` / `track_process` / `track_file`
    /// trackers from `config`, counting from the values the reload read.
    pub(super) fn track_added_instance(
        &mut self,
        config: &Config,
        inst: &crate::config::model::VrrpInstance,
        facts: &TrackFacts,
    ) {
        let trackers = track::instance_trackers(config, inst);
        log_ignored(&inst.name, &trackers);
        let st = &mut self.trk;
        st.extra.push(trackers.list);
        st.own_fault.push(false);
        st.group_of.push(None);
        st.held.push(None);
        self.take_values(facts, &BTreeSet::new());
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

    /// Forgets the tracking state of instance `i`, removed by a reload; the instances after it
    /// move down by one (sync groups are renumbered).
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
            process_blocks: t.processes.clone(),
            file_blocks: t.files.clone(),
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
            let trackers = track::instance_trackers(config, &cfg);
            log_ignored(&cfg.name, &trackers);
            // keepalived vrrp_complete_instance: members of a sync group without
            // sync_group_tracking_weight lose their weighted scripts too.
            let group = st.group_of[i].and_then(|gi| {
                t.sync_groups
                    .iter()
                    .find(|g| g.name == st.groups[gi].name())
            });
            if group.is_some_and(|g| !g.tracking_weight) {
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
            if let Some(g) = group {
                for r in &g.track_script {
                    if let Some(s) = config.vrrp_scripts.get(&r.name)
                        && !self.instances[i].tracks.iter().any(|(n, _)| *n == r.name)
                    {
                        let w = weight_of(r.weight, r.reverse, s.weight, s.weight_reverse);
                        self.instances[i].tracks.push((r.name.clone(), w));
                    }
                }
            }
            st.extra[i] = trackers.list;
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
                    let up = self.netlink.link(name).map(|l| l.up).unwrap_or(false);
                    TrackValue::State(if up {
                        ScriptState::Up
                    } else {
                        ScriptState::Down
                    })
                }
                TrackerId::Process(name) => {
                    let p = &t.processes[name];
                    let up = track_process::Quorum::new(p, track_process::count(p, &snapshot)).up();
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
                    TrackValue::File(track_file::read_value(&f.file))
                }
            };
            st.values.insert(id, value);
        }
        st.fifos = Some(NotifyFifos::open(t, self.default_run_as));
        st.fifo_conf = fifo_conf(t);
        self.trk = st;
        self.follow_lists();
    }

    /// Sets what the pollers follow from the instances' tracker lists and the blocks in
    /// force: the links, the `vrrp_track_process` specs and the `track_file` paths some
    /// instance tracks, in name order. Returns whether the process specs and the file paths
    /// changed.
    fn follow_lists(&mut self) -> (bool, bool) {
        let st = &mut self.trk;
        let wanted: BTreeSet<&TrackerId> = st.extra.iter().flatten().map(|(id, _)| id).collect();
        let mut links = Vec::new();
        let mut processes = Vec::new();
        let mut files = Vec::new();
        for id in wanted {
            match id {
                TrackerId::Interface(n) => links.push(n.clone()),
                TrackerId::Process(n) => {
                    if let Some(p) = st.process_blocks.get(n) {
                        // Without its position: a moved block is not a new spec (the poller
                        // keeps running, with its delays).
                        processes.push(TrackProcess {
                            span: Default::default(),
                            ..p.clone()
                        });
                    }
                }
                TrackerId::File(n) => {
                    if let Some(f) = st.file_blocks.get(n) {
                        files.push((n.clone(), f.file.clone()));
                    }
                }
            }
        }
        let changed = (processes != st.processes, files != st.files);
        st.links = links;
        st.processes = processes;
        st.files = files;
        changed
    }

    /// Starts the link monitor and the process and file pollers; returns their channel (kept
    /// for the pollers a reload starts again).
    pub(super) fn start_trackers(&mut self) -> mpsc::Receiver<TrackEvent> {
        let (tx, rx) = mpsc::channel::<TrackEvent>(256);
        self.trk.tx = Some(tx);
        self.start_link_monitor();
        self.start_proc_poller();
        self.start_file_poller();
        rx
    }

    /// Starts the link monitor once some instance tracks a link (it reports every link;
    /// [`Engine::on_track_event`] keeps the tracked ones).
    fn start_link_monitor(&mut self) {
        let Some(tx) = self.trk.tx.clone() else {
            return;
        };
        if self.trk.link_monitor || self.trk.links.is_empty() {
            return;
        }
        self.trk.link_monitor = true;
        let (ltx, mut lrx) = mpsc::channel::<LinkEvent>(256);
        match link_monitor::spawn(ltx) {
            Ok(()) => {
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

    /// (Re)starts the `/proc` poller over the tracked `vrrp_track_process` specs, as a new run
    /// (the previous run's task stops, its late events are dropped); none when no process is
    /// tracked.
    fn start_proc_poller(&mut self) {
        if let Some(t) = self.trk.proc_task.take() {
            t.abort();
        }
        self.trk.proc_run += 1;
        let run = self.trk.proc_run;
        let Some(tx) = self.trk.tx.clone() else {
            return;
        };
        if self.trk.processes.is_empty() {
            return;
        }
        let specs = self.trk.processes.clone();
        let task = tokio::spawn(async move {
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
                        run,
                    })
                    .await;
            }
            let mut tick = tokio::time::interval(track_process::POLL_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let procs = tokio::task::spawn_blocking(move || track_process::scan_proc(with_cmd))
                    .await
                    .unwrap_or_default();
                let now = Instant::now();
                for (s, q) in specs.iter().zip(quorums.iter_mut()) {
                    if let Some(up) = q.update(now, track_process::count(s, &procs))
                        && tx
                            .send(TrackEvent::Process {
                                name: s.name.clone(),
                                up,
                                run,
                            })
                            .await
                            .is_err()
                    {
                        return;
                    }
                }
            }
        });
        self.trk.proc_task = Some(task.abort_handle());
    }

    /// (Re)starts the `track_file` poller over the tracked files, as a new run, from the
    /// values the engine holds (so that only changes are reported); none when no file is
    /// tracked.
    fn start_file_poller(&mut self) {
        if let Some(t) = self.trk.file_task.take() {
            t.abort();
        }
        self.trk.file_run += 1;
        let run = self.trk.file_run;
        let Some(tx) = self.trk.tx.clone() else {
            return;
        };
        if self.trk.files.is_empty() {
            return;
        }
        let files = self
            .trk
            .files
            .iter()
            .map(|(n, p)| {
                let known = match self.trk.values.get(&TrackerId::File(n.clone())) {
                    Some(TrackValue::File(v)) => Some(*v),
                    _ => None,
                };
                (n.clone(), p.clone(), known)
            })
            .collect();
        let task = track_file::spawn_watcher(
            files,
            tx,
            move |name, value| TrackEvent::File { name, value, run },
            |path, v| info!("{}", track_file::invalid_line(path, v)),
        );
        self.trk.file_task = Some(task.abort_handle());
    }

    /// A reload, before the instances change: each running instance the new file keeps gets
    /// the `track_interface` / `track_process` / `track_file` trackers the new file gives it
    /// ([`track::instance_trackers`], [`diff::trackers`]), one line per change
    /// (`(VI_1) Reload: track_interface eth1 added`); changed `vrrp_track_process` /
    /// `track_file` blocks are logged one line each and, unless only their weight changed,
    /// their trackers take the value the reload read. An added tracker counts from the value
    /// the reload read ([`TrackFacts`]), a removed one stops counting. The instances are
    /// recomputed by the caller ([`Engine::retrack`]); the pollers follow the new lists in
    /// [`Engine::follow_trackers`]. Returns whether anything changed.
    pub(super) fn reload_trackers(&mut self, config: &Config, facts: &TrackFacts) -> bool {
        let t = &config.tracking;
        let mut refresh: BTreeSet<TrackerId> = BTreeSet::new();
        let mut changed = false;
        for (name, what) in diff::track_processes(&self.trk.process_blocks, &t.processes) {
            info!(
                "Reload: vrrp_track_process {name} {} changed",
                what.join("/")
            );
            if what.iter().any(|w| *w != "weight") {
                refresh.insert(TrackerId::Process(name));
            }
            changed = true;
        }
        for (name, what) in diff::track_files(&self.trk.file_blocks, &t.files) {
            info!("Reload: track_file {name} {} changed", what.join("/"));
            if what.contains(&"file") {
                refresh.insert(TrackerId::File(name));
            }
            changed = true;
        }
        self.trk.process_blocks = t.processes.clone();
        self.trk.file_blocks = t.files.clone();
        for i in 0..self.instances.len() {
            let name = self.instances[i].cfg.name.clone();
            let Some(inst) = config.vrrp_instances.iter().find(|c| c.name == name) else {
                continue; // removed by this reload
            };
            let new = track::instance_trackers(config, inst);
            let Some(running) = self.trk.extra.get(i) else {
                continue;
            };
            let changes = diff::trackers(running, &new.list);
            if self.instances[i].cfg.tracking != inst.tracking {
                log_ignored(&name, &new);
                self.instances[i].cfg.tracking = inst.tracking.clone();
            }
            if changes.is_empty() {
                continue;
            }
            changed = true;
            for c in &changes {
                log_tracker_change(&name, c);
            }
            self.trk.extra[i] = new.list;
        }
        self.take_values(facts, &refresh);
        changed
    }

    /// A reload: when `notify_fifo` or `vrrp_notify_fifo` (or their scripts) changed, the FIFO
    /// scripts are stopped, the FIFOs this process created are removed, and the new file's
    /// FIFOs are opened and their scripts started, as at start-up; the following state changes
    /// are written there. One line; nothing happens when they did not change.
    pub(super) fn reload_fifos(&mut self, config: &Config) {
        let new = fifo_conf(&config.tracking);
        if new == self.trk.fifo_conf {
            return;
        }
        info!("Reload: notify_fifo/vrrp_notify_fifo changed: FIFOs and their scripts restarted");
        if let Some(f) = self.trk.fifos.as_mut() {
            f.stop_scripts();
            f.close();
        }
        self.trk.fifos = Some(NotifyFifos::open(&config.tracking, self.default_run_as));
        self.trk.fifo_conf = new;
    }

    /// Gives every tracked id without a value (and those of `refresh`) the value the reload
    /// read; a link it could not read (no rtnetlink socket) is unknown until the link monitor
    /// reports it: it counts for nothing and is no FAULT.
    fn take_values(&mut self, facts: &TrackFacts, refresh: &BTreeSet<TrackerId>) {
        let wanted: BTreeSet<TrackerId> = self
            .trk
            .extra
            .iter()
            .flatten()
            .map(|(id, _)| id.clone())
            .collect();
        for id in wanted {
            if self.trk.values.contains_key(&id) && !refresh.contains(&id) {
                continue;
            }
            let value = facts.value(&id).unwrap_or(match id {
                TrackerId::File(_) => TrackValue::File(0),
                _ => TrackValue::State(ScriptState::Unknown),
            });
            self.trk.values.insert(id, value);
        }
    }

    /// A reload, after the instances changed: the values of trackers nobody lists any more are
    /// forgotten, and the link monitor and pollers follow the new lists (a poller whose specs
    /// or paths changed starts a new run; an unchanged one keeps running, with its delays).
    pub(super) fn follow_trackers(&mut self) {
        let wanted: BTreeSet<TrackerId> = self
            .trk
            .extra
            .iter()
            .flatten()
            .map(|(id, _)| id.clone())
            .collect();
        self.trk.values.retain(|id, _| wanted.contains(id));
        let (procs, files) = self.follow_lists();
        self.start_link_monitor();
        if procs {
            self.start_proc_poller();
        }
        if files {
            self.start_file_poller();
        }
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
            TrackEvent::Process { run, .. } if run != self.trk.proc_run => return,
            TrackEvent::File { run, .. } if run != self.trk.file_run => return,
            TrackEvent::Process { name, up, .. } => {
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
            TrackEvent::File { name, value, .. } => {
                (TrackerId::File(name), TrackValue::File(value))
            }
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

/// The start-up lines for the trackers [`track::instance_trackers`] left out of instance
/// `name` (keepalived's wording).
fn log_ignored(name: &str, t: &track::InstanceTrackers) {
    for ifname in &t.own_ignored {
        info!("({name}) Ignoring track_interface {ifname} since own interface");
    }
    for (noun, what, weight) in &t.group_ignored {
        warn!("({name}) ignoring tracked {noun} {what} with weight {weight} due to SYNC group");
    }
}

/// The line of one tracker change of instance `name` at a reload, e.g. `(VI_1) Reload:
/// track_interface eth1 weight changed from -10 to -60`.
fn log_tracker_change(name: &str, c: &TrackerChange) {
    let weights = |w: &[TrackWeight]| {
        w.iter()
            .map(|w| {
                if w.reverse {
                    format!("{} reverse", w.weight)
                } else {
                    w.weight.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match c {
        TrackerChange::Added(id, w) => {
            let (kw, what) = id.describe();
            if *w
                == (TrackWeight {
                    weight: 0,
                    reverse: false,
                })
            {
                info!("({name}) Reload: {kw} {what} added");
            } else {
                info!(
                    "({name}) Reload: {kw} {what} added with weight {}",
                    weights(&[*w])
                );
            }
        }
        TrackerChange::Removed(id) => {
            let (kw, what) = id.describe();
            info!("({name}) Reload: {kw} {what} removed");
        }
        TrackerChange::Weight { id, from, to } => {
            let (kw, what) = id.describe();
            info!(
                "({name}) Reload: {kw} {what} weight changed from {} to {}",
                weights(from),
                weights(to)
            );
        }
    }
}
