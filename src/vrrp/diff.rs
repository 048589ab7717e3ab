//! What a reload changes in the VRRP instances: the plans of the running configuration and
//! of the new one compared by instance name (issue 13), without doing any IO.
//!
//! ```text
//!  running plans ──┐
//!                  ├──► diff::plans ──► Vec<Change> ──► engine (kernel worker, FSM, sockets)
//!  new plans ──────┘     (pure)
//! ```
//!
//! An instance whose plan is equal is left out (not touched at all). One whose advert socket
//! would differ (interface, transmit interface/VMAC, VRID, version, address family, advert
//! source, multicast/unicast, unicast TTL) or that becomes or stops being the address owner
//! is [`Change::Recreate`]d, with the reason in words. Any other difference is an
//! [`Change::Update`]: VIPs, routes and rules by difference, the rest of the settings taken
//! as a whole ([`Edit`]).
//!
//! The `vrrp_script` blocks are diffed by name too ([`scripts`]): a script whose runner
//! settings changed restarts, one whose only change is its default weight keeps running (the
//! weights are in the plans' `tracks`). The `global_defs` settings are diffed one by one
//! ([`global_defs`]), each with how it is applied. An instance's `track_interface` /
//! `track_process` / `track_file` trackers are diffed per instance ([`trackers`]), the
//! `vrrp_track_process` and `track_file` blocks by name ([`track_processes`],
//! [`track_files`]).

use crate::config::model::{
    GlobalDefs, LvsSyncDaemon, TrackFile, TrackProcess, VrrpInstance, VrrpScript,
};
use crate::net::route::{Route, Rule};
use crate::vrrp::plan::{InstancePlan, Vip};
use crate::vrrp::track::{TrackWeight, TrackerId};
use std::collections::{BTreeMap, BTreeSet};

/// One instance's change.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// In the new configuration only: starts as at start-up.
    Add(InstancePlan),
    /// In the running configuration only: stops as at shutdown.
    Remove(String),
    /// A change that needs a new socket: stops as at shutdown, starts again from `plan`.
    /// `reason` is for the log, e.g. `interface changed from eth0 to eth1`.
    Recreate { plan: InstancePlan, reason: String },
    /// Settings changed in place: `plan` is the new plan, `edits` what differs.
    Update {
        plan: InstancePlan,
        edits: Vec<Edit>,
    },
}

impl Change {
    /// The instance's name.
    pub fn name(&self) -> &str {
        match self {
            Change::Add(p) | Change::Recreate { plan: p, .. } | Change::Update { plan: p, .. } => {
                &p.name
            }
            Change::Remove(n) => n,
        }
    }
}

/// One in-place difference of an [`Change::Update`].
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// `priority` (before trackers' weights).
    Priority {
        from: u8,
        to: u8,
    },
    /// `advert_int`, in centiseconds.
    AdvertInt {
        from: u16,
        to: u16,
    },
    /// `nopreempt` / `preempt_delay` / `start`-state, GARP timers and repeats, authentication,
    /// receive checks: taken as a whole, named for the log.
    Setting(&'static str),
    /// VIPs (listed or excluded) in the new plan only: added while master, announced.
    VipsAdded(Vec<Vip>),
    /// VIPs in the running plan only: deleted while master.
    VipsRemoved(Vec<Vip>),
    RoutesAdded(Vec<Route>),
    RoutesRemoved(Vec<Route>),
    RulesAdded(Vec<Rule>),
    RulesRemoved(Vec<Rule>),
    /// `unicast_peer` list (same cast): adverts go to the new peers from the next one.
    Peers,
    /// `track_script` names or weights.
    Tracks,
}

/// What changes from `old` to `new` (each a list of plans with distinct names): updates,
/// recreations and removals in the order of `old`, then additions in the order of `new`.
pub fn plans(old: &[InstancePlan], new: &[InstancePlan]) -> Vec<Change> {
    let mut out = Vec::new();
    for o in old {
        match new.iter().find(|n| n.name == o.name) {
            None => out.push(Change::Remove(o.name.clone())),
            Some(n) if n == o => {}
            Some(n) => out.push(instance(o, n)),
        }
    }
    for n in new {
        if !old.iter().any(|o| o.name == n.name) {
            out.push(Change::Add(n.clone()));
        }
    }
    out
}

/// The renamed instances of a reload, as `(running name, new name)` pairs: a running instance
/// the new file no longer names is taken for an instance the file adds (one not running under
/// its name) on the same `interface`, with the same `virtual_router_id` and address family;
/// each added instance is taken once, the first in file order. keepalived 2.2.7 matches such an
/// instance with the old one (measured: a renamed instance keeps running, nothing happens;
/// `tests/interop/reload.rs` `instance_renamed_on_master`), where matching by name alone would
/// stop it (priority 0 as master) and start it again: a needless handover.
pub fn renames(running: &[InstancePlan], new: &[VrrpInstance]) -> Vec<(String, String)> {
    let mut taken = BTreeSet::new();
    let mut out = Vec::new();
    for old in running {
        if new.iter().any(|n| n.name == old.name) {
            continue;
        }
        let found = new.iter().find(|n| {
            !running.iter().any(|o| o.name == n.name)
                && !taken.contains(&n.name)
                && n.interface.as_deref() == Some(old.ifname.as_str())
                && n.virtual_router_id == old.fsm.vrid
                && crate::vrrp::plan::is_ipv6(n) == old.src.is_ipv6()
        });
        if let Some(n) = found {
            taken.insert(n.name.clone());
            out.push((old.name.clone(), n.name.clone()));
        }
    }
    out
}

