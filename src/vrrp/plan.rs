//! The VRRP plan: what one `vrrp_instance` of the configuration resolves to on this host,
//! without doing any IO.
//!
//! ```text
//!  config::model::Config ──┐
//!                          ├──► plan::instance ──► InstancePlan ──► engine (sockets, VMAC,
//!  Facts (links, addresses)┘     (pure)             (kept on the        kernel worker)
//!                                                    instance)
//! ```
//!
//! [`instance`] takes the configuration and the interface facts it needs ([`Facts`]: index,
//! MAC, primary IPv4 address, IPv6 link-local address) and gives the instance's priorities,
//! addresses, peers, trackers' weights, timers and receive expectations. The engine implements
//! [`Facts`] with rtnetlink and opens the sockets the plan asks for; unit tests use a fake.
//! The VRRP reload (issue 13) diffs the plans of the old and the new configuration.

use crate::config::model::{self, Authentication, Config, UnicastPeer, VrrpInstance};
use crate::config::routes::{VirtualRoute, VirtualRule};
use crate::net::firewall::Blocked;
use crate::net::netlink::IfAddr;
use crate::net::route::{Route, Rule};
use crate::units::{Centiseconds, Priority, Version};
use crate::vrrp::fsm::{self, InstanceConfig};
use crate::vrrp::track::TrackWeight;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One interface as the plan needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// Kernel interface index.
    pub ifindex: u32,
    /// Link-layer address (the GARPs' sender MAC).
    pub mac: [u8; 6],
}

/// What the plan reads of the system. Errors are messages naming what failed (an interface
/// that does not exist, a netlink failure).
pub trait Facts {
    /// The interface called `name`.
    fn link(&self, name: &str) -> Result<Link, String>;
    /// The primary IPv4 address of `ifindex` that is not in `exclude` (the instance's VIPs),
    /// `None` when it has none.
    fn primary_ipv4(&self, ifindex: u32, exclude: &[Ipv4Addr]) -> Result<Option<Ipv4Addr>, String>;
    /// The first IPv6 link-local address of `ifindex`, `None` when it has none.
    fn link_local_ipv6(&self, ifindex: u32) -> Result<Option<Ipv6Addr>, String>;
}

/// [`Facts`] read once and kept: what a [`Recorder`] saw, answered again without IO (a
/// reload reads them on the blocking pool and hands them to the VRRP thread, so that planning
/// there never waits on rtnetlink). A question that was not asked while recording is answered
/// with an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    links: BTreeMap<String, Result<Link, String>>,
    ipv4: BTreeMap<(u32, Vec<Ipv4Addr>), Result<Option<Ipv4Addr>, String>>,
    ipv6: BTreeMap<u32, Result<Option<Ipv6Addr>, String>>,
}

const NOT_READ: &str = "not read before the reload";

impl Facts for Recorded {
    fn link(&self, name: &str) -> Result<Link, String> {
        self.links
            .get(name)
            .cloned()
            .unwrap_or_else(|| Err(format!("interface {name}: {NOT_READ}")))
    }

    fn primary_ipv4(&self, ifindex: u32, exclude: &[Ipv4Addr]) -> Result<Option<Ipv4Addr>, String> {
        self.ipv4
            .get(&(ifindex, exclude.to_vec()))
            .cloned()
            .unwrap_or_else(|| Err(format!("IPv4 address of ifindex {ifindex}: {NOT_READ}")))
    }

    fn link_local_ipv6(&self, ifindex: u32) -> Result<Option<Ipv6Addr>, String> {
        self.ipv6
            .get(&ifindex)
            .cloned()
            .unwrap_or_else(|| Err(format!("IPv6 link-local of ifindex {ifindex}: {NOT_READ}")))
    }
}

/// [`Facts`] that asks `inner` and records every answer ([`Recorder::into_recorded`]).
pub struct Recorder<'a> {
    inner: &'a dyn Facts,
    seen: RefCell<Recorded>,
}

