//! Unicast mode against keepalived's (`unicast_src_ip` / `unicast_peer`), VRRP v2 and v3,
//! rvrrpd as Master and as Backup. Each scenario checks on the wire that every advert of the
//! group is unicast to the peer (TTL 255, nothing to 224.0.0.18), the election (one
//! advertiser, VIP only there), that forged adverts from a third host addressed to rvrrpd are
//! refused (a better priority does not preempt the Master, a priority 0 does not make the
//! Backup take over), and a SIGKILL failover to the other side within Master_Down_Interval.
//!
//! Needs root and keepalived (`apt-get install keepalived`): fails, never skips, without it.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::*;
use rvrrpd::auth::AuthKey;
use rvrrpd::wire::ethernet::{self, ethertype};
use rvrrpd::wire::{ip, MacAddr, V3Checksum, VrrpRepr};
use rvrrpd_lab::config::keepalived::{self, KaInstance, KeepalivedConf};
use rvrrpd_lab::config::rvrrpd::VRouter;
use rvrrpd_lab::{kernel, theory, Capture, Injector, Lab, Node, Signal};

fn mac(s: &str) -> MacAddr {
    let mut m = [0u8; 6];
    for (b, part) in m.iter_mut().zip(s.split(':')) {
        *b = u8::from_str_radix(part, 16).unwrap_or_else(|e| panic!("MAC {s}: {e}"));
    }
    MacAddr(m)
}

/// A forged unicast advert from `from` to `to` (its MAC and address), checksummed for it.
fn forged(from: &Node, to: &Node, version: u8, vrid: u8, priority: u8, vip: Ipv4Addr) -> Vec<u8> {
    let addrs = vec![IpAddr::V4(vip)];
    let repr = match version {
        2 => VrrpRepr::v2(vrid, priority, 1, addrs, &AuthKey::none()),
        _ => VrrpRepr::v3(vrid, priority, 100, addrs),
    };
    let (src, dst) = (IpAddr::V4(from.ipv4), IpAddr::V4(to.ipv4));
    let mut vrrp = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut vrrp,
        src,
        dst,
        V3Checksum::PseudoHeader,
        &AuthKey::none(),
    )
    .expect("forged advert");
    let mut frame = vec![0u8; ethernet::HEADER_LEN + ip::IPV4_HEADER_LEN];
    ethernet::emit_header(&mut frame, mac(&to.mac), mac(&from.mac), ethertype::IPV4)
        .expect("ethernet");
    ip::emit_ipv4_header(
        &mut frame[ethernet::HEADER_LEN..],
        from.ipv4,
        to.ipv4,
        112,
        vrrp.len(),
    )
    .expect("ipv4");
    frame.extend_from_slice(&vrrp);
    frame
}

