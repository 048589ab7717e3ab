//! Completion of a `vrrp_instance` once its block is read, as keepalived's
//! `vrrp_complete_instance` (keepalived/vrrp/vrrp.c, 2.2.7): defaults, version from the address
//! family, authentication by version, nopreempt/preempt_delay conflicts, advert_int rounding,
//! address owners' weighted trackers; then the duplicate-VRID check over the whole file.

use super::{AuthKind, InstanceDraft};
use crate::config::diag::Span;
use crate::config::model::{Authentication, InitialState, VrrpInstance};
use crate::config::parser::Parser;
use crate::config::values::MICROS_PER_SEC;
use crate::units::{Centiseconds, Priority, Version};
use std::net::IpAddr;
use std::time::Duration;

impl Parser<'_> {
    /// Completes an instance as keepalived's `vrrp_complete_instance` does, or drops it.
    pub(super) fn complete_instance(&mut self, d: InstanceDraft) -> Option<VrrpInstance> {
        let who = d.who.clone();
        let Some((vrid, _)) = d.vrid else {
            self.diags.error(
                &d.name.span,
                format!("{who}the virtual router id must be set - instance ignored"),
            );
            return None;
        };
        if d.interface.is_none() && d.unicast_peer.is_empty() {
            self.diags.error(
                &d.name.span,
                format!(
                    "{who}no interface set (an interface is needed unless unicast_peer is used) - \
                     instance ignored"
                ),
            );
            return None;
        }
        let ipv6 = d.ipv6 == Some(true);

        // The version: the instance's, else global_defs'; IPv6 can only be carried by VRRPv3.
        let mut version = d.version.as_ref().map(|(v, _)| *v);
        if ipv6 {
            if let Some((Version::V2, span)) = &d.version {
                self.diags.warn(
                    span,
                    format!("{who}VRRPv2 cannot carry IPv6 addresses - using version 3"),
                );
            }
            version = Some(Version::V3);
        }
        let effective_version = version.unwrap_or(self.config.global.vrrp_version);

        let mut state = d.state.as_ref().map_or(InitialState::Backup, |(s, _)| *s);
        // keepalived: with state MASTER and no priority, the instance is the address owner.
        let priority = d.priority.unwrap_or(if state == InitialState::Master {
            Priority::OWNER
        } else {
            Priority::DEFAULT
        });

        let mut authentication = None;
        if let Some((kind, span)) = &d.auth_type {
            let pass = d.auth_pass.clone().unwrap_or_default();
            if effective_version == Version::V3 {
                self.diags.warn(
                    span,
                    format!("{who}VRRP version 3 does not support authentication. Ignoring."),
                );
            } else if *kind == AuthKind::Ah {
                self.diags.warn(
                    span,
                    format!("{who}AH authentication is not supported by rkeepalived (no interoperable implementation yet); this instance will not be started"),
                );
                if state == InitialState::Master {
                    self.diags.warn(
                        span,
                        format!("{who}Initial state master is incompatible with AH authentication - clearing"),
                    );
                    state = InitialState::Backup;
                }
                authentication = Some(Authentication::Ah(pass));
            } else {
                authentication = Some(Authentication::Pass(pass));
            }
        } else if d.auth_pass.is_some() {
            self.diags.warn(
                &d.name.span,
                format!("{who}auth_pass without auth_type - no authentication used"),
            );
        }

        let mut nopreempt = d.nopreempt.is_some();
        if let Some(span) = &d.nopreempt {
            if priority.is_owner() {
                self.diags.warn(
                    span,
                    format!(
                        "{who}nopreempt is incompatible with priority 255. resetting nopreempt"
                    ),
                );
                nopreempt = false;
            } else if state == InitialState::Master {
                self.diags.warn(
                    span,
                    format!("{who}Warning - nopreempt will not work with initial state MASTER - clearing"),
                );
                nopreempt = false;
            }
        }

        // keepalived: "preempt_delay is incompatible with nopreempt mode - resetting".
        let mut preempt_delay = d.preempt_delay;
        if nopreempt && !preempt_delay.is_zero() {
            let at = d.nopreempt.as_ref().unwrap_or(&d.name.span);
            self.diags.warn(
                at,
                format!("{who}preempt_delay is incompatible with nopreempt mode - resetting"),
            );
            preempt_delay = Duration::ZERO;
        }

        let advert_int = self.resolve_advert_int(&who, d.advert_int.as_ref(), effective_version);

        if d.vips.is_empty() {
            self.diags.warn(
                &d.name.span,
                format!("{who}No VIP specified; at least one is sensible"),
            );
        }

        // keepalived: an address owner's priority is never adjusted, so weighted trackers go.
        let mut track_script = d.track_script;
        if priority.is_owner() {
            let scripts = &self.config.vrrp_scripts;
            let (kept, dropped): (Vec<_>, Vec<_>) = track_script.into_iter().partition(|t| {
                t.weight
                    .unwrap_or_else(|| scripts.get(&t.name).map_or(0, |s| s.weight))
                    == 0
            });
            for t in dropped {
                self.diags.warn(
                    &t.span,
                    format!(
                        "{who}ignoring tracked script {} with weights due to address_owner",
                        t.name
                    ),
                );
            }
            track_script = kept;
        }

        Some(VrrpInstance {
            name: d.name.text.to_string(),
            state,
            interface: d.interface,
            virtual_router_id: vrid,
            priority,
            advert_int,
            version,
            nopreempt,
            preempt_delay,
            authentication,
            virtual_ipaddress: d.vips,
            unicast_src_ip: d.unicast_src_ip,
            unicast_peer: d.unicast_peer,
            unicast_ttl: d.unicast_ttl.unwrap_or(255),
            check_unicast_src: d.check_unicast_src,
            skip_check_adv_addr: d.skip_check_adv_addr,
            garp_master_refresh: d.garp_master_refresh,
            garp_master_refresh_repeat: d.garp_master_refresh_repeat,
            garp_lower_prio_delay: d.garp_lower_prio_delay,
            garp_lower_prio_repeat: d.garp_lower_prio_repeat,
            lower_prio_no_advert: d.lower_prio_no_advert,
            higher_prio_send_advert: d.higher_prio_send_advert,
            track_script,
            notify: d.notify,
            garp_master_delay: d.garp_master_delay,
            garp_master_repeat: d.garp_master_repeat,
            tracking: d.tracking,
            virtual_ipaddress_excluded: d.excluded,
            use_vmac: d.use_vmac,
            vmac_xmit_base: d.vmac_xmit_base,
            strict_mode: d.strict_mode.unwrap_or(self.config.global.vrrp_strict),
            accept: d.accept,
            virtual_routes: d.routes,
            virtual_rules: d.rules,
            smtp_alert: d.smtp_alert,
            span: d.name.span,
        })
    }

    /// keepalived's advert_int rounding (vrrp.c, `vrrp_complete_instance`): VRRPv2 carries whole
    /// seconds (rounded to nearest, at least 1); VRRPv3 carries centiseconds (rounded to the
    /// nearest 10 ms, at most 40.95 s).
    fn resolve_advert_int(
        &mut self,
        who: &str,
        given: Option<&(u64, Span)>,
        version: Version,
    ) -> Centiseconds {
        let Some((us, span)) = given else {
            return Centiseconds::ONE_SECOND;
        };
        let us = *us;
        let secs = us as f64 / MICROS_PER_SEC as f64;
        if version == Version::V2 {
            if us % MICROS_PER_SEC == 0 {
                return Centiseconds::from_secs((us / MICROS_PER_SEC) as u16);
            }
            self.diags.warn(
                span,
                format!(
                    "{who}VRRPv2 advertisement interval {secs:.6}s must be an integer. rounding"
                ),
            );
            let rounded = ((us + MICROS_PER_SEC / 2) / MICROS_PER_SEC).max(1);
            return Centiseconds::from_secs(rounded as u16);
        }
        const CENTI: u64 = MICROS_PER_SEC / 100;
        let mut cs = us / CENTI;
        if us % CENTI != 0 {
            self.diags.warn(
                span,
                format!("{who}VRRPv3 advertisement interval {secs:.6}s must be in units of 10ms - rounding"),
            );
            cs = ((us + CENTI / 2) / CENTI).max(1);
        }
        if cs >= 4096 {
            self.diags.warn(
                span,
                format!(
                    "{who}VRRPv3 advertisement interval {secs:.2}s is out of range. Must be less than \
                     40.96s. Setting to 40.95s"
                ),
            );
            cs = 4095;
        }
        Centiseconds(cs as u16)
    }

    /// Two instances with the same VRID, address family and interface cannot coexist
    /// (keepalived: "A and B both use VRID n with IPv4 on interface eth0"); the later one is
    /// dropped.
    pub(in crate::config::parser) fn check_duplicate_vrids(&mut self) {
        let mut kept: Vec<VrrpInstance> = Vec::new();
        for instance in std::mem::take(&mut self.config.vrrp_instances) {
            let family = instance_family(&instance);
            let clash = kept.iter().find(|k| {
                k.virtual_router_id == instance.virtual_router_id
                    && k.interface == instance.interface
                    && instance_family(k) == family
            });
            if let Some(first) = clash {
                self.diags.error(
                    &instance.span,
                    format!(
                        "{} and {} both use VRID {} with IPv{family} on interface {} - {} ignored",
                        first.name,
                        instance.name,
                        instance.virtual_router_id,
                        instance.interface.as_deref().unwrap_or("(none)"),
                        instance.name,
                    ),
                );
            } else {
                kept.push(instance);
            }
        }
        self.config.vrrp_instances = kept;
    }
}

