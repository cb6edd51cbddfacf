//! `cargo xtask scale`: many VRRP groups between two routers, rvrrpd and/or keepalived.
//!
//! Topology ([`rvrrpd_lab::scale`]): namespaces A (priority 200) and B (priority 100) joined
//! by one veth pair per 250 groups, `iftype = ether`, one /32 VIP per group. Each router's
//! outgoing adverts are captured in its own namespace (`tcpdump -i any -Q out`, so the
//! receiver's XDP program, which consumes adverts before the packet taps, hides nothing).
//!
//! One run, per daemon:
//! 1. start A then B; start-up = time from spawning A to the first advert of A for every group
//!    (the protocol itself needs Master_Down_Interval of A before A may advertise, so the
//!    overhead beyond it is reported too), and for rvrrpd the time to its "running" log line;
//! 2. converged = A advertises every group and B has been silent for 2 intervals + 1.5 s;
//! 3. steady state over `--duration`: CPU % of one core (utime + stime deltas of the process
//!    group), VmRSS, spurious transitions (state-change log lines of either daemon, B adverts
//!    on the wire, A silences longer than B's Master_Down_Interval);
//! 4. failover: SIGKILL A; per group, lateness = (A's last advert → B's first advert) −
//!    Master_Down_Interval(B); then (with `--hogs K`) restart A, wait until it took every group
//!    back, start K busy loops, SIGKILL A again, measure again.
//!
//! This module holds the command-line arguments, the parameters and results of a run, and
//! the driver over daemons and group counts; the parts live in:
//! - [`measure`]: one run (both daemons started, start-up, steady state and failovers measured);
//! - [`observe`]: the captures decoded: convergence, takeover and failover lateness;
//! - [`report`]: the Markdown table, notes and sections of `docs/performance.md`;
//! - [`chart`]: the SVG chart of CPU against groups;
//! - [`attack`]: `--attack`, forged adverts flooding both routers in a second window.

mod attack;
mod chart;
mod measure;
mod observe;
mod report;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rvrrpd_lab::theory;

use chart::svg;
use measure::{run_one, BinCopy};
use observe::Lateness;
use report::{date, fmt_opt, kib, machine, notes, table, upsert_section};

/// Which daemons to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Peer {
    /// rvrrpd on both routers.
    Rvrrpd,
    /// keepalived on both routers.
    Keepalived,
    /// One run of each, compared.
    Both,
}

/// A daemon under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    /// rvrrpd.
    Rvrrpd,
    /// keepalived.
    Keepalived,
}

impl Daemon {
    fn name(self) -> &'static str {
        match self {
            Daemon::Rvrrpd => "rvrrpd",
            Daemon::Keepalived => "keepalived",
        }
    }
}

/// Command-line parameters.
#[derive(Debug, Clone)]
pub struct Args {
    /// The rvrrpd binary (built by the caller; copied before use).
    pub rvrrpd: PathBuf,
    /// Number of groups.
    pub groups: usize,
    /// Advert interval, milliseconds.
    pub interval_ms: u32,
    /// Steady-state measurement, seconds.
    pub duration: u64,
    /// Busy loops during the second failover (0: no second failover).
    pub hogs: usize,
    /// Daemons.
    pub peer: Peer,
    /// VRRP version (None: 2 for whole seconds, else 3).
    pub version: Option<u8>,
    /// Markdown report to update.
    pub out: Option<PathBuf>,
    /// Group counts of a CPU sweep (steady state only); empty: a single run.
    pub sweep: Vec<usize>,
    /// Pass `--no-ebpf` to rvrrpd.
    pub no_ebpf: bool,
    /// Bound on start-up convergence, seconds.
    pub converge_timeout: u64,
    /// Keep the logs and captures.
    pub keep: bool,
    /// Real-time priority for both daemons (rvrrpd `realtime_priority`, keepalived
    /// `vrrp_rt_priority`); None: normal scheduling.
    pub realtime: Option<u8>,
    /// rvrrpd `advert_slots`; None: the daemon's default.
    pub advert_slots: Option<u16>,
    /// Forged adverts per second sent to each router in a second window (0: none).
    pub attack: u32,
    /// Receive on the veths in threaded NAPI, not in the sender's context.
    pub napi_threads: bool,
    /// rvrrpd on its default `tx_path = "auto"` (else `"packet"`, which the captures see).
    pub tx_xdp: bool,
    /// The command line, for the report.
    pub command: String,
}

