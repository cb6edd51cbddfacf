//! The VRRP codec: parse, verify (checksum and authentication) and emit, for VRRPv2,
//! VRRPv3/IPv4 and VRRPv3/IPv6 and every auth type (none, simple, P0 HMAC-SHA256, P1
//! SHAKE256). Input format: `rvrrpd_fuzz::codec`.
//!
//! * Received bytes: parsing and every key's `verify` never panic; a checked view's slices lie
//!   in the buffer; what parses agrees with the test harness's independent decoder; its repr
//!   emits, parses back to itself (auth data recomputed), re-emits byte for byte, verifies, and
//!   reproduces the received message when nothing was lost in parsing.
//! * Structured: a repr built from the input emits exactly when an independent statement of
//!   `emit`'s rules says it should (same error otherwise), and round-trips through the codec
//!   and through whole Ethernet frames.
//! * Advert cache: a sequence of parameter changes; the cached frame always equals a fresh
//!   build (or both fail alike, and the cache is then empty).

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use rvrrpd::auth::{AuthError, AuthKey, AuthType, AUTH_DATA_LEN};
use rvrrpd::wire::frame::advert_frame_len;
use rvrrpd::wire::vrrp::HEADER_LEN;
use rvrrpd::wire::{
    advert_frame, parse_ethernet_frame, AdvertCache, AdvertParams, ChecksumKind, Family, RxMeta,
    V3Checksum, Version, VrrpPacket, VrrpRepr, WireError,
};
use rvrrpd_fuzz::codec::{decode, Input, Rx};
use rvrrpd_fuzz::within;

const KINDS: [AuthType; 4] = [
    AuthType::None,
    AuthType::Simple,
    AuthType::P0Sha256,
    AuthType::P1Shake256,
];

fuzz_target!(|data: &[u8]| match decode(data) {
    Input::Rx(rx) => received(&rx),
    Input::Structured(bytes) => {
        let _ = structured(&mut Unstructured::new(bytes));
    }
    Input::Cache(bytes) => {
        let _ = cache(&mut Unstructured::new(bytes));
    }
});

/// The key of `kind` with `secret`, or with a one-byte stand-in when the secret does not fit.
fn key(kind: AuthType, secret: &[u8]) -> AuthKey {
    AuthKey::new(kind, secret)
        .or_else(|_| AuthKey::new(kind, "k"))
        .unwrap_or_default()
}

fn group(family: Family) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12)),
    }
}

fn received(rx: &Rx<'_>) {
    let meta = RxMeta {
        src: rx.src,
        dst: rx.dst,
        ttl: rx.ttl,
    };
    let msg = rx.msg;
    let parsed = VrrpRepr::parse_bytes(msg, &meta);
    for kind in KINDS {
        let _ = key(kind, rx.secret).verify(msg);
    }
    if let Ok(p) = VrrpPacket::new_checked(msg) {
        for family in [Family::Ipv4, Family::Ipv6] {
            assert!(within(msg, p.message(family)));
            assert!(within(msg, p.address_bytes(family)));
            let _ = (p.vrid(), p.priority(), p.auth_type(), p.max_advert_int_v3());
            let _ = (p.auth_data(), p.addresses(family).count());
            let (s, d) = (group(family), group(family));
            let _ = p.verify_checksum(s, d, ChecksumKind::PseudoHeader);
            let _ = p.verify_checksum(s, d, ChecksumKind::Plain);
        }
    }
    let Ok(parsed) = parsed else { return };
    let repr = &parsed.repr;
    let family = Family::of(&rx.src);
    // What parse promises about what it accepts.
    assert!(!repr.addrs.is_empty() && repr.addrs.len() <= 255, "{repr}");
    assert!(repr.addrs.iter().all(|a| Family::of(a) == family), "{repr}");
    assert!((1..=repr.version.max_interval()).contains(&repr.max_advert_int));
    assert!(repr.version == Version::V2 || repr.auth_type == 0);
    assert!(!(repr.version == Version::V2 && family == Family::Ipv6));
    assert_eq!(rx.ttl, 255);
    same_as_lab_decoder(msg, repr, family);

    let kind = match repr.version {
        Version::V3 => AuthType::None,
        Version::V2 => match AuthType::from_number(repr.auth_type) {
            Some(kind) => kind,
            None => {
                // An auth type rvrrpd does not know: no key can emit it.
                let mut buf = vec![0u8; repr.buffer_len()];
                let e = repr.emit(
                    &mut buf,
                    rx.src,
                    rx.dst,
                    V3Checksum::default(),
                    &AuthKey::none(),
                );
                assert!(
                    matches!(e, Err(WireError::AuthTypeMismatch { .. })),
                    "{e:?}"
                );
                return;
            }
        },
    };
    let key = key(kind, rx.secret);
    let mode = V3Checksum::from(parsed.checksum);
    let emitted = emit_ok(repr, rx.src, rx.dst, mode, &key);
    let again = VrrpRepr::parse_bytes(&emitted, &meta).expect("an emitted advert parses");
    let expected = expected_repr(repr, &emitted, &key);
    assert_eq!(again.repr, expected);
    assert_eq!(key.verify(&emitted), Ok(()));
    // The same bytes again from the parsed repr.
    assert_eq!(emit_ok(&again.repr, rx.src, rx.dst, mode, &key), emitted);
    if again.checksum != parsed.checksum {
        // Only possible when the emitted message verifies both ways.
        let p = VrrpPacket::new_checked(&emitted[..]).expect("view");
        assert!(p.verify_checksum(rx.src, rx.dst, ChecksumKind::Plain));
        assert!(p.verify_checksum(rx.src, rx.dst, ChecksumKind::PseudoHeader));
    }
    // Nothing lost in parsing (no reserved bits, auth data reproducible): the same message.
    let authenticated = key.verify(msg).is_ok() && kind != AuthType::None;
    let lossless = match repr.version {
        Version::V3 => msg[4] & 0xf0 == 0,
        Version::V2 => authenticated || (kind == AuthType::None && repr.auth_data == [0; 8]),
    };
    if authenticated {
        assert_eq!(
            &again.repr, repr,
            "authenticated adverts round-trip exactly"
        );
    }
    if lossless {
        let original = &msg[..emitted.len()];
        assert_eq!(original[..6], emitted[..6]);
        assert_eq!(original[8..], emitted[8..]);
        let (a, b) = (
            u16::from_be_bytes([original[6], original[7]]),
            u16::from_be_bytes([emitted[6], emitted[7]]),
        );
        assert!(
            a == b || (a | b == 0xffff && a & b == 0),
            "checksum {a:#x} vs {b:#x}"
        );
    }
    frame_round_trip(repr, rx.src, mode, &key, &expected);
}