/// Why `old` cannot become `new` in place, if it cannot.
pub fn needs_recreate(old: &InstancePlan, new: &InstancePlan) -> Option<String> {
    let changed = |what: &str, a: &dyn std::fmt::Display, b: &dyn std::fmt::Display| {
        Some(format!("{what} changed from {a} to {b}"))
    };
    if old.ifname != new.ifname {
        return changed("interface", &old.ifname, &new.ifname);
    }
    if old.xmit_if != new.xmit_if {
        return changed("transmit interface (use_vmac)", &old.xmit_if, &new.xmit_if);
    }
    if old.fsm.vrid != new.fsm.vrid {
        return changed("virtual_router_id", &old.fsm.vrid, &new.fsm.vrid);
    }
    if old.fsm.version != new.fsm.version {
        return changed(
            "version",
            &old.fsm.version.number(),
            &new.fsm.version.number(),
        );
    }
    if old.src.is_ipv6() != new.src.is_ipv6() {
        return Some("address family changed".into());
    }
    if old.src != new.src {
        return changed("advert source address", &old.src, &new.src);
    }
    if old.multicast != new.multicast {
        let cast = |m: bool| if m { "multicast" } else { "unicast" };
        return changed(
            "advert destination",
            &cast(old.multicast),
            &cast(new.multicast),
        );
    }
    if old.unicast_ttl != new.unicast_ttl {
        return changed("unicast_ttl", &old.unicast_ttl, &new.unicast_ttl);
    }
    if old.fsm.priority.is_owner() != new.fsm.priority.is_owner() {
        return changed("priority", &old.fsm.priority.0, &new.fsm.priority.0);
    }
    None
}

/// The change from `old` to `new` (same name, different plans).
fn instance(old: &InstancePlan, new: &InstancePlan) -> Change {
    if let Some(reason) = needs_recreate(old, new) {
        return Change::Recreate {
            plan: new.clone(),
            reason,
        };
    }
    let mut edits = Vec::new();
    if old.fsm.priority != new.fsm.priority {
        edits.push(Edit::Priority {
            from: old.fsm.priority.0,
            to: new.fsm.priority.0,
        });
    }
    if old.fsm.advert_int != new.fsm.advert_int {
        edits.push(Edit::AdvertInt {
            from: old.fsm.advert_int.0,
            to: new.fsm.advert_int.0,
        });
    }
    // The remaining state machine settings, by name.
    let (o, n) = (&old.fsm, &new.fsm);
    if o.preempt != n.preempt {
        edits.push(Edit::Setting("nopreempt"));
    }
    if o.preempt_delay != n.preempt_delay {
        edits.push(Edit::Setting("preempt_delay"));
    }
    if o.start_master != n.start_master {
        edits.push(Edit::Setting("state"));
    }
    if o.garp_master_delay != n.garp_master_delay
        || o.garp != n.garp
        || old.garp_repeat != new.garp_repeat
    {
        edits.push(Edit::Setting("garp settings"));
    }
    if old.expect.pass != new.expect.pass {
        edits.push(Edit::Setting("authentication"));
    }
    if old.check_unicast_src != new.check_unicast_src
        || old.skip_check_adv_addr != new.skip_check_adv_addr
    {
        edits.push(Edit::Setting("receive checks"));
    }
    if old.no_accept != new.no_accept {
        edits.push(Edit::Setting("accept"));
    }
    let (added, removed) = by_difference(&old.vips, &new.vips);
    if !added.is_empty() {
        edits.push(Edit::VipsAdded(added));
    }
    if !removed.is_empty() {
        edits.push(Edit::VipsRemoved(removed));
    }
    let (added, removed) = by_difference(&old.routes, &new.routes);
    if !added.is_empty() {
        edits.push(Edit::RoutesAdded(added));
    }
    if !removed.is_empty() {
        edits.push(Edit::RoutesRemoved(removed));
    }
    let (added, removed) = by_difference(&old.rules, &new.rules);
    if !added.is_empty() {
        edits.push(Edit::RulesAdded(added));
    }
    if !removed.is_empty() {
        edits.push(Edit::RulesRemoved(removed));
    }
    if old.peers != new.peers || (!new.multicast && old.dsts != new.dsts) {
        edits.push(Edit::Peers);
    }
    if new.multicast && old.dsts != new.dsts {
        // `vrrp_mcast_group4`/`6`: the engine moved its sockets' memberships already.
        edits.push(Edit::Setting("multicast group"));
    }
    if old.tracks != new.tracks {
        edits.push(Edit::Tracks);
    }
    if edits.is_empty() {
        // Equal plans were left out; what is left (e.g. the order of the VIPs) is named.
        edits.push(Edit::Setting("address order"));
    }
    Change::Update {
        plan: new.clone(),
        edits,
    }
}

/// One `vrrp_script`'s change at a reload (see [`scripts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptChange {
    /// Tracked now and not running: its runner starts, its state as at start-up.
    Start(String),
    /// Running and tracked by no instance or sync group any more (or its block is gone): its
    /// runner stops and its state is forgotten.
    Stop(String),
    /// Running with other runner settings: it restarts, its state as at start-up. `what`
    /// names the settings (`script`, `interval`, `timeout`, `rise`, `fall`, `user`,
    /// `init_fail`), for the log.
    Restart {
        name: String,
        what: Vec<&'static str>,
    },
    /// Only the block's default `weight` (or `reverse`) changed: the runner and its state stay;
    /// the instances' priorities follow their new plans.
    Weight(String),
}

