//! The operations a sync group ([`crate::vrrp::sync_group`]) needs from a member's state
//! machine (keepalived vrrp_sync.c): hold a Backup whose Master_Down_Timer expired while the
//! other members are not ready, and move a member to MASTER or BACKUP with the others.

use super::{Action, Instance, State};
use std::time::Instant;

impl Instance {
    /// `true` when this Backup's Master_Down_Timer has expired at `now` (the next
    /// [`Instance::poll`] would make it MASTER).
    pub fn master_down_due(&self, now: Instant) -> bool {
        self.state == State::Backup && self.master_down_at.is_some_and(|at| at <= now)
    }

    /// The armed Master_Down_Timer, if any.
    pub fn master_down_at(&self) -> Option<Instant> {
        self.master_down_at
    }

    /// keepalived `vrrp_sync_can_goto_master` said no: stay Backup and re-arm the
    /// Master_Down_Timer with a full Master_Down_Interval.
    pub fn hold_master_down(&mut self, now: Instant) {
        if self.state == State::Backup {
            let down = self.master_down_interval();
            self.arm_master_down(now, down);
        }
    }

    /// keepalived `vrrp_sync_master` → `vrrp_state_goto_master` on another member: a Backup
    /// becomes MASTER now, as if its Master_Down_Timer had fired.
    pub fn force_master(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Backup {
            self.become_master(now, &mut out);
        }
        out
    }

    /// keepalived `vrrp_sync_backup` → `vrrp_state_leave_master` on another member: a MASTER
    /// releases its VIPs and becomes Backup with a full Master_Down_Interval.
    pub fn force_backup(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state != State::Master {
            return out;
        }
        self.log(&mut out, "Entering BACKUP STATE");
        out.push(Action::DelVips);
        self.state = State::Backup;
        self.disarm_all();
        let down = self.master_down_interval();
        self.arm_master_down(now, down);
        out.push(Action::StateChange {
            from: State::Master,
            to: State::Backup,
        });
        out
    }
}
