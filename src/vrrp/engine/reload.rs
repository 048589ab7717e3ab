//! SIGHUP, VRRP side (issue 13): the new configuration's plans diffed against the running ones
//! ([`crate::vrrp::diff`]) and the changes carried out in place.
//!
//! * an instance whose plan is equal is not touched (no state change, advert gap, GARP or
//!   notify);
//! * an update keeps the state: the FSM takes the new settings
//!   ([`fsm::Instance::reconfigure`]), the priority goes through the trackers' recomputation
//!   (a master that now loses hands over as on any priority change), and a master adds the
//!   added VIPs/rules/routes (GARPs for the added VIPs only, a burst paced as a
//!   transition's: `garp_master_repeat` rounds `vrrp_garp_interval` apart) and deletes the
//!   removed ones;
//!   `notify` commands and the other instance settings are taken from the new block;
//! * `vrrp_script` blocks by difference ([`diff::scripts`]): a script newly tracked starts, one
//!   no longer tracked (or removed) stops, one whose runner settings changed (script, user,
//!   interval, timeout, rise, fall, init_fail) restarts with the state of start-up; an
//!   unchanged one keeps running and keeps its state (no re-run of notify, no priority blip);
//!   weights (`track_script` lines or the block's default) and new `track_script` names take
//!   effect on the priority at once;
//! * an instance's `track_interface` / `track_process` / `track_file` trackers (its own lines,
//!   its sync group's, and the `vrrp_track_process` / `track_file` blocks they name) by
//!   difference ([`diff::trackers`], [`diff::track_processes`], [`diff::track_files`]): an
//!   added tracker counts from the value the reload read off this thread, a removed one stops
//!   counting, a weight change moves the effective priority at once (a weight-0 tracker that
//!   is down puts the instance in FAULT, as at run time); a block whose process spec, quorum,
//!   delays or file path changed counts again from the value read; the link monitor and the
//!   `/proc` and file pollers follow the new lists; an instance whose trackers did not change
//!   is not touched;
//! * an added instance starts as at start-up (unless it uses a VMAC), with its trackers;
//! * `vrrp_sync_group` blocks by difference after the instances changed (`Engine::regroup`):
//!   an unchanged group keeps its state; an added group or one whose members changed is formed
//!   in BACKUP and re-evaluated from its members (a FAULT member takes it to FAULT, else a
//!   MASTER member takes the BACKUP ones to MASTER); a removed member leaves its group before
//!   it stops; a removed group's members run on their own;
//! * a running instance the new file names no more, whose interface, VRID and family an added
//!   instance has, is that instance renamed ([`diff::renames`], keepalived's matching): it
//!   keeps running under the new name;
//! * a removed instance stops as at shutdown (priority 0 if master, VIPs removed,
//!   `notify_stop`) and is forgotten; a change that needs new sockets (interface, VRID,
//!   version, family, source, cast, VMAC) re-creates the instance: it stops, then starts
//!   (logged with the reason);
//! * `lvs_sync_daemon` (the form that follows an instance) once the instances changed
//!   ([`Engine::reload_syncd`]): changed, the daemon this process started stops and the new one
//!   starts as the followed instance is now (master daemon while MASTER, backup otherwise);
//!   removed, it stops; added, it starts; unchanged, it keeps following its instance, wherever
//!   removals before it moved it (the rkeepalived-only `active_active` form is the daemon's
//!   reloader's);
//! * what this engine cannot do live yet is logged by name with the reason and keeps running
//!   unchanged until the next restart: the added instances above, changes to an instance
//!   parked for its interface, a VMAC that does not exist yet;
//! * `notify_fifo` / `vrrp_notify_fifo` changed: the FIFO scripts stop, the FIFOs this process
//!   created are removed, the new ones are opened and their scripts started, as at start-up;
//! * `static_ipaddress` / `static_routes` / `static_rules` by difference (only the added
//!   ones added, only the removed ones deleted);
//! * `global_defs` by difference ([`diff::global_defs`]): `vrrp_garp_interval` /
//!   `vrrp_gna_interval` from the next GARP/NA round; `vrrp_mcast_group4`/`6`: every
//!   multicast advert socket of the family joins the new group and leaves the old one, and
//!   the instances' plans send to it (keepalived 2.2.7 takes its instances through FAULT
//!   there, measured); `nftables`/`nftables_priority`/`nftables_counters`: the worker moves
//!   the drop tables in one `nft` batch (`Firewall::reconfigure`); `lvs_sync_daemon` as above;
//!   the settings the plans are built from through the instance diff, the script policy's
//!   through the new file's commands; the daemon's reloader rebuilds the mailer (router_id,
//!   mail settings).
//!
//! The new plans are built from links and addresses the daemon's reloader read on the blocking
//! pool ([`Engine::reload_facts`], a [`plan::Recorded`]), and the trackers' values from what it
//! read there too ([`super::TrackFacts`]: link states, one `/proc` scan, the tracked files): a
//! reload does no rtnetlink read or `/proc` scan on this thread. One line is logged per change
//! applied.

