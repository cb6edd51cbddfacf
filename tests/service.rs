//! Running as a service: the sd_notify protocol as systemd sees it (READY, STATUS, WATCHDOG,
//! RELOADING, STOPPING) on a socket of our own, the watchdog stopping while a worker thread is
//! held in a ptrace stop, the SIGUSR1 / `rvrrpd --dump` state dump, and
//! the systemd unit in conf/: verified by `systemd-analyze`, and its capability set proven
//! sufficient by running the daemon with exactly that bounding set (what systemd applies)
//! through `setpriv`. PID 1 here is not systemd, so nothing here needs a running systemd.
//!
//! Needs root. Run alone: `cargo test --test service -- --nocapture`.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use common::*;
use rvrrpd_lab::config::rvrrpd::VRouter;
use rvrrpd_lab::{cmd, kernel, Lab, Proc, Signal};

const UNIT: &str = include_str!("../conf/rvrrpd.service");

/// A notify socket bound where the daemon's `NOTIFY_SOCKET` points, keeping every message.
struct Listener {
    sock: UnixDatagram,
    path: PathBuf,
    /// (arrival, message), in order.
    seen: Vec<(Instant, String)>,
}

impl Listener {
    fn bind(path: PathBuf) -> Listener {
        let sock =
            UnixDatagram::bind(&path).unwrap_or_else(|e| panic!("binding {}: {e}", path.display()));
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        Listener {
            sock,
            path,
            seen: Vec::new(),
        }
    }

