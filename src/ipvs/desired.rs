//! The desired IPVS table: what the config's `virtual_server`s (groups expanded) and the
//! health of their real servers ask the kernel to hold, in ip_vs.h units. Pure.

use crate::check::event::Endpoint;
use crate::config::model::{
    Config, LbKind, RealServer, SvcFlags, TunnelCsum, TunnelType, VirtualServer, VsProtocol,
    VsTarget, VsgEntry,
};
use crate::ipvs::consts::*;
use crate::ipvs::health::{VsHealth, inhibit};
use crate::ipvs::model::*;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The forwarding method of `lb_kind`.
pub fn fwd_method(kind: LbKind) -> u32 {
    match kind {
        LbKind::Nat => IP_VS_CONN_F_MASQ,
        LbKind::Dr => IP_VS_CONN_F_DROUTE,
        LbKind::Tun(_) => IP_VS_CONN_F_TUNNEL,
    }
}

/// The `IP_VS_SVC_F_*` bits of a virtual server's flags (persistence is added by the caller).
pub fn svc_flags(f: SvcFlags) -> u32 {
    [
        (f.one_packet, IP_VS_SVC_F_ONEPACKET),
        (f.sched1, IP_VS_SVC_F_SCHED1),
        (f.sched2, IP_VS_SVC_F_SCHED2),
        (f.sched3, IP_VS_SVC_F_SCHED3),
    ]
    .into_iter()
    .filter_map(|(set, bit)| set.then_some(bit))
    .fold(0, |bits, bit| bits | bit)
}

/// The tunnel attributes of `lvs_method TUN …` (all zero for the other methods).
pub fn tunnel(kind: LbKind) -> Tunnel {
    let LbKind::Tun(t) = kind else {
        return Tunnel::default();
    };
    Tunnel {
        kind: match t.kind {
            TunnelType::Ipip => IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
            TunnelType::Gue => IP_VS_CONN_F_TUNNEL_TYPE_GUE,
            TunnelType::Gre => IP_VS_CONN_F_TUNNEL_TYPE_GRE,
        },
        port: t.port,
        flags: match t.csum {
            TunnelCsum::NoCsum => IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM,
            TunnelCsum::Csum => IP_VS_TUNNEL_ENCAP_FLAG_CSUM,
            TunnelCsum::RemCsum => IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM,
        },
    }
}

/// The IPPROTO number of `protocol TCP|UDP|SCTP`.
pub fn protocol(p: VsProtocol) -> u16 {
    match p {
        VsProtocol::Tcp => IPPROTO_TCP,
        VsProtocol::Udp => IPPROTO_UDP,
        VsProtocol::Sctp => IPPROTO_SCTP,
    }
}

/// The IPVS netmask for `persistence_granularity` (a prefix length) in family `af`: IPv4 the
/// mask's network-order bytes read as a native u32 (`be32` in the kernel), IPv6 the prefix.
pub fn netmask(af: u16, prefix: Option<u32>) -> u32 {
    match prefix {
        None => Service::default_netmask(af),
        Some(p) if af == AF_INET6 => p,
        Some(p) => {
            let mask = u32::MAX.checked_shl(32 - p.min(32)).unwrap_or(0);
            u32::from_ne_bytes(mask.to_be_bytes())
        }
    }
}

/// The service keys a virtual server stands for (several for a `group`).
fn service_keys(vs: &VirtualServer, config: &Config) -> Vec<ServiceKey> {
    let proto = protocol(vs.protocol);
    match &vs.target {
        VsTarget::Addr { addr, port } => vec![ServiceKey::Addr {
            protocol: proto,
            addr: *addr,
            port: *port,
        }],
        VsTarget::Fwmark { mark, ipv6 } => vec![ServiceKey::Fwmark {
            af: if *ipv6 { AF_INET6 } else { AF_INET },
            mark: *mark,
        }],
        VsTarget::Group(name) => {
            let Some(group) = config.ipvs.groups.get(name) else {
                return Vec::new();
            };
            let default_v6 = vs
                .ip_family_v6
                .or_else(|| vs.real_servers.first().map(|r| r.addr.is_ipv6()))
                .unwrap_or(false);
            group
                .entries
                .iter()
                .flat_map(|e| match e {
                    VsgEntry::Range { first, count, port } => (0..*count)
                        .filter_map(|i| nth_addr(*first, i))
                        .map(|addr| ServiceKey::Addr {
                            protocol: proto,
                            addr,
                            port: *port,
                        })
                        .collect::<Vec<_>>(),
                    VsgEntry::Fwmark { mark, ipv6 } => vec![ServiceKey::Fwmark {
                        af: if ipv6.unwrap_or(default_v6) {
                            AF_INET6
                        } else {
                            AF_INET
                        },
                        mark: *mark,
                    }],
                })
                .collect()
        }
    }
}