use super::{Engine, GarpBurst, kernel};
use crate::config::model::{Config, Notify, VrrpInstance, VrrpScript};
use crate::net::netlink::{IfAddrEntry, Netlink};
use crate::vrrp::diff::{self, Change, Edit, ScriptChange};
use crate::vrrp::fsm::{Input, State};
use crate::vrrp::plan;
use crate::vrrp::track::ScriptTracker;
use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Instant;
use tracing::{info, warn};

impl Engine {
    /// Applies `config`'s VRRP instances (see the module doc).
    pub(super) async fn reload(&mut self, config: &Config, all: &super::ReloadFacts) {
        let facts = &all.plans;
        let sync_daemon = self.global.lvs_sync_daemon.clone();
        self.reload_global(config);
        self.reload_fifos(config);
        self.reload_statics(config, facts);
        let scripts_changed = self.reload_scripts(config);
        self.rename(config);
        // Before the instances change, so that an update's priority and its trackers' weights
        // are applied as one change.
        let trackers_changed = self.reload_trackers(config, &all.trackers);
        let mut old = Vec::new();
        let mut new = Vec::new();
        for rt in &self.instances {
            old.push(rt.plan.clone());
            let Some(inst) = config.vrrp_instances.iter().find(|i| i.name == rt.cfg.name) else {
                continue;
            };
            match self.new_plan(config, facts, rt, inst) {
                Ok(p) => new.push(p),
                Err(why) => {
                    warn!(
                        "({}) Reload: {why}; the instance runs unchanged until the next restart",
                        inst.name
                    );
                    new.push(rt.plan.clone());
                }
            }
        }
        let added: Vec<&VrrpInstance> = config
            .vrrp_instances
            .iter()
            .filter(|inst| !self.instances.iter().any(|rt| rt.cfg.name == inst.name))
            .collect();
        for change in diff::plans(&old, &new) {
            match change {
                Change::Update { plan, edits } => {
                    let Some(i) = self.index_of(&plan.name) else {
                        continue;
                    };
                    let inst = config
                        .vrrp_instances
                        .iter()
                        .find(|c| c.name == plan.name)
                        .cloned();
                    self.update(config, i, plan, edits, inst).await;
                }
                Change::Recreate { plan, reason } => {
                    let name = plan.name.clone();
                    let inst = config.vrrp_instances.iter().find(|c| c.name == name);
                    let ready = match inst {
                        Some(inst) => self.can_add(facts, inst),
                        None => Err("no such instance".into()),
                    };
                    match (ready, inst, self.index_of(&name)) {
                        (Ok(()), Some(inst), Some(i)) => {
                            info!("({name}) Reload: {reason}: instance restarted");
                            self.remove(i).await;
                            if let Err(why) = self.add(config, all, inst).await {
                                warn!("({name}) Reload: cannot start the instance again: {why}");
                            }
                        }
                        (Err(why), ..) => warn!(
                            "({name}) Reload: {reason}, but {why}: the instance runs unchanged \
                             until the next restart"
                        ),
                        _ => {}
                    }
                }
                Change::Remove(name) => {
                    if let Some(i) = self.index_of(&name) {
                        info!("({name}) Reload: instance removed");
                        self.remove(i).await;
                    }
                }
                Change::Add(_) => {}
            }
        }
        for inst in added {
            if let Err(why) = self.add(config, all, inst).await {
                warn!(
                    "({}) Reload: instance added, but {why}: it starts at the next restart",
                    inst.name
                );
            }
        }
        // Notify commands, smtp_alert and the like: the new block, also when the plan is the
        // same.
        for rt in &mut self.instances {
            if let Some(inst) = config.vrrp_instances.iter().find(|i| i.name == rt.cfg.name)
                && !same_commands(&rt.cfg.notify, &inst.notify)
            {
                info!("({}) Reload: notify commands changed", rt.cfg.name);
                rt.cfg.notify = inst.notify.clone();
            }
            if let Some(inst) = config.vrrp_instances.iter().find(|i| i.name == rt.cfg.name) {
                rt.cfg.smtp_alert = inst.smtp_alert;
            }
        }
        self.follow_trackers();
        // The sync daemon follows its instance where the changes above left it, before the
        // groups re-form (their transitions drive it then).
        self.reload_syncd(sync_daemon.as_ref(), config);
        if !(config.tracking.sync_groups.is_empty() && self.has_no_groups()) {
            // Idempotent: unchanged groups keep running as they are.
            self.regroup(config).await;
        } else if scripts_changed || trackers_changed {
            // Restarted scripts count as unknown until their first result; weights changed.
            self.retrack().await;
        }
        self.metrics_dirty = true;
    }

