//! Virtual addresses and interface facts over rtnetlink (`NETLINK_ROUTE`), using neli 0.7.
//!
//! One [`Netlink`] handle owns one netlink socket. Calls are synchronous: each sends one request
//! and reads the kernel's answer on the same thread (`NLM_F_ACK` for changes, `NLM_F_DUMP` ...
//! `NLMSG_DONE` for dumps). Address changes on a local socket complete in microseconds, so the
//! engine may call them directly; a caller that cannot block at all can wrap them in
//! `tokio::task::spawn_blocking`. Every `recv` is bounded by a socket receive timeout
//! ([`REPLY_TIMEOUT`]), so a lost reply is an error, never a hang.
//!
//! The socket is bound to the network namespace it was created in: create the handle in the
//! namespace whose interfaces it should manage.
//!
//! Kernel references: `include/uapi/linux/rtnetlink.h` (`RTM_*ADDR`, `RTM_GETLINK`),
//! `include/uapi/linux/if_addr.h` (`struct ifaddrmsg`, `IFA_*`, `IFA_F_NODAD`),
//! `include/uapi/linux/if_link.h` (`IFLA_*`).

use std::fmt::Debug;
use std::io::{self, Cursor};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use neli::consts::nl::{NlmF, Nlmsg};
use neli::consts::rtnl::{Ifa, IfaF, Iff, Ifla, RtAddrFamily, RtScope, Rtm};
use neli::consts::socket::NlFamily;
use neli::err::SocketError;
use neli::nl::{NlPayload, NlmsghdrBuilder};
use neli::rtnl::{Ifaddrmsg, IfaddrmsgBuilder, Ifinfomsg, IfinfomsgBuilder, RtattrBuilder};
use neli::socket::synchronous::NlSocketHandle;
use neli::types::{Buffer, RtBuffer};
use neli::utils::Groups;
use neli::{Size, ToBytes};

use super::NetError;

/// How long one `recv` on the netlink socket may wait for the kernel's reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

pub use super::objects::IfAddr;

/// What [`Netlink::link`] reports about one interface (from `RTM_NEWLINK`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    /// Kernel interface index (`ifi_index`).
    pub ifindex: u32,
    /// Link-layer address (`IFLA_ADDRESS`); all zeros when the link has no 6-byte address.
    pub mac: [u8; 6],
    /// `IFF_UP` and `IFF_RUNNING` both set: keepalived's `IF_ISUP` test for "interface up".
    pub up: bool,
}

/// Adding and removing addresses on interfaces: the edge the VRRP engine uses to take and
/// release its virtual IPs. [`Netlink`] is the real implementation.
pub trait AddrOps {
    /// Puts `addr` on interface `ifindex`. An address that is already there is not an error
    /// (keepalived tolerates `EEXIST` the same way). IPv6 addresses are added with
    /// `IFA_F_NODAD`, so they are usable at once instead of tentative.
    fn add_addr(&self, ifindex: u32, addr: &IfAddr) -> Result<(), NetError>;
    /// Takes `addr` off interface `ifindex`. An address that is not there is not an error
    /// (`EADDRNOTAVAIL` tolerated).
    fn del_addr(&self, ifindex: u32, addr: &IfAddr) -> Result<(), NetError>;
}

/// A synchronous rtnetlink handle (one `NETLINK_ROUTE` socket, no multicast groups).
///
/// `Send + Sync`: requests are serialised by an internal mutex.
pub struct Netlink {
    inner: Mutex<Inner>,
    /// Where successful changes are recorded for a survivor to take back (see
    /// [`super::ledger`]); `None` outside a supervised daemon.
    ledger: Option<std::sync::Arc<super::ledger::Ledger>>,
}

struct Inner {
    sock: NlSocketHandle,
    seq: u32,
}

impl Netlink {
    /// Opens a `NETLINK_ROUTE` socket in the calling thread's network namespace.
    ///
    /// Strict checking (`NETLINK_GET_STRICT_CHK`, Linux >= 4.20) is turned on where the kernel
    /// has it, so dumps are filtered by the kernel; results are filtered again here either way.
    ///
    /// Errors: [`NetError::Io`] if the socket cannot be created or configured.
    pub fn new() -> Result<Netlink, NetError> {
        const OP: &str = "open NETLINK_ROUTE socket";
        let sock = NlSocketHandle::connect(NlFamily::Route, None, Groups::empty())
            .map_err(|e| socket_error(OP, e))?;
        // Older kernels lack strict checking; the client-side filters below cover for it.
        let _ = sock.enable_strict_checking(true);
        // SAFETY: the fd belongs to `sock`, which outlives this borrow.
        let fd = unsafe { BorrowedFd::borrow_raw(sock.as_raw_fd()) };
        socket2::SockRef::from(&fd)
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(|e| NetError::io("set SO_RCVTIMEO on netlink socket", e))?;
        Ok(Netlink {
            inner: Mutex::new(Inner { sock, seq: 0 }),
            ledger: None,
        })
    }

