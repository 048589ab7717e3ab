//! Keyword-table parser: turns the lexer's token stream into the typed [`Config`].
//!
//! The parser walks the blocks the way keepalived 2.2.7's `process_stream` does: a keyword line,
//! then optionally a `{ … }` block. `global_defs`, `vrrp_instance` (with `authentication`) and
//! `vrrp_script` are parsed into the model; every other keyword keepalived knows loads with a
//! warning that rkeepalived does not implement it yet, and its block is skipped (one warning per
//! top-level block, so a whole `virtual_server` is one warning). Unknown words get keepalived's
//! `Unknown keyword 'x'` warning, with a suggestion when a keyword of the same block is close.
//!
//! Values are checked with keepalived's ranges (keepalived/vrrp/vrrp_parser.c,
//! keepalived/core/global_parser.c); an invalid value is an error that names the keyword and the
//! value, and the default is kept. After a `vrrp_instance` block is read it is completed the way
//! keepalived's `vrrp_complete_instance` does (keepalived/vrrp/vrrp.c): default priority,
//! version from IPv6 addresses, advert_int rounding, nopreempt with state MASTER, …
//!
//! Where keepalived 2.2.7 behaves differently from what one might expect, the code follows
//! keepalived and says so in a comment; the behaviours were checked with the installed
//! `keepalived -t`. Deliberate differences from keepalived 2.2.7:
//! * an unknown keyword's `{ … }` block is skipped with it (keepalived skips only the line and
//!   then reads the block's lines as keywords of the enclosing block, cascading errors); a stray
//!   `{` block is skipped likewise;
//! * a `vrrp_instance` without `interface` is accepted when it has `unicast_peer`s (2.2.7 stops
//!   with "Unknown interface!");
//! * an instance that cannot run (no `virtual_router_id`, no interface, a VRID already used on
//!   the same interface) is dropped with an error and the rest still loads;
//! * flag keywords take an optional `on/off/true/false/yes/no` (keepalived ignores any argument
//!   of `nopreempt`);
//! * the script-security check counts every configured script, where keepalived only counts
//!   scripts it finds executable on this host.

use crate::config::diag::{Diagnostic, Diagnostics, Span};
use crate::config::keywords::{self, Context};
use crate::config::lexer::{self, Line, Token, Word};
use crate::config::model::{
    Authentication, Command, Config, InitialState, LvsSyncDaemon, Notify, ScriptUser, TrackScript,
    UnicastPeer, VirtualAddress, VrrpInstance, VrrpScript,
};
use crate::config::values::{self, MICROS_PER_SEC};
use crate::units::{Centiseconds, Priority, Vrid};
use std::fmt::Display;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[path = "parser_ipvs.rs"]
mod ipvs;
#[path = "parser_lvs.rs"]
mod lvs;

#[path = "parser_check.rs"]
mod check;
mod track;

/// Options that change how a file is read.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The config id for `@ID` / `@^ID` lines (`-i`; default: host name up to the first '.').
    pub config_id: String,
    /// `-e/--all-config`: every `include` requires its files (as `includea`).
    pub all_config: bool,
}

/// Why a config could not be read at all (keepalived's `-t` exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The main file could not be opened.
    #[error("{path}: cannot read configuration file: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A loaded config and everything said about it.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub config: Config,
    pub diagnostics: Diagnostics,
    /// An include check failed (`includem/w/b/a/r`, or any `include` under `-e`): a file
    /// missing, unmatched or unreadable. keepalived 2.2.7 does not start such a config and
    /// `-t` says so, both with exit code [`EXIT_CONFIG_MISSING_FILES`].
    pub missing_files: bool,
}

/// `-t` exit status: the config is fine.
pub const EXIT_CONFIG_OK: i32 = 0;
/// `-t` exit status: the main file could not be read (callers map [`ConfigError`] to this).
pub const EXIT_CONFIG_UNREADABLE: i32 = 3;
/// `-t` exit status: errors were reported, but the config would run.
pub const EXIT_CONFIG_ERRORS: i32 = 4;
/// `-t` exit status: scripts are configured without `enable_script_security`.
pub const EXIT_CONFIG_SCRIPT_SECURITY: i32 = 5;

/// Exit status of keepalived 2.2.7 (measured, `-t` and at start) when an include check
/// failed (see [`Loaded::missing_files`]).
pub const EXIT_CONFIG_MISSING_FILES: i32 = 6;

/// keepalived's warning when scripts are configured without `enable_script_security`.
pub const SECURITY_VIOLATION: &str =
    "SECURITY VIOLATION - scripts are being executed but script_security not enabled.";

impl Loaded {
    /// The exit status of `keepalived -t` for this config, as documented in keepalived(8):
    /// [`EXIT_CONFIG_ERRORS`] if any error or unknown keyword was reported; else [`EXIT_CONFIG_SCRIPT_SECURITY`] if
    /// a script is configured (`vrrp_script`, any `notify*`, or a check script: IPVS
    /// `notify_up`/`notify_down`, `quorum_up`/`quorum_down`, `MISC_CHECK`) while
    /// `enable_script_security` is
    /// off (the load has then already emitted [`SECURITY_VIOLATION`] once); else
    /// [`EXIT_CONFIG_OK`]. A failed include check comes first: [`EXIT_CONFIG_MISSING_FILES`].
    ///
    /// Note: the Debian build of keepalived 2.2.7 actually exits 5 for errors and 6 for the
    /// security case (its exit enum has an extra `KEEPALIVED_EXIT_PROGRAM_ERROR`), 0 when the
    /// main file is missing, and is killed by its own SIGTERM when a script would run as
    /// another user (measured); the constants above follow the manual page, so every file
    /// keepalived rejects gives a non-zero status here.
    pub fn config_test_exit_code(&self) -> i32 {
        // keepalived reports an unknown keyword as a configuration error (its `-t` fails);
        // rkeepalived keeps it a warning in the log but fails `-t` the same way, except for
        // words keepalived knows (a gap of this parser, not of the file).
        let unknown = self.diagnostics.0.iter().any(|d| {
            d.message
                .split("Unknown keyword '")
                .nth(1)
                .and_then(|rest| rest.split('\'').next())
                .is_some_and(|word| !super::keywords::known_to_keepalived(word))
        });
        if self.missing_files {
            EXIT_CONFIG_MISSING_FILES
        } else if self.diagnostics.has_errors() || unknown {
            EXIT_CONFIG_ERRORS
        } else if scripts_without_security(&self.config) {
            EXIT_CONFIG_SCRIPT_SECURITY
        } else {
            EXIT_CONFIG_OK
        }
    }
}

