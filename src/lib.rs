//! rkeepalived: a VRRP daemon (RFC 3768 / RFC 5798) with an IPVS load balancer and health
//! checkers, with keepalived's config language, command line and wire behaviour.
//!
//! Module map by floor, lowest first: a module imports only modules on its own floor or below
//! (`tests/pure/module_graph.rs` checks it, and that there is no import cycle). The whole
//! picture, with the processes, threads, data flow and test layers, is in the repository's
//! `ARCHITECTURE.md`.
//!
//! 0. [`units`] (typed `Priority`, `Vrid`, `Centiseconds`, `Version`), [`timing`], [`cli`]
//!    (keepalived 2.2.7's flags), [`data_file`] (where data files go, private atomic writes).
//! 1. [`wire`] (pure codecs: VRRP, ARP, NA, the Internet checksum), [`config`] (lexer with a
//!    resource budget, parser rooms per block family, typed model with keepalived's defaults,
//!    `file:line:col` diagnostics), [`vrrp::fsm`] (RFC 5798 §6.4, sans-IO, injected time).
//! 2. [`net`] (raw sockets, rtnetlink, AF_PACKET, nftables, the state record), [`script`] (argv
//!    rules, timeouts, who runs what), [`notify`], [`mail`], [`systemd`], [`track_file`].
//! 3. [`vrrp`] (the pure per-instance [`vrrp::plan`] and reload [`vrrp::diff`], trackers, sync
//!    groups, counters), [`check`] (checkers, runner, events, dump), [`ipvs`] (ip_vs.h constants,
//!    generic netlink, desired table, pure reconcile, health and quorum, announced routes,
//!    controller).
//! 4. [`vrrp::engine`] (the task that owns every instance and its `vrrp-kernel` worker),
//!    [`metrics`].
//! 5. [`daemon`] (lifecycle, signals, reload, logging), [`supervisor`].
//!
//! State machines, codecs, plans and diffs never touch a socket or a clock; IO lives in `net`,
//! `script`, `ipvs::{genl, program, controller}`, `check`'s checkers, `vrrp::engine` and
//! `daemon`.

pub mod check;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod data_file;
pub mod ipvs;
pub mod mail;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod resident;
pub mod script;
pub mod supervisor;
pub mod systemd;
pub mod timing;
pub mod track_file;
pub mod units;
pub mod vrrp;
pub mod wire;
