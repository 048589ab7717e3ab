//! `virtual_server`, `real_server` and `virtual_server_group` blocks
//! (keepalived/check/check_parser.c, 2.2.7), as a child module of the parser so that it shares
//! the token stream, the value helpers and the diagnostics.
//!
//! Checker blocks (`TCP_CHECK`, `HTTP_GET`, …) are recognised and skipped with one warning each:
//! rkeepalived does not run health checks yet, so every real server counts as up.

use super::Parser;
use crate::config::keywords::{CHECKERS, Context};
use crate::config::lexer::Line;
use crate::config::model::{
    AnnounceRoute, CheckTiming, LbKind, RealServer, SvcFlags, VirtualServer, VsProtocol, VsTarget,
    VsgEntry,
};
use crate::config::values;
/// keepalived's `RTPROT_KEEPALIVED` (18), the default `proto` of `announce_route`.
const RTPROT_KEEPALIVED: u8 = 18;
use std::time::Duration;

/// Schedulers keepalived 2.2.7 accepts for `lb_algo` (check_parser.c: `lvs_sched_handler`).
pub const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos",
];
/// `persistence_timeout` without a value (keepalived `IPVS_SVC_PERSISTENT_TIMEOUT`).
pub const DEFAULT_PERSISTENCE_TIMEOUT: u32 = 360;
/// Upper bound of `persistence_timeout` (31 days, check_parser.c).
const MAX_PERSISTENCE_TIMEOUT: u64 = 2_678_400;
/// keepalived's default `delay_loop`.
const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);