/// What changes in the running `vrrp_script`s: `running` are the scripts the engine runs now
/// (their blocks as they were started), `defined` the new file's `vrrp_script` blocks,
/// `tracked` the names the new file's instances and sync groups list in `track_script`.
/// Stops first (in name order), then starts, restarts and weight changes (in name order).
pub fn scripts(
    running: &BTreeMap<String, VrrpScript>,
    defined: &BTreeMap<String, VrrpScript>,
    tracked: &BTreeSet<String>,
) -> Vec<ScriptChange> {
    let wanted = |n: &String| tracked.contains(n) && defined.contains_key(n);
    let mut out: Vec<ScriptChange> = running
        .keys()
        .filter(|n| !wanted(n))
        .map(|n| ScriptChange::Stop(n.clone()))
        .collect();
    for (name, new) in defined.iter().filter(|(n, _)| wanted(n)) {
        let Some(old) = running.get(name) else {
            out.push(ScriptChange::Start(name.clone()));
            continue;
        };
        let what = runner_changes(old, new);
        if !what.is_empty() {
            out.push(ScriptChange::Restart {
                name: name.clone(),
                what,
            });
        } else if (old.weight, old.weight_reverse) != (new.weight, new.weight_reverse) {
            out.push(ScriptChange::Weight(name.clone()));
        }
    }
    out
}

/// The settings of the runner (what it runs, how often, as whom, its hysteresis) that differ.
fn runner_changes(old: &VrrpScript, new: &VrrpScript) -> Vec<&'static str> {
    let mut what = Vec::new();
    let mut differs = |d: bool, name: &'static str| {
        if d {
            what.push(name);
        }
    };
    differs(
        (&old.script.argv, &old.script.user) != (&new.script.argv, &new.script.user),
        "script",
    );
    differs(old.interval != new.interval, "interval");
    differs(old.timeout != new.timeout, "timeout");
    differs(old.rise != new.rise, "rise");
    differs(old.fall != new.fall, "fall");
    differs(old.user != new.user, "user");
    differs(old.init_fail != new.init_fail, "init_fail");
    what
}

/// One change of an instance's interface, process or file trackers at a reload (see
/// [`trackers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackerChange {
    /// Listed now and not before: it counts from its current value.
    Added(TrackerId, TrackWeight),
    /// Listed before and not now: it stops counting.
    Removed(TrackerId),
    /// Listed in both with other weights (or `reverse`): the effective priority follows at
    /// once. A tracker listed twice (a `track_interface` line and the group's) has each
    /// weight, in list order.
    Weight {
        id: TrackerId,
        from: Vec<TrackWeight>,
        to: Vec<TrackWeight>,
    },
}

/// What changes in one instance's `track_interface` / `track_process` / `track_file`
/// trackers: `running` is the list it runs with, `new` the one the new file gives it (both as
/// [`crate::vrrp::track::instance_trackers`] builds them). Removals first (in `running`'s
/// order), then additions and weight changes (in `new`'s order); an unchanged tracker is left
/// out, and so is a change of order alone.
pub fn trackers(
    running: &[(TrackerId, TrackWeight)],
    new: &[(TrackerId, TrackWeight)],
) -> Vec<TrackerChange> {
    let weights = |list: &[(TrackerId, TrackWeight)], id: &TrackerId| -> Vec<TrackWeight> {
        list.iter()
            .filter(|(i, _)| i == id)
            .map(|(_, w)| *w)
            .collect()
    };
    let mut seen = BTreeSet::new();
    let mut out: Vec<TrackerChange> = Vec::new();
    for (id, _) in running {
        if seen.insert(id) && !new.iter().any(|(n, _)| n == id) {
            out.push(TrackerChange::Removed(id.clone()));
        }
    }
    let mut seen = BTreeSet::new();
    for (id, w) in new {
        if !seen.insert(id) {
            continue;
        }
        let from = weights(running, id);
        if from.is_empty() {
            out.push(TrackerChange::Added(id.clone(), *w));
            continue;
        }
        let to = weights(new, id);
        if from != to {
            out.push(TrackerChange::Weight {
                id: id.clone(),
                from,
                to,
            });
        }
    }
    out
}

/// The `vrrp_track_process` blocks defined in both `running` and `new` whose settings differ,
/// by name, with the settings that differ: `process` (the process, its parameters,
/// `param_match`, `full_command`), `quorum` (`quorum`, `quorum_max`), `delay` (`fork_delay`,
/// `terminate_delay`), `weight` (`weight`, `reverse`). A change other than `weight` makes the
/// tracker count again from the process table; a `weight` change reaches the instances
/// through their [`trackers`]. Added and removed blocks matter only through the instances
/// that list them.
pub fn track_processes(
    running: &BTreeMap<String, TrackProcess>,
    new: &BTreeMap<String, TrackProcess>,
) -> Vec<(String, Vec<&'static str>)> {
    let mut out = Vec::new();
    for (name, n) in new {
        let Some(o) = running.get(name) else {
            continue;
        };
        let mut what = Vec::new();
        let mut differs = |d: bool, name: &'static str| {
            if d {
                what.push(name);
            }
        };
        differs(
            (&o.process, o.param_match, o.full_command)
                != (&n.process, n.param_match, n.full_command),
            "process",
        );
        differs(
            (o.quorum, o.quorum_max) != (n.quorum, n.quorum_max),
            "quorum",
        );
        differs(
            (o.fork_delay, o.terminate_delay) != (n.fork_delay, n.terminate_delay),
            "delay",
        );
        differs(
            (o.weight, o.weight_reverse) != (n.weight, n.weight_reverse),
            "weight",
        );
        if !what.is_empty() {
            out.push((name.clone(), what));
        }
    }
    out
}

