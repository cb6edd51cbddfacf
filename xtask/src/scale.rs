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

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use rvrrpd_lab::advstream::{AdvertTimes, PcapFollower};
use rvrrpd_lab::procstat::{self, GroupUsage};
use rvrrpd_lab::scale::{self, Group, Hogs, ScaleCapture, ScaleTopo, Side};
use rvrrpd_lab::{theory, Proc, Signal};

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
}

impl Params {
    fn mdi(&self, prio: u8) -> f64 {
        theory::master_down_interval(self.version, prio, Duration::from_secs_f64(self.interval))
            .as_secs_f64()
    }
}

/// Lateness statistics of one failover, milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Lateness {
    /// Groups measured.
    pub n: usize,
    /// Groups B did not take over (within the bound) or without an A advert before.
    pub missing: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
    /// Minimum (negative: B took over before Master_Down_Interval expired).
    pub min: f64,
    /// Time from SIGKILL to B advertising every group, seconds.
    pub all_taken_s: Option<f64>,
}

/// Everything measured in one run of one daemon.
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
    /// Anything noteworthy (errors, timeouts, log excerpts).
    pub notes: Vec<String>,
}

impl RunResult {
    /// Spurious transitions, all sources together (0 is the target).
    pub fn spurious(&self) -> usize {
        self.log_transitions[0] + self.log_transitions[1] + self.b_adverts.0 + self.a_silent_groups
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// How far a capture file may lag behind the wire (tcpdump without `--immediate-mode`
/// hands packets over in blocks, at the latest after its 1 s buffer timeout).
const CAPTURE_LAG: f64 = 1.5;

/// Both captures, decoded incrementally.
struct Observer {
    fa: PcapFollower,
    fb: PcapFollower,
    ta: AdvertTimes,
    tb: AdvertTimes,
}

impl Observer {
    fn new(a: &ScaleCapture, b: &ScaleCapture) -> Observer {
        Observer {
            fa: PcapFollower::new(a.file()),
            fb: PcapFollower::new(b.file()),
            ta: AdvertTimes::default(),
            tb: AdvertTimes::default(),
        }
    }

    fn poll(&mut self) -> Result<()> {
        let ta = &mut self.ta;
        self.fa.poll(|a| ta.add(a))?;
        let tb = &mut self.tb;
        self.fb.poll(|a| tb.add(a))?;
        Ok(())
    }

    fn last(t: &AdvertTimes, g: &Group, side: Side) -> Option<f64> {
        t.of(g.src(side), g.vrid).last().copied()
    }

    /// (groups A advertised since `since` and within the last 3 intervals + lag, groups B
    /// advertised within the last 2 intervals + lag).
    fn state(&self, groups: &[Group], since: f64, iv: f64) -> (usize, usize) {
        let t = now();
        let a_ok = groups
            .iter()
            .filter(|g| {
                Observer::last(&self.ta, g, Side::A)
                    .is_some_and(|l| l >= since && l >= t - 3.0 * iv - CAPTURE_LAG)
            })
            .count();
        let b_active = groups
            .iter()
            .filter(|g| {
                Observer::last(&self.tb, g, Side::B)
                    .is_some_and(|l| l >= t - 2.0 * iv - CAPTURE_LAG)
            })
            .count();
        (a_ok, b_active)
    }

    /// Groups B advertised at or after `t`.
    fn b_since(&self, groups: &[Group], t: f64) -> usize {
        groups
            .iter()
            .filter(|g| Observer::last(&self.tb, g, Side::B).is_some_and(|l| l >= t))
            .count()
    }
}

/// Waits until A advertises every group (since `since`) and B is silent; bounded.
fn wait_converged(
    obs: &mut Observer,
    groups: &[Group],
    since: f64,
    p: &Params,
    timeout: Duration,
    alive: &mut dyn FnMut() -> Result<()>,
) -> Result<std::result::Result<f64, String>> {
    let start = Instant::now();
    let mut last = (0, 0);
    while start.elapsed() < timeout {
        std::thread::sleep(Duration::from_millis(500));
        alive()?;
        obs.poll()?;
        last = obs.state(groups, since, p.interval);
        if last.0 == groups.len() && last.1 == 0 {
            return Ok(Ok(now()));
        }
    }
    Ok(Err(format!(
        "not converged after {:.0}s: A advertises {}/{} groups, B still advertises {}",
        timeout.as_secs_f64(),
        last.0,
        groups.len(),
        last.1
    )))
}

/// Waits until B advertised every group at or after `tk`; returns the time it took.
fn wait_takeover(
    obs: &mut Observer,
    groups: &[Group],
    tk: f64,
    bound: Duration,
) -> Result<Option<f64>> {
    let start = Instant::now();
    while start.elapsed() < bound {
        std::thread::sleep(Duration::from_millis(250));
        obs.poll()?;
        if obs.b_since(groups, tk) == groups.len() {
            let done = groups
                .iter()
                .filter_map(|g| obs.tb.first_at_or_after(g.src(Side::B), g.vrid, tk))
                .fold(tk, f64::max);
            return Ok(Some(done - tk));
        }
    }
    Ok(None)
}

/// Per-group failover lateness for a SIGKILL of A at `tk` (epoch seconds).
fn lateness(obs: &Observer, groups: &[Group], tk: f64, mdi: f64, taken: Option<f64>) -> Lateness {
    let mut v: Vec<f64> = Vec::with_capacity(groups.len());
    for g in groups {
        let Some(b) = obs.tb.first_at_or_after(g.src(Side::B), g.vrid, tk) else {
            continue;
        };
        let Some(a) = obs.ta.last_before(g.src(Side::A), g.vrid, b) else {
            continue;
        };
        v.push((b - a - mdi) * 1000.0);
    }
    v.sort_by(f64::total_cmp);
    let pick = |q: f64| -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    };
    Lateness {
        n: v.len(),
        missing: groups.len() - v.len(),
        p50: pick(0.5),
        p99: pick(0.99),
        max: v.last().copied().unwrap_or(f64::NAN),
        min: v.first().copied().unwrap_or(f64::NAN),
        all_taken_s: taken,
    }
}

/// Copies the rvrrpd binary aside so that a concurrent rebuild cannot swap it mid-run.
struct BinCopy(PathBuf);

impl BinCopy {
    fn new(src: &Path) -> Result<BinCopy> {
        let dir = std::env::temp_dir().join("rvrrpd-scale");
        std::fs::create_dir_all(&dir)?;
        let dst = dir.join(format!("rvrrpd-{}", std::process::id()));
        std::fs::copy(src, &dst).with_context(|| format!("copying {}", src.display()))?;
        Ok(BinCopy(dst))
    }
}

impl Drop for BinCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The two daemons of a run, with what it takes to start A again.
struct Routers<'a> {
    topo: &'a ScaleTopo,
    daemon: Daemon,
    bin: &'a Path,
    p: Params,
    a: Option<Proc>,
    b: Option<Proc>,
    a_starts: usize,
}

