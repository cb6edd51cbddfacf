//! Helpers shared by the rvrrpd integration tests (root, network namespaces).
//!
//! Each test builds its own [`Lab`]; everything is torn down on drop, also on panic (then the
//! logs and pcap files are kept and their directory printed).

#![allow(dead_code)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rvrrpd_lab::config::rvrrpd::{self, RvrrpdConf, VRouter};
use rvrrpd_lab::{kernel, wait_for, wait_until, Capture, Lab, Node, Proc, Trace};

/// The daemon under test; panics with a clear message when it does not run.
pub fn daemon() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_rvrrpd"));
    match Command::new(&bin).arg("--version").output() {
        Ok(o) if o.status.success() && !(o.stdout.is_empty() && o.stderr.is_empty()) => bin,
        Ok(o) => panic!(
            "{} --version does not work (status {}, output {:?}): is the daemon built?",
            bin.display(),
            o.status,
            String::from_utf8_lossy(&o.stdout)
        ),
        Err(e) => panic!("cannot run {}: {e}", bin.display()),
    }
}

/// Seconds since the epoch (the capture's clock).
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A lab that holds the per-binary test lock: tests of one file run one at a time even under
/// plain `cargo test` (timing assertions at 100 ms adverts do not share 2 cores well).
pub struct SerialLab {
    // Declared first: torn down before the lock is released.
    lab: Lab,
    _guard: MutexGuard<'static, ()>,
}

impl std::ops::Deref for SerialLab {
    type Target = Lab;
    fn deref(&self) -> &Lab {
        &self.lab
    }
}

static SERIAL: Mutex<()> = Mutex::new(());

/// The per-binary test lock, for tests that build their own topology (scale tests).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh lab with `n` routers (waits for the other tests of this binary to finish).
pub fn lab(n: usize) -> SerialLab {
    let guard = serial();
    SerialLab {
        lab: Lab::builder()
            .routers(n)
            .build()
            .expect("building the lab (root needed)"),
        _guard: guard,
    }
}

/// A configuration for router `name`, pid/logs in the lab dir.
pub fn conf(lab: &Lab, name: &str, v: VRouter) -> RvrrpdConf {
    RvrrpdConf::new(lab.dir(), name).vrouter(v)
}

/// Starts rvrrpd in `node` with `conf` (debug level 3).
pub fn start(lab: &Lab, node: &Node, name: &str, conf: &RvrrpdConf) -> Proc {
    rvrrpd::spawn(lab, &node.ns, &daemon(), name, conf, 3).expect("spawning rvrrpd")
}

