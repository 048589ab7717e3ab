//! Real-server health and quorum per virtual server, and the IPVS destinations that follow
//! from them — keepalived's `perform_svr_state` / `update_quorum_state` (check/ipwrapper.c)
//! as pure functions:
//!
//! * a real server that fails is removed, or kept with weight 0 with `inhibit_on_failure`;
//! * quorum: the sum of the weights of live real servers must reach `quorum`; with
//!   `hysteresis` H it is gained at `quorum + H` and lost below `quorum - H` (or at 0);
//! * when quorum is lost and there is a `sorry_server`, the live real servers leave the pool
//!   and the sorry server enters it; when quorum comes back it is the other way round;
//! * `sorry_server_inhibit` keeps the idle sorry server with weight 0.
//!
//! Also builds the checker runner from the config ([`runner_for`]), resolving each checker's
//! timing from the checker, real_server and virtual_server levels and keepalived's defaults.

use crate::check::runner::Runner;
use crate::check::{self, Checker, Target, Timing};
use crate::config::model::{
    CheckTiming, CheckerCfg, CheckerKind, Config, RealServer, VirtualServer, VsTarget, VsgEntry,
};
use crate::ipvs::model::{Dest, DestKey};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

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
    /// The starting state: a real server is alive unless one of its checkers has `alpha`
    /// (resolved through the levels); then the quorum is computed (keepalived starts with
    /// quorum down — sorry server in — when the live weight is below it).
    pub fn new(vs: &VirtualServer) -> VsHealth {
        let alive: Vec<bool> = vs
            .real_servers
            .iter()
            .map(|rs| !rs.health.checkers.iter().any(|c| resolve(vs, rs, c).alpha))
            .collect();
        let weight = vs.real_servers.iter().map(|rs| rs.weight).collect();
        let mut h = VsHealth {
            alive,
            weight,
            quorum_up: true,
        };
        h.apply_file_checks(vs);
        h.quorum_up = h.live_weight() >= u64::from(vs.health.quorum);
        h
    }

    /// The state after a reload: as [`VsHealth::new`], except that each real server with a
    /// `carried` liveness (it was in the running config, see [`carried_alive`]) keeps it, so a
    /// reload neither re-adds a failed server nor drops a live one; then the quorum.
    pub fn with_carried(vs: &VirtualServer, carried: &[Option<bool>]) -> VsHealth {
        let mut h = VsHealth::new(vs);
        for (alive, was) in h.alive.iter_mut().zip(carried) {
            if let Some(was) = was {
                *alive = *was;
            }
        }
        h.quorum_up = h.live_weight() >= u64::from(vs.health.quorum);
        h
    }

    /// keepalived reads the `FILE_CHECK` files before it programs IPVS (check_daemon.c
    /// `set_track_file_weights`, `set_track_file_checkers_down`): a real server starts down
    /// when a file says so, and with its file weights added. Applies `init_file` first.
    fn apply_file_checks(&mut self, vs: &VirtualServer) {
        for (i, rs) in vs.real_servers.iter().enumerate() {
            let files: Vec<check::file::FileCheck> = rs
                .health
                .checkers
                .iter()
                .filter_map(|c| match checker_of_file(c) {
                    Some(Checker::File(f)) => Some(f),
                    _ => None,
                })
                .collect();
            if files.is_empty() {
                continue;
            }
            let status: Vec<_> = files.iter().map(|f| f.status(f.init_and_read())).collect();
            if status.iter().any(|s| !s.is_up()) {
                self.alive[i] = false;
            }
            self.weight[i] =
                check::file::effective_weight(rs.weight, status.iter().map(|s| s.delta()));
        }
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
                tun: crate::ipvs::controller::tunnel(rs.lvs_method.unwrap_or(vs.lb_kind)),
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
            let fwd = crate::ipvs::controller::fwd_method(vs.lb_kind);
            out.insert(
                key,
                Dest {
                    key,
                    fwd,
                    weight,
                    u_thresh: 0,
                    l_thresh: 0,
                    tun: crate::ipvs::controller::tunnel(vs.lb_kind),
                },
            );
        }
    }
    out
}