/// The `track_file` blocks defined in both `running` and `new` whose settings differ, by
/// name, with the settings that differ: `file` (the path: the tracker reads the new file),
/// `weight` (`weight`, `reverse`), `init_file` (used when the file is missing).
pub fn track_files(
    running: &BTreeMap<String, TrackFile>,
    new: &BTreeMap<String, TrackFile>,
) -> Vec<(String, Vec<&'static str>)> {
    let mut out = Vec::new();
    for (name, n) in new {
        let Some(o) = running.get(name) else {
            continue;
        };
        let mut what = Vec::new();
        if o.file != n.file {
            what.push("file");
        }
        if (o.weight, o.weight_reverse) != (n.weight, n.weight_reverse) {
            what.push("weight");
        }
        if o.init_file != n.init_file {
            what.push("init_file");
        }
        if !what.is_empty() {
            out.push((name.clone(), what));
        }
    }
    out
}

/// How a changed `global_defs` setting is applied at a reload (see [`global_defs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalApply {
    /// By the VRRP engine itself, from the next use (e.g. `vrrp_garp_interval`: the next GARP
    /// round).
    Engine,
    /// Through the instances' plans, which are built from it: the instance diff carries it out
    /// (an update, or a re-creation where the plan asks for one, e.g. `vrrp_version`).
    Plans,
    /// By the script policy when the file was loaded: the commands of the new file carry it
    /// (`script_user`, `enable_script_security`).
    Policy,
    /// By the daemon's reloader, which rebuilds the mailer (`mail::reload`): the next mail
    /// follows it (router_id, recipients, sender, server, smtp_alert* and the like).
    Mail,
    /// By the sync daemons' owners (`lvs_sync_daemon`), after the instances changed: the VRRP
    /// engine for the form that follows an instance (the daemon this process started is
    /// stopped and the one matching the followed instance's current state started), the
    /// daemon's reloader for the rkeepalived-only `active_active` form (both daemons stopped
    /// and started again). Removed from the file: stopped; added: started.
    SyncDaemon,
}

/// One changed `global_defs` setting: its keyword and how it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalChange {
    pub name: &'static str,
    pub apply: GlobalApply,
}

/// How a mail setting is applied.
const MAIL: GlobalApply = GlobalApply::Mail;

/// The `global_defs` settings that differ from `old` to `new`, in keyword order of the model,
/// each with how it is applied ([`GlobalApply`]).
pub fn global_defs(old: &GlobalDefs, new: &GlobalDefs) -> Vec<GlobalChange> {
    use GlobalApply::{Engine, Plans, Policy};
    // Exhaustive: a setting added to GlobalDefs must say how a reload applies it.
    let GlobalDefs {
        lvs_sync_daemon: _,
        router_id,
        vrrp_version,
        vrrp_strict,
        enable_script_security,
        script_user,
        vrrp_garp_master_delay,
        vrrp_garp_master_repeat,
        vrrp_garp_master_refresh,
        vrrp_garp_master_refresh_repeat,
        vrrp_garp_interval,
        vrrp_gna_interval,
        vrrp_mcast_group4,
        vrrp_mcast_group6,
        vrrp_check_unicast_src,
        vrrp_skip_check_adv_addr,
        vrrp_garp_lower_prio_delay,
        vrrp_garp_lower_prio_repeat,
        vrrp_min_garp,
        vrrp_lower_prio_no_advert,
        vrrp_higher_prio_send_advert,
        notification_email,
        notification_email_from,
        smtp_server,
        smtp_helo_name,
        smtp_connect_timeout,
        smtp_alert,
        smtp_alert_vrrp,
        smtp_alert_checker,
        no_email_faults,
        no_checker_emails,
        nftables,
    } = new;
    let lvs_sync = |o: &GlobalDefs| o.lvs_sync_daemon.as_ref().map(LvsSyncDaemon::positionless);
    let mut out = Vec::new();
    let mut add = |differs: bool, name: &'static str, apply: GlobalApply| {
        if differs {
            out.push(GlobalChange { name, apply });
        }
    };
    add(*router_id != old.router_id, "router_id", MAIL);
    add(*vrrp_version != old.vrrp_version, "vrrp_version", Plans);
    add(*vrrp_strict != old.vrrp_strict, "vrrp_strict", Plans);
    add(
        *enable_script_security != old.enable_script_security,
        "enable_script_security",
        Policy,
    );
    add(*script_user != old.script_user, "script_user", Policy);
    add(
        *vrrp_garp_master_delay != old.vrrp_garp_master_delay,
        "vrrp_garp_master_delay",
        Plans,
    );
    add(
        *vrrp_garp_master_repeat != old.vrrp_garp_master_repeat,
        "vrrp_garp_master_repeat",
        Plans,
    );
    add(
        *vrrp_garp_master_refresh != old.vrrp_garp_master_refresh,
        "vrrp_garp_master_refresh",
        Plans,
    );
    add(
        *vrrp_garp_master_refresh_repeat != old.vrrp_garp_master_refresh_repeat,
        "vrrp_garp_master_refresh_repeat",
        Plans,
    );
    add(
        *vrrp_garp_interval != old.vrrp_garp_interval,
        "vrrp_garp_interval",
        Engine,
    );
    add(
        *vrrp_gna_interval != old.vrrp_gna_interval,
        "vrrp_gna_interval",
        Engine,
    );
    // The engine moves its multicast sockets' memberships; the plans' destinations follow.
    let group = Engine;
    add(
        *vrrp_mcast_group4 != old.vrrp_mcast_group4,
        "vrrp_mcast_group4",
        group,
    );
    add(
        *vrrp_mcast_group6 != old.vrrp_mcast_group6,
        "vrrp_mcast_group6",
        group,
    );
    add(
        *vrrp_check_unicast_src != old.vrrp_check_unicast_src,
        "vrrp_check_unicast_src",
        Plans,
    );
    add(
        *vrrp_skip_check_adv_addr != old.vrrp_skip_check_adv_addr,
        "vrrp_skip_check_adv_addr",
        Plans,
    );
    add(
        *vrrp_garp_lower_prio_delay != old.vrrp_garp_lower_prio_delay,
        "vrrp_garp_lower_prio_delay",
        Plans,
    );
    add(
        *vrrp_garp_lower_prio_repeat != old.vrrp_garp_lower_prio_repeat,
        "vrrp_garp_lower_prio_repeat",
        Plans,
    );
    add(*vrrp_min_garp != old.vrrp_min_garp, "vrrp_min_garp", Plans);
    add(
        *vrrp_lower_prio_no_advert != old.vrrp_lower_prio_no_advert,
        "vrrp_lower_prio_no_advert",
        Plans,
    );
    add(
        *vrrp_higher_prio_send_advert != old.vrrp_higher_prio_send_advert,
        "vrrp_higher_prio_send_advert",
        Plans,
    );
    add(
        *notification_email != old.notification_email,
        "notification_email",
        MAIL,
    );
    add(
        *notification_email_from != old.notification_email_from,
        "notification_email_from",
        MAIL,
    );
    add(*smtp_server != old.smtp_server, "smtp_server", MAIL);
    add(
        *smtp_helo_name != old.smtp_helo_name,
        "smtp_helo_name",
        MAIL,
    );
    add(
        *smtp_connect_timeout != old.smtp_connect_timeout,
        "smtp_connect_timeout",
        MAIL,
    );
    add(*smtp_alert != old.smtp_alert, "smtp_alert", MAIL);
    add(
        *smtp_alert_vrrp != old.smtp_alert_vrrp,
        "smtp_alert_vrrp",
        MAIL,
    );
    add(
        *smtp_alert_checker != old.smtp_alert_checker,
        "smtp_alert_checker",
        MAIL,
    );
    add(
        *no_email_faults != old.no_email_faults,
        "no_email_faults",
        MAIL,
    );
    add(
        *no_checker_emails != old.no_checker_emails,
        "no_checker_emails",
        MAIL,
    );
    add(
        *nftables != old.nftables,
        "nftables",
        // The worker moves the tables (`Firewall::reconfigure`).
        Engine,
    );
    add(
        lvs_sync(new) != lvs_sync(old),
        "lvs_sync_daemon",
        GlobalApply::SyncDaemon,
    );
    out
}

