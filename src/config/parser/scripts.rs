//! `vrrp_script NAME { … }` and the `track_script { }` lines of a `vrrp_instance`
//! (keepalived/vrrp/vrrp_parser.c, 2.2.7).

use super::Parser;
use super::vrrp_instance::InstanceDraft;
use crate::config::keywords::Context;
use crate::config::lexer::Line;
use crate::config::lexer::Word;
use crate::config::model::{Command, ScriptUser, TrackScript, VrrpScript};
use crate::config::values;
use std::time::Duration;

/// A `vrrp_script` while its block is read.
struct ScriptDraft {
    name: Word,
    who: String,
    script: Option<Command>,
    interval: Duration,
    timeout: Option<Duration>,
    weight: i32,
    weight_reverse: bool,
    rise: u32,
    fall: u32,
    user: Option<ScriptUser>,
    init_fail: bool,
}

impl Parser<'_> {
    // ----- vrrp_script ------------------------------------------------------------------------

    pub(super) fn vrrp_script(&mut self, line: &Line) {
        let owner = line.keyword().clone();
        let Some(name) = line.arg(1).cloned() else {
            self.diags
                .error(&owner.span, "vrrp_script must have a name - skipping");
            self.skip_block_if_any(&owner);
            return;
        };
        if self.config.vrrp_scripts.contains_key(name.text.as_str()) {
            self.diags.error(
                &name.span,
                format!(
                    "vrrp_script {} already defined - skipping this one",
                    name.text
                ),
            );
            self.skip_block_if_any(&owner);
            return;
        }
        let mut draft = ScriptDraft {
            who: format!("({}) ", name.text),
            name,
            script: None,
            interval: Duration::from_secs(1),
            timeout: None,
            weight: 0,
            weight_reverse: false,
            rise: 1,
            fall: 1,
            user: None,
            init_fail: false,
        };
        self.open_block(&owner);
        while let Some(l) = self.next_in_block(&owner) {
            self.script_keyword(&mut draft, &l);
        }
        let Some(script) = draft.script else {
            self.diags.error(
                &draft.name.span,
                format!(
                    "No script set for vrrp_script {} - removing",
                    draft.name.text
                ),
            );
            return;
        };
        let vrrp_script = VrrpScript {
            name: draft.name.text.to_string(),
            script,
            interval: draft.interval,
            // keepalived (vrrp_scheduler.c): a timeout of 0 (unset) means the interval.
            timeout: draft.timeout.unwrap_or(draft.interval),
            weight: draft.weight,
            weight_reverse: draft.weight_reverse,
            rise: draft.rise,
            fall: draft.fall,
            user: draft.user,
            init_fail: draft.init_fail,
            span: draft.name.span,
        };
        self.config
            .vrrp_scripts
            .insert(draft.name.text.into_string(), vrrp_script);
    }

    fn script_keyword(&mut self, d: &mut ScriptDraft, l: &Line) {
        let who = d.who.clone();
        let who = who.as_str();
        match l.keyword().text.as_str() {
            "script" => {
                if d.script.is_some() {
                    self.diags.error(
                        l.span(),
                        format!("{who}script already specified - ignoring this one"),
                    );
                } else if let Some(cmd) = self.command(who, l, false) {
                    d.script = Some(cmd);
                }
            }
            // keepalived reads interval and timeout as whole seconds; 0 becomes 1.
            "interval" | "timeout" => {
                if let Some(s) = self.whole_seconds(who, l, "ignored") {
                    let s = if s == 0 {
                        self.diags.warn(
                            &l.words[1].span,
                            format!(
                                "{who}vrrp script {} must be greater than 0, setting to 1",
                                l.keyword().text
                            ),
                        );
                        1
                    } else {
                        s
                    };
                    if l.keyword().text == "interval" {
                        d.interval = Duration::from_secs(s);
                    } else {
                        d.timeout = Some(Duration::from_secs(s));
                    }
                }
            }
            "weight" => {
                if let Some(w) = self.integer(who, l, 1, (-253, 253), "ignored") {
                    d.weight = w as i32;
                }
                if let Some(option) = l.arg(2) {
                    if option.text == "reverse" {
                        d.weight_reverse = true;
                    } else {
                        self.bad_value(who, l, option, "unknown weight option", "ignored");
                    }
                }
            }
            "rise" | "fall" => {
                let n = self
                    .unsigned(who, l, 1, (1, i32::MAX as u64), "using default 1")
                    .unwrap_or(1) as u32;
                if l.keyword().text == "rise" {
                    d.rise = n;
                } else {
                    d.fall = n;
                }
            }
            "user" => {
                if let Some(user) = self.need(who, l, 1) {
                    d.user = Some(ScriptUser {
                        user: user.text.to_string(),
                        group: l.arg(2).map(|g| g.text.to_string()),
                    });
                }
            }
            "init_fail" => {
                if let Some(on) = self.flag(who, l) {
                    d.init_fail = on;
                }
            }
            _ => self.not_parsed(l, Context::VrrpScript),
        }
    }

    /// One line of `track_script { }`: `NAME [weight N [reverse|noreverse]]`
    /// (keepalived `alloc_track_script`).
    pub(super) fn track_script(&mut self, d: &InstanceDraft, l: &Line) -> Option<TrackScript> {
        let who = d.who.as_str();
        let name = l.keyword();
        // keepalived resolves the name when it reads the line, so only vrrp_scripts defined
        // above this vrrp_instance count.
        let Some(script) = self.config.vrrp_scripts.get(name.text.as_str()) else {
            self.diags.warn(
                &name.span,
                format!(
                    "{who}track script {} not found, ignoring... (a vrrp_script must be defined \
                     before the vrrp_instance tracking it)",
                    name.text
                ),
            );
            return None;
        };
        let default_reverse = script.weight_reverse;
        if d.track_script.iter().any(|t| t.name == name.text) {
            self.diags.warn(
                &name.span,
                format!("{who}duplicate track_script {} - ignoring", name.text),
            );
            return None;
        }
        let mut track = TrackScript {
            name: name.text.to_string(),
            weight: None,
            reverse: default_reverse,
            span: name.span,
        };
        let Some(option) = l.arg(1) else {
            return Some(track);
        };
        if option.text != "weight" {
            self.diags.error(
                &option.span,
                format!(
                    "{who}unknown track script option {} - ignoring",
                    option.text
                ),
            );
            return None;
        }
        let Some(value) = l.arg(2) else {
            self.diags.error(
                &option.span,
                format!(
                    "{who}weight without value specified for track script {} - ignoring",
                    name.text
                ),
            );
            return None;
        };
        match values::integer(&value.text, -254, 254) {
            Ok(w @ (-254 | 254)) => {
                self.diags.warn(
                    &value.span,
                    format!(
                        "{who}weight for {} cannot be +/-254. Setting to +/-253",
                        name.text
                    ),
                );
                track.weight = Some(w.signum() as i32 * 253);
            }
            Ok(w) => track.weight = Some(w as i32),
            Err(e) => self.diags.error(
                &value.span,
                format!(
                    "{who}invalid weight '{}' for track script {}: {e} - using the script's weight",
                    value.text, name.text
                ),
            ),
        }
        if let Some(option) = l.arg(3) {
            match option.text.as_str() {
                "reverse" => track.reverse = true,
                "noreverse" => track.reverse = false,
                _ => self.diags.error(
                    &option.span,
                    format!(
                        "{who}unknown track_script {} weight option {} - ignoring",
                        name.text, option.text
                    ),
                ),
            }
        }
        Some(track)
    }

    /// The scripts of a `vrrp_instance`: the `track_script { }` block and `notify*`.
    pub(super) fn instance_script_keyword(&mut self, d: &mut InstanceDraft, l: &Line) -> bool {
        let who = d.who.clone();
        let who = who.as_str();
        match l.keyword().text.as_str() {
            "track_script" => {
                self.no_block_params(l);
                let owner = l.keyword().clone();
                self.open_block(&owner);
                while let Some(entry) = self.next_in_block(&owner) {
                    if let Some(track) = self.track_script(d, &entry) {
                        d.track_script.push(track);
                    }
                }
            }
            kw
            @ ("notify" | "notify_master" | "notify_backup" | "notify_fault" | "notify_stop") => {
                let slot = match kw {
                    "notify" => &mut d.notify.any,
                    "notify_master" => &mut d.notify.master,
                    "notify_backup" => &mut d.notify.backup,
                    "notify_fault" => &mut d.notify.fault,
                    _ => &mut d.notify.stop,
                };
                if slot.is_some() {
                    let at = l.arg(1).map_or_else(|| *l.span(), |w| w.span);
                    self.diags.error(
                        &at,
                        format!("{who}{kw} script already specified - ignoring this one"),
                    );
                } else if let Some(cmd) = self.command(who, l, true) {
                    *slot = Some(cmd);
                }
            }
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parser::parse;
    use std::time::Duration;

    const SECURITY: &str = "global_defs {\n enable_script_security\n}\n";

    #[test]
    fn interval_and_timeout_are_whole_seconds_at_least_one() {
        let (c, msgs) = parse(&format!(
            "{SECURITY}vrrp_script s {{\n script /bin/true\n interval 0\n}}\n\
             vrrp_script t {{\n script /bin/true\n interval 3\n timeout 1.5\n}}\n"
        ));
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert_eq!(
            msgs[0],
            "t.conf:6:11: warning: (s) vrrp script interval must be greater than 0, setting to 1"
        );
        assert!(msgs[1].starts_with("t.conf:11:10: error: (t) invalid timeout '1.5'"));
        let s = &c.vrrp_scripts["s"];
        assert_eq!(
            (s.interval, s.timeout),
            (Duration::from_secs(1), Duration::from_secs(1))
        );
        // keepalived: no timeout means the interval.
        let t = &c.vrrp_scripts["t"];
        assert_eq!(
            (t.interval, t.timeout),
            (Duration::from_secs(3), Duration::from_secs(3))
        );
    }

    #[test]
    fn a_script_needs_a_command_a_name_and_one_definition() {
        let (c, msgs) = parse(&format!(
            "{SECURITY}vrrp_script s {{\n interval 2\n}}\nvrrp_script {{\n}}\n\
             vrrp_script u {{\n script /bin/a\n script /bin/b\n}}\nvrrp_script u {{\n script /bin/c\n}}\n"
        ));
        assert_eq!(
            msgs,
            [
                "t.conf:4:13: error: No script set for vrrp_script s - removing",
                "t.conf:7:1: error: vrrp_script must have a name - skipping",
                "t.conf:11:2: error: (u) script already specified - ignoring this one",
                "t.conf:13:13: error: vrrp_script u already defined - skipping this one",
            ]
        );
        assert_eq!(c.vrrp_scripts.len(), 1);
        assert_eq!(c.vrrp_scripts["u"].script.argv, ["/bin/a"]);
    }

    #[test]
    fn weight_rise_and_fall_ranges() {
        let (c, msgs) = parse(&format!(
            "{SECURITY}vrrp_script s {{\n script /bin/true\n weight -254\n rise 0\n fall 3\n}}\n\
             vrrp_script r {{\n script /bin/true\n weight 10 reverse\n}}\n"
        ));
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(msgs[0].starts_with("t.conf:6:9: error: (s) invalid weight '-254'"));
        assert!(msgs[1].starts_with("t.conf:7:7: error: (s) invalid rise '0'"));
        assert!(msgs[1].ends_with("using default 1"));
        let s = &c.vrrp_scripts["s"];
        assert_eq!((s.weight, s.rise, s.fall), (0, 1, 3));
        let r = &c.vrrp_scripts["r"];
        assert_eq!((r.weight, r.weight_reverse), (10, true));
    }

    /// keepalived resolves a tracked script when it reads the line: it must be defined above.
    #[test]
    fn track_script_lines() {
        let (c, msgs) = parse(&format!(
            "{SECURITY}vrrp_script s {{\n script /bin/true\n weight 5 reverse\n}}\n\
             vrrp_instance VI {{\n interface eth0\n virtual_router_id 1\n track_script {{\n  s\n  s\n  later\n  s weight 254 noreverse\n  s colour\n }}\n}}\n\
             vrrp_script later {{\n script /bin/true\n}}\n"
        ));
        assert_eq!(
            msgs,
            [
                "t.conf:13:3: warning: (VI) duplicate track_script s - ignoring",
                "t.conf:14:3: warning: (VI) track script later not found, ignoring... (a vrrp_script must be defined before the vrrp_instance tracking it)",
                "t.conf:15:3: warning: (VI) duplicate track_script s - ignoring",
                "t.conf:16:3: warning: (VI) duplicate track_script s - ignoring",
                "t.conf:8:15: warning: (VI) No VIP specified; at least one is sensible",
            ]
        );
        let t = &c.vrrp_instances[0].track_script;
        assert_eq!(t.len(), 1);
        // The script's `reverse` is the default of the line.
        assert_eq!((t[0].weight, t[0].reverse), (None, true));
        let (c, msgs) = parse(&format!(
            "{SECURITY}vrrp_script s {{\n script /bin/true\n}}\n\
             vrrp_instance VI {{\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {{\n  10.0.0.1\n }}\n track_script {{\n  s weight -254 reverse\n }}\n}}\n"
        ));
        assert_eq!(
            msgs,
            ["t.conf:14:12: warning: (VI) weight for s cannot be +/-254. Setting to +/-253"]
        );
        let t = &c.vrrp_instances[0].track_script[0];
        assert_eq!((t.weight, t.reverse), (Some(-253), true));
    }

    #[test]
    fn a_notify_script_is_given_once() {
        let (c, msgs) = parse(&format!(
            "{SECURITY}vrrp_instance VI {{\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {{\n  10.0.0.1\n }}\n\
             notify_master \"/bin/m arg\" nobody nogroup\n notify_master /bin/other\n notify /bin/n\n}}\n"
        ));
        assert_eq!(
            msgs,
            [
                "t.conf:11:16: error: (VI) notify_master script already specified - ignoring this one"
            ]
        );
        let n = &c.vrrp_instances[0].notify;
        let master = n.master.as_ref().unwrap();
        assert_eq!(master.argv, ["/bin/m", "arg"]);
        let user = master.user.as_ref().unwrap();
        assert_eq!(
            (user.user.as_str(), user.group.as_deref()),
            ("nobody", Some("nogroup"))
        );
        assert_eq!(n.any.as_ref().unwrap().argv, ["/bin/n"]);
    }
}
