//! A generic netlink client for the kernel's `"IPVS"` family (neli 0.7 for the socket and the
//! `nlmsghdr` framing; the `genlmsghdr` and the attributes are encoded here, byte for byte as
//! `include/uapi/linux/ip_vs.h` and `net/netfilter/ipvs/ip_vs_ctl.c` expect them).
//!
//! Encoding rules (see `../shared/reference/ipvs-netlink.md` §3): ports (and `TUN_PORT`) in
//! network byte order, every other integer in host order; addresses as 16 bytes
//! (`union nf_inet_addr`, IPv4 in the first 4 and zero padding), decoded by the family and not
//! by the length; the flags as `struct ip_vs_flags { flags, mask = 0xffffffff }`; the IPv6
//! netmask as a prefix length.
//!
//! Changes are pipelined and batched: [`IpvsSocket::apply`] packs up to [`BATCH_BYTES`] of
//! requests into each `send` (the kernel's `netlink_rcv_skb` runs every message of a datagram
//! in turn) and sends a window of [`WINDOW`] requests before it reads the replies. Only the
//! window's last request asks for an acknowledgement (`NLM_F_ACK`): the kernel answers a failed
//! request with an error message whether or not it asked for one, so a window costs one
//! acknowledgement plus one message per refused change, instead of one round trip per row.
//! Every `recv` is bounded by [`REPLY_TIMEOUT`].

use crate::ipvs::IpvsError;
use crate::ipvs::consts::*;
use crate::ipvs::model::*;
use neli::consts::nl::{NlmF, Nlmsg};
use neli::consts::socket::NlFamily;
use neli::nl::{NlPayload, NlmsghdrBuilder};
use neli::socket::synchronous::NlSocketHandle;
use neli::types::Buffer;
use neli::utils::Groups;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

/// How long one `recv` may wait for the kernel.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests in flight before [`IpvsSocket::apply`] reads the replies. Even if all 256 fail,
/// their error messages (each echoing its request, a few hundred bytes of socket memory) stay
/// far below the 1 MiB receive buffer the socket asks for.
pub const WINDOW: usize = 256;
/// Bytes of requests packed into one `send` by [`IpvsSocket::apply`]: well below the default
/// netlink send buffer (`net.core.wmem_default`, 212992 bytes), which bounds one datagram.
pub const BATCH_BYTES: usize = 32 * 1024;
/// `struct nlmsghdr` length.
const NLMSG_HDRLEN: usize = 16;
/// `NLMSG_ERROR`: an acknowledgement (error 0) or an error reply.
const NLMSG_ERROR: u16 = 2;
/// `NLM_F_REQUEST`.
const NLM_F_REQUEST: u16 = 1;
/// `NLM_F_ACK`.
const NLM_F_ACK: u16 = 4;

// ----- attribute encoding ------------------------------------------------------------------

/// `struct nlattr` header length.
const NLA_HDRLEN: usize = 4;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Appends one attribute (`nla_len` = header + payload, unpadded; then padding to 4).
/// Attributes of up to 20 bytes of payload (all but names) are written with one copy.
pub fn put_attr(buf: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = NLA_HDRLEN + payload.len();
    let mut small = [0u8; NLA_HDRLEN + 20];
    if len <= small.len() {
        small[..2].copy_from_slice(&(len as u16).to_ne_bytes());
        small[2..4].copy_from_slice(&ty.to_ne_bytes());
        small[NLA_HDRLEN..len].copy_from_slice(payload);
        buf.extend_from_slice(&small[..align4(len)]);
        return;
    }
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(align4(buf.len()), 0);
}

fn put_u16(buf: &mut Vec<u8>, ty: u16, v: u16) {
    put_attr(buf, ty, &v.to_ne_bytes());
}

fn put_u32(buf: &mut Vec<u8>, ty: u16, v: u32) {
    put_attr(buf, ty, &v.to_ne_bytes());
}

/// A port: network byte order.
fn put_port(buf: &mut Vec<u8>, ty: u16, port: u16) {
    put_attr(buf, ty, &port.to_be_bytes());
}

/// A NUL-terminated string (`NLA_NUL_STRING`).
fn put_str(buf: &mut Vec<u8>, ty: u16, s: &str) {
    let len = NLA_HDRLEN + s.len() + 1;
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(s.as_bytes());
    // The NUL, then padding to 4.
    buf.resize(buf.len() + 1 + (align4(len) - len), 0);
}

/// `union nf_inet_addr`: 16 bytes, an IPv4 address in the first 4.
pub fn inet_addr_bytes(addr: &IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            b
        }
        IpAddr::V6(a) => a.octets(),
    }
}

/// The attributes identifying `key` (inside an `IPVS_CMD_ATTR_SERVICE` nest).
fn service_id_attrs(buf: &mut Vec<u8>, key: &ServiceKey) {
    put_u16(buf, IPVS_SVC_ATTR_AF, key.af());
    match key {
        ServiceKey::Fwmark { mark, .. } => put_u32(buf, IPVS_SVC_ATTR_FWMARK, *mark),
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            put_u16(buf, IPVS_SVC_ATTR_PROTOCOL, *protocol);
            put_attr(buf, IPVS_SVC_ATTR_ADDR, &inet_addr_bytes(addr));
            put_port(buf, IPVS_SVC_ATTR_PORT, *port);
        }
    }
}

/// Starts a nested attribute of type `ty`: returns where its header is, for [`nest_end`].
fn nest_start(buf: &mut Vec<u8>, ty: u16) -> usize {
    let at = buf.len();
    let mut hdr = [0u8; NLA_HDRLEN];
    hdr[2..].copy_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(&hdr);
    at
}

/// Ends the nest started at `at`: writes its length (header and contents, all of them
/// 4-byte aligned already).
fn nest_end(buf: &mut [u8], at: usize) {
    let len = (buf.len() - at) as u16;
    buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
}

/// Appends the `IPVS_CMD_ATTR_SERVICE` nest (see [`encode_service`]).
fn put_service(buf: &mut Vec<u8>, svc: &Service, full: bool) {
    let nest = nest_start(buf, IPVS_CMD_ATTR_SERVICE);
    service_id_attrs(buf, &svc.key);
    if full {
        put_str(buf, IPVS_SVC_ATTR_SCHED_NAME, &svc.sched);
        if let Some(pe) = &svc.pe_name {
            put_str(buf, IPVS_SVC_ATTR_PE_NAME, pe);
        }
        let mut flags = [0u8; 8];
        flags[..4].copy_from_slice(&svc.flags.to_ne_bytes());
        flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
        put_attr(buf, IPVS_SVC_ATTR_FLAGS, &flags);
        put_u32(buf, IPVS_SVC_ATTR_TIMEOUT, svc.timeout);
        put_u32(buf, IPVS_SVC_ATTR_NETMASK, svc.netmask);
    }
    nest_end(buf, nest);
}

/// The `IPVS_CMD_ATTR_SERVICE` nest: identifying fields only, or (with `full`) everything
/// `ip_vs_genl_parse_service` requires for NEW/SET (`SCHED_NAME`, `FLAGS`, `TIMEOUT`,
/// `NETMASK`; `PE_NAME` when set).
pub fn encode_service(svc: &Service, full: bool) -> Vec<u8> {
    let mut out = Vec::new();
    put_service(&mut out, svc, full);
    out
}