impl Routers<'_> {
    fn spawn(&mut self, side: Side) -> Result<Proc> {
        let p = &self.p;
        let name = match side {
            Side::A => {
                self.a_starts += 1;
                format!("a{}", self.a_starts)
            }
            Side::B => "b".to_string(),
        };
        Ok(match self.daemon {
            Daemon::Rvrrpd => {
                let conf = scale::rvrrpd_conf(
                    self.topo.dir(),
                    &name,
                    side,
                    p.groups,
                    p.version,
                    p.interval,
                );
                let extra: Vec<String> = if p.no_ebpf {
                    vec!["--no-ebpf".into()]
                } else {
                    Vec::new()
                };
                let head = p
                    .realtime
                    .map(|r| format!("realtime_priority = {r}\n"))
                    .unwrap_or_default()
                    + &p.advert_slots
                        .map(|s| format!("advert_slots = {s}\n"))
                        .unwrap_or_default();
                scale::spawn_rvrrpd(self.topo, side, self.bin, &name, &conf, &head, &extra)?
            }
            Daemon::Keepalived => {
                let conf =
                    scale::keepalived_conf(side, p.groups, p.version, p.interval, p.realtime);
                scale::spawn_keepalived(self.topo, side, &name, &conf)?
            }
        })
    }

    fn alive(&mut self) -> Result<()> {
        for (side, p) in [("A", &mut self.a), ("B", &mut self.b)] {
            if let Some(p) = p {
                if !p.is_running() {
                    bail!("{} on {side} exited:\n{}", self.daemon.name(), p.tail(30));
                }
            }
        }
        Ok(())
    }

    fn log(p: &Option<Proc>) -> String {
        p.as_ref()
            .map(|p| format!("{}{}", p.stdout(), p.stderr()))
            .unwrap_or_default()
    }
}