    /// Receives for `d`.
    fn collect(&mut self, d: Duration) {
        let end = Instant::now() + d;
        let mut buf = [0u8; 4096];
        while Instant::now() < end {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.push((Instant::now(), msg));
            }
        }
    }

    /// The first message from index `from` on that satisfies `pred`, waiting up to `timeout`;
    /// returns its index.
    fn wait(
        &mut self,
        what: &str,
        from: usize,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
        proc: &Proc,
    ) -> usize {
        let end = Instant::now() + timeout;
        loop {
            if let Some(i) = self.seen[from.min(self.seen.len())..]
                .iter()
                .position(|(_, m)| pred(m))
            {
                return from + i;
            }
            if Instant::now() >= end {
                panic!(
                    "no {what} within {timeout:?}; messages: {:?}\n{}",
                    self.messages(),
                    proc.tail(30)
                );
            }
            self.collect(Duration::from_millis(50));
        }
    }

    fn messages(&self) -> Vec<&str> {
        self.seen.iter().map(|(_, m)| m.as_str()).collect()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A fast Master (priority 200, VRRPv3 at 100 ms) on router 1.
fn master(lab: &Lab, name: &str, vrid: u8) -> rvrrpd_lab::config::rvrrpd::RvrrpdConf {
    conf(
        lab,
        name,
        VRouter::new(vrid, "eth0", Lab::vip4(vrid))
            .priority(200)
            .version(3)
            .advert(0.1),
    )
}

fn spawn_with(lab: &Lab, ns: &str, name: &str, prefix: &[String], file: &Path) -> Proc {
    rvrrpd_lab::config::rvrrpd::spawn_file(lab, ns, prefix, &daemon(), name, file, 3)
        .expect("spawning rvrrpd")
}

fn signal(proc: &Proc, sig: libc::c_int) {
    // SAFETY: kill(2) on the pid of a process this test spawned and still holds.
    let rc = unsafe { libc::kill(proc.pid() as i32, sig) };
    assert_eq!(rc, 0, "signal {sig} to {}", proc.pid());
}

#[test]
fn notify_ready_status_watchdog_reload_and_stopping() {
    let lab = lab(1);
    let r1 = lab.router(1).clone();
    let c = master(&lab, "n1", 21);
    let file = lab.path("n1.toml");
    c.write(&file).expect("write config");
    let mut l = Listener::bind(lab.path("notify.sock"));
    let watchdog_usec = 600_000u64;
    let env = [
        "env".to_string(),
        format!("NOTIFY_SOCKET={}", l.path.display()),
        format!("WATCHDOG_USEC={watchdog_usec}"),
    ];
    let mut p = spawn_with(&lab, &r1.ns, "n1", &env, &file);

    let ready = l.wait(
        "READY=1",
        0,
        Duration::from_secs(15),
        |m| m.lines().any(|x| x == "READY=1"),
        &p,
    );
    let msg = l.seen[ready].1.clone();
    assert!(
        msg.contains("STATUS=1 virtual router(s): "),
        "READY=1 comes with the first status: {msg:?}"
    );
    // Ready means started: the pid file (what `rvrrpd --dump` needs) is written by then.
    let pid = std::fs::read_to_string(&c.pid).expect("pid file at READY=1");
    assert_eq!(pid.trim(), p.pid().to_string(), "pid file vs. process");
    // The Master is reported once it is one (refreshed every second, only on change).
    let st = l.wait(
        "STATUS with one Master",
        ready,
        Duration::from_secs(10),
        |m| m.contains("STATUS=1 virtual router(s): 1 master, 0 backup, 0 fault, 0 init, 0 down"),
        &p,
    );
    wait_vip(
        &r1,
        Lab::vip4(21).into(),
        true,
        Duration::from_secs(5),
        &[&p],
    );

    // Watchdog: pings at half of WATCHDOG_USEC, never a gap near the full period.
    let start = l.seen.len();
    l.collect(Duration::from_secs(3));
    let pings: Vec<Instant> = l.seen[start..]
        .iter()
        .filter(|(_, m)| m.lines().any(|x| x == "WATCHDOG=1"))
        .map(|(t, _)| *t)
        .collect();
    assert!(
        pings.len() >= 6,
        "{} WATCHDOG=1 in 3 s at a 300 ms period: {:?}",
        pings.len(),
        l.messages()
    );
    let max_gap = pings
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    assert!(
        // systemd's criterion: no gap of a whole WATCHDOG_USEC.
        max_gap < Duration::from_micros(watchdog_usec),
        "watchdog gap {max_gap:?} with WATCHDOG_USEC={watchdog_usec}"
    );
    // Status lines are not repeated while nothing changes.
    let repeats = l.seen[st + 1..]
        .iter()
        .filter(|(_, m)| m.contains("STATUS=") && !m.contains("READY=1"))
        .count();
    assert_eq!(repeats, 0, "unchanged STATUS resent: {:?}", l.messages());

    // SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 again.
    let before = l.seen.len();
    p.signal(Signal::Hup).expect("SIGHUP");
    let rel = l.wait(
        "RELOADING=1",
        before,
        Duration::from_secs(5),
        |m| m.lines().any(|x| x == "RELOADING=1"),
        &p,
    );
    let usec: u64 = l.seen[rel]
        .1
        .lines()
        .find_map(|x| x.strip_prefix("MONOTONIC_USEC="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("RELOADING=1 without MONOTONIC_USEC: {:?}", l.seen[rel].1));
    // SAFETY: clock_gettime writes into the timespec we pass.
    let now_usec = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
        ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
    };
    assert!(
        usec <= now_usec && now_usec - usec < 5_000_000,
        "MONOTONIC_USEC={usec}, now {now_usec}"
    );
    l.wait(
        "READY=1 after the reload",
        rel + 1,
        Duration::from_secs(5),
        |m| m.lines().any(|x| x == "READY=1"),
        &p,
    );

    // SIGTERM: STOPPING=1 first, then a clean exit, no watchdog ping after it.
    let before = l.seen.len();
    p.signal(Signal::Term).expect("SIGTERM");
    let stop = l.wait(
        "STOPPING=1",
        before,
        Duration::from_secs(5),
        |m| m.lines().any(|x| x == "STOPPING=1"),
        &p,
    );
    let status = p.wait_exit(Duration::from_secs(10)).expect("exit");
    assert!(status.success(), "exit status {status}\n{}", p.tail(20));
    l.collect(Duration::from_millis(200));
    assert!(
        !l.seen[stop + 1..]
            .iter()
            .any(|(_, m)| m.contains("WATCHDOG=1")),
        "watchdog after STOPPING=1: {:?}",
        l.messages()
    );
    assert!(!c.pid.exists(), "pid file left behind");
}

/// Runs `rvrrpd ARGS` on the host; (success, stdout, stderr, elapsed).
fn rvrrpd(args: &[&str]) -> (bool, String, String, Duration) {
    let bin = daemon().to_string_lossy().into_owned();
    let mut argv = vec![bin.as_str()];
    argv.extend_from_slice(args);
    let t = Instant::now();
    let o = cmd::outcome(None, &argv).expect("running rvrrpd");
    (o.success, o.stdout, o.stderr, t.elapsed())
}

#[test]
fn sigusr1_dump_of_a_master_and_clear_dump_errors() {
    let lab = lab(1);
    let r1 = lab.router(1).clone();
    let vip = Lab::vip4(22);
    let c = master(&lab, "d1", 22);
    // In a directory that does not exist yet: the daemon creates it.
    let dump = lab.path("state/rvrrpd.json");
    let file = lab.path("d1.toml");
    let text = format!("dump_file = \"{}\"\n{}", dump.display(), c.to_toml());
    std::fs::write(&file, text).expect("write config");
    let mut p = spawn_with(&lab, &r1.ns, "d1", &[], &file);
    wait_vip(&r1, vip.into(), true, Duration::from_secs(10), &[&p]);
    let f = file.to_string_lossy().into_owned();

    let (ok, out, err, _) = rvrrpd(&["--dump", "-c", &f]);
    assert!(ok, "--dump failed: {err}\n{}", p.tail(20));
    let v: serde_json::Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("--dump printed no JSON ({e}): {out}"));
    assert_eq!(v["rvrrpd"]["pid"], p.pid(), "{v}");
    assert_eq!(v["rvrrpd"]["config_file"], f.as_str());
    assert_eq!(v["global"]["process_id"], p.pid());
    let groups = v["vrrp"].as_array().expect("vrrp array");
    assert_eq!(groups.len(), 1, "{v}");
    let g = &groups[0];
    assert_eq!(g["group"], 22);
    assert_eq!(g["interface"], "eth0");
    assert_eq!(g["state"], "Master", "{g}");
    assert_eq!(g["priority"], 200);
    assert_eq!(g["version"], 3);
    assert_eq!(g["virtual_ips"], serde_json::json!([vip.to_string()]));
    let sent = g["counters"]["adverts_out"].as_u64().expect("adverts_out");
    assert!(sent > 0, "a Master has sent adverts: {g}");
    // The file itself is the same document, and no temporary file is left beside it.
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&dump).expect("dump file")).expect("JSON");
    assert_eq!(on_disk, v);
    let names: Vec<String> = std::fs::read_dir(dump.parent().unwrap())
        .expect("dump dir")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["rvrrpd.json".to_string()]);

    // A second request rewrites it with live counters (published at least every second).
    std::thread::sleep(Duration::from_millis(1300));
    let (ok, out, err, _) = rvrrpd(&["--dump", "-c", &f]);
    assert!(ok, "second --dump: {err}");
    let v2: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert!(
        v2["vrrp"][0]["counters"]["adverts_out"]
            .as_u64()
            .unwrap_or(0)
            > sent,
        "counters did not move: {sent} then {}",
        v2["vrrp"][0]["counters"]["adverts_out"]
    );
    assert!(v2["rvrrpd"]["written_at"].as_f64() > v["rvrrpd"]["written_at"].as_f64());

    // No pid file: names it.
    let other = lab.path("other.toml");
    let missing = lab.path("nobody.pid");
    std::fs::write(&other, format!("pid = \"{}\"\n", missing.display())).expect("write");
    let o = other.to_string_lossy().into_owned();
    let (ok, _, err, _) = rvrrpd(&["--dump", "-c", &o]);
    assert!(
        !ok && err.contains("no pid file") && err.contains("nobody.pid"),
        "{err}"
    );
    // Stale pid file: a live process that is not rvrrpd (this test).
    std::fs::write(&missing, format!("{}\n", std::process::id())).expect("write");
    let (ok, _, err, _) = rvrrpd(&["--dump", "-c", &o]);
    assert!(!ok && err.contains("stale"), "{err}");
    // A daemon that does not answer: bounded wait, then a clear error.
    signal(&p, libc::SIGSTOP);
    let (ok, _, err, took) = rvrrpd(&["--dump", "-c", &f]);
    signal(&p, libc::SIGCONT);
    assert!(!ok && err.contains("did not write"), "{err}");
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(9),
        "--dump gave up after {took:?}"
    );
    // A bad directive: file, line, directive and why.
    let bad = lab.path("bad.toml");
    std::fs::write(&bad, "debug = 0\ndump_file = \"state.json\"\n").expect("write");
    let b = bad.to_string_lossy().into_owned();
    let (ok, _, err, _) = rvrrpd(&["--check", "-c", &b]);
    assert!(!ok, "a relative dump_file was accepted");
    for word in [b.as_str(), "line 2", "dump_file", "absolute"] {
        assert!(err.contains(word), "no {word:?} in: {err}");
    }

    p.signal(Signal::Term).expect("SIGTERM");
    let status = p.wait_exit(Duration::from_secs(10)).expect("exit");
    assert!(status.success(), "exit status {status}\n{}", p.tail(20));
}

