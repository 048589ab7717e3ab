//! Routes and policy rules over rtnetlink (`RTM_NEWROUTE`/`RTM_DELROUTE`,
//! `RTM_NEWRULE`/`RTM_DELRULE`) for keepalived's `virtual_routes`, `virtual_rules`,
//! `static_routes` and `static_rules`.
//!
//! Kernel references: `include/uapi/linux/rtnetlink.h` (`struct rtmsg`, `RTA_*`,
//! `struct rtnexthop`), `include/uapi/linux/fib_rules.h` (`struct fib_rule_hdr`, `FRA_*`,
//! `FR_ACT_*`). `struct fib_rule_hdr` has the same 12-byte layout as `struct rtmsg`
//! (family, dst_len, src_len, tos, table, res1, res2, action, flags), so rules are sent with
//! neli's `Rtmsg` whose protocol/scope bytes are the reserved fields and whose type byte is
//! the rule action.

use std::net::IpAddr;

use neli::consts::nl::NlmF;
use neli::consts::rtnl::{RtAddrFamily, RtScope, RtTable, Rta, Rtm, Rtn, Rtprot};
use neli::rtnl::RtmsgBuilder;
use neli::types::RtBuffer;

use super::NetError;
use super::netlink::Netlink;

/// `FRA_*` attribute numbers of `fib_rules.h` used here.
mod fra {
    pub const DST: u16 = 1;
    pub const SRC: u16 = 2;
    pub const IIFNAME: u16 = 3;
    pub const GOTO: u16 = 4;
    pub const PRIORITY: u16 = 6;
    pub const FWMARK: u16 = 10;
    pub const TABLE: u16 = 15;
    pub const FWMASK: u16 = 16;
    pub const OIFNAME: u16 = 17;
    pub const PROTOCOL: u16 = 21;
}

pub use super::objects::{RTPROT_KEEPALIVED, Route, RouteType, Rule, fr_act};