fn scripts_without_security(config: &Config) -> bool {
    !config.global.enable_script_security
        && (config.scripts().next().is_some() || config.has_check_scripts())
}

/// Reads `path` (and its includes) into a [`Loaded`]. Errors in lines are diagnostics;
/// only an unreadable main file is an `Err`.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Loaded, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // Valid UTF-8 (the usual case) is checked by the faster `from_utf8`.
    Ok(match std::str::from_utf8(&bytes) {
        Ok(text) => load_str(path, text, opts),
        Err(_) => load_str(path, &String::from_utf8_lossy(&bytes), opts),
    })
}

/// Parses `text` as if it were the file `name` (includes resolve relative to `name`'s dir).
pub fn load_str(name: &Path, text: &str, opts: &LoadOptions) -> Loaded {
    let mut parser = Parser {
        tokens: lexer::Stream::new(name, text, &opts.config_id).with_all_config(opts.all_config),
        consumed: 0,
        diags: Diagnostics::default(),
        keys: Vec::new(),
        config: Config::default(),
        unclosed_reported: false,
        last_rs_count: 0,
        rule_priorities: Default::default(),
    };
    parser.root();
    parser.finish()
}

/// The maximum a `u32` number of seconds may be in keepalived (`UINT_MAX / TIMER_HZ`).
const MAX_TIMER_SECS: u64 = u32::MAX as u64 / MICROS_PER_SEC;
/// keepalived's `TIMER_MAX_SEC` (upper bound of `preempt_delay`).
const TIMER_MAX_SEC: u64 = 1000;
/// Linux `IFNAMSIZ`: interface names are at most 15 characters.
const IFNAMSIZ: usize = 16;
/// Bytes of a VRRPv2 simple-text password (RFC 2338 §5.3.10).
const AUTH_PASS_LEN: usize = 8;

struct Parser<'a> {
    /// The tokens, lexed as they are taken.
    tokens: lexer::Stream<'a>,
    /// Tokens taken so far.
    consumed: usize,
    diags: Diagnostics,
    /// For each diagnostic, the number of tokens taken when it was found (to merge with the
    /// lexer's diagnostics in stream order).
    keys: Vec<usize>,
    config: Config,
    unclosed_reported: bool,
    /// Real servers of the last virtual server read (the next one's starting capacity).
    last_rs_count: usize,
    /// Preferences of rules written without one, in reading order (keepalived's).
    rule_priorities: crate::config::routes::DefaultRulePriorities,
}

/// `auth_type` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthKind {
    Pass,
    Ah,
}

