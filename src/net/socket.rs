//! The raw `IPPROTO_VRRP` (112) socket over IPv4, one per interface.
//!
//! RFC 5798 §5.1.1.3 (and RFC 3768 §5.2.3): adverts go out with IP TTL 255 to the group
//! 224.0.0.18, and a receiver drops any advert whose TTL is not 255. This module sets the TTLs,
//! reports the received TTL and leaves the check to the engine. It moves raw bytes only: the VRRP
//! message is built and parsed by `wire::vrrp`.
//!
//! Sending: the kernel builds the IPv4 header (no `IP_HDRINCL`). The source address, when the
//! caller fixes one (`unicast_src_ip`, or the interface's primary address as keepalived uses), is
//! set per datagram with an `IP_PKTINFO` control message (`ipi_spec_dst`, see ip(7)). The socket
//! is not `bind()`-ed to it in multicast mode, because a raw socket bound to an address only
//! receives datagrams addressed *to* that address (`raw_v4_match` in `net/ipv4/raw.c`), which
//! would filter out the group's traffic.
//!
//! Receiving: a raw IPv4 socket hands up the IPv4 header with the payload; [`VrrpSocket::recv`]
//! reads `src`, `dst` and `ttl` from it and moves the VRRP bytes to the front of the buffer.
//! Both VRRP sockets ask for the kernel's receive timestamp (`SO_TIMESTAMPNS`), so that the
//! Master_Down_Timer runs from when an advert arrived, not from when the engine got to it
//! (see [`arrival`]).

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn};
use nix::sys::time::TimeSpec;
use pnet_packet::ipv4::Ipv4Packet;
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::NetError;

/// IANA protocol number of VRRP (RFC 5798 §5.1.1.4).
pub const IPPROTO_VRRP: i32 = 112;

/// The IPv4 multicast group of VRRP (RFC 5798 §5.1.1.2), keepalived's default
/// `vrrp_mcast_group4`.
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

/// TTL of every VRRP packet (RFC 5798 §5.1.1.3).
pub const VRRP_TTL: u32 = 255;

/// One received datagram: fields of its IPv4 header, and the length of the VRRP payload that
/// [`VrrpSocket::recv`] left at the start of the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// IPv4 source address: the sender's primary address (or its `unicast_src_ip`).
    pub src: Ipv4Addr,
    /// IPv4 destination: the group, or our own address for unicast peers.
    pub dst: Ipv4Addr,
    /// IPv4 TTL as received; RFC 5798 §5.1.1.3 requires 255.
    pub ttl: u8,
    /// Length in bytes of the VRRP payload now at `buf[..len]`.
    pub len: usize,
    /// When the kernel received it (see [`arrival`]); `None` without a usable timestamp.
    pub at: Option<Instant>,
}

/// The longest receive delay [`arrival`] accepts from a timestamp.
pub const MAX_RECEIVE_DELAY: Duration = Duration::from_millis(20);

/// The `Instant` a datagram arrived, from its `SO_TIMESTAMPNS` timestamp `ts`
/// (`CLOCK_REALTIME`, the only clock the kernel stamps received packets with): now on the
/// monotonic clock minus the age of the timestamp on the wall clock.
///
/// `None` when that age is negative or above [`MAX_RECEIVE_DELAY`]: the wall clock was set
/// in between, and the caller uses the time it handles the packet instead, as before. (A wall
/// clock set forward by less than that bound between the arrival and this call makes the
/// arrival look that much older.)
pub fn arrival(ts: TimeSpec, now: Instant, wall_now: SystemTime) -> Option<Instant> {
    let stamped = SystemTime::UNIX_EPOCH.checked_add(Duration::new(
        ts.tv_sec().try_into().ok()?,
        ts.tv_nsec().try_into().ok()?,
    ))?;
    let age = wall_now.duration_since(stamped).ok()?;
    if age > MAX_RECEIVE_DELAY {
        return None;
    }
    now.checked_sub(age)
}

