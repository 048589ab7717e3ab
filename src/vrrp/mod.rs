//! VRRP: typed units, the per-instance state machine, trackers and the engine task.

pub mod engine;
pub mod fsm;
pub mod track;
mod types;

pub use types::{Centiseconds, Priority, Version, Vrid};
