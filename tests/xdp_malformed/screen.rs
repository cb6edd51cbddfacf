//! Screening in the kernel (`FLAG_SCREEN`) through `BPF_PROG_TEST_RUN`: the XDP program drops
//! and counts what the worker's first checks would refuse — a wrong checksum (with
//! `FLAG_SCREEN_SUM`) and another VRRPv2 authentication type than the group's — in the global
//! counters and in the group's entry, and delivers everything the worker accepts: VRRPv2
//! with its checksum, VRRPv3/IPv4 with either checksum (pseudo-header or plain), VRRPv3/IPv6
//! with the pseudo-header. Without `FLAG_SCREEN_SUM` (unicast groups) a bad checksum still
//! goes to the worker; the socket filter screens nothing.

use std::net::{IpAddr, Ipv4Addr};

use rvrrpd::auth::{AuthKey, AuthType};
use rvrrpd::wire::{advert_frame, V3Checksum, VrrpRepr};
use rvrrpd_common::screen_flags;

use super::*;

/// (verdict, events, delivered, bad_checksum, bad_auth_type) of one XDP run.
type Seen = (u32, usize, u64, u64, u64);

fn run(rig: &mut Rig, frame: &[u8], ifindex: u32) -> Seen {
    let ret = rig.test_run(Prog::Xdp, frame, ifindex).expect("test_run");
    let got = rig.observe(ret);
    (
        ret,
        got.events.len(),
        got.counters.get(Counter::Delivered),
        got.counters.get(Counter::BadChecksum),
        got.counters.get(Counter::BadAuthType),
    )
}

const DELIVERED: Seen = (XDP_DROP, 1, 1, 0, 0);
const BAD_SUM: Seen = (XDP_DROP, 0, 0, 1, 0);
const BAD_AUTH: Seen = (XDP_DROP, 0, 0, 0, 1);

fn v2(vrid: u8, auth: &AuthKey) -> Vec<u8> {
    let repr = VrrpRepr::v2(
        vrid,
        100,
        1,
        vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))],
        auth,
    );
    advert_frame(&repr, IpAddr::V4(SRC4), V3Checksum::default(), auth).expect("v2 frame")
}

fn v3(vrid: u8, src: IpAddr, addr: IpAddr, sum: V3Checksum) -> Vec<u8> {
    let repr = VrrpRepr::v3(vrid, 100, 100, vec![addr]);
    advert_frame(&repr, src, sum, &AuthKey::none()).expect("v3 frame")
}

/// The frame with its VRRP checksum changed (the VRRP message starts at `at`).
fn bad_sum(mut f: Vec<u8>, at: usize) -> Vec<u8> {
    f[at + 6] ^= 0x5a;
    f
}

/// An IPv4 frame with `n` bytes after its VRRP message (IP total length and header checksum
/// updated): the VRRP checksum covers the message only.
fn trailing(mut f: Vec<u8>, n: usize) -> Vec<u8> {
    f.extend(std::iter::repeat_n(0xee, n));
    let total = (f.len() - 14) as u16;
    f[16..18].copy_from_slice(&total.to_be_bytes());
    f[24..26].fill(0);
    let sum = rvrrpd::wire::checksum::checksum(&f[14..34]);
    f[24..26].copy_from_slice(&sum.to_be_bytes());
    f
}

