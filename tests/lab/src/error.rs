//! The error type of the lab crate.

use std::time::Duration;

/// Everything that can go wrong while building or driving a lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A required external tool is not installed: tests must fail loudly, never skip.
    #[error("required tool `{tool}` is not available: {hint}")]
    MissingTool {
        /// Program name or path.
        tool: String,
        /// How to get it.
        hint: String,
    },
    /// An external command exited unsuccessfully.
    #[error("command `{cmd}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        cmd: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// An I/O error, with what we were doing.
    #[error("I/O error while {what}: {source}")]
    Io {
        /// The operation.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A bounded wait expired.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// The awaited condition.
        what: String,
        /// The bound.
        after: Duration,
    },
    /// A capture file could not be parsed.
    #[error("malformed pcap {0}")]
    Pcap(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// Result alias of the lab crate.
pub type Result<T> = std::result::Result<T, LabError>;

/// Builds a closure mapping an `io::Error` into [`LabError::Io`] with context.
pub(crate) fn io_ctx(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
    let what = what.into();
    move |source| LabError::Io { what, source }
}
