//! keepalived's VRRP dump files, for operators and for exporters that read them
//! (keepalived 2.2.7 vrrp_print.c / vrrp_data.c):
//!
//! * SIGUSR2 → `keepalived.stats`: per instance, the advert counters in keepalived's exact
//!   layout (`VRRP Instance: NAME`, `Advertisements:` `Received`/`Sent`, `Became master`, …);
//! * SIGUSR1 → `keepalived.data`: the `------< VRRP Topology >------` section with
//!   keepalived's labels for what rkeepalived keeps (`VRRP Instance = NAME`, `State = MASTER`,
//!   `Virtual Router ID`, `Priority`, `Effective priority`, `Advert interval = N milli-sec`,
//!   `Virtual IP (N):`, `Wantstate`, the `Gratuitous ARP …` settings, `Tracked interfaces`,
//!   `Tracked scripts`, …) and the `------< VRRP Scripts >------` section (`VRRP Script =
//!   NAME`, `Status = GOOD|BAD`, `State = idle`, …) that keepalived-exporter parses.
//!   keepalived's other sections (global definitions, sockets, interfaces) are not written.
//!
//! * keepalived's JSON signal (SIGRTMIN+2, `keepalived --signum=JSON`) → `keepalived.json`:
//!   an array with one `{"data": {…}, "stats": {…}}` object per instance, with keepalived
//!   2.2.7's keys (measured from its output), as keepalived-exporter and monitoring plugins
//!   read it. `vroutes`/`vrules` are not written; settings rkeepalived does not implement
//!   (`promote_secondaries`, `smtp_alert`, `notify_deleted`) read as off.
//!
//! Drop counters keepalived keeps only for SNMP, and rkeepalived's own, follow keepalived's
//! blocks: per instance `  Other Packet Errors:` (`Checksum`, `Version`, `Unicast Source`)
//! in `keepalived.stats` and `chk_err`, `vers_err`, `unicast_src_err` in the JSON `stats`; the
//! packets that match no instance (VRID 0, or undecodable for a VRID that is not ours) in a
//! last `Unmatched VRRP Packets:` block of `keepalived.stats`. Their labels are not
//! keepalived's, so parsers of keepalived's layout (keepalived-exporter) are not misled.
//!
//! All go to `$TMPDIR` (default `/tmp`), as keepalived's.

use super::Engine;
use crate::vrrp::fsm::State;
use std::fmt::Write as _;
use tracing::{error, info};

/// keepalived's stats file name.
pub const STATS_FILE: &str = "keepalived.stats";
/// keepalived's VRRP data file name.
pub const DATA_FILE: &str = "keepalived.data";
/// keepalived's JSON dump file name.
pub const JSON_FILE: &str = "keepalived.json";

/// keepalived's state numbers (`VRRP_STATE_INIT` 0, `BACKUP` 1, `MASTER` 2, `FAULT` 3).
fn state_number(s: State) -> u8 {
    match s {
        State::Init | State::Stop => 0,
        State::Backup => 1,
        State::Master => 2,
        State::Fault => 3,
    }
}

/// A VIP line of `keepalived.data`: `ADDR/LEN dev IF scope S[ set]` (keepalived 2.2.7's
/// `dump_ipaddress`, e.g. `192.168.200.16/24 dev eth0 scope global set`).
fn data_address(v: &super::Vip, set: bool) -> String {
    let a = &v.addr;
    format!(
        "{}/{} dev {} scope {}{}",
        a.addr,
        a.prefix_len,
        v.ifname,
        crate::config::values::scope_name(a.scope),
        if set { " set" } else { "" }
    )
}

