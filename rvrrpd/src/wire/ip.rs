//! IPv4 and IPv6 headers as VRRP and neighbour discovery need them: emit a fixed header, parse
//! one (IPv4 options and IPv6 extension headers skipped).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{checksum, WireError};

/// Length of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;
/// TOS / traffic class of VRRP: precedence 6, "internetwork control" (DSCP CS6).
pub const TOS_INTERNETWORK_CONTROL: u8 = 0xc0;
/// The TTL / hop limit VRRP and neighbour discovery send and require.
pub const LINK_LOCAL_TTL: u8 = 255;
/// 224.0.0.18, the VRRP IPv4 multicast group.
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// ff02::12, the VRRP IPv6 multicast group.
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// ff02::1, all IPv6 nodes.
pub const ALL_NODES_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// IPv6 extension headers skipped on parsing (RFC 8200 §4).
mod ext {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const DEST_OPTIONS: u8 = 60;
}

/// What VRRP needs from a parsed IP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpHeader {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 protocol, or the IPv6 next header after extension headers.
    pub protocol: u8,
    /// IPv4 TOS or IPv6 traffic class.
    pub tos: u8,
}

/// Writes a 20-byte IPv4 header (TOS 0xC0, id 0, no DF, TTL 255, header checksum) for a
/// payload of `payload_len` bytes.
pub fn emit_ipv4_header(
    buf: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    payload_len: usize,
) -> Result<(), WireError> {
    let total = IPV4_HEADER_LEN + payload_len;
    let total = u16::try_from(total).map_err(|_| WireError::BadIpLength {
        field: total,
        got: total,
    })?;
    let got = buf.len();
    let hdr = buf
        .get_mut(..IPV4_HEADER_LEN)
        .ok_or(WireError::BufferTooSmall {
            needed: IPV4_HEADER_LEN,
            got,
        })?;
    hdr[0] = 0x45;
    hdr[1] = TOS_INTERNETWORK_CONTROL;
    hdr[2..4].copy_from_slice(&total.to_be_bytes());
    hdr[4..8].fill(0); // identification 0, flags 0, fragment offset 0
    hdr[8] = LINK_LOCAL_TTL;
    hdr[9] = protocol;
    hdr[10..12].fill(0);
    hdr[12..16].copy_from_slice(&src.octets());
    hdr[16..20].copy_from_slice(&dst.octets());
    let c = checksum::checksum(hdr);
    hdr[10..12].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// Writes a 40-byte IPv6 header (flow label 0, hop limit 255). VRRP uses traffic class
/// [`TOS_INTERNETWORK_CONTROL`], neighbour discovery 0.
pub fn emit_ipv6_header(
    buf: &mut [u8],
    traffic_class: u8,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    next_header: u8,
    payload_len: usize,
) -> Result<(), WireError> {
    let len = u16::try_from(payload_len).map_err(|_| WireError::BadIpLength {
        field: payload_len,
        got: payload_len,
    })?;
    let got = buf.len();
    let hdr = buf
        .get_mut(..IPV6_HEADER_LEN)
        .ok_or(WireError::BufferTooSmall {
            needed: IPV6_HEADER_LEN,
            got,
        })?;
    let tc = u32::from(traffic_class);
    hdr[0..4].copy_from_slice(&((6u32 << 28) | (tc << 20)).to_be_bytes());
    hdr[4..6].copy_from_slice(&len.to_be_bytes());
    hdr[6] = next_header;
    hdr[7] = LINK_LOCAL_TTL;
    hdr[8..24].copy_from_slice(&src.octets());
    hdr[24..40].copy_from_slice(&dst.octets());
    Ok(())
}

/// Parses an IPv4 header (options skipped, header checksum verified, fragments rejected) and
/// returns it with the payload, trimmed to the total length (trailing padding dropped).
pub fn parse_ipv4(packet: &[u8]) -> Result<(IpHeader, &[u8]), WireError> {
    let got = packet.len();
    if got < IPV4_HEADER_LEN {
        return Err(WireError::Truncated {
            what: "IPv4 header",
            needed: IPV4_HEADER_LEN,
            got,
        });
    }
    let version = packet[0] >> 4;
    if version != 4 {
        return Err(WireError::BadIpVersion {
            got: version,
            expected: 4,
        });
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    if ihl < IPV4_HEADER_LEN || ihl > got {
        return Err(WireError::BadIpv4HeaderLength(ihl));
    }
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    if total < ihl || total > got {
        return Err(WireError::BadIpLength { field: total, got });
    }
    let header = &packet[..ihl];
    if checksum::data(header) != 0xffff {
        let mut zeroed = [0u8; 60];
        zeroed[..ihl].copy_from_slice(header);
        zeroed[10..12].fill(0);
        return Err(WireError::Ipv4ChecksumMismatch {
            got: u16::from_be_bytes([packet[10], packet[11]]),
            expected: checksum::checksum(&zeroed[..ihl]),
        });
    }
    let flags_frag = u16::from_be_bytes([packet[6], packet[7]]);
    let (more, offset) = (flags_frag & 0x2000 != 0, flags_frag & 0x1fff);
    if more || offset != 0 {
        return Err(WireError::Fragmented { offset, more });
    }
    let addr = |at: usize| {
        IpAddr::V4(Ipv4Addr::new(
            packet[at],
            packet[at + 1],
            packet[at + 2],
            packet[at + 3],
        ))
    };
    let hdr = IpHeader {
        src: addr(12),
        dst: addr(16),
        ttl: packet[8],
        protocol: packet[9],
        tos: packet[1],
    };
    Ok((hdr, &packet[ihl..total]))
}

/// Parses an IPv6 header, skips hop-by-hop, routing and destination-options extension headers
/// (fragments are rejected), and returns it with the upper-layer payload, trimmed to the
/// payload length (trailing padding dropped).
pub fn parse_ipv6(packet: &[u8]) -> Result<(IpHeader, &[u8]), WireError> {
    let got = packet.len();
    if got < IPV6_HEADER_LEN {
        return Err(WireError::Truncated {
            what: "IPv6 header",
            needed: IPV6_HEADER_LEN,
            got,
        });
    }
    let version = packet[0] >> 4;
    if version != 6 {
        return Err(WireError::BadIpVersion {
            got: version,
            expected: 6,
        });
    }
    let payload_len = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
    let end = IPV6_HEADER_LEN + payload_len;
    if end > got {
        return Err(WireError::BadIpLength { field: end, got });
    }
    let tos = (packet[0] << 4) | (packet[1] >> 4);
    let mut next = packet[6];
    let mut offset = IPV6_HEADER_LEN;
    loop {
        match next {
            ext::HOP_BY_HOP | ext::ROUTING | ext::DEST_OPTIONS => {
                let hdr = packet
                    .get(offset..offset + 2)
                    .filter(|_| offset + 2 <= end)
                    .ok_or(WireError::Truncated {
                        what: "IPv6 extension header",
                        needed: offset + 2,
                        got: end,
                    })?;
                let len = (usize::from(hdr[1]) + 1) * 8;
                if offset + len > end {
                    return Err(WireError::Truncated {
                        what: "IPv6 extension header",
                        needed: offset + len,
                        got: end,
                    });
                }
                next = hdr[0];
                offset += len;
            }
            ext::FRAGMENT => {
                let frag = packet.get(offset + 2..offset + 4).unwrap_or(&[0, 0]);
                let v = u16::from_be_bytes([frag[0], frag[1]]);
                return Err(WireError::Fragmented {
                    offset: v >> 3,
                    more: v & 1 != 0,
                });
            }
            _ => break,
        }
    }
    let addr = |at: usize| {
        let mut b = [0u8; 16];
        b.copy_from_slice(&packet[at..at + 16]);
        IpAddr::V6(Ipv6Addr::from(b))
    };
    let hdr = IpHeader {
        src: addr(8),
        dst: addr(24),
        ttl: packet[7],
        protocol: next,
        tos,
    };
    Ok((hdr, &packet[offset..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_layout() {
        let mut buf = [0u8; 20];
        emit_ipv4_header(
            &mut buf,
            Ipv4Addr::new(192, 168, 1, 1),
            VRRP_GROUP_V4,
            112,
            20,
        )
        .expect("emit");
        let want = [
            0x45, 0xc0, 0x00, 0x28, 0x00, 0x00, 0x00, 0x00, 0xff, 0x70, 0x18, 0xea, 0xc0, 0xa8,
            0x01, 0x01, 0xe0, 0x00, 0x00, 0x12,
        ];
        assert_eq!(buf, want);
        let sum: u32 = buf
            .chunks(2)
            .map(|w| u32::from(w[0]) << 8 | u32::from(w[1]))
            .sum();
        assert_eq!((sum & 0xffff) + (sum >> 16), 0xffff);
        assert_eq!(u16::from_be_bytes([buf[10], buf[11]]), 0x18ea); // computed independently (Python)
    }

    #[test]
    fn ipv4_parse_with_options_and_padding() {
        let mut pkt = vec![0u8; 24 + 4 + 6];
        pkt[0] = 0x46; // IHL 6: one option word (router alert)
        pkt[2..4].copy_from_slice(&28u16.to_be_bytes());
        pkt[8] = 255;
        pkt[9] = 112;
        pkt[12..16].copy_from_slice(&[10, 0, 0, 1]);
        pkt[16..20].copy_from_slice(&[224, 0, 0, 18]);
        pkt[20..24].copy_from_slice(&[0x94, 0x04, 0x00, 0x00]);
        pkt[24..28].copy_from_slice(&[1, 2, 3, 4]);
        let c = checksum::checksum(&pkt[..24]);
        pkt[10..12].copy_from_slice(&c.to_be_bytes());
        let (hdr, payload) = parse_ipv4(&pkt).expect("parse");
        assert_eq!(payload, &[1, 2, 3, 4]);
        assert_eq!((hdr.ttl, hdr.protocol), (255, 112));
        assert_eq!(hdr.src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));

        let mut bad = pkt.clone();
        bad[11] ^= 0xff;
        assert_eq!(
            parse_ipv4(&bad),
            Err(WireError::Ipv4ChecksumMismatch {
                got: c ^ 0x00ff,
                expected: c
            })
        );
        let mut frag = pkt.clone();
        frag[6] = 0x20; // MF
        let c = checksum::checksum(&{
            let mut h = frag[..24].to_vec();
            h[10..12].fill(0);
            h
        });
        frag[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(
            parse_ipv4(&frag),
            Err(WireError::Fragmented {
                offset: 0,
                more: true
            })
        );
        assert_eq!(
            parse_ipv4(&pkt[..27]),
            Err(WireError::BadIpLength { field: 28, got: 27 })
        );
        let mut v6 = pkt.clone();
        v6[0] = 0x65;
        assert_eq!(
            parse_ipv4(&v6),
            Err(WireError::BadIpVersion {
                got: 6,
                expected: 4
            })
        );
        let mut short = pkt.clone();
        short[0] = 0x44;
        assert_eq!(parse_ipv4(&short), Err(WireError::BadIpv4HeaderLength(16)));
    }

    #[test]
    fn ipv6_header_layout_and_extensions() {
        let src: Ipv6Addr = "fe80::1".parse().expect("addr");
        let mut pkt = vec![0u8; 40 + 8 + 8 + 4];
        emit_ipv6_header(
            &mut pkt,
            TOS_INTERNETWORK_CONTROL,
            &src,
            &VRRP_GROUP_V6,
            ext::HOP_BY_HOP,
            20,
        )
        .expect("emit");
        assert_eq!(pkt[..8], [0x6c, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0xff]);
        pkt[40] = ext::DEST_OPTIONS; // hop-by-hop → dest options
        pkt[48] = 112; // dest options → VRRP
        pkt[56..60].copy_from_slice(&[9, 9, 9, 9]);
        let (hdr, payload) = parse_ipv6(&pkt).expect("parse");
        assert_eq!(payload, &[9, 9, 9, 9]);
        assert_eq!((hdr.ttl, hdr.protocol, hdr.tos), (255, 112, 0xc0));
        assert_eq!(hdr.src, IpAddr::V6(src));
        assert_eq!(hdr.dst, IpAddr::V6(VRRP_GROUP_V6));

        let mut frag = pkt.clone();
        frag[48] = ext::FRAGMENT;
        frag[56..60].copy_from_slice(&[0, 0, 0, 1]);
        assert!(matches!(
            parse_ipv6(&frag),
            Err(WireError::Fragmented { .. })
        ));
        let mut long_ext = pkt.clone();
        long_ext[49] = 4; // 40 bytes, beyond the payload
        assert!(matches!(
            parse_ipv6(&long_ext),
            Err(WireError::Truncated { .. })
        ));
        assert!(matches!(
            parse_ipv6(&pkt[..59]),
            Err(WireError::BadIpLength { .. })
        ));
    }
}
