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

mod xdp_support;

use std::collections::BTreeMap;

use rvrrpd::net::xdp::{
    Counter, Counters, DemuxKey, FastPath, FastPathConfig, VrrpEvent, XdpResult, FAMILY_V4,
    FAMILY_V6, FLAG_PASS, MAX_VRRP_LEN,
};
use xdp_support::*;

/// Priority (VLAN id 0) tags the program skips.
const MAX_TAGS: usize = 2;
/// IPv6 extension headers the program skips.
const MAX_EXT: usize = 4;
const IPPROTO_VRRP: u8 = 112;
const LO: u32 = 1;
const WORKERS: u32 = 2;

/// What the reference classifier makes of a frame's network layer.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Class {
    /// Not VRRP as far as the programs can tell.
    Foreign,
    /// VRRP, dropped and counted.
    Bad(Counter),
    /// A well-formed advert.
    Advert(Advert),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Advert {
    family: u8,
    ttl: u8,
    vrid: u8,
    src: [u8; 16],
    /// The whole VRRP message (per the IP length).
    vrrp: Vec<u8>,
}

fn be16(b: &[u8]) -> usize {
    usize::from(u16::from_be_bytes([b[0], b[1]]))
}

/// Where XDP finds the network header and which IP version the ethertype announces.
fn xdp_l3(f: &[u8]) -> Option<(usize, u8)> {
    let mut at = 12; // ethertype / TPID
    let mut tags = 0;
    loop {
        match be16(f.get(at..at + 2)?) {
            0x8100 | 0x88a8 => {
                let tci = be16(f.get(at + 2..at + 4)?);
                if tci & 0x0fff != 0 || tags == MAX_TAGS {
                    return None;
                }
                tags += 1;
                at += 4;
            }
            0x0800 => return Some((at + 2, 4)),
            0x86dd => return Some((at + 2, 6)),
            _ => return None,
        }
    }
}

/// The same for the socket filter: the kernel strips 14 bytes and takes the outer ethertype.
fn skb_l3(f: &[u8]) -> Option<(usize, u8)> {
    match be16(f.get(12..14)?) {
        0x0800 => Some((14, 4)),
        0x86dd => Some((14, 6)),
        _ => None,
    }
}

/// The reference classifier: the contract above applied to the bytes from the network
/// header on (`l3`), for the IP version the link layer announced.
fn classify(l3: &[u8], version: u8) -> Class {
    use Class::{Bad, Foreign};
    let Some(&b0) = l3.first() else {
        return Foreign;
    };
    if b0 >> 4 != version {
        return Foreign;
    }
    let (family, ttl, off, end, src) = if version == 4 {
        if l3.len() < 20 || l3[9] != IPPROTO_VRRP {
            return Foreign;
        }
        let ihl = usize::from(b0 & 0x0f) * 4;
        let total = be16(&l3[2..4]);
        if ihl < 20 || total < ihl || be16(&l3[6..8]) & 0x3fff != 0 {
            return Bad(Counter::Malformed);
        }
        let mut src = [0; 16];
        src[..4].copy_from_slice(&l3[12..16]);
        (FAMILY_V4, l3[8], ihl, total, src)
    } else {
        if l3.len() < 40 {
            return Foreign;
        }
        let (mut next, mut off, mut n) = (l3[6], 40, 0);
        while next != IPPROTO_VRRP {
            if !(next == 0 || next == 60) || n == MAX_EXT {
                return Foreign;
            }
            let Some(ext) = l3.get(off..off + 2) else {
                return Foreign;
            };
            next = ext[0];
            off += (usize::from(ext[1]) + 1) * 8;
            n += 1;
        }
        let mut src = [0; 16];
        src.copy_from_slice(&l3[8..24]);
        (FAMILY_V6, l3[7], off, 40 + be16(&l3[4..6]), src)
    };
    if ttl != 255 {
        return Bad(Counter::BadTtl);
    }
    if end < off + 8 || end > l3.len() {
        return Bad(Counter::Malformed);
    }
    let vrrp = &l3[off..end];
    let count = usize::from(vrrp[3]);
    let need = match (vrrp[0] >> 4, family) {
        (2, FAMILY_V4) => 8 + 4 * count + 8,
        (3, FAMILY_V4) => 8 + 4 * count,
        (3, _) => 8 + 16 * count,
        _ => return Bad(Counter::Malformed),
    };
    if vrrp[0] & 0x0f != 1 || vrrp[1] == 0 || vrrp.len() < need {
        return Bad(Counter::Malformed);
    }
    Class::Advert(Advert {
        family,
        ttl,
        vrid: vrrp[1],
        src,
        vrrp: vrrp.to_vec(),
    })
}

