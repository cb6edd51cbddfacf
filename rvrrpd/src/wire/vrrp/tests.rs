//! Byte vectors, rejection paths and properties of the VRRP codec.
//!
//! The expected bytes were written from the RFC layouts; checksums and digests were computed
//! independently (Python `hashlib`/`hmac` and the naive checksum below), not by this crate.

use super::*;
use crate::auth::AuthType;
use proptest::prelude::*;

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse().expect("test address"))
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse().expect("test address"))
}

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("test hex"))
        .collect()
}

/// Naive RFC 1071 reference: add words in a u64, fold at the end, complement.
fn naive_checksum(bytes: &[u8]) -> u16 {
    let mut s: u64 = 0;
    for (i, b) in bytes.iter().enumerate() {
        s += u64::from(*b) << if i % 2 == 0 { 8 } else { 0 };
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

const SRC4: &str = "192.168.1.1";
const GROUP4: &str = "224.0.0.18";

fn meta4() -> RxMeta {
    RxMeta {
        src: v4(SRC4),
        dst: v4(GROUP4),
        ttl: 255,
    }
}

fn meta6() -> RxMeta {
    RxMeta {
        src: v6("fe80::1"),
        dst: v6("ff02::12"),
        ttl: 255,
    }
}

fn emit(repr: &VrrpRepr, meta: &RxMeta, mode: V3Checksum, auth: &AuthKey) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len()];
    let n = repr
        .emit(&mut buf, meta.src, meta.dst, mode, auth)
        .expect("emit");
    assert_eq!(n, buf.len());
    buf
}

/// keepalived: VRRPv2, VRID 51, priority 100, interval 1 s, VIP 192.168.1.100, no auth.
const KEEPALIVED_V2: &str = "21 33 64 01 00 01 b8 bd c0 a8 01 64 00 00 00 00 00 00 00 00";

#[test]
fn keepalived_v2_vector_emits_byte_exact() {
    let repr = VrrpRepr::v2(51, 100, 1, vec![v4("192.168.1.100")], &AuthKey::none());
    let bytes = emit(&repr, &meta4(), V3Checksum::default(), &AuthKey::none());
    assert_eq!(bytes, hex(KEEPALIVED_V2));
    // The checksum is the naive one over the message with a zero checksum field.
    let mut zeroed = bytes.clone();
    zeroed[6..8].fill(0);
    assert_eq!(naive_checksum(&zeroed), 0xb8bd);
}

#[test]
fn keepalived_v2_vector_parses() {
    let parsed = VrrpRepr::parse_bytes(&hex(KEEPALIVED_V2), &meta4()).expect("parse");
    assert_eq!(parsed.checksum, ChecksumKind::Plain);
    assert_eq!(
        parsed.repr,
        VrrpRepr {
            version: Version::V2,
            vrid: 51,
            priority: 100,
            max_advert_int: 1,
            auth_type: 0,
            addrs: vec![v4("192.168.1.100")],
            auth_data: [0; 8],
        }
    );
}

/// The same advert with checksum 0xba52 (as once quoted in a brief) is corrupt: the RFC 1071
/// checksum of those bytes is 0xb8bd.
#[test]
fn keepalived_v2_vector_with_wrong_checksum_is_rejected() {
    let bytes = hex("21 33 64 01 00 01 ba 52 c0 a8 01 64 00 00 00 00 00 00 00 00");
    assert_eq!(
        VrrpRepr::parse_bytes(&bytes, &meta4()),
        Err(WireError::ChecksumMismatch {
            got: 0xba52,
            expected: 0xb8bd
        })
    );
}

#[test]
fn ethernet_padding_is_ignored() {
    let mut bytes = hex(KEEPALIVED_V2);
    bytes.extend_from_slice(&[0; 26]); // 46-byte minimum Ethernet payload
    assert!(VrrpRepr::parse_bytes(&bytes, &meta4()).is_ok());
    let mut bytes = hex("31 33 64 01 00 64 06 22 c0 a8 01 64");
    bytes.extend_from_slice(&[0; 14]);
    assert!(VrrpRepr::parse_bytes(&bytes, &meta4()).is_ok());
}

