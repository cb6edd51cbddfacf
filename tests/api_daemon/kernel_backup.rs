//! The kernel-resident Backup with real daemons: r2 is Backup of many groups whose Master is
//! r1. After the first adverts its workers get nothing in steady state (the fast path's
//! `delivered` / `passed` counter stands still) while each group's `adverts_suppressed`
//! grows; a priority change and a priority-0 hand-over on the Master still reach it at once;
//! a SIGKILL of the Master is taken over within Master_Down_Interval of its last advert on
//! the wire, as in the election tests. On classic BPF nothing is suppressed and the rest
//! holds.

use crate::client::*;
use crate::common::*;
use crate::scenario::*;
use rvrrpd_lab::config::rvrrpd::{RvrrpdConf, VRouter};
use rvrrpd_lab::{theory, wait_for, Lab, Node, Proc, Signal};
use std::net::Ipv4Addr;
use std::time::Duration;

/// Groups: VRIDs 1..=GROUPS on eth0, VRRPv2, 1 s adverts.
const GROUPS: u8 = 200;
const IV: f64 = 1.0;
/// The election tests' tolerance at 1 s adverts (TOL_BASE + TOL_PER_INTERVAL × interval).
const TOL: f64 = 0.25;

fn vip(vrid: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, 0, vrid)
}

fn router(lab: &Lab, node: &Node, name: &str, prio: u8) -> Proc {
    let mut c = RvrrpdConf::new(lab.dir(), name).api(api_section(node));
    for vrid in 1..=GROUPS {
        c = c.vrouter(
            VRouter::new(vrid, "eth0", format!("{}/32", vip(vrid)))
                .priority(prio)
                .preemption(true)
                .version(2)
                .advert(IV),
        );
    }
    start(lab, node, name, &c)
}

/// The receive path the daemon reports.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Path {
    Xdp,
    SocketFilter,
    Classic,
}

fn path(api: &Api) -> Path {
    let d = api.get("/run/daemon").json();
    let p = d["fast_path"].as_str().unwrap_or_default();
    if p.starts_with("XDP") {
        Path::Xdp
    } else if p.contains("eBPF socket filter") {
        Path::SocketFilter
    } else {
        Path::Classic
    }
}

/// (groups in `state`, sum of `adverts_suppressed`) from `GET /run/vrrp`.
fn groups(api: &Api, state: &str) -> (usize, u64) {
    let r = api.get("/run/vrrp");
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    let list = v.as_array().cloned().unwrap_or_default();
    let n = list.iter().filter(|g| g["state"] == state).count();
    let s = list
        .iter()
        .map(|g| g["counters"]["adverts_suppressed"].as_u64().unwrap_or(0))
        .sum();
    (n, s)
}

/// Adverts the fast path handed to r2's workers: XDP `delivered`, or the socket filter's
/// `passed` (counted per socket).
fn handed_to_workers(api: &Api, p: Path) -> Option<f64> {
    let r = api.get("/metrics");
    assert_eq!(r.status, 200, "{r:?}");
    let name = match p {
        Path::Xdp => "delivered",
        Path::SocketFilter => "passed",
        Path::Classic => return None,
    };
    metric_value(
        &r.text,
        &format!("rvrrpd_fastpath_drops_total{{reason=\"{name}\"}}"),
    )
}

fn wait_all(api: &Api, state: &str, what: &str, procs: &[&Proc]) {
    let r = wait_for(
        what,
        Duration::from_secs(30),
        Duration::from_millis(250),
        || (groups(api, state).0 == usize::from(GROUPS)).then_some(()),
    );
    if let Err(e) = r {
        panic!("{e}: {} in {state}\n{}", groups(api, state).0, diag(procs));
    }
}

