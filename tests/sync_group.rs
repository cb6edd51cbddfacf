//! A sync group of two vrouters on two interfaces, between two rvrrpd routers:
//!
//! * a fault of one member (an unweighted tracked interface going down) puts both in Fault:
//!   the peer takes over both; when it clears, both come back (preemption);
//! * the peer preempting one member (its priority raised by a reload) makes the other leave
//!   Master too and stay Backup while the first is preempted; when the peer lowers its
//!   priority again both come back;
//! * a peer better for one member only, there before us (keepalived's
//!   `vrrp_sync_can_goto_master`): neither member becomes Master, though the other hears
//!   nobody; when the peer leaves both become Master together. Alongside, the group's
//!   notifications: one `GROUP` line (FIFO and `notify` script) per change of the group's
//!   state — BACKUP, MASTER, BACKUP (preempted), FAULT (link down), BACKUP, STOP — after the
//!   members' `INSTANCE` lines.
//!
//! Needs root.

mod common;

use std::collections::HashSet;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use rvrrpd_lab::config::rvrrpd::RvrrpdConf;
use rvrrpd_lab::scale::{self, Group, ScaleTopo, Side};
use rvrrpd_lab::{wait_until, Proc, Signal};

/// Groups on two different links of the topology: link 0 VRID 1 and link 1 VRID 1.
const MEMBERS: [usize; 2] = [0, 250];

fn wait_holder(
    topo: &ScaleTopo,
    side: Side,
    vips: &HashSet<IpAddr>,
    what: &str,
    logs: &[&rvrrpd_lab::Proc],
) {
    let other = match side {
        Side::A => Side::B,
        Side::B => Side::A,
    };
    wait_until(
        what,
        Duration::from_secs(10),
        Duration::from_millis(50),
        || topo.held(side, vips) == vips.len() && topo.held(other, vips) == 0,
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}: {side:?} holds {}, {other:?} {}\n{}",
            topo.held(side, vips),
            topo.held(other, vips),
            logs.iter()
                .map(|p| p.tail(15))
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
}

/// rvrrpd configuration of `side` with the two member groups only (v3, 0.2 s adverts).
fn conf(topo: &ScaleTopo, side: Side, name: &str, first_priority: Option<u8>) -> RvrrpdConf {
    let all = scale::rvrrpd_conf(topo.dir(), name, side, MEMBERS[1] + 1, 3, 0.2);
    let mut c = all.clone();
    c.vrouters = MEMBERS.iter().map(|&i| all.vrouters[i].clone()).collect();
    if let Some(p) = first_priority {
        c.vrouters[0].priority = Some(p);
    }
    if side == Side::A {
        // The second member tracks a spare link of A's, unweighted: down = Fault.
        c.vrouters[1]
            .extra
            .push("track_interface = [\"spare0\"]".into());
        let names: Vec<String> = MEMBERS
            .iter()
            .map(|&i| format!("\"{}-{}\"", Group::nth(i).ifname(), Group::nth(i).vrid))
            .collect();
        c.tail = format!(
            "[[sync_group]]\nname = \"gw\"\nvrouters = [{}]\n",
            names.join(", ")
        );
    }
    c
}

#[test]
fn a_sync_group_fails_over_and_comes_back_together() {
    let _serial = serial();
    let bin = daemon();
    let topo = ScaleTopo::build(MEMBERS[1] + 1).expect("topology");
    topo.batch(
        Side::A,
        "link add spare0 type veth peer name spare0p\nlink set spare0p up\nlink set spare0 up\n",
    )
    .expect("spare link");
    let vips: HashSet<IpAddr> = MEMBERS
        .iter()
        .map(|&i| IpAddr::V4(Group::nth(i).vip()))
        .collect();
    // The daemons read a.toml / b.toml, which the reloads below rewrite.
    let b_file = topo.path("b.toml");
    let spawn = |side, name: &str| {
        scale::spawn_rvrrpd(
            &topo,
            side,
            &bin,
            name,
            &conf(&topo, side, name, None),
            "",
            &[],
        )
        .expect("spawning rvrrpd")
    };
    let mut a = spawn(Side::A, "a");
    let mut b = spawn(Side::B, "b");
    wait_holder(&topo, Side::A, &vips, "A Master of both members", &[&a, &b]);

    // 1. The tracked link of the second member goes down: both members go to Fault.
    topo.batch(Side::A, "link set spare0 down\n")
        .expect("spare0 down");
    wait_holder(
        &topo,
        Side::B,
        &vips,
        "B Master of both after A's fault",
        &[&a, &b],
    );
    assert!(
        a.output().matches("-> Fault (Fault)").count() >= 2,
        "both members of A should be in Fault\n{}",
        a.tail(20)
    );
    topo.batch(Side::A, "link set spare0 up\n")
        .expect("spare0 up");
    wait_holder(&topo, Side::A, &vips, "A Master of both again", &[&a, &b]);

    // 2. B's first group gets priority 250 (reload): B preempts it, and A's second member
    //    leaves Master with it and stays Backup.
    std::fs::write(&b_file, conf(&topo, Side::B, "b", Some(250)).to_toml()).expect("b.toml");
    b.signal(Signal::Hup).expect("SIGHUP B");
    wait_holder(
        &topo,
        Side::B,
        &vips,
        "B Master of both after preempting one",
        &[&a, &b],
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        topo.held(Side::B, &vips),
        2,
        "A took a member back while the other is preempted\n{}",
        a.tail(20)
    );
    assert!(a
        .output()
        .contains("sync group gw: a member does not want Master: the others leave it"));

    // 3. Back to 100: A preempts the first member, the sync group is released, and A takes
    //    the second one too.
    std::fs::write(&b_file, conf(&topo, Side::B, "b", None).to_toml()).expect("b.toml");
    b.signal(Signal::Hup).expect("SIGHUP B");
    wait_holder(
        &topo,
        Side::A,
        &vips,
        "A Master of both at the end",
        &[&a, &b],
    );
    assert!(a
        .output()
        .contains("sync group gw: every member wants Master: taking over together"));
    a.signal(Signal::Term).ok();
    b.signal(Signal::Term).ok();
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The `GROUP` lines among `lines`.
fn group_lines(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with("GROUP"))
        .cloned()
        .collect()
}

