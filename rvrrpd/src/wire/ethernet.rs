//! Ethernet II addresses and headers, and the VRRP virtual MAC addresses.

use core::fmt;

use super::{Family, WireError};

/// Length of an Ethernet II header (no VLAN tag).
pub const HEADER_LEN: usize = 14;

/// Ethertypes rvrrpd reads or writes.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// IEEE 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// IEEE 802.1ad service VLAN tag (QinQ).
    pub const QINQ: u16 = 0x88a8;
}

/// A 48-bit Ethernet (MAC) address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// 01:00:5e:00:00:12, the multicast MAC of 224.0.0.18.
    pub const VRRP_V4_GROUP: MacAddr = MacAddr([0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]);
    /// 33:33:00:00:00:12, the multicast MAC of ff02::12.
    pub const VRRP_V6_GROUP: MacAddr = MacAddr([0x33, 0x33, 0x00, 0x00, 0x00, 0x12]);
    /// 33:33:00:00:00:01, the multicast MAC of ff02::1 (all nodes).
    pub const ALL_NODES_V6: MacAddr = MacAddr([0x33, 0x33, 0x00, 0x00, 0x00, 0x01]);

    /// The address bytes.
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Whether the group bit is set (multicast or broadcast).
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// The destination MAC of VRRP advertisements of `family`.
    pub const fn vrrp_group(family: Family) -> MacAddr {
        match family {
            Family::Ipv4 => MacAddr::VRRP_V4_GROUP,
            Family::Ipv6 => MacAddr::VRRP_V6_GROUP,
        }
    }
}

impl From<[u8; 6]> for MacAddr {
    fn from(b: [u8; 6]) -> Self {
        MacAddr(b)
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The virtual router MAC address: 00:00:5e:00:01:{VRID} for IPv4, 00:00:5e:00:02:{VRID} for
/// IPv6 (RFC 5798 §7.3).
pub const fn virtual_mac(family: Family, vrid: u8) -> MacAddr {
    let kind = match family {
        Family::Ipv4 => 0x01,
        Family::Ipv6 => 0x02,
    };
    MacAddr([0x00, 0x00, 0x5e, 0x00, kind, vrid])
}

/// The fields of a parsed Ethernet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetHeader {
    /// Destination address.
    pub dst: MacAddr,
    /// Source address.
    pub src: MacAddr,
    /// Ethertype of the payload, after any VLAN tags.
    pub ethertype: u16,
}

/// Writes an Ethernet II header into the first [`HEADER_LEN`] bytes of `buf`.
pub fn emit_header(
    buf: &mut [u8],
    dst: MacAddr,
    src: MacAddr,
    ethertype: u16,
) -> Result<(), WireError> {
    let got = buf.len();
    let hdr = buf.get_mut(..HEADER_LEN).ok_or(WireError::BufferTooSmall {
        needed: HEADER_LEN,
        got,
    })?;
    hdr[0..6].copy_from_slice(&dst.0);
    hdr[6..12].copy_from_slice(&src.0);
    hdr[12..14].copy_from_slice(&ethertype.to_be_bytes());
    Ok(())
}

/// Parses an Ethernet II header, skipping 802.1Q / 802.1ad VLAN tags, and returns it with the
/// payload.
pub fn parse_header(frame: &[u8]) -> Result<(EthernetHeader, &[u8]), WireError> {
    let truncated = |needed| WireError::Truncated {
        what: "Ethernet header",
        needed,
        got: frame.len(),
    };
    let hdr = frame.get(..HEADER_LEN).ok_or(truncated(HEADER_LEN))?;
    let mut dst = [0; 6];
    let mut src = [0; 6];
    dst.copy_from_slice(&hdr[0..6]);
    src.copy_from_slice(&hdr[6..12]);
    let mut offset = 12;
    let mut ethertype = u16::from_be_bytes([hdr[12], hdr[13]]);
    while ethertype == ethertype::VLAN || ethertype == ethertype::QINQ {
        offset += 4;
        let t = frame.get(offset..offset + 2).ok_or(truncated(offset + 2))?;
        ethertype = u16::from_be_bytes([t[0], t[1]]);
    }
    let header = EthernetHeader {
        dst: MacAddr(dst),
        src: MacAddr(src),
        ethertype,
    };
    Ok((header, &frame[offset + 2..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_macs() {
        assert_eq!(
            virtual_mac(Family::Ipv4, 51).0,
            [0x00, 0x00, 0x5e, 0x00, 0x01, 0x33]
        );
        assert_eq!(
            virtual_mac(Family::Ipv6, 0xff).0,
            [0x00, 0x00, 0x5e, 0x00, 0x02, 0xff]
        );
        assert_eq!(
            virtual_mac(Family::Ipv4, 7).to_string(),
            "00:00:5e:00:01:07"
        );
    }

    #[test]
    fn header_round_trip() {
        let mut buf = [0u8; 20];
        emit_header(
            &mut buf,
            MacAddr::VRRP_V4_GROUP,
            virtual_mac(Family::Ipv4, 1),
            ethertype::IPV4,
        )
        .expect("emit");
        assert_eq!(
            buf[..14],
            [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x01, 0x08, 0x00]
        );
        let (hdr, payload) = parse_header(&buf).expect("parse");
        assert_eq!(hdr.dst, MacAddr::VRRP_V4_GROUP);
        assert_eq!(hdr.src, virtual_mac(Family::Ipv4, 1));
        assert_eq!(hdr.ethertype, ethertype::IPV4);
        assert_eq!(payload.len(), 6);
        assert!(emit_header(&mut buf[..13], MacAddr::BROADCAST, MacAddr::BROADCAST, 0).is_err());
    }

    #[test]
    fn vlan_tags_are_skipped() {
        let mut frame = vec![0xff; 12];
        frame.extend_from_slice(&[
            0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x86, 0xdd, 0xaa,
        ]);
        let (hdr, payload) = parse_header(&frame).expect("parse");
        assert_eq!(hdr.ethertype, ethertype::IPV6);
        assert_eq!(payload, &[0xaa]);
        assert!(matches!(
            parse_header(&frame[..17]),
            Err(WireError::Truncated { .. })
        ));
        assert!(matches!(
            parse_header(&frame[..13]),
            Err(WireError::Truncated { needed: 14, .. })
        ));
    }
}
