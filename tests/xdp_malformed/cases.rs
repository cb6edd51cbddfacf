//! Frame surgery and the table of hand-written malformed cases with their expected verdicts.

use super::*;
// ---- frame surgery -------------------------------------------------------------------

pub(crate) fn set(mut f: Vec<u8>, at: usize, v: u8) -> Vec<u8> {
    f[at] = v;
    f
}

pub(crate) fn set16(mut f: Vec<u8>, at: usize, v: u16) -> Vec<u8> {
    f[at..at + 2].copy_from_slice(&v.to_be_bytes());
    f
}

pub(crate) fn cut(mut f: Vec<u8>, len: usize) -> Vec<u8> {
    f.truncate(len);
    f
}

/// Appends `n` bytes of Ethernet padding (not covered by the IP length).
pub(crate) fn pad(mut f: Vec<u8>, n: usize) -> Vec<u8> {
    f.resize(f.len() + n, 0);
    f
}

/// Inserts IPv4 options (a multiple of 4 bytes) into an untagged IPv4 frame, IHL and total
/// length adjusted.
pub(crate) fn with_ipv4_options(f: Vec<u8>, opts: &[u8]) -> Vec<u8> {
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
pub(crate) fn with_ext_chain(f: Vec<u8>, kinds: &[u8], units: u8) -> Vec<u8> {
    kinds
        .iter()
        .rev()
        .fold(f, |f, &k| with_ext_header(f, k, units))
}

/// What a hand-written case expects from `vrrp_demux` (the socket filter's expectation
/// follows: keep where XDP delivers, same drops; tagged frames are foreign to it).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Want {
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
    pub(crate) fn class(self, f: &[u8]) -> Class {
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
pub(crate) fn cases(d0: u32) -> Vec<(String, Vec<u8>, u32, Want)> {
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