impl<'a> Recorder<'a> {
    pub fn new(inner: &'a dyn Facts) -> Recorder<'a> {
        Recorder {
            inner,
            seen: RefCell::default(),
        }
    }

    /// Every answer given so far.
    pub fn into_recorded(self) -> Recorded {
        self.seen.into_inner()
    }
}

impl Facts for Recorder<'_> {
    fn link(&self, name: &str) -> Result<Link, String> {
        let r = self.inner.link(name);
        self.seen
            .borrow_mut()
            .links
            .insert(name.to_string(), r.clone());
        r
    }

    fn primary_ipv4(&self, ifindex: u32, exclude: &[Ipv4Addr]) -> Result<Option<Ipv4Addr>, String> {
        let r = self.inner.primary_ipv4(ifindex, exclude);
        self.seen
            .borrow_mut()
            .ipv4
            .insert((ifindex, exclude.to_vec()), r.clone());
        r
    }

    fn link_local_ipv6(&self, ifindex: u32) -> Result<Option<Ipv6Addr>, String> {
        let r = self.inner.link_local_ipv6(ifindex);
        self.seen.borrow_mut().ipv6.insert(ifindex, r.clone());
        r
    }
}

/// What an instance expects of the adverts it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub version: Version,
    pub advert_int: Centiseconds,
    /// The 8 PASS bytes (zero padded), or `None` for no authentication.
    pub pass: Option<[u8; 8]>,
    /// Multicast instance: the TTL / hop limit must be 255. Unicast adverts may cross routers,
    /// so keepalived skips that check for them (their TTL is checked against each peer's
    /// `min_ttl`/`max_ttl` with `check_unicast_src` instead).
    pub multicast: bool,
}

/// One VIP resolved to the link it lives on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    pub ifindex: u32,
    pub ifname: String,
    /// The link's MAC, sender of the VIP's GARPs / NAs.
    pub mac: [u8; 6],
    pub addr: IfAddr,
    /// From `virtual_ipaddress_excluded`: moved with the instance, not listed in adverts.
    pub excluded: bool,
}

/// Everything one instance resolved to: the state machine's configuration, the advert
/// socket to open, what to install while master, and the receive checks.
#[derive(Debug, Clone, PartialEq)]
pub struct InstancePlan {
    /// The `vrrp_instance` it comes from.
    pub name: String,
    /// The state machine's configuration (priority, advert_int, preempt, GARP policy...).
    pub fsm: InstanceConfig,
    /// `interface`.
    pub ifname: String,
    /// Where adverts leave from: the VMAC unless `vmac_xmit_base`, else `interface`.
    pub xmit_if: String,
    /// The advert source: `unicast_src_ip` / `mcast_src_ip`, else the interface's primary
    /// IPv4 address that is not a VIP, or its IPv6 link-local address (RFC 5798 §5.1.2.1).
    pub src: IpAddr,
    /// No `unicast_peer`: adverts go to the multicast group.
    pub multicast: bool,
    /// Where adverts go: the multicast group or every unicast peer.
    pub dsts: Vec<IpAddr>,
    /// `unicast_peer`s (empty in multicast mode).
    pub peers: Vec<UnicastPeer>,
    /// `unicast_ttl`.
    pub unicast_ttl: u8,
    /// `virtual_ipaddress` then `virtual_ipaddress_excluded`, on their links.
    pub vips: Vec<Vip>,
    /// The VIPs an advert must list (the instance's family, not excluded).
    pub advert_vips: Vec<IpAddr>,
    /// `virtual_routes` / `virtual_rules`, resolved.
    pub routes: Vec<Route>,
    pub rules: Vec<Rule>,
    pub expect: Expect,
    /// `garp_master_repeat` (or `vrrp_garp_master_repeat`).
    pub garp_repeat: u32,
    /// Accept_Mode False on a non-owner: the VIPs to drop traffic for while master.
    pub no_accept: Vec<Blocked>,
    /// `track_script` names with their weights.
    pub tracks: Vec<(String, TrackWeight)>,
    /// `check_unicast_src` or `vrrp_check_unicast_src`.
    pub check_unicast_src: bool,
    /// `skip_check_adv_addr` (or `vrrp_skip_check_adv_addr`).
    pub skip_check_adv_addr: bool,
}

