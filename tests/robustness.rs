//! Bad input and hostile peers: invalid configurations change nothing, `--check`, floods of
//! forged or foreign adverts, and clean-up of a SIGKILLed run's leftovers.
//!
//! Needs root. Run alone: `cargo test --test robustness -- --nocapture`.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rvrrpd_lab::config::rvrrpd::{RvrrpdConf, VRouter};
use rvrrpd_lab::vrrp::{build_v4_frame, AdvertSpec};
use rvrrpd_lab::{cmd, kernel, Injector, Lab, Node, Signal};

/// A valid first group (macvlan + static route), so a daemon that applied part of a bad file
/// before failing would leave traces.
fn base(lab: &Lab, name: &str) -> RvrrpdConf {
    conf(
        lab,
        name,
        VRouter::new(7, "eth0", Lab::vip4(7))
            .priority(200)
            .version(2)
            .advert(1.0)
            .macvlan("vrrp7"),
    )
    .static_route("192.0.2.0", "255.255.255.0", "10.0.0.100")
}

/// (name, text to append, word the error must mention)
fn bad_cases() -> Vec<(&'static str, String, &'static str)> {
    let vr = |extra: &str| format!("\n[[vrouter]]\ngroup = 8\ninterface = \"eth0\"\n{extra}\n");
    vec![
        ("bad-vip", vr("vip = \"10.0.0.300\""), "vip"),
        ("bad-priority", vr("vip = \"10.0.0.208\"\npriority = 300"), "priority"),
        (
            "long-secret",
            vr("vip = \"10.0.0.208\"\nauth_type = \"rfc2338-simple\"\nauth_secret = \"muchtoolongsecret\""),
            "auth_secret",
        ),
        ("bad-auth-type", vr("vip = \"10.0.0.208\"\nauth_type = \"md5\"\nauth_secret = \"x\""), "auth_type"),
        ("bad-iftype", vr("vip = \"10.0.0.208\"\niftype = \"tunnel\""), "iftype"),
        ("syntax", "\n[[vrouter]\ngroup = 8\n".to_string(), "toml"),
    ]
}

fn write_bad(lab: &Lab, name: &str, tail: &str) -> String {
    let mut c = base(lab, name);
    c.tail = tail.to_string();
    let path = lab.path(&format!("{name}.toml"));
    c.write(&path).expect("write config");
    path.to_string_lossy().into_owned()
}

#[test]
fn bad_config_exits_nonzero_with_error_and_changes_nothing() {
    let bin = daemon();
    let lab = lab(1);
    let r1 = lab.router(1).clone();
    let mut cases = bad_cases();
    cases.push((
        "no-such-interface",
        "\n[[vrouter]]\ngroup = 9\ninterface = \"nosuch0\"\nvip = \"10.0.0.209\"\n".to_string(),
        "nosuch0",
    ));
    for (name, tail, word) in cases {
        let file = write_bad(&lab, name, &tail);
        let before = kernel::snapshot(&r1.ns).expect("snapshot");
        let argv: Vec<String> = vec![
            bin.to_string_lossy().into(),
            "-m".into(),
            "1".into(),
            "-c".into(),
            file.clone(),
        ];
        let mut p = lab.spawn(&r1.ns, name, &argv).expect("spawn");
        let st = p.wait_exit(Duration::from_secs(10)).unwrap_or_else(|e| {
            panic!(
                "{name}: rvrrpd kept running on a bad config ({e})\n{}",
                p.output()
            )
        });
        let out = p.output();
        assert!(!st.success(), "{name}: exit status {st}\n{out}");
        assert!(
            out.to_lowercase().contains(&word.to_lowercase()),
            "{name}: the error does not mention `{word}`\n{out}"
        );
        let after = kernel::snapshot(&r1.ns).expect("snapshot");
        assert_eq!(before, after, "{name}: the namespace changed\n{out}");
        println!(
            "{name}: exit {st}, message: {}",
            out.lines().rfind(|l| !l.starts_with("---")).unwrap_or("")
        );
    }
}

