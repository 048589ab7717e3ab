//! Parsing of keepalived's tracking keywords: `vrrp_track_process`, `track_file` (alias
//! `vrrp_track_file`), `vrrp_sync_group`, the instance keywords `track_interface`,
//! `track_process`, `track_file`, `dont_track_primary`, and the global notify FIFOs.
//!
//! Messages and ranges follow keepalived 2.2.7 (vrrp_parser.c, track_file.c,
//! global_parser.c); the wording of the ones checked against the installed binary is
//! keepalived's (`(G1) track file tf1 not found, ignoring...`).
//! As for `track_script`, a `track_file`/`track_process` must be defined above the block that
//! uses it (keepalived resolves the name when it reads the line); sync group members are
//! resolved once the whole file has been read.

use super::Parser;
use crate::config::keywords::Context;
use crate::config::lexer::{Line, Word};
use crate::config::model::{
    InstanceTracking, Notify, NotifyFifo, ParamMatch, ScriptUser, SyncGroup, TrackFile,
    TrackInterface, TrackProcess, TrackScript,
};
use crate::config::values::{self, MICROS_PER_SEC};
use std::path::PathBuf;
use std::time::Duration;

/// Which named tracker a `track_process { }` / `track_file { }` line refers to.
#[derive(Clone, Copy)]
enum RefKind {
    Process,
    File,
    Script,
}

impl RefKind {
    fn noun(self) -> &'static str {
        match self {
            RefKind::Process => "track process",
            RefKind::File => "track file",
            RefKind::Script => "track script",
        }
    }
}

