//! The privileged IO edges: raw VRRP sockets, rtnetlink address changes, gratuitous ARP.

pub mod garp;
pub mod netlink;
pub mod socket;