/// `(in new only, in old only)`, each in its list's order.
fn by_difference<T: PartialEq + Clone>(old: &[T], new: &[T]) -> (Vec<T>, Vec<T>) {
    let added = new.iter().filter(|n| !old.contains(n)).cloned().collect();
    let removed = old.iter().filter(|o| !new.contains(o)).cloned().collect();
    (added, removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::vrrp::plan::{self, Facts, Link};
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// eth0 (index 2) and eth1 (index 3), 10.0.0.1 / 10.0.1.1, link-local fe80::1.
    struct Fake;
    impl Facts for Fake {
        fn link(&self, name: &str) -> Result<Link, String> {
            match name {
                "eth0" => Ok(Link {
                    ifindex: 2,
                    mac: [2, 0, 0, 0, 0, 1],
                }),
                "eth1" => Ok(Link {
                    ifindex: 3,
                    mac: [2, 0, 0, 0, 0, 2],
                }),
                _ => Err(format!("no interface {name}")),
            }
        }
        fn primary_ipv4(&self, ifindex: u32, _: &[Ipv4Addr]) -> Result<Option<Ipv4Addr>, String> {
            Ok(Some(Ipv4Addr::new(
                10,
                0,
                u8::try_from(ifindex).unwrap() - 2,
                1,
            )))
        }
        fn link_local_ipv6(&self, _: u32) -> Result<Option<Ipv6Addr>, String> {
            Ok(Some("fe80::1".parse().unwrap()))
        }
    }

    /// The plans of a configuration text.
    fn plans_of(text: &str) -> Vec<InstancePlan> {
        let path = std::path::Path::new("keepalived.conf");
        let loaded = config::load_str(path, text, &config::LoadOptions::default());
        assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics);
        let c = loaded.config;
        c.vrrp_instances
            .iter()
            .map(|i| plan::instance(&c, i, &Fake, None).unwrap())
            .collect()
    }

    /// VI_1 (VRID 51) with `vi1` inside its block, VI_2 (VRID 52) as given.
    fn conf(vi1: &str) -> String {
        format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n priority 150\n\
             {vi1}\n}}\n\
             vrrp_instance VI_2 {{\n interface eth0\n virtual_router_id 52\n priority 100\n\
             virtual_ipaddress {{\n  10.0.0.110/24\n }}\n}}\n"
        )
    }

    const VIPS: &str = "virtual_ipaddress {\n 10.0.0.100/24\n 10.0.0.101/24\n}";

    fn one(old: &str, new: &str) -> Vec<Change> {
        plans(&plans_of(&conf(old)), &plans_of(&conf(new)))
    }

    fn edits(changes: &[Change]) -> Vec<Edit> {
        match changes {
            [Change::Update { plan, edits }] => {
                assert_eq!(plan.name, "VI_1");
                edits.clone()
            }
            other => panic!("expected one update of VI_1, got {other:?}"),
        }
    }

    #[test]
    fn a_renamed_instance_is_matched_by_interface_vrid_and_family() {
        let running = plans_of(&conf(""));
        let instances = |text: &str| {
            let path = std::path::Path::new("keepalived.conf");
            config::load_str(path, text, &config::LoadOptions::default())
                .config
                .vrrp_instances
        };
        let renamed = conf("").replace("VI_1", "VI_9");
        assert_eq!(
            renames(&running, &instances(&renamed)),
            vec![("VI_1".to_string(), "VI_9".to_string())]
        );
        // Same names: nothing to rename.
        assert!(renames(&running, &instances(&conf(""))).is_empty());
        // Another VRID, interface or family is another router: removed and added.
        for other in [
            renamed.replace("virtual_router_id 51", "virtual_router_id 53"),
            renamed.replacen("interface eth0", "interface eth1", 1),
            renamed.replacen("priority 150", "priority 150\n unicast_src_ip fe80::1", 1),
        ] {
            let new = instances(&other);
            assert!(new.iter().any(|i| i.name == "VI_9"), "{other}");
            assert!(renames(&running, &new).is_empty(), "{other}");
        }
        // An added instance is taken once: VI_2 renamed too, to a name VI_1's new one is not.
        let both = renamed.replace("VI_2", "VI_8");
        assert_eq!(
            renames(&running, &instances(&both)),
            vec![
                ("VI_1".to_string(), "VI_9".to_string()),
                ("VI_2".to_string(), "VI_8".to_string())
            ]
        );
    }

    #[test]
    fn an_unchanged_file_changes_nothing() {
        assert_eq!(one(VIPS, VIPS), vec![]);
        // Positions are not settings: a blank line above changes nothing.
        let a = plans_of(&conf(VIPS));
        let b = plans_of(&format!("\n\n{}", conf(VIPS)));
        assert_eq!(plans(&a, &b), vec![]);
    }

    #[test]
    fn priority_and_advert_int_are_in_place_edits() {
        let e = edits(&one(VIPS, &format!("{VIPS}\n priority 140\n advert_int 2")));
        assert_eq!(
            e,
            vec![
                Edit::Priority { from: 150, to: 140 },
                Edit::AdvertInt { from: 100, to: 200 }
            ]
        );
        let e = edits(&one(VIPS, &format!("{VIPS}\n nopreempt")));
        assert_eq!(e, vec![Edit::Setting("nopreempt")]);
    }

    #[test]
    fn vips_are_diffed_by_difference() {
        let new = "virtual_ipaddress {\n 10.0.0.100/24\n 10.0.0.102/24\n}";
        let e = edits(&one(VIPS, new));
        let addrs = |e: &Edit| match e {
            Edit::VipsAdded(v) | Edit::VipsRemoved(v) => v
                .iter()
                .map(|v| v.addr.addr.to_string())
                .collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(matches!(e[0], Edit::VipsAdded(_)));
        assert_eq!(addrs(&e[0]), ["10.0.0.102"]);
        assert!(matches!(e[1], Edit::VipsRemoved(_)));
        assert_eq!(addrs(&e[1]), ["10.0.0.101"]);
        // A changed netmask is one VIP removed and one added.
        let e = edits(&one(
            VIPS,
            "virtual_ipaddress {\n 10.0.0.100/24\n 10.0.0.101/25\n}",
        ));
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(addrs(&e[0]), ["10.0.0.101"]);
        assert_eq!(addrs(&e[1]), ["10.0.0.101"]);
    }

    #[test]
    fn socket_changes_recreate_the_instance_with_a_reason() {
        let reason = |new: &str| match plans(&plans_of(&conf(VIPS)), &plans_of(new)).as_slice() {
            [Change::Recreate { plan, reason }] => {
                assert_eq!(plan.name, "VI_1");
                reason.clone()
            }
            other => panic!("expected a re-creation of VI_1, got {other:?}"),
        };
        assert_eq!(
            reason(&conf(VIPS).replacen("interface eth0", "interface eth1", 1)),
            "interface changed from eth0 to eth1"
        );
        assert_eq!(
            reason(&conf(VIPS).replacen("virtual_router_id 51", "virtual_router_id 53", 1)),
            "virtual_router_id changed from 51 to 53"
        );
        assert_eq!(
            reason(&conf(&format!("{VIPS}\n version 3"))),
            "version changed from 2 to 3"
        );
        assert_eq!(
            reason(&conf(&format!("{VIPS}\n unicast_peer {{\n  10.0.0.2\n }}"))),
            "advert destination changed from multicast to unicast"
        );
        assert_eq!(
            reason(&conf(&format!("{VIPS}\n priority 255"))),
            "priority changed from 150 to 255"
        );
    }

    #[test]
    fn peers_change_in_place_within_unicast() {
        let peers = |p: &str| format!("{VIPS}\n unicast_peer {{\n  {p}\n }}");
        let e = edits(&one(&peers("10.0.0.2"), &peers("10.0.0.2\n 10.0.0.3")));
        assert_eq!(e, vec![Edit::Peers]);
    }

    #[test]
    fn a_new_multicast_group_is_a_setting_of_every_multicast_instance() {
        let grouped = format!(
            "global_defs {{\n vrrp_mcast_group4 224.0.0.19\n}}\n{}",
            conf(VIPS)
        );
        let changes = plans(&plans_of(&conf(VIPS)), &plans_of(&grouped));
        let names: Vec<(&str, Vec<Edit>)> = changes
            .iter()
            .map(|c| match c {
                Change::Update { plan, edits } => (plan.name.as_str(), edits.clone()),
                other => panic!("not an update: {other:?}"),
            })
            .collect();
        let group = vec![Edit::Setting("multicast group")];
        assert_eq!(names, [("VI_1", group.clone()), ("VI_2", group)]);
        // A unicast instance does not send to the group: untouched.
        let unicast = format!("{VIPS}\n unicast_peer {{\n  10.0.0.2\n }}");
        let grouped = format!(
            "global_defs {{\n vrrp_mcast_group4 224.0.0.19\n}}\n{}",
            conf(&unicast)
        );
        let changes = plans(&plans_of(&conf(&unicast)), &plans_of(&grouped));
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].name(), "VI_2");
    }

    /// The `vrrp_script` blocks of a configuration text.
    fn scripts_of(text: &str) -> BTreeMap<String, VrrpScript> {
        let path = std::path::Path::new("keepalived.conf");
        let loaded = config::load_str(path, text, &config::LoadOptions::default());
        assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics);
        loaded.config.vrrp_scripts
    }

    fn script_block(name: &str, body: &str) -> String {
        format!("vrrp_script {name} {{\n script \"/bin/true\"\n interval 1\n{body}\n}}\n")
    }

    #[test]
    fn scripts_restart_only_when_their_runner_changes() {
        let tracked: BTreeSet<String> = ["a", "b", "c"].map(String::from).into();
        let running = scripts_of(&(script_block("a", "") + &script_block("b", " weight 5")));
        // Unchanged, moved down a line: nothing.
        let moved = scripts_of(&format!(
            "\n{}{}",
            script_block("a", ""),
            script_block("b", " weight 5")
        ));
        assert_eq!(scripts(&running, &moved, &tracked), vec![]);
        // b's weight only; a's interval and rise; c new.
        let new = scripts_of(
            &(script_block("a", " rise 3\n interval 2")
                + &script_block("b", " weight 10")
                + &script_block("c", "")),
        );
        assert_eq!(
            scripts(&running, &new, &tracked),
            vec![
                ScriptChange::Restart {
                    name: "a".into(),
                    what: vec!["interval", "timeout", "rise"],
                },
                ScriptChange::Weight("b".into()),
                ScriptChange::Start("c".into()),
            ]
        );
        // The command itself.
        let path = scripts_of(
            &(script_block("a", "").replace("/bin/true", "/bin/false")
                + &script_block("b", " weight 5")),
        );
        assert_eq!(
            scripts(&running, &path, &tracked),
            vec![ScriptChange::Restart {
                name: "a".into(),
                what: vec!["script"],
            }]
        );
    }

    #[test]
    fn untracked_or_removed_scripts_stop_and_defined_untracked_ones_do_not_start() {
        let running = scripts_of(&(script_block("a", "") + &script_block("b", "")));
        let only_a: BTreeSet<String> = ["a".to_string()].into();
        // b still defined but tracked by nobody; c defined, not tracked: not started.
        let new =
            scripts_of(&(script_block("a", "") + &script_block("b", "") + &script_block("c", "")));
        assert_eq!(
            scripts(&running, &new, &only_a),
            vec![ScriptChange::Stop("b".into())]
        );
        // a tracked but its block removed: stopped.
        let none = scripts_of(&script_block("b", ""));
        assert_eq!(
            scripts(&running, &none, &only_a),
            vec![
                ScriptChange::Stop("a".into()),
                ScriptChange::Stop("b".into())
            ]
        );
    }

    /// The configuration of a text (no error).
    fn config_of(text: &str) -> config::model::Config {
        let path = std::path::Path::new("keepalived.conf");
        let loaded = config::load_str(path, text, &config::LoadOptions::default());
        assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics);
        loaded.config
    }

    /// VI_1's tracker list in `text`.
    fn trackers_of(text: &str) -> Vec<(TrackerId, TrackWeight)> {
        let c = config_of(text);
        crate::vrrp::track::instance_trackers(&c, &c.vrrp_instances[0]).list
    }

    const TRACK_BLOCKS: &str = "vrrp_track_process p {\n process sleep\n weight 5\n}\n\
                                track_file f {\n file /run/f\n weight 2\n}\n";

    fn tracked_vi1(lines: &str) -> String {
        format!(
            "{TRACK_BLOCKS}vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n\
             {lines}\n}}\n"
        )
    }

    fn w(weight: i32) -> TrackWeight {
        TrackWeight {
            weight,
            reverse: false,
        }
    }

    #[test]
    fn trackers_are_diffed_per_instance() {
        let old = trackers_of(&tracked_vi1(
            " track_interface {\n  eth1 weight -10\n  eth2\n }\n track_process {\n  p\n }",
        ));
        // The instance's own interface is tracked last, with weight 0.
        assert_eq!(
            old.last(),
            Some(&(TrackerId::Interface("eth0".into()), w(0)))
        );
        // Moved lines and a reordered list: nothing.
        let moved = trackers_of(&tracked_vi1(
            "\n track_interface {\n  eth2\n  eth1 weight -10\n }\n track_process {\n  p\n }",
        ));
        assert_eq!(trackers(&old, &moved), vec![]);
        // eth1's weight, eth2 removed, the file added, p's weight from its line.
        let new = trackers_of(&tracked_vi1(
            " track_interface {\n  eth1 weight -60\n }\n track_process {\n  p weight 7\n }\n\
             track_file {\n  f\n }",
        ));
        assert_eq!(
            trackers(&old, &new),
            vec![
                TrackerChange::Removed(TrackerId::Interface("eth2".into())),
                TrackerChange::Weight {
                    id: TrackerId::Interface("eth1".into()),
                    from: vec![w(-10)],
                    to: vec![w(-60)],
                },
                TrackerChange::Weight {
                    id: TrackerId::Process("p".into()),
                    from: vec![w(5)],
                    to: vec![w(7)],
                },
                TrackerChange::Added(TrackerId::File("f".into()), w(2)),
            ]
        );
        // A block's default weight reaches the lines that have none.
        let heavier = trackers_of(
            &tracked_vi1(
                " track_interface {\n  eth1 weight -10\n  eth2\n }\n track_process {\n  p\n }",
            )
            .replace("weight 5", "weight 9"),
        );
        assert_eq!(
            trackers(&old, &heavier),
            vec![TrackerChange::Weight {
                id: TrackerId::Process("p".into()),
                from: vec![w(5)],
                to: vec![w(9)],
            }]
        );
        // dont_track_primary: the own interface stops being tracked.
        let primary = trackers_of(&tracked_vi1(
            " dont_track_primary\n track_interface {\n  eth1 weight -10\n  eth2\n }\n\
             track_process {\n  p\n }",
        ));
        assert_eq!(
            trackers(&old, &primary),
            vec![TrackerChange::Removed(TrackerId::Interface("eth0".into()))]
        );
    }

    #[test]
    fn sync_group_members_keep_keepalived_s_tracker_rules() {
        let group = |weight_line: &str| {
            format!(
                "{}vrrp_sync_group G {{\n group {{\n  VI_1\n }}\n{weight_line}\n\
                 track_interface {{\n  eth3 weight -5\n }}\n}}\n",
                tracked_vi1(" track_interface {\n  eth1 weight -10\n  eth2\n }")
            )
        };
        let c = config_of(&group(""));
        let t = crate::vrrp::track::instance_trackers(&c, &c.vrrp_instances[0]);
        // Without sync_group_tracking_weight the member's weighted eth1 is dropped (logged);
        // the group's own trackers keep their weights.
        assert_eq!(
            t.list,
            vec![
                (TrackerId::Interface("eth2".into()), w(0)),
                (TrackerId::Interface("eth3".into()), w(-5)),
                (TrackerId::Interface("eth0".into()), w(0)),
            ]
        );
        assert_eq!(
            t.group_ignored,
            vec![("interface", "eth1".to_string(), -10)]
        );
        // sync_group_tracking_weight added by a reload: eth1 counts again.
        let c2 = config_of(&group(" sync_group_tracking_weight"));
        let t2 = crate::vrrp::track::instance_trackers(&c2, &c2.vrrp_instances[0]);
        assert_eq!(
            trackers(&t.list, &t2.list),
            vec![TrackerChange::Added(
                TrackerId::Interface("eth1".into()),
                w(-10)
            )]
        );
    }

    #[test]
    fn track_blocks_name_what_changed() {
        let c = config_of(&tracked_vi1(""));
        let (p, f) = (&c.tracking.processes, &c.tracking.files);
        // Moved down a line: nothing.
        let moved = config_of(&format!("\n{}", tracked_vi1("")));
        assert_eq!(track_processes(p, &moved.tracking.processes), vec![]);
        assert_eq!(track_files(f, &moved.tracking.files), vec![]);
        let edited = config_of(
            &tracked_vi1("")
                .replace("weight 5", "weight 5\n quorum 2\n delay 1")
                .replace("/run/f", "/run/g"),
        );
        assert_eq!(
            track_processes(p, &edited.tracking.processes),
            vec![("p".to_string(), vec!["quorum", "delay"])]
        );
        assert_eq!(
            track_files(f, &edited.tracking.files),
            vec![("f".to_string(), vec!["file"])]
        );
        let process = config_of(&tracked_vi1("").replace("process sleep", "process sleep 10"));
        assert_eq!(
            track_processes(p, &process.tracking.processes),
            vec![("p".to_string(), vec!["process"])]
        );
        // A block added or removed matters through the instances only.
        let none = config_of("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n}\n");
        assert_eq!(track_processes(p, &none.tracking.processes), vec![]);
        assert_eq!(track_files(&none.tracking.files, f), vec![]);
    }

    #[test]
    fn global_defs_are_diffed_setting_by_setting() {
        let g = |text: &str| {
            let path = std::path::Path::new("keepalived.conf");
            let loaded = config::load_str(
                path,
                &format!(
                    "global_defs {{\n{text}\n}}\nvrrp_instance VI_1 {{\n interface eth0\n \
                     virtual_router_id 1\n}}\n"
                ),
                &config::LoadOptions::default(),
            );
            assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics);
            loaded.config.global
        };
        let old = g(" router_id r1\n vrrp_garp_interval 0.1\n lvs_sync_daemon eth0 VI_1");
        // Moved down a line: nothing.
        let moved = g("\n router_id r1\n vrrp_garp_interval 0.1\n lvs_sync_daemon eth0 VI_1");
        assert_eq!(global_defs(&old, &moved), vec![]);
        // Removed (and, the other way, added): a change its owner applies.
        let without = g(" router_id r1\n vrrp_garp_interval 0.1");
        for (a, b) in [(&old, &without), (&without, &old)] {
            assert_eq!(
                global_defs(a, b),
                vec![GlobalChange {
                    name: "lvs_sync_daemon",
                    apply: GlobalApply::SyncDaemon
                }]
            );
        }
        let new = g(
            " router_id r2\n vrrp_garp_interval 0.3\n vrrp_garp_master_repeat 3\n \
             lvs_sync_daemon eth1 VI_1",
        );
        let got: Vec<(&str, GlobalApply)> = global_defs(&old, &new)
            .into_iter()
            .map(|c| (c.name, c.apply))
            .collect();
        assert_eq!(
            got,
            vec![
                ("router_id", MAIL),
                ("vrrp_garp_master_repeat", GlobalApply::Plans),
                ("vrrp_garp_interval", GlobalApply::Engine),
                ("lvs_sync_daemon", GlobalApply::SyncDaemon),
            ]
        );
    }

    #[test]
    fn instances_are_matched_by_name() {
        let old = plans_of(&conf(VIPS));
        let renamed = plans_of(&conf(VIPS).replacen("VI_2", "VI_9", 1));
        let changes = plans(&old, &renamed);
        let names: Vec<(&str, &str)> = changes
            .iter()
            .map(|c| {
                let kind = match c {
                    Change::Add(_) => "add",
                    Change::Remove(_) => "remove",
                    Change::Recreate { .. } => "recreate",
                    Change::Update { .. } => "update",
                };
                (kind, c.name())
            })
            .collect();
        // A rename is a removal and an addition; VI_1 is untouched.
        assert_eq!(names, [("remove", "VI_2"), ("add", "VI_9")]);
    }
}