/// Parameters of one run.
#[derive(Debug, Clone, Copy)]
struct Params {
    groups: usize,
    interval: f64,
    version: u8,
    duration: u64,
    hogs: usize,
    failover: bool,
    converge_timeout: u64,
    no_ebpf: bool,
    keep: bool,
    realtime: Option<u8>,
    advert_slots: Option<u16>,
    attack: u32,
    napi_threads: bool,
    tx_xdp: bool,
}

impl Params {
    fn mdi(&self, prio: u8) -> f64 {
        theory::master_down_interval(self.version, prio, Duration::from_secs_f64(self.interval))
            .as_secs_f64()
    }
}

#[derive(Debug, Clone, Default)]
pub struct RunResult {
    /// Daemon name.
    pub daemon: String,
    /// Groups.
    pub groups: usize,
    /// rvrrpd's receive path (from its log).
    pub path: String,
    /// Time from spawning A to its "running" log line.
    pub ready_s: Option<f64>,
    /// Time from spawning A to A's first advert for every group.
    pub elected_s: Option<f64>,
    /// `elected_s` minus A's Master_Down_Interval.
    pub startup_overhead_s: Option<f64>,
    /// Groups B advertised during start-up (B won the first election, A preempted it).
    pub startup_b_groups: usize,
    /// Whether the start-up converged within the bound.
    pub converged: bool,
    /// Steady-state window, seconds.
    pub window_s: f64,
    /// CPU % of one core, A and B.
    pub cpu: [f64; 2],
    /// With `--napi-threads`: CPU % of one core of the links' NAPI threads (both routers'
    /// kernel receive path) over the same window.
    pub napi_cpu: Option<f64>,
    /// VmRSS at the end of the window, KiB, A and B.
    pub rss_kib: [u64; 2],
    /// Processes in each daemon's group.
    pub pids: [usize; 2],
    /// State-change log lines during the window, A and B.
    pub log_transitions: [usize; 2],
    /// Groups for which B advertised during the window, and how many adverts.
    pub b_adverts: (usize, usize),
    /// Groups whose A adverts paused longer than B's Master_Down_Interval in the window.
    pub a_silent_groups: usize,
    /// Longest A silence of any group in the window, seconds.
    pub a_max_gap_s: f64,
    /// Idle failover.
    pub failover_idle: Option<Lateness>,
    /// Failover with hogs.
    pub failover_hogs: Option<Lateness>,
    /// tcpdump statistics (A, B).
    pub capture_stats: [String; 2],
    /// The window under a flood of forged adverts (`--attack`).
    pub attack: Option<AttackResult>,
    /// Anything noteworthy (errors, timeouts, log excerpts).
    pub notes: Vec<String>,
}

/// What a flood of forged adverts changed.
#[derive(Debug, Clone, Default)]
pub struct AttackResult {
    /// Forged adverts per second aimed at each router.
    pub rate: u32,
    /// Frames sent to A and to B.
    pub sent: [u64; 2],
    /// Window, seconds.
    pub window_s: f64,
    /// CPU % of one core, A and B, during the flood.
    pub cpu: [f64; 2],
    /// The XDP program of A and B during the flood (rvrrpd on XDP, with `bpftool`): runs,
    /// ns per run, % of one core (on veth charged to the sender, not to the daemon).
    pub xdp: [Option<(u64, f64, f64)>; 2],
    /// Spurious transitions during the flood, as in the steady state.
    pub checks: WindowChecks,
}

