//! Entering named network namespaces (`ip netns add NAME` → `/var/run/netns/NAME`).
//!
//! The daemon never needs this; integration tests and the lab do. `setns(2)` with
//! `CLONE_NEWNET` changes the namespace of the **calling thread only**, so always do it
//! on a dedicated thread, before creating sockets or netlink handles (a socket stays in
//! the namespace it was created in). [`run_in`] does exactly that.

use std::fs::File;
use std::path::PathBuf;

use super::error::IoContext;
use super::{sys, NetError, NetResult};

/// Path of a named namespace.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from("/var/run/netns").join(name)
}

/// Moves the calling thread into the named network namespace. Irreversible for this
/// thread unless you keep a handle of the old one (see [`current`]).
pub fn enter(name: &str) -> NetResult<()> {
    if name.is_empty() || name.contains('/') {
        return Err(NetError::Invalid(format!(
            "invalid namespace name {name:?}"
        )));
    }
    let f = File::open(path(name)).ctx(|| format!("opening network namespace {name}"))?;
    sys::setns_net(&f).ctx(|| format!("entering network namespace {name}"))
}

/// A handle of the calling thread's current network namespace (to return to it with
/// [`enter_file`]).
pub fn current() -> NetResult<File> {
    File::open("/proc/thread-self/ns/net").ctx(|| "opening the current network namespace".into())
}

/// Moves the calling thread into the namespace `f` (from [`current`]).
pub fn enter_file(f: &File) -> NetResult<()> {
    sys::setns_net(f).ctx(|| "entering network namespace".into())
}

/// Runs `f` on a new thread inside the named namespace and returns its result. A panic
/// in `f` is propagated.
pub fn run_in<T, F>(name: &str, f: F) -> NetResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let name = name.to_string();
    let h = std::thread::Builder::new()
        .name(format!("netns-{name}"))
        .spawn(move || -> NetResult<T> {
            enter(&name)?;
            Ok(f())
        })
        .map_err(|e| NetError::os("spawning a namespace thread", e))?;
    match h.join() {
        Ok(r) => r,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// Like [`run_in`], with a tokio current-thread runtime for async code (netlink).
pub fn block_on_in<T, Fut, F>(name: &str, f: F) -> NetResult<T>
where
    T: Send + 'static,
    Fut: std::future::Future<Output = T>,
    F: FnOnce() -> Fut + Send + 'static,
{
    run_in(name, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| NetError::os("building a tokio runtime", e))?;
        Ok(rt.block_on(f()))
    })?
}
