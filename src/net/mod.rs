//! The privileged IO edges: raw VRRP sockets, rtnetlink address changes, gratuitous ARP.
//!
//! Each edge is thin and sits behind a small trait so that `vrrp::engine` can run against a
//! recording fake in unit tests:
//!
//! | trait | real implementation | what it does |
//! |---|---|---|
//! | [`AdvertTx`] | [`socket::VrrpSocket`] | send one VRRP message (no IP header) to the group or a unicast peer |
//! | [`AddrOps`] | [`netlink::Netlink`] | add / remove a virtual address on an interface (rtnetlink) |
//! | [`GarpTx`] | [`garp::PacketSocket`] | send one 28-byte ARP payload as a link-layer broadcast |
//! | [`NaTx`] | [`socket6::NaSocket`] | send one unsolicited Neighbour Advertisement to ff02::1 |
//!
//! [`socket6::Vrrp6Socket`] is the IPv6 VRRP socket; [`AnyVrrpSocket`] holds either family.
//!
//! These modules deal in raw bytes only: building and parsing VRRP adverts and ARP payloads is
//! the job of `wire::*`. Every failure is a [`NetError`] naming what was attempted and, where
//! the kernel gave one, the errno.

use std::io;

pub mod addr_monitor;
pub mod firewall;
pub mod garp;
pub mod ledger;
pub mod link_monitor;
pub mod netlink;
pub mod objects;
pub mod release;
pub mod route;
pub mod socket;
pub mod socket6;
pub mod vmac;

pub use garp::{GarpTx, PacketSocket};
pub use netlink::{AddrOps, IfAddr, LinkInfo, Netlink};
pub use socket::{AdvertTx, Received, VrrpSocket};
pub use socket6::{AnyVrrpSocket, NaSocket, NaTx, Vrrp6Socket};

/// Errors of the IO edges (sockets and rtnetlink).
///
/// `op` strings say what was attempted, e.g. `"RTM_NEWADDR 10.0.0.1/32 on ifindex 3"` or
/// `"sendmsg to 224.0.0.18"`, so a log line is useful without the call site.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A system call on a socket failed (`socket`, `setsockopt`, `bind`, `sendmsg`, `recv`, ...).
    /// A full socket buffer on a non-blocking send shows up here with kind `WouldBlock`.
    #[error("{op}: {source}")]
    Io {
        /// What was attempted.
        op: String,
        /// The OS error (its `raw_os_error()` is the errno).
        #[source]
        source: io::Error,
    },
    /// The kernel answered a netlink request with `NLMSG_ERROR` carrying a non-zero errno
    /// (stored positive, e.g. `libc::ENODEV`).
    #[error("{op}: kernel said: {}", io::Error::from_raw_os_error(*errno))]
    Netlink {
        /// What was attempted.
        op: String,
        /// Positive errno from the kernel's `struct nlmsgerr`.
        errno: i32,
    },
    /// A netlink message could not be serialised, or a reply could not be parsed.
    #[error("{op}: bad netlink message: {detail}")]
    Codec {
        /// What was attempted.
        op: String,
        /// The codec's description of the problem.
        detail: String,
    },
    /// A datagram handed up by the kernel could not be understood (e.g. an IPv4 header
    /// shorter than its IHL says). Hot-path callers count these rather than log each.
    #[error("malformed datagram: {0}")]
    Malformed(&'static str),
    /// A datagram was larger than the caller's buffer; its tail was cut off by the kernel.
    #[error("datagram of {len} bytes truncated to a {capacity}-byte buffer")]
    Truncated {
        /// Real length of the datagram, IP header included.
        len: usize,
        /// Length of the buffer that was offered.
        capacity: usize,
    },
}

impl NetError {
    /// The errno behind this error, if the kernel gave one (positive, as in `libc::EEXIST`).
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetError::Io { source, .. } => source.raw_os_error(),
            NetError::Netlink { errno, .. } => Some(*errno),
            NetError::Codec { .. } | NetError::Malformed(_) | NetError::Truncated { .. } => None,
        }
    }

    /// Builds an [`NetError::Io`] from the last OS error-returning call.
    pub(crate) fn io(op: impl Into<String>, source: io::Error) -> NetError {
        NetError::Io {
            op: op.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine moves these handles into tasks and shares them: they must stay `Send + Sync`.
    #[test]
    fn handles_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Netlink>();
        assert_send_sync::<VrrpSocket>();
        assert_send_sync::<PacketSocket>();
        assert_send_sync::<NetError>();
    }

    #[test]
    fn errno_is_reported_for_kernel_and_os_errors() {
        let nl = NetError::Netlink {
            op: "RTM_NEWADDR 10.0.0.1/32 on ifindex 7".into(),
            errno: libc::ENODEV,
        };
        assert_eq!(nl.errno(), Some(libc::ENODEV));
        assert!(
            nl.to_string()
                .starts_with("RTM_NEWADDR 10.0.0.1/32 on ifindex 7: ")
        );
        let os = NetError::io(
            "bind 10.0.0.1",
            io::Error::from_raw_os_error(libc::EADDRNOTAVAIL),
        );
        assert_eq!(os.errno(), Some(libc::EADDRNOTAVAIL));
        assert_eq!(NetError::Malformed("x").errno(), None);
    }
}