/// An address as keepalived's `format_ipaddress` writes it in `keepalived.json`:
/// `ADDR[/LEN] [brd B] dev IF scope S[ label L][ peer P/LEN][ set]` (the length only when it
/// is not a host prefix).
fn json_address(v: &super::Vip, set: bool) -> String {
    let a = &v.addr;
    let host = if a.addr.is_ipv4() { 32 } else { 128 };
    let mut s = a.addr.to_string();
    if a.peer.is_none() && a.prefix_len != host {
        let _ = write!(s, "/{}", a.prefix_len);
    }
    if let (Some(b), true) = (a.brd, a.addr.is_ipv4()) {
        let _ = write!(s, " brd {b}");
    }
    let _ = write!(
        s,
        " dev {} scope {}",
        v.ifname,
        crate::config::values::scope_name(a.scope)
    );
    if let Some(l) = &a.label {
        let _ = write!(s, " label {l}");
    }
    if let Some(p) = a.peer {
        let _ = write!(s, " peer {p}/{}", a.prefix_len);
    }
    if set {
        s.push_str(" set");
    }
    s
}

impl Engine {
    /// The VRRP half of the systemd status line: `VRRP: VI_1 MASTER, VI_2 BACKUP`.
    pub fn vrrp_status(&self) -> String {
        if self.instances.is_empty() {
            return "VRRP: no instance running".to_owned();
        }
        let states: Vec<String> = self
            .instances
            .iter()
            .map(|rt| format!("{} {}", rt.cfg.name, state_word(rt.fsm.state())))
            .collect();
        format!("VRRP: {}", states.join(", "))
    }
}

fn state_word(s: State) -> &'static str {
    match s {
        State::Init => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
        State::Stop => "STOP",
    }
}

/// An instance's counters under keepalived's names (its `vrrp_stats`, the `keepalived.json`
/// `stats` keys), for both dump files; the last three are keepalived's SNMP-only counters and
/// rkeepalived's `unicast_src_err`, written after keepalived's.
#[derive(serde::Serialize)]
struct KeepalivedCounters {
    advert_rcvd: u64,
    advert_sent: u64,
    become_master: u64,
    release_master: u64,
    packet_len_err: u64,
    advert_interval_err: u64,
    ip_ttl_err: u64,
    invalid_type_rcvd: u64,
    addr_list_err: u64,
    invalid_authtype: u64,
    authtype_mismatch: u64,
    auth_failure: u64,
    pri_zero_rcvd: u64,
    pri_zero_sent: u64,
    chk_err: u64,
    vers_err: u64,
    unicast_src_err: u64,
}

impl KeepalivedCounters {
    fn of(s: &super::Stats) -> KeepalivedCounters {
        KeepalivedCounters {
            advert_rcvd: s.advert_rcvd,
            advert_sent: s.advert_sent,
            become_master: s.become_master,
            release_master: s.release_master,
            packet_len_err: s.packet_len_err,
            advert_interval_err: s.advert_interval_err,
            ip_ttl_err: s.ip_ttl_err,
            invalid_type_rcvd: s.invalid_type_rcvd,
            addr_list_err: s.addr_list_err,
            invalid_authtype: s.invalid_authtype,
            authtype_mismatch: s.authtype_mismatch,
            auth_failure: s.auth_failure,
            pri_zero_rcvd: s.pri_zero_rcvd,
            pri_zero_sent: s.pri_zero_sent,
            chk_err: s.chk_err,
            vers_err: s.vers_err,
            unicast_src_err: s.unicast_src_err,
        }
    }
}

/// A command as keepalived's `cmd_str` writes it: each word in single quotes, separated by
/// spaces, the program by its resolved path (keepalived resolves it at load, e.g.
/// `'/usr/bin/true'` for `/bin/true` on a merged-/usr system); a first word that is only a
/// redirection (`</dev/tcp/...`) is not quoted.
fn cmd_str(argv: &[String]) -> String {
    argv.iter()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 && (w.starts_with('<') || w.starts_with('>')) {
                return w.clone();
            }
            let w = if i == 0 && w.starts_with('/') {
                std::fs::canonicalize(w)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| w.clone())
            } else {
                w.clone()
            };
            format!("'{w}'")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// ` weight W[ reverse]` as keepalived's dumps write a tracker's weight.
fn weight_str(weight: i32, reverse: bool) -> String {
    format!("weight {weight}{}", if reverse { " reverse" } else { "" })
}

fn enabled(b: bool) -> &'static str {
    if b { "enabled" } else { "disabled" }
}

