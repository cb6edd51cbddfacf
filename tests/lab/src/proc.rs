//! Child processes running inside a network namespace, with captured output and bounded
//! termination on drop.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::error::{io_ctx, LabError, Result};

/// Signals the harness sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: orderly shutdown.
    Term,
    /// SIGKILL: crash.
    Kill,
    /// SIGINT.
    Int,
    /// SIGHUP.
    Hup,
    /// SIGXCPU (what the kernel sends past the soft RLIMIT_RTTIME).
    Xcpu,
}

impl Signal {
    fn raw(self) -> libc::c_int {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
            Signal::Int => libc::SIGINT,
            Signal::Hup => libc::SIGHUP,
            Signal::Xcpu => libc::SIGXCPU,
        }
    }
}

/// How long [`Proc`]'s drop waits after SIGTERM before SIGKILL.
pub const DROP_GRACE: Duration = Duration::from_secs(3);

/// A process started by the lab in its own process group, stdout/stderr written to files.
///
/// Dropping it sends SIGTERM to the group, waits up to [`DROP_GRACE`], then SIGKILLs it.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Spawns `argv` inside namespace `ns` (`None`: on the host); logs go to
    /// `dir/<name>.stdout` and `dir/<name>.stderr`.
    pub fn spawn(ns: Option<&str>, name: &str, dir: &Path, argv: &[String]) -> Result<Proc> {
        let stdout = dir.join(format!("{name}.stdout"));
        let stderr = dir.join(format!("{name}.stderr"));
        let out =
            File::create(&stdout).map_err(io_ctx(format!("creating {}", stdout.display())))?;
        let err =
            File::create(&stderr).map_err(io_ctx(format!("creating {}", stderr.display())))?;
        let mut full: Vec<String> = Vec::new();
        if let Some(ns) = ns {
            full.extend(["ip", "netns", "exec", ns].map(String::from));
        }
        full.extend(argv.iter().cloned());
        let (prog, args) = full
            .split_first()
            .ok_or_else(|| LabError::Other("empty command line".into()))?;
        let child = Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(io_ctx(format!("spawning {name}: {}", full.join(" "))))?;
        Ok(Proc {
            name: name.to_string(),
            child,
            stdout,
            stderr,
            status: None,
        })
    }

    /// The process name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its pid (also its process-group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `sig` to the process only.
    pub fn signal(&mut self, sig: Signal) -> Result<()> {
        self.kill_raw(self.pid() as libc::pid_t, sig)
    }

    /// Sends `sig` to the whole process group (the process and the children it forked).
    pub fn signal_group(&mut self, sig: Signal) -> Result<()> {
        self.kill_raw(-(self.pid() as libc::pid_t), sig)
    }

    fn kill_raw(&mut self, target: libc::pid_t, sig: Signal) -> Result<()> {
        if self.try_status()?.is_some() && target > 0 {
            return Ok(());
        }
        // SAFETY: kill(2) has no memory-safety preconditions; the target is our own child/group.
        let rc = unsafe { libc::kill(target, sig.raw()) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(io_ctx(format!("sending {sig:?} to {}", self.name))(e));
            }
        }
        Ok(())
    }

    /// The exit status if the process has exited (non-blocking).
    pub fn try_status(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self
                .child
                .try_wait()
                .map_err(io_ctx(format!("polling {}", self.name)))?;
        }
        Ok(self.status)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_status(), Ok(None))
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(s) = self.try_status()? {
                return Ok(s);
            }
            if start.elapsed() >= timeout {
                return Err(LabError::Timeout {
                    what: format!("{} to exit", self.name),
                    after: timeout,
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM to the group, wait up to `grace`, then SIGKILL; returns the exit status.
    pub fn stop(&mut self, grace: Duration) -> Result<ExitStatus> {
        if let Some(s) = self.try_status()? {
            // Children of a group leader may survive it: finish them off.
            let _ = self.signal_group(Signal::Kill);
            return Ok(s);
        }
        self.signal_group(Signal::Term)?;
        match self.wait_exit(grace) {
            Ok(s) => {
                let _ = self.signal_group(Signal::Kill);
                Ok(s)
            }
            Err(_) => {
                self.signal_group(Signal::Kill)?;
                self.wait_exit(Duration::from_secs(5))
            }
        }
    }

    /// Path of the stdout log.
    pub fn stdout_path(&self) -> &Path {
        &self.stdout
    }

    /// Everything written to stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// stdout followed by stderr (for assertion messages).
    pub fn output(&self) -> String {
        format!(
            "--- {} stdout ---\n{}--- {} stderr ---\n{}",
            self.name,
            self.stdout(),
            self.name,
            self.stderr()
        )
    }

    /// The last `n` lines of stdout+stderr.
    pub fn tail(&self, n: usize) -> String {
        let all = self.output();
        let lines: Vec<&str> = all.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.stop(DROP_GRACE);
    }
}
