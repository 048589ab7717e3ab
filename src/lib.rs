//! rkeepalived: a VRRP daemon (RFC 3768 / RFC 5798) with keepalived's config language,
//! command line and wire behaviour, in one process.
//!
//! Module map (the whole picture, with the processes, threads and test layers, is in the
//! repository's `ARCHITECTURE.md`):
//!
//! * [`check`] — health checkers with keepalived semantics (TCP_CHECK, HTTP_GET, MISC_CHECK) and
//!   their retry/`delay_loop` state machine ([`check::state`]).
//! * [`cli`] — clap definitions for keepalived-compatible flags (`-f -n -l -D -S -P -C -t -p -i ...`).
//! * [`config`] — keepalived's config language: [`config::lexer`] (tokens, comments, quotes,
//!   `include`, `@id`, `$VAR`), [`config::parser`] (keyword tables), [`config::model`] (typed model
//!   with keepalived's defaults) and [`config::diag`] (`file:line:col: level: message`).
//! * [`wire`] — pure codecs: [`wire::vrrp`] (VRRPv2/v3 adverts), [`wire::arp`] (gratuitous ARP).
//! * [`vrrp`] — the RFC 5798 §6.4 state machine per instance ([`vrrp::fsm`], sans-IO, injected
//!   time), effective priority from trackers ([`vrrp::track`]), and [`vrrp::engine`], the task that
//!   owns every instance and turns socket/timer/script events into inputs and actions into IO.
//! * [`net`] — the privileged IO edges: [`net::socket`] (raw IPPROTO_VRRP), [`net::netlink`]
//!   (VIP add/remove over rtnetlink with neli), [`net::garp`] (AF_PACKET gratuitous ARP).
//! * [`ipvs`] — IPVS load balancing: [`ipvs::consts`] (ip_vs.h), [`ipvs::genl`] (generic
//!   netlink client), [`ipvs::model`], [`ipvs::health`] (quorum), [`ipvs::desired`] (the table
//!   from `virtual_server`s), [`ipvs::reconcile`] (pure diff), [`ipvs::program`] (applied at
//!   start and reload, removed at exit unless `-I`) and [`ipvs::controller`] (the task).
//! * [`script`] — running notify and `vrrp_script` commands with keepalived's argv rules and timeouts.
//! * [`track_file`] — the files of `track_file` blocks, read by VRRP trackers and `FILE_CHECK`.
//! * [`data_file`] — where keepalived's data files go (`$TMPDIR`) and their private, atomic writes.
//! * [`timing`] — opt-in startup phase timestamps for benchmarks.
//! * [`units`] — typed units shared by the config model, the codecs and the state machine
//!   ([`units::Priority`], [`units::Vrid`], [`units::Centiseconds`], [`units::Version`]); imports
//!   no other module of the crate.
//! * [`systemd`] — sd_notify readiness, reload, stop, status and watchdog messages.
//! * [`daemon`] — `-t`, the supervisor's and the daemon's lives (pidfiles, namespace, runtime),
//!   signals (TERM graceful release, HUP reload, dumps), the SIGHUP reload and keepalived's
//!   logging.
//!
//! State machines and codecs never touch a socket or a clock; IO lives only in `net`, `script`,
//! `vrrp::engine` and `daemon`.

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
pub mod script;
pub mod supervisor;
pub mod systemd;
pub mod timing;
pub mod track_file;
pub mod units;
pub mod vrrp;
pub mod wire;
