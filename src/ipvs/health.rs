//! Real-server health and quorum per virtual server — keepalived's `perform_svr_state` /
//! `update_quorum_state` (check/ipwrapper.c) as pure functions (the destinations that follow
//! are [`crate::ipvs::desired::dests`]):
//!
//! * a real server that fails is removed, or kept with weight 0 with `inhibit_on_failure`;
//! * quorum: the sum of the weights of live real servers must reach `quorum`; with
//!   `hysteresis` H it is gained at `quorum + H` and lost below `quorum - H` (or at 0);
//! * when quorum is lost and there is a `sorry_server`, the live real servers leave the pool
//!   and the sorry server enters it; when quorum comes back it is the other way round;
//! * `sorry_server_inhibit` keeps the idle sorry server with weight 0.
//!
//! No IO: the starting state of each real server (its `alpha`, its `FILE_CHECK` files) is
//! read by [`crate::check::build::rs_start`] and handed in.

use crate::check::build::RsStart;
use crate::config::model::{Config, RealServer, VirtualServer, VsProtocol, VsTarget};
use std::net::IpAddr;

/// The health of one virtual server's real servers, in config order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VsHealth {
    /// Live or not, per real server.
    pub alive: Vec<bool>,
    /// Effective weight per real server (`misc_dynamic` may change it).
    pub weight: Vec<u32>,
    pub quorum_up: bool,
}

/// What changed after a real server's transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The real server's liveness changed.
    pub rs_changed: bool,
    /// The quorum was gained (`Some(true)`) or lost (`Some(false)`).
    pub quorum: Option<bool>,
}

impl VsHealth {
    /// The starting state from each real server's `start` (config order, see
    /// [`crate::check::build::rs_start`]); then the quorum (keepalived starts with quorum down
    /// — sorry server in — when the live weight is below it).
    pub fn new(vs: &VirtualServer, start: &[RsStart]) -> VsHealth {
        let mut h = VsHealth {
            alive: start.iter().map(|s| s.alive).collect(),
            weight: start.iter().map(|s| s.weight).collect(),
            quorum_up: true,
        };
        h.quorum_up = h.live_weight() >= u64::from(vs.health.quorum);
        h
    }

    /// The state after a reload: as [`VsHealth::new`], except that each real server with a
    /// `carried` liveness (it was in the running config, see [`carried_alive`]) keeps it, so a
    /// reload neither re-adds a failed server nor drops a live one; then the quorum.
    pub fn with_carried(
        vs: &VirtualServer,
        start: &[RsStart],
        carried: &[Option<bool>],
    ) -> VsHealth {
        let mut h = VsHealth::new(vs, start);
        for (alive, was) in h.alive.iter_mut().zip(carried) {
            if let Some(was) = was {
                *alive = *was;
            }
        }
        h.quorum_up = h.live_weight() >= u64::from(vs.health.quorum);
        h
    }

    /// Sum of the weights of live real servers.
    pub fn live_weight(&self) -> u64 {
        self.alive
            .iter()
            .zip(&self.weight)
            .filter(|(a, _)| **a)
            .map(|(_, w)| u64::from(*w))
            .sum()
    }

    /// Records real server `rs` going up or down (with a new weight from `misc_dynamic`) and
    /// re-evaluates the quorum with hysteresis.
    pub fn update(
        &mut self,
        vs: &VirtualServer,
        rs: usize,
        up: bool,
        weight: Option<u32>,
    ) -> Change {
        let mut rs_changed = false;
        if let Some(a) = self.alive.get_mut(rs) {
            rs_changed = *a != up;
            *a = up;
        }
        if let (Some(w), Some(slot)) = (weight, self.weight.get_mut(rs)) {
            *slot = w;
        }
        let sum = self.live_weight() as i64;
        let (q, h) = (i64::from(vs.health.quorum), i64::from(vs.health.hysteresis));
        let quorum = if !self.quorum_up && sum >= q + h {
            self.quorum_up = true;
            Some(true)
        } else if self.quorum_up && (sum == 0 || sum < q - h) {
            self.quorum_up = false;
            Some(false)
        } else {
            None
        };
        Change { rs_changed, quorum }
    }
}

/// Whether real server `rs` of `vs` is inhibited (weight 0) rather than removed on failure.
pub fn inhibit(vs: &VirtualServer, rs: &RealServer) -> bool {
    rs.health
        .inhibit_on_failure
        .unwrap_or(vs.health.inhibit_on_failure)
}