/// Appends the `IPVS_CMD_ATTR_SERVICE` nest with only the fields identifying `key`.
fn put_service_key(buf: &mut Vec<u8>, key: &ServiceKey) {
    let nest = nest_start(buf, IPVS_CMD_ATTR_SERVICE);
    service_id_attrs(buf, key);
    nest_end(buf, nest);
}

fn encode_service_key(key: &ServiceKey) -> Vec<u8> {
    let mut out = Vec::new();
    put_service_key(&mut out, key);
    out
}

/// Appends the `IPVS_CMD_ATTR_DEST` nest (see [`encode_dest`]); without `full`, only
/// `dest.key` is used.
fn put_dest(buf: &mut Vec<u8>, dest: &Dest, full: bool) {
    let nest = nest_start(buf, IPVS_CMD_ATTR_DEST);
    put_attr(buf, IPVS_DEST_ATTR_ADDR, &inet_addr_bytes(&dest.key.addr));
    put_port(buf, IPVS_DEST_ATTR_PORT, dest.key.port);
    if full {
        put_u32(
            buf,
            IPVS_DEST_ATTR_FWD_METHOD,
            dest.fwd & IP_VS_CONN_F_FWD_MASK,
        );
        put_u32(buf, IPVS_DEST_ATTR_WEIGHT, dest.weight);
        put_u32(buf, IPVS_DEST_ATTR_U_THRESH, dest.u_thresh);
        put_u32(buf, IPVS_DEST_ATTR_L_THRESH, dest.l_thresh);
        if dest.fwd & IP_VS_CONN_F_FWD_MASK == IP_VS_CONN_F_TUNNEL {
            put_attr(buf, IPVS_DEST_ATTR_TUN_TYPE, &[dest.tun.kind]);
            put_port(buf, IPVS_DEST_ATTR_TUN_PORT, dest.tun.port);
            put_u16(buf, IPVS_DEST_ATTR_TUN_FLAGS, dest.tun.flags);
        }
    }
    put_u16(buf, IPVS_DEST_ATTR_ADDR_FAMILY, family_of(&dest.key.addr));
    nest_end(buf, nest);
}

/// The `IPVS_CMD_ATTR_DEST` nest: with `full`, everything NEW/SET_DEST require (`ADDR, PORT,
/// FWD_METHOD, WEIGHT, U_THRESH, L_THRESH`; for a tunnel also `TUN_TYPE` (u8), `TUN_PORT`
/// (network order) and `TUN_FLAGS` (u16)) plus `ADDR_FAMILY`; else `ADDR, PORT` and
/// `ADDR_FAMILY` (DEL_DEST).
pub fn encode_dest(dest: &Dest, full: bool) -> Vec<u8> {
    let mut out = Vec::new();
    put_dest(&mut out, dest, full);
    out
}

/// Appends one netlink message: `nlmsghdr { len, type, flags, seq, pid = 0 }`, then what
/// `body` writes (4-byte aligned, as the attribute writers leave it).
fn put_nlmsg(buf: &mut Vec<u8>, ty: u16, flags: u16, seq: u32, body: impl FnOnce(&mut Vec<u8>)) {
    let at = buf.len();
    let mut hdr = [0u8; NLMSG_HDRLEN];
    hdr[4..6].copy_from_slice(&ty.to_ne_bytes());
    hdr[6..8].copy_from_slice(&flags.to_ne_bytes());
    hdr[8..12].copy_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&hdr);
    body(buf);
    buf.resize(align4(buf.len()), 0);
    let len = (buf.len() - at) as u32;
    buf[at..at + 4].copy_from_slice(&len.to_ne_bytes());
}

/// `genlmsghdr { cmd, version = IPVS_GENL_VERSION, reserved = 0 }` followed by `attrs`.
pub fn genl_message(cmd: u8, attrs: &[u8]) -> Vec<u8> {
    let mut v = vec![cmd, IPVS_GENL_VERSION, 0, 0];
    v.extend_from_slice(attrs);
    v
}

/// Appends the generic netlink payload (command and attributes) of one [`Op`].
fn put_op(buf: &mut Vec<u8>, op: &Op) {
    let cmd = match op {
        Op::AddService(_) => IPVS_CMD_NEW_SERVICE,
        Op::EditService(_) => IPVS_CMD_SET_SERVICE,
        Op::DelService(_) => IPVS_CMD_DEL_SERVICE,
        Op::AddDest(..) => IPVS_CMD_NEW_DEST,
        Op::EditDest(..) => IPVS_CMD_SET_DEST,
        Op::DelDest(..) => IPVS_CMD_DEL_DEST,
    };
    buf.extend_from_slice(&[cmd, IPVS_GENL_VERSION, 0, 0]);
    match op {
        Op::AddService(s) | Op::EditService(s) => put_service(buf, s, true),
        Op::DelService(k) => put_service_key(buf, k),
        Op::AddDest(k, d) | Op::EditDest(k, d) => {
            put_service_key(buf, k);
            put_dest(buf, d, true);
        }
        Op::DelDest(k, d) => {
            put_service_key(buf, k);
            let dest = Dest {
                key: *d,
                fwd: 0,
                weight: 0,
                u_thresh: 0,
                l_thresh: 0,
                tun: Tunnel::default(),
            };
            put_dest(buf, &dest, false);
        }
    }
}

/// The generic netlink payload (command and attributes) of one [`Op`].
pub fn encode_op(op: &Op) -> Vec<u8> {
    let mut out = Vec::new();
    put_op(&mut out, op);
    out
}

// ----- attribute decoding ------------------------------------------------------------------

/// Splits an attribute stream into `type -> payload` (the last occurrence wins; the
/// `NLA_F_NESTED`/`NLA_F_NET_BYTEORDER` bits are masked off).
pub fn parse_attrs(mut data: &[u8]) -> Result<BTreeMap<u16, &[u8]>, IpvsError> {
    let mut out = BTreeMap::new();
    while data.len() >= NLA_HDRLEN {
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        let ty = u16::from_ne_bytes([data[2], data[3]]) & 0x3fff;
        if len < NLA_HDRLEN || len > data.len() {
            return Err(IpvsError::Decode(format!(
                "attribute {ty} has length {len} with {} bytes left",
                data.len()
            )));
        }
        out.insert(ty, &data[NLA_HDRLEN..len]);
        data = &data[align4(len).min(data.len())..];
    }
    Ok(out)
}

fn get_u16(a: &BTreeMap<u16, &[u8]>, ty: u16) -> Option<u16> {
    a.get(&ty)
        .and_then(|b| b.get(..2))
        .map(|b| u16::from_ne_bytes([b[0], b[1]]))
}

fn get_u32(a: &BTreeMap<u16, &[u8]>, ty: u16) -> Option<u32> {
    a.get(&ty)
        .and_then(|b| b.get(..4))
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

fn get_port(a: &BTreeMap<u16, &[u8]>, ty: u16) -> Option<u16> {
    a.get(&ty)
        .and_then(|b| b.get(..2))
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
}

fn get_str(a: &BTreeMap<u16, &[u8]>, ty: u16) -> Option<String> {
    a.get(&ty).map(|b| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    })
}

