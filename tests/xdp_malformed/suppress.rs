//! The kernel-resident Backup through `BPF_PROG_TEST_RUN`: an advert identical to the entry its
//! group's worker kept ([`SuppressSlot::keep`]) is stamped, counted and dropped without a ring
//! event; any difference (source, priority, priority 0, addresses, interval, authentication
//! data, length), no entry, an invalidated entry, or the entry of another group sends it to
//! the ring as before. The socket filter does the same (returns 0 instead of keeping).

use std::net::{IpAddr, Ipv4Addr};

use rvrrpd::auth::{AuthKey, AuthType};
use rvrrpd::daemon::sys::monotonic_micros;
use rvrrpd::net::xdp::SuppressSlot;
use rvrrpd::wire::{advert_frame, V3Checksum, VrrpRepr};

use super::*;

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);

/// A VRRPv2 advert of VRID 5 on the wire (Ethernet frame).
fn v2(src: Ipv4Addr, priority: u8, interval: u8, vips: &[Ipv4Addr], auth: &AuthKey) -> Vec<u8> {
    let addrs = vips.iter().map(|a| IpAddr::V4(*a)).collect();
    let repr = VrrpRepr::v2(5, priority, interval, addrs, auth);
    advert_frame(&repr, IpAddr::V4(src), V3Checksum::default(), auth).expect("v2 frame")
}

fn p0(secret: &str) -> AuthKey {
    AuthKey::new(AuthType::P0Sha256, secret.as_bytes().to_vec()).expect("p0 key")
}

/// The VRRP message of an untagged IPv4 frame.
fn msg(f: &[u8]) -> &[u8] {
    &f[34..]
}

/// Runs `prog` once on `frame` (on `ifindex`) and returns (verdict, events in the rings,
/// increments of `delivered`, `passed`), checking nothing.
fn run(rig: &mut Rig, prog: Prog, frame: &[u8], ifindex: u32) -> (u32, usize, u64, u64) {
    let ret = rig
        .test_run(prog, frame, ifindex)
        .unwrap_or_else(|e| panic!("{} test_run: {e}", prog.name()));
    let got = rig.observe(ret);
    (
        ret,
        got.events.len(),
        got.counters.get(Counter::Delivered),
        got.counters.get(Counter::Passed),
    )
}

/// What the slow path gives: XDP delivers one event and drops; the socket filter keeps the
/// packet (its length after the Ethernet header) and counts `passed`.
fn slow(prog: Prog, frame: &[u8]) -> (u32, usize, u64, u64) {
    match prog {
        Prog::Xdp => (XDP_DROP, 1, 1, 0),
        Prog::Sock => ((frame.len() - 14) as u32, 0, 0, 1),
    }
}

/// Suppressed: dropped, no event, no counter of the slow path.
const SWALLOWED: (u32, usize, u64, u64) = (XDP_DROP, 0, 0, 0);

fn swallowed(prog: Prog) -> (u32, usize, u64, u64) {
    match prog {
        Prog::Xdp => SWALLOWED,
        Prog::Sock => (0, 0, 0, 0),
    }
}

fn slot(rig: &Rig, key: DemuxKey) -> SuppressSlot {
    rig.fp
        .suppress_table()
        .slot(key)
        .expect("set_group gave the group a slot")
}

fn now_ns() -> u64 {
    monotonic_micros() * 1000
}

