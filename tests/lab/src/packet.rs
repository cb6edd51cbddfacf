//! Decoding captured Ethernet frames into the records the tests reason about.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::vrrp;

/// A MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// The VRRP virtual MAC of `vrid` (00:00:5e:00:01:VRID, or :02: for IPv6).
    pub fn vrrp(vrid: u8, v6: bool) -> Mac {
        Mac([0, 0, 0x5e, 0, if v6 { 2 } else { 1 }, vrid])
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// A VRRP advertisement seen on the wire, flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvertRecord {
    /// Capture time (s since epoch).
    pub ts: f64,
    /// Ethernet source.
    pub src_mac: Mac,
    /// IP source.
    pub src_ip: IpAddr,
    /// IP destination.
    pub dst_ip: IpAddr,
    /// TTL / hop limit.
    pub ttl: u8,
    /// The VRRP message.
    pub advert: vrrp::Advert,
}

impl AdvertRecord {
    /// VRID.
    pub fn vrid(&self) -> u8 {
        self.advert.vrid
    }
    /// Priority.
    pub fn priority(&self) -> u8 {
        self.advert.priority
    }
    /// VRRP version.
    pub fn version(&self) -> u8 {
        self.advert.version
    }
    /// Advertised interval in seconds.
    pub fn interval(&self) -> f64 {
        f64::from(self.advert.interval_cs) / 100.0
    }
    /// Whether it travels over IPv6.
    pub fn is_v6(&self) -> bool {
        self.src_ip.is_ipv6()
    }
}

/// An ARP packet.
#[derive(Debug, Clone, PartialEq)]
pub struct ArpRecord {
    /// Capture time.
    pub ts: f64,
    /// Ethernet source.
    pub src_mac: Mac,
    /// 1 request, 2 reply.
    pub op: u16,
    /// Sender hardware address.
    pub sender_mac: Mac,
    /// Sender IP.
    pub sender_ip: Ipv4Addr,
    /// Target IP.
    pub target_ip: Ipv4Addr,
}

impl ArpRecord {
    /// Gratuitous: sender IP equals target IP.
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }
}

/// An ICMPv6 neighbour advertisement.
#[derive(Debug, Clone, PartialEq)]
pub struct NaRecord {
    /// Capture time.
    pub ts: f64,
    /// Ethernet source.
    pub src_mac: Mac,
    /// Target address.
    pub target: Ipv6Addr,
}

/// What a frame was decoded into.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A VRRP advert.
    Advert(AdvertRecord),
    /// An ARP packet.
    Arp(ArpRecord),
    /// A neighbour advertisement.
    Na(NaRecord),
    /// Anything else.
    Other,
}

fn mac_at(b: &[u8], o: usize) -> Option<Mac> {
    Some(Mac(b.get(o..o + 6)?.try_into().ok()?))
}

fn v4_at(b: &[u8], o: usize) -> Option<Ipv4Addr> {
    let s: [u8; 4] = b.get(o..o + 4)?.try_into().ok()?;
    Some(Ipv4Addr::from(s))
}

fn v6_at(b: &[u8], o: usize) -> Option<Ipv6Addr> {
    let s: [u8; 16] = b.get(o..o + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(s))
}

/// Decodes an Ethernet frame captured at `ts`.
pub fn decode_ethernet(ts: f64, f: &[u8]) -> Decoded {
    decode_inner(ts, f).unwrap_or(Decoded::Other)
}

fn decode_inner(ts: f64, f: &[u8]) -> Option<Decoded> {
    let src_mac = mac_at(f, 6)?;
    let mut et = u16::from_be_bytes([*f.get(12)?, *f.get(13)?]);
    let mut l3 = 14;
    if et == 0x8100 {
        et = u16::from_be_bytes([*f.get(16)?, *f.get(17)?]);
        l3 = 18;
    }
    let p = f.get(l3..)?;
    match et {
        0x0800 => {
            let ihl = usize::from(p.first()? & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]));
            if *p.get(9)? != 112 {
                return Some(Decoded::Other);
            }
            let body = p.get(ihl..total.min(p.len()))?;
            Some(Decoded::Advert(AdvertRecord {
                ts,
                src_mac,
                src_ip: IpAddr::V4(v4_at(p, 12)?),
                dst_ip: IpAddr::V4(v4_at(p, 16)?),
                ttl: *p.get(8)?,
                advert: vrrp::parse(body, false)?,
            }))
        }
        0x86dd => {
            let plen = usize::from(u16::from_be_bytes([*p.get(4)?, *p.get(5)?]));
            let next = *p.get(6)?;
            let body = p.get(40..(40 + plen).min(p.len()))?;
            match next {
                112 => Some(Decoded::Advert(AdvertRecord {
                    ts,
                    src_mac,
                    src_ip: IpAddr::V6(v6_at(p, 8)?),
                    dst_ip: IpAddr::V6(v6_at(p, 24)?),
                    ttl: *p.get(7)?,
                    advert: vrrp::parse(body, true)?,
                })),
                58 if *body.first()? == 136 => Some(Decoded::Na(NaRecord {
                    ts,
                    src_mac,
                    target: v6_at(body, 8)?,
                })),
                _ => Some(Decoded::Other),
            }
        }
        0x0806 => Some(Decoded::Arp(ArpRecord {
            ts,
            src_mac,
            op: u16::from_be_bytes([*p.get(6)?, *p.get(7)?]),
            sender_mac: mac_at(p, 8)?,
            sender_ip: v4_at(p, 14)?,
            target_ip: v4_at(p, 24)?,
        })),
        _ => Some(Decoded::Other),
    }
}