struct AuthVector {
    key: AuthKey,
    vrid: u8,
    priority: u8,
    interval: u8,
    addrs: Vec<IpAddr>,
    bytes: &'static str,
}

fn auth_vectors() -> Vec<AuthVector> {
    let key = |t, s: &str| AuthKey::new(t, s).expect("key");
    vec![
        AuthVector {
            key: key(AuthType::Simple, "secret"),
            vrid: 1,
            priority: 100,
            interval: 1,
            addrs: vec![v4("10.0.0.1")],
            bytes: "21 01 64 01 01 01 33 af 0a 00 00 01 73 65 63 72 65 74 00 00",
        },
        AuthVector {
            key: key(AuthType::P0Sha256, "rvrrpd"),
            vrid: 51,
            priority: 100,
            interval: 1,
            addrs: vec![v4("192.168.1.100")],
            bytes: "21 33 64 01 fa 01 72 92 c0 a8 01 64 b9 dd 51 ac fe 5c 42 43",
        },
        AuthVector {
            key: key(AuthType::P1Shake256, "rvrrpd"),
            vrid: 51,
            priority: 100,
            interval: 1,
            addrs: vec![v4("192.168.1.100")],
            bytes: "21 33 64 01 fb 01 91 98 c0 a8 01 64 1e 3f 5c de 18 a0 98 66",
        },
        AuthVector {
            key: key(AuthType::P1Shake256, "a longer secret of 32 bytes!!!!!"),
            vrid: 7,
            priority: 200,
            interval: 3,
            addrs: vec![v4("10.1.1.1"), v4("10.1.1.2")],
            bytes: "21 07 c8 02 fb 03 0d 99 0a 01 01 01 0a 01 01 02 3d f3 1f 65 59 b2 41 49",
        },
    ]
}

#[test]
fn v2_auth_vectors_emit_parse_and_verify() {
    for v in auth_vectors() {
        let repr = VrrpRepr::v2(v.vrid, v.priority, v.interval, v.addrs.clone(), &v.key);
        let bytes = emit(&repr, &meta4(), V3Checksum::default(), &v.key);
        assert_eq!(bytes, hex(v.bytes), "{:?}", v.key);
        let parsed = VrrpRepr::parse_bytes(&bytes, &meta4()).expect("parse");
        assert_eq!(parsed.repr.auth_type, v.key.kind().number());
        assert_eq!(parsed.repr.auth_data[..], bytes[bytes.len() - 8..]);
        assert_eq!(parsed.repr.addrs, v.addrs);
        assert_eq!(v.key.verify(&bytes), Ok(()));
    }
}

#[test]
fn v3_ipv4_both_checksum_modes() {
    let repr = VrrpRepr::v3(51, 100, 100, vec![v4("192.168.1.100")]);
    let auth = AuthKey::none();
    let pseudo = emit(&repr, &meta4(), V3Checksum::PseudoHeader, &auth);
    assert_eq!(pseudo, hex("31 33 64 01 00 64 06 22 c0 a8 01 64"));
    let plain = emit(&repr, &meta4(), V3Checksum::Plain, &auth);
    assert_eq!(plain, hex("31 33 64 01 00 64 a8 5a c0 a8 01 64"));

    // Independent check of the pseudo-header form.
    let mut ph = vec![192, 168, 1, 1, 224, 0, 0, 18, 0, 112, 0, 12];
    let mut zeroed = pseudo.clone();
    zeroed[6..8].fill(0);
    ph.extend_from_slice(&zeroed);
    assert_eq!(naive_checksum(&ph), 0x0622);
    assert_eq!(naive_checksum(&zeroed), 0xa85a);

    let p = VrrpRepr::parse_bytes(&pseudo, &meta4()).expect("pseudo");
    assert_eq!(
        (p.repr.clone(), p.checksum),
        (repr.clone(), ChecksumKind::PseudoHeader)
    );
    let p = VrrpRepr::parse_bytes(&plain, &meta4()).expect("plain");
    assert_eq!((p.repr, p.checksum), (repr, ChecksumKind::Plain));
}

