//! Diagnostics: `file:line:col: warning|error: message`, as compilers print them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A position in a config file (1-based line and column).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    pub file: Arc<PathBuf>,
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// How bad a diagnostic is. keepalived's `-t` exits 4 when any error was reported but the
/// config would still run, 3 when it cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    Warning,
    Error,
}

/// One message about the config, with where it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Span,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{}: {}: {}", self.span, level, self.message)
    }
}

/// The diagnostics of one load, in the order they were found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds a warning at `span`.
    pub fn warn(&mut self, span: &Span, message: impl Into<String>) {
        self.push(Severity::Warning, span, message);
    }
    /// Adds an error at `span`.
    pub fn error(&mut self, span: &Span, message: impl Into<String>) {
        self.push(Severity::Error, span, message);
    }
    fn push(&mut self, severity: Severity, span: &Span, message: impl Into<String>) {
        self.0.push(Diagnostic {
            severity,
            span: span.clone(),
            message: message.into(),
        });
    }
    /// `true` if any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }
}
