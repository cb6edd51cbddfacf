//! Election and failover between two (or three) rvrrpd instances in network namespaces.
//!
//! Failover times are measured on a capture taken on the client: from the old Master's last
//! advert to the new Master's first advert, and printed next to the RFC value. Tolerances:
//! `TOL_BASE + TOL_PER_INTERVAL × interval` above the theoretical time (0.25 s at 1 s adverts,
//! 0.16 s at 100 ms adverts).
//!
//! Needs root. Run alone: `cargo test --test election -- --test-threads=2 --nocapture`.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use rvrrpd_lab::config::rvrrpd::VRouter;
use rvrrpd_lab::{kernel, theory, Lab, Mac, Proc, Signal};

const TOL_BASE: f64 = 0.15;
const TOL_PER_INTERVAL: f64 = 0.1;

fn tolerance(interval: f64) -> f64 {
    TOL_BASE + TOL_PER_INTERVAL * interval
}

/// r1 (150) and r2 (100) elect r1; `sig` stops r1; r2 takes over. Returns the measured gap.
fn failover(version: u8, interval: f64, v6: bool, sig: Signal) -> f64 {
    let lab = lab(2);
    let vrid = 20 + version + if v6 { 5 } else { 0 };
    let vip: IpAddr = if v6 {
        Lab::vip6(1).into()
    } else {
        Lab::vip4(1).into()
    };
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let cap = lab.capture("failover").expect("capture");
    let vr = |p| {
        VRouter::new(vrid, "eth0", vip)
            .priority(p)
            .preemption(true)
            .version(version)
            .advert(interval)
    };
    let mut p1 = start(&lab, &r1, "r1", &conf(&lab, "r1", vr(150)));
    let p2 = start(&lab, &r2, "r2", &conf(&lab, "r2", vr(100)));
    let timeout = Duration::from_secs_f64(10.0 * interval + 8.0);

    // Election: r1 only advertises, holds the VIP; r2 does not.
    let (r1_ip, t) = wait_sole_master(&lab, &cap, vrid, v6, &r1, interval, &[&p1, &p2]);
    wait_vip(&r1, vip, true, Duration::from_secs(3), &[&p1, &p2]);
    assert!(
        !kernel::has_address(&r2.ns, vip).expect("ip addr"),
        "VIP on the Backup too\n{}",
        diag(&[&p1, &p2])
    );
    let a = t
        .of(vrid, v6)
        .filter(|a| a.src_ip == r1_ip)
        .last()
        .expect("an advert")
        .clone();
    assert_eq!(a.ttl, 255, "TTL/hop limit");
    assert_eq!(
        a.src_mac,
        Mac::vrrp(vrid, v6),
        "Ethernet source must be the virtual MAC"
    );
    let group: IpAddr = if v6 {
        "ff02::12".parse().expect("ip")
    } else {
        "224.0.0.18".parse().expect("ip")
    };
    assert_eq!(a.dst_ip, group);
    assert_eq!((a.version(), a.priority()), (version, 150));
    assert!(
        (a.interval() - interval).abs() < 0.005,
        "advertised interval {}",
        a.interval()
    );
    assert!(
        a.advert.addrs.contains(&vip),
        "VIP not in the advert: {:?}",
        a.advert.addrs
    );
    // r1 became Master by Master_Down expiry: no two of its adverts closer than the interval.
    assert_no_close_adverts(&t, vrid, r1_ip, interval, &[&p1, &p2]);

    let t0 = now();
    p1.signal(sig).expect("signal");
    wait_vip(&r2, vip, true, timeout, &[&p1, &p2]);
    let f = wait_failover(
        &cap,
        vrid,
        r1_ip,
        |ip| lab.owner_of(ip).map(|n| n.name == "r2").unwrap_or(false),
        t0 - interval,
        Duration::from_secs(5),
        &[&p1, &p2],
    );
    let gap = f.gap();
    let iv = Duration::from_secs_f64(interval);
    let mdi = theory::master_down_interval(version, 100, iv).as_secs_f64();
    let skew = theory::skew_time(version, 100, iv).as_secs_f64();
    let tol = tolerance(interval);
    let fam = if v6 { "IPv6" } else { "IPv4" };
    match sig {
        Signal::Kill => {
            println!(
                "MEASURED v{version} {fam} advert {interval}s SIGKILL: failover {gap:.3}s \
                 (Master_Down_Interval {mdi:.3}s, tolerance +{tol:.3}s)"
            );
            assert!(
                gap <= mdi + tol,
                "failover {gap:.3}s > Master_Down_Interval {mdi:.3}s + {tol:.3}s"
            );
            assert!(
                gap >= 3.0 * interval,
                "took over after {gap:.3}s, before 3 missed adverts"
            );
        }
        _ => {
            assert_eq!(
                f.old_last.priority(),
                0,
                "no priority-0 advert before the takeover\n{}",
                cap.snapshot().unwrap_or_default().summary(10)
            );
            println!(
                "MEASURED v{version} {fam} advert {interval}s SIGTERM: takeover {gap:.3}s after the \
                 priority-0 advert (Skew_Time {skew:.3}s, tolerance +{tol:.3}s)"
            );
            assert!(
                gap <= skew + tol,
                "takeover {gap:.3}s > Skew_Time {skew:.3}s + {tol:.3}s"
            );
            wait_vip(&r1, vip, false, Duration::from_secs(3), &[&p1, &p2]);
            let st = p1
                .wait_exit(Duration::from_secs(5))
                .expect("rvrrpd exits after SIGTERM");
            assert!(
                st.success(),
                "exit status after SIGTERM: {st}\n{}",
                p1.output()
            );
        }
    }
    gap
}

