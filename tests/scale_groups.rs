//! A thousand groups between two rvrrpd instances: every group elects exactly one Master (the
//! priority-200 router holds every VIP, the other none), and after a SIGKILL of that Master the
//! other takes over every group. Timing precision at scale is measured by `cargo xtask scale`,
//! not here.
//!
//! Needs root.

mod common;

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use common::daemon;
use rvrrpd_lab::scale::{self, groups, ScaleTopo, Side};
use rvrrpd_lab::{wait_until, Signal};

const GROUPS: usize = 1000;

#[test]
fn thousand_groups_converge_with_one_master_each_and_fail_over() {
    let bin = daemon();
    let topo = ScaleTopo::build(GROUPS).expect("building the topology");
    let vips: HashSet<IpAddr> = groups(GROUPS).iter().map(|g| IpAddr::V4(g.vip())).collect();
    let conf = |side, name| scale::rvrrpd_conf(topo.dir(), name, side, GROUPS, 2, 1.0);
    let mut a = scale::spawn_rvrrpd(&topo, Side::A, &bin, "a", &conf(Side::A, "a"), "", &[])
        .expect("spawning A");
    let b = scale::spawn_rvrrpd(&topo, Side::B, &bin, "b", &conf(Side::B, "b"), "", &[])
        .expect("spawning B");

    // Both start as Backups; A takes every group after its Master_Down_Interval (3.2 s).
    let converged = wait_until(
        "A Master of every group",
        Duration::from_secs(30),
        Duration::from_millis(250),
        || topo.held(Side::A, &vips) == GROUPS && topo.held(Side::B, &vips) == 0,
    );
    if let Err(e) = converged {
        panic!(
            "{e}: A holds {}, B holds {} of {GROUPS} VIPs\n{}\n{}",
            topo.held(Side::A, &vips),
            topo.held(Side::B, &vips),
            a.tail(10),
            b.tail(10)
        );
    }
    // Stable: a few more advert intervals change nothing.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        topo.held(Side::A, &vips),
        GROUPS,
        "A lost groups\n{}",
        a.tail(10)
    );
    assert_eq!(
        topo.held(Side::B, &vips),
        0,
        "B took groups\n{}",
        b.tail(10)
    );
    let (b_master, _) = scale::count_transitions(&b.output());
    assert_eq!(
        b_master,
        0,
        "B became Master while A was alive\n{}",
        b.tail(10)
    );

    // A crashes: its addresses stay in its namespace (nobody removes them), but B must take
    // over every group within its Master_Down_Interval (3.61 s) plus slack.
    a.signal(Signal::Kill).expect("SIGKILL A");
    let failed_over = wait_until(
        "B Master of every group",
        Duration::from_secs(15),
        Duration::from_millis(250),
        || topo.held(Side::B, &vips) == GROUPS,
    );
    if let Err(e) = failed_over {
        panic!(
            "{e}: B holds {} of {GROUPS}\n{}",
            topo.held(Side::B, &vips),
            b.tail(20)
        );
    }
    let (b_master, _) = scale::count_transitions(&b.output());
    assert_eq!(
        b_master,
        GROUPS,
        "each group exactly one takeover\n{}",
        b.tail(10)
    );
}
