//! Errors of the API server.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the API server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The listening socket could not be opened.
    #[error("client API: cannot listen on {addr}: {source}")]
    Bind {
        /// `[api] host`.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A TLS file could not be read or holds no usable item.
    #[error("client API: {what} {}: {reason}", path.display())]
    TlsFile {
        /// `tls_key` or `tls_cert`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key and certificate do not make a TLS configuration (e.g. they do not match).
    #[error("client API: TLS key {} and certificate {}: {reason}", key.display(), cert.display())]
    Tls {
        /// `tls_key`.
        key: PathBuf,
        /// `tls_cert`.
        cert: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An invalid `metrics_allow` entry.
    #[error("client API: metrics_allow: {0}")]
    MetricsAllow(String),
}