fn nth_addr(first: IpAddr, i: u32) -> Option<IpAddr> {
    match first {
        IpAddr::V4(a) => u32::from(a)
            .checked_add(i)
            .map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        IpAddr::V6(a) => u128::from(a)
            .checked_add(u128::from(i))
            .map(|v| IpAddr::V6(Ipv6Addr::from(v))),
    }
}

/// The table the config asks for at start: every `virtual_server` (groups expanded) with
/// the destinations its starting health gives ([`crate::ipvs::health::VsHealth::new`]: real servers up
/// unless `alpha`; the sorry server in when the quorum is not met, e.g. with no real server).
/// Later duplicates replace earlier ones.
pub fn desired_table(config: &Config) -> Table {
    desired_table_with(config, &starting_health(config))
}

/// The starting health of every virtual server's real servers, in config order (reads the
/// `FILE_CHECK` files, see [`crate::check::build::rs_start`]).
pub fn starting_health(config: &Config) -> Vec<VsHealth> {
    config
        .ipvs
        .virtual_servers
        .iter()
        .map(|vs| VsHealth::new(vs, &crate::check::build::rs_start(vs)))
        .collect()
}

/// The table for the given health of each virtual server (same order as the config's).
pub fn desired_table_with(config: &Config, health: &[VsHealth]) -> Table {
    let mut table = Table::new();
    for (vs, h) in config.ipvs.virtual_servers.iter().zip(health) {
        table.extend(vs_entries(config, vs, h));
    }
    table
}

/// The services (and their destinations) one virtual server stands for.
pub fn vs_entries(config: &Config, vs: &VirtualServer, health: &VsHealth) -> Table {
    let mut table = Table::new();
    for key in service_keys(vs, config) {
        let af = key.af();
        let persistent = vs.persistence_timeout.is_some();
        let service = Service {
            key,
            sched: vs.lb_algo.clone(),
            flags: svc_flags(vs.flags)
                | if persistent {
                    IP_VS_SVC_F_PERSISTENT
                } else {
                    0
                },
            timeout: vs.persistence_timeout.unwrap_or(0),
            netmask: netmask(af, vs.persistence_granularity),
            pe_name: vs.persistence_engine.clone(),
        };
        let vs_port = match key {
            ServiceKey::Addr { port, .. } => port,
            ServiceKey::Fwmark { .. } => 0,
        };
        let dests = dests(vs, health, vs_port, |rs| {
            fwd_method(rs.lvs_method.unwrap_or(vs.lb_kind))
        });
        table.insert(key, ServiceEntry { service, dests });
    }
    table
}

/// keepalived's way of writing a service in its log: `[10.0.0.100]:tcp:80`, `FWM 5`.
pub fn fmt_service(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => Endpoint {
            addr: *addr,
            protocol: match *protocol {
                IPPROTO_UDP => VsProtocol::Udp,
                IPPROTO_SCTP => VsProtocol::Sctp,
                _ => VsProtocol::Tcp,
            },
            port: *port,
        }
        .to_string(),
        ServiceKey::Fwmark { mark, .. } => format!("FWM {mark}"),
    }
}