    /// Renames in place the running instances the new file renamed ([`diff::renames`]: same
    /// interface, VRID and family under a new name), one line each; the diff by name then
    /// applies the rest of their changes.
    fn rename(&mut self, config: &Config) {
        let running: Vec<plan::InstancePlan> =
            self.instances.iter().map(|rt| rt.plan.clone()).collect();
        for (from, to) in diff::renames(&running, &config.vrrp_instances) {
            let Some(i) = self.index_of(&from) else {
                continue;
            };
            info!(
                "({to}) Reload: instance {from} renamed to {to} (same interface and \
                 virtual_router_id): it keeps running"
            );
            let rt = &mut self.instances[i];
            rt.cfg.name = to.clone();
            rt.plan.name = to.clone();
            rt.fsm.rename(to);
        }
    }

    /// Applies the changed `global_defs` settings ([`diff::global_defs`]), one line each: the
    /// engine's own (GARP/NA round spacing) from the next round on, the ones the plans or the
    /// script policy carry named as such; the mail settings are the daemon's reloader's, and
    /// `lvs_sync_daemon` is applied once the instances changed ([`Engine::reload_syncd`]).
    fn reload_global(&mut self, config: &Config) {
        use diff::GlobalApply;
        let g = &config.global;
        for c in diff::global_defs(&self.global, g) {
            match c.apply {
                GlobalApply::Engine => match c.name {
                    "vrrp_mcast_group4" => self.move_group(
                        c.name,
                        IpAddr::V4(self.global.vrrp_mcast_group4),
                        IpAddr::V4(g.vrrp_mcast_group4),
                    ),
                    "vrrp_mcast_group6" => self.move_group(
                        c.name,
                        IpAddr::V6(self.global.vrrp_mcast_group6),
                        IpAddr::V6(g.vrrp_mcast_group6),
                    ),
                    "nftables" => {
                        let cfg: crate::net::firewall::FirewallConfig = (&g.nftables).into();
                        info!(
                            "Reload: global_defs nftables changed: drop tables now table {} \
                             priority {}{}",
                            cfg.table,
                            cfg.priority,
                            if cfg.counters { " with counters" } else { "" }
                        );
                        self.kernel.submit(Box::new(move |k| {
                            k.firewall.reconfigure(cfg);
                        }));
                    }
                    // vrrp_garp_interval / vrrp_gna_interval.
                    _ => {
                        self.garp_interval = g.vrrp_garp_interval;
                        self.gna_interval = g.vrrp_gna_interval;
                        info!(
                            "Reload: global_defs {} changed: used from the next GARP/NA round",
                            c.name
                        );
                    }
                },
                GlobalApply::Plans => info!(
                    "Reload: global_defs {} changed: applied to the instances that use it",
                    c.name
                ),
                GlobalApply::Policy => {
                    info!(
                        "Reload: global_defs {} changed: scripts and notify commands run as the \
                         new policy says",
                        c.name
                    );
                }
                // The sync daemon once the instances changed (`reload_syncd`), the mailer
                // and `active_active` by the daemon's reloader.
                GlobalApply::Mail | GlobalApply::SyncDaemon => {}
            }
        }
        // The notify FIFO scripts' default user.
        self.default_run_as = g
            .script_user
            .as_ref()
            .and_then(|u| crate::script::resolve_user(u).ok());
        self.global = g.clone();
    }

