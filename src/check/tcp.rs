//! `TCP_CHECK` (keepalived check_tcp.c): the real server is up when a TCP connection to
//! it completes within `connect_timeout`.

use super::{Attempt, Target};
use std::time::Duration;

/// `TCP_CHECK { connect_ip; connect_port; bindto; bind_port; bind_if; fwmark; ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TcpCheck {
    pub target: Target,
}

impl TcpCheck {
    /// One connect attempt; the connection is closed at once.
    pub async fn attempt(&self, connect_timeout: Duration) -> Attempt {
        match self.target.probe(connect_timeout).await {
            Ok(()) => Attempt::Ok,
            Err(e) => {
                let what = super::describe_addr(self.target.addr);
                tracing::debug!("TCP connection to {what}: {e}");
                Attempt::Failed(format!("TCP connection to {what} failed."))
            }
        }
    }
}