#[test]
fn a_backup_of_many_groups_sleeps_through_its_masters_adverts() {
    let lab = lab(2);
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let cap = lab.capture("kernel-backup").expect("capture");
    let mut p1 = router(&lab, &r1, "r1", 200);
    let p2 = router(&lab, &r2, "r2", 100);
    let procs = [&p1, &p2];
    let (a1, a2) = (Api::new(&lab, &r1), Api::new(&lab, &r2));
    wait_api(&a1, &procs);
    wait_api(&a2, &procs);
    let (a1, a2) = (a1.login(RW), a2.login(RO));
    wait_all(&a1, "Master", "r1 Master of every group", &procs);
    wait_all(&a2, "Backup", "r2 Backup of every group", &procs);
    let p = path(&a2);

    // Steady state: a few intervals to learn every Master's advert and publish the counts.
    std::thread::sleep(Duration::from_secs(6));
    let (d0, s0) = (handed_to_workers(&a2, p), groups(&a2, "Backup").1);
    std::thread::sleep(Duration::from_secs(10));
    let (d1, s1) = (handed_to_workers(&a2, p), groups(&a2, "Backup").1);
    println!(
        "MEASURED kernel-resident Backup ({p:?}), {GROUPS} groups over 10 s: adverts handed to \
         workers {d0:?} -> {d1:?}, suppressed {s0} -> {s1}"
    );
    match p {
        Path::Xdp | Path::SocketFilter => {
            assert_eq!(
                d1,
                d0,
                "adverts reached r2's workers in steady state\n{}",
                diag(&procs)
            );
            assert!(
                s1 >= s0 + 5 * u64::from(GROUPS),
                "suppressed counts {s0} -> {s1} in 10 s for {GROUPS} groups\n{}",
                diag(&procs)
            );
        }
        Path::Classic => assert_eq!((s0, s1), (0, 0), "nothing is suppressed on classic BPF"),
    }
    assert_eq!(groups(&a2, "Backup").0, usize::from(GROUPS));

    // A priority change on the Master reaches the Backup at once: r1 drops group 7 to 50,
    // below r2's 100, and r2 preempts it Skew_Time after the first such advert.
    let iv = Duration::from_secs_f64(IV);
    let skew = theory::skew_time(2, 100, iv).as_secs_f64();
    let t0 = now();
    let r = a1.send(
        "PUT",
        "/run/vrrp/7/eth0/priority",
        Some(r#"{"priority": 50}"#),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let low = wait_advert(&cap, 7, ip4(&r1), 50, t0, Duration::from_secs(5), &procs);
    let took = wait_advert(&cap, 7, ip4(&r2), 100, t0, Duration::from_secs(5), &procs);
    println!(
        "MEASURED priority 50 on the Master: r2 preempted {:.3}s later",
        took - low
    );
    assert!(
        took - low <= skew + TOL,
        "r2 preempted {:.3}s after r1's priority-50 advert (Skew_Time {skew:.3}s + {TOL}s)",
        took - low
    );

    // A priority-0 hand-over of group 9: r2 takes over Skew_Time after it.
    let t0 = now();
    let r = a1.send("POST", "/run/vrrp/9/eth0/handover", None);
    assert_eq!(r.status, 200, "{r:?}");
    let zero = wait_advert(&cap, 9, ip4(&r1), 0, t0, Duration::from_secs(5), &procs);
    let took = wait_advert(&cap, 9, ip4(&r2), 100, t0, Duration::from_secs(5), &procs);
    println!(
        "MEASURED hand-over: r2 took over {:.3}s after the priority-0 advert",
        took - zero
    );
    assert!(
        took - zero <= skew + TOL,
        "r2 took over {:.3}s after the priority-0 advert (Skew_Time {skew:.3}s + {TOL}s)",
        took - zero
    );
    // r1 (200, preempting) takes group 9 back; group 7 stays r2's. Let it settle.
    std::thread::sleep(Duration::from_secs(6));

    // SIGKILL of the Master: every group r2 follows is taken over within Master_Down_Interval
    // of r1's last advert on the wire, and not before three intervals.
    let mdi = theory::master_down_interval(2, 100, iv).as_secs_f64();
    let t0 = now();
    p1.signal(Signal::Kill).expect("SIGKILL r1");
    wait_all(&a2, "Master", "r2 Master of every group", &[&p2]);
    std::thread::sleep(Duration::from_secs(1));
    let t = cap.snapshot().expect("capture");
    let mut gaps: Vec<(u8, f64)> = Vec::new();
    for vrid in (1..=GROUPS).filter(|&v| v != 7) {
        let f = t
            .failover(vrid, ip4(&r1), ip4(&r2), t0 - IV)
            .unwrap_or_else(|| panic!("no takeover of VRID {vrid} on the capture"));
        gaps.push((vrid, f.gap()));
    }
    let worst = gaps
        .iter()
        .copied()
        .fold((0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
    let best = gaps
        .iter()
        .copied()
        .fold((0, f64::MAX), |a, b| if b.1 < a.1 { b } else { a });
    println!(
        "MEASURED SIGKILL failover of {} groups: {:.3}s .. {:.3}s (MDI {mdi:.3}s, tolerance \
         +{TOL}s)",
        gaps.len(),
        best.1,
        worst.1
    );
    assert!(
        worst.1 <= mdi + TOL,
        "VRID {} taken over {:.3}s after r1's last advert > MDI {mdi:.3}s + {TOL}s",
        worst.0,
        worst.1
    );
    assert!(
        best.1 >= 3.0 * IV,
        "VRID {} taken over {:.3}s after r1's last advert, before 3 missed adverts",
        best.0,
        best.1
    );
}
