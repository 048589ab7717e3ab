//! `track_file NAME { file PATH; weight N [reverse]; init_file [VALUE] [overwrite] }`:
//! the number in a file adjusts the priority of the instances tracking it (see
//! [`crate::vrrp::track::file_contribution`]), and the state of the real servers whose
//! `FILE_CHECK` names it (see [`crate::check::file`]).
//!
//! keepalived watches the file's directory with inotify; rkeepalived reads the file every
//! [`POLL_INTERVAL`] and reports changes (a documented difference: a change is seen up to one
//! interval late, and a value written and reverted within one interval is missed). A missing
//! or unreadable file reads as 0, as does text that is not a number; a number out of
//! keepalived's range is ignored with its line (`Invalid number N read from PATH - ignoring`)
//! and the last value stays.

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
/// decimal, `0x` hex or `0` octal number; anything else, or nothing, reads as 0. A number that
/// does not fit keepalived's range (track_file.c: `INT32_MIN` to `INT32_MAX + 1`, or out of a
/// `long`) is `Err` with the number keepalived prints (`LONG_MAX`/`LONG_MIN` when it
/// overflows): the file is then ignored, its last value stays.
pub fn parse_file_value(text: &str) -> Result<i64, i64> {
    match crate::config::values::strtol0(text) {
        Some((v, _)) if (i64::from(i32::MIN)..=i64::from(i32::MAX) + 1).contains(&v) => Ok(v),
        Some((v, _)) => Err(v),
        None if text.trim_start().starts_with('-') => Err(i64::MIN),
        None => Err(i64::MAX),
    }
}

/// How much of a tracked file is read (keepalived reads into a 128-byte buffer).
const READ_MAX: usize = 127;

/// The value in `path` now: `Ok(0)` when it is missing, unreadable or empty; `Err` as
/// [`parse_file_value`].
pub fn read_checked(path: &Path) -> Result<i64, i64> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(READ_MAX);
    match std::fs::File::open(path).and_then(|f| f.take(READ_MAX as u64).read_to_end(&mut buf)) {
        Ok(n) if n > 0 => parse_file_value(&String::from_utf8_lossy(&buf)),
        _ => Ok(0),
    }
}

/// The value in `path` at start-up (0 when missing, unreadable, not a number, or out of
/// range: keepalived's value before any read).
pub fn read_value(path: &Path) -> i64 {
    read_checked(path).unwrap_or(0)
}

/// keepalived's line for a file holding a number out of range (logged once each time the
/// file starts holding it, where keepalived logs it at each change of the file).
pub fn invalid_line(path: &Path, value: i64) -> String {
    format!(
        "Invalid number {value} read from {} - ignoring",
        path.display()
    )
}

/// Starts one task that reads each of `files` (`(key, path, value already known)`) every
/// [`POLL_INTERVAL`] and sends `event(key, value)` to `tx` whenever a file's value differs
/// from the last one seen (with no known value, the first read counts as a change). A file
/// holding a number out of range keeps its last value and is reported once to `invalid`
/// (path, number) until it holds something else. The task ends when `tx` closes. Used by
/// `track_file` for VRRP and by `FILE_CHECK`, each logging `invalid` under its own ident.
pub fn spawn_watcher<K, E>(
    files: Vec<(K, PathBuf, Option<i64>)>,
    tx: mpsc::Sender<E>,
    event: impl Fn(K, i64) -> E + Send + 'static,
    invalid: impl Fn(&Path, i64) + Send + 'static,
) -> tokio::task::JoinHandle<()>
where
    K: Clone + Send + 'static,
    E: Send + 'static,
{
    tokio::spawn(async move {
        let mut files: Vec<_> = files.into_iter().map(|(k, p, v)| (k, p, v, None)).collect();
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if tx.is_closed() {
                return;
            }
            for (key, path, last, told) in &mut files {
                let v = match read_checked(path) {
                    Ok(v) => {
                        *told = None;
                        v
                    }
                    Err(bad) => {
                        if *told != Some(bad) {
                            *told = Some(bad);
                            invalid(path, bad);
                        }
                        continue;
                    }
                };
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
        assert_eq!(parse_file_value(" 42\n"), Ok(42));
        assert_eq!(parse_file_value("-7x"), Ok(-7));
        assert_eq!(parse_file_value("abc"), Ok(0));
        assert_eq!(parse_file_value(""), Ok(0));
        assert_eq!(parse_file_value("0x10\n"), Ok(16));
        assert_eq!(parse_file_value("-010"), Ok(-8));
    }

    /// keepalived 2.2.7's range, measured: 2147483648 is taken, 4294967297, -2147483649 and
    /// overflowing numbers are ignored with the number its log line prints.
    #[test]
    fn numbers_out_of_keepalived_s_range_are_invalid() {
        assert_eq!(parse_file_value("2147483648"), Ok(2_147_483_648));
        assert_eq!(parse_file_value("-2147483648"), Ok(-2_147_483_648));
        assert_eq!(parse_file_value("2147483649"), Err(2_147_483_649));
        assert_eq!(parse_file_value("4294967297"), Err(4_294_967_297));
        assert_eq!(parse_file_value("-2147483649"), Err(-2_147_483_649));
        assert_eq!(parse_file_value("99999999999999999999"), Err(i64::MAX));
        assert_eq!(parse_file_value(" -99999999999999999999"), Err(i64::MIN));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        assert_eq!(read_checked(&path), Ok(0), "missing");
        std::fs::write(&path, "").unwrap();
        assert_eq!(read_checked(&path), Ok(0), "empty");
        // Only the first 127 bytes count: a number after them is not seen.
        std::fs::write(&path, format!("{}5", " ".repeat(127))).unwrap();
        assert_eq!(read_checked(&path), Ok(0));
        std::fs::write(&path, "4294967297").unwrap();
        assert_eq!(read_checked(&path), Err(4_294_967_297));
        assert_eq!(read_value(&path), 0);
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
