//! Running external commands: notify scripts and `vrrp_script` checks.
//!
//! Commands are exec'd directly from their argv, as keepalived does (no shell); a file without a
//! `#!` line (ENOEXEC) is run with `/bin/sh`, as execvp(3) would. Each command runs in its own
//! process group so a timeout can stop it and its children: SIGTERM to the group, then SIGKILL
//! after [`KILL_GRACE`].

pub mod policy;

use crate::config::model::ScriptUser;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Gid, Group, Pid, Uid, User};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// Time between SIGTERM and SIGKILL for a command that outlived its timeout.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// The uid/gid a command runs as (`script_user`, or a script's `user USER [GROUP]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunAs {
    pub uid: Uid,
    pub gid: Gid,
}

/// Errors resolving who a script runs as.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("unknown user '{0}'")]
    UnknownUser(String),
    #[error("unknown group '{0}'")]
    UnknownGroup(String),
}

/// Resolves `USER [GROUP]` to ids (group defaults to the user's primary group).
pub fn resolve_user(u: &ScriptUser) -> Result<RunAs, ScriptError> {
    let user = User::from_name(&u.user)
        .ok()
        .flatten()
        .ok_or_else(|| ScriptError::UnknownUser(u.user.clone()))?;
    let gid = match &u.group {
        Some(g) => {
            Group::from_name(g)
                .ok()
                .flatten()
                .ok_or_else(|| ScriptError::UnknownGroup(g.clone()))?
                .gid
        }
        None => user.gid,
    };
    Ok(RunAs { uid: user.uid, gid })
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exited with this status.
    Exited(i32),
    /// Killed by this signal (not by us).
    Signalled(i32),
    /// Outlived its timeout and was killed.
    TimedOut,
    /// Could not be started.
    SpawnFailed(String),
}

impl Outcome {
    /// `true` for exit status 0, the only success keepalived knows.
    pub fn success(&self) -> bool {
        *self == Outcome::Exited(0)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Exited(c) => write!(f, "exited with status {c}"),
            Outcome::Signalled(s) => write!(f, "due to signal {s}"),
            Outcome::TimedOut => write!(f, "timed out"),
            Outcome::SpawnFailed(e) => write!(f, "could not be started: {e}"),
        }
    }
}

fn command(program: &str, args: &[String], run_as: Option<RunAs>) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(false);
    if let Some(r) = run_as {
        cmd.uid(r.uid.as_raw()).gid(r.gid.as_raw());
    }
    cmd
}

fn spawn(argv: &[String], run_as: Option<RunAs>) -> std::io::Result<tokio::process::Child> {
    let Some((program, args)) = argv.split_first() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "empty command",
        ));
    };
    match command(program, args, run_as).spawn() {
        Err(e) if e.raw_os_error() == Some(libc::ENOEXEC) => {
            command("/bin/sh", argv, run_as).spawn()
        }
        r => r,
    }
}

/// Runs `argv` to completion, or until `timeout` (then SIGTERM, and SIGKILL after
/// [`KILL_GRACE`], to its whole process group).
pub async fn run(argv: &[String], run_as: Option<RunAs>, timeout: Option<Duration>) -> Outcome {
    let mut child = match spawn(argv, run_as) {
        Ok(c) => c,
        Err(e) => return Outcome::SpawnFailed(e.to_string()),
    };
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));
    let status = match timeout {
        None => child.wait().await,
        Some(t) => match tokio::time::timeout(t, child.wait()).await {
            Ok(s) => s,
            Err(_) => {
                if let Some(pg) = pgid {
                    let _ = killpg(pg, Signal::SIGTERM);
                    if tokio::time::timeout(KILL_GRACE, child.wait())
                        .await
                        .is_err()
                    {
                        let _ = killpg(pg, Signal::SIGKILL);
                        let _ = child.wait().await;
                    }
                }
                return Outcome::TimedOut;
            }
        },
    };
    match status {
        Ok(s) => {
            use std::os::unix::process::ExitStatusExt;
            match (s.code(), s.signal()) {
                (Some(c), _) => Outcome::Exited(c),
                (None, Some(sig)) => Outcome::Signalled(sig),
                (None, None) => Outcome::SpawnFailed("no exit status".into()),
            }
        }
        Err(e) => Outcome::SpawnFailed(e.to_string()),
    }
}

