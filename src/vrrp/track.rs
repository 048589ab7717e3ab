//! Trackers: the state of each `vrrp_script` (rise/fall hysteresis) and the effective priority
//! of an instance computed from the trackers it lists in `track_script`. Pure logic, no IO.

use crate::units::Priority;

/// The state of a tracked `vrrp_script`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptState {
    /// No result yet (neither adds nor removes weight, never causes FAULT). `init_fail` scripts
    /// start in [`ScriptState::Down`] instead.
    Unknown,
    Up,
    Down,
}

/// Rise/fall hysteresis of one `vrrp_script` (keepalived's `rise` and `fall`, default 1 each).
#[derive(Debug, Clone)]
pub struct ScriptTracker {
    rise: u32,
    fall: u32,
    state: ScriptState,
    /// Consecutive results that disagree with the current state.
    streak: u32,
    /// No result recorded yet.
    first: bool,
    /// The exit status of the last run that exited (0 before any).
    last_status: i32,
}

impl ScriptTracker {
    /// A tracker that needs `rise` consecutive successes to go up and `fall` consecutive
    /// failures to go down (0 is treated as 1). `init_fail` starts it down, as keepalived does.
    pub fn new(rise: u32, fall: u32, init_fail: bool) -> ScriptTracker {
        ScriptTracker {
            rise: rise.max(1),
            fall: fall.max(1),
            state: if init_fail {
                ScriptState::Down
            } else {
                ScriptState::Unknown
            },
            streak: 0,
            first: true,
            last_status: 0,
        }
    }

    /// Records the exit status of a run that exited and returns whether it differs from the
    /// previous one: keepalived then logs ``Script `NAME` now returning N``. The first run is
    /// compared with 0, so a script that starts by succeeding is not reported; runs killed by
    /// a signal or by their timeout have no status and change nothing (measured against
    /// keepalived 2.2.7).
    pub fn exit_status(&mut self, status: i32) -> bool {
        std::mem::replace(&mut self.last_status, status) != status
    }

    /// The current state.
    pub fn state(&self) -> ScriptState {
        self.state
    }

    /// Records one result (`true` = exit status 0). Returns the new state when it changed.
    /// The first result of an [`ScriptState::Unknown`] script decides its state at once, and
    /// the first failure of an `init_fail` script is reported too (keepalived logs
    /// `VRRP_Script(NAME) failed` for it).
    pub fn record(&mut self, ok: bool) -> Option<ScriptState> {
        let first = std::mem::replace(&mut self.first, false);
        let (target, needed) = if ok {
            (ScriptState::Up, self.rise)
        } else {
            (ScriptState::Down, self.fall)
        };
        if self.state == target {
            self.streak = 0;
            return first.then_some(target);
        }
        self.streak += 1;
        if self.state == ScriptState::Unknown || self.streak >= needed {
            self.state = target;
            self.streak = 0;
            return Some(target);
        }
        None
    }
}

/// How one tracked script affects an instance: its weight (from `track_script` or the script)
/// and whether it is `reverse`d.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackWeight {
    pub weight: i32,
    pub reverse: bool,
}

/// The result of combining an instance's trackers (keepalived vrrp_track.c semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    /// Effective priority: base + weights, clamped to 1..=254; 255 stays 255.
    pub priority: Priority,
    /// A weight-0 tracker is down: the instance must be in FAULT.
    pub fault: bool,
}

/// Effective priority of an instance with base priority `base` from its trackers' states.
/// A positive weight is added while the script is up; a negative one while it is down;
/// `reverse` negates the adjustment; weight 0 turns a down script (an up one with `reverse`)
/// into FAULT. Unknown scripts count
/// for nothing. The address owner (255) is never adjusted (keepalived).
pub fn effective_priority(
    base: Priority,
    trackers: impl IntoIterator<Item = (ScriptState, TrackWeight)>,
) -> Tracked {
    let mut delta: i32 = 0;
    let mut fault = false;
    for (state, w) in trackers {
        let up = match state {
            ScriptState::Unknown => continue,
            ScriptState::Up => true,
            ScriptState::Down => false,
        };
        if w.weight == 0 {
            // 'weight 0 reverse' faults the instance while the script is up (man 5).
            fault |= up == w.reverse;
            continue;
        }
        // man 5 keepalived.conf: positive weights are added while up, negative ones while
        // down; `reverse` negates the adjustment ("decreased when up, increased when down").
        let applies = if w.weight > 0 { up } else { !up };
        if applies {
            delta += if w.reverse { -w.weight } else { w.weight };
        }
    }
    let priority = if base.is_owner() {
        base
    } else {
        Priority((i32::from(base.0) + delta).clamp(1, 254) as u8)
    };
    Tracked { priority, fault }
}

