//! Whole advertisement frames: built for AF_PACKET transmission, parsed from AF_PACKET
//! sockets, AF_INET raw sockets and captures.
//!
//! Built frames: Ethernet (dst 01:00:5e:00:00:12 / 33:33:00:00:00:12, src the virtual MAC),
//! IPv4 (TOS 0xC0, id 0, no DF, TTL 255, proto 112, dst 224.0.0.18) or IPv6 (traffic class
//! 0xC0, flow 0, next header 112, hop limit 255, dst ff02::12), then the VRRP message. Frames
//! are not padded to 60 bytes: NIC drivers pad on transmission, veth does not need it, and
//! receivers ignore padding either way.

use core::net::IpAddr;

use super::ethernet::{self, ethertype, MacAddr};
use super::ip::{self, IpHeader, VRRP_GROUP_V4, VRRP_GROUP_V6};
use super::vrrp::{RxMeta, V3Checksum, VrrpRepr};
use super::{checksum::PROTO_VRRP, Family, WireError};
use crate::auth::AuthKey;

/// A received VRRP frame: link and IP fields, and the VRRP message (IP padding removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameView<'a> {
    /// Ethernet source.
    pub src_mac: MacAddr,
    /// Ethernet destination.
    pub dst_mac: MacAddr,
    /// IP source.
    pub src_ip: IpAddr,
    /// IP destination.
    pub dst_ip: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// The VRRP message, for [`VrrpRepr::parse_bytes`] and [`AuthKey::verify`].
    pub vrrp: &'a [u8],
}

impl FrameView<'_> {
    /// The metadata [`VrrpRepr::parse_bytes`] needs.
    pub fn rx_meta(&self) -> RxMeta {
        RxMeta {
            src: self.src_ip,
            dst: self.dst_ip,
            ttl: self.ttl,
        }
    }
}

/// A received VRRP IP packet (from a raw socket): IP fields and the VRRP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPacketView<'a> {
    /// IP source.
    pub src_ip: IpAddr,
    /// IP destination.
    pub dst_ip: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// The VRRP message.
    pub vrrp: &'a [u8],
}

impl IpPacketView<'_> {
    /// The metadata [`VrrpRepr::parse_bytes`] needs.
    pub fn rx_meta(&self) -> RxMeta {
        RxMeta {
            src: self.src_ip,
            dst: self.dst_ip,
            ttl: self.ttl,
        }
    }
}

fn vrrp_view(hdr: IpHeader, payload: &[u8]) -> Result<IpPacketView<'_>, WireError> {
    if hdr.protocol != PROTO_VRRP {
        return Err(WireError::NotVrrp(hdr.protocol));
    }
    Ok(IpPacketView {
        src_ip: hdr.src,
        dst_ip: hdr.dst,
        ttl: hdr.ttl,
        vrrp: payload,
    })
}

/// Parses an IPv4 packet as an AF_INET raw socket delivers it (header + payload): options
/// skipped, header checksum verified, protocol 112 required. Only the IP layer is checked; the
/// VRRP message is validated by [`VrrpRepr::parse_bytes`].
///
/// Linux delivers the header as received. Some BSDs historically delivered `ip_len` in host
/// order without the header length; such a packet is rejected as [`WireError::BadIpLength`].
pub fn parse_ipv4_packet(packet: &[u8]) -> Result<IpPacketView<'_>, WireError> {
    let (hdr, payload) = ip::parse_ipv4(packet)?;
    vrrp_view(hdr, payload)
}

/// Parses an IPv6 packet (fixed header + extension headers + VRRP), e.g. from a capture.
pub fn parse_ipv6_packet(packet: &[u8]) -> Result<IpPacketView<'_>, WireError> {
    let (hdr, payload) = ip::parse_ipv6(packet)?;
    vrrp_view(hdr, payload)
}