/// Process groups of the notify scripts started by [`spawn_detached`] that have not exited
/// yet (for [`stop_detached`]).
static RUNNING: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

fn running() -> std::sync::MutexGuard<'static, Vec<u32>> {
    RUNNING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts `argv` in the background (notify scripts): keepalived does not wait for them.
/// The process is started before this returns (so a notify_stop script runs even when the
/// daemon exits right after); a task reaps it. A failure to start is logged.
pub fn spawn_detached(argv: Vec<String>, run_as: Option<RunAs>) {
    match spawn(&argv, run_as) {
        Ok(mut child) => {
            let pid = child.id();
            if let Some(pid) = pid {
                running().push(pid);
            }
            tokio::spawn(async move {
                let _ = child.wait().await;
                if let Some(pid) = pid {
                    running().retain(|p| *p != pid);
                }
            });
        }
        Err(e) => tracing::warn!("Failed to exec notify script {}: {e}", argv.join(" ")),
    }
}

/// Who runs a command whose user the script policy decided ([`policy::apply`]): `None` for
/// the daemon's own user, else the user, resolved now. A user that no longer resolves is an
/// error: the caller must not run the command (never a fall-back to root).
pub fn run_as_for(user: Option<&ScriptUser>) -> Result<Option<RunAs>, ScriptError> {
    user.map(resolve_user).transpose()
}

/// Starts a configured notify command in the background ([`spawn_detached`]) as the user the
/// script policy gave it (see [`run_as_for`]; an unresolvable user is logged and the command
/// is not run).
pub fn spawn_command(cmd: &crate::config::model::Command) {
    spawn_as(cmd, cmd.argv.clone());
}

/// [`spawn_command`] with `argv` in place of the command's own words (keepalived appends
/// arguments to `notify` commands).
pub fn spawn_as(cmd: &crate::config::model::Command, argv: Vec<String>) {
    match run_as_for(cmd.user.as_ref()) {
        Ok(run_as) => spawn_detached(argv, run_as),
        Err(e) => tracing::warn!("Not running {}: {e}", argv.join(" ")),
    }
}

/// At shutdown: gives the notify scripts still running (e.g. notify_stop) up to `grace` to
/// finish, then stops them with SIGTERM to their process groups, and SIGKILL after another
/// [`KILL_GRACE`]. keepalived 2.2.7 does the same (measured: a notify script still running at
/// shutdown is killed, and the daemon exits about 1 s after SIGTERM).
pub async fn stop_detached(grace: Duration) {
    let deadline = tokio::time::Instant::now() + grace;
    while !running().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let left: Vec<u32> = running().clone();
    if left.is_empty() {
        return;
    }
    for pid in &left {
        let _ = killpg(Pid::from_raw(*pid as i32), Signal::SIGTERM);
    }
    let deadline = tokio::time::Instant::now() + KILL_GRACE;
    while !running().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for pid in running().iter() {
        let _ = killpg(Pid::from_raw(*pid as i32), Signal::SIGKILL);
    }
}

/// As [`spawn_detached`], returning the PID of the started process (it leads its own
/// process group, so `killpg(pid)` reaches it and its children).
pub fn spawn_detached_pid(argv: Vec<String>, run_as: Option<RunAs>) -> Option<u32> {
    match spawn(&argv, run_as) {
        Ok(mut child) => {
            let pid = child.id();
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
            pid
        }
        Err(e) => {
            tracing::warn!("Failed to exec script {}: {e}", argv.join(" "));
            None
        }
    }
}

/// `true` when this process runs as root (scripts then default to root unless `script_user`).
pub fn running_as_root() -> bool {
    Uid::effective().is_root()
}

