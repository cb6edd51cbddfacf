//! Precomputed advertisement frames: an advert only changes when its priority, interval,
//! addresses, source address, authentication or checksum mode change, so its bytes (checksum
//! and digest included) are built once and resent as they are.

use core::net::IpAddr;

use super::frame::{advert_buffer_len, emit_advert_frame};
use super::vrrp::{V3Checksum, Version, VrrpRepr};
use super::WireError;
use crate::auth::{AuthKey, AUTH_DATA_LEN};

/// Everything an advertisement frame depends on, borrowed from the group's state so that a
/// cache hit costs a comparison and no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvertParams<'a> {
    /// Protocol version.
    pub version: Version,
    /// Virtual router ID.
    pub vrid: u8,
    /// Priority to advertise.
    pub priority: u8,
    /// Advertisement interval: seconds for VRRPv2, centiseconds for VRRPv3.
    pub interval: u16,
    /// IP source address (the interface's primary address; link-local for IPv6).
    pub src: IpAddr,
    /// Addresses to advertise, of `src`'s family.
    pub addrs: &'a [IpAddr],
    /// Authentication key (VRRPv2 only; `none` for VRRPv3).
    pub auth: &'a AuthKey,
    /// VRRPv3/IPv4 checksum form.
    pub v3_checksum: V3Checksum,
}

impl AdvertParams<'_> {
    /// The advertisement these parameters describe.
    pub fn to_repr(&self) -> VrrpRepr {
        VrrpRepr {
            version: self.version,
            vrid: self.vrid,
            priority: self.priority,
            max_advert_int: self.interval,
            auth_type: match self.version {
                Version::V2 => self.auth.kind().number(),
                Version::V3 => 0,
            },
            addrs: self.addrs.to_vec(),
            auth_data: [0; AUTH_DATA_LEN],
        }
    }
}

/// What a cached frame depends on beyond what its own bytes say. Version, VRID, priority,
/// interval, source and addresses are read back from the frame (see [`frame_carries`]), so a
/// group keeps no second copy of them: thousands of groups, each with a cache.
#[derive(Debug)]
struct BuiltFor {
    auth: AuthKey,
    v3_checksum: V3Checksum,
}

/// Whether `frame`, an advert built by [`emit_advert_frame`], carries exactly `p`'s version,
/// VRID, priority, interval, source address and addresses (in order).
fn frame_carries(frame: &[u8], p: &AdvertParams<'_>) -> bool {
    const ETH: usize = 14;
    let (ethertype, src_at, ip_len, alen): (u16, usize, usize, usize) = match p.src {
        IpAddr::V4(_) => (0x0800, ETH + 12, 20, 4),
        IpAddr::V6(_) => (0x86dd, ETH + 8, 40, 16),
    };
    let auth_len = match p.version {
        Version::V2 => AUTH_DATA_LEN,
        Version::V3 => 0,
    };
    let vrrp_at = ETH + ip_len;
    if frame.len() != vrrp_at + 8 + p.addrs.len() * alen + auth_len
        || frame[12..14] != ethertype.to_be_bytes()
    {
        return false;
    }
    let same_addr = |at: usize, a: &IpAddr| match a {
        IpAddr::V4(a) if alen == 4 => frame[at..at + 4] == a.octets(),
        IpAddr::V6(a) if alen == 16 => frame[at..at + 16] == a.octets(),
        _ => false,
    };
    let v = &frame[vrrp_at..];
    let interval_ok = match p.version {
        Version::V2 => u16::from(v[5]) == p.interval,
        Version::V3 => u16::from_be_bytes([v[4] & 0x0f, v[5]]) == p.interval,
    };
    same_addr(src_at, &p.src)
        && v[0] >> 4 == p.version.number()
        && v[1] == p.vrid
        && v[2] == p.priority
        && usize::from(v[3]) == p.addrs.len()
        && interval_ok
        && p.addrs
            .iter()
            .enumerate()
            .all(|(i, a)| same_addr(vrrp_at + 8 + i * alen, a))
}

/// The finished frame of one group, rebuilt only when its [`AdvertParams`] change.
#[derive(Debug, Default)]
pub struct AdvertCache {
    built_for: Option<BuiltFor>,
    frame: Vec<u8>,
    rebuilds: u64,
}

