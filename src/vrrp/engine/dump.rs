//! keepalived's VRRP dump files, for operators and for exporters that read them
//! (keepalived 2.2.7 vrrp_print.c / vrrp_data.c):
//!
//! * SIGUSR2 → `keepalived.stats`: per instance, the advert counters in keepalived's exact
//!   layout (`VRRP Instance: NAME`, `Advertisements:` `Received`/`Sent`, `Became master`, …);
//! * SIGUSR1 → `keepalived.data`: the `------< VRRP Topology >------` section with
//!   keepalived's labels for what rkeepalived keeps (`VRRP Instance = NAME`, `State = MASTER`,
//!   `Virtual Router ID`, `Priority`, `Effective priority`, `Advert interval = N milli-sec`,
//!   `Virtual IP (N):`, …). keepalived's other sections (global definitions, sockets,
//!   interfaces) are not written.
//!
//! Both go to `$TMPDIR` (default `/tmp`), as keepalived's.

use super::Engine;
use crate::vrrp::fsm::State;
use std::fmt::Write as _;
use std::path::PathBuf;
use tracing::{error, info};

/// keepalived's stats file name.
pub const STATS_FILE: &str = "keepalived.stats";
/// keepalived's VRRP data file name.
pub const DATA_FILE: &str = "keepalived.data";

fn state_word(s: State) -> &'static str {
    match s {
        State::Init => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
        State::Stop => "STOP",
    }
}

fn enabled(b: bool) -> &'static str {
    if b { "enabled" } else { "disabled" }
}

impl Engine {
    /// The `keepalived.stats` text. Counters rkeepalived keeps differently are mapped to
    /// keepalived's nearest line: a version mismatch counts as `Invalid Type`, a unicast
    /// source not among the peers as `Address List`; `Length` and the authentication type
    /// errors stay 0 (malformed packets are counted engine-wide, before an instance is known).
    pub fn format_stats(&self) -> String {
        let mut out = String::new();
        for rt in &self.instances {
            let s = &rt.stats;
            let _ = write!(
                out,
                "VRRP Instance: {}\n  Advertisements:\n    Received: {}\n    Sent: {}\n\
                 \x20 Became master: {}\n  Released master: {}\n  Packet Errors:\n    Length: 0\n\
                 \x20   TTL: {}\n    Invalid Type: {}\n    Advertisement Interval: {}\n\
                 \x20   Address List: {}\n  Authentication Errors:\n    Invalid Type: 0\n\
                 \x20   Type Mismatch: 0\n    Failure: {}\n  Priority Zero:\n    Received: {}\n\
                 \x20   Sent: {}\n",
                rt.cfg.name,
                s.advert_rcvd,
                s.advert_sent,
                s.become_master,
                s.release_master,
                s.ip_ttl_err,
                s.version_err,
                s.advert_interval_err,
                s.addr_list_err + s.unicast_src_err,
                s.auth_failure,
                s.pri_zero_rcvd,
                s.pri_zero_sent,
            );
        }
        out
    }

    /// The `keepalived.data` text (VRRP topology).
    pub fn format_data(&self) -> String {
        let mut out = String::from("------< VRRP Topology >------\n");
        for rt in &self.instances {
            let c = &rt.cfg;
            let fsm = rt.fsm.config();
            let _ = writeln!(out, " VRRP Instance = {}", c.name);
            let v3 = fsm.version == crate::vrrp::Version::V3;
            let _ = writeln!(out, "   VRRP Version = {}", if v3 { 3 } else { 2 });
            let _ = writeln!(out, "   State = {}", state_word(rt.fsm.state()));
            if let Some(ifname) = &c.interface {
                let _ = writeln!(out, "   Interface = {ifname}");
            }
            let _ = writeln!(out, "   Using src_ip = {}", rt.src);
            if rt.peers.is_empty() {
                if let Some(d) = rt.dsts.first() {
                    let _ = writeln!(out, "   Multicast address {d}");
                }
            } else {
                let _ = writeln!(out, "   Unicast Peer(s) ({}):", rt.peers.len());
                for p in &rt.peers {
                    let _ = writeln!(out, "     {}", p.addr);
                }
            }
            let _ = writeln!(out, "   Virtual Router ID = {}", c.virtual_router_id);
            let _ = writeln!(out, "   Priority = {}", c.priority.0);
            let _ = writeln!(
                out,
                "   Effective priority = {}",
                rt.fsm.effective_priority().0
            );
            // keepalived: whole seconds for VRRPv2, milliseconds for VRRPv3.
            let _ = if v3 {
                writeln!(
                    out,
                    "   Advert interval = {} milli-sec",
                    u32::from(c.advert_int.0) * 10
                )
            } else {
                writeln!(out, "   Advert interval = {} sec", c.advert_int.0 / 100)
            };
            let _ = writeln!(out, "   Accept = {}", enabled(rt.no_accept.is_empty()));
            let _ = writeln!(out, "   Preempt = {}", enabled(!c.nopreempt));
            let (vips, excluded): (Vec<_>, Vec<_>) = rt.vips.iter().partition(|v| !v.excluded);
            let set = if rt.fsm.state() == State::Master {
                " set"
            } else {
                ""
            };
            let _ = writeln!(out, "   Virtual IP ({}):", vips.len());
            for v in &vips {
                let _ = writeln!(
                    out,
                    "     {}/{} dev {}{set}",
                    v.addr.addr, v.addr.prefix_len, v.ifname
                );
            }
            if !excluded.is_empty() {
                let _ = writeln!(out, "   Virtual IP Excluded :");
                for v in &excluded {
                    let _ = writeln!(
                        out,
                        "     {}/{} dev {}{set}",
                        v.addr.addr, v.addr.prefix_len, v.ifname
                    );
                }
            }
        }
        out
    }

    /// Writes `name` with `text` in the data directory; logs the outcome.
    pub(super) fn write_dump(&self, name: &str, text: &str) {
        let path: PathBuf = crate::status::data_dir().join(name);
        match std::fs::write(&path, text) {
            Ok(()) => info!("VRRP {} written to {}", name, path.display()),
            Err(e) => error!("cannot write {}: {e}", path.display()),
        }
    }
}
