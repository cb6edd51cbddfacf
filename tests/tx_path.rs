//! `tx_path` with real daemons: a Master of many groups in the lab sends its adverts through
//! the XDP transmit path (`tx_path = "xdp"`), and through the AF_PACKET socket when the
//! XDP path is unavailable (forced with `RVRRPD_NO_XDP=1`); `tx_path = "auto"` (the default)
//! takes the XDP path only while the device reports XDP transmit (veth: while its peer can
//! receive), followed at run time. In both cases every advert
//! captured on another host of the segment must be byte for byte the frame the codec builds
//! for the group. The XDP case also shows the documented trade-off: the Master's own packet
//! taps do not see the adverts (they leave through `ndo_xdp_xmit`), where with the socket
//! they do.
//!
//! The lab's switch ports are plain veths: `ndo_xdp_xmit` into a veth whose peer has no XDP
//! program and no GRO drops the frames (tests/xdp_tx.rs pins that down), so the test turns
//! GRO on on the Master's switch port, which gives it the NAPI instance that receives them.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::*;
use rvrrpd::auth::AuthKey;
use rvrrpd::net::netns;
use rvrrpd::net::sniff::Sniffer;
use rvrrpd::wire::{advert_frame, V3Checksum, VrrpRepr};
use rvrrpd_lab::config::rvrrpd::{RvrrpdConf, VRouter};
use rvrrpd_lab::{Lab, Node, Proc};

/// Groups (VRIDs 1..=GROUPS), all in one turn of one worker: above the XDP path's minimum.
const GROUPS: u8 = 40;
const PRIO: u8 = 200;

fn vip(vrid: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 78, 0, vrid)
}

/// Starts rvrrpd in `node` with `GROUPS` v2 groups at 1 s, one worker, one advert slot and
/// `tx_path = path` (none if empty); `env` is prepended to the command (e.g. `RVRRPD_NO_XDP=1`).
fn start_master(lab: &Lab, node: &Node, name: &str, path: &str, env: &[&str]) -> Proc {
    let mut c = RvrrpdConf::new(lab.dir(), name);
    for vrid in 1..=GROUPS {
        c = c.vrouter(
            VRouter::new(vrid, "eth0", format!("{}/32", vip(vrid)))
                .priority(PRIO)
                .version(2)
                .advert(1.0),
        );
    }
    // An empty `path`: the default.
    let tx = if path.is_empty() {
        String::new()
    } else {
        format!("tx_path = \"{path}\"\n")
    };
    let toml = format!("{tx}workers = 1\nadvert_slots = 1\n{}", c.to_toml());
    let file = lab.path(&format!("{name}.toml"));
    std::fs::write(&file, toml).expect("writing the configuration");
    let mut prefix: Vec<String> = Vec::new();
    if !env.is_empty() {
        prefix.push("env".into());
        prefix.extend(env.iter().map(|s| s.to_string()));
    }
    rvrrpd_lab::config::rvrrpd::spawn_file(lab, &node.ns, &prefix, &daemon(), name, &file, 3)
        .expect("spawning rvrrpd")
}

/// The frame the codec builds for group `vrid` of the Master at `src`.
fn expected(vrid: u8, src: Ipv4Addr) -> Vec<u8> {
    let key = AuthKey::none();
    let repr = VrrpRepr::v2(vrid, PRIO, 1, vec![IpAddr::V4(vip(vrid))], &key);
    advert_frame(&repr, IpAddr::V4(src), V3Checksum::default(), &key).expect("advert frame")
}

