//! The frame parsers around the VRRP message: Ethernet (VLAN tags), IPv4 (options, checksum,
//! fragments), IPv6 (extension header chains), ARP and neighbour advertisements, pcap files.
//! Input: `[selector] bytes…`.
//!
//! Nothing may panic; every slice a parser returns lies inside the input; the IPv4 parser
//! agrees with the raw-socket receive path's (`net::rx::parse_ipv4_header`), the IPv6 one with
//! an independent walk of the extension headers, the Ethernet one with the test harness's
//! decoder; gratuitous ARPs and unsolicited NAs built from the input decode back to what they
//! announce (harness decoder, library IPv6 parser, ICMPv6 checksum); the library's pcap
//! reader agrees with the harness's and reads back what its writer wrote.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rvrrpd::wire::checksum::{self, PROTO_ICMPV6};
use rvrrpd::wire::ethernet::{self, ethertype};
use rvrrpd::wire::pcap::{PcapReader, PcapWriter};
use rvrrpd::wire::{arp, ip, ndisc};
use rvrrpd::wire::{parse_ethernet_frame, parse_ipv4_packet, MacAddr, VrrpRepr, WireError};
use rvrrpd_fuzz::{within, Reader};

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let selector = r.u8();
    match selector % 6 {
        0 => ethernet_frame(r.rest()),
        1 => ipv4(r.rest()),
        2 => ipv6(r.rest()),
        3 => lab_decoder(r.rest()),
        4 => announcements(&mut r),
        _ => pcap(r.rest()),
    }
});

fn ethernet_frame(frame: &[u8]) {
    let eth = ethernet::parse_header(frame);
    let parsed = parse_ethernet_frame(frame);
    if let Ok((hdr, payload)) = &eth {
        assert!(within(frame, payload));
        assert_ne!(hdr.ethertype, ethertype::VLAN);
        assert_ne!(hdr.ethertype, ethertype::QINQ);
    }
    match parsed {
        Ok(view) => {
            assert!(within(frame, view.vrrp));
            let _ = VrrpRepr::parse_bytes(view.vrrp, &view.rx_meta());
            let Ok((hdr, payload)) = eth else {
                panic!("frame parsed without an Ethernet header")
            };
            assert_eq!((hdr.src, hdr.dst), (view.src_mac, view.dst_mac));
            let inner = match hdr.ethertype {
                ethertype::IPV4 => parse_ipv4_packet(payload),
                _ => rvrrpd::wire::frame::parse_ipv6_packet(payload),
            };
            assert_eq!(inner.map(|p| p.vrrp), Ok(view.vrrp));
        }
        Err(WireError::UnsupportedEthertype(t)) => {
            assert!(eth.is_ok_and(|(h, _)| h.ethertype == t));
        }
        Err(_) => {}
    }
}

fn ipv4(packet: &[u8]) {
    let parsed = ip::parse_ipv4(packet);
    let view = parse_ipv4_packet(packet);
    let raw = rvrrpd::net::rx::parse_ipv4_header(packet);
    if let Ok((hdr, payload)) = parsed {
        assert!(within(packet, payload));
        // The raw-socket path reads the same header (it checks less: no checksum, fragments).
        let Some((hlen, total, ttl, src, dst)) = raw else {
            panic!("raw-socket parser refuses a valid IPv4 header")
        };
        assert_eq!(&packet[hlen..total], payload);
        assert_eq!(
            (IpAddr::V4(src), IpAddr::V4(dst), ttl),
            (hdr.src, hdr.dst, hdr.ttl)
        );
        match view {
            Ok(v) => assert_eq!((v.vrrp, hdr.protocol), (payload, 112)),
            Err(e) => assert_eq!(e, WireError::NotVrrp(hdr.protocol)),
        }
    } else {
        assert!(view.is_err());
    }
    if let Some((hlen, total, ..)) = raw {
        assert!(hlen >= 20 && hlen <= total && total <= packet.len());
    }
}

