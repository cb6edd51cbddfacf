//! `cargo xtask apiload`: the client API under load on a router running many groups.
//!
//! Topology ([`rvrrpd_lab::scale`]): namespaces A (priority 200, API on `127.0.0.1:7080`) and
//! B (priority 100) joined by one veth pair per 250 groups, VRRPv2, 1 s adverts; each side's
//! outgoing adverts are captured in its namespace.
//!
//! 1. start A and B, wait until A advertises every group and B is silent (bounded);
//! 2. log in on A's API (a read-only user made by `rvrrpd-pw`), read `/metrics`;
//! 3. poll `GET /run/vrrp` at `--rate` requests/s for `--duration` s from `--connections`
//!    client threads in A's namespace, each with its own keep-alive connection, on a fixed
//!    schedule (request k is due at start + k / rate; a thread that falls behind sends at
//!    once and the request counts as late); every request has a 5 s timeout;
//! 4. read `/metrics` again; report latency percentiles, errors, the timer lateness histogram
//!    before / after / during, A's CPU, and spurious transitions during the window: state
//!    changes in either daemon's log, B adverts on the wire, A silences longer than B's
//!    Master_Down_Interval, and the `transitions` counters of `/run/vrrp`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use rvrrpd_lab::advstream::{AdvertTimes, PcapFollower};
use rvrrpd_lab::config::rvrrpd::ApiSection;
use rvrrpd_lab::scale::{self, Group, ScaleTopo, Side};
use rvrrpd_lab::{netns, procstat, theory, Proc};