/// An address by family (the kernel always sends 16 bytes).
fn get_addr(a: &BTreeMap<u16, &[u8]>, ty: u16, af: u16) -> Option<IpAddr> {
    let b = a.get(&ty)?;
    if af == AF_INET6 {
        let o: [u8; 16] = b.get(..16)?.try_into().ok()?;
        Some(IpAddr::V6(Ipv6Addr::from(o)))
    } else {
        let o: [u8; 4] = b.get(..4)?.try_into().ok()?;
        Some(IpAddr::V4(Ipv4Addr::from(o)))
    }
}

fn missing(what: &str, attr: &str) -> IpvsError {
    IpvsError::Decode(format!("{what} without {attr}"))
}

/// Decodes the contents of an `IPVS_CMD_ATTR_SERVICE` nest (from a GET_SERVICE dump). The
/// kernel-internal `HASHED` flag is dropped.
pub fn decode_service(nest: &[u8]) -> Result<Service, IpvsError> {
    let a = parse_attrs(nest)?;
    let af = get_u16(&a, IPVS_SVC_ATTR_AF).ok_or_else(|| missing("service", "AF"))?;
    let key = match get_u32(&a, IPVS_SVC_ATTR_FWMARK).filter(|m| *m != 0) {
        Some(mark) => ServiceKey::Fwmark { af, mark },
        None => ServiceKey::Addr {
            protocol: get_u16(&a, IPVS_SVC_ATTR_PROTOCOL)
                .ok_or_else(|| missing("service", "PROTOCOL"))?,
            addr: get_addr(&a, IPVS_SVC_ATTR_ADDR, af).ok_or_else(|| missing("service", "ADDR"))?,
            port: get_port(&a, IPVS_SVC_ATTR_PORT).ok_or_else(|| missing("service", "PORT"))?,
        },
    };
    let flags = get_u32(&a, IPVS_SVC_ATTR_FLAGS).unwrap_or(0) & !IP_VS_SVC_F_HASHED;
    Ok(Service {
        key,
        sched: get_str(&a, IPVS_SVC_ATTR_SCHED_NAME).unwrap_or_default(),
        flags,
        timeout: get_u32(&a, IPVS_SVC_ATTR_TIMEOUT).unwrap_or(0),
        netmask: get_u32(&a, IPVS_SVC_ATTR_NETMASK).unwrap_or(0),
        pe_name: get_str(&a, IPVS_SVC_ATTR_PE_NAME).filter(|s| !s.is_empty()),
    })
}

/// Decodes the contents of an `IPVS_CMD_ATTR_DEST` nest. `svc_af` is used when the kernel
/// does not send `ADDR_FAMILY` (before Linux 3.18).
pub fn decode_dest(nest: &[u8], svc_af: u16) -> Result<Dest, IpvsError> {
    let a = parse_attrs(nest)?;
    let af = get_u16(&a, IPVS_DEST_ATTR_ADDR_FAMILY).unwrap_or(svc_af);
    Ok(Dest {
        key: DestKey {
            addr: get_addr(&a, IPVS_DEST_ATTR_ADDR, af).ok_or_else(|| missing("dest", "ADDR"))?,
            port: get_port(&a, IPVS_DEST_ATTR_PORT).ok_or_else(|| missing("dest", "PORT"))?,
        },
        fwd: get_u32(&a, IPVS_DEST_ATTR_FWD_METHOD).unwrap_or(0) & IP_VS_CONN_F_FWD_MASK,
        weight: get_u32(&a, IPVS_DEST_ATTR_WEIGHT).unwrap_or(0),
        u_thresh: get_u32(&a, IPVS_DEST_ATTR_U_THRESH).unwrap_or(0),
        l_thresh: get_u32(&a, IPVS_DEST_ATTR_L_THRESH).unwrap_or(0),
        tun: Tunnel {
            kind: a
                .get(&IPVS_DEST_ATTR_TUN_TYPE)
                .and_then(|b| b.first().copied())
                .unwrap_or(0),
            port: get_port(&a, IPVS_DEST_ATTR_TUN_PORT).unwrap_or(0),
            flags: get_u16(&a, IPVS_DEST_ATTR_TUN_FLAGS).unwrap_or(0),
        },
    })
}

/// The traffic counters and rates of a service or destination (`IPVS_*_ATTR_STATS64`, or the
/// 32-bit `IPVS_*_ATTR_STATS` of kernels before 4.1): `ipvsadm --stats --rate`'s numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpvsStats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    /// Per second, as the kernel estimates them.
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// One service's key and counters, with those of its destinations.
pub type ServiceStats = (ServiceKey, IpvsStats, Vec<(DestKey, IpvsStats)>);

/// Decodes the stats nest of a service or destination (attribute `stats64`, else `stats32`).
fn decode_stats(a: &BTreeMap<u16, &[u8]>, stats64: u16, stats32: u16) -> IpvsStats {
    let (nest, wide) = match (a.get(&stats64), a.get(&stats32)) {
        (Some(n), _) => (*n, true),
        (None, Some(n)) => (*n, false),
        (None, None) => return IpvsStats::default(),
    };
    let Ok(s) = parse_attrs(nest) else {
        return IpvsStats::default();
    };
    let get = |ty: u16| -> u64 {
        let Some(b) = s.get(&ty) else { return 0 };
        match (wide, b.len()) {
            (true, n) if n >= 8 => u64::from_ne_bytes(b[..8].try_into().unwrap_or_default()),
            (_, n) if n >= 4 => {
                u64::from(u32::from_ne_bytes(b[..4].try_into().unwrap_or_default()))
            }
            _ => 0,
        }
    };
    // include/uapi/linux/ip_vs.h IPVS_STATS_ATTR_*.
    IpvsStats {
        conns: get(1),
        inpkts: get(2),
        outpkts: get(3),
        inbytes: get(4),
        outbytes: get(5),
        cps: get(6),
        inpps: get(7),
        outpps: get(8),
        inbps: get(9),
        outbps: get(10),
    }
}

/// The attributes after the 4-byte `genlmsghdr` of a reply.
fn genl_attrs(body: &[u8]) -> Result<BTreeMap<u16, &[u8]>, IpvsError> {
    parse_attrs(
        body.get(4..)
            .ok_or_else(|| IpvsError::Decode("short genetlink message".into()))?,
    )
}

// ----- the socket ----------------------------------------------------------------------------

/// `IPVS_CMD_GET_INFO`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// `IPVS_INFO_ATTR_VERSION`, e.g. `0x010201` for 1.2.1.
    pub version: u32,
    /// `IPVS_INFO_ATTR_CONN_TAB_SIZE`.
    pub conn_tab_size: u32,
}

/// Connection timeouts in seconds (`IPVS_CMD_SET_CONFIG` / `GET_CONFIG`; 0 = unchanged on set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// One generic netlink socket talking to the `IPVS` family of the calling thread's network
/// namespace. Synchronous; wrap calls in `spawn_blocking` from async code.
pub struct IpvsSocket {
    sock: NlSocketHandle,
    family: u16,
    seq: u32,
}