#[test]
fn v3_ipv6_vector() {
    let repr = VrrpRepr::v3(51, 100, 100, vec![v6("fe80::100"), v6("2001:db8::100")]);
    let bytes = emit(&repr, &meta6(), V3Checksum::Plain, &AuthKey::none()); // IPv6 ignores Plain
    assert_eq!(
        bytes,
        hex("31 33 64 02 00 64 3d fd \
             fe 80 00 00 00 00 00 00 00 00 00 00 00 00 01 00 \
             20 01 0d b8 00 00 00 00 00 00 00 00 00 00 01 00")
    );
    let p = VrrpRepr::parse_bytes(&bytes, &meta6()).expect("parse");
    assert_eq!((p.repr, p.checksum), (repr, ChecksumKind::PseudoHeader));
    // The pseudo-header binds the source: the same bytes from another address do not verify.
    let other = RxMeta {
        src: v6("fe80::2"),
        ..meta6()
    };
    assert!(matches!(
        VrrpRepr::parse_bytes(&bytes, &other),
        Err(WireError::ChecksumMismatch { got: 0x3dfd, .. })
    ));
}

#[test]
fn v3_interval_uses_12_bits_and_ignores_reserved() {
    let repr = VrrpRepr::v3(1, 255, 4095, vec![v4("10.0.0.1")]);
    let mut bytes = emit(&repr, &meta4(), V3Checksum::Plain, &AuthKey::none());
    assert_eq!(&bytes[4..6], &[0x0f, 0xff]);
    // Reserved bits set by a sloppy peer: ignored (RFC 5798 §5.2.5), checksum fixed up.
    bytes[4] |= 0xf0;
    let mut packet = VrrpPacket::new_checked(&mut bytes[..]).expect("view");
    packet.fill_checksum(meta4().src, meta4().dst, ChecksumKind::Plain);
    let p = VrrpRepr::parse_bytes(&bytes, &meta4()).expect("parse");
    assert_eq!(p.repr.max_advert_int, 4095);
}

#[test]
fn view_accessors() {
    let bytes = hex(auth_vectors()[3].bytes);
    let p = VrrpPacket::new_checked(&bytes[..]).expect("view");
    assert_eq!(p.version(), Ok(Version::V2));
    assert_eq!(p.msg_type(), 1);
    assert_eq!(p.vrid(), 7);
    assert_eq!(p.priority(), 200);
    assert_eq!(p.count(), 2);
    assert_eq!(p.auth_type(), 251);
    assert_eq!(p.advert_int_v2(), 3);
    assert_eq!(p.checksum(), 0x0d99);
    assert_eq!(
        p.addresses(Family::Ipv4).collect::<Vec<_>>(),
        vec![v4("10.1.1.1"), v4("10.1.1.2")]
    );
    assert_eq!(
        p.auth_data(),
        Some([0x3d, 0xf3, 0x1f, 0x65, 0x59, 0xb2, 0x41, 0x49])
    );
    assert_eq!(p.message_len(Family::Ipv4), 24);
    let (src, dst) = (meta4().src, meta4().dst);
    assert!(p.verify_checksum(src, dst, ChecksumKind::Plain));
    assert!(!p.verify_checksum(src, dst, ChecksumKind::PseudoHeader));
}

#[test]
fn zero_checksum_encodings_both_verify() {
    // Make the checksum 0x0000 by adjusting an address word, then also try 0xffff.
    let mut bytes = hex(KEEPALIVED_V2);
    let (src, dst, plain) = (meta4().src, meta4().dst, ChecksumKind::Plain);
    let mut packet = VrrpPacket::new_checked(&mut bytes[..]).expect("view");
    packet.set_checksum(0);
    let c = packet.compute_checksum(src, dst, plain);
    // Adding c to the second address word (which is 0x0164) makes the sum 0xffff.
    let word = 0x0164u32 + u32::from(c);
    let word = ((word & 0xffff) + (word >> 16)) as u16;
    packet.address_bytes_mut(Family::Ipv4)[2..4].copy_from_slice(&word.to_be_bytes());
    assert_eq!(packet.compute_checksum(src, dst, plain), 0);
    assert!(packet.verify_checksum(src, dst, plain));
    packet.set_checksum(0xffff);
    assert!(packet.verify_checksum(src, dst, plain));
}

