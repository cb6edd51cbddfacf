//! Live reload (SIGHUP) with real rvrrpd processes:
//!
//! * a thousand groups: a reload that removes, changes and adds a few leaves every other
//!   group's adverts on schedule (gaps within the interval ± 25 ms on the wire: a group the
//!   reload restarted would miss its adverts for seconds, a worker the reload blocked would
//!   show tens of ms; the scenario runs up to three times, see the test), removed
//!   groups leave with priority 0, added ones start, changed ones advertise their new
//!   priority at once;
//! * a file that fails validation changes nothing and says why.
//!
//! Needs root.

mod common;

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use common::*;
use rvrrpd_lab::advstream::{AdvertTimes, PcapFollower};
use rvrrpd_lab::config::rvrrpd::VRouter;
use rvrrpd_lab::scale::{self, groups, Group, ScaleTopo, Side};
use rvrrpd_lab::{kernel, wait_until, Lab, Signal};

/// How far an unchanged group's advert gap may be off the interval around a reload (s).
const TOLERANCE: f64 = 0.025;

#[test]
fn reload_of_a_thousand_groups_keeps_the_unchanged_ones_on_schedule() {
    // Not beside the other test of this file: the timing check needs the cores.
    let _serial = serial();
    // On the shared 2-vCPU VM of CI, whole batches of 50 adverts of this debug-build Master
    // leave 5–19 ms late now and then, uniformly, before the reload as after it (the VM not
    // running the worker; performance.md, finding 17): the check allows 25 ms, and a fresh
    // run is tried when one misses it. A regression fails every run.
    let mut failures = Vec::new();
    for _ in 0..3 {
        match reload_scenario() {
            Ok(()) => return,
            Err(e) => {
                eprintln!("run {}: {e}", failures.len() + 1);
                failures.push(e);
            }
        }
    }
    panic!("{}", failures.join("\n"));
}