/// An independent walk of the IPv6 header chain: `(next header, payload start, end)`.
fn walk_ipv6(p: &[u8]) -> Option<(u8, usize, usize)> {
    if p.len() < 40 || p[0] >> 4 != 6 {
        return None;
    }
    let end = 40 + usize::from(u16::from_be_bytes([p[4], p[5]]));
    if end > p.len() {
        return None;
    }
    let (mut next, mut at) = (p[6], 40);
    while matches!(next, 0 | 43 | 60) {
        if at + 2 > end {
            return None;
        }
        let len = 8 * (usize::from(p[at + 1]) + 1);
        if at + len > end {
            return None;
        }
        next = p[at];
        at += len;
    }
    (next != 44).then_some((next, at, end))
}

fn ipv6(packet: &[u8]) {
    let parsed = ip::parse_ipv6(packet);
    let view = rvrrpd::wire::frame::parse_ipv6_packet(packet);
    match (parsed, walk_ipv6(packet)) {
        (Ok((hdr, payload)), Some((next, start, end))) => {
            assert!(within(packet, payload));
            assert_eq!((hdr.protocol, payload), (next, &packet[start..end]));
            assert_eq!(hdr.ttl, packet[7]);
            match view {
                Ok(v) => assert_eq!((v.vrrp, next), (payload, 112)),
                Err(e) => assert_eq!(e, WireError::NotVrrp(next)),
            }
        }
        (Err(_), None) => assert!(view.is_err()),
        (got, want) => panic!("IPv6 parser {got:?}, reference walk {want:?}"),
    }
}

/// Where both the library and the harness decode an advert, they read the same one.
fn lab_decoder(frame: &[u8]) {
    use rvrrpd_lab::packet::{decode_ethernet, Decoded};
    let lab = decode_ethernet(0.0, frame);
    let Ok(view) = parse_ethernet_frame(frame) else {
        return;
    };
    let Ok(parsed) = VrrpRepr::parse_bytes(view.vrrp, &view.rx_meta()) else {
        return;
    };
    if let Decoded::Advert(a) = lab {
        // The harness skips one 802.1Q tag and no IPv6 extension header: compare only what
        // it found at the same place.
        if a.advert.vrid == parsed.repr.vrid && a.src_ip == view.src_ip {
            assert_eq!((a.dst_ip, a.ttl), (view.dst_ip, view.ttl));
            assert_eq!(a.advert.priority, parsed.repr.priority);
            assert_eq!(a.advert.addrs, parsed.repr.addrs);
        }
    }
}

