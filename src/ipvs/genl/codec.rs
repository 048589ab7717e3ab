//! The IPVS generic netlink codec: `nlmsghdr`/`genlmsghdr` framing and the attributes of
//! services, destinations, changes, counters and sync daemons, byte for byte as
//! `include/uapi/linux/ip_vs.h` and `net/netfilter/ipvs/ip_vs_ctl.c` expect them (the rules are
//! in the [parent module](super)). Pure: no socket.

use crate::ipvs::IpvsError;
use crate::ipvs::consts::*;
use crate::ipvs::model::*;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `struct nlmsghdr` length.
pub(super) const NLMSG_HDRLEN: usize = 16;
/// `NLMSG_ERROR`: an acknowledgement (error 0) or an error reply.
pub(super) const NLMSG_ERROR: u16 = 2;
/// `NLM_F_REQUEST`.
pub(super) const NLM_F_REQUEST: u16 = 1;
/// `NLM_F_ACK`.
pub(super) const NLM_F_ACK: u16 = 4;

// ----- attribute encoding ------------------------------------------------------------------

/// `struct nlattr` header length.
const NLA_HDRLEN: usize = 4;

pub(super) fn align4(n: usize) -> usize {
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

pub(super) fn put_u16(buf: &mut Vec<u8>, ty: u16, v: u16) {
    put_attr(buf, ty, &v.to_ne_bytes());
}

pub(super) fn put_u32(buf: &mut Vec<u8>, ty: u16, v: u32) {
    put_attr(buf, ty, &v.to_ne_bytes());
}

/// A port: network byte order.
pub(super) fn put_port(buf: &mut Vec<u8>, ty: u16, port: u16) {
    put_attr(buf, ty, &port.to_be_bytes());
}

/// A NUL-terminated string (`NLA_NUL_STRING`).
pub(super) fn put_str(buf: &mut Vec<u8>, ty: u16, s: &str) {
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
pub(super) fn service_id_attrs(buf: &mut Vec<u8>, key: &ServiceKey) {
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
pub(super) fn nest_start(buf: &mut Vec<u8>, ty: u16) -> usize {
    let at = buf.len();
    let mut hdr = [0u8; NLA_HDRLEN];
    hdr[2..].copy_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(&hdr);
    at
}

/// Ends the nest started at `at`: writes its length (header and contents, all of them
/// 4-byte aligned already).
pub(super) fn nest_end(buf: &mut [u8], at: usize) {
    let len = (buf.len() - at) as u16;
    buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
}

/// Appends the `IPVS_CMD_ATTR_SERVICE` nest (see [`encode_service`]).
pub(super) fn put_service(buf: &mut Vec<u8>, svc: &Service, full: bool) {
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
pub(super) fn put_service_key(buf: &mut Vec<u8>, key: &ServiceKey) {
    let nest = nest_start(buf, IPVS_CMD_ATTR_SERVICE);
    service_id_attrs(buf, key);
    nest_end(buf, nest);
}

pub(super) fn encode_service_key(key: &ServiceKey) -> Vec<u8> {
    let mut out = Vec::new();
    put_service_key(&mut out, key);
    out
}

/// Appends the `IPVS_CMD_ATTR_DEST` nest (see [`encode_dest`]); without `full`, only
/// `dest.key` is used.
pub(super) fn put_dest(buf: &mut Vec<u8>, dest: &Dest, full: bool) {
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
pub(super) fn put_nlmsg(
    buf: &mut Vec<u8>,
    ty: u16,
    flags: u16,
    seq: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
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
pub(super) fn put_op(buf: &mut Vec<u8>, op: &Op) {
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

pub(super) fn get_u16(a: &BTreeMap<u16, &[u8]>, ty: u16) -> Option<u16> {
    a.get(&ty)
        .and_then(|b| b.get(..2))
        .map(|b| u16::from_ne_bytes([b[0], b[1]]))
}

pub(super) fn get_u32(a: &BTreeMap<u16, &[u8]>, ty: u16) -> Option<u32> {
    a.get(&ty)
        .and_then(|b| b.get(..4))
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

pub(super) fn get_port(a: &BTreeMap<u16, &[u8]>, ty: u16) -> Option<u16> {
    a.get(&ty)
        .and_then(|b| b.get(..2))
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
}

pub(super) fn get_str(a: &BTreeMap<u16, &[u8]>, ty: u16) -> Option<String> {
    a.get(&ty).map(|b| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    })
}

/// An address by family (the kernel always sends 16 bytes).
pub(super) fn get_addr(a: &BTreeMap<u16, &[u8]>, ty: u16, af: u16) -> Option<IpAddr> {
    let b = a.get(&ty)?;
    if af == AF_INET6 {
        let o: [u8; 16] = b.get(..16)?.try_into().ok()?;
        Some(IpAddr::V6(Ipv6Addr::from(o)))
    } else {
        let o: [u8; 4] = b.get(..4)?.try_into().ok()?;
        Some(IpAddr::V4(Ipv4Addr::from(o)))
    }
}

pub(super) fn missing(what: &str, attr: &str) -> IpvsError {
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
pub(super) fn decode_stats(a: &BTreeMap<u16, &[u8]>, stats64: u16, stats32: u16) -> IpvsStats {
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
pub(super) fn genl_attrs(body: &[u8]) -> Result<BTreeMap<u16, &[u8]>, IpvsError> {
    parse_attrs(
        body.get(4..)
            .ok_or_else(|| IpvsError::Decode("short genetlink message".into()))?,
    )
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
