//! `cargo xtask fuzz [--seconds N] [--runs N] [--target NAME]... [--seed]`: the cargo-fuzz
//! targets in `fuzz/` (docs/fuzzing.md).
//!
//! * Uses the pinned nightly `scripts/setup-ebpf.sh` installs (the same one the eBPF build
//!   uses, found through `ebpf::nightly`), and installs cargo-fuzz when it is missing.
//! * Builds every target once (AddressSanitizer, debug assertions), then runs them one after
//!   another, each with a scratch corpus under `target/fuzz-corpus/<target>` as the first
//!   (written) corpus and the checked-in seeds `fuzz/corpus/<target>` as the second (read
//!   only), so runs never pollute the seeds.
//! * Prints a table of executions, executions per second and crashes per target (from
//!   libFuzzer's `-print_final_stats`), and fails if any target crashed, naming the artifact.
//! * `--seed` regenerates the checked-in seeds (`fuzz/examples/seeds.rs`) instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::{ebpf, run};

/// Every fuzz target, in the order they run.
pub const TARGETS: [&str; 5] = ["vrrp_codec", "frames", "config", "api", "timer_wheel"];

/// What to run.
#[derive(Debug, Clone)]
pub struct Args {
    /// Time limit per target (libFuzzer `-max_total_time`).
    pub seconds: Option<u64>,
    /// Execution limit per target (libFuzzer `-runs`).
    pub runs: Option<u64>,
    /// Targets to run (default: all).
    pub targets: Vec<String>,
    /// Regenerate the seed corpora instead of fuzzing.
    pub seed: bool,
    /// cargo-fuzz sanitizer (`address`, or `none` where ASan does not build).
    pub sanitizer: String,
}

/// One target's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Target name.
    pub target: String,
    /// `stat::number_of_executed_units`.
    pub execs: u64,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
    /// Crash, leak, timeout or out-of-memory artifacts written.
    pub artifacts: Vec<String>,
    /// Whether libFuzzer exited successfully.
    pub ok: bool,
    /// The run's log file.
    pub log: PathBuf,
}

fn nightly_cargo(toolchain: &str) -> Command {
    let mut cmd = Command::new("cargo");
    ebpf::clear_cargo_env(&mut cmd);
    cmd.arg(format!("+{toolchain}"));
    cmd
}

/// Installs cargo-fuzz unless `cargo +NIGHTLY fuzz` already works.
fn ensure_cargo_fuzz(toolchain: &str) -> Result<()> {
    let present = nightly_cargo(toolchain)
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        let mut install = Command::new("cargo");
        ebpf::clear_cargo_env(&mut install);
        run(install.args(["install", "cargo-fuzz", "--locked"]))
            .context("installing cargo-fuzz")?;
    }
    Ok(())
}

/// Flags shared by `cargo fuzz build` and `cargo fuzz run` (so `run` does not rebuild).
fn build_flags(sanitizer: &str) -> Vec<String> {
    vec![
        "--debug-assertions".into(),
        "--sanitizer".into(),
        sanitizer.into(),
    ]
}

/// Regenerates, builds and runs as `args` says; fails if a target crashed.
pub fn fuzz(root: &Path, args: &Args) -> Result<Vec<Outcome>> {
    let toolchain = ebpf::nightly(root)?;
    if args.seed {
        let manifest = root.join("fuzz/Cargo.toml");
        run(nightly_cargo(&toolchain)
            .arg("run")
            .arg("--manifest-path")
            .arg(&manifest)
            .args(["--example", "seeds"]))?;
        return Ok(Vec::new());
    }
    let targets: Vec<String> = if args.targets.is_empty() {
        TARGETS.iter().map(|t| t.to_string()).collect()
    } else {
        args.targets.clone()
    };
    if let Some(t) = targets.iter().find(|t| !TARGETS.contains(&t.as_str())) {
        bail!(
            "unknown fuzz target {t:?} (targets: {})",
            TARGETS.join(", ")
        );
    }
    ensure_cargo_fuzz(&toolchain)?;
    let started = Instant::now();
    run(nightly_cargo(&toolchain)
        .current_dir(root)
        .args(["fuzz", "build"])
        .args(build_flags(&args.sanitizer)))
    .context("building the fuzz targets")?;
    eprintln!(
        "xtask: fuzz targets built in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let mut outcomes = Vec::new();
    for target in &targets {
        outcomes.push(run_target(root, &toolchain, target, args)?);
    }
    print_table(&outcomes);
    let crashed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok).collect();
    if !crashed.is_empty() {
        for o in &crashed {
            eprintln!(
                "xtask: fuzz target {} failed (log {}); artifacts: {}",
                o.target,
                o.log.display(),
                if o.artifacts.is_empty() {
                    "none".to_string()
                } else {
                    o.artifacts.join(", ")
                }
            );
            for a in &o.artifacts {
                eprintln!("  reproduce: cargo +{toolchain} fuzz run {} {a}", o.target);
            }
        }
        bail!("{} fuzz target(s) failed", crashed.len());
    }
    Ok(outcomes)
}

fn run_target(root: &Path, toolchain: &str, target: &str, args: &Args) -> Result<Outcome> {
    let scratch = root.join("target/fuzz-corpus").join(target);
    let logs = root.join("target/fuzz-logs");
    let artifacts = root.join("fuzz/artifacts").join(target);
    for dir in [&scratch, &logs, &artifacts] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let seeds = root.join("fuzz/corpus").join(target);
    let log = logs.join(format!("{target}.log"));
    let out = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let mut cmd = nightly_cargo(toolchain);
    cmd.current_dir(root)
        .args(["fuzz", "run"])
        .args(build_flags(&args.sanitizer))
        .arg(target)
        .arg(&scratch)
        .arg(&seeds)
        .arg("--")
        .arg("-print_final_stats=1")
        .arg("-timeout=20")
        .arg(format!("-artifact_prefix={}/", artifacts.display()));
    if let Some(s) = args.seconds {
        cmd.arg(format!("-max_total_time={s}"));
    }
    if let Some(n) = args.runs {
        cmd.arg(format!("-runs={n}"));
    }
    cmd.stdout(out.try_clone()?).stderr(out);
    eprintln!("xtask: fuzzing {target} (log {})", log.display());
    let started = Instant::now();
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let execs = text
        .lines()
        .rev()
        .filter_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .find_map(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let artifacts = text
        .lines()
        .filter_map(|l| l.split_once("Test unit written to "))
        .map(|(_, path)| path.trim().to_string())
        .collect();
    Ok(Outcome {
        target: target.to_string(),
        execs,
        seconds,
        artifacts,
        ok: status.success(),
        log,
    })
}

fn print_table(outcomes: &[Outcome]) {
    println!(
        "{:<12} {:>14} {:>12} {:>8} {:>8}",
        "target", "execs", "execs/s", "seconds", "crashes"
    );
    for o in outcomes {
        let rate = if o.seconds > 0.0 {
            o.execs as f64 / o.seconds
        } else {
            0.0
        };
        println!(
            "{:<12} {:>14} {:>12.0} {:>8.0} {:>8}",
            o.target,
            o.execs,
            rate,
            o.seconds,
            if o.ok {
                o.artifacts.len()
            } else {
                o.artifacts.len().max(1)
            }
        );
    }
}