/// Waits until the notify log holds exactly `want` GROUP lines; a further one is a failure.
fn wait_group_lines(log: &Path, want: &[&str], procs: &[&Proc]) {
    let diag = || {
        format!(
            "{:?}\n{}",
            lines(log),
            procs
                .iter()
                .map(|p| p.tail(25))
                .collect::<Vec<_>>()
                .join("\n")
        )
    };
    wait_until(
        &format!("GROUP lines {want:?}"),
        Duration::from_secs(10),
        Duration::from_millis(50),
        || group_lines(&lines(log)).len() >= want.len(),
    )
    .unwrap_or_else(|e| panic!("{e}: {}", diag()));
    assert_eq!(group_lines(&lines(log)), want, "{}", diag());
}

#[test]
fn a_peer_better_for_one_member_holds_both_and_group_notifications_come_once() {
    let _serial = serial();
    let bin = daemon();
    let topo = ScaleTopo::build(MEMBERS[1] + 1).expect("topology");
    topo.batch(
        Side::A,
        "link add spare0 type veth peer name spare0p\nlink set spare0p up\nlink set spare0 up\n",
    )
    .expect("spare link");
    let vip = |i: usize| IpAddr::V4(Group::nth(MEMBERS[i]).vip());
    let vips: HashSet<IpAddr> = (0..2).map(vip).collect();
    let first: HashSet<IpAddr> = [vip(0)].into();
    let second: HashSet<IpAddr> = [vip(1)].into();

    // A: both members, two workers (one member each), notify scripts on the members and the
    // group, all appending to one file; the FIFO read by `cat`.
    let log = topo.path("notify.log");
    std::fs::write(&log, b"").expect("notify.log");
    let record = topo.path("record.sh");
    std::fs::write(
        &record,
        format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display()),
    )
    .expect("record.sh");
    std::fs::set_permissions(&record, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let fifo = topo.path("a.fifo");
    let c = std::ffi::CString::new(fifo.display().to_string()).expect("path");
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let mut reader = topo
        .spawn(
            Side::A,
            "fifo",
            &["cat".to_string(), fifo.display().to_string()],
        )
        .expect("cat");
    let mut a_conf = conf(&topo, Side::A, "a", None);
    for v in &mut a_conf.vrouters {
        v.extra
            .push(format!("notify = \"{} INSTANCE-script\"", record.display()));
    }
    a_conf.tail.push_str(&format!(
        "notify = \"{}\"\nnotify_master = \"{} group-master\"\n",
        record.display(),
        record.display()
    ));
    let head = format!("workers = 2\nnotify_fifo = \"{}\"\n", fifo.display());
    // B: the first member only, priority 250.
    let mut b_conf = conf(&topo, Side::B, "b", Some(250));
    b_conf.vrouters.truncate(1);
    let spawn_b =
        || scale::spawn_rvrrpd(&topo, Side::B, &bin, "b", &b_conf, "", &[]).expect("rvrrpd b");

    let mut b = spawn_b();
    wait_holder(
        &topo,
        Side::B,
        &first,
        "B Master of the first member",
        &[&b],
    );
    let mut a =
        scale::spawn_rvrrpd(&topo, Side::A, &bin, "a", &a_conf, &head, &[]).expect("rvrrpd a");
    wait_group_lines(&log, &["GROUP gw BACKUP 0"], &[&a, &b]);

    // 1. Three seconds (over four Master_Down_Intervals of 0.2 s adverts): A's second member
    //    hears nobody, yet neither becomes Master.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert_eq!(
            topo.held(Side::A, &vips),
            0,
            "A took a member while B is better for the other\n{}",
            a.tail(20)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!a.output().contains("-> Master"), "{}", a.tail(20));
    assert!(
        a.output().contains("on 2 worker(s)"),
        "two workers expected\n{}",
        a.tail(30)
    );

    // 2. B leaves (priority 0): both members become Master together, within bounded time.
    let left = Instant::now();
    b.signal(Signal::Term).expect("SIGTERM B");
    let mut at = [None, None];
    let deadline = left + Duration::from_secs(5);
    while at.iter().any(Option::is_none) && Instant::now() < deadline {
        for (i, set) in [&first, &second].into_iter().enumerate() {
            if at[i].is_none() && topo.held(Side::A, set) == 1 {
                at[i] = Some(left.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let [Some(t0), Some(t1)] = at else {
        panic!("A did not take both members over: {at:?}\n{}", a.tail(30));
    };
    assert!(
        t0.abs_diff(t1) < Duration::from_millis(300),
        "members became Master {t0:?} and {t1:?} after B left\n{}",
        a.tail(30)
    );
    assert!(a
        .output()
        .contains("sync group gw: every member wants Master: taking over together"));
    b.wait_exit(Duration::from_secs(5)).expect("B exits");
    wait_group_lines(&log, &["GROUP gw BACKUP 0", "GROUP gw MASTER 0"], &[&a]);

    // 3. B comes back and preempts the first member: the second leaves with it, one BACKUP.
    let mut b = spawn_b();
    wait_until(
        "B Master of the first member, A of none",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || topo.held(Side::B, &first) == 1 && topo.held(Side::A, &vips) == 0,
    )
    .unwrap_or_else(|e| panic!("{e}\n{}\n{}", a.tail(30), b.tail(10)));
    let backup = [
        "GROUP gw BACKUP 0",
        "GROUP gw MASTER 0",
        "GROUP gw BACKUP 0",
    ];
    wait_group_lines(&log, &backup, &[&a, &b]);

    // 4. The second member's tracked link goes down and up: FAULT, then BACKUP (B still
    //    holds the first member).
    topo.batch(Side::A, "link set spare0 down\n")
        .expect("spare0 down");
    let mut seq = backup.to_vec();
    seq.push("GROUP gw FAULT 0");
    wait_group_lines(&log, &seq, &[&a, &b]);
    topo.batch(Side::A, "link set spare0 up\n")
        .expect("spare0 up");
    seq.push("GROUP gw BACKUP 0");
    wait_group_lines(&log, &seq, &[&a, &b]);
    // Nothing more comes while nothing changes.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(group_lines(&lines(&log)), seq, "{}", a.tail(30));
    assert_eq!(topo.held(Side::A, &vips), 0, "{}", a.tail(30));

    // 5. A stops: one STOP.
    a.signal(Signal::Term).expect("SIGTERM A");
    a.wait_exit(Duration::from_secs(10)).expect("A exits");
    seq.push("GROUP gw STOP 0");
    wait_group_lines(&log, &seq, &[&a, &b]);
    b.signal(Signal::Term).ok();

    // The group's notify_master ran once; each member's own script saw its transitions.
    let all = lines(&log);
    assert_eq!(
        all.iter().filter(|l| *l == "group-master").count(),
        1,
        "{all:?}"
    );
    for m in MEMBERS {
        let name = format!("{}-{}", Group::nth(m).ifname(), Group::nth(m).vrid);
        for word in ["MASTER", "FAULT", "STOP"] {
            let prefix = format!("INSTANCE-script INSTANCE {name} {word} ");
            assert!(
                all.iter().any(|l| l.starts_with(&prefix)),
                "no {word} line of {name}: {all:?}"
            );
        }
    }

    // The FIFO: the same GROUP lines in keepalived's format, each after an INSTANCE line.
    reader.wait_exit(Duration::from_secs(5)).expect("cat exits");
    let fifo_lines: Vec<String> = reader.stdout().lines().map(str::to_string).collect();
    let expected: Vec<String> = seq
        .iter()
        .map(|l| {
            let word = l.split(' ').nth(2).unwrap_or_default();
            format!("GROUP \"gw\" {word}")
        })
        .collect();
    assert_eq!(group_lines(&fifo_lines), expected, "{fifo_lines:?}");
    for (i, l) in fifo_lines.iter().enumerate() {
        if l.starts_with("GROUP") {
            assert!(
                i > 0 && fifo_lines[i - 1].starts_with("INSTANCE"),
                "GROUP line not after an INSTANCE line: {fifo_lines:?}"
            );
        }
    }
}
