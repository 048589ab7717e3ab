//! The script policy: who runs each command of a config, and which commands run at all.
//!
//! Decided once per load (start-up, `-t` and every reload) for every command the daemon can
//! run - `vrrp_script`, the `notify*` of instances and sync groups, the notify FIFO scripts,
//! IPVS `notify_up`/`notify_down`, `quorum_up`/`quorum_down` and `MISC_CHECK`'s `misc_path` -
//! with keepalived 2.2.7's rules (core/global_parser.c `set_default_script_user`,
//! core/notify.c `check_script_secure`, vrrp/vrrp_parser.c, check/check_misc.c), measured
//! against its binary:
//!
//! - The default user is `script_user USER [GROUP]`; an unknown one logs `Error setting global
//!   script uid/gid` and leaves no default. Without `script_user`, the user
//!   `keepalived_script` is the default if it exists; otherwise keepalived logs `Script user
//!   'keepalived_script' does not exist` and scripts run as root, unless
//!   `enable_script_security` is on: then there is no default.
//! - A command with its own `user USER [GROUP]` runs as that user; an unknown user removes it
//!   (`Unable to set uid/gid for script ...`).
//! - A command without its own user and without a default is refused: a `vrrp_script` is
//!   removed (`Unable to set default user for vrrp script NAME - removing`), a `MISC_CHECK` too
//!   (`... misc script PATH - removing`), a notify command is dropped (`Failed to set default
//!   user for notify script PATH - ignoring`). The first such case also logs `Unable to set
//!   default user keepalived_script for script`.
//! - With `enable_script_security`, a command that runs as root and whose file, or a directory
//!   above it, is writable by a non-root user is disabled (`Unsafe permissions found for script
//!   'PATH' - disabling.`; a `vrrp_script` also logs `Disabling track script NAME due to
//!   insecure`, a `MISC_CHECK` `Disabling misc script PATH due to insecure`).
//! - A `vrrp_script` or `MISC_CHECK` whose program does not exist is disabled (`Script PATH
//!   cannot be accessed - No such file or directory`, then `Disabling track script NAME since
//!   not found/accessible`): it never counts as failed, so it changes neither priority nor
//!   state, and the real server of the misc check stays in the pool. A missing notify command
//!   is dropped too: keepalived logs only the first line and never runs it, not even once the
//!   file exists (measured: it is not run at the next MASTER); rkeepalived adds `Disabling
//!   notify script PATH since not found/accessible (a reload takes it once it exists)`. Were it
//!   kept, a file that appears later would run without the permission check above.
//!
//! - A command whose file is not executable by the user it runs as is disabled (`script
//!   'PATH' is not executable for uid:gid U:G - disabling.`, keepalived's line without its
//!   `WARNING - `), and so is a directory (keepalived runs that one, and a `vrrp_script` of it
//!   counts as succeeded): neither changes a priority, as in keepalived.
//!
//! A removed `vrrp_script` disappears from every `track_script` (`(VI_1) track script NAME not
//! found, ignoring...`). Lines about scripts that are removed or disabled are errors (`-t`
//! exits non-zero), the others warnings.
//!
//! After [`apply`], every command that is left carries the user it runs as in its `user`
//! field, or `None` for the daemon's own user; `global_defs`' `script_user` holds the
//! effective default (so FIFO scripts and later lookups agree).

use super::{RunAs, ScriptError, resolve_user, running_as_root, unsafe_component};
use crate::config::model::{CheckerKind, Command, Config, Notify, ScriptUser};
use crate::config::{Diagnostics, Loaded, Span};

/// keepalived's default script user when `script_user` is not given.
pub const DEFAULT_SCRIPT_USER: &str = "keepalived_script";

/// keepalived's warning when check scripts (IPVS side) run without `enable_script_security`.
pub const CHECK_SECURITY_VIOLATION: &str =
    "SECURITY VIOLATION - check scripts are being executed but script_security not enabled.";

