//! `FILE_CHECK` (keepalived 2.2.7 check_file.c and track_file.c): a real server follows the
//! integer in the file of a top-level `track_file NAME { file PATH; weight N [reverse] }`.
//!
//! keepalived's rules, per FILE_CHECK (its own `weight N [reverse]`, else the `track_file`
//! block's):
//! * weight 0: a non-zero value means the checker is down (with `reverse`: a zero value);
//! * weight W ≠ 0: the checker is up and the value × W (negated with `reverse`), clamped to
//!   the 32-bit range, is added to the real server's configured weight; a product at or below
//!   `i32::MIN` (keepalived's `IPVS_WEIGHT_FAULT`) means down. The real server's IPVS weight
//!   is the sum clamped to `0..=i32::MAX` (keepalived `real_weight`).
//!
//! The file is read as [`crate::track_file`] reads it (missing, unreadable or not a
//! number: 0), every [`crate::track_file::POLL_INTERVAL`]; keepalived uses inotify, so a
//! change is seen here up to one interval later. `init_file` is honoured at start.

use super::event::{HealthTable, RealServerHealth, RsEvent, RsId};
use super::status::CheckRecord;
use super::{Event, Transition};
use crate::track_file;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

/// One `FILE_CHECK`, resolved against its `track_file` block.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileCheck {
    /// The `track_file` block's name.
    pub name: String,
    /// Its `file PATH`.
    pub path: PathBuf,
    /// The weight in effect (the FILE_CHECK's, else the block's).
    pub weight: i32,
    /// `reverse`.
    pub reverse: bool,
    /// The block's `init_file [VALUE] [overwrite]`.
    pub init_file: Option<(i64, bool)>,
}

/// What a value in the file means for one FILE_CHECK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// The checker is down (keepalived: "tracked file NAME now FAULT state").
    Fault,
    /// The checker is up and adds this much to the real server's weight.
    Weight(i64),
}

impl FileStatus {
    /// Whether the checker is up.
    pub fn is_up(self) -> bool {
        self != FileStatus::Fault
    }

    /// The weight this checker adds (0 when down).
    pub fn delta(self) -> i64 {
        match self {
            FileStatus::Fault => 0,
            FileStatus::Weight(w) => w,
        }
    }
}

impl FileCheck {
    /// The status for `value` (keepalived `update_track_file_status` for a checker).
    pub fn status(&self, value: i64) -> FileStatus {
        if self.weight == 0 {
            return if (value != 0) != self.reverse {
                FileStatus::Fault
            } else {
                FileStatus::Weight(0)
            };
        }
        let sign = if self.reverse { -1 } else { 1 };
        let product = (value as i128) * (self.weight as i128) * sign;
        if product <= i32::MIN as i128 {
            FileStatus::Fault
        } else {
            FileStatus::Weight(product.min(i32::MAX as i128) as i64)
        }
    }

    /// Applies `init_file` (logged on failure) and reads the value now.
    pub fn init_and_read(&self) -> i64 {
        let tf = crate::config::model::TrackFile {
            name: self.name.clone(),
            file: self.path.clone(),
            weight: self.weight,
            weight_reverse: self.reverse,
            init_file: self.init_file,
            span: Default::default(),
        };
        if let Err(e) = track_file::init_file(&tf) {
            tracing::warn!(
                "track_file {}: cannot initialise {}: {e}",
                self.name,
                self.path.display()
            );
        }
        self.read()
    }

    /// The value in the file now.
    pub fn read(&self) -> i64 {
        track_file::read_value(&self.path)
    }

    /// The reason given when the checker goes down.
    pub fn fault_reason(&self, value: i64) -> String {
        format!(
            "tracked file {} now FAULT state (value {value} in {})",
            self.name,
            self.path.display()
        )
    }
}

/// The result a dump shows for `status`.
fn result(check: &FileCheck, status: FileStatus, value: i64) -> Result<(), String> {
    if status.is_up() {
        Ok(())
    } else {
        Err(check.fault_reason(value))
    }
}

/// A real server's IPVS weight from its configured weight and the FILE_CHECK deltas
/// (keepalived `real_weight`: clamped to `0..=i32::MAX`).
pub fn effective_weight(base: u32, deltas: impl IntoIterator<Item = i64>) -> u32 {
    let sum: i128 = base as i128 + deltas.into_iter().map(|d| d as i128).sum::<i128>();
    sum.clamp(0, i32::MAX as i128) as u32
}

/// The FILE_CHECKs of a [`super::runner::Runner`]: one watcher per `track_file`, fanned out
/// to every real server whose FILE_CHECK names it.
#[derive(Debug, Default)]
pub struct FileWatch {
    files: Vec<Watched>,
    index: HashMap<String, usize>,
    rs: HashMap<RsId, Vec<Sub>>,
    base: HashMap<RsId, u32>,
    /// Offset set by a `misc_dynamic` weight ([`FileWatch::set_weight_now`]), so that the
    /// weight is that value and later file changes move it by their difference.
    adjust: HashMap<RsId, i64>,
}