// ---- rejection paths ----

fn reject(bytes: &[u8], meta: &RxMeta) -> WireError {
    VrrpRepr::parse_bytes(bytes, meta).expect_err("must be rejected")
}

/// Rewrites a field of a valid message and fixes the checksum (plain).
fn patched(base: &str, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut bytes = hex(base);
    f(&mut bytes);
    bytes[6..8].fill(0);
    let c = naive_checksum(&bytes);
    bytes[6..8].copy_from_slice(&c.to_be_bytes());
    bytes
}

#[test]
fn rejects_ttl_254() {
    let meta = RxMeta {
        ttl: 254,
        ..meta4()
    };
    assert_eq!(reject(&hex(KEEPALIVED_V2), &meta), WireError::BadTtl(254));
    let meta = RxMeta { ttl: 1, ..meta6() };
    assert_eq!(
        reject(&hex("31 33 64 01 00 64 06 22 c0 a8 01 64"), &meta),
        WireError::BadTtl(1)
    );
}

#[test]
fn rejects_bad_version() {
    for v in [0x11, 0x41, 0xf1] {
        let bytes = patched(KEEPALIVED_V2, |b| b[0] = v);
        assert_eq!(reject(&bytes, &meta4()), WireError::BadVersion(v >> 4));
    }
}

#[test]
fn rejects_v2_over_ipv6() {
    let mut bytes = hex(KEEPALIVED_V2);
    bytes.resize(8 + 16 + 8, 0);
    assert_eq!(reject(&bytes, &meta6()), WireError::V2OverIpv6);
}

#[test]
fn rejects_bad_type() {
    let bytes = patched(KEEPALIVED_V2, |b| b[0] = 0x22);
    assert_eq!(reject(&bytes, &meta4()), WireError::BadType(2));
}

#[test]
fn rejects_truncated() {
    let bytes = hex(KEEPALIVED_V2);
    assert_eq!(
        reject(&bytes[..19], &meta4()),
        WireError::Truncated {
            what: "VRRP message",
            needed: 20,
            got: 19
        }
    );
    assert_eq!(
        reject(&bytes[..7], &meta4()),
        WireError::Truncated {
            what: "VRRP header",
            needed: 8,
            got: 7
        }
    );
    assert_eq!(
        reject(&[], &meta4()),
        WireError::Truncated {
            what: "VRRP header",
            needed: 8,
            got: 0
        }
    );
    // count says 2 addresses, only one present (plus auth data).
    let bytes = patched(KEEPALIVED_V2, |b| b[3] = 2);
    assert_eq!(
        reject(&bytes, &meta4()),
        WireError::Truncated {
            what: "VRRP message",
            needed: 24,
            got: 20
        }
    );
    // VRRPv3 over IPv6 needs 16 bytes per address.
    let v3 = hex("31 33 64 01 00 64 06 22 c0 a8 01 64");
    assert_eq!(
        reject(&v3, &meta6()),
        WireError::Truncated {
            what: "VRRP message",
            needed: 24,
            got: 12
        }
    );
}

#[test]
fn rejects_count_zero() {
    let bytes = patched("21 33 64 00 00 01 00 00 00 00 00 00 00 00 00 00", |_| ());
    assert_eq!(reject(&bytes, &meta4()), WireError::ZeroCount);
}

#[test]
fn rejects_checksum_mismatch() {
    let mut bytes = hex(KEEPALIVED_V2);
    bytes[2] = 101; // priority changed in flight
    assert_eq!(
        reject(&bytes, &meta4()),
        WireError::ChecksumMismatch {
            got: 0xb8bd,
            expected: 0xb7bd
        }
    );
    let mut v3 = hex("31 33 64 01 00 64 06 22 c0 a8 01 64");
    v3[7] ^= 1;
    assert_eq!(
        reject(&v3, &meta4()),
        WireError::ChecksumMismatchV3Ipv4 {
            got: 0x0623,
            pseudo_header: 0x0622,
            plain: 0xa85a
        }
    );
}