/// The arrival time in the control messages of `msg`, if the kernel gave one.
pub(super) fn arrival_of<S>(msg: &nix::sys::socket::RecvMsg<'_, '_, S>) -> Option<Instant> {
    let (now, wall_now) = (Instant::now(), SystemTime::now());
    msg.cmsgs().ok()?.find_map(|c| match c {
        ControlMessageOwned::ScmTimestampns(ts) => arrival(ts, now, wall_now),
        _ => None,
    })
}

/// Sending adverts: the edge the engine uses for `Action::SendAdvert`. [`VrrpSocket`] is the real
/// implementation; tests use a recording fake.
pub trait AdvertTx {
    /// Sends one VRRP message (`payload`, no IP header) to `dst` (the group or a unicast peer)
    /// without waiting. Adverts repeat every interval, so when the socket buffer is full the
    /// advert is dropped and an error of kind `WouldBlock` is returned for the caller to count.
    fn send_advert(&self, payload: &[u8], dst: Ipv4Addr) -> Result<(), NetError>;
}

/// A raw IPv4 socket for protocol 112, tied to one interface, registered with tokio's reactor.
#[derive(Debug)]
pub struct VrrpSocket {
    fd: AsyncFd<Socket>,
    ifindex: u32,
    src: Option<Ipv4Addr>,
}

