//! VRRP over IPv6 (RFC 5798 §5.1.2) and unsolicited Neighbour Advertisements, plus
//! [`AnyVrrpSocket`], which lets the engine hold IPv4 and IPv6 VRRP sockets side by side.
//!
//! VRRP over IPv6: a raw `AF_INET6` socket for protocol 112. Unlike IPv4, the kernel never hands
//! up the IPv6 header, so what the engine needs from it comes as ancillary data:
//! `IPV6_RECVHOPLIMIT` (RFC 5798 §5.1.2.3: the hop limit MUST be 255; the engine checks it) and
//! `IPV6_RECVPKTINFO` (the destination, to tell multicast from unicast adverts). The VRRP checksum
//! (RFC 5798 §5.2.8, over the IPv6 pseudo-header) is left to the kernel with `IPV6_CHECKSUM` at
//! offset 6 (RFC 3542 §3.1): it fills the field on send and drops bad checksums on receive, as
//! keepalived (`if_setsockopt_ipv6_checksum`) sets it up. The source address of each advert (the
//! interface's first link-local address, or `unicast_src_ip`) is fixed per datagram with an
//! `IPV6_PKTINFO` control message.
//!
//! Unsolicited NAs (RFC 4861 §7.2.6) go out of one raw ICMPv6 socket per namespace to ff02::1
//! with hop limit 255; the kernel computes the ICMPv6 checksum and picks the interface's
//! link-local address as source (RFC 4861 §7.2.2 requires a link-local source for ND).
//! The message itself is built by `wire::ndisc`.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv6Addr, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn6, setsockopt, sockopt,
};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::NetError;
use super::socket::{IPPROTO_VRRP, VrrpSocket};

/// The IPv6 multicast group of VRRP (RFC 5798 §5.1.2.2), keepalived's default
/// `vrrp_mcast_group6`.
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// Offset of the checksum in a VRRP message, for `IPV6_CHECKSUM` (RFC 5798 §5.2.8).
pub const VRRP_CHECKSUM_OFFSET: libc::c_int = 6;

/// One received IPv6 advert: the fields the kernel reported, and the payload length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received6 {
    pub src: Ipv6Addr,
    /// Destination from `IPV6_PKTINFO` (`::` if the kernel gave none).
    pub dst: Ipv6Addr,
    /// Hop limit from `IPV6_HOPLIMIT` (0 if the kernel gave none, which then fails the check).
    pub hop_limit: u8,
    /// Length of the VRRP message at `buf[..len]`.
    pub len: usize,
    /// When the kernel received it (see [`super::socket::arrival`]).
    pub at: Option<std::time::Instant>,
}

/// A raw IPv6 socket for protocol 112 on one interface, registered with tokio's reactor.
#[derive(Debug)]
pub struct Vrrp6Socket {
    fd: AsyncFd<Socket>,
    ifindex: u32,
    src: Ipv6Addr,
}

