//! Writes through the API seen on the wire and in the kernel: a priority raise that
//! preempts, a handover with priority 0, groups added and removed live.

use crate::client::*;
use crate::common::*;
use crate::scenario::*;
use rvrrpd_lab::{kernel, theory, Lab};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::time::Duration;

/// r1 (200) is Master; r2 (100, preemption) gets priority 250 through its API and takes over.
#[test]
fn api_priority_raise_makes_the_backup_preempt() {
    let lab = lab(2);
    let (vrid, iv) = (11u8, 1.0);
    let vip: IpAddr = Lab::vip4(11).into();
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let cap = lab.capture("api-priority").expect("capture");
    let p1 = start_with_api(&lab, &r1, "r1", vr(vrid, vip, 200, true), false);
    let p2 = start_with_api(&lab, &r2, "r2", vr(vrid, vip, 100, true), true);
    let procs = [&p1, &p2];
    wait_sole_master(&lab, &cap, vrid, false, &r1, iv, &procs);
    wait_vip(&r1, vip, true, Duration::from_secs(3), &procs);
    let api = Api::new(&lab, &r2);
    wait_api(&api, &procs);
    let api = api.login(RW);
    api.wait_state(vrid, "eth0", "Backup", Duration::from_secs(5), &procs);
    let before = api.group(vrid, "eth0");
    assert_eq!(before["priority"], 100, "{before}");

    let t0 = now();
    let r = api.send(
        "PUT",
        &format!("/run/vrrp/{vrid}/eth0/priority"),
        Some(r#"{"priority": 250}"#),
    );
    assert_eq!(r.status, 200, "{r:?}\n{}", diag(&procs));
    assert_eq!(r.json()["vrrp"]["priority"], 250, "{r:?}");

    // On the wire: r2 alone, at 250; r1 went quiet (Backup).
    let first = wait_advert(
        &cap,
        vrid,
        ip4(&r2),
        250,
        t0,
        Duration::from_secs(10),
        &procs,
    );
    let (_, t) = wait_sole_master(&lab, &cap, vrid, false, &r2, iv, &procs);
    let r2_prios: Vec<u8> = adverts_from(&t, vrid, ip4(&r2), t0)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert!(
        r2_prios.iter().all(|&p| p == 250),
        "r2 advertised other priorities than 250 after the change: {r2_prios:?}\n{}",
        t.summary(15)
    );
    let late_r1: Vec<(u8, f64)> = adverts_from(&t, vrid, ip4(&r1), first + 0.5);
    assert!(
        late_r1.is_empty(),
        "r1 still advertised after r2 took over: {late_r1:?}\n{}",
        t.summary(15)
    );
    println!(
        "MEASURED API priority 100→250: r2's first advert at 250 {:.3}s after the PUT \
         (Master_Down_Interval of r2 at 250: {:.3}s)",
        first - t0,
        theory::master_down_interval(2, 250, Duration::from_secs(1)).as_secs_f64()
    );
    wait_vip(&r2, vip, true, Duration::from_secs(3), &procs);
    wait_vip(&r1, vip, false, Duration::from_secs(3), &procs);

    let g = api.group(vrid, "eth0");
    assert_eq!(g["state"], "Master", "{g}");
    assert_eq!(g["priority"], 250, "{g}");
    assert!(
        p2.output().contains("priority set to 250 by operator"),
        "the write is not logged with the user:\n{}",
        p2.tail(20)
    );
}

/// r1 (200, no preemption) is Master and hands over through its API: a priority-0 advert,
/// r2 (100) takes over after Skew_Time, r1 stays Backup.
#[test]
fn api_handover_sends_priority_zero_and_the_peer_takes_over() {
    let lab = lab(2);
    let (vrid, iv) = (12u8, 1.0);
    let vip: IpAddr = Lab::vip4(12).into();
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let cap = lab.capture("api-handover").expect("capture");
    let p1 = start_with_api(&lab, &r1, "r1", vr(vrid, vip, 200, false), true);
    let p2 = start_with_api(&lab, &r2, "r2", vr(vrid, vip, 100, true), false);
    let procs = [&p1, &p2];
    wait_sole_master(&lab, &cap, vrid, false, &r1, iv, &procs);
    wait_vip(&r1, vip, true, Duration::from_secs(3), &procs);
    let api = Api::new(&lab, &r1);
    wait_api(&api, &procs);
    let api = api.login(RW);
    api.wait_state(vrid, "eth0", "Master", Duration::from_secs(5), &procs);

    let t0 = now();
    let r = api.send("POST", &format!("/run/vrrp/{vrid}/eth0/handover"), None);
    assert_eq!(r.status, 200, "{r:?}\n{}", diag(&procs));
    assert_eq!(r.json()["vrrp"]["state"], "Backup", "{r:?}");

    let zero = wait_advert(
        &cap,
        vrid,
        ip4(&r1),
        0,
        t0 - 0.1,
        Duration::from_secs(3),
        &procs,
    );
    let (_, _) = wait_sole_master(&lab, &cap, vrid, false, &r2, iv, &procs);
    let t = cap.snapshot().expect("snapshot");
    let taken = t
        .first_from(vrid, ip4(&r2), zero)
        .expect("r2's first advert")
        .ts;
    let skew = theory::skew_time(2, 100, Duration::from_secs(1)).as_secs_f64();
    println!(
        "MEASURED API handover: priority-0 advert {:.3}s after the POST, r2's first advert \
         {:.3}s after it (Skew_Time {skew:.3}s)",
        zero - t0,
        taken - zero
    );
    assert!(
        taken - zero <= skew + 0.25,
        "r2 took {:.3}s after the priority-0 advert (Skew_Time {skew:.3}s)\n{}",
        taken - zero,
        t.summary(15)
    );
    wait_vip(&r2, vip, true, Duration::from_secs(3), &procs);
    wait_vip(&r1, vip, false, Duration::from_secs(3), &procs);

    // r1 stays Backup (no preemption), also after several of r2's intervals.
    std::thread::sleep(Duration::from_secs(4));
    let t = cap.snapshot().expect("snapshot");
    let r1_after: Vec<(u8, f64)> = adverts_from(&t, vrid, ip4(&r1), zero + 0.01);
    assert!(
        r1_after.is_empty(),
        "r1 advertised again after its hand-over: {r1_after:?}\n{}",
        t.summary(15)
    );
    let g = api.group(vrid, "eth0");
    assert_eq!(g["state"], "Backup", "{g}");
    assert_eq!(g["master"], r2.ipv4.to_string(), "{g}");
    assert!(!kernel::has_address(&r1.ns, vip).expect("ip addr"));

    // A second hand-over from the Backup is a conflict and changes nothing.
    let r = api.send("POST", &format!("/run/vrrp/{vrid}/eth0/handover"), None);
    assert_eq!(r.status, 409, "{r:?}");
    assert!(r.error().contains("Master"), "{r:?}");
}

/// A group added through the API on both routers runs at once (adverts, VIP on the Master)
/// while the existing group keeps its schedule; deleting it sends priority 0 and removes the
/// VIP.
#[test]
fn api_adds_and_removes_a_group_live() {
    let lab = lab(2);
    let (old, new, iv) = (21u8, 22u8, 1.0);
    let vip_old: IpAddr = Lab::vip4(21).into();
    let vip_new: IpAddr = Lab::vip4(22).into();
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let cap = lab.capture("api-vrouter").expect("capture");
    let p1 = start_with_api(&lab, &r1, "r1", vr(old, vip_old, 200, true), true);
    let p2 = start_with_api(&lab, &r2, "r2", vr(old, vip_old, 100, true), true);
    let procs = [&p1, &p2];
    wait_sole_master(&lab, &cap, old, false, &r1, iv, &procs);
    let (a1, a2) = (Api::new(&lab, &r1), Api::new(&lab, &r2));
    wait_api(&a1, &procs);
    wait_api(&a2, &procs);
    let (a1, a2) = (a1.login(RW), a2.login(RW));

    let body = |prio: u8| {
        json!({
            "group": new, "interface": "eth0", "vip": vip_new.to_string(),
            "priority": prio, "preemption": true, "version": 2, "timers": {"advert": 1}
        })
        .to_string()
    };
    let t_add = now();
    for (api, prio) in [(&a1, 150), (&a2, 100)] {
        let r = api.send("POST", "/config/vrouter", Some(&body(prio)));
        assert_eq!(r.status, 201, "{r:?}\n{}", diag(&procs));
        assert_eq!(r.json()["vrrp"]["group"], new, "{r:?}");
    }
    wait_sole_master(&lab, &cap, new, false, &r1, iv, &procs);
    wait_vip(&r1, vip_new, true, Duration::from_secs(3), &procs);
    assert!(!kernel::has_address(&r2.ns, vip_new).expect("ip addr"));
    a1.wait_state(new, "eth0", "Master", Duration::from_secs(3), &procs);
    a2.wait_state(new, "eth0", "Backup", Duration::from_secs(3), &procs);
    let cfg = a1.get("/config/vrouter").json();
    assert!(
        cfg.as_array()
            .is_some_and(|l| l.iter().any(|v| v["group"] == new)),
        "the new group is not in /config/vrouter: {cfg}"
    );

    // Removal on the Master: priority 0, VIP gone; r2 (still configured) takes it.
    let t_del = now();
    let r = a1.send("DELETE", &format!("/config/vrouter/{new}/eth0"), None);
    assert_eq!(r.status, 200, "{r:?}\n{}", diag(&procs));
    assert_eq!(r.json()["vrrp"], Value::Null, "{r:?}");
    wait_advert(
        &cap,
        new,
        ip4(&r1),
        0,
        t_del - 0.1,
        Duration::from_secs(3),
        &procs,
    );
    wait_vip(&r1, vip_new, false, Duration::from_secs(3), &procs);
    wait_sole_master(&lab, &cap, new, false, &r2, iv, &procs);
    wait_vip(&r2, vip_new, true, Duration::from_secs(3), &procs);
    let r = a1.get(&format!("/run/vrrp/{new}"));
    assert_eq!(r.json(), json!([]), "{r:?}");

    // And on r2: priority 0, VIP gone, the VRID disappears from the wire.
    let t_del2 = now();
    let r = a2.send("DELETE", &format!("/config/vrouter/{new}/eth0"), None);
    assert_eq!(r.status, 200, "{r:?}\n{}", diag(&procs));
    let zero2 = wait_advert(
        &cap,
        new,
        ip4(&r2),
        0,
        t_del2 - 0.1,
        Duration::from_secs(3),
        &procs,
    );
    wait_vip(&r2, vip_new, false, Duration::from_secs(3), &procs);
    std::thread::sleep(Duration::from_secs(4));
    let t = cap.snapshot().expect("snapshot");
    let after: Vec<String> = t
        .of(new, false)
        .filter(|a| a.ts > zero2)
        .map(|a| format!("{} prio {}", a.src_ip, a.priority()))
        .collect();
    assert!(
        after.is_empty(),
        "VRID {new} still on the wire after both removals: {after:?}"
    );
    assert!(lab.holders_of(vip_new).is_empty(), "VIP left somewhere");

    // The existing group kept its schedule through all of it, held by r1.
    let end = t.last_ts().unwrap_or(now());
    let gap = max_gap(&t, old, ip4(&r1), t_add - 2.0, end);
    println!(
        "MEASURED API add/remove: longest gap of the existing group's adverts during the \
         changes {gap:.3}s (interval {iv}s)"
    );
    assert!(
        gap <= 1.5 * iv,
        "the existing group paused {gap:.3}s during the changes\n{}",
        t.summary(30)
    );
    assert_eq!(
        sender_names(&lab, &t, old, false, t_add - 2.0),
        vec!["r1".to_string()],
        "the existing group changed hands"
    );
    assert!(kernel::has_address(&r1.ns, vip_old).expect("ip addr"));
}
