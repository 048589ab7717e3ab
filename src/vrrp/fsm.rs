//! The per-instance VRRP state machine (RFC 5798 §6.4, RFC 3768 §6.4) with keepalived 2.2.7's
//! behaviour, sans-IO: no sockets, no clock reads.
//!
//! The engine feeds [`Input`]s with the current time to [`Instance::handle`], calls
//! [`Instance::poll`] once [`Instance::next_deadline`] has passed, and carries out the returned
//! [`Action`]s in order. `handle` never fires timers itself: like keepalived's read
//! dispatcher, an advert is processed in the state the instance is in, so the engine should
//! `poll` first when a deadline is already due.
//!
//! ```text
//! Init           --Startup, priority 255-->                         Master
//! Init           --Startup-->                                       Backup
//! Backup         --Master_Down_Timer fires-->                       Master
//! Master         --advert with higher priority (or equal priority
//!                  from a higher address)-->                        Backup
//! Backup, Master --Fault(true)-->                                   Fault
//! Fault          --Fault(false)-->                                  Backup
//! any state      --Shutdown-->                                      Stop
//! ```
//!
//! Where keepalived and the RFC differ, keepalived wins, and the difference is noted at the
//! branch: v2 Skew_Time ignores the advert interval; `state MASTER` without priority 255 starts
//! as Backup with a short first Master_Down_Timer; `preempt_delay`; a master sends an advert
//! when it hears a lower priority one; Fault and Stop states. Log lines are keepalived's text,
//! including some it prints only with `-D` (noted at each).

use crate::units::{Centiseconds, Priority, Version, Vrid};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::net::IpAddr;
use std::time::{Duration, Instant};

mod sync;

/// Per-instance settings the state machine needs (from `vrrp_instance NAME { }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceConfig {
    /// Instance name, used in log lines as `(NAME)`.
    pub name: String,
    pub vrid: Vrid,
    pub version: Version,
    /// Configured (base) `priority`; 255 is the address owner (RFC 5798 §5.2.4).
    pub priority: Priority,
    /// Configured `advert_int`: RFC 5798 Advertisement_Interval. For v2 the config layer has
    /// already rounded it to whole seconds. Treated as at least 1 cs.
    pub advert_int: Centiseconds,
    /// `true` unless `nopreempt` (RFC 5798 Preempt_Mode).
    pub preempt: bool,
    /// `preempt_delay`; zero = none. Only used with `preempt`.
    pub preempt_delay: Duration,
    /// `state MASTER`.
    pub start_master: bool,
    /// `garp_master_delay`: delay of the second GARP burst after becoming master; zero = none.
    pub garp_master_delay: Duration,
    /// Our advert source address (`unicast_src_ip`/`mcast_src_ip` or the interface's primary
    /// address), compared with the sender's on equal priority (RFC 5798 §6.4.3).
    pub primary_ip: IpAddr,
    /// GARP/NA policy while master (keepalived's split-brain healing knobs).
    #[serde(default)]
    pub garp: GarpPolicy,
}

/// When a master re-announces its addresses, beyond the bursts on becoming master
/// (keepalived `garp_master_refresh*`, `garp_lower_prio_*`, `lower_prio_no_advert`,
/// `higher_prio_send_advert`). The default turns every extra off.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GarpPolicy {
    /// `garp_master_refresh`: while master, one refresh burst at the first advert sent after
    /// this long since the last one (or since becoming master); zero = off.
    pub refresh: Duration,
    /// `garp_master_refresh_repeat`: GARPs/NAs per VIP in a refresh burst.
    pub refresh_repeat: u32,
    /// `garp_lower_prio_repeat`: GARPs/NAs per VIP sent at once when a master hears a
    /// lower-priority advert (0 = none, and no delayed burst either).
    pub lower_prio_repeat: u32,
    /// `garp_lower_prio_delay`: a second such burst this long after the first; zero = none.
    pub lower_prio_delay: Duration,
    /// `lower_prio_no_advert`: a master hearing a lower-priority advert does not answer it
    /// with an advert of its own.
    pub lower_prio_no_advert: bool,
    /// `higher_prio_send_advert`: a master hearing a higher-priority advert sends one advert
    /// of its own before it goes to Backup.
    pub higher_prio_send_advert: bool,
}

/// Instance state: RFC 5798 §6.4 Initialize/Backup/Master plus keepalived's FAULT and STOP
/// (the states its `notify` scripts report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    Init,
    Backup,
    Master,
    Fault,
    Stop,
}

/// What happens to an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Input {
    /// RFC 5798 §6.4.1 Startup event.
    Startup,
    /// A validated advert for our VRID (the engine has checked TTL, auth, version, checksum).
    Advert {
        src: IpAddr,
        priority: Priority,
        max_advert_int: Centiseconds,
    },
    /// Effective priority changed (engine computes base + tracker weights, clamped 1..=254;
    /// owner stays 255).
    SetPriority(Priority),
    /// A tracker with weight 0 failed (true) or every such tracker recovered (false).
    Fault(bool),
    /// RFC 5798 §6.4.2/§6.4.3 Shutdown event (daemon stopping).
    Shutdown,
    /// While Master, one of the instance's VIPs was removed from its interface by someone
    /// else (keepalived's netlink reflector: `Netlink reflector reports IP ADDR removed from
    /// IFNAME`). keepalived 2.2.7, measured, leaves Master as on a hand-over (`Entering
    /// BACKUP STATE`, one priority-0 advert, `sent 0 priority`, the VIPs removed) and arms its
    /// Master_Down_Timer at its own Skew_Time: with no backup quicker than that it is Master
    /// again, the VIPs added back, 0.42 s later at priority 150; otherwise the backup takes
    /// over. Ignored in any other state.
    VipRemoved,
}

/// What the engine must do, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// Send one advert with this priority (0 = "I am stopping").
    SendAdvert { priority: Priority },
    /// Add the VIPs (and excluded VIPs, routes, rules) to the system.
    AddVips,
    /// Remove them.
    DelVips,
    /// One GARP/unsolicited-NA burst (the engine sends `garp_master_repeat` per VIP).
    SendGarp,
    /// One GARP/unsolicited-NA burst of `repeat` messages per VIP (refresh and lower-priority
    /// bursts, whose counts are configured apart from `garp_master_repeat`).
    SendGarpRepeat { repeat: u32 },
    /// The state changed: run the notify scripts, update stats.
    StateChange { from: State, to: State },
    /// A keepalived log line, e.g. `(VI_1) Entering MASTER STATE`.
    Log(String),
}

/// One VRRP instance's state machine.
#[derive(Debug, Clone)]
pub struct Instance {
    cfg: InstanceConfig,
    state: State,
    /// keepalived `base_priority`: the configured priority, except that an owner hearing
    /// another owner drops to 254.
    base_priority: Priority,
    effective_priority: Priority,
    /// RFC 5798 Master_Adver_Interval.
    master_adver_int: Centiseconds,
    /// keepalived `ms_down_timer`: the length the Master_Down_Timer was last armed with (or,
    /// after an ignored advert, what was left of it); shifted on priority changes.
    ms_down_timer: Duration,
    /// Master_Down_Timer (Backup only).
    master_down_at: Option<Instant>,
    /// Adver_Timer (Master only).
    adver_at: Option<Instant>,
    /// Second GARP burst (`garp_master_delay` after becoming master).
    garp_at: Option<Instant>,
    /// Delayed burst after hearing a lower-priority advert (`garp_lower_prio_delay`).
    lower_prio_garp_at: Option<Instant>,
    /// keepalived `garp_refresh_timer`: the first advert sent after it also refreshes.
    refresh_after: Option<Instant>,
    /// keepalived `preempt_time`: until then, lower-priority adverts are still accepted.
    preempt_until: Option<Instant>,
    /// A weight-0 tracker is down.
    fault: bool,
}

