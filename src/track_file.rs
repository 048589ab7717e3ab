//! `track_file NAME { file PATH; weight N [reverse]; init_file [VALUE] [overwrite] }`:
//! the number in a file adjusts the priority of the instances tracking it (see
//! [`crate::vrrp::track::file_contribution`]), and the state of the real servers whose
//! `FILE_CHECK` names it (see [`crate::check::file`]).
//!
//! keepalived watches the file's directory with inotify; rkeepalived reads the file every
//! [`POLL_INTERVAL`] and reports changes (a documented difference: a change is seen up to one
//! interval late, and a value written and reverted within one interval is missed). A missing
//! or unreadable file reads as 0, as does text that is not a number.

use crate::config::model::TrackFile;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// How often tracked files are read.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// `init_file [VALUE] [overwrite]`: writes VALUE (as keepalived: the decimal number, no
/// newline) when the file does not exist, or always with `overwrite`.
pub fn init_file(tf: &TrackFile) -> std::io::Result<()> {
    let Some((value, overwrite)) = tf.init_file else {
        return Ok(());
    };
    if overwrite || !tf.file.exists() {
        std::fs::write(&tf.file, value.to_string())?;
    }
    Ok(())
}

/// The number in a tracked file, read as keepalived does (`strtol(buf, NULL, 0)` on the
/// contents, [`crate::config::values::strtol0`]): leading white space, an optional sign, then a
/// decimal, `0x` hex or `0` octal number; anything else, nothing, or a number that does not
/// fit reads as 0.
pub fn parse_file_value(text: &str) -> i64 {
    crate::config::values::strtol0(text).map_or(0, |(v, _)| v)
}

/// The value in `path` now (0 when missing, unreadable or not a number).
pub fn read_value(path: &Path) -> i64 {
    std::fs::read(path)
        .map(|b| parse_file_value(&String::from_utf8_lossy(&b)))
        .unwrap_or(0)
}

/// Starts one task that reads each of `files` (`(key, path, value already known)`) every
/// [`POLL_INTERVAL`] and sends `event(key, value)` to `tx` whenever a file's value differs
/// from the last one seen (with no known value, the first read counts as a change). The task
/// ends when `tx` closes. Used by `track_file` for VRRP and by `FILE_CHECK`.
pub fn spawn_watcher<K, E>(
    files: Vec<(K, PathBuf, Option<i64>)>,
    tx: mpsc::Sender<E>,
    event: impl Fn(K, i64) -> E + Send + 'static,
) -> tokio::task::JoinHandle<()>
where
    K: Clone + Send + 'static,
    E: Send + 'static,
{
    tokio::spawn(async move {
        let mut files = files;
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if tx.is_closed() {
                return;
            }
            for (key, path, last) in &mut files {
                let v = read_value(path);
                if *last != Some(v) {
                    *last = Some(v);
                    if tx.send(event(key.clone(), v)).await.is_err() {
                        return;
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::Span;

    #[test]
    fn file_values_read_as_strtol() {
        assert_eq!(parse_file_value(" 42\n"), 42);
        assert_eq!(parse_file_value("-7x"), -7);
        assert_eq!(parse_file_value("abc"), 0);
        assert_eq!(parse_file_value(""), 0);
        assert_eq!(parse_file_value("0x10\n"), 16);
        assert_eq!(parse_file_value("-010"), -8);
    }

    #[test]
    fn init_file_writes_unless_present() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut tf = TrackFile {
            name: "f".into(),
            file: path.clone(),
            weight: 1,
            weight_reverse: false,
            init_file: Some((3, false)),
            span: Span::default(),
        };
        assert_eq!(read_value(&path), 0);
        init_file(&tf).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "3");
        tf.init_file = Some((5, false));
        init_file(&tf).unwrap();
        assert_eq!(read_value(&path), 3);
        tf.init_file = Some((5, true));
        init_file(&tf).unwrap();
        assert_eq!(read_value(&path), 5);
    }
}