fn unicast_interop(version: u8, rvrrpd_master: bool) {
    rvrrpd_lab::cmd::require_tool("keepalived", "apt-get install keepalived")
        .unwrap_or_else(|e| panic!("{e}"));
    let lab = lab(2);
    let interval = 1.0;
    let vrid = 60 + version * 2 + u8::from(rvrrpd_master);
    let vip = Lab::vip4(12);
    let (r1, r2, cl) = (
        lab.router(1).clone(),
        lab.router(2).clone(),
        lab.client().clone(),
    );
    // On r1's port of the switch: unicast adverts never reach the client's port, and on r1's
    // own interface XDP consumes what it receives before any capture tap sees it.
    let cap =
        Capture::start(lab.switch_ns(), &r1.port, &lab.path("unicast-r1.pcap")).expect("capture");
    let (rv_prio, ka_prio) = if rvrrpd_master {
        (150, 100)
    } else {
        (100, 150)
    };
    let v = VRouter::new(vrid, "eth0", vip)
        .priority(rv_prio)
        .preemption(true)
        .version(version)
        .advert(interval)
        .line(&format!("unicast_peer = [\"{}\"]", r2.ipv4))
        .line(&format!("unicast_src = \"{}\"", r1.ipv4));
    let mut rv = start(&lab, &r1, "rvrrpd", &conf(&lab, "rvrrpd", v));
    let mut inst = KaInstance::new(
        "eth0",
        vrid,
        ka_prio,
        version,
        interval,
        &format!("{vip}/24"),
    );
    inst.unicast_src = Some(r2.ipv4.to_string());
    inst.unicast_peers = vec![r1.ipv4.to_string()];
    let mut ka = keepalived::spawn(&lab, &r2.ns, "keepalived", &KeepalivedConf::new("ka", inst))
        .expect("keepalived");
    let procs = [&rv, &ka];
    let (master, backup) = if rvrrpd_master {
        (&r1, &r2)
    } else {
        (&r2, &r1)
    };
    let (m_ip, _) = wait_sole_master(&lab, &cap, vrid, false, master, interval, &procs);
    wait_vip(master, vip.into(), true, Duration::from_secs(3), &procs);
    assert!(
        !kernel::has_address(&backup.ns, vip.into()).expect("ip"),
        "VIP on both\n{}",
        diag(&procs)
    );

    // A third host forges adverts to rvrrpd: as Master, a better priority; as Backup, the
    // Master's resignation. Neither may move anything: only the peer is heard.
    let inj = Injector::open(&cl.ns, "eth0").expect("raw socket in the client namespace");
    let prio = if rvrrpd_master { 254 } else { 0 };
    let frame = forged(&cl, &r1, version, vrid, prio, vip);
    let t_forge = now();
    for _ in 0..30 {
        inj.send(&frame).expect("inject");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        kernel::has_address(&master.ns, vip.into()).expect("ip")
            && !kernel::has_address(&backup.ns, vip.into()).expect("ip"),
        "forged adverts from {} moved the VIP\n{}",
        cl.ipv4,
        diag(&procs)
    );
    let t = cap.snapshot().expect("snapshot");
    let forged_seen = t
        .of(vrid, false)
        .filter(|a| a.src_ip == IpAddr::V4(cl.ipv4))
        .count();
    assert!(
        forged_seen >= 20,
        "the capture saw {forged_seen} forged adverts"
    );
    assert_eq!(
        t.senders(vrid, false, t_forge)
            .into_iter()
            .filter(|ip| *ip != IpAddr::V4(cl.ipv4))
            .collect::<Vec<_>>(),
        [m_ip],
        "the Master kept advertising alone through the forgery\n{}",
        diag(&procs)
    );
    // (The forged ones are from the client, not between the peers: checked up to here.)

    let t0 = now();
    if rvrrpd_master {
        rv.signal(Signal::Kill).expect("kill rvrrpd");
    } else {
        ka.signal_group(Signal::Kill).expect("kill keepalived");
    }
    wait_vip(
        backup,
        vip.into(),
        true,
        Duration::from_secs(20),
        &[&rv, &ka],
    );
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
        "MEASURED unicast interop keepalived v{version} {} Master killed: failover {:.3}s (Master_Down_Interval {mdi:.3}s)",
        if rvrrpd_master { "rvrrpd" } else { "keepalived" },
        f.gap()
    );
    assert!(f.gap() <= mdi + 0.3, "failover {:.3}s", f.gap());
    wait_sole_master(&lab, &cap, vrid, false, backup, interval, &[&rv, &ka]);
    // Apart from the forgeries, everything on the wire was unicast between the peers.
    let snapshot = cap.snapshot().expect("snapshot");
    let mut peers_only = 0;
    for adv in snapshot.of(vrid, false) {
        if adv.src_ip == IpAddr::V4(cl.ipv4) {
            continue;
        }
        let pair = (adv.src_ip, adv.dst_ip);
        let (a, b) = (IpAddr::V4(r1.ipv4), IpAddr::V4(r2.ipv4));
        assert!(
            pair == (a, b) || pair == (b, a),
            "advert {} -> {} is not unicast between the peers",
            adv.src_ip,
            adv.dst_ip
        );
        assert_eq!(adv.ttl, 255, "TTL of the advert from {}", adv.src_ip);
        peers_only += 1;
    }
    assert!(peers_only >= 6, "{peers_only} adverts between the peers");
}

#[test]
fn unicast_v2_rvrrpd_master() {
    unicast_interop(2, true);
}

#[test]
fn unicast_v2_keepalived_master() {
    unicast_interop(2, false);
}

#[test]
fn unicast_v3_rvrrpd_master() {
    unicast_interop(3, true);
}

#[test]
fn unicast_v3_keepalived_master() {
    unicast_interop(3, false);
}