impl Instance {
    /// A new instance in [`State::Init`], effective priority = configured priority.
    pub fn new(cfg: InstanceConfig) -> Instance {
        let mut inst = Instance {
            state: State::Init,
            base_priority: cfg.priority,
            effective_priority: cfg.priority,
            master_adver_int: cfg.advert_int,
            ms_down_timer: Duration::ZERO,
            master_down_at: None,
            adver_at: None,
            garp_at: None,
            lower_prio_garp_at: None,
            refresh_after: None,
            preempt_until: None,
            fault: false,
            cfg,
        };
        inst.master_adver_int = inst.advert_interval();
        inst.ms_down_timer = inst.master_down_interval();
        inst
    }

    /// Applies one input at time `now`; returns the actions to carry out in order.
    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Startup => self.startup(now, &mut out),
            Input::Advert {
                src,
                priority,
                max_advert_int,
            } => match self.state {
                State::Backup => self.backup_rx(now, src, priority, max_advert_int, &mut out),
                State::Master => self.master_rx(now, src, priority, max_advert_int, &mut out),
                // keepalived ignores adverts in FAULT and INIT (vrrp_dispatcher_read).
                State::Init | State::Fault | State::Stop => {}
            },
            Input::SetPriority(p) => self.set_priority(p, &mut out),
            Input::Fault(true) => self.enter_fault(&mut out),
            Input::Fault(false) => self.leave_fault(now, &mut out),
            Input::Shutdown => self.shutdown(&mut out),
            Input::VipRemoved => self.vip_removed(now, &mut out),
        }
        out
    }

    /// Fires every timer due at or before `now`, earliest first.
    pub fn poll(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        // Each firing re-arms a timer strictly after `now` or disarms it, so this ends; the
        // bound is a guard.
        for _ in 0..8 {
            let due = [
                (self.master_down_at, Timer::MasterDown),
                (self.adver_at, Timer::Adver),
                (self.garp_at, Timer::Garp),
                (self.lower_prio_garp_at, Timer::LowerPrioGarp),
            ]
            .into_iter()
            .filter_map(|(at, t)| at.filter(|at| *at <= now).map(|at| (at, t)))
            .min_by_key(|(at, _)| *at);
            let Some((_, timer)) = due else { break };
            match timer {
                Timer::MasterDown => self.master_down_fired(now, &mut out),
                Timer::Adver => self.adver_fired(now, &mut out),
                Timer::Garp => {
                    self.garp_at = None;
                    if self.state == State::Master {
                        out.push(Action::SendGarp);
                    }
                }
                Timer::LowerPrioGarp => {
                    // keepalived vrrp_lower_prio_gratuitous_arp_thread.
                    self.lower_prio_garp_at = None;
                    if self.state == State::Master {
                        out.push(Action::SendGarpRepeat {
                            repeat: self.cfg.garp.lower_prio_repeat,
                        });
                    }
                }
            }
        }
        out
    }

    /// The earliest armed timer, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.master_down_at,
            self.adver_at,
            self.garp_at,
            self.lower_prio_garp_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The priority we advertise: configured priority adjusted by trackers (255 for the owner).
    pub fn effective_priority(&self) -> Priority {
        self.effective_priority
    }

    /// RFC 5798 Master_Adver_Interval: our own interval, or (v3, as Backup) the master's.
    pub fn master_adver_interval(&self) -> Centiseconds {
        self.master_adver_int
    }

    /// Skew_Time. v3 (RFC 5798 §6.1): ((256 − Priority) × Master_Adver_Interval) / 256.
    /// v2 (RFC 3768 §6.1, keepalived `VRRP_TIMER_SKEW`): (256 − Priority) / 256 s, whatever
    /// the interval. Computed in µs with keepalived's integer arithmetic.
    pub fn skew_time(&self) -> Duration {
        self.skew_for(256 - u64::from(self.effective_priority.0))
    }

    /// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time (RFC 5798 §6.1).
    pub fn master_down_interval(&self) -> Duration {
        3 * self.master_adver_int.as_duration() + self.skew_time()
    }

    pub fn config(&self) -> &InstanceConfig {
        &self.cfg
    }

    /// Takes the instance's new name (a reload that renames it, `vrrp::diff::renames`); nothing
    /// else changes.
    pub fn rename(&mut self, name: String) {
        self.cfg.name = name;
    }

    /// Takes a reload's settings in place (issue 13; a change of VRID, version or address
    /// ownership re-creates the instance instead, see `vrrp::diff`). The state and the running
    /// timers stay. The new priority becomes the base priority but not yet the effective one:
    /// the caller feeds it (with the trackers' weights) as [`Input::SetPriority`], so that a
    /// master that now loses hands over as on any priority change. A changed `advert_int` is
    /// the Master_Adver_Interval of a master (from its next advert) and of a VRRPv2 backup
    /// (from the next advert it hears); a VRRPv3 backup keeps the master's.
    pub fn reconfigure(&mut self, cfg: InstanceConfig) {
        if !self.base_priority.is_owner() {
            self.base_priority = cfg.priority;
        }
        self.cfg = cfg;
        if self.state == State::Master || self.cfg.version == Version::V2 {
            self.master_adver_int = self.advert_interval();
        }
        self.ms_down_timer = self.master_down_interval();
    }

    /// keepalived `VRRP_TIMER_SKEW_CALC`: `factor` × 1 s / 256 (v2) or
    /// `factor` × Master_Adver_Interval / 256 (v3, as cs × 625 / 16 µs).
    fn skew_for(&self, factor: u64) -> Duration {
        let micros = match self.cfg.version {
            Version::V2 => factor * 1_000_000 / 256,
            Version::V3 => factor * u64::from(self.master_adver_int.0) * 625 / 16,
        };
        Duration::from_micros(micros)
    }

    /// Advertisement_Interval, at least 1 cs so the Adver_Timer always moves forward.
    fn advert_interval(&self) -> Centiseconds {
        Centiseconds(self.cfg.advert_int.0.max(1))
    }

    fn log(&self, out: &mut Vec<Action>, msg: impl std::fmt::Display) {
        out.push(Action::Log(format!("({}) {}", self.cfg.name, msg)));
    }

    fn arm_master_down(&mut self, now: Instant, len: Duration) {
        self.ms_down_timer = len;
        self.master_down_at = Some(now + len);
    }

    fn disarm_all(&mut self) {
        self.master_down_at = None;
        self.adver_at = None;
        self.garp_at = None;
        self.lower_prio_garp_at = None;
        self.refresh_after = None;
        self.preempt_until = None;
    }

    fn startup(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !matches!(self.state, State::Init | State::Stop) {
            return;
        }
        let from = self.state;
        self.master_adver_int = self.advert_interval();

        // keepalived vrrp_init_state: an instance with a failed weight-0 tracker starts in
        // FAULT; VIPs left from an earlier run are removed first (vrrp_restore_interface).
        if self.fault {
            out.push(Action::DelVips);
            self.log(out, "Entering FAULT STATE (init)");
            self.state = State::Fault;
            out.push(Action::StateChange {
                from,
                to: State::Fault,
            });
            return;
        }

        // RFC 5798 §6.4.1: "If the Priority = 255 (i.e., the router owns the IPvX address
        // associated with the virtual router), then it MUST: Send an ADVERTISEMENT; ...
        // broadcast a gratuitous ARP request ...; Set the Adver_Timer to
        // Advertisement_Interval; Transition to the {Master} state".
        // keepalived does this through a 1 µs Master_Down_Timer; the result is the same.
        if self.base_priority.is_owner() {
            self.become_master(now, out);
            return;
        }

        // RFC 5798 §6.4.1 "else: Set Master_Adver_Interval to Advertisement_Interval; Set the
        // Master_Down_Timer to Master_Down_Interval; Transition to the {Backup} state".
        // `state MASTER` without priority 255 changes nothing here: keepalived 2.2.7, measured
        // in a namespace, waits the full Master_Down_Interval (3.49 s at priority 150, 1 s
        // adverts) before "Receive advertisement timeout", exactly as with `state BACKUP`.
        let down = self.master_down_interval();
        out.push(Action::DelVips);
        self.log(out, "Entering BACKUP STATE (init)");
        self.state = State::Backup;
        self.arm_master_down(now, down);
        out.push(Action::StateChange {
            from,
            to: State::Backup,
        });
    }

    fn backup_rx(
        &mut self,
        now: Instant,
        src: IpAddr,
        priority: Priority,
        adv_int: Centiseconds,
        out: &mut Vec<Action>,
    ) {
        let ours = self.effective_priority;
        let delay_active = self.cfg.preempt
            && !self.cfg.preempt_delay.is_zero()
            && self.preempt_until.is_none_or(|t| t > now);

        if priority.0 == 0 {
            // RFC 5798 §6.4.2: "If the Priority in the ADVERTISEMENT is zero, then: Set the
            // Master_Down_Timer to Skew_Time". (keepalived logs this with -D only.)
            self.log(out, "Backup received priority 0 advertisement");
            let skew = self.skew_time();
            self.arm_master_down(now, skew);
        } else if !self.cfg.preempt || priority >= ours || delay_active {
            // RFC 5798 §6.4.2: "If Preempt_Mode is False, or if the Priority in the
            // ADVERTISEMENT is greater than or equal to the local Priority, then: Set
            // Master_Adver_Interval to Adver Interval contained in the ADVERTISEMENT;
            // Recompute the Master_Down_Interval; Reset the Master_Down_Timer to
            // Master_Down_Interval". keepalived adopts the interval for v3 only (v2 adverts
            // with another interval are dropped before this), and also accepts lower-priority
            // adverts while a preempt_delay runs.
            if self.cfg.version == Version::V3 && adv_int != self.master_adver_int {
                // keepalived logs this with -D only.
                self.log(
                    out,
                    format_args!(
                        "advertisement interval updated from {}ms to {}ms by master",
                        u32::from(self.master_adver_int.0) * 10,
                        u32::from(adv_int.0) * 10
                    ),
                );
                self.master_adver_int = adv_int;
            }
            let down = self.master_down_interval();
            self.arm_master_down(now, down);

            // keepalived preempt_delay: the first lower-priority advert starts the delay; an
            // advert at or above our priority cancels it. Once it has run out, lower adverts
            // are discarded (next branch) and the Master_Down_Timer expires. (Both logs are
            // -D only in keepalived.)
            if self.cfg.preempt && !self.cfg.preempt_delay.is_zero() {
                if priority >= ours {
                    if self.preempt_until.take().is_some() {
                        self.log(out, "stop preempt delay");
                    }
                } else if self.preempt_until.is_none() {
                    let d = self.cfg.preempt_delay;
                    self.log(
                        out,
                        format_args!(
                            "start preempt delay ({}.{:06})",
                            d.as_secs(),
                            d.subsec_micros()
                        ),
                    );
                    self.preempt_until = Some(now + d);
                }
            }
        } else {
            // RFC 5798 §6.4.2: "else (Preempt_Mode is True and the Priority in the
            // ADVERTISEMENT is less than the local Priority): Discard the ADVERTISEMENT".
            // The timer keeps running; keepalived notes what is left of it.
            self.log(
                out,
                format_args!(
                    "received lower priority ({}) advert from {} - discarding",
                    priority.0, src
                ),
            );
            if let Some(at) = self.master_down_at {
                self.ms_down_timer = at.saturating_duration_since(now);
            }
        }
    }

    fn master_rx(
        &mut self,
        now: Instant,
        src: IpAddr,
        priority: Priority,
        adv_int: Centiseconds,
        out: &mut Vec<Action>,
    ) {
        let interval = self.advert_interval().as_duration();

        // keepalived `higher_prio_send_advert`: before yielding to a higher-priority advert
        // (same comparison as the election below), send one advert of our own, so that the
        // other side sees us once more (keepalived shares this branch with the priority-0
        // answer).
        if self.cfg.garp.higher_prio_send_advert
            && priority.0 != 0
            && (priority > self.effective_priority
                || (priority == self.effective_priority
                    && compare_addrs(src, self.cfg.primary_ip) == Ordering::Greater))
        {
            out.push(Action::SendAdvert {
                priority: self.effective_priority,
            });
        }

        // RFC 5798 §6.4.3: "If the Priority in the ADVERTISEMENT is zero, then: Send an
        // ADVERTISEMENT; Reset the Adver_Timer to Advertisement_Interval".
        if priority.0 == 0 {
            out.push(Action::SendAdvert {
                priority: self.effective_priority,
            });
            self.log(out, "Master received priority 0 message"); // -D only in keepalived
            self.adver_at = Some(now + interval);
            return;
        }

        // keepalived vrrp_saddr_cmp: numeric comparison of the sender's address with ours;
        // addresses of different families compare equal.
        let addr_cmp = compare_addrs(src, self.cfg.primary_ip);
        if priority == self.effective_priority {
            if addr_cmp == Ordering::Equal {
                self.log(
                    out,
                    "WARNING - equal priority advert received from remote host with our IP address.",
                );
            } else if self.effective_priority.is_owner() {
                // keepalived: two address owners is a configuration error; it steps down to
                // 254 so that one of them wins.
                self.log(
                    out,
                    "CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority",
                );
                self.effective_priority = Priority(254);
                self.base_priority = Priority(254);
            }
        }
        let ours = self.effective_priority;

        if priority < ours || (priority == ours && addr_cmp == Ordering::Less) {
            // RFC 5798 §6.4.3 says "Discard the ADVERTISEMENT"; keepalived (without
            // lower_prio_no_advert) answers at once so the other router sees a higher
            // priority master and goes back to Backup. This is split-brain healing: two
            // masters met, so neighbours may hold the other one's MAC for our VIPs; keepalived
            // re-announces them at once (garp_lower_prio_repeat per VIP) and again after
            // garp_lower_prio_delay.
            let no_advert = self.cfg.garp.lower_prio_no_advert;
            self.log(
                out,
                format_args!(
                    "Received advert from {} with lower priority {}, ours {}{}",
                    src,
                    priority.0,
                    ours.0,
                    if no_advert {
                        ""
                    } else {
                        ", forcing new election"
                    }
                ),
            );
            if !no_advert {
                out.push(Action::SendAdvert { priority: ours });
            }
            let repeat = self.cfg.garp.lower_prio_repeat;
            if repeat > 0 {
                out.push(Action::SendGarpRepeat { repeat });
                let delay = self.cfg.garp.lower_prio_delay;
                // keepalived adds one timer per lower-priority advert; one pending burst is
                // kept here (see the report of deviations).
                if !delay.is_zero() && self.lower_prio_garp_at.is_none() {
                    self.lower_prio_garp_at = Some(now + delay);
                }
            }
            self.adver_at = Some(now + interval);
        } else if priority > ours || (priority == ours && addr_cmp == Ordering::Greater) {
            // RFC 5798 §6.4.3: "If the Priority in the ADVERTISEMENT is greater than the local
            // Priority, or the Priority in the ADVERTISEMENT is equal to the local Priority and
            // the primary IPvX Address of the sender is greater than the local primary IPvX
            // Address, then: Cancel Adver_Timer; Set Master_Adver_Interval to Adver Interval
            // contained in the ADVERTISEMENT; Recompute the Skew_Time; Recompute the
            // Master_Down_Interval; Set Master_Down_Timer to Master_Down_Interval; Transition
            // to the {Backup} state". keepalived adopts the interval for v3 only.
            if priority > ours {
                self.log(
                    out,
                    format_args!(
                        "Master received advert from {} with higher priority {}, ours {}",
                        src, priority.0, ours.0
                    ),
                );
            } else {
                self.log(
                    out,
                    format_args!(
                        "Master received advert from {} with same priority {} but higher IP address than ours",
                        src, priority.0
                    ),
                );
            }
            if self.cfg.version == Version::V3 {
                self.master_adver_int = adv_int;
            }
            // keepalived vrrp_state_leave_master.
            self.log(out, "Entering BACKUP STATE");
            out.push(Action::DelVips);
            self.state = State::Backup;
            self.disarm_all();
            let down = self.master_down_interval();
            self.arm_master_down(now, down);
            out.push(Action::StateChange {
                from: State::Master,
                to: State::Backup,
            });
        } else {
            // Same priority from our own address (or another family): keepalived stays
            // master and, as after every advert it processes, re-arms the Adver_Timer.
            self.adver_at = Some(now + interval);
        }
    }

    fn master_down_fired(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.master_down_at = None;
        if self.state != State::Backup {
            return;
        }
        // RFC 5798 §6.4.2: "If the Master_Down_Timer fires, then: Send an ADVERTISEMENT; ...
        // broadcast a gratuitous ARP request ...; Set the Adver_Timer to
        // Advertisement_Interval; Transition to the {Master} state". (-D only in keepalived.)
        self.log(out, "Receive advertisement timeout");
        self.become_master(now, out);
    }

    fn adver_fired(&mut self, now: Instant, out: &mut Vec<Action>) {
        let fired = self.adver_at.take().unwrap_or(now);
        if self.state != State::Master {
            return;
        }
        // RFC 5798 §6.4.3: "If the Adver_Timer fires, then: Send an ADVERTISEMENT; Reset the
        // Adver_Timer to Advertisement_Interval".
        out.push(Action::SendAdvert {
            priority: self.effective_priority,
        });
        // keepalived vrrp_state_master_tx: the first advert after `garp_refresh_timer` also
        // re-announces the addresses (garp_master_refresh / _repeat).
        if let Some(after) = self.refresh_after
            && now > after
        {
            out.push(Action::SendGarpRepeat {
                repeat: self.cfg.garp.refresh_repeat,
            });
            self.refresh_after = Some(now + self.cfg.garp.refresh);
        }
        // The next advert is due one interval after this one was due, not after it was
        // handled: rescheduling from `now` would add each wake-up's latency to every interval
        // (a slow clock: 51.2 ms for advert_int 0.05). After a stall of more than an interval
        // (a stopped process) the schedule restarts from now instead of sending a burst.
        let interval = self.advert_interval().as_duration();
        let next = fired + interval;
        self.adver_at = Some(if next > now { next } else { now + interval });
    }

    /// keepalived vrrp_state_goto_master → vrrp_state_master_tx → vrrp_state_become_master:
    /// the advert goes first, so the old master drops the VIPs before our GARPs (verified on a
    /// keepalived 2.2.7 capture), then VIPs, GARP burst, notify; the second burst follows after
    /// `garp_master_delay`.
    fn become_master(&mut self, now: Instant, out: &mut Vec<Action>) {
        let from = self.state;
        self.state = State::Master;
        self.disarm_all();
        out.push(Action::SendAdvert {
            priority: self.effective_priority,
        });
        self.log(out, "Entering MASTER STATE");
        let ours = self.advert_interval();
        if self.cfg.version == Version::V3 && self.master_adver_int != ours {
            // -D only in keepalived.
            self.log(
                out,
                format_args!(
                    "changing advert interval from {}ms to locally configured {}ms",
                    u32::from(self.master_adver_int.0) * 10,
                    u32::from(ours.0) * 10
                ),
            );
        }
        self.master_adver_int = ours;
        out.push(Action::AddVips);
        out.push(Action::SendGarp);
        out.push(Action::StateChange {
            from,
            to: State::Master,
        });
        self.adver_at = Some(now + ours.as_duration());
        if !self.cfg.garp_master_delay.is_zero() {
            self.garp_at = Some(now + self.cfg.garp_master_delay);
        }
        if !self.cfg.garp.refresh.is_zero() {
            self.refresh_after = Some(now + self.cfg.garp.refresh);
        }
    }

    /// keepalived vrrp_set_effective_priority.
    fn set_priority(&mut self, p: Priority, out: &mut Vec<Action>) {
        // The address owner's priority is never adjusted.
        if self.base_priority.is_owner() {
            return;
        }
        let p = Priority(p.0.clamp(1, 254));
        if p == self.effective_priority {
            return;
        }
        self.log(
            out,
            format_args!(
                "Changing effective priority from {} to {}",
                self.effective_priority.0, p.0
            ),
        );
        self.effective_priority = p;
        // A Backup recomputes Skew_Time and Master_Down_Interval and moves the running
        // Master_Down_Timer by the difference (keepalived shifts `sands`). A Master just
        // advertises the new priority from its next advert on.
        let old = self.ms_down_timer;
        let new = self.master_down_interval();
        self.ms_down_timer = new;
        if self.state == State::Backup
            && let Some(at) = self.master_down_at
        {
            self.master_down_at = Some(if new >= old {
                at + (new - old)
            } else {
                at.checked_sub(old - new).unwrap_or(at)
            });
        }
    }

    /// keepalived down_instance → vrrp_state_leave_master / vrrp_state_leave_fault.
    fn enter_fault(&mut self, out: &mut Vec<Action>) {
        self.fault = true;
        let from = self.state;
        match from {
            // Init: remembered for Startup. Fault/Stop: nothing to do.
            State::Init | State::Fault | State::Stop => return,
            State::Backup => {
                self.log(out, "Entering FAULT STATE");
            }
            State::Master => {
                // keepalived sends two priority-0 adverts here: one in leave_master, one in
                // restore_interface (both seen on a 2.2.7 capture).
                self.log(out, "Entering FAULT STATE");
                out.push(Action::SendAdvert {
                    priority: Priority::STOP,
                });
                out.push(Action::SendAdvert {
                    priority: Priority::STOP,
                });
                self.log(out, "sent 0 priority");
                out.push(Action::DelVips);
            }
        }
        self.state = State::Fault;
        self.disarm_all();
        self.master_adver_int = self.advert_interval();
        out.push(Action::StateChange {
            from,
            to: State::Fault,
        });
    }

    /// keepalived try_up_instance → vrrp_state_leave_fault: back to Backup with a full
    /// Master_Down_Interval.
    fn leave_fault(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.fault = false;
        if self.state != State::Fault {
            return;
        }
        self.log(out, "Entering BACKUP STATE");
        self.state = State::Backup;
        self.disarm_all();
        self.master_adver_int = self.advert_interval();
        let down = self.master_down_interval();
        self.arm_master_down(now, down);
        out.push(Action::StateChange {
            from: State::Fault,
            to: State::Backup,
        });
    }

    /// [`Input::VipRemoved`]: keepalived's vrrp_state_leave_master with a priority-0 advert,
    /// as if this router had heard one: the Master_Down_Timer is Skew_Time (RFC 5798 §6.4.2's
    /// answer to a priority-0 advert).
    fn vip_removed(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Master {
            return;
        }
        self.log(out, "Entering BACKUP STATE");
        out.push(Action::SendAdvert {
            priority: Priority::STOP,
        });
        self.log(out, "sent 0 priority");
        out.push(Action::DelVips);
        self.state = State::Backup;
        self.disarm_all();
        self.master_adver_int = self.advert_interval();
        let skew = self.skew_time();
        self.arm_master_down(now, skew);
        out.push(Action::StateChange {
            from: State::Master,
            to: State::Backup,
        });
    }

    fn shutdown(&mut self, out: &mut Vec<Action>) {
        let from = self.state;
        match from {
            State::Stop => return,
            // RFC 5798 §6.4.3: "If a Shutdown event is received, then: Cancel the Adver_Timer;
            // Send an ADVERTISEMENT with Priority = 0; Transition to the {Initialize} state".
            // keepalived (restore_vrrp_interfaces) also removes the VIPs, and reports STOP.
            State::Master => {
                out.push(Action::SendAdvert {
                    priority: Priority::STOP,
                });
                self.log(out, "sent 0 priority");
                out.push(Action::DelVips);
            }
            // RFC 5798 §6.4.2: "If a Shutdown event is received, then: Cancel the
            // Master_Down_Timer; Transition to the {Initialize} state".
            State::Init | State::Backup | State::Fault => {}
        }
        self.state = State::Stop;
        self.disarm_all();
        out.push(Action::StateChange {
            from,
            to: State::Stop,
        });
    }
}