/// Turns GRO on or off on `dev` in `ns` (the legacy `ETHTOOL_SGRO` command).
fn set_gro(ns: &str, dev: &str, on: bool) {
    const SIOCETHTOOL: libc::c_ulong = 0x8946;
    const ETHTOOL_SGRO: u32 = 0x2c;
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        data: *mut EthtoolValue,
        _pad: [u8; 16],
    }
    let name = dev.to_string();
    let dev = name.clone();
    let r = netns::run_in(ns, move || {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
        let mut val = EthtoolValue {
            cmd: ETHTOOL_SGRO,
            data: u32::from(on),
        };
        let mut req = IfReq {
            name: [0; 16],
            data: &mut val,
            _pad: [0; 16],
        };
        req.name[..dev.len().min(15)].copy_from_slice(&dev.as_bytes()[..dev.len().min(15)]);
        use std::os::fd::AsRawFd;
        // SAFETY: a valid socket; `req` is an ifreq whose data points to an ethtool_value
        // that outlives the call.
        let rc = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCETHTOOL, &mut req as *mut IfReq) };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    })
    .expect("enter the switch namespace");
    r.unwrap_or_else(|e| panic!("GRO on {ns}/{name}: {e}"));
}

/// Adverts seen by `cap` within `dur`, by VRID (incoming only, or outgoing only).
fn collect(cap: &mut Sniffer, dur: Duration, outgoing: bool) -> BTreeMap<u8, Vec<Vec<u8>>> {
    let end = Instant::now() + dur;
    let mut by_vrid: BTreeMap<u8, Vec<Vec<u8>>> = BTreeMap::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        if !cap.wait_readable(left).expect("poll") {
            continue;
        }
        while let Some(f) = cap.recv().expect("recv") {
            if f.outgoing == outgoing && f.frame.len() > 14 + 20 + 1 && f.frame[12..14] == [8, 0] {
                let vrid = f.frame[14 + 20 + 1];
                by_vrid.entry(vrid).or_default().push(f.frame.to_vec());
            }
        }
    }
    by_vrid
}

fn sniffer(ns: &str) -> Sniffer {
    netns::run_in(ns, || Sniffer::open("eth0"))
        .expect("enter ns")
        .expect("sniffer on eth0")
}

/// Checks that the client got at least two adverts of every group, each byte for byte the
/// codec's frame.
fn check_adverts(got: &BTreeMap<u8, Vec<Vec<u8>>>, src: Ipv4Addr, when: &str, p: &Proc) {
    for vrid in 1..=GROUPS {
        let frames = got.get(&vrid).map(Vec::as_slice).unwrap_or_default();
        assert!(
            frames.len() >= 2,
            "{when}: VRID {vrid}: {} adverts in 2.5 s at the client\n{}",
            frames.len(),
            diag(&[p])
        );
        let want = expected(vrid, src);
        for f in frames {
            assert_eq!(
                f, &want,
                "{when}: VRID {vrid}: the advert on the wire differs"
            );
        }
    }
}

/// Watches 2.5 s: checks what the client receives (every group, byte-exact) and returns how
/// many adverts the Master's own taps saw.
fn observe(
    client: &mut Sniffer,
    own: &mut Sniffer,
    p: &mut Proc,
    src: Ipv4Addr,
    when: &str,
) -> usize {
    let _ = collect(own, Duration::from_millis(1), true);
    let got = collect(client, Duration::from_millis(2500), false);
    let tapped: usize = collect(own, Duration::from_millis(10), true)
        .values()
        .map(Vec::len)
        .sum();
    assert!(p.is_running(), "rvrrpd exited:\n{}", p.output());
    check_adverts(&got, src, when, p);
    tapped
}

/// Runs the Master and checks what the client receives and what the Master's taps see.
/// Returns the Master's log.
fn run(path: &str, env: &[&str], gro: bool) -> (String, usize) {
    let lab = lab(1);
    let r1 = lab.router(1).clone();
    if gro {
        set_gro(lab.switch_ns(), &r1.port, true);
    }
    let mut client = sniffer(&lab.client().ns);
    let mut own = sniffer(&r1.ns);
    let mut p = start_master(&lab, &r1, "r1", path, env);
    // Master after Master_Down_Interval (3.2–3.6 s), then an advert per second per group.
    let _ = collect(&mut client, Duration::from_secs(5), false);
    let tapped = observe(&mut client, &mut own, &mut p, r1.ipv4, path);
    let log = p.output();
    let _ = p.stop(Duration::from_secs(5));
    (log, tapped)
}