#[test]
fn the_kernel_refuses_what_the_worker_would_and_delivers_the_rest() {
    with_rig("sc", |rig, d0| {
        let simple = AuthKey::new(AuthType::Simple, b"secret".to_vec()).expect("simple key");
        let none = AuthKey::none();
        let g_v2 = DemuxKey::new(d0, 20, FAMILY_V4);
        let g_v3 = DemuxKey::new(d0, 21, FAMILY_V4);
        let g_v6 = DemuxKey::new(d0, 21, FAMILY_V6);
        let g_uni = DemuxKey::new(d0, 22, FAMILY_V4);
        let flags = [
            (g_v2, screen_flags(AuthType::Simple.number(), true)),
            (g_v3, screen_flags(0, true)),
            (g_v6, screen_flags(0, true)),
            (g_uni, screen_flags(0, false)),
        ];
        for (k, f) in flags {
            rig.fp.set_group(k, 0, f).expect("set_group");
            rig.groups.insert((k.ifindex, k.vrid, k.family), (0, f));
        }
        let (e2, e3, e6) = (
            rig_slot(rig, g_v2),
            rig_slot(rig, g_v3),
            rig_slot(rig, g_v6),
        );
        for e in [&e2, &e3, &e6] {
            e.reset();
        }
        let src6 = IpAddr::V6(SRC6);
        let addr6: IpAddr = "2001:db8::100".parse().expect("v6");
        let vip4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));
        let cases: Vec<(&str, Vec<u8>, Seen)> = vec![
            ("v2, its auth type", v2(20, &simple), DELIVERED),
            ("v2, bad checksum", bad_sum(v2(20, &simple), 34), BAD_SUM),
            ("v2, no authentication", v2(20, &none), BAD_AUTH),
            (
                "v2, other type and bad checksum: the checksum first, as the worker",
                bad_sum(v2(20, &none), 34),
                BAD_SUM,
            ),
            (
                "v3/IPv4, pseudo-header checksum",
                v3(21, IpAddr::V4(SRC4), vip4, V3Checksum::PseudoHeader),
                DELIVERED,
            ),
            (
                "v3/IPv4, plain checksum",
                v3(21, IpAddr::V4(SRC4), vip4, V3Checksum::Plain),
                DELIVERED,
            ),
            (
                "v3/IPv4, bad checksum",
                bad_sum(v3(21, IpAddr::V4(SRC4), vip4, V3Checksum::PseudoHeader), 34),
                BAD_SUM,
            ),
            (
                "v3/IPv6, pseudo-header checksum",
                v3(21, src6, addr6, V3Checksum::PseudoHeader),
                DELIVERED,
            ),
            (
                "v3/IPv6, bad checksum",
                bad_sum(v3(21, src6, addr6, V3Checksum::PseudoHeader), 54),
                BAD_SUM,
            ),
            (
                "v2 to a v3 group without authentication (the worker refuses the version)",
                v2(21, &simple),
                BAD_AUTH,
            ),
            (
                "v2 with bytes after the message, not in its checksum",
                trailing(v2(20, &simple), 6),
                DELIVERED,
            ),
            (
                "v2 with bytes after the message and a bad checksum",
                trailing(bad_sum(v2(20, &simple), 34), 6),
                BAD_SUM,
            ),
            (
                "v3/IPv4 with bytes after the message, pseudo-header checksum",
                trailing(v3(21, IpAddr::V4(SRC4), vip4, V3Checksum::PseudoHeader), 5),
                DELIVERED,
            ),
            (
                "unicast group: a bad checksum is the worker's to judge",
                bad_sum(v2(22, &none), 34),
                DELIVERED,
            ),
        ];
        for (what, f, want) in &cases {
            assert_eq!(run(rig, f, d0), *want, "{what}");
        }
        // Each group's entry counted its refusals: (bad checksum, other auth type).
        assert_eq!(e2.screened(), (3, 1), "v2 group");
        assert_eq!(e3.screened(), (1, 1), "v3/IPv4 group");
        assert_eq!(e6.screened(), (1, 0), "v3/IPv6 group");
        // The socket filter screens nothing: the refused v2 frame is kept.
        let f = v2(20, &none);
        let ret = rig.test_run(Prog::Sock, &f, d0).expect("socket filter");
        assert_eq!(ret as usize, f.len() - 14, "socket filter keeps it");
        let _ = rig.observe(ret);
        // A reset entry starts from zero.
        e2.reset();
        assert_eq!(e2.screened(), (0, 0));
    });
}

fn rig_slot(rig: &Rig, key: DemuxKey) -> rvrrpd::net::xdp::SuppressSlot {
    rig.fp
        .suppress_table()
        .slot(key)
        .expect("set_group gave the group a slot")
}
