//! The running-state dump (like keepalived's `-J`): on SIGUSR1 the daemon writes every group's
//! state, the global information, routes, interfaces and fast-path counters as one JSON
//! document to `dump_file` (default [`crate::config::DEFAULT_DUMP_FILE`]), atomically (a
//! temporary file in the same directory, then a rename), so a reader never sees half a file.
//!
//! `rvrrpd --dump` ([`request`]) is the other side: it finds the running daemon through the
//! pid file of the configuration, sends SIGUSR1 and prints the file once it has been replaced.
//!
//! The document reuses the client API's views (`GET /run/vrrp/{group}/{interface}` objects,
//! `GET /run/global`, `/run/protocols` routes, `/run/interfaces`), read from the same
//! [`Backend`] the API serves, so the dump and the API cannot disagree.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::api::backend::{Backend, GlobalView, InterfaceView, RouteView};
use crate::api::views::{detail, VrrpDetail};
use crate::config::Config;

/// Format version of the dump (bumped on incompatible changes).
pub const DUMP_FORMAT: u32 = 1;

/// How long `rvrrpd --dump` waits for the daemon to write the file.
pub const DUMP_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the dump could not be written or fetched.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// Writing the dump file failed.
    #[error("writing the state dump {}: {what}: {source}", path.display())]
    Write {
        /// The dump file.
        path: PathBuf,
        /// The step that failed.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Serializing failed (not expected: every view is plain data).
    #[error("serializing the state dump: {0}")]
    Json(#[from] serde_json::Error),
    /// The configuration's pid file does not exist.
    #[error("no pid file at {} (pid directive): is rvrrpd running with this configuration?", path.display())]
    NoPidFile {
        /// The pid file.
        path: PathBuf,
    },
    /// The pid file could not be read or holds no pid.
    #[error("pid file {}: {reason}", path.display())]
    BadPidFile {
        /// The pid file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The pid file names a process that is not a running rvrrpd.
    #[error("pid file {} is stale: process {pid} is not a running rvrrpd", path.display())]
    Stale {
        /// The pid file.
        path: PathBuf,
        /// The pid it holds.
        pid: i32,
    },
    /// Signalling the daemon failed.
    #[error("sending SIGUSR1 to rvrrpd (pid {pid}): {source}")]
    Signal {
        /// The daemon's pid.
        pid: i32,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The daemon did not replace the dump file in time.
    #[error("rvrrpd (pid {pid}) did not write {} within {} s: check its log, and that it runs with this configuration's dump_file", path.display(), timeout.as_secs())]
    Timeout {
        /// The daemon's pid.
        pid: i32,
        /// The dump file.
        path: PathBuf,
        /// How long we waited.
        timeout: Duration,
    },
    /// Reading the written dump failed.
    #[error("reading the state dump {}: {source}", path.display())]
    Read {
        /// The dump file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Who wrote the dump, and when.
#[derive(Debug, Serialize)]
struct DumpInfo {
    format: u32,
    version: &'static str,
    pid: u32,
    /// Unix time, seconds (with fraction).
    written_at: f64,
    config_file: String,
}

/// The whole document.
#[derive(Debug, Serialize)]
struct Dump {
    rvrrpd: DumpInfo,
    global: GlobalView,
    vrrp: Vec<VrrpDetail>,
    routes: Vec<RouteView>,
    interfaces: Vec<InterfaceView>,
    fast_path_counters: serde_json::Map<String, serde_json::Value>,
}

/// The running state as pretty-printed JSON.
pub fn render(backend: &dyn Backend, config_file: &Path) -> Result<String, DumpError> {
    let written_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let dump = Dump {
        rvrrpd: DumpInfo {
            format: DUMP_FORMAT,
            version: env!("CARGO_PKG_VERSION"),
            pid: std::process::id(),
            written_at,
            config_file: config_file.display().to_string(),
        },
        global: backend.global(),
        vrrp: backend.groups().iter().map(detail).collect(),
        routes: backend.routes(),
        interfaces: backend.interfaces(),
        fast_path_counters: backend
            .metrics()
            .fastpath_drops
            .into_iter()
            .map(|(k, v)| (k, v.into()))
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&dump)?;
    text.push('\n');
    Ok(text)
}

/// Writes `text` to `path` atomically: a temporary file beside it, synced, then renamed over
/// it. The parent directory is created when missing (e.g. `/run/rvrrpd` outside systemd).
pub fn write_atomic(path: &Path, text: &str) -> Result<(), DumpError> {
    let err = |what| {
        move |source| DumpError::Write {
            path: path.to_path_buf(),
            what,
            source,
        }
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err("creating its directory"))?;
    let name = path.file_name().map_or_else(
        || "rvrrpd-dump".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(err("creating the temporary file"))?;
        f.write_all(text.as_bytes())
            .map_err(err("writing the temporary file"))?;
        f.sync_all().map_err(err("syncing the temporary file"))?;
        std::fs::rename(&tmp, path).map_err(err("renaming the temporary file"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `rvrrpd --dump`: signals the daemon running `config` (found by its pid file) and returns
/// the dump it writes, waiting at most `timeout` for the file to be replaced.
pub fn request(config: &Config, timeout: Duration) -> Result<String, DumpError> {
    let pid_path = &config.pid;
    let text = match std::fs::read_to_string(pid_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(DumpError::NoPidFile {
                path: pid_path.clone(),
            })
        }
        Err(e) => {
            return Err(DumpError::BadPidFile {
                path: pid_path.clone(),
                reason: e.to_string(),
            })
        }
    };
    let pid = text
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| DumpError::BadPidFile {
            path: pid_path.clone(),
            reason: format!("{:?} is not a process id", text.trim()),
        })?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim() != "rvrrpd" {
        return Err(DumpError::Stale {
            path: pid_path.clone(),
            pid,
        });
    }
    let path = config.dump_path();
    let before = file_identity(path);
    send_sigusr1(pid).map_err(|source| DumpError::Signal { pid, source })?;
    let deadline = Instant::now() + timeout;
    loop {
        let now = file_identity(path);
        if now.is_some() && now != before {
            return std::fs::read_to_string(path).map_err(|source| DumpError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
        if Instant::now() >= deadline {
            return Err(DumpError::Timeout {
                pid,
                path: path.to_path_buf(),
                timeout,
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Device, inode and modification time: a rename gives the path a new inode.
fn file_identity(path: &Path) -> Option<(u64, u64, i64, i64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.mtime(), m.mtime_nsec()))
}

/// `kill(pid, SIGUSR1)`.
fn send_sigusr1(pid: i32) -> std::io::Result<()> {
    // SAFETY: kill(2) takes plain integers and has no memory-safety preconditions; `pid` is
    // positive (checked by the caller), so it names one process, never a group.
    if unsafe { libc::kill(pid, libc::SIGUSR1) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rvrrpd-dump-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = scratch("atomic");
        let path = dir.join("sub/state.json");
        write_atomic(&path, "{\"a\":1}\n").unwrap();
        let first = file_identity(&path);
        write_atomic(&path, "{\"a\":2}\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":2}\n");
        assert_ne!(first, file_identity(&path), "a rename gives a new inode");
        let names: Vec<_> = std::fs::read_dir(dir.join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
        // A directory in the way: a clear error naming the file.
        let e = write_atomic(&dir.join("sub"), "x").unwrap_err().to_string();
        assert!(e.contains("sub") && e.contains("renaming"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn request_errors_name_the_pid_file() {
        let dir = scratch("request");
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = Config {
            pid: dir.join("rvrrpd.pid"),
            dump_file: Some(dir.join("state.json")),
            ..Config::default()
        };
        let e = request(&config, Duration::from_millis(10)).unwrap_err();
        assert!(matches!(e, DumpError::NoPidFile { .. }), "{e}");
        assert!(e.to_string().contains("rvrrpd.pid"), "{e}");

        std::fs::write(&config.pid, "banana\n").unwrap();
        let e = request(&config, Duration::from_millis(10)).unwrap_err();
        assert!(
            e.to_string().contains("\"banana\" is not a process id"),
            "{e}"
        );

        // Our own pid: a live process, but not an rvrrpd.
        std::fs::write(&config.pid, format!("{}\n", std::process::id())).unwrap();
        let e = request(&config, Duration::from_millis(10)).unwrap_err();
        assert!(matches!(e, DumpError::Stale { .. }), "{e}");
        assert!(e.to_string().contains("stale"), "{e}");

        config.pid = dir.clone();
        let e = request(&config, Duration::from_millis(10)).unwrap_err();
        assert!(matches!(e, DumpError::BadPidFile { .. }), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn render_uses_the_api_views() {
        let backend = crate::api::mock::MockBackend::sample();
        let text = render(&backend, Path::new("/etc/rvrrpd/rvrrpd.conf")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["rvrrpd"]["format"], DUMP_FORMAT);
        assert_eq!(v["rvrrpd"]["config_file"], "/etc/rvrrpd/rvrrpd.conf");
        let groups = v["vrrp"].as_array().unwrap();
        assert_eq!(groups.len(), backend.groups().len());
        for (g, view) in groups.iter().zip(backend.groups()) {
            assert_eq!(g["group"], view.group);
            assert_eq!(g["interface"], view.interface.as_str());
            assert_eq!(g["state"], view.state.as_str());
            assert!(g["counters"].is_object(), "{g}");
        }
        assert!(v["global"].is_object() && v["routes"].is_array());
    }
}
