//! Project automation: `cargo xtask <command>`.
//!
//! * `test`  — installs what a fresh machine lacks, then runs format, lint and the whole test suite
//!   (unit, integration in network namespaces, interop with keepalived and FRR). `.ci/run` calls it.
//! * `lab`   — builds rvrrpd and runs the failover demo in network namespaces.
//! * `setup` — only the installation step.
//! * `fuzz`  — the cargo-fuzz targets (`fuzz/`, docs/fuzzing.md).
//! * `man`, `completions` — man pages and shell completions under target/dist/.
//! * `deb`   — the Debian package, target/debian/rvrrpd_<version>_<arch>.deb.
//! * `txbench` — transmit cost per advert by transmit mode (`benches/txcost.rs`).

mod apiload;
mod dist;
mod ebpf;
mod fuzz;
mod lab;
mod scale;

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
    /// Transmit cost per advert by transmit mode (AF_PACKET sendmmsg, XDP live frames) in
    /// namespaces of its own: builds the eBPF object, then runs `benches/txcost.rs`.
    Txbench {
        /// Arguments for the tool (`--frames N`, `--batch 1,16,64`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
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
    /// Scale run: N VRRP groups between two routers (rvrrpd and/or keepalived): CPU, RSS,
    /// start-up, spurious transitions, failover lateness idle and with busy loops.
    Scale {
        /// Number of groups (250 VRIDs per veth pair).
        #[arg(long, default_value_t = 1000)]
        groups: usize,
        /// Advertisement interval in milliseconds (below 1000: VRRPv3).
        #[arg(long, default_value_t = 1000)]
        interval: u32,
        /// Steady-state measurement in seconds (the headline run: 300).
        #[arg(long, default_value_t = 60)]
        duration: u64,
        /// Busy-loop processes during the second failover (0: idle failover only).
        #[arg(long, default_value_t = 4)]
        hogs: usize,
        /// Daemon(s) on both routers.
        #[arg(long, value_enum, default_value_t = scale::Peer::Rvrrpd)]
        peer: scale::Peer,
        /// VRRP version (default: 2 for whole seconds, 3 otherwise).
        #[arg(long, value_parser = clap::value_parser!(u8).range(2..=3))]
        version: Option<u8>,
        /// Markdown file to update (a section per parameter set; a sweep also writes
        /// performance-cpu.svg beside it).
        #[arg(long)]
        out: Option<PathBuf>,
        /// CPU sweep over these group counts (steady state only), e.g. 100,1000,5000,10000.
        #[arg(long, value_delimiter = ',')]
        sweep: Vec<usize>,
        /// Run rvrrpd with --no-ebpf (classic BPF raw sockets).
        #[arg(long)]
        no_ebpf: bool,
        /// Bound on start-up convergence, seconds.
        #[arg(long, default_value_t = 180)]
        converge_timeout: u64,
        /// Keep logs and captures (they are always kept when something went wrong).
        #[arg(long)]
        keep: bool,
        /// Real-time priority for both daemons (rvrrpd `realtime_priority`, keepalived
        /// `vrrp_rt_priority`); default: each daemon's own (rvrrpd: SCHED_FIFO 1 capped,
        /// keepalived: normal scheduling). 0: rvrrpd `realtime_priority = 0` (normal).
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=99))]
        realtime: Option<u8>,
        /// rvrrpd `advert_slots` (phase slots per advert interval; default: the daemon's, one
        /// per 50 groups, at most 20 up to 5,000 groups, then one per 250).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1000))]
        advert_slots: Option<u16>,
        /// After the steady state, a second window of `--duration` s with this many forged
        /// adverts per second sent to each router (bad authentication, unknown VRIDs, replays
        /// with one changed byte); 0: none.
        #[arg(long, default_value_t = 0)]
        attack: u32,
        /// Receive on the veths in threaded NAPI (GRO on, `threaded` = 1), so that each
        /// router is not charged its peer's receive path (veth receives in the sender's
        /// softirq by default); the NAPI threads' CPU is reported apart.
        #[arg(long)]
        napi_threads: bool,
        /// rvrrpd on its default transmit path (`tx_path = "auto"`: XDP live frames where the
        /// driver reports XDP transmit) instead of `tx_path = "packet"`. Those adverts bypass
        /// the sender's capture: only CPU, memory and the logs' transitions are measured.
        #[arg(long)]
        tx_xdp: bool,
        /// Use this rvrrpd binary instead of building target/release/rvrrpd.
        #[arg(long)]
        rvrrpd: Option<PathBuf>,
    },
    /// Client API under load: two rvrrpd with N groups, poll the Master's `GET /run/vrrp` at a
    /// fixed rate; latency percentiles, timer lateness, spurious transitions.
    Apiload {
        /// Number of groups (VRRPv2, 1 s; 250 VRIDs per veth pair).
        #[arg(long, default_value_t = 1000)]
        groups: usize,
        /// Requests per second, all connections together.
        #[arg(long, default_value_t = 200)]
        rate: u32,
        /// Polling window in seconds.
        #[arg(long, default_value_t = 30)]
        duration: u64,
        /// Client threads, one keep-alive connection each.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Bound on start-up convergence, seconds.
        #[arg(long, default_value_t = 120)]
        converge_timeout: u64,
        /// Run rvrrpd with --no-ebpf (classic BPF raw sockets).
        #[arg(long)]
        no_ebpf: bool,
        /// Keep logs and captures (always kept when something went wrong).
        #[arg(long)]
        keep: bool,
        /// Use this rvrrpd binary instead of building target/release/rvrrpd.
        #[arg(long)]
        rvrrpd: Option<PathBuf>,
    },
    /// Run the cargo-fuzz targets (pinned nightly, AddressSanitizer) one after another with
    /// the checked-in seeds; a table of executions; fails on any crash.
    Fuzz {
        /// Time limit per target, in seconds.
        #[arg(long)]
        seconds: Option<u64>,
        /// Execution limit per target.
        #[arg(long)]
        runs: Option<u64>,
        /// Only this target (repeatable): vrrp_codec, frames, config, api, timer_wheel.
        #[arg(long = "target")]
        targets: Vec<String>,
        /// Regenerate the checked-in seed corpora (fuzz/corpus) instead of fuzzing.
        #[arg(long)]
        seed: bool,
        /// Sanitizer: address, or none where AddressSanitizer does not build.
        #[arg(long, default_value = "address")]
        sanitizer: String,
    },
    /// Write the man pages (rvrrpd.8, rvrrpctl.8, rvrrpd-pw.8, rvrrpd.conf.5) to target/dist/man.
    Man,
    /// Write bash, zsh and fish completions for the three binaries to target/dist/completions.
    Completions,
    /// Build the Debian package target/debian/rvrrpd_<version>_<arch>.deb (release binaries,
    /// eBPF object, unit, configuration, man pages, completions) and check it.
    Deb {
        /// From the debug build with fast compression (what `cargo xtask test` checks).
        #[arg(long)]
        dev: bool,
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
        Cmd::Txbench { args } => {
            require_root("cargo xtask txbench")?;
            ebpf::build(&root, true)?;
            run(cargo()
                .current_dir(&root)
                .args(["bench", "-p", "rvrrpd", "--bench", "txcost", "--"])
                .args(&args))
        }
        Cmd::Test { args } => test(&root, &args),
        Cmd::Lab { version, interval } => lab(&root, version, interval),
        Cmd::Scale {
            groups,
            interval,
            duration,
            hogs,
            peer,
            version,
            out,
            sweep,
            no_ebpf,
            converge_timeout,
            keep,
            realtime,
            advert_slots,
            attack,
            napi_threads,
            tx_xdp,
            rvrrpd,
        } => {
            require_root("cargo xtask scale")?;
            let rvrrpd = match rvrrpd {
                Some(b) => b,
                None => {
                    run(cargo().current_dir(&root).args([
                        "build",
                        "--release",
                        "--bin",
                        "rvrrpd",
                    ]))?;
                    root.join("target/release/rvrrpd")
                }
            };
            scale::run(scale::Args {
                rvrrpd,
                groups,
                interval_ms: interval,
                duration,
                hogs,
                peer,
                version,
                out: out.map(|o| if o.is_absolute() { o } else { root.join(o) }),
                sweep,
                no_ebpf,
                converge_timeout,
                keep,
                realtime,
                advert_slots,
                attack,
                napi_threads,
                tx_xdp,
                command: format!(
                    "cargo xtask {}",
                    std::env::args().skip(1).collect::<Vec<_>>().join(" ")
                ),
            })
        }
        Cmd::Apiload {
            groups,
            rate,
            duration,
            connections,
            converge_timeout,
            no_ebpf,
            keep,
            rvrrpd,
        } => {
            require_root("cargo xtask apiload")?;
            apiload::run(
                &root,
                apiload::Args {
                    groups,
                    rate,
                    duration,
                    connections,
                    converge_timeout,
                    no_ebpf,
                    keep,
                    rvrrpd,
                },
            )
        }
        Cmd::Fuzz {
            seconds,
            runs,
            targets,
            seed,
            sanitizer,
        } => {
            // Without a limit libFuzzer runs forever: default to a minute per target.
            let seconds = seconds.or(if runs.is_none() { Some(60) } else { None });
            let args = fuzz::Args {
                seconds,
                runs,
                targets,
                seed,
                sanitizer,
            };
            fuzz::fuzz(&root, &args).map(|_| ())
        }
        Cmd::Man => {
            for f in dist::write_man(&root, &root.join("target/dist/man"))? {
                println!("{}", f.display());
            }
            Ok(())
        }
        Cmd::Completions => {
            for f in dist::write_completions(&root.join("target/dist/completions"))? {
                println!("{}", f.display());
            }
            Ok(())
        }
        Cmd::Deb { dev } => {
            let deb = dist::deb::build(&root, dev)?;
            dist::deb::check(&root, &deb)?;
            println!("{}", deb.display());
            Ok(())
        }
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

/// Seconds each fuzz target runs in `cargo xtask test`.
const FUZZ_SECONDS_IN_TEST: u64 = 20;

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
    run(cargo().current_dir(root).args([
        "check",
        "--target",
        "x86_64-unknown-freebsd",
        "-p",
        "rvrrpd",
        "--lib",
        "--bins",
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
        // The Debian package from the binaries just built, unpacked and run (bounded: no
        // release build; dpkg-deb with gzip -1).
        let deb = dist::deb::build(root, true)?;
        dist::deb::check(root, &deb)?;
        // The same elections and failovers (and unicast peer filtering) on the classic-BPF
        // raw-socket path.
        run(cargo().current_dir(root).env("RVRRPD_NO_EBPF", "1").args([
            "test",
            "-p",
            "rvrrpd",
            "--test",
            "election",
            "--test",
            "robustness",
            "--test",
            "scale_groups",
            "--test",
            "unicast",
            "--test",
            "accept_mode",
        ]))?;
        // And on the eBPF socket filter (the tier between XDP and classic BPF).
        run(cargo().current_dir(root).env("RVRRPD_NO_XDP", "1").args([
            "test",
            "-p",
            "rvrrpd",
            "--test",
            "election",
            "--test",
            "scale_groups",
            "--test",
            "unicast",
            "--test",
            "accept_mode",
        ]))?;
        // The kernel-resident Backup on the socket filter, and its absence on classic BPF.
        for env in ["RVRRPD_NO_XDP", "RVRRPD_NO_EBPF"] {
            run(cargo().current_dir(root).env(env, "1").args([
                "test",
                "-p",
                "rvrrpd",
                "--test",
                "api_daemon",
                "kernel_backup",
            ]))?;
        }
        // Every fuzz target briefly, from the checked-in seeds (docs/fuzzing.md).
        let args = fuzz::Args {
            seconds: Some(FUZZ_SECONDS_IN_TEST),
            runs: None,
            targets: Vec::new(),
            seed: false,
            sanitizer: "address".into(),
        };
        fuzz::fuzz(root, &args)?;
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
