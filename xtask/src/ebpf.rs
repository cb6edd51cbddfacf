//! `cargo xtask build-ebpf [--release]`: builds `rvrrpd-ebpf` for `bpfel-unknown-none`.
//!
//! * Runs `scripts/setup-ebpf.sh` when the recorded toolchain (pinned nightly + rust-src,
//!   bpf-linker against that nightly's libLLVM) is missing; the script is a no-op (~0.1 s)
//!   when everything is in place, so it always runs.
//! * Builds with the pinned nightly, `-Z build-std=core`, `-C debuginfo=2 -C link-arg=--btf`
//!   (BTF is needed for aya to load the maps), bpf-linker first on PATH, and
//!   `RUSTUP_TOOLCHAIN`/`RUSTC`/`RUSTFLAGS`/`CARGO_*` of the calling cargo cleared.
//! * The eBPF crate is its own workspace (not a member of the root one) and builds into its
//!   own target dir, `target/bpf/`, so it never contends with host builds for the
//!   `target/{debug,release}` lock. The object ends up at
//!   `target/bpf/bpfel-unknown-none/{release,debug}/rvrrpd-ebpf`; the path is printed on
//!   stdout (the only stdout line), so scripts and tests can capture it.
//!
//! Self-contained (std + anyhow only) so `tests/xdp.rs` can include this very file with
//! `#[path]` and build the object through the same code path without a nested `cargo`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The BPF target triple.
pub const TARGET: &str = "bpfel-unknown-none";

/// Where the toolchain lives (must match scripts/setup-ebpf.sh).
fn prefix() -> PathBuf {
    if let Some(p) = std::env::var_os("RVRRPD_BPF_PREFIX") {
        return PathBuf::from(p);
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("/root/.local/share"));
    data.join("rvrrpd-bpf")
}

/// What setup-ebpf.sh recorded in `toolchain.env`.
struct Toolchain {
    toolchain: String,
    bpf_linker: PathBuf,
}

fn read_toolchain(prefix: &Path) -> Result<Toolchain> {
    let path = prefix.join("toolchain.env");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (written by scripts/setup-ebpf.sh)",
            path.display()
        )
    })?;
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::trim)
            .map(str::to_owned)
    };
    let toolchain = get("TOOLCHAIN").context("TOOLCHAIN missing in toolchain.env")?;
    let bpf_linker = get("BPF_LINKER").context("BPF_LINKER missing in toolchain.env")?;
    Ok(Toolchain {
        toolchain,
        bpf_linker: PathBuf::from(bpf_linker),
    })
}

/// Runs a command, echoing it on stderr, and fails with its exit status.
fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Removes what the calling cargo (stable, via the `xtask` alias) exports that would pin a
/// nightly child to stable or leak host flags and target dirs into it.
pub fn clear_cargo_env(cmd: &mut Command) {
    for var in [
        "RUSTUP_TOOLCHAIN",
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO",
        "CARGO_MANIFEST_DIR",
    ] {
        cmd.env_remove(var);
    }
}

/// Path of the object `build` produces.
pub fn object_path(root: &Path, release: bool) -> PathBuf {
    root.join("target/bpf")
        .join(TARGET)
        .join(if release { "release" } else { "debug" })
        .join("rvrrpd-ebpf")
}

/// Runs scripts/setup-ebpf.sh (a no-op when all is in place) and reads what it recorded.
fn setup(root: &Path) -> Result<Toolchain> {
    let setup = root.join("scripts/setup-ebpf.sh");
    run(Command::new("bash").arg(&setup))
        .context("installing the eBPF toolchain (scripts/setup-ebpf.sh)")?;
    read_toolchain(&prefix())
}

/// Installs the pinned nightly if needed and returns its rustup name (for `cargo +NAME`);
/// `cargo xtask fuzz` builds the fuzz targets with it.
pub fn nightly(root: &Path) -> Result<String> {
    Ok(setup(root)?.toolchain)
}

/// Installs the toolchain if needed, builds the eBPF object and returns its path.
pub fn build(root: &Path, release: bool) -> Result<PathBuf> {
    let tc = setup(root)?;

    let linker_dir = tc
        .bpf_linker
        .parent()
        .context("bpf-linker path has no parent")?;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![linker_dir.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    let path = std::env::join_paths(dirs).context("building PATH")?;

    let crate_dir = root.join("rvrrpd-ebpf");
    let mut cmd = Command::new("cargo");
    cmd.current_dir(&crate_dir)
        .arg(format!("+{}", tc.toolchain))
        .args(["build", "--target", TARGET, "-Z", "build-std=core"])
        .arg("--target-dir")
        .arg(root.join("target/bpf"));
    if release {
        cmd.arg("--release");
    }
    clear_cargo_env(&mut cmd);
    cmd.env("PATH", path).env(
        "CARGO_TARGET_BPFEL_UNKNOWN_NONE_RUSTFLAGS",
        "-C debuginfo=2 -C link-arg=--btf",
    );
    let started = std::time::Instant::now();
    run(&mut cmd).context("building rvrrpd-ebpf")?;
    let obj = object_path(root, release);
    if !obj.is_file() {
        bail!("build succeeded but {} is missing", obj.display());
    }
    eprintln!(
        "xtask: eBPF object built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(obj)
}