#[test]
fn v2_1s_sigkill_failover_within_master_down_interval() {
    failover(2, 1.0, false, Signal::Kill);
}

#[test]
fn v2_1s_sigterm_priority_zero_takeover_after_skew() {
    failover(2, 1.0, false, Signal::Term);
}

#[test]
fn v3_100ms_ipv4_sigkill_failover() {
    failover(3, 0.1, false, Signal::Kill);
}

#[test]
fn v3_100ms_ipv4_sigterm_takeover() {
    failover(3, 0.1, false, Signal::Term);
}

#[test]
fn v3_100ms_ipv6_sigkill_failover() {
    failover(3, 0.1, true, Signal::Kill);
}

#[test]
fn v3_100ms_ipv6_sigterm_takeover() {
    failover(3, 0.1, true, Signal::Term);
}

/// r1 (150) is stopped, r2 (100) takes over, r1 comes back: with `preempt` it takes the
/// group back, without it r2 stays Master.
fn preemption(preempt: bool) {
    let lab = lab(2);
    let (vrid, iv) = (40, 1.0);
    let vip: IpAddr = Lab::vip4(4).into();
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let cap = lab.capture("preempt").expect("capture");
    let vr = |p| {
        VRouter::new(vrid, "eth0", vip)
            .priority(p)
            .preemption(preempt)
            .version(2)
            .advert(iv)
    };
    let c1 = conf(&lab, "r1", vr(150));
    let mut p1 = start(&lab, &r1, "r1", &c1);
    let p2 = start(&lab, &r2, "r2", &conf(&lab, "r2", vr(100)));
    let to = Duration::from_secs(15);
    wait_sole_master(&lab, &cap, vrid, false, &r1, iv, &[&p1, &p2]);
    p1.signal(Signal::Term).expect("SIGTERM");
    p1.wait_exit(Duration::from_secs(5)).expect("r1 exits");
    wait_sole_master(&lab, &cap, vrid, false, &r2, iv, &[&p1, &p2]);
    wait_vip(&r2, vip, true, to, &[&p1, &p2]);

    let p1b = start(&lab, &r1, "r1b", &c1);
    if preempt {
        wait_sole_master(&lab, &cap, vrid, false, &r1, iv, &[&p1b, &p2]);
        wait_vip(&r1, vip, true, Duration::from_secs(3), &[&p1b, &p2]);
        wait_vip(&r2, vip, false, Duration::from_secs(3), &[&p1b, &p2]);
    } else {
        let restarted = now();
        let mdi = theory::master_down_interval(2, 150, Duration::from_secs_f64(iv)).as_secs_f64();
        std::thread::sleep(Duration::from_secs_f64(2.0 * mdi + 1.0));
        let t = cap.snapshot().expect("snapshot");
        assert_eq!(
            sender_names(&lab, &t, vrid, false, restarted),
            vec!["r2".to_string()],
            "r1 took over without preemption\n{}\n{}",
            t.summary(15),
            diag(&[&p1b, &p2])
        );
        assert!(kernel::has_address(&r2.ns, vip).expect("ip"));
        assert!(
            !kernel::has_address(&r1.ns, vip).expect("ip"),
            "VIP on r1 without preemption"
        );
    }
    drop::<Proc>(p1b);
}

