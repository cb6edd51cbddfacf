//! Validates the FRR launcher: two FRR vrrpd elect a Master and fail over on a kill.
//! Needs root and FRR (`/usr/lib/frr/zebra`, `/usr/lib/frr/vrrpd`); fails loudly without.

use std::net::IpAddr;
use std::time::Duration;

use rvrrpd_lab::config::frr::{self, FrrVrrp};
use rvrrpd_lab::{wait_for, Lab};

#[test]
fn frr_v3_election_and_kill_failover() {
    let lab = Lab::builder().routers(2).build().expect("lab");
    let vip = Lab::vip4(3);
    let vrid = 33;
    let cap = lab.capture("frr").expect("capture");
    let g = |prio| FrrVrrp {
        interface: "eth0".into(),
        vrid,
        version: 3,
        priority: prio,
        advert_ms: 1000,
        preempt: true,
        vips: vec![(IpAddr::V4(vip), 24)],
    };
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let mut f1 = frr::start(&lab, &r1.ns, "frr1", &g(150)).expect("frr1");
    let _f2 = frr::start(&lab, &r2.ns, "frr2", &g(100)).expect("frr2");
    let (t, _) = wait_for(
        "r1 as the only advertiser",
        Duration::from_secs(20),
        Duration::from_millis(200),
        || {
            let t = cap.snapshot().ok()?;
            let last = t.last_ts()?;
            (t.senders(vrid, false, last - 2.5) == vec![IpAddr::V4(r1.ipv4)]
                && t.of(vrid, false).count() > 3)
                .then_some(t)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}\n{}", f1.show_vrrp(), f1.vrrpd.tail(30)));
    let after = t.last_ts().expect("adverts");
    f1.kill().expect("kill");
    let (f, _) = wait_for(
        "r2 to take over",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || {
            cap.snapshot().ok()?.failover(
                vrid,
                IpAddr::V4(r1.ipv4),
                IpAddr::V4(r2.ipv4),
                after - 1.0,
            )
        },
    )
    .expect("failover");
    println!("FRR v3 1s: failover gap {:.3}s", f.gap());
    assert!(f.gap() < 5.0);
}
