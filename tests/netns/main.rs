//! The real kernel in network namespaces the tests create and delete: VIPs, adverts on the wire,
//! checkers, dumps, trackers, IPv6, unicast. Every test is `#[ignore]`d with its reason (root,
//! network namespaces, tools); `scripts/test-all` runs them with `--include-ignored`.

#[path = "../support/mod.rs"]
mod support;

mod accept;
mod check;
mod check_data;
mod check_file;
mod dumps;
mod ha_suspend;
mod ipv6;
mod net_io;
mod net_route;
mod runtime;
mod trackers;
mod unicast;
mod vrrp;
mod wire_tshark;
