//! Unicast adverts: the VRRP message of a built advert frame, checksummed for one peer.
//!
//! A group in unicast mode sends the same advert to each peer; only a pseudo-header checksum
//! (VRRPv3) depends on the destination. The group's cached multicast frame (built with the
//! unicast source) is the template: its VRRP message is copied and, where the checksum
//! covers the pseudo-header, re-checksummed for the peer.

use core::net::IpAddr;

use super::ethernet;
use super::ip::{IPV4_HEADER_LEN, IPV6_HEADER_LEN};
use super::vrrp::{ChecksumKind, V3Checksum, Version, VrrpPacket};
use super::{Family, WireError};

/// Appends to `out` the VRRP message of `frame` (an advert built by
/// [`emit_advert_frame`](super::frame::emit_advert_frame) from `src`), checksummed for
/// `dst`. Returns the message's range in `out`.
pub fn push_unicast_message(
    frame: &[u8],
    version: Version,
    v3_mode: V3Checksum,
    src: IpAddr,
    dst: IpAddr,
    out: &mut Vec<u8>,
) -> Result<core::ops::Range<usize>, WireError> {
    let family = Family::of(&src);
    if Family::of(&dst) != family {
        return Err(WireError::FamilyMismatch { src, dst });
    }
    let ip_len = match family {
        Family::Ipv4 => IPV4_HEADER_LEN,
        Family::Ipv6 => IPV6_HEADER_LEN,
    };
    let message = frame
        .get(ethernet::HEADER_LEN + ip_len..)
        .ok_or(WireError::BufferTooSmall {
            needed: ethernet::HEADER_LEN + ip_len,
            got: frame.len(),
        })?;
    let start = out.len();
    out.extend_from_slice(message);
    let kind = ChecksumKind::for_emit(version, family, v3_mode);
    if kind == ChecksumKind::PseudoHeader {
        let mut packet = VrrpPacket::new_unchecked(&mut out[start..]);
        packet.set_checksum(0);
        packet.fill_checksum(src, dst, kind);
    }
    Ok(start..out.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthKey;
    use crate::wire::frame::advert_frame;
    use crate::wire::{RxMeta, VrrpRepr};

    fn check(repr: VrrpRepr, src: &str, dst: &str, mode: V3Checksum) -> Vec<u8> {
        let (src, dst): (IpAddr, IpAddr) = (src.parse().unwrap(), dst.parse().unwrap());
        let frame = advert_frame(&repr, src, mode, &AuthKey::none()).unwrap();
        let mut out = vec![0xee; 3];
        let r = push_unicast_message(&frame, repr.version, mode, src, dst, &mut out).unwrap();
        assert_eq!(r.start, 3, "appended after what was there");
        let msg = out[r].to_vec();
        // The peer verifies it as received from `src` at `dst`.
        let meta = RxMeta { src, dst, ttl: 255 };
        let parsed = VrrpRepr::parse_bytes(&msg, &meta).unwrap();
        assert_eq!(parsed.repr, repr);
        msg
    }

    #[test]
    fn v3_is_checksummed_for_the_peer() {
        let v4 = VrrpRepr::v3(7, 120, 100, vec!["10.0.0.1".parse().unwrap()]);
        let a = check(v4.clone(), "10.0.0.2", "10.0.0.3", V3Checksum::PseudoHeader);
        let b = check(v4.clone(), "10.0.0.2", "10.0.0.4", V3Checksum::PseudoHeader);
        assert_ne!(a, b, "the pseudo-header checksum depends on the peer");
        // Plain mode and VRRPv2: the same bytes for every peer.
        let a = check(v4.clone(), "10.0.0.2", "10.0.0.3", V3Checksum::Plain);
        let b = check(v4, "10.0.0.2", "10.0.0.4", V3Checksum::Plain);
        assert_eq!(a, b);
        let v6 = VrrpRepr::v3(7, 120, 100, vec!["fe80::1".parse().unwrap()]);
        check(v6, "fe80::2", "2001:db8::3", V3Checksum::PseudoHeader);
    }

    #[test]
    fn v2_and_errors() {
        let v2 = VrrpRepr::v2(
            9,
            100,
            1,
            vec!["10.0.0.1".parse().unwrap()],
            &AuthKey::none(),
        );
        check(v2, "10.0.0.2", "10.0.0.3", V3Checksum::PseudoHeader);
        let src: IpAddr = "10.0.0.2".parse().unwrap();
        let dst6: IpAddr = "fe80::2".parse().unwrap();
        let mut out = Vec::new();
        assert!(matches!(
            push_unicast_message(
                &[0; 40],
                Version::V3,
                V3Checksum::PseudoHeader,
                src,
                dst6,
                &mut out
            ),
            Err(WireError::FamilyMismatch { .. })
        ));
        assert!(matches!(
            push_unicast_message(
                &[0; 20],
                Version::V3,
                V3Checksum::PseudoHeader,
                src,
                src,
                &mut out
            ),
            Err(WireError::BufferTooSmall { .. })
        ));
    }
}