#[test]
fn xdp_transmit_path_sends_byte_exact_adverts() {
    let (log, tapped) = run("xdp", &[], true);
    assert!(
        log.contains("transmit path: XDP live frames"),
        "the XDP transmit path was not chosen:\n{log}"
    );
    // Sent through ndo_xdp_xmit: the Master's own taps saw none of them (documented).
    assert_eq!(tapped, 0, "the Master's taps saw {tapped} XDP-sent adverts");
}

#[test]
fn without_xdp_tx_path_xdp_falls_back_to_packet_sockets_byte_exact() {
    let (log, tapped) = run("xdp", &["RVRRPD_NO_XDP=1"], false);
    assert!(
        log.contains("transmit path: AF_PACKET sendmmsg (tx_path = xdp:"),
        "the fallback was not reported:\n{log}"
    );
    // Sent on the socket: the taps see them.
    assert!(
        tapped > 0,
        "the Master's taps saw none of its socket-sent adverts"
    );
}

#[test]
fn auto_uses_xdp_only_where_the_device_reports_xdp_transmit() {
    // GRO on the switch port: veth reports ndo_xdp_xmit, auto takes the XDP path.
    let (log, tapped) = run("auto", &[], true);
    assert!(
        log.contains("transmit path: XDP live frames"),
        "auto did not choose XDP with a receiving peer:\n{log}"
    );
    assert_eq!(tapped, 0, "the Master's taps saw {tapped} XDP-sent adverts");
    // A plain peer: veth reports no XDP transmit, auto keeps the socket (exact, tapped).
    let (log, tapped) = run("auto", &[], false);
    assert!(
        log.contains("while their drivers report XDP transmit"),
        "auto does not follow the driver:\n{log}"
    );
    assert!(
        tapped > 0,
        "the Master's taps saw none of its socket-sent adverts"
    );
}

/// The default (`auto`) follows the driver at run time: the switch port's GRO turned off
/// (veth then drops redirected frames without an error to the sender) moves the adverts to
/// the socket at once, and turned on again back to XDP. Without the following, the client
/// would see nothing after the first change.
#[test]
fn the_default_follows_the_drivers_xdp_transmit_at_run_time() {
    let lab = lab(1);
    let r1 = lab.router(1).clone();
    let port = r1.port.clone();
    set_gro(lab.switch_ns(), &port, true);
    let mut client = sniffer(&lab.client().ns);
    let mut own = sniffer(&r1.ns);
    // `tx_path` not set: the default.
    let mut p = start_master(&lab, &r1, "r1", "", &[]);
    let _ = collect(&mut client, Duration::from_secs(5), false);
    let mut phase = |when: &str, own_sees: bool| {
        // Frames already on their way under the previous path are drained first.
        let _ = collect(&mut client, Duration::from_millis(300), false);
        let tapped = observe(&mut client, &mut own, &mut p, r1.ipv4, when);
        assert_eq!(
            tapped > 0,
            own_sees,
            "{when}: the Master's taps saw {tapped} adverts\n{}",
            diag(&[&p])
        );
    };
    phase("XDP (GRO on the peer)", false);
    set_gro(lab.switch_ns(), &port, false);
    phase("socket (GRO off)", true);
    set_gro(lab.switch_ns(), &port, true);
    phase("XDP again (GRO on)", false);
    let log = p.output();
    assert!(
        log.contains("eth0: the driver no longer reports XDP transmit")
            && log.contains("eth0: the driver reports XDP transmit: adverts through XDP"),
        "the changes were not logged:\n{log}"
    );
    let _ = p.stop(Duration::from_secs(5));
}