/// The harness's own decoder (tests/lab) reads the same fields.
fn same_as_lab_decoder(msg: &[u8], repr: &VrrpRepr, family: Family) {
    let lab = rvrrpd_lab::vrrp::parse(msg, family == Family::Ipv6).expect("lab decoder");
    assert_eq!(lab.version, repr.version.number());
    assert_eq!(
        (lab.kind, lab.vrid, lab.priority),
        (1, repr.vrid, repr.priority)
    );
    assert_eq!(usize::from(lab.count), repr.addrs.len());
    assert_eq!(lab.addrs, repr.addrs);
    match repr.version {
        Version::V2 => {
            assert_eq!(lab.auth_type, repr.auth_type);
            assert_eq!(lab.interval_cs, repr.max_advert_int * 100);
            assert_eq!(lab.auth_data, Some(repr.auth_data));
        }
        Version::V3 => assert_eq!(lab.interval_cs, repr.max_advert_int),
    }
}

fn emit_ok(repr: &VrrpRepr, src: IpAddr, dst: IpAddr, mode: V3Checksum, key: &AuthKey) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len()];
    match repr.emit(&mut buf, src, dst, mode, key) {
        Ok(n) => assert_eq!(n, buf.len()),
        Err(e) => panic!("{repr} does not emit with {key:?}: {e}"),
    }
    buf
}

/// `repr` as it parses back from `emitted`: VRRPv2 auth data signed by `key` over the header
/// with the checksum zero and the addresses; none for VRRPv3.
fn expected_repr(repr: &VrrpRepr, emitted: &[u8], key: &AuthKey) -> VrrpRepr {
    let mut want = repr.clone();
    want.auth_data = [0; AUTH_DATA_LEN];
    if repr.version == Version::V2 {
        let mut signed = emitted[..emitted.len() - AUTH_DATA_LEN].to_vec();
        signed[6..8].fill(0);
        want.auth_data = key.sign(&signed);
    }
    want
}

/// Whole frame: built, parsed as the receive path does, the advert back.
fn frame_round_trip(
    repr: &VrrpRepr,
    src: IpAddr,
    mode: V3Checksum,
    key: &AuthKey,
    want: &VrrpRepr,
) {
    let frame = advert_frame(repr, src, mode, key).expect("frame of an emittable repr");
    assert_eq!(frame.len(), advert_frame_len(repr));
    let view = parse_ethernet_frame(&frame).expect("own frame parses");
    assert!(within(&frame, view.vrrp));
    assert_eq!(view.src_ip, src);
    let parsed = VrrpRepr::parse_bytes(view.vrrp, &view.rx_meta()).expect("own advert parses");
    assert_eq!(&parsed.repr, want);
}

