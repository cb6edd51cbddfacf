//! Project automation: `cargo xtask <command>`.
//!
//! * `test`  — installs what a fresh machine lacks, then runs format, lint and the whole test suite
//!   (unit, integration in network namespaces, interop with keepalived and FRR). `.ci/run` calls it.
//! * `lab`   — builds rvrrpd and runs the failover demo in network namespaces.
//! * `setup` — only the installation step.

mod ebpf;
mod lab;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "rvrrpd project automation")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install the packages and toolchain components the tests and the lab need.
    Setup,
    /// Format check, clippy, and every test (needs root for the network-namespace tests).
    Test {
        /// Extra arguments passed to `cargo test` after `--` (e.g. a test name filter).
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Build rvrrpd and run the failover demo: three routers and a client in network namespaces.
    Lab {
        /// VRRP version of the demo groups (2 or 3).
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=3))]
        version: u8,
        /// Advertisement interval in seconds (v3: down to 0.01).
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
    },
    /// Build the eBPF object (XDP demux + socket filter); prints its path on stdout.
    BuildEbpf {
        /// Optimised build (the path the daemon looks at by default).
        #[arg(long)]
        release: bool,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = project_root();
    match cli.cmd {
        Cmd::Setup => setup(&root),
        Cmd::Test { args } => test(&root, &args),
        Cmd::Lab { version, interval } => lab(&root, version, interval),
        Cmd::BuildEbpf { release } => {
            println!("{}", ebpf::build(&root, release)?.display());
            Ok(())
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a command, echoing it, and fails with its exit status.
fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn setup(root: &Path) -> Result<()> {
    run(Command::new("bash").arg(root.join("scripts/setup.sh")))
}

fn require_root(what: &str) -> Result<()> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        bail!("{what} needs root (network namespaces, raw sockets): run it with sudo");
    }
    Ok(())
}

fn test(root: &Path, extra: &[String]) -> Result<()> {
    require_root("cargo xtask test")?;
    setup(root)?;
    run(cargo().current_dir(root).args(["fmt", "--all", "--check"]))?;
    run(cargo().current_dir(root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The daemon loads this object at start-up: with it built, the integration tests run on
    // the XDP fast path (the default); the fallback run below covers classic BPF.
    let object = ebpf::build(root, true)?;
    eprintln!("xtask: eBPF object {}", object.display());
    let mut t = cargo();
    t.current_dir(root)
        .args(["test", "--workspace", "--all-targets", "--no-fail-fast"]);
    if !extra.is_empty() {
        t.arg("--").args(extra);
    }
    run(&mut t)?;
    if extra.is_empty() {
        // The same elections and failovers on the classic-BPF raw-socket path.
        run(cargo().current_dir(root).env("RVRRPD_NO_EBPF", "1").args([
            "test",
            "--test",
            "election",
            "--test",
            "robustness",
        ]))?;
    }
    Ok(())
}

fn lab(root: &Path, version: u8, interval: f64) -> Result<()> {
    require_root("cargo xtask lab")?;
    setup(root)?;
    run(cargo()
        .current_dir(root)
        .args(["build", "--release", "--bin", "rvrrpd"]))?;
    let mut args = lab::Args::new(root.join("target/release/rvrrpd"));
    args.version = version;
    args.interval = interval;
    lab::run(args)
}