fn usage(p: &Option<Proc>) -> Result<GroupUsage> {
    let pid = p.as_ref().map(Proc::pid).context("daemon not running")?;
    Ok(procstat::group_usage(pid)?)
}

fn transitions(p: &Option<Proc>) -> usize {
    let (m, b) = scale::count_transitions(&Routers::log(p));
    m + b
}

/// One complete run of `daemon`.
fn run_one(bin: &Path, daemon: Daemon, p: Params) -> Result<RunResult> {
    let groups = scale::groups(p.groups);
    let mut r = RunResult {
        daemon: daemon.name().into(),
        groups: p.groups,
        path: match daemon {
            Daemon::Rvrrpd => "?".into(),
            Daemon::Keepalived => "raw sockets".into(),
        },
        ..RunResult::default()
    };
    eprintln!(
        "scale: {} — {} groups, {} ms, VRRPv{}: building the topology",
        daemon.name(),
        p.groups,
        p.interval * 1000.0,
        p.version
    );
    let mut topo = ScaleTopo::build(p.groups).context("building the scale topology")?;
    if p.keep {
        topo.keep_files();
    }
    let mut cap_a = topo.capture_out(Side::A, "a", 65536)?;
    let mut cap_b = topo.capture_out(Side::B, "b", 65536)?;
    let mut obs = Observer::new(&cap_a, &cap_b);
    let mut rt = Routers {
        topo: &topo,
        daemon,
        bin,
        p,
        a: None,
        b: None,
        a_starts: 0,
    };

    // 1. Start-up.
    let t0 = now();
    let start = Instant::now();
    rt.a = Some(rt.spawn(Side::A)?);
    rt.b = Some(rt.spawn(Side::B)?);
    if daemon == Daemon::Rvrrpd {
        let bound = Duration::from_secs(p.converge_timeout);
        while start.elapsed() < bound {
            rt.alive()?;
            let log = Routers::log(&rt.a);
            if let Some(l) = log.lines().find(|l| l.contains(" running ")) {
                r.ready_s = Some(start.elapsed().as_secs_f64());
                if let Some(x) = l.split("receive path: ").nth(1) {
                    r.path = short_path(x.strip_suffix(')').unwrap_or(x));
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let conv = wait_converged(
        &mut obs,
        &groups,
        t0,
        &p,
        Duration::from_secs(p.converge_timeout),
        &mut || rt.alive(),
    )?;
    let tconv = match conv {
        Ok(t) => {
            r.converged = true;
            t
        }
        Err(msg) => {
            eprintln!("scale: {msg}");
            r.notes.push(msg);
            now()
        }
    };
    let firsts: Vec<f64> = groups
        .iter()
        .filter_map(|g| obs.ta.of(g.src(Side::A), g.vrid).first().copied())
        .collect();
    if firsts.len() == groups.len() {
        let last = firsts.iter().copied().fold(t0, f64::max);
        r.elected_s = Some(last - t0);
        r.startup_overhead_s = Some(last - t0 - p.mdi(200));
    }
    r.startup_b_groups = groups
        .iter()
        .filter(|g| !obs.tb.of(g.src(Side::B), g.vrid).is_empty())
        .count();
    eprintln!(
        "scale: {}: converged={} in {:.1}s (all A adverts {:?}s after spawn); measuring {}s",
        daemon.name(),
        r.converged,
        tconv - t0,
        r.elected_s.map(|x| (x * 1000.0).round() / 1000.0),
        p.duration
    );

    // 2. Steady state.
    std::thread::sleep(Duration::from_secs(2));
    let w0 = now();
    let ua0 = usage(&rt.a)?;
    let ub0 = usage(&rt.b)?;
    let la0 = transitions(&rt.a);
    let lb0 = transitions(&rt.b);
    let wstart = Instant::now();
    while wstart.elapsed() < Duration::from_secs(p.duration) {
        std::thread::sleep(Duration::from_millis(500));
        rt.alive()?;
    }
    let ua1 = usage(&rt.a)?;
    let ub1 = usage(&rt.b)?;
    let w1 = now();
    r.window_s = w1 - w0;
    r.cpu = [
        procstat::cpu_percent(&ua0, &ua1),
        procstat::cpu_percent(&ub0, &ub1),
    ];
    r.rss_kib = [ua1.rss_kib, ub1.rss_kib];
    r.pids = [ua1.pids.len(), ub1.pids.len()];
    r.log_transitions = [
        transitions(&rt.a).saturating_sub(la0),
        transitions(&rt.b).saturating_sub(lb0),
    ];
    eprintln!(
        "scale: {}: CPU A {:.2}% B {:.2}%, RSS A {} KiB B {} KiB",
        daemon.name(),
        r.cpu[0],
        r.cpu[1],
        r.rss_kib[0],
        r.rss_kib[1]
    );

    // 3. Failovers.
    let mdi_b = p.mdi(100);
    let bound = Duration::from_secs_f64(mdi_b + 15.0 + CAPTURE_LAG + p.groups as f64 / 1000.0);
    let mut tk_list: Vec<(f64, Option<f64>, bool)> = Vec::new();
    if p.failover && r.converged {
        let tk = now();
        if let Some(a) = rt.a.as_mut() {
            a.signal_group(Signal::Kill)?;
            let _ = a.wait_exit(Duration::from_secs(5));
        }
        let taken = wait_takeover(&mut obs, &groups, tk, bound)?;
        eprintln!("scale: {}: idle failover done in {taken:?}s", daemon.name());
        tk_list.push((tk, taken, false));
        if p.hogs > 0 {
            rt.a = None;
            let since = now();
            rt.a = Some(rt.spawn(Side::A)?);
            let conv = wait_converged(
                &mut obs,
                &groups,
                since,
                &p,
                Duration::from_secs(p.converge_timeout),
                &mut || rt.alive(),
            )?;
            match conv {
                Ok(_) => {
                    let mut hogs = Hogs::start(p.hogs, topo.dir())?;
                    std::thread::sleep(Duration::from_secs(3));
                    let tk = now();
                    if let Some(a) = rt.a.as_mut() {
                        a.signal_group(Signal::Kill)?;
                        let _ = a.wait_exit(Duration::from_secs(5));
                    }
                    let taken = wait_takeover(&mut obs, &groups, tk, bound * 2)?;
                    hogs.stop();
                    eprintln!(
                        "scale: {}: failover with {} hogs done in {taken:?}s",
                        daemon.name(),
                        p.hogs
                    );
                    tk_list.push((tk, taken, true));
                }
                Err(msg) => r
                    .notes
                    .push(format!("restart of A for the hog failover: {msg}")),
            }
        }
    }

    // 4. Stop everything, read the captures to the end, analyse.
    rt.a = None;
    rt.b = None;
    let s_a = cap_a.stop()?;
    let s_b = cap_b.stop()?;
    r.capture_stats = [s_a, s_b];
    for (i, c) in [&cap_a, &cap_b].iter().enumerate() {
        if c.dropped().is_some_and(|d| d > 0) {
            r.notes.push(format!(
                "capture {} dropped packets: {}",
                ["A", "B"][i],
                r.capture_stats[i]
            ));
        }
    }
    obs.poll()?;
    let mut b_groups = 0;
    let mut b_adv = 0;
    for g in &groups {
        let n = obs.tb.count_in(g.src(Side::B), g.vrid, w0, w1);
        if n > 0 {
            b_groups += 1;
            b_adv += n;
        }
        let gap = obs.ta.max_gap_in(g.src(Side::A), g.vrid, w0, w1);
        r.a_max_gap_s = r.a_max_gap_s.max(gap);
        if gap > mdi_b {
            r.a_silent_groups += 1;
        }
    }
    r.b_adverts = (b_groups, b_adv);
    for (tk, taken, hogs) in tk_list {
        let l = lateness(&obs, &groups, tk, mdi_b, taken);
        if hogs {
            r.failover_hogs = Some(l);
        } else {
            r.failover_idle = Some(l);
        }
    }
    if r.spurious() > 0 {
        r.notes.push(format!(
            "spurious: log lines A {} B {}, B adverts {} in {} groups, A silent > MDI in {} groups (longest {:.3}s)",
            r.log_transitions[0], r.log_transitions[1], r.b_adverts.1, r.b_adverts.0,
            r.a_silent_groups, r.a_max_gap_s
        ));
    }
    if !p.keep && (!r.converged || r.spurious() > 0) {
        // Evidence worth keeping.
        topo.keep_files();
    }
    if topo.dir().exists() && (p.keep || !r.converged || r.spurious() > 0) {
        r.notes.push(format!(
            "logs and captures kept in {}",
            topo.dir().display()
        ));
    }
    drop(topo);
    Ok(r)
}

/// `XDP (s0: driver (native XDP), s1: driver (native XDP))` → `XDP (driver (native XDP) on 2
/// interfaces)`; anything else unchanged.
fn short_path(p: &str) -> String {
    let Some(inner) = p.strip_prefix("XDP (").and_then(|s| s.strip_suffix(')')) else {
        return p.to_string();
    };
    let mut modes: Vec<(String, usize)> = Vec::new();
    for part in inner.split("), ") {
        let mode = part.split_once(": ").map_or(part, |(_, m)| m);
        let mode = if mode.ends_with(')') || !mode.contains('(') {
            mode.to_string()
        } else {
            format!("{mode})")
        };
        match modes.iter_mut().find(|(m, _)| *m == mode) {
            Some((_, n)) => *n += 1,
            None => modes.push((mode, 1)),
        }
    }
    let list: Vec<String> = modes
        .iter()
        .map(|(m, n)| format!("{m} on {n} interface{}", if *n == 1 { "" } else { "s" }))
        .collect();
    format!("XDP ({})", list.join(", "))
}

fn fmt_opt(x: Option<f64>, unit: &str, prec: usize) -> String {
    x.map(|v| format!("{v:.prec$}{unit}"))
        .unwrap_or_else(|| "—".into())
}

fn fmt_lat(l: &Option<Lateness>) -> (String, String, String) {
    match l {
        Some(l) if l.n > 0 => (
            format!("{:+.2}", l.p50),
            format!("{:+.2}", l.p99),
            format!(
                "{:+.2} (min {:+.2}){}",
                l.max,
                l.min,
                if l.missing > 0 {
                    format!(" ({} missing)", l.missing)
                } else {
                    String::new()
                }
            ),
        ),
        _ => ("—".into(), "—".into(), "—".into()),
    }
}

fn kib(k: u64) -> String {
    format!("{:.1} MiB", k as f64 / 1024.0)
}

/// A markdown table of single runs (one column per run).
fn table(runs: &[RunResult]) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, f: &dyn Fn(&RunResult) -> String| {
        rows.push((name.to_string(), runs.iter().map(f).collect()));
    };
    row("receive path", &|r| r.path.clone());
    row("CPU % of one core, A (Master)", &|r| {
        format!("{:.2}", r.cpu[0])
    });
    row("CPU % of one core, B (Backup)", &|r| {
        format!("{:.2}", r.cpu[1])
    });
    row("RSS A / B", &|r| {
        format!("{} / {}", kib(r.rss_kib[0]), kib(r.rss_kib[1]))
    });
    row("ready (log line) after spawn", &|r| {
        fmt_opt(r.ready_s, " s", 3)
    });
    row("all groups advertised by A after spawn", &|r| {
        fmt_opt(r.elected_s, " s", 3)
    });
    row("  of which beyond A's Master_Down_Interval", &|r| {
        fmt_opt(r.startup_overhead_s, " s", 3)
    });
    row("groups B advertised during start-up", &|r| {
        r.startup_b_groups.to_string()
    });
    row("converged", &|r| {
        if r.converged { "yes" } else { "NO" }.into()
    });
    row("steady-state window", &|r| format!("{:.0} s", r.window_s));
    row("spurious: state-change log lines A / B", &|r| {
        format!("{} / {}", r.log_transitions[0], r.log_transitions[1])
    });
    row("spurious: B adverts (groups / adverts)", &|r| {
        format!("{} / {}", r.b_adverts.0, r.b_adverts.1)
    });
    row("spurious: A silent > MDI (groups; longest gap)", &|r| {
        format!("{}; {:.3} s", r.a_silent_groups, r.a_max_gap_s)
    });
    row("failover lateness idle p50 / p99 / max (ms)", &|r| {
        let (a, b, c) = fmt_lat(&r.failover_idle);
        format!("{a} / {b} / {c}")
    });
    row("failover lateness with hogs p50 / p99 / max (ms)", &|r| {
        let (a, b, c) = fmt_lat(&r.failover_hogs);
        format!("{a} / {b} / {c}")
    });
    row("time to take over every group (idle / hogs)", &|r| {
        let f = |l: &Option<Lateness>| fmt_opt(l.as_ref().and_then(|l| l.all_taken_s), " s", 3);
        format!("{} / {}", f(&r.failover_idle), f(&r.failover_hogs))
    });
    let mut o = String::from("| |");
    for r in runs {
        let _ = write!(o, " {} |", r.daemon);
    }
    o.push_str("\n|---|");
    for _ in runs {
        o.push_str("---|");
    }
    o.push('\n');
    for (name, vals) in rows {
        let _ = write!(o, "| {name} |");
        for v in vals {
            let _ = write!(o, " {v} |");
        }
        o.push('\n');
    }
    if let [rv, ka] = runs {
        if rv.daemon == "rvrrpd" && ka.daemon == "keepalived" {
            let ratio = |a: f64, b: f64| {
                if a > 0.0 && b.is_finite() {
                    format!("{:.1}×", b / a)
                } else {
                    "—".into()
                }
            };
            o.push_str("\nkeepalived / rvrrpd ratios: ");
            let _ = write!(
                o,
                "CPU A {}, CPU B {}, RSS A {}",
                ratio(rv.cpu[0], ka.cpu[0]),
                ratio(rv.cpu[1], ka.cpu[1]),
                ratio(rv.rss_kib[0] as f64, ka.rss_kib[0] as f64)
            );
            let lat = |f: &dyn Fn(&RunResult) -> Option<f64>| match (f(rv), f(ka)) {
                (Some(a), Some(b)) => format!("{:.2} vs {:.2} ms", a, b),
                _ => "—".into(),
            };
            let _ = writeln!(
                o,
                "; failover p99 idle {}, with hogs {}",
                lat(&|r| r.failover_idle.as_ref().filter(|l| l.n > 0).map(|l| l.p99)),
                lat(&|r| r.failover_hogs.as_ref().filter(|l| l.n > 0).map(|l| l.p99))
            );
        }
    }
    o
}

fn notes(runs: &[RunResult]) -> String {
    let mut o = String::new();
    for r in runs {
        for n in &r.notes {
            let _ = writeln!(o, "- {}: {}", r.daemon, n.replace('\n', " ⏎ "));
        }
        let _ = writeln!(
            o,
            "- {}: tcpdump A: {}; B: {}",
            r.daemon, r.capture_stats[0], r.capture_stats[1]
        );
    }
    o
}

fn machine() -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    let ka = std::process::Command::new("keepalived")
        .arg("--version")
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    format!("nproc {nproc}, kernel {kernel}, {cpu}; {ka}")
}

fn date() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Replaces the section `key` of the markdown file `path` (between marker comments), or
/// appends it.
fn upsert_section(path: &Path, key: &str, body: &str) -> Result<()> {
    let begin = format!("<!-- scale:{key} -->");
    let end = format!("<!-- /scale:{key} -->");
    let mut doc = std::fs::read_to_string(path).unwrap_or_else(|_| {
        "# Performance\n\nResults of `cargo xtask scale` (sections below are rewritten by it).\n".into()
    });
    let block = format!("{begin}\n{}\n{end}", body.trim_end());
    match (doc.find(&begin), doc.find(&end)) {
        (Some(b), Some(e)) if e > b => doc.replace_range(b..e + end.len(), &block),
        _ => {
            if !doc.ends_with('\n') {
                doc.push('\n');
            }
            doc.push('\n');
            doc.push_str(&block);
            doc.push('\n');
        }
    }
    std::fs::write(path, doc).with_context(|| format!("writing {}", path.display()))
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
                    + &args
                        .advert_slots
                        .map(|s| format!("-slots{s}"))
                        .unwrap_or_default()
                    + if args.no_ebpf { "-noebpf" } else { "" }
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
        let body = format!(
            "### CPU vs groups ({} ms adverts, VRRPv{version}, {} s per point)\n\n{when}; {mach}.\n\n`{}`\n\n![CPU % of one core vs groups](performance-cpu.svg)\n\n{t}\n{n}",
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

/// A line chart of CPU % (A solid, B dashed) against groups (log scale), one colour per daemon.
fn svg(runs: &[RunResult], interval_ms: u32, version: u8) -> String {
    let (w, h) = (720.0, 440.0);
    let (l, r, t, b) = (70.0, 180.0, 40.0, 60.0);
    let pw = w - l - r;
    let ph = h - t - b;
    let xs: Vec<f64> = runs.iter().map(|r| r.groups as f64).collect();
    let xmin = xs.iter().copied().fold(f64::INFINITY, f64::min).max(1.0);
    let xmax = xs.iter().copied().fold(0.0, f64::max).max(xmin * 10.0);
    let ymax_raw = runs.iter().flat_map(|r| r.cpu).fold(0.0, f64::max).max(0.1);
    let step = nice_step(ymax_raw / 5.0);
    let ymax = (ymax_raw / step).ceil() * step;
    let x = |g: f64| l + (g.ln() - xmin.ln()) / (xmax.ln() - xmin.ln()) * pw;
    let y = |c: f64| t + ph - c / ymax * ph;
    let mut o = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">CPU % of one core per instance vs VRRP groups ({interval_ms} ms adverts, VRRPv{version})</text>\n",
        w / 2.0
    );
    // Axes and grid.
    let mut v = 0.0;
    while v <= ymax + 1e-9 {
        let yy = y(v);
        let _ = writeln!(
            o,
            "<line x1=\"{l}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            l + pw,
            l - 6.0,
            yy + 4.0,
            trim_num(v)
        );
        v += step;
    }
    let mut ticks = xs.clone();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    for g in &ticks {
        let xx = x(*g);
        let _ = writeln!(
            o,
            "<line x1=\"{xx:.1}\" y1=\"{t}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/><text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{g}</text>",
            t + ph,
            t + ph + 18.0
        );
    }
    let _ = writeln!(
        o,
        "<line x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{:.1}\" stroke=\"black\"/><line x1=\"{l}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\"/>",
        t + ph,
        t + ph,
        l + pw,
        t + ph
    );
    let _ = writeln!(
        o,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">groups (log scale)</text><text transform=\"translate(18 {:.1}) rotate(-90)\" text-anchor=\"middle\">CPU % of one core</text>",
        l + pw / 2.0,
        h - 15.0,
        t + ph / 2.0
    );
    let mut ly = t + 10.0;
    for (name, colour) in [("rvrrpd", "#1f77b4"), ("keepalived", "#d62728")] {
        for (side, dash, label) in [
            (0, "", "A (Master)"),
            (1, " stroke-dasharray=\"6 4\"", "B (Backup)"),
        ] {
            let mut pts: Vec<(f64, f64)> = runs
                .iter()
                .filter(|r| r.daemon == name)
                .map(|r| (r.groups as f64, r.cpu[side]))
                .collect();
            if pts.is_empty() {
                continue;
            }
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let path: Vec<String> = pts
                .iter()
                .map(|(g, c)| format!("{:.1},{:.1}", x(*g), y(*c)))
                .collect();
            let _ = writeln!(
                o,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash} points=\"{}\"/>",
                path.join(" ")
            );
            for (g, c) in &pts {
                let _ = writeln!(
                    o,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{name} {label}: {g} groups, {c:.2} %</title></circle>",
                    x(*g),
                    y(*c)
                );
            }
            let lx = l + pw + 15.0;
            let _ = writeln!(
                o,
                "<line x1=\"{lx:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/><text x=\"{:.1}\" y=\"{:.1}\">{name} {label}</text>",
                lx + 25.0,
                lx + 30.0,
                ly + 4.0
            );
            ly += 20.0;
        }
    }
    o.push_str("</svg>\n");
    o
}

fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    let k = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    k * p
}

fn trim_num(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_replaced() {
        let dir = std::env::temp_dir().join(format!("scale-md-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("p.md");
        std::fs::write(&f, "# P\n\nintro\n").expect("write");
        upsert_section(&f, "k", "one").expect("upsert");
        upsert_section(&f, "j", "two").expect("upsert");
        upsert_section(&f, "k", "three").expect("upsert");
        let s = std::fs::read_to_string(&f).expect("read");
        assert!(s.starts_with("# P\n\nintro\n"));
        assert!(s.contains("three") && s.contains("two") && !s.contains("one"));
        assert!(s.find("three") < s.find("two"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn paths() {
        assert_eq!(
            short_path("XDP (s0: driver (native XDP), s1: driver (native XDP))"),
            "XDP (driver (native XDP) on 2 interfaces)"
        );
        assert_eq!(short_path("raw sockets"), "raw sockets");
    }

    #[test]
    fn steps() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(1.5), 2.0);
        assert_eq!(trim_num(2.50), "2.5");
    }
}
