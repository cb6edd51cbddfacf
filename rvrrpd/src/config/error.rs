//! Errors and warnings produced while loading a configuration.

use std::fmt;
use std::path::PathBuf;

use super::Format;

/// A configuration that could not be read, parsed or validated.
///
/// The `Display` form names the file, the line when known and the directive, e.g.
/// `/etc/rvrrpd/rvrrpd.conf: line 12: vrouter[0].priority = 255 is out of range (1–254; 0 and 255 are reserved)`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read configuration file: {source}", path.display())]
    Read {
        /// The path that was opened.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not well-formed TOML or JSON.
    #[error("{origin}: {}{format} syntax error: {message}", position(*line, *column))]
    Syntax {
        /// File name (or other origin) of the text.
        origin: String,
        /// The format the text was parsed as.
        format: Format,
        /// 1-based line of the error, when known.
        line: Option<usize>,
        /// 1-based column of the error, when known.
        column: Option<usize>,
        /// The parser's description of the problem.
        message: String,
    },
    /// The text is well-formed but a directive is missing, unknown or has an invalid value.
    #[error("{origin}: {}{}", position(*line, None), directive_message(directive.as_deref(), message))]
    Invalid {
        /// File name (or other origin) of the text.
        origin: String,
        /// 1-based line of the offending directive, when known.
        line: Option<usize>,
        /// Path of the offending directive, e.g. `vrouter[2].priority`, when known.
        directive: Option<String>,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// The 1-based line the error refers to, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Read { .. } => None,
            Self::Syntax { line, .. } | Self::Invalid { line, .. } => *line,
        }
    }

    /// The directive path the error refers to (e.g. `vrouter[0].vip`), when known.
    pub fn directive(&self) -> Option<&str> {
        match self {
            Self::Invalid { directive, .. } => directive.as_deref(),
            _ => None,
        }
    }
}

/// A non-fatal remark about a configuration (e.g. a setting that was overridden).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConfigWarning {
    /// Path of the directive concerned, e.g. `vrouter[0].netdrv`.
    pub directive: String,
    /// 1-based line of the directive, when known.
    pub line: Option<usize>,
    /// What was noticed and what the daemon does about it.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            position(self.line, None),
            directive_message(Some(&self.directive), &self.message)
        )
    }
}

/// `line 3: `, `line 3, column 7: ` or nothing.
fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!("line {line}, column {column}: "),
        (Some(line), None) => format!("line {line}: "),
        _ => String::new(),
    }
}

/// How this module's own messages start: they read as a predicate of the directive
/// (`a.b = 3 is out of range`, `a.b is required but missing`) and are joined with a space.
/// Anything else (serde's `invalid type: ...`) is joined with `": "`.
const PREDICATE_STARTS: [&str; 8] = [
    "= ", "is ", "must ", "mixes ", "lists ", "defines ", "repeats ", "gives ",
];

/// Joins a directive and a message (see [`PREDICATE_STARTS`]).
fn directive_message(directive: Option<&str>, message: &str) -> String {
    match directive {
        None => message.strip_prefix("= ").unwrap_or(message).to_string(),
        Some(directive) if PREDICATE_STARTS.iter().any(|p| message.starts_with(p)) => {
            format!("{directive} {message}")
        }
        Some(directive) => format!("{directive}: {message}"),
    }
}
