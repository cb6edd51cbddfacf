//! RFC 1071 internet checksum and the IPv4 / IPv6 pseudo-header sums.
//!
//! The functions return the folded one's-complement *sum* (not yet complemented) so that
//! partial sums can be combined with [`combine`]; [`finish`] turns a sum into the value written
//! in a checksum field. A received packet verifies when the sum over it, checksum field
//! included (plus the pseudo-header where one applies), is `0xffff`.

use core::net::{Ipv4Addr, Ipv6Addr};

/// IP protocol number of VRRP (RFC 3768 / RFC 5798).
pub const PROTO_VRRP: u8 = 112;

/// IP protocol number of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;

/// Folds a 32-bit accumulator into 16 bits with end-around carry.
const fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// One's-complement sum of `data` as big-endian 16-bit words; an odd last byte is padded with
/// a zero byte (RFC 1071).
pub fn data(data: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    fold(acc)
}

/// One's-complement sum of several partial sums.
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// The value to store in a checksum field for a sum computed with the field set to zero.
pub const fn finish(sum: u16) -> u16 {
    !sum
}

/// The checksum (complemented sum) of `bytes`, as written in a checksum field.
pub fn checksum(bytes: &[u8]) -> u16 {
    finish(data(bytes))
}

/// Sum of the IPv4 pseudo-header: source, destination, zero, protocol, upper-layer length.
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u16 {
    let mut hdr = [0u8; 12];
    hdr[0..4].copy_from_slice(&src.octets());
    hdr[4..8].copy_from_slice(&dst.octets());
    hdr[9] = protocol;
    hdr[10..12].copy_from_slice(&length.to_be_bytes());
    data(&hdr)
}

/// Sum of the IPv6 pseudo-header (RFC 8200 §8.1): source, destination, 32-bit upper-layer
/// length, three zero bytes, next header.
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, length: u32) -> u16 {
    let mut hdr = [0u8; 40];
    hdr[0..16].copy_from_slice(&src.octets());
    hdr[16..32].copy_from_slice(&dst.octets());
    hdr[32..36].copy_from_slice(&length.to_be_bytes());
    hdr[39] = next_header;
    data(&hdr)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Textbook reference: add 16-bit words in a wide integer, fold once at the end.
    fn naive(bytes: &[u8]) -> u16 {
        let mut v = bytes.to_vec();
        if v.len() % 2 == 1 {
            v.push(0);
        }
        let mut s: u64 = v
            .chunks(2)
            .map(|c| u64::from(c[0]) * 256 + u64::from(c[1]))
            .sum();
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: words 0001 f203 f4f5 f6f7 sum to 0xddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(data(&bytes), 0xddf2);
        assert_eq!(checksum(&bytes), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(data(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
        assert_eq!(checksum(&[0xab]), naive(&[0xab]));
    }

    #[test]
    fn empty_and_all_ones() {
        assert_eq!(data(&[]), 0);
        assert_eq!(data(&[0xff; 64]), 0xffff);
    }

    #[test]
    fn combine_equals_concatenation() {
        let a = [0xde, 0xad, 0xbe, 0xef];
        let b = [0xff, 0xff, 0x00, 0x01, 0x80, 0x00];
        let whole: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
        assert_eq!(combine(&[data(&a), data(&b)]), data(&whole));
    }

    #[test]
    fn ipv4_header_verifies() {
        // IPv4 header of a VRRP advert from 192.168.1.1 to 224.0.0.18 (id 0, TTL 255).
        let mut hdr = [
            0x45, 0xc0, 0x00, 0x28, 0x00, 0x00, 0x00, 0x00, 0xff, 0x70, 0x00, 0x00, 192, 168, 1, 1,
            224, 0, 0, 18,
        ];
        let c = checksum(&hdr);
        assert_eq!(c, naive(&hdr));
        hdr[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(data(&hdr), 0xffff);
    }

    #[test]
    fn pseudo_headers_match_layout() {
        let src4 = Ipv4Addr::new(10, 0, 0, 1);
        let dst4 = Ipv4Addr::new(224, 0, 0, 18);
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&src4.octets());
        bytes.extend_from_slice(&dst4.octets());
        bytes.extend_from_slice(&[0, 112, 0, 12]);
        assert_eq!(pseudo_header_v4(src4, dst4, PROTO_VRRP, 12), data(&bytes));

        let src6: Ipv6Addr = "fe80::1".parse().unwrap();
        let dst6: Ipv6Addr = "ff02::12".parse().unwrap();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&src6.octets());
        bytes.extend_from_slice(&dst6.octets());
        bytes.extend_from_slice(&[0, 0, 0, 24, 0, 0, 0, 112]);
        assert_eq!(pseudo_header_v6(&src6, &dst6, PROTO_VRRP, 24), data(&bytes));
    }

    proptest::proptest! {
        #[test]
        fn matches_naive(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            proptest::prop_assert_eq!(checksum(&bytes), naive(&bytes));
        }
    }
}
