//! Health-driven announcements (issue 15, docs/ecmp.md): the rkeepalived-only
//! `announce_route table N [proto P] [metric M]` of a `virtual_server` turns each of its
//! addresses into a kernel route while its quorum is up, for a routing daemon (BIRD's kernel
//! protocol with `learn`, FRR's `redistribute table N`) to announce to the upstream router.
//! Several directors announcing the same address give the router equal-cost paths (ECMP).
//!
//! The route is `blackhole ADDR/32` (`/128` for IPv6) `table N proto P [metric M]`: the table
//! is one no policy rule looks up, so the route's type never forwards anything; blackhole
//! needs no device. [`routes`] computes the set from the health (pure); [`Announcer`] keeps
//! the kernel in line with it through [`crate::net::netlink::Netlink`], whose ledger records
//! each route, so that the supervisor withdraws them when the daemon dies
//! ([`crate::net::ledger`]). keepalived has no equivalent keyword: its users run `ip route`
//! from `quorum_up`/`quorum_down` scripts.

use crate::config::model::{Config, VsTarget, VsgEntry};
use crate::ipvs::health::VsHealth;
use crate::net::ledger::Ledger;
use crate::net::netlink::Netlink;
use crate::net::route::{Route, RouteType};
use std::net::IpAddr;
use std::sync::Arc;
use tracing::{error, info};