/// Parses an Ethernet frame carrying VRRP over IPv4 (with options) or IPv6 (hop-by-hop,
/// routing and destination-options headers skipped); VLAN tags are skipped.
pub fn parse_ethernet_frame(frame: &[u8]) -> Result<FrameView<'_>, WireError> {
    let (eth, payload) = ethernet::parse_header(frame)?;
    let packet = match eth.ethertype {
        ethertype::IPV4 => parse_ipv4_packet(payload)?,
        ethertype::IPV6 => parse_ipv6_packet(payload)?,
        other => return Err(WireError::UnsupportedEthertype(other)),
    };
    Ok(FrameView {
        src_mac: eth.src,
        dst_mac: eth.dst,
        src_ip: packet.src_ip,
        dst_ip: packet.dst_ip,
        ttl: packet.ttl,
        vrrp: packet.vrrp,
    })
}

/// Length of the frame [`emit_advert_frame`] builds for `repr` (without padding).
pub fn advert_frame_len(repr: &VrrpRepr) -> usize {
    let ip_len = match repr.family() {
        Some(Family::Ipv6) => ip::IPV6_HEADER_LEN,
        _ => ip::IPV4_HEADER_LEN,
    };
    ethernet::HEADER_LEN + ip_len + repr.buffer_len()
}

/// The buffer [`emit_advert_frame`] needs for `repr` from `src_ip`: sized by the source's
/// family, as the frame is, so that a repr whose addresses are of the other family fails
/// with its own error rather than [`WireError::BufferTooSmall`].
pub fn advert_buffer_len(repr: &VrrpRepr, src_ip: IpAddr) -> usize {
    let ip_len = match src_ip {
        IpAddr::V4(_) => ip::IPV4_HEADER_LEN,
        IpAddr::V6(_) => ip::IPV6_HEADER_LEN,
    };
    ethernet::HEADER_LEN + ip_len + repr.buffer_len()
}

/// Builds the Ethernet frame of an advertisement from `src_ip` into `buf` and returns its
/// length. The family is `src_ip`'s; the addresses of `repr` must be of the same family.
pub fn emit_advert_frame(
    buf: &mut [u8],
    repr: &VrrpRepr,
    src_ip: IpAddr,
    v3_mode: V3Checksum,
    auth: &AuthKey,
) -> Result<usize, WireError> {
    let family = Family::of(&src_ip);
    let (ip_len, dst_ip, ethertype) = match family {
        Family::Ipv4 => (
            ip::IPV4_HEADER_LEN,
            IpAddr::V4(VRRP_GROUP_V4),
            ethertype::IPV4,
        ),
        Family::Ipv6 => (
            ip::IPV6_HEADER_LEN,
            IpAddr::V6(VRRP_GROUP_V6),
            ethertype::IPV6,
        ),
    };
    let vrrp_len = repr.buffer_len();
    let total = ethernet::HEADER_LEN + ip_len + vrrp_len;
    if buf.len() < total {
        return Err(WireError::BufferTooSmall {
            needed: total,
            got: buf.len(),
        });
    }
    let (eth, rest) = buf.split_at_mut(ethernet::HEADER_LEN);
    let (ip_hdr, vrrp) = rest.split_at_mut(ip_len);
    // VRRP first: it validates the repr (families, counts, intervals, auth) before anything
    // else is written.
    repr.emit(vrrp, src_ip, dst_ip, v3_mode, auth)?;
    ethernet::emit_header(
        eth,
        MacAddr::vrrp_group(family),
        ethernet::virtual_mac(family, repr.vrid),
        ethertype,
    )?;
    match (src_ip, dst_ip) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ip::emit_ipv4_header(ip_hdr, s, d, PROTO_VRRP, vrrp_len)?,
        (IpAddr::V6(s), IpAddr::V6(d)) => ip::emit_ipv6_header(
            ip_hdr,
            ip::TOS_INTERNETWORK_CONTROL,
            &s,
            &d,
            PROTO_VRRP,
            vrrp_len,
        )?,
        (s, d) => return Err(WireError::FamilyMismatch { src: s, dst: d }),
    }
    Ok(total)
}

