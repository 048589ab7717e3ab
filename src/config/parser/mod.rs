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
//!
//! One file per block family: `common` (token stream, blocks, value helpers shared by all),
//! `global_defs`, `vrrp_instance` (+ its completion), `addresses` (VIPs, routes, rules,
//! unicast peers, `static_*`), `scripts` (`vrrp_script`, `track_script`), `track` (the other
//! trackers, sync groups, notify FIFOs), `virtual_server`, `vs_group`, `checkers`, `lvs`.

use crate::config::diag::{Diagnostic, Diagnostics};
use crate::config::keywords::Context;
use crate::config::lexer::{self, Token, Word};
use crate::config::model::Config;
use std::path::{Path, PathBuf};

mod addresses;
mod checkers;
mod common;
mod global_defs;
mod lvs;
mod scripts;
mod track;
mod virtual_server;
mod vrrp_instance;
mod vs_group;

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
        timings: Default::default(),
    };
    parser.root();
    parser.finish()
}

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
    /// The distinct checker timings read so far (see [`CheckerCfg::timing`](crate::config::model::CheckerCfg::timing)).
    timings: std::collections::HashSet<std::sync::Arc<crate::config::model::CheckTiming>>,
}

impl Parser<'_> {
    /// `timing`, or the equal one an earlier checker has (shared, see [`CheckerCfg::timing`](crate::config::model::CheckerCfg::timing)).
    fn intern_timing(
        &mut self,
        timing: std::sync::Arc<crate::config::model::CheckTiming>,
    ) -> std::sync::Arc<crate::config::model::CheckTiming> {
        match self.timings.get(&*timing) {
            Some(t) => t.clone(),
            None => {
                self.timings.insert(timing.clone());
                timing
            }
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
}

/// `text` loaded as `t.conf`: the config and every diagnostic as
/// `t.conf:LINE:COL: SEVERITY: MESSAGE` (the unit tests of each block family use it).
#[cfg(test)]
fn parse(text: &str) -> (Config, Vec<String>) {
    let l = load_str(Path::new("t.conf"), text, &LoadOptions::default());
    let msgs = l.diagnostics.0.iter().map(|d| d.to_string()).collect();
    (l.config, msgs)
}