/// What makes a virtual server of a reloaded config the same as one of the running config:
/// its target and its protocol.
#[derive(Debug, PartialEq, Eq, Hash)]
enum VsKey<'a> {
    Addr(IpAddr, u16, Protocol),
    Fwmark(u32, bool, Protocol),
    Group(&'a str, Protocol),
}

/// [`VsProtocol`] as a hashable key.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl VsKey<'_> {
    fn of(vs: &VirtualServer) -> VsKey<'_> {
        let p = match vs.protocol {
            VsProtocol::Tcp => Protocol::Tcp,
            VsProtocol::Udp => Protocol::Udp,
            VsProtocol::Sctp => Protocol::Sctp,
        };
        match &vs.target {
            VsTarget::Addr { addr, port } => VsKey::Addr(*addr, *port, p),
            VsTarget::Fwmark { mark, ipv6 } => VsKey::Fwmark(*mark, *ipv6, p),
            VsTarget::Group(name) => VsKey::Group(name, p),
        }
    }
}

/// For each virtual server of `new` (config order), the liveness each of its real servers
/// had under `old` / `old_health`: `Some` when the same virtual server (target and protocol)
/// had a real server with the same address and port, else `None`.
pub fn carried_alive(
    old: &Config,
    old_health: &[VsHealth],
    new: &Config,
) -> Vec<Vec<Option<bool>>> {
    let before: std::collections::HashMap<VsKey<'_>, usize> = old
        .ipvs
        .virtual_servers
        .iter()
        .enumerate()
        .map(|(i, vs)| (VsKey::of(vs), i))
        .collect();
    new.ipvs
        .virtual_servers
        .iter()
        .map(|vs| {
            let prior = before
                .get(&VsKey::of(vs))
                .and_then(|&i| Some((&old.ipvs.virtual_servers[i], old_health.get(i)?)));
            vs.real_servers
                .iter()
                .map(|rs| {
                    let (ovs, oh) = prior?;
                    let ri = ovs
                        .real_servers
                        .iter()
                        .position(|o| o.addr == rs.addr && o.port == rs.port)?;
                    oh.alive.get(ri).copied()
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::build::{rs_start, runner_carrying};
    use crate::config::{LoadOptions, load_str};
    use std::path::Path;

    fn health(vs: &VirtualServer) -> VsHealth {
        VsHealth::new(vs, &rs_start(vs))
    }

    /// A reload carries each surviving real server's liveness (matched by virtual server
    /// target and protocol, then address and port); new ones start as configured, and the
    /// checkers of a carried-down real server start down (a success brings it back).
    #[test]
    fn reload_carries_liveness_of_surviving_real_servers() {
        let conf = |text: &str| load_str(Path::new("t.conf"), text, &LoadOptions::default()).config;
        let rs = |ip: &str| format!("real_server {ip} 80 {{\n TCP_CHECK {{\n }}\n }}\n");
        let old = conf(&format!(
            "virtual_server 10.0.0.1 80 {{\n{}{}}}\nvirtual_server 10.0.0.2 80 {{\n protocol TCP\n{}}}\n",
            rs("10.0.1.1"),
            rs("10.0.1.2"),
            rs("10.0.1.1")
        ));
        let mut old_health: Vec<VsHealth> = old.ipvs.virtual_servers.iter().map(health).collect();
        old_health[0].alive[0] = false;
        let new = conf(&format!(
            "virtual_server 10.0.0.3 80 {{\n{}}}\nvirtual_server 10.0.0.1 80 {{\n{}{}{}}}\n\
             virtual_server 10.0.0.2 80 {{\n protocol UDP\n{}}}\n",
            rs("10.0.1.1"),
            rs("10.0.1.2"),
            rs("10.0.1.1"),
            rs("10.0.1.3"),
            rs("10.0.1.1")
        ));
        let carried = carried_alive(&old, &old_health, &new);
        assert_eq!(
            carried,
            vec![
                vec![None],
                vec![Some(true), Some(false), None],
                // Same address, other protocol: another service.
                vec![None],
            ]
        );
        let v = &new.ipvs.virtual_servers[1];
        let h = VsHealth::with_carried(v, &rs_start(v), &carried[1]);
        assert_eq!(h.alive, vec![true, false, true]);
        let (runner, index, problems) = runner_carrying(&new, &carried);
        assert!(problems.is_empty(), "{problems:?}");
        let up: Vec<bool> = (0..index.len()).map(|id| runner.initially_up(id)).collect();
        assert_eq!(*index, [(0, 0), (1, 0), (1, 1), (1, 2), (2, 0)]);
        assert_eq!(up, vec![true, true, false, true, true]);
    }
}