/// [`emit_advert_frame`] into a new vector.
pub fn advert_frame(
    repr: &VrrpRepr,
    src_ip: IpAddr,
    v3_mode: V3Checksum,
    auth: &AuthKey,
) -> Result<Vec<u8>, WireError> {
    let mut buf = vec![0u8; advert_buffer_len(repr, src_ip)];
    let n = emit_advert_frame(&mut buf, repr, src_ip, v3_mode, auth)?;
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthType;
    use crate::wire::checksum;
    use crate::wire::vrrp::ChecksumKind;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().expect("addr"))
    }

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().expect("addr"))
    }

    #[test]
    fn ipv4_frame_every_field() {
        let key = AuthKey::new(AuthType::P0Sha256, "rvrrpd").expect("key");
        let repr = VrrpRepr::v2(51, 100, 1, vec![v4("192.168.1.100")], &key);
        let frame =
            advert_frame(&repr, v4("192.168.1.1"), V3Checksum::default(), &key).expect("frame");
        assert_eq!(frame.len(), 14 + 20 + 20);
        assert_eq!(frame.len(), advert_frame_len(&repr));
        // Ethernet.
        assert_eq!(frame[0..6], [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]);
        assert_eq!(frame[6..12], [0x00, 0x00, 0x5e, 0x00, 0x01, 51]);
        assert_eq!(frame[12..14], [0x08, 0x00]);
        // IPv4, field by field.
        let iph = &frame[14..34];
        assert_eq!(iph[0], 0x45, "version 4, IHL 5");
        assert_eq!(iph[1], 0xc0, "TOS");
        assert_eq!(u16::from_be_bytes([iph[2], iph[3]]), 40, "total length");
        assert_eq!(iph[4..6], [0, 0], "id");
        assert_eq!(iph[6..8], [0, 0], "no DF, no fragment");
        assert_eq!(iph[8], 255, "TTL");
        assert_eq!(iph[9], 112, "protocol");
        assert_eq!(iph[12..16], [192, 168, 1, 1]);
        assert_eq!(iph[16..20], [224, 0, 0, 18]);
        let mut zeroed = iph.to_vec();
        zeroed[10..12].fill(0);
        assert_eq!(
            u16::from_be_bytes([iph[10], iph[11]]),
            checksum::checksum(&zeroed)
        );
        // VRRP: the P0 vector of the codec tests.
        assert_eq!(
            frame[34..],
            [
                0x21, 0x33, 0x64, 0x01, 0xfa, 0x01, 0x72, 0x92, 0xc0, 0xa8, 0x01, 0x64, 0xb9, 0xdd,
                0x51, 0xac, 0xfe, 0x5c, 0x42, 0x43
            ]
        );

        // And back.
        let mut padded = frame.clone();
        padded.resize(60, 0);
        let view = parse_ethernet_frame(&padded).expect("parse");
        assert_eq!(view.dst_mac, MacAddr::VRRP_V4_GROUP);
        assert_eq!(view.src_mac, ethernet::virtual_mac(Family::Ipv4, 51));
        assert_eq!(
            (view.src_ip, view.dst_ip, view.ttl),
            (v4("192.168.1.1"), v4("224.0.0.18"), 255)
        );
        assert_eq!(view.vrrp, &frame[34..], "IP padding removed");
        let parsed = VrrpRepr::parse_bytes(view.vrrp, &view.rx_meta()).expect("vrrp");
        assert_eq!(parsed.repr.vrid, 51);
        assert_eq!(key.verify(view.vrrp), Ok(()));
        // The raw-socket path sees the same.
        let ipv = parse_ipv4_packet(&frame[14..]).expect("ip");
        assert_eq!(ipv.vrrp, view.vrrp);
        assert_eq!(ipv.rx_meta(), view.rx_meta());
    }

    #[test]
    fn ipv6_frame_every_field() {
        let repr = VrrpRepr::v3(7, 200, 100, vec![v6("fe80::7"), v6("2001:db8::7")]);
        let src = v6("fe80::1");
        let frame =
            advert_frame(&repr, src, V3Checksum::default(), &AuthKey::none()).expect("frame");
        assert_eq!(frame.len(), 14 + 40 + 8 + 32);
        assert_eq!(frame[0..6], [0x33, 0x33, 0x00, 0x00, 0x00, 0x12]);
        assert_eq!(frame[6..12], [0x00, 0x00, 0x5e, 0x00, 0x02, 7]);
        assert_eq!(frame[12..14], [0x86, 0xdd]);
        let iph = &frame[14..54];
        assert_eq!(
            iph[0..4],
            [0x6c, 0x00, 0x00, 0x00],
            "version 6, TC 0xC0, flow 0"
        );
        assert_eq!(u16::from_be_bytes([iph[4], iph[5]]), 40, "payload length");
        assert_eq!(iph[6], 112, "next header");
        assert_eq!(iph[7], 255, "hop limit");
        let mut fe80_1 = [0u8; 16];
        fe80_1[0] = 0xfe;
        fe80_1[1] = 0x80;
        fe80_1[15] = 1;
        assert_eq!(iph[8..24], fe80_1);
        let mut ff02_12 = [0u8; 16];
        ff02_12[0] = 0xff;
        ff02_12[1] = 0x02;
        ff02_12[15] = 0x12;
        assert_eq!(iph[24..40], ff02_12);

        let view = parse_ethernet_frame(&frame).expect("parse");
        assert_eq!(view.src_mac, ethernet::virtual_mac(Family::Ipv6, 7));
        assert_eq!(
            (view.src_ip, view.dst_ip, view.ttl),
            (src, v6("ff02::12"), 255)
        );
        let parsed = VrrpRepr::parse_bytes(view.vrrp, &view.rx_meta()).expect("vrrp");
        assert_eq!(parsed.repr, repr);
        assert_eq!(parsed.checksum, ChecksumKind::PseudoHeader);
    }

    #[test]
    fn v3_ipv4_plain_frame() {
        let repr = VrrpRepr::v3(51, 100, 100, vec![v4("192.168.1.100")]);
        let frame = advert_frame(
            &repr,
            v4("192.168.1.1"),
            V3Checksum::Plain,
            &AuthKey::none(),
        )
        .expect("frame");
        assert_eq!(
            frame[34..],
            [0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0xa8, 0x5a, 0xc0, 0xa8, 0x01, 0x64]
        );
        let view = parse_ethernet_frame(&frame).expect("parse");
        let parsed = VrrpRepr::parse_bytes(view.vrrp, &view.rx_meta()).expect("vrrp");
        assert_eq!(parsed.checksum, ChecksumKind::Plain);
    }

    #[test]
    fn frame_rejections() {
        let repr = VrrpRepr::v2(1, 100, 1, vec![v4("10.0.0.1")], &AuthKey::none());
        let frame = advert_frame(
            &repr,
            v4("10.0.0.2"),
            V3Checksum::default(),
            &AuthKey::none(),
        )
        .expect("frame");
        let mut arp = frame.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(
            parse_ethernet_frame(&arp),
            Err(WireError::UnsupportedEthertype(0x0806))
        );
        let mut udp = frame.clone();
        udp[14 + 9] = 17;
        udp[14 + 10..14 + 12].fill(0);
        let c = checksum::checksum(&udp[14..34]);
        udp[14 + 10..14 + 12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(parse_ethernet_frame(&udp), Err(WireError::NotVrrp(17)));
        let mut bad = frame.clone();
        bad[14 + 8] = 254; // TTL changed, checksum not updated
        assert!(matches!(
            parse_ethernet_frame(&bad),
            Err(WireError::Ipv4ChecksumMismatch { .. })
        ));
        assert!(matches!(
            parse_ethernet_frame(&frame[..40]),
            Err(WireError::BadIpLength { .. })
        ));
        assert!(matches!(
            parse_ethernet_frame(&frame[..10]),
            Err(WireError::Truncated { .. })
        ));
        let mut buf = [0u8; 53];
        assert_eq!(
            emit_advert_frame(
                &mut buf,
                &repr,
                v4("10.0.0.2"),
                V3Checksum::default(),
                &AuthKey::none()
            ),
            Err(WireError::BufferTooSmall {
                needed: 54,
                got: 53
            })
        );
        assert_eq!(
            advert_frame(
                &repr,
                v6("fe80::1"),
                V3Checksum::default(),
                &AuthKey::none()
            ),
            Err(WireError::V2OverIpv6)
        );
    }

    proptest::proptest! {
        #[test]
        fn frame_parsers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse_ethernet_frame(&bytes);
            let _ = parse_ipv4_packet(&bytes);
            let _ = parse_ipv6_packet(&bytes);
        }
    }
}