    /// `vrrp_mcast_group4` / `vrrp_mcast_group6` (`setting`) changed from `old` to `new`:
    /// every multicast advert socket of that family joins `new` and leaves `old` on its
    /// interface (the instances' plans then send to `new`: the instance diff's "multicast
    /// group" setting); sockets opened later join `new` from their plan. A failure is logged
    /// and that socket keeps the old membership.
    fn move_group(&mut self, setting: &str, old: IpAddr, new: IpAddr) {
        let mut moved = 0;
        for ((ifname, src, multicast), i) in &self.socket_keys {
            if !*multicast || src.is_ipv4() != new.is_ipv4() {
                continue;
            }
            match self.sockets[*i].move_group(old, new) {
                Ok(()) => moved += 1,
                Err(e) => warn!("Reload: {setting}: advert socket on {ifname}: {e}"),
            }
        }
        info!(
            "Reload: global_defs {setting} changed from {old} to {new}: {moved} advert \
             socket(s) moved to the new group"
        );
    }

    /// `static_ipaddress` / `static_routes` / `static_rules` by difference: the ones only in
    /// the running set are deleted, the new ones added (worker jobs, recorded in the ledger like
    /// the start-up ones), one line each; the unchanged ones are not touched. A device that
    /// cannot be resolved is logged and its item left out (as at start-up).
    fn reload_statics(&mut self, config: &Config, facts: &plan::Recorded) {
        use crate::net::netlink::IfAddr;
        use plan::Facts as _;
        let mut addrs: Vec<plan::Vip> = Vec::new();
        for a in &config.static_ipaddress {
            let dev = a.dev.as_deref().unwrap_or("eth0");
            match facts.link(dev) {
                Ok(l) => addrs.push(plan::Vip {
                    ifindex: l.ifindex,
                    ifname: dev.to_string(),
                    mac: l.mac,
                    addr: IfAddr {
                        addr: a.addr,
                        prefix_len: a.prefix_len,
                        brd: a.brd,
                        scope: a.scope.unwrap_or(0),
                        label: a.label.clone(),
                        peer: a.peer,
                    },
                    excluded: false,
                }),
                Err(e) => warn!(
                    "Reload: static_ipaddress {}/{} dev {dev}: {e}",
                    a.addr, a.prefix_len
                ),
            }
        }
        let rules: Vec<crate::net::route::Rule> =
            config.static_rules.iter().map(plan::rule).collect();
        let mut routes = Vec::new();
        for r in &config.static_routes {
            match r
                .dev
                .as_deref()
                .map(|d| facts.link(d).map(|l| l.ifindex))
                .transpose()
            {
                Ok(oif) => routes.push(plan::route(r, oif)),
                Err(e) => warn!("Reload: static_routes {}/{}: {e}", r.dst, r.dst_len),
            }
        }
        let st = &self.statics;
        let running = |v: &plan::Vip| {
            st.addrs
                .iter()
                .any(|(i, a)| *i == v.ifindex && *a == v.addr)
        };
        let added_addrs: Vec<plan::Vip> = addrs.iter().filter(|v| !running(v)).cloned().collect();
        let removed_addrs: Vec<plan::Vip> = st
            .addrs
            .iter()
            .filter(|(i, a)| !addrs.iter().any(|v| v.ifindex == *i && v.addr == *a))
            .map(|(i, a)| plan::Vip {
                ifindex: *i,
                ifname: format!("ifindex {i}"),
                mac: [0; 6],
                addr: a.clone(),
                excluded: false,
            })
            .collect();
        let (added_rules, removed_rules) = diff_lists(&st.rules, &rules);
        let (added_routes, removed_routes) = diff_lists(&st.routes, &routes);
        if added_addrs.is_empty()
            && removed_addrs.is_empty()
            && added_rules.is_empty()
            && removed_rules.is_empty()
            && added_routes.is_empty()
            && removed_routes.is_empty()
        {
            return;
        }
        for v in &removed_addrs {
            info!(
                "Reload: static_ipaddress {}/{} removed",
                v.addr.addr, v.addr.prefix_len
            );
        }
        for v in &added_addrs {
            info!(
                "Reload: static_ipaddress {}/{} dev {} added",
                v.addr.addr, v.addr.prefix_len, v.ifname
            );
        }
        for (what, n) in [
            ("static_routes: route(s) removed", removed_routes.len()),
            ("static_routes: route(s) added", added_routes.len()),
            ("static_rules: rule(s) removed", removed_rules.len()),
            ("static_rules: rule(s) added", added_rules.len()),
        ] {
            if n > 0 {
                info!("Reload: {n} {what}");
            }
        }
        let removed = kernel::Change {
            name: "static".into(),
            vips: removed_addrs.into(),
            rules: removed_rules.into(),
            routes: removed_routes.into(),
            firewall: None,
        };
        let added = kernel::Change {
            name: "static".into(),
            vips: added_addrs.into(),
            rules: added_rules.into(),
            routes: added_routes.into(),
            firewall: None,
        };
        self.kernel.submit(Box::new(move |k| removed.remove(k)));
        self.kernel.submit(Box::new(move |k| added.add(k)));
        self.statics = super::Statics {
            addrs: addrs.into_iter().map(|v| (v.ifindex, v.addr)).collect(),
            routes,
            rules,
        };
    }

