//! What a real server's transition does besides the table: keepalived's log lines
//! (check/ipwrapper.c `perform_svr_state`, `update_svr_wgt`, `update_quorum_state`), the
//! `smtp_alert` mail, and the `notify_up`/`notify_down`/`quorum_up`/`quorum_down` scripts.

use crate::check::event::{Endpoint, RsEvent};
use crate::config::model::{Config, RealServer, VirtualServer};
use crate::ipvs::desired::{fmt_service, vs_entries};
use crate::ipvs::health::{Change, VsHealth, inhibit};
use crate::ipvs::model::ServiceKey;
use tracing::info;

/// Records real server `ri` of virtual server `vi` going up or down (`ev`) in `health` (that
/// virtual server's), with keepalived's log lines, the real server mail, and the notify and
/// quorum scripts. The table change is the caller's.
pub fn record(config: &Config, vi: usize, ri: usize, health: &mut VsHealth, ev: &RsEvent) {
    let vs = &config.ipvs.virtual_servers[vi];
    let rs = &vs.real_servers[ri];
    if let Some(reason) = &ev.cause.reason {
        info!("{reason}");
    }
    let old_weight = health.weight.get(ri).copied();
    let change = health.update(vs, ri, ev.up, ev.cause.weight);
    let new_weight = health.weight.get(ri).copied();
    let after = vs_entries(config, vs, health);
    let inhibit = inhibit(vs, rs);
    for key in after.keys() {
        let rs_key = rs_endpoint(vs, rs, key).to_string();
        if let (Some(o), Some(n)) = (old_weight, new_weight)
            && o != n
        {
            // keepalived ipwrapper.c update_svr_wgt.
            info!(
                "Changing weight from {o} to {n} for {}active service {rs_key} of VS {}",
                if ev.up { "" } else { "in" },
                fmt_service(key)
            );
        }
        if change.rs_changed {
            let (verb, prep) = match (ev.up, inhibit) {
                (true, false) => ("Adding", "to"),
                (true, true) => ("Enabling", "of"),
                (false, false) => ("Removing", "from"),
                (false, true) => ("Disabling", "of"),
            };
            info!("{verb} service {rs_key} {prep} VS {}", fmt_service(key));
            crate::mail::real_server(vs, rs, &rs_key, &fmt_service(key), ev.up);
        }
        if let Some(q) = change.quorum {
            let (q0, h) = (vs.health.quorum, vs.health.hysteresis);
            let w = health.live_weight();
            if q {
                info!(
                    "Gained quorum {q0}+{h}={} <= {w} for VS {}",
                    q0 + h,
                    fmt_service(key)
                );
            } else {
                info!(
                    "Lost quorum {q0}-{h}={} > {w} for VS {}",
                    q0.saturating_sub(h),
                    fmt_service(key)
                );
            }
            // keepalived's threshold: quorum + hysteresis to gain it, quorum - hysteresis to
            // lose it.
            let threshold = if q { q0 + h } else { q0.saturating_sub(h) };
            crate::mail::quorum(vs, &fmt_service(key), q, u64::from(threshold), w);
        }
    }
    run_scripts(vs, rs, ev.up, change);
}

/// Real server `rs` of `vs` in the service `key`, as keepalived's log writes it (`FMT_RS`):
/// the virtual server's protocol (for a fwmark service too), the service's port when the real
/// server has none.
pub fn rs_endpoint(vs: &VirtualServer, rs: &RealServer, key: &ServiceKey) -> Endpoint {
    let vs_port = match key {
        ServiceKey::Addr { port, .. } => *port,
        ServiceKey::Fwmark { .. } => 0,
    };
    Endpoint {
        addr: rs.addr,
        protocol: vs.protocol,
        port: if rs.port == 0 { vs_port } else { rs.port },
    }
}

/// The scripts of a transition: the real server's `notify_up`/`notify_down` when it changed,
/// the virtual server's `quorum_up`/`quorum_down` when its quorum did.
fn run_scripts(vs: &VirtualServer, rs: &RealServer, up: bool, change: Change) {
    if change.rs_changed {
        let cmd = if up {
            &rs.health.notify_up
        } else {
            &rs.health.notify_down
        };
        if let Some(c) = cmd {
            crate::script::spawn_command(c);
        }
    }
    match change.quorum {
        Some(true) => {
            if let Some(c) = &vs.health.quorum_up {
                crate::script::spawn_command(c);
            }
        }
        Some(false) => {
            if let Some(c) = &vs.health.quorum_down {
                crate::script::spawn_command(c);
            }
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, load_str};
    use std::path::Path;

    /// A fwmark service's real servers are written with the service's protocol (they were
    /// written `tcp` whatever it was), an address service's with its port when they have none.
    #[test]
    fn real_servers_are_written_with_the_virtual_server_s_protocol() {
        let config = load_str(
            Path::new("t.conf"),
            "virtual_server fwmark 5 {\n protocol UDP\n real_server 10.0.1.1 53 {\n }\n}\n\
             virtual_server 10.0.0.1 443 {\n protocol SCTP\n real_server 10.0.1.2 0 {\n }\n}\n",
            &LoadOptions::default(),
        )
        .config;
        let table = crate::ipvs::desired::desired_table(&config);
        let mut written = Vec::new();
        for vs in &config.ipvs.virtual_servers {
            for key in crate::ipvs::desired::vs_entries(&config, vs, &health_of(vs)).keys() {
                assert!(table.contains_key(key));
                written.push(rs_endpoint(vs, &vs.real_servers[0], key).to_string());
            }
        }
        assert_eq!(written, ["[10.0.1.1]:udp:53", "[10.0.1.2]:sctp:443"]);
    }

    fn health_of(vs: &VirtualServer) -> VsHealth {
        VsHealth::new(vs, &crate::check::build::rs_start(vs))
    }
}