/// keepalived's per-checker defaults (check_api.c, check_http.c, check_dns.c, check_misc.c)
/// under the levels: checker, then real_server, then virtual_server.
pub fn resolve(vs: &VirtualServer, rs: &RealServer, c: &CheckerCfg) -> Timing {
    let vs_level = CheckTiming {
        delay_loop: Some(vs.delay_loop),
        ..vs.health.timing.clone()
    };
    let t = c.timing.or(&rs.health.timing).or(&vs_level);
    let delay_loop = t.delay_loop.unwrap_or(Duration::from_secs(60));
    let (retry, before_retry) = match &c.kind {
        CheckerKind::Http { .. } => (1, Duration::from_secs(3)),
        CheckerKind::Dns { .. } => (3, delay_loop),
        CheckerKind::Misc { .. } => (0, Duration::from_secs(1)),
        _ => (1, Duration::from_secs(1)),
    };
    Timing {
        delay_loop,
        connect_timeout: t.connect_timeout.unwrap_or(Duration::from_secs(5)),
        retry: t.retry.unwrap_or(retry),
        delay_before_retry: t.delay_before_retry.unwrap_or(before_retry),
        warmup: t.warmup.unwrap_or(Duration::ZERO),
        // keepalived clears alpha on a FILE_CHECK: its state is known at once.
        alpha: t.alpha.unwrap_or(false) && !matches!(c.kind, CheckerKind::File { .. }),
    }
}

/// The runnable checker for `c` of real server `rs` in `vs` (`vs_port` for a real server
/// without a port), or why it cannot run.
pub fn checker(
    config: &Config,
    vs: &VirtualServer,
    rs: &RealServer,
    c: &CheckerCfg,
    vs_port: u16,
) -> Result<Checker, String> {
    let port = c
        .connect_port
        .unwrap_or(if rs.port == 0 { vs_port } else { rs.port });
    let target = Target {
        addr: SocketAddr::new(c.connect_ip.unwrap_or(rs.addr), port),
        bindto: c.bindto,
        bind_port: c.bind_port,
        bind_if: c.bind_if.clone(),
        fwmark: c.fwmark,
    };
    let timing = resolve(vs, rs, c);
    Ok(match &c.kind {
        CheckerKind::Tcp => Checker::Tcp(check::tcp::TcpCheck { target }),
        CheckerKind::Http {
            ssl,
            urls,
            http_protocol,
            virtualhost,
            enable_sni,
        } => {
            let tls = if *ssl {
                let ssl_cfg = config.ipvs.ssl.clone().unwrap_or_default();
                let client = ssl_cfg.certificate.as_deref().zip(ssl_cfg.key.as_deref());
                Some(check::http::Tls {
                    config: check::tls::client_config(client)?,
                    sni: *enable_sni,
                })
            } else {
                None
            };
            Checker::Http(check::http::HttpCheck {
                target,
                urls: urls
                    .iter()
                    .map(|u| check::http::Url {
                        path: u.path.clone(),
                        digest: u.digest.clone(),
                        status_codes: u.status_codes.clone(),
                        virtualhost: u.virtualhost.clone(),
                        // The loader refused invalid patterns, so this compiles.
                        regex: u
                            .regex
                            .as_ref()
                            .and_then(|r| check::http::BodyRegex::new(r).ok()),
                    })
                    .collect(),
                protocol: match http_protocol.as_str() {
                    "1.1" => check::http::HttpProtocol::Http11,
                    "1.0C" => check::http::HttpProtocol::Http10C,
                    _ => check::http::HttpProtocol::Http10,
                },
                virtualhost: virtualhost
                    .clone()
                    .or_else(|| rs.health.virtualhost.clone())
                    .or_else(|| vs.health.virtualhost.clone()),
                tls,
            })
        }
        CheckerKind::Misc {
            argv,
            timeout,
            dynamic,
            user,
        } => Checker::Misc(check::misc::MiscCheck {
            argv: argv.clone(),
            timeout: timeout.unwrap_or(timing.delay_loop),
            dynamic: *dynamic,
            rs_weight: rs.weight,
            run_as: user
                .as_ref()
                .map(crate::script::resolve_user)
                .transpose()
                .map_err(|e| e.to_string())?,
        }),
        CheckerKind::Dns { qtype, name } => Checker::Dns(check::dns::DnsCheck {
            target,
            qtype: *qtype,
            name: name.clone(),
        }),
        CheckerKind::Udp {
            payload,
            require_reply,
            min_reply_length,
            max_reply_length,
        } => Checker::Udp(check::udp::UdpCheck {
            target,
            payload: payload.clone(),
            require_reply: require_reply.clone(),
            min_reply_length: *min_reply_length,
            max_reply_length: *max_reply_length,
        }),
        CheckerKind::Ping => Checker::Ping(check::ping::PingCheck {
            addr: target.addr.ip(),
            bind_if: target.bind_if,
        }),
        CheckerKind::File { .. } => checker_of_file(c).expect("a FILE_CHECK"),
        CheckerKind::Smtp { helo_name } => Checker::Smtp(check::smtp::SmtpCheck {
            target,
            helo_name: helo_name.clone().unwrap_or_else(|| {
                nix::unistd::gethostname()
                    .ok()
                    .and_then(|h| h.into_string().ok())
                    .unwrap_or_else(|| "localhost".into())
            }),
        }),
    })
}