    /// Starts, stops and restarts the `vrrp_script` runners as `config` asks
    /// ([`diff::scripts`]): an unchanged script keeps running with its state (no re-run, no
    /// notify, no priority change); a changed one restarts with the state of start-up. Returns
    /// whether any tracker state or weight changed (the instances are then recomputed).
    fn reload_scripts(&mut self, config: &Config) -> bool {
        let tracked: BTreeSet<String> = config
            .vrrp_instances
            .iter()
            .flat_map(|i| i.track_script.iter())
            .chain(
                config
                    .tracking
                    .sync_groups
                    .iter()
                    .flat_map(|g| g.track_script.iter()),
            )
            .map(|t| t.name.clone())
            .collect();
        let running: BTreeMap<String, VrrpScript> = self
            .trackers
            .keys()
            .filter_map(|n| Some((n.clone(), self.scripts.get(n)?.clone())))
            .collect();
        let changes = diff::scripts(&running, &config.vrrp_scripts, &tracked);
        self.scripts = config.vrrp_scripts.clone();
        for c in &changes {
            match c {
                ScriptChange::Stop(name) => {
                    info!("Reload: vrrp_script {name} no longer tracked: stopped");
                    self.stop_script(name);
                    self.trackers.remove(name);
                }
                ScriptChange::Start(name) | ScriptChange::Restart { name, .. } => {
                    if let ScriptChange::Restart { what, .. } = c {
                        info!(
                            "Reload: vrrp_script {name} {} changed: restarted",
                            what.join("/")
                        );
                    } else {
                        info!("Reload: vrrp_script {name} added: started");
                    }
                    let s = &self.scripts[name];
                    self.trackers.insert(
                        name.clone(),
                        ScriptTracker::new(s.rise, s.fall, s.init_fail),
                    );
                    self.start_script(name);
                }
                ScriptChange::Weight(name) => {
                    info!("Reload: vrrp_script {name} weight changed");
                }
            }
        }
        !changes.is_empty()
    }

    /// Starts `inst`, new in the configuration (or re-created), as at start-up, with its
    /// trackers (their values as the reload read them). Not live (an error saying why): a
    /// VMAC, a missing interface or address.
    async fn add(
        &mut self,
        config: &Config,
        all: &super::ReloadFacts,
        inst: &VrrpInstance,
    ) -> Result<(), String> {
        let facts = &all.plans;
        self.can_add(facts, inst)?;
        let sockets = self.sockets.len();
        let rt = self.build_instance(config, inst, None, Some(facts))?;
        self.instances.push(rt);
        self.track_added_instance(config, inst, &all.trackers);
        if let Some(tx) = &self.pkt_tx {
            for s in sockets..self.sockets.len() {
                super::spawn_receiver(s, self.sockets[s].clone(), tx.clone());
            }
        }
        info!("({}) Reload: instance added", inst.name);
        // Trackers' weights first, then Startup (as at start-up).
        self.retrack().await;
        let i = self.instances.len() - 1;
        let actions = self.instances[i].fsm.handle(Instant::now(), Input::Startup);
        self.execute(i, actions).await;
        self.metrics_dirty = true;
        Ok(())
    }

    /// Stops instance `i` as at shutdown (priority-0 advert if master, VIPs removed,
    /// `notify_stop`), then forgets it: the instances after it move down by one (trackers,
    /// sync groups, GARP bursts and the sync daemon's followed instance follow them).
    async fn remove(&mut self, i: usize) {
        self.leave_group(i);
        let actions = self.instances[i]
            .fsm
            .handle(Instant::now(), Input::Shutdown);
        self.execute(i, actions).await;
        self.bursts.retain(|b| b.inst != i);
        for b in &mut self.bursts {
            if b.inst > i {
                b.inst -= 1;
            }
        }
        self.forget_instance(i);
        if let Some(s) = &mut self.syncd {
            s.forget_instance(i);
        }
        self.instances.remove(i);
        self.metrics_dirty = true;
    }

    /// Why `inst` cannot be started live, if it cannot (see [`Engine::add`]).
    fn can_add(&self, facts: &plan::Recorded, inst: &VrrpInstance) -> Result<(), String> {
        if inst.use_vmac.is_some() {
            return Err("it uses a VMAC".into());
        }
        if super::start_blocker(facts, inst).is_some() {
            return Err("its interface or address is missing".into());
        }
        Ok(())
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.instances.iter().position(|rt| rt.cfg.name == name)
    }

