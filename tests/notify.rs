//! Notifications with real processes in network namespaces: two rvrrpd routers with
//! `notify_master`/`notify_backup`/`notify_stop`/`notify` scripts appending to files, a
//! `notify_fifo` read by `cat`, `rvrrpctl --watch` on the event stream; a failover (SIGTERM to
//! the Master, by PID) and a return. Every transition gives exactly one line per script, with
//! keepalived's arguments and FIFO format; a `notify_master` that outlives `notify_timeout` is
//! killed and logged while that router's adverts stay on schedule; a link down and up gives
//! `notify_fault` then `notify_backup`.

#[path = "common/mod.rs"]
mod common;

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use rvrrpd_lab::config::rvrrpd::{ApiSection, RvrrpdConf, VRouter};
use rvrrpd_lab::{wait_for, wait_until, Lab, Node, Proc, Signal};

const PORT: u16 = 7080;
const INTERVAL: f64 = 1.0;

/// An executable script in the lab directory.
fn script(lab: &Lab, name: &str, body: &str) -> PathBuf {
    let path = lab.path(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n"))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

/// An empty file anyone may append to (the scripts of r2 run as nobody).
fn shared_file(lab: &Lab, name: &str) -> PathBuf {
    let path = lab.path(name);
    std::fs::write(&path, b"").unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits until `path` has at least `n` lines.
fn wait_lines(path: &Path, n: usize, timeout: Duration, procs: &[&Proc]) -> Vec<String> {
    match wait_for(
        &format!("{n} lines in {}", path.display()),
        timeout,
        Duration::from_millis(50),
        || {
            let l = lines(path);
            (l.len() >= n).then_some(l)
        },
    ) {
        Ok((l, _)) => l,
        Err(e) => panic!("{e}: {:?}\n{}", lines(path), diag(procs)),
    }
}

fn user_line(level: u8, user: &str, pass: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_rvrrpd-pw");
    let out = std::process::Command::new(bin)
        .args(["-l", &level.to_string(), user, pass, "sha256"])
        .output()
        .unwrap_or_else(|e| panic!("running {bin}: {e}"));
    assert!(out.status.success(), "rvrrpd-pw failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The notify lines a router's scripts write for one transition to `word`.
fn expected(uid: u32, name: &str, word: &str, priority: u8) -> [String; 2] {
    [
        format!("{uid} {}", word.to_ascii_lowercase()),
        format!("{uid} notify INSTANCE {name} {word} {priority}"),
    ]
}

fn fifo_line(name: &str, word: &str, priority: u8) -> String {
    format!("INSTANCE \"{name}\" {word} {priority}")
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_string_lossy().as_bytes().to_vec())
        .unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: a valid C string.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

struct Router<'a> {
    node: &'a Node,
    name: &'static str,
    conf: RvrrpdConf,
    log: PathBuf,
    fifo: PathBuf,
}

#[test]
fn notify_scripts_fifo_and_event_stream_see_each_transition_once() {
    let lab = lab(2);
    let (n1, n2) = (lab.router(1), lab.router(2));
    let vip = Lab::vip4(1).to_string();
    let record = script(
        &lab,
        "record.sh",
        "f=$1; shift; echo \"$(id -u) $*\" >> \"$f\"",
    );
    let slow = script(
        &lab,
        "slow.sh",
        "f=$1; shift; echo \"$(id -u) $*\" >> \"$f\"; sleep 30; echo \"late $*\" >> \"$f\"",
    );
    let record = record.display().to_string();
    let mut routers = Vec::new();
    for (node, prio, name) in [(n1, 200u8, "gw-r1"), (n2, 100, "eth0-1")] {
        let log = shared_file(&lab, &format!("{}-notify.log", node.name));
        let fifo = lab.path(&format!("{}.fifo", node.name));
        mkfifo(&fifo);
        let is_r1 = node.name == n1.name;
        let master = if is_r1 {
            format!("{record} {} master", log.display())
        } else {
            // r2's notify_master outlives notify_timeout: killed after one line.
            format!("{} {} master", slow.display(), log.display())
        };
        let mut v = VRouter::new(1, "eth0", &vip)
            .priority(prio)
            .preemption(true)
            .version(2)
            .advert(INTERVAL)
            .line(&format!("notify_master = \"{master}\""))
            .line(&format!(
                "notify_backup = \"{record} {} backup\"",
                log.display()
            ))
            .line(&format!(
                "notify_stop = \"{record} {} stop\"",
                log.display()
            ))
            .line(&format!(
                "notify_fault = \"{record} {} fault\"",
                log.display()
            ))
            .line(&format!("notify = \"{record} {} notify\"", log.display()));
        if is_r1 {
            v = v.line(&format!("name = \"{name}\""));
        }
        let mut conf = conf(&lab, node.name.as_str(), v);
        let mut general = format!("notify_fifo = \"{}\"\n", fifo.display());
        if !is_r1 {
            general.push_str("script_user = \"nobody\"\nnotify_timeout = 1\n");
            conf = conf.api(ApiSection::new(
                format!("{}:{PORT}", node.ipv4),
                &[user_line(0, "viewer", "ropass1")],
            ));
        }
        // General directives go before the first table: prepend them to the text.
        routers.push((
            Router {
                node,
                name,
                conf,
                log,
                fifo,
            },
            general,
        ));
    }
    // FIFO readers: `cat` in each router's namespace; the test holds a write end too so that
    // a reader sees no end of file between the two runs of r1.
    let mut readers = Vec::new();
    let mut holders = Vec::new();
    for (r, _) in &routers {
        let argv = vec!["cat".to_string(), r.fifo.display().to_string()];
        readers.push(
            lab.spawn(&r.node.ns, &format!("{}-fifo", r.node.name), &argv)
                .unwrap_or_else(|e| panic!("cat: {e}")),
        );
        holders.push(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&r.fifo)
                .unwrap_or_else(|e| panic!("{}: {e}", r.fifo.display())),
        );
    }
    let start_router = |r: &Router<'_>, general: &str| -> Proc {
        let file = lab.path(&format!("{}.toml", r.node.name));
        let text = format!("{general}{}", r.conf.to_toml());
        std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
        let argv = vec![
            daemon().display().to_string(),
            "-m".into(),
            "1".into(),
            "-c".into(),
            file.display().to_string(),
            "-d".into(),
            "3".into(),
        ];
        lab.spawn(&r.node.ns, &r.node.name, &argv)
            .unwrap_or_else(|e| panic!("spawning rvrrpd: {e}"))
    };
    let cap = lab
        .capture("notify")
        .unwrap_or_else(|e| panic!("capture: {e}"));
    let (r1, g1) = &routers[0];
    let (r2, g2) = &routers[1];
    let (u1, u2) = (0u32, 65534u32);

    // r1 alone: Backup, then Master.
    let mut p1 = start_router(r1, g1);
    wait_lines(&r1.log, 4, Duration::from_secs(20), &[&p1]);
    wait_sole_master(&lab, &cap, 1, false, n1, INTERVAL, &[&p1]);
    // r2 joins as Backup; an rvrrpctl --watch on its API.
    let mut p2 = start_router(r2, g2);
    wait_lines(&r2.log, 2, Duration::from_secs(20), &[&p1, &p2]);
    let rvrrpctl = env!("CARGO_BIN_EXE_rvrrpctl").to_string();
    let watch_argv: Vec<String> = [
        rvrrpctl.as_str(),
        "-H",
        &format!("http://{}:{PORT}", n2.ipv4),
        "-u",
        "viewer",
        "-p",
        "ropass1",
        "--watch",
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut watch = None;
    wait_until(
        "rvrrpctl --watch connected to r2",
        Duration::from_secs(20),
        Duration::from_millis(200),
        || {
            if !p2.output().contains("event stream opened") {
                if watch.as_mut().is_none_or(|w: &mut Proc| !w.is_running()) {
                    watch = lab.spawn(&lab.client().ns, "watch", &watch_argv).ok();
                }
                return false;
            }
            true
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", diag(&[&p2])));
    let mut watch = watch.unwrap_or_else(|| panic!("rvrrpctl not started"));

    // Failover: SIGTERM to r1 (by PID); r2 takes over.
    let t_kill = now();
    p1.signal(Signal::Term).unwrap_or_else(|e| panic!("{e}"));
    p1.wait_exit(Duration::from_secs(15))
        .unwrap_or_else(|e| panic!("{e}\n{}", diag(&[&p1])));
    let (r2_ip, _) = wait_sole_master(&lab, &cap, 1, false, n2, INTERVAL, &[&p2]);
    // r2's notify_master sleeps: killed after notify_timeout (1 s) and logged; then r2's
    // `notify` for that transition runs (per-vrouter order).
    wait_lines(&r2.log, 4, Duration::from_secs(15), &[&p2]);
    wait_until(
        "the slow notify_master killed and logged",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || p2.output().contains("(notify_timeout): killed"),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", diag(&[&p2])));
    std::thread::sleep(Duration::from_secs_f64(2.0 * INTERVAL));
    let t_return = now();

    // The return: r1 restarts and preempts r2.
    p1 = start_router(r1, g1);
    wait_sole_master(&lab, &cap, 1, false, n1, INTERVAL, &[&p1, &p2]);
    wait_lines(&r2.log, 6, Duration::from_secs(20), &[&p1, &p2]);
    wait_lines(&r1.log, 10, Duration::from_secs(20), &[&p1, &p2]);

    // r2's link goes down (its switch port unplugged): Backup -> Fault; back: Fault -> Backup.
    lab.unplug(n2).unwrap_or_else(|e| panic!("unplug: {e}"));
    wait_lines(&r2.log, 8, Duration::from_secs(10), &[&p2]);
    lab.plug(n2).unwrap_or_else(|e| panic!("plug: {e}"));
    wait_lines(&r2.log, 10, Duration::from_secs(10), &[&p2]);
    // r2 hears r1 again and stays Backup.
    std::thread::sleep(Duration::from_secs_f64(4.0 * INTERVAL));

    // r2's adverts as Master, while its script hung and was killed, stayed on schedule: the
    // first one after the takeover goes on the group's phase, one to two intervals later (see
    // the election tests), every later one an interval after the previous.
    let trace = cap.snapshot().unwrap_or_default();
    let gaps = trace.intervals(1, r2_ip, t_kill, t_return);
    assert!(gaps.len() >= 3, "too few adverts of r2: {gaps:?}");
    assert!(gaps[0] <= 2.0 * INTERVAL + 0.1, "{gaps:?}");
    let worst = gaps[1..].iter().copied().fold(0.0, f64::max);
    assert!(
        worst <= INTERVAL + 0.1,
        "r2's adverts fell behind while its script ran: gaps {gaps:?}\n{}",
        trace.summary(30)
    );

    // Stop both (r2 first, then r1), by PID; the stop scripts run before each exits.
    for p in [&mut p2, &mut p1] {
        p.signal(Signal::Term).unwrap_or_else(|e| panic!("{e}"));
        p.wait_exit(Duration::from_secs(15))
            .unwrap_or_else(|e| panic!("{e}\n{}", p.tail(30)));
    }
    watch
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("rvrrpctl --watch did not end with r2: {e}"));

    // Exactly one line per script and transition, with keepalived's arguments.
    let run1: Vec<String> = [("BACKUP", 200), ("MASTER", 200), ("STOP", 200)]
        .iter()
        .flat_map(|(w, p)| expected(u1, r1.name, w, *p))
        .collect();
    let want1: Vec<String> = run1.iter().chain(run1.iter()).cloned().collect();
    assert_eq!(lines(&r1.log), want1, "\n{}", p1.tail(30));
    let want2: Vec<String> = [
        ("BACKUP", 100),
        ("MASTER", 100),
        ("BACKUP", 100),
        ("FAULT", 100),
        ("BACKUP", 100),
        ("STOP", 100),
    ]
    .iter()
    .flat_map(|(w, p)| expected(u2, r2.name, w, *p))
    .collect();
    let got2 = lines(&r2.log);
    assert_eq!(got2, want2, "\n{}", p2.tail(30));
    assert!(!got2.iter().any(|l| l.starts_with("late")));
    let killed = p2.output();
    assert!(
        killed.contains("notify_master") && killed.contains("slow.sh"),
        "{}",
        p2.tail(30)
    );

    // The FIFOs: one line per transition in keepalived's format.
    drop(holders);
    for (reader, (r, want)) in readers.iter_mut().zip([
        (
            r1,
            ["BACKUP", "MASTER", "STOP", "BACKUP", "MASTER", "STOP"]
                .iter()
                .map(|w| fifo_line(r1.name, w, 200))
                .collect::<Vec<_>>(),
        ),
        (
            r2,
            ["BACKUP", "MASTER", "BACKUP", "FAULT", "BACKUP", "STOP"]
                .iter()
                .map(|w| fifo_line(r2.name, w, 100))
                .collect(),
        ),
    ]) {
        reader
            .wait_exit(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("cat {}: {e}", r.fifo.display()));
        let got: Vec<String> = reader.stdout().lines().map(str::to_string).collect();
        assert_eq!(got, want, "FIFO of {}", r.node.name);
    }

    // rvrrpctl saw r2's transitions after it connected, each once, as the scripts did.
    let events: Vec<serde_json::Value> = watch
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let seen: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("name"), s("notify"), s("reason"))
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("MASTER", "master-left"),
        ("BACKUP", "preempted"),
        ("FAULT", "fault"),
        ("BACKUP", "fault-cleared"),
        ("STOP", "shutdown"),
    ]
    .iter()
    .map(|(w, why)| (r2.name.to_string(), w.to_string(), why.to_string()))
    .collect();
    assert_eq!(seen, want, "{}", watch.output());
    assert!(events
        .iter()
        .all(|e| e["priority"] == 100 && e["group"] == 1));
}
