//! IPVS (Linux Virtual Server) support: keepalived's `virtual_server` blocks programmed into
//! the kernel over the generic netlink family `"IPVS"`.
//!
//! * [`consts`] — `include/uapi/linux/ip_vs.h` names, pinned by a test.
//! * [`model`] — services, destinations and changes ([`model::Op`]) in ABI units.
//! * [`genl`] — the netlink client ([`genl::IpvsSocket`]): family resolution with a
//!   `modprobe ip_vs` retry, dumps, pipelined changes, flush, info, timeouts.
//! * [`health`] — real-server health, quorum and sorry server as pure state.
//! * [`desired`] — the desired table from the config and that health (pure).
//! * [`reconcile`] — the pure diff from the kernel's table to the desired one.
//! * [`program`] — applying a table to the kernel: at start, at reload, at exit (blocking).
//! * [`transition`] — a real server's transition: keepalived's log lines, mail, scripts.
//! * [`announce`] — `announce_route`: the routes a routing daemon announces while quorum is up.
//! * [`controller`] — the task that owns the socket and the table and follows the checkers.
//! * [`syncd`] — rkeepalived-only `lvs_sync_daemon IF active_active`: both sync daemons.

pub mod announce;
pub mod consts;
pub mod controller;
pub mod desired;
pub mod genl;
pub mod health;
pub mod model;
pub mod program;
pub mod reconcile;
pub mod syncd;
pub mod transition;

/// Errors of the IPVS layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpvsError {
    /// The socket could not be opened, or send/recv failed (including the reply timeout).
    #[error("IPVS netlink: {0}")]
    Io(String),
    /// The `IPVS` generic netlink family does not exist (no `ip_vs` module, even after
    /// `modprobe ip_vs`).
    #[error("IPVS is not available in this kernel (generic netlink family \"IPVS\" not found)")]
    NoFamily,
    /// The kernel refused a request (`errno` is positive, e.g. `EEXIST`, `ESRCH`, `ENOENT`).
    #[error("IPVS {op}: {}", std::io::Error::from_raw_os_error(*errno))]
    Kernel { op: String, errno: i32 },
    /// A reply could not be decoded.
    #[error("IPVS netlink reply: {0}")]
    Decode(String),
}
