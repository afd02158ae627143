//! The loader's error: what went wrong, and where (file, line, column, key path).

use std::fmt;
use std::path::PathBuf;

use super::node::{Node, Span};
use super::path::Path;

/// An error in a compose file, located as precisely as the loader can.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    pub span: Option<Span>,
    /// The key path, such as `services.web.ports[1]`; empty when none applies.
    pub path: String,
    pub kind: Box<ErrorKind>,
}

impl Error {
    pub fn new(kind: ErrorKind) -> Self {
        Error { span: None, path: String::new(), kind: Box::new(kind) }
    }

    /// An error about `node`, found at `path`.
    pub fn at(node: &Node, path: &Path<'_>, kind: ErrorKind) -> Self {
        Error { span: Some(node.span.clone()), path: path.to_string(), kind: Box::new(kind) }
    }

    pub fn at_span(span: &Span, path: impl fmt::Display, kind: ErrorKind) -> Self {
        Error { span: Some(span.clone()), path: path.to_string(), kind: Box::new(kind) }
    }

    /// A shorthand for the most common kind: an invalid value, explained.
    pub fn invalid(node: &Node, path: &Path<'_>, message: impl Into<String>) -> Self {
        Error::at(node, path, ErrorKind::Invalid(message.into()))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(span) = &self.span {
            write!(f, "{span}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.kind)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("YAML syntax error: {0}")]
    Syntax(String),
    #[error("{0}")]
    Limit(String),
    #[error("key {0:?} is defined twice in the same mapping")]
    DuplicateKey(String),
    #[error("unknown key {key:?}{}", suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default())]
    UnknownKey { key: String, suggestion: Option<String> },
    #[error("expected {expected}, found {found}")]
    InvalidType { expected: String, found: String },
    #[error("missing required key {0:?}")]
    MissingKey(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Interpolation(String),
    #[error("{0}")]
    Reference(String),
    #[error("dependency cycle: {0}")]
    Cycle(String),
    #[error("{0}")]
    Files(String),
}
