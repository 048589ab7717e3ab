//! VRRP sync groups (`vrrp_sync_group NAME { group { VI_1 VI_2 } }`): members move together.
//! Sans-IO: the engine reports member state changes and tracker faults, and carries out the
//! returned [`SyncAction`]s in order.
//!
//! The rules are keepalived 2.2.7's (keepalived/vrrp/vrrp_sync.c), checked against the
//! installed binary with two instances on two links:
//!
//! * a member may leave BACKUP for MASTER only when every other member is MASTER or also
//!   waiting to become MASTER (`vrrp_sync_can_goto_master`); otherwise it re-arms its
//!   Master_Down_Timer and waits ("prefer backup state to avoid thrashing");
//! * a member becoming MASTER takes the others with it (`vrrp_sync_master`):
//!   `VRRP_Group(G1) Syncing instances to MASTER state`;
//! * a member going back to BACKUP takes the masters with it (`vrrp_sync_backup`);
//! * a member whose own trackers fail goes to FAULT and takes every member with it
//!   (`vrrp_sync_fault`); the group leaves FAULT only when no member has a failed tracker, and
//!   then every member goes to BACKUP;
//! * group notifies run after the members' own ones, with priority 0
//!   (`GROUP G1 MASTER 0`); at startup the group reports BACKUP before its members do.

use crate::vrrp::fsm::State;

/// What the engine must do for a sync group, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncAction {
    /// Feed `Input::Fault(bool)` to this member (engine instance index).
    Fault(usize, bool),
    /// Take this BACKUP member to MASTER now (keepalived `vrrp_state_goto_master`).
    ForceMaster(usize),
    /// Take this MASTER member to BACKUP now (keepalived `vrrp_state_leave_master`).
    ForceBackup(usize),
    /// A keepalived log line.
    Log(String),
    /// Run the group's notify scripts and FIFO line for this state.
    Notify(State),
}

/// One sync group: its members (engine instance indices) and its state.
#[derive(Debug, Clone)]
pub struct SyncGroup {
    name: String,
    members: Vec<usize>,
    /// Members whose own trackers say FAULT.
    own_fault: Vec<bool>,
    state: State,
}

impl SyncGroup {
    /// A group in [`State::Init`] over `members` (engine instance indices).
    pub fn new(name: impl Into<String>, members: Vec<usize>) -> SyncGroup {
        SyncGroup {
            name: name.into(),
            own_fault: vec![false; members.len()],
            members,
            state: State::Init,
        }
    }

    /// The group in `state` (a group a reload forms over running members starts in BACKUP,
    /// as after start-up, and is then re-evaluated from its members' states).
    pub fn with_state(mut self, state: State) -> SyncGroup {
        self.state = state;
        self
    }

    /// Member `i` leaves the group (a reload removes its instance); the other members keep
    /// their indices until [`SyncGroup::renumber_after_removal`].
    pub fn remove_member(&mut self, i: usize) {
        if let Some(k) = self.members.iter().position(|&m| m == i) {
            self.members.remove(k);
            self.own_fault.remove(k);
        }
    }

