//! `DNS_CHECK` (keepalived check_dns.c): a UDP query for `name`/`type` with Recursion
//! Desired; the server is up when a response with our id, QR set and RCODE 0 arrives within
//! `connect_timeout`. keepalived's defaults: type SOA, name ".", retry 3.

use super::{Attempt, Target};
use std::net::SocketAddr;
use std::time::Duration;

/// `DNS_CHECK { type T; name N }` (the type names are the config's, see
/// `config::parser::checkers`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DnsCheck {
    pub target: Target,
    /// Query type number (default 6, SOA).
    pub qtype: u16,
    /// Query name (default ".").
    pub name: String,
}

/// The query keepalived sends: a 12-byte header (id, flags with RD, QDCOUNT 1), the QNAME
/// as labels, QTYPE, QCLASS IN (RFC 1035 §4.1).
pub fn build_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len().min(63) as u8);
        q.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

/// Checks a response against the query id: `Ok(true)` for success, `Ok(false)` to keep
/// waiting (not ours / not a response), `Err` for an error RCODE.
pub fn check_response(id: u16, resp: &[u8]) -> Result<bool, String> {
    if resp.len() < 12 || u16::from_be_bytes([resp[0], resp[1]]) != id {
        return Ok(false);
    }
    let flags = u16::from_be_bytes([resp[2], resp[3]]);
    if flags & 0x8000 == 0 {
        return Ok(false);
    }
    match flags & 0x000f {
        0 => Ok(true),
        rcode => Err(format!("error occurred. (rcode = {rcode})")),
    }
}

impl DnsCheck {
    /// One query, bounded by `timeout`.
    pub async fn attempt(&self, timeout: Duration) -> Attempt {
        match tokio::time::timeout(timeout, self.query()).await {
            Ok(Ok(())) => Attempt::Ok,
            Ok(Err(e)) => {
                Attempt::Failed(format!("DNS_CHECK ({}) {e}", describe(self.target.addr)))
            }
            Err(_) => Attempt::Failed(format!(
                "DNS_CHECK ({}) read timeout from socket.",
                describe(self.target.addr)
            )),
        }
    }

    async fn query(&self) -> Result<(), String> {
        let sock = udp_socket(&self.target).await?;
        let id = rand_id();
        sock.send(&build_query(id, &self.name, self.qtype))
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 1500];
        loop {
            let n = sock
                .recv(&mut buf)
                .await
                .map_err(|e| format!("failed to read socket. {e}."))?;
            if check_response(id, &buf[..n])? {
                return Ok(());
            }
        }
    }
}

fn describe(addr: SocketAddr) -> String {
    format!("[{}]:udp:{}", addr.ip(), addr.port())
}

fn rand_id() -> u16 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.subsec_nanos() ^ std::process::id()) as u16
}

/// A connected UDP socket honouring the target's bind options.
pub(super) async fn udp_socket(t: &Target) -> Result<tokio::net::UdpSocket, String> {
    let domain = socket2::Domain::for_address(t.addr);
    let s = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))
        .map_err(|e| e.to_string())?;
    s.set_nonblocking(true).map_err(|e| e.to_string())?;
    t.prepare(&s, false)?;
    let s =
        tokio::net::UdpSocket::from_std(std::net::UdpSocket::from(s)).map_err(|e| e.to_string())?;
    s.connect(t.addr).await.map_err(|e| e.to_string())?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_bytes() {
        let q = build_query(0x1234, "www.example.com", 1);
        let want: Vec<u8> = [
            &[0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0][..],
            &[3],
            b"www",
            &[7],
            b"example",
            &[3],
            b"com",
            &[0, 0, 1, 0, 1],
        ]
        .concat();
        assert_eq!(q, want);
        // The root name "." is a single zero label.
        assert_eq!(&build_query(1, ".", 6)[12..], &[0, 0, 6, 0, 1]);
    }

    #[test]
    fn responses() {
        let mut r = build_query(7, ".", 6);
        assert_eq!(
            check_response(7, &r),
            Ok(false),
            "a query is not a response"
        );
        r[2] |= 0x80;
        assert_eq!(check_response(7, &r), Ok(true));
        assert_eq!(check_response(8, &r), Ok(false), "another id");
        r[3] |= 3; // NXDOMAIN
        assert!(check_response(7, &r).unwrap_err().contains("rcode = 3"));
        assert_eq!(check_response(7, &r[..5]), Ok(false));
    }
}
