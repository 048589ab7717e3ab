//! `vrrp_instance NAME { … }` (keepalived/vrrp/vrrp_parser.c, 2.2.7): the instance's own
//! keywords, read into an [`InstanceDraft`]; [`complete`] turns the draft into the model's
//! instance the way keepalived's `vrrp_complete_instance` does. The address blocks are in
//! `addresses`, the script trackers in `scripts`, the other trackers in `track`.

mod complete;

use super::Parser;
use crate::config::diag::Span;
use crate::config::keywords::Context;
use crate::config::lexer::{Line, Word};
use crate::config::model::{
    InitialState, LvsSyncDaemon, Notify, TrackScript, UnicastPeer, VirtualAddress,
};
use crate::config::values::{self, MICROS_PER_SEC};
use crate::units::{Priority, Version, Vrid};
use std::net::IpAddr;
use std::time::Duration;

/// keepalived's `TIMER_MAX_SEC` (upper bound of `preempt_delay`).
const TIMER_MAX_SEC: u64 = 1000;
/// Linux `IFNAMSIZ`: interface names are at most 15 characters.
const IFNAMSIZ: usize = 16;
/// Bytes of a VRRPv2 simple-text password (RFC 2338 §5.3.10).
const AUTH_PASS_LEN: usize = 8;

/// `auth_type` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthKind {
    Pass,
    Ah,
}

/// A `vrrp_instance` while its block is read; completed by [`Parser::complete_instance`].
pub(super) struct InstanceDraft {
    name: Word,
    /// `(NAME) ` for messages.
    pub(super) who: String,
    state: Option<(InitialState, Span)>,
    interface: Option<String>,
    vrid: Option<(Vrid, Span)>,
    priority: Option<Priority>,
    advert_int: Option<(u64, Span)>,
    version: Option<(Version, Span)>,
    nopreempt: Option<Span>,
    preempt_delay: Duration,
    auth_type: Option<(AuthKind, Span)>,
    auth_pass: Option<Vec<u8>>,
    pub(super) vips: Vec<VirtualAddress>,
    /// `true` once an IPv6 address fixed the family, `false` for IPv4.
    pub(super) ipv6: Option<bool>,
    pub(super) unicast_src_ip: Option<IpAddr>,
    pub(super) unicast_peer: Vec<UnicastPeer>,
    pub(super) track_script: Vec<TrackScript>,
    pub(super) notify: Notify,
    garp_master_delay: Option<Duration>,
    garp_master_repeat: Option<u32>,
    unicast_ttl: Option<u8>,
    check_unicast_src: bool,
    skip_check_adv_addr: Option<bool>,
    garp_master_refresh: Option<Duration>,
    garp_master_refresh_repeat: Option<u32>,
    garp_lower_prio_delay: Option<Duration>,
    garp_lower_prio_repeat: Option<u32>,
    lower_prio_no_advert: Option<bool>,
    higher_prio_send_advert: Option<bool>,
    tracking: crate::config::model::InstanceTracking,
    pub(super) excluded: Vec<VirtualAddress>,
    use_vmac: Option<Option<String>>,
    vmac_xmit_base: bool,
    strict_mode: Option<bool>,
    accept: Option<bool>,
    pub(super) routes: Vec<crate::config::routes::VirtualRoute>,
    pub(super) rules: Vec<crate::config::routes::VirtualRule>,
    smtp_alert: Option<bool>,
}