impl VrrpSocket {
    /// Opens a raw socket for protocol 112 on interface `ifname`.
    ///
    /// Set up as keepalived does: `SO_BINDTODEVICE` = `ifname`, non-blocking, `IP_TTL` and
    /// `IP_MULTICAST_TTL` 255, `IP_MULTICAST_LOOP` off (we never see our own adverts),
    /// `IP_MULTICAST_ALL` off (only groups joined here are delivered), `IP_MULTICAST_IF` =
    /// the interface by index (`struct ip_mreqn`).
    ///
    /// * `group`: `Some(224.0.0.18)` for multicast adverts: the group is joined on the
    ///   interface. `None` for unicast peers (`unicast_peer`): nothing is joined.
    /// * `src`: the source address of everything sent (set per datagram with `IP_PKTINFO`);
    ///   `None` lets the kernel choose the interface's primary address. In unicast mode
    ///   (`group == None`) the socket is also `bind()`-ed to `src`, so that it only receives
    ///   datagrams addressed to it.
    ///
    /// Must be called inside a tokio runtime with IO enabled (the socket registers with its
    /// reactor; panics otherwise), in the network namespace of `ifname`.
    ///
    /// Errors: [`NetError::Io`] naming the failed step, e.g. `ENODEV` for an unknown interface,
    /// `EPERM` without `CAP_NET_RAW`, `EADDRNOTAVAIL` if `src` is not a local address.
    pub fn open(
        ifname: &str,
        src: Option<Ipv4Addr>,
        group: Option<Ipv4Addr>,
    ) -> Result<VrrpSocket, NetError> {
        let ifindex = nix::net::if_::if_nametoindex(ifname)
            .map_err(|e| NetError::io(format!("if_nametoindex({ifname})"), e.into()))?;
        let step = |what: &str| format!("VRRP socket on {ifname}: {what}");

        let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(IPPROTO_VRRP)))
            .map_err(|e| NetError::io(step("socket(AF_INET, SOCK_RAW, 112)"), e))?;
        sock.set_nonblocking(true)
            .map_err(|e| NetError::io(step("O_NONBLOCK"), e))?;
        sock.bind_device(Some(ifname.as_bytes()))
            .map_err(|e| NetError::io(step("SO_BINDTODEVICE"), e))?;
        sock.set_ttl_v4(VRRP_TTL)
            .map_err(|e| NetError::io(step("IP_TTL 255"), e))?;
        sock.set_multicast_ttl_v4(VRRP_TTL)
            .map_err(|e| NetError::io(step("IP_MULTICAST_TTL 255"), e))?;
        sock.set_multicast_loop_v4(false)
            .map_err(|e| NetError::io(step("IP_MULTICAST_LOOP off"), e))?;
        sock.set_multicast_all_v4(false)
            .map_err(|e| NetError::io(step("IP_MULTICAST_ALL off"), e))?;
        set_multicast_if_index(&sock, ifindex)
            .map_err(|e| NetError::io(step("IP_MULTICAST_IF"), e))?;
        nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::ReceiveTimestampns, &true)
            .map_err(|e| NetError::io(step("SO_TIMESTAMPNS"), e.into()))?;
        if let Some(group) = group {
            sock.join_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(ifindex))
                .map_err(|e| NetError::io(step(&format!("IP_ADD_MEMBERSHIP {group}")), e))?;
        } else if let Some(src) = src {
            sock.bind(&SockAddr::from(SocketAddrV4::new(src, 0)))
                .map_err(|e| NetError::io(step(&format!("bind {src}")), e))?;
        }
        // SAFETY: `Socket` owns its fd; it stays open and unchanged until the AsyncFd drops it.
        let fd = unsafe { AsyncFd::register(sock) }
            .map_err(|e| NetError::io(step("register with tokio"), e.into_parts().1))?;
        Ok(VrrpSocket { fd, ifindex, src })
    }

    /// Index of the interface the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Joins the group `new` on the socket's interface, then leaves `old` (a reload's
    /// `vrrp_mcast_group4`). Errors: [`NetError::Io`] naming the membership call.
    pub fn move_group(&self, old: Ipv4Addr, new: Ipv4Addr) -> Result<(), NetError> {
        let sock = self.fd.get_ref();
        let at = InterfaceIndexOrAddress::Index(self.ifindex);
        sock.join_multicast_v4_n(&new, &at)
            .map_err(|e| NetError::io(format!("IP_ADD_MEMBERSHIP {new}"), e))?;
        sock.leave_multicast_v4_n(&old, &at)
            .map_err(|e| NetError::io(format!("IP_DROP_MEMBERSHIP {old}"), e))
    }

    /// Sets the IP TTL of unicast adverts (`unicast_ttl`, 1-255; keepalived's default is 255,
    /// what [`VrrpSocket::open`] sets). Multicast adverts keep TTL 255.
    pub fn set_unicast_ttl(&self, ttl: u8) -> Result<(), NetError> {
        self.fd
            .get_ref()
            .set_ttl_v4(u32::from(ttl))
            .map_err(|e| NetError::io(format!("IP_TTL {ttl}"), e))
    }

    /// Sends `payload` (a VRRP message, no IP header: the kernel builds it with TTL 255) to
    /// `dst` (the group or a unicast peer), waiting for socket buffer space if needed.
    pub async fn send_to(&self, payload: &[u8], dst: Ipv4Addr) -> Result<(), NetError> {
        loop {
            let mut guard = self
                .fd
                .writable()
                .await
                .map_err(|e| NetError::io(format!("wait writable to send to {dst}"), e))?;
            match guard.try_io(|sock| self.send_now(sock.get_ref(), payload, dst)) {
                Ok(res) => return res.map_err(|e| NetError::io(format!("sendmsg to {dst}"), e)),
                Err(_would_block) => continue,
            }
        }
    }

    /// Receives one datagram into `buf` and returns its IPv4 header fields; the VRRP payload is
    /// moved to `buf[..received.len]`. `buf` must hold the whole datagram with its IP header
    /// (a VRRP advert is at most 20 + 60 + 16 + 1020 bytes; 1500 is plenty on Ethernet).
    ///
    /// Errors: [`NetError::Truncated`] if the datagram did not fit (it is consumed),
    /// [`NetError::Malformed`] if the IPv4 header is inconsistent, [`NetError::Io`] otherwise.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<Received, NetError> {
        let (n, at) = loop {
            let mut guard = self
                .fd
                .readable()
                .await
                .map_err(|e| NetError::io("wait readable on VRRP socket", e))?;
            match guard.try_io(|sock| {
                let mut cmsg = nix::cmsg_space!(TimeSpec);
                let mut iov = [IoSliceMut::new(buf)];
                // MSG_TRUNC: return the datagram's real length even if it did not fit.
                let msg = nix::sys::socket::recvmsg::<()>(
                    sock.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::MSG_TRUNC,
                )
                .map_err(io::Error::from)?;
                Ok((msg.bytes, arrival_of(&msg)))
            }) {
                Ok(res) => break res.map_err(|e| NetError::io("recvmsg on VRRP socket", e))?,
                Err(_would_block) => continue,
            }
        };
        strip_ipv4_header(buf, n).map(|r| Received { at, ..r })
    }

    /// One non-blocking `sendmsg`, with `IP_PKTINFO` when a source address is fixed.
    fn send_now(&self, sock: &Socket, payload: &[u8], dst: Ipv4Addr) -> io::Result<()> {
        let addr = SockaddrIn::from(SocketAddrV4::new(dst, 0));
        let pktinfo = self.src.map(|src| libc::in_pktinfo {
            ipi_ifindex: self.ifindex as libc::c_int,
            ipi_spec_dst: libc::in_addr {
                s_addr: u32::from(src).to_be(),
            },
            ipi_addr: libc::in_addr { s_addr: 0 },
        });
        let cmsgs: Vec<ControlMessage<'_>> =
            pktinfo.iter().map(ControlMessage::Ipv4PacketInfo).collect();
        sendmsg_all(sock, payload, &cmsgs, &addr)
    }
}

