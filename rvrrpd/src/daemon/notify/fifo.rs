//! The `notify_fifo`: one line per transition, written without ever blocking.
//!
//! As keepalived, the FIFO is created if missing and opened read-write and non-blocking: the
//! open never waits for a reader, writes never fail for want of one, and lines wait in the
//! pipe (64 KiB) until a reader comes. When the pipe is full the line is dropped and a warning
//! logged (at most one per [`DROP_LOG_INTERVAL`]): a stuck reader never stalls the daemon.

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::config::NotifyScript;

/// Shortest time between two "line dropped" warnings.
pub const DROP_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Why the FIFO could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum FifoError {
    /// The path exists and is something else.
    #[error("{}: exists and is not a FIFO", .0.display())]
    NotAFifo(PathBuf),
    /// An OS call failed.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        /// The FIFO.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// An open notify FIFO and, if configured, its reader process.
pub struct Fifo {
    path: PathBuf,
    file: File,
    dropped: u64,
    last_drop_log: Option<Instant>,
    reader: Option<tokio::process::Child>,
}

impl Fifo {
    /// Creates the FIFO at `path` if missing (mode 0600, owned by `user` when given), opens
    /// it, and starts `reader` with the path as its last argument.
    pub fn open(
        path: &Path,
        user: Option<(u32, u32)>,
        reader: Option<&NotifyScript>,
    ) -> Result<Self, FifoError> {
        let io = |what| {
            move |source| FifoError::Io {
                path: path.to_path_buf(),
                what,
                source,
            }
        };
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.file_type().is_fifo() => {
                return Err(FifoError::NotAFifo(path.to_path_buf()))
            }
            Ok(_) => {}
            Err(_) => {
                let c = CString::new(path.as_os_str().as_bytes())
                    .map_err(|_| io("creating")(std::io::ErrorKind::InvalidInput.into()))?;
                // SAFETY: `c` is a valid C string.
                if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
                    return Err(io("creating")(std::io::Error::last_os_error()));
                }
                if let Some((uid, gid)) = user {
                    std::os::unix::fs::chown(path, Some(uid), Some(gid))
                        .map_err(io("giving it to script_user"))?;
                }
                info!("notify_fifo {} created", path.display());
            }
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(io("opening"))?;
        let mut fifo = Fifo {
            path: path.to_path_buf(),
            file,
            dropped: 0,
            last_drop_log: None,
            reader: None,
        };
        if let Some(script) = reader {
            let mut argv = script.argv().to_vec();
            argv.push(path.display().to_string());
            match super::runner::command(&argv, user)
                .kill_on_drop(true)
                .spawn()
            {
                Ok(child) => fifo.reader = Some(child),
                Err(e) => warn!(
                    "notify_fifo_script {:?}: cannot start: {e}",
                    script.as_str()
                ),
            }
        }
        Ok(fifo)
    }

    /// Writes one line (a single write of less than PIPE_BUF bytes: atomic), or drops it.
    pub fn write_line(&mut self, line: &str) {
        match self.file.write(line.as_bytes()) {
            Ok(n) if n == line.len() => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => {
                warn!("notify_fifo {}: {e}", self.path.display());
                return;
            }
        }
        self.dropped += 1;
        let now = Instant::now();
        if self
            .last_drop_log
            .is_none_or(|t| now.duration_since(t) >= DROP_LOG_INTERVAL)
        {
            warn!(
                "notify_fifo {}: full (no reader keeping up), {} line(s) dropped so far",
                self.path.display(),
                self.dropped
            );
            self.last_drop_log = Some(now);
        }
    }

    /// Lines dropped because the FIFO was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Stops the reader: SIGTERM, then SIGKILL after a second.
    pub async fn stop_reader(&mut self) {
        let Some(mut child) = self.reader.take() else {
            return;
        };
        if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: plain syscall on the reader's own process group.
            unsafe { libc::kill(-pid, libc::SIGTERM) };
        }
        if tokio::time::timeout(Duration::from_secs(1), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[tokio::test]
    async fn lines_wait_for_a_reader_and_a_full_fifo_drops() {
        let dir = std::env::temp_dir().join(format!("rvrrpd-fifo-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("notify.fifo");
        let mut fifo = Fifo::open(&path, None, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_fifo()));
        fifo.write_line("INSTANCE \"a\" MASTER 100\n");
        let mut reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut buf = [0u8; 256];
        let n = reader.read(&mut buf).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&buf[..n], b"INSTANCE \"a\" MASTER 100\n");
        // Nobody reads: the pipe fills, further lines are dropped without blocking.
        let started = Instant::now();
        for _ in 0..10_000 {
            fifo.write_line("INSTANCE \"a\" BACKUP 100\n");
        }
        assert!(fifo.dropped() > 0);
        assert!(started.elapsed() < Duration::from_secs(2));
        // Opening an existing FIFO works; a regular file is refused.
        drop(fifo);
        assert!(Fifo::open(&path, None, None).is_ok());
        let file = dir.join("plain");
        std::fs::write(&file, b"x").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            Fifo::open(&file, None, None),
            Err(FifoError::NotAFifo(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn the_reader_script_gets_the_path_and_is_stopped() {
        let dir = std::env::temp_dir().join(format!("rvrrpd-fifo-reader-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("notify.fifo");
        let out = dir.join("out");
        let reader = NotifyScript::try_from(format!(
            "/bin/sh -c 'exec cat \"$1\" > {}' reader",
            out.display()
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let mut fifo = Fifo::open(&path, None, Some(&reader)).unwrap_or_else(|e| panic!("{e}"));
        fifo.write_line("INSTANCE \"gw\" MASTER 100\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&out).unwrap_or_default() != "INSTANCE \"gw\" MASTER 100\n" {
            assert!(Instant::now() < deadline, "the reader did not get the line");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let started = Instant::now();
        fifo.stop_reader().await;
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(fifo.reader.is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