#[test]
fn preemption_true_higher_priority_takes_back() {
    preemption(true);
}

#[test]
fn preemption_false_higher_priority_does_not_take_back() {
    preemption(false);
}

/// Reply timestamps (`ping -D`) from a ping log.
fn reply_times(out: &str) -> Vec<f64> {
    out.lines()
        .filter(|l| l.contains("bytes from"))
        .filter_map(|l| l.strip_prefix('[')?.split(']').next()?.parse().ok())
        .collect()
}

#[test]
fn macvlan_client_reaches_vip_through_virtual_mac_across_failover() {
    let lab = lab(2);
    let (vrid, iv) = (51u8, 1.0);
    let vip: IpAddr = Lab::vip4(5).into();
    let vif = "vrrp51";
    let (r1, r2, cl) = (
        lab.router(1).clone(),
        lab.router(2).clone(),
        lab.client().clone(),
    );
    let cap = lab.capture("macvlan").expect("capture");
    let vr = |p| {
        VRouter::new(vrid, "eth0", vip)
            .priority(p)
            .preemption(true)
            .version(2)
            .advert(iv)
            .macvlan(vif)
            // The client pings the VIP itself (refused without accept mode).
            .accept_mode(true)
    };
    let mut p1 = start(&lab, &r1, "r1", &conf(&lab, "r1", vr(150)));
    let p2 = start(&lab, &r2, "r2", &conf(&lab, "r2", vr(100)));
    let to = Duration::from_secs(15);
    let (r1_ip, _) = wait_sole_master(&lab, &cap, vrid, false, &r1, iv, &[&p1, &p2]);
    wait_vip(&r1, vip, true, Duration::from_secs(3), &[&p1, &p2]);
    let vmac = Mac::vrrp(vrid, false).to_string();
    assert_eq!(
        kernel::link_mac(&r1.ns, vif).expect("ip link"),
        Some(vmac.clone()),
        "macvlan {vif} with the virtual MAC"
    );
    let on_vif = kernel::addresses(&r1.ns, Some(vif)).expect("ip addr");
    assert!(
        on_vif.iter().any(|a| a.addr == vip),
        "VIP not on {vif}: {on_vif:?}"
    );
    assert!(
        !kernel::has_address(&r2.ns, vip).expect("ip"),
        "VIP on the Backup"
    );

    let st = kernel::ping(&cl.ns, vip, 3, Duration::from_secs(1)).expect("ping");
    assert!(
        st.received >= 2,
        "client cannot ping the VIP: {st:?}\n{}",
        diag(&[&p1, &p2])
    );
    // Checked at the end (so a failure here still reports the ping across the failover).
    let arp_before = kernel::neigh_mac(&cl.ns, vip).expect("ip neigh");

    let ping = lab
        .spawn(
            &cl.ns,
            "ping",
            &["ping", "-n", "-D", "-i", "0.1", "-W", "1", &vip.to_string()].map(String::from),
        )
        .expect("ping");
    std::thread::sleep(Duration::from_secs(1));
    let t0 = now();
    // A dead router: daemon killed and link gone (else r1's kernel keeps answering the ping).
    p1.signal(Signal::Kill).expect("SIGKILL");
    lab.unplug(&r1).expect("unplug r1");
    wait_vip(&r2, vip, true, to, &[&p1, &p2]);
    let f = wait_failover(
        &cap,
        vrid,
        r1_ip,
        |ip| ip == IpAddr::V4(r2.ipv4),
        t0 - iv,
        Duration::from_secs(5),
        &[&p1, &p2],
    );
    std::thread::sleep(Duration::from_secs(3));
    let mut ping = ping;
    ping.signal(Signal::Int).expect("SIGINT ping");
    ping.wait_exit(Duration::from_secs(3)).expect("ping exits");
    let out = ping.stdout();
    let stats = kernel::parse_ping_summary(&out).expect("ping summary");
    let replies = reply_times(&out);
    let after = replies
        .iter()
        .filter(|&&t| t > f.new_first.ts + 0.5)
        .count();
    let outage = replies.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    println!(
        "MEASURED macvlan v2 1s SIGKILL+unplug: failover {:.3}s; ping every 100 ms: {} sent, {} lost, \
         longest gap between replies {outage:.2}s, {after} replies after the takeover",
        f.gap(),
        stats.sent,
        stats.lost(),
    );
    assert!(
        after >= 10,
        "the ping did not resume after the failover\n{out}"
    );
    assert_eq!(
        arp_before,
        Some(vmac.clone()),
        "client's ARP entry for the VIP before the failover (a frame from the router's \
         physical MAC with the VIP as sender, e.g. an ARP request of the Master, overwrites it)"
    );
    assert_eq!(
        kernel::neigh_mac(&cl.ns, vip).expect("ip neigh"),
        Some(vmac),
        "client's ARP entry for the VIP after the failover"
    );
}