/// The address family of an instance: that of `unicast_src_ip`, else of its first VIP, else of
/// its first peer; IPv4 when it has none (as the config loader decides).
pub fn is_ipv6(inst: &VrrpInstance) -> bool {
    inst.unicast_src_ip
        .iter()
        .copied()
        .chain(inst.virtual_ipaddress.iter().map(|v| v.addr))
        .chain(inst.unicast_peer.iter().map(|p| p.addr))
        .next()
        .is_some_and(|a| a.is_ipv6())
}

/// The IPv4 VIPs of `inst` (never the advert source).
pub fn vip_v4(inst: &VrrpInstance) -> Vec<Ipv4Addr> {
    inst.virtual_ipaddress
        .iter()
        .filter_map(|v| match v.addr {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        })
        .collect()
}

/// The plan of `inst`. `vmac` is the name of its VMAC interface (`use_vmac`, created by the
/// caller first, so that `facts` knows it): VIPs live on it and adverts leave from it unless
/// `vmac_xmit_base`.
///
/// Errors: no `interface`; an interface or address the facts do not have; `auth_type AH`.
pub fn instance(
    config: &Config,
    inst: &VrrpInstance,
    facts: &dyn Facts,
    vmac: Option<&str>,
) -> Result<InstancePlan, String> {
    let ifname = inst.interface.clone().ok_or("no interface")?;
    let link = facts
        .link(&ifname)
        .map_err(|e| format!("interface {ifname}: {e}"))?;
    let vip_dev = vmac.unwrap_or(&ifname).to_string();
    let xmit_if = match vmac {
        Some(v) if !inst.vmac_xmit_base => v.to_string(),
        _ => ifname.clone(),
    };
    let src: IpAddr = match inst.unicast_src_ip {
        Some(a) => a,
        None if is_ipv6(inst) => {
            IpAddr::V6(facts.link_local_ipv6(link.ifindex)?.ok_or_else(|| {
                format!("Cannot find a link-local IPv6 address for interface {ifname}")
            })?)
        }
        None => IpAddr::V4(
            facts
                .primary_ipv4(link.ifindex, &vip_v4(inst))?
                .ok_or_else(|| {
                    format!("Cannot find an IP address to use for interface {ifname}")
                })?,
        ),
    };
    let mut links = HashMap::new();
    links.insert(ifname.clone(), link);
    let mut vips = Vec::new();
    let listed = inst.virtual_ipaddress.iter().map(|v| (v, false));
    let excluded = inst.virtual_ipaddress_excluded.iter().map(|v| (v, true));
    for (v, excluded) in listed.chain(excluded) {
        let dev = v.dev.clone().unwrap_or_else(|| vip_dev.clone());
        let l = match links.get(&dev) {
            Some(l) => *l,
            None => {
                let l = facts
                    .link(&dev)
                    .map_err(|e| format!("VIP {} dev {dev}: {e}", v.addr))?;
                links.insert(dev.clone(), l);
                l
            }
        };
        vips.push(Vip {
            ifindex: l.ifindex,
            ifname: dev,
            mac: l.mac,
            addr: IfAddr {
                addr: v.addr,
                prefix_len: v.prefix_len,
                brd: v.brd,
                scope: v.scope.unwrap_or(0),
                label: v.label.clone(),
                peer: v.peer,
            },
            excluded,
        });
    }
    let mut routes = Vec::new();
    for r in &inst.virtual_routes {
        let oif = match r.dev.as_deref() {
            None => None,
            Some(dev) => Some(match links.get(dev) {
                Some(l) => l.ifindex,
                None => {
                    let l = facts
                        .link(dev)
                        .map_err(|e| format!("route dev {dev}: {e}"))?;
                    links.insert(dev.to_string(), l);
                    l.ifindex
                }
            }),
        };
        routes.push(route(r, oif));
    }
    let rules = inst.virtual_rules.iter().map(rule).collect();
    assemble(config, inst, ifname, xmit_if, src, vips, routes, rules)
}

