//! Malformed frames through the eBPF programs with `BPF_PROG_TEST_RUN`: `vrrp_demux` (XDP)
//! and `vrrp_sock_filter` (socket filter), no NIC needed.
//!
//! * `verifier_accepts_both_programs`: both programs load (the verifier accepts them).
//! * `malformed_cases`: a table of hand-written cases (truncated Ethernet / VLAN / IPv4 / IPv6
//!   / extension-header / VRRP headers, header fields that lie, VLAN stacks, fragments, TTL,
//!   foreign protocols, unknown VRID, VRID on the wrong interface), each with its expected
//!   verdict written out; the reference classifier below must agree with every one of them.
//! * `truncation_and_mutation_sweep`: valid v2, v3/IPv4 and v3/IPv6 adverts (untagged,
//!   priority-tagged, double-tagged, VLAN-tagged, with extension headers, oversized) cut at
//!   every length `0..=len` and with single-byte mutations of every header byte, each checked
//!   against the reference classifier.
//! * `full_ring_drops_and_counts`: a full ring drops and counts instead of delivering.
//! * `suppress::*`: the kernel-resident Backup — repeats of a kept advert swallowed, any
//!   difference delivered (see that module).
//! * `screen::*`: adverts the worker would refuse for their checksum or authentication type
//!   dropped and counted in the kernel, everything else delivered (see that module).
//!
//! For every frame the test checks the exact verdict, the change of every counter and the
//! events in every ring (their fields and bytes for delivered adverts). The socket filter gets
//! the same frames (it sees them from the network header on, as on an AF_INET raw socket).
//!
//! # The contract (what the reference classifier implements)
//! XDP sees the frame from its Ethernet header:
//! * VLAN tags (TPID 0x8100 or 0x88a8): a tag with VLAN id 0 (802.1p priority tag) is
//!   skipped, the frame belongs to the interface itself, as in the kernel; a tag with another
//!   VLAN id means the frame belongs to a VLAN device, not to the interface's groups (the demux
//!   key has no VLAN): passed untouched. More than [`MAX_TAGS`] priority tags: passed.
//! * Then ethertype 0x0800 with an IPv4 header (version 4, 20 bytes present) or 0x86DD with an
//!   IPv6 header (version 6, 40 bytes present); anything else: foreign, passed untouched.
//! * IPv4: protocol ≠ 112: foreign. IHL < 5, total length < IHL, or a fragment (MF or offset):
//!   malformed.
//! * IPv6: up to [`MAX_EXT`] hop-by-hop / destination-options headers are skipped to find
//!   next header 112; any other next header, a longer chain, or a chain cut by the end of the
//!   frame: foreign.
//! * TTL / hop limit ≠ 255: bad_ttl. Then: fewer than 8 bytes of VRRP per the IP length, or
//!   a frame shorter than the IP length: malformed. VRRP version 2 (IPv4 only) or 3, type 1,
//!   VRID ≠ 0, and a length of at least `8 + count × address size (+ 8 for v2)`, else
//!   malformed.
//! * A well-formed advert for `(ingress ifindex, VRID, family)` not in the demux map:
//!   unknown_vrid. Otherwise one event in the group's worker ring (ifindex, family, TTL, VRRP
//!   length per IP, source address, receive time, the first `min(len, MAX_VRRP_LEN)` VRRP
//!   bytes), delivered (+ truncated beyond MAX_VRRP_LEN); XDP_DROP, or XDP_PASS (+ passed)
//!   for a FLAG_PASS group.
//! * Malformed / bad TTL / unknown VRID: XDP_DROP and the counter, no event. Foreign: XDP_PASS,
//!   no counter, no event.
//!
//! The socket filter applies the same rules to the packet after the Ethernet header (family
//! from the skb's protocol, which the kernel takes from the outer ethertype); it keeps the
//! packet (returns its length) and counts `passed` for an advert of a configured group,
//! returns 0 otherwise (with the same counters as XDP).
#![cfg(target_os = "linux")]

#[path = "../xdp_support/mod.rs"]
mod xdp_support;

mod cases;
mod oracle;
mod rig;
mod screen;
mod suppress;

use std::collections::BTreeMap;

use cases::*;
use oracle::*;
use rig::*;
use rvrrpd::net::xdp::{
    Counter, Counters, DemuxKey, FastPath, FastPathConfig, VrrpEvent, XdpResult, FAMILY_V4,
    FAMILY_V6, FLAG_PASS, MAX_VRRP_LEN,
};
use xdp_support::*;

#[test]
fn verifier_accepts_both_programs() {
    let ns = TestNs::new("vf");
    object();
    ns.run(|| {
        let mut fp = load(1);
        fp.load_xdp()
            .unwrap_or_else(|e| panic!("the verifier rejects vrrp_demux: {e}"));
        fp.load_socket_filter()
            .unwrap_or_else(|e| panic!("the verifier rejects vrrp_sock_filter: {e}"));
    });
}

#[test]
fn malformed_cases() {
    with_rig("mc", |rig, d0| {
        let cases = cases(d0);
        for (name, frame, ifindex, want) in &cases {
            // The reference classifier agrees with the hand-written expectation...
            assert_eq!(
                classify_xdp(frame),
                want.class(frame),
                "{name}: the reference classifier disagrees with the case"
            );
            // ... and the programs do what both say.
            rig.check(name, frame, *ifindex);
        }
        eprintln!(
            "{} cases: {} XDP runs, {} socket-filter runs",
            cases.len(),
            rig.runs[0],
            rig.runs[1]
        );
    });
}