/// `sendmsg(2)` of one datagram with ancillary data (`IP_PKTINFO` / `IPV6_PKTINFO`); a short
/// send is an error (`WriteZero`). Shared by the IPv4 and IPv6 VRRP sockets and the NA socket.
pub(super) fn sendmsg_all(
    sock: &impl AsRawFd,
    payload: &[u8],
    cmsgs: &[ControlMessage<'_>],
    addr: &impl nix::sys::socket::SockaddrLike,
) -> io::Result<()> {
    let iov = [IoSlice::new(payload)];
    let sent =
        nix::sys::socket::sendmsg(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), Some(addr))?;
    if sent != payload.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("sent {sent} of {} bytes", payload.len()),
        ));
    }
    Ok(())
}

impl AdvertTx for VrrpSocket {
    fn send_advert(&self, payload: &[u8], dst: Ipv4Addr) -> Result<(), NetError> {
        self.send_now(self.fd.get_ref(), payload, dst)
            .map_err(|e| NetError::io(format!("sendmsg to {dst}"), e))
    }
}

/// Reads the IPv4 header at the start of `buf[..n]` (`n` = the datagram's real length) and moves
/// the payload to the front of `buf`.
fn strip_ipv4_header(buf: &mut [u8], n: usize) -> Result<Received, NetError> {
    if n > buf.len() {
        return Err(NetError::Truncated {
            len: n,
            capacity: buf.len(),
        });
    }
    let ip = Ipv4Packet::new(&buf[..n])
        .ok_or(NetError::Malformed("datagram shorter than an IPv4 header"))?;
    let header_len = usize::from(ip.get_header_length()) * 4;
    let total_len = usize::from(ip.get_total_length());
    if header_len < Ipv4Packet::minimum_packet_size() || header_len > n {
        return Err(NetError::Malformed("IPv4 header length out of range"));
    }
    if total_len < header_len || total_len > n {
        return Err(NetError::Malformed(
            "IPv4 total length disagrees with the datagram",
        ));
    }
    let received = Received {
        src: ip.get_source(),
        dst: ip.get_destination(),
        ttl: ip.get_ttl(),
        len: total_len - header_len,
        at: None,
    };
    buf.copy_within(header_len..total_len, 0);
    Ok(received)
}