fn classify_xdp(f: &[u8]) -> Class {
    xdp_l3(f).map_or(Class::Foreign, |(at, v)| classify(&f[at..], v))
}

fn classify_skb(f: &[u8]) -> Class {
    skb_l3(f).map_or(Class::Foreign, |(at, v)| classify(&f[at..], v))
}

/// An event as compared: everything but the receive time (checked non-zero).
type EventView = (u32, u8, u8, u16, [u8; 16], Vec<u8>);

fn view(e: &VrrpEvent) -> EventView {
    assert!(e.rx_ns > 0, "rx_ns stamped by the program: {e:?}");
    (
        e.ifindex,
        e.family,
        e.ttl,
        e.len,
        e.src,
        e.vrrp_bytes().to_vec(),
    )
}

/// What one run must produce.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    ret: u32,
    counters: Counters,
    /// `(worker, event)`.
    events: Vec<(u32, EventView)>,
}

fn bump(c: &mut Counters, which: &[Counter]) {
    for k in which {
        c.0[k.index() as usize] += 1;
    }
}

/// The programs loaded in a namespace of their own, with a fixed demux map, and the counter
/// values after the last run (to check each run's increments).
struct Rig {
    fp: FastPath,
    groups: BTreeMap<(u32, u8, u8), (u32, u32)>,
    last: Counters,
    /// Frames run, by program.
    runs: [usize; 2],
    /// Mismatches (all are reported at the end, not just the first).
    failures: Vec<String>,
}

impl Rig {
    fn new(fp: FastPath, groups: &[(DemuxKey, u32, u32)]) -> Rig {
        let mut rig = Rig {
            fp,
            groups: BTreeMap::new(),
            last: Counters::default(),
            runs: [0; 2],
            failures: Vec::new(),
        };
        for &(k, worker, flags) in groups {
            rig.fp.set_group(k, worker, flags).expect("set_group");
            rig.groups
                .insert((k.ifindex, k.vrid, k.family), (worker, flags));
        }
        rig.last = counters(&rig.fp);
        rig
    }

    fn group(&self, ifindex: u32, a: &Advert) -> Option<(u32, u32)> {
        self.groups.get(&(ifindex, a.vrid, a.family)).copied()
    }

    /// What `vrrp_demux` must do with a frame of class `class` on `ifindex`.
    fn expect_xdp(&self, class: &Class, ifindex: u32) -> Outcome {
        let mut counters = Counters::default();
        let mut events = Vec::new();
        let ret = match class {
            Class::Foreign => XDP_PASS,
            Class::Bad(c) => {
                bump(&mut counters, &[*c]);
                XDP_DROP
            }
            Class::Advert(a) => match self.group(ifindex, a) {
                None => {
                    bump(&mut counters, &[Counter::UnknownVrid]);
                    XDP_DROP
                }
                Some((worker, flags)) => {
                    bump(&mut counters, &[Counter::Delivered]);
                    if a.vrrp.len() > MAX_VRRP_LEN {
                        bump(&mut counters, &[Counter::Truncated]);
                    }
                    let n = a.vrrp.len().min(MAX_VRRP_LEN);
                    events.push((
                        worker,
                        (
                            ifindex,
                            a.family,
                            a.ttl,
                            a.vrrp.len() as u16,
                            a.src,
                            a.vrrp[..n].to_vec(),
                        ),
                    ));
                    if flags & FLAG_PASS != 0 {
                        bump(&mut counters, &[Counter::Passed]);
                        XDP_PASS
                    } else {
                        XDP_DROP
                    }
                }
            },
        };
        Outcome {
            ret,
            counters,
            events,
        }
    }

