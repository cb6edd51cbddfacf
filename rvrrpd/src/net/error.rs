//! Error type of the network drivers. Every error names the operation and the object
//! (interface, address, route) it failed on, e.g. `adding 10.0.0.1/32 to eth0: File exists`.

use std::io;

/// Result alias of the `net` module.
pub type NetResult<T> = Result<T, NetError>;

/// An error of a network driver.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A system call or a kernel (netlink) request failed.
    #[error("{context}: {source}")]
    Os {
        /// What was being done, e.g. `adding 10.0.0.1/32 to eth0`.
        context: String,
        /// The OS error (errno).
        #[source]
        source: io::Error,
    },
    /// A netlink request failed for a reason other than an errno (protocol error).
    #[error("{context}: {message}")]
    Netlink {
        /// What was being done.
        context: String,
        /// The rtnetlink error text.
        message: String,
    },
    /// The named interface does not exist.
    #[error("interface {0} not found")]
    NoSuchInterface(String),
    /// Invalid input (bad prefix length, bad interface name, too many VRIDs, ...).
    #[error("{0}")]
    Invalid(String),
}

impl NetError {
    /// Builds an [`NetError::Os`] from a context and an I/O error.
    pub fn os(context: impl Into<String>, source: io::Error) -> Self {
        NetError::Os {
            context: context.into(),
            source,
        }
    }

    /// Builds an [`NetError::Os`] from a context and `errno`.
    pub fn last_os(context: impl Into<String>) -> Self {
        Self::os(context, io::Error::last_os_error())
    }

    /// The errno of an OS/netlink error, if any.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetError::Os { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// Adds a context to `io::Result`s.
pub(crate) trait IoContext<T> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> NetResult<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> NetResult<T> {
        self.map_err(|e| NetError::os(f(), e))
    }
}