#[test]
fn static_route_installed_only_on_master() {
    let lab = lab(2);
    let (vrid, iv) = (61u8, 1.0);
    let vip: IpAddr = Lab::vip4(6).into();
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let cap = lab.capture("static").expect("capture");
    let nh = lab.client().ipv4.to_string();
    let mk = |name: &str, p| {
        conf(
            &lab,
            name,
            VRouter::new(vrid, "eth0", vip)
                .priority(p)
                .preemption(true)
                .version(2)
                .advert(iv),
        )
        .static_route("192.0.2.0", "255.255.255.0", &nh)
    };
    let mut p1 = start(&lab, &r1, "r1", &mk("r1", 150));
    let p2 = start(&lab, &r2, "r2", &mk("r2", 100));
    let to = Duration::from_secs(15);
    wait_sole_master(&lab, &cap, vrid, false, &r1, iv, &[&p1, &p2]);
    let route = "192.0.2.0/24";
    rvrrpd_lab::wait_until(
        "route on r1",
        Duration::from_secs(3),
        Duration::from_millis(50),
        || kernel::has_route(&r1.ns, route).unwrap_or(false),
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", kernel::routes(&r1.ns), diag(&[&p1, &p2])));
    assert!(
        !kernel::has_route(&r2.ns, route).expect("routes"),
        "route on the Backup"
    );
    p1.signal(Signal::Term).expect("SIGTERM");
    rvrrpd_lab::wait_until("route on r2", to, Duration::from_millis(50), || {
        kernel::has_route(&r2.ns, route).unwrap_or(false)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", diag(&[&p1, &p2])));
    p1.wait_exit(Duration::from_secs(5)).expect("r1 exits");
    assert!(
        !kernel::has_route(&r1.ns, route).expect("routes"),
        "route left on r1 after SIGTERM"
    );
}