    /// What `vrrp_sock_filter` must do with a frame of `len` bytes of class `class`.
    fn expect_sock(&self, class: &Class, ifindex: u32, len: usize) -> Outcome {
        let mut counters = Counters::default();
        let ret = match class {
            Class::Foreign => 0,
            Class::Bad(c) => {
                bump(&mut counters, &[*c]);
                0
            }
            Class::Advert(a) if self.group(ifindex, a).is_none() => {
                bump(&mut counters, &[Counter::UnknownVrid]);
                0
            }
            Class::Advert(_) => {
                bump(&mut counters, &[Counter::Passed]);
                // Kept whole: the kernel pulled the 14-byte Ethernet header.
                (len - 14) as u32
            }
        };
        Outcome {
            ret,
            counters,
            events: Vec::new(),
        }
    }

    /// The counters' increments since the last call, and every pending event.
    fn observe(&mut self, ret: u32) -> Outcome {
        let now = counters(&self.fp);
        let mut delta = Counters::default();
        for (d, (n, l)) in delta.0.iter_mut().zip(now.0.iter().zip(self.last.0)) {
            *d = n - l;
        }
        self.last = now;
        let mut events = Vec::new();
        for w in 0..self.fp.workers() {
            events.extend(drain_all(&mut self.fp, w).iter().map(|e| (w, view(e))));
        }
        Outcome {
            ret,
            counters: delta,
            events,
        }
    }

    fn expect(&mut self, got: Outcome, want: Outcome, what: impl FnOnce() -> String) {
        if got != want {
            self.failures
                .push(format!("{}\n  got  {got:?}\n  want {want:?}", what()));
        }
    }

    /// Panics with every mismatch seen (the first 30 in full).
    fn finish(&self) {
        if !self.failures.is_empty() {
            let shown: Vec<&str> = self.failures.iter().take(30).map(String::as_str).collect();
            panic!(
                "{} of {} runs went wrong:\n{}",
                self.failures.len(),
                self.runs[0] + self.runs[1],
                shown.join("\n")
            );
        }
    }

    /// Runs both programs on `frame` and checks each against the outcome the reference
    /// classifier predicts. The kernel refuses (EINVAL) to run XDP on a frame shorter than an
    /// Ethernet header, and a socket filter on an IPv4 / IPv6 packet shorter than the fixed
    /// IP header (as the stack drops those before any socket sees them): no program ever sees
    /// such frames.
    fn check(&mut self, what: &str, frame: &[u8], ifindex: u32) {
        let skb_refused = match skb_l3(frame) {
            Some((at, 4)) => frame.len() < at + 20,
            Some((at, _)) => frame.len() < at + 40,
            None => frame.len() < 14,
        };
        for (prog, refused) in [(Prog::Xdp, frame.len() < 14), (Prog::Sock, skb_refused)] {
            if refused {
                assert!(
                    self.test_run(prog, frame, ifindex).is_err(),
                    "{what}: the kernel runs {} on this {}-byte frame",
                    prog.name(),
                    frame.len()
                );
                continue;
            }
            let class = match prog {
                Prog::Xdp => classify_xdp(frame),
                Prog::Sock => classify_skb(frame),
            };
            let want = match prog {
                Prog::Xdp => self.expect_xdp(&class, ifindex),
                Prog::Sock => self.expect_sock(&class, ifindex, frame.len()),
            };
            let ret = self
                .test_run(prog, frame, ifindex)
                .unwrap_or_else(|e| panic!("{what}: {} test_run: {e:?}", prog.name()));
            let got = self.observe(ret);
            self.expect(got, want, || {
                format!(
                    "{what}: {} on ifindex {ifindex}, oracle says {class:?}",
                    prog.name()
                )
            });
            self.runs[prog as usize] += 1;
        }
    }

