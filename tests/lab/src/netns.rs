//! Running code inside a named network namespace from this process: `setns(2)` changes the
//! namespace of the calling thread only, so [`run_in`] does it on a fresh thread. Sockets
//! created there stay in that namespace, also when used from other threads afterwards.

use std::fs::File;
use std::os::fd::AsRawFd;

use crate::error::{io_ctx, LabError, Result};

/// Moves the calling thread into namespace `ns` (`/var/run/netns/NS`); irreversible for it.
pub fn enter(ns: &str) -> Result<()> {
    if ns.is_empty() || ns.contains('/') {
        return Err(LabError::Other(format!("invalid namespace name {ns:?}")));
    }
    let path = format!("/var/run/netns/{ns}");
    let f = File::open(&path).map_err(io_ctx(format!("opening {path}")))?;
    // SAFETY: setns(2) on a namespace file descriptor we own; no memory is shared.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(io_ctx(format!("entering network namespace {ns}"))(
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Runs `f` on a new thread inside namespace `ns` and returns its result (a panic in `f` is
/// propagated).
pub fn run_in<T, F>(ns: &str, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let name = ns.to_string();
    let h = std::thread::Builder::new()
        .name(format!(
            "netns-{}",
            name.chars().take(8).collect::<String>()
        ))
        .spawn(move || -> Result<T> {
            enter(&name)?;
            Ok(f())
        })
        .map_err(io_ctx("spawning a namespace thread"))?;
    match h.join() {
        Ok(r) => r,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// Spawns a thread that enters `ns` and then runs `f` (for long-lived clients).
pub fn spawn_in<T, F>(ns: &str, f: F) -> Result<std::thread::JoinHandle<Result<T>>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let name = ns.to_string();
    std::thread::Builder::new()
        .name(format!(
            "netns-{}",
            name.chars().take(8).collect::<String>()
        ))
        .spawn(move || -> Result<T> {
            enter(&name)?;
            Ok(f())
        })
        .map_err(io_ctx("spawning a namespace thread"))
}
