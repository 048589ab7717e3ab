//! Config -> checkers: each `virtual_server`'s real servers and their checker blocks become
//! the [`Runner`]'s subscriptions, with each checker's timing resolved from the checker,
//! real_server and virtual_server levels and keepalived's defaults ([`resolve`]), the
//! `ha_suspend` gates, and the state each real server starts in ([`rs_start`]: `alpha`, the
//! `FILE_CHECK` files read as keepalived does before it programs IPVS).

use super::runner::Runner;
use super::{Checker, Target, Timing};
use crate::check;
use crate::config::model::{
    CheckTiming, CheckerCfg, CheckerKind, Config, HttpCfg, RealServer, VirtualServer, VsTarget,
    VsgEntry,
};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How a real server starts, before any check has run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RsStart {
    /// Alive unless one of its checkers has `alpha` or one of its `FILE_CHECK` files says down.
    pub alive: bool,
    /// Its `weight` plus the weight deltas of its `FILE_CHECK`s.
    pub weight: u32,
}

/// The starting state of every real server of `vs`, in config order. keepalived reads the
/// `FILE_CHECK` files before it programs IPVS (check_daemon.c `set_track_file_weights`,
/// `set_track_file_checkers_down`): so does this (applying `init_file` first); the other
/// checkers count through `alpha` only.
pub fn rs_start(vs: &VirtualServer) -> Vec<RsStart> {
    vs.real_servers
        .iter()
        .map(|rs| {
            let mut start = RsStart {
                alive: !rs.health.checkers.iter().any(|c| resolve(vs, rs, c).alpha),
                weight: rs.weight,
            };
            let files: Vec<check::file::FileCheck> = rs
                .health
                .checkers
                .iter()
                .filter_map(|c| match checker_of_file(c) {
                    Some(Checker::File(f)) => Some(*f),
                    _ => None,
                })
                .collect();
            if !files.is_empty() {
                let status: Vec<_> = files.iter().map(|f| f.status(f.init_and_read())).collect();
                if status.iter().any(|s| !s.is_up()) {
                    start.alive = false;
                }
                start.weight =
                    check::file::effective_weight(rs.weight, status.iter().map(|s| s.delta()));
            }
            start
        })
        .collect()
}

/// keepalived's per-checker defaults (check_api.c, check_http.c, check_dns.c, check_misc.c)
/// under the levels: checker, then real_server, then virtual_server.
pub fn resolve(vs: &VirtualServer, rs: &RealServer, c: &CheckerCfg) -> Timing {
    let vs_level = CheckTiming {
        delay_loop: Some(vs.delay_loop.into()),
        ..vs.health.timing.clone()
    };
    let t = c.timing.or(rs.health.timing()).or(&vs_level);
    let or = |v: Option<crate::units::Usecs>, default: Duration| v.map_or(default, Duration::from);
    let delay_loop = or(t.delay_loop, Duration::from_secs(60));
    let (retry, before_retry) = match &c.kind {
        CheckerKind::Http(_) => (1, Duration::from_secs(3)),
        CheckerKind::Dns(_) => (3, delay_loop),
        CheckerKind::Misc(_) => (0, Duration::from_secs(1)),
        _ => (1, Duration::from_secs(1)),
    };
    Timing {
        delay_loop,
        connect_timeout: or(t.connect_timeout, Duration::from_secs(5)),
        retry: t.retry.unwrap_or(retry),
        delay_before_retry: or(t.delay_before_retry, before_retry),
        warmup: or(t.warmup, Duration::ZERO),
        // keepalived clears alpha on a FILE_CHECK: its state is known at once.
        alpha: t.alpha.unwrap_or(false) && !matches!(c.kind, CheckerKind::File(_)),
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
        bind: c.bind.clone(),
    };
    let timing = resolve(vs, rs, c);
    Ok(match &c.kind {
        CheckerKind::Tcp => Checker::Tcp(check::tcp::TcpCheck { target }),
        CheckerKind::Http(h) => {
            let HttpCfg {
                ssl,
                urls,
                http_protocol,
                virtualhost,
                enable_sni,
            } = &**h;
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
            Checker::Http(Box::new(check::http::HttpCheck {
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
                protocol: *http_protocol,
                virtualhost: virtualhost
                    .clone()
                    .or_else(|| rs.health.virtualhost.clone())
                    .or_else(|| vs.health.virtualhost.clone()),
                tls,
            }))
        }
        CheckerKind::Misc(m) => Checker::Misc(Box::new(check::misc::MiscCheck {
            argv: m.argv.clone(),
            timeout: m.timeout.unwrap_or(timing.delay_loop),
            dynamic: m.dynamic,
            rs_weight: rs.weight,
            run_as: m
                .user
                .as_ref()
                .map(crate::script::resolve_user)
                .transpose()
                .map_err(|e| e.to_string())?,
        })),
        CheckerKind::Dns(d) => Checker::Dns(Box::new(check::dns::DnsCheck {
            target,
            qtype: d.qtype,
            name: d.name.clone(),
        })),
        CheckerKind::Udp(u) => Checker::Udp(Box::new(check::udp::UdpCheck {
            target,
            payload: u.payload.clone(),
            require_reply: u.require_reply.clone(),
            min_reply_length: u.min_reply_length,
            max_reply_length: u.max_reply_length,
        })),
        CheckerKind::Ping => Checker::Ping(Box::new(check::ping::PingCheck {
            addr: target.addr.ip(),
            bind_if: target.bind.and_then(|b| b.bind_if),
        })),
        CheckerKind::File(_) => checker_of_file(c).expect("a FILE_CHECK"),
        CheckerKind::Smtp(m) => Checker::Smtp(Box::new(check::smtp::SmtpCheck {
            target,
            helo_name: m.helo_name.clone().unwrap_or_else(|| {
                nix::unistd::gethostname()
                    .ok()
                    .and_then(|h| h.into_string().ok())
                    .unwrap_or_else(|| "localhost".into())
            }),
        })),
    })
}