/// Replacement values tried at every header byte (besides flips of the low and high bit and
/// ±1): lengths, versions, ethertype and next-header values the programs branch on.
const MUTATIONS: [u8; 30] = [
    0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0f, 0x10, 0x11, 0x14, 0x21, 0x2b, 0x2c,
    0x31, 0x3c, 0x40, 0x45, 0x4f, 0x60, 0x70, 0x7f, 0x81, 0x86, 0x88, 0xa8, 0xdd, 0xff,
];

#[test]
fn truncation_and_mutation_sweep() {
    with_rig("sw", |rig, d0| {
        let v2 = v2_frame(5);
        let v6 = v3_frame_v6(5);
        // (name, frame, header bytes: Ethernet + tags + IP + extension headers + VRRP header)
        let bases: Vec<(&str, Vec<u8>, usize)> = vec![
            ("v2", v2.clone(), 42),
            ("v3/IPv4", v3_frame_v4(5, 2), 42),
            ("v3/IPv6", v6.clone(), 62),
            (
                "v3/IPv6 + HBH + DSTOPTS",
                with_ext_chain(v6.clone(), &[0, 60], 0),
                78,
            ),
            ("v3/IPv4, 100 addresses", v3_frame_v4(5, 100), 42),
            ("v2 FLAG_PASS", v2_frame(9), 42),
            ("v2 priority-tagged", with_vlan(v2.clone(), 0), 46),
            (
                "v3/IPv4 priority-tagged",
                with_vlan(v3_frame_v4(5, 2), 0),
                46,
            ),
            ("v3/IPv6 priority-tagged", with_vlan(v6.clone(), 0), 66),
            (
                "v2 802.1ad 0 + 802.1Q 0",
                with_tag(with_vlan(v2.clone(), 0), 0x88a8, 0),
                50,
            ),
            ("v2 VLAN 10", with_vlan(v2.clone(), 10), 46),
        ];
        let mut frames = 0usize;
        let mut classes: BTreeMap<String, usize> = BTreeMap::new();
        let mut run = |rig: &mut Rig, what: &str, f: &[u8], ifindex: u32| {
            rig.check(what, f, ifindex);
            frames += 1;
            let key = match classify_xdp(f) {
                _ if f.len() < 14 => "refused by the kernel (< 14 bytes)".to_string(),
                Class::Foreign => "foreign".to_string(),
                Class::Bad(c) => c.name().to_string(),
                Class::Advert(_) => "advert".to_string(),
            };
            *classes.entry(key).or_default() += 1;
        };
        for (name, base, header) in &bases {
            let class = classify_xdp(base);
            if name.contains("VLAN 10") {
                assert_eq!(class, Class::Foreign, "{name}");
            } else {
                assert!(matches!(class, Class::Advert(_)), "{name}: {class:?}");
            }
            for len in 0..=base.len() {
                run(rig, &format!("{name} cut at {len}"), &base[..len], LO);
            }
            for at in 0..*header {
                let orig = base[at];
                let mut values: Vec<u8> = MUTATIONS.to_vec();
                values.extend([
                    orig ^ 0x01,
                    orig ^ 0x80,
                    orig.wrapping_add(1),
                    orig.wrapping_sub(1),
                ]);
                values.sort_unstable();
                values.dedup();
                for v in values.into_iter().filter(|&v| v != orig) {
                    let mut f = base.clone();
                    f[at] = v;
                    run(
                        rig,
                        &format!("{name}, byte {at} {orig:#04x} -> {v:#04x}"),
                        &f,
                        LO,
                    );
                }
            }
            // The base advert on the other interface: unknown there.
            run(rig, &format!("{name} on d0"), base, d0);
        }
        eprintln!(
            "{frames} frames: {} XDP runs, {} socket-filter runs; {classes:?}",
            rig.runs[0], rig.runs[1]
        );
        assert!(frames > 10_000, "the sweep covers {frames} frames");
    });
}

#[test]
fn full_ring_drops_and_counts() {
    let ns = TestNs::new("rf");
    object();
    ns.run(|| {
        let fp = load_with(FastPathConfig {
            ring_bytes: 4096,
            ..FastPathConfig::new(1)
        });
        let mut rig = Rig::new(fp, &[(DemuxKey::new(LO, 5, FAMILY_V4), 0, 0)]);
        let f = v2_frame(5);
        let fit = 4096 / VrrpEvent::ring_record_size(20);
        for i in 0..fit + 10 {
            let ret = rig.fp.test_run(&f, LO).expect("test_run");
            assert_eq!(ret, XDP_DROP, "advert {i}");
        }
        let got = rig.observe(0);
        assert_eq!(got.events.len(), fit, "records that fit a 4 KiB ring");
        assert!(got.events.iter().all(|(_, e)| e.5 == f[34..]));
        assert_eq!(got.counters.get(Counter::Delivered), fit as u64);
        assert_eq!(got.counters.get(Counter::RingbufFull), 10);
        // Drained: room again.
        rig.check("after draining", &f, LO);
        rig.finish();
    });
}