#[test]
fn rejects_family_mismatch() {
    let meta = RxMeta {
        src: v4(SRC4),
        dst: v6("ff02::12"),
        ttl: 255,
    };
    assert_eq!(
        reject(&hex(KEEPALIVED_V2), &meta),
        WireError::FamilyMismatch {
            src: meta.src,
            dst: meta.dst
        }
    );
    let meta = RxMeta {
        src: v6("fe80::1"),
        dst: v4(GROUP4),
        ttl: 255,
    };
    assert!(matches!(
        reject(&hex(KEEPALIVED_V2), &meta),
        WireError::FamilyMismatch { .. }
    ));
}

#[test]
fn rejects_zero_interval() {
    let bytes = patched(KEEPALIVED_V2, |b| b[5] = 0);
    assert_eq!(
        reject(&bytes, &meta4()),
        WireError::BadInterval {
            version: 2,
            interval: 0,
            max: 255
        }
    );
    let bytes = patched("31 33 64 01 f0 00 00 00 c0 a8 01 64", |_| ());
    assert_eq!(
        reject(&bytes, &meta4()),
        WireError::BadInterval {
            version: 3,
            interval: 0,
            max: 4095
        }
    );
}

#[test]
fn auth_rejections_on_parsed_packets() {
    let vectors = auth_vectors();
    let simple = hex(vectors[0].bytes);
    let p0 = hex(vectors[1].bytes);
    // Wrong auth type.
    assert_eq!(
        vectors[1].key.verify(&simple),
        Err(crate::auth::AuthError::TypeMismatch {
            got: 1,
            expected: 250
        })
    );
    // Wrong password.
    let other = AuthKey::new(AuthType::Simple, "secreT").expect("key");
    assert_eq!(
        other.verify(&simple),
        Err(crate::auth::AuthError::BadPassword)
    );
    // Tampered digest (with a fixed-up checksum, so only authentication can catch it).
    let tampered = {
        let mut b = p0.clone();
        b[19] ^= 0x80;
        b[6..8].fill(0);
        let c = naive_checksum(&b);
        b[6..8].copy_from_slice(&c.to_be_bytes());
        b
    };
    assert!(VrrpRepr::parse_bytes(&tampered, &meta4()).is_ok());
    assert_eq!(
        vectors[1].key.verify(&tampered),
        Err(crate::auth::AuthError::BadDigest("p0-t8-sha256"))
    );
}

// ---- emit-side validation ----