/// 4 or 6: the family of an instance's addresses (IPv4 when it has none).
fn instance_family(instance: &VrrpInstance) -> u8 {
    let v6 = instance
        .unicast_src_ip
        .iter()
        .chain(instance.virtual_ipaddress.iter().map(|v| &v.addr))
        .chain(instance.unicast_peer.iter().map(|p| &p.addr))
        .next()
        .is_some_and(IpAddr::is_ipv6);
    if v6 { 6 } else { 4 }
}

#[cfg(test)]
mod tests {
    use crate::config::parser::parse;
    use crate::units::{Centiseconds, Version};

    #[test]
    fn ipv6_needs_vrrpv3() {
        let (c, msgs) = parse(
            "vrrp_instance VI {\n interface eth0\n virtual_router_id 1\n version 2\n virtual_ipaddress {\n  fe80::1\n }\n}\n",
        );
        assert_eq!(
            msgs,
            ["t.conf:4:10: warning: (VI) VRRPv2 cannot carry IPv6 addresses - using version 3"]
        );
        assert_eq!(c.vrrp_instances[0].version, Some(Version::V3));
    }

    /// keepalived rounds a VRRPv3 interval to 10 ms and caps it below 40.96 s.
    #[test]
    fn vrrpv3_advert_int_rounding_and_cap() {
        let one = |adv: &str| {
            let (c, msgs) = parse(&format!(
                "global_defs {{\n vrrp_version 3\n}}\nvrrp_instance VI {{\n interface eth0\n virtual_router_id 1\n\
                 virtual_ipaddress {{\n  10.0.0.1\n }}\n advert_int {adv}\n}}\n"
            ));
            (c.vrrp_instances[0].advert_int, msgs)
        };
        let (adv, msgs) = one("0.015");
        assert_eq!(adv, Centiseconds(2));
        assert_eq!(
            msgs,
            [
                "t.conf:10:13: warning: (VI) VRRPv3 advertisement interval 0.015000s must be in units of 10ms - rounding"
            ]
        );
        let (adv, msgs) = one("50");
        assert_eq!(adv, Centiseconds(4095));
        assert_eq!(
            msgs,
            [
                "t.conf:10:13: warning: (VI) VRRPv3 advertisement interval 50.00s is out of range. Must be less than 40.96s. Setting to 40.95s"
            ]
        );
        let (adv, msgs) = one("0.05");
        assert!(msgs.is_empty(), "{msgs:?}");
        assert_eq!(adv, Centiseconds(5));
    }