/// keepalived's `enable_script_security` check (core/notify.c `check_script_secure`) for a
/// script that runs as root: the script's real path and every directory above it must be
/// owned by root and not writable by anyone else (group write counts when the group is not
/// root; a directory with the sticky bit, like /tmp, may be world-writable).
///
/// Returns the first unsafe component (from `/` down), or `None` when the script is safe or
/// cannot be found (the policy drops a command whose file is missing before it asks this:
/// [`policy`]).
pub fn unsafe_component(program: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let path = if program.contains('/') {
        std::path::PathBuf::from(program)
    } else {
        let search =
            std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
        search
            .split(':')
            .map(|d| std::path::Path::new(d).join(program))
            .find(|p| p.is_file())?
    };
    let real = std::fs::canonicalize(&path).ok()?;
    let mut at = std::path::PathBuf::new();
    for part in real.components() {
        at.push(part);
        let m = std::fs::metadata(&at).ok()?;
        let mode = m.mode();
        let sticky_dir = m.is_dir() && mode & libc::S_ISVTX != 0;
        let writable_by_others =
            (m.gid() != 0 && mode & libc::S_IWGRP != 0) || mode & libc::S_IWOTH != 0;
        if m.uid() != 0 || (!sticky_dir && writable_by_others) {
            return Some(at);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[tokio::test]
    async fn exit_codes_are_reported() {
        assert_eq!(
            run(&argv(&["/bin/true"]), None, None).await,
            Outcome::Exited(0)
        );
        assert_eq!(
            run(&argv(&["/bin/sh", "-c", "exit 3"]), None, None).await,
            Outcome::Exited(3)
        );
        assert!(matches!(
            run(&argv(&["/nonexistent/x"]), None, None).await,
            Outcome::SpawnFailed(_)
        ));
    }

    #[tokio::test]
    async fn timeout_kills_the_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("child-alive");
        // The child's own child would touch the marker after 3 s if it survived.
        let script = format!("(sleep 3; touch {}) & sleep 30", marker.display());
        let t0 = std::time::Instant::now();
        let o = run(
            &argv(&["/bin/sh", "-c", &script]),
            None,
            Some(Duration::from_millis(200)),
        )
        .await;
        assert_eq!(o, Outcome::TimedOut);
        assert!(t0.elapsed() < Duration::from_secs(3));
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert!(!marker.exists(), "grandchild survived the timeout");
    }

    #[tokio::test]
    async fn script_without_shebang_runs_with_sh() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("noshebang");
        std::fs::write(&p, "exit 7\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            run(&[p.display().to_string()], None, None).await,
            Outcome::Exited(7)
        );
    }

    #[test]
    fn resolve_root_user() {
        let r = resolve_user(&ScriptUser {
            user: "root".into(),
            group: None,
        })
        .unwrap();
        assert!(r.uid.is_root());
        assert!(
            resolve_user(&ScriptUser {
                user: "no-such-user-xyz".into(),
                group: None
            })
            .is_err()
        );
    }

    #[test]
    fn unsafe_component_finds_the_writable_directory() {
        use std::os::unix::fs::PermissionsExt;
        if !running_as_root() {
            return; // ownership rules are about root; nothing meaningful to check otherwise
        }
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let script = open.join("s.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            unsafe_component(script.to_str().unwrap()),
            Some(std::fs::canonicalize(&open).unwrap())
        );
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(unsafe_component(script.to_str().unwrap()), None);
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(
            unsafe_component(script.to_str().unwrap()),
            Some(std::fs::canonicalize(&script).unwrap())
        );
        assert_eq!(unsafe_component("sh"), None);
    }

    #[tokio::test]
    async fn stop_detached_kills_what_outlives_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("end");
        let t0 = std::time::Instant::now();
        spawn_detached(
            argv(&[
                "/bin/sh",
                "-c",
                &format!("sleep 3; touch {}", marker.display()),
            ]),
            None,
        );
        spawn_detached(argv(&["/bin/true"]), None);
        stop_detached(Duration::from_millis(300)).await;
        assert!(t0.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert!(!marker.exists(), "a notify script outlived the shutdown");
    }
}
