//! Notify FIFOs (`notify_fifo`, `vrrp_notify_fifo` and their `_script`s in `global_defs`).
//!
//! Every VRRP state change is written as one line, keepalived's format (vrrp_notify.c):
//! `INSTANCE "VI_1" MASTER 100\n` (the instance's effective priority) and
//! `GROUP "G1" MASTER 0\n` (groups always report 0). Both FIFOs get every VRRP line.
//! A FIFO that does not exist is created (mode 0600, owned by the configured user) and removed
//! again on shutdown, as keepalived does; a path that is a symbolic link or not a FIFO is
//! refused with a log line (keepalived 2.2.7 writes into a regular file); it is opened read-write and non-blocking so that
//! writes never block, whether or not a reader is attached. A `*_fifo_script` is started
//! with the FIFO's path appended to its argv.

use crate::config::model::{NotifyFifo, Tracking};
use crate::script::{self, RunAs};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

/// The state word keepalived writes (`MASTER`, `BACKUP`, `FAULT`, `STOP`).
pub fn state_word(state: crate::vrrp::fsm::State) -> &'static str {
    use crate::vrrp::fsm::State;
    match state {
        State::Master => "MASTER",
        State::Backup => "BACKUP",
        State::Fault => "FAULT",
        State::Stop => "STOP",
        State::Init => "{UNKNOWN}",
    }
}

/// One FIFO line: `KIND "NAME" STATE PRIORITY\n` with KIND `INSTANCE` or `GROUP`.
pub fn fifo_line(group: bool, name: &str, state: &str, priority: u8) -> String {
    let kind = if group { "GROUP" } else { "INSTANCE" };
    format!("{kind} \"{name}\" {state} {priority}\n")
}

struct Fifo {
    path: PathBuf,
    file: File,
    created: bool,
}

/// The open notify FIFOs.
#[derive(Default)]
pub struct NotifyFifos {
    fifos: Vec<Fifo>,
    /// Process groups of the running `*_fifo_script`s.
    scripts: Vec<u32>,
}

impl NotifyFifos {
    /// Creates (if missing) and opens the configured FIFOs and starts their scripts.
    /// A FIFO that cannot be opened is logged and left out.
    pub fn open(t: &Tracking, default_run_as: Option<RunAs>) -> NotifyFifos {
        let mut out = NotifyFifos::default();
        for f in [&t.notify_fifo, &t.vrrp_notify_fifo].into_iter().flatten() {
            match open_one(f) {
                Ok(fifo) => {
                    if let Some(cmd) = &f.script {
                        let mut argv = cmd.argv.clone();
                        argv.push(f.path.display().to_string());
                        let run_as = cmd
                            .user
                            .as_ref()
                            .and_then(|u| script::resolve_user(u).ok())
                            .or(default_run_as);
                        out.scripts.extend(script::spawn_detached_pid(argv, run_as));
                    }
                    out.fifos.push(fifo);
                }
                Err(e) => tracing::error!("Unable to open notify FIFO {}: {e}", f.path.display()),
            }
        }
        out
    }

    /// Writes `line` to every FIFO (a full FIFO drops the line, as keepalived's
    /// non-blocking write does).
    pub fn write(&mut self, line: &str) {
        for f in &mut self.fifos {
            let _ = f.file.write_all(line.as_bytes());
        }
    }

    /// Stops the FIFO scripts (SIGTERM to their process groups). keepalived does this as
    /// soon as it starts shutting down, so the STOP lines written afterwards reach no script.
    pub fn stop_scripts(&mut self) {
        for pid in self.scripts.drain(..) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }

    /// Removes the FIFOs this process created.
    pub fn close(&mut self) {
        for f in self.fifos.drain(..) {
            if f.created {
                let _ = std::fs::remove_file(&f.path);
            }
        }
    }
}

fn open_one(f: &NotifyFifo) -> std::io::Result<Fifo> {
    use nix::sys::stat::Mode;
    let mut created = false;
    match std::fs::symlink_metadata(&f.path) {
        Ok(m) => {
            use std::os::unix::fs::FileTypeExt;
            // Not followed, as keepalived opens with O_NOFOLLOW. A regular file is not
            // written over (keepalived 2.2.7 writes its lines over the file's start).
            if m.file_type().is_symlink() {
                return Err(std::io::Error::other(
                    "is a symbolic link, which is not followed; name the FIFO itself",
                ));
            }
            if !m.file_type().is_fifo() {
                return Err(std::io::Error::other(
                    "exists and is not a FIFO; it is left alone",
                ));
            }
        }
        Err(_) => {
            nix::unistd::mkfifo(&f.path, Mode::S_IRUSR | Mode::S_IWUSR)
                .map_err(std::io::Error::from)?;
            created = true;
            if let Some(u) = &f.user
                && let Ok(r) = script::resolve_user(u)
            {
                let _ = nix::unistd::chown(&f.path, Some(r.uid), Some(r.gid));
            }
        }
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&f.path)?;
    Ok(Fifo {
        path: f.path.clone(),
        file,
        created,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::Span;
    use std::io::Read;

    #[test]
    fn line_format_is_keepalived_s() {
        assert_eq!(
            fifo_line(false, "VI_1", "MASTER", 100),
            "INSTANCE \"VI_1\" MASTER 100\n"
        );
        assert_eq!(fifo_line(true, "G1", "FAULT", 0), "GROUP \"G1\" FAULT 0\n");
    }

    #[test]
    fn fifo_is_created_written_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        let t = Tracking {
            vrrp_notify_fifo: Some(NotifyFifo {
                path: path.clone(),
                user: None,
                script: None,
                span: Span::default(),
            }),
            ..Tracking::default()
        };
        let mut f = NotifyFifos::open(&t, None);
        assert!(path.exists());
        let mut reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .unwrap();
        f.write(&fifo_line(false, "VI_1", "BACKUP", 90));
        let mut got = String::new();
        let _ = reader.read_to_string(&mut got);
        assert_eq!(got, "INSTANCE \"VI_1\" BACKUP 90\n");
        f.close();
        assert!(!path.exists());
    }

    #[test]
    fn a_regular_file_or_a_symlink_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "keep\n").unwrap();
        let target = dir.path().join("target");
        nix::unistd::mkfifo(
            &target,
            nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
        )
        .unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let fifo = |path: &std::path::Path| NotifyFifo {
            path: path.to_path_buf(),
            user: None,
            script: None,
            span: Span::default(),
        };
        let e = open_one(&fifo(&file)).err().unwrap().to_string();
        assert!(e.contains("not a FIFO"), "{e}");
        let e = open_one(&fifo(&link)).err().unwrap().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        let t = Tracking {
            notify_fifo: Some(fifo(&file)),
            vrrp_notify_fifo: Some(fifo(&link)),
            ..Tracking::default()
        };
        let mut f = NotifyFifos::open(&t, None);
        f.write(&fifo_line(false, "VI_1", "BACKUP", 90));
        f.close();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep\n");
        assert!(std::fs::symlink_metadata(&link).is_ok());
    }
}