/// How a user name is resolved (the system's user database; tests substitute their own).
pub type Lookup<'a> = &'a dyn Fn(&ScriptUser) -> Result<RunAs, ScriptError>;

/// Applies the policy to a loaded config with the system's user database: the config keeps
/// only the commands that may run, and `diagnostics` gains keepalived's lines about the rest.
pub fn apply(loaded: Loaded) -> Loaded {
    apply_with(loaded, &resolve_user)
}

/// [`apply`] with `lookup` as the user database.
pub fn apply_with(mut loaded: Loaded, lookup: Lookup<'_>) -> Loaded {
    let mut p = Pass::new(&loaded.config, lookup);
    p.run(&mut loaded.config);
    loaded.diagnostics.0.extend(p.diags.0);
    loaded
}

/// Who runs the commands that have no `user` of their own.
#[derive(Debug, Clone)]
enum Default {
    /// This user (`script_user` or `keepalived_script`).
    User(ScriptUser, RunAs),
    /// The daemon's own user (no default user, script security off).
    Daemon,
    /// Nobody: such commands are refused.
    None,
}

/// Which kind of command is checked: decides keepalived's wording and what a refusal does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A `vrrp_script` (removed when refused or missing).
    Track,
    /// A `MISC_CHECK` (removed when refused or missing).
    Misc,
    /// Any notify command (dropped when refused or missing).
    Notify,
}

struct Pass<'a> {
    lookup: Lookup<'a>,
    default: Default,
    security: bool,
    daemon_root: bool,
    told_no_default: bool,
    /// `script_user` was given (an unknown one then speaks for itself).
    global_user: bool,
    diags: Diagnostics,
}