/// The wire's verdict on a window: B adverts, A silences.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowChecks {
    /// State-change log lines, A and B.
    pub log_transitions: [usize; 2],
    /// Groups for which B advertised, and how many adverts.
    pub b_adverts: (usize, usize),
    /// Groups whose A adverts paused longer than B's Master_Down_Interval.
    pub a_silent_groups: usize,
    /// Longest A silence of any group, seconds.
    pub a_max_gap_s: f64,
}

impl WindowChecks {
    /// Spurious transitions, all sources together.
    pub fn spurious(&self) -> usize {
        self.log_transitions[0] + self.log_transitions[1] + self.b_adverts.0 + self.a_silent_groups
    }
}

impl RunResult {
    /// Spurious transitions, all sources together (0 is the target).
    pub fn spurious(&self) -> usize {
        self.log_transitions[0] + self.log_transitions[1] + self.b_adverts.0 + self.a_silent_groups
    }
}

fn params_of(args: &Args, groups: usize, version: u8, failover: bool) -> Params {
    Params {
        groups,
        interval: f64::from(args.interval_ms) / 1000.0,
        version,
        duration: args.duration,
        hogs: if failover { args.hogs } else { 0 },
        failover,
        converge_timeout: args.converge_timeout,
        no_ebpf: args.no_ebpf,
        keep: args.keep,
        realtime: args.realtime,
        advert_slots: args.advert_slots,
        attack: if failover { args.attack } else { 0 },
        napi_threads: args.napi_threads,
        tx_xdp: args.tx_xdp,
    }
}

fn daemons(peer: Peer) -> Vec<Daemon> {
    match peer {
        Peer::Rvrrpd => vec![Daemon::Rvrrpd],
        Peer::Keepalived => vec![Daemon::Keepalived],
        Peer::Both => vec![Daemon::Rvrrpd, Daemon::Keepalived],
    }
}

