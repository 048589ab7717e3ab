//! keepalived's configuration language: lexer, keyword-table parser, typed model, diagnostics.
//!
//! Entry point: [`load`] reads a file (following `include`s), returns the typed [`model::Config`]
//! and every [`diag::Diagnostic`] (`file:line:col: warning|error: message`). [`load_str`] does the
//! same for text already in memory.
//!
//! * [`lexer`] — keepalived's token rules: comments, quotes, braces anywhere, `include`,
//!   `@ID`/`@^ID`, `$NAME` definitions, `~SEQ`/`~LST`.
//! * [`parser`] — the keyword tables for `global_defs`, `vrrp_instance`, `vrrp_script`, value
//!   checks with keepalived 2.2.7's ranges and messages, and `-t` exit codes.
//! * [`keywords`] — every keyword keepalived 2.2.7 knows per block, and "did you mean".
//! * [`values`] — number, timer, address and scope parsers.
//! * [`model`] — the typed config with keepalived's defaults.
//! * [`diag`] — spans and diagnostics.

pub mod diag;
pub mod keywords;
pub mod lexer;
pub mod model;
pub mod parser;
pub mod routes;
pub mod strict;
pub mod values;

pub use diag::{Diagnostic, Diagnostics, Severity, Span};
pub use model::Config;
pub use parser::{ConfigError, LoadOptions, Loaded, load, load_str};