#[derive(Debug, Clone, Copy)]
enum Timer {
    MasterDown,
    Adver,
    Garp,
    LowerPrioGarp,
}

/// Addresses as unsigned numbers (RFC 5798 §6.4.3); different families compare equal, as in
/// keepalived's vrrp_saddr_cmp.
fn compare_addrs(a: IpAddr, b: IpAddr) -> Ordering {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.to_bits().cmp(&b.to_bits()),
        (IpAddr::V6(a), IpAddr::V6(b)) => a.to_bits().cmp(&b.to_bits()),
        _ => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const MS: Duration = Duration::from_millis(1);

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    fn cfg() -> InstanceConfig {
        InstanceConfig {
            name: "VI_1".into(),
            vrid: Vrid::new(51).unwrap(),
            version: Version::V2,
            priority: Priority(100),
            advert_int: Centiseconds(100),
            preempt: true,
            preempt_delay: Duration::ZERO,
            start_master: false,
            garp_master_delay: Duration::from_secs(5),
            primary_ip: ip(10),
            garp: GarpPolicy::default(),
        }
    }

    fn advert(src: IpAddr, prio: u8) -> Input {
        Input::Advert {
            src,
            priority: Priority(prio),
            max_advert_int: Centiseconds(100),
        }
    }

    fn log(s: &str) -> Action {
        Action::Log(format!("(VI_1) {s}"))
    }

    fn change(from: State, to: State) -> Action {
        Action::StateChange { from, to }
    }

    fn send(p: u8) -> Action {
        Action::SendAdvert {
            priority: Priority(p),
        }
    }

    /// The actions of becoming master from `from` (keepalived 2.2.7 order).
    fn become_master(from: State, prio: u8) -> Vec<Action> {
        vec![
            send(prio),
            log("Entering MASTER STATE"),
            Action::AddVips,
            Action::SendGarp,
            change(from, State::Master),
        ]
    }

    fn backup_init() -> Vec<Action> {
        vec![
            Action::DelVips,
            log("Entering BACKUP STATE (init)"),
            change(State::Init, State::Backup),
        ]
    }

    /// An instance started at `t0` and driven to Master by its Master_Down_Timer.
    fn master(c: InstanceConfig, t0: Instant) -> (Instance, Instant) {
        let mut i = Instance::new(c);
        i.handle(t0, Input::Startup);
        let t = i.next_deadline().unwrap();
        i.poll(t);
        assert_eq!(i.state(), State::Master);
        (i, t)
    }

    #[test]
    fn timer_formulas_v2() {
        let i = Instance::new(cfg());
        // (256 - 100) / 256 s = 0.609375 s, independent of the interval.
        assert_eq!(i.skew_time(), Duration::from_micros(609_375));
        assert_eq!(i.master_down_interval(), Duration::from_micros(3_609_375));
        let mut c = cfg();
        c.advert_int = Centiseconds(300);
        c.priority = Priority(254);
        let i = Instance::new(c);
        assert_eq!(i.skew_time(), Duration::from_micros(7_812)); // 2/256 s, truncated
        assert_eq!(i.master_down_interval(), Duration::from_micros(9_007_812));
    }

    #[test]
    fn timer_formulas_v3() {
        let mut c = cfg();
        c.version = Version::V3;
        c.advert_int = Centiseconds(200);
        c.priority = Priority(200);
        let i = Instance::new(c);
        // (256 - 200) × 2 s / 256 = 0.4375 s.
        assert_eq!(i.skew_time(), Duration::from_micros(437_500));
        assert_eq!(i.master_down_interval(), Duration::from_micros(6_437_500));
        assert_eq!(i.master_adver_interval(), Centiseconds(200));
    }

    #[test]
    fn startup_backup_then_timeout_to_master() {
        let t0 = Instant::now();
        let mut i = Instance::new(cfg());
        assert_eq!(i.state(), State::Init);
        assert_eq!(i.next_deadline(), None);
        assert_eq!(i.handle(t0, Input::Startup), backup_init());
        assert_eq!(i.state(), State::Backup);
        let down = t0 + Duration::from_micros(3_609_375);
        assert_eq!(i.next_deadline(), Some(down));
        // Nothing is due a microsecond early.
        assert_eq!(i.poll(down - Duration::from_micros(1)), vec![]);
        let mut want = vec![log("Receive advertisement timeout")];
        want.extend(become_master(State::Backup, 100));
        assert_eq!(i.poll(down), want);
        assert_eq!(i.state(), State::Master);
        // Adver_Timer every Advertisement_Interval; the second GARP burst after 5 s.
        assert_eq!(i.next_deadline(), Some(down + 1000 * MS));
        assert_eq!(i.poll(down + 1000 * MS), vec![send(100)]);
        assert_eq!(i.poll(down + 1500 * MS), vec![]);
        for s in 2..=4 {
            assert_eq!(i.poll(down + s * 1000 * MS), vec![send(100)]);
        }
        // At 5 s both the Adver_Timer and the GARP timer are due.
        assert_eq!(i.poll(down + 5000 * MS), vec![send(100), Action::SendGarp]);
        assert_eq!(i.next_deadline(), Some(down + 6000 * MS));
    }

    #[test]
    fn late_poll_sends_one_advert_and_rearms_from_now() {
        let t0 = Instant::now();
        let (mut i, t) = master(cfg(), t0);
        // 3.5 intervals late (GARP delay not yet due): one advert, next one a full interval on.
        assert_eq!(i.poll(t + 3500 * MS), vec![send(100)]);
        assert_eq!(i.next_deadline(), Some(t + 4500 * MS));
    }

    /// The Adver_Timer keeps its own schedule: an advert handled a little late does not push
    /// the next one back (issue 11: adverts every 51.2 ms for advert_int 0.05).
    #[test]
    fn adverts_stay_on_schedule_when_handled_late() {
        let t0 = Instant::now();
        let (mut i, t) = master(cfg(), t0);
        let due = i.next_deadline().unwrap();
        assert_eq!(due, t + 1000 * MS);
        assert_eq!(i.poll(due + 3 * MS), vec![send(100)]);
        assert_eq!(i.next_deadline(), Some(due + 1000 * MS));
        assert_eq!(i.poll(due + 1000 * MS + 999 * MS), vec![send(100)]);
        assert_eq!(i.next_deadline(), Some(due + 2000 * MS));
    }

    #[test]
    fn startup_owner_is_master_at_once() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.priority = Priority(255);
        let mut i = Instance::new(c);
        assert_eq!(
            i.handle(t0, Input::Startup),
            become_master(State::Init, 255)
        );
        assert_eq!(i.state(), State::Master);
        assert_eq!(i.next_deadline(), Some(t0 + 1000 * MS));
        // The owner ignores priority changes from trackers.
        assert_eq!(i.handle(t0, Input::SetPriority(Priority(50))), vec![]);
        assert_eq!(i.effective_priority(), Priority(255));
        assert_eq!(i.poll(t0 + 1000 * MS), vec![send(255)]);
    }

    #[test]
    fn startup_state_master_waits_master_down_interval_like_keepalived() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.start_master = true;
        let mut i = Instance::new(c.clone());
        assert_eq!(i.handle(t0, Input::Startup), backup_init());
        // 3 × 1 s + (256 − 100) / 256 s, as keepalived 2.2.7 does with `state MASTER`.
        assert_eq!(
            i.next_deadline(),
            Some(t0 + Duration::from_micros(3_609_375))
        );

        c.version = Version::V3;
        c.advert_int = Centiseconds(50);
        let mut i = Instance::new(c);
        i.handle(t0, Input::Startup);
        // 3 × 0.5 s + 156 × 0.5 s / 256.
        assert_eq!(
            i.next_deadline(),
            Some(t0 + Duration::from_micros(1_804_687))
        );
    }

    #[test]
    fn backup_priority_zero_sets_skew_time() {
        let t0 = Instant::now();
        let mut i = Instance::new(cfg());
        i.handle(t0, Input::Startup);
        let t = t0 + 1000 * MS;
        assert_eq!(
            i.handle(t, advert(ip(20), 0)),
            vec![log("Backup received priority 0 advertisement")]
        );
        assert_eq!(i.next_deadline(), Some(t + Duration::from_micros(609_375)));
        assert_eq!(i.state(), State::Backup);
    }

    #[test]
    fn backup_accepts_higher_priority_and_resets_timer() {
        let t0 = Instant::now();
        let mut i = Instance::new(cfg());
        i.handle(t0, Input::Startup);
        for k in 1..=10u32 {
            let t = t0 + k * 1000 * MS;
            assert_eq!(i.handle(t, advert(ip(20), 150)), vec![]);
            assert_eq!(
                i.next_deadline(),
                Some(t + Duration::from_micros(3_609_375))
            );
            assert_eq!(i.poll(t), vec![]);
        }
        assert_eq!(i.state(), State::Backup);
        // An equal priority advert also keeps us Backup (no preemption on a tie).
        let t = t0 + 11_000 * MS;
        assert_eq!(i.handle(t, advert(ip(5), 100)), vec![]);
        assert_eq!(
            i.next_deadline(),
            Some(t + Duration::from_micros(3_609_375))
        );
    }

    #[test]
    fn backup_preempts_lower_priority_master() {
        let t0 = Instant::now();
        let mut i = Instance::new(cfg());
        i.handle(t0, Input::Startup);
        let t1 = t0 + 1000 * MS;
        assert_eq!(
            i.handle(t1, advert(ip(20), 50)),
            vec![log(
                "received lower priority (50) advert from 10.0.0.20 - discarding"
            )]
        );
        // The timer from Startup keeps running.
        let down = t0 + Duration::from_micros(3_609_375);
        assert_eq!(i.next_deadline(), Some(down));
        i.handle(t1 + 1000 * MS, advert(ip(20), 50));
        assert_eq!(i.next_deadline(), Some(down));
        let acts = i.poll(down);
        assert_eq!(acts[0], log("Receive advertisement timeout"));
        assert_eq!(i.state(), State::Master);
    }

    #[test]
    fn nopreempt_backup_stays_backup() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.preempt = false;
        let mut i = Instance::new(c);
        i.handle(t0, Input::Startup);
        for k in 1..=10u32 {
            let t = t0 + k * 1000 * MS;
            assert_eq!(i.handle(t, advert(ip(20), 50)), vec![]);
            assert_eq!(i.poll(t), vec![]);
            assert_eq!(
                i.next_deadline(),
                Some(t + Duration::from_micros(3_609_375))
            );
        }
        assert_eq!(i.state(), State::Backup);
    }

    #[test]
    fn preempt_delay_accepts_lower_adverts_until_it_runs_out() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.preempt_delay = Duration::from_millis(2500);
        let mut i = Instance::new(c);
        i.handle(t0, Input::Startup);
        let t1 = t0 + 1000 * MS;
        assert_eq!(
            i.handle(t1, advert(ip(20), 50)),
            vec![log("start preempt delay (2.500000)")]
        );
        assert_eq!(
            i.next_deadline(),
            Some(t1 + Duration::from_micros(3_609_375))
        );
        // Still inside the delay: accepted, timer reset, no new log.
        let t2 = t0 + 3000 * MS;
        assert_eq!(i.handle(t2, advert(ip(20), 50)), vec![]);
        assert_eq!(
            i.next_deadline(),
            Some(t2 + Duration::from_micros(3_609_375))
        );
        // At 3.5 s the delay ends exactly: `preempt_time > now` no longer holds.
        let t3 = t0 + 3500 * MS;
        assert_eq!(
            i.handle(t3, advert(ip(20), 50)),
            vec![log(
                "received lower priority (50) advert from 10.0.0.20 - discarding"
            )]
        );
        assert_eq!(
            i.next_deadline(),
            Some(t2 + Duration::from_micros(3_609_375))
        );
        let acts = i.poll(t2 + Duration::from_micros(3_609_375));
        assert_eq!(acts[0], log("Receive advertisement timeout"));
        assert_eq!(i.state(), State::Master);
    }

    #[test]
    fn preempt_delay_stopped_by_higher_advert() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.preempt_delay = Duration::from_secs(2);
        let mut i = Instance::new(c);
        i.handle(t0, Input::Startup);
        i.handle(t0 + 1000 * MS, advert(ip(20), 50));
        assert_eq!(
            i.handle(t0 + 2000 * MS, advert(ip(30), 200)),
            vec![log("stop preempt delay")]
        );
        // A new lower advert starts a fresh delay.
        assert_eq!(
            i.handle(t0 + 2500 * MS, advert(ip(20), 50)),
            vec![log("start preempt delay (2.000000)")]
        );
    }

    #[test]
    fn v3_backup_adopts_master_interval() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.version = Version::V3;
        let mut i = Instance::new(c);
        i.handle(t0, Input::Startup);
        let t = t0 + 500 * MS;
        let acts = i.handle(
            t,
            Input::Advert {
                src: ip(20),
                priority: Priority(150),
                max_advert_int: Centiseconds(50),
            },
        );
        assert_eq!(
            acts,
            vec![log(
                "advertisement interval updated from 1000ms to 500ms by master"
            )]
        );
        assert_eq!(i.master_adver_interval(), Centiseconds(50));
        // Skew = 156 × 0.5 s / 256 = 0.3046875 s; down = 1.5 s + skew.
        assert_eq!(i.skew_time(), Duration::from_micros(304_687));
        assert_eq!(
            i.next_deadline(),
            Some(t + Duration::from_micros(1_804_687))
        );
        // Becoming master returns to our own interval.
        let acts = i.poll(t + Duration::from_micros(1_804_687));
        assert!(acts.contains(&log(
            "changing advert interval from 500ms to locally configured 1000ms"
        )));
        assert_eq!(i.master_adver_interval(), Centiseconds(100));
        assert_eq!(
            i.next_deadline(),
            Some(t + Duration::from_micros(1_804_687) + 1000 * MS)
        );
    }

    #[test]
    fn v2_backup_keeps_its_interval() {
        let t0 = Instant::now();
        let mut i = Instance::new(cfg());
        i.handle(t0, Input::Startup);
        i.handle(
            t0,
            Input::Advert {
                src: ip(20),
                priority: Priority(150),
                max_advert_int: Centiseconds(300),
            },
        );
        assert_eq!(i.master_adver_interval(), Centiseconds(100));
    }

    #[test]
    fn master_answers_priority_zero() {
        let t0 = Instant::now();
        let (mut i, t) = master(cfg(), t0);
        let t1 = t + 400 * MS;
        assert_eq!(
            i.handle(t1, advert(ip(20), 0)),
            vec![send(100), log("Master received priority 0 message")]
        );
        assert_eq!(i.next_deadline(), Some(t1 + 1000 * MS));
        assert_eq!(i.state(), State::Master);
    }

    #[test]
    fn master_preempted_by_higher_priority() {
        let t0 = Instant::now();
        let (mut i, t) = master(cfg(), t0);
        let t1 = t + 400 * MS;
        assert_eq!(
            i.handle(t1, advert(ip(20), 150)),
            vec![
                log("Master received advert from 10.0.0.20 with higher priority 150, ours 100"),
                log("Entering BACKUP STATE"),
                Action::DelVips,
                change(State::Master, State::Backup),
            ]
        );
        assert_eq!(i.state(), State::Backup);
        // Adver_Timer and GARP timer cancelled; Master_Down_Timer armed.
        assert_eq!(
            i.next_deadline(),
            Some(t1 + Duration::from_micros(3_609_375))
        );
        assert_eq!(
            i.poll(t1 + 5000 * MS)[0],
            log("Receive advertisement timeout")
        );
    }

    #[test]
    fn master_hears_lower_priority_and_forces_election() {
        let t0 = Instant::now();
        let (mut i, t) = master(cfg(), t0);
        let t1 = t + 300 * MS;
        assert_eq!(
            i.handle(t1, advert(ip(20), 50)),
            vec![
                log(
                    "Received advert from 10.0.0.20 with lower priority 50, ours 100, forcing new election"
                ),
                send(100),
            ]
        );
        assert_eq!(i.state(), State::Master);
        assert_eq!(i.next_deadline(), Some(t1 + 1000 * MS));
    }

    #[test]
    fn equal_priority_tie_broken_by_address() {
        let t0 = Instant::now();
        // Sender 10.0.0.20 > our 10.0.0.10: we yield.
        let (mut i, t) = master(cfg(), t0);
        let acts = i.handle(t, advert(ip(20), 100));
        assert_eq!(
            acts[0],
            log(
                "Master received advert from 10.0.0.20 with same priority 100 but higher IP address than ours"
            )
        );
        assert_eq!(i.state(), State::Backup);

        // Sender 10.0.0.5 < ours: we stay master and answer.
        let (mut i, t) = master(cfg(), t0);
        let acts = i.handle(t, advert(ip(5), 100));
        assert_eq!(acts[1], send(100));
        assert_eq!(i.state(), State::Master);

        // The comparison is numeric: 10.0.0.9 < 10.0.0.10 although "9" > "10" as text.
        let (mut i, t) = master(cfg(), t0);
        i.handle(t, advert(ip(9), 100));
        assert_eq!(i.state(), State::Master);

        // Our own address: warning only, no advert, timer re-armed.
        let (mut i, t) = master(cfg(), t0);
        assert_eq!(
            i.handle(t + 100 * MS, advert(ip(10), 100)),
            vec![log(
                "WARNING - equal priority advert received from remote host with our IP address."
            )]
        );
        assert_eq!(i.state(), State::Master);
        assert_eq!(i.next_deadline(), Some(t + 1100 * MS));
    }

    #[test]
    fn ipv6_tie_break_is_numeric() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.version = Version::V3;
        c.primary_ip = "fe80::2".parse().unwrap();
        let (mut i, t) = master(c.clone(), t0);
        i.handle(t, advert("fe80::10".parse().unwrap(), 100));
        assert_eq!(i.state(), State::Backup);
        let (mut i, t) = master(c, t0);
        i.handle(t, advert("fe80::1".parse().unwrap(), 100));
        assert_eq!(i.state(), State::Master);
    }

    #[test]
    fn two_owners_one_steps_down() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.priority = Priority(255);
        let mut i = Instance::new(c);
        i.handle(t0, Input::Startup);
        let acts = i.handle(t0 + 100 * MS, advert(ip(5), 255));
        assert!(
            acts[0].clone()
                == log(
                    "CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority"
                )
        );
        assert_eq!(i.effective_priority(), Priority(254));
        assert_eq!(i.state(), State::Backup);
        // No longer the owner: trackers may adjust the priority again.
        i.handle(t0, Input::SetPriority(Priority(200)));
        assert_eq!(i.effective_priority(), Priority(200));
    }

    #[test]
    fn set_priority_in_backup_shifts_the_timer() {
        let t0 = Instant::now();
        let mut i = Instance::new(cfg());
        i.handle(t0, Input::Startup);
        let t = t0 + 1000 * MS;
        assert_eq!(
            i.handle(t, Input::SetPriority(Priority(200))),
            vec![log("Changing effective priority from 100 to 200")]
        );
        assert_eq!(i.effective_priority(), Priority(200));
        // Skew 56/256 s = 218750 µs: the deadline moves by (3218750 - 3609375) µs.
        assert_eq!(i.skew_time(), Duration::from_micros(218_750));
        assert_eq!(
            i.next_deadline(),
            Some(t0 + Duration::from_micros(3_218_750))
        );
        // Same priority again: nothing.
        assert_eq!(i.handle(t, Input::SetPriority(Priority(200))), vec![]);
        // Clamped to 1..=254.
        i.handle(t, Input::SetPriority(Priority(0)));
        assert_eq!(i.effective_priority(), Priority(1));
    }

    #[test]
    fn reconfigure_keeps_the_state_and_takes_the_new_settings() {
        let t0 = Instant::now();
        let (mut i, t) = master(cfg(), t0);
        let new = InstanceConfig {
            priority: Priority(90),
            advert_int: Centiseconds(200),
            preempt: false,
            ..cfg()
        };
        i.reconfigure(new.clone());
        assert_eq!(i.state(), State::Master);
        assert_eq!(i.config(), &new);
        // The priority waits for SetPriority; the interval is the new one.
        assert_eq!(i.effective_priority(), Priority(100));
        assert_eq!(i.master_adver_interval(), Centiseconds(200));
        // The running Adver_Timer fires as armed, the next one 2 s later.
        assert_eq!(i.poll(t + 1000 * MS), vec![send(100)]);
        assert_eq!(i.next_deadline(), Some(t + 3000 * MS));
        i.handle(t + 1000 * MS, Input::SetPriority(Priority(90)));
        assert_eq!(i.poll(t + 3000 * MS), vec![send(90)]);
        // A v2 backup's Master_Down_Interval follows its own interval: 3 x 2 s + skew.
        let mut b = Instance::new(cfg());
        b.handle(t0, Input::Startup);
        b.reconfigure(InstanceConfig {
            advert_int: Centiseconds(200),
            ..cfg()
        });
        assert_eq!(b.state(), State::Backup);
        assert_eq!(
            b.master_down_interval(),
            Duration::from_secs(6) + Duration::from_micros(609_375)
        );
    }

    #[test]
    fn set_priority_in_master_changes_adverts() {
        let t0 = Instant::now();
        let (mut i, t) = master(cfg(), t0);
        assert_eq!(
            i.handle(t, Input::SetPriority(Priority(80))),
            vec![log("Changing effective priority from 100 to 80")]
        );
        assert_eq!(i.poll(t + 1000 * MS), vec![send(80)]);
        // A peer at 90 now preempts us.
        let acts = i.handle(t + 1100 * MS, advert(ip(20), 90));
        assert_eq!(acts.last(), Some(&change(State::Master, State::Backup)));
    }

    #[test]
    fn fault_from_master_and_recovery() {
        let t0 = Instant::now();
        let (mut i, t) = master(cfg(), t0);
        assert_eq!(
            i.handle(t + 100 * MS, Input::Fault(true)),
            vec![
                log("Entering FAULT STATE"),
                send(0),
                send(0),
                log("sent 0 priority"),
                Action::DelVips,
                change(State::Master, State::Fault),
            ]
        );
        assert_eq!(i.state(), State::Fault);
        assert_eq!(i.next_deadline(), None);
        // No adverts or GARPs while faulty, and adverts are ignored.
        assert_eq!(i.poll(t + 10_000 * MS), vec![]);
        assert_eq!(i.handle(t + 10_000 * MS, advert(ip(20), 0)), vec![]);
        assert_eq!(i.handle(t + 10_000 * MS, Input::Fault(true)), vec![]);
        let t2 = t + 12_000 * MS;
        assert_eq!(
            i.handle(t2, Input::Fault(false)),
            vec![
                log("Entering BACKUP STATE"),
                change(State::Fault, State::Backup)
            ]
        );
        assert_eq!(
            i.next_deadline(),
            Some(t2 + Duration::from_micros(3_609_375))
        );
        assert_eq!(i.handle(t2, Input::Fault(false)), vec![]);
    }

    #[test]
    fn fault_from_backup_and_at_startup() {
        let t0 = Instant::now();
        let mut i = Instance::new(cfg());
        i.handle(t0, Input::Startup);
        assert_eq!(
            i.handle(t0, Input::Fault(true)),
            vec![
                log("Entering FAULT STATE"),
                change(State::Backup, State::Fault)
            ]
        );
        assert_eq!(i.next_deadline(), None);

        let mut i = Instance::new(cfg());
        assert_eq!(i.handle(t0, Input::Fault(true)), vec![]);
        assert_eq!(
            i.handle(t0, Input::Startup),
            vec![
                Action::DelVips,
                log("Entering FAULT STATE (init)"),
                change(State::Init, State::Fault),
            ]
        );
        assert_eq!(i.state(), State::Fault);

        // A fault that clears before Startup leaves no trace.
        let mut i = Instance::new(cfg());
        i.handle(t0, Input::Fault(true));
        i.handle(t0, Input::Fault(false));
        assert_eq!(i.handle(t0, Input::Startup), backup_init());
    }

    #[test]
    fn shutdown_from_each_state() {
        let t0 = Instant::now();
        let (mut i, t) = master(cfg(), t0);
        assert_eq!(
            i.handle(t, Input::Shutdown),
            vec![
                send(0),
                log("sent 0 priority"),
                Action::DelVips,
                change(State::Master, State::Stop),
            ]
        );
        assert_eq!(i.next_deadline(), None);
        assert_eq!(i.handle(t, Input::Shutdown), vec![]);
        assert_eq!(i.handle(t, advert(ip(20), 100)), vec![]);

        let mut i = Instance::new(cfg());
        i.handle(t0, Input::Startup);
        assert_eq!(
            i.handle(t0, Input::Shutdown),
            vec![change(State::Backup, State::Stop)]
        );
        assert_eq!(i.next_deadline(), None);
        assert_eq!(i.poll(t0 + 10_000 * MS), vec![]);
    }

    fn garp_cfg() -> InstanceConfig {
        let mut c = cfg();
        c.garp = GarpPolicy {
            refresh: Duration::from_secs(10),
            refresh_repeat: 2,
            lower_prio_repeat: 3,
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
        };
        c
    }

    #[test]
    fn lower_priority_advert_heals_split_brain() {
        let t0 = Instant::now();
        let (mut i, t) = master(garp_cfg(), t0);
        let t1 = t + 300 * MS;
        assert_eq!(
            i.handle(t1, advert(ip(20), 50)),
            vec![
                log(
                    "Received advert from 10.0.0.20 with lower priority 50, ours 100, forcing new election"
                ),
                send(100),
                Action::SendGarpRepeat { repeat: 3 },
            ]
        );
        // A second lower advert before the delayed burst: one more immediate burst, and the
        // delayed burst stays where the first advert put it.
        i.handle(t1 + 100 * MS, advert(ip(20), 50));
        let delayed = t1 + 5000 * MS;
        let mut seen = Vec::new();
        let mut now = t1 + 100 * MS;
        while let Some(d) = i.next_deadline().filter(|d| *d <= delayed) {
            now = d;
            seen.extend(i.poll(d));
        }
        assert_eq!(now, delayed);
        assert_eq!(seen.last(), Some(&Action::SendGarpRepeat { repeat: 3 }));
        assert_eq!(
            seen.iter()
                .filter(|a| matches!(a, Action::SendGarpRepeat { .. }))
                .count(),
            1
        );
    }

    #[test]
    fn lower_prio_no_advert_and_no_garp() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.garp.lower_prio_no_advert = true;
        let (mut i, t) = master(c, t0);
        let t1 = t + 300 * MS;
        assert_eq!(
            i.handle(t1, advert(ip(20), 50)),
            vec![log(
                "Received advert from 10.0.0.20 with lower priority 50, ours 100"
            )]
        );
        // The Adver_Timer is still re-armed after the advert.
        assert_eq!(i.next_deadline(), Some(t1 + 1000 * MS));
        assert_eq!(i.state(), State::Master);
    }

    #[test]
    fn higher_prio_send_advert_answers_before_yielding() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.garp.higher_prio_send_advert = true;
        let (mut i, t) = master(c.clone(), t0);
        let acts = i.handle(t + 100 * MS, advert(ip(20), 150));
        assert_eq!(acts[0], send(100));
        assert_eq!(acts.last(), Some(&change(State::Master, State::Backup)));
        // Equal priority from a lower address: we stay master, no extra advert first.
        let (mut i, t) = master(c, t0);
        let acts = i.handle(t + 100 * MS, advert(ip(5), 100));
        assert_eq!(acts.iter().filter(|a| **a == send(100)).count(), 1);
        assert_eq!(i.state(), State::Master);
        // Without the option the higher advert gets no answer.
        let (mut i, t) = master(cfg(), t0);
        let acts = i.handle(t + 100 * MS, advert(ip(20), 150));
        assert!(!acts.contains(&send(100)));
    }

    #[test]
    fn garp_refresh_rides_on_the_first_advert_after_the_period() {
        let t0 = Instant::now();
        let mut c = garp_cfg();
        c.garp_master_delay = Duration::ZERO;
        let (mut i, t) = master(c, t0);
        // Adverts at t+1s .. t+10s: none refreshes (10 s have not passed strictly before).
        for k in 1..=10u32 {
            assert_eq!(i.poll(t + k * 1000 * MS), vec![send(100)], "advert {k}");
        }
        assert_eq!(
            i.poll(t + 11_000 * MS),
            vec![send(100), Action::SendGarpRepeat { repeat: 2 }]
        );
        // The next refresh is 10 s after that one.
        for k in 12..=21u32 {
            assert_eq!(i.poll(t + k * 1000 * MS), vec![send(100)], "advert {k}");
        }
        assert_eq!(
            i.poll(t + 22_000 * MS)[1],
            Action::SendGarpRepeat { repeat: 2 }
        );
        // Leaving master stops it.
        i.handle(t + 22_100 * MS, advert(ip(20), 200));
        assert_eq!(i.state(), State::Backup);
        assert!(
            !i.poll(t + 40_000 * MS)
                .iter()
                .any(|a| matches!(a, Action::SendGarpRepeat { .. }))
        );
    }

    #[test]
    fn sub_second_v3_timers() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.version = Version::V3;
        c.advert_int = Centiseconds(10);
        let mut i = Instance::new(c);
        // Skew = 156 × 0.1 s / 256 = 60.9375 ms; down = 300 ms + skew.
        assert_eq!(i.skew_time(), Duration::from_micros(60_937));
        assert_eq!(i.master_down_interval(), Duration::from_micros(360_937));
        i.handle(t0, Input::Startup);
        let t = t0 + Duration::from_micros(360_937);
        assert_eq!(i.next_deadline(), Some(t));
        i.poll(t);
        assert_eq!(i.state(), State::Master);
        assert_eq!(i.next_deadline(), Some(t + 100 * MS));
        // 10 ms, the smallest interval, and 40.95 s, the largest.
        let mut c = cfg();
        c.version = Version::V3;
        c.advert_int = Centiseconds(1);
        assert_eq!(
            Instance::new(c.clone()).master_down_interval(),
            Duration::from_micros(30_000 + 6_093)
        );
        c.advert_int = Centiseconds(4095);
        assert_eq!(
            Instance::new(c).master_down_interval(),
            Duration::from_micros(122_850_000 + 24_953_906)
        );
    }

    #[test]
    fn serde_shapes() {
        let a = serde_json::to_string(&send(100)).unwrap();
        assert_eq!(a, r#"{"SendAdvert":{"priority":100}}"#);
        let i: Input = serde_json::from_str(
            r#"{"Advert":{"src":"10.0.0.2","priority":150,"max_advert_int":100}}"#,
        )
        .unwrap();
        assert_eq!(i, advert(ip(2), 150));
        let s: State = serde_json::from_str(r#""Fault""#).unwrap();
        assert_eq!(s, State::Fault);
    }
}
