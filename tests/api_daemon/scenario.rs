//! Scenario helpers: routers started with an API, adverts on the client's capture.

use crate::client::*;
use crate::common::*;
use rvrrpd_lab::config::rvrrpd::{RvrrpdConf, VRouter};
use rvrrpd_lab::{wait_for, Capture, Lab, Node, Proc, Trace};
use std::net::IpAddr;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Scenario helpers

pub(crate) fn vr(vrid: u8, vip: IpAddr, prio: u8, preempt: bool) -> VRouter {
    VRouter::new(vrid, "eth0", vip)
        .priority(prio)
        .preemption(preempt)
        .version(2)
        .advert(1.0)
}

pub(crate) fn start_with_api(lab: &Lab, node: &Node, name: &str, v: VRouter, api: bool) -> Proc {
    let mut c: RvrrpdConf = conf(lab, name, v);
    if api {
        c = c.api(api_section(node));
    }
    start(lab, node, name, &c)
}

/// Adverts of `vrid` from `src` at or after `since` (priority, time).
pub(crate) fn adverts_from(t: &Trace, vrid: u8, src: IpAddr, since: f64) -> Vec<(u8, f64)> {
    t.of(vrid, src.is_ipv6())
        .filter(|a| a.src_ip == src && a.ts >= since)
        .map(|a| (a.priority(), a.ts))
        .collect()
}

/// Waits until the capture holds an advert of `vrid` from `src` with priority `prio` at or
/// after `since`; returns its time.
pub(crate) fn wait_advert(
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
pub(crate) fn max_gap(t: &Trace, vrid: u8, src: IpAddr, from: f64, to: f64) -> f64 {
    t.intervals(vrid, src, from, to)
        .into_iter()
        .fold(0.0, f64::max)
}

pub(crate) fn ip4(n: &Node) -> IpAddr {
    IpAddr::V4(n.ipv4)
}

/// The value of the first sample named exactly `name` (with its labels, if any).
pub(crate) fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}
