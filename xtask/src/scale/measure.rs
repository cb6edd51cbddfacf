//! One run of one daemon: both routers started on the scale topology (rvrrpd or keepalived
//! configurations), start-up, steady state and failovers measured into a [`RunResult`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rvrrpd_lab::procstat::{self, GroupUsage};
use rvrrpd_lab::scale::{self, Hogs, ScaleTopo, Side};
use rvrrpd_lab::{Proc, Signal};

use super::attack::{self, Flood};
use super::observe::{lateness, now, wait_converged, wait_takeover, Observer, CAPTURE_LAG};
use super::report::short_path;
use super::{AttackResult, Daemon, Params, RunResult, WindowChecks};

/// Copies the rvrrpd binary aside so that a concurrent rebuild cannot swap it mid-run.
pub(super) struct BinCopy(pub(super) PathBuf);

impl BinCopy {
    pub(super) fn new(src: &Path) -> Result<BinCopy> {
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
pub(super) struct Routers<'a> {
    topo: &'a ScaleTopo,
    daemon: Daemon,
    bin: &'a Path,
    p: Params,
    a: Option<Proc>,
    b: Option<Proc>,
    a_starts: usize,
}

impl Routers<'_> {
    pub(super) fn spawn(&mut self, side: Side) -> Result<Proc> {
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
                        .unwrap_or_default()
                    // The captures see only adverts sent on the AF_PACKET socket; the
                    // daemon's default (`auto`) sends through XDP where it can.
                    + if p.tx_xdp { "" } else { "tx_path = \"packet\"\n" };
                scale::spawn_rvrrpd(self.topo, side, self.bin, &name, &conf, &head, &extra)?
            }
            Daemon::Keepalived => {
                let conf = scale::keepalived_conf(
                    side,
                    p.groups,
                    p.version,
                    p.interval,
                    p.realtime.filter(|&r| r > 0),
                );
                scale::spawn_keepalived(self.topo, side, &name, &conf)?
            }
        })
    }

    pub(super) fn alive(&mut self) -> Result<()> {
        for (side, p) in [("A", &mut self.a), ("B", &mut self.b)] {
            if let Some(p) = p {
                if !p.is_running() {
                    bail!("{} on {side} exited:\n{}", self.daemon.name(), p.tail(30));
                }
            }
        }
        Ok(())
    }

    pub(super) fn log(p: &Option<Proc>) -> String {
        p.as_ref()
            .map(|p| format!("{}{}", p.stdout(), p.stderr()))
            .unwrap_or_default()
    }
}

pub(super) fn usage(p: &Option<Proc>) -> Result<GroupUsage> {
    let pid = p.as_ref().map(Proc::pid).context("daemon not running")?;
    Ok(procstat::group_usage(pid)?)
}

pub(super) fn transitions(p: &Option<Proc>) -> usize {
    let (m, b) = scale::count_transitions(&Routers::log(p));
    m + b
}

