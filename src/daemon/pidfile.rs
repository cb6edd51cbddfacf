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
        if let Ok(text) = fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse::<u32>() {
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
            }
        }
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
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