/// Log tails of `procs` for assertion messages.
pub fn diag(procs: &[&Proc]) -> String {
    procs
        .iter()
        .map(|p| p.tail(25))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The routers sending adverts of `vrid` with non-zero priority since `since`, by name
/// (unknown sources by address).
pub fn sender_names(lab: &Lab, t: &Trace, vrid: u8, v6: bool, since: f64) -> Vec<String> {
    t.senders(vrid, v6, since)
        .into_iter()
        .map(|ip| {
            lab.owner_of(ip)
                .map(|n| n.name.clone())
                .unwrap_or_else(|| ip.to_string())
        })
        .collect()
}

/// Waits until `who` is the only router advertising `vrid` (over the last 3 intervals, at
/// least 3 of its adverts seen); returns its advert source address and the trace.
pub fn wait_sole_master(
    lab: &Lab,
    cap: &Capture,
    vrid: u8,
    v6: bool,
    who: &Node,
    interval: f64,
    procs: &[&Proc],
) -> (IpAddr, Trace) {
    let timeout = Duration::from_secs_f64(10.0 * interval + 15.0);
    let r = wait_for(
        &format!("{} as the only Master of VRID {vrid}", who.name),
        timeout,
        Duration::from_millis(100),
        || {
            let t = cap.snapshot().ok()?;
            let since = now() - 3.0 * interval - 0.2;
            let s = t.senders(vrid, v6, since);
            let [ip] = s.as_slice() else { return None };
            let owner = lab.owner_of(*ip)?;
            (owner.name == who.name && t.count_from(vrid, *ip, since, f64::MAX) >= 3)
                .then_some((*ip, t))
        },
    );
    match r {
        Ok((v, _)) => {
            expect_receive_path(procs);
            v
        }
        Err(e) => {
            let t = cap.snapshot().unwrap_or_default();
            panic!(
                "{e}\nsenders seen: {:?}\nlast adverts:\n{}\n{}",
                sender_names(lab, &t, vrid, v6, 0.0),
                t.summary(15),
                diag(procs)
            )
        }
    }
}

/// Checks that every rvrrpd among `procs` receives on the path this run is meant to cover:
/// the XDP fast path by default, the eBPF socket filter with `RVRRPD_NO_XDP`, classic BPF
/// with `RVRRPD_NO_EBPF`.
pub fn expect_receive_path(procs: &[&Proc]) {
    let set = |var: &str| std::env::var_os(var).is_some_and(|v| v != "0");
    let want = if set("RVRRPD_NO_EBPF") {
        "receive path: raw sockets + classic BPF"
    } else if set("RVRRPD_NO_XDP") {
        "receive path: raw sockets + eBPF socket filter"
    } else {
        "receive path: XDP"
    };
    for p in procs {
        let out = p.output();
        if out.contains("rvrrpd") && out.contains("receive path:") {
            assert!(
                out.contains(want),
                "expected \"{want}\" in the daemon log:\n{}",
                p.tail(20)
            );
        }
    }
}

/// Waits until `vip` is (or is no longer) assigned in `node`.
pub fn wait_vip(node: &Node, vip: IpAddr, present: bool, timeout: Duration, procs: &[&Proc]) {
    let what = format!(
        "{vip} {} on {}",
        if present { "present" } else { "absent" },
        node.name
    );
    if let Err(e) = wait_until(&what, timeout, Duration::from_millis(20), || {
        kernel::has_address(&node.ns, vip).unwrap_or(!present) == present
    }) {
        panic!("{e}\n{}", diag(procs));
    }
}

/// Waits until the capture shows `new` advertising `vrid` after `after`, then returns the
/// failover (old's last advert → new's first advert).
pub fn wait_failover(
    cap: &Capture,
    vrid: u8,
    old: IpAddr,
    new_candidates: impl Fn(IpAddr) -> bool,
    after: f64,
    timeout: Duration,
    procs: &[&Proc],
) -> rvrrpd_lab::Failover {
    let v6 = old.is_ipv6();
    let r = wait_for(
        "a takeover on the capture",
        timeout,
        Duration::from_millis(50),
        || {
            let t = cap.snapshot().ok()?;
            let new = t
                .senders(vrid, v6, after)
                .into_iter()
                .find(|ip| *ip != old && new_candidates(*ip))?;
            t.failover(vrid, old, new, after)
        },
    );
    match r {
        Ok((f, _)) => f,
        Err(e) => panic!(
            "{e}\n{}\n{}",
            cap.snapshot().unwrap_or_default().summary(20),
            diag(procs)
        ),
    }
}

/// Asserts that `src` never sent two adverts of `vrid` closer together than `interval` (less
/// 10 ms of timer jitter) anywhere on the trace: phase spreading may delay an advert, never
/// bring it forward. Returns the smallest gap (seconds).
pub fn assert_no_close_adverts(
    t: &Trace,
    vrid: u8,
    src: IpAddr,
    interval: f64,
    procs: &[&Proc],
) -> f64 {
    let gaps = t.intervals(vrid, src, 0.0, f64::MAX);
    assert!(!gaps.is_empty(), "no two adverts of {src} on the trace");
    let min = gaps.iter().copied().fold(f64::MAX, f64::min);
    assert!(
        min >= interval - 0.010,
        "{src} sent adverts of VRID {vrid} {min:.4}s apart (interval {interval}s); gaps: {:?}\n{}\n{}",
        gaps.iter().map(|g| format!("{g:.3}")).collect::<Vec<_>>(),
        t.summary(20),
        diag(procs)
    );
    min
}

/// Sends SIGHUP to `p` and waits (bounded) for a log line containing `marker` (e.g.
/// `"reloaded: "` or `"reload refused"`); returns the last such line.
pub fn reload_and_wait(p: &mut Proc, marker: &str) -> String {
    p.signal(rvrrpd_lab::Signal::Hup).expect("SIGHUP");
    wait_until(
        &format!("\"{marker}\" in the log after SIGHUP"),
        Duration::from_secs(10),
        Duration::from_millis(50),
        || p.output().contains(marker),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", p.tail(20)));
    p.output()
        .lines()
        .rfind(|l| l.contains(marker))
        .unwrap_or_default()
        .to_string()
}
