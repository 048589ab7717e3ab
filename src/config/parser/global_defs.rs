//! `global_defs { … }` (keepalived/core/global_parser.c and the VRRP globals of
//! vrrp_parser.c, 2.2.7).

use super::Parser;
use crate::config::keywords::Context;
use crate::config::lexer::Line;
use crate::config::model::{LvsSyncDaemon, ScriptUser};
use crate::config::values::{self, MICROS_PER_SEC};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// The rkeepalived-only word of `lvs_sync_daemon IF active_active` (see
/// [`LvsSyncDaemon::active_active`]).
const ACTIVE_ACTIVE: &str = "active_active";

impl Parser<'_> {
    // ----- global_defs ------------------------------------------------------------------------

    /// `lvs_sync_daemon IF VRRP_INSTANCE [id N] [maxlen N] [port N] [ttl N] [group IP]`
    /// (keepalived 2.2.7 global_parser.c); the instance must exist (checked in `finish`), or
    /// be the rkeepalived-only word `active_active`.
    fn lvs_sync_daemon(&mut self, l: &Line) {
        let who = "";
        let (Some(ifname), Some(inst)) = (self.need(who, l, 1), self.need(who, l, 2)) else {
            return;
        };
        let mut syncd = LvsSyncDaemon {
            interface: ifname.text.to_string(),
            instance: inst.text.to_string(),
            active_active: false,
            sync_id: 0,
            maxlen: None,
            port: None,
            ttl: None,
            group: None,
            span: l.keyword().span,
        };
        let mut i = 3;
        while let Some(opt) = l.arg(i) {
            let bound = match opt.text.as_str() {
                "id" => (0, 255),
                "maxlen" => (1, 65507),
                "port" => (1, 65535),
                "ttl" => (1, 255),
                "group" => (0, 0),
                _ => {
                    self.diags.error(
                        &opt.span,
                        format!("lvs_sync_daemon: unknown option '{}' - ignoring", opt.text),
                    );
                    i += 1;
                    continue;
                }
            };
            let Some(val) = l.arg(i + 1) else {
                self.diags.error(
                    &opt.span,
                    format!("lvs_sync_daemon: '{}' is missing a value", opt.text),
                );
                break;
            };
            if opt.text == "group" {
                match val.text.parse::<IpAddr>() {
                    Ok(a) if a.is_multicast() => syncd.group = Some(a),
                    _ => self.bad_value(who, l, val, "not a multicast address", "ignored"),
                }
            } else {
                match values::unsigned(&val.text, bound.0, bound.1) {
                    Ok(v) => match opt.text.as_str() {
                        "id" => syncd.sync_id = v as u8,
                        "maxlen" => syncd.maxlen = Some(v as u16),
                        "port" => syncd.port = Some(v as u16),
                        _ => syncd.ttl = Some(v as u8),
                    },
                    Err(e) => self.bad_value(who, l, val, e, "ignored"),
                }
            }
            i += 2;
        }
        self.config.global.lvs_sync_daemon = Some(syncd);
    }

    /// The `lvs_sync_daemon` instance must be a vrrp_instance that loaded; failing that, the
    /// rkeepalived-only word `active_active` (a vrrp_instance of that name wins, so that a
    /// keepalived file means what it meant) runs both daemons without an instance.
    pub(super) fn check_sync_daemon(&mut self) {
        let Some(syncd) = &mut self.config.global.lvs_sync_daemon else {
            return;
        };
        let found = self
            .config
            .vrrp_instances
            .iter()
            .any(|i| i.name == syncd.instance);
        syncd.active_active = !found && syncd.instance == ACTIVE_ACTIVE;
        if !found && !syncd.active_active {
            let span = syncd.span;
            let msg = format!(
                "lvs_sync_daemon vrrp instance {} not found - sync daemon not started",
                syncd.instance
            );
            self.config.global.lvs_sync_daemon = None;
            self.diags.error(&span, msg);
        }
    }

    pub(super) fn global_defs(&mut self, line: &Line) {
        let owner = line.keyword().clone();
        self.open_block(&owner);
        while let Some(l) = self.next_in_block(&owner) {
            self.global_keyword(&l);
        }
    }

    /// One line of `global_defs`: the VRRP defaults and the mail settings have their own
    /// handlers (each returns `false` for a keyword that is not its own).
    fn global_keyword(&mut self, l: &Line) {
        if self.vrrp_global_keyword(l) || self.email_keyword(l) {
            return;
        }
        let who = "";
        match l.keyword().text.as_str() {
            "router_id" => {
                if let Some(v) = self.rest_of_line(who, l) {
                    self.config.global.router_id = Some(v);
                }
            }
            "enable_script_security" => {
                if let Some(on) = self.flag(who, l) {
                    self.config.global.enable_script_security = on;
                }
            }
            "script_user" => {
                if let Some(user) = self.need(who, l, 1) {
                    self.config.global.script_user = Some(ScriptUser {
                        user: user.text.to_string(),
                        group: l.arg(2).map(|g| g.text.to_string()),
                    });
                }
            }
            "lvs_sync_daemon" => self.lvs_sync_daemon(l),
            "nftables" => {
                if let Some(t) = l.arg(1) {
                    self.config.global.nftables.table = t.text.to_string();
                }
            }
            "nftables_priority" => {
                if let Some(p) =
                    self.integer(who, l, 1, (i32::MIN as i64, i32::MAX as i64), "ignored")
                {
                    self.config.global.nftables.priority = p as i32;
                }
            }
            "nftables_counters" => {
                if let Some(on) = self.flag(who, l) {
                    self.config.global.nftables.counters = on;
                }
            }
            "notify_fifo"
            | "notify_fifo_script"
            | "vrrp_notify_fifo"
            | "vrrp_notify_fifo_script" => self.notify_fifo(l),
            "lvs_timeouts" => self.lvs_timeouts(l),
            "lvs_flush" => {
                if let Some(on) = self.flag(who, l) {
                    self.config.ipvs.lvs_flush = on;
                }
            }
            _ => self.not_parsed(l, Context::GlobalDefs),
        }
    }

    /// The VRRP defaults of `global_defs`: `vrrp_strict`, `vrrp_version`, `vrrp_garp_*`,
    /// `vrrp_gna_interval`, `vrrp_mcast_group4/6`, the advert checks and priorities.
    fn vrrp_global_keyword(&mut self, l: &Line) -> bool {
        let who = "";
        match l.keyword().text.as_str() {
            "vrrp_strict" => {
                if let Some(on) = self.flag("", l) {
                    self.config.global.vrrp_strict = on;
                }
            }
            "vrrp_version" => {
                if let Some(v) = self.version(who, l) {
                    self.config.global.vrrp_version = v;
                }
            }
            "enable_script_security" => {
                if let Some(on) = self.flag(who, l) {
                    self.config.global.enable_script_security = on;
                }
            }
            "script_user" => {
                if let Some(user) = self.need(who, l, 1) {
                    self.config.global.script_user = Some(ScriptUser {
                        user: user.text.to_string(),
                        group: l.arg(2).map(|g| g.text.to_string()),
                    });
                }
            }
            // keepalived reads these two as whole seconds (read_unsigned).
            "vrrp_garp_master_delay" => {
                if let Some(s) = self.whole_seconds(who, l, "ignored") {
                    self.config.global.vrrp_garp_master_delay = Duration::from_secs(s);
                }
            }
            "vrrp_garp_master_refresh" => {
                if let Some(s) = self.whole_seconds(who, l, "ignored") {
                    self.config.global.vrrp_garp_master_refresh = Duration::from_secs(s);
                }
            }
            "vrrp_garp_master_repeat" => {
                if let Some(n) = self.repeat(who, l) {
                    self.config.global.vrrp_garp_master_repeat = n;
                }
            }
            "vrrp_garp_master_refresh_repeat" => {
                if let Some(n) = self.repeat(who, l) {
                    self.config.global.vrrp_garp_master_refresh_repeat = n;
                }
            }
            "vrrp_garp_interval" => {
                if let Some(d) = self.garp_interval(who, l) {
                    self.config.global.vrrp_garp_interval = d;
                }
            }
            "vrrp_gna_interval" => {
                if let Some(d) = self.garp_interval(who, l) {
                    self.config.global.vrrp_gna_interval = d;
                }
            }
            "vrrp_mcast_group6" => {
                if let Some(word) = self.need(who, l, 1) {
                    match word.text.parse::<Ipv6Addr>() {
                        Ok(group) if group.is_multicast() => {
                            self.config.global.vrrp_mcast_group6 = group
                        }
                        _ => {
                            self.bad_value(who, l, word, "not an IPv6 multicast address", "ignored")
                        }
                    }
                }
            }
            "vrrp_check_unicast_src" => {
                if let Some(on) = self.flag(who, l) {
                    self.config.global.vrrp_check_unicast_src = on;
                }
            }
            "vrrp_skip_check_adv_addr" => {
                if let Some(on) = self.flag(who, l) {
                    self.config.global.vrrp_skip_check_adv_addr = on;
                }
            }
            "vrrp_garp_lower_prio_delay" => {
                if let Some(s) = self.whole_seconds(who, l, "ignored") {
                    self.config.global.vrrp_garp_lower_prio_delay = Some(Duration::from_secs(s));
                }
            }
            "vrrp_garp_lower_prio_repeat" => {
                if let Some(n) = self.unsigned(who, l, 1, (0, u64::from(u32::MAX)), "ignored") {
                    self.config.global.vrrp_garp_lower_prio_repeat = Some(n as u32);
                }
            }
            "vrrp_min_garp" => {
                if self.flag(who, l) == Some(true) {
                    // keepalived vrrp_min_garp_handler: one GARP/NA, no repeat, no refresh, no
                    // second burst, but settings already changed from their defaults stay.
                    let g = &mut self.config.global;
                    g.vrrp_min_garp = true;
                    if g.vrrp_garp_master_repeat == 5 {
                        g.vrrp_garp_master_repeat = 1;
                    }
                    if g.vrrp_garp_master_refresh_repeat == 1 {
                        g.vrrp_garp_master_refresh_repeat = 0;
                    }
                    if g.vrrp_garp_master_delay == Duration::from_secs(5) {
                        g.vrrp_garp_master_delay = Duration::ZERO;
                    }
                }
            }
            "vrrp_lower_prio_no_advert" => {
                if let Some(on) = self.flag(who, l) {
                    self.config.global.vrrp_lower_prio_no_advert = on;
                }
            }
            "vrrp_higher_prio_send_advert" => {
                if let Some(on) = self.flag(who, l) {
                    self.config.global.vrrp_higher_prio_send_advert = on;
                }
            }
            "vrrp_mcast_group4" => {
                if let Some(word) = self.need(who, l, 1) {
                    match word.text.parse::<Ipv4Addr>() {
                        Ok(group) => self.config.global.vrrp_mcast_group4 = group,
                        Err(_) => self.bad_value(who, l, word, "not an IPv4 address", "ignored"),
                    }
                }
            }
            _ => return false,
        }
        true
    }

    /// The mail settings of `global_defs`: `notification_email*`, `smtp_*`, `no_email_faults`,
    /// `no_checker_emails`.
    fn email_keyword(&mut self, l: &Line) -> bool {
        let who = "";
        match l.keyword().text.as_str() {
            "notification_email" => {
                self.no_block_params(l);
                let owner = l.keyword().clone();
                self.open_block(&owner);
                let mut emails = Vec::new();
                while let Some(entry) = self.next_in_block(&owner) {
                    emails.extend(entry.words.into_iter().map(|w| w.text.into_string()));
                }
                if emails.is_empty() {
                    self.diags
                        .warn(&owner.span, "Warning - empty notification_email block");
                }
                self.config.global.notification_email.extend(emails);
            }
            "notification_email_from" => {
                if let Some(v) = self.rest_of_line(who, l) {
                    self.config.global.notification_email_from = Some(v);
                }
            }
            "smtp_server" => self.smtp_server(l),
            "smtp_alert" | "smtp_alert_vrrp" | "smtp_alert_checker" => {
                if let Some(on) = self.flag(who, l) {
                    let g = &mut self.config.global;
                    *match l.keyword().text.as_str() {
                        "smtp_alert" => &mut g.smtp_alert,
                        "smtp_alert_vrrp" => &mut g.smtp_alert_vrrp,
                        _ => &mut g.smtp_alert_checker,
                    } = Some(on);
                }
            }
            "no_email_faults" => {
                if let Some(on) = self.flag(who, l) {
                    self.config.global.no_email_faults = on;
                }
            }
            "no_checker_emails" => {
                if let Some(on) = self.flag(who, l) {
                    self.config.global.no_checker_emails = on;
                }
            }
            "smtp_helo_name" => {
                if let Some(name) = self.need(who, l, 1) {
                    self.config.global.smtp_helo_name = Some(name.text.to_string());
                }
            }
            "smtp_connect_timeout" => {
                if let Some(s) = self.whole_seconds(who, l, "ignored") {
                    let s = if s == 0 {
                        self.diags.warn(
                            &l.words[1].span,
                            "smtp_connect_timeout must be greater than 0, setting to 1",
                        );
                        1
                    } else {
                        s
                    };
                    self.config.global.smtp_connect_timeout = Duration::from_secs(s);
                }
            }
            _ => return false,
        }
        true
    }

    /// A GARP repeat count: 0 is accepted and raised to 1 with a warning, as keepalived does.
    pub(super) fn repeat(&mut self, who: &str, l: &Line) -> Option<u32> {
        let n = self.unsigned(who, l, 1, (0, u64::from(u32::MAX)), "ignored")?;
        if n == 0 {
            self.diags.warn(
                &l.words[1].span,
                format!(
                    "{who}{} must be greater than 0, setting to 1",
                    l.keyword().text
                ),
            );
            return Some(1);
        }
        u32::try_from(n).ok()
    }

    /// `vrrp_garp_interval` / `vrrp_gna_interval`: fractional seconds (`read_double`).
    fn garp_interval(&mut self, who: &str, l: &Line) -> Option<Duration> {
        let word = self.need(who, l, 1)?;
        match values::seconds_f64(
            &word.text,
            1.0 / MICROS_PER_SEC as f64,
            // keepalived's bound is `UINT_MAX / TIMER_HZ` as a double: 4294.967295 s.
            f64::from(u32::MAX) / MICROS_PER_SEC as f64,
        ) {
            Ok(d) => {
                if d >= Duration::from_secs(1) {
                    self.diags.warn(
                        &word.span,
                        format!(
                            "The {} is very large - {} seconds",
                            l.keyword().text,
                            word.text
                        ),
                    );
                }
                Some(d)
            }
            Err(e) => {
                self.bad_value(who, l, word, e, "ignored");
                None
            }
        }
    }

    fn smtp_server(&mut self, l: &Line) {
        let Some(host) = self.need("", l, 1) else {
            return;
        };
        let port = match l.arg(2) {
            None => None,
            Some(word) => match values::unsigned(&word.text, 1, 65535) {
                Ok(p) => Some(p as u16),
                Err(e) => {
                    self.bad_value("", l, word, e, "ignored");
                    return;
                }
            },
        };
        self.config.global.smtp_server = Some((host.text.to_string(), port));
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parser::parse;
    use crate::units::Version;
    use std::time::Duration;

    fn globals(body: &str) -> (crate::config::model::GlobalDefs, Vec<String>) {
        let (c, msgs) = parse(&format!("global_defs {{\n{body}\n}}\n"));
        (c.global, msgs)
    }

    #[test]
    fn vrrp_version_is_2_or_3() {
        let (g, msgs) = globals(" vrrp_version 3");
        assert!(msgs.is_empty(), "{msgs:?}");
        assert_eq!(g.vrrp_version, Version::V3);
        let (g, msgs) = globals(" vrrp_version 4");
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(msgs[0].starts_with("t.conf:2:15: error: invalid vrrp_version '4'"));
        assert_eq!(g.vrrp_version, Version::V2);
    }

    #[test]
    fn a_garp_repeat_of_zero_becomes_one() {
        let (g, msgs) = globals(" vrrp_garp_master_repeat 0\n vrrp_garp_master_refresh_repeat 0");
        assert_eq!(
            msgs,
            [
                "t.conf:2:26: warning: vrrp_garp_master_repeat must be greater than 0, setting to 1",
                "t.conf:3:34: warning: vrrp_garp_master_refresh_repeat must be greater than 0, \
                 setting to 1",
            ]
        );
        assert_eq!(
            (g.vrrp_garp_master_repeat, g.vrrp_garp_master_refresh_repeat),
            (1, 1)
        );
        // The lower-priority repeat may be 0 (no GARPs then).
        let (g, msgs) = globals(" vrrp_garp_lower_prio_repeat 0");
        assert!(msgs.is_empty(), "{msgs:?}");
        assert_eq!(g.vrrp_garp_lower_prio_repeat, Some(0));
    }

    /// keepalived's `vrrp_min_garp` changes only the settings still at their defaults.
    #[test]
    fn vrrp_min_garp_keeps_what_was_set_before_it() {
        let (g, _) = globals(" vrrp_min_garp");
        assert_eq!(
            (
                g.vrrp_garp_master_repeat,
                g.vrrp_garp_master_refresh_repeat,
                g.vrrp_garp_master_delay
            ),
            (1, 0, Duration::ZERO)
        );
        let (g, _) =
            globals(" vrrp_garp_master_repeat 3\n vrrp_garp_master_delay 2\n vrrp_min_garp");
        assert_eq!(
            (g.vrrp_garp_master_repeat, g.vrrp_garp_master_delay),
            (3, Duration::from_secs(2))
        );
        // After it, a setting still applies.
        let (g, _) = globals(" vrrp_min_garp\n vrrp_garp_master_repeat 4");
        assert_eq!(g.vrrp_garp_master_repeat, 4);
    }

    #[test]
    fn garp_intervals_are_fractional_seconds_and_whole_second_delays_are_not() {
        let (g, msgs) = globals(" vrrp_garp_interval 0.25\n vrrp_gna_interval 1.5");
        assert_eq!(
            msgs,
            ["t.conf:3:20: warning: The vrrp_gna_interval is very large - 1.5 seconds"]
        );
        assert_eq!(g.vrrp_garp_interval, Duration::from_millis(250));
        assert_eq!(g.vrrp_gna_interval, Duration::from_millis(1500));
        let (g, msgs) = globals(" vrrp_garp_master_delay 2.5");
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(msgs[0].starts_with("t.conf:2:25: error: invalid vrrp_garp_master_delay '2.5'"));
        assert_eq!(g.vrrp_garp_master_delay, Duration::from_secs(5));
    }

    /// keepalived's upper bound of a GARP interval is `UINT_MAX` µs, fractional seconds.
    #[test]
    fn garp_interval_upper_bound() {
        let (g, _) = globals(" vrrp_garp_interval 4294.967295");
        assert_eq!(
            g.vrrp_garp_interval,
            Duration::from_micros(u64::from(u32::MAX))
        );
        let (_, msgs) = globals(" vrrp_garp_interval 4294.967296");
        assert_eq!(
            msgs,
            [
                "t.conf:2:21: error: invalid vrrp_garp_interval '4294.967296': number outside range \
              [0.000001, 4294.967295] - ignored"
            ]
        );
    }

    #[test]
    fn multicast_groups_must_be_multicast_for_ipv6() {
        let (g, msgs) = globals(" vrrp_mcast_group6 ff02::1:12\n vrrp_mcast_group4 224.0.0.20");
        assert!(msgs.is_empty(), "{msgs:?}");
        assert_eq!(
            g.vrrp_mcast_group6,
            "ff02::1:12".parse::<std::net::Ipv6Addr>().unwrap()
        );
        assert_eq!(g.vrrp_mcast_group4, std::net::Ipv4Addr::new(224, 0, 0, 20));
        let (g, msgs) = globals(" vrrp_mcast_group6 2001:db8::1");
        assert_eq!(
            msgs,
            [
                "t.conf:2:20: error: invalid vrrp_mcast_group6 '2001:db8::1': not an IPv6 \
              multicast address - ignored"
            ]
        );
        assert_eq!(
            g.vrrp_mcast_group6,
            "ff02::12".parse::<std::net::Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn lvs_sync_daemon_options_and_its_instance() {
        let (c, msgs) = parse(
            "global_defs {\n lvs_sync_daemon eth0 VI id 300 ttl 3 group 10.0.0.1 speed 1\n}\n",
        );
        assert_eq!(
            msgs,
            [
                "t.conf:2:29: error: invalid lvs_sync_daemon '300': number outside range [0, 255] \
                 - ignored",
                "t.conf:2:45: error: invalid lvs_sync_daemon '10.0.0.1': not a multicast address \
                 - ignored",
                // An unknown option is one word: its value is read as the next option.
                "t.conf:2:54: error: lvs_sync_daemon: unknown option 'speed' - ignoring",
                "t.conf:2:60: error: lvs_sync_daemon: unknown option '1' - ignoring",
                "t.conf:2:2: error: lvs_sync_daemon vrrp instance VI not found - sync daemon not \
                 started",
            ]
        );
        assert!(c.global.lvs_sync_daemon.is_none());
    }

    /// rkeepalived-only: `active_active` in the instance's place needs no vrrp_instance; an
    /// instance of that name is followed as keepalived would.
    #[test]
    fn lvs_sync_daemon_active_active() {
        let (c, msgs) =
            parse("global_defs {\n lvs_sync_daemon eth0 active_active id 7 port 8850\n}\n");
        assert!(msgs.is_empty(), "{msgs:?}");
        let s = c.global.lvs_sync_daemon.unwrap();
        assert!(s.active_active);
        assert_eq!(
            (s.interface.as_str(), s.sync_id, s.port),
            ("eth0", 7, Some(8850))
        );

        let (c, msgs) = parse(
            "global_defs {\n lvs_sync_daemon eth0 active_active\n}\n\
             vrrp_instance active_active {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.9\n }\n}\n",
        );
        assert!(msgs.is_empty(), "{msgs:?}");
        let s = c.global.lvs_sync_daemon.unwrap();
        assert!(!s.active_active);
        assert_eq!(s.instance, "active_active");
    }

    #[test]
    fn mail_settings() {
        let (g, msgs) = globals(
            " notification_email {\n }\n smtp_connect_timeout 0\n smtp_server mail.example 70000",
        );
        assert_eq!(
            msgs,
            [
                "t.conf:2:2: warning: Warning - empty notification_email block",
                "t.conf:4:23: warning: smtp_connect_timeout must be greater than 0, setting to 1",
                "t.conf:5:27: error: invalid smtp_server '70000': number outside range [1, 65535] \
                 - ignored",
            ]
        );
        assert_eq!(g.smtp_connect_timeout, Duration::from_secs(1));
        assert_eq!(g.smtp_server, None);
        let (g, _) =
            globals(" notification_email {\n a@x b@y\n c@z\n }\n smtp_server mail.example");
        assert_eq!(g.notification_email, ["a@x", "b@y", "c@z"]);
        assert_eq!(g.smtp_server, Some(("mail.example".into(), None)));
    }
}
