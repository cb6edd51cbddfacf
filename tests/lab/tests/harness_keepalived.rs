//! Validates the harness itself with keepalived on both sides: election, kill failover and
//! the measurement from the capture. Needs root and keepalived (fails loudly without).

use std::net::IpAddr;
use std::time::Duration;

use rvrrpd_lab::config::keepalived::{self, KaInstance, KeepalivedConf};
use rvrrpd_lab::{kernel, theory, wait_until, Lab, Signal};

fn scenario(version: u8, advert: f64) {
    let lab = Lab::builder().routers(2).build().expect("lab");
    let vip = Lab::vip4(1);
    let vrid = 51;
    let mut cap = lab.capture("ka").expect("capture");
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let mk = |prio| KaInstance::new("eth0", vrid, prio, version, advert, &format!("{vip}/24"));
    let mut k1 =
        keepalived::spawn(&lab, &r1.ns, "ka1", &KeepalivedConf::new("r1", mk(150))).expect("ka1");
    let _k2 =
        keepalived::spawn(&lab, &r2.ns, "ka2", &KeepalivedConf::new("r2", mk(100))).expect("ka2");

    wait_until(
        "VIP on r1",
        Duration::from_secs(15),
        Duration::from_millis(50),
        || kernel::has_address(&r1.ns, IpAddr::V4(vip)).unwrap_or(false),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", k1.output()));
    std::thread::sleep(Duration::from_secs_f64(advert * 4.0));
    assert!(
        !kernel::has_address(&r2.ns, IpAddr::V4(vip)).expect("addrs"),
        "VIP on both"
    );
    let t = cap.snapshot().expect("snapshot");
    let since = t.last_ts().expect("adverts") - advert * 2.5;
    assert_eq!(
        t.senders(vrid, false, since),
        vec![IpAddr::V4(r1.ipv4)],
        "{}",
        t.summary(20)
    );

    k1.signal_group(Signal::Kill).expect("kill");
    let killed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    wait_until(
        "VIP on r2",
        Duration::from_secs(15),
        Duration::from_millis(20),
        || kernel::has_address(&r2.ns, IpAddr::V4(vip)).unwrap_or(false),
    )
    .expect("failover");
    std::thread::sleep(Duration::from_secs_f64(advert * 2.0));
    let t = cap.stop().expect("stop");
    let f = t
        .failover(vrid, IpAddr::V4(r1.ipv4), IpAddr::V4(r2.ipv4), killed - 1.0)
        .unwrap_or_else(|| panic!("no failover in capture\n{}", t.summary(30)));
    let mdi = theory::master_down_interval(version, 100, Duration::from_secs_f64(advert));
    println!(
        "keepalived v{version} advert {advert}s: SIGKILL failover gap {:.3}s (Master_Down_Interval {:.3}s)",
        f.gap(),
        mdi.as_secs_f64()
    );
    assert!(
        f.gap() <= mdi.as_secs_f64() + advert + 0.5,
        "gap {}",
        f.gap()
    );
    assert_eq!(f.new_first.src_mac.to_string().len(), 17);
}

#[test]
fn keepalived_v2_election_and_kill_failover() {
    scenario(2, 1.0);
}

#[test]
fn keepalived_v3_fast_election_and_kill_failover() {
    scenario(3, 0.1);
}