    /// Records every address, route, rule and link this handle adds or removes in `ledger`.
    pub fn with_ledger(mut self, ledger: Option<std::sync::Arc<super::ledger::Ledger>>) -> Netlink {
        self.ledger = ledger;
        self
    }

    /// The ledger changes are recorded in, if any.
    pub(super) fn ledger(&self) -> Option<&super::ledger::Ledger> {
        self.ledger.as_deref()
    }

    /// A handle on the ledger changes are recorded in, if any (for [`Ledger::hold`]).
    ///
    /// [`Ledger::hold`]: super::ledger::Ledger::hold
    pub fn shared_ledger(&self) -> Option<std::sync::Arc<super::ledger::Ledger>> {
        self.ledger.clone()
    }

    /// Looks up interface `name` with `RTM_GETLINK` (by `IFLA_IFNAME`).
    ///
    /// Errors: [`NetError::Netlink`] with `ENODEV` when there is no such interface.
    pub fn link(&self, name: &str) -> Result<LinkInfo, NetError> {
        let op = format!("RTM_GETLINK {name}");
        let mut attrs = RtBuffer::<Ifla, Buffer>::new();
        attrs.push(build_attr(&op, Ifla::Ifname, name)?);
        let req = IfinfomsgBuilder::default()
            .ifi_family(RtAddrFamily::Unspecified)
            .rtattrs(attrs)
            .build()
            .map_err(|e| codec(&op, e))?;
        let replies = self.request(&op, Rtm::Getlink, NlmF::empty(), req)?;
        if let Some(reply) = replies.first() {
            let info: Ifinfomsg = parse(&op, reply)?;
            let mut mac = [0u8; 6];
            for attr in info.rtattrs().iter() {
                if *attr.rta_type() == Ifla::Address && attr.rta_payload().as_ref().len() == 6 {
                    mac.copy_from_slice(attr.rta_payload().as_ref());
                }
            }
            let flags = *info.ifi_flags();
            return Ok(LinkInfo {
                ifindex: u32::try_from(*info.ifi_index()).map_err(|e| codec(&op, e))?,
                mac,
                up: flags.contains(Iff::UP) && flags.contains(Iff::RUNNING),
            });
        }
        Err(NetError::Codec {
            op,
            detail: "no RTM_NEWLINK in the reply".into(),
        })
    }

    /// All addresses on interface `ifindex`, IPv4 and IPv6, in the kernel's order (for IPv4:
    /// primaries first, each followed later by its secondaries), from an `RTM_GETADDR` dump.
    ///
    /// Each entry is `(IFA_LOCAL, or IFA_ADDRESS when there is no IFA_LOCAL; ifa_prefixlen)`.
    pub fn addresses(&self, ifindex: u32) -> Result<Vec<(IpAddr, u8)>, NetError> {
        Ok(self
            .all_addresses()?
            .into_iter()
            .filter(|a| a.ifindex == ifindex)
            .map(|a| (a.addr, a.prefix_len))
            .collect())
    }

    /// Every address on every interface, in the kernel's order (`RTM_GETADDR` dump).
    pub fn all_addresses(&self) -> Result<Vec<IfAddrEntry>, NetError> {
        let op = "RTM_GETADDR dump";
        let req = IfaddrmsgBuilder::default()
            .ifa_family(RtAddrFamily::Unspecified)
            .ifa_prefixlen(0)
            .ifa_scope(RtScope::Universe)
            .ifa_index(0)
            .build()
            .map_err(|e| codec(op, e))?;
        let replies = self.request(op, Rtm::Getaddr, NlmF::DUMP, req)?;
        let mut out = Vec::new();
        for reply in replies {
            let msg: Ifaddrmsg = parse(op, &reply)?;
            out.extend(IfAddrEntry::of(&msg));
        }
        Ok(out)
    }

    /// The interface's primary IPv4 address as keepalived picks it for the advert source: the
    /// first IPv4 address in kernel order that is not in `exclude` (pass the instance's virtual
    /// addresses there, so a VIP never becomes the source). `None` when there is none.
    pub fn primary_ipv4(
        &self,
        ifindex: u32,
        exclude: &[Ipv4Addr],
    ) -> Result<Option<Ipv4Addr>, NetError> {
        Ok(self
            .addresses(ifindex)?
            .into_iter()
            .find_map(|(ip, _)| match ip {
                IpAddr::V4(v4) if !exclude.contains(&v4) => Some(v4),
                _ => None,
            }))
    }

