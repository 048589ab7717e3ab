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

#[cfg(test)]
mod tests {
    use super::super::{Input, InstanceConfig};
    use super::*;
    use crate::units::{Centiseconds, Priority, Version, Vrid};
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

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
            garp_master_delay: Duration::ZERO,
            primary_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 10)),
            garp: Default::default(),
        }
    }

    #[test]
    fn hold_rearms_the_master_down_timer_and_force_master_acts_like_the_timer() {
        let t0 = Instant::now();
        let mut held = Instance::new(cfg());
        held.handle(t0, Input::Startup);
        let due = held.next_deadline().unwrap();
        assert!(!held.master_down_due(t0));
        assert!(held.master_down_due(due));
        held.hold_master_down(due);
        assert_eq!(
            held.master_down_at(),
            Some(due + held.master_down_interval())
        );
        assert_eq!(held.state(), State::Backup);

        // Forcing MASTER gives exactly what the timer would have given, minus its log line.
        let mut timer = Instance::new(cfg());
        timer.handle(t0, Input::Startup);
        let by_timer: Vec<Action> = timer
            .poll(due)
            .into_iter()
            .filter(|a| *a != Action::Log("(VI_1) Receive advertisement timeout".into()))
            .collect();
        assert_eq!(held.force_master(due), by_timer);
        assert_eq!(held.state(), State::Master);
        assert_eq!(held.force_master(due), vec![], "already MASTER");
    }

    #[test]
    fn force_backup_releases_the_vips() {
        let t0 = Instant::now();
        let mut i = Instance::new(cfg());
        i.handle(t0, Input::Startup);
        assert_eq!(i.force_backup(t0), vec![], "not MASTER");
        let t = i.next_deadline().unwrap();
        i.poll(t);
        assert_eq!(
            i.force_backup(t),
            vec![
                Action::Log("(VI_1) Entering BACKUP STATE".into()),
                Action::DelVips,
                Action::StateChange {
                    from: State::Master,
                    to: State::Backup
                },
            ]
        );
        assert_eq!(i.master_down_at(), Some(t + i.master_down_interval()));
    }
}