impl<'a> Pass<'a> {
    fn new(config: &Config, lookup: Lookup<'a>) -> Pass<'a> {
        let security = config.global.enable_script_security;
        let mut diags = Diagnostics::default();
        let has_scripts = config.scripts().next().is_some() || config.has_check_scripts();
        let default = match &config.global.script_user {
            Some(u) => match lookup(u) {
                Ok(r) => Default::User(u.clone(), r),
                Err(_) => {
                    diags.error(&Span::default(), "Error setting global script uid/gid");
                    Default::None
                }
            },
            // Nothing to run: no need to look `keepalived_script` up (as keepalived, which
            // looks for it with the first script; the lookup loads the NSS modules, about
            // 0.3 MiB of resident memory for the daemon's life).
            None if !has_scripts => Default::Daemon,
            None => {
                let u = ScriptUser {
                    user: DEFAULT_SCRIPT_USER.into(),
                    group: None,
                };
                match lookup(&u) {
                    Ok(r) => Default::User(u, r),
                    Err(_) if security => Default::None,
                    Err(_) => Default::Daemon,
                }
            }
        };
        if has_scripts
            && config.global.script_user.is_none()
            && !matches!(default, Default::User(..))
        {
            let first = config
                .scripts()
                .next()
                .map(|c| c.span)
                .unwrap_or_else(|| first_check_span(config).unwrap_or_default());
            diags.warn(
                &first,
                format!("Script user '{DEFAULT_SCRIPT_USER}' does not exist"),
            );
        }
        Pass {
            lookup,
            default,
            security,
            daemon_root: running_as_root(),
            told_no_default: false,
            global_user: config.global.script_user.is_some(),
            diags,
        }
    }

    fn run(&mut self, c: &mut Config) {
        let mut removed = Vec::new();
        let names: Vec<String> = c.vrrp_scripts.keys().cloned().collect();
        for name in names {
            let s = &c.vrrp_scripts[&name];
            let mut cmd = Command {
                user: s.user.clone(),
                ..s.script.clone()
            };
            if self.check(&mut cmd, Kind::Track, &name) {
                let s = c.vrrp_scripts.get_mut(&name).expect("listed above");
                s.user = cmd.user.clone();
                s.script.user = None;
            } else {
                c.vrrp_scripts.remove(&name);
                removed.push(name);
            }
        }
        for i in &mut c.vrrp_instances {
            self.notify(&mut i.notify);
            let inst = i.name.clone();
            let diags = &mut self.diags;
            i.track_script.retain(|t| {
                let gone = removed.contains(&t.name);
                if gone {
                    diags.warn(
                        &t.span,
                        format!("({inst}) track script {} not found, ignoring...", t.name),
                    );
                }
                !gone
            });
        }
        for g in &mut c.tracking.sync_groups {
            self.notify(&mut g.notify);
            g.track_script.retain(|t| !removed.contains(&t.name));
        }
        for f in [
            &mut c.tracking.notify_fifo,
            &mut c.tracking.vrrp_notify_fifo,
        ]
        .into_iter()
        .flatten()
        {
            self.slot(&mut f.script);
        }
        for vs in &mut c.ipvs.virtual_servers {
            self.slot(&mut vs.health.quorum_up);
            self.slot(&mut vs.health.quorum_down);
            for rs in &mut vs.real_servers {
                self.slot(&mut rs.health.notify_up);
                self.slot(&mut rs.health.notify_down);
                rs.health.checkers.retain_mut(|ck| {
                    let CheckerKind::Misc(m) = &mut ck.kind else {
                        return true;
                    };
                    let mut cmd = Command {
                        argv: m.argv.clone(),
                        user: m.user.clone(),
                        span: ck.span,
                    };
                    let keep = self.check(&mut cmd, Kind::Misc, "");
                    m.user = cmd.user;
                    keep
                });
            }
        }
        if let Default::User(u, _) = &self.default {
            c.global.script_user = Some(u.clone());
        }
        if !self.security && c.has_check_scripts() {
            self.diags.warn(
                &first_check_span(c).unwrap_or_default(),
                CHECK_SECURITY_VIOLATION,
            );
        }
    }

    fn notify(&mut self, n: &mut Notify) {
        for slot in [
            &mut n.master,
            &mut n.backup,
            &mut n.fault,
            &mut n.stop,
            &mut n.any,
        ] {
            self.slot(slot);
        }
    }

    fn slot<C: std::borrow::BorrowMut<Command>>(&mut self, slot: &mut Option<C>) {
        if let Some(cmd) = slot
            && !self.check(cmd.borrow_mut(), Kind::Notify, "notify script")
        {
            *slot = None;
        }
    }

    /// Decides one command (`label`: the `vrrp_script` name for [`Kind::Track`]): sets its
    /// `user` to who runs it and returns whether it may run.
    fn check(&mut self, cmd: &mut Command, kind: Kind, label: &str) -> bool {
        let program = cmd.argv.first().cloned().unwrap_or_default();
        let run_as = match &cmd.user {
            Some(u) => match (self.lookup)(u) {
                Ok(r) => Some(r),
                Err(_) => {
                    let words: Vec<String> = cmd.argv.iter().map(|a| format!("'{a}'")).collect();
                    self.diags.error(
                        &cmd.span,
                        format!("Unable to set uid/gid for script {}", words.join(" ")),
                    );
                    return false;
                }
            },
            None => match &self.default {
                Default::User(u, r) => {
                    cmd.user = Some(u.clone());
                    Some(*r)
                }
                Default::Daemon => None,
                Default::None => {
                    if !self.told_no_default && !self.global_user {
                        self.told_no_default = true;
                        self.diags.error(
                            &cmd.span,
                            format!("Unable to set default user {DEFAULT_SCRIPT_USER} for script"),
                        );
                    }
                    let msg = match kind {
                        Kind::Track => {
                            format!("Unable to set default user for vrrp script {label} - removing")
                        }
                        Kind::Misc => {
                            format!(
                                "Unable to set default user for misc script {program} - removing"
                            )
                        }
                        Kind::Notify => {
                            format!(
                                "Failed to set default user for notify script {program} - ignoring"
                            )
                        }
                    };
                    self.diags.error(&cmd.span, msg);
                    return false;
                }
            },
        };
        let Some(path) = find_program(&program) else {
            let sev_missing =
                format!("Script {program} cannot be accessed - No such file or directory");
            match kind {
                Kind::Notify => {
                    self.diags.warn(&cmd.span, sev_missing);
                    self.diags.error(
                        &cmd.span,
                        format!(
                            "Disabling notify script {program} since not found/accessible \
                             (a reload takes it once it exists)"
                        ),
                    );
                    return false;
                }
                Kind::Track => {
                    self.diags.warn(&cmd.span, sev_missing);
                    self.diags.error(
                        &cmd.span,
                        format!("Disabling track script {label} since not found/accessible"),
                    );
                    return false;
                }
                Kind::Misc => {
                    self.diags.warn(&cmd.span, sev_missing);
                    self.diags.error(
                        &cmd.span,
                        format!("Disabling misc script {program} since not found/accessible"),
                    );
                    return false;
                }
            }
        };
        let as_root = match run_as {
            Some(r) => r.uid.is_root(),
            None => self.daemon_root,
        };
        let who = run_as.unwrap_or(RunAs {
            uid: nix::unistd::Uid::effective(),
            gid: nix::unistd::Gid::effective(),
        });
        if let Some(why) = not_runnable(std::path::Path::new(&path), who) {
            let why = match why {
                NotRunnable::NotExecutable => {
                    format!("is not executable for uid:gid {}:{}", who.uid, who.gid)
                }
                NotRunnable::Directory => "is a directory".to_string(),
            };
            self.diags
                .error(&cmd.span, format!("script '{program}' {why} - disabling."));
            return false;
        }
        if self.security
            && as_root
            && let Some(part) = unsafe_component(&path)
        {
            self.diags.error(
                &cmd.span,
                format!("Unsafe permissions found for script '{program}' - disabling."),
            );
            self.diags.warn(
                &cmd.span,
                format!("  unsafe path component: {}", part.display()),
            );
            match kind {
                Kind::Track => {
                    self.diags.error(
                        &cmd.span,
                        format!("Disabling track script {label} due to insecure"),
                    );
                }
                Kind::Misc => self.diags.error(
                    &cmd.span,
                    format!("Disabling misc script {program} due to insecure"),
                ),
                Kind::Notify => {}
            }
            return false;
        }
        true
    }
}

/// Why a script's file cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotRunnable {
    /// No execute bit for the owner, the group or others, as the user is (root needs any).
    NotExecutable,
    Directory,
}