    /// The interface's first IPv6 link-local address (fe80::/10), in the kernel's dump order:
    /// keepalived's default source of VRRP-over-IPv6 adverts (RFC 5798 §5.1.2.1 "the IPv6
    /// link-local address of the interface over which the packet is transmitted").
    pub fn link_local_ipv6(&self, ifindex: u32) -> Result<Option<std::net::Ipv6Addr>, NetError> {
        Ok(self
            .addresses(ifindex)?
            .into_iter()
            .find_map(|(ip, _)| match ip {
                IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => Some(v6),
                _ => None,
            }))
    }

    /// Builds the `RTM_NEWADDR` / `RTM_DELADDR` body for `addr` on `ifindex`.
    fn addr_msg(
        op: &str,
        ifindex: u32,
        addr: &IfAddr,
        adding: bool,
    ) -> Result<Ifaddrmsg, NetError> {
        let (family, bytes) = match addr.addr {
            IpAddr::V4(a) => (RtAddrFamily::Inet, a.octets().to_vec()),
            IpAddr::V6(a) => (RtAddrFamily::Inet6, a.octets().to_vec()),
        };
        let mut attrs = RtBuffer::<Ifa, Buffer>::new();
        let address = match addr.peer {
            Some(IpAddr::V4(p)) => p.octets().to_vec(),
            Some(IpAddr::V6(p)) => p.octets().to_vec(),
            None => bytes.clone(),
        };
        attrs.push(build_attr(op, Ifa::Local, bytes)?);
        attrs.push(build_attr(op, Ifa::Address, address)?);
        let mut flags = IfaF::empty();
        if adding {
            if let (IpAddr::V4(_), Some(IpAddr::V4(brd))) = (addr.addr, addr.brd) {
                attrs.push(build_attr(op, Ifa::Broadcast, brd.octets().to_vec())?);
            }
            if let (IpAddr::V4(_), Some(label)) = (addr.addr, &addr.label) {
                attrs.push(build_attr(op, Ifa::Label, label.as_str())?);
            }
            if addr.addr.is_ipv6() {
                // Usable at once: no duplicate address detection (keepalived sets it too).
                flags |= IfaF::NODAD;
            }
        }
        IfaddrmsgBuilder::default()
            .ifa_family(family)
            .ifa_prefixlen(addr.prefix_len)
            .ifa_flags(flags)
            .ifa_scope(RtScope::from(addr.scope))
            .ifa_index(ifindex)
            .rtattrs(attrs)
            .build()
            .map_err(|e| codec(op, e))
    }

    /// Sends one request and collects the payload messages of its answer.
    ///
    /// Non-dump requests carry `NLM_F_ACK` and end at the kernel's `NLMSG_ERROR` (errno 0 is the
    /// ACK); dumps end at `NLMSG_DONE`. Replies to other sequence numbers (left over from a
    /// request that timed out) are skipped.
    pub(super) fn request<P>(
        &self,
        op: &str,
        ty: Rtm,
        flags: NlmF,
        payload: P,
    ) -> Result<Vec<Buffer>, NetError>
    where
        P: Size + ToBytes + Debug,
    {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.seq = inner.seq.wrapping_add(1);
        let seq = inner.seq;
        let dump = flags.contains(NlmF::DUMP);
        let flags = if dump {
            flags | NlmF::REQUEST
        } else {
            flags | NlmF::REQUEST | NlmF::ACK
        };
        let msg = NlmsghdrBuilder::default()
            .nl_type(ty)
            .nl_flags(flags)
            .nl_seq(seq)
            .nl_pid(inner.sock.pid())
            .nl_payload(NlPayload::Payload(payload))
            .build()
            .map_err(|e| codec(op, e))?;
        inner.sock.send(&msg).map_err(|e| socket_error(op, e))?;

        let mut replies = Vec::new();
        let mut interrupted = false;
        loop {
            let (iter, _) = match inner.sock.recv::<u16, Buffer>() {
                Ok(r) => r,
                // EINTR (the daemon was stopped and continued, signal(7)): read again.
                Err(neli::err::SocketError::Io(e))
                    if e.kind() == std::io::ErrorKind::Interrupted =>
                {
                    continue;
                }
                Err(e) => return Err(socket_error(op, e)),
            };
            for reply in iter {
                let reply = reply.map_err(|e| codec(op, e))?;
                if *reply.nl_seq() != seq {
                    continue;
                }
                interrupted |= reply.nl_flags().contains(NlmF::DUMP_INTR);
                let done = *reply.nl_type() == u16::from(Nlmsg::Done);
                match reply.nl_payload() {
                    NlPayload::Err(e) => {
                        return Err(NetError::Netlink {
                            op: op.to_owned(),
                            errno: -*e.error(),
                        });
                    }
                    NlPayload::DumpExtAck(e) if *e.error() != 0 => {
                        return Err(NetError::Netlink {
                            op: op.to_owned(),
                            errno: -*e.error(),
                        });
                    }
                    NlPayload::Ack(_) | NlPayload::DumpExtAck(_) => return Ok(replies),
                    NlPayload::Empty | NlPayload::Payload(_) if done => {
                        if interrupted {
                            // NLM_F_DUMP_INTR: the table changed during the dump; the caller
                            // may retry.
                            return Err(NetError::Netlink {
                                op: op.to_owned(),
                                errno: libc::EINTR,
                            });
                        }
                        return Ok(replies);
                    }
                    NlPayload::Empty => {}
                    NlPayload::Payload(body) => replies.push(body.clone()),
                }
            }
        }
    }
}