impl IpvsSocket {
    /// Opens a `NETLINK_GENERIC` socket and resolves the `IPVS` family. If the family is
    /// unknown (`ENOENT`: module not loaded), runs `modprobe ip_vs` once and retries, as
    /// keepalived does (`check/ipvswrapper.c`, `libipvs.c`).
    ///
    /// Errors: [`IpvsError::Io`] for socket failures, [`IpvsError::NoFamily`] when IPVS is not
    /// available even after modprobe.
    pub fn open() -> Result<IpvsSocket, IpvsError> {
        let sock = NlSocketHandle::connect(NlFamily::Generic, None, Groups::empty())
            .map_err(|e| IpvsError::Io(format!("open NETLINK_GENERIC socket: {e}")))?;
        // SAFETY: the fd belongs to `sock`, which outlives this borrow.
        let fd = unsafe { BorrowedFd::borrow_raw(sock.as_raw_fd()) };
        let sref = socket2::SockRef::from(&fd);
        sref.set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(|e| IpvsError::Io(format!("SO_RCVTIMEO: {e}")))?;
        let _ = sref.set_recv_buffer_size(1 << 20);
        let mut s = IpvsSocket {
            sock,
            family: 0,
            seq: 0,
        };
        s.family = match s.resolve_family() {
            Ok(id) => id,
            Err(IpvsError::Kernel { errno, .. }) if errno == libc::ENOENT => {
                let _ = std::process::Command::new("modprobe")
                    .arg("ip_vs")
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
                // keepalived's libipvs: the first request after loading may fail; retry once.
                s.resolve_family()
                    .or_else(|_| s.resolve_family())
                    .map_err(|_| IpvsError::NoFamily)?
            }
            Err(e) => return Err(e),
        };
        Ok(s)
    }

