//! `UDP_CHECK` (keepalived check_udp.c): sends `payload` to the service. Without
//! `require_reply` the service is up unless an ICMP port unreachable comes back (seen as
//! ECONNREFUSED on the connected socket) within `connect_timeout`; with it, a reply must
//! arrive, start with the required bytes, and have a length within the bounds.

use super::{Attempt, Target};
use std::time::Duration;

/// `UDP_CHECK { payload HEX; require_reply [HEX]; min_reply_length N; max_reply_length N }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UdpCheck {
    pub target: Target,
    pub payload: Vec<u8>,
    /// `None`: no reply required; `Some(prefix)`: a reply starting with `prefix` (may be empty).
    pub require_reply: Option<Vec<u8>>,
    pub min_reply_length: usize,
    pub max_reply_length: usize,
}

impl UdpCheck {
    /// One exchange within `timeout`.
    pub async fn attempt(&self, timeout: Duration) -> Attempt {
        let describe = format!(
            "[{}]:udp:{}",
            self.target.addr.ip(),
            self.target.addr.port()
        );
        let sock = match super::dns::udp_socket(&self.target).await {
            Ok(s) => s,
            Err(e) => return Attempt::Failed(format!("UDP_CHECK ({describe}) {e}")),
        };
        if let Err(e) = sock.send(&self.payload).await {
            return Attempt::Failed(format!("UDP_CHECK ({describe}) send failed: {e}"));
        }
        let mut buf = vec![0u8; 65536];
        match tokio::time::timeout(timeout, sock.recv(&mut buf)).await {
            Ok(Ok(n)) => {
                let reply = &buf[..n];
                match &self.require_reply {
                    Some(prefix) if !reply.starts_with(prefix) => {
                        Attempt::Failed(format!("UDP_CHECK ({describe}) reply does not match"))
                    }
                    Some(_) if n < self.min_reply_length || n > self.max_reply_length => {
                        Attempt::Failed(format!(
                            "UDP_CHECK ({describe}) reply length {n} out of bounds"
                        ))
                    }
                    _ => Attempt::Ok,
                }
            }
            Ok(Err(e)) => Attempt::Failed(format!("UDP_CHECK ({describe}) {e}")),
            Err(_) if self.require_reply.is_none() => Attempt::Ok,
            Err(_) => Attempt::Failed(format!("UDP_CHECK ({describe}) no reply")),
        }
    }
}