/// The current value of any tracker an instance may list: a two-state tracker
/// (`vrrp_script`, `track_interface`, `vrrp_track_process`) or the number read from a
/// `track_file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackValue {
    State(ScriptState),
    File(i64),
}

/// keepalived's "fault" marker for a tracked file's contribution (vrrp_track.c: a status at or
/// below -254 puts the instance in FAULT).
const FILE_FAULT: i64 = -254;

/// The contribution of a `track_file` holding `value` (keepalived vrrp_track.c
/// `update_track_file_status`, man 5 "Track files"):
/// weight 0: a non-zero value is a failure (a zero one with `reverse`) → `None` (FAULT);
/// otherwise value × weight (negated with `reverse`), clamped to -254..=253, where -254 is
/// FAULT (`None`) and anything else is added to the priority.
pub fn file_contribution(value: i64, w: TrackWeight) -> Option<i32> {
    if w.weight == 0 {
        return if (value != 0) != w.reverse {
            None
        } else {
            Some(0)
        };
    }
    let m: i64 = if w.reverse { -1 } else { 1 };
    let status = value
        .saturating_mul(i64::from(w.weight))
        .saturating_mul(m)
        .clamp(FILE_FAULT, 253);
    if status == FILE_FAULT {
        None
    } else {
        Some(status as i32)
    }
}

/// [`effective_priority`] over every kind of tracker: two-state trackers follow the
/// `vrrp_script` rules, files add [`file_contribution`] (or FAULT).
pub fn effective_priority_all(
    base: Priority,
    trackers: impl IntoIterator<Item = (TrackValue, TrackWeight)>,
) -> Tracked {
    let mut states = Vec::new();
    let mut delta: i32 = 0;
    let mut fault = false;
    for (v, w) in trackers {
        match v {
            TrackValue::State(s) => states.push((s, w)),
            TrackValue::File(value) => match file_contribution(value, w) {
                Some(d) => delta += d,
                None => fault = true,
            },
        }
    }
    let t = effective_priority(base, states);
    if base.is_owner() {
        return Tracked {
            priority: base,
            fault: t.fault || fault,
        };
    }
    Tracked {
        priority: Priority((i32::from(t.priority.0) + delta).clamp(1, 254) as u8),
        fault: t.fault || fault,
    }
}

/// A tracker other than a `vrrp_script`: `track_interface` (by interface name),
/// `vrrp_track_process` and `track_file` (by block name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrackerId {
    Interface(String),
    Process(String),
    File(String),
}

impl TrackerId {
    /// The keyword that lists it (`track_interface`, `track_process`, `track_file`) and its
    /// name, for the log.
    pub fn describe(&self) -> (&'static str, &str) {
        match self {
            TrackerId::Interface(n) => ("track_interface", n),
            TrackerId::Process(n) => ("track_process", n),
            TrackerId::File(n) => ("track_file", n),
        }
    }
}

/// The interface, process and file trackers of one instance as it runs them (see
/// [`instance_trackers`]), with what was left out and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceTrackers {
    /// In keepalived's order: the instance's `track_interface`, `track_process`,
    /// `track_file` lines, then its sync group's, then its own interface (weight 0).
    pub list: Vec<(TrackerId, TrackWeight)>,
    /// `track_interface` lines naming the instance's own interface, dropped (keepalived:
    /// `Ignoring track_interface IF since own interface`).
    pub own_ignored: Vec<String>,
    /// Weighted trackers dropped because the instance is in a sync group without
    /// `sync_group_tracking_weight` (keepalived vrrp_complete_instance): the keyword's noun
    /// (`interface`, `process`, `file`), the name and the weight.
    pub group_ignored: Vec<(&'static str, String, i32)>,
}

/// The weight of a tracker line: its own `weight` when it has one, else its block's.
fn line_weight(w: Option<i32>, reverse: bool, block_w: i32, block_rev: bool) -> TrackWeight {
    match w {
        Some(weight) => TrackWeight { weight, reverse },
        None => TrackWeight {
            weight: block_w,
            reverse: block_rev,
        },
    }
}