impl Vrrp6Socket {
    /// Opens the socket on `ifname` with `src` as the source of everything sent.
    ///
    /// * `group`: `Some(ff02::12)` to join the VRRP group on the interface (multicast mode);
    ///   `None` for unicast peers: the socket is then `bind()`-ed to `src` so that it receives
    ///   only adverts addressed to us (keepalived `open_vrrp_read_socket`).
    /// * `unicast_hops`: hop limit of unicast adverts (`unicast_ttl`, default 255); multicast
    ///   adverts always leave with 255.
    ///
    /// Must run inside a tokio runtime, in the namespace of `ifname`. Errors: [`NetError::Io`]
    /// naming the failed step (`EADDRNOTAVAIL` from bind if `src` is not ours or still
    /// tentative).
    pub fn open(
        ifname: &str,
        src: Ipv6Addr,
        group: Option<Ipv6Addr>,
        unicast_hops: u8,
    ) -> Result<Vrrp6Socket, NetError> {
        let ifindex = nix::net::if_::if_nametoindex(ifname)
            .map_err(|e| NetError::io(format!("if_nametoindex({ifname})"), e.into()))?;
        let step = |what: &str| format!("VRRP IPv6 socket on {ifname}: {what}");
        let sock = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(IPPROTO_VRRP)))
            .map_err(|e| NetError::io(step("socket(AF_INET6, SOCK_RAW, 112)"), e))?;
        sock.set_nonblocking(true)
            .map_err(|e| NetError::io(step("O_NONBLOCK"), e))?;
        sock.bind_device(Some(ifname.as_bytes()))
            .map_err(|e| NetError::io(step("SO_BINDTODEVICE"), e))?;
        set_int(
            &sock,
            libc::IPPROTO_IPV6,
            libc::IPV6_CHECKSUM,
            VRRP_CHECKSUM_OFFSET,
        )
        .map_err(|e| NetError::io(step("IPV6_CHECKSUM 6"), e))?;
        sock.set_multicast_hops_v6(255)
            .map_err(|e| NetError::io(step("IPV6_MULTICAST_HOPS 255"), e))?;
        sock.set_unicast_hops_v6(u32::from(unicast_hops))
            .map_err(|e| NetError::io(step("IPV6_UNICAST_HOPS"), e))?;
        sock.set_multicast_loop_v6(false)
            .map_err(|e| NetError::io(step("IPV6_MULTICAST_LOOP off"), e))?;
        sock.set_multicast_if_v6(ifindex)
            .map_err(|e| NetError::io(step("IPV6_MULTICAST_IF"), e))?;
        setsockopt(&sock, sockopt::Ipv6RecvHopLimit, &true)
            .map_err(|e| NetError::io(step("IPV6_RECVHOPLIMIT"), e.into()))?;
        setsockopt(&sock, sockopt::Ipv6RecvPacketInfo, &true)
            .map_err(|e| NetError::io(step("IPV6_RECVPKTINFO"), e.into()))?;
        setsockopt(&sock, sockopt::ReceiveTimestampns, &true)
            .map_err(|e| NetError::io(step("SO_TIMESTAMPNS"), e.into()))?;
        match group {
            Some(g) => sock
                .join_multicast_v6(&g, ifindex)
                .map_err(|e| NetError::io(step(&format!("IPV6_ADD_MEMBERSHIP {g}")), e))?,
            None => {
                let scope = if is_link_local(src) { ifindex } else { 0 };
                sock.bind(&SockAddr::from(SocketAddrV6::new(src, 0, 0, scope)))
                    .map_err(|e| NetError::io(step(&format!("bind {src}")), e))?;
            }
        }
        // SAFETY: `Socket` owns its fd; it stays open until the AsyncFd drops it.
        let fd = unsafe { AsyncFd::register(sock) }
            .map_err(|e| NetError::io(step("register with tokio"), e.into_parts().1))?;
        Ok(Vrrp6Socket { fd, ifindex, src })
    }

    /// Index of the interface the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Joins the group `new` on the socket's interface, then leaves `old` (a reload's
    /// `vrrp_mcast_group6`). Errors: [`NetError::Io`] naming the membership call.
    pub fn move_group(&self, old: Ipv6Addr, new: Ipv6Addr) -> Result<(), NetError> {
        let sock = self.fd.get_ref();
        sock.join_multicast_v6(&new, self.ifindex)
            .map_err(|e| NetError::io(format!("IPV6_ADD_MEMBERSHIP {new}"), e))?;
        sock.leave_multicast_v6(&old, self.ifindex)
            .map_err(|e| NetError::io(format!("IPV6_DROP_MEMBERSHIP {old}"), e))
    }

    /// Sends one VRRP message to `dst` (the group or a unicast peer); the kernel fills the
    /// checksum. Waits for buffer space if needed.
    pub async fn send_to(&self, payload: &[u8], dst: Ipv6Addr) -> Result<(), NetError> {
        loop {
            let mut guard = self
                .fd
                .writable()
                .await
                .map_err(|e| NetError::io(format!("wait writable to send to {dst}"), e))?;
            match guard.try_io(|s| self.send_now(s.get_ref(), payload, dst)) {
                Ok(res) => return res.map_err(|e| NetError::io(format!("sendmsg to {dst}"), e)),
                Err(_would_block) => continue,
            }
        }
    }

    fn send_now(&self, sock: &Socket, payload: &[u8], dst: Ipv6Addr) -> io::Result<()> {
        let scope = if is_link_local(dst) || dst.is_multicast() {
            self.ifindex
        } else {
            0
        };
        let addr = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, scope));
        let info = libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr {
                s6_addr: self.src.octets(),
            },
            ipi6_ifindex: self.ifindex,
        };
        let cmsgs = [ControlMessage::Ipv6PacketInfo(&info)];
        super::socket::sendmsg_all(sock, payload, &cmsgs, &addr)
    }

    /// Receives one advert into `buf` (no IPv6 header: the message starts at `buf[0]`).
    ///
    /// Errors: [`NetError::Truncated`] if it did not fit, [`NetError::Malformed`] if the kernel
    /// gave no IPv6 source address, [`NetError::Io`] otherwise.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<Received6, NetError> {
        loop {
            let mut guard = self
                .fd
                .readable()
                .await
                .map_err(|e| NetError::io("wait readable on VRRP IPv6 socket", e))?;
            match guard.try_io(|s| recv_with_info(s.get_ref(), buf)) {
                Ok(res) => {
                    return res
                        .map_err(|e| NetError::io("recvmsg on VRRP IPv6 socket", e))
                        .and_then(|r| r);
                }
                Err(_would_block) => continue,
            }
        }
    }
}

