//! Fault state and tracking with real rvrrpd processes in network namespaces:
//!
//! * the Master's own link going down (its switch port unplugged) puts it in Fault: VIPs
//!   removed, the Backup takes over within Master_Down_Interval; plugged back, it returns
//!   through Backup and, preempting, becomes Master again;
//! * a track script whose exit status flips lowers the Master's priority after `fall` runs;
//!   its advert with the new priority goes out at once and the Backup takes over within one
//!   advert interval of it; `rise` successes bring it back;
//! * a weighted `track_interface` and a `track_file` move mastership the same way;
//! * a thousand groups sharing one script run it once per interval, and all fail over when it
//!   fails.
//!
//! Needs root. Run alone: `cargo test --test tracking -- --nocapture`.

mod common;

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use common::*;
use rvrrpd_lab::config::rvrrpd::VRouter;
use rvrrpd_lab::scale::{self, groups, ScaleTopo, Side};
use rvrrpd_lab::{kernel, theory, wait_for, wait_until, Lab};

const VERSION: u8 = 3;
const INTERVAL: f64 = 0.2;

fn vr(vrid: u8, vip: IpAddr, prio: u8) -> VRouter {
    VRouter::new(vrid, "eth0", vip)
        .priority(prio)
        .preemption(true)
        .version(VERSION)
        .advert(INTERVAL)
}

/// The first advert of `vrid` from `src` after `after` with priority `prio` (its time).
fn advert_with_priority(
    cap: &rvrrpd_lab::Capture,
    vrid: u8,
    src: IpAddr,
    prio: u8,
    after: f64,
    timeout: Duration,
) -> Option<f64> {
    wait_for(
        &format!("an advert of {src} with priority {prio}"),
        timeout,
        Duration::from_millis(20),
        || {
            let t = cap.snapshot().ok()?;
            let ts = t
                .of(vrid, src.is_ipv6())
                .find(|a| a.src_ip == src && a.ts > after && a.priority() == prio)
                .map(|a| a.ts);
            ts
        },
    )
    .ok()
    .map(|(ts, _)| ts)
}

