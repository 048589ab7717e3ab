//! The kernel objects rkeepalived applies, as values: addresses ([`IfAddr`]), routes ([`Route`])
//! and policy rules ([`Rule`]). Plain data at the bottom of `net`: `netlink` and `route` send
//! them, `ledger` records them, `release` takes them back; this module imports none of them.

use std::net::IpAddr;

/// One address to put on (or take off) an interface, as keepalived's `virtual_ipaddress` lines
/// describe it: `<addr>/<prefix_len> [brd <brd>] [scope <scope>] [label <label>]`.
///
/// Maps onto `struct ifaddrmsg` + attributes of `RTM_NEWADDR` / `RTM_DELADDR`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IfAddr {
    /// The address itself (`IFA_LOCAL` and `IFA_ADDRESS`).
    pub addr: IpAddr,
    /// Prefix length in bits (`ifa_prefixlen`): 0..=32 for IPv4, 0..=128 for IPv6. keepalived
    /// defaults to 32 / 128 when the config gives none.
    pub prefix_len: u8,
    /// Broadcast address (`IFA_BROADCAST`), IPv4 only; ignored for IPv6.
    pub brd: Option<IpAddr>,
    /// Address scope (`ifa_scope`, `RT_SCOPE_*`): 0 universe/global, 200 site, 253 link,
    /// 254 host, 255 nowhere.
    pub scope: u8,
    /// Address label (`IFA_LABEL`, at most 15 bytes, by convention `<ifname>:<tag>`), IPv4 only:
    /// the kernel keeps no labels for IPv6, so it is not sent for IPv6 addresses.
    pub label: Option<String>,
    /// Point-to-point peer (`IFA_ADDRESS`; `addr` is then `IFA_LOCAL` only).
    pub peer: Option<IpAddr>,
}

impl IfAddr {
    /// A host address with keepalived's defaults: full-length prefix, scope global, no
    /// broadcast, no label.
    pub fn host(addr: IpAddr) -> IfAddr {
        IfAddr {
            peer: None,
            addr,
            prefix_len: if addr.is_ipv4() { 32 } else { 128 },
            brd: None,
            scope: 0,
            label: None,
        }
    }
}

/// `RTPROT_KEEPALIVED` (18): the protocol keepalived marks its routes with
/// (`/etc/iproute2/rt_protos`).
pub const RTPROT_KEEPALIVED: u8 = 18;

/// `FR_ACT_TO_TBL`, `FR_ACT_GOTO`, `FR_ACT_BLACKHOLE`, `FR_ACT_UNREACHABLE`, `FR_ACT_PROHIBIT`.
pub mod fr_act {
    pub const TO_TBL: u8 = 1;
    pub const GOTO: u8 = 2;
    pub const BLACKHOLE: u8 = 6;
    pub const UNREACHABLE: u8 = 7;
    pub const PROHIBIT: u8 = 8;
}

/// The kind of a route (`rtm_type`, `RTN_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RouteType {
    Unicast,
    Blackhole,
    Unreachable,
    Prohibit,
    Throw,
}

/// One route, resolved to interface indexes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Route {
    /// Destination prefix (`RTA_DST` + `rtm_dst_len`); `/0` is the default route.
    pub dst: IpAddr,
    pub dst_len: u8,
    /// `src`: preferred source address (`RTA_PREFSRC`).
    pub prefsrc: Option<IpAddr>,
    /// `via`/`gw`: gateway (`RTA_GATEWAY`); with `or` gateways, all go into `RTA_MULTIPATH`.
    pub gateways: Vec<IpAddr>,
    /// `dev`: output interface (`RTA_OIF`).
    pub oif: Option<u32>,
    /// `table` (default 254, main).
    pub table: u32,
    /// `metric`/`priority`/`preference` (`RTA_PRIORITY`).
    pub metric: Option<u32>,
    /// `scope` (`rtm_scope`; default universe, as keepalived sends it, also without a gateway).
    pub scope: Option<u8>,
    pub kind: RouteType,
    /// `onlink` (`RTNH_F_ONLINK`).
    pub onlink: bool,
    /// `rtm_protocol` the route is added with (`proto`, `/etc/iproute2/rt_protos`); `None`
    /// is [`RTPROT_KEEPALIVED`]. A delete matches any protocol.
    #[serde(default)]
    pub protocol: Option<u8>,
}

/// One policy rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rule {
    /// The rule's address family: taken from `from`/`to`, IPv4 when it has neither.
    pub family_v6: bool,
    pub from: Option<(IpAddr, u8)>,
    pub to: Option<(IpAddr, u8)>,
    /// `table` for `FR_ACT_TO_TBL`.
    pub table: Option<u32>,
    /// `preference`/`priority`/`pref` (`FRA_PRIORITY`).
    pub priority: Option<u32>,
    /// `fwmark N[/MASK]`.
    pub fwmark: Option<(u32, Option<u32>)>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub tos: u8,
    /// `FR_ACT_*` ([`fr_act`]).
    pub action: u8,
    /// `goto N` target priority.
    pub goto: Option<u32>,
    /// `not`: `FIB_RULE_INVERT`.
    pub invert: bool,
}