impl Parser<'_> {
    /// `virtual_server IP PORT | fwmark N | group NAME { … }`.
    pub(super) fn virtual_server(&mut self, line: &Line) {
        let owner = line.keyword().clone();
        let Some(target) = self.vs_target(line) else {
            self.skip_block_if_any(&owner);
            return;
        };
        let who = format!("(VS {}) ", vs_label(line));
        let mut vs = VirtualServer {
            target,
            lb_algo: "wlc".into(),
            lb_kind: LbKind::Nat,
            protocol: VsProtocol::Tcp,
            persistence_timeout: None,
            persistence_granularity: None,
            persistence_engine: None,
            flags: SvcFlags::default(),
            sorry_server: None,
            delay_loop: DEFAULT_DELAY_LOOP,
            ip_family_v6: None,
            // Sized like the previous virtual server's: large configs repeat one shape.
            real_servers: Vec::with_capacity(self.last_rs_count),
            health: Default::default(),
            span: owner.span,
        };
        let mut protocol_span = None;
        self.open_block(&owner);
        while let Some(l) = self.next_in_block(&owner) {
            if l.keyword().text == "protocol" {
                protocol_span = Some(*l.span());
            }
            self.vs_keyword(&who, &mut vs, &l);
        }
        if let (VsTarget::Fwmark { .. }, Some(span)) = (&vs.target, protocol_span) {
            self.diags.warn(
                &span,
                format!("{who}protocol is ignored for a fwmark virtual server"),
            );
        }
        self.complete_vs(&who, &mut vs);
        if vs.real_servers.is_empty() {
            // keepalived 2.2.7 (check_data.c): the service is not created.
            self.diags.warn(
                &vs.span,
                format!("{who}virtual server has no real servers - ignoring"),
            );
            return;
        }
        self.validate_vs(&who, &mut vs, protocol_span.is_some());
        // A large config keeps thousands of these: no spare capacity.
        vs.real_servers.shrink_to_fit();
        self.last_rs_count = vs.real_servers.len();
        self.config.ipvs.virtual_servers.push(vs);
    }

    fn vs_target(&mut self, line: &Line) -> Option<VsTarget> {
        let kw = line.keyword();
        let Some(first) = line.arg(1) else {
            self.diags.error(
                &kw.span,
                "virtual_server needs IP PORT, fwmark N or group NAME - skipping",
            );
            return None;
        };
        match first.text.as_str() {
            "fwmark" => {
                let mark = self.unsigned("", line, 2, (1, u32::MAX as u64), "skipping")?;
                Some(VsTarget::Fwmark {
                    mark: mark as u32,
                    ipv6: false,
                })
            }
            "group" => {
                let name = self.need("", line, 2)?.clone();
                if !self.config.ipvs.groups.contains_key(name.text.as_str()) {
                    self.diags.error(
                        &name.span,
                        format!(
                            "virtual_server_group {} is not defined - skipping",
                            name.text
                        ),
                    );
                    return None;
                }
                Some(VsTarget::Group(name.text.into_string()))
            }
            text => {
                let Some(addr) = values::ip_addr(text) else {
                    self.bad_value("", line, first, "not an IP address", "skipping");
                    return None;
                };
                let port = self.unsigned("", line, 2, (0, 65535), "skipping")?;
                Some(VsTarget::Addr {
                    addr,
                    port: port as u16,
                })
            }
        }
    }

    fn vs_keyword(&mut self, who: &str, vs: &mut VirtualServer, l: &Line) {
        match l.keyword().text.as_str() {
            "lb_algo" | "lvs_sched" => {
                let Some(word) = self.need(who, l, 1) else {
                    return;
                };
                if SCHEDULERS.contains(&word.text.as_str()) {
                    vs.lb_algo = word.text.to_string();
                } else {
                    self.bad_value(who, l, word, "unknown scheduler", "using wlc");
                }
            }
            "lb_kind" | "lvs_method" => {
                if let Some(kind) = self.lb_kind(who, l) {
                    vs.lb_kind = kind;
                }
            }
            "protocol" => {
                let Some(word) = self.need(who, l, 1) else {
                    return;
                };
                match word.text.to_ascii_uppercase().as_str() {
                    "TCP" => vs.protocol = VsProtocol::Tcp,
                    "UDP" => vs.protocol = VsProtocol::Udp,
                    "SCTP" => vs.protocol = VsProtocol::Sctp,
                    _ => self.bad_value(who, l, word, "expected TCP, UDP or SCTP", "using TCP"),
                }
            }
            "persistence_timeout" => {
                if l.arg(1).is_none() {
                    vs.persistence_timeout = Some(DEFAULT_PERSISTENCE_TIMEOUT);
                } else if let Some(t) =
                    self.unsigned(who, l, 1, (1, MAX_PERSISTENCE_TIMEOUT), "ignored")
                {
                    vs.persistence_timeout = Some(t as u32);
                }
            }
            "persistence_granularity" => {
                let Some(word) = self.need(who, l, 1) else {
                    return;
                };
                match granularity(&word.text) {
                    Some(p) => vs.persistence_granularity = Some(u32::from(p)),
                    None => self.bad_value(
                        who,
                        l,
                        word,
                        "expected a contiguous IPv4 netmask or a prefix length 1-128",
                        "ignored",
                    ),
                }
            }
            "persistence_engine" => {
                if let Some(word) = self.need(who, l, 1) {
                    vs.persistence_engine = Some(word.text.to_string());
                }
            }
            "delay_loop" => {
                let Some(word) = self.need(who, l, 1) else {
                    return;
                };
                match values::timer(
                    word.text.as_str(),
                    Duration::from_micros(1),
                    Duration::from_secs(u32::MAX as u64 / 1_000_000),
                ) {
                    Ok(d) => vs.delay_loop = d,
                    Err(e) => self.bad_value(who, l, word, e, "using 60s"),
                }
            }
            "sorry_server" => {
                let Some(word) = self.need(who, l, 1) else {
                    return;
                };
                let Some(addr) = values::ip_addr(&word.text) else {
                    self.bad_value(who, l, word, "not an IP address", "ignored");
                    return;
                };
                let port = match l.arg(2) {
                    None => 0,
                    Some(_) => match self.unsigned(who, l, 2, (0, 65535), "ignored") {
                        Some(p) => p as u16,
                        None => return,
                    },
                };
                vs.sorry_server = Some((addr, port));
            }
            "ip_family" => {
                let Some(word) = self.need(who, l, 1) else {
                    return;
                };
                match word.text.as_str() {
                    "inet" => vs.ip_family_v6 = Some(false),
                    "inet6" => vs.ip_family_v6 = Some(true),
                    _ => self.bad_value(who, l, word, "expected inet or inet6", "ignored"),
                }
            }
            "connect_timeout" | "retry" | "delay_before_retry" | "warmup" | "alpha" => {
                self.timing_keyword(who, &mut vs.health.timing, l);
            }
            "inhibit_on_failure" => {
                vs.health.inhibit_on_failure =
                    self.flag(who, l).unwrap_or(vs.health.inhibit_on_failure)
            }
            "omega" => vs.health.omega = self.flag(who, l).unwrap_or(vs.health.omega),
            "smtp_alert" => {
                if let Some(on) = self.flag(who, l) {
                    vs.health.smtp_alert = Some(on);
                }
            }
            "ha_suspend" => {
                vs.health.ha_suspend = self.flag(who, l).unwrap_or(vs.health.ha_suspend)
            }
            "sorry_server_inhibit" => {
                vs.health.sorry_server_inhibit =
                    self.flag(who, l).unwrap_or(vs.health.sorry_server_inhibit)
            }
            "quorum" => {
                if let Some(q) = self.unsigned(who, l, 1, (1, u32::MAX as u64), "using 1") {
                    vs.health.quorum = q as u32;
                }
            }
            "hysteresis" => {
                if let Some(h) = self.unsigned(who, l, 1, (0, u32::MAX as u64), "using 0") {
                    vs.health.hysteresis = h as u32;
                }
            }
            "quorum_up" => vs.health.quorum_up = self.command(who, l, true).map(Box::new),
            "quorum_down" => vs.health.quorum_down = self.command(who, l, true).map(Box::new),
            "announce_route" => {
                if let Some(a) = self.announce_route(who, l, &vs.target) {
                    vs.health.announce_route = Some(a);
                }
            }
            "virtualhost" => {
                vs.health.virtualhost = self.need(who, l, 1).map(|w| w.text.to_string())
            }
            "ops" => vs.flags.one_packet = true,
            // keepalived check_parser.c: checked against the scheduler set so far (a later
            // `lb_algo sh` does not count). keepalived 2.2.7 says "sh scheduler" for the mh
            // keywords too; this names the right one.
            kw @ ("sh-fallback" | "sh-port" | "mh-fallback" | "mh-port")
                if vs.lb_algo != kw[..2] =>
            {
                self.diags.warn(
                    &l.keyword().span,
                    format!(
                        "{who}{kw} only applies to {} scheduler - ignoring",
                        &kw[..2]
                    ),
                );
            }
            "flag-1" | "sh-fallback" | "mh-fallback" => vs.flags.sched1 = true,
            "flag-2" | "sh-port" | "mh-port" => vs.flags.sched2 = true,
            "flag-3" => vs.flags.sched3 = true,
            "real_server" => {
                if let Some(rs) = self.real_server(who, l) {
                    vs.real_servers.push(rs);
                }
            }
            _ => self.not_parsed(l, Context::VirtualServer),
        }
    }

    /// rkeepalived-only `announce_route table N [proto P] [metric M]` (see
    /// [`AnnounceRoute`]); `table` is required, `proto` defaults to keepalived's 18. A fwmark
    /// virtual server has no address to announce: warned and ignored.
    fn announce_route(&mut self, who: &str, l: &Line, target: &VsTarget) -> Option<AnnounceRoute> {
        if let VsTarget::Fwmark { .. } = target {
            self.diags.warn(
                &l.keyword().span,
                format!("{who}announce_route: a fwmark virtual server has no address - ignored"),
            );
            return None;
        }
        let (mut table, mut proto, mut metric) = (None, RTPROT_KEEPALIVED, None);
        let mut i = 1;
        while let Some(word) = l.arg(i) {
            match word.text.as_str() {
                "table" => {
                    table =
                        Some(
                            self.unsigned(who, l, i + 1, (1, u64::from(u32::MAX)), "ignored")?
                                as u32,
                        )
                }
                "metric" => {
                    metric =
                        Some(
                            self.unsigned(who, l, i + 1, (0, u64::from(u32::MAX)), "ignored")?
                                as u32,
                        )
                }
                "proto" => {
                    let w = self.need(who, l, i + 1)?;
                    proto = match w.text.as_str() {
                        "boot" => 3,
                        "static" => 4,
                        "keepalived" => RTPROT_KEEPALIVED,
                        _ => self.unsigned(who, l, i + 1, (0, 255), "ignored")? as u8,
                    };
                }
                _ => {
                    self.bad_value(who, l, word, "expected table, proto or metric", "ignored");
                    return None;
                }
            }
            i += 2;
        }
        let Some(table) = table else {
            self.diags.error(
                &l.keyword().span,
                format!("{who}announce_route needs 'table N' - ignored"),
            );
            return None;
        };
        Some(AnnounceRoute {
            table,
            proto,
            metric,
        })
    }

    /// `NAT|DR|TUN [options]` (case-sensitive, as keepalived; the TUN options in
    /// `parser_lvs.rs`).
    fn lb_kind(&mut self, who: &str, l: &Line) -> Option<LbKind> {
        let word = self.need(who, l, 1)?;
        match word.text.as_str() {
            "NAT" => Some(LbKind::Nat),
            "DR" => Some(LbKind::Dr),
            "TUN" => self.tunnel_opts(who, l).map(LbKind::Tun),
            _ => {
                self.bad_value(who, l, word, "expected NAT, DR or TUN", "ignored");
                None
            }
        }
    }

    /// `real_server IP [PORT] { … }`.
    fn real_server(&mut self, who: &str, line: &Line) -> Option<RealServer> {
        let owner = line.keyword();
        let addr_word = match self.need(who, line, 1) {
            Some(w) => w,
            None => {
                self.skip_block_if_any(owner);
                return None;
            }
        };
        let Some(addr) = values::ip_addr(&addr_word.text) else {
            self.bad_value(who, line, addr_word, "not an IP address", "skipping");
            self.skip_block_if_any(owner);
            return None;
        };
        let port = match line.arg(2) {
            None => 0,
            Some(_) => match self.unsigned(who, line, 2, (0, 65535), "skipping") {
                Some(p) => p as u16,
                None => {
                    self.skip_block_if_any(owner);
                    return None;
                }
            },
        };
        let mut rs = RealServer {
            addr,
            port,
            weight: 1,
            uthreshold: 0,
            lthreshold: 0,
            lvs_method: None,
            checkers_skipped: 0,
            health: Default::default(),
            span: addr_word.span,
        };
        if !self.peek_is_open() {
            return Some(rs);
        }
        self.open_block(owner);
        while let Some(l) = self.next_in_block(owner) {
            let kw = l.keyword().text.as_str();
            match kw {
                "weight" => {
                    // keepalived 2.2.7: 0-2147483647 (the kernel's weight is an int).
                    if let Some(w) = self.unsigned(who, &l, 1, (0, i32::MAX as u64), "using 1") {
                        rs.weight = w as u32;
                    }
                }
                "uthreshold" | "lthreshold" => {
                    if let Some(v) = self.unsigned(who, &l, 1, (0, u32::MAX as u64), "ignored") {
                        if kw == "uthreshold" {
                            rs.uthreshold = v as u32;
                        } else {
                            rs.lthreshold = v as u32;
                        }
                    }
                }
                "lvs_method" => {
                    if let Some(kind) = self.lb_kind(who, &l) {
                        rs.lvs_method = Some(kind);
                    }
                }
                "connect_timeout" | "retry" | "delay_before_retry" | "warmup" | "alpha"
                | "delay_loop" => {
                    let timing = rs.health.timing.get_or_insert_default();
                    self.timing_keyword(who, timing, &l);
                }
                "inhibit_on_failure" => rs.health.inhibit_on_failure = self.flag(who, &l),
                "notify_up" => rs.health.notify_up = self.command(who, &l, true).map(Box::new),
                "smtp_alert" => {
                    if let Some(on) = self.flag(who, &l) {
                        rs.health.smtp_alert = Some(on);
                    }
                }
                "notify_down" => rs.health.notify_down = self.command(who, &l, true).map(Box::new),
                "virtualhost" => {
                    rs.health.virtualhost = self.need(who, &l, 1).map(|w| w.text.to_string())
                }
                _ if CHECKERS.contains(&kw) => {
                    let checkers = self.checker_block(who, kw, &l);
                    if checkers.is_empty() && kw != "FILE_CHECK" {
                        rs.checkers_skipped += 1;
                        self.diags.warn(
                            l.span(),
                            format!("{who}{kw}: not implemented yet; this checker is not run"),
                        );
                        self.skip_block_if_any(l.keyword());
                    }
                    // An empty FILE_CHECK was already reported (no or an unknown track_file),
                    // as keepalived does.
                    for mut c in checkers {
                        c.timing = self.intern_timing(c.timing);
                        rs.health.checkers.push(c);
                    }
                }
                _ => self.not_parsed(&l, Context::RealServer),
            }
        }
        // The model lives as long as the daemon: a one-checker real server keeps one slot,
        // not the four a first push reserves (10,000 real servers: 8 MB less).
        rs.health.checkers.shrink_to_fit();
        if rs.health.timing.as_deref() == Some(&CheckTiming::NONE) {
            rs.health.timing = None; // only keywords with bad values: nothing to keep
        }
        Some(rs)
    }

    /// keepalived's checks after the block: the family of a fwmark service, and real servers
    /// whose family differs from the service's (only TUN may mix families).
    fn complete_vs(&mut self, who: &str, vs: &mut VirtualServer) {
        // keepalived check_parser.c: a fwmark service has no address whose presence could
        // suspend its checkers.
        if vs.health.ha_suspend && matches!(vs.target, VsTarget::Fwmark { .. }) {
            self.diags.warn(
                &vs.span,
                format!("{who}cannot use ha_suspend with fwmarks - clearing ha_suspend"),
            );
            vs.health.ha_suspend = false;
        }
        let family_v6 = match &vs.target {
            VsTarget::Addr { addr, .. } => Some(addr.is_ipv6()),
            VsTarget::Fwmark { .. } => Some(
                vs.ip_family_v6
                    .or_else(|| vs.real_servers.first().map(|r| r.addr.is_ipv6()))
                    .unwrap_or(false),
            ),
            VsTarget::Group(name) => self.config.ipvs.groups.get(name).and_then(|g| {
                g.entries.iter().find_map(|e| match e {
                    VsgEntry::Range { first, .. } => Some(first.is_ipv6()),
                    VsgEntry::Fwmark { ipv6, .. } => *ipv6,
                })
            }),
        };
        if let VsTarget::Fwmark { ipv6, .. } = &mut vs.target {
            *ipv6 = family_v6.unwrap_or(false);
        }
        let Some(v6) = family_v6 else { return };
        let lb_kind = vs.lb_kind;
        vs.real_servers.retain(|rs| {
            let method = rs.lvs_method.unwrap_or(lb_kind);
            let keep = rs.addr.is_ipv6() == v6 || matches!(method, LbKind::Tun(_));
            if !keep {
                self.diags.error(
                    &rs.span,
                    format!(
                        "{who}real server {} is {} but the virtual server is {}; only TUN may mix address families - skipping",
                        rs.addr,
                        if rs.addr.is_ipv6() { "IPv6" } else { "IPv4" },
                        if v6 { "IPv6" } else { "IPv4" }
                    ),
                );
            }
            keep
        });
    }

    /// keepalived 2.2.7's corrections of a whole virtual server (check_data.c
    /// `validate_check_config`), each reported as a warning in keepalived's words and applied
    /// as keepalived applies it:
    /// * no `protocol` on an address (or address-group) service: UDP, the kernel's default;
    /// * `ops` without UDP: reset;
    /// * port 0 without persistence: `persistence_timeout` 360;
    /// * a real server listed twice (same address and port): the second one removed;
    /// * `quorum` above the real servers' total weight: lowered to it; then `hysteresis` not
    ///   below `quorum`: set to `quorum - 1`;
    /// * DR/TUN real servers (and sorry server) on another port than the service's: reset to
    ///   it (IPVS cannot change the port without NAT); on a fwmark service: cleared.
    fn validate_vs(&mut self, who: &str, vs: &mut VirtualServer, protocol_given: bool) {
        let by_address = match &vs.target {
            VsTarget::Addr { .. } => true,
            VsTarget::Fwmark { .. } => false,
            VsTarget::Group(name) => self.config.ipvs.groups.get(name).is_some_and(|g| {
                g.entries
                    .iter()
                    .any(|e| matches!(e, VsgEntry::Range { .. }))
            }),
        };
        let span = vs.span;
        if by_address {
            if !protocol_given {
                self.diags
                    .warn(&span, format!("{who}no protocol set - defaulting to UDP"));
                vs.protocol = VsProtocol::Udp;
            }
            if vs.flags.one_packet && vs.protocol != VsProtocol::Udp {
                self.diags.warn(
                    &span,
                    format!("{who}one packet scheduling requires UDP - resetting"),
                );
                vs.flags.one_packet = false;
            }
            let zero_port = match &vs.target {
                VsTarget::Addr { port, .. } => *port == 0,
                VsTarget::Group(name) => self.config.ipvs.groups.get(name).is_some_and(|g| {
                    g.entries
                        .iter()
                        .any(|e| matches!(e, VsgEntry::Range { port: 0, .. }))
                }),
                VsTarget::Fwmark { .. } => false,
            };
            if zero_port && vs.persistence_timeout.is_none() {
                self.diags.warn(
                    &span,
                    format!("{who}zero port only valid for persistent services - setting"),
                );
                vs.persistence_timeout = Some(DEFAULT_PERSISTENCE_TIMEOUT);
            }
        }
        let mut seen = std::collections::HashSet::new();
        let mut duplicates = Vec::new();
        vs.real_servers.retain(|rs| {
            let first = seen.insert((rs.addr, rs.port));
            if !first {
                duplicates.push((rs.span, rs.addr, rs.port));
            }
            first
        });
        for (span, addr, port) in duplicates {
            self.diags.warn(
                &span,
                format!("{who}real server {addr} {port} is duplicated - removing second rs"),
            );
        }
        let weight_sum: u64 = vs.real_servers.iter().map(|r| u64::from(r.weight)).sum();
        if u64::from(vs.health.quorum) > weight_sum {
            self.diags.warn(
                &span,
                format!(
                    "{who}quorum {} exceeds total weight of real servers {weight_sum}, reducing \
                     quorum to {weight_sum}",
                    vs.health.quorum
                ),
            );
            vs.health.quorum = weight_sum as u32;
        }
        if vs.health.hysteresis >= vs.health.quorum {
            let h = vs.health.quorum.saturating_sub(1);
            self.diags.warn(
                &span,
                format!(
                    "{who}hysteresis {} >= quorum {}; setting hysteresis to {h}",
                    vs.health.hysteresis, vs.health.quorum
                ),
            );
            vs.health.hysteresis = h;
        }
        // Ports: only NAT can send to another port than the service's.
        let (vs_port, fwmark) = match &vs.target {
            VsTarget::Addr { port, .. } => (*port, false),
            VsTarget::Fwmark { .. } => (0, true),
            VsTarget::Group(_) => return,
        };
        let lb_kind = vs.lb_kind;
        let mut resets = Vec::new();
        for rs in &mut vs.real_servers {
            if matches!(rs.lvs_method.unwrap_or(lb_kind), LbKind::Nat) || rs.port == 0 {
                continue;
            }
            if fwmark {
                resets.push((
                    rs.span,
                    format!(
                        "{who}fwmark virtual server, real server {} {} has port specified - \
                         clearing",
                        rs.addr, rs.port
                    ),
                ));
                rs.port = 0;
            } else if rs.port != vs_port {
                resets.push((
                    rs.span,
                    format!(
                        "{who}virtual server and real server {} {} ports don't match - \
                         resetting to {vs_port}",
                        rs.addr, rs.port
                    ),
                ));
                rs.port = vs_port;
            }
        }
        if !matches!(lb_kind, LbKind::Nat)
            && let Some((_, port)) = &mut vs.sorry_server
            && *port != 0
        {
            if fwmark {
                resets.push((
                    span,
                    format!("{who}sorry server has port specified - clearing"),
                ));
                *port = 0;
            } else if *port != vs_port {
                resets.push((
                    span,
                    format!("{who}virtual server and sorry server ports don't match - resetting"),
                ));
                *port = vs_port;
            }
        }
        for (span, message) in resets {
            self.diags.warn(&span, message);
        }
    }
}