/// One watched `track_file`.
#[derive(Debug)]
struct Watched {
    check: FileCheck,
    value: i64,
    /// (real server, index in its `Sub` list).
    subs: Vec<(RsId, usize)>,
}

/// One FILE_CHECK of a real server.
#[derive(Debug)]
struct Sub {
    file: usize,
    /// Its slot in the real server's [`RealServerHealth`].
    slot: usize,
    check: FileCheck,
    status: FileStatus,
    record: Arc<CheckRecord>,
}

impl FileWatch {
    /// Adds `check` as checker `slot` of real server `rs`; reads the file (after `init_file`)
    /// the first time it is named. Returns whether the checker starts up.
    pub fn add(
        &mut self,
        rs: RsId,
        slot: usize,
        check: FileCheck,
        record: Arc<CheckRecord>,
    ) -> bool {
        let file = match self.index.get(&check.name) {
            Some(&i) => i,
            None => {
                let value = check.init_and_read();
                self.index.insert(check.name.clone(), self.files.len());
                self.files.push(Watched {
                    check: check.clone(),
                    value,
                    subs: Vec::new(),
                });
                self.files.len() - 1
            }
        };
        let value = self.files[file].value;
        let status = check.status(value);
        // keepalived: the file was read, so the checker "has run".
        record.attempt(result(&check, status, value), status.is_up());
        let subs = self.rs.entry(rs).or_default();
        self.files[file].subs.push((rs, subs.len()));
        subs.push(Sub {
            file,
            slot,
            check,
            status,
            record,
        });
        status.is_up()
    }

    /// Sets real server `rs`'s configured weight (default 1), the base of its FILE_CHECK
    /// deltas.
    pub fn set_base_weight(&mut self, rs: RsId, weight: u32) {
        self.base.insert(rs, weight);
    }

    /// Number of watched files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file is watched.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Real server `rs`'s weight from its configured weight and its FILE_CHECKs (and the
    /// last `misc_dynamic` weight, see [`FileWatch::set_weight_now`]).
    pub fn weight(&self, rs: RsId) -> u32 {
        let base = self.base.get(&rs).copied().unwrap_or(1);
        effective_weight(base, self.deltas(rs).chain(self.adjust.get(&rs).copied()))
    }

