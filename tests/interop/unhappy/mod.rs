//! Unhappy paths, side by side with keepalived 2.2.7 (issue 10): foreign or misconfigured peers,
//! bad authentication, script policy, missing scripts and interfaces, `-t`, dump files, unknown
//! flags, IPVS load-time corrections, the kernel state a config leaves.
//!
//! One module per family of scenarios. Each test is a row: it runs keepalived and rkeepalived on
//! the same config in the same namespace layout (see `support::Lan`), records what each did in an
//! [`common::Outcome`] and asserts the comparison the row claims: equal, or rkeepalived's
//! documented safer choice (README, "How it differs"). Every row prints one line
//! `ROW scenario | keepalived: ... | rkeepalived: ...` so `cargo test --test interop -- --include-ignored --nocapture unhappy` gives the
//! table of the closing note.

mod chaos;
mod cli;
pub(crate) mod common;
mod kernel_state;
mod logs;
mod mail;
mod metrics;
mod process_death;
mod receive;
mod scripts;
mod startup;
mod systemd;
