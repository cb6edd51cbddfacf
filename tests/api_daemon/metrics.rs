//! `/metrics` of a live daemon with a session.

use crate::client::*;
use crate::common::*;
use crate::scenario::*;
use rvrrpd_lab::{wait_for, Lab};
use std::net::IpAddr;
use std::time::Duration;

/// `GET /metrics` with a session: Prometheus text with the group's state gauge, the timer
/// lateness histogram and, on the XDP path, the fast-path counters (the Backup's `delivered`
/// counter and its group's `adverts_suppressed` together grow with the Master's adverts).
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
        // The Backup receives the Master's adverts through XDP: `delivered` counts the first
        // ones, the group's `adverts_suppressed` the repeats the kernel swallowed (the
        // kernel-resident Backup; read from the eBPF programs' table at each request).
        let b = Api::new(&lab, &r2);
        wait_api(&b, &procs);
        let b = b.login(RO);
        let seen = |b: &Api| {
            let r = b.get("/metrics");
            assert_eq!(r.status, 200, "{r:?}");
            let d = metric_value(&r.text, "rvrrpd_fastpath_drops_total{reason=\"delivered\"}");
            let s = metric_value(
                &r.text,
                &format!(
                    "rvrrpd_group_adverts_suppressed_total{{group=\"{vrid}\",interface=\"eth0\",vip=\"{vip}\"}}"
                ),
            );
            (d, s, r.text)
        };
        let (d0, s0, _) = seen(&b);
        let total = |d: Option<f64>, s: Option<f64>| d.unwrap_or(0.0) + s.unwrap_or(0.0);
        let grew = wait_for(
            "the Backup's delivered + suppressed counters to follow the Master's adverts",
            Duration::from_secs(10),
            Duration::from_millis(500),
            || {
                let (d1, s1, _) = seen(&b);
                (total(d1, s1) >= total(d0, s0) + 2.0).then_some((d1, s1))
            },
        );
        let (_, _, text) = seen(&b);
        match grew {
            Ok(((d1, s1), _)) => println!(
                "Backup's delivered / suppressed counters: {d0:?} / {s0:?} then {d1:?} / {s1:?}"
            ),
            Err(e) => panic!("{e}: {d0:?} / {s0:?} at first:\n{text}"),
        }
    } else {
        println!("not on the XDP path ({fast}): fast-path counters not checked");
    }
}