fn family(ip: &IpAddr) -> RtAddrFamily {
    if ip.is_ipv6() {
        RtAddrFamily::Inet6
    } else {
        RtAddrFamily::Inet
    }
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// `struct rtnexthop` + `RTA_GATEWAY` for each gateway (`RTA_MULTIPATH` payload).
fn multipath(gateways: &[IpAddr], oif: u32, onlink: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for gw in gateways {
        let addr = ip_bytes(gw);
        let rta_len = 4 + addr.len();
        let rta_padded = (rta_len + 3) & !3;
        let len = 8 + rta_padded;
        out.extend_from_slice(&(len as u16).to_ne_bytes());
        out.push(if onlink { 4 } else { 0 }); // rtnh_flags: RTNH_F_ONLINK
        out.push(0); // rtnh_hops
        out.extend_from_slice(&(oif as i32).to_ne_bytes());
        out.extend_from_slice(&(rta_len as u16).to_ne_bytes());
        out.extend_from_slice(&5u16.to_ne_bytes()); // RTA_GATEWAY
        out.extend_from_slice(&addr);
        out.resize(out.len() + rta_padded - rta_len, 0);
    }
    out
}

impl Route {
    fn message(&self, op: &str, delete: bool) -> Result<neli::rtnl::Rtmsg, NetError> {
        let mut attrs = RtBuffer::new();
        let attr = |ty: Rta, payload: Vec<u8>| {
            super::netlink::build_attr(op, ty, neli::types::Buffer::from(payload))
        };
        if self.dst_len > 0 {
            attrs.push(attr(Rta::Dst, ip_bytes(&self.dst))?);
        }
        if let Some(src) = &self.prefsrc {
            attrs.push(attr(Rta::Prefsrc, ip_bytes(src))?);
        }
        match self.gateways.as_slice() {
            [] => {}
            [gw] => attrs.push(attr(Rta::Gateway, ip_bytes(gw))?),
            many => attrs.push(attr(
                Rta::Multipath,
                multipath(many, self.oif.unwrap_or(0), self.onlink),
            )?),
        }
        if let Some(oif) = self.oif {
            attrs.push(attr(Rta::Oif, oif.to_ne_bytes().to_vec())?);
        }
        if let Some(m) = self.metric {
            attrs.push(attr(Rta::Priority, m.to_ne_bytes().to_vec())?);
        }
        attrs.push(attr(Rta::Table, self.table.to_ne_bytes().to_vec())?);
        // keepalived sends `RT_SCOPE_UNIVERSE` unless the line names a scope, also for a
        // route without a gateway (where `ip route add` would pick `scope link`); measured
        // with keepalived 2.2.7: `192.168.111.0/24 dev eth2 proto keepalived`.
        let scope = self.scope.unwrap_or(0);
        let kind = match self.kind {
            RouteType::Unicast => Rtn::Unicast,
            RouteType::Blackhole => Rtn::Blackhole,
            RouteType::Unreachable => Rtn::Unreachable,
            RouteType::Prohibit => Rtn::Prohibit,
            RouteType::Throw => Rtn::Throw,
        };
        let flags = if self.onlink && self.gateways.len() == 1 {
            neli::consts::rtnl::RtmF::from_bits_retain(4)
        } else {
            neli::consts::rtnl::RtmF::empty()
        };
        RtmsgBuilder::default()
            .rtm_family(family(&self.dst))
            .rtm_dst_len(self.dst_len)
            .rtm_src_len(0)
            .rtm_tos(0)
            .rtm_table(if self.table < 256 {
                RtTable::from(self.table as u8)
            } else {
                RtTable::Unspec
            })
            .rtm_protocol(if delete {
                Rtprot::Unspec
            } else {
                Rtprot::from(self.protocol.unwrap_or(RTPROT_KEEPALIVED))
            })
            .rtm_scope(if delete {
                RtScope::Nowhere
            } else {
                RtScope::from(scope)
            })
            .rtm_type(kind)
            .rtm_flags(flags)
            .rtattrs(attrs)
            .build()
            .map_err(|e| NetError::Codec {
                op: op.to_owned(),
                detail: e.to_string(),
            })
    }
}

impl Rule {
    fn message(&self, op: &str) -> Result<neli::rtnl::Rtmsg, NetError> {
        let mut attrs = RtBuffer::new();
        let attr = |ty: u16, payload: Vec<u8>| {
            super::netlink::build_attr(op, Rta::from(ty), neli::types::Buffer::from(payload))
        };
        let (mut dst_len, mut src_len) = (0, 0);
        if let Some((ip, len)) = &self.from {
            src_len = *len;
            attrs.push(attr(fra::SRC, ip_bytes(ip))?);
        }
        if let Some((ip, len)) = &self.to {
            dst_len = *len;
            attrs.push(attr(fra::DST, ip_bytes(ip))?);
        }
        if let Some(p) = self.priority {
            attrs.push(attr(fra::PRIORITY, p.to_ne_bytes().to_vec())?);
        }
        if let Some((mark, mask)) = self.fwmark {
            attrs.push(attr(fra::FWMARK, mark.to_ne_bytes().to_vec())?);
            if let Some(m) = mask {
                attrs.push(attr(fra::FWMASK, m.to_ne_bytes().to_vec())?);
            }
        }
        let name = |n: &str| {
            let mut b = n.as_bytes().to_vec();
            b.push(0);
            b
        };
        if let Some(i) = &self.iif {
            attrs.push(attr(fra::IIFNAME, name(i))?);
        }
        if let Some(o) = &self.oif {
            attrs.push(attr(fra::OIFNAME, name(o))?);
        }
        if let Some(t) = self.table {
            attrs.push(attr(fra::TABLE, t.to_ne_bytes().to_vec())?);
        }
        if let Some(g) = self.goto {
            attrs.push(attr(fra::GOTO, g.to_ne_bytes().to_vec())?);
        }
        // keepalived marks its rules `proto keepalived` (FRA_PROTOCOL, kernel 4.17+), as its
        // routes; a delete matches on it too, so only keepalived's own rule goes.
        attrs.push(attr(fra::PROTOCOL, vec![RTPROT_KEEPALIVED])?);
        let table = self.table.filter(|t| *t < 256).unwrap_or(0) as u8;
        RtmsgBuilder::default()
            .rtm_family(if self.family_v6 {
                RtAddrFamily::Inet6
            } else {
                RtAddrFamily::Inet
            })
            .rtm_dst_len(dst_len)
            .rtm_src_len(src_len)
            .rtm_tos(self.tos)
            .rtm_table(RtTable::from(table))
            .rtm_protocol(Rtprot::from(0)) // res1
            .rtm_scope(RtScope::from(0)) // res2
            .rtm_type(Rtn::from(self.action)) // action
            .rtm_flags(neli::consts::rtnl::RtmF::from_bits_retain(if self.invert {
                2
            } else {
                0
            }))
            .rtattrs(attrs)
            .build()
            .map_err(|e| NetError::Codec {
                op: op.to_owned(),
                detail: e.to_string(),
            })
    }
}

impl Netlink {
    /// Adds (or replaces) `route`. An identical route already present is not an error.
    pub fn add_route(&self, route: &Route) -> Result<(), NetError> {
        let op = format!(
            "RTM_NEWROUTE {}/{} table {}",
            route.dst, route.dst_len, route.table
        );
        let msg = route.message(&op, false)?;
        self.request(&op, Rtm::Newroute, NlmF::CREATE | NlmF::REPLACE, msg)?;
        if let Some(l) = self.ledger() {
            l.added_route(route);
        }
        Ok(())
    }

    /// Removes `route`; a route that is already gone is not an error.
    pub fn del_route(&self, route: &Route) -> Result<(), NetError> {
        let op = format!(
            "RTM_DELROUTE {}/{} table {}",
            route.dst, route.dst_len, route.table
        );
        let msg = route.message(&op, true)?;
        match self.request(&op, Rtm::Delroute, NlmF::empty(), msg) {
            Err(e) if e.errno() == Some(libc::ESRCH) => {}
            other => other.map(drop)?,
        }
        if let Some(l) = self.ledger() {
            l.removed_route(route);
        }
        Ok(())
    }

    /// Adds `rule`; an identical rule already present is not an error.
    pub fn add_rule(&self, rule: &Rule) -> Result<(), NetError> {
        let op = format!("RTM_NEWRULE {rule:?}");
        let msg = rule.message(&op)?;
        match self.request(&op, Rtm::Newrule, NlmF::CREATE | NlmF::EXCL, msg) {
            Err(e) if e.errno() == Some(libc::EEXIST) => {}
            other => other.map(drop)?,
        }
        if let Some(l) = self.ledger() {
            l.added_rule(rule);
        }
        Ok(())
    }

    /// Removes `rule`; a rule that is already gone is not an error.
    pub fn del_rule(&self, rule: &Rule) -> Result<(), NetError> {
        let op = format!("RTM_DELRULE {rule:?}");
        let msg = rule.message(&op)?;
        match self.request(&op, Rtm::Delrule, NlmF::empty(), msg) {
            Err(e) if matches!(e.errno(), Some(libc::ENOENT) | Some(libc::ESRCH)) => {}
            other => other.map(drop)?,
        }
        if let Some(l) = self.ledger() {
            l.removed_rule(rule);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipath_layout_is_rtnexthop_plus_gateway() {
        let gw: IpAddr = "10.0.0.1".parse().unwrap();
        let b = multipath(&[gw, "10.0.0.2".parse().unwrap()], 3, false);
        assert_eq!(b.len(), 2 * 16);
        assert_eq!(u16::from_ne_bytes([b[0], b[1]]), 16);
        assert_eq!(i32::from_ne_bytes([b[4], b[5], b[6], b[7]]), 3);
        assert_eq!(u16::from_ne_bytes([b[8], b[9]]), 8); // rta_len
        assert_eq!(u16::from_ne_bytes([b[10], b[11]]), 5); // RTA_GATEWAY
        assert_eq!(&b[12..16], &[10, 0, 0, 1]);
        assert_eq!(&b[28..32], &[10, 0, 0, 2]);
    }
}
