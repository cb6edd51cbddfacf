//! Bad requests to a live daemon: refused with a message, and nothing changes on the wire
//! or in the kernel.

use crate::client::*;
use crate::common::*;
use crate::scenario::*;
use rvrrpd_lab::{kernel, Lab};
use serde_json::json;
use std::net::IpAddr;
use std::time::Duration;

/// A bad request: (client, method, path, body, expected status, words the message must
/// contain).
type BadCase<'a> = (&'a Api, &'a str, String, Option<String>, u16, &'a [&'a str]);

/// Bad requests get a 4xx with a JSON error naming the problem, and nothing changes: not the
/// adverts on the wire, not the addresses of either router.
#[test]
fn api_bad_requests_change_nothing() {
    let lab = lab(2);
    let (vrid, iv) = (31u8, 1.0);
    let vip: IpAddr = Lab::vip4(31).into();
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let cap = lab.capture("api-bad").expect("capture");
    let p1 = start_with_api(&lab, &r1, "r1", vr(vrid, vip, 200, true), false);
    let p2 = start_with_api(&lab, &r2, "r2", vr(vrid, vip, 100, true), true);
    let procs = [&p1, &p2];
    wait_sole_master(&lab, &cap, vrid, false, &r1, iv, &procs);
    wait_vip(&r1, vip, true, Duration::from_secs(3), &procs);
    let anon = Api::new(&lab, &r2);
    wait_api(&anon, &procs);
    let rw = anon.login(RW);
    let ro = anon.login(RO);
    rw.wait_state(vrid, "eth0", "Backup", Duration::from_secs(5), &procs);
    let k1 = kernel::snapshot(&r1.ns).expect("snapshot r1");
    let k2 = kernel::snapshot(&r2.ns).expect("snapshot r2");
    let t0 = now();

    let prio_path = format!("/run/vrrp/{vrid}/eth0/priority");
    let dup = json!({"group": vrid, "interface": "eth0", "vip": Lab::vip4(40).to_string()});
    let bad_vip = json!({"group": 41, "interface": "eth0", "vip": "10.0.0.300"});
    // (user, method, path, body, status, words the message must contain)
    let cases: Vec<BadCase> = vec![
        (
            &rw,
            "PUT",
            prio_path.clone(),
            Some(r#"{"priority": 0}"#.into()),
            400,
            &["priority", "0"],
        ),
        (
            &rw,
            "PUT",
            prio_path.clone(),
            Some(r#"{"priority": 255}"#.into()),
            400,
            &["priority", "255"],
        ),
        (
            &rw,
            "PUT",
            prio_path.clone(),
            Some(r#"{"priority": "x"}"#.into()),
            400,
            &["invalid"],
        ),
        (
            &rw,
            "PUT",
            "/run/vrrp/99/eth0/priority".into(),
            Some(r#"{"priority": 150}"#.into()),
            404,
            &["99", "eth0"],
        ),
        (
            &rw,
            "POST",
            "/run/vrrp/99/eth0/handover".into(),
            None,
            404,
            &["99"],
        ),
        (
            &rw,
            "POST",
            format!("/run/vrrp/{vrid}/eth0/handover"),
            None,
            409,
            &["Master"],
        ),
        (
            &rw,
            "DELETE",
            "/config/vrouter/99/eth0".into(),
            None,
            404,
            &["99"],
        ),
        (
            &rw,
            "POST",
            "/config/vrouter".into(),
            Some(dup.to_string()),
            409,
            &["already"],
        ),
        (
            &rw,
            "POST",
            "/config/vrouter".into(),
            Some(bad_vip.to_string()),
            400,
            &["vip", "10.0.0.300"],
        ),
        (
            &ro,
            "PUT",
            prio_path.clone(),
            Some(r#"{"priority": 150}"#.into()),
            403,
            &["read-only"],
        ),
        (
            &ro,
            "POST",
            format!("/run/vrrp/{vrid}/eth0/handover"),
            None,
            403,
            &["read-only"],
        ),
        (
            &ro,
            "DELETE",
            format!("/config/vrouter/{vrid}/eth0"),
            None,
            403,
            &["read-only"],
        ),
        (
            &anon,
            "PUT",
            prio_path.clone(),
            Some(r#"{"priority": 150}"#.into()),
            401,
            &[],
        ),
        (
            &anon,
            "POST",
            "/config/vrouter".into(),
            Some(bad_vip.to_string()),
            401,
            &[],
        ),
        (&anon, "GET", "/run/vrrp".into(), None, 401, &[]),
    ];
    let mut failures = Vec::new();
    for (api, method, path, body, status, words) in &cases {
        let r = api.send(method, path, body.as_deref());
        let who = match &api.cookie {
            None => "no session",
            Some(c) if c.contains(RO.0) => RO.0,
            Some(_) => RW.0,
        };
        let line = format!("{method} {path} {body:?} as {who}: {} {}", r.status, r.text);
        println!("API bad request: {line}");
        if r.status != *status {
            failures.push(format!("expected {status}: {line}"));
            continue;
        }
        let msg = r.error();
        let low = msg.to_lowercase();
        if let Some(w) = words.iter().find(|w| !low.contains(&w.to_lowercase())) {
            failures.push(format!("message does not name {w:?}: {line}"));
        }
    }

    // Nothing changed: the group's view, the wire, the kernel.
    let g = rw.group(vrid, "eth0");
    assert_eq!(
        (&g["priority"], &g["state"], &g["preempt"]),
        (&json!(100), &json!("Backup"), &json!(true)),
        "{g}"
    );
    let cfg = rw.get("/config/vrouter").json();
    assert_eq!(
        cfg.as_array().map(Vec::len),
        Some(1),
        "configuration changed: {cfg}"
    );
    std::thread::sleep(Duration::from_secs(2));
    let t = cap.snapshot().expect("snapshot");
    let since: Vec<String> = t
        .adverts
        .iter()
        .filter(|a| a.ts >= t0)
        .filter(|a| !(a.vrid() == vrid && a.src_ip == ip4(&r1) && a.priority() == 200))
        .map(|a| format!("{} vrid {} prio {}", a.src_ip, a.vrid(), a.priority()))
        .collect();
    assert!(
        since.is_empty(),
        "adverts other than r1's at 200 after the bad requests: {since:?}"
    );
    let gap = max_gap(&t, vrid, ip4(&r1), t0 - 1.0, t.last_ts().unwrap_or(t0));
    assert!(gap <= 1.5 * iv, "r1's adverts paused {gap:.3}s");
    assert_eq!(kernel::snapshot(&r1.ns).expect("snapshot r1"), k1);
    assert_eq!(kernel::snapshot(&r2.ns).expect("snapshot r2"), k2);
    assert!(
        failures.is_empty(),
        "{} bad request(s) answered wrongly:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
