//! VRRP: typed units, the per-instance state machine, trackers and the engine task.

pub mod engine;
pub mod fsm;
pub mod sync_group;
pub mod track;
pub mod track_file;
pub mod track_process;
mod types;

pub use types::{Centiseconds, Priority, Version, Vrid};