impl Parser<'_> {
    /// Top-level `vrrp_sync_group`, `vrrp_track_process`, `track_file`, `vrrp_track_file`.
    pub(super) fn tracking_root(&mut self, line: &Line) {
        let owner = line.keyword().clone();
        let Some(name) = line.arg(1).cloned() else {
            self.diags.error(
                &owner.span,
                format!("{} must have a name - skipping", owner.text),
            );
            self.skip_block_if_any(&owner);
            return;
        };
        let t = &self.config.tracking;
        let duplicate = match owner.text.as_str() {
            "vrrp_sync_group" => t.sync_groups.iter().any(|g| g.name == name.text),
            "vrrp_track_process" => t.processes.contains_key(name.text.as_str()),
            _ => t.files.contains_key(name.text.as_str()),
        };
        if duplicate {
            self.diags.error(
                &name.span,
                format!(
                    "{} {} already defined - skipping this one",
                    owner.text, name.text
                ),
            );
            self.skip_block_if_any(&owner);
            return;
        }
        match owner.text.as_str() {
            "vrrp_sync_group" => self.sync_group(&owner, name),
            "vrrp_track_process" => self.track_process_block(&owner, name),
            _ => self.track_file_block(&owner, name),
        }
    }

    fn sync_group(&mut self, owner: &Word, name: Word) {
        let who = format!("({}) ", name.text);
        let mut g = SyncGroup {
            name: name.text.to_string(),
            members: Vec::new(),
            notify: Notify::default(),
            tracking: InstanceTracking::default(),
            track_script: Vec::new(),
            tracking_weight: false,
            smtp_alert: None,
            span: name.span,
        };
        self.open_block(owner);
        while let Some(l) = self.next_in_block(owner) {
            let kw = l.keyword().text.to_string();
            match kw.as_str() {
                "group" => {
                    self.no_block_params(&l);
                    let inner = l.keyword().clone();
                    self.open_block(&inner);
                    while let Some(entry) = self.next_in_block(&inner) {
                        g.members
                            .extend(entry.words.into_iter().map(|w| w.text.into_string()));
                    }
                }
                "track_interface" | "track_process" | "track_file" => {
                    self.tracking_keyword(&mut g.tracking, &who, &l)
                }
                "track_script" => {
                    self.no_block_params(&l);
                    let inner = l.keyword().clone();
                    self.open_block(&inner);
                    while let Some(entry) = self.next_in_block(&inner) {
                        if let Some(t) =
                            self.track_ref(&who, &entry, RefKind::Script, &g.track_script)
                        {
                            g.track_script.push(t);
                        }
                    }
                }
                "notify" | "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" => {
                    let slot = match kw.as_str() {
                        "notify" => &mut g.notify.any,
                        "notify_master" => &mut g.notify.master,
                        "notify_backup" => &mut g.notify.backup,
                        "notify_fault" => &mut g.notify.fault,
                        _ => &mut g.notify.stop,
                    };
                    if slot.is_some() {
                        self.diags.error(
                            l.span(),
                            format!("{who}{kw} script already specified - ignoring this one"),
                        );
                    } else if let Some(cmd) = self.command(&who, &l, true) {
                        *slot = Some(cmd);
                    }
                }
                // `global_tracking` is the deprecated spelling of the same thing.
                "sync_group_tracking_weight" | "global_tracking" => {
                    if let Some(on) = self.flag(&who, &l) {
                        g.tracking_weight = on;
                    }
                }
                "smtp_alert" => {
                    if let Some(on) = self.flag(&who, &l) {
                        g.smtp_alert = Some(on);
                    }
                }
                _ => self.not_parsed(&l, Context::VrrpSyncGroup),
            }
        }
        self.config.tracking.sync_groups.push(g);
    }

    fn track_process_block(&mut self, owner: &Word, name: Word) {
        let who = format!("({}) ", name.text);
        let mut p = TrackProcess {
            name: name.text.to_string(),
            process: Vec::new(),
            param_match: None,
            weight: 1,
            weight_reverse: false,
            quorum: 1,
            quorum_max: None,
            fork_delay: Duration::ZERO,
            terminate_delay: Duration::ZERO,
            full_command: false,
            span: name.span,
        };
        self.open_block(owner);
        while let Some(l) = self.next_in_block(owner) {
            match l.keyword().text.as_str() {
                "process" => {
                    if self.need(&who, &l, 1).is_some() {
                        p.process = l.words[1..].iter().map(|w| w.text.to_string()).collect();
                    }
                }
                "param_match" => match l.arg(1).map(|w| w.text.as_str()) {
                    None => p.param_match = Some(ParamMatch::Exact),
                    Some("partial") => p.param_match = Some(ParamMatch::Partial),
                    Some("initial") => p.param_match = Some(ParamMatch::Initial),
                    Some(_) => {
                        let word = l.words[1].clone();
                        self.bad_value(&who, &l, &word, "expected partial or initial", "ignored");
                    }
                },
                "weight" => {
                    if let Some(w) = self.integer(&who, &l, 1, (-254, 254), "ignored") {
                        p.weight = w as i32;
                    }
                    p.weight_reverse = self.reverse_option(&who, &l, 2);
                }
                "quorum" => {
                    if let Some(n) = self.unsigned(&who, &l, 1, (1, 65535), "ignored") {
                        p.quorum = n as u32;
                    }
                }
                "quorum_max" => {
                    if let Some(n) = self.unsigned(&who, &l, 1, (0, 65535), "ignored") {
                        p.quorum_max = Some(n as u32);
                    }
                }
                kw @ ("fork_delay" | "terminate_delay" | "delay") => {
                    let kw = kw.to_string();
                    let Some(word) = self.need(&who, &l, 1).cloned() else {
                        continue;
                    };
                    match values::decimal_micros(&word.text, 0, 3600 * MICROS_PER_SEC) {
                        Ok(us) => {
                            let d = Duration::from_micros(us);
                            if kw != "terminate_delay" {
                                p.fork_delay = d;
                            }
                            if kw != "fork_delay" {
                                p.terminate_delay = d;
                            }
                        }
                        Err(e) => self.bad_value(&who, &l, &word, e, "ignored"),
                    }
                }
                "full_command" => {
                    if let Some(on) = self.flag(&who, &l) {
                        p.full_command = on;
                    }
                }
                _ => self.not_parsed(&l, Context::VrrpTrackProcess),
            }
        }
        if p.process.is_empty() {
            self.diags.error(
                &name.span,
                format!(
                    "vrrp_track_process {} has no process specified - removing",
                    name.text
                ),
            );
            return;
        }
        if let Some(max) = p.quorum_max
            && max < p.quorum
            && max != 0
        {
            self.diags.error(
                &name.span,
                format!(
                    "{who}quorum_max {max} < quorum {} - setting quorum_max to quorum",
                    p.quorum
                ),
            );
            p.quorum_max = Some(p.quorum);
        }
        self.config
            .tracking
            .processes
            .insert(name.text.into_string(), p);
    }

    fn track_file_block(&mut self, owner: &Word, name: Word) {
        let who = format!("({}) ", name.text);
        let mut file: Option<PathBuf> = None;
        let mut weight = 1;
        let mut weight_reverse = false;
        let mut init_file = None;
        self.open_block(owner);
        while let Some(l) = self.next_in_block(owner) {
            match l.keyword().text.as_str() {
                "file" => {
                    if let Some(w) = self.need(&who, &l, 1) {
                        file = Some(PathBuf::from(&w.text));
                    }
                }
                "weight" => {
                    if let Some(w) = self.integer(
                        &who,
                        &l,
                        1,
                        (-(i32::MAX as i64), i32::MAX as i64),
                        "ignored",
                    ) {
                        weight = w as i32;
                    }
                    weight_reverse = self.reverse_option(&who, &l, 2);
                }
                "init_file" => {
                    let mut value = 0i64;
                    let mut overwrite = false;
                    for w in &l.words[1..] {
                        if w.text == "overwrite" {
                            overwrite = true;
                        } else {
                            match values::integer(&w.text, i32::MIN as i64, i32::MAX as i64) {
                                Ok(v) => value = v,
                                Err(e) => self.bad_value(&who, &l, w, e, "using 0"),
                            }
                        }
                    }
                    init_file = Some((value, overwrite));
                }
                _ => self.not_parsed(&l, Context::TrackFile),
            }
        }
        let Some(file) = file else {
            self.diags.error(
                &name.span,
                format!("No file set for track_file {} - removing", name.text),
            );
            return;
        };
        self.config.tracking.files.insert(
            name.text.to_string(),
            TrackFile {
                name: name.text.into_string(),
                file,
                weight,
                weight_reverse,
                init_file,
                span: name.span,
            },
        );
    }

    /// `reverse` / `noreverse` after a weight (argument `index`); `false` when absent.
    fn reverse_option(&mut self, who: &str, l: &Line, index: usize) -> bool {
        match l.arg(index).map(|w| w.text.as_str()) {
            None | Some("noreverse") | Some("no_reverse") => false,
            Some("reverse") => true,
            Some(_) => {
                let word = l.words[index].clone();
                self.bad_value(who, l, &word, "unknown weight option", "ignored");
                false
            }
        }
    }

    /// `track_interface { }`, `track_process { }`, `track_file { }` and `dont_track_primary`
    /// in a `vrrp_instance` (or the first three in a `vrrp_sync_group`).
    pub(super) fn tracking_keyword(&mut self, t: &mut InstanceTracking, who: &str, l: &Line) {
        let kw = l.keyword().clone();
        if kw.text == "dont_track_primary" {
            if let Some(on) = self.flag(who, l) {
                t.dont_track_primary = on;
            }
            return;
        }
        self.no_block_params(l);
        self.open_block(&kw);
        while let Some(entry) = self.next_in_block(&kw) {
            match kw.text.as_str() {
                "track_interface" => {
                    if let Some(ti) = self.track_interface_line(who, &entry) {
                        if t.interfaces.iter().any(|x| x.name == ti.name) {
                            self.diags.warn(
                                &entry.keyword().span,
                                format!("{who}duplicate track_interface {} - ignoring", ti.name),
                            );
                        } else {
                            t.interfaces.push(ti);
                        }
                    }
                }
                "track_process" => {
                    if let Some(r) = self.track_ref(who, &entry, RefKind::Process, &t.processes) {
                        t.processes.push(r);
                    }
                }
                _ => {
                    if let Some(r) = self.track_ref(who, &entry, RefKind::File, &t.files) {
                        t.files.push(r);
                    }
                }
            }
        }
    }

    /// `IF [weight N [reverse|noreverse]]`.
    fn track_interface_line(&mut self, who: &str, l: &Line) -> Option<TrackInterface> {
        let name = l.keyword();
        if name.text.len() >= 16 {
            self.diags.error(
                &name.span,
                format!(
                    "{who}track_interface name {} too long - ignoring",
                    name.text
                ),
            );
            return None;
        }
        let mut ti = TrackInterface {
            name: name.text.to_string(),
            weight: 0,
            reverse: false,
            span: name.span,
        };
        match l.arg(1) {
            None => return Some(ti),
            Some(w) if w.text == "weight" => {}
            Some(w) => {
                self.diags.error(
                    &w.span,
                    format!("{who}unknown track_interface option {} - ignoring", w.text),
                );
                return None;
            }
        }
        let Some(value) = l.arg(2) else {
            self.diags.error(
                &l.words[1].span,
                format!(
                    "{who}weight without value specified for track_interface {} - ignoring",
                    ti.name
                ),
            );
            return None;
        };
        match values::integer(&value.text, -253, 253) {
            Ok(w) => ti.weight = w as i32,
            Err(_) => {
                self.diags.error(
                    &value.span,
                    format!(
                        "{who}weight {} for {} must be between [-253..253] inclusive. Ignoring...",
                        value.text, ti.name
                    ),
                );
                return None;
            }
        }
        ti.reverse = self.reverse_option(who, l, 3);
        Some(ti)
    }

    /// `NAME [weight N [reverse|noreverse]]` referring to a `vrrp_track_process`,
    /// `track_file` or `vrrp_script` defined above.
    fn track_ref(
        &mut self,
        who: &str,
        l: &Line,
        kind: RefKind,
        existing: &[TrackScript],
    ) -> Option<TrackScript> {
        let name = l.keyword();
        let tracking = &self.config.tracking;
        let default_reverse = match kind {
            RefKind::Process => tracking
                .processes
                .get(name.text.as_str())
                .map(|p| p.weight_reverse),
            RefKind::File => tracking
                .files
                .get(name.text.as_str())
                .map(|f| f.weight_reverse),
            RefKind::Script => self
                .config
                .vrrp_scripts
                .get(name.text.as_str())
                .map(|s| s.weight_reverse),
        };
        let Some(default_reverse) = default_reverse else {
            self.diags.warn(
                &name.span,
                format!("{who}{} {} not found, ignoring...", kind.noun(), name.text),
            );
            return None;
        };
        if existing.iter().any(|t| t.name == name.text) {
            self.diags.warn(
                &name.span,
                format!("{who}duplicate {} {} - ignoring", kind.noun(), name.text),
            );
            return None;
        }
        let mut r = TrackScript {
            name: name.text.to_string(),
            weight: None,
            reverse: default_reverse,
            span: name.span,
        };
        let Some(option) = l.arg(1) else {
            return Some(r);
        };
        if option.text != "weight" {
            self.diags.error(
                &option.span,
                format!(
                    "{who}unknown {} option {} - ignoring",
                    kind.noun(),
                    option.text
                ),
            );
            return None;
        }
        let range = match kind {
            RefKind::Script => (-253, 253),
            _ => (-254, 254),
        };
        let Some(value) = l.arg(2) else {
            self.diags.error(
                &option.span,
                format!(
                    "{who}weight without value specified for {} {} - ignoring",
                    kind.noun(),
                    name.text
                ),
            );
            return None;
        };
        match values::integer(&value.text, range.0, range.1) {
            Ok(w) => r.weight = Some(w as i32),
            Err(e) => self.diags.error(
                &value.span,
                format!(
                    "{who}invalid weight '{}' for {} {}: {e} - using the default weight",
                    value.text,
                    kind.noun(),
                    name.text
                ),
            ),
        }
        if l.arg(3).is_some() {
            r.reverse = self.reverse_option(who, l, 3);
        }
        Some(r)
    }

    /// `notify_fifo PATH [user [group]]`, `notify_fifo_script CMD [user [group]]` and the
    /// `vrrp_` variants.
    pub(super) fn notify_fifo(&mut self, l: &Line) {
        let kw = l.keyword().text.to_string();
        let vrrp = kw.starts_with("vrrp_");
        if kw.ends_with("_script") {
            let Some(cmd) = self.command("", l, true) else {
                return;
            };
            let slot = if vrrp {
                &mut self.config.tracking.vrrp_notify_fifo
            } else {
                &mut self.config.tracking.notify_fifo
            };
            match slot {
                Some(f) => f.script = Some(cmd),
                None => {
                    self.diags.error(
                        l.span(),
                        format!(
                            "{kw} given before its FIFO ({}) - ignoring",
                            kw.trim_end_matches("_script")
                        ),
                    );
                }
            }
            return;
        }
        let Some(path) = self.need("", l, 1).cloned() else {
            return;
        };
        let user = l.arg(2).map(|u| ScriptUser {
            user: u.text.to_string(),
            group: l.arg(3).map(|g| g.text.to_string()),
        });
        let other = if vrrp {
            &self.config.tracking.notify_fifo
        } else {
            &self.config.tracking.vrrp_notify_fifo
        };
        if other
            .as_ref()
            .is_some_and(|o| o.path.as_os_str() == path.text.as_str())
        {
            self.diags.error(
                &path.span,
                format!(
                    "{kw} {} is the same FIFO as another notify FIFO - ignoring",
                    path.text
                ),
            );
            return;
        }
        let fifo = NotifyFifo {
            path: PathBuf::from(&path.text),
            user,
            script: None,
            span: path.span,
        };
        if vrrp {
            self.config.tracking.vrrp_notify_fifo = Some(fifo);
        } else {
            self.config.tracking.notify_fifo = Some(fifo);
        }
    }

    /// Resolves sync group members once every instance is known (keepalived
    /// `vrrp_sync_set_group`): unknown members and members already in another group are
    /// dropped with keepalived's messages.
    pub(super) fn complete_sync_groups(&mut self) {
        let mut taken: Vec<String> = Vec::new();
        let mut groups = std::mem::take(&mut self.config.tracking.sync_groups);
        for g in &mut groups {
            let mut kept = Vec::new();
            for m in std::mem::take(&mut g.members) {
                if !self.config.vrrp_instances.iter().any(|i| i.name == m) {
                    self.diags.warn(
                        &g.span,
                        format!(
                            "Virtual router {m} specified in sync group {} doesn't exist - ignoring",
                            g.name
                        ),
                    );
                } else if taken.contains(&m) {
                    self.diags.warn(
                        &g.span,
                        format!(
                            "Virtual router {m} cannot exist in more than one sync group; ignoring {}",
                            g.name
                        ),
                    );
                } else if !kept.contains(&m) {
                    taken.push(m.clone());
                    kept.push(m);
                }
            }
            g.members = kept;
            // keepalived says nothing about a group left with no member at all.
            if g.members.len() == 1 {
                self.diags.warn(
                    &g.span,
                    format!(
                        "Sync group {} has only {} virtual router(s) - this probably isn't what you want",
                        g.name,
                        g.members.len()
                    ),
                );
            }
        }
        groups.retain(|g| !g.members.is_empty());
        self.config.tracking.sync_groups = groups;
    }
}