impl Parser<'_> {
    // ----- vrrp_instance ----------------------------------------------------------------------

    pub(super) fn vrrp_instance(&mut self, line: &Line) {
        let owner = line.keyword().clone();
        if line.words.len() != 2 {
            self.diags
                .error(&owner.span, "vrrp_instance must have a name - skipping");
            self.skip_block_if_any(&owner);
            return;
        }
        let name = line.words[1].clone();
        if self
            .config
            .vrrp_instances
            .iter()
            .any(|i| i.name == name.text)
        {
            self.diags.error(
                &name.span,
                format!(
                    "vrrp instance {} already defined - skipping this one",
                    name.text
                ),
            );
            self.skip_block_if_any(&owner);
            return;
        }
        let mut draft = InstanceDraft {
            who: format!("({}) ", name.text),
            name,
            state: None,
            interface: None,
            vrid: None,
            priority: None,
            advert_int: None,
            version: None,
            nopreempt: None,
            smtp_alert: None,
            preempt_delay: Duration::ZERO,
            auth_type: None,
            auth_pass: None,
            vips: Vec::new(),
            ipv6: None,
            unicast_src_ip: None,
            unicast_peer: Vec::new(),
            track_script: Vec::new(),
            notify: Notify::default(),
            garp_master_delay: None,
            garp_master_repeat: None,
            unicast_ttl: None,
            check_unicast_src: false,
            skip_check_adv_addr: None,
            garp_master_refresh: None,
            garp_master_refresh_repeat: None,
            garp_lower_prio_delay: None,
            garp_lower_prio_repeat: None,
            lower_prio_no_advert: None,
            higher_prio_send_advert: None,
            tracking: Default::default(),
            excluded: Vec::new(),
            use_vmac: None,
            vmac_xmit_base: false,
            strict_mode: None,
            accept: None,
            routes: Vec::new(),
            rules: Vec::new(),
        };
        self.open_block(&owner);
        while let Some(l) = self.next_in_block(&owner) {
            self.instance_keyword(&mut draft, &l);
        }
        if let Some(mut instance) = self.complete_instance(draft) {
            if instance.strict_mode && !crate::config::strict::apply(&mut instance, &mut self.diags)
            {
                return;
            }
            self.config.vrrp_instances.push(instance);
        }
    }

    /// One line of a `vrrp_instance` block. The keyword families have their own handlers
    /// (each returns `false` for a keyword that is not its own): election, adverts and GARPs
    /// here, address blocks in `addresses`, scripts in `scripts`.
    fn instance_keyword(&mut self, d: &mut InstanceDraft, l: &Line) {
        if self.election_keyword(d, l)
            || self.advert_keyword(d, l)
            || self.instance_address_keyword(d, l)
            || self.instance_script_keyword(d, l)
        {
            return;
        }
        let who = d.who.clone();
        let who = who.as_str();
        match l.keyword().text.as_str() {
            "lvs_sync_daemon_interface" => self.lvs_sync_daemon_interface(d, l),
            "authentication" => self.authentication(d, l),
            // `use_vmac [NAME] [MAC]`: a macvlan with the RFC 5798 §7.3 virtual MAC.
            "use_vmac" => {
                let name = l.arg(1).map(|w| w.text.to_string());
                if let Some(w) = name.as_ref().filter(|n| n.len() > 15) {
                    let word = l.arg(1).unwrap().clone();
                    self.bad_value(
                        who,
                        l,
                        &word,
                        format!("interface name '{w}' longer than 15 characters"),
                        "using vrrp.VRID",
                    );
                    d.use_vmac = Some(None);
                } else {
                    d.use_vmac = Some(name);
                }
                if l.arg(2).is_some() {
                    self.diags.warn(l.span(), format!("{who}use_vmac: a MAC address is not supported by rkeepalived yet; using the RFC 5798 virtual MAC"));
                }
            }
            "vmac_xmit_base" => d.vmac_xmit_base = self.flag(who, l).unwrap_or(true),
            "strict_mode" => d.strict_mode = self.flag(who, l).or(d.strict_mode),
            "accept" => d.accept = Some(true),
            "no_accept" => d.accept = Some(false),
            "track_interface" | "track_process" | "track_file" | "dont_track_primary" => {
                self.tracking_keyword(&mut d.tracking, who, l)
            }
            "smtp_alert" => {
                if let Some(on) = self.flag(who, l) {
                    d.smtp_alert = Some(on);
                }
            }
            _ => self.not_parsed(l, Context::VrrpInstance),
        }
    }

    /// `lvs_sync_daemon_interface IF` (deprecated): the global `lvs_sync_daemon` on this
    /// instance, unless one is set already.
    fn lvs_sync_daemon_interface(&mut self, d: &InstanceDraft, l: &Line) {
        let who = d.who.as_str();
        let Some(ifname) = self.need(who, l, 1) else {
            return;
        };
        let kw = &l.keyword().span;
        self.diags.warn(
            kw,
            format!(
                "{who}Specifying lvs_sync_daemon_interface against a vrrp is deprecated. \
                     Please use global lvs_sync_daemon"
            ),
        );
        if let Some(old) = &self.config.global.lvs_sync_daemon {
            self.diags.error(
                kw,
                format!(
                    "{who}lvs_sync_daemon already specified as {} {} - ignoring",
                    old.interface, old.instance
                ),
            );
            return;
        }
        self.config.global.lvs_sync_daemon = Some(LvsSyncDaemon {
            interface: ifname.text.to_string(),
            instance: d.name.text.to_string(),
            active_active: false,
            sync_id: 0,
            maxlen: None,
            port: None,
            ttl: None,
            group: None,
            span: *kw,
        });
    }

    /// Who wins and when: `state`, `interface`, `virtual_router_id`, `priority`, `advert_int`,
    /// `version`, `nopreempt`/`preempt`, `preempt_delay`.
    fn election_keyword(&mut self, d: &mut InstanceDraft, l: &Line) -> bool {
        let who = d.who.clone();
        let who = who.as_str();
        match l.keyword().text.as_str() {
            "state" => {
                let Some(word) = self.need(who, l, 1) else {
                    return true;
                };
                match word.text.as_str() {
                    "MASTER" => d.state = Some((InitialState::Master, word.span)),
                    "BACKUP" => {
                        if matches!(d.state, Some((InitialState::Master, _))) {
                            self.diags.error(
                                &word.span,
                                format!("{who}state previously set as MASTER - ignoring BACKUP"),
                            );
                        } else {
                            d.state = Some((InitialState::Backup, word.span));
                        }
                    }
                    _ => {
                        self.bad_value(who, l, word, "expected MASTER or BACKUP", "using BACKUP");
                        d.state = Some((InitialState::Backup, word.span));
                    }
                }
            }
            "interface" => {
                let Some(word) = self.need(who, l, 1) else {
                    return true;
                };
                if word.text.len() >= IFNAMSIZ {
                    self.bad_value(who, l, word, "interface name too long", "ignored");
                } else {
                    d.interface = Some(word.text.to_string());
                }
            }
            "virtual_router_id" => {
                if let Some(v) = self.unsigned(who, l, 1, (1, 255), "ignored") {
                    d.vrid = Vrid::new(v as u8).map(|vrid| (vrid, l.words[1].span));
                }
            }
            "priority" => {
                // keepalived: an invalid priority falls back to the default 100.
                match self.unsigned(who, l, 1, (1, 255), "using default 100") {
                    Some(p) => d.priority = Some(Priority(p as u8)),
                    None if l.arg(1).is_some() => d.priority = Some(Priority::DEFAULT),
                    None => {}
                }
            }
            "advert_int" => {
                let Some(word) = self.need(who, l, 1) else {
                    return true;
                };
                // keepalived: read as a decimal in [0.01, 255] s; rounded for the version later.
                match values::decimal_micros(&word.text, MICROS_PER_SEC / 100, 255 * MICROS_PER_SEC)
                {
                    Ok(us) => d.advert_int = Some((us, word.span)),
                    Err(e) => self.bad_value(who, l, word, e, "using default 1s"),
                }
            }
            "version" => {
                if let Some(v) = self.version(who, l) {
                    d.version = Some((v, l.words[1].span));
                }
            }
            "nopreempt" => {
                if let Some(on) = self.flag(who, l) {
                    d.nopreempt = on.then(|| *l.span());
                }
            }
            // keepalived's backwards-compatible opposite of nopreempt.
            "preempt" => {
                if let Some(on) = self.flag(who, l) {
                    d.nopreempt = if on { None } else { Some(*l.span()) };
                }
            }
            "preempt_delay" => {
                let Some(word) = self.need(who, l, 1) else {
                    return true;
                };
                match values::decimal_micros(&word.text, 0, TIMER_MAX_SEC * MICROS_PER_SEC) {
                    Ok(us) => d.preempt_delay = Duration::from_micros(us),
                    Err(e) => self.bad_value(who, l, word, e, "using 0"),
                }
            }
            _ => return false,
        }
        true
    }

    /// Adverts and gratuitous ARP/NA: `garp_*`, `unicast_ttl`, `check_unicast_src`,
    /// `skip_check_adv_addr`, `lower_prio_no_advert`, `higher_prio_send_advert`.
    fn advert_keyword(&mut self, d: &mut InstanceDraft, l: &Line) -> bool {
        let who = d.who.clone();
        let who = who.as_str();
        match l.keyword().text.as_str() {
            // keepalived reads this as whole seconds.
            "garp_master_delay" => {
                if let Some(s) = self.whole_seconds(who, l, "ignored") {
                    d.garp_master_delay = Some(Duration::from_secs(s));
                }
            }
            "garp_master_repeat" => {
                if let Some(n) = self.repeat(who, l) {
                    d.garp_master_repeat = Some(n);
                }
            }
            "unicast_ttl" => {
                if let Some(n) = self.unsigned(who, l, 1, (1, 255), "ignored") {
                    d.unicast_ttl = Some(n as u8);
                }
            }
            "check_unicast_src" => {
                if let Some(on) = self.flag(who, l) {
                    d.check_unicast_src = on;
                }
            }
            "skip_check_adv_addr" => {
                if let Some(on) = self.flag(who, l) {
                    d.skip_check_adv_addr = Some(on);
                }
            }
            // keepalived reads the refresh and the lower-priority delay as whole seconds.
            "garp_master_refresh" => {
                if let Some(s) = self.whole_seconds(who, l, "ignored") {
                    d.garp_master_refresh = Some(Duration::from_secs(s));
                }
            }
            "garp_master_refresh_repeat" => {
                if let Some(n) = self.repeat(who, l) {
                    d.garp_master_refresh_repeat = Some(n);
                }
            }
            "garp_lower_prio_delay" => {
                if let Some(s) = self.whole_seconds(who, l, "ignored") {
                    d.garp_lower_prio_delay = Some(Duration::from_secs(s));
                }
            }
            // 0 is allowed here: no GARPs when a lower-priority advert is heard.
            "garp_lower_prio_repeat" => {
                if let Some(n) = self.unsigned(who, l, 1, (0, u64::from(u32::MAX)), "ignored") {
                    d.garp_lower_prio_repeat = Some(n as u32);
                }
            }
            "lower_prio_no_advert" => {
                if let Some(on) = self.flag(who, l) {
                    d.lower_prio_no_advert = Some(on);
                }
            }
            "higher_prio_send_advert" => {
                if let Some(on) = self.flag(who, l) {
                    d.higher_prio_send_advert = Some(on);
                }
            }
            _ => return false,
        }
        true
    }

    /// Fixes the instance's address family with its first address; an address of the other
    /// family is an error and is ignored (keepalived: "address family must match VRRP
    /// instance").
    pub(super) fn claim_family(
        &mut self,
        d: &mut InstanceDraft,
        ip: &IpAddr,
        word: &Word,
        what: &str,
    ) -> bool {
        let v6 = ip.is_ipv6();
        match d.ipv6 {
            None => {
                d.ipv6 = Some(v6);
                true
            }
            Some(family) if family == v6 => true,
            Some(family) => {
                self.diags.error(
                    &word.span,
                    format!(
                        "{}{what} '{}' is IPv{} but the instance is IPv{} - ignoring",
                        d.who,
                        word.text,
                        if v6 { 6 } else { 4 },
                        if family { 6 } else { 4 },
                    ),
                );
                false
            }
        }
    }

    /// `authentication { auth_type PASS|AH; auth_pass SECRET }`.
    fn authentication(&mut self, d: &mut InstanceDraft, line: &Line) {
        let who = d.who.clone();
        let owner = line.keyword().clone();
        self.open_block(&owner);
        while let Some(l) = self.next_in_block(&owner) {
            match l.keyword().text.as_str() {
                "auth_type" => {
                    let Some(word) = self.need(&who, &l, 1) else {
                        continue;
                    };
                    match word.text.as_str() {
                        "PASS" => d.auth_type = Some((AuthKind::Pass, word.span)),
                        "AH" => d.auth_type = Some((AuthKind::Ah, word.span)),
                        _ => self.bad_value(&who, &l, word, "expected PASS or AH", "ignored"),
                    }
                }
                "auth_pass" => {
                    let Some(word) = self.need(&who, &l, 1) else {
                        continue;
                    };
                    let mut pass = word.text.as_bytes().to_vec();
                    if pass.len() > AUTH_PASS_LEN {
                        self.diags.warn(
                            &word.span,
                            format!("{who}Truncating auth_pass to {AUTH_PASS_LEN} characters"),
                        );
                        pass.truncate(AUTH_PASS_LEN);
                    }
                    d.auth_pass = Some(pass);
                }
                _ => self.not_parsed(&l, Context::Authentication),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::model::{InitialState, VrrpInstance};
    use crate::config::parser::parse;
    use crate::units::{Centiseconds, Priority};
    use std::time::Duration;

    /// One instance on eth0 with VRID 1 and a VIP, plus `body`.
    fn instance(body: &str) -> (Option<VrrpInstance>, Vec<String>) {
        let (c, msgs) = parse(&format!(
            "vrrp_instance VI {{\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {{\n  10.0.0.1\n }}\n{body}\n}}\n"
        ));
        (c.vrrp_instances.into_iter().next(), msgs)
    }

    #[test]
    fn state_master_wins_over_a_later_backup() {
        let (i, msgs) = instance(" state MASTER\n priority 100\n state BACKUP");
        assert_eq!(
            msgs,
            ["t.conf:9:8: error: (VI) state previously set as MASTER - ignoring BACKUP"]
        );
        assert_eq!(i.unwrap().state, InitialState::Master);
        let (i, msgs) = instance(" state LEADER");
        assert_eq!(
            msgs,
            [
                "t.conf:7:8: error: (VI) invalid state 'LEADER': expected MASTER or BACKUP - using BACKUP"
            ]
        );
        assert_eq!(i.unwrap().state, InitialState::Backup);
    }

    /// keepalived: an invalid priority is the default 100; no priority with state MASTER is
    /// the address owner's 255.
    #[test]
    fn priority_defaults() {
        let (i, msgs) = instance(" priority 0");
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(
            msgs[0].contains("(VI) invalid priority '0'") && msgs[0].ends_with("using default 100")
        );
        assert_eq!(i.unwrap().priority, Priority(100));
        let (i, _) = instance(" state MASTER");
        assert_eq!(i.unwrap().priority, Priority(255));
        let (i, _) = instance("");
        assert_eq!(i.unwrap().priority, Priority(100));
    }

    #[test]
    fn interface_names_are_at_most_15_characters() {
        let (c, msgs) =
            parse("vrrp_instance VI {\n interface abcdefghijklmnop\n virtual_router_id 1\n}\n");
        assert!(c.vrrp_instances.is_empty());
        assert!(msgs[0].starts_with(
            "t.conf:2:12: error: (VI) invalid interface 'abcdefghijklmnop': interface name too long"
        ));
        assert!(
            msgs.iter().any(|m| m.contains("no interface set")),
            "{msgs:?}"
        );
        let (i, _) = instance(" interface abcdefghijklmno");
        assert_eq!(i.unwrap().interface.as_deref(), Some("abcdefghijklmno"));
    }

    #[test]
    fn advert_int_range_and_version_2_rounding() {
        let (i, msgs) = instance(" advert_int 0.001");
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(
            msgs[0].contains("invalid advert_int '0.001'") && msgs[0].ends_with("using default 1s")
        );
        assert_eq!(i.unwrap().advert_int, Centiseconds::ONE_SECOND);
        let (i, msgs) = instance(" advert_int 2.5");
        assert_eq!(
            msgs,
            [
                "t.conf:7:13: warning: (VI) VRRPv2 advertisement interval 2.500000s must be an integer. rounding"
            ]
        );
        assert_eq!(i.unwrap().advert_int, Centiseconds::from_secs(3));
        let (i, _) = instance(" advert_int 0.4");
        assert_eq!(i.unwrap().advert_int, Centiseconds::from_secs(1));
    }

    #[test]
    fn nopreempt_and_preempt_delay_conflicts() {
        let (i, msgs) = instance(" priority 255\n nopreempt");
        assert_eq!(
            msgs,
            [
                "t.conf:8:2: warning: (VI) nopreempt is incompatible with priority 255. resetting nopreempt"
            ]
        );
        assert!(!i.unwrap().nopreempt);
        let (i, msgs) = instance(" nopreempt\n preempt_delay 10");
        assert_eq!(
            msgs,
            [
                "t.conf:7:2: warning: (VI) preempt_delay is incompatible with nopreempt mode - resetting"
            ]
        );
        let i = i.unwrap();
        assert!(i.nopreempt);
        assert_eq!(i.preempt_delay, Duration::ZERO);
        let (i, msgs) = instance(" preempt_delay 1000.5");
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(msgs[0].contains("invalid preempt_delay '1000.5'") && msgs[0].ends_with("using 0"));
        assert_eq!(i.unwrap().preempt_delay, Duration::ZERO);
        // `preempt off` is nopreempt.
        let (i, _) = instance(" preempt off");
        assert!(i.unwrap().nopreempt);
    }

    #[test]
    fn authentication_is_truncated_and_needs_a_type() {
        let (i, msgs) = instance(" authentication {\n  auth_type PASS\n  auth_pass 0123456789\n }");
        assert_eq!(
            msgs,
            ["t.conf:9:13: warning: (VI) Truncating auth_pass to 8 characters"]
        );
        assert_eq!(
            i.unwrap().authentication,
            Some(crate::config::model::Authentication::Pass(
                b"01234567".to_vec()
            ))
        );
        let (i, msgs) = instance(" authentication {\n  auth_type MD5\n  auth_pass x\n }");
        assert_eq!(
            msgs,
            [
                "t.conf:8:13: error: (VI) invalid auth_type 'MD5': expected PASS or AH - ignored",
                "t.conf:1:15: warning: (VI) auth_pass without auth_type - no authentication used",
            ]
        );
        assert_eq!(i.unwrap().authentication, None);
    }

    #[test]
    fn names_and_vrids_are_required_and_unique() {
        let (c, msgs) = parse(
            "vrrp_instance {\n}\nvrrp_instance A {\n interface eth0\n}\n\
             vrrp_instance B {\n interface eth0\n virtual_router_id 256\n}\n\
             vrrp_instance C {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n  10.0.0.7\n }\n}\n\
             vrrp_instance C {\n}\n",
        );
        assert_eq!(c.vrrp_instances.len(), 1);
        assert_eq!(c.vrrp_instances[0].name, "C");
        let errors: Vec<_> = msgs.iter().filter(|m| m.contains("error")).collect();
        assert_eq!(errors.len(), 5, "{msgs:?}");
        assert!(
            errors[0].starts_with("t.conf:1:1: error: vrrp_instance must have a name - skipping")
        );
        assert!(errors[1].starts_with(
            "t.conf:3:15: error: (A) the virtual router id must be set - instance ignored"
        ));
        assert!(errors[2].starts_with("t.conf:8:20: error: (B) invalid virtual_router_id '256'"));
        assert!(errors[4].starts_with(
            "t.conf:17:15: error: vrrp instance C already defined - skipping this one"
        ));
    }

    /// keepalived makes the deprecated instance keyword the global `lvs_sync_daemon`.
    #[test]
    fn lvs_sync_daemon_interface_sets_the_global_once() {
        let (c, msgs) = parse(
            "vrrp_instance VI {\n interface eth0\n virtual_router_id 1\n lvs_sync_daemon_interface eth1\n}\n\
             vrrp_instance V2 {\n interface eth0\n virtual_router_id 2\n lvs_sync_daemon_interface eth2\n}\n",
        );
        let syncd = c.global.lvs_sync_daemon.unwrap();
        assert_eq!(
            (syncd.interface.as_str(), syncd.instance.as_str()),
            ("eth1", "VI")
        );
        assert!(
            msgs.iter().any(|m| m.starts_with(
                "t.conf:9:2: error: (V2) lvs_sync_daemon already specified as eth1 VI - ignoring"
            )),
            "{msgs:?}"
        );
    }
}