/// The plan of an instance that waits in FAULT for its interface or source address: no
/// VIPs, routes or rules resolved, the source unspecified unless configured.
pub fn parked(config: &Config, inst: &VrrpInstance) -> Result<InstancePlan, String> {
    let ifname = inst.interface.clone().ok_or("no interface")?;
    let src = inst.unicast_src_ip.unwrap_or(if is_ipv6(inst) {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    });
    let mut plan = assemble(
        config,
        inst,
        ifname.clone(),
        ifname,
        src,
        Vec::new(),
        Vec::new(),
        Vec::new(),
    )?;
    plan.dsts.clear();
    Ok(plan)
}

/// The parts of the plan that need no facts.
#[allow(clippy::too_many_arguments)]
fn assemble(
    config: &Config,
    inst: &VrrpInstance,
    ifname: String,
    xmit_if: String,
    src: IpAddr,
    vips: Vec<Vip>,
    routes: Vec<Route>,
    rules: Vec<Rule>,
) -> Result<InstancePlan, String> {
    let g = &config.global;
    let version = inst.effective_version(g);
    let peers = inst.unicast_peer.clone();
    let multicast = peers.is_empty();
    let dsts = if !multicast {
        peers.iter().map(|p| p.addr).collect()
    } else if is_ipv6(inst) {
        vec![IpAddr::V6(g.vrrp_mcast_group6)]
    } else {
        vec![IpAddr::V4(g.vrrp_mcast_group4)]
    };
    let pass = match &inst.authentication {
        Some(Authentication::Pass(p)) if version == Version::V2 => {
            let mut b = [0u8; 8];
            let n = p.len().min(8);
            b[..n].copy_from_slice(&p[..n]);
            Some(b)
        }
        Some(Authentication::Ah(_)) => {
            return Err("auth_type AH is not supported by rkeepalived yet".into());
        }
        _ => None,
    };
    let tracks = inst
        .track_script
        .iter()
        .filter_map(|t| {
            let s = config.vrrp_scripts.get(&t.name)?;
            let weight = t.weight.unwrap_or(s.weight);
            let reverse = if t.weight.is_some() {
                t.reverse
            } else {
                s.weight_reverse
            };
            Some((t.name.clone(), TrackWeight { weight, reverse }))
        })
        .collect();
    let garp = fsm::GarpPolicy {
        refresh: inst
            .garp_master_refresh
            .unwrap_or(g.vrrp_garp_master_refresh),
        refresh_repeat: inst
            .garp_master_refresh_repeat
            .unwrap_or(g.vrrp_garp_master_refresh_repeat),
        // keepalived: unset global lower-priority settings follow vrrp_garp_master_*.
        lower_prio_repeat: inst
            .garp_lower_prio_repeat
            .or(g.vrrp_garp_lower_prio_repeat)
            .unwrap_or(g.vrrp_garp_master_repeat),
        lower_prio_delay: inst
            .garp_lower_prio_delay
            .or(g.vrrp_garp_lower_prio_delay)
            .unwrap_or(g.vrrp_garp_master_delay),
        lower_prio_no_advert: inst
            .lower_prio_no_advert
            .unwrap_or(g.vrrp_lower_prio_no_advert),
        higher_prio_send_advert: inst
            .higher_prio_send_advert
            .unwrap_or(g.vrrp_higher_prio_send_advert),
    };
    let fsm = InstanceConfig {
        name: inst.name.clone(),
        vrid: inst.virtual_router_id,
        version,
        priority: inst.priority,
        advert_int: inst.advert_int,
        preempt: !inst.nopreempt,
        preempt_delay: inst.preempt_delay,
        start_master: inst.state == model::InitialState::Master,
        garp_master_delay: inst.garp_master_delay.unwrap_or(g.vrrp_garp_master_delay),
        primary_ip: src,
        garp,
    };
    // RFC 5798 §6.1 Accept_Mode: keepalived accepts unless `no_accept` is given (strict
    // mode resolves an unset mode to "owner only"); the address owner always accepts.
    let accept = inst.accept.unwrap_or(true) || inst.priority == Priority::OWNER;
    let no_accept = if accept {
        Vec::new()
    } else {
        vips.iter()
            .map(|v| Blocked {
                addr: v.addr.addr,
                ifname: v.ifname.clone(),
            })
            .collect()
    };
    let advert_vips = vips
        .iter()
        .filter(|v| !v.excluded && v.addr.addr.is_ipv6() == src.is_ipv6())
        .map(|v| v.addr.addr)
        .collect();
    Ok(InstancePlan {
        name: inst.name.clone(),
        fsm,
        ifname,
        xmit_if,
        src,
        multicast,
        dsts,
        peers,
        unicast_ttl: inst.unicast_ttl,
        vips,
        advert_vips,
        routes,
        rules,
        expect: Expect {
            version,
            advert_int: inst.advert_int,
            pass,
            multicast,
        },
        garp_repeat: inst.garp_master_repeat.unwrap_or(g.vrrp_garp_master_repeat),
        no_accept,
        tracks,
        check_unicast_src: inst.check_unicast_src || g.vrrp_check_unicast_src,
        skip_check_adv_addr: inst
            .skip_check_adv_addr
            .unwrap_or(g.vrrp_skip_check_adv_addr),
    })
}