fn recv_with_info(sock: &Socket, buf: &mut [u8]) -> io::Result<Result<Received6, NetError>> {
    let capacity = buf.len();
    let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int, nix::sys::time::TimeSpec);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = nix::sys::socket::recvmsg::<SockaddrIn6>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_TRUNC,
    )?;
    let mut dst = Ipv6Addr::UNSPECIFIED;
    let mut hop_limit = 0u8;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            match c {
                ControlMessageOwned::Ipv6PacketInfo(info) => {
                    dst = Ipv6Addr::from(info.ipi6_addr.s6_addr);
                }
                ControlMessageOwned::Ipv6HopLimit(h) => hop_limit = h.clamp(0, 255) as u8,
                _ => {}
            }
        }
    }
    let len = msg.bytes;
    let at = super::socket::arrival_of(&msg);
    let Some(src) = msg.address.map(|a| a.ip()) else {
        return Ok(Err(NetError::Malformed("no IPv6 source address")));
    };
    if len > capacity {
        return Ok(Err(NetError::Truncated { len, capacity }));
    }
    Ok(Ok(Received6 {
        src,
        dst,
        hop_limit,
        len,
        at,
    }))
}

/// Sending unsolicited NAs: the IPv6 counterpart of [`super::GarpTx`].
pub trait NaTx {
    /// Sends one NA message (`icmp`, ICMPv6 header onwards) to ff02::1 on `ifindex` with hop
    /// limit 255. Does not wait: a full buffer gives an error of kind `WouldBlock`.
    fn send_na(&self, ifindex: u32, icmp: &[u8]) -> Result<(), NetError>;
}

/// One raw ICMPv6 socket for every interface of the namespace, with all reception filtered
/// out (`ICMP6_FILTER` blocks every type) so that nothing queues on it.
#[derive(Debug)]
pub struct NaSocket {
    sock: Socket,
}

impl NaSocket {
    /// Opens the socket (non-blocking). Errors: [`NetError::Io`], e.g. `EPERM` without
    /// `CAP_NET_RAW`.
    pub fn open() -> Result<NaSocket, NetError> {
        let sock = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))
            .map_err(|e| NetError::io("socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)", e))?;
        sock.set_nonblocking(true)
            .map_err(|e| NetError::io("ICMPv6 socket: O_NONBLOCK", e))?;
        sock.set_multicast_hops_v6(255)
            .map_err(|e| NetError::io("ICMPv6 socket: IPV6_MULTICAST_HOPS 255", e))?;
        sock.set_multicast_loop_v6(false)
            .map_err(|e| NetError::io("ICMPv6 socket: IPV6_MULTICAST_LOOP off", e))?;
        // ICMP6_FILTER_SETBLOCKALL: a set bit blocks that type (Linux semantics).
        let filter = [u32::MAX; 8];
        // SAFETY: `filter` is a valid `struct icmp6_filter` (8 × u32) living across the call.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::IPPROTO_ICMPV6,
                1, // ICMP6_FILTER
                filter.as_ptr().cast(),
                size_of_val(&filter) as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(NetError::io(
                "ICMPv6 socket: ICMP6_FILTER",
                io::Error::last_os_error(),
            ));
        }
        Ok(NaSocket { sock })
    }
}