/// `KEY=` values of the unit (all occurrences).
fn unit_values(key: &str) -> Vec<String> {
    UNIT.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .collect()
}

#[test]
fn unit_file_matches_the_command_line() {
    let exec = unit_values("ExecStart");
    assert_eq!(exec.len(), 1, "{exec:?}");
    let argv: Vec<&str> = exec[0].split_whitespace().collect();
    assert_eq!(argv[0], "/usr/sbin/rvrrpd");
    let cli = rvrrpd::cli::DaemonArgs::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("ExecStart does not parse: {e}"));
    assert_eq!(cli.mode, Some(1), "systemd needs the foreground mode");
    assert_eq!(
        cli.conf.as_deref(),
        Some(Path::new("/etc/rvrrpd/rvrrpd.conf"))
    );
    let pre: Vec<String> = unit_values("ExecStartPre");
    let pre: Vec<&str> = pre[0].split_whitespace().collect();
    assert!(rvrrpd::cli::DaemonArgs::try_parse_from(&pre).is_ok_and(|c| c.check));
    assert_eq!(unit_values("Type"), ["notify"]);
    assert_eq!(unit_values("NotifyAccess"), ["main"]);
    assert_eq!(unit_values("ExecReload"), ["/bin/kill -HUP $MAINPID"]);
    assert_eq!(unit_values("RuntimeDirectory"), ["rvrrpd"]);
    assert!(!unit_values("WatchdogSec").is_empty());
    let caps = unit_values("CapabilityBoundingSet");
    assert_eq!(caps, unit_values("AmbientCapabilities"));
    assert!(!caps[0].contains("CAP_SYS_ADMIN"), "{caps:?}");
    // The packaged configuration keeps its run-time files where the unit lets it write.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf/rvrrpd.packaged.conf");
    let packaged = rvrrpd::config::Config::load(&path, None).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        packaged.pid.starts_with("/run/rvrrpd"),
        "{:?}",
        packaged.pid
    );
    assert!(packaged.dump_path().starts_with("/run/rvrrpd"));
}