/// The routes the virtual servers with `announce_route` and a quorum up ask for, in config
/// order without duplicates (a group's ranges expanded; fwmark entries have no address).
/// `health` is per virtual server, in config order.
pub fn routes(config: &Config, health: &[VsHealth]) -> Vec<Route> {
    let mut out: Vec<Route> = Vec::new();
    for (vs, h) in config.ipvs.virtual_servers.iter().zip(health) {
        let Some(a) = vs.health.announce_route else {
            continue;
        };
        if !h.quorum_up {
            continue;
        }
        for addr in addresses(config, &vs.target) {
            let r = Route {
                dst: addr,
                dst_len: if addr.is_ipv6() { 128 } else { 32 },
                prefsrc: None,
                gateways: Vec::new(),
                oif: None,
                table: a.table,
                metric: a.metric,
                scope: None,
                kind: RouteType::Blackhole,
                onlink: false,
                protocol: Some(a.proto),
            };
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

/// The addresses of a virtual server's target: its address, or each address of its group's
/// ranges.
fn addresses(config: &Config, target: &VsTarget) -> Vec<IpAddr> {
    match target {
        VsTarget::Addr { addr, .. } => vec![*addr],
        VsTarget::Fwmark { .. } => Vec::new(),
        VsTarget::Group(name) => config
            .ipvs
            .groups
            .get(name)
            .map(|g| {
                g.entries
                    .iter()
                    .flat_map(|e| match e {
                        VsgEntry::Range { first, count, .. } => {
                            (0..*count).map(|i| offset(*first, i)).collect()
                        }
                        VsgEntry::Fwmark { .. } => Vec::new(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// `first + i` (a group range `A-B` counts up the last part).
fn offset(first: IpAddr, i: u32) -> IpAddr {
    match first {
        IpAddr::V4(a) => IpAddr::V4(u32::from(a).wrapping_add(i).into()),
        IpAddr::V6(a) => IpAddr::V6(u128::from(a).wrapping_add(u128::from(i)).into()),
    }
}

/// Keeps the announced routes in the kernel equal to [`routes`]: adds what is new, deletes
/// what is no longer asked for, and withdraws everything at stop.
pub struct Announcer {
    /// Where each route is recorded for the supervisor to withdraw if the daemon dies.
    ledger: Option<Arc<Ledger>>,
    /// Opened at the first route to announce; `None` before, or when it could not be opened
    /// (then retried at the next change).
    netlink: Option<Netlink>,
    /// What is in the kernel now (as far as we know).
    installed: Vec<Route>,
}

impl Announcer {
    /// An announcer recording its routes in `ledger` (the supervised daemon's record).
    pub fn new(ledger: Option<Arc<Ledger>>) -> Announcer {
        Announcer {
            ledger,
            netlink: None,
            installed: Vec::new(),
        }
    }

    /// Makes the kernel hold exactly `wanted` (from [`routes`]): withdrawals first, then the
    /// new announcements. Failures are logged; a route that could not be added is tried again
    /// at the next call.
    pub fn sync(&mut self, wanted: Vec<Route>) {
        if self.netlink.is_none() && !wanted.is_empty() {
            match Netlink::new() {
                Ok(n) => self.netlink = Some(n.with_ledger(self.ledger.clone())),
                Err(e) => error!("announce_route: cannot open rtnetlink: {e}"),
            }
        }
        let Some(nl) = &self.netlink else {
            return;
        };
        let mut kept = Vec::new();
        for r in std::mem::take(&mut self.installed) {
            if wanted.contains(&r) {
                kept.push(r);
            } else {
                match nl.del_route(&r) {
                    Ok(()) => info!("withdrew route {}/{} table {}", r.dst, r.dst_len, r.table),
                    Err(e) => {
                        error!("cannot withdraw route {}/{}: {e}", r.dst, r.dst_len);
                        kept.push(r);
                    }
                }
            }
        }
        for r in wanted {
            if kept.contains(&r) {
                continue;
            }
            match nl.add_route(&r) {
                Ok(()) => {
                    info!("announced route {}/{} table {}", r.dst, r.dst_len, r.table);
                    kept.push(r);
                }
                Err(e) => error!("cannot announce route {}/{}: {e}", r.dst, r.dst_len),
            }
        }
        self.installed = kept;
    }

    /// True when the kernel holds exactly `wanted` already (as far as we know): nothing to do.
    pub fn holds(&self, wanted: &[Route]) -> bool {
        self.installed.len() == wanted.len() && wanted.iter().all(|r| self.installed.contains(r))
    }

    /// Withdraws every announced route (at stop, before the IPVS services go).
    pub fn withdraw_all(&mut self) {
        self.sync(Vec::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::build::rs_start;
    use crate::config::{LoadOptions, load_str};

    fn load(text: &str) -> Config {
        let l = load_str(
            std::path::Path::new("t.conf"),
            text,
            &LoadOptions::default(),
        );
        l.config
    }

    fn health(c: &Config) -> Vec<VsHealth> {
        c.ipvs
            .virtual_servers
            .iter()
            .map(|vs| VsHealth::new(vs, &rs_start(vs)))
            .collect()
    }

    const CONF: &str = "\
virtual_server_group G {
  10.1.0.1-3 80
  fwmark 7
  2001:db8::5 80
}
virtual_server 10.0.9.1 80 {
  announce_route table 100 proto 200 metric 5
  real_server 10.0.1.1 80 {
    weight 2
  }
  real_server 10.0.1.2 80
}
virtual_server group G {
  announce_route table 101
  real_server 10.0.1.1 80
}
virtual_server 10.0.9.2 80 {
  real_server 10.0.1.1 80
}
";

    #[test]
    fn quorum_up_virtual_servers_become_blackhole_host_routes() {
        let c = load(CONF);
        let mut h = health(&c);
        let got: Vec<(String, u32, Option<u8>, Option<u32>)> = routes(&c, &h)
            .iter()
            .map(|r| {
                assert_eq!(r.kind, RouteType::Blackhole);
                (
                    format!("{}/{}", r.dst, r.dst_len),
                    r.table,
                    r.protocol,
                    r.metric,
                )
            })
            .collect();
        let w = |d: &str, t, p, m| (d.to_string(), t, Some(p), m);
        assert_eq!(
            got,
            [
                w("10.0.9.1/32", 100, 200, Some(5)),
                w("10.1.0.1/32", 101, 18, None),
                w("10.1.0.2/32", 101, 18, None),
                w("10.1.0.3/32", 101, 18, None),
                w("2001:db8::5/128", 101, 18, None),
            ]
        );
        // The first virtual server loses its quorum (both real servers down): its route goes,
        // the group's stays; back up with one server, it returns.
        let vs = &c.ipvs.virtual_servers[0];
        h[0].update(vs, 0, false, None);
        assert_eq!(routes(&c, &h).len(), 5);
        h[0].update(vs, 1, false, None);
        assert!(!h[0].quorum_up);
        let now = routes(&c, &h);
        assert_eq!(now.len(), 4);
        assert!(now.iter().all(|r| r.table == 101));
        h[0].update(vs, 1, true, None);
        assert_eq!(routes(&c, &h).len(), 5);
    }

    #[test]
    fn nothing_without_announce_route() {
        let c = load("virtual_server 10.0.9.2 80 {\n  real_server 10.0.1.1 80\n}\n");
        assert!(routes(&c, &health(&c)).is_empty());
        // Nothing to announce: no rtnetlink socket is opened.
        let mut a = Announcer::new(None);
        a.sync(Vec::new());
        assert!(a.netlink.is_none() && a.installed.is_empty());
    }
}