/// The runnable checker of a `FILE_CHECK` block (`None` for other kinds).
fn checker_of_file(c: &CheckerCfg) -> Option<Checker> {
    match &c.kind {
        CheckerKind::File(f) => Some(Checker::File(Box::new(check::file::FileCheck {
            name: f.track_file.clone(),
            path: f.path.clone(),
            weight: f.weight,
            reverse: f.reverse,
            init_file: f.init_file,
        }))),
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
/// Shared (the IPVS controller and the checker data the dumps and metrics read keep the same
/// one) and sized exactly: a table has one entry per real server with checkers.
pub type RsIndex = std::sync::Arc<[(usize, usize)]>;

/// Builds the checker runner for every real server of every virtual server. Runner ids index
/// the returned [`RsIndex`]. Checkers that cannot be built are returned as messages.
pub fn runner_for(config: &Config) -> (Runner, RsIndex, Vec<String>) {
    runner_carrying(config, &[])
}

/// [`runner_for`] after a reload: the checkers of a real server with a carried liveness
/// (see `ipvs::health::carried_alive`; indexed by virtual server, then real server) start in that state
/// (down: as with `alpha`, a success is needed to bring it up), the others as configured.
pub fn runner_carrying(
    config: &Config,
    carried: &[Vec<Option<bool>>],
) -> (Runner, RsIndex, Vec<String>) {
    let (real_servers, checks) = config
        .ipvs
        .virtual_servers
        .iter()
        .flat_map(|vs| &vs.real_servers)
        .map(|rs| rs.health.checkers.len())
        .filter(|&n| n > 0)
        .fold((0, 0), |(r, c), n| (r + 1, c + n));
    let mut runner = Runner::with_capacity(real_servers, checks);
    let mut index = Vec::with_capacity(real_servers);
    let mut problems = Vec::new();
    for (vi, vs) in config.ipvs.virtual_servers.iter().enumerate() {
        let vs_port = match &vs.target {
            VsTarget::Addr { port, .. } => *port,
            _ => 0,
        };
        let gate = ha_suspend_gate(config, vs).map(|(l, a)| runner.gate(l, a));
        for (ri, rs) in vs.real_servers.iter().enumerate() {
            if rs.health.checkers.is_empty() {
                continue;
            }
            let id = index.len();
            index.push((vi, ri));
            // The base of FILE_CHECK weights: kept only where a FILE_CHECK adds to it (a
            // table of 10,000 TCP_CHECKs needs no copy of every weight).
            if rs
                .health
                .checkers
                .iter()
                .any(|c| matches!(c.kind, CheckerKind::File(_)))
            {
                runner.set_weight(id, rs.weight);
            }
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
    (runner, index.into(), problems)
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
}
