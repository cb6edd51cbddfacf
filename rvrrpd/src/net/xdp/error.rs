//! Why the fast path failed or is unavailable.

use std::path::PathBuf;

use aya::maps::MapError;
use aya::programs::ProgramError;
use aya::EbpfError;
use rvrrpd_common::{MAX_WORKERS, SOCKET_FILTER_PROGRAM, XDP_PROGRAM};

use super::OBJECT_ENV;

/// Why the fast path failed or is unavailable. Each variant names the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    /// No eBPF object at any of the searched paths.
    #[error("eBPF object not found (searched: {searched}); build it with `cargo xtask build-ebpf --release` or set {OBJECT_ENV}")]
    ObjectMissing {
        /// The paths tried, comma-separated.
        searched: String,
    },
    /// The process lacks CAP_BPF/CAP_SYS_ADMIN or CAP_NET_ADMIN.
    #[error("insufficient privileges for eBPF: {0} (run as root)")]
    NotPrivileged(String),
    /// Parsing the object or creating its maps failed.
    #[error("loading eBPF object {path}: {source}")]
    Load {
        /// The object file.
        path: PathBuf,
        /// aya's error.
        #[source]
        source: Box<EbpfError>,
    },
    /// A program or map is missing from the object, or has another type.
    #[error("eBPF object {path}: {what}")]
    BadObject {
        /// The object file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// The verifier (or BPF_PROG_LOAD) rejected a program; the message includes its log.
    #[error("verifying program {program}: {source}")]
    Verify {
        /// Program name.
        program: &'static str,
        /// aya's error, with the verifier log.
        #[source]
        source: Box<ProgramError>,
    },
    /// The interface does not exist.
    #[error("attaching {XDP_PROGRAM}: no interface named {0}")]
    UnknownInterface(String),
    /// Neither driver nor generic (skb) mode attach worked.
    #[error("attaching {XDP_PROGRAM} on {ifname} (ifindex {ifindex}) refused: {detail}")]
    Attach {
        /// Interface name.
        ifname: String,
        /// Interface index.
        ifindex: u32,
        /// The error of each mode tried.
        detail: String,
    },
    /// Detaching failed.
    #[error("detaching {XDP_PROGRAM} from {ifname}: {source}")]
    Detach {
        /// Interface name.
        ifname: String,
        /// aya's error.
        #[source]
        source: Box<ProgramError>,
    },
    /// Attaching the socket filter failed.
    #[error("attaching socket filter {SOCKET_FILTER_PROGRAM}: {0}")]
    SocketFilter(#[source] Box<ProgramError>),
    /// A map operation failed.
    #[error("map {map}: {op}: {source}")]
    Map {
        /// Map name.
        map: &'static str,
        /// Operation (`insert`, `remove`, `read`).
        op: &'static str,
        /// aya's error.
        #[source]
        source: Box<MapError>,
    },
    /// Worker index out of range for this fast path.
    #[error(
        "worker {worker} out of range: this fast path has {workers} workers (max {MAX_WORKERS})"
    )]
    BadWorker {
        /// The worker asked for.
        worker: u32,
        /// Configured workers.
        workers: u32,
    },
    /// The worker's ring was moved out with [`FastPath::take_ring`].
    #[error("ring buffer of worker {0} was taken by take_ring()")]
    RingTaken(u32),
    /// `BPF_PROG_TEST_RUN` failed.
    #[error("BPF_PROG_TEST_RUN of {0}: {1}")]
    TestRun(&'static str, #[source] Box<ProgramError>),
}

/// Result alias.
pub type XdpResult<T> = Result<T, XdpError>;

/// The [`XdpError::Map`] of operation `op` on map `map`.
pub(super) fn map_err(map: &'static str, op: &'static str) -> impl FnOnce(MapError) -> XdpError {
    move |source| XdpError::Map {
        map,
        op,
        source: Box::new(source),
    }
}

/// A map removal whose key was already gone is done (aya reports it as `KeyNotFound` or as
/// the syscall's `ENOENT`, depending on the map type).
pub(super) fn absent_ok(r: Result<(), MapError>) -> Result<(), MapError> {
    match r {
        Ok(()) | Err(MapError::KeyNotFound) => Ok(()),
        Err(MapError::SyscallError(e)) if e.io_error.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        Err(e) => Err(e),
    }
}