    fn resolve_family(&mut self) -> Result<u16, IpvsError> {
        let mut attrs = Vec::new();
        put_str(&mut attrs, CTRL_ATTR_FAMILY_NAME, IPVS_GENL_NAME);
        let mut body = vec![CTRL_CMD_GETFAMILY, 1, 0, 0];
        body.extend(attrs);
        let replies = self.request(GENL_ID_CTRL, body, false, "resolve IPVS family")?;
        for r in &replies {
            if let Some(id) = get_u16(&genl_attrs(r)?, CTRL_ATTR_FAMILY_ID) {
                return Ok(id);
            }
        }
        Err(IpvsError::NoFamily)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    fn send(&mut self, ty: u16, body: Vec<u8>, dump: bool) -> Result<u32, IpvsError> {
        let seq = self.next_seq();
        let flags = if dump {
            NlmF::REQUEST | NlmF::DUMP
        } else {
            NlmF::REQUEST | NlmF::ACK
        };
        let msg = NlmsghdrBuilder::default()
            .nl_type(ty)
            .nl_flags(flags)
            .nl_seq(seq)
            .nl_pid(0)
            .nl_payload(NlPayload::Payload(Buffer::from(body)))
            .build()
            .map_err(|e| IpvsError::Io(format!("build netlink message: {e}")))?;
        self.sock
            .send(&msg)
            .map_err(|e| IpvsError::Io(format!("send: {e}")))?;
        Ok(seq)
    }

    /// Sends one request and collects its reply payloads (dump: up to `NLMSG_DONE`; else up to
    /// the ACK).
    fn request(
        &mut self,
        ty: u16,
        body: Vec<u8>,
        dump: bool,
        op: &str,
    ) -> Result<Vec<Vec<u8>>, IpvsError> {
        let seq = self.send(ty, body, dump)?;
        let mut out = Vec::new();
        loop {
            let (iter, _) = match self.sock.recv::<u16, Buffer>() {
                Ok(r) => r,
                // EINTR (the daemon was stopped and continued, signal(7)): read again.
                Err(neli::err::SocketError::Io(e))
                    if e.kind() == std::io::ErrorKind::Interrupted =>
                {
                    continue;
                }
                Err(e) => return Err(IpvsError::Io(format!("{op}: recv: {e}"))),
            };
            for reply in iter {
                let reply = reply.map_err(|e| IpvsError::Decode(format!("{op}: {e}")))?;
                if *reply.nl_seq() != seq {
                    continue;
                }
                let done = *reply.nl_type() == u16::from(Nlmsg::Done);
                match reply.nl_payload() {
                    NlPayload::Err(e) => {
                        return Err(IpvsError::Kernel {
                            op: op.to_owned(),
                            errno: -*e.error(),
                        });
                    }
                    NlPayload::DumpExtAck(e) if *e.error() != 0 => {
                        return Err(IpvsError::Kernel {
                            op: op.to_owned(),
                            errno: -*e.error(),
                        });
                    }
                    NlPayload::Ack(_) | NlPayload::DumpExtAck(_) => return Ok(out),
                    _ if done => return Ok(out),
                    NlPayload::Payload(b) => {
                        out.push(b.as_ref().to_vec());
                        if !dump {
                            // A non-dump GET answers with one message and no ACK needed
                            // beyond it; the ACK follows and is read by the loop.
                        }
                    }
                    NlPayload::Empty => {}
                }
            }
        }
    }

    /// Every service in the kernel table (`IPVS_CMD_GET_SERVICE` dump).
    pub fn services(&mut self) -> Result<Vec<Service>, IpvsError> {
        let replies = self.request(
            self.family,
            genl_message(IPVS_CMD_GET_SERVICE, &[]),
            true,
            "dump services",
        )?;
        replies
            .iter()
            .map(|r| {
                let a = genl_attrs(r)?;
                let nest = a
                    .get(&IPVS_CMD_ATTR_SERVICE)
                    .ok_or_else(|| missing("GET_SERVICE reply", "SERVICE"))?;
                decode_service(nest)
            })
            .collect()
    }

    /// The destinations of one service (`IPVS_CMD_GET_DEST` dump with the service nest).
    pub fn dests(&mut self, key: &ServiceKey) -> Result<Vec<Dest>, IpvsError> {
        let replies = self.request(
            self.family,
            genl_message(IPVS_CMD_GET_DEST, &encode_service_key(key)),
            true,
            &format!("dump real servers of {key}"),
        )?;
        replies
            .iter()
            .map(|r| {
                let a = genl_attrs(r)?;
                let nest = a
                    .get(&IPVS_CMD_ATTR_DEST)
                    .ok_or_else(|| missing("GET_DEST reply", "DEST"))?;
                decode_dest(nest, key.af())
            })
            .collect()
    }

    /// Every service's counters and those of its destinations.
    pub fn stats(&mut self) -> Result<Vec<ServiceStats>, IpvsError> {
        let replies = self.request(
            self.family,
            genl_message(IPVS_CMD_GET_SERVICE, &[]),
            true,
            "dump services",
        )?;
        let mut out = Vec::new();
        for r in &replies {
            let a = genl_attrs(r)?;
            let nest = a
                .get(&IPVS_CMD_ATTR_SERVICE)
                .ok_or_else(|| missing("GET_SERVICE reply", "SERVICE"))?;
            let key = decode_service(nest)?.key;
            let sa = parse_attrs(nest)?;
            let svc = decode_stats(&sa, IPVS_SVC_ATTR_STATS64, IPVS_SVC_ATTR_STATS);
            let dreplies = self.request(
                self.family,
                genl_message(IPVS_CMD_GET_DEST, &encode_service_key(&key)),
                true,
                "dump real servers",
            )?;
            let mut dests = Vec::new();
            for d in &dreplies {
                let a = genl_attrs(d)?;
                let nest = a
                    .get(&IPVS_CMD_ATTR_DEST)
                    .ok_or_else(|| missing("GET_DEST reply", "DEST"))?;
                let dk = decode_dest(nest, key.af())?.key;
                let da = parse_attrs(nest)?;
                dests.push((
                    dk,
                    decode_stats(&da, IPVS_DEST_ATTR_STATS64, IPVS_DEST_ATTR_STATS),
                ));
            }
            out.push((key, svc, dests));
        }
        Ok(out)
    }

    /// The whole kernel table: services and their destinations.
    pub fn table(&mut self) -> Result<Table, IpvsError> {
        let mut table = Table::new();
        for service in self.services()? {
            let dests = self
                .dests(&service.key)?
                .into_iter()
                .map(|d| (d.key, d))
                .collect();
            table.insert(service.key, ServiceEntry { service, dests });
        }
        Ok(table)
    }

    /// Applies `ops` in order, pipelined and batched (see the module documentation). Returns
    /// the ops the kernel refused, with their errors, in order (the others were applied).
    ///
    /// Errors: [`IpvsError::Io`] when the socket itself fails (then it is unknown which of the
    /// outstanding ops were applied), [`IpvsError::Decode`] for a malformed reply.
    pub fn apply(&mut self, ops: &[Op]) -> Result<Vec<(Op, IpvsError)>, IpvsError> {
        let mut failed = Vec::new();
        let mut batch = Vec::with_capacity(BATCH_BYTES + 1024);
        let mut reply = vec![0u8; 64 * 1024];
        for chunk in ops.chunks(WINDOW) {
            // The window's sequence numbers are first..=last, without wrapping through 0.
            if self.seq > u32::MAX - WINDOW as u32 - 1 {
                self.seq = 0;
            }
            let first = self.seq.wrapping_add(1);
            let mut answered = vec![false; chunk.len()];
            let mut last = 0;
            for (i, op) in chunk.iter().enumerate() {
                // One message is at most a few hundred bytes (names are bounded by the kernel).
                if batch.len() > BATCH_BYTES - 1024 {
                    self.send_raw(&batch)?;
                    batch.clear();
                }
                last = self.next_seq();
                let flags = if i + 1 == chunk.len() {
                    NLM_F_REQUEST | NLM_F_ACK
                } else {
                    NLM_F_REQUEST
                };
                put_nlmsg(&mut batch, self.family, flags, last, |b| put_op(b, op));
            }
            if !batch.is_empty() {
                self.send_raw(&batch)?;
                batch.clear();
            }
            // The kernel handles the requests in order, so the last one's reply (its ACK, or
            // its error) comes after the errors of all the others.
            let mut done = false;
            while !done {
                let n = self.recv_raw(&mut reply)?;
                let mut data = &reply[..n];
                while data.len() >= NLMSG_HDRLEN {
                    let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
                    let ty = u16::from_ne_bytes([data[4], data[5]]);
                    let seq = u32::from_ne_bytes([data[8], data[9], data[10], data[11]]);
                    if len < NLMSG_HDRLEN || len > data.len() {
                        return Err(IpvsError::Decode(format!(
                            "netlink message of length {len} with {} bytes left",
                            data.len()
                        )));
                    }
                    let index = seq.wrapping_sub(first) as usize;
                    if ty == NLMSG_ERROR
                        && index < chunk.len()
                        && !std::mem::replace(&mut answered[index], true)
                    {
                        let op = &chunk[index];
                        let errno = data
                            .get(NLMSG_HDRLEN..NLMSG_HDRLEN + 4)
                            .map(|b| -i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                            .ok_or_else(|| IpvsError::Decode("short NLMSG_ERROR".into()))?;
                        if errno != 0 {
                            failed.push((
                                op.clone(),
                                IpvsError::Kernel {
                                    op: op.to_string(),
                                    errno,
                                },
                            ));
                        }
                        done |= seq == last;
                    }
                    data = &data[align4(len).min(data.len())..];
                }
            }
        }
        Ok(failed)
    }

    /// One `send` of ready-made netlink messages.
    fn send_raw(&mut self, data: &[u8]) -> Result<(), IpvsError> {
        loop {
            // SAFETY: the fd is this socket's; `data` is valid for `data.len()` bytes.
            let n =
                unsafe { libc::send(self.sock.as_raw_fd(), data.as_ptr().cast(), data.len(), 0) };
            if n >= 0 {
                return if n as usize == data.len() {
                    Ok(())
                } else {
                    Err(IpvsError::Io(format!("send: {n} of {} bytes", data.len())))
                };
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(IpvsError::Io(format!("send: {e}")));
            }
        }
    }

    /// One `recv` (one datagram) into `buf`; bounded by [`REPLY_TIMEOUT`].
    fn recv_raw(&mut self, buf: &mut [u8]) -> Result<usize, IpvsError> {
        loop {
            // SAFETY: the fd is this socket's; `buf` is writable for `buf.len()` bytes.
            let n =
                unsafe { libc::recv(self.sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = std::io::Error::last_os_error();
            match e.kind() {
                std::io::ErrorKind::Interrupted => continue,
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                    return Err(IpvsError::Io(format!(
                        "no reply from the kernel within {REPLY_TIMEOUT:?}"
                    )));
                }
                _ => return Err(IpvsError::Io(format!("recv replies: {e}"))),
            }
        }
    }

    /// Applies `ops` and fails on the first refused one.
    pub fn apply_all(&mut self, ops: &[Op]) -> Result<(), IpvsError> {
        match self.apply(ops)?.into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }

    /// `IPVS_CMD_FLUSH`: removes every service and destination (of this namespace).
    pub fn flush(&mut self) -> Result<(), IpvsError> {
        self.request(
            self.family,
            genl_message(IPVS_CMD_FLUSH, &[]),
            false,
            "flush",
        )
        .map(drop)
    }

    /// `IPVS_CMD_GET_INFO`.
    pub fn info(&mut self) -> Result<Info, IpvsError> {
        let replies = self.request(
            self.family,
            genl_message(IPVS_CMD_GET_INFO, &[]),
            false,
            "get info",
        )?;
        let r = replies
            .first()
            .ok_or_else(|| IpvsError::Decode("GET_INFO without answer".into()))?;
        let a = genl_attrs(r)?;
        Ok(Info {
            version: get_u32(&a, IPVS_INFO_ATTR_VERSION).unwrap_or(0),
            conn_tab_size: get_u32(&a, IPVS_INFO_ATTR_CONN_TAB_SIZE).unwrap_or(0),
        })
    }

    /// `IPVS_CMD_GET_CONFIG`: the connection timeouts.
    pub fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        let replies = self.request(
            self.family,
            genl_message(IPVS_CMD_GET_CONFIG, &[]),
            false,
            "get config",
        )?;
        let r = replies
            .first()
            .ok_or_else(|| IpvsError::Decode("GET_CONFIG without answer".into()))?;
        let a = genl_attrs(r)?;
        Ok(Timeouts {
            tcp: get_u32(&a, IPVS_CMD_ATTR_TIMEOUT_TCP).unwrap_or(0),
            tcp_fin: get_u32(&a, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN).unwrap_or(0),
            udp: get_u32(&a, IPVS_CMD_ATTR_TIMEOUT_UDP).unwrap_or(0),
        })
    }

    /// `IPVS_CMD_SET_CONFIG` (keepalived `lvs_timeouts`); zero fields are left unchanged.
    pub fn set_timeouts(&mut self, t: Timeouts) -> Result<(), IpvsError> {
        let mut attrs = Vec::new();
        put_u32(&mut attrs, IPVS_CMD_ATTR_TIMEOUT_TCP, t.tcp);
        put_u32(&mut attrs, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, t.tcp_fin);
        put_u32(&mut attrs, IPVS_CMD_ATTR_TIMEOUT_UDP, t.udp);
        self.request(
            self.family,
            genl_message(IPVS_CMD_SET_CONFIG, &attrs),
            false,
            "set config",
        )
        .map(drop)
    }
}

/// One IPVS connection-sync daemon (`IPVS_CMD_ATTR_DAEMON`; keepalived `lvs_sync_daemon`).
/// `None` fields are not sent, so the kernel uses its defaults (maxlen from the interface MTU,
/// group 224.0.0.81, port 8848, ttl 1); a GET_DAEMON dump fills them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDaemon {
    /// `IP_VS_STATE_MASTER` or `IP_VS_STATE_BACKUP`.
    pub state: u32,
    /// Multicast interface name (at most 15 bytes).
    pub mcast_ifn: String,
    /// Sync id (0-255).
    pub sync_id: u32,
    /// Largest sync message, bytes (`SYNC_MAXLEN`, u16).
    pub maxlen: Option<u16>,
    /// Multicast group (`MCAST_GROUP`, network-order u32, or `MCAST_GROUP6`).
    pub group: Option<IpAddr>,
    /// UDP port (`MCAST_PORT`, u16 in host order: the kernel applies `htons` itself).
    pub port: Option<u16>,
    /// Multicast TTL (`MCAST_TTL`, u8).
    pub ttl: Option<u8>,
}

/// The `IPVS_CMD_ATTR_DAEMON` nest for NEW_DAEMON (every set field) or, with `state_only`,
/// for DEL_DAEMON (just `STATE`).
pub fn encode_daemon(d: &SyncDaemon, state_only: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let nest = nest_start(&mut out, IPVS_CMD_ATTR_DAEMON);
    put_u32(&mut out, IPVS_DAEMON_ATTR_STATE, d.state);
    if !state_only {
        put_str(&mut out, IPVS_DAEMON_ATTR_MCAST_IFN, &d.mcast_ifn);
        put_u32(&mut out, IPVS_DAEMON_ATTR_SYNC_ID, d.sync_id);
        if let Some(m) = d.maxlen {
            put_u16(&mut out, IPVS_DAEMON_ATTR_SYNC_MAXLEN, m);
        }
        match d.group {
            Some(IpAddr::V4(g)) => put_attr(&mut out, IPVS_DAEMON_ATTR_MCAST_GROUP, &g.octets()),
            Some(IpAddr::V6(g)) => put_attr(&mut out, IPVS_DAEMON_ATTR_MCAST_GROUP6, &g.octets()),
            None => {}
        }
        if let Some(p) = d.port {
            put_u16(&mut out, IPVS_DAEMON_ATTR_MCAST_PORT, p);
        }
        if let Some(t) = d.ttl {
            put_attr(&mut out, IPVS_DAEMON_ATTR_MCAST_TTL, &[t]);
        }
    }
    nest_end(&mut out, nest);
    out
}

/// Decodes one GET_DAEMON reply's `IPVS_CMD_ATTR_DAEMON` nest.
pub fn decode_daemon(nest: &[u8]) -> Result<SyncDaemon, IpvsError> {
    let a = parse_attrs(nest)?;
    let group = match (
        a.get(&IPVS_DAEMON_ATTR_MCAST_GROUP),
        a.get(&IPVS_DAEMON_ATTR_MCAST_GROUP6),
    ) {
        (_, Some(g6)) if g6.len() == 16 => {
            Some(IpAddr::from(<[u8; 16]>::try_from(*g6).expect("16 bytes")))
        }
        (Some(g4), _) if g4.len() == 4 => {
            Some(IpAddr::from(<[u8; 4]>::try_from(*g4).expect("4 bytes")))
        }
        _ => None,
    };
    Ok(SyncDaemon {
        state: get_u32(&a, IPVS_DAEMON_ATTR_STATE)
            .ok_or_else(|| missing("daemon", "IPVS_DAEMON_ATTR_STATE"))?,
        mcast_ifn: get_str(&a, IPVS_DAEMON_ATTR_MCAST_IFN).unwrap_or_default(),
        sync_id: get_u32(&a, IPVS_DAEMON_ATTR_SYNC_ID).unwrap_or(0),
        maxlen: get_u16(&a, IPVS_DAEMON_ATTR_SYNC_MAXLEN),
        group,
        port: get_u16(&a, IPVS_DAEMON_ATTR_MCAST_PORT),
        ttl: a
            .get(&IPVS_DAEMON_ATTR_MCAST_TTL)
            .and_then(|v| v.first().copied()),
    })
}

impl IpvsSocket {
    /// `IPVS_CMD_NEW_DAEMON`: starts a sync daemon (`EEXIST` if one of that state runs).
    pub fn start_daemon(&mut self, d: &SyncDaemon) -> Result<(), IpvsError> {
        self.request(
            self.family,
            genl_message(IPVS_CMD_NEW_DAEMON, &encode_daemon(d, false)),
            false,
            "start sync daemon",
        )
        .map(drop)
    }