impl AddrOps for Netlink {
    fn add_addr(&self, ifindex: u32, addr: &IfAddr) -> Result<(), NetError> {
        let op = format!(
            "RTM_NEWADDR {}/{} on ifindex {ifindex}",
            addr.addr, addr.prefix_len
        );
        let msg = Self::addr_msg(&op, ifindex, addr, true)?;
        match self.request(&op, Rtm::Newaddr, NlmF::CREATE | NlmF::EXCL, msg) {
            Err(e) if e.errno() == Some(libc::EEXIST) => {}
            other => other.map(drop)?,
        }
        if let Some(l) = self.ledger() {
            l.added_addr(ifindex, addr);
        }
        Ok(())
    }

    fn del_addr(&self, ifindex: u32, addr: &IfAddr) -> Result<(), NetError> {
        let op = format!(
            "RTM_DELADDR {}/{} on ifindex {ifindex}",
            addr.addr, addr.prefix_len
        );
        let msg = Self::addr_msg(&op, ifindex, addr, false)?;
        match self.request(&op, Rtm::Deladdr, NlmF::empty(), msg) {
            Err(e) if e.errno() == Some(libc::EADDRNOTAVAIL) => {}
            other => other.map(drop)?,
        }
        if let Some(l) = self.ledger() {
            l.removed_addr(ifindex, addr);
        }
        Ok(())
    }
}

/// Parses the body of one reply message as `T` (`struct ifaddrmsg`, `struct ifinfomsg`, ...
/// followed by its attributes).
fn parse<T>(op: &str, body: &Buffer) -> Result<T, NetError>
where
    T: neli::FromBytesWithInput<Input = usize>,
{
    let bytes = body.as_ref();
    T::from_bytes_with_input(&mut Cursor::new(bytes), bytes.len()).map_err(|e| codec(op, e))
}

pub(super) fn build_attr<T, P>(
    op: &str,
    ty: T,
    payload: P,
) -> Result<neli::rtnl::Rtattr<T, Buffer>, NetError>
where
    T: Size,
    P: Size + ToBytes,
{
    RtattrBuilder::default()
        .rta_type(ty)
        .rta_payload(payload)
        .build()
        .map_err(|e| codec(op, e))
}

/// One address of an `RTM_NEWADDR`/`RTM_DELADDR` message or `RTM_GETADDR` dump entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfAddrEntry {
    pub ifindex: u32,
    /// `IFA_LOCAL`, or `IFA_ADDRESS` when there is no `IFA_LOCAL`.
    pub addr: IpAddr,
    pub prefix_len: u8,
}

impl IfAddrEntry {
    /// The address `msg` carries (`None` without an address attribute).
    pub fn of(msg: &Ifaddrmsg) -> Option<IfAddrEntry> {
        let family = *msg.ifa_family();
        let mut local = None;
        let mut address = None;
        for attr in msg.rtattrs().iter() {
            let bytes = attr.rta_payload().as_ref();
            if *attr.rta_type() == Ifa::Local {
                local = ip_from_bytes(family, bytes);
            } else if *attr.rta_type() == Ifa::Address {
                address = ip_from_bytes(family, bytes);
            }
        }
        Some(IfAddrEntry {
            ifindex: *msg.ifa_index(),
            addr: local.or(address)?,
            prefix_len: *msg.ifa_prefixlen(),
        })
    }
}

fn ip_from_bytes(family: RtAddrFamily, bytes: &[u8]) -> Option<IpAddr> {
    match family {
        RtAddrFamily::Inet => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|b| Ipv4Addr::from(b).into()),
        RtAddrFamily::Inet6 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| Ipv6Addr::from(b).into()),
        _ => None,
    }
}

fn codec(op: &str, e: impl std::fmt::Display) -> NetError {
    NetError::Codec {
        op: op.to_owned(),
        detail: e.to_string(),
    }
}

fn socket_error(op: &str, e: SocketError) -> NetError {
    match e {
        SocketError::Io(e) => {
            let source = match e.raw_os_error() {
                Some(errno) => io::Error::from_raw_os_error(errno),
                None => io::Error::new(e.kind(), e.to_string()),
            };
            NetError::io(op, source)
        }
        other => codec(op, other),
    }
}
