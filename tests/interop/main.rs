//! rkeepalived beside keepalived 2.2.7: mixed pairs on the wire, and the unhappy paths (one row
//! per scenario, both daemons on the same config). Every test is `#[ignore]`d with its reason;
//! `scripts/test-all` runs them with `--include-ignored`.

#[path = "../support/mod.rs"]
mod support;

mod keepalived;
mod reload;
mod reload_live;
mod reload_mixed;
mod unhappy;