#[test]
fn check_accepts_good_and_rejects_bad_naming_file_and_directive() {
    let bin = daemon();
    let lab = lab(1);
    let r1 = lab.router(1).clone();
    let b = bin.to_string_lossy().into_owned();
    let good = lab.path("good.toml");
    base(&lab, "good").write(&good).expect("write");
    let before = kernel::snapshot(&r1.ns).expect("snapshot");
    let o = cmd::outcome(
        Some(&r1.ns),
        &[b.as_str(), "--check", "-c", &good.to_string_lossy()],
    )
    .expect("run");
    assert!(
        o.success,
        "--check rejected a good file: {}{}",
        o.stdout, o.stderr
    );
    for (name, tail, word) in bad_cases() {
        let file = write_bad(&lab, name, &tail);
        let o = cmd::outcome(Some(&r1.ns), &[b.as_str(), "--check", "-c", &file]).expect("run");
        let msg = format!("{}{}", o.stdout, o.stderr);
        assert!(!o.success, "{name}: --check accepted a bad file\n{msg}");
        let fname = Path::new(&file)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(
            msg.contains(&fname),
            "{name}: message does not name the file\n{msg}"
        );
        assert!(
            msg.to_lowercase().contains(word),
            "{name}: message does not name `{word}`\n{msg}"
        );
    }
    assert_eq!(
        before,
        kernel::snapshot(&r1.ns).expect("snapshot"),
        "--check changed the system"
    );
}