    /// `IPVS_CMD_DEL_DAEMON`: stops the daemon of `state` (`ESRCH` if none runs).
    pub fn stop_daemon(&mut self, state: u32) -> Result<(), IpvsError> {
        let d = SyncDaemon {
            state,
            mcast_ifn: String::new(),
            sync_id: 0,
            maxlen: None,
            group: None,
            port: None,
            ttl: None,
        };
        self.request(
            self.family,
            genl_message(IPVS_CMD_DEL_DAEMON, &encode_daemon(&d, true)),
            false,
            "stop sync daemon",
        )
        .map(drop)
    }

    /// `IPVS_CMD_GET_DAEMON` dump: the running sync daemons.
    pub fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        let replies = self.request(
            self.family,
            genl_message(IPVS_CMD_GET_DAEMON, &[]),
            true,
            "get sync daemons",
        )?;
        let mut out = Vec::new();
        for r in replies {
            let a = genl_attrs(&r)?;
            if let Some(nest) = a.get(&IPVS_CMD_ATTR_DAEMON) {
                out.push(decode_daemon(nest)?);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn stats_decode_64_and_32_bit_nests() {
        let mut s64 = Vec::new();
        put_attr(&mut s64, 1, &7u64.to_ne_bytes());
        put_attr(&mut s64, 4, &123_456_789_012u64.to_ne_bytes());
        put_attr(&mut s64, 6, &3u64.to_ne_bytes());
        let mut svc = Vec::new();
        put_attr(&mut svc, IPVS_SVC_ATTR_STATS64, &s64);
        let a = parse_attrs(&svc).unwrap();
        let st = decode_stats(&a, IPVS_SVC_ATTR_STATS64, IPVS_SVC_ATTR_STATS);
        assert_eq!(
            (st.conns, st.inbytes, st.cps, st.outpkts),
            (7, 123_456_789_012, 3, 0)
        );
        let mut s32 = Vec::new();
        put_attr(&mut s32, 2, &9u32.to_ne_bytes());
        let mut dest = Vec::new();
        put_attr(&mut dest, IPVS_DEST_ATTR_STATS, &s32);
        let a = parse_attrs(&dest).unwrap();
        let st = decode_stats(&a, IPVS_DEST_ATTR_STATS64, IPVS_DEST_ATTR_STATS);
        assert_eq!(st.inpkts, 9);
    }

    use super::*;

    #[test]
    fn daemon_encoding_byte_for_byte() {
        let d = SyncDaemon {
            state: IP_VS_STATE_MASTER,
            mcast_ifn: "eth1".into(),
            sync_id: 7,
            maxlen: Some(1400),
            group: Some("224.0.0.90".parse().unwrap()),
            port: Some(8850),
            ttl: Some(2),
        };
        let mut want = Vec::new();
        // IPVS_CMD_ATTR_DAEMON: 4 + 8 (STATE) + 12 (IFN "eth1\0" padded) + 8 (SYNC_ID)
        // + 8 (MAXLEN u16 padded) + 8 (GROUP) + 8 (PORT) + 8 (TTL u8 padded) = 64.
        want.extend_from_slice(&ne16(64));
        want.extend_from_slice(&ne16(IPVS_CMD_ATTR_DAEMON));
        want.extend_from_slice(&ne16(8));
        want.extend_from_slice(&ne16(IPVS_DAEMON_ATTR_STATE));
        want.extend_from_slice(&ne32(1));
        want.extend_from_slice(&ne16(9));
        want.extend_from_slice(&ne16(IPVS_DAEMON_ATTR_MCAST_IFN));
        want.extend_from_slice(b"eth1\0\0\0\0");
        want.extend_from_slice(&ne16(8));
        want.extend_from_slice(&ne16(IPVS_DAEMON_ATTR_SYNC_ID));
        want.extend_from_slice(&ne32(7));
        want.extend_from_slice(&ne16(6));
        want.extend_from_slice(&ne16(IPVS_DAEMON_ATTR_SYNC_MAXLEN));
        want.extend_from_slice(&1400u16.to_ne_bytes());
        want.extend_from_slice(&[0, 0]);
        want.extend_from_slice(&ne16(8));
        want.extend_from_slice(&ne16(IPVS_DAEMON_ATTR_MCAST_GROUP));
        want.extend_from_slice(&[224, 0, 0, 90]);
        want.extend_from_slice(&ne16(6));
        want.extend_from_slice(&ne16(IPVS_DAEMON_ATTR_MCAST_PORT));
        want.extend_from_slice(&8850u16.to_ne_bytes());
        want.extend_from_slice(&[0, 0]);
        want.extend_from_slice(&ne16(5));
        want.extend_from_slice(&ne16(IPVS_DAEMON_ATTR_MCAST_TTL));
        want.extend_from_slice(&[2, 0, 0, 0]);
        let got = encode_daemon(&d, false);
        assert_eq!(got, want);
        // The dump decodes back to the same daemon.
        assert_eq!(decode_daemon(&got[4..]).unwrap(), d);
        // DEL_DAEMON carries the state only.
        let mut del = ne16(12).to_vec();
        del.extend_from_slice(&want[2..12]);
        assert_eq!(encode_daemon(&d, true), del);
    }

    fn ne16(v: u16) -> [u8; 2] {
        v.to_ne_bytes()
    }
    fn ne32(v: u32) -> [u8; 4] {
        v.to_ne_bytes()
    }

    fn tcp_svc() -> Service {
        Service {
            key: ServiceKey::Addr {
                protocol: IPPROTO_TCP,
                addr: "192.168.200.100".parse().unwrap(),
                port: 443,
            },
            sched: "wlc".into(),
            flags: IP_VS_SVC_F_PERSISTENT,
            timeout: 50,
            netmask: 0xffff_ffff,
            pe_name: None,
        }
    }

    /// The service nest, written out by hand from ip_vs.h.
    #[test]
    fn service_encoding_byte_for_byte() {
        let got = encode_service(&tcp_svc(), true);
        let mut want = Vec::new();
        // outer nest header: len = 4 + inner
        let inner_len = 8 + 8 + 20 + 8 + 8 + 12 + 8 + 8;
        want.extend(ne16(4 + inner_len));
        want.extend(ne16(1));
        want.extend([6, 0]); // len 6
        want.extend(ne16(1)); // AF
        want.extend(ne16(2));
        want.extend([0, 0]); // AF_INET + pad
        want.extend(ne16(6));
        want.extend(ne16(2)); // PROTOCOL
        want.extend(ne16(6));
        want.extend([0, 0]);
        want.extend(ne16(20));
        want.extend(ne16(3)); // ADDR, 16 bytes
        want.extend([192, 168, 200, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        want.extend(ne16(6));
        want.extend(ne16(4)); // PORT, network order
        want.extend([0x01, 0xbb, 0, 0]);
        want.extend(ne16(8));
        want.extend(ne16(6)); // SCHED_NAME "wlc\0"
        want.extend(b"wlc\0");
        want.extend(ne16(12));
        want.extend(ne16(7)); // FLAGS {flags, mask}
        want.extend(ne32(1));
        want.extend(ne32(0xffff_ffff));
        want.extend(ne16(8));
        want.extend(ne16(8)); // TIMEOUT host order
        want.extend(ne32(50));
        want.extend(ne16(8));
        want.extend(ne16(9)); // NETMASK
        want.extend(ne32(0xffff_ffff));
        assert_eq!(got, want);
        assert_eq!(decode_service(&got[4..]).unwrap(), tcp_svc());
    }

    #[test]
    fn fwmark_and_ipv6_encoding() {
        let svc = Service {
            key: ServiceKey::Fwmark {
                af: AF_INET6,
                mark: 0x0102_0304,
            },
            sched: "rr".into(),
            flags: 0,
            timeout: 0,
            netmask: 128,
            pe_name: None,
        };
        let got = encode_service(&svc, false);
        let mut want = Vec::new();
        want.extend(ne16(4 + 8 + 8));
        want.extend(ne16(1));
        want.extend([6, 0]);
        want.extend(ne16(1));
        want.extend(ne16(10));
        want.extend([0, 0]);
        want.extend(ne16(8));
        want.extend(ne16(5)); // FWMARK host order
        want.extend(ne32(0x0102_0304));
        assert_eq!(got, want);
        // The IPv6 netmask is a prefix length, not a 16-byte mask.
        let full = encode_service(&svc, true);
        let attrs = parse_attrs(&full[4..]).unwrap();
        assert_eq!(attrs[&IPVS_SVC_ATTR_NETMASK], ne32(128));
        assert_eq!(decode_service(&full[4..]).unwrap(), svc);
    }

    /// Strings are NUL-terminated and padded to 4 (`"rr"`: nla_len 7, one byte of padding);
    /// small and large attributes are laid out alike.
    #[test]
    fn string_and_attribute_padding() {
        let mut rr = Vec::new();
        put_str(&mut rr, IPVS_SVC_ATTR_SCHED_NAME, "rr");
        assert_eq!(rr, [7, 0, 6, 0, b'r', b'r', 0, 0]);
        for name in [
            "",
            "sh",
            "wrr",
            "lblc",
            "lblcr",
            "a-much-longer-name-than-twenty-bytes",
        ] {
            let mut got = Vec::new();
            put_str(&mut got, 6, name);
            let mut nul = name.as_bytes().to_vec();
            nul.push(0);
            let mut want = ne16(4 + nul.len() as u16).to_vec();
            want.extend(ne16(6));
            want.extend(&nul);
            want.resize(align4(want.len()), 0);
            assert_eq!(got, want, "{name:?}");
            let mut via_attr = Vec::new();
            put_attr(&mut via_attr, 6, &nul);
            assert_eq!(via_attr, want, "{name:?}");
        }
    }

    #[test]
    fn dest_encoding_byte_for_byte() {
        let d = Dest {
            key: DestKey {
                addr: "2001:db8::1".parse().unwrap(),
                port: 8080,
            },
            fwd: IP_VS_CONN_F_DROUTE,
            weight: 3,
            u_thresh: 100,
            l_thresh: 10,
            tun: Tunnel::default(),
        };
        let got = encode_dest(&d, true);
        let mut want = Vec::new();
        want.extend(ne16(4 + 20 + 8 + 8 * 4 + 8));
        want.extend(ne16(2));
        want.extend(ne16(20));
        want.extend(ne16(1));
        want.extend([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        want.extend(ne16(6));
        want.extend(ne16(2));
        want.extend([0x1f, 0x90, 0, 0]); // 8080 network order
        for (ty, v) in [(3u16, 3u32), (4, 3), (5, 100), (6, 10)] {
            want.extend(ne16(8));
            want.extend(ne16(ty));
            want.extend(ne32(v));
        }
        want.extend(ne16(6));
        want.extend(ne16(11)); // ADDR_FAMILY
        want.extend(ne16(10));
        want.extend([0, 0]);
        assert_eq!(got, want);
        assert_eq!(decode_dest(&got[4..], AF_INET).unwrap(), d);
    }

    /// A tunnel destination carries TUN_TYPE (u8), TUN_PORT (network order), TUN_FLAGS (u16);
    /// the other methods do not send them.
    #[test]
    fn tunnel_dest_attributes() {
        let mut d = Dest {
            key: DestKey {
                addr: "10.0.0.2".parse().unwrap(),
                port: 80,
            },
            fwd: IP_VS_CONN_F_TUNNEL,
            weight: 1,
            u_thresh: 0,
            l_thresh: 0,
            tun: Tunnel {
                kind: IP_VS_CONN_F_TUNNEL_TYPE_GUE,
                port: 6080,
                flags: IP_VS_TUNNEL_ENCAP_FLAG_CSUM,
            },
        };
        let got = encode_dest(&d, true);
        let a = parse_attrs(&got[4..]).unwrap();
        assert_eq!(a[&IPVS_DEST_ATTR_TUN_TYPE], [1]);
        assert_eq!(a[&IPVS_DEST_ATTR_TUN_PORT], [0x17, 0xc0]);
        assert_eq!(a[&IPVS_DEST_ATTR_TUN_FLAGS], ne16(1));
        assert_eq!(decode_dest(&got[4..], AF_INET).unwrap(), d);
        d.fwd = IP_VS_CONN_F_DROUTE;
        d.tun = Tunnel::default();
        let a2 = encode_dest(&d, true);
        let a2 = parse_attrs(&a2[4..]).unwrap();
        assert!(!a2.contains_key(&IPVS_DEST_ATTR_TUN_TYPE));
        assert_eq!(
            decode_dest(&encode_dest(&d, true)[4..], AF_INET).unwrap(),
            d
        );
    }

    /// The kernel's dumps carry a 16-byte address for IPv4 too, and the HASHED flag.
    #[test]
    fn decode_kernel_style_ipv4_dump() {
        let mut inner = Vec::new();
        put_u16(&mut inner, IPVS_SVC_ATTR_AF, AF_INET);
        put_u16(&mut inner, IPVS_SVC_ATTR_PROTOCOL, IPPROTO_UDP);
        put_attr(
            &mut inner,
            IPVS_SVC_ATTR_ADDR,
            &inet_addr_bytes(&"10.1.2.3".parse().unwrap()),
        );
        put_port(&mut inner, IPVS_SVC_ATTR_PORT, 53);
        put_str(&mut inner, IPVS_SVC_ATTR_SCHED_NAME, "sh");
        put_attr(
            &mut inner,
            IPVS_SVC_ATTR_FLAGS,
            &[0x1a, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
        );
        put_attr(&mut inner, IPVS_SVC_ATTR_STATS, &[4, 0, 1, 0]);
        let s = decode_service(&inner).unwrap();
        assert_eq!(
            s.key,
            ServiceKey::Addr {
                protocol: IPPROTO_UDP,
                addr: "10.1.2.3".parse().unwrap(),
                port: 53
            }
        );
        assert_eq!(s.flags, IP_VS_SVC_F_SCHED1 | IP_VS_SVC_F_SCHED2);
        assert_eq!(s.sched, "sh");
        assert!(parse_attrs(&[8, 0, 1, 0, 0]).is_err());
    }

    #[test]
    fn op_messages_carry_command_and_version() {
        let key = tcp_svc().key;
        let del = encode_op(&Op::DelService(key));
        assert_eq!(&del[..4], &[IPVS_CMD_DEL_SERVICE, 1, 0, 0]);
        assert_eq!(&del[4..], &encode_service(&tcp_svc(), false)[..]);
        let dd = encode_op(&Op::DelDest(
            key,
            DestKey {
                addr: "10.0.0.2".parse().unwrap(),
                port: 80,
            },
        ));
        assert_eq!(dd[0], IPVS_CMD_DEL_DEST);
        let a = parse_attrs(&dd[4..]).unwrap();
        let d = parse_attrs(a[&IPVS_CMD_ATTR_DEST]).unwrap();
        assert_eq!(d.keys().copied().collect::<Vec<_>>(), [1, 2, 11]);
        assert_eq!(d[&IPVS_DEST_ATTR_PORT], [0, 80]);
    }
}