/// Why `path` cannot run as `who`, if it cannot. keepalived 2.2.7 disables a script that is
/// not executable (`WARNING - script 'PATH' is not executable for uid:gid U:G -
/// disabling.`); it runs a directory, which then fails to start (a `vrrp_script` of it even
/// counts as succeeded). rkeepalived disables both, so neither changes a priority.
fn not_runnable(path: &std::path::Path, who: RunAs) -> Option<NotRunnable> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    if m.is_dir() {
        return Some(NotRunnable::Directory);
    }
    let mode = m.mode();
    let x = if who.uid.is_root() {
        mode & 0o111 != 0
    } else if m.uid() == who.uid.as_raw() {
        mode & 0o100 != 0
    } else if m.gid() == who.gid.as_raw() {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    };
    (!x).then_some(NotRunnable::NotExecutable)
}

/// The file `program` names: itself when it contains a '/', else the first match in `PATH`
/// (keepalived searches `PATH` the same way). `None` when it does not exist.
pub fn find_program(program: &str) -> Option<String> {
    if program.is_empty() {
        return None;
    }
    if program.contains('/') {
        return std::path::Path::new(program)
            .exists()
            .then(|| program.to_string());
    }
    let search = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    search
        .split(':')
        .map(|d| std::path::Path::new(d).join(program))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}