/// Starts A with 1,000 groups, reloads a file that removes, changes and adds four, checks
/// what the reload did (panics), and returns the adverts' timing verdict: `Err` if an
/// unchanged group's gap was more than [`TOLERANCE`] off the interval around the reload.
fn reload_scenario() -> Result<(), String> {
    const GROUPS: usize = 1000;
    const CHANGED: std::ops::Range<usize> = 4..8;
    const REMOVED: std::ops::Range<usize> = 0..4;
    const ADDED: std::ops::Range<usize> = 1000..1004;
    let bin = daemon();
    let topo = ScaleTopo::build(ADDED.end).expect("building the topology");
    let all = groups(ADDED.end);
    let vips = |range: std::ops::Range<usize>| -> HashSet<IpAddr> {
        all[range].iter().map(|g| IpAddr::V4(g.vip())).collect()
    };
    // A alone (priority 200): Master of every group after its Master_Down_Interval.
    let before = scale::rvrrpd_conf(topo.dir(), "a", Side::A, GROUPS, 2, 1.0);
    let file = topo.path("a.toml");
    let mut a =
        scale::spawn_rvrrpd(&topo, Side::A, &bin, "a", &before, "", &[]).expect("spawning A");
    wait_until(
        "A Master of every group",
        Duration::from_secs(30),
        Duration::from_millis(250),
        || topo.held(Side::A, &vips(0..GROUPS)) == GROUPS,
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", a.tail(10)));
    let mut cap = topo
        .capture_out(Side::A, "reload", 16 * 1024)
        .expect("capture");
    std::thread::sleep(Duration::from_secs(3));

    // The new file: 0..4 gone, 4..8 at priority 150, 1000..1004 new.
    let mut after = scale::rvrrpd_conf(topo.dir(), "a", Side::A, ADDED.end, 2, 1.0);
    after.vrouters.drain(REMOVED);
    for v in after.vrouters.iter_mut().take(CHANGED.len()) {
        v.priority = Some(150);
    }
    std::fs::write(&file, after.to_toml()).expect("writing the new file");
    let reload_at = now();
    let summary = reload_and_wait(&mut a, "reloaded: ");
    assert!(
        summary.contains("992 unchanged, 4 updated, 0 restarted, 4 added, 4 removed"),
        "{summary}"
    );
    // Added groups take over after their Master_Down_Interval; removed ones leave.
    wait_until(
        "the added VIPs on A, the removed ones gone",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            topo.held(Side::A, &vips(ADDED)) == ADDED.len()
                && topo.held(Side::A, &vips(REMOVED)) == 0
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", a.tail(20)));
    std::thread::sleep(Duration::from_secs(2));
    let window_end = now();
    let stats = cap.stop().expect("stopping the capture");
    let mut times = AdvertTimes::default();
    PcapFollower::new(cap.file())
        .poll(|ad| times.add(ad))
        .expect("reading the capture");

    // Every unchanged group: gaps within 1 s ± TOLERANCE from 2.5 s before to the end.
    let from = reload_at - 2.5;
    let mut worst = (0.0f64, Group::nth(0), 0.0f64);
    let mut over = 0;
    let mut checked = 0;
    for g in &all[CHANGED.end..GROUPS] {
        let ts = times.of(g.src(Side::A), g.vrid);
        let inside: Vec<f64> = ts
            .iter()
            .copied()
            .filter(|t| *t >= from && *t <= window_end)
            .collect();
        assert!(
            inside.len() >= 4,
            "group {g:?}: {} adverts in the window ({stats})",
            inside.len()
        );
        for w in inside.windows(2) {
            let dev = (w[1] - w[0] - 1.0).abs();
            if dev > 0.005 {
                over += 1;
            }
            if dev > worst.0 {
                worst = (dev, *g, w[1] - reload_at);
            }
        }
        checked += 1;
    }
    println!(
        "reload of {GROUPS} groups: {checked} unchanged groups, worst gap deviation {:.2} ms ({:?}, {:+.3} s from the reload), {over} gaps off by more than 5 ms; capture: {stats}",
        worst.0 * 1000.0,
        worst.1,
        worst.2
    );
    let timing = if worst.0 <= TOLERANCE {
        Ok(())
    } else {
        Err(format!(
            "group {:?} had an advert gap {:.1} ms off the interval around the reload \
             ({over} gaps off by more than 5 ms)",
            worst.1,
            worst.0 * 1000.0
        ))
    };
    // Removed groups sent priority 0 and nothing after.
    for g in &all[REMOVED] {
        let leaving = times
            .leaving
            .get(&(g.src(Side::A), g.vrid))
            .cloned()
            .unwrap_or_default();
        assert!(
            leaving.iter().any(|t| *t >= reload_at),
            "group {g:?}: no priority-0 advert"
        );
        assert_eq!(
            times.count_in(g.src(Side::A), g.vrid, reload_at + 0.5, f64::MAX),
            0,
            "group {g:?} still advertises"
        );
    }
    // Changed groups kept advertising (their new priority sent at once, not later).
    for g in &all[CHANGED] {
        let n = times.count_in(g.src(Side::A), g.vrid, reload_at, window_end);
        assert!(n >= 3, "changed group {g:?}: {n} adverts after the reload");
    }
    a.signal(Signal::Term).expect("TERM");
    timing
}

#[test]
fn a_bad_file_changes_nothing() {
    let lab = lab(1);
    let r1 = lab.router(1).clone();
    let vip: IpAddr = Lab::vip4(5).into();
    let cap = lab.capture("reload-bad").expect("capture");
    let good = conf(
        &lab,
        "r1",
        VRouter::new(91, "eth0", vip)
            .priority(150)
            .version(3)
            .advert(0.2),
    );
    let mut p1 = start(&lab, &r1, "r1", &good);
    let (r1_ip, _) = wait_sole_master(&lab, &cap, 91, false, &r1, 0.2, &[&p1]);
    // Past the takeover (whose second advert may come up to two intervals after the first):
    // from here on the gaps are the interval.
    std::thread::sleep(Duration::from_secs(1));
    // The file the daemon reads is the one `start` wrote: break it (priority out of range).
    let path = lab.path("r1.toml");
    let text = std::fs::read_to_string(&path).expect("reading the config");
    std::fs::write(&path, text.replace("priority = 150", "priority = 300")).expect("writing");
    let at = now();
    let line = reload_and_wait(&mut p1, "reload refused, nothing changed");
    assert!(
        line.contains("priority") && line.contains("300") && line.contains("line"),
        "the refusal does not name the problem: {line}"
    );
    std::thread::sleep(Duration::from_secs(1));
    let t = cap.snapshot().expect("snapshot");
    assert_eq!(t.senders(91, false, at), vec![r1_ip]);
    // No advert missing or extra around the refused reload (50 ms of scheduling slack).
    let gaps = t.intervals(91, r1_ip, at - 0.5, f64::MAX);
    assert!(gaps.len() >= 5, "{gaps:?}");
    assert!(
        gaps.iter().all(|g| (g - 0.2).abs() < 0.05),
        "adverts off schedule around the refused reload: {gaps:?}"
    );
    assert!(kernel::has_address(&r1.ns, vip).expect("ip addr"));
}