fn addr(u: &mut Unstructured<'_>, family: Family) -> Result<IpAddr> {
    Ok(match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::from(u.arbitrary::<[u8; 4]>()?)),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(u.arbitrary::<[u8; 16]>()?)),
    })
}

fn other(family: Family) -> Family {
    match family {
        Family::Ipv4 => Family::Ipv6,
        Family::Ipv6 => Family::Ipv4,
    }
}

/// A key from the input, checking `AuthKey::new`'s own rules on the way.
fn arbitrary_key(u: &mut Unstructured<'_>) -> Result<AuthKey> {
    let kind = KINDS[u.choose_index(KINDS.len())?];
    let len = u.int_in_range(0..=70)?;
    let secret = u.bytes(len)?.to_vec();
    Ok(match AuthKey::new(kind, secret.clone()) {
        Ok(k) => k,
        Err(AuthError::EmptySecret(_)) => {
            assert!(secret.is_empty() && kind != AuthType::None);
            AuthKey::none()
        }
        Err(AuthError::SecretTooLong { len, max, .. }) => {
            assert!(len > max && max == kind.max_secret_len());
            AuthKey::none()
        }
        Err(e) => panic!("unexpected key error {e}"),
    })
}

fn structured(u: &mut Unstructured<'_>) -> Result<()> {
    let version = if u.arbitrary::<bool>()? {
        Version::V2
    } else {
        Version::V3
    };
    let family = if version == Version::V3 && u.arbitrary::<bool>()? {
        Family::Ipv6
    } else {
        Family::Ipv4
    };
    let odd = |u: &mut Unstructured<'_>| u.ratio(1u8, 16);
    let max_advert_int = if odd(u)? {
        u.arbitrary()?
    } else {
        u.int_in_range(1..=version.max_interval())?
    };
    let n = if odd(u)? {
        u.int_in_range(0..=300)?
    } else {
        u.int_in_range(1..=12)?
    };
    let mut addrs = Vec::with_capacity(n);
    for _ in 0..n {
        let f = if u.ratio(1u8, 64)? {
            other(family)
        } else {
            family
        };
        addrs.push(addr(u, f)?);
    }
    let src_family = if odd(u)? { other(family) } else { family };
    let src = addr(u, src_family)?;
    let dst = if odd(u)? {
        addr(u, other(family))?
    } else if u.arbitrary()? {
        addr(u, family)?
    } else {
        group(family)
    };
    let key = if version == Version::V2 || odd(u)? {
        arbitrary_key(u)?
    } else {
        AuthKey::none()
    };
    let auth_type = if odd(u)? {
        u.arbitrary()?
    } else if version == Version::V2 {
        key.kind().number()
    } else {
        0
    };
    let repr = VrrpRepr {
        version,
        vrid: u.arbitrary()?,
        priority: u.arbitrary()?,
        max_advert_int,
        auth_type,
        addrs,
        auth_data: u.arbitrary()?,
    };
    let mode = if u.arbitrary()? {
        V3Checksum::Plain
    } else {
        V3Checksum::PseudoHeader
    };
    let len = repr.buffer_len();
    let buf_len = if odd(u)? {
        u.int_in_range(0..=len)?
    } else {
        len
    };
    let mut buf = vec![0u8; buf_len];
    let got = repr.emit(&mut buf, src, dst, mode, &key);
    let want = emit_rules(&repr, src, dst, &key, buf_len);
    match (got, want) {
        (Ok(n), Ok(())) => assert_eq!(n, len),
        (Err(e), Err(w)) => {
            assert_eq!(e, w);
            return Ok(());
        }
        (got, want) => panic!("emit gave {got:?}, its rules say {want:?} for {repr:?}"),
    }
    // It emitted: the source's family is the advert's (the one drawn may have been overridden).
    let family = Family::of(&src);
    let meta = RxMeta { src, dst, ttl: 255 };
    let parsed = VrrpRepr::parse_bytes(&buf, &meta).expect("an emitted advert parses");
    let expected = expected_repr(&repr, &buf, &key);
    assert_eq!(parsed.repr, expected);
    assert_eq!(key.verify(&buf), Ok(()));
    let kind = match (version, family, mode) {
        (Version::V2, ..) | (Version::V3, Family::Ipv4, V3Checksum::Plain) => ChecksumKind::Plain,
        _ => ChecksumKind::PseudoHeader,
    };
    let both = VrrpPacket::new_checked(&buf[..]).is_ok_and(|p| {
        p.verify_checksum(src, dst, ChecksumKind::Plain)
            && p.verify_checksum(src, dst, ChecksumKind::PseudoHeader)
    });
    assert!(
        parsed.checksum == kind || both,
        "{:?} for {kind:?}",
        parsed.checksum
    );
    assert_eq!(emit_ok(&parsed.repr, src, dst, mode, &key), buf);
    same_as_lab_decoder(&buf, &parsed.repr, family);
    frame_round_trip(
        &repr,
        src,
        mode,
        &key,
        &expected_repr(&repr, &emit_ok(&repr, src, group(family), mode, &key), &key),
    );
    Ok(())
}