/// Runs the scale test(s) described by `args`.
pub fn run(args: Args) -> Result<()> {
    let version = match args.version {
        Some(2) if args.interval_ms.rem_euclid(1000) != 0 => {
            bail!(
                "VRRPv2 advertises whole seconds: use --version 3 for {} ms",
                args.interval_ms
            )
        }
        Some(v) => v,
        None if args.interval_ms.rem_euclid(1000) == 0 => 2,
        None => 3,
    };
    if args.interval_ms < 10 || (version == 3 && args.interval_ms.rem_euclid(10) != 0) {
        bail!("the advert interval must be a multiple of 10 ms (VRRPv3 centiseconds)");
    }
    let bin = BinCopy::new(&args.rvrrpd)?;
    let when = date();
    let mach = machine();
    if args.sweep.is_empty() {
        let p = params_of(&args, args.groups, version, true);
        let mut runs = Vec::new();
        for d in daemons(args.peer) {
            runs.push(run_one(&bin.0, d, p)?);
        }
        let title = format!(
            "{} groups, adverts every {} ms (VRRPv{version}), {} s steady state, {} hogs{}",
            args.groups,
            args.interval_ms,
            args.duration,
            args.hogs,
            args.realtime
                .map(|r| format!(", real-time priority {r}"))
                .unwrap_or_default()
                + &(if args.attack > 0 {
                    format!(", attack {} forged adverts/s", args.attack)
                } else {
                    String::new()
                })
                + if args.napi_threads {
                    ", threaded NAPI"
                } else {
                    ""
                }
                + if args.tx_xdp {
                    ", rvrrpd tx_path = auto (XDP)"
                } else {
                    ""
                }
                + &args
                    .advert_slots
                    .map(|s| format!(", rvrrpd advert_slots = {s}"))
                    .unwrap_or_default()
                + if args.no_ebpf {
                    ", rvrrpd --no-ebpf"
                } else {
                    ""
                }
        );
        let t = table(&runs);
        let n = notes(&runs);
        println!("\n== {title} ==\n\n{t}\n{n}");
        if let Some(out) = &args.out {
            let key = format!(
                "run-g{}-i{}-v{version}-{:?}{}",
                args.groups,
                args.interval_ms,
                args.peer,
                args.realtime.map(|r| format!("-rt{r}")).unwrap_or_default()
                    + &(if args.attack > 0 {
                        format!("-attack{}", args.attack)
                    } else {
                        String::new()
                    })
                    + if args.napi_threads { "-napi" } else { "" }
                    + if args.tx_xdp { "-txxdp" } else { "" }
                    + &args
                        .advert_slots
                        .map(|s| format!("-slots{s}"))
                        .unwrap_or_default()
                    + if args.no_ebpf { "-noebpf" } else { "" }
                    // A shorter or longer window is another run, not a replacement.
                    + &(if args.duration != 60 {
                        format!("-d{}", args.duration)
                    } else {
                        String::new()
                    })
            )
            .to_lowercase();
            let body = format!(
                "### {title}\n\n{when}; {mach}.\n\n`{}`\n\nLateness = (A's last advert → B's first advert) − Master_Down_Interval of B ({:.3} ms); both taken from each router's own outgoing capture.\n\n{t}\n{n}",
                args.command,
                p.mdi(100) * 1000.0
            );
            upsert_section(out, &key, &body)?;
            eprintln!("scale: wrote section {key} of {}", out.display());
        }
        return Ok(());
    }
    // Sweep: steady state only, one run per (groups, daemon).
    let mut runs: Vec<RunResult> = Vec::new();
    for &g in &args.sweep {
        for d in daemons(args.peer) {
            let r = run_one(&bin.0, d, params_of(&args, g, version, false))?;
            eprintln!(
                "scale: sweep {} {g}: CPU A {:.2}% B {:.2}%",
                d.name(),
                r.cpu[0],
                r.cpu[1]
            );
            runs.push(r);
        }
    }
    let mut t = String::from(
        "| groups | daemon | CPU % A | CPU % B | RSS A | RSS B | start-up beyond MDI | converged | spurious |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in &runs {
        let _ = writeln!(
            t,
            "| {} | {} | {:.2} | {:.2} | {} | {} | {} | {} | {} |",
            r.groups,
            r.daemon,
            r.cpu[0],
            r.cpu[1],
            kib(r.rss_kib[0]),
            kib(r.rss_kib[1]),
            fmt_opt(r.startup_overhead_s, " s", 3),
            if r.converged { "yes" } else { "NO" },
            r.spurious()
        );
    }
    let n = notes(&runs);
    println!(
        "\n== CPU sweep ({} ms, VRRPv{version}, {} s each) ==\n\n{t}\n{n}",
        args.interval_ms, args.duration
    );
    if let Some(out) = &args.out {
        let svg_path = out
            .parent()
            .unwrap_or(Path::new("."))
            .join("performance-cpu.svg");
        std::fs::write(&svg_path, svg(&runs, args.interval_ms, version))
            .with_context(|| format!("writing {}", svg_path.display()))?;
        let tx = if args.tx_xdp {
            "rvrrpd on its default transmit path (`tx_path = \"auto\"`: XDP live frames)"
        } else {
            "rvrrpd with `tx_path = \"packet\"` (AF_PACKET, as the captures need)"
        };
        let body = format!(
            "### CPU vs groups ({} ms adverts, VRRPv{version}, {} s per point)\n\n{when}; {mach}; {tx}.\n\n`{}`\n\n![CPU % of one core vs groups](performance-cpu.svg)\n\n{t}\n{n}",
            args.interval_ms, args.duration, args.command
        );
        upsert_section(
            out,
            &format!("sweep-i{}-v{version}", args.interval_ms),
            &body,
        )?;
        eprintln!("scale: wrote {} and {}", svg_path.display(), out.display());
    }
    Ok(())
}