/// A configured route with its `dev` resolved to `oif`.
pub fn route(r: &VirtualRoute, oif: Option<u32>) -> Route {
    Route {
        dst: r.dst,
        dst_len: r.dst_len,
        prefsrc: r.src,
        gateways: r.gateways.clone(),
        oif,
        table: r.table,
        metric: r.metric,
        scope: r.scope,
        kind: r.kind.into(),
        onlink: r.onlink,
        protocol: None,
    }
}

/// A configured rule as the netlink layer takes it.
pub fn rule(r: &VirtualRule) -> Rule {
    Rule {
        family_v6: r.is_v6(),
        from: r.from,
        to: r.to,
        table: r.table,
        priority: r.priority,
        fwmark: r.fwmark,
        iif: r.iif.clone(),
        oif: r.oif.clone(),
        tos: r.tos,
        action: crate::vrrp::kernel::fr_act(r.action),
        goto: r.goto,
        invert: r.invert,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Two links: eth0 (index 2, 10.0.0.1/24 and fe80::1) and eth1 (index 3, no address).
    struct Fake;

    impl Facts for Fake {
        fn link(&self, name: &str) -> Result<Link, String> {
            match name {
                "eth0" => Ok(Link {
                    ifindex: 2,
                    mac: [2, 0, 0, 0, 0, 2],
                }),
                "eth1" => Ok(Link {
                    ifindex: 3,
                    mac: [2, 0, 0, 0, 0, 3],
                }),
                _ => Err("No such device".into()),
            }
        }

        fn primary_ipv4(
            &self,
            ifindex: u32,
            exclude: &[Ipv4Addr],
        ) -> Result<Option<Ipv4Addr>, String> {
            let a = Ipv4Addr::new(10, 0, 0, 1);
            Ok((ifindex == 2 && !exclude.contains(&a)).then_some(a))
        }

        fn link_local_ipv6(&self, ifindex: u32) -> Result<Option<Ipv6Addr>, String> {
            Ok((ifindex == 2).then(|| "fe80::1".parse().unwrap()))
        }
    }

    fn config(text: &str) -> Config {
        let l = crate::config::load_str(Path::new("t.conf"), text, &Default::default());
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
        l.config
    }

    /// The plans of every instance of `text`.
    fn plans(text: &str) -> Vec<Result<InstancePlan, String>> {
        let c = config(text);
        c.vrrp_instances
            .iter()
            .map(|i| instance(&c, i, &Fake, None))
            .collect()
    }

    #[test]
    fn recorded_facts_plan_as_the_live_ones_and_refuse_what_was_not_read() {
        let c = config(
            "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n \
             virtual_ipaddress {\n  10.0.0.100/24\n  10.0.0.101/24 dev eth1\n }\n}\n\
             vrrp_instance VI_6 {\n interface eth0\n virtual_router_id 52\n \
             virtual_ipaddress {\n  fe80::10/64\n }\n}\n",
        );
        let rec = Recorder::new(&Fake);
        let live: Vec<_> = c
            .vrrp_instances
            .iter()
            .map(|i| instance(&c, i, &rec, None))
            .collect();
        let recorded = rec.into_recorded();
        let replayed: Vec<_> = c
            .vrrp_instances
            .iter()
            .map(|i| instance(&c, i, &recorded, None))
            .collect();
        assert!(live.iter().all(Result::is_ok), "{live:?}");
        assert_eq!(live, replayed);
        // A question not asked while recording is an error, not a guess.
        assert!(recorded.link("eth9").unwrap_err().contains("not read"));
        assert!(recorded.primary_ipv4(3, &[]).is_err());
    }

    fn one(body: &str) -> InstancePlan {
        plans(&format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n{body}\n}}\n"
        ))
        .remove(0)
        .unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn source_is_the_primary_address_and_adverts_go_to_the_group() {
        let p = one(" priority 120\n virtual_ipaddress {\n  10.0.0.100/24\n }");
        assert_eq!(p.src, ip("10.0.0.1"));
        assert!(p.multicast && p.expect.multicast);
        assert_eq!(p.dsts, vec![ip("224.0.0.18")]);
        assert_eq!((p.ifname.as_str(), p.xmit_if.as_str()), ("eth0", "eth0"));
        assert_eq!(p.fsm.priority, Priority(120));
        assert_eq!(p.fsm.primary_ip, ip("10.0.0.1"));
    }

    #[test]
    fn the_address_owner_accepts_even_with_no_accept() {
        let vips = " virtual_ipaddress {\n  10.0.0.100/24\n }";
        let owner = one(&format!(" priority 255\n no_accept\n{vips}"));
        assert_eq!(owner.fsm.priority, Priority::OWNER);
        assert!(owner.no_accept.is_empty());
        let other = one(&format!(" priority 200\n no_accept\n{vips}"));
        assert_eq!(
            other.no_accept,
            vec![Blocked {
                addr: ip("10.0.0.100"),
                ifname: "eth0".into()
            }]
        );
        // Accept_Mode is keepalived's default.
        assert!(one(&format!(" priority 200\n{vips}")).no_accept.is_empty());
    }

    #[test]
    fn vips_resolve_their_links_and_excluded_ones_are_not_advertised() {
        let p = one(
            " virtual_ipaddress {\n  10.0.0.100/24\n  10.1.0.100/24 dev eth1\n }\n\
             virtual_ipaddress_excluded {\n  10.0.0.200/24\n  fd00::100/64\n }",
        );
        let got: Vec<(IpAddr, u32, &str, bool)> = p
            .vips
            .iter()
            .map(|v| (v.addr.addr, v.ifindex, v.ifname.as_str(), v.excluded))
            .collect();
        assert_eq!(
            got,
            vec![
                (ip("10.0.0.100"), 2, "eth0", false),
                (ip("10.1.0.100"), 3, "eth1", false),
                (ip("10.0.0.200"), 2, "eth0", true),
                (ip("fd00::100"), 2, "eth0", true),
            ]
        );
        assert_eq!(p.vips[1].mac, [2, 0, 0, 0, 0, 3]);
        // The advert lists the instance family's VIPs that are not excluded.
        assert_eq!(p.advert_vips, vec![ip("10.0.0.100"), ip("10.1.0.100")]);
        // A VIP on a link that does not exist: no plan, and the message says which.
        let err = plans(
            "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n\
             virtual_ipaddress {\n  10.0.0.100/24 dev eth9\n }\n}\n",
        )
        .remove(0)
        .unwrap_err();
        assert!(err.contains("VIP 10.0.0.100 dev eth9"), "{err}");
    }

    #[test]
    fn unicast_peers_are_the_destinations_with_their_ttl_checks() {
        let p = one(
            " unicast_src_ip 10.0.0.1\n unicast_ttl 10\n check_unicast_src\n\
             unicast_peer {\n  10.0.0.2\n  10.0.0.3\n }\n virtual_ipaddress {\n  10.0.0.100/24\n }",
        );
        assert!(!p.multicast && !p.expect.multicast);
        assert_eq!(p.dsts, vec![ip("10.0.0.2"), ip("10.0.0.3")]);
        assert_eq!(p.peers.len(), 2);
        assert_eq!(p.unicast_ttl, 10);
        assert!(p.check_unicast_src);
        assert_eq!(p.src, ip("10.0.0.1"));
    }

    #[test]
    fn advert_interval_and_authentication_follow_the_version() {
        let v2 = one(
            " advert_int 2\n authentication {\n  auth_type PASS\n  auth_pass secret\n }\n\
             virtual_ipaddress {\n  10.0.0.100/24\n }",
        );
        assert_eq!(v2.expect.version, Version::V2);
        assert_eq!(v2.expect.advert_int, Centiseconds(200));
        assert_eq!(v2.fsm.advert_int, Centiseconds(200));
        assert_eq!(v2.expect.pass, Some(*b"secret\0\0"));
        let v3 = one(
            " version 3\n advert_int 0.5\n authentication {\n  auth_type PASS\n  auth_pass secret\n }\n\
             virtual_ipaddress {\n  fd00::100/64\n }",
        );
        assert_eq!(v3.expect.version, Version::V3);
        assert_eq!(v3.expect.advert_int, Centiseconds(50));
        // VRRPv3 has no authentication (RFC 5798 §9).
        assert_eq!(v3.expect.pass, None);
        // IPv6: the link-local source and the IPv6 group.
        assert_eq!(v3.src, ip("fe80::1"));
        assert_eq!(v3.dsts, vec![ip("ff02::12")]);
    }

    #[test]
    fn track_script_weights_come_from_the_instance_or_the_script() {
        let c = "vrrp_script up {\n script \"/bin/true\"\n weight -20\n}\n\
                 vrrp_script down {\n script \"/bin/true\"\n weight 10\n}\n\
                 vrrp_script rev {\n script \"/bin/true\"\n weight 10 reverse\n}\n\
                 vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n\
                 track_script {\n  up\n  down weight 5 reverse\n  rev\n  missing\n }\n\
                 virtual_ipaddress {\n  10.0.0.100/24\n }\n}\n";
        let c = config(c);
        let p = instance(&c, &c.vrrp_instances[0], &Fake, None).unwrap();
        assert_eq!(
            p.tracks,
            vec![
                (
                    "up".to_string(),
                    TrackWeight {
                        weight: -20,
                        reverse: false
                    }
                ),
                (
                    "down".to_string(),
                    TrackWeight {
                        weight: 5,
                        reverse: true
                    }
                ),
                (
                    "rev".to_string(),
                    TrackWeight {
                        weight: 10,
                        reverse: true
                    }
                ),
            ]
        );
    }

    #[test]
    fn garp_settings_fall_back_to_the_globals_and_a_vmac_carries_the_vips() {
        let c = config(
            "global_defs {\n vrrp_garp_master_repeat 3\n vrrp_garp_master_delay 2\n}\n\
             vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n garp_master_repeat 7\n\
             virtual_ipaddress {\n  10.0.0.100/24\n }\n}\n\
             vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 52\n\
             virtual_ipaddress {\n  10.0.0.101/24\n }\n}\n",
        );
        let p1 = instance(&c, &c.vrrp_instances[0], &Fake, None).unwrap();
        let p2 = instance(&c, &c.vrrp_instances[1], &Fake, Some("eth1")).unwrap();
        assert_eq!((p1.garp_repeat, p2.garp_repeat), (7, 3));
        assert_eq!(p2.fsm.garp_master_delay, std::time::Duration::from_secs(2));
        // With a VMAC (here eth1 stands for it) the VIPs live on it and adverts leave from it.
        assert_eq!(
            (p2.vips[0].ifname.as_str(), p2.xmit_if.as_str()),
            ("eth1", "eth1")
        );
        // A parked instance has nothing resolved.
        let parked = parked(&c, &c.vrrp_instances[0]).unwrap();
        assert!(parked.vips.is_empty() && parked.dsts.is_empty());
        assert_eq!(parked.src, ip("0.0.0.0"));
    }
}