/// `VrrpRepr::emit`'s rules, restated in their documented order.
fn emit_rules(
    r: &VrrpRepr,
    src: IpAddr,
    dst: IpAddr,
    key: &AuthKey,
    buf_len: usize,
) -> std::result::Result<(), WireError> {
    let family = Family::of(&src);
    if Family::of(&dst) != family {
        return Err(WireError::FamilyMismatch { src, dst });
    }
    if r.version == Version::V2 && family == Family::Ipv6 {
        return Err(WireError::V2OverIpv6);
    }
    if r.addrs.is_empty() {
        return Err(WireError::ZeroCount);
    }
    if r.addrs.len() > 255 {
        return Err(WireError::TooManyAddresses(r.addrs.len()));
    }
    if let Some(&addr) = r.addrs.iter().find(|a| Family::of(a) != family) {
        return Err(WireError::AddressFamily { addr, family });
    }
    let max = r.version.max_interval();
    if r.max_advert_int == 0 || r.max_advert_int > max {
        return Err(WireError::BadInterval {
            version: r.version.number(),
            interval: r.max_advert_int,
            max,
        });
    }
    let k = key.kind().number();
    match r.version {
        Version::V2 if r.auth_type != k => {
            return Err(WireError::AuthTypeMismatch {
                repr: r.auth_type,
                key: k,
            })
        }
        Version::V3 if k != 0 => return Err(WireError::V3Authentication(k)),
        Version::V3 if r.auth_type != 0 => return Err(WireError::V3Authentication(r.auth_type)),
        _ => {}
    }
    let needed = HEADER_LEN
        + r.addrs.len() * family.addr_len()
        + if r.version == Version::V2 {
            AUTH_DATA_LEN
        } else {
            0
        };
    if buf_len < needed {
        return Err(WireError::BufferTooSmall {
            needed,
            got: buf_len,
        });
    }
    Ok(())
}

/// An advert cache fed a sequence of parameter changes, against fresh builds.
fn cache(u: &mut Unstructured<'_>) -> Result<()> {
    let mut cache = AdvertCache::new();
    let mut version = Version::V2;
    let mut vrid = 1u8;
    let mut priority = 100u8;
    let mut interval = 1u16;
    let mut src = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1));
    let mut addrs = vec![IpAddr::V4(Ipv4Addr::new(192, 168, 1, 100))];
    let mut key = AuthKey::none();
    let mut v3_checksum = V3Checksum::PseudoHeader;
    for _ in 0..24 {
        if u.is_empty() {
            break;
        }
        match u.int_in_range(0..=9u8)? {
            0 => {
                version = if u.arbitrary()? {
                    Version::V2
                } else {
                    Version::V3
                }
            }
            1 => vrid = u.arbitrary()?,
            2 => priority = u.arbitrary()?,
            3 => {
                interval = if u.ratio(1u8, 8)? {
                    u.arbitrary()?
                } else {
                    u.int_in_range(1..=255)?
                }
            }
            4 => {
                let family = if u.arbitrary()? {
                    Family::Ipv4
                } else {
                    Family::Ipv6
                };
                src = addr(u, family)?;
            }
            5 => {
                let family = if u.ratio(1u8, 8)? {
                    other(Family::of(&src))
                } else {
                    Family::of(&src)
                };
                let a = addr(u, family)?;
                match u.int_in_range(0..=2u8)? {
                    0 => addrs.push(a),
                    1 if !addrs.is_empty() => {
                        let i = u.choose_index(addrs.len())?;
                        addrs[i] = a;
                    }
                    _ => {
                        addrs.pop();
                    }
                }
            }
            6 => key = arbitrary_key(u)?,
            7 => {
                v3_checksum = if u.arbitrary()? {
                    V3Checksum::Plain
                } else {
                    V3Checksum::PseudoHeader
                }
            }
            8 => cache.invalidate(),
            _ => {}
        }
        let p = AdvertParams {
            version,
            vrid,
            priority,
            interval,
            src,
            addrs: &addrs,
            auth: &key,
            v3_checksum,
        };
        let fresh = advert_frame(&p.to_repr(), src, v3_checksum, &key);
        match (cache.frame(&p), fresh) {
            (Ok(cached), Ok(fresh)) => {
                assert_eq!(cached, &fresh[..], "stale cached frame for {p:?}")
            }
            (Err(a), Err(b)) => {
                assert_eq!(a, b);
                assert_eq!(cache.cached(), None, "a failed build leaves no frame");
            }
            (a, b) => panic!("cache {a:?}, fresh build {b:?}"),
        }
    }
    Ok(())
}
