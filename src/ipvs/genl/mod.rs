//! A generic netlink client for the kernel's `"IPVS"` family: the socket (neli 0.7 for the
//! socket and the `nlmsghdr` framing of requests and replies) here, the `genlmsghdr` and the
//! attributes in [`codec`], byte for byte as `include/uapi/linux/ip_vs.h` and
//! `net/netfilter/ipvs/ip_vs_ctl.c` expect them.
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

pub mod codec;

pub use codec::{IpvsStats, ServiceStats, SyncDaemon};

use crate::ipvs::IpvsError;
use crate::ipvs::consts::*;
use crate::ipvs::model::*;
use codec::*;
use neli::consts::nl::{NlmF, Nlmsg};
use neli::consts::socket::NlFamily;
use neli::nl::{NlPayload, NlmsghdrBuilder};
use neli::socket::synchronous::NlSocketHandle;
use neli::types::Buffer;
use neli::utils::Groups;
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

    /// One dump of `cmd` (with the request attributes `attrs`): the `nest` attribute of every
    /// reply, in order. A reply without it is an error ([`IpvsError::Decode`]) unless
    /// `optional`, when it is skipped. `op` names the dump in errors.
    fn dump(
        &mut self,
        cmd: u8,
        attrs: &[u8],
        nest: u16,
        optional: bool,
        op: &str,
    ) -> Result<Vec<Vec<u8>>, IpvsError> {
        let replies = self.request(self.family, genl_message(cmd, attrs), true, op)?;
        let mut out = Vec::with_capacity(replies.len());
        for r in &replies {
            match genl_attrs(r)?.get(&nest) {
                Some(n) => out.push(n.to_vec()),
                None if optional => {}
                None => return Err(missing(op, &format!("attribute {nest}"))),
            }
        }
        Ok(out)
    }

    /// Every service in the kernel table (`IPVS_CMD_GET_SERVICE` dump).
    pub fn services(&mut self) -> Result<Vec<Service>, IpvsError> {
        self.dump(
            IPVS_CMD_GET_SERVICE,
            &[],
            IPVS_CMD_ATTR_SERVICE,
            false,
            "dump services",
        )?
        .iter()
        .map(|n| decode_service(n))
        .collect()
    }

    /// The `IPVS_CMD_ATTR_DEST` nests of one service (`IPVS_CMD_GET_DEST` dump).
    fn dest_nests(&mut self, key: &ServiceKey) -> Result<Vec<Vec<u8>>, IpvsError> {
        self.dump(
            IPVS_CMD_GET_DEST,
            &encode_service_key(key),
            IPVS_CMD_ATTR_DEST,
            false,
            &format!("dump real servers of {key}"),
        )
    }

    /// The destinations of one service (`IPVS_CMD_GET_DEST` dump with the service nest).
    pub fn dests(&mut self, key: &ServiceKey) -> Result<Vec<Dest>, IpvsError> {
        self.dest_nests(key)?
            .iter()
            .map(|n| decode_dest(n, key.af()))
            .collect()
    }

    /// Every service's counters and those of its destinations.
    pub fn stats(&mut self) -> Result<Vec<ServiceStats>, IpvsError> {
        let services = self.dump(
            IPVS_CMD_GET_SERVICE,
            &[],
            IPVS_CMD_ATTR_SERVICE,
            false,
            "dump services",
        )?;
        let mut out = Vec::with_capacity(services.len());
        for nest in &services {
            let key = decode_service(nest)?.key;
            let svc = decode_stats(
                &parse_attrs(nest)?,
                IPVS_SVC_ATTR_STATS64,
                IPVS_SVC_ATTR_STATS,
            );
            let mut dests = Vec::new();
            for d in &self.dest_nests(&key)? {
                let dk = decode_dest(d, key.af())?.key;
                let da = parse_attrs(d)?;
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
        self.dump(
            IPVS_CMD_GET_DAEMON,
            &[],
            IPVS_CMD_ATTR_DAEMON,
            true,
            "get sync daemons",
        )?
        .iter()
        .map(|n| decode_daemon(n))
        .collect()
    }
}
