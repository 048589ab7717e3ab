//! What a real server's transition does besides the table: keepalived's log lines
//! (check/ipwrapper.c `perform_svr_state`, `update_svr_wgt`, `update_quorum_state`), the
//! `smtp_alert` mail, and the `notify_up`/`notify_down`/`quorum_up`/`quorum_down` scripts.

use crate::check::event::{Endpoint, RsEvent};
use crate::config::model::Config;
use crate::ipvs::desired::{fmt_service, vs_entries};
use crate::ipvs::health::{VsHealth, inhibit};
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
        let vs_port = match key {
            ServiceKey::Addr { port, .. } => *port,
            ServiceKey::Fwmark { .. } => 0,
        };
        // The virtual server's protocol, for fwmark services too (keepalived FMT_RS).
        let rs_key = Endpoint {
            addr: rs.addr,
            protocol: vs.protocol,
            port: if rs.port == 0 { vs_port } else { rs.port },
        }
        .to_string();
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
        }
    }
    if change.rs_changed {
        let cmd = if ev.up {
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
