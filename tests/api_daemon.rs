//! The client API of real rvrrpd processes in network namespaces: writes through the API
//! checked on the wire (a capture on the client) and in the kernel, bad requests that must
//! change nothing, and `/metrics`.
//!
//! Each API listens on its router's lab address (`10.0.0.N:7080`); the test talks to it from
//! the client namespace (requests run on a thread that entered it). Users come from
//! `rvrrpd-pw -l LEVEL USER PASS sha256`.
//!
//! Needs root. Run alone: `cargo test --test api_daemon -- --nocapture`.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use rvrrpd_lab::config::rvrrpd::{ApiSection, RvrrpdConf, VRouter};
use rvrrpd_lab::{kernel, theory, wait_for, Capture, Lab, Node, Proc, Trace};
use serde_json::{json, Value};

const PORT: u16 = 7080;
const RW: (&str, &str) = ("operator", "rwpass1");
const RO: (&str, &str) = ("viewer", "ropass1");

// ---------------------------------------------------------------------------------------------
// Client

/// A `users` entry printed by the real `rvrrpd-pw`.
fn user_line(level: u8, user: &str, pass: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_rvrrpd-pw");
    let out = std::process::Command::new(bin)
        .args(["-l", &level.to_string(), user, pass, "sha256"])
        .output()
        .unwrap_or_else(|e| panic!("running {bin}: {e}"));
    assert!(
        out.status.success(),
        "rvrrpd-pw failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The API section of router `node`: listening on its lab address, a read-write and a
/// read-only user.
fn api_section(node: &Node) -> ApiSection {
    ApiSection::new(
        format!("{}:{PORT}", node.ipv4),
        &[user_line(1, RW.0, RW.1), user_line(0, RO.0, RO.1)],
    )
}

#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: String,
    set_cookies: Vec<String>,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// The `error` member of a JSON error body.
    fn error(&self) -> String {
        assert!(
            self.content_type.starts_with("application/json"),
            "error reply is not JSON: {self:?}"
        );
        self.json()
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no \"error\" member: {self:?}"))
    }
}

/// An HTTP client for one router's API, sending from the lab's client namespace.
#[derive(Clone)]
struct Api {
    ns: String,
    base: String,
    agent: ureq::Agent,
    cookie: Option<String>,
}

impl Api {
    fn new(lab: &Lab, router: &Node) -> Api {
        Api {
            ns: lab.client().ns.clone(),
            base: format!("http://{}:{PORT}", router.ipv4),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(15)))
                .build()
                .into(),
            cookie: None,
        }
    }

    /// Sends one request (with the session cookie, if logged in) from the client namespace.
    fn send(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        let (agent, url, cookie) = (
            self.agent.clone(),
            format!("{}{path}", self.base),
            self.cookie.clone(),
        );
        let (m, b) = (method.to_string(), body.map(str::to_string));
        let what = format!("{method} {path}");
        rvrrpd::net::netns::run_in(&self.ns, move || -> Result<Reply, ureq::Error> {
            let mut resp = match (m.as_str(), b) {
                ("GET", _) | ("DELETE", None) => {
                    let mut r = if m == "GET" {
                        agent.get(&url)
                    } else {
                        agent.delete(&url)
                    };
                    if let Some(c) = &cookie {
                        r = r.header("Cookie", c);
                    }
                    r.call()?
                }
                (_, body) => {
                    let mut r = match m.as_str() {
                        "POST" => agent.post(&url),
                        "PUT" => agent.put(&url),
                        other => panic!("method {other}"),
                    };
                    if let Some(c) = &cookie {
                        r = r.header("Cookie", c);
                    }
                    let ct = if url.ends_with("/auth") {
                        "application/x-www-form-urlencoded"
                    } else {
                        "application/json"
                    };
                    r.header("Content-Type", ct)
                        .send(body.unwrap_or_default())?
                }
            };
            let header = |n: &str| {
                resp.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            let content_type = header("content-type");
            let set_cookies = resp
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_string))
                .collect();
            Ok(Reply {
                status: resp.status().as_u16(),
                content_type,
                set_cookies,
                text: resp.body_mut().read_to_string().unwrap_or_default(),
            })
        })
        .unwrap_or_else(|e| panic!("{what}: entering the client namespace: {e}"))
        .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None)
    }

    /// A copy of this client logged in as `user`.
    fn login(&self, (user, pass): (&str, &str)) -> Api {
        let r = self.send("POST", "/auth", Some(&format!("user={user} passwd={pass}")));
        assert_eq!(r.status, 200, "login as {user}: {r:?}");
        let cookie = r
            .set_cookies
            .iter()
            .filter_map(|c| c.split(';').next())
            .collect::<Vec<_>>()
            .join("; ");
        assert!(cookie.contains("token="), "no session cookies: {r:?}");
        Api {
            cookie: Some(cookie),
            ..self.clone()
        }
    }

    /// `GET /run/vrrp/{group}/{interface}` (the object; panics on anything else).
    fn group(&self, vrid: u8, ifname: &str) -> Value {
        let r = self.get(&format!("/run/vrrp/{vrid}/{ifname}"));
        assert_eq!(r.status, 200, "{r:?}");
        r.json()
    }

    /// Waits until `GET /run/vrrp/{group}/{interface}` shows `state`.
    fn wait_state(&self, vrid: u8, ifname: &str, state: &str, timeout: Duration, procs: &[&Proc]) {
        let r = wait_for(
            &format!("group {vrid} on {ifname} in state {state} (API)"),
            timeout,
            Duration::from_millis(100),
            || {
                let g = self.group(vrid, ifname);
                (g["state"] == state).then_some(())
            },
        );
        if let Err(e) = r {
            panic!(
                "{e}: last view {}\n{}",
                self.group(vrid, ifname),
                diag(procs)
            );
        }
    }
}

