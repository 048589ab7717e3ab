//! Tests that need nothing but the build: CLI, config corpus and diagnostics, FSM conformance,
//! fuzz replay, man pages, the module graph, and the test harness's own self-test.

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod config_diagnostics;
mod config_fixtures;
mod config_samples;
mod config_trackers;
mod conformance;
mod fuzz_replay;
mod harness_selftest;
mod man_pages;
mod module_graph;
