//! `vrrp_strict` (global_defs) / `strict_mode` (vrrp_instance): keepalived's strict RFC
//! compliance checks, applied to a completed instance with keepalived 2.2.7's wording. Each
//! violation is a config error; the offending setting is reset as keepalived resets it, or
//! the instance is dropped where keepalived refuses it (unicast peers, no VIP).

use crate::config::diag::Diagnostics;
use crate::config::model::{InitialState, VrrpInstance};
use crate::units::{Priority, Version};
use std::net::IpAddr;
use std::time::Duration;

/// Applies strict mode to `inst`; returns `false` when the instance cannot run in strict mode.
pub fn apply(inst: &mut VrrpInstance, diags: &mut Diagnostics) -> bool {
    let who = format!("({})", inst.name);
    let span = inst.span;
    let mut err = |msg: String| diags.error(&span, msg);
    if inst.authentication.take().is_some() {
        err(format!(
            "{who} Strict mode does not support authentication. Ignoring."
        ));
    }
    if !inst.unicast_peer.is_empty() {
        err(format!(
            "{who} Unicast peers are not supported in strict mode"
        ));
        return false;
    }
    if inst.virtual_ipaddress.is_empty() {
        err(format!("{who} No VIP specified; at least one is required"));
        return false;
    }
    if !inst.preempt_delay.is_zero() {
        err(format!(
            "{who} preempt_delay is incompatible with strict mode - resetting"
        ));
        inst.preempt_delay = Duration::ZERO;
    }
    if inst.state == InitialState::Master && inst.priority != Priority::OWNER {
        err(format!("{who} State MASTER must match being address owner"));
        inst.state = InitialState::Backup;
    }
    if let Some(IpAddr::V6(first)) = inst.virtual_ipaddress.first().map(|v| v.addr)
        && first.segments()[0] & 0xffc0 != 0xfe80
    {
        err(format!(
            "{who} the first IPv6 VIP address must be link local"
        ));
    }
    if inst.version.unwrap_or(Version::V2) == Version::V2 && inst.accept == Some(true) {
        err(format!(
            "{who} warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting"
        ));
        inst.accept = Some(false);
    }
    if inst.garp_master_repeat.is_some_and(|r| r != 1) {
        err(format!(
            "{who} Strict mode requires no repeat garps. resetting"
        ));
    }
    inst.garp_master_repeat = Some(1);
    if inst.garp_master_delay.is_some_and(|d| !d.is_zero()) {
        err(format!(
            "{who} Strict mode requires no repeat garp delay. resetting"
        ));
    }
    inst.garp_master_delay = Some(Duration::ZERO);
    if inst.lower_prio_no_advert == Some(false) {
        err(format!(
            "{who} Strict mode requires no lower priority advert. resetting"
        ));
    }
    inst.lower_prio_no_advert = Some(true);
    if inst.higher_prio_send_advert == Some(true) {
        err(format!(
            "{who} strict mode requires higher_prio_send_advert to be clear. resetting"
        ));
    }
    inst.higher_prio_send_advert = Some(false);
    if inst.vmac_xmit_base {
        err(format!(
            "{who} xmit_base is incompatible with strict mode - resetting"
        ));
        inst.vmac_xmit_base = false;
    }
    // RFC 5798 §6.1: Accept_Mode defaults to False; only the address owner accepts.
    if inst.accept.is_none() {
        inst.accept = Some(inst.priority == Priority::OWNER);
    }
    true
}