/// The runnable checker of a `FILE_CHECK` block (`None` for other kinds).
fn checker_of_file(c: &CheckerCfg) -> Option<Checker> {
    match &c.kind {
        CheckerKind::File {
            track_file,
            path,
            weight,
            reverse,
            init_file,
        } => Some(Checker::File(check::file::FileCheck {
            name: track_file.clone(),
            path: path.clone(),
            weight: *weight,
            reverse: *reverse,
            init_file: *init_file,
        })),
        _ => None,
    }
}

/// Most addresses taken from one `virtual_server_group` range for `ha_suspend` (keepalived
/// ranges vary only the last byte of an IPv4 address, the last 16 bits of an IPv6 one).
const MAX_RANGE_ADDRS: u32 = 65536;

/// `ha_suspend`: the label and the addresses whose presence lets the checkers of `vs` run
/// (its address, or every address of its group's ranges); `None` without `ha_suspend`.
/// A fwmark service has none (the parser clears its `ha_suspend`, as keepalived does).
pub fn ha_suspend_gate(config: &Config, vs: &VirtualServer) -> Option<(String, Vec<IpAddr>)> {
    if !vs.health.ha_suspend {
        return None;
    }
    match &vs.target {
        VsTarget::Addr { addr, port } => Some((format!("VS [{addr}]:{port}"), vec![*addr])),
        VsTarget::Group(name) => {
            let g = config.ipvs.groups.get(name)?;
            let mut addrs = Vec::new();
            for e in &g.entries {
                if let VsgEntry::Range { first, count, .. } = e {
                    for i in 0..(*count).min(MAX_RANGE_ADDRS) {
                        let a = match first {
                            IpAddr::V4(v4) => IpAddr::from(std::net::Ipv4Addr::from(
                                u32::from(*v4).wrapping_add(i),
                            )),
                            IpAddr::V6(v6) => IpAddr::from(std::net::Ipv6Addr::from(
                                u128::from(*v6).wrapping_add(u128::from(i)),
                            )),
                        };
                        addrs.push(a);
                    }
                }
            }
            (!addrs.is_empty()).then(|| (format!("VS group {name}"), addrs))
        }
        VsTarget::Fwmark { .. } => None,
    }
}

/// Which real server a runner id stands for: `(virtual server index, real server index)`.
pub type RsIndex = Vec<(usize, usize)>;

/// Builds the checker runner for every real server of every virtual server. Runner ids index
/// the returned [`RsIndex`]. Checkers that cannot be built are returned as messages.
pub fn runner_for(config: &Config) -> (Runner, RsIndex, Vec<String>) {
    runner_carrying(config, &[])
}

