//! Running external commands (mostly `ip`) on the host or inside a namespace.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{io_ctx, LabError, Result};

/// Renders a command line for messages.
fn render<S: AsRef<OsStr>>(argv: &[S]) -> String {
    argv.iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `argv` on the host and returns its stdout; a non-zero exit becomes [`LabError::Command`].
pub fn run<S: AsRef<OsStr>>(argv: &[S]) -> Result<String> {
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| LabError::Other("empty command line".into()))?;
    let out = Command::new(prog)
        .args(args)
        .output()
        .map_err(io_ctx(format!("starting `{}`", render(argv))))?;
    if !out.status.success() {
        return Err(LabError::Command {
            cmd: render(argv),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `argv` inside network namespace `ns` (`ip netns exec NS ...`).
pub fn run_in<S: AsRef<OsStr>>(ns: &str, argv: &[S]) -> Result<String> {
    let mut full: Vec<&OsStr> = vec![OsStr::new("ip"), OsStr::new("netns"), OsStr::new("exec")];
    full.push(OsStr::new(ns));
    full.extend(argv.iter().map(|a| a.as_ref()));
    run(&full)
}

/// Runs `ip -n NS ARGS...` (faster than `ip netns exec`).
pub fn ip<S: AsRef<OsStr>>(ns: &str, args: &[S]) -> Result<String> {
    let mut full: Vec<&OsStr> = vec![OsStr::new("ip"), OsStr::new("-n"), OsStr::new(ns)];
    full.extend(args.iter().map(|a| a.as_ref()));
    run(&full)
}

/// Finds `tool` (an absolute path, or a name looked up in `PATH` and the sbin directories).
///
/// A missing tool is an error naming `hint`, so a test needing it fails with a clear message.
pub fn require_tool(tool: &str, hint: &str) -> Result<PathBuf> {
    let missing = || LabError::MissingTool {
        tool: tool.to_string(),
        hint: hint.to_string(),
    };
    let p = Path::new(tool);
    if p.is_absolute() {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(missing())
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(extra)
        .map(|d| d.join(tool))
        .find(|c| c.is_file())
        .ok_or_else(missing)
}

/// Output of a command whose failure is an expected outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Whether it exited 0.
    pub success: bool,
    /// Exit code, if it exited normally.
    pub code: Option<i32>,
    /// stdout.
    pub stdout: String,
    /// stderr.
    pub stderr: String,
}

/// Runs `argv` (inside `ns` when given) and returns its outcome, whatever the exit status.
pub fn outcome<S: AsRef<OsStr>>(ns: Option<&str>, argv: &[S]) -> Result<Outcome> {
    let mut full: Vec<&OsStr> = Vec::new();
    if let Some(ns) = ns {
        full.extend(["ip", "netns", "exec", ns].map(OsStr::new));
    }
    full.extend(argv.iter().map(|a| a.as_ref()));
    let (prog, args) = full
        .split_first()
        .ok_or_else(|| LabError::Other("empty command line".into()))?;
    let out = Command::new(prog)
        .args(args)
        .output()
        .map_err(io_ctx(format!("starting `{}`", render(&full))))?;
    Ok(Outcome {
        success: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}
