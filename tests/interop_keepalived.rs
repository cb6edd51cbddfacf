//! Interoperability with keepalived 2.x as the VRRP peer: v2 and v3, either side Master,
//! with and without RFC 2338 simple-password authentication. Each scenario checks the
//! election (one advertiser, VIP only there) and a SIGKILL failover to the other side.
//!
//! Needs root and keepalived (`apt-get install keepalived`): fails, never skips, without it.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use rvrrpd_lab::config::keepalived::{self, KaInstance, KeepalivedConf};
use rvrrpd_lab::config::rvrrpd::VRouter;
use rvrrpd_lab::{cmd, kernel, theory, Capture, Lab, Signal};

fn interop(version: u8, auth: Option<&str>, rvrrpd_master: bool) {
    cmd::require_tool("keepalived", "apt-get install keepalived").unwrap_or_else(|e| panic!("{e}"));
    let lab = lab(2);
    let interval = 1.0;
    let vrid = 90 + version + if auth.is_some() { 2 } else { 0 };
    let vip = Lab::vip4(9);
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let cap = lab.capture("interop-ka").expect("capture");
    let (rv_prio, ka_prio) = if rvrrpd_master {
        (150, 100)
    } else {
        (100, 150)
    };
    let mut v = VRouter::new(vrid, "eth0", vip)
        .priority(rv_prio)
        .preemption(true)
        .version(version)
        .advert(interval);
    if let Some(pw) = auth {
        v = v.auth("rfc2338-simple", pw);
    }
    let mut rv = start(&lab, &r1, "rvrrpd", &conf(&lab, "rvrrpd", v));
    let mut inst = KaInstance::new(
        "eth0",
        vrid,
        ka_prio,
        version,
        interval,
        &format!("{vip}/24"),
    );
    inst.auth_pass = auth.map(String::from);
    let mut ka = keepalived::spawn(&lab, &r2.ns, "keepalived", &KeepalivedConf::new("ka", inst))
        .expect("keepalived");
    let to = Duration::from_secs(20);
    let (master, backup) = if rvrrpd_master {
        (&r1, &r2)
    } else {
        (&r2, &r1)
    };
    let (m_ip, _) = wait_sole_master(&lab, &cap, vrid, false, master, interval, &[&rv, &ka]);
    wait_vip(
        master,
        vip.into(),
        true,
        Duration::from_secs(3),
        &[&rv, &ka],
    );
    assert!(
        !kernel::has_address(&backup.ns, vip.into()).expect("ip"),
        "VIP on both\n{}",
        diag(&[&rv, &ka])
    );

    check_auth_on_wire(&cap, vrid, version, auth);

    let t0 = now();
    if rvrrpd_master {
        rv.signal(Signal::Kill).expect("kill rvrrpd");
    } else {
        ka.signal_group(Signal::Kill).expect("kill keepalived");
    }
    wait_vip(backup, vip.into(), true, to, &[&rv, &ka]);
    let b_ip = IpAddr::V4(backup.ipv4);
    let f = wait_failover(
        &cap,
        vrid,
        m_ip,
        |ip| ip == b_ip,
        t0 - interval,
        Duration::from_secs(5),
        &[&rv, &ka],
    );
    let mdi =
        theory::master_down_interval(version, 100, Duration::from_secs_f64(interval)).as_secs_f64();
    println!(
        "MEASURED interop keepalived v{version} auth={} {} Master killed: failover {:.3}s (Master_Down_Interval {mdi:.3}s)",
        auth.is_some(),
        if rvrrpd_master { "rvrrpd" } else { "keepalived" },
        f.gap()
    );
    assert!(f.gap() <= mdi + 0.3, "failover {:.3}s", f.gap());
    // The survivor advertises alone.
    wait_sole_master(&lab, &cap, vrid, false, backup, interval, &[&rv, &ka]);
    check_auth_on_wire(&cap, vrid, version, auth);
}

/// Every advert of the group carries the expected v2 authentication (type 1 + the password,
/// NUL-padded to 8 bytes) or none.
fn check_auth_on_wire(cap: &Capture, vrid: u8, version: u8, auth: Option<&str>) {
    let t = cap.snapshot().expect("snapshot");
    let mut want = [0u8; 8];
    if let Some(pw) = auth {
        want[..pw.len()].copy_from_slice(pw.as_bytes());
    }
    for a in t.of(vrid, false) {
        if version == 2 {
            assert_eq!(
                (a.advert.auth_type, a.advert.auth_data),
                (u8::from(auth.is_some()), Some(want)),
                "authentication of the advert from {}",
                a.src_ip
            );
        }
    }
}

/// Different passwords: neither side accepts the other's adverts, so both end up Master.
#[test]
fn v2_simple_auth_mismatch_is_rejected_by_rvrrpd() {
    cmd::require_tool("keepalived", "apt-get install keepalived").unwrap_or_else(|e| panic!("{e}"));
    let lab = lab(2);
    let (vrid, interval) = (99, 1.0);
    let vip = Lab::vip4(9);
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let cap = lab.capture("auth-mismatch").expect("capture");
    let mut inst = KaInstance::new("eth0", vrid, 150, 2, interval, &format!("{vip}/24"));
    inst.auth_pass = Some("right".into());
    let ka = keepalived::spawn(&lab, &r2.ns, "keepalived", &KeepalivedConf::new("ka", inst))
        .expect("keepalived");
    wait_sole_master(&lab, &cap, vrid, false, &r2, interval, &[&ka]);
    let v = VRouter::new(vrid, "eth0", vip)
        .priority(100)
        .version(2)
        .advert(interval)
        .auth("rfc2338-simple", "wrong");
    let rv = start(&lab, &r1, "rvrrpd", &conf(&lab, "rvrrpd", v));
    // rvrrpd must ignore keepalived's adverts (wrong password) and become Master itself.
    wait_vip(&r1, vip.into(), true, Duration::from_secs(15), &[&rv, &ka]);
    let t = cap.snapshot().expect("snapshot");
    let since = now() - 2.5 * interval;
    assert_eq!(
        sender_names(&lab, &t, vrid, false, since),
        vec!["r1".to_string(), "r2".to_string()],
        "{}",
        t.summary(10)
    );
}

#[test]
fn v2_keepalived_master_rvrrpd_backup() {
    interop(2, None, false);
}

#[test]
fn v2_rvrrpd_master_keepalived_backup() {
    interop(2, None, true);
}

#[test]
fn v2_simple_auth_keepalived_master_rvrrpd_backup() {
    interop(2, Some("s3cret"), false);
}

#[test]
fn v2_simple_auth_rvrrpd_master_keepalived_backup() {
    interop(2, Some("s3cret"), true);
}

#[test]
fn v3_keepalived_master_rvrrpd_backup() {
    interop(3, None, false);
}

#[test]
fn v3_rvrrpd_master_keepalived_backup() {
    interop(3, None, true);
}
