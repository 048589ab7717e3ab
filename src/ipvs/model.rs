//! The IPVS table as rkeepalived wants it (and as the kernel reports it): services with their
//! destinations, in the units of the netlink ABI (`include/uapi/linux/ip_vs.h`).
//!
//! The same types describe both sides of [`crate::ipvs::reconcile`]: the desired table built
//! from the config ([`crate::ipvs::desired::desired_table`]) and the table read back from the
//! kernel with `IPVS_CMD_GET_SERVICE` / `IPVS_CMD_GET_DEST` dumps.

use crate::ipvs::consts::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// `AF_INET`.
pub const AF_INET: u16 = libc::AF_INET as u16;
/// `AF_INET6`.
pub const AF_INET6: u16 = libc::AF_INET6 as u16;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: u16 = 6;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: u16 = 17;
/// `IPPROTO_SCTP`.
pub const IPPROTO_SCTP: u16 = 132;

/// The address family of an address (`AF_INET` / `AF_INET6`).
pub fn family_of(addr: &IpAddr) -> u16 {
    if addr.is_ipv4() { AF_INET } else { AF_INET6 }
}

/// What identifies a service in the kernel: `(protocol, address, port)` or `(family, fwmark)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ServiceKey {
    /// `IPVS_SVC_ATTR_PROTOCOL` + `ADDR` + `PORT`; the family follows the address.
    Addr {
        /// `IPPROTO_TCP`, `IPPROTO_UDP` or `IPPROTO_SCTP`.
        protocol: u16,
        addr: IpAddr,
        /// Host order here; network order on the wire.
        port: u16,
    },
    /// `IPVS_SVC_ATTR_FWMARK` with `IPVS_SVC_ATTR_AF`.
    Fwmark {
        /// `AF_INET` or `AF_INET6`.
        af: u16,
        mark: u32,
    },
}

impl ServiceKey {
    /// The service's address family.
    pub fn af(&self) -> u16 {
        match self {
            ServiceKey::Addr { addr, .. } => family_of(addr),
            ServiceKey::Fwmark { af, .. } => *af,
        }
    }
}

impl std::fmt::Display for ServiceKey {
    /// `TCP 10.0.0.1:80`, `TCP [::1]:80`, `FWM 1` (as `ipvsadm -Ln` writes them).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => {
                let p = match *protocol {
                    IPPROTO_TCP => "TCP",
                    IPPROTO_UDP => "UDP",
                    IPPROTO_SCTP => "SCTP",
                    _ => "PROTO?",
                };
                match addr {
                    IpAddr::V4(a) => write!(f, "{p} {a}:{port}"),
                    IpAddr::V6(a) => write!(f, "{p} [{a}]:{port}"),
                }
            }
            ServiceKey::Fwmark { af, mark } => {
                write!(
                    f,
                    "FWM {mark}{}",
                    if *af == AF_INET6 { " IPv6" } else { "" }
                )
            }
        }
    }
}

/// A virtual service's settable fields (`IPVS_SVC_ATTR_*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub key: ServiceKey,
    /// `IPVS_SVC_ATTR_SCHED_NAME`: `rr`, `wrr`, `wlc`, … (kernel module `ip_vs_<name>`).
    pub sched: String,
    /// `IPVS_SVC_ATTR_FLAGS` (`IP_VS_SVC_F_*`) without the kernel-internal `HASHED` bit.
    pub flags: u32,
    /// `IPVS_SVC_ATTR_TIMEOUT`: persistence timeout in seconds (0 = not persistent).
    pub timeout: u32,
    /// `IPVS_SVC_ATTR_NETMASK`: IPv4 a mask as a big-endian u32 value (`0xffffffff`), IPv6 a
    /// prefix length (128).
    pub netmask: u32,
    /// `IPVS_SVC_ATTR_PE_NAME`: persistence engine (`sip`), if any.
    pub pe_name: Option<String>,
}

impl Service {
    /// The netmask keepalived uses when `persistence_granularity` is not given
    /// (`ipvswrapper.c`: `af == AF_INET6 ? 128 : 0xffffffff`).
    pub fn default_netmask(af: u16) -> u32 {
        if af == AF_INET6 { 128 } else { 0xffff_ffff }
    }
}