/// A `vrrp_instance` while its block is read; completed by [`Parser::complete_instance`].
struct InstanceDraft {
    name: Word,
    /// `(NAME) ` for messages.
    who: String,
    state: Option<(InitialState, Span)>,
    interface: Option<String>,
    vrid: Option<(Vrid, Span)>,
    priority: Option<Priority>,
    advert_int: Option<(u64, Span)>,
    version: Option<(u8, Span)>,
    nopreempt: Option<Span>,
    preempt_delay: Duration,
    auth_type: Option<(AuthKind, Span)>,
    auth_pass: Option<Vec<u8>>,
    vips: Vec<VirtualAddress>,
    /// `true` once an IPv6 address fixed the family, `false` for IPv4.
    ipv6: Option<bool>,
    unicast_src_ip: Option<IpAddr>,
    unicast_peer: Vec<UnicastPeer>,
    track_script: Vec<TrackScript>,
    notify: Notify,
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
    excluded: Vec<VirtualAddress>,
    use_vmac: Option<Option<String>>,
    vmac_xmit_base: bool,
    strict_mode: Option<bool>,
    accept: Option<bool>,
    routes: Vec<crate::config::routes::VirtualRoute>,
    rules: Vec<crate::config::routes::VirtualRule>,
    smtp_alert: Option<bool>,
}

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
    // ----- token stream and blocks ---------------------------------------------------------

    fn next(&mut self) -> Option<Token> {
        self.assign_keys();
        let token = self.tokens.next();
        self.consumed += usize::from(token.is_some());
        token
    }

    /// Records the stream position of the diagnostics found since the last token.
    fn assign_keys(&mut self) {
        let missing = self.diags.0.len() - self.keys.len();
        self.keys
            .extend(std::iter::repeat_n(self.consumed, missing));
    }

    fn peek_is_open(&mut self) -> bool {
        matches!(self.tokens.peek(), Some(Token::Open(_)))
    }

    /// Consumes the `{` that opens `owner`'s block. Without one, keepalived reports the missing
    /// `{` and reads the following lines as the block anyway, up to the next `}`.
    fn open_block(&mut self, owner: &Word) {
        if self.peek_is_open() {
            self.next();
        } else {
            self.diags.error(
                &owner.span,
                format!(
                    "Missing '{{' at beginning of configuration block '{}'",
                    owner.text
                ),
            );
        }
    }

    /// The next line of the block of `owner`, or `None` at its `}` (consumed) or at the end of
    /// the input. A stray `{` inside the block is reported and its block skipped.
    fn next_in_block(&mut self, owner: &Word) -> Option<Line> {
        loop {
            match self.next() {
                None => {
                    self.unclosed(owner);
                    return None;
                }
                Some(Token::Close(_)) => return None,
                Some(Token::Open(span)) => {
                    self.diags.error(&span, "Unexpected '{' - ignoring");
                    self.skip_rest_of_block(owner);
                }
                Some(Token::Line(line)) => return Some(line),
            }
        }
    }

    /// Skips the `{ … }` following a keyword line, if there is one.
    fn skip_block_if_any(&mut self, owner: &Word) {
        if self.peek_is_open() {
            self.next();
            self.skip_rest_of_block(owner);
        }
    }

    /// Skips to the `}` that closes a block whose `{` was just consumed.
    fn skip_rest_of_block(&mut self, owner: &Word) {
        let mut depth = 1usize;
        while depth > 0 {
            match self.next() {
                None => {
                    self.unclosed(owner);
                    return;
                }
                Some(Token::Open(_)) => depth += 1,
                Some(Token::Close(_)) => depth -= 1,
                Some(Token::Line(_)) => {}
            }
        }
    }

    fn unclosed(&mut self, owner: &Word) {
        if !self.unclosed_reported {
            self.unclosed_reported = true;
            self.diags.error(
                &owner.span,
                format!(
                    "missing '}}': end of configuration inside block '{}'",
                    owner.text
                ),
            );
        }
    }

    // ----- generic keyword handling ----------------------------------------------------------

    /// A keyword rkeepalived does not parse: keepalived's own keywords load with a warning,
    /// anything else is `Unknown keyword`. Either way the keyword's block is skipped.
    fn not_parsed(&mut self, line: &Line, context: Context) {
        let kw = line.keyword();
        if context.knows(&kw.text) {
            self.diags.warn(
                &kw.span,
                format!(
                    "'{}' is a keepalived keyword that rkeepalived does not implement yet; ignored",
                    kw.text
                ),
            );
        } else {
            // keepalived 2.2.7 skips only the line and then reads the keyword's block as if it
            // were part of the enclosing one (cascading errors); skipping the block is kinder
            // and loses nothing keepalived would have used.
            let hint = keywords::suggest(context, &kw.text)
                .map(|k| format!(" (did you mean '{k}'?)"))
                .unwrap_or_default();
            self.diags
                .warn(&kw.span, format!("Unknown keyword '{}'{hint}", kw.text));
        }
        self.skip_block_if_any(kw);
    }

    /// Argument `index` of `line`, or an error that it is missing.
    fn need<'l>(&mut self, who: &str, line: &'l Line, index: usize) -> Option<&'l Word> {
        let word = line.arg(index);
        if word.is_none() {
            let kw = line.keyword();
            self.diags.error(
                &kw.span,
                format!("{who}'{}' is missing a parameter", kw.text),
            );
        }
        word
    }

    /// Reports an invalid value: names keyword and value, the reason and what happens instead.
    fn bad_value(
        &mut self,
        who: &str,
        line: &Line,
        word: &Word,
        reason: impl Display,
        instead: &str,
    ) {
        self.diags.error(
            &word.span,
            format!(
                "{who}invalid {} '{}': {reason} - {instead}",
                line.keyword().text,
                word.text
            ),
        );
    }

    fn unsigned(
        &mut self,
        who: &str,
        line: &Line,
        index: usize,
        (min, max): (u64, u64),
        instead: &str,
    ) -> Option<u64> {
        let word = self.need(who, line, index)?;
        match values::unsigned(&word.text, min, max) {
            Ok(v) => Some(v),
            Err(e) => {
                self.bad_value(who, line, word, e, instead);
                None
            }
        }
    }

    fn integer(
        &mut self,
        who: &str,
        line: &Line,
        index: usize,
        (min, max): (i64, i64),
        instead: &str,
    ) -> Option<i64> {
        let word = self.need(who, line, index)?;
        match values::integer(&word.text, min, max) {
            Ok(v) => Some(v),
            Err(e) => {
                self.bad_value(who, line, word, e, instead);
                None
            }
        }
    }

    /// A seconds value that keepalived reads as an integer (`read_unsigned`), e.g.
    /// `vrrp_garp_master_delay` or a `vrrp_script` `interval`: `2.5` is invalid there.
    fn whole_seconds(&mut self, who: &str, line: &Line, instead: &str) -> Option<u64> {
        self.unsigned(who, line, 1, (0, MAX_TIMER_SECS), instead)
    }

    /// A flag keyword: bare means on; `on/off/true/false/yes/no` may follow.
    fn flag(&mut self, who: &str, line: &Line) -> Option<bool> {
        match line.arg(1) {
            None => Some(true),
            Some(word) => match values::boolean(&word.text) {
                Some(b) => Some(b),
                None => {
                    self.bad_value(
                        who,
                        line,
                        word,
                        "expected on/off, true/false or yes/no",
                        "ignored",
                    );
                    None
                }
            },
        }
    }

    /// The words after the keyword joined by single spaces (keepalived `set_value`).
    fn rest_of_line(&mut self, who: &str, line: &Line) -> Option<String> {
        self.need(who, line, 1)?;
        Some(
            line.words[1..]
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    /// `KEYWORD "CMD args" [user [group]]`: the command split into argv with keepalived's
    /// script rules (`notify_script_init` / `set_script_params_array`): the line is split with
    /// quotes and escapes, and its first argument is split again into argv.
    fn command(&mut self, who: &str, line: &Line, with_user: bool) -> Option<Command> {
        let cmd_word = self.need(who, line, 1)?.clone();
        let words = match lexer::split_quoted_escaped(&line.raw()) {
            Ok(words) => words,
            Err(e) => {
                self.bad_value(who, line, &cmd_word, e, "ignored");
                return None;
            }
        };
        let text = words.get(1).cloned().unwrap_or_default();
        let argv = match lexer::split_quoted_escaped(&text) {
            Ok(argv) if !argv.is_empty() => argv,
            Ok(_) => {
                self.bad_value(who, line, &cmd_word, "empty command", "ignored");
                return None;
            }
            Err(e) => {
                self.bad_value(who, line, &cmd_word, e, "ignored");
                return None;
            }
        };
        let user = if with_user {
            words.get(2).map(|user| ScriptUser {
                user: user.clone(),
                group: words.get(3).cloned(),
            })
        } else {
            None
        };
        Some(Command {
            argv,
            user,
            span: cmd_word.span,
        })
    }

    /// Reports parameters after a value-block keyword (keepalived: "Block … has extra
    /// parameters").
    fn no_block_params(&mut self, line: &Line) {
        if let Some(extra) = line.arg(1) {
            self.diags.error(
                &extra.span,
                format!(
                    "Block {} has extra parameters {} ... - ignored",
                    line.keyword().text,
                    extra.text
                ),
            );
        }
    }

    // ----- top level --------------------------------------------------------------------------

    fn root(&mut self) {
        while let Some(token) = self.next() {
            match token {
                Token::Close(span) => self.diags.error(&span, "Extra '}' found"),
                Token::Open(span) => {
                    self.diags.error(&span, "Unexpected '{' - ignoring");
                    let owner = Word {
                        text: "{".into(),
                        span,
                    };
                    self.skip_rest_of_block(&owner);
                }
                Token::Line(line) => match line.keyword().text.as_str() {
                    "global_defs" => self.global_defs(&line),
                    "vrrp_instance" => self.vrrp_instance(&line),
                    "vrrp_script" => self.vrrp_script(&line),
                    "virtual_server" => {
                        self.config.virtual_servers_seen += 1;
                        self.virtual_server(&line);
                    }
                    "virtual_server_group" => self.virtual_server_group(&line),
                    "SSL" => self.ssl_block(&line),
                    "net_namespace" => {
                        if let Some(name) = self.need("", &line, 1) {
                            self.config.net_namespace = Some(name.text.to_string());
                        }
                    }
                    "static_ipaddress" | "static_routes" | "static_rules" => {
                        self.static_block(&line)
                    }
                    "vrrp_sync_group" | "vrrp_track_process" | "track_file" | "vrrp_track_file" => {
                        self.tracking_root(&line)
                    }
                    other => {
                        if other == "virtual_server" {
                            self.config.virtual_servers_seen += 1;
                        }
                        self.not_parsed(&line, Context::Root);
                    }
                },
            }
        }
    }

    fn finish(mut self) -> Loaded {
        self.assign_keys();
        let lexer_diags = self.tokens.finish();
        // What is found from here on is about the whole config: it goes last.
        self.consumed = usize::MAX;
        self.check_duplicate_vrids();
        self.complete_sync_groups();
        self.check_sync_daemon();
        if scripts_without_security(&self.config) {
            // keepalived prints this once, without a position; point at the first script.
            if let Some(span) = self.config.scripts().next().map(|c| c.span) {
                self.diags.warn(&span, SECURITY_VIOLATION);
            }
        }
        self.assign_keys();
        // Merge in stream order: the lexer's diagnostic found before token k comes after the
        // parser's diagnostics about tokens before k.
        let mut all: Vec<(usize, u8, Diagnostic)> = self
            .keys
            .into_iter()
            .zip(self.diags.0)
            .map(|(k, d)| (k, 0, d))
            .chain(lexer_diags.into_iter().map(|(k, d)| (k, 1, d)))
            .collect();
        all.sort_by_key(|(k, source, _)| (*k, *source));
        Loaded {
            missing_files: self.tokens.missing_files(),
            config: self.config,
            diagnostics: Diagnostics(all.into_iter().map(|(_, _, d)| d).collect()),
        }
    }

    // ----- global_defs ------------------------------------------------------------------------

    /// `lvs_sync_daemon IF VRRP_INSTANCE [id N] [maxlen N] [port N] [ttl N] [group IP]`
    /// (keepalived 2.2.7 global_parser.c); the instance must exist (checked in `finish`).
    fn lvs_sync_daemon(&mut self, l: &Line) {
        let who = "";
        let (Some(ifname), Some(inst)) = (self.need(who, l, 1), self.need(who, l, 2)) else {
            return;
        };
        let mut syncd = LvsSyncDaemon {
            interface: ifname.text.to_string(),
            instance: inst.text.to_string(),
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

    /// The `lvs_sync_daemon` instance must be a vrrp_instance that loaded.
    fn check_sync_daemon(&mut self) {
        let Some(syncd) = &self.config.global.lvs_sync_daemon else {
            return;
        };
        if !self
            .config
            .vrrp_instances
            .iter()
            .any(|i| i.name == syncd.instance)
        {
            let span = syncd.span;
            let msg = format!(
                "lvs_sync_daemon vrrp instance {} not found - sync daemon not started",
                syncd.instance
            );
            self.config.global.lvs_sync_daemon = None;
            self.diags.error(&span, msg);
        }
    }

    fn global_defs(&mut self, line: &Line) {
        let owner = line.keyword().clone();
        self.open_block(&owner);
        while let Some(l) = self.next_in_block(&owner) {
            self.global_keyword(&l);
        }
    }

    fn global_keyword(&mut self, l: &Line) {
        let who = "";
        let kw = l.keyword().text.as_str();
        match kw {
            "router_id" => {
                if let Some(v) = self.rest_of_line(who, l) {
                    self.config.global.router_id = Some(v);
                }
            }
            "vrrp_strict" => {
                if let Some(on) = self.flag("", l) {
                    self.config.global.vrrp_strict = on;
                }
            }
            "vrrp_version" => {
                if let Some(v) = self.integer(who, l, 1, (2, 3), "ignored") {
                    self.config.global.vrrp_version = v as u8;
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
            "notify_fifo"
            | "notify_fifo_script"
            | "vrrp_notify_fifo"
            | "vrrp_notify_fifo_script" => self.notify_fifo(l),
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
            "lvs_timeouts" => self.lvs_timeouts(l),
            "lvs_flush" => {
                if let Some(on) = self.flag(who, l) {
                    self.config.ipvs.lvs_flush = on;
                }
            }
            _ => self.not_parsed(l, Context::GlobalDefs),
        }
    }

    /// A GARP repeat count: 0 is accepted and raised to 1 with a warning, as keepalived does.
    fn repeat(&mut self, who: &str, l: &Line) -> Option<u32> {
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
            MAX_TIMER_SECS as f64,
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

    // ----- vrrp_script ------------------------------------------------------------------------

    fn vrrp_script(&mut self, line: &Line) {
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

    // ----- vrrp_instance ----------------------------------------------------------------------

    fn vrrp_instance(&mut self, line: &Line) {
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

    fn instance_keyword(&mut self, d: &mut InstanceDraft, l: &Line) {
        let who = d.who.clone();
        let who = who.as_str();
        match l.keyword().text.as_str() {
            "lvs_sync_daemon_interface" => {
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
                    sync_id: 0,
                    maxlen: None,
                    port: None,
                    ttl: None,
                    group: None,
                    span: *kw,
                });
            }
            "state" => {
                let Some(word) = self.need(who, l, 1) else {
                    return;
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
                    return;
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
                    return;
                };
                // keepalived: read as a decimal in [0.01, 255] s; rounded for the version later.
                match values::decimal_micros(&word.text, MICROS_PER_SEC / 100, 255 * MICROS_PER_SEC)
                {
                    Ok(us) => d.advert_int = Some((us, word.span)),
                    Err(e) => self.bad_value(who, l, word, e, "using default 1s"),
                }
            }
            "version" => {
                if let Some(v) = self.integer(who, l, 1, (2, 3), "ignored") {
                    d.version = Some((v as u8, l.words[1].span));
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
                    return;
                };
                match values::decimal_micros(&word.text, 0, TIMER_MAX_SEC * MICROS_PER_SEC) {
                    Ok(us) => d.preempt_delay = Duration::from_micros(us),
                    Err(e) => self.bad_value(who, l, word, e, "using 0"),
                }
            }
            "authentication" => self.authentication(d, l),
            "virtual_ipaddress" => {
                self.no_block_params(l);
                let owner = l.keyword().clone();
                self.open_block(&owner);
                while let Some(entry) = self.next_in_block(&owner) {
                    if let Some(vip) = self.virtual_address(d, &entry) {
                        d.vips.push(vip);
                    }
                }
            }
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
            // Addresses of either family, moved with the instance but not in its adverts.
            "virtual_ipaddress_excluded" => {
                self.no_block_params(l);
                let owner = l.keyword().clone();
                self.open_block(&owner);
                while let Some(entry) = self.next_in_block(&owner) {
                    let family = d.ipv6.take();
                    let vip = self.virtual_address(d, &entry);
                    d.ipv6 = family;
                    if let Some(vip) = vip {
                        d.excluded.push(vip);
                    }
                }
            }
            "virtual_routes" | "virtual_rules" => {
                self.no_block_params(l);
                let owner = l.keyword().clone();
                let routes = owner.text == "virtual_routes";
                self.open_block(&owner);
                while let Some(entry) = self.next_in_block(&owner) {
                    let words: Vec<&str> = entry.words.iter().map(|w| w.text.as_str()).collect();
                    let parsed = if routes {
                        crate::config::routes::parse_route(&words).map(|r| d.routes.push(r))
                    } else {
                        crate::config::routes::parse_rule(&words)
                            .map(|r| d.rules.push(self.rule_priority(r, &entry)))
                    };
                    if let Err(e) = parsed {
                        self.diags.error(
                            entry.span(),
                            format!("{who}{}: {e} - line ignored", owner.text),
                        );
                    }
                }
            }
            // keepalived installs one handler (vrrp_srcip_handler) for both keywords.
            "unicast_src_ip" | "mcast_src_ip" => {
                let Some(word) = self.need(who, l, 1) else {
                    return;
                };
                match values::ip_addr(&word.text) {
                    Some(ip) => {
                        if self.claim_family(d, &ip, word, "unicast_src_ip") {
                            d.unicast_src_ip = Some(ip);
                        }
                    }
                    None => self.bad_value(who, l, word, "not an IP address", "ignored"),
                }
            }
            "unicast_peer" => {
                self.no_block_params(l);
                let owner = l.keyword().clone();
                self.open_block(&owner);
                while let Some(entry) = self.next_in_block(&owner) {
                    if let Some(peer) = self.unicast_peer(d, &entry) {
                        d.unicast_peer.push(peer);
                    }
                }
            }
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

    /// Fixes the instance's address family with its first address; an address of the other
    /// family is an error and is ignored (keepalived: "address family must match VRRP
    /// instance").
    fn claim_family(
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

    /// One line of `virtual_ipaddress { }`:
    /// `IP[/LEN] [brd IP|+|-] [dev IF] [scope S] [label L] …` (keepalived `alloc_ipaddress`).
    /// One address line (`virtual_ipaddress`, `virtual_ipaddress_excluded`,
    /// `static_ipaddress`): `IP[/LEN] [brd IP] [dev IF] [scope S] [label L]`.
    fn address_line(&mut self, who: &str, l: &Line) -> Option<VirtualAddress> {
        let who = who.to_string();
        let first = l.keyword();
        let (addr_text, prefix_text) = values::split_prefix(&first.text);
        let Some(addr) = values::ip_addr(addr_text) else {
            self.diags.error(
                &first.span,
                format!(
                    "{who}invalid virtual_ipaddress '{}': not an IP address - skipped",
                    first.text
                ),
            );
            return None;
        };
        let max = values::max_prefix(&addr);
        let mut prefix_len = max;
        if let Some(p) = prefix_text {
            match values::unsigned(p, 0, u64::from(max)) {
                Ok(len) => prefix_len = len as u8,
                Err(e) => self.diags.error(
                    &first.span,
                    format!(
                        "{who}invalid prefix length '{p}' in virtual_ipaddress '{}': {e} - using {max}",
                        first.text
                    ),
                ),
            }
        }
        let mut vip = VirtualAddress {
            addr,
            prefix_len,
            brd: None,
            dev: None,
            scope: None,
            label: None,
            peer: None,
            no_track: false,
            span: first.span,
        };
        let mut i = 1;
        while i < l.words.len() {
            let option = &l.words[i];
            let param = l.words.get(i + 1);
            let takes_param = matches!(
                option.text.as_str(),
                "dev"
                    | "scope"
                    | "brd"
                    | "broadcast"
                    | "label"
                    | "peer"
                    | "track_group"
                    | "preferred_lft"
            );
            if takes_param && param.is_none() {
                self.diags.error(
                    &option.span,
                    format!(
                        "{who}No {} parameter specified for {} - skipped",
                        option.text, first.text
                    ),
                );
                return None;
            }
            match (option.text.as_str(), param) {
                ("dev", Some(p)) => {
                    if vip.dev.is_some() {
                        self.diags.error(
                            &p.span,
                            format!("{who}dev given more than once for {} - skipped", first.text),
                        );
                        return None;
                    }
                    vip.dev = Some(p.text.to_string());
                }
                ("scope", Some(p)) => match values::scope(&p.text) {
                    Some(s) => vip.scope = Some(s),
                    None => self.diags.error(
                        &p.span,
                        format!(
                            "{who}Invalid scope '{}' specified for {} - ignoring",
                            p.text, first.text
                        ),
                    ),
                },
                ("brd" | "broadcast", Some(p)) => {
                    let IpAddr::V4(v4) = addr else {
                        self.diags.error(
                            &option.span,
                            format!(
                                "{who}broadcast given for the IPv6 address {} - skipped",
                                first.text
                            ),
                        );
                        return None;
                    };
                    match p.text.as_str() {
                        "+" | "-" => {
                            if prefix_len > 30 {
                                self.diags.error(
                                    &p.span,
                                    format!(
                                        "{who}Address prefix length {prefix_len} too long for broadcast - ignoring"
                                    ),
                                );
                            } else {
                                let host_mask = u32::MAX >> prefix_len;
                                let bits = u32::from(v4);
                                let brd = if p.text == "+" {
                                    bits | host_mask
                                } else {
                                    bits & !host_mask
                                };
                                vip.brd = Some(IpAddr::V4(Ipv4Addr::from(brd)));
                            }
                        }
                        text => match text.parse::<Ipv4Addr>() {
                            Ok(b) => vip.brd = Some(IpAddr::V4(b)),
                            Err(_) => {
                                self.diags.error(
                                    &p.span,
                                    format!(
                                        "{who}invalid broadcast '{text}' for {} - skipped",
                                        first.text
                                    ),
                                );
                                return None;
                            }
                        },
                    }
                }
                ("label", Some(p)) => vip.label = Some(p.text.to_string()),
                ("peer", Some(p)) => match values::ip_addr(&p.text) {
                    Some(ip) if ip.is_ipv6() == vip.addr.is_ipv6() => vip.peer = Some(ip),
                    _ => self.diags.error(
                        &p.span,
                        format!(
                            "{who}Invalid peer address '{}' for {} - ignoring",
                            p.text, first.text
                        ),
                    ),
                },
                ("no_track", _) => vip.no_track = true,
                (
                    "track_group" | "preferred_lft" | "home" | "-nodad" | "mngtmpaddr"
                    | "noprefixroute" | "autojoin",
                    _,
                ) => {
                    self.diags.warn(
                        &option.span,
                        format!(
                            "{who}virtual_ipaddress option '{}' is a keepalived option that \
                             rkeepalived does not implement yet; ignored",
                            option.text
                        ),
                    );
                }
                _ => {
                    self.diags.error(
                        &option.span,
                        format!(
                            "{who}Unknown configuration entry '{}' for ip address - ignoring",
                            option.text
                        ),
                    );
                    i += 1;
                    continue;
                }
            }
            i += if takes_param { 2 } else { 1 };
        }
        if addr.is_ipv6() {
            if vip.scope.take().is_some() {
                self.diags.warn(
                    &first.span,
                    format!(
                        "{who}Cannot specify scope for IPv6 addresses ({}) - ignoring scope",
                        first.text
                    ),
                );
            }
            if vip.label.take().is_some() {
                self.diags.warn(
                    &first.span,
                    format!(
                        "{who}Cannot specify label for IPv6 addresses ({}) - ignoring label",
                        first.text
                    ),
                );
            }
        }
        Some(vip)
    }

    /// `static_ipaddress { }`, `static_routes { }`, `static_rules { }` (top level).
    fn static_block(&mut self, line: &Line) {
        let owner = line.keyword().clone();
        let who = format!("{}: ", owner.text);
        self.no_block_params(line);
        self.open_block(&owner);
        while let Some(entry) = self.next_in_block(&owner) {
            match owner.text.as_str() {
                "static_ipaddress" => {
                    if let Some(mut a) = self.address_line(&who, &entry) {
                        // man 5: without dev, default_interface (default eth0).
                        a.dev.get_or_insert_with(|| "eth0".to_string());
                        self.config.static_ipaddress.push(a);
                    }
                }
                kind => {
                    let words: Vec<&str> = entry.words.iter().map(|w| w.text.as_str()).collect();
                    let parsed = if kind == "static_routes" {
                        crate::config::routes::parse_route(&words)
                            .map(|r| self.config.static_routes.push(r))
                    } else {
                        crate::config::routes::parse_rule(&words).map(|r| {
                            let r = self.rule_priority(r, &entry);
                            self.config.static_rules.push(r)
                        })
                    };
                    if let Err(e) = parsed {
                        self.diags
                            .error(entry.span(), format!("{who}{e} - line ignored"));
                    }
                }
            }
        }
    }

    /// `rule` with keepalived's default preference when the line gave none, warned as
    /// keepalived warns.
    fn rule_priority(
        &mut self,
        mut rule: crate::config::routes::VirtualRule,
        entry: &Line,
    ) -> crate::config::routes::VirtualRule {
        if let Some(p) = self.rule_priorities.assign(&mut rule) {
            self.diags.warn(
                entry.span(),
                format!(
                    "Rule has no preference specified - setting to {p}. This is probably not what you want."
                ),
            );
        }
        rule
    }

    /// An address line of an instance: its family must be the instance's.
    fn virtual_address(&mut self, d: &mut InstanceDraft, l: &Line) -> Option<VirtualAddress> {
        let who = d.who.clone();
        let vip = self.address_line(&who, l)?;
        let first = l.keyword().clone();
        self.claim_family(d, &vip.addr, &first, "virtual_ipaddress")
            .then_some(vip)
    }

    /// One line of `unicast_peer { }`: `IP [min_ttl N] [max_ttl N]`.
    fn unicast_peer(&mut self, d: &mut InstanceDraft, l: &Line) -> Option<UnicastPeer> {
        let who = d.who.clone();
        let first = l.keyword();
        let Some(ip) = values::ip_addr(&first.text) else {
            self.diags.error(
                &first.span,
                format!(
                    "{who}invalid unicast_peer '{}': not an IP address - skipped",
                    first.text
                ),
            );
            return None;
        };
        let mut peer = UnicastPeer::new(ip);
        let mut i = 1;
        while i < l.words.len() {
            let option = &l.words[i];
            let is_ttl = matches!(option.text.as_str(), "min_ttl" | "max_ttl");
            if !is_ttl {
                self.diags.error(
                    &option.span,
                    format!(
                        "{who}unknown unicast_peer option '{}' - ignored",
                        option.text
                    ),
                );
                i += 2;
                continue;
            }
            let Some(value) = l.words.get(i + 1) else {
                self.diags.error(
                    &option.span,
                    format!(
                        "{who}unicast_peer {} is missing a value for {} - ignored",
                        first.text, option.text
                    ),
                );
                break;
            };
            match values::unsigned(&value.text, 0, 255) {
                Ok(ttl) if option.text == "min_ttl" => peer.min_ttl = ttl as u8,
                Ok(ttl) => peer.max_ttl = ttl as u8,
                Err(e) => self.diags.error(
                    &value.span,
                    format!(
                        "{who}invalid {} '{}' for unicast_peer {}: {e} - ignored",
                        option.text, value.text, first.text
                    ),
                ),
            }
            i += 2;
        }
        if peer.min_ttl > peer.max_ttl {
            self.diags.warn(
                &first.span,
                format!(
                    "{who}unicast_peer {}: min_ttl {} > max_ttl {} - all its adverts will be \
                     discarded with check_unicast_src",
                    first.text, peer.min_ttl, peer.max_ttl
                ),
            );
        }
        self.claim_family(d, &ip, first, "unicast_peer")
            .then_some(peer)
    }

    /// One line of `track_script { }`: `NAME [weight N [reverse|noreverse]]`
    /// (keepalived `alloc_track_script`).
    fn track_script(&mut self, d: &InstanceDraft, l: &Line) -> Option<TrackScript> {
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

    /// Completes an instance as keepalived's `vrrp_complete_instance` does, or drops it.
    fn complete_instance(&mut self, d: InstanceDraft) -> Option<VrrpInstance> {
        let who = d.who.clone();
        let Some((vrid, _)) = d.vrid else {
            self.diags.error(
                &d.name.span,
                format!("{who}the virtual router id must be set - instance ignored"),
            );
            return None;
        };
        if d.interface.is_none() && d.unicast_peer.is_empty() {
            self.diags.error(
                &d.name.span,
                format!(
                    "{who}no interface set (an interface is needed unless unicast_peer is used) - \
                     instance ignored"
                ),
            );
            return None;
        }
        let ipv6 = d.ipv6 == Some(true);

        // The version: the instance's, else global_defs'; IPv6 can only be carried by VRRPv3.
        let mut version = d.version.as_ref().map(|(v, _)| *v);
        if ipv6 {
            if let Some((2, span)) = &d.version {
                self.diags.warn(
                    span,
                    format!("{who}VRRPv2 cannot carry IPv6 addresses - using version 3"),
                );
            }
            version = Some(3);
        }
        let effective_version = version.unwrap_or(self.config.global.vrrp_version);

        let mut state = d.state.as_ref().map_or(InitialState::Backup, |(s, _)| *s);
        // keepalived: with state MASTER and no priority, the instance is the address owner.
        let priority = d.priority.unwrap_or(if state == InitialState::Master {
            Priority::OWNER
        } else {
            Priority::DEFAULT
        });

        let mut authentication = None;
        if let Some((kind, span)) = &d.auth_type {
            let pass = d.auth_pass.clone().unwrap_or_default();
            if effective_version == 3 {
                self.diags.warn(
                    span,
                    format!("{who}VRRP version 3 does not support authentication. Ignoring."),
                );
            } else if *kind == AuthKind::Ah {
                self.diags.warn(
                    span,
                    format!("{who}AH authentication is not supported by rkeepalived (no interoperable implementation yet); this instance will not be started"),
                );
                if state == InitialState::Master {
                    self.diags.warn(
                        span,
                        format!("{who}Initial state master is incompatible with AH authentication - clearing"),
                    );
                    state = InitialState::Backup;
                }
                authentication = Some(Authentication::Ah(pass));
            } else {
                authentication = Some(Authentication::Pass(pass));
            }
        } else if d.auth_pass.is_some() {
            self.diags.warn(
                &d.name.span,
                format!("{who}auth_pass without auth_type - no authentication used"),
            );
        }

        let mut nopreempt = d.nopreempt.is_some();
        if let Some(span) = &d.nopreempt {
            if priority.is_owner() {
                self.diags.warn(
                    span,
                    format!(
                        "{who}nopreempt is incompatible with priority 255. resetting nopreempt"
                    ),
                );
                nopreempt = false;
            } else if state == InitialState::Master {
                self.diags.warn(
                    span,
                    format!("{who}Warning - nopreempt will not work with initial state MASTER - clearing"),
                );
                nopreempt = false;
            }
        }

        // keepalived: "preempt_delay is incompatible with nopreempt mode - resetting".
        let mut preempt_delay = d.preempt_delay;
        if nopreempt && !preempt_delay.is_zero() {
            let at = d.nopreempt.as_ref().unwrap_or(&d.name.span);
            self.diags.warn(
                at,
                format!("{who}preempt_delay is incompatible with nopreempt mode - resetting"),
            );
            preempt_delay = Duration::ZERO;
        }

        let advert_int = self.resolve_advert_int(&who, d.advert_int.as_ref(), effective_version);

        if d.vips.is_empty() {
            self.diags.warn(
                &d.name.span,
                format!("{who}No VIP specified; at least one is sensible"),
            );
        }

        // keepalived: an address owner's priority is never adjusted, so weighted trackers go.
        let mut track_script = d.track_script;
        if priority.is_owner() {
            let scripts = &self.config.vrrp_scripts;
            let (kept, dropped): (Vec<_>, Vec<_>) = track_script.into_iter().partition(|t| {
                t.weight
                    .unwrap_or_else(|| scripts.get(&t.name).map_or(0, |s| s.weight))
                    == 0
            });
            for t in dropped {
                self.diags.warn(
                    &t.span,
                    format!(
                        "{who}ignoring tracked script {} with weights due to address_owner",
                        t.name
                    ),
                );
            }
            track_script = kept;
        }

        Some(VrrpInstance {
            name: d.name.text.to_string(),
            state,
            interface: d.interface,
            virtual_router_id: vrid,
            priority,
            advert_int,
            version,
            nopreempt,
            preempt_delay,
            authentication,
            virtual_ipaddress: d.vips,
            unicast_src_ip: d.unicast_src_ip,
            unicast_peer: d.unicast_peer,
            unicast_ttl: d.unicast_ttl.unwrap_or(255),
            check_unicast_src: d.check_unicast_src,
            skip_check_adv_addr: d.skip_check_adv_addr,
            garp_master_refresh: d.garp_master_refresh,
            garp_master_refresh_repeat: d.garp_master_refresh_repeat,
            garp_lower_prio_delay: d.garp_lower_prio_delay,
            garp_lower_prio_repeat: d.garp_lower_prio_repeat,
            lower_prio_no_advert: d.lower_prio_no_advert,
            higher_prio_send_advert: d.higher_prio_send_advert,
            track_script,
            notify: d.notify,
            garp_master_delay: d.garp_master_delay,
            garp_master_repeat: d.garp_master_repeat,
            tracking: d.tracking,
            virtual_ipaddress_excluded: d.excluded,
            use_vmac: d.use_vmac,
            vmac_xmit_base: d.vmac_xmit_base,
            strict_mode: d.strict_mode.unwrap_or(self.config.global.vrrp_strict),
            accept: d.accept,
            virtual_routes: d.routes,
            virtual_rules: d.rules,
            smtp_alert: d.smtp_alert,
            span: d.name.span,
        })
    }

    /// keepalived's advert_int rounding (vrrp.c, `vrrp_complete_instance`): VRRPv2 carries whole
    /// seconds (rounded to nearest, at least 1); VRRPv3 carries centiseconds (rounded to the
    /// nearest 10 ms, at most 40.95 s).
    fn resolve_advert_int(
        &mut self,
        who: &str,
        given: Option<&(u64, Span)>,
        version: u8,
    ) -> Centiseconds {
        let Some((us, span)) = given else {
            return Centiseconds::ONE_SECOND;
        };
        let us = *us;
        let secs = us as f64 / MICROS_PER_SEC as f64;
        if version == 2 {
            if us % MICROS_PER_SEC == 0 {
                return Centiseconds::from_secs((us / MICROS_PER_SEC) as u16);
            }
            self.diags.warn(
                span,
                format!(
                    "{who}VRRPv2 advertisement interval {secs:.6}s must be an integer. rounding"
                ),
            );
            let rounded = ((us + MICROS_PER_SEC / 2) / MICROS_PER_SEC).max(1);
            return Centiseconds::from_secs(rounded as u16);
        }
        const CENTI: u64 = MICROS_PER_SEC / 100;
        let mut cs = us / CENTI;
        if us % CENTI != 0 {
            self.diags.warn(
                span,
                format!("{who}VRRPv3 advertisement interval {secs:.6}s must be in units of 10ms - rounding"),
            );
            cs = ((us + CENTI / 2) / CENTI).max(1);
        }
        if cs >= 4096 {
            self.diags.warn(
                span,
                format!(
                    "{who}VRRPv3 advertisement interval {secs:.2}s is out of range. Must be less than \
                     40.96s. Setting to 40.95s"
                ),
            );
            cs = 4095;
        }
        Centiseconds(cs as u16)
    }

    /// Two instances with the same VRID, address family and interface cannot coexist
    /// (keepalived: "A and B both use VRID n with IPv4 on interface eth0"); the later one is
    /// dropped.
    fn check_duplicate_vrids(&mut self) {
        let mut kept: Vec<VrrpInstance> = Vec::new();
        for instance in std::mem::take(&mut self.config.vrrp_instances) {
            let family = instance_family(&instance);
            let clash = kept.iter().find(|k| {
                k.virtual_router_id == instance.virtual_router_id
                    && k.interface == instance.interface
                    && instance_family(k) == family
            });
            if let Some(first) = clash {
                self.diags.error(
                    &instance.span,
                    format!(
                        "{} and {} both use VRID {} with IPv{family} on interface {} - {} ignored",
                        first.name,
                        instance.name,
                        instance.virtual_router_id,
                        instance.interface.as_deref().unwrap_or("(none)"),
                        instance.name,
                    ),
                );
            } else {
                kept.push(instance);
            }
        }
        self.config.vrrp_instances = kept;
    }
}

/// 4 or 6: the family of an instance's addresses (IPv4 when it has none).
fn instance_family(instance: &VrrpInstance) -> u8 {
    let v6 = instance
        .unicast_src_ip
        .iter()
        .chain(instance.virtual_ipaddress.iter().map(|v| &v.addr))
        .chain(instance.unicast_peer.iter().map(|p| &p.addr))
        .next()
        .is_some_and(IpAddr::is_ipv6);
    if v6 { 6 } else { 4 }
}