    fn test_run(&mut self, prog: Prog, frame: &[u8], ifindex: u32) -> XdpResult<u32> {
        match prog {
            Prog::Xdp => self.fp.test_run(frame, ifindex),
            Prog::Sock => self.fp.test_run_socket_filter(frame, ifindex),
        }
    }
}

#[derive(Clone, Copy)]
enum Prog {
    Xdp = 0,
    Sock = 1,
}

impl Prog {
    fn name(self) -> &'static str {
        match self {
            Prog::Xdp => "vrrp_demux",
            Prog::Sock => "vrrp_sock_filter",
        }
    }
}

/// Loads the programs in a fresh namespace with a second device (`d0`, whose ifindex `f`
/// gets) and runs `f` there with a rig whose demux map is:
/// (lo, 5, v4) → worker 0; (lo, 5, v6) → worker 1; (lo, 9, v4) → worker 1 with FLAG_PASS;
/// (d0, 7, v4) → worker 0.
fn with_rig(tag: &'static str, f: impl FnOnce(&mut Rig, u32) + Send + 'static) {
    let ns = TestNs::new(tag);
    let d0 = ns.add_device("d0");
    object();
    ns.run(move || {
        let fp = load(WORKERS);
        let mut rig = Rig::new(
            fp,
            &[
                (DemuxKey::new(LO, 5, FAMILY_V4), 0, 0),
                (DemuxKey::new(LO, 5, FAMILY_V6), 1, 0),
                (DemuxKey::new(LO, 9, FAMILY_V4), 1, FLAG_PASS),
                (DemuxKey::new(d0, 7, FAMILY_V4), 0, 0),
            ],
        );
        f(&mut rig, d0);
        rig.finish();
    });
}

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

// ---- frame surgery -------------------------------------------------------------------

fn set(mut f: Vec<u8>, at: usize, v: u8) -> Vec<u8> {
    f[at] = v;
    f
}

fn set16(mut f: Vec<u8>, at: usize, v: u16) -> Vec<u8> {
    f[at..at + 2].copy_from_slice(&v.to_be_bytes());
    f
}

fn cut(mut f: Vec<u8>, len: usize) -> Vec<u8> {
    f.truncate(len);
    f
}

/// Appends `n` bytes of Ethernet padding (not covered by the IP length).
fn pad(mut f: Vec<u8>, n: usize) -> Vec<u8> {
    f.resize(f.len() + n, 0);
    f
}

/// Inserts IPv4 options (a multiple of 4 bytes) into an untagged IPv4 frame, IHL and total
/// length adjusted.
fn with_ipv4_options(f: Vec<u8>, opts: &[u8]) -> Vec<u8> {
    assert_eq!(opts.len() % 4, 0);
    let mut out = f[..34].to_vec();
    out[14] += (opts.len() / 4) as u8;
    let total = be16(&out[16..18]) + opts.len();
    out[16..18].copy_from_slice(&(total as u16).to_be_bytes());
    out.extend_from_slice(opts);
    out.extend_from_slice(&f[34..]);
    out
}

/// IPv6 frame with extension headers `kinds` (outermost first), each `units` long.
fn with_ext_chain(f: Vec<u8>, kinds: &[u8], units: u8) -> Vec<u8> {
    kinds
        .iter()
        .rev()
        .fold(f, |f, &k| with_ext_header(f, k, units))
}

/// What a hand-written case expects from `vrrp_demux` (the socket filter's expectation
/// follows: keep where XDP delivers, same drops; tagged frames are foreign to it).
#[derive(Clone, Copy, Debug)]
enum Want {
    Pass,
    Drop(Counter),
    /// Delivered: VRRP message at `vrrp` (frame offset), `len` bytes; network header at `l3`.
    Deliver {
        l3: usize,
        vrrp: usize,
        len: usize,
    },
}