/// Floods r1 (Master) with adverts it must ignore, at `rate`/s for `secs`, checking that r1
/// keeps its schedule and role and r2 never takes over.
fn flood(
    version: u8,
    interval: f64,
    auth: Option<&str>,
    frames: impl Fn(&Node, u8) -> Vec<Vec<u8>>,
) {
    let lab = lab(2);
    let vrid = 70 + version;
    let vip: IpAddr = Lab::vip4(7).into();
    let (r1, r2, cl) = (
        lab.router(1).clone(),
        lab.router(2).clone(),
        lab.client().clone(),
    );
    let cap = lab.capture("flood").expect("capture");
    let vr = |p| {
        let v = VRouter::new(vrid, "eth0", vip)
            .priority(p)
            .preemption(true)
            .version(version)
            .advert(interval);
        match auth {
            Some(s) => v.auth("rfc2338-simple", s),
            None => v,
        }
    };
    let p1 = start(&lab, &r1, "r1", &conf(&lab, "r1", vr(150)));
    let p2 = start(&lab, &r2, "r2", &conf(&lab, "r2", vr(100)));
    let (r1_ip, _) = wait_sole_master(&lab, &cap, vrid, false, &r1, interval, &[&p1, &p2]);
    wait_vip(&r1, vip, true, Duration::from_secs(3), &[&p1, &p2]);

    let inj = Injector::open(&cl.ns, "eth0").expect("raw socket in the client namespace");
    let fr = frames(&cl, vrid);
    let (rate, secs) = (50u32, 5.0);
    let done = Arc::new(AtomicBool::new(false));
    let d2 = done.clone();
    let start_ts = now();
    let h = std::thread::spawn(move || {
        let n = inj.flood(&fr, rate, Duration::from_secs_f64(secs));
        d2.store(true, Ordering::SeqCst);
        n
    });
    let mut r2_had_vip = false;
    while !done.load(Ordering::SeqCst) {
        r2_had_vip |= kernel::has_address(&r2.ns, vip).unwrap_or(false);
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = h.join().expect("flood thread").expect("flood");
    let end_ts = now();
    std::thread::sleep(Duration::from_secs_f64(interval * 2.0));
    let t = cap.snapshot().expect("snapshot");
    let forged = t
        .of(vrid, false)
        .filter(|a| a.src_ip == IpAddr::V4(cl.ipv4))
        .count()
        + t.adverts.iter().filter(|a| a.vrid() != vrid).count();
    let gaps = t.intervals(vrid, r1_ip, start_ts, end_ts + interval);
    let max = gaps.iter().cloned().fold(0.0, f64::max);
    let min = gaps.iter().cloned().fold(f64::MAX, f64::min);
    println!(
        "MEASURED flood v{version} {interval}s: {sent} forged frames ({forged} captured) in {secs}s; \
         r1 advert intervals min {min:.3}s max {max:.3}s over {} gaps",
        gaps.len()
    );
    let others: Vec<String> = sender_names(&lab, &t, vrid, false, start_ts)
        .into_iter()
        .filter(|n| *n != cl.ipv4.to_string())
        .collect();
    assert_eq!(
        others,
        vec!["r1".to_string()],
        "someone else advertised\n{}\n{}",
        t.summary(20),
        diag(&[&p1, &p2])
    );
    assert!(
        !r2_had_vip,
        "r2 took the VIP during the flood\n{}",
        diag(&[&p1, &p2])
    );
    assert!(
        kernel::has_address(&r1.ns, vip).expect("ip"),
        "r1 lost the VIP"
    );
    let expected = ((end_ts - start_ts) / interval) as usize;
    assert!(
        gaps.len() + 1 >= expected.saturating_sub(1),
        "r1 sent too few adverts: {} gaps, expected ~{expected}",
        gaps.len()
    );
    let slack = 0.25 * interval + 0.03;
    assert!(
        max <= interval + slack,
        "r1 advert gap {max:.3}s > {interval}s + {slack:.3}s"
    );
    assert!(
        min >= interval - slack,
        "r1 advert gap {min:.3}s < {interval}s - {slack:.3}s"
    );
}

fn spec(cl: &Node, vrid: u8, version: u8, interval: u16) -> AdvertSpec {
    let m = cl
        .mac
        .split(':')
        .filter_map(|h| u8::from_str_radix(h, 16).ok())
        .collect::<Vec<u8>>();
    AdvertSpec {
        src_mac: m.try_into().unwrap_or([2, 0, 0, 0, 0, 100]),
        src_ip: cl.ipv4,
        version,
        vrid,
        priority: 254,
        interval,
        auth_type: 0,
        auth_data: [0; 8],
        addrs: vec![Ipv4Addr::new(10, 0, 0, 207)],
        ttl: 255,
    }
}

#[test]
fn master_keeps_schedule_under_flood_of_bad_auth_and_foreign_vrid_v2() {
    flood(2, 1.0, Some("secret1"), |cl, vrid| {
        let good_pw = *b"secret1\0";
        let wrong = AdvertSpec {
            auth_type: 1,
            auth_data: *b"wrongpw\0",
            ..spec(cl, vrid, 2, 1)
        };
        let no_auth = spec(cl, vrid, 2, 1);
        let foreign = AdvertSpec {
            auth_type: 1,
            auth_data: good_pw,
            ..spec(cl, vrid + 1, 2, 1)
        };
        let ttl1 = AdvertSpec {
            auth_type: 1,
            auth_data: good_pw,
            ttl: 1,
            ..spec(cl, vrid, 2, 1)
        };
        [wrong, no_auth, foreign, ttl1]
            .iter()
            .map(build_v4_frame)
            .collect()
    });
}

#[test]
fn master_keeps_schedule_under_flood_of_foreign_and_malformed_adverts_v3() {
    flood(3, 0.1, None, |cl, vrid| {
        let foreign = spec(cl, vrid + 1, 3, 10);
        let ttl1 = AdvertSpec {
            ttl: 1,
            ..spec(cl, vrid, 3, 10)
        };
        let mut bad_sum = build_v4_frame(&spec(cl, vrid, 3, 10));
        bad_sum[34 + 6] ^= 0xff;
        vec![build_v4_frame(&foreign), build_v4_frame(&ttl1), bad_sum]
    });
}

#[test]
fn sigkill_leftovers_are_cleaned_on_restart() {
    let lab = lab(1);
    let r1 = lab.router(1).clone();
    let cap = lab.capture("leftovers").expect("capture");
    let vip: IpAddr = Lab::vip4(7).into();
    let c = base(&lab, "r1");
    let before = kernel::snapshot(&r1.ns).expect("snapshot");
    let mut p1 = start(&lab, &r1, "r1", &c);
    wait_sole_master(&lab, &cap, 7, false, &r1, 1.0, &[&p1]);
    wait_vip(&r1, vip, true, Duration::from_secs(3), &[&p1]);
    p1.signal(Signal::Kill).expect("SIGKILL");
    p1.wait_exit(Duration::from_secs(3)).expect("killed");
    assert!(
        kernel::link_exists(&r1.ns, "vrrp7").expect("ip link"),
        "no leftover to clean: the test is moot"
    );

    let mut p2 = start(&lab, &r1, "r1-restart", &c);
    let since = now();
    rvrrpd_lab::wait_until(
        "adverts from the restarted daemon",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || {
            cap.snapshot()
                .map(|t| t.count_from(7, IpAddr::V4(r1.ipv4), since, f64::MAX) >= 3)
                .unwrap_or(false)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", p2.output()));
    assert!(p2.is_running(), "restarted daemon died\n{}", p2.output());
    assert_eq!(
        kernel::address_count(&r1.ns, vip).expect("ip"),
        1,
        "{:?}",
        kernel::addresses(&r1.ns, None)
    );
    assert_eq!(
        kernel::links(&r1.ns)
            .expect("ip")
            .iter()
            .filter(|l| *l == "vrrp7")
            .count(),
        1
    );
    assert!(kernel::has_route(&r1.ns, "192.0.2.0/24").expect("routes"));

    p2.signal(Signal::Term).expect("SIGTERM");
    let st = p2
        .wait_exit(Duration::from_secs(5))
        .expect("exit after SIGTERM");
    assert!(st.success(), "{st}\n{}", p2.output());
    let after = kernel::snapshot(&r1.ns).expect("snapshot");
    assert_eq!(
        before,
        after,
        "SIGTERM did not restore the namespace\n{}",
        p2.output()
    );
}