#[test]
fn emit_rejects_invalid_reprs() {
    let none = AuthKey::none();
    let simple = AuthKey::new(AuthType::Simple, "pw").expect("key");
    let mut buf = [0u8; 64];
    let (s4, d4, s6, d6) = (v4(SRC4), v4(GROUP4), v6("fe80::1"), v6("ff02::12"));
    let mode = V3Checksum::default();
    let ok = VrrpRepr::v2(1, 100, 1, vec![v4("10.0.0.1")], &none);

    let err =
        |r: &VrrpRepr, s, d, k: &AuthKey, buf: &mut [u8]| r.emit(buf, s, d, mode, k).unwrap_err();
    assert_eq!(
        err(&ok, s4, d6, &none, &mut buf),
        WireError::FamilyMismatch { src: s4, dst: d6 }
    );
    assert_eq!(err(&ok, s6, d6, &none, &mut buf), WireError::V2OverIpv6);
    assert_eq!(
        err(&ok, s4, d4, &simple, &mut buf),
        WireError::AuthTypeMismatch { repr: 0, key: 1 }
    );
    assert_eq!(
        err(&ok, s4, d4, &none, &mut buf[..19]),
        WireError::BufferTooSmall {
            needed: 20,
            got: 19
        }
    );
    let r = VrrpRepr {
        addrs: vec![],
        ..ok.clone()
    };
    assert_eq!(err(&r, s4, d4, &none, &mut buf), WireError::ZeroCount);
    let r = VrrpRepr {
        addrs: vec![v4("10.0.0.1"); 256],
        ..ok.clone()
    };
    assert_eq!(
        err(&r, s4, d4, &none, &mut buf),
        WireError::TooManyAddresses(256)
    );
    let r = VrrpRepr {
        addrs: vec![v4("10.0.0.1"), v6("::1")],
        ..ok.clone()
    };
    assert_eq!(
        err(&r, s4, d4, &none, &mut buf),
        WireError::AddressFamily {
            addr: v6("::1"),
            family: Family::Ipv4
        }
    );
    let r = VrrpRepr {
        max_advert_int: 256,
        ..ok.clone()
    };
    assert_eq!(
        err(&r, s4, d4, &none, &mut buf),
        WireError::BadInterval {
            version: 2,
            interval: 256,
            max: 255
        }
    );
    let v3 = VrrpRepr::v3(1, 100, 0, vec![v6("fe80::5")]);
    assert_eq!(
        err(&v3, s6, d6, &none, &mut buf),
        WireError::BadInterval {
            version: 3,
            interval: 0,
            max: 4095
        }
    );
    let v3 = VrrpRepr::v3(1, 100, 4096, vec![v6("fe80::5")]);
    assert!(matches!(
        err(&v3, s6, d6, &none, &mut buf),
        WireError::BadInterval { .. }
    ));
    let v3 = VrrpRepr::v3(1, 100, 100, vec![v6("fe80::5")]);
    assert_eq!(
        err(&v3, s6, d6, &simple, &mut buf),
        WireError::V3Authentication(1)
    );
}

#[test]
fn errors_name_the_problem() {
    let e = WireError::ChecksumMismatch {
        got: 0x1234,
        expected: 0x4321,
    };
    assert_eq!(
        e.to_string(),
        "VRRP checksum mismatch: got 0x1234, expected 0x4321"
    );
    assert_eq!(
        WireError::BadTtl(254).to_string(),
        "TTL/hop limit is 254, expected 255"
    );
}

#[test]
fn display_is_readable() {
    let repr = VrrpRepr::v2(51, 100, 1, vec![v4("192.168.1.100")], &AuthKey::none());
    assert_eq!(
        repr.to_string(),
        "VRRPv2 vrid 51 prio 100 adv 1s auth 0 addrs [192.168.1.100]"
    );
}

// ---- properties ----

fn arb_auth() -> impl Strategy<Value = AuthKey> {
    let secret = proptest::collection::vec(1u8..=255, 1..=8);
    (0usize..4, secret).prop_map(|(k, s)| {
        let kind = [
            AuthType::None,
            AuthType::Simple,
            AuthType::P0Sha256,
            AuthType::P1Shake256,
        ][k];
        AuthKey::new(kind, s).expect("valid secret")
    })
}

fn arb_v4() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 4]>().prop_map(|b| IpAddr::V4(b.into()))
}

fn arb_v6() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 16]>().prop_map(|b| IpAddr::V6(b.into()))
}