/// Waits until the API of `api` answers (the listener starts with the daemon).
fn wait_api(api: &Api, procs: &[&Proc]) {
    let r = wait_for(
        "the API to answer",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let a = api.clone();
            let ok = rvrrpd::net::netns::run_in(&a.ns, move || {
                a.agent
                    .get(format!("{}/run/vrrp", a.base))
                    .config()
                    .timeout_global(Some(Duration::from_secs(1)))
                    .build()
                    .call()
                    .is_ok()
            });
            matches!(ok, Ok(true)).then_some(())
        },
    );
    if let Err(e) = r {
        panic!("{e}\n{}", diag(procs));
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario helpers

fn vr(vrid: u8, vip: IpAddr, prio: u8, preempt: bool) -> VRouter {
    VRouter::new(vrid, "eth0", vip)
        .priority(prio)
        .preemption(preempt)
        .version(2)
        .advert(1.0)
}

fn start_with_api(lab: &Lab, node: &Node, name: &str, v: VRouter, api: bool) -> Proc {
    let mut c: RvrrpdConf = conf(lab, name, v);
    if api {
        c = c.api(api_section(node));
    }
    start(lab, node, name, &c)
}

/// Adverts of `vrid` from `src` at or after `since` (priority, time).
fn adverts_from(t: &Trace, vrid: u8, src: IpAddr, since: f64) -> Vec<(u8, f64)> {
    t.of(vrid, src.is_ipv6())
        .filter(|a| a.src_ip == src && a.ts >= since)
        .map(|a| (a.priority(), a.ts))
        .collect()
}

/// Waits until the capture holds an advert of `vrid` from `src` with priority `prio` at or
/// after `since`; returns its time.
fn wait_advert(
    cap: &Capture,
    vrid: u8,
    src: IpAddr,
    prio: u8,
    since: f64,
    timeout: Duration,
    procs: &[&Proc],
) -> f64 {
    let r = wait_for(
        &format!("an advert of VRID {vrid} from {src} with priority {prio}"),
        timeout,
        Duration::from_millis(50),
        || {
            let t = cap.snapshot().ok()?;
            adverts_from(&t, vrid, src, since)
                .into_iter()
                .find(|(p, _)| *p == prio)
                .map(|(_, ts)| ts)
        },
    );
    r.map(|(ts, _)| ts).unwrap_or_else(|e| {
        panic!(
            "{e}\n{}\n{}",
            cap.snapshot().unwrap_or_default().summary(20),
            diag(procs)
        )
    })
}

/// Longest gap between successive adverts of `vrid` from `src` in `[from, to]`.
fn max_gap(t: &Trace, vrid: u8, src: IpAddr, from: f64, to: f64) -> f64 {
    t.intervals(vrid, src, from, to)
        .into_iter()
        .fold(0.0, f64::max)
}

fn ip4(n: &Node) -> IpAddr {
    IpAddr::V4(n.ipv4)
}

// ---------------------------------------------------------------------------------------------
// Tests

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

/// `GET /metrics` with a session: Prometheus text with the group's state gauge, the timer
/// lateness histogram and, on the XDP path, the fast-path counters (the Backup's `delivered`
/// counter grows with the Master's adverts).
#[test]
fn api_metrics_with_a_session() {
    let lab = lab(2);
    let (vrid, iv) = (51u8, 1.0);
    let vip: IpAddr = Lab::vip4(51).into();
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let cap = lab.capture("api-metrics").expect("capture");
    let p1 = start_with_api(&lab, &r1, "r1", vr(vrid, vip, 200, true), true);
    let p2 = start_with_api(&lab, &r2, "r2", vr(vrid, vip, 100, true), true);
    let procs = [&p1, &p2];
    wait_sole_master(&lab, &cap, vrid, false, &r1, iv, &procs);
    let anon = Api::new(&lab, &r1);
    wait_api(&anon, &procs);
    let r = anon.get("/metrics");
    assert_eq!(r.status, 401, "metrics without a session: {r:?}");
    let api = anon.login(RO);
    api.wait_state(vrid, "eth0", "Master", Duration::from_secs(5), &procs);
    // A few timer firings after the session exists.
    std::thread::sleep(Duration::from_secs(2));

    let r = api.get("/metrics");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.content_type.starts_with("text/plain") && r.content_type.contains("version=0.0.4"),
        "content type {:?}",
        r.content_type
    );
    let m = &r.text;
    let gauge = format!(
        "rvrrpd_group_state{{group=\"{vrid}\",interface=\"eth0\",vip=\"{vip}\",state=\"Master\"}} 1"
    );
    assert!(m.contains(&gauge), "no {gauge:?} in:\n{m}");
    for s in [
        "# TYPE rvrrpd_group_state gauge",
        "# TYPE rvrrpd_timer_lateness_seconds histogram",
        "rvrrpd_timer_lateness_seconds_bucket{le=\"+Inf\"}",
        "rvrrpd_timer_lateness_seconds_sum ",
    ] {
        assert!(m.contains(s), "no {s:?} in:\n{m}");
    }
    let count: u64 = metric_value(m, "rvrrpd_timer_lateness_seconds_count").unwrap_or(0.0) as u64;
    assert!(count > 0, "no timer firing counted:\n{m}");
    let sent = metric_value(
        m,
        &format!(
            "rvrrpd_group_adverts_sent_total{{group=\"{vrid}\",interface=\"eth0\",vip=\"{vip}\"}}"
        ),
    );
    assert!(
        sent.is_some_and(|v| v >= 3.0),
        "adverts sent: {sent:?}\n{m}"
    );

    let daemon = api.get("/run/daemon").json();
    let fast = daemon["fast_path"].as_str().unwrap_or_default().to_string();
    let xdp = p1.output().contains("receive path: XDP");
    println!("MEASURED API metrics: fast_path {fast:?}, {count} timer firings");
    if xdp {
        let drops: Vec<&str> = m
            .lines()
            .filter(|l| l.starts_with("rvrrpd_fastpath_drops_total{reason="))
            .collect();
        assert!(
            !drops.is_empty(),
            "the daemon runs on XDP ({fast}) but /metrics has no fast-path counters:\n{m}"
        );
        println!("fast-path counters of the Master: {drops:?}");
        // The Backup receives the Master's adverts through XDP: `delivered` must count them.
        let b = Api::new(&lab, &r2);
        wait_api(&b, &procs);
        let b = b.login(RO);
        let delivered = |b: &Api| {
            let r = b.get("/metrics");
            assert_eq!(r.status, 200, "{r:?}");
            (
                metric_value(&r.text, "rvrrpd_fastpath_drops_total{reason=\"delivered\"}"),
                r.text,
            )
        };
        let (d0, _) = delivered(&b);
        std::thread::sleep(Duration::from_secs(3));
        let (d1, text) = delivered(&b);
        println!("Backup's delivered counter: {d0:?} then {d1:?} 3 s later");
        assert!(
            d1.is_some_and(|d1| d1 >= d0.unwrap_or(0.0) + 2.0),
            "the Backup's fast-path `delivered` counter does not follow the Master's adverts \
             ({d0:?} then {d1:?} 3 s later):\n{text}"
        );
    } else {
        println!("not on the XDP path ({fast}): fast-path counters not checked");
    }
}

/// The value of the first sample named exactly `name` (with its labels, if any).
fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}
