//! VRRP: the per-instance state machine, trackers and the engine task (the typed units are in
//! [`crate::units`]).

pub mod diff;
pub mod engine;
pub mod fsm;
pub mod kernel;
pub mod plan;
pub mod stats;
pub mod sync_group;
pub mod track;
pub mod track_process;

/// keepalived's start-up check of the interfaces a config names (vrrp/vrrp_data.c,
/// `WARNING - interface IF for vrrp_instance NAME doesn't exist` and `WARNING - interface IF
/// for ip address ADDR doesn't exist`), against the links of the current network namespace.
/// Used by `-t`: every missing interface is an error, followed once by keepalived's summary
/// `Non-existent interface specified in configuration`. The daemon itself starts such an
/// instance in FAULT and waits for the interface (see the engine).
pub fn missing_interfaces(config: &crate::config::Config) -> Vec<crate::config::Diagnostic> {
    use crate::config::Diagnostics;
    let exists = |name: &str| nix::net::if_::if_nametoindex(name).is_ok();
    let mut d = Diagnostics::default();
    for inst in &config.vrrp_instances {
        if let Some(ifname) = &inst.interface
            && !exists(ifname)
        {
            d.error(
                &inst.span,
                format!(
                    "WARNING - interface {ifname} for vrrp_instance {} doesn't exist",
                    inst.name
                ),
            );
        }
        for v in &inst.virtual_ipaddress {
            if let Some(dev) = &v.dev
                && !exists(dev)
            {
                d.error(
                    &inst.span,
                    format!(
                        "WARNING - interface {dev} for ip address {} doesn't exist",
                        v.addr
                    ),
                );
            }
        }
    }
    if let Some(last) = d.0.last().map(|l| l.span) {
        d.error(&last, "Non-existent interface specified in configuration");
    }
    d.0
}