/// The unit with the built binary in place of /usr/sbin/rvrrpd, in `dir`.
fn local_unit(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("rvrrpd.service");
    let bin = daemon().to_string_lossy().into_owned();
    std::fs::write(&path, text.replace("/usr/sbin/rvrrpd", &bin)).expect("write unit");
    path
}

fn analyze(args: &[&str]) -> (bool, String) {
    let o = cmd::outcome(None, &[&["systemd-analyze"], args].concat()).unwrap_or_else(|e| {
        panic!("systemd-analyze is needed (package systemd, scripts/setup.sh): {e}")
    });
    (o.success, format!("{}{}", o.stdout, o.stderr))
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn unit_file_verifies_and_is_hardened() {
    let dir = Scratch(std::env::temp_dir().join(format!("rvrrpd-unit-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("scratch dir");
    let unit = local_unit(&dir.0, UNIT);
    let u = unit.to_string_lossy().into_owned();
    let (ok, out) = analyze(&["verify", "--man=no", &u]);
    assert!(ok && out.trim().is_empty(), "systemd-analyze verify: {out}");
    // The check can fail: a misspelt setting is reported.
    let broken_dir = dir.0.join("broken");
    std::fs::create_dir_all(&broken_dir).expect("scratch dir");
    let broken = local_unit(&broken_dir, &UNIT.replace("Type=notify", "Type=notfy"));
    let (_, out) = analyze(&["verify", "--man=no", &broken.to_string_lossy()]);
    assert!(out.contains("notfy"), "a broken unit passed verify: {out}");

    let (_, out) = analyze(&["security", "--offline=yes", &u]);
    let level: f64 = out
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for rvrrpd.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in: {out}"));
    // 10 is an unhardened service; rvrrpd scored 2.9 when the unit was written.
    assert!(level <= 3.5, "exposure {level} (was 2.9):\n{out}");
}

/// The unit's capabilities, as `setpriv --bounding-set` spells them, and as a CapEff mask.
fn unit_caps() -> (String, u64) {
    let names: Vec<String> = unit_values("CapabilityBoundingSet")[0]
        .split_whitespace()
        .map(|c| c.trim_start_matches("CAP_").to_ascii_lowercase())
        .collect();
    let bit = |n: &str| match n {
        "net_admin" => 12,
        "net_raw" => 13,
        "ipc_lock" => 14,
        "sys_nice" => 23,
        "perfmon" => 38,
        "bpf" => 39,
        other => panic!("capability {other} not known to this test"),
    };
    let mask = names.iter().fold(0u64, |m, n| m | 1 << bit(n));
    let spec = std::iter::once("-all".to_string())
        .chain(names.iter().map(|n| format!("+{n}")))
        .collect::<Vec<_>>()
        .join(",");
    (spec, mask)
}

#[test]
fn the_unit_capabilities_are_enough_for_the_fast_path() {
    let lab = lab(1);
    let r1 = lab.router(1).clone();
    let before = kernel::snapshot(&r1.ns).expect("snapshot");
    let c = master(&lab, "c1", 23).vrouter(
        VRouter::new(24, "eth0", Lab::vip4(24))
            .priority(200)
            .version(3)
            .advert(0.1)
            .macvlan("vrrp24"),
    );
    let file = lab.path("c1.toml");
    // Realtime and nice need CAP_SYS_NICE: set one so that a missing capability shows.
    let text = format!("realtime_priority = 5\n{}", c.to_toml());
    std::fs::write(&file, text).expect("write config");
    let (spec, mask) = unit_caps();
    // For root, the bounding set is what an exec'd program's capabilities become: the same
    // limit systemd's CapabilityBoundingSet= applies.
    let prefix = [
        "setpriv".to_string(),
        "--bounding-set".into(),
        spec,
        "--".into(),
    ];
    let mut p = spawn_with(&lab, &r1.ns, "c1", &prefix, &file);
    wait_vip(
        &r1,
        Lab::vip4(23).into(),
        true,
        Duration::from_secs(10),
        &[&p],
    );
    wait_vip(
        &r1,
        Lab::vip4(24).into(),
        true,
        Duration::from_secs(10),
        &[&p],
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", p.pid())).expect("status");
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .expect("CapEff");
    assert_eq!(eff, mask, "CapEff {eff:x}, the unit's set {mask:x}");
    let out = p.output();
    let no = |v: &str| std::env::var_os(v).is_some_and(|x| x != "0");
    let want = if no("RVRRPD_NO_EBPF") {
        "receive path: raw sockets + classic BPF"
    } else if no("RVRRPD_NO_XDP") {
        "receive path: raw sockets + eBPF socket filter"
    } else {
        "receive path: XDP"
    };
    assert!(out.contains(want), "not on {want:?}:\n{}", p.tail(30));
    for bad in ["realtime priority 5:", "Operation not permitted", "EPERM"] {
        assert!(!out.contains(bad), "{bad:?} in the log:\n{}", p.tail(30));
    }
    assert!(out.contains("SCHED_FIFO priority 5"), "{}", p.tail(30));
    p.signal(Signal::Term).expect("SIGTERM");
    let st = p.wait_exit(Duration::from_secs(10)).expect("exit");
    assert!(st.success(), "exit {st}\n{}", p.tail(20));
    assert_eq!(
        before,
        kernel::snapshot(&r1.ns).expect("snapshot"),
        "namespace not restored"
    );
}

/// The thread ids of the daemon's worker threads (named `rvrrpd-w<N>`).
fn worker_tids(pid: u32) -> Vec<i32> {
    let mut tids: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("task list")
        .filter_map(|e| {
            let e = e.ok()?;
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            comm.starts_with("rvrrpd-w")
                .then(|| e.file_name().to_str()?.parse().ok())?
        })
        .collect();
    tids.sort();
    tids
}

/// One thread of the daemon held in a ptrace stop (the rest of the process runs on); detached
/// on drop, also when the test fails. Only the thread that attached may detach: the test's.
struct Stopped(i32);

impl Stopped {
    fn thread(tid: i32) -> Stopped {
        let null = std::ptr::null_mut::<libc::c_void>();
        // SAFETY: ptrace requests on a thread of a process this test spawned; SEIZE and
        // INTERRUPT take no memory from us.
        let rc = unsafe { libc::ptrace(libc::PTRACE_SEIZE, tid, null, null) };
        assert_eq!(
            rc,
            0,
            "PTRACE_SEIZE {tid}: {}",
            std::io::Error::last_os_error()
        );
        let s = Stopped(tid);
        // SAFETY: as above.
        let rc = unsafe { libc::ptrace(libc::PTRACE_INTERRUPT, tid, null, null) };
        assert_eq!(
            rc,
            0,
            "PTRACE_INTERRUPT {tid}: {}",
            std::io::Error::last_os_error()
        );
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes the status into our local.
            let r = unsafe { libc::waitpid(tid, &mut status, libc::__WALL | libc::WNOHANG) };
            if r == tid {
                assert!(libc::WIFSTOPPED(status), "thread {tid}: status {status:x}");
                return s;
            }
            assert!(
                Instant::now() < end,
                "thread {tid} did not stop (waitpid {r})"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let null = std::ptr::null_mut::<libc::c_void>();
        // SAFETY: detaching the thread this test attached; no memory is passed.
        unsafe { libc::ptrace(libc::PTRACE_DETACH, self.0, null, null) };
    }
}

fn pings(l: &Listener, from: usize) -> usize {
    l.seen[from..]
        .iter()
        .filter(|(_, m)| m.lines().any(|x| x == "WATCHDOG=1"))
        .count()
}

/// End to end: a worker thread that stops making progress (held in a ptrace stop, while the
/// control plane runs on) stops the WATCHDOG=1 pings, and they resume when it runs again.
#[test]
fn a_stuck_worker_thread_stops_the_watchdog() {
    let lab = lab(1);
    let r1 = lab.router(1).clone();
    let c = master(&lab, "w1", 25);
    let file = lab.path("w1.toml");
    c.write(&file).expect("write config");
    let mut l = Listener::bind(lab.path("notify-w.sock"));
    let env = [
        "env".to_string(),
        format!("NOTIFY_SOCKET={}", l.path.display()),
        "WATCHDOG_USEC=400000".to_string(),
    ];
    let mut p = spawn_with(&lab, &r1.ns, "w1", &env, &file);
    let ready = l.wait(
        "READY=1",
        0,
        Duration::from_secs(15),
        |m| m.lines().any(|x| x == "READY=1"),
        &p,
    );
    l.collect(Duration::from_secs(1));
    assert!(pings(&l, ready) >= 3, "healthy: {:?}", l.messages());
    let tids = worker_tids(p.pid());
    assert_eq!(tids.len(), 1, "one group, one worker: {tids:?}");

    let stopped = Stopped::thread(tids[0]);
    // A ping already checked may still go out; none after that.
    l.collect(Duration::from_millis(300));
    let from = l.seen.len();
    l.collect(Duration::from_millis(1500));
    let while_stuck = pings(&l, from);
    drop(stopped);
    assert_eq!(
        while_stuck,
        0,
        "WATCHDOG=1 while the worker was stuck: {:?}",
        l.messages()
    );
    assert!(p.is_running(), "the daemon died\n{}", p.tail(20));
    let from = l.seen.len();
    l.collect(Duration::from_millis(1500));
    assert!(pings(&l, from) >= 3, "not resumed: {:?}", l.messages());
    let log = p.output();
    assert!(
        log.contains("watchdog: worker(s) [0] did not run their loop"),
        "stall not logged:\n{}",
        p.tail(30)
    );
    assert!(
        log.contains("every worker makes progress again"),
        "{}",
        p.tail(30)
    );
    p.signal(Signal::Term).expect("SIGTERM");
    let st = p.wait_exit(Duration::from_secs(10)).expect("exit");
    assert!(st.success(), "exit {st}\n{}", p.tail(20));
}