    /// The plan `inst` would have now, or why it cannot be planned live.
    fn new_plan(
        &self,
        config: &Config,
        facts: &plan::Recorded,
        rt: &super::Runtime,
        inst: &VrrpInstance,
    ) -> Result<plan::InstancePlan, String> {
        if rt.parked.is_some() {
            let p = plan::parked(config, inst)?;
            return if p == rt.plan {
                Ok(p)
            } else {
                Err("instance waits for its interface or address; changes not applied".into())
            };
        }
        plan::instance(config, inst, facts, vmac_name(inst).as_deref())
    }

    /// Carries out one in-place update of instance `i`.
    async fn update(
        &mut self,
        config: &Config,
        i: usize,
        plan: plan::InstancePlan,
        edits: Vec<Edit>,
        inst: Option<VrrpInstance>,
    ) {
        let name = plan.name.clone();
        let tracks = self.member_tracks(config, &name, &plan.tracks);
        let master = self.instances[i].fsm.state() == State::Master;
        let rt = &mut self.instances[i];
        for e in &edits {
            match e {
                Edit::Priority { from, to } => {
                    info!("({name}) Reload: priority changed from {from} to {to}")
                }
                Edit::AdvertInt { from, to } => info!(
                    "({name}) Reload: advert_int changed from {} to {} s",
                    f64::from(*from) / 100.0,
                    f64::from(*to) / 100.0
                ),
                Edit::Setting(what) => info!("({name}) Reload: {what} changed"),
                Edit::VipsAdded(v) => {
                    for v in v {
                        info!(
                            "({name}) Reload: VIP {}/{} added",
                            v.addr.addr, v.addr.prefix_len
                        );
                    }
                }
                Edit::VipsRemoved(v) => {
                    for v in v {
                        info!(
                            "({name}) Reload: VIP {}/{} removed",
                            v.addr.addr, v.addr.prefix_len
                        );
                    }
                }
                Edit::RoutesAdded(r) => {
                    info!("({name}) Reload: {} virtual route(s) added", r.len())
                }
                Edit::RoutesRemoved(r) => {
                    info!("({name}) Reload: {} virtual route(s) removed", r.len())
                }
                Edit::RulesAdded(r) => info!("({name}) Reload: {} virtual rule(s) added", r.len()),
                Edit::RulesRemoved(r) => {
                    info!("({name}) Reload: {} virtual rule(s) removed", r.len())
                }
                Edit::Peers => info!("({name}) Reload: unicast peers changed"),
                Edit::Tracks => info!("({name}) Reload: track_script list or weights changed"),
            }
        }
        // The kernel side first (a master's addresses by difference), from the old lists.
        if master {
            let pick_vips = |added: bool| {
                edits.iter().find_map(|e| match (e, added) {
                    (Edit::VipsAdded(v), true) | (Edit::VipsRemoved(v), false) => Some(v.clone()),
                    _ => None,
                })
            };
            let pick_routes = |added: bool| {
                edits.iter().find_map(|e| match (e, added) {
                    (Edit::RoutesAdded(v), true) | (Edit::RoutesRemoved(v), false) => {
                        Some(v.clone())
                    }
                    _ => None,
                })
            };
            let pick_rules = |added: bool| {
                edits.iter().find_map(|e| match (e, added) {
                    (Edit::RulesAdded(v), true) | (Edit::RulesRemoved(v), false) => Some(v.clone()),
                    _ => None,
                })
            };
            // Accept mode: the drop rule follows the VIP list while it is set.
            let firewall = rt.blocking && rt.no_accept != plan.no_accept;
            let removed = kernel::Change {
                name: name.clone(),
                vips: pick_vips(false).unwrap_or_default().into(),
                rules: pick_rules(false).unwrap_or_default().into(),
                routes: pick_routes(false).unwrap_or_default().into(),
                firewall: firewall.then(|| rt.no_accept.clone()),
            };
            let added_vips = pick_vips(true).unwrap_or_default();
            let added = kernel::Change {
                name: name.clone(),
                vips: added_vips.clone().into(),
                rules: pick_rules(true).unwrap_or_default().into(),
                routes: pick_routes(true).unwrap_or_default().into(),
                firewall: firewall.then(|| plan.no_accept.clone()),
            };
            self.kernel.submit(Box::new(move |k| removed.remove(k)));
            self.kernel.submit(Box::new(move |k| added.add(k)));
            // Only the added VIPs are announced (issue 13), in one burst of garp_master_repeat
            // rounds.
            if !added_vips.is_empty() {
                for v in &added_vips {
                    info!(
                        "({name}) Sending/queueing gratuitous ARPs on {} for {}",
                        v.ifname, v.addr.addr
                    );
                }
                self.send_added_garps(i, added_vips, plan.garp_repeat.max(1));
            }
        }
        let rt = &mut self.instances[i];
        rt.fsm.reconfigure(plan.fsm.clone());
        rt.dsts = plan.dsts.clone();
        rt.peers = plan.peers.clone();
        rt.check_unicast_src = plan.check_unicast_src;
        rt.skip_check_adv_addr = plan.skip_check_adv_addr;
        rt.advert_vips = plan.advert_vips.clone();
        rt.expect = plan.expect.clone();
        rt.vips = plan.vips.as_slice().into();
        rt.routes = plan.routes.as_slice().into();
        rt.rules = plan.rules.as_slice().into();
        rt.garp_repeat = plan.garp_repeat;
        rt.no_accept = plan.no_accept.clone();
        rt.tracks = tracks;
        if let Some(inst) = inst {
            // Its trackers were taken before ([`Engine::reload_trackers`]).
            rt.cfg = inst;
        }
        rt.plan = plan;
        // The new priority, with the trackers' weights, as a priority change.
        self.retrack().await;
    }
}