/// What identifies a destination inside its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DestKey {
    pub addr: IpAddr,
    /// Host order here; network order on the wire.
    pub port: u16,
}

/// A real server (`IPVS_DEST_ATTR_*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dest {
    pub key: DestKey,
    /// `IPVS_DEST_ATTR_FWD_METHOD`: `IP_VS_CONN_F_MASQ` (NAT), `DROUTE` (DR), `TUNNEL` (TUN).
    pub fwd: u32,
    /// `IPVS_DEST_ATTR_WEIGHT` (0 = quiesced).
    pub weight: u32,
    /// `IPVS_DEST_ATTR_U_THRESH` (0 = none).
    pub u_thresh: u32,
    /// `IPVS_DEST_ATTR_L_THRESH`.
    pub l_thresh: u32,
    /// `IPVS_DEST_ATTR_TUN_*` (Linux >= 5.2); all zero (ipip) unless `fwd` is `TUNNEL`.
    pub tun: Tunnel,
}

/// The tunnel of a `TUNNEL` destination, in ABI units (`include/uapi/linux/ip_vs.h`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tunnel {
    /// `IPVS_DEST_ATTR_TUN_TYPE`: `IP_VS_CONN_F_TUNNEL_TYPE_IPIP|GUE|GRE`.
    pub kind: u8,
    /// `IPVS_DEST_ATTR_TUN_PORT`: the GUE UDP port (host order here, network order on the
    /// wire), 0 otherwise.
    pub port: u16,
    /// `IPVS_DEST_ATTR_TUN_FLAGS`: `IP_VS_TUNNEL_ENCAP_FLAG_*`.
    pub flags: u16,
}

impl Dest {
    /// The forwarding method as `ipvsadm -Ln` names it.
    pub fn fwd_name(&self) -> &'static str {
        match self.fwd & IP_VS_CONN_F_FWD_MASK {
            IP_VS_CONN_F_MASQ => "Masq",
            IP_VS_CONN_F_LOCALNODE => "Local",
            IP_VS_CONN_F_TUNNEL => "Tunnel",
            IP_VS_CONN_F_DROUTE => "Route",
            _ => "Bypass",
        }
    }
}

/// A service with its destinations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEntry {
    pub service: Service,
    pub dests: BTreeMap<DestKey, Dest>,
}

/// A whole table: services by key.
pub type Table = BTreeMap<ServiceKey, ServiceEntry>;

/// One change to the kernel's table, as [`crate::ipvs::reconcile`] computes it and
/// [`crate::ipvs::genl::IpvsSocket::apply`] sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `IPVS_CMD_NEW_SERVICE`.
    AddService(Service),
    /// `IPVS_CMD_SET_SERVICE`.
    EditService(Service),
    /// `IPVS_CMD_DEL_SERVICE` (also removes its destinations).
    DelService(ServiceKey),
    /// `IPVS_CMD_NEW_DEST`.
    AddDest(ServiceKey, Dest),
    /// `IPVS_CMD_SET_DEST`.
    EditDest(ServiceKey, Dest),
    /// `IPVS_CMD_DEL_DEST`.
    DelDest(ServiceKey, DestKey),
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::AddService(s) => write!(f, "add service {}", s.key),
            Op::EditService(s) => write!(f, "edit service {}", s.key),
            Op::DelService(k) => write!(f, "remove service {k}"),
            Op::AddDest(k, d) => write!(f, "add real server {} to {k}", fmt_dest(&d.key)),
            Op::EditDest(k, d) => write!(f, "edit real server {} of {k}", fmt_dest(&d.key)),
            Op::DelDest(k, d) => write!(f, "remove real server {} from {k}", fmt_dest(d)),
        }
    }
}

fn fmt_dest(d: &DestKey) -> String {
    match d.addr {
        IpAddr::V4(a) => format!("{a}:{}", d.port),
        IpAddr::V6(a) => format!("[{a}]:{}", d.port),
    }
}