#[test]
fn identical_adverts_are_swallowed_and_any_difference_reaches_the_ring() {
    with_rig("su", |rig, d0| {
        let g5 = DemuxKey::new(LO, 5, FAMILY_V4);
        rig.fp
            .set_group(DemuxKey::new(d0, 5, FAMILY_V4), 0, 0)
            .expect("d0/5");
        rig.groups.insert((d0, 5, FAMILY_V4), (0, 0));
        let key = p0("secret");
        let base = v2(SRC4, 200, 1, &[VIP], &key);
        for prog in [Prog::Xdp, Prog::Sock] {
            let what = prog.name();
            let e = slot(rig, g5);
            e.reset();
            // No entry: the slow path.
            assert_eq!(
                run(rig, prog, &base, LO),
                slow(prog, &base),
                "{what}: no entry"
            );
            assert_eq!(e.suppressed(), 0);
            // The worker keeps the advert it accepted (stamped long ago).
            assert!(e.keep(IpAddr::V4(SRC4), msg(&base), 1_000));
            assert_eq!(e.last_rx(), Some(1_000));
            for i in 1..=3u64 {
                let before = now_ns();
                assert_eq!(
                    run(rig, prog, &base, LO),
                    swallowed(prog),
                    "{what}: repeat {i}"
                );
                let stamp = e.last_rx().expect("still valid");
                assert!(
                    stamp >= before && stamp <= now_ns(),
                    "{what}: the kernel's receive time {stamp} in [{before}, now]"
                );
                assert_eq!(e.suppressed(), i, "{what}: counted");
                // Adverts are at least 10 ms apart; the socket filter takes copies within
                // 100 µs for the same packet on another socket.
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            let stamp = e.last_rx();
            let other = Ipv4Addr::new(192, 0, 2, 3);
            let changed: Vec<(&str, Vec<u8>)> = vec![
                ("source", v2(other, 200, 1, &[VIP], &key)),
                ("priority", v2(SRC4, 201, 1, &[VIP], &key)),
                ("priority 0", v2(SRC4, 0, 1, &[VIP], &key)),
                (
                    "addresses",
                    v2(SRC4, 200, 1, &[Ipv4Addr::new(192, 0, 2, 101)], &key),
                ),
                ("interval", v2(SRC4, 200, 2, &[VIP], &key)),
                (
                    "authentication data",
                    v2(SRC4, 200, 1, &[VIP], &p0("other")),
                ),
                ("length", v2(SRC4, 200, 1, &[VIP, VIP], &key)),
                ("TTL", with_ttl(base.clone(), 254)),
            ];
            for (name, f) in &changed {
                let want = if *name == "TTL" {
                    // Refused before any comparison, as today.
                    (
                        if matches!(prog, Prog::Xdp) {
                            XDP_DROP
                        } else {
                            0
                        },
                        0,
                        0,
                        0,
                    )
                } else {
                    slow(prog, f)
                };
                assert_eq!(run(rig, prog, f, LO), want, "{what}: other {name}");
                assert_eq!(e.last_rx(), stamp, "{what}: other {name} leaves the stamp");
                assert_eq!(e.suppressed(), 3, "{what}: other {name} is not counted");
            }
            // A single flipped byte anywhere in the message (the checksum field included):
            // never counted; an advert of the group still reaches the ring.
            for at in 34..base.len() {
                let mut f = base.clone();
                f[at] ^= 0x10;
                let (_, events, _, _) = run(rig, prog, &f, LO);
                assert_eq!(e.suppressed(), 3, "{what}: byte {at} flipped was swallowed");
                let class = match prog {
                    Prog::Xdp => classify_xdp(&f),
                    Prog::Sock => classify_skb(&f),
                };
                if let (Prog::Xdp, Class::Advert(a)) = (prog, &class) {
                    if a.vrid == 5 {
                        assert_eq!(events, 1, "{what}: byte {at} flipped");
                    }
                }
            }
            // The same advert on another interface: that group's own (empty) entry.
            assert_eq!(
                run(rig, prog, &base, d0),
                slow(prog, &base),
                "{what}: other group"
            );
            // Invalidated: the slow path; restored: swallowed again.
            let last = e.invalidate().expect("was valid");
            assert_eq!(Some(last), stamp);
            assert_eq!(
                run(rig, prog, &base, LO),
                slow(prog, &base),
                "{what}: invalid"
            );
            e.restore(last);
            assert_eq!(
                run(rig, prog, &base, LO),
                swallowed(prog),
                "{what}: restored"
            );
            assert_eq!(e.suppressed(), 4);
            e.reset();
        }
    });
}

#[test]
fn long_adverts_and_other_families_take_the_slow_path() {
    with_rig("sl", |rig, _d0| {
        // 20 IPv4 addresses: 88 bytes, beyond the 64 compared.
        let long = v3_frame_v4(5, 20);
        let e = slot(rig, DemuxKey::new(LO, 5, FAMILY_V4));
        assert!(!e.keep(IpAddr::V4(SRC4), msg(&long), 1_000), "not kept");
        assert_eq!(e.last_rx(), None);
        assert_eq!(run(rig, Prog::Xdp, &long, LO), slow(Prog::Xdp, &long));
        // IPv6 (VRID 5, worker 1): its own slot.
        let f6 = v3_frame_v6(5);
        let e6 = slot(rig, DemuxKey::new(LO, 5, FAMILY_V6));
        assert!(e6.keep(IpAddr::V6(SRC6), &f6[54..], 1_000));
        assert_eq!(run(rig, Prog::Xdp, &f6, LO), SWALLOWED, "IPv6 repeat");
        assert_eq!(e6.suppressed(), 1);
        // The v4 group of the same VRID has no entry: its advert still reaches the ring.
        let f4 = v3_frame_v4(5, 1);
        assert_eq!(run(rig, Prog::Xdp, &f4, LO), slow(Prog::Xdp, &f4));
    });
}

#[test]
fn a_pass_group_still_passes_and_the_socket_filter_counts_a_packet_once() {
    with_rig("sp", |rig, _d0| {
        // VRID 9 has FLAG_PASS (worker 1): the stack still gets it, the ring does not.
        let f = v2_frame(9);
        let e = slot(rig, DemuxKey::new(LO, 9, FAMILY_V4));
        assert!(e.keep(IpAddr::V4(SRC4), msg(&f), 1_000));
        assert_eq!(run(rig, Prog::Xdp, &f, LO), (XDP_PASS, 0, 0, 1));
        assert_eq!(e.suppressed(), 1);
        // One packet through three sockets (three workers on the interface): counted once.
        std::thread::sleep(std::time::Duration::from_millis(1));
        let ret = rig
            .fp
            .test_run_socket_filter_repeated(&f, LO, 3)
            .expect("test_run");
        assert_eq!(ret, 0);
        assert_eq!(e.suppressed(), 2, "one packet, one count");
        rig.observe(ret);
    });
}