impl AdvertCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The frame for `params`: the cached bytes when `params` equal those of the last build,
    /// otherwise a fresh build (which then becomes the cached one). On error the cache is
    /// emptied, so no stale frame can be sent.
    pub fn frame(&mut self, params: &AdvertParams<'_>) -> Result<&[u8], WireError> {
        let hit = self.built_for.as_ref().is_some_and(|b| {
            b.v3_checksum == params.v3_checksum
                && b.auth == *params.auth
                && frame_carries(&self.frame, params)
        });
        if !hit {
            self.built_for = None;
            let repr = params.to_repr();
            self.frame.resize(advert_buffer_len(&repr, params.src), 0);
            let built = emit_advert_frame(
                &mut self.frame,
                &repr,
                params.src,
                params.v3_checksum,
                params.auth,
            );
            let n = built.inspect_err(|_| self.frame.clear())?;
            self.frame.truncate(n);
            self.built_for = Some(BuiltFor {
                auth: params.auth.clone(),
                v3_checksum: params.v3_checksum,
            });
            self.rebuilds += 1;
        }
        Ok(&self.frame)
    }

    /// The last frame built, if any.
    pub fn cached(&self) -> Option<&[u8]> {
        self.built_for.as_ref().map(|_| self.frame.as_slice())
    }

    /// Forgets the cached frame; the next [`frame`](Self::frame) call rebuilds it.
    pub fn invalidate(&mut self) {
        self.built_for = None;
    }

    /// How many times a frame was built (for tests and metrics).
    pub fn rebuilds(&self) -> u64 {
        self.rebuilds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthType;
    use crate::wire::frame::advert_frame;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("addr")
    }

    fn fresh(p: &AdvertParams<'_>) -> Vec<u8> {
        advert_frame(&p.to_repr(), p.src, p.v3_checksum, p.auth).expect("frame")
    }

    #[test]
    fn unchanged_adverts_are_built_once() {
        let auth = AuthKey::new(AuthType::P1Shake256, "k").expect("key");
        let addrs = [ip("192.168.1.100")];
        let p = AdvertParams {
            version: Version::V2,
            vrid: 51,
            priority: 100,
            interval: 1,
            src: ip("192.168.1.1"),
            addrs: &addrs,
            auth: &auth,
            v3_checksum: V3Checksum::default(),
        };
        let mut cache = AdvertCache::new();
        assert_eq!(cache.cached(), None);
        let first = cache.frame(&p).expect("frame").to_vec();
        for _ in 0..100 {
            assert_eq!(cache.frame(&p).expect("frame"), &first[..]);
        }
        assert_eq!(cache.rebuilds(), 1);
        assert_eq!(first, fresh(&p));
        // Equal but separately owned inputs also hit.
        let auth2 = auth.clone();
        let addrs2 = addrs.to_vec();
        let p2 = AdvertParams {
            auth: &auth2,
            addrs: &addrs2,
            ..p
        };
        assert!(cache.frame(&p2).is_ok());
        assert_eq!(cache.rebuilds(), 1);
    }

    #[test]
    fn every_input_change_rebuilds() {
        let auth = AuthKey::new(AuthType::P0Sha256, "k").expect("key");
        let other_auth = AuthKey::new(AuthType::P0Sha256, "other").expect("key");
        let addrs = [ip("192.168.1.100")];
        let more_addrs = [ip("192.168.1.100"), ip("192.168.1.101")];
        let same_count_other_addr = [ip("192.168.1.101")];
        let v6_addrs = [ip("2001:db8::100")];
        let none = AuthKey::none();
        let base = AdvertParams {
            version: Version::V2,
            vrid: 51,
            priority: 100,
            interval: 1,
            src: ip("192.168.1.1"),
            addrs: &addrs,
            auth: &auth,
            v3_checksum: V3Checksum::default(),
        };
        let changes = [
            AdvertParams {
                priority: 90,
                ..base
            },
            AdvertParams {
                interval: 2,
                ..base
            },
            AdvertParams {
                addrs: &more_addrs,
                ..base
            },
            AdvertParams {
                src: ip("192.168.1.2"),
                ..base
            },
            AdvertParams {
                auth: &other_auth,
                ..base
            },
            AdvertParams {
                addrs: &same_count_other_addr,
                ..base
            },
            AdvertParams { vrid: 52, ..base },
            AdvertParams {
                src: ip("fe80::1"),
                addrs: &v6_addrs,
                version: Version::V3,
                auth: &none,
                interval: 100,
                ..base
            },
            AdvertParams {
                src: ip("fe80::1"),
                addrs: &v6_addrs,
                version: Version::V3,
                auth: &none,
                interval: 200,
                ..base
            },
            AdvertParams {
                src: ip("192.168.1.1"),
                addrs: &addrs,
                version: Version::V3,
                auth: &none,
                interval: 200,
                ..base
            },
        ];
        let mut cache = AdvertCache::new();
        cache.frame(&base).expect("frame");
        for (i, p) in changes.iter().enumerate() {
            let before = cache.cached().expect("cached").to_vec();
            let after = cache.frame(p).expect("frame").to_vec();
            assert_ne!(before, after, "change {i}");
            assert_eq!(after, fresh(p), "change {i}");
            assert_eq!(cache.rebuilds(), 2 + i as u64);
        }
        // Back to the original: one more build, the same bytes as the first time.
        let again = cache.frame(&base).expect("frame").to_vec();
        assert_eq!(again, fresh(&base));
        assert_eq!(cache.rebuilds(), 2 + changes.len() as u64);
        cache.invalidate();
        cache.frame(&base).expect("frame");
        assert_eq!(cache.rebuilds(), 3 + changes.len() as u64);
    }

    #[test]
    fn v3_checksum_mode_change_rebuilds() {
        let none = AuthKey::none();
        let addrs = [ip("10.0.0.1")];
        let p = AdvertParams {
            version: Version::V3,
            vrid: 1,
            priority: 100,
            interval: 100,
            src: ip("10.0.0.2"),
            addrs: &addrs,
            auth: &none,
            v3_checksum: V3Checksum::PseudoHeader,
        };
        let mut cache = AdvertCache::new();
        let a = cache.frame(&p).expect("frame").to_vec();
        let plain = AdvertParams {
            v3_checksum: V3Checksum::Plain,
            ..p
        };
        let b = cache.frame(&plain).expect("frame").to_vec();
        assert_ne!(a, b);
        assert_eq!(cache.rebuilds(), 2);
    }

    #[test]
    fn errors_empty_the_cache() {
        let none = AuthKey::none();
        let addrs = [ip("10.0.0.1")];
        let p = AdvertParams {
            version: Version::V2,
            vrid: 1,
            priority: 100,
            interval: 1,
            src: ip("10.0.0.2"),
            addrs: &addrs,
            auth: &none,
            v3_checksum: V3Checksum::default(),
        };
        let mut cache = AdvertCache::new();
        cache.frame(&p).expect("frame");
        let empty = AdvertParams { addrs: &[], ..p };
        assert_eq!(cache.frame(&empty), Err(WireError::ZeroCount));
        assert_eq!(cache.cached(), None);
    }

    /// Found by the `vrrp_codec` fuzz target: the cache sized its buffer by the addresses'
    /// family instead of the source's, so an IPv6 source with IPv4 addresses failed as
    /// "output buffer too small" instead of with the real error a fresh build reports.
    #[test]
    fn errors_are_those_of_a_fresh_build() {
        let none = AuthKey::none();
        let addrs = [ip("10.0.0.1")];
        let p = AdvertParams {
            version: Version::V2,
            vrid: 1,
            priority: 100,
            interval: 1,
            src: ip("fe80::1"),
            addrs: &addrs,
            auth: &none,
            v3_checksum: V3Checksum::default(),
        };
        let fresh = advert_frame(&p.to_repr(), p.src, p.v3_checksum, p.auth);
        assert_eq!(fresh, Err(WireError::V2OverIpv6));
        assert_eq!(AdvertCache::new().frame(&p).map(<[u8]>::to_vec), fresh);
        let empty = AdvertParams { addrs: &[], ..p };
        let fresh = advert_frame(&empty.to_repr(), p.src, p.v3_checksum, p.auth);
        assert_eq!(AdvertCache::new().frame(&empty).map(<[u8]>::to_vec), fresh);
    }
}
