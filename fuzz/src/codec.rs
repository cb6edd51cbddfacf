//! `vrrp_codec` input: `[mode] ...`.
//!
//! * [`RX_V4`] / [`RX_V6`]: `[ttl] [secret: blob] [src] [dst] message…` — a received
//!   advertisement with its IP metadata and the secret to check its authentication with.
//! * [`STRUCTURED`]: the rest is `arbitrary` data for a representation to emit and parse back.
//! * [`CACHE`]: the rest is `arbitrary` data for a sequence of advert parameters fed to an
//!   `AdvertCache`, compared with fresh builds.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{Reader, Writer};

/// Received over IPv4.
pub const RX_V4: u8 = 0;
/// Received over IPv6.
pub const RX_V6: u8 = 1;
/// Structure-aware emit/parse round trip.
pub const STRUCTURED: u8 = 2;
/// Advert cache against fresh builds.
pub const CACHE: u8 = 3;

/// A received advertisement.
#[derive(Debug, Clone)]
pub struct Rx<'a> {
    /// IPv4 TTL / IPv6 hop limit.
    pub ttl: u8,
    /// Secret for the key of the advert's auth type.
    pub secret: &'a [u8],
    /// IP source.
    pub src: IpAddr,
    /// IP destination.
    pub dst: IpAddr,
    /// The VRRP message (and any padding).
    pub msg: &'a [u8],
}

/// A decoded input.
#[derive(Debug, Clone)]
pub enum Input<'a> {
    /// [`RX_V4`] or [`RX_V6`].
    Rx(Rx<'a>),
    /// [`STRUCTURED`]: `arbitrary` bytes.
    Structured(&'a [u8]),
    /// [`CACHE`]: `arbitrary` bytes.
    Cache(&'a [u8]),
}

/// Decodes an input (every byte string is one).
pub fn decode(data: &[u8]) -> Input<'_> {
    let mut r = Reader::new(data);
    let mode = r.u8() % 4;
    match mode {
        RX_V4 | RX_V6 => {
            let ttl = r.u8();
            let secret = r.blob();
            let (src, dst) = if mode == RX_V4 {
                let s: [u8; 4] = r.array();
                let d: [u8; 4] = r.array();
                (Ipv4Addr::from(s).into(), Ipv4Addr::from(d).into())
            } else {
                let s: [u8; 16] = r.array();
                let d: [u8; 16] = r.array();
                (Ipv6Addr::from(s).into(), Ipv6Addr::from(d).into())
            };
            Input::Rx(Rx {
                ttl,
                secret,
                src,
                dst,
                msg: r.rest(),
            })
        }
        STRUCTURED => Input::Structured(r.rest()),
        _ => Input::Cache(r.rest()),
    }
}

/// Encodes a received advertisement (`src` and `dst` of one family).
pub fn encode_rx(ttl: u8, secret: &[u8], src: IpAddr, dst: IpAddr, msg: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            w.u8(RX_V4).u8(ttl).blob(secret);
            w.bytes(&s.octets()).bytes(&d.octets());
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V6(a) => a,
                IpAddr::V4(a) => a.to_ipv6_mapped(),
            };
            w.u8(RX_V6).u8(ttl).blob(secret);
            w.bytes(&v6(s).octets()).bytes(&v6(d).octets());
        }
    }
    w.bytes(msg).finish()
}
