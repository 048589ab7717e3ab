//! `PING_CHECK` (keepalived check_ping.c): an ICMP (or ICMPv6) echo request; the server is
//! up when the matching echo reply arrives within `connect_timeout`. Needs a raw socket
//! (root or CAP_NET_RAW), as keepalived does.

use super::Attempt;
use crate::wire::checksum::checksum;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::unix::AsyncFd;

/// `PING_CHECK { connect_ip }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PingCheck {
    pub addr: IpAddr,
    pub bind_if: Option<String>,
}

/// An echo request (RFC 792 type 8 / RFC 4443 type 128) with `id`, `seq` and a payload.
/// The ICMPv6 checksum is left 0: the kernel fills it for raw ICMPv6 sockets.
pub fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"rkeepalived-ping");
    if !v6 {
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// Whether `icmp` (no IP header) is the echo reply to (`id`, `seq`).
pub fn is_reply(v6: bool, icmp: &[u8], id: u16, seq: u16) -> bool {
    icmp.len() >= 8
        && icmp[0] == if v6 { 129 } else { 0 }
        && icmp[4..6] == id.to_be_bytes()
        && icmp[6..8] == seq.to_be_bytes()
}

impl PingCheck {
    /// One echo within `timeout`.
    pub async fn attempt(&self, timeout: Duration) -> Attempt {
        match tokio::time::timeout(timeout, self.echo()).await {
            Ok(Ok(())) => Attempt::Ok,
            Ok(Err(e)) => Attempt::Failed(format!("ICMP echo to [{}] failed: {e}", self.addr)),
            Err(_) => Attempt::Failed(format!("ICMP echo to [{}] timed out", self.addr)),
        }
    }

    async fn echo(&self) -> Result<(), String> {
        let v6 = self.addr.is_ipv6();
        let (domain, proto) = if v6 {
            (socket2::Domain::IPV6, socket2::Protocol::ICMPV6)
        } else {
            (socket2::Domain::IPV4, socket2::Protocol::ICMPV4)
        };
        let s = socket2::Socket::new(domain, socket2::Type::RAW, Some(proto))
            .map_err(|e| e.to_string())?;
        s.set_nonblocking(true).map_err(|e| e.to_string())?;
        if let Some(dev) = &self.bind_if {
            s.bind_device(Some(dev.as_bytes()))
                .map_err(|e| e.to_string())?;
        }
        let id = (std::process::id() & 0xffff) as u16;
        let seq = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_micros()
            & 0xffff) as u16;
        s.send_to(
            &echo_request(v6, id, seq),
            &SocketAddr::new(self.addr, 0).into(),
        )
        .map_err(|e| e.to_string())?;
        // SAFETY: `Socket` owns its fd; it stays open and unchanged until the AsyncFd drops it.
        let fd = unsafe { AsyncFd::register(s) }.map_err(|e| e.into_parts().1.to_string())?;
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 2048];
        loop {
            let mut guard = fd.readable().await.map_err(|e| e.to_string())?;
            let got = match guard.try_io(|s| s.get_ref().recv_from(&mut buf)) {
                Ok(r) => r.map_err(|e| e.to_string())?,
                Err(_would_block) => continue,
            };
            let (n, from) = got;
            // SAFETY: recv_from initialised the first n bytes.
            let data: Vec<u8> = buf[..n]
                .iter()
                .map(|b| unsafe { b.assume_init() })
                .collect();
            if from.as_socket().map(|a| a.ip()) != Some(self.addr) {
                continue;
            }
            // Raw IPv4 sockets deliver the IP header; skip it (IHL × 4 bytes).
            let icmp = if v6 {
                &data[..]
            } else {
                data.get(usize::from(data[0] & 0x0f) * 4..).unwrap_or(&[])
            };
            if is_reply(v6, icmp, id, seq) {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_has_a_valid_checksum() {
        let p = echo_request(false, 0x1234, 7);
        assert_eq!(&p[..2], &[8, 0]);
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
        let mut reply = p.clone();
        reply[0] = 0;
        assert!(is_reply(false, &reply, 0x1234, 7));
        assert!(!is_reply(false, &reply, 0x1234, 8));
        assert!(!is_reply(false, &p, 0x1234, 7), "a request is not a reply");
    }
}