#[test]
fn link_down_puts_the_master_in_fault_and_it_returns_through_backup() {
    let lab = lab(2);
    let vrid = 61;
    let vip: IpAddr = Lab::vip4(1).into();
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let cap = lab.capture("fault").expect("capture");
    let p1 = start(&lab, &r1, "r1", &conf(&lab, "r1", vr(vrid, vip, 150)));
    let p2 = start(&lab, &r2, "r2", &conf(&lab, "r2", vr(vrid, vip, 100)));
    let procs = [&p1, &p2];
    let (r1_ip, _) = wait_sole_master(&lab, &cap, vrid, false, &r1, INTERVAL, &procs);
    wait_vip(&r1, vip, true, Duration::from_secs(3), &procs);

    // Unplug r1: its eth0 loses the carrier.
    let cut = now();
    lab.unplug(&r1).expect("unplug r1");
    let f = wait_failover(
        &cap,
        vrid,
        r1_ip,
        |_| true,
        // r1 was the sole sender for its last three intervals (wait_sole_master): a window of
        // 0.5 s holds its last adverts and none of a Master before it.
        cut - 0.5,
        Duration::from_secs(5),
        &procs,
    );
    let mdi = theory::master_down_interval(VERSION, 100, Duration::from_secs_f64(INTERVAL));
    println!(
        "link down: takeover {:.3} s after r1's last advert (Master_Down_Interval {:.3} s)",
        f.gap(),
        mdi.as_secs_f64()
    );
    assert!(
        f.gap() <= mdi.as_secs_f64() + 0.15,
        "takeover took {:.3} s\n{}",
        f.gap(),
        diag(&procs)
    );
    // r1 is in Fault: VIP removed at once (not when it hears a better Master: it hears nothing).
    wait_vip(&r1, vip, false, Duration::from_secs(2), &procs);
    wait_until(
        "r1 logs Master -> Fault",
        Duration::from_secs(3),
        Duration::from_millis(50),
        || p1.output().contains("Master -> Fault (Fault)"),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", diag(&procs)));

    // Plug it back: Fault -> Backup, then it preempts r2 (150 > 100).
    let back = now();
    lab.plug(&r1).expect("plug r1");
    wait_until(
        "r1 logs Fault -> Backup",
        Duration::from_secs(5),
        Duration::from_millis(50),
        || p1.output().contains("Fault -> Backup (FaultCleared)"),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", diag(&procs)));
    let t = wait_for(
        "r1 Master again",
        Duration::from_secs(6),
        Duration::from_millis(50),
        || {
            let t = cap.snapshot().ok()?;
            let s = t.senders(vrid, false, now() - 2.5 * INTERVAL);
            (s == vec![r1_ip] && t.first_from(vrid, r1_ip, back).is_some()).then_some(t)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", diag(&procs)))
    .0;
    wait_vip(&r1, vip, true, Duration::from_secs(3), &procs);
    assert!(!kernel::has_address(&r2.ns, vip).expect("ip addr"));
    assert_no_close_adverts(&t, vrid, r1_ip, INTERVAL, &procs);
}

#[test]
fn a_failing_track_script_moves_mastership_within_one_interval() {
    let lab = lab(2);
    let vrid = 62;
    let vip: IpAddr = Lab::vip4(2).into();
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let cap = lab.capture("script").expect("capture");
    let flag = lab.path("r1-fail");
    // No shell: `test ! -e FILE` as argv; fails while the file exists.
    let script_interval = 0.1;
    let fall = 3;
    let mut c1 = conf(
        &lab,
        "r1",
        vr(vrid, vip, 150).line("track_script = [\"chk\"]"),
    );
    c1.tail = format!(
        "[[track_script]]\nname = \"chk\"\nscript = \"/usr/bin/test ! -e {}\"\ninterval = {script_interval}\nfall = {fall}\nrise = 2\nweight = -60\n",
        flag.display()
    );
    let p1 = start(&lab, &r1, "r1", &c1);
    let p2 = start(&lab, &r2, "r2", &conf(&lab, "r2", vr(vrid, vip, 100)));
    let procs = [&p1, &p2];
    let (r1_ip, _) = wait_sole_master(&lab, &cap, vrid, false, &r1, INTERVAL, &procs);
    let r2_ip: IpAddr = r2.ipv4.into();

    let fail_at = now();
    std::fs::write(&flag, "").expect("creating the flag file");
    let lowered = advert_with_priority(&cap, vrid, r1_ip, 90, fail_at, Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no advert with priority 90\n{}", diag(&procs)));
    let f = wait_failover(
        &cap,
        vrid,
        r1_ip,
        |ip| ip == r2_ip,
        fail_at,
        Duration::from_secs(5),
        &procs,
    );
    let detect = lowered - fail_at;
    let takeover = f.new_first.ts - lowered;
    println!(
        "track script: priority 90 advertised {detect:.3} s after the failure (fall {fall} × {script_interval} s), \
         r2 Master {takeover:.3} s after that advert (interval {INTERVAL} s)"
    );
    assert!(
        detect <= (fall as f64 + 1.0) * script_interval + 0.3,
        "the lowered priority took {detect:.3} s\n{}",
        diag(&procs)
    );
    assert!(
        takeover <= INTERVAL + 0.05,
        "r2 took {takeover:.3} s after the lowered advert\n{}",
        diag(&procs)
    );
    wait_vip(&r2, vip, true, Duration::from_secs(3), &procs);
    wait_vip(&r1, vip, false, Duration::from_secs(3), &procs);

    // The script succeeds again: after `rise` runs r1 is back at 150 and preempts.
    let ok_at = now();
    std::fs::remove_file(&flag).expect("removing the flag file");
    wait_failover(
        &cap,
        vrid,
        r2_ip,
        |ip| ip == r1_ip,
        ok_at,
        Duration::from_secs(5),
        &procs,
    );
    wait_vip(&r1, vip, true, Duration::from_secs(3), &procs);
    assert!(
        p1.output().contains("track_script \"chk\" failed"),
        "{}",
        p1.tail(20)
    );
    assert!(
        p1.output().contains("track_script \"chk\" is OK"),
        "{}",
        p1.tail(20)
    );
}

#[test]
fn weighted_interface_and_track_file_move_mastership() {
    let lab = lab(2);
    let vrid = 63;
    let vip: IpAddr = Lab::vip4(3).into();
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let cap = lab.capture("iface-file").expect("capture");
    // A second interface on r1 that the test can take down (a veth pair inside r1: the
    // machine has no dummy driver).
    lab.exec(
        &r1.ns,
        &[
            "ip", "link", "add", "up0", "type", "veth", "peer", "name", "up0p",
        ],
    )
    .expect("veth pair");
    lab.exec(&r1.ns, &["ip", "link", "set", "up0p", "up"])
        .expect("peer up");
    lab.exec(&r1.ns, &["ip", "link", "set", "up0", "up"])
        .expect("up0 up");
    let weight_file = lab.path("r1-weight");
    let mut c1 = conf(
        &lab,
        "r1",
        vr(vrid, vip, 150)
            .line("track_interface = [{ name = \"up0\", weight = -60 }]")
            .line("track_file = [\"w\"]"),
    );
    c1.tail = format!(
        "[[track_file]]\nname = \"w\"\nfile = \"{}\"\ninit = 0\n",
        weight_file.display()
    );
    let p1 = start(&lab, &r1, "r1", &c1);
    let p2 = start(&lab, &r2, "r2", &conf(&lab, "r2", vr(vrid, vip, 100)));
    let procs = [&p1, &p2];
    let (r1_ip, _) = wait_sole_master(&lab, &cap, vrid, false, &r1, INTERVAL, &procs);
    let r2_ip: IpAddr = r2.ipv4.into();
    assert_eq!(
        std::fs::read_to_string(&weight_file)
            .expect("init created the file")
            .trim(),
        "0"
    );

    // `change` at `since` moves mastership `from` → `to` (within 3 s), after an advert of
    // `from` with `lowered` priority when one is expected.
    let moves = |from: IpAddr, to: IpAddr, lowered: Option<u8>, since: f64| {
        if let Some(p) = lowered {
            advert_with_priority(&cap, vrid, from, p, since, Duration::from_secs(3))
                .unwrap_or_else(|| panic!("no advert with priority {p}\n{}", diag(&procs)));
        }
        wait_failover(
            &cap,
            vrid,
            from,
            |ip| ip == to,
            since,
            Duration::from_secs(3),
            &procs,
        );
    };
    // up0 down: 150 − 60 = 90 < 100.
    let t0 = now();
    lab.exec(&r1.ns, &["ip", "link", "set", "up0", "down"])
        .expect("up0 down");
    moves(r1_ip, r2_ip, Some(90), t0);
    // up0 up again: 150, r1 preempts.
    let t1 = now();
    lab.exec(&r1.ns, &["ip", "link", "set", "up0", "up"])
        .expect("up0 up");
    moves(r2_ip, r1_ip, None, t1);
    // The file says −70 (written by rename, as configuration tools do): 80 < 100.
    let t2 = now();
    let tmp = lab.path("r1-weight.tmp");
    std::fs::write(&tmp, "-70\n").expect("writing");
    std::fs::rename(&tmp, &weight_file).expect("renaming");
    moves(r1_ip, r2_ip, Some(80), t2);
    // Rewritten in place to 0: back to 150.
    let t3 = now();
    std::fs::write(&weight_file, "0\n").expect("writing");
    moves(r2_ip, r1_ip, None, t3);
}

#[test]
fn a_thousand_groups_share_one_script_run() {
    const GROUPS: usize = 1000;
    let bin = daemon();
    let topo = ScaleTopo::build(GROUPS).expect("building the topology");
    let vips: HashSet<IpAddr> = groups(GROUPS).iter().map(|g| IpAddr::V4(g.vip())).collect();
    let runs = topo.path("runs");
    let flag = topo.path("fail");
    let mut conf_a = scale::rvrrpd_conf(topo.dir(), "a", Side::A, GROUPS, 2, 1.0);
    for v in &mut conf_a.vrouters {
        v.extra.push("track_script = [\"chk\"]".into());
    }
    let script_interval = 0.5;
    conf_a.tail = format!(
        "[[track_script]]\nname = \"chk\"\nscript = \"echo run >> {}; test ! -e {}\"\nshell = true\ninterval = {script_interval}\nweight = -150\n",
        runs.display(),
        flag.display()
    );
    let conf_b = scale::rvrrpd_conf(topo.dir(), "b", Side::B, GROUPS, 2, 1.0);
    let mut a = scale::spawn_rvrrpd(&topo, Side::A, &bin, "a", &conf_a, "", &[]).expect("A");
    let b = scale::spawn_rvrrpd(&topo, Side::B, &bin, "b", &conf_b, "", &[]).expect("B");
    wait_until(
        "A Master of every group",
        Duration::from_secs(30),
        Duration::from_millis(250),
        || topo.held(Side::A, &vips) == GROUPS && topo.held(Side::B, &vips) == 0,
    )
    .unwrap_or_else(|e| panic!("{e}\n{}\n{}", a.tail(10), b.tail(10)));

    // Runs over 4 s: one per interval for all thousand groups (8, give or take one).
    let count = || {
        std::fs::read_to_string(&runs)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let before = count();
    std::thread::sleep(Duration::from_secs(4));
    let during = count() - before;
    println!("one script tracked by {GROUPS} groups: {during} runs in 4 s (interval {script_interval} s)");
    assert!(
        (7..=9).contains(&during),
        "{during} runs in 4 s at a {script_interval} s interval\n{}",
        a.tail(10)
    );

    // The script fails: every group drops to 50 and B (100) takes all of them.
    let fail_at = std::time::Instant::now();
    std::fs::write(&flag, "").expect("flag");
    wait_until(
        "B Master of every group",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || topo.held(Side::B, &vips) == GROUPS && topo.held(Side::A, &vips) == 0,
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}: A holds {}, B holds {}\n{}\n{}",
            topo.held(Side::A, &vips),
            topo.held(Side::B, &vips),
            a.tail(10),
            b.tail(10)
        )
    });
    println!(
        "{GROUPS} groups moved to B {:.2} s after the script started failing",
        fail_at.elapsed().as_secs_f64()
    );
    a.signal(rvrrpd_lab::Signal::Term).expect("TERM A");
}