impl NaTx for NaSocket {
    fn send_na(&self, ifindex: u32, icmp: &[u8]) -> Result<(), NetError> {
        let op = || format!("send unsolicited NA on ifindex {ifindex}");
        let dst = crate::wire::ndisc::ALL_NODES;
        let addr = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, ifindex));
        let info = libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr { s6_addr: [0; 16] },
            ipi6_ifindex: ifindex,
        };
        let cmsgs = [ControlMessage::Ipv6PacketInfo(&info)];
        super::socket::sendmsg_all(&self.sock, icmp, &cmsgs, &addr)
            .map_err(|e| NetError::io(op(), e))
    }
}

/// A received advert of either family (see [`AnyVrrpSocket::recv`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceivedAny {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    pub len: usize,
    /// When the kernel received it, if it said (see [`super::socket::arrival`]).
    pub at: Option<std::time::Instant>,
}

/// The VRRP socket of one (interface, source address), IPv4 or IPv6.
#[derive(Debug)]
pub enum AnyVrrpSocket {
    V4(VrrpSocket),
    V6(Vrrp6Socket),
}

impl AnyVrrpSocket {
    /// Sends one VRRP message to `dst`, which must be of the socket's family.
    pub async fn send_to(&self, payload: &[u8], dst: IpAddr) -> Result<(), NetError> {
        match (self, dst) {
            (AnyVrrpSocket::V4(s), IpAddr::V4(d)) => s.send_to(payload, d).await,
            (AnyVrrpSocket::V6(s), IpAddr::V6(d)) => s.send_to(payload, d).await,
            _ => Err(NetError::io(
                format!("sendmsg to {dst}"),
                io::Error::from_raw_os_error(libc::EAFNOSUPPORT),
            )),
        }
    }

    /// Moves the socket's multicast membership on its interface from the group `old` to
    /// `new` (`vrrp_mcast_group4`/`vrrp_mcast_group6` changed by a reload): joins `new`, then
    /// leaves `old`, so that adverts to either arrive in between. Both must be of the
    /// socket's family.
    ///
    /// Errors: [`NetError::Io`] naming the step (`IP_ADD_MEMBERSHIP`, `IPV6_DROP_MEMBERSHIP`,
    /// ...); a failed join leaves the old membership in place; `EAFNOSUPPORT` for a group of
    /// the other family.
    pub fn move_group(&self, old: IpAddr, new: IpAddr) -> Result<(), NetError> {
        let family = || {
            NetError::io(
                format!("move multicast group {old} -> {new}"),
                io::Error::from_raw_os_error(libc::EAFNOSUPPORT),
            )
        };
        match (self, old, new) {
            (AnyVrrpSocket::V4(s), IpAddr::V4(o), IpAddr::V4(n)) => s.move_group(o, n),
            (AnyVrrpSocket::V6(s), IpAddr::V6(o), IpAddr::V6(n)) => s.move_group(o, n),
            _ => Err(family()),
        }
    }

    /// Receives one advert; the VRRP message is left at `buf[..len]`.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<ReceivedAny, NetError> {
        match self {
            AnyVrrpSocket::V4(s) => s.recv(buf).await.map(|r| ReceivedAny {
                src: IpAddr::V4(r.src),
                dst: IpAddr::V4(r.dst),
                ttl: r.ttl,
                len: r.len,
                at: r.at,
            }),
            AnyVrrpSocket::V6(s) => s.recv(buf).await.map(|r| ReceivedAny {
                src: IpAddr::V6(r.src),
                dst: IpAddr::V6(r.dst),
                ttl: r.hop_limit,
                len: r.len,
                at: r.at,
            }),
        }
    }
}

/// fe80::/10.
pub fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// `true` for an IPv4 or IPv6 multicast address.
pub fn is_multicast(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(a) => a.is_multicast(),
        IpAddr::V6(a) => a.is_multicast(),
    }
}

fn set_int(sock: &Socket, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: `v` is a c_int living across the call; its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&raw const v).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_and_multicast() {
        assert!(is_link_local("fe80::1".parse().unwrap()));
        assert!(is_link_local("febf::1".parse().unwrap()));
        assert!(!is_link_local("fec0::1".parse().unwrap()));
        assert!(!is_link_local("fd00::1".parse().unwrap()));
        assert!(is_multicast(IpAddr::V6(VRRP_GROUP_V6)));
        assert!(is_multicast("224.0.0.18".parse().unwrap()));
        assert!(!is_multicast("10.0.0.1".parse().unwrap()));
    }
}