    /// Engine instance `i` was removed: the members after it move down by one.
    pub fn renumber_after_removal(&mut self, i: usize) {
        for m in &mut self.members {
            if *m > i {
                *m -= 1;
            }
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn members(&self) -> &[usize] {
        &self.members
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// `true` if `i` is a member.
    pub fn contains(&self, i: usize) -> bool {
        self.members.contains(&i)
    }

    /// Startup (before the members start): the group reports BACKUP, as keepalived does.
    pub fn startup(&mut self) -> Vec<SyncAction> {
        self.state = State::Backup;
        vec![SyncAction::Notify(State::Backup)]
    }

    /// Shutdown (after the members stopped): the group reports STOP.
    pub fn shutdown(&mut self) -> Vec<SyncAction> {
        if self.state == State::Stop {
            return vec![];
        }
        self.state = State::Stop;
        vec![SyncAction::Notify(State::Stop)]
    }

    /// keepalived `vrrp_sync_can_goto_master`: may member `me` become MASTER now?
    /// `wants_master(j)` is true for a member that is MASTER or whose Master_Down_Timer has
    /// already expired while it waited for the others.
    pub fn can_goto_master(&self, me: usize, wants_master: impl Fn(usize) -> bool) -> bool {
        if self.state == State::Master {
            return true;
        }
        self.members.iter().all(|&j| j == me || wants_master(j))
    }

    /// Member `i`'s own trackers now say `fault`. Returns what to feed to the members:
    /// a fault goes to `i` at once (its change to FAULT then takes the others, see
    /// [`SyncGroup::on_member_change`]); a recovery goes to `i` only when no member is
    /// faulty any more.
    pub fn set_member_fault(&mut self, i: usize, fault: bool) -> Vec<SyncAction> {
        let Some(k) = self.members.iter().position(|&m| m == i) else {
            return vec![];
        };
        if self.own_fault[k] == fault {
            return vec![];
        }
        self.own_fault[k] = fault;
        if fault {
            vec![SyncAction::Fault(i, true)]
        } else if self.own_fault.iter().any(|&f| f) {
            vec![]
        } else {
            vec![SyncAction::Fault(i, false)]
        }
    }

    /// Member `i` has changed to `to`; `state_of(j)` gives every member's current state.
    pub fn on_member_change(
        &mut self,
        i: usize,
        to: State,
        state_of: impl Fn(usize) -> State,
    ) -> Vec<SyncAction> {
        if !self.contains(i) || self.state == State::Stop {
            return vec![];
        }
        let others: Vec<usize> = self.members.iter().copied().filter(|&j| j != i).collect();
        let mut out = Vec::new();
        match to {
            State::Master if self.state != State::Master => {
                out.push(self.log("Syncing instances to MASTER state"));
                out.extend(
                    others
                        .iter()
                        .filter(|&&j| state_of(j) == State::Backup)
                        .map(|&j| SyncAction::ForceMaster(j)),
                );
                self.state = State::Master;
                out.push(SyncAction::Notify(State::Master));
            }
            State::Backup if self.state != State::Backup => {
                out.push(self.log("Syncing instances to BACKUP state"));
                for &j in &others {
                    match state_of(j) {
                        State::Master => out.push(SyncAction::ForceBackup(j)),
                        State::Fault => out.push(SyncAction::Fault(j, false)),
                        _ => {}
                    }
                }
                self.state = State::Backup;
                out.push(SyncAction::Notify(State::Backup));
            }
            State::Fault if self.state != State::Fault => {
                out.push(self.log("Syncing instances to FAULT state"));
                out.extend(
                    others
                        .iter()
                        .filter(|&&j| {
                            matches!(state_of(j), State::Init | State::Master | State::Backup)
                        })
                        .map(|&j| SyncAction::Fault(j, true)),
                );
                self.state = State::Fault;
                out.push(SyncAction::Notify(State::Fault));
            }
            _ => {}
        }
        out
    }

    fn log(&self, what: &str) -> SyncAction {
        SyncAction::Log(format!("VRRP_Group({}) {what}", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_member_leaves_and_the_others_are_renumbered() {
        let mut g = SyncGroup::new("G", vec![0, 2, 3]);
        g.set_member_fault(2, true);
        g.remove_member(2);
        assert_eq!(g.members(), [0, 3]);
        // The removed member's fault went with it: a recovery of 0 is not held back.
        assert_eq!(
            g.set_member_fault(0, true),
            vec![SyncAction::Fault(0, true)]
        );
        assert_eq!(
            g.set_member_fault(0, false),
            vec![SyncAction::Fault(0, false)]
        );
        g.renumber_after_removal(2);
        assert_eq!(g.members(), [0, 2]);
        assert_eq!(g.clone().with_state(State::Backup).state(), State::Backup);
    }

    fn group() -> SyncGroup {
        let mut g = SyncGroup::new("G1", vec![0, 1]);
        assert_eq!(g.startup(), vec![SyncAction::Notify(State::Backup)]);
        g
    }

    #[test]
    fn master_only_when_every_member_wants_it() {
        let g = group();
        assert!(!g.can_goto_master(0, |_| false));
        assert!(g.can_goto_master(0, |j| j == 1));
        assert!(g.can_goto_master(1, |j| j == 0));
    }

    #[test]
    fn one_master_takes_the_others() {
        let mut g = group();
        let states = [State::Master, State::Backup];
        assert_eq!(
            g.on_member_change(0, State::Master, |j| states[j]),
            vec![
                SyncAction::Log("VRRP_Group(G1) Syncing instances to MASTER state".into()),
                SyncAction::ForceMaster(1),
                SyncAction::Notify(State::Master),
            ]
        );
        // The forced member's own change is no new group event.
        assert_eq!(
            g.on_member_change(1, State::Master, |_| State::Master),
            vec![]
        );
        assert!(
            g.can_goto_master(0, |_| false),
            "a MASTER group lets members in"
        );
        // One member hears a better master: the other master follows to BACKUP.
        let states = [State::Backup, State::Master];
        assert_eq!(
            g.on_member_change(0, State::Backup, |j| states[j]),
            vec![
                SyncAction::Log("VRRP_Group(G1) Syncing instances to BACKUP state".into()),
                SyncAction::ForceBackup(1),
                SyncAction::Notify(State::Backup),
            ]
        );
    }

    #[test]
    fn fault_of_one_member_is_fault_of_all_until_all_recover() {
        let mut g = group();
        g.on_member_change(0, State::Master, |_| State::Master);
        assert_eq!(
            g.set_member_fault(1, true),
            vec![SyncAction::Fault(1, true)]
        );
        let states = [State::Master, State::Fault];
        assert_eq!(
            g.on_member_change(1, State::Fault, |j| states[j]),
            vec![
                SyncAction::Log("VRRP_Group(G1) Syncing instances to FAULT state".into()),
                SyncAction::Fault(0, true),
                SyncAction::Notify(State::Fault),
            ]
        );
        assert_eq!(
            g.on_member_change(0, State::Fault, |_| State::Fault),
            vec![]
        );
        // Member 0 fails too, member 1 recovers: still FAULT.
        assert_eq!(
            g.set_member_fault(0, true),
            vec![SyncAction::Fault(0, true)]
        );
        assert_eq!(g.set_member_fault(1, false), vec![]);
        // The last one recovers: it leaves FAULT, and takes the other along.
        assert_eq!(
            g.set_member_fault(0, false),
            vec![SyncAction::Fault(0, false)]
        );
        let states = [State::Backup, State::Fault];
        assert_eq!(
            g.on_member_change(0, State::Backup, |j| states[j]),
            vec![
                SyncAction::Log("VRRP_Group(G1) Syncing instances to BACKUP state".into()),
                SyncAction::Fault(1, false),
                SyncAction::Notify(State::Backup),
            ]
        );
        assert_eq!(g.state(), State::Backup);
    }

    #[test]
    fn stop_is_reported_once_and_ends_syncing() {
        let mut g = group();
        assert_eq!(g.shutdown(), vec![SyncAction::Notify(State::Stop)]);
        assert_eq!(g.shutdown(), vec![]);
        assert_eq!(
            g.on_member_change(0, State::Master, |_| State::Backup),
            vec![]
        );
    }
}
