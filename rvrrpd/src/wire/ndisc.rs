//! Unsolicited neighbour advertisement (RFC 4861 §7.2.6), the IPv6 counterpart of a
//! gratuitous ARP: sent to all nodes, Override set, Solicited clear, with the target
//! link-layer address option.

use core::net::Ipv6Addr;

use super::checksum::{self, PROTO_ICMPV6};
use super::ethernet::{self, ethertype, MacAddr};
use super::ip::{self, ALL_NODES_V6};
use super::WireError;

/// ICMPv6 type of a neighbour advertisement.
pub const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
/// Neighbour advertisement flag: the sender is a router.
pub const FLAG_ROUTER: u8 = 0x80;
/// Neighbour advertisement flag: answer to a solicitation.
pub const FLAG_SOLICITED: u8 = 0x40;
/// Neighbour advertisement flag: override existing cache entries.
pub const FLAG_OVERRIDE: u8 = 0x20;
/// Option type "target link-layer address".
const OPT_TARGET_LL_ADDR: u8 = 2;
/// ICMPv6 NA (24 bytes) + target link-layer address option (8 bytes).
const ICMPV6_LEN: usize = 32;
/// Length of an unsolicited neighbour advertisement frame.
pub const UNSOLICITED_NA_LEN: usize = ethernet::HEADER_LEN + ip::IPV6_HEADER_LEN + ICMPV6_LEN;

/// Writes an unsolicited NA for `vip` into `buf`: Ethernet `mac` → 33:33:00:00:00:01, IPv6
/// `src_ip` (a link-local address or the VIP) → ff02::1, hop limit 255, flags Override (+
/// Router when `router`), target `vip`, target link-layer address `mac`. Returns
/// [`UNSOLICITED_NA_LEN`].
pub fn emit_unsolicited_na(
    buf: &mut [u8],
    mac: MacAddr,
    src_ip: Ipv6Addr,
    vip: Ipv6Addr,
    router: bool,
) -> Result<usize, WireError> {
    if buf.len() < UNSOLICITED_NA_LEN {
        return Err(WireError::BufferTooSmall {
            needed: UNSOLICITED_NA_LEN,
            got: buf.len(),
        });
    }
    let buf = &mut buf[..UNSOLICITED_NA_LEN];
    ethernet::emit_header(buf, MacAddr::ALL_NODES_V6, mac, ethertype::IPV6)?;
    let (_, rest) = buf.split_at_mut(ethernet::HEADER_LEN);
    let (ip_hdr, icmp) = rest.split_at_mut(ip::IPV6_HEADER_LEN);
    ip::emit_ipv6_header(ip_hdr, 0, &src_ip, &ALL_NODES_V6, PROTO_ICMPV6, ICMPV6_LEN)?;
    icmp[0] = ICMPV6_NEIGHBOR_ADVERT;
    icmp[1] = 0; // code
    icmp[2..4].fill(0); // checksum, filled below
    icmp[4] = FLAG_OVERRIDE | if router { FLAG_ROUTER } else { 0 };
    icmp[5..8].fill(0);
    icmp[8..24].copy_from_slice(&vip.octets());
    icmp[24] = OPT_TARGET_LL_ADDR;
    icmp[25] = 1; // length in units of 8 octets
    icmp[26..32].copy_from_slice(&mac.0);
    let sum = checksum::combine(&[
        checksum::pseudo_header_v6(&src_ip, &ALL_NODES_V6, PROTO_ICMPV6, ICMPV6_LEN as u32),
        checksum::data(icmp),
    ]);
    icmp[2..4].copy_from_slice(&checksum::finish(sum).to_be_bytes());
    Ok(UNSOLICITED_NA_LEN)
}

/// An unsolicited NA frame (see [`emit_unsolicited_na`]).
pub fn unsolicited_na(
    mac: MacAddr,
    src_ip: Ipv6Addr,
    vip: Ipv6Addr,
    router: bool,
) -> [u8; UNSOLICITED_NA_LEN] {
    let mut frame = [0u8; UNSOLICITED_NA_LEN];
    // The array has exactly the needed length, so this cannot fail.
    let _ = emit_unsolicited_na(&mut frame, mac, src_ip, vip, router);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{virtual_mac, Family};

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).expect("hex"))
            .collect()
    }

    #[test]
    fn byte_layout() {
        let mac = virtual_mac(Family::Ipv6, 7);
        let src: Ipv6Addr = "fe80::1".parse().expect("addr");
        let vip: Ipv6Addr = "2001:db8::7".parse().expect("addr");
        let frame = unsolicited_na(mac, src, vip, true);
        // Checksum 0x4a56 computed independently (Python, RFC 4443 §2.3 pseudo-header).
        let want = hex("33 33 00 00 00 01  00 00 5e 00 02 07  86 dd \
             60 00 00 00  00 20 3a ff \
             fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 01 \
             ff 02 00 00 00 00 00 00 00 00 00 00 00 00 00 01 \
             88 00 4a 56  a0 00 00 00 \
             20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 07 \
             02 01 00 00 5e 00 02 07");
        assert_eq!(frame.to_vec(), want);
    }

    #[test]
    fn router_flag_is_optional_and_checksum_verifies() {
        let mac = MacAddr([2, 0, 0, 0, 0, 1]);
        let vip: Ipv6Addr = "2001:db8::1".parse().expect("addr");
        let frame = unsolicited_na(mac, vip, vip, false);
        let icmp = &frame[54..];
        assert_eq!(icmp[4], FLAG_OVERRIDE);
        assert_eq!(&frame[22..38], &vip.octets(), "source is the VIP");
        let sum = checksum::combine(&[
            checksum::pseudo_header_v6(&vip, &ALL_NODES_V6, PROTO_ICMPV6, 32),
            checksum::data(icmp),
        ]);
        assert_eq!(sum, 0xffff);
        let mut short = [0u8; UNSOLICITED_NA_LEN - 1];
        assert!(emit_unsolicited_na(&mut short, mac, vip, vip, false).is_err());
    }
}
