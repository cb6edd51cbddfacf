//! Preemption details with real rvrrpd processes: `preempt_delay` holds a returning
//! higher-priority router back for its delay, then it takes over.
//!
//! Needs root.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use rvrrpd_lab::config::rvrrpd::VRouter;
use rvrrpd_lab::Lab;

const INTERVAL: f64 = 0.2;

#[test]
fn preempt_delay_holds_a_returning_better_router_back() {
    let lab = lab(2);
    let vrid = 71;
    let vip: IpAddr = Lab::vip4(4).into();
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let cap = lab.capture("preempt-delay").expect("capture");
    let vr = |p| {
        VRouter::new(vrid, "eth0", vip)
            .priority(p)
            .preemption(true)
            .version(3)
            .advert(INTERVAL)
    };
    let p2 = start(&lab, &r2, "r2", &conf(&lab, "r2", vr(100)));
    let (r2_ip, _) = wait_sole_master(&lab, &cap, vrid, false, &r2, INTERVAL, &[&p2]);
    // r1 (150) starts with a 2 s preempt_delay: it hears r2 at once but waits.
    let delay = 2.0;
    let started = now();
    let p1 = start(
        &lab,
        &r1,
        "r1",
        &conf(
            &lab,
            "r1",
            vr(150).line(&format!("preempt_delay = {delay}")),
        ),
    );
    let procs = [&p1, &p2];
    let f = wait_failover(
        &cap,
        vrid,
        r2_ip,
        |_| true,
        started,
        Duration::from_secs(10),
        &procs,
    );
    let waited = f.new_first.ts - started;
    println!("preempt_delay {delay} s: r1 took over {waited:.3} s after it started");
    assert!(
        waited >= delay,
        "r1 preempted after {waited:.3} s, before its {delay} s delay\n{}",
        diag(&procs)
    );
    assert!(
        waited <= delay + 1.0,
        "r1 took {waited:.3} s (delay {delay} s)\n{}",
        diag(&procs)
    );
    wait_vip(&r1, vip, true, Duration::from_secs(3), &procs);
}