impl Engine {
    /// The `keepalived.stats` text (counters as `KeepalivedCounters` maps them).
    pub fn format_stats(&self) -> String {
        let mut out = String::new();
        for rt in &self.instances {
            let s = KeepalivedCounters::of(&rt.stats);
            let _ = write!(
                out,
                "VRRP Instance: {}\n  Advertisements:\n    Received: {}\n    Sent: {}\n\
                 \x20 Became master: {}\n  Released master: {}\n  Packet Errors:\n    Length: {}\n\
                 \x20   TTL: {}\n    Invalid Type: {}\n    Advertisement Interval: {}\n\
                 \x20   Address List: {}\n  Authentication Errors:\n    Invalid Type: {}\n\
                 \x20   Type Mismatch: {}\n    Failure: {}\n  Priority Zero:\n    Received: {}\n\
                 \x20   Sent: {}\n  Other Packet Errors:\n    Checksum: {}\n    Version: {}\n\
                 \x20   Unicast Source: {}\n",
                rt.cfg.name,
                s.advert_rcvd,
                s.advert_sent,
                s.become_master,
                s.release_master,
                s.packet_len_err,
                s.ip_ttl_err,
                s.invalid_type_rcvd,
                s.advert_interval_err,
                s.addr_list_err,
                s.invalid_authtype,
                s.authtype_mismatch,
                s.auth_failure,
                s.pri_zero_rcvd,
                s.pri_zero_sent,
                s.chk_err,
                s.vers_err,
                s.unicast_src_err,
            );
        }
        let g = &self.global_stats;
        let _ = write!(
            out,
            "Unmatched VRRP Packets:\n  Bad Length: {}\n  Bad Checksum: {}\n  Bad Version: {}\n\
             \x20 Bad Type: {}\n  VRID Zero: {}\n  Bad Auth Type: {}\n",
            g.packet_len_err,
            g.chk_err,
            g.vers_err,
            g.invalid_type_rcvd,
            g.vrid_err,
            g.invalid_authtype,
        );
        out
    }