/// For each virtual server of `new` (config order), the liveness each of its real servers
/// had under `old` / `old_health`: `Some` when the same virtual server (target and protocol)
/// had a real server with the same address and port, else `None`.
pub fn carried_alive(
    old: &Config,
    old_health: &[VsHealth],
    new: &Config,
) -> Vec<Vec<Option<bool>>> {
    let key = |vs: &VirtualServer| format!("{:?}/{:?}", vs.target, vs.protocol);
    let before: std::collections::HashMap<String, usize> = old
        .ipvs
        .virtual_servers
        .iter()
        .enumerate()
        .map(|(i, vs)| (key(vs), i))
        .collect();
    new.ipvs
        .virtual_servers
        .iter()
        .map(|vs| {
            let prior = before
                .get(&key(vs))
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

/// [`runner_for`] after a reload: the checkers of a real server with a carried liveness
/// (see [`carried_alive`]; indexed by virtual server, then real server) start in that state
/// (down: as with `alpha`, a success is needed to bring it up), the others as configured.
pub fn runner_carrying(
    config: &Config,
    carried: &[Vec<Option<bool>>],
) -> (Runner, RsIndex, Vec<String>) {
    let mut runner = Runner::new();
    let mut index = Vec::new();
    let mut problems = Vec::new();
    for (vi, vs) in config.ipvs.virtual_servers.iter().enumerate() {
        let vs_port = match &vs.target {
            crate::config::model::VsTarget::Addr { port, .. } => *port,
            _ => 0,
        };
        let gate = ha_suspend_gate(config, vs).map(|(l, a)| runner.gate(l, a));
        for (ri, rs) in vs.real_servers.iter().enumerate() {
            if rs.health.checkers.is_empty() {
                continue;
            }
            let id = index.len();
            index.push((vi, ri));
            runner.set_weight(id, rs.weight);
            let was = carried.get(vi).and_then(|v| v.get(ri)).copied().flatten();
            for c in &rs.health.checkers {
                let mut timing = resolve(vs, rs, c);
                if let Some(up) = was {
                    timing.alpha = !up;
                }
                match checker(config, vs, rs, c, vs_port) {
                    Ok(ch) => runner.subscribe_gated(id, ch, timing, gate),
                    Err(e) => problems.push(format!("{}: {e}", c.span)),
                }
            }
        }
    }
    (runner, index, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, load_str};
    use std::path::Path;

    fn vs(text: &str) -> VirtualServer {
        load_str(Path::new("t.conf"), text, &LoadOptions::default())
            .config
            .ipvs
            .virtual_servers
            .remove(0)
    }

    const POOL: &str = "virtual_server 10.0.0.1 80 {\n delay_loop 2\n lb_kind NAT\n sorry_server 10.0.9.9 8080\n quorum 3\n hysteresis 1\n\
         real_server 10.0.1.1 80 {\n weight 2\n TCP_CHECK {\n connect_timeout 1\n }\n }\n\
         real_server 10.0.1.2 80 {\n weight 2\n inhibit_on_failure\n HTTP_GET {\n url {\n path /\n }\n }\n }\n}\n";

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
        let mut old_health: Vec<VsHealth> =
            old.ipvs.virtual_servers.iter().map(VsHealth::new).collect();
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
        let h = VsHealth::with_carried(&new.ipvs.virtual_servers[1], &carried[1]);
        assert_eq!(h.alive, vec![true, false, true]);
        let (runner, index, problems) = runner_carrying(&new, &carried);
        assert!(problems.is_empty(), "{problems:?}");
        let up: Vec<bool> = (0..index.len()).map(|id| runner.initially_up(id)).collect();
        assert_eq!(index, vec![(0, 0), (1, 0), (1, 1), (1, 2), (2, 0)]);
        assert_eq!(up, vec![true, true, false, true, true]);
    }

    #[test]
    fn timing_resolves_through_the_levels_with_keepalived_defaults() {
        let v = vs(POOL);
        let tcp = resolve(
            &v,
            &v.real_servers[0],
            &v.real_servers[0].health.checkers[0],
        );
        assert_eq!(
            (
                tcp.delay_loop,
                tcp.connect_timeout,
                tcp.retry,
                tcp.delay_before_retry
            ),
            (
                Duration::from_secs(2),
                Duration::from_secs(1),
                1,
                Duration::from_secs(1)
            )
        );
        let http = resolve(
            &v,
            &v.real_servers[1],
            &v.real_servers[1].health.checkers[0],
        );
        assert_eq!(
            (http.connect_timeout, http.delay_before_retry),
            (Duration::from_secs(5), Duration::from_secs(3))
        );
    }

    #[test]
    fn failures_remove_or_inhibit_and_quorum_brings_the_sorry_server() {
        let v = vs(POOL);
        let mut h = VsHealth::new(&v);
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
    fn ha_suspend_follows_the_vs_address_or_every_address_of_its_group() {
        let loaded = load_str(
            Path::new("t.conf"),
            "virtual_server_group G {\n 10.0.0.10-12 80\n fwmark 7\n 2001:db8::1 80\n}\n\
             virtual_server group G {\n ha_suspend\n real_server 10.0.1.1 80 {\n }\n}\n\
             virtual_server 10.0.0.1 80 {\n ha_suspend\n real_server 10.0.1.1 80 {\n }\n}\n\
             virtual_server 10.0.0.2 80 {\n real_server 10.0.1.1 80 {\n }\n}\n\
             virtual_server fwmark 5 {\n ha_suspend\n real_server 10.0.1.1 80 {\n }\n}\n",
            &LoadOptions::default(),
        );
        let c = &loaded.config;
        let gate = |i: usize| ha_suspend_gate(c, &c.ipvs.virtual_servers[i]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            gate(0),
            Some((
                "VS group G".to_string(),
                vec![
                    ip("10.0.0.10"),
                    ip("10.0.0.11"),
                    ip("10.0.0.12"),
                    ip("2001:db8::1")
                ]
            ))
        );
        assert_eq!(
            gate(1),
            Some(("VS [10.0.0.1]:80".to_string(), vec![ip("10.0.0.1")]))
        );
        assert_eq!(gate(2), None, "no ha_suspend");
        assert_eq!(gate(3), None, "cleared for a fwmark service");
        assert!(
            loaded.diagnostics.0.iter().any(|d| d
                .to_string()
                .ends_with("cannot use ha_suspend with fwmarks - clearing ha_suspend")),
            "{:?}",
            loaded.diagnostics.0
        );
    }

    #[test]
    fn alpha_starts_down_and_sorry_server_inhibit_keeps_it_at_weight_0() {
        let v = vs(
            "virtual_server 10.0.0.1 80 {\n alpha\n sorry_server 10.0.9.9 80\n sorry_server_inhibit\n\
                    real_server 10.0.1.1 80 {\n TCP_CHECK {\n }\n }\n}\n",
        );
        let mut h = VsHealth::new(&v);
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