/// `10.0.0.1 80`, `fwmark 1`, `group G` for messages.
fn vs_label(line: &Line) -> String {
    line.words[1..]
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `persistence_granularity`: a contiguous dotted IPv4 mask, or a prefix length, as a prefix
/// length.
fn granularity(text: &str) -> Option<u8> {
    if text.contains('.') {
        let mask = u32::from(text.parse::<std::net::Ipv4Addr>().ok()?);
        let prefix = mask.leading_ones();
        (mask.checked_shl(prefix).unwrap_or(0) == 0 && prefix > 0).then_some(prefix as u8)
    } else {
        values::unsigned(text, 1, 128).ok().map(|p| p as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::parser::parse as load;

    #[test]
    fn announce_route_table_proto_metric() {
        let vs = |target: &str, line: &str| {
            format!("virtual_server {target} {{\n {line}\n real_server 10.0.1.1 80\n}}\n")
        };
        let (c, msgs) = load(
            &[
                vs("10.0.0.1 80", "announce_route table 100 proto 200 metric 5"),
                vs("10.0.0.2 80", "announce_route table 7"),
                vs("10.0.0.3 80", "announce_route proto static"),
                vs("fwmark 3", "announce_route table 7"),
                vs("10.0.0.4 80", "announce_route table 0"),
            ]
            .concat(),
        );
        let a: Vec<_> = c
            .ipvs
            .virtual_servers
            .iter()
            .map(|vs| vs.health.announce_route)
            .collect();
        let ar = |table, proto, metric| {
            Some(AnnounceRoute {
                table,
                proto,
                metric,
            })
        };
        assert_eq!(
            a,
            [ar(100, 200, Some(5)), ar(7, 18, None), None, None, None],
            "{msgs:?}"
        );
        let msgs: Vec<&String> = msgs
            .iter()
            .filter(|m| m.contains("announce_route"))
            .collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(
            msgs[0].contains("announce_route needs 'table N'"),
            "{msgs:?}"
        );
        assert!(
            msgs[1].contains("fwmark virtual server has no address"),
            "{msgs:?}"
        );
        assert!(msgs[2].contains("invalid announce_route '0'"), "{msgs:?}");
    }

    #[test]
    fn full_virtual_server() {
        let (c, msgs) = load(
            "virtual_server 10.0.0.1 443 {\n delay_loop 6\n lvs_sched sh\n lvs_method DR\n protocol udp\n\
             persistence_timeout\n persistence_granularity 255.255.255.0\n sh-port\n sh-fallback\n ops\n\
             sorry_server 10.0.9.9 443\n real_server 10.0.1.1 443 {\n  weight 3\n  uthreshold 100\n\
             lthreshold 10\n  lvs_method TUN\n  TCP_CHECK {\n   connect_timeout 3\n  }\n }\n\
             real_server 10.0.1.2 443\n}\n",
        );
        assert!(msgs.is_empty(), "{msgs:?}");
        let vs = &c.ipvs.virtual_servers[0];
        assert_eq!(
            vs.target,
            VsTarget::Addr {
                addr: "10.0.0.1".parse().unwrap(),
                port: 443
            }
        );
        assert_eq!(vs.lb_algo, "sh");
        assert_eq!(vs.lb_kind, LbKind::Dr);
        assert_eq!(vs.protocol, VsProtocol::Udp);
        assert_eq!(vs.persistence_timeout, Some(DEFAULT_PERSISTENCE_TIMEOUT));
        assert_eq!(vs.persistence_granularity, Some(24));
        assert_eq!(
            vs.flags,
            SvcFlags {
                one_packet: true,
                sched1: true,
                sched2: true,
                sched3: false
            }
        );
        assert_eq!(vs.sorry_server, Some(("10.0.9.9".parse().unwrap(), 443)));
        assert_eq!(vs.delay_loop, Duration::from_secs(6));
        let rs = &vs.real_servers;
        assert_eq!(rs.len(), 2);
        assert_eq!(
            (rs[0].weight, rs[0].uthreshold, rs[0].lthreshold),
            (3, 100, 10)
        );
        assert_eq!(
            (rs[0].lvs_method, rs[0].checkers_skipped),
            (Some(LbKind::Tun(Default::default())), 0)
        );
        let tcp = &rs[0].health.checkers[0];
        assert_eq!(tcp.kind, crate::config::model::CheckerKind::Tcp);
        assert_eq!(
            tcp.timing.connect_timeout,
            Some(Duration::from_secs(3).into())
        );
        assert_eq!((rs[1].weight, rs[1].port, rs[1].lvs_method), (1, 443, None));
    }

    #[test]
    fn bad_input_is_an_error_with_position() {
        let (c, msgs) = load(
            "virtual_server 10.0.0.1 80 {\n  lb_algo fastest\n  lb_kind dr\n  persistence_timeout 0\n\
             real_server 2001:db8::1 80 {\n  }\n  real_server 10.0.1.1 80\n}\n",
        );
        assert_eq!(
            msgs,
            [
                "t.conf:2:11: error: (VS 10.0.0.1 80) invalid lb_algo 'fastest': unknown scheduler - using wlc",
                "t.conf:3:11: error: (VS 10.0.0.1 80) invalid lb_kind 'dr': expected NAT, DR or TUN - ignored",
                "t.conf:4:23: error: (VS 10.0.0.1 80) invalid persistence_timeout '0': number outside range [1, 2678400] - ignored",
                "t.conf:5:13: error: (VS 10.0.0.1 80) real server 2001:db8::1 is IPv6 but the virtual server is IPv4; only TUN may mix address families - skipping",
                "t.conf:1:1: warning: (VS 10.0.0.1 80) no protocol set - defaulting to UDP",
            ]
        );
        let vs = &c.ipvs.virtual_servers[0];
        assert_eq!((vs.lb_algo.as_str(), vs.lb_kind), ("wlc", LbKind::Nat));
        assert_eq!(vs.real_servers.len(), 1);
        let (_, msgs) = load("virtual_server group NOPE {\n}\nvirtual_server 10.0.0.300 80 {\n}\n");
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(
            msgs[0].starts_with("t.conf:1:22: error: virtual_server_group NOPE is not defined")
        );
        assert!(msgs[1].starts_with("t.conf:3:16: error: invalid virtual_server '10.0.0.300'"));
    }

    #[test]
    fn granularity_mask_or_prefix() {
        assert_eq!(granularity("255.255.255.0"), Some(24));
        assert_eq!(granularity("255.0.255.0"), None);
        assert_eq!(granularity("64"), Some(64));
        assert_eq!(granularity("0"), None);
    }

    /// keepalived 2.2.7's load-time corrections (check_data.c `validate_check_config`,
    /// check_parser.c), each a warning in keepalived's words and applied as there.
    #[test]
    fn keepalived_s_load_time_corrections() {
        let one = |body: &str| {
            let (c, msgs) = load(&format!(
                "virtual_server 10.0.0.1 80 {{\n{body}\n real_server 10.0.1.1 80 {{\n weight 2\n }}\n}}\n"
            ));
            (c.ipvs.virtual_servers.into_iter().next(), msgs)
        };
        let warned = |msgs: &[String], what: &str| {
            assert!(
                msgs.iter()
                    .any(|m| m.contains("warning") && m.contains(what)),
                "{what}: {msgs:?}"
            )
        };
        // ops on TCP is reset; on UDP kept.
        let (vs, msgs) = one(" protocol TCP\n ops");
        warned(&msgs, "one packet scheduling requires UDP - resetting");
        assert!(!vs.unwrap().flags.one_packet);
        let (vs, msgs) = one(" protocol UDP\n ops");
        assert!(msgs.is_empty(), "{msgs:?}");
        assert!(vs.unwrap().flags.one_packet);
        // No protocol: UDP, as the kernel defaults.
        let (vs, msgs) = one(" lb_algo rr");
        warned(&msgs, "no protocol set - defaulting to UDP");
        assert_eq!(vs.unwrap().protocol, VsProtocol::Udp);
        // sh/mh flags need their scheduler, set before them.
        let (vs, msgs) = one(" protocol TCP\n sh-port\n lb_algo sh\n mh-fallback");
        warned(&msgs, "sh-port only applies to sh scheduler - ignoring");
        warned(&msgs, "mh-fallback only applies to mh scheduler - ignoring");
        assert_eq!(vs.unwrap().flags, SvcFlags::default());
        // quorum above the total weight, then hysteresis not below quorum.
        let (vs, msgs) = one(" protocol TCP\n quorum 5\n hysteresis 4");
        warned(
            &msgs,
            "quorum 5 exceeds total weight of real servers 2, reducing quorum to 2",
        );
        warned(&msgs, "hysteresis 4 >= quorum 2; setting hysteresis to 1");
        let vs = vs.unwrap();
        assert_eq!((vs.health.quorum, vs.health.hysteresis), (2, 1));
        // Port 0 needs persistence.
        let (c, msgs) =
            load("virtual_server 10.0.0.1 0 {\n protocol TCP\n real_server 10.0.1.1 80\n}\n");
        warned(
            &msgs,
            "zero port only valid for persistent services - setting",
        );
        assert_eq!(
            c.ipvs.virtual_servers[0].persistence_timeout,
            Some(DEFAULT_PERSISTENCE_TIMEOUT)
        );
        // Duplicates, DR/TUN ports, fwmark ports, no real server at all.
        let (c, msgs) = load(
            "virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_kind DR\n sorry_server 10.0.9.9 81\n\
             real_server 10.0.1.1 80\n real_server 10.0.1.1 80 {\n weight 7\n }\n\
             real_server 10.0.1.2 8080\n real_server 10.0.1.3 8080 {\n lvs_method NAT\n }\n}\n\
             virtual_server fwmark 3 {\n lb_kind DR\n real_server 10.0.1.1 80\n}\n\
             virtual_server 10.0.0.2 80 {\n protocol TCP\n sorry_server 10.0.9.9 80\n}\n",
        );
        warned(
            &msgs,
            "real server 10.0.1.1 80 is duplicated - removing second rs",
        );
        warned(
            &msgs,
            "real server 10.0.1.2 8080 ports don't match - resetting to 80",
        );
        warned(
            &msgs,
            "virtual server and sorry server ports don't match - resetting",
        );
        warned(
            &msgs,
            "real server 10.0.1.1 80 has port specified - clearing",
        );
        warned(&msgs, "virtual server has no real servers - ignoring");
        let vss = &c.ipvs.virtual_servers;
        assert_eq!(vss.len(), 2, "the one without real servers is dropped");
        let ports: Vec<(u16, u32)> = vss[0]
            .real_servers
            .iter()
            .map(|r| (r.port, r.weight))
            .collect();
        assert_eq!(ports, [(80, 1), (80, 1), (8080, 1)], "NAT keeps its port");
        assert_eq!(vss[0].sorry_server.unwrap().1, 80);
        assert_eq!(vss[1].real_servers[0].port, 0);
        // keepalived's weight range is an int's.
        let (vs, msgs) = one(" protocol TCP\n real_server 10.0.1.2 80 {\n weight 70000\n }");
        assert!(msgs.is_empty(), "{msgs:?}");
        assert_eq!(vs.unwrap().real_servers[0].weight, 70000);
    }

    /// `SMTP_CHECK { host { … } }` (the keepalived sample keepalived.conf.SMTP_CHECK): the
    /// block's own connection plus one checker per host, with the host's connection and the
    /// block's helo_name and timing.
    #[test]
    fn smtp_check_hosts_are_checkers() {
        let (c, msgs) = load(
            "virtual_server 10.0.0.1 25 {\n protocol TCP\n real_server 172.16.1.12 25 {\n\
             SMTP_CHECK {\n connect_timeout 10\n retry 2\n helo_name foo.bar.com\n\
             host {\n connect_ip 172.16.1.12\n connect_port 25\n bindto 172.16.1.2\n }\n\
             host {\n connect_ip 64.233.167.100\n connect_port 587\n connect_timeout 3\n }\n\
             }\n }\n real_server 172.16.1.13 25 {\n SMTP_CHECK {\n connect_port 2525\n\
             host {\n connect_ip 192.168.155.10\n }\n }\n }\n}\n",
        );
        let deprecated = msgs
            .iter()
            .filter(|m| m.contains("The SMTP_CHECK host block is deprecated"))
            .count();
        assert_eq!(deprecated, 3, "{msgs:?}");
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        let rs = &c.ipvs.virtual_servers[0].real_servers;
        let conn = |c: &crate::config::model::CheckerCfg| {
            (
                c.connect_ip.map(|a| a.to_string()),
                c.connect_port,
                c.bind
                    .as_ref()
                    .and_then(|b| b.bindto)
                    .map(|a| a.to_string()),
                c.timing.connect_timeout.map(|d| d.as_duration().as_secs()),
            )
        };
        let first: Vec<_> = rs[0].health.checkers.iter().map(conn).collect();
        assert_eq!(
            first,
            [
                (None, None, None, Some(10)),
                (
                    Some("172.16.1.12".into()),
                    Some(25),
                    Some("172.16.1.2".into()),
                    Some(10)
                ),
                (Some("64.233.167.100".into()), Some(587), None, Some(3)),
            ]
        );
        for ch in &rs[0].health.checkers {
            assert_eq!(
                ch.kind,
                crate::config::model::CheckerKind::Smtp(Box::new(crate::config::model::SmtpCfg {
                    helo_name: Some("foo.bar.com".into())
                }))
            );
            assert_eq!(ch.timing.retry, Some(2));
        }
        // The host inherits the connection options set before it.
        let second: Vec<_> = rs[1].health.checkers.iter().map(conn).collect();
        assert_eq!(
            second,
            [
                (None, Some(2525), None, None),
                (Some("192.168.155.10".into()), Some(2525), None, None),
            ]
        );
    }

    /// Checkers with the same timing keywords share one copy of them; a different keyword
    /// gives its own.
    #[test]
    fn equal_checker_timings_are_kept_once() {
        let rs = |port: u16, timeout: u32| {
            format!(
                " real_server 10.0.1.1 {port} {{\n TCP_CHECK {{\n connect_timeout {timeout}\n }}\n }}\n"
            )
        };
        let text = format!(
            "virtual_server 10.0.0.1 80 {{\n protocol TCP\n{}{}{}}}\n",
            rs(1, 3),
            rs(2, 3),
            rs(3, 4)
        );
        let (c, msgs) = load(&text);
        assert!(msgs.is_empty(), "{msgs:?}");
        let t: Vec<_> = c.ipvs.virtual_servers[0]
            .real_servers
            .iter()
            .map(|r| r.health.checkers[0].timing.clone())
            .collect();
        assert!(std::sync::Arc::ptr_eq(&t[0], &t[1]));
        assert!(!std::sync::Arc::ptr_eq(&t[0], &t[2]));
        let secs = |i: usize| t[i].connect_timeout.map(|d| d.as_duration().as_secs());
        assert_eq!((secs(0), secs(2)), (Some(3), Some(4)));
    }
}