/// `IP_MULTICAST_IF` with a `struct ip_mreqn` naming the interface by index (ip(7)), so the
/// outgoing interface does not depend on which addresses it has.
fn set_multicast_if_index(sock: &Socket, ifindex: u32) -> io::Result<()> {
    let mreqn = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: ifindex as libc::c_int,
    };
    // SAFETY: `mreqn` is a valid `ip_mreqn` that lives across the call, and the length passed is
    // its size; the fd is owned by `sock`.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&raw const mreqn).cast(),
            size_of::<libc::ip_mreqn>() as libc::socklen_t,
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

    /// An IPv4 header (IHL 5, TTL 255, proto 112, 10.0.0.1 -> 224.0.0.18) + 4 payload bytes.
    fn datagram() -> Vec<u8> {
        let mut d = vec![
            0x45, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0xff, 0x70, 0x00, 0x00, 10, 0, 0, 1,
            224, 0, 0, 18,
        ];
        d.extend_from_slice(&[0x31, 0x07, 0x64, 0x01]);
        d
    }

    /// A timestamp becomes the instant as old as it is on the wall clock; a timestamp in the
    /// future or older than the bound (the wall clock was set) gives none.
    #[test]
    fn arrival_is_the_timestamps_age_before_now() {
        let now = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 500_000_000);
        let ts = |age: Duration| {
            TimeSpec::from_duration((wall - age).duration_since(SystemTime::UNIX_EPOCH).unwrap())
        };
        let age = Duration::from_micros(730);
        assert_eq!(arrival(ts(age), now, wall), Some(now - age));
        assert_eq!(arrival(ts(Duration::ZERO), now, wall), Some(now));
        assert_eq!(
            arrival(ts(MAX_RECEIVE_DELAY), now, wall),
            Some(now - MAX_RECEIVE_DELAY)
        );
        let too_old = MAX_RECEIVE_DELAY + Duration::from_nanos(1);
        assert_eq!(arrival(ts(too_old), now, wall), None);
        let future = TimeSpec::from_duration(
            (wall + Duration::from_micros(1))
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap(),
        );
        assert_eq!(arrival(future, now, wall), None);
    }

    #[test]
    fn strips_header_and_reports_fields() {
        let mut buf = datagram();
        let n = buf.len();
        buf.resize(64, 0xee);
        let r = strip_ipv4_header(&mut buf, n).unwrap();
        assert_eq!(
            r,
            Received {
                src: Ipv4Addr::new(10, 0, 0, 1),
                dst: VRRP_GROUP_V4,
                ttl: 255,
                len: 4,
                at: None,
            }
        );
        assert_eq!(&buf[..4], &[0x31, 0x07, 0x64, 0x01]);
    }

    #[test]
    fn honours_ip_options_in_header_length() {
        // IHL 6: one 4-byte option (NOPs + EOL) before the payload.
        let mut buf = datagram();
        buf[0] = 0x46;
        buf[3] = 0x1c;
        buf.splice(20..20, [1, 1, 1, 0]);
        let n = buf.len();
        let r = strip_ipv4_header(&mut buf, n).unwrap();
        assert_eq!(r.len, 4);
        assert_eq!(&buf[..4], &[0x31, 0x07, 0x64, 0x01]);
    }

    #[test]
    fn rejects_inconsistent_headers() {
        let mut short = datagram()[..12].to_vec();
        assert!(matches!(
            strip_ipv4_header(&mut short, 12),
            Err(NetError::Malformed(_))
        ));
        let mut bad_ihl = datagram();
        bad_ihl[0] = 0x4f; // 60-byte header in a 24-byte datagram
        assert!(matches!(
            strip_ipv4_header(&mut bad_ihl, 24),
            Err(NetError::Malformed(_))
        ));
        let mut bad_total = datagram();
        bad_total[3] = 0x40; // says 64 bytes, has 24
        assert!(matches!(
            strip_ipv4_header(&mut bad_total, 24),
            Err(NetError::Malformed(_))
        ));
    }

    #[test]
    fn reports_truncation() {
        let mut buf = datagram();
        assert!(matches!(
            strip_ipv4_header(&mut buf, 1500),
            Err(NetError::Truncated {
                len: 1500,
                capacity: 24
            })
        ));
    }
}