/// One complete run of `daemon`.
pub(super) fn run_one(bin: &Path, daemon: Daemon, p: Params) -> Result<RunResult> {
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
    if p.napi_threads {
        topo.thread_napi().context("threaded NAPI on the links")?;
    }
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
    let conv = if p.tx_xdp && daemon == Daemon::Rvrrpd {
        // A's adverts leave through XDP and bypass its capture: wait for the election by
        // the clock; B's log still shows any transition.
        std::thread::sleep(Duration::from_secs_f64(p.mdi(200) + 3.0 * p.interval + 2.0));
        rt.alive()?;
        Err(
            "tx_path = auto (XDP): A's adverts bypass its capture, so start-up, gaps and failovers \
             are not measured; spurious transitions come from the logs only"
                .to_string(),
        )
    } else {
        wait_converged(
            &mut obs,
            &groups,
            t0,
            &p,
            Duration::from_secs(p.converge_timeout),
            &mut || rt.alive(),
        )?
    };
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
    let un0 = procstat::napi_usage();
    let la0 = transitions(&rt.a);
    let lb0 = transitions(&rt.b);
    let wstart = Instant::now();
    while wstart.elapsed() < Duration::from_secs(p.duration) {
        std::thread::sleep(Duration::from_millis(500));
        rt.alive()?;
    }
    let ua1 = usage(&rt.a)?;
    let ub1 = usage(&rt.b)?;
    let un1 = procstat::napi_usage();
    let w1 = now();
    if p.napi_threads {
        r.napi_cpu = Some(procstat::cpu_percent(&un0, &un1));
    }
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

    // 2b. The same under a flood of forged adverts.
    let mut attack_window = None;
    if p.attack > 0 {
        let to_b = Flood::start(
            &topo,
            Side::A,
            attack::frames(&groups, Side::B, p.version, p.interval),
            p.attack,
        )?;
        let to_a = Flood::start(
            &topo,
            Side::B,
            attack::frames(&groups, Side::A, p.version, p.interval),
            p.attack,
        )?;
        let stats = attack::BpfStats::enable();
        let link = scale::link_name(0);
        let xdp = |side: Side| stats.as_ref().and_then(|s| s.xdp(topo.ns(side), &link));
        let (xa0, xb0) = (xdp(Side::A), xdp(Side::B));
        let wa0 = now();
        let (ua0, ub0) = (usage(&rt.a)?, usage(&rt.b)?);
        let (la0, lb0) = (transitions(&rt.a), transitions(&rt.b));
        let wstart = Instant::now();
        while wstart.elapsed() < Duration::from_secs(p.duration) {
            std::thread::sleep(Duration::from_millis(500));
            rt.alive()?;
        }
        let (ua1, ub1) = (usage(&rt.a)?, usage(&rt.b)?);
        let wa1 = now();
        let (xa1, xb1) = (xdp(Side::A), xdp(Side::B));
        drop(stats);
        let prog = |x0: Option<(u64, u64)>, x1: Option<(u64, u64)>| {
            let ((t0, c0), (t1, c1)) = (x0?, x1?);
            let (t, c) = (t1.checked_sub(t0)?, c1.checked_sub(c0)?);
            let per_run = if c > 0 { t as f64 / c as f64 } else { 0.0 };
            Some((c, per_run, t as f64 / 1e9 / (wa1 - wa0) * 100.0))
        };
        let sent = [to_a.stop()?, to_b.stop()?];
        let a = AttackResult {
            rate: p.attack,
            sent,
            window_s: wa1 - wa0,
            cpu: [
                procstat::cpu_percent(&ua0, &ua1),
                procstat::cpu_percent(&ub0, &ub1),
            ],
            xdp: [prog(xa0, xa1), prog(xb0, xb1)],
            checks: WindowChecks {
                log_transitions: [
                    transitions(&rt.a).saturating_sub(la0),
                    transitions(&rt.b).saturating_sub(lb0),
                ],
                ..WindowChecks::default()
            },
        };
        eprintln!(
            "scale: {}: under attack ({} forged/s each, sent A {} B {}): CPU A {:.2}% B {:.2}%",
            daemon.name(),
            p.attack,
            sent[0],
            sent[1],
            a.cpu[0],
            a.cpu[1]
        );
        r.attack = Some(a);
        attack_window = Some((wa0, wa1));
        std::thread::sleep(Duration::from_secs(2));
    }

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
    // With the XDP transmit path the captures hold nothing to check (see the note).
    let tx_xdp = p.tx_xdp && daemon == Daemon::Rvrrpd;
    let steady = if tx_xdp {
        WindowChecks::default()
    } else {
        wire_checks(&obs, &groups, w0, w1, mdi_b)
    };
    r.b_adverts = steady.b_adverts;
    r.a_silent_groups = steady.a_silent_groups;
    r.a_max_gap_s = steady.a_max_gap_s;
    if let (Some(a), Some((wa0, wa1))) = (r.attack.as_mut(), attack_window) {
        let log_transitions = a.checks.log_transitions;
        if !tx_xdp {
            a.checks = WindowChecks {
                log_transitions,
                ..wire_checks(&obs, &groups, wa0, wa1, mdi_b)
            };
        }
        if a.checks.spurious() > 0 {
            r.notes
                .push(format!("spurious under attack: {:?}", a.checks));
        }
    }
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
    let attack_spurious = r.attack.as_ref().map_or(0, |a| a.checks.spurious());
    if !p.keep && (!r.converged || r.spurious() + attack_spurious > 0) {
        // Evidence worth keeping.
        topo.keep_files();
    }
    if topo.dir().exists() && (p.keep || !r.converged || r.spurious() + attack_spurious > 0) {
        r.notes.push(format!(
            "logs and captures kept in {}",
            topo.dir().display()
        ));
    }
    drop(topo);
    Ok(r)
}

/// B adverts and A silences between `w0` and `w1` (the log lines are counted by the caller).
fn wire_checks(
    obs: &Observer,
    groups: &[scale::Group],
    w0: f64,
    w1: f64,
    mdi_b: f64,
) -> WindowChecks {
    let mut c = WindowChecks::default();
    for g in groups {
        let n = obs.tb.count_in(g.src(Side::B), g.vrid, w0, w1);
        if n > 0 {
            c.b_adverts.0 += 1;
            c.b_adverts.1 += n;
        }
        let gap = obs.ta.max_gap_in(g.src(Side::A), g.vrid, w0, w1);
        c.a_max_gap_s = c.a_max_gap_s.max(gap);
        if gap > mdi_b {
            c.a_silent_groups += 1;
        }
    }
    c
}