/// The destinations of one service of `vs` for `health` (`vs_port` fills in real servers
/// and a sorry server written without a port).
pub fn dests(
    vs: &VirtualServer,
    health: &VsHealth,
    vs_port: u16,
    fwd: impl Fn(&RealServer) -> u32,
) -> BTreeMap<DestKey, Dest> {
    let mut out = BTreeMap::new();
    let sorry_in_use = vs.sorry_server.is_some() && !health.quorum_up;
    for (i, rs) in vs.real_servers.iter().enumerate() {
        let alive = health.alive[i];
        let weight = if alive && !sorry_in_use {
            health.weight[i]
        } else if inhibit(vs, rs) {
            0
        } else {
            continue;
        };
        let key = DestKey {
            addr: rs.addr,
            port: if rs.port == 0 { vs_port } else { rs.port },
        };
        out.insert(
            key,
            Dest {
                key,
                fwd: fwd(rs),
                weight,
                u_thresh: rs.uthreshold,
                l_thresh: rs.lthreshold,
                tun: tunnel(rs.lvs_method.unwrap_or(vs.lb_kind)),
            },
        );
    }
    if let Some((addr, port)) = vs.sorry_server {
        let weight = if sorry_in_use {
            Some(1)
        } else if vs.health.sorry_server_inhibit {
            Some(0)
        } else {
            None
        };
        if let Some(weight) = weight {
            let key = DestKey {
                addr,
                port: if port == 0 { vs_port } else { port },
            };
            let fwd = fwd_method(vs.lb_kind);
            out.insert(
                key,
                Dest {
                    key,
                    fwd,
                    weight,
                    u_thresh: 0,
                    l_thresh: 0,
                    tun: tunnel(vs.lb_kind),
                },
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::build::rs_start;
    use crate::config::{LoadOptions, load_str};
    use crate::ipvs::health::Change;
    use std::path::Path;

    fn table(text: &str) -> Table {
        let l = load_str(Path::new("t.conf"), text, &LoadOptions::default());
        desired_table(&l.config)
    }

    #[test]
    fn service_and_dest_fields_follow_keepalived() {
        let t = table(
            "virtual_server 10.0.0.1 80 {\n lb_algo rr\n lb_kind DR\n persistence_timeout 50\n\
             persistence_granularity 255.255.255.0\n real_server 10.0.1.1 80 {\n weight 2\n }\n\
             real_server 10.0.1.2 8080 {\n lvs_method TUN\n uthreshold 9\n }\n}\n",
        );
        let e = t.values().next().unwrap();
        let s = &e.service;
        assert_eq!(s.sched, "rr");
        assert_eq!(s.flags, IP_VS_SVC_F_PERSISTENT);
        assert_eq!(s.timeout, 50);
        // 255.255.255.0 in network order, read natively (the kernel's __be32).
        assert_eq!(s.netmask.to_ne_bytes(), [255, 255, 255, 0]);
        let d: Vec<_> = e.dests.values().collect();
        assert_eq!((d[0].fwd, d[0].weight), (IP_VS_CONN_F_DROUTE, 2));
        assert_eq!(
            (d[1].fwd, d[1].u_thresh, d[1].key.port),
            // keepalived resets a TUN real server's port to the service's (only NAT maps).
            (IP_VS_CONN_F_TUNNEL, 9, 80)
        );
    }

    /// `ops`, `sh-port` and `flag-3` as the kernel's `IP_VS_SVC_F_*` bits.
    #[test]
    fn service_flags_are_kernel_bits() {
        let t = table(
            "virtual_server 10.0.0.1 53 {\n protocol UDP\n lb_algo sh\n ops\n sh-port\n flag-3\n\
             real_server 10.0.1.1 53 {\n }\n}\n",
        );
        let s = &t.values().next().unwrap().service;
        assert_eq!(
            s.flags,
            IP_VS_SVC_F_ONEPACKET | IP_VS_SVC_F_SCHED2 | IP_VS_SVC_F_SCHED3
        );
    }

    #[test]
    fn tunnel_options_reach_the_dest() {
        let t = table(
            "virtual_server 10.0.0.1 80 {\n lb_kind TUN type gue port 6080 remcsum\n\
             real_server 10.0.1.1 80\n real_server 10.0.1.2 80 {\n lvs_method TUN type gre csum\n }\n\
             real_server 10.0.1.3 80 {\n lvs_method NAT\n }\n}\n",
        );
        let d: Vec<_> = t.values().next().unwrap().dests.values().collect();
        let tun = |kind, port, flags| Tunnel { kind, port, flags };
        assert_eq!(
            d[0].tun,
            tun(
                IP_VS_CONN_F_TUNNEL_TYPE_GUE,
                6080,
                IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM
            )
        );
        assert_eq!(
            d[1].tun,
            tun(
                IP_VS_CONN_F_TUNNEL_TYPE_GRE,
                0,
                IP_VS_TUNNEL_ENCAP_FLAG_CSUM
            )
        );
        assert_eq!((d[2].fwd, d[2].tun), (IP_VS_CONN_F_MASQ, Tunnel::default()));
    }

    #[test]
    fn groups_expand_and_sorry_server_only_while_reals_are_down() {
        // (A virtual server without any real server is dropped at load, as keepalived does;
        // `alpha` starts this one's only real server down.)
        let t = table(
            "virtual_server_group G {\n 10.0.0.3-5 80\n fwmark 2\n}\n\
             virtual_server group G {\n protocol UDP\n real_server 10.0.1.1 80\n}\n\
             virtual_server 2001:db8::1 443 {\n protocol TCP\n alpha\n sorry_server 2001:db8::9\n\
             real_server 2001:db8::2 443 {\n TCP_CHECK {\n }\n }\n}\n\
             virtual_server 10.0.0.9 443 {\n protocol TCP\n sorry_server 10.0.9.9 80\n real_server 10.0.1.1 443\n}\n",
        );
        let keys: Vec<String> = t.keys().map(|k| k.to_string()).collect();
        assert_eq!(
            keys,
            [
                "TCP 10.0.0.9:443",
                "TCP [2001:db8::1]:443",
                "UDP 10.0.0.3:80",
                "UDP 10.0.0.4:80",
                "UDP 10.0.0.5:80",
                "FWM 2"
            ]
        );
        let v6 = &t[&ServiceKey::Addr {
            protocol: IPPROTO_TCP,
            addr: "2001:db8::1".parse().unwrap(),
            port: 443,
        }];
        assert_eq!(v6.service.netmask, 128);
        let sorry: Vec<_> = v6.dests.keys().collect();
        assert_eq!(
            sorry,
            [&DestKey {
                addr: "2001:db8::9".parse().unwrap(),
                port: 443
            }]
        );
        let with_reals = &t[&ServiceKey::Addr {
            protocol: IPPROTO_TCP,
            addr: "10.0.0.9".parse().unwrap(),
            port: 443,
        }];
        assert_eq!(
            with_reals.dests.len(),
            1,
            "sorry server stays out while reals are up"
        );
    }

    fn vs(text: &str) -> VirtualServer {
        load_str(Path::new("t.conf"), text, &LoadOptions::default())
            .config
            .ipvs
            .virtual_servers
            .remove(0)
    }

    fn health(vs: &VirtualServer) -> VsHealth {
        VsHealth::new(vs, &rs_start(vs))
    }

    const POOL: &str = "virtual_server 10.0.0.1 80 {\n delay_loop 2\n lb_kind NAT\n sorry_server 10.0.9.9 8080\n quorum 3\n hysteresis 1\n\
         real_server 10.0.1.1 80 {\n weight 2\n TCP_CHECK {\n connect_timeout 1\n }\n }\n\
         real_server 10.0.1.2 80 {\n weight 2\n inhibit_on_failure\n HTTP_GET {\n url {\n path /\n }\n }\n }\n}\n";

    #[test]
    fn failures_remove_or_inhibit_and_quorum_brings_the_sorry_server() {
        let v = vs(POOL);
        let mut h = health(&v);
        assert!(h.quorum_up, "live weight 4 >= quorum 3");
        let fwd = |_: &RealServer| 0;
        let keys = |h: &VsHealth| {
            dests(&v, h, 80, fwd)
                .values()
                .map(|d| (d.key.addr.to_string(), d.weight))
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&h), [("10.0.1.1".into(), 2), ("10.0.1.2".into(), 2)]);

        // rs 1 (inhibit_on_failure) fails: weight 0; live weight 2 is not < 3 - 1: quorum holds.
        assert_eq!(
            h.update(&v, 1, false, None),
            Change {
                rs_changed: true,
                quorum: None
            }
        );
        assert_eq!(keys(&h), [("10.0.1.1".into(), 2), ("10.0.1.2".into(), 0)]);

        // rs 0 fails too: live weight 0 -> quorum lost, the sorry server comes in.
        assert_eq!(
            h.update(&v, 0, false, None),
            Change {
                rs_changed: true,
                quorum: Some(false)
            }
        );
        assert_eq!(keys(&h), [("10.0.1.2".into(), 0), ("10.0.9.9".into(), 1)]);

        // rs 0 comes back: live weight 2 < 3 + 1: still no quorum, the pool is unchanged.
        assert_eq!(h.update(&v, 0, true, None).quorum, None);
        assert_eq!(keys(&h), [("10.0.1.2".into(), 0), ("10.0.9.9".into(), 1)]);

        // rs 1 back too: 4 >= 4 -> quorum gained, reals back, sorry server out.
        assert_eq!(h.update(&v, 1, true, None).quorum, Some(true));
        assert_eq!(keys(&h), [("10.0.1.1".into(), 2), ("10.0.1.2".into(), 2)]);

        // misc_dynamic weight change.
        h.update(&v, 0, true, Some(7));
        assert_eq!(keys(&h)[0], ("10.0.1.1".into(), 7));
    }

    #[test]
    fn alpha_starts_down_and_sorry_server_inhibit_keeps_it_at_weight_0() {
        let v = vs(
            "virtual_server 10.0.0.1 80 {\n alpha\n sorry_server 10.0.9.9 80\n sorry_server_inhibit\n\
                    real_server 10.0.1.1 80 {\n TCP_CHECK {\n }\n }\n}\n",
        );
        let mut h = health(&v);
        assert_eq!(h.alive, [false]);
        assert!(!h.quorum_up);
        let weights = |h: &VsHealth| {
            dests(&v, h, 80, |_| 0)
                .values()
                .map(|d| d.weight)
                .collect::<Vec<_>>()
        };
        assert_eq!(weights(&h), [1], "only the sorry server, in use");
        h.update(&v, 0, true, None);
        assert_eq!(
            weights(&h),
            [1, 0],
            "real server in, sorry server idle at weight 0"
        );
    }
}