impl Engine {
    /// Starts the burst announcing `added`, the VIPs a reload added to master `i`: `repeat`
    /// rounds `vrrp_garp_interval` / `vrrp_gna_interval` apart like a transition's burst
    /// ([`GarpBurst`]); the first round is queued now, behind the job that adds them. An
    /// unfinished burst of an earlier reload is folded into this one (its VIPs get the new
    /// burst's rounds), so that a reload storm keeps one burst per instance; a transition's
    /// burst goes on beside it.
    fn send_added_garps(&mut self, i: usize, added: Vec<plan::Vip>, repeat: u32) {
        let mut vips = added;
        if let Some(k) = self
            .bursts
            .iter()
            .position(|b| b.inst == i && b.vips.is_some())
        {
            let earlier = self.bursts.swap_remove(k);
            for v in earlier.vips.iter().flat_map(|v| v.iter()) {
                if !vips.contains(v) {
                    vips.push(v.clone());
                }
            }
        }
        let vips: Arc<[plan::Vip]> = vips.into();
        let interval = if vips.iter().any(|v| v.addr.addr.is_ipv6()) {
            self.gna_interval
        } else {
            self.garp_interval
        };
        let round = |e: &mut Engine| {
            let (n, v) = (e.instances[i].cfg.name.clone(), vips.clone());
            e.kernel
                .submit(Box::new(move |k| kernel::garp_round(k, &n, &v)))
        };
        if interval.is_zero() {
            for _ in 0..repeat {
                round(self);
            }
            return;
        }
        let after = round(self);
        if repeat > 1 {
            self.bursts.push(GarpBurst {
                inst: i,
                vips: Some(vips),
                left: repeat - 1,
                after,
                at: None,
            });
        }
    }

    /// Queues one round of burst `only` of instance `i` on the kernel worker: those of `only`
    /// still among the instance's VIPs (a later reload may have removed some); returns its
    /// job.
    pub(super) fn garp_round_of(&mut self, i: usize, only: &[plan::Vip]) -> u64 {
        let rt = &self.instances[i];
        let vips: Vec<plan::Vip> = only
            .iter()
            .filter(|v| rt.vips.contains(v))
            .cloned()
            .collect();
        let name = rt.cfg.name.clone();
        self.kernel
            .submit(Box::new(move |k| kernel::garp_round(k, &name, &vips)))
    }
}

/// `(in new only, in old only)`.
fn diff_lists<T: PartialEq + Clone>(old: &[T], new: &[T]) -> (Vec<T>, Vec<T>) {
    (
        new.iter().filter(|n| !old.contains(n)).cloned().collect(),
        old.iter().filter(|o| !new.contains(o)).cloned().collect(),
    )
}

/// use_vmac: the VMAC `inst` runs on (a new one is not created by a reload: its plan then
/// fails on the missing interface).
fn vmac_name(inst: &VrrpInstance) -> Option<String> {
    inst.use_vmac.as_ref().map(|n| {
        n.clone()
            .unwrap_or_else(|| crate::net::vmac::default_name(inst.virtual_router_id.get()))
    })
}