    /// The `keepalived.data` text (VRRP topology).
    pub fn format_data(&self) -> String {
        let mut out = String::from("------< VRRP Topology >------\n");
        for rt in &self.instances {
            let c = &rt.cfg;
            let fsm = rt.fsm.config();
            let _ = writeln!(out, " VRRP Instance = {}", c.name);
            let v3 = fsm.version == crate::units::Version::V3;
            let _ = writeln!(out, "   VRRP Version = {}", if v3 { 3 } else { 2 });
            let _ = writeln!(out, "   State = {}", state_word(rt.fsm.state()));
            // keepalived-exporter reads Wantstate (keepalived's differs from State only while
            // a sync group member waits for the others).
            let _ = writeln!(out, "   Wantstate = {}", state_word(rt.fsm.state()));
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
            // keepalived's GARP settings (whole seconds); keepalived-exporter reads the delay.
            let secs = |d: std::time::Duration| d.as_secs();
            let _ = writeln!(
                out,
                "   Gratuitous ARP delay = {}",
                secs(fsm.garp_master_delay)
            );
            let _ = writeln!(out, "   Gratuitous ARP repeat = {}", rt.garp_repeat);
            let _ = writeln!(
                out,
                "   Gratuitous ARP refresh = {}",
                secs(fsm.garp.refresh)
            );
            let _ = writeln!(
                out,
                "   Gratuitous ARP refresh repeat = {}",
                fsm.garp.refresh_repeat
            );
            let _ = writeln!(
                out,
                "   Gratuitous ARP lower priority delay = {}",
                secs(fsm.garp.lower_prio_delay)
            );
            let _ = writeln!(
                out,
                "   Gratuitous ARP lower priority repeat = {}",
                fsm.garp.lower_prio_repeat
            );
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
                let _ = writeln!(out, "     {}", data_address(v, !set.is_empty()));
            }
            if !excluded.is_empty() {
                let _ = writeln!(out, "   Virtual IP Excluded :");
                for v in &excluded {
                    let _ = writeln!(out, "     {}", data_address(v, !set.is_empty()));
                }
            }
            // keepalived lists the tracked interfaces other than the instance's own, then the
            // tracked scripts with the weight each applies to this instance.
            let tracked_ifs: Vec<_> = c
                .tracking
                .interfaces
                .iter()
                .filter(|t| Some(&t.name) != c.interface.as_ref())
                .collect();
            if !tracked_ifs.is_empty() {
                let _ = writeln!(out, "   Tracked interfaces :");
                for t in tracked_ifs {
                    let _ = writeln!(out, "     {} {}", t.name, weight_str(t.weight, t.reverse));
                }
            }
            if !rt.tracks.is_empty() {
                let _ = writeln!(out, "   Tracked scripts :");
                for (name, w) in &rt.tracks {
                    let _ = writeln!(out, "     {name} {}", weight_str(w.weight, w.reverse));
                }
            }
        }
        self.format_scripts(&mut out);
        out
    }

    /// keepalived's `------< VRRP Scripts >------` section: each tracked `vrrp_script` in
    /// file order with its settings, `Status = GOOD|BAD` and `State = idle` (the lines
    /// keepalived-exporter reads) and the instances tracking it.
    fn format_scripts(&self, out: &mut String) {
        let mut scripts: Vec<_> = self
            .scripts
            .values()
            .filter(|s| self.trackers.contains_key(&s.name))
            .collect();
        if scripts.is_empty() {
            return;
        }
        scripts.sort_by_key(|s| (s.span.line, s.span.col));
        out.push_str("------< VRRP Scripts >------\n");
        for s in scripts {
            let up = self
                .trackers
                .get(&s.name)
                .is_some_and(|t| t.state() == crate::vrrp::track::ScriptState::Up);
            let _ = writeln!(out, " VRRP Script = {}", s.name);
            let _ = writeln!(out, "   Command = {}", cmd_str(&s.script.argv));
            let _ = writeln!(out, "   Interval = {} sec", s.interval.as_secs());
            let _ = writeln!(out, "   Timeout = {} sec", s.timeout.as_secs());
            let _ = writeln!(out, "   Weight = {}", s.weight);
            let _ = writeln!(out, "   Rise = {}", s.rise);
            let _ = writeln!(out, "   Fall = {}", s.fall);
            let _ = writeln!(out, "   Status = {}", if up { "GOOD" } else { "BAD" });
            let _ = writeln!(out, "   Tracking instances :");
            for rt in &self.instances {
                for (name, w) in &rt.tracks {
                    if *name == s.name {
                        let _ = writeln!(
                            out,
                            "     {}, {}",
                            rt.cfg.name,
                            weight_str(w.weight, w.reverse)
                        );
                    }
                }
            }
            let _ = writeln!(out, "   State = idle");
        }
    }

    /// The `keepalived.json` text (see the module documentation).
    pub fn format_json(&self) -> String {
        use serde_json::{Value, json};
        let all: Vec<Value> = self
            .instances
            .iter()
            .map(|rt| {
                let c = &rt.cfg;
                let fsm = rt.fsm.config();
                let state = rt.fsm.state();
                let set = state == State::Master;
                let secs = |d: std::time::Duration| d.as_secs();
                let (vips, evips): (Vec<_>, Vec<_>) = rt.vips.iter().partition(|v| !v.excluded);
                let since_epoch = rt
                    .last_transition
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                let mut data = json!({
                    "iname": c.name,
                    "dont_track_primary": u8::from(c.tracking.dont_track_primary),
                    "skip_check_adv_addr": u8::from(rt.skip_check_adv_addr),
                    "strict_mode": u8::from(c.strict_mode),
                    "vmac_ifname": c.use_vmac.as_ref().map_or(String::new(), |n| n.clone()
                        .unwrap_or_else(|| crate::net::vmac::default_name(c.virtual_router_id.get()))),
                    "ifp_ifname": c.interface.clone().unwrap_or_default(),
                    "master_priority": rt.master_priority,
                    "last_transition": since_epoch.as_secs_f64(),
                    "garp_delay": secs(fsm.garp_master_delay),
                    "garp_refresh": secs(fsm.garp.refresh),
                    "garp_rep": rt.garp_repeat,
                    "garp_refresh_rep": fsm.garp.refresh_repeat,
                    "garp_lower_prio_delay": secs(fsm.garp.lower_prio_delay),
                    "garp_lower_prio_rep": fsm.garp.lower_prio_repeat,
                    "lower_prio_no_advert": u8::from(fsm.garp.lower_prio_no_advert),
                    "higher_prio_send_advert": u8::from(fsm.garp.higher_prio_send_advert),
                    "vrid": c.virtual_router_id.get(),
                    "base_priority": c.priority.0,
                    "effective_priority": rt.fsm.effective_priority().0,
                    "vipset": set,
                    "promote_secondaries": false,
                    "adver_int": u64::from(c.advert_int.0) / 100,
                    "master_adver_int": u64::from(rt.fsm.master_adver_interval().0) / 100,
                    "accept": u8::from(rt.no_accept.is_empty()),
                    "nopreempt": c.nopreempt,
                    "preempt_delay": secs(c.preempt_delay),
                    "state": state_number(state),
                    "wantstate": state_number(state),
                    "version": if fsm.version == crate::units::Version::V3 { 3 } else { 2 },
                    "smtp_alert": false,
                    "notify_deleted": false,
                    "vips": vips.iter().map(|v| json_address(v, set)).collect::<Vec<_>>(),
                });
                let obj = data.as_object_mut().expect("an object");
                if !evips.is_empty() {
                    obj.insert(
                        "evips".into(),
                        evips.iter().map(|v| json_address(v, set)).collect(),
                    );
                }
                // keepalived lists the tracked interfaces other than the instance's own.
                let tracked: Vec<String> = c
                    .tracking
                    .interfaces
                    .iter()
                    .filter(|t| Some(&t.name) != c.interface.as_ref())
                    .map(|t| t.name.clone())
                    .collect();
                if !tracked.is_empty() {
                    obj.insert("track_ifp".into(), tracked.into());
                }
                // keepalived lists each tracked script by its command (`cmd_str`).
                let scripts: Vec<String> = rt
                    .tracks
                    .iter()
                    .filter_map(|(n, _)| self.scripts.get(n))
                    .map(|s| cmd_str(&s.script.argv))
                    .collect();
                if !scripts.is_empty() {
                    obj.insert("track_script".into(), scripts.into());
                }
                let (auth_type, auth_data) = match &c.authentication {
                    Some(crate::config::model::Authentication::Pass(p)) => {
                        (1, Some(String::from_utf8_lossy(p).into_owned()))
                    }
                    Some(crate::config::model::Authentication::Ah(_)) => (2, None),
                    None => (0, None),
                };
                obj.insert("auth_type".into(), auth_type.into());
                if let Some(d) = auth_data {
                    obj.insert("auth_data".into(), d.into());
                }
                let stats = serde_json::to_value(KeepalivedCounters::of(&rt.stats))
                    .unwrap_or_default();
                json!({ "data": data, "stats": stats })
            })
            .collect();
        Value::Array(all).to_string()
    }

    /// keepalived's STATS_CLEAR: writes `keepalived.stats` with the counters as they were
    /// (keepalived's `vrrp_print_stats(clear)`, so what was counted is not lost), then sets
    /// every instance's counters back to zero.
    pub(super) fn clear_stats(&mut self) {
        self.write_dump(STATS_FILE, &self.format_stats());
        for rt in &mut self.instances {
            rt.stats = Default::default();
        }
        self.global_stats = Default::default();
        info!(
            "Printing and clearing VRRP stats for process({}) on signal",
            std::process::id()
        );
    }

    /// Writes `name` with `text` in the data directory (mode 0600, atomically, see
    /// [`crate::data_file::write`]); logs the outcome.
    pub(super) fn write_dump(&self, name: &str, text: &str) {
        let dir = crate::data_file::data_dir();
        match crate::data_file::write(&dir, name, text.as_bytes()) {
            Ok(path) => info!("VRRP {} written to {}", name, path.display()),
            Err(e) => error!("cannot write {}: {e}", dir.join(name).display()),
        }
    }
}