    fn deltas(&self, rs: RsId) -> impl Iterator<Item = i64> + '_ {
        self.rs
            .get(&rs)
            .into_iter()
            .flatten()
            .map(|s| s.status.delta())
    }

    /// A `misc_dynamic` check set real server `rs`'s weight to `weight`: as in keepalived
    /// (`update_svr_wgt` sets the effective weight; a tracked file's change then adds its
    /// difference to it, check_file.c), the weight is now `weight` and later file changes
    /// move it from there. No effect on a real server without FILE_CHECK.
    pub fn set_weight_now(&mut self, rs: RsId, weight: u32) {
        if !self.rs.contains_key(&rs) {
            return;
        }
        let base = i64::from(self.base.get(&rs).copied().unwrap_or(1));
        let sum: i64 = self.deltas(rs).sum();
        self.adjust.insert(rs, i64::from(weight) - base - sum);
    }

    fn fault_reason(&self, rs: RsId) -> Option<String> {
        self.rs.get(&rs)?.iter().find_map(|s| {
            (!s.status.is_up()).then(|| s.check.fault_reason(self.files[s.file].value))
        })
    }

    /// The state read at start of every real server with a FILE_CHECK (in real server
    /// order), so that the owner has what the runner read even if the file changed since the
    /// owner's own reading (an event that changes nothing is a no-op for the controller).
    pub fn initial_events(&self, health: &HealthTable) -> Vec<RsEvent> {
        let mut out = Vec::new();
        for (&rs, subs) in &self.rs {
            let up = health.get(rs).is_none_or(RealServerHealth::is_up);
            let weight = self.weight(rs);
            out.push(RsEvent {
                rs,
                up,
                cause: Event {
                    id: subs.first().map_or(0, |s| s.file),
                    transition: if up { Transition::Up } else { Transition::Down },
                    reason: self.fault_reason(rs),
                    weight: Some(weight),
                },
            });
        }
        out.sort_by_key(|e| e.rs);
        out
    }

    /// File `file` now holds `value`: updates the checkers naming it and returns the real
    /// servers whose state or weight changed.
    pub fn on_value(&mut self, file: usize, value: i64, health: &mut HealthTable) -> Vec<RsEvent> {
        let Some(w) = self.files.get_mut(file) else {
            return Vec::new();
        };
        if w.value == value {
            return Vec::new();
        }
        w.value = value;
        let subs = w.subs.clone();
        let mut out = Vec::new();
        for (rs, k) in subs {
            let before_w = self.weight(rs);
            let Some(h) = health.get_mut(rs) else {
                continue;
            };
            let before_up = h.is_up();
            let Some(sub) = self.rs.get_mut(&rs).and_then(|v| v.get_mut(k)) else {
                continue;
            };
            let status = sub.check.status(value);
            sub.status = status;
            sub.record
                .attempt(result(&sub.check, status, value), status.is_up());
            h.update(sub.slot, status.is_up());
            let reason = (!status.is_up()).then(|| sub.check.fault_reason(value));
            let up = h.is_up();
            let after_w = self.weight(rs);
            if up != before_up || after_w != before_w {
                out.push(RsEvent {
                    rs,
                    up,
                    cause: Event {
                        id: file,
                        transition: if status.is_up() {
                            Transition::Up
                        } else {
                            Transition::Down
                        },
                        reason,
                        weight: Some(after_w),
                    },
                });
            }
        }
        out
    }

    /// Starts the task that reads the watched files every [`track_file::POLL_INTERVAL`] and
    /// sends `(file, value)` on changes, until `tx` closes; `None` when no file is watched.
    pub fn spawn_pollers(
        &self,
        tx: &mpsc::Sender<(usize, i64)>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if self.files.is_empty() {
            return None;
        }
        let files = self.files.iter().enumerate();
        let files = files.map(|(i, w)| (i, w.check.path.clone(), Some(w.value)));
        Some(track_file::spawn_watcher(
            files.collect(),
            tx.clone(),
            |i, v| (i, v),
            |path, v| tracing::info!("{}", track_file::invalid_line(path, v)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fc(weight: i32, reverse: bool) -> FileCheck {
        FileCheck {
            name: "f".into(),
            path: "/nonexistent".into(),
            weight,
            reverse,
            init_file: None,
        }
    }

    #[test]
    fn weight_zero_means_non_zero_is_down_and_reverse_flips_it() {
        assert_eq!(fc(0, false).status(0), FileStatus::Weight(0));
        assert_eq!(fc(0, false).status(5), FileStatus::Fault);
        assert_eq!(fc(0, false).status(-1), FileStatus::Fault);
        assert_eq!(fc(0, true).status(0), FileStatus::Fault);
        assert_eq!(fc(0, true).status(3), FileStatus::Weight(0));
    }

    #[test]
    fn a_weight_scales_the_value_and_only_the_32_bit_floor_is_a_fault() {
        assert_eq!(fc(2, false).status(3), FileStatus::Weight(6));
        assert_eq!(fc(2, true).status(3), FileStatus::Weight(-6));
        assert_eq!(fc(-1, false).status(4), FileStatus::Weight(-4));
        assert_eq!(
            fc(i32::MAX, false).status(5),
            FileStatus::Weight(i32::MAX as i64)
        );
        assert_eq!(fc(i32::MAX, true).status(2), FileStatus::Fault);
        assert_eq!(fc(1, false).status(i32::MIN as i64), FileStatus::Fault);
        assert_eq!(
            fc(1, false).status(i32::MIN as i64 + 1),
            FileStatus::Weight(i32::MIN as i64 + 1)
        );
    }

    /// keepalived's order of effects: a misc_dynamic weight replaces the effective weight,
    /// and a tracked file's later change adds its difference to it (not base + file).
    #[test]
    fn a_file_change_after_a_misc_dynamic_weight_adds_its_difference() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "1").unwrap();
        let check = FileCheck {
            path: path.clone(),
            ..fc(2, false)
        };
        let mut w = FileWatch::default();
        w.set_base_weight(0, 10);
        assert!(w.add(0, 0, check, CheckRecord::new(true, true)));
        assert_eq!(w.weight(0), 12);
        w.set_weight_now(0, 5);
        assert_eq!(w.weight(0), 5);
        let mut health = HealthTable::default();
        *health.entry(0) = RealServerHealth::new(vec![true]);
        let ev = w.on_value(0, 3, &mut health);
        // 5 + (3 - 1) x 2, as keepalived's effective_weight + new_status - previous_status.
        assert_eq!(w.weight(0), 9);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].cause.weight, Some(9));
        // A real server without FILE_CHECK is left alone.
        w.set_weight_now(7, 3);
        assert_eq!(w.weight(7), 1);
    }

    #[test]
    fn effective_weight_is_clamped_at_zero() {
        assert_eq!(effective_weight(10, [5, -3]), 12);
        assert_eq!(effective_weight(10, [-30]), 0);
        assert_eq!(effective_weight(u32::MAX, []), i32::MAX as u32);
    }
}
