//! The pid file: refuses to start a second instance, removed on exit.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A written pid file, removed when dropped.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes our pid to `path`, unless it names a live rvrrpd process.
    pub fn create(path: &Path) -> io::Result<Self> {
        Self::check(path)?;
        fs::write(path, format!("{}\n", std::process::id())).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("writing pid file {}: {e}", path.display()),
            )
        })?;
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }

    /// Fails if `path` names a live rvrrpd process other than us (a second instance on the
    /// same configuration would fight the first over the same groups and addresses).
    pub fn check(path: &Path) -> io::Result<()> {
        let Ok(text) = fs::read_to_string(path) else {
            return Ok(());
        };
        let Ok(pid) = text.trim().parse::<u32>() else {
            return Ok(());
        };
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if pid != std::process::id() && comm.trim() == "rvrrpd" {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "pid file {}: rvrrpd is already running as pid {pid}",
                    path.display()
                ),
            ));
        }
        Ok(())
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