    #[test]
    fn authentication_depends_on_the_version() {
        let (c, msgs) = parse(
            "vrrp_instance VI {\n interface eth0\n virtual_router_id 1\n version 3\n virtual_ipaddress {\n  10.0.0.1\n }\n\
             authentication {\n  auth_type PASS\n  auth_pass x\n }\n}\n",
        );
        assert_eq!(
            msgs,
            [
                "t.conf:9:13: warning: (VI) VRRP version 3 does not support authentication. Ignoring."
            ]
        );
        assert_eq!(c.vrrp_instances[0].authentication, None);
    }

    /// The same VRID may be used on another interface or by the other family, not twice on one.
    #[test]
    fn duplicate_vrids_per_interface_and_family() {
        let inst = |name: &str, ifname: &str, vip: &str| {
            format!(
                "vrrp_instance {name} {{\n interface {ifname}\n virtual_router_id 9\n virtual_ipaddress {{\n  {vip}\n }}\n}}\n"
            )
        };
        let text = [
            inst("A", "eth0", "10.0.0.1"),
            inst("B", "eth1", "10.0.0.2"),
            inst("C", "eth0", "fe80::3"),
            inst("D", "eth0", "10.0.0.4"),
        ]
        .concat();
        let (c, msgs) = parse(&text);
        let names: Vec<_> = c.vrrp_instances.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["A", "B", "C"]);
        assert_eq!(
            msgs,
            [
                "t.conf:22:15: error: A and D both use VRID 9 with IPv4 on interface eth0 - D ignored"
            ]
        );
    }

    /// keepalived never adjusts an address owner's priority, so its weighted trackers go.
    #[test]
    fn an_address_owner_drops_weighted_track_scripts() {
        let (c, msgs) = parse(
            "global_defs {\n enable_script_security\n}\nvrrp_script w {\n script /bin/true\n weight 10\n}\n\
             vrrp_script z {\n script /bin/true\n}\n\
             vrrp_instance VI {\n interface eth0\n virtual_router_id 1\n priority 255\n virtual_ipaddress {\n  10.0.0.1\n }\n\
             track_script {\n  w\n  z\n }\n}\n",
        );
        assert_eq!(
            msgs,
            [
                "t.conf:19:3: warning: (VI) ignoring tracked script w with weights due to address_owner"
            ]
        );
        let t: Vec<_> = c.vrrp_instances[0]
            .track_script
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(t, ["z"]);
    }
}