/// Where the first check script (IPVS side) of `c` was written.
fn first_check_span(c: &Config) -> Option<Span> {
    c.ipvs.virtual_servers.iter().find_map(|vs| {
        let own = [&vs.health.quorum_up, &vs.health.quorum_down]
            .into_iter()
            .flatten()
            .map(|cmd| cmd.span)
            .next();
        own.or_else(|| {
            vs.real_servers.iter().find_map(|rs| {
                [&rs.health.notify_up, &rs.health.notify_down]
                    .into_iter()
                    .flatten()
                    .map(|cmd| cmd.span)
                    .next()
                    .or_else(|| {
                        rs.health
                            .checkers
                            .iter()
                            .find(|ck| matches!(ck.kind, CheckerKind::Misc(_)))
                            .map(|ck| ck.span)
                    })
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, Severity, load_str};
    use nix::unistd::{Gid, Uid};

    /// A user database with root, nobody and (when `ks`) keepalived_script.
    fn users(ks: bool) -> impl Fn(&ScriptUser) -> Result<RunAs, ScriptError> {
        move |u: &ScriptUser| {
            let id = match u.user.as_str() {
                "root" => 0,
                "nobody" => 65534,
                DEFAULT_SCRIPT_USER if ks => 999,
                other => return Err(ScriptError::UnknownUser(other.into())),
            };
            Ok(RunAs {
                uid: Uid::from_raw(id),
                gid: Gid::from_raw(id),
            })
        }
    }

    fn conf(global: &str, script: &str, misc: &str) -> String {
        format!(
            "global_defs {{\n{global}\n}}\n\
             vrrp_script chk {{\n  script \"{script} chk\"\n  weight -20\n}}\n\
             vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 51\n  priority 100\n\
               virtual_ipaddress {{ 10.0.0.1 }}\n  track_script {{ chk }}\n\
               notify_master \"/bin/true master\"\n  notify_backup \"/bin/true backup\" nobody\n}}\n\
             virtual_server 10.0.0.1 80 {{\n  lb_algo rr\n  protocol TCP\n\
               quorum_up \"/bin/true up\"\n\
               real_server 10.0.0.2 80 {{\n    notify_down \"/bin/true down\"\n\
                 MISC_CHECK {{\n      misc_path \"{misc}\"\n    }}\n  }}\n}}\n"
        )
    }

    fn run(text: &str, ks: bool) -> Loaded {
        let l = load_str(
            std::path::Path::new("/t/keepalived.conf"),
            text,
            &LoadOptions::default(),
        );
        apply_with(l, &users(ks))
    }

    fn has(l: &Loaded, sev: Severity, text: &str) -> bool {
        l.diagnostics
            .0
            .iter()
            .any(|d| d.severity == sev && d.message == text)
    }

    fn misc_count(c: &Config) -> usize {
        c.ipvs.virtual_servers[0].real_servers[0]
            .health
            .checkers
            .len()
    }

    #[test]
    fn security_without_any_user_refuses_commands_that_have_none() {
        let l = run(
            &conf("  enable_script_security", "/bin/true", "/bin/true"),
            false,
        );
        let c = &l.config;
        assert!(c.vrrp_scripts.is_empty());
        assert!(c.vrrp_instances[0].track_script.is_empty());
        let n = &c.vrrp_instances[0].notify;
        assert!(
            n.master.is_none(),
            "notify_master without user must be dropped"
        );
        let backup = n.backup.as_ref().expect("notify_backup has its own user");
        assert_eq!(backup.user.as_ref().unwrap().user, "nobody");
        let vs = &c.ipvs.virtual_servers[0];
        assert!(vs.health.quorum_up.is_none());
        assert!(vs.real_servers[0].health.notify_down.is_none());
        assert_eq!(misc_count(c), 0);
        for line in [
            "Unable to set default user keepalived_script for script",
            "Unable to set default user for vrrp script chk - removing",
            "Failed to set default user for notify script /bin/true - ignoring",
            "Unable to set default user for misc script /bin/true - removing",
        ] {
            assert!(
                has(&l, Severity::Error, line),
                "no {line:?}: {:?}",
                l.diagnostics
            );
        }
        assert!(has(
            &l,
            Severity::Warning,
            "(VI_1) track script chk not found, ignoring..."
        ));
    }

    #[test]
    fn keepalived_script_user_is_the_default_when_it_exists() {
        let l = run(&conf("", "/bin/true", "/bin/true"), true);
        let c = &l.config;
        assert_eq!(
            c.vrrp_scripts["chk"].user.as_ref().unwrap().user,
            DEFAULT_SCRIPT_USER
        );
        let master = c.vrrp_instances[0].notify.master.as_ref().unwrap();
        assert_eq!(master.user.as_ref().unwrap().user, DEFAULT_SCRIPT_USER);
        let vs = &c.ipvs.virtual_servers[0];
        let up = vs.health.quorum_up.as_ref().unwrap();
        assert_eq!(up.user.as_ref().unwrap().user, DEFAULT_SCRIPT_USER);
        let CheckerKind::Misc(m) = &vs.real_servers[0].health.checkers[0].kind else {
            panic!("misc check expected");
        };
        assert_eq!(m.user.as_ref().unwrap().user, DEFAULT_SCRIPT_USER);
        assert_eq!(
            c.global.script_user.as_ref().unwrap().user,
            DEFAULT_SCRIPT_USER
        );
    }

    #[test]
    fn without_security_or_default_user_commands_run_as_the_daemon() {
        let l = run(&conf("", "/bin/true", "/bin/true"), false);
        let c = &l.config;
        assert!(c.vrrp_scripts["chk"].user.is_none());
        assert!(
            c.vrrp_instances[0]
                .notify
                .master
                .as_ref()
                .unwrap()
                .user
                .is_none()
        );
        assert_eq!(misc_count(c), 1);
        assert!(has(
            &l,
            Severity::Warning,
            "Script user 'keepalived_script' does not exist"
        ));
        assert!(has(&l, Severity::Warning, CHECK_SECURITY_VIOLATION));
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
    }

    #[test]
    fn script_user_is_the_default_and_an_unknown_one_refuses() {
        let l = run(
            &conf(
                "  enable_script_security\n  script_user nobody",
                "/bin/true",
                "/bin/true",
            ),
            false,
        );
        assert_eq!(
            l.config.vrrp_scripts["chk"].user.as_ref().unwrap().user,
            "nobody"
        );
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);

        let l = run(
            &conf("  script_user nosuchuser", "/bin/true", "/bin/true"),
            true,
        );
        assert!(has(
            &l,
            Severity::Error,
            "Error setting global script uid/gid"
        ));
        assert!(
            l.config.vrrp_scripts.is_empty(),
            "no fallback to another user"
        );
        assert_eq!(misc_count(&l.config), 0);
    }

    #[test]
    fn missing_files_disable_the_checks_and_the_real_server_stays() {
        let l = run(
            &conf(
                "  script_user nobody",
                "/nonexistent/chk.sh",
                "/nonexistent/misc.sh",
            ),
            false,
        );
        let c = &l.config;
        assert!(c.vrrp_scripts.is_empty());
        assert!(c.vrrp_instances[0].track_script.is_empty());
        assert_eq!(
            misc_count(c),
            0,
            "the misc check goes, the real server stays"
        );
        // The real server is in the IPVS service with its weight, and no checker watches it.
        let vs = &c.ipvs.virtual_servers[0];
        let health = crate::ipvs::health::VsHealth::new(vs, &crate::check::build::rs_start(vs));
        let dests = crate::ipvs::desired::dests(vs, &health, 80, |_| 0);
        assert_eq!(
            dests.values().map(|d| d.weight).collect::<Vec<_>>(),
            vec![1]
        );
        let (_, checked, _) = crate::check::build::runner_for(c);
        assert!(
            checked.is_empty(),
            "nothing checks the real server: {checked:?}"
        );
        assert!(has(
            &l,
            Severity::Error,
            "Disabling track script chk since not found/accessible"
        ));
        assert!(has(
            &l,
            Severity::Error,
            "Disabling misc script /nonexistent/misc.sh since not found/accessible"
        ));
        assert!(has(
            &l,
            Severity::Warning,
            "Script /nonexistent/chk.sh cannot be accessed - No such file or directory"
        ));
    }

    #[test]
    fn a_missing_notify_command_is_dropped_and_the_others_stay() {
        let text = conf("  script_user nobody", "/bin/true", "/bin/true")
            .replace(
                "notify_master \"/bin/true master\"",
                "notify_master \"/nonexistent/n.sh master\"",
            )
            .replace("quorum_up \"/bin/true up\"", "quorum_up /nonexistent/q.sh");
        let l = run(&text, false);
        let n = &l.config.vrrp_instances[0].notify;
        assert!(n.master.is_none(), "{n:?}");
        assert!(n.backup.is_some(), "{n:?}");
        let h = &l.config.ipvs.virtual_servers[0].health;
        assert!(h.quorum_up.is_none());
        assert!(
            l.config.ipvs.virtual_servers[0].real_servers[0]
                .health
                .notify_down
                .is_some()
        );
        for program in ["/nonexistent/n.sh", "/nonexistent/q.sh"] {
            assert!(has(
                &l,
                Severity::Warning,
                &format!("Script {program} cannot be accessed - No such file or directory")
            ));
            assert!(has(
                &l,
                Severity::Error,
                &format!(
                    "Disabling notify script {program} since not found/accessible \
                     (a reload takes it once it exists)"
                )
            ));
        }
    }

    #[test]
    fn a_script_that_is_not_executable_or_a_directory_is_disabled() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = |name: &str, mode: u32| {
            let p = dir.path().join(name);
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p.display().to_string()
        };
        let (rw, owner_x, all_x) = (script("rw", 0o644), script("ox", 0o744), script("x", 0o755));
        let owned_by_us = nix::unistd::Uid::effective().as_raw() != 65534;
        for (path, user, runs) in [
            (&rw, "nobody", false),
            (&rw, "root", false),
            (&all_x, "nobody", true),
            // The owner's bit only: not for nobody (the file is ours), for root it is.
            (&owner_x, "nobody", !owned_by_us),
            (&owner_x, "root", true),
        ] {
            let l = run(
                &conf(&format!("  script_user {user}"), path, "/bin/true")
                    .replace("/bin/true master", &format!("{path} master")),
                false,
            );
            let uid = if user == "root" { 0 } else { 65534 };
            let line =
                format!("script '{path}' is not executable for uid:gid {uid}:{uid} - disabling.");
            assert_eq!(
                l.config.vrrp_scripts.len(),
                usize::from(runs),
                "{path} as {user}"
            );
            assert_eq!(
                l.config.vrrp_instances[0].notify.master.is_some(),
                runs,
                "{path} as {user}"
            );
            assert_eq!(has(&l, Severity::Error, &line), !runs, "{line}");
        }
        let d = dir.path().display().to_string();
        let l = run(&conf("  script_user nobody", &d, "/bin/true"), false);
        assert!(l.config.vrrp_scripts.is_empty());
        assert!(has(
            &l,
            Severity::Error,
            &format!("script '{d}' is a directory - disabling.")
        ));
    }

    #[test]
    fn unsafe_script_running_as_root_is_disabled_under_security() {
        use std::os::unix::fs::PermissionsExt;
        if !running_as_root() {
            return; // the check is about scripts run as root by a root daemon
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let script = dir.path().join("chk.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = script.display().to_string();
        let l = run(
            &conf(
                "  enable_script_security\n  script_user root",
                &path,
                "/bin/true",
            ),
            false,
        );
        assert!(l.config.vrrp_scripts.is_empty());
        assert!(has(
            &l,
            Severity::Error,
            "Disabling track script chk due to insecure"
        ));
        // The same script run as nobody is allowed (only root's scripts are checked).
        let l = run(
            &conf(
                "  enable_script_security\n  script_user nobody",
                &path,
                "/bin/true",
            ),
            false,
        );
        assert_eq!(l.config.vrrp_scripts.len(), 1);
    }
}
