//! A sync group of two vrouters on two interfaces, between two rvrrpd routers:
//!
//! * a fault of one member (an unweighted tracked interface going down) puts both in Fault:
//!   the peer takes over both; when it clears, both come back (preemption);
//! * the peer preempting one member (its priority raised by a reload) makes the other leave
//!   Master too and stay Backup while the first is preempted; when the peer lowers its
//!   priority again both come back.
//!
//! Needs root.

mod common;

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use common::*;
use rvrrpd_lab::config::rvrrpd::RvrrpdConf;
use rvrrpd_lab::scale::{self, Group, ScaleTopo, Side};
use rvrrpd_lab::{wait_until, Signal};

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
    assert!(a.output().contains("sync group gw: a member was preempted"));

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
    assert!(a.output().contains("sync group gw: released"));
    a.signal(Signal::Term).ok();
    b.signal(Signal::Term).ok();
}
