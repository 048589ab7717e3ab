//! Diagnostics: `file:line:col: warning|error: message`, as compilers print them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A position in a config file (1-based line and column). `Copy`: every word of a parsed
/// config carries one, so it holds the file as a [`FileId`] rather than a path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    pub file: FileId,
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.file.path().display(),
            self.line,
            self.col
        )
    }
}

/// A config file's path, interned for the life of the process: [`FileId::of`] gives the same
/// id for the same path, so reloading a config does not grow the table. The default id is
/// the empty path (spans of built-in or synthesized items). Serialized as the path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FileId(u32);

/// Paths of the interned files; id N > 0 is entry N - 1.
static FILES: Mutex<Vec<Arc<PathBuf>>> = Mutex::new(Vec::new());

impl FileId {
    /// The id of `path`, interning it on first use.
    pub fn of(path: &Path) -> FileId {
        let mut files = FILES.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = files.iter().position(|f| f.as_path() == path) {
            return FileId(i as u32 + 1);
        }
        files.push(Arc::new(path.to_path_buf()));
        FileId(files.len() as u32)
    }

    /// The path this id stands for (empty for the default id).
    pub fn path(self) -> Arc<PathBuf> {
        let files = FILES.lock().unwrap_or_else(|e| e.into_inner());
        match self.0.checked_sub(1).and_then(|i| files.get(i as usize)) {
            Some(p) => p.clone(),
            None => Arc::new(PathBuf::new()),
        }
    }
}

impl Serialize for FileId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.path().serialize(s)
    }
}

impl<'de> Deserialize<'de> for FileId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FileId, D::Error> {
        let path = PathBuf::deserialize(d)?;
        Ok(if path.as_os_str().is_empty() {
            FileId::default()
        } else {
            FileId::of(&path)
        })
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
            span: *span,
            message: message.into(),
        });
    }
    /// `true` if any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }
}