impl Want {
    /// The class this expectation implies for a frame, written without the classifier.
    fn class(self, f: &[u8]) -> Class {
        match self {
            Want::Pass => Class::Foreign,
            Want::Drop(Counter::UnknownVrid) => {
                panic!("write unknown-VRID cases as Deliver (the map decides)")
            }
            Want::Drop(c) => Class::Bad(c),
            Want::Deliver { l3, vrrp, len } => {
                let v4 = f[l3] >> 4 == 4;
                let mut src = [0; 16];
                if v4 {
                    src[..4].copy_from_slice(&f[l3 + 12..l3 + 16]);
                } else {
                    src.copy_from_slice(&f[l3 + 8..l3 + 24]);
                }
                Class::Advert(Advert {
                    family: if v4 { FAMILY_V4 } else { FAMILY_V6 },
                    ttl: 255,
                    vrid: f[vrrp + 1],
                    src,
                    vrrp: f[vrrp..vrrp + len].to_vec(),
                })
            }
        }
    }
}

/// The hand-written cases: (name, frame, ifindex, expectation). `d0` is a second device.
fn cases(d0: u32) -> Vec<(String, Vec<u8>, u32, Want)> {
    use Counter::{BadTtl, Malformed};
    use Want::{Deliver, Drop, Pass};
    let v2 = v2_frame(5); // 14 + 20 + 20
    let v3 = v3_frame_v4(5, 2); // 14 + 20 + 16
    let v6 = v3_frame_v6(5); // 14 + 40 + 24
    let big = v3_frame_v4(5, 100); // 14 + 20 + 408
    let d_v2 = Deliver {
        l3: 14,
        vrrp: 34,
        len: 20,
    };
    let d_v3 = Deliver {
        l3: 14,
        vrrp: 34,
        len: 16,
    };
    let d_v6 = |ext: usize| Deliver {
        l3: 14,
        vrrp: 54 + ext,
        len: 24,
    };
    let tagged = |l3: usize| Deliver {
        l3,
        vrrp: l3 + 20,
        len: 20,
    };
    let mut c: Vec<(String, Vec<u8>, u32, Want)> = Vec::new();
    let mut add = |name: &str, f: Vec<u8>, want: Want| c.push((name.to_string(), f, LO, want));

    // Ethernet and VLAN tags.
    add("v2 advert", v2.clone(), d_v2);
    add("v3/IPv4 advert", v3.clone(), d_v3);
    add("v3/IPv6 advert", v6.clone(), d_v6(0));
    add("Ethernet header only", cut(v2.clone(), 14), Pass);
    add("ARP", arp_frame(), Pass);
    add("unknown ethertype", set16(v2.clone(), 12, 0x88b5), Pass);
    add("802.3 length field", set16(v2.clone(), 12, 0x0040), Pass);
    add("priority tag (VID 0)", with_vlan(v2.clone(), 0), tagged(18));
    add(
        "priority tag with PCP 7, DEI",
        with_vlan(v2.clone(), 0xf000),
        tagged(18),
    );
    add(
        "802.1ad priority tag",
        with_tag(v2.clone(), 0x88a8, 0),
        tagged(18),
    );
    add(
        "VLAN 10 (another L2 domain)",
        with_vlan(v2.clone(), 10),
        Pass,
    );
    add("VLAN 4095", with_vlan(v2.clone(), 0x0fff), Pass);
    add("v3/IPv6 in VLAN 10", with_vlan(v6.clone(), 10), Pass);
    add(
        "v3/IPv6 priority-tagged",
        with_vlan(v6.clone(), 0),
        Deliver {
            l3: 18,
            vrrp: 58,
            len: 24,
        },
    );
    let qinq = |outer: u16, inner: u16| with_tag(with_vlan(v2.clone(), inner), 0x88a8, outer);
    add("802.1ad 100 + 802.1Q 10", qinq(100, 10), Pass);
    add("802.1ad 0 + 802.1Q 10", qinq(0, 10), Pass);
    add("802.1ad 100 + 802.1Q 0", qinq(100, 0), Pass);
    add("802.1ad 0 + 802.1Q 0", qinq(0, 0), tagged(22));
    add(
        "two 802.1Q priority tags",
        with_vlan(with_vlan(v2.clone(), 0), 0),
        tagged(22),
    );
    add(
        "three priority tags (beyond the limit)",
        with_vlan(with_vlan(with_vlan(v2.clone(), 0), 0), 0),
        Pass,
    );
    for (len, name, want) in [
        (16, "tag cut after the TCI", Pass),
        (17, "tag cut inside the inner ethertype", Pass),
        (18, "tag and inner ethertype only", Pass),
        (37, "priority tag, IPv4 cut at 19 bytes", Pass),
        (38, "priority tag, IPv4 header only", Drop(Malformed)),
    ] {
        add(name, cut(with_vlan(v2.clone(), 0), len), want);
    }

    // IPv4 header.
    for (len, name, want) in [
        (23, "IPv4 cut at 9 bytes", Pass),
        (24, "IPv4 cut at 10 bytes (protocol seen)", Pass),
        (33, "IPv4 cut at 19 bytes", Pass),
        (34, "IPv4 header, no VRRP", Drop(Malformed)),
    ] {
        add(name, cut(v2.clone(), len), want);
    }
    add("ethertype IPv4, version 6", set(v2.clone(), 14, 0x65), Pass);
    add("ethertype IPv4, version 5", set(v2.clone(), 14, 0x55), Pass);
    add(
        "IPv4 advert under ethertype IPv6",
        set16(v2.clone(), 12, 0x86dd),
        Pass,
    );
    add(
        "IPv6 advert under ethertype IPv4",
        set16(v6.clone(), 12, 0x0800),
        Pass,
    );
    for ihl in 0..5 {
        add(
            &format!("IHL {ihl}"),
            set(v2.clone(), 14, 0x40 | ihl),
            Drop(Malformed),
        );
    }
    add(
        "IHL 6 with a router-alert option",
        with_ipv4_options(v2.clone(), &[0x94, 0x04, 0, 0]),
        Deliver {
            l3: 14,
            vrrp: 38,
            len: 20,
        },
    );
    add(
        "IHL 15, 40 bytes of NOP options",
        with_ipv4_options(v2.clone(), &[1; 40]),
        Deliver {
            l3: 14,
            vrrp: 74,
            len: 20,
        },
    );
    add(
        "IHL 15 on a 20-byte header (VRRP beyond the frame)",
        set16(set(v2.clone(), 14, 0x4f), 16, 80),
        Drop(Malformed),
    );
    add(
        "IHL 6 lie (options absent)",
        set(v2.clone(), 14, 0x46),
        Drop(Malformed),
    );
    add(
        "total length < IHL",
        set16(v2.clone(), 16, 19),
        Drop(Malformed),
    );
    add(
        "total length 20 (no VRRP)",
        set16(v2.clone(), 16, 20),
        Drop(Malformed),
    );
    add(
        "total length 27 (7 bytes of VRRP)",
        set16(v2.clone(), 16, 27),
        Drop(Malformed),
    );
    add("total length 0", set16(v2.clone(), 16, 0), Drop(Malformed));
    add(
        "total length one more than the frame",
        set16(v2.clone(), 16, 41),
        Drop(Malformed),
    );
    add(
        "total length 65535",
        set16(v2.clone(), 16, 0xffff),
        Drop(Malformed),
    );
    add(
        "total length shorter than the v2 message",
        set16(v2.clone(), 16, 39),
        Drop(Malformed),
    );
    add(
        "Ethernet padding after the packet",
        pad(v2.clone(), 20),
        d_v2,
    );
    add(
        "total length 28 in a padded frame (v3, no address)",
        set(set16(v3.clone(), 16, 28), 37, 0),
        Deliver {
            l3: 14,
            vrrp: 34,
            len: 8,
        },
    );
    add(
        "oversized advert (408 bytes): truncated copy",
        big.clone(),
        Deliver {
            l3: 14,
            vrrp: 34,
            len: 408,
        },
    );
    add(
        "oversized advert cut by 1 byte",
        cut(big.clone(), big.len() - 1),
        Drop(Malformed),
    );
    add(
        "oversized advert cut after MAX_VRRP_LEN bytes",
        cut(big.clone(), 34 + MAX_VRRP_LEN),
        Drop(Malformed),
    );
    add("v2 cut by 1 byte", cut(v2.clone(), 53), Drop(Malformed));
    add("fragment: MF", set(v2.clone(), 20, 0x20), Drop(Malformed));
    add(
        "fragment: offset 8",
        set(v2.clone(), 21, 0x01),
        Drop(Malformed),
    );
    add(
        "fragment: last (offset 8191)",
        set16(v2.clone(), 20, 0x1fff),
        Drop(Malformed),
    );
    add("DF set", set(v2.clone(), 20, 0x40), d_v2);
    add("reserved flag set", set(v2.clone(), 20, 0x80), d_v2);
    for ttl in [0, 1, 64, 254] {
        add(
            &format!("TTL {ttl}"),
            with_ttl(v2.clone(), ttl),
            Drop(BadTtl),
        );
    }
    add(
        "TTL 254 and a fragment: malformed first",
        set(with_ttl(v2.clone(), 254), 20, 0x20),
        Drop(Malformed),
    );
    add(
        "TTL 254 and total length 20: bad TTL first",
        set16(with_ttl(v2.clone(), 254), 16, 20),
        Drop(BadTtl),
    );
    for proto in [0, 1, 6, 17, 47, 111, 113, 255] {
        add(
            &format!("IPv4 protocol {proto}"),
            set(v2.clone(), 23, proto),
            Pass,
        );
    }
    add(
        "UDP with a bad TTL",
        set(with_ttl(v2.clone(), 1), 23, 17),
        Pass,
    );

    // IPv6 header and extension headers.
    add("IPv6 cut at 39 bytes", cut(v6.clone(), 53), Pass);
    add("IPv6 cut at 6 bytes", cut(v6.clone(), 20), Pass);
    add("IPv6 header only", cut(v6.clone(), 54), Drop(Malformed));
    add("ethertype IPv6, version 4", set(v6.clone(), 14, 0x40), Pass);
    add("hop limit 254", set(v6.clone(), 21, 254), Drop(BadTtl));
    add("hop limit 0", set(v6.clone(), 21, 0), Drop(BadTtl));
    for next in [17, 58, 43, 44, 59, 50, 51] {
        add(
            &format!("IPv6 next header {next}"),
            set(v6.clone(), 20, next),
            Pass,
        );
    }
    add("hop-by-hop", with_hop_by_hop(v6.clone()), d_v6(8));
    add(
        "zero-length destination options",
        with_ext_header(v6.clone(), 60, 0),
        d_v6(8),
    );
    add(
        "hop-by-hop of 16 bytes",
        with_ext_header(v6.clone(), 0, 1),
        d_v6(16),
    );
    add(
        "hop-by-hop of 2048 bytes",
        with_ext_header(v6.clone(), 0, 255),
        d_v6(2048),
    );
    add(
        "hop-by-hop + destination options",
        with_ext_chain(v6.clone(), &[0, 60], 0),
        d_v6(16),
    );
    add(
        "four destination options (the limit)",
        with_ext_chain(v6.clone(), &[60; 4], 0),
        d_v6(32),
    );
    add(
        "five destination options (beyond the limit)",
        with_ext_chain(v6.clone(), &[60; 5], 0),
        Pass,
    );
    add(
        "hop-by-hop + routing",
        with_ext_chain(v6.clone(), &[0, 43], 0),
        Pass,
    );
    add(
        "destination options + fragment",
        with_ext_chain(v6.clone(), &[60, 44], 0),
        Pass,
    );
    add("routing header", with_ext_header(v6.clone(), 43, 0), Pass);
    add("fragment header", with_ext_header(v6.clone(), 44, 0), Pass);
    add(
        "hop-by-hop cut after its first byte",
        cut(with_hop_by_hop(v6.clone()), 55),
        Pass,
    );
    add(
        "hop-by-hop cut after its length byte",
        cut(with_hop_by_hop(v6.clone()), 56),
        Drop(Malformed),
    );
    add(
        "second header cut (chain ends with the frame)",
        cut(with_ext_chain(v6.clone(), &[0, 60], 0), 62),
        Pass,
    );
    add(
        "hop-by-hop longer than the payload length",
        set16(with_ext_header(v6.clone(), 0, 1), 18, 16),
        Drop(Malformed),
    );
    add(
        "payload length 0 (jumbo)",
        set16(v6.clone(), 18, 0),
        Drop(Malformed),
    );
    add(
        "payload length 7",
        set16(v6.clone(), 18, 7),
        Drop(Malformed),
    );
    add(
        "payload length one more than the frame",
        set16(v6.clone(), 18, 25),
        Drop(Malformed),
    );
    add(
        "payload length shorter than the v3 message",
        set16(v6.clone(), 18, 23),
        Drop(Malformed),
    );
    add("IPv6 cut by 1 byte", cut(v6.clone(), 77), Drop(Malformed));
    add(
        "hop limit 254 behind hop-by-hop",
        set(with_hop_by_hop(v6.clone()), 21, 254),
        Drop(BadTtl),
    );

    // VRRP header.
    for n in 0..8 {
        add(
            &format!("VRRP header of {n} bytes"),
            set16(cut(v2.clone(), 34 + n), 16, 20 + n as u16),
            Drop(Malformed),
        );
    }
    for version in [0, 1, 4, 15] {
        add(
            &format!("VRRP version {version}"),
            with_version(v2.clone(), version),
            Drop(Malformed),
        );
    }
    add(
        "version 3 on a v2 message",
        with_version(v2.clone(), 3),
        d_v2,
    );
    add(
        "VRRPv2 over IPv6",
        set(v6.clone(), 54, 0x21),
        Drop(Malformed),
    );
    for kind in [0, 2, 15] {
        add(
            &format!("VRRP type {kind}"),
            set(v2.clone(), 34, 0x20 | kind),
            Drop(Malformed),
        );
    }
    add("VRID 0", set(v2.clone(), 35, 0), Drop(Malformed));
    add(
        "v2 count 2 for one address",
        set(v2.clone(), 37, 2),
        Drop(Malformed),
    );
    add("v2 count 255", set(v2.clone(), 37, 255), Drop(Malformed));
    add("v2 count 0 (extra bytes)", set(v2.clone(), 37, 0), d_v2);
    add(
        "v2 without the auth trailer",
        set16(cut(v2.clone(), 46), 16, 32),
        Drop(Malformed),
    );
    add(
        "v3 count 3 for two addresses",
        set(v3.clone(), 37, 3),
        Drop(Malformed),
    );
    add("v3 count 1 for two addresses", set(v3.clone(), 37, 1), d_v3);
    add(
        "v3/IPv6 count 2 for one address",
        set(v6.clone(), 57, 2),
        Drop(Malformed),
    );
    add("v3/IPv6 count 0", set(v6.clone(), 57, 0), d_v6(0));

    // Demux: VRID and interface.
    add("unknown VRID", v2_frame(6), d_v2);
    add("VRID of an IPv4 group in IPv6", v3_frame_v6(9), d_v6(0));
    add("FLAG_PASS group", v2_frame(9), d_v2);
    add("d0's VRID on lo", v2_frame(7), d_v2);
    c.push(("d0's VRID on d0".into(), v2_frame(7), d0, d_v2));
    c.push(("lo's VRID on d0".into(), v2_frame(5), d0, d_v2));
    c.push(("lo's v6 VRID on d0".into(), v3_frame_v6(5), d0, d_v6(0)));
    c
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