/// The `track_interface` / `track_process` / `track_file` trackers instance `inst` of `config`
/// runs with, keepalived's rules (vrrp_complete_instance): a `track_interface` on its own
/// interface is ignored unless `dont_track_primary`; as a member of a `vrrp_sync_group`
/// without `sync_group_tracking_weight` its weighted trackers are dropped and its group's
/// trackers are added with their weights; its own interface is tracked with weight 0 (link
/// down = FAULT) unless `dont_track_primary`. A line naming a block that does not exist is left
/// out (the parser reported it). Pure: start-up and reloads build the same lists.
pub fn instance_trackers(
    config: &crate::config::model::Config,
    inst: &crate::config::model::VrrpInstance,
) -> InstanceTrackers {
    let t = &config.tracking;
    let tr = &inst.tracking;
    let group = t
        .sync_groups
        .iter()
        .find(|g| g.members.contains(&inst.name));
    let strip = group.is_some_and(|g| !g.tracking_weight);
    let own_if = inst.interface.as_deref();
    let mut out = InstanceTrackers::default();
    let keep = |out: &mut InstanceTrackers, id: TrackerId, w: TrackWeight| {
        if strip && w.weight != 0 {
            let (kw, name) = id.describe();
            let noun = kw.trim_start_matches("track_");
            out.group_ignored.push((noun, name.to_string(), w.weight));
        } else {
            out.list.push((id, w));
        }
    };
    for ti in &tr.interfaces {
        if Some(ti.name.as_str()) == own_if && !tr.dont_track_primary {
            out.own_ignored.push(ti.name.clone());
            continue;
        }
        let w = TrackWeight {
            weight: ti.weight,
            reverse: ti.reverse,
        };
        keep(&mut out, TrackerId::Interface(ti.name.clone()), w);
    }
    for r in &tr.processes {
        if let Some(p) = t.processes.get(&r.name) {
            let w = line_weight(r.weight, r.reverse, p.weight, p.weight_reverse);
            keep(&mut out, TrackerId::Process(r.name.clone()), w);
        }
    }
    for r in &tr.files {
        if let Some(f) = t.files.get(&r.name) {
            let w = line_weight(r.weight, r.reverse, f.weight, f.weight_reverse);
            keep(&mut out, TrackerId::File(r.name.clone()), w);
        }
    }
    // The group's own trackers apply to every member, with their weights.
    if let Some(g) = group {
        for ti in &g.tracking.interfaces {
            let w = TrackWeight {
                weight: ti.weight,
                reverse: ti.reverse,
            };
            out.list.push((TrackerId::Interface(ti.name.clone()), w));
        }
        for r in &g.tracking.processes {
            if let Some(p) = t.processes.get(&r.name) {
                let w = line_weight(r.weight, r.reverse, p.weight, p.weight_reverse);
                out.list.push((TrackerId::Process(r.name.clone()), w));
            }
        }
        for r in &g.tracking.files {
            if let Some(f) = t.files.get(&r.name) {
                let w = line_weight(r.weight, r.reverse, f.weight, f.weight_reverse);
                out.list.push((TrackerId::File(r.name.clone()), w));
            }
        }
    }
    if let Some(ifname) = own_if
        && !tr.dont_track_primary
    {
        out.list.push((
            TrackerId::Interface(ifname.to_string()),
            TrackWeight {
                weight: 0,
                reverse: false,
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_changes_are_reported_from_a_first_status_of_zero() {
        let mut t = ScriptTracker::new(1, 1, false);
        let seen: Vec<bool> = [0, 3, 3, 0, 5, 2, 2, 0]
            .into_iter()
            .map(|s| t.exit_status(s))
            .collect();
        assert_eq!(seen, [false, true, false, true, true, true, false, true]);
    }

    fn w(weight: i32) -> TrackWeight {
        TrackWeight {
            weight,
            reverse: false,
        }
    }

    #[test]
    fn first_result_decides_then_rise_and_fall_apply() {
        let mut t = ScriptTracker::new(2, 3, false);
        assert_eq!(t.state(), ScriptState::Unknown);
        assert_eq!(t.record(true), Some(ScriptState::Up));
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(true), None); // streak broken
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), Some(ScriptState::Down));
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(true), Some(ScriptState::Up));
    }

    #[test]
    fn init_fail_starts_down_and_needs_rise() {
        let mut t = ScriptTracker::new(2, 1, true);
        assert_eq!(t.state(), ScriptState::Down);
        let mut f = t.clone();
        assert_eq!(
            f.record(false),
            Some(ScriptState::Down),
            "first failure is reported"
        );
        assert_eq!(f.record(false), None);
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(true), Some(ScriptState::Up));
    }

    #[test]
    fn weights_add_and_subtract_and_clamp() {
        let base = Priority(100);
        assert_eq!(
            effective_priority(base, [(ScriptState::Down, w(-30))]).priority,
            Priority(70)
        );
        assert_eq!(
            effective_priority(base, [(ScriptState::Up, w(-30))]).priority,
            Priority(100)
        );
        assert_eq!(
            effective_priority(base, [(ScriptState::Up, w(20))]).priority,
            Priority(120)
        );
        assert_eq!(
            effective_priority(base, [(ScriptState::Down, w(20))]).priority,
            Priority(100)
        );
        assert_eq!(
            effective_priority(base, [(ScriptState::Unknown, w(-30))]).priority,
            Priority(100)
        );
        assert_eq!(
            effective_priority(base, [(ScriptState::Up, w(200))]).priority,
            Priority(254)
        );
        assert_eq!(
            effective_priority(base, [(ScriptState::Down, w(-200))]).priority,
            Priority(1)
        );
        assert_eq!(
            effective_priority(Priority::OWNER, [(ScriptState::Down, w(-50))]).priority,
            Priority::OWNER
        );
    }

    #[test]
    fn reverse_swaps_the_sense() {
        let r = |weight| TrackWeight {
            weight,
            reverse: true,
        };
        // reverse positive weight: subtracted while up.
        assert_eq!(
            effective_priority(Priority(100), [(ScriptState::Up, r(20))]).priority,
            Priority(80)
        );
        assert_eq!(
            effective_priority(Priority(100), [(ScriptState::Down, r(20))]).priority,
            Priority(100)
        );
        // reverse negative weight: added (as +N) while down.
        assert_eq!(
            effective_priority(Priority(100), [(ScriptState::Down, r(-20))]).priority,
            Priority(120)
        );
        assert_eq!(
            effective_priority(Priority(100), [(ScriptState::Up, r(-20))]).priority,
            Priority(100)
        );
        // 'weight 0 reverse': FAULT while up.
        assert!(effective_priority(Priority(100), [(ScriptState::Up, r(0))]).fault);
        assert!(!effective_priority(Priority(100), [(ScriptState::Down, r(0))]).fault);
    }

    #[test]
    fn weight_zero_failure_is_fault() {
        let t = effective_priority(
            Priority(100),
            [(ScriptState::Down, w(0)), (ScriptState::Up, w(10))],
        );
        assert!(t.fault);
        assert_eq!(t.priority, Priority(110));
        assert!(!effective_priority(Priority(100), [(ScriptState::Up, w(0))]).fault);
        assert!(!effective_priority(Priority(100), [(ScriptState::Unknown, w(0))]).fault);
    }

    #[test]
    fn file_values_follow_keepalived() {
        let w = |weight, reverse| TrackWeight { weight, reverse };
        assert_eq!(file_contribution(3, w(-5, false)), Some(-15));
        assert_eq!(file_contribution(3, w(-5, true)), Some(15));
        assert_eq!(file_contribution(0, w(0, false)), Some(0));
        assert_eq!(file_contribution(1, w(0, false)), None);
        assert_eq!(file_contribution(0, w(0, true)), None);
        assert_eq!(file_contribution(-1, w(254, false)), None);
        assert_eq!(file_contribution(-1, w(253, false)), Some(-253));
        assert_eq!(file_contribution(1000, w(1, false)), Some(253));
        let t = effective_priority_all(
            Priority(100),
            [
                (TrackValue::File(3), w(-5, false)),
                (TrackValue::State(ScriptState::Down), w(-10, false)),
            ],
        );
        assert_eq!(
            t,
            Tracked {
                priority: Priority(75),
                fault: false
            }
        );
        assert!(effective_priority_all(Priority(100), [(TrackValue::File(1), w(0, false))]).fault);
    }
}