const API_ADDR: &str = "127.0.0.1:7080";
const USER: &str = "loadprobe";
const PASS: &str = "loadprobe1";
const VERSION: u8 = 2;
const INTERVAL: f64 = 1.0;
/// How far a capture file may lag behind the wire (tcpdump buffers up to 1 s).
const CAPTURE_LAG: f64 = 1.5;
/// Per-request bound.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Command-line parameters.
#[derive(Debug, Clone)]
pub struct Args {
    /// Number of groups.
    pub groups: usize,
    /// Requests per second (all connections together).
    pub rate: u32,
    /// Polling window, seconds.
    pub duration: u64,
    /// Client threads, one keep-alive connection each.
    pub connections: usize,
    /// Bound on start-up convergence, seconds.
    pub converge_timeout: u64,
    /// Run rvrrpd with `--no-ebpf`.
    pub no_ebpf: bool,
    /// Keep logs and captures.
    pub keep: bool,
    /// rvrrpd binary (default: build target/release/rvrrpd).
    pub rvrrpd: Option<PathBuf>,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Builds the release binaries this run needs; returns (rvrrpd, rvrrpd-pw).
fn binaries(root: &Path, rvrrpd: Option<PathBuf>) -> Result<(PathBuf, PathBuf)> {
    let mut args = vec!["build", "--release", "--bin", "rvrrpd-pw"];
    if rvrrpd.is_none() {
        args.extend(["--bin", "rvrrpd"]);
    }
    super::run(super::cargo().current_dir(root).args(&args))?;
    Ok((
        rvrrpd.unwrap_or_else(|| root.join("target/release/rvrrpd")),
        root.join("target/release/rvrrpd-pw"),
    ))
}

/// Copies a binary aside so that a concurrent rebuild cannot swap it mid-run.
struct BinCopy(PathBuf);

impl BinCopy {
    fn new(src: &Path) -> Result<BinCopy> {
        let dir = std::env::temp_dir().join("rvrrpd-apiload");
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

fn user_line(pw: &Path) -> Result<String> {
    let out = Command::new(pw)
        .args(["-l", "0", USER, PASS, "sha256"])
        .output()
        .with_context(|| format!("running {}", pw.display()))?;
    if !out.status.success() {
        bail!("rvrrpd-pw: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(REQUEST_TIMEOUT))
        .max_idle_connections_per_host(1)
        .build()
        .into()
}

fn url(path: &str) -> String {
    format!("http://{API_ADDR}{path}")
}

/// `POST /auth` from A's namespace; returns the `Cookie` header value.
fn login(ns: &str) -> Result<String> {
    netns::run_in(ns, || -> Result<String> {
        let mut resp = agent()
            .post(&url("/auth"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(format!("user={USER} passwd={PASS}"))?;
        let status = resp.status().as_u16();
        let cookie = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
            .collect::<Vec<_>>()
            .join("; ");
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        if status != 200 || !cookie.contains("token=") {
            bail!("login: {status} {body}");
        }
        Ok(cookie)
    })?
}

/// `GET path` with the session from A's namespace.
fn get(ns: &str, cookie: &str, path: &str) -> Result<String> {
    let (cookie, path) = (cookie.to_string(), path.to_string());
    netns::run_in(ns, move || -> Result<String> {
        let mut resp = agent().get(&url(&path)).header("Cookie", &cookie).call()?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()?;
        if status != 200 {
            bail!("GET {path}: {status} {body}");
        }
        Ok(body)
    })?
}

/// Waits until the API answers (even 401).
fn wait_api(ns: &str, a: &mut Proc, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if !a.is_running() {
            bail!("rvrrpd A exited:\n{}", a.tail(30));
        }
        let up = netns::run_in(ns, || {
            agent()
                .get(&url("/run/vrrp"))
                .config()
                .timeout_global(Some(Duration::from_secs(1)))
                .build()
                .call()
                .is_ok()
        })?;
        if up {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("the API of A did not answer within {timeout:?}")
}

/// The cumulative buckets `(le, count)` of `rvrrpd_timer_lateness_seconds`, with its count
/// and sum.
#[derive(Debug, Clone, Default)]
struct LatenessHist {
    buckets: Vec<(String, u64)>,
    count: u64,
    sum: f64,
}

impl LatenessHist {
    fn parse(text: &str) -> LatenessHist {
        let mut h = LatenessHist::default();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("rvrrpd_timer_lateness_seconds_bucket{le=\"") {
                if let Some((le, v)) = rest.split_once("\"} ") {
                    h.buckets
                        .push((le.to_string(), v.trim().parse().unwrap_or(0)));
                }
            } else if let Some(v) = l.strip_prefix("rvrrpd_timer_lateness_seconds_count ") {
                h.count = v.trim().parse().unwrap_or(0);
            } else if let Some(v) = l.strip_prefix("rvrrpd_timer_lateness_seconds_sum ") {
                h.sum = v.trim().parse().unwrap_or(0.0);
            }
        }
        h
    }

    /// Upper bound of the bucket holding quantile `q` of `self − before`.
    fn quantile_since(&self, before: &LatenessHist, q: f64) -> String {
        let n = self.count.saturating_sub(before.count);
        if n == 0 {
            return "—".into();
        }
        let want = (q * n as f64).ceil() as u64;
        for (i, (le, c)) in self.buckets.iter().enumerate() {
            let c0 = before.buckets.get(i).map(|b| b.1).unwrap_or(0);
            if c.saturating_sub(c0) >= want {
                return format!("≤ {le} s");
            }
        }
        "+Inf".into()
    }
}

/// Sum of the `"transitions":N` counters of a `/run/vrrp` body, and how many groups are
/// Master / Backup.
fn vrrp_summary(body: &str) -> Result<(u64, usize, usize)> {
    let v: serde_json::Value = serde_json::from_str(body).context("parsing /run/vrrp")?;
    let list = v
        .as_array()
        .ok_or_else(|| anyhow!("/run/vrrp: not a list"))?;
    let mut t = 0;
    let (mut m, mut b) = (0, 0);
    for g in list {
        t += g["counters"]["transitions"].as_u64().unwrap_or(0);
        match g["state"].as_str() {
            Some("Master") => m += 1,
            Some("Backup") => b += 1,
            _ => {}
        }
    }
    Ok((t, m, b))
}

/// What one client thread measured.
#[derive(Debug, Default)]
struct ClientStats {
    latencies_us: Vec<u64>,
    errors: Vec<String>,
    late: usize,
}

/// The request schedule shared by the client threads.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    threads: usize,
    total: usize,
    rate: f64,
    start: Instant,
    groups: usize,
}

/// Polls `GET /run/vrrp` on requests `k ≡ index (mod threads)` of the schedule.
fn client(index: usize, s: Schedule, cookie: String, stop: Arc<AtomicBool>) -> ClientStats {
    let Schedule {
        threads,
        total,
        rate,
        start,
        groups,
    } = s;
    let agent = agent();
    let mut st = ClientStats {
        latencies_us: Vec::with_capacity(total / threads + 1),
        ..ClientStats::default()
    };
    let period = Duration::from_secs_f64(1.0 / rate);
    let target = url("/run/vrrp");
    let needle = "\"group\":";
    let mut k = index;
    while k < total && !stop.load(Ordering::Relaxed) {
        let due = start + period * k as u32;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        } else if now - due > period {
            st.late += 1;
        }
        let t = Instant::now();
        let r = agent
            .get(&target)
            .header("Cookie", &cookie)
            .call()
            .map_err(|e| e.to_string())
            .and_then(|mut resp| {
                let status = resp.status().as_u16();
                let body = resp
                    .body_mut()
                    .with_config()
                    .limit(64 << 20)
                    .read_to_string()
                    .map_err(|e| e.to_string())?;
                Ok((status, body))
            });
        let us = t.elapsed().as_micros() as u64;
        match r {
            Ok((200, body)) => {
                let n = body.matches(needle).count();
                if n == groups && body.starts_with('[') && body.ends_with(']') {
                    st.latencies_us.push(us);
                } else {
                    st.errors
                        .push(format!("200 with {n} groups, {} bytes", body.len()));
                }
            }
            Ok((status, body)) => st.errors.push(format!(
                "{status} {}",
                body.chars().take(200).collect::<String>()
            )),
            Err(e) => st.errors.push(e),
        }
        k += threads;
    }
    st
}

fn pct(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

/// Counts rvrrpd state-change log lines.
fn transitions(p: &Proc) -> usize {
    let (m, b) = scale::count_transitions(&format!("{}{}", p.stdout(), p.stderr()));
    m + b
}

/// The whole run.
pub fn run(root: &Path, args: Args) -> Result<()> {
    if args.rate == 0 || args.duration == 0 || args.connections == 0 {
        bail!("--rate, --duration and --connections must be positive");
    }
    let (bin, pw) = binaries(root, args.rvrrpd.clone())?;
    let bin = BinCopy::new(&bin)?;
    let users = [user_line(&pw)?];
    let groups = scale::groups(args.groups);
    eprintln!(
        "apiload: {} groups (VRRPv{VERSION}, {INTERVAL} s), {} req/s for {} s over {} connection(s)",
        args.groups, args.rate, args.duration, args.connections
    );
    let mut topo = ScaleTopo::build(args.groups).context("building the topology")?;
    if args.keep {
        topo.keep_files();
    }
    let mut cap_a = topo.capture_out(Side::A, "a", 65536)?;
    let mut cap_b = topo.capture_out(Side::B, "b", 65536)?;
    let (mut fa, mut fb) = (
        PcapFollower::new(cap_a.file()),
        PcapFollower::new(cap_b.file()),
    );
    let (mut ta, mut tb) = (AdvertTimes::default(), AdvertTimes::default());
    let extra: Vec<String> = if args.no_ebpf {
        vec!["--no-ebpf".into()]
    } else {
        Vec::new()
    };
    let conf_a = scale::rvrrpd_conf(topo.dir(), "a", Side::A, args.groups, VERSION, INTERVAL)
        .api(ApiSection::new(API_ADDR, &users));
    let conf_b = scale::rvrrpd_conf(topo.dir(), "b", Side::B, args.groups, VERSION, INTERVAL);
    let t0 = now();
    let mut a = scale::spawn_rvrrpd(&topo, Side::A, &bin.0, "a", &conf_a, "", &extra)?;
    let mut b = scale::spawn_rvrrpd(&topo, Side::B, &bin.0, "b", &conf_b, "", &extra)?;
    let ns = topo.ns_a.clone();

    // 1. Convergence.
    let bound = Duration::from_secs(args.converge_timeout);
    let start = Instant::now();
    let last = |t: &AdvertTimes, g: &Group, side| t.of(g.src(side), g.vrid).last().copied();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        for (n, p) in [("A", &mut a), ("B", &mut b)] {
            if !p.is_running() {
                topo.keep_files();
                bail!("rvrrpd {n} exited:\n{}", p.tail(30));
            }
        }
        fa.poll(|x| ta.add(x))?;
        fb.poll(|x| tb.add(x))?;
        let t = now();
        let a_ok = groups
            .iter()
            .filter(|g| {
                last(&ta, g, Side::A).is_some_and(|l| l >= t - 3.0 * INTERVAL - CAPTURE_LAG)
            })
            .count();
        let b_on = groups
            .iter()
            .filter(|g| {
                last(&tb, g, Side::B).is_some_and(|l| l >= t - 2.0 * INTERVAL - CAPTURE_LAG)
            })
            .count();
        if a_ok == groups.len() && b_on == 0 {
            break;
        }
        if start.elapsed() > bound {
            topo.keep_files();
            bail!(
                "not converged after {bound:?}: A advertises {a_ok}/{} groups, B {b_on}",
                groups.len()
            );
        }
    }
    let path = a
        .stdout()
        .lines()
        .chain(a.stderr().lines())
        .find_map(|l| l.split("receive path: ").nth(1).map(str::to_string))
        .unwrap_or_else(|| "?".into());
    eprintln!(
        "apiload: converged {:.1}s after start (receive path: {path})",
        now() - t0
    );
    wait_api(&ns, &mut a, Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_secs(2));

    // 2. Before.
    let cookie = login(&ns)?;
    let m0 = LatenessHist::parse(&get(&ns, &cookie, "/metrics")?);
    let (tr0, masters, backups) = vrrp_summary(&get(&ns, &cookie, "/run/vrrp")?)?;
    if masters != args.groups {
        eprintln!(
            "apiload: warning: A's API shows {masters} Master / {backups} Backup of {} groups",
            args.groups
        );
    }
    let la0 = transitions(&a);
    let lb0 = transitions(&b);
    let ua0 = procstat::group_usage(a.pid())?;

    // 3. Load.
    let total = (u64::from(args.rate) * args.duration) as usize;
    let stop = Arc::new(AtomicBool::new(false));
    let w0 = now();
    let begin = Instant::now() + Duration::from_millis(50);
    let mut handles = Vec::new();
    let sched = Schedule {
        threads: args.connections,
        total,
        rate: f64::from(args.rate),
        start: begin,
        groups: args.groups,
    };
    for i in 0..args.connections {
        let (cookie, stop) = (cookie.clone(), Arc::clone(&stop));
        handles.push(netns::spawn_in(&ns, move || {
            client(i, sched, cookie, stop)
        })?);
    }
    // Bounded: the schedule plus the per-request timeout, then the clients are told to stop.
    let deadline = Duration::from_secs(args.duration) + REQUEST_TIMEOUT * 2;
    while handles.iter().any(|h| !h.is_finished()) && begin.elapsed() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    let mut all = ClientStats::default();
    for h in handles {
        let s = h
            .join()
            .map_err(|_| anyhow!("a client thread panicked"))??;
        all.latencies_us.extend(s.latencies_us);
        all.errors.extend(s.errors);
        all.late += s.late;
    }
    let elapsed = begin.elapsed().as_secs_f64();
    let w1 = now();
    let ua1 = procstat::group_usage(a.pid())?;

    // 4. After.
    let m1 = LatenessHist::parse(&get(&ns, &cookie, "/metrics")?);
    let (tr1, masters1, _) = vrrp_summary(&get(&ns, &cookie, "/run/vrrp")?)?;
    let la1 = transitions(&a);
    let lb1 = transitions(&b);
    std::thread::sleep(Duration::from_secs_f64(CAPTURE_LAG + 0.5));
    drop(a);
    drop(b);
    let sa = cap_a.stop()?;
    let sb = cap_b.stop()?;
    fa.poll(|x| ta.add(x))?;
    fb.poll(|x| tb.add(x))?;
    let mdi_b =
        theory::master_down_interval(VERSION, 100, Duration::from_secs_f64(INTERVAL)).as_secs_f64();
    let (mut b_groups, mut b_adverts, mut a_silent, mut a_gap) = (0, 0, 0, 0.0f64);
    for g in &groups {
        let n = tb.count_in(g.src(Side::B), g.vrid, w0, w1);
        if n > 0 {
            b_groups += 1;
            b_adverts += n;
        }
        let gap = ta.max_gap_in(g.src(Side::A), g.vrid, w0, w1);
        a_gap = a_gap.max(gap);
        if gap > mdi_b {
            a_silent += 1;
        }
    }

    // Report.
    let mut lat = all.latencies_us.clone();
    lat.sort_unstable();
    let sent = lat.len() + all.errors.len();
    println!();
    println!(
        "apiload: {} groups, VRRPv{VERSION} {INTERVAL} s, receive path {path}; GET /run/vrrp at \
         {} req/s for {} s over {} keep-alive connection(s)",
        args.groups, args.rate, args.duration, args.connections
    );
    println!(
        "requests: {sent} sent of {total} scheduled in {elapsed:.1}s ({:.1} req/s achieved), \
         {} ok, {} errors, {} started more than one period late",
        sent as f64 / elapsed.max(1e-9),
        lat.len(),
        all.errors.len(),
        all.late
    );
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        pct(&lat, 0.5),
        pct(&lat, 0.9),
        pct(&lat, 0.99),
        lat.last().map(|&x| x as f64 / 1000.0).unwrap_or(f64::NAN)
    );
    if !all.errors.is_empty() {
        let mut e = all.errors.clone();
        e.sort();
        e.dedup();
        println!(
            "error kinds ({}): {}",
            e.len(),
            e.iter().take(5).cloned().collect::<Vec<_>>().join(" | ")
        );
    }
    println!(
        "rvrrpd A CPU during the window: {:.1}% of one core",
        procstat::cpu_percent(&ua0, &ua1)
    );
    println!(
        "timer lateness (rvrrpd_timer_lateness_seconds, cumulative): before count {} sum {:.6}s; \
         after count {} sum {:.6}s",
        m0.count, m0.sum, m1.count, m1.sum
    );
    println!("  le            before      after    during");
    for (i, (le, c1)) in m1.buckets.iter().enumerate() {
        let c0 = m0.buckets.get(i).map(|x| x.1).unwrap_or(0);
        println!("  {le:<10} {c0:>10} {c1:>10} {:>9}", c1.saturating_sub(c0));
    }
    let n = m1.count.saturating_sub(m0.count);
    println!(
        "  during the window: {n} firings, mean {:.1} µs, p50 {}, p99 {}, max bucket {}",
        if n > 0 {
            (m1.sum - m0.sum) / n as f64 * 1e6
        } else {
            f64::NAN
        },
        m1.quantile_since(&m0, 0.5),
        m1.quantile_since(&m0, 0.99),
        m1.quantile_since(&m0, 1.0)
    );
    let spurious = (la1 - la0) + (lb1 - lb0) + b_groups + a_silent + (tr1 - tr0) as usize;
    println!(
        "spurious transitions during the window: {spurious} (log lines A {} B {}; B adverts {b_adverts} \
         in {b_groups} groups; A silent > Master_Down_Interval(B) {mdi_b:.3}s in {a_silent} groups, \
         longest A gap {a_gap:.3}s; /run/vrrp transitions counters {tr0} → {tr1}; Master groups \
         {masters} → {masters1})",
        la1 - la0,
        lb1 - lb0
    );
    println!("captures: A {sa}; B {sb}");
    if spurious > 0 || !all.errors.is_empty() {
        topo.keep_files();
    }
    if args.keep || spurious > 0 || !all.errors.is_empty() {
        println!("logs and captures kept in {}", topo.dir().display());
    }
    Ok(())
}
