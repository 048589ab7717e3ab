//! `ha_suspend` (keepalived check_api.c `update_checker_activity`): the checkers of a
//! virtual server with `ha_suspend` run only while its address is configured on this host —
//! on a VRRP backup, where the VIP is absent, they are suspended and keep their last state.
//!
//! One [`Gates`] per runner holds a `watch` channel per such address; each gated check task
//! waits on its receiver ([`super::run_with`]). The addresses come from
//! [`crate::net::addr_monitor`] (netlink address events plus a dump at start). If the monitor
//! cannot start, the gates open (the checks run, as without `ha_suspend`) and an error is
//! logged.

use crate::net::addr_monitor::{self, AddrSet};
use std::net::IpAddr;
use tokio::sync::{mpsc, watch};

/// The suspend/resume switches of the gated checks, one per virtual server (its address,
/// or the addresses of its `virtual_server_group`).
#[derive(Debug, Default)]
pub struct Gates {
    /// Per gate id: label for the log, addresses, switch.
    gates: Vec<(String, Vec<IpAddr>, watch::Sender<bool>)>,
}

impl Gates {
    /// Gates for `(label, addresses)` by index, all closed (suspended) until an address is
    /// seen.
    pub fn new(gates: Vec<(String, Vec<IpAddr>)>) -> Gates {
        Gates {
            gates: gates
                .into_iter()
                .map(|(l, a)| (l, a, watch::channel(false).0))
                .collect(),
        }
    }

    /// The receiver a check gated by gate `id` waits on (an unknown id gets an open gate).
    pub fn receiver(&mut self, id: usize) -> watch::Receiver<bool> {
        match self.gates.get(id) {
            Some((_, _, tx)) => tx.subscribe(),
            None => watch::channel(true).1,
        }
    }

    /// Sets every gate from `present`, logging the changes.
    fn update(&self, present: &AddrSet) {
        for (label, addrs, tx) in &self.gates {
            let now = addrs.iter().any(|a| present.contains(*a));
            tx.send_if_modified(|open| {
                if *open == now {
                    return false;
                }
                *open = now;
                if now {
                    tracing::info!(
                        "ha_suspend: {label} address is now local: activating its health checkers"
                    );
                } else {
                    tracing::info!(
                        "ha_suspend: {label} address is no longer local: suspending its health checkers"
                    );
                }
                true
            });
        }
    }

    /// Starts following the local addresses (in the calling thread's network namespace).
    /// Returns the task that does it, or `None` when there is no gate or the monitor
    /// could not start (then every gate is opened).
    pub fn start(self) -> Option<tokio::task::JoinHandle<()>> {
        if self.gates.is_empty() {
            return None;
        }
        let (tx, mut rx) = mpsc::channel(256);
        let initial = match addr_monitor::spawn(tx) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(
                    "ha_suspend: cannot follow local addresses ({e}); checkers are not suspended"
                );
                for (_, _, s) in &self.gates {
                    s.send_replace(true);
                }
                return None;
            }
        };
        let mut present = AddrSet::default();
        initial.into_iter().for_each(|ev| present.apply(ev));
        for (label, addrs, _) in &self.gates {
            if !addrs.iter().any(|a| present.contains(*a)) {
                tracing::info!(
                    "ha_suspend: {label} address is not local: its health checkers are suspended"
                );
            }
        }
        self.update(&present);
        Some(tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                // Every gated check is gone (the runner stopped): stop following.
                if self.gates.iter().all(|(_, _, tx)| tx.receiver_count() == 0) {
                    return;
                }
                present.apply(ev);
                // Take what is already queued before updating the gates.
                while let Ok(ev) = rx.try_recv() {
                    present.apply(ev);
                }
                self.update(&present);
            }
        }))
    }
}
