//! keepalived's configuration language: lexer, keyword-table parser, typed model, diagnostics.
//!
//! Entry point: [`load`] reads a file (following `include`s), returns the typed [`model::Config`]
//! and every [`diag::Diagnostic`] (`file:line:col: warning|error: message`).

pub mod diag;
pub mod lexer;
pub mod model;
pub mod parser;

pub use diag::{Diagnostic, Diagnostics, Severity, Span};
pub use model::Config;
pub use parser::{LoadOptions, load, load_str};
