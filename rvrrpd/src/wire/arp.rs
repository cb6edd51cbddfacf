//! Gratuitous ARP (RFC 5227 §3 "ARP Announcement"): a broadcast ARP request whose sender and
//! target protocol addresses are both the virtual IPv4 address.

use core::net::Ipv4Addr;

use super::ethernet::{self, ethertype, MacAddr};
use super::WireError;

/// Length of a gratuitous ARP frame (Ethernet header + 28-byte ARP packet, unpadded).
pub const GARP_LEN: usize = ethernet::HEADER_LEN + 28;

/// ARP hardware type Ethernet.
const HTYPE_ETHERNET: u16 = 1;
/// ARP operation "request".
const OPER_REQUEST: u16 = 1;

/// Writes a gratuitous ARP for `vip` announced from `mac` into `buf`; returns [`GARP_LEN`].
pub fn emit_gratuitous_arp(
    buf: &mut [u8],
    mac: MacAddr,
    vip: Ipv4Addr,
) -> Result<usize, WireError> {
    if buf.len() < GARP_LEN {
        return Err(WireError::BufferTooSmall {
            needed: GARP_LEN,
            got: buf.len(),
        });
    }
    ethernet::emit_header(buf, MacAddr::BROADCAST, mac, ethertype::ARP)?;
    let arp = &mut buf[ethernet::HEADER_LEN..GARP_LEN];
    arp[0..2].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
    arp[2..4].copy_from_slice(&ethertype::IPV4.to_be_bytes());
    arp[4] = 6; // hardware address length
    arp[5] = 4; // protocol address length
    arp[6..8].copy_from_slice(&OPER_REQUEST.to_be_bytes());
    arp[8..14].copy_from_slice(&mac.0); // sender MAC
    arp[14..18].copy_from_slice(&vip.octets()); // sender IP
    arp[18..24].fill(0); // target MAC
    arp[24..28].copy_from_slice(&vip.octets()); // target IP
    Ok(GARP_LEN)
}

/// A gratuitous ARP frame for `vip` from `mac`.
pub fn gratuitous_arp(mac: MacAddr, vip: Ipv4Addr) -> [u8; GARP_LEN] {
    let mut frame = [0u8; GARP_LEN];
    // The array has exactly the needed length, so this cannot fail.
    let _ = emit_gratuitous_arp(&mut frame, mac, vip);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{virtual_mac, Family};

    #[test]
    fn byte_layout() {
        let frame = gratuitous_arp(
            virtual_mac(Family::Ipv4, 51),
            Ipv4Addr::new(192, 168, 1, 100),
        );
        #[rustfmt::skip]
        let want: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff,     // broadcast
            0x00, 0x00, 0x5e, 0x00, 0x01, 0x33,     // virtual MAC
            0x08, 0x06,                             // ARP
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04,     // Ethernet / IPv4, 6 / 4
            0x00, 0x01,                             // request
            0x00, 0x00, 0x5e, 0x00, 0x01, 0x33,     // sender MAC
            0xc0, 0xa8, 0x01, 0x64,                 // sender IP = VIP
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,     // target MAC
            0xc0, 0xa8, 0x01, 0x64,                 // target IP = VIP
        ];
        assert_eq!(frame, want);
    }

    #[test]
    fn short_buffer_is_an_error() {
        let mut buf = [0u8; 41];
        assert_eq!(
            emit_gratuitous_arp(&mut buf, MacAddr::BROADCAST, Ipv4Addr::LOCALHOST),
            Err(WireError::BufferTooSmall {
                needed: 42,
                got: 41
            })
        );
    }
}