/// (repr, meta, v3 checksum mode, key): any valid advertisement.
fn arb_case() -> impl Strategy<Value = (VrrpRepr, RxMeta, V3Checksum, AuthKey)> {
    let v2 = (
        any::<u8>(),
        any::<u8>(),
        1u8..=255,
        proptest::collection::vec(arb_v4(), 1..20),
        arb_v4(),
        arb_auth(),
    )
        .prop_map(|(vrid, prio, int, addrs, src, key)| {
            let repr = VrrpRepr::v2(vrid, prio, int, addrs, &key);
            (
                repr,
                RxMeta {
                    src,
                    dst: v4(GROUP4),
                    ttl: 255,
                },
                V3Checksum::default(),
                key,
            )
        });
    let v3_4 = (
        any::<u8>(),
        any::<u8>(),
        1u16..=4095,
        proptest::collection::vec(arb_v4(), 1..20),
        arb_v4(),
        any::<bool>(),
    )
        .prop_map(|(vrid, prio, int, addrs, src, plain)| {
            let mode = if plain {
                V3Checksum::Plain
            } else {
                V3Checksum::PseudoHeader
            };
            let meta = RxMeta {
                src,
                dst: v4(GROUP4),
                ttl: 255,
            };
            (
                VrrpRepr::v3(vrid, prio, int, addrs),
                meta,
                mode,
                AuthKey::none(),
            )
        });
    let v3_6 = (
        any::<u8>(),
        any::<u8>(),
        1u16..=4095,
        proptest::collection::vec(arb_v6(), 1..10),
        arb_v6(),
    )
        .prop_map(|(vrid, prio, int, addrs, src)| {
            let meta = RxMeta {
                src,
                dst: v6("ff02::12"),
                ttl: 255,
            };
            (
                VrrpRepr::v3(vrid, prio, int, addrs),
                meta,
                V3Checksum::PseudoHeader,
                AuthKey::none(),
            )
        });
    prop_oneof![v2, v3_4, v3_6]
}

proptest! {
    #[test]
    fn parse_emit_round_trip((repr, meta, mode, key) in arb_case()) {
        let bytes = emit(&repr, &meta, mode, &key);
        let parsed = VrrpRepr::parse_bytes(&bytes, &meta).expect("own packets parse");
        let mut want = repr.clone();
        if repr.version == Version::V2 {
            let mut signed = bytes[..bytes.len() - 8].to_vec();
            signed[6..8].fill(0);
            want.auth_data = key.sign(&signed);
        }
        prop_assert_eq!(&parsed.repr, &want);
        let kind = match (repr.version, Family::of(&meta.src), mode) {
            (Version::V2, ..) | (Version::V3, Family::Ipv4, V3Checksum::Plain) => ChecksumKind::Plain,
            _ => ChecksumKind::PseudoHeader,
        };
        // A plain v3/IPv4 checksum may coincide with the pseudo-header one only if the
        // pseudo-header sums to zero, which real addresses never do; accept either then.
        if !(mode == V3Checksum::Plain && parsed.checksum == ChecksumKind::PseudoHeader) {
            prop_assert_eq!(parsed.checksum, kind);
        }
        prop_assert_eq!(key.verify(&bytes), Ok(()));
        // Emitting the parsed repr again gives the same bytes.
        let again = emit(&parsed.repr, &meta, mode, &key);
        prop_assert_eq!(again, bytes);
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600), ttl in any::<u8>(), six in any::<bool>()) {
        let meta = if six { RxMeta { ttl, ..meta6() } } else { RxMeta { ttl, ..meta4() } };
        let _ = VrrpRepr::parse_bytes(&bytes, &meta);
        let _ = AuthKey::none().verify(&bytes);
        let view = VrrpPacket::new_unchecked(&bytes[..]);
        let _ = VrrpRepr::parse(&view, &meta);
        // Every read accessor of a checked view is panic-free, for either family.
        if let Ok(p) = VrrpPacket::new_checked(&bytes[..]) {
            for m in [meta4(), meta6()] {
                let family = Family::of(&m.src);
                let _ = (p.vrid(), p.priority(), p.count(), p.auth_type(), p.advert_int_v2());
                let _ = (p.max_advert_int_v3(), p.checksum(), p.auth_data(), p.message(family));
                let _ = p.addresses(family).count();
                let _ = p.verify_checksum(m.src, m.dst, ChecksumKind::PseudoHeader);
                let _ = p.verify_checksum(m.src, m.dst, ChecksumKind::Plain);
            }
        }
    }

    #[test]
    fn parse_never_panics_on_plausible_headers(
        head in (2u8..=3, any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>()),
        tail in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let (ver, vrid, prio, count, b4) = head;
        let mut bytes = vec![(ver << 4) | 1, vrid, prio, count, b4, 1, 0, 0];
        bytes.extend_from_slice(&tail);
        let _ = VrrpRepr::parse_bytes(&bytes, &meta4());
        let _ = VrrpRepr::parse_bytes(&bytes, &meta6());
    }
}