impl Engine {
    /// The links and addresses a reload to `config` asks about (its instances' plans and
    /// start checks, its static addresses' and routes' devices) and the state of every tracker
    /// its instances list ([`super::TrackFacts::read`]), read now with a new rtnetlink socket:
    /// called by the daemon's reloader on the blocking pool, so that the VRRP thread plans from
    /// them without IO ([`Control::Reload`](super::Control::Reload)). Without a socket, no link
    /// or address is recorded (the plans then fail and the instances run unchanged, logged)
    /// and an added `track_interface` is unknown until the link monitor reports it.
    pub fn reload_facts(config: &Config) -> super::ReloadFacts {
        let netlink = match crate::net::netlink::Netlink::new() {
            Ok(n) => n,
            Err(e) => {
                warn!("Reload: cannot read links and addresses: {e}");
                return super::ReloadFacts {
                    plans: plan::Recorded::default(),
                    trackers: super::TrackFacts::read(config, None),
                };
            }
        };
        let once = FactsOnce::new(&netlink);
        let rec = plan::Recorder::new(&once);
        use plan::Facts as _;
        for dev in config
            .static_ipaddress
            .iter()
            .map(|a| a.dev.as_deref().unwrap_or("eth0"))
            .chain(config.static_routes.iter().filter_map(|r| r.dev.as_deref()))
        {
            let _ = rec.link(dev);
        }
        for inst in &config.vrrp_instances {
            let _ = super::start_blocker(&rec, inst);
            let _ = plan::instance(config, inst, &rec, vmac_name(inst).as_deref());
        }
        super::ReloadFacts {
            plans: rec.into_recorded(),
            trackers: super::TrackFacts::read(config, Some(&netlink)),
        }
    }
}

/// Whether two `notify*` sets run the same commands as the same users (positions aside).
fn same_commands(a: &Notify, b: &Notify) -> bool {
    let words = |n: &Notify| {
        [&n.master, &n.backup, &n.fault, &n.stop, &n.any]
            .map(|c| c.as_ref().map(|c| (c.argv.clone(), c.user.clone())))
    };
    words(a) == words(b)
}

/// The links and addresses [`Engine::reload_facts`] reads, each read once per reload: a link
/// once per name and the addresses from one `RTM_GETADDR` dump, instead of a dump per
/// instance (with 200 instances, each holding its VIP, that was 200 dumps of 200-odd
/// addresses before any edit was applied: 64 ms in `benches/reload`). The answers are
/// [`Netlink`]'s own: `primary_ipv4`, the first IPv4 address of the link in kernel order that
/// is not excluded; `link_local_ipv6`, the first fe80::/10 one.
struct FactsOnce<'a> {
    netlink: &'a Netlink,
    links: RefCell<std::collections::HashMap<String, Result<plan::Link, String>>>,
    addrs: OnceCell<Result<Vec<IfAddrEntry>, String>>,
}

impl<'a> FactsOnce<'a> {
    fn new(netlink: &'a Netlink) -> FactsOnce<'a> {
        FactsOnce {
            netlink,
            links: RefCell::default(),
            addrs: OnceCell::new(),
        }
    }

    /// The addresses of `ifindex`, in the kernel's order.
    fn addresses(&self, ifindex: u32) -> Result<impl Iterator<Item = IpAddr> + '_, String> {
        let all = self
            .addrs
            .get_or_init(|| self.netlink.all_addresses().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(Clone::clone)?;
        Ok(all
            .iter()
            .filter(move |a| a.ifindex == ifindex)
            .map(|a| a.addr))
    }
}

impl plan::Facts for FactsOnce<'_> {
    fn link(&self, name: &str) -> Result<plan::Link, String> {
        self.links
            .borrow_mut()
            .entry(name.to_owned())
            .or_insert_with(|| plan::Facts::link(self.netlink, name))
            .clone()
    }

    fn primary_ipv4(&self, ifindex: u32, exclude: &[Ipv4Addr]) -> Result<Option<Ipv4Addr>, String> {
        Ok(self.addresses(ifindex)?.find_map(|ip| match ip {
            IpAddr::V4(v4) if !exclude.contains(&v4) => Some(v4),
            _ => None,
        }))
    }

    fn link_local_ipv6(&self, ifindex: u32) -> Result<Option<Ipv6Addr>, String> {
        Ok(self.addresses(ifindex)?.find_map(|ip| match ip {
            IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => Some(v6),
            _ => None,
        }))
    }
}