/// Gratuitous ARP and unsolicited NA built from the input, decoded back.
fn announcements(r: &mut Reader<'_>) {
    use rvrrpd_lab::packet::{decode_ethernet, Decoded};
    let mac = MacAddr(r.array());
    let vip4 = Ipv4Addr::from(r.array::<4>());
    let src6 = Ipv6Addr::from(r.array::<16>());
    let vip6 = Ipv6Addr::from(r.array::<16>());
    let router = r.u8() & 1 != 0;
    let short = usize::from(r.u8());

    let garp = arp::gratuitous_arp(mac, vip4);
    let (hdr, payload) = ethernet::parse_header(&garp).expect("GARP Ethernet header");
    assert_eq!(
        (hdr.ethertype, hdr.dst, hdr.src),
        (ethertype::ARP, MacAddr::BROADCAST, mac)
    );
    assert_eq!(payload.len(), 28);
    match decode_ethernet(0.0, &garp) {
        Decoded::Arp(a) => {
            assert!(a.is_gratuitous() && a.op == 1);
            assert_eq!(
                (a.sender_mac.0, a.sender_ip, a.target_ip),
                (mac.0, vip4, vip4)
            );
        }
        other => panic!("GARP decoded as {other:?}"),
    }
    let mut buf = vec![0u8; short.min(arp::GARP_LEN)];
    let e = arp::emit_gratuitous_arp(&mut buf, mac, vip4);
    assert_eq!(e.is_ok(), buf.len() >= arp::GARP_LEN);

    let na = ndisc::unsolicited_na(mac, src6, vip6, router);
    let (hdr, payload) = ethernet::parse_header(&na).expect("NA Ethernet header");
    assert_eq!(
        (hdr.ethertype, hdr.dst, hdr.src),
        (ethertype::IPV6, MacAddr::ALL_NODES_V6, mac)
    );
    let (iph, icmp) = ip::parse_ipv6(payload).expect("NA IPv6 header");
    assert_eq!((iph.protocol, iph.ttl, icmp.len()), (PROTO_ICMPV6, 255, 32));
    assert_eq!(
        (iph.src, iph.dst),
        (IpAddr::V6(src6), IpAddr::V6(ip::ALL_NODES_V6))
    );
    let sum = checksum::combine(&[
        checksum::pseudo_header_v6(&src6, &ip::ALL_NODES_V6, PROTO_ICMPV6, 32),
        checksum::data(icmp),
    ]);
    assert_eq!(sum, 0xffff, "ICMPv6 checksum");
    assert_eq!(icmp[0], ndisc::ICMPV6_NEIGHBOR_ADVERT);
    assert_eq!(icmp[4] & ndisc::FLAG_ROUTER != 0, router);
    assert!(icmp[4] & ndisc::FLAG_OVERRIDE != 0 && icmp[4] & ndisc::FLAG_SOLICITED == 0);
    assert_eq!(
        (&icmp[8..24], &icmp[26..32]),
        (&vip6.octets()[..], &mac.0[..])
    );
    match decode_ethernet(0.0, &na) {
        Decoded::Na(n) => assert_eq!((n.target, n.src_mac.0), (vip6, mac.0)),
        other => panic!("NA decoded as {other:?}"),
    }
    let mut buf = vec![0u8; short.min(ndisc::UNSOLICITED_NA_LEN)];
    let e = ndisc::emit_unsolicited_na(&mut buf, mac, src6, vip6, router);
    assert_eq!(e.is_ok(), buf.len() >= ndisc::UNSOLICITED_NA_LEN);
}

fn pcap(file: &[u8]) {
    let Ok(reader) = PcapReader::new(file) else {
        // The harness reader refuses the same files (or sees an empty, unfinished one).
        if file.len() >= 24 {
            assert!(rvrrpd_lab::pcap::parse(file).is_err());
        }
        return;
    };
    let linktype = reader.linktype();
    let mut records = Vec::new();
    let mut complete = true;
    for record in reader {
        match record {
            Ok(rec) => {
                assert!(within(file, rec.data));
                if let Ok(frame) = rec.ethernet_frame() {
                    let _ = parse_ethernet_frame(&frame);
                }
                records.push(rec);
            }
            Err(_) => complete = false,
        }
    }
    let Ok((_, lab)) = rvrrpd_lab::pcap::parse(file) else {
        panic!("harness refuses a capture the library reads")
    };
    // Both stop at a truncated record: the same records.
    let _ = complete;
    assert_eq!(lab.len(), records.len());
    for (a, b) in lab.iter().zip(&records) {
        assert_eq!(a.data, b.data);
    }
    // Written back, the records read back the same (microsecond resolution).
    let Ok(mut w) = PcapWriter::new(Vec::new(), linktype, u32::MAX) else {
        return;
    };
    for rec in &records {
        let ts = Duration::new(
            rec.timestamp.as_secs() % (1 << 32),
            rec.timestamp.subsec_micros() * 1000,
        );
        w.write_record(ts, rec.data).expect("write to memory");
    }
    let out = w.into_inner();
    let again: Vec<_> = PcapReader::new(&out).expect("own header").collect();
    assert_eq!(again.len(), records.len());
    for (a, b) in again.iter().zip(&records) {
        let a = a.as_ref().expect("own record");
        assert_eq!((a.data, a.linktype), (b.data, b.linktype));
        assert_eq!(a.timestamp.as_secs(), b.timestamp.as_secs() % (1 << 32));
    }
}
