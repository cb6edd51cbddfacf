//! Sans-IO packet formats: VRRP views and representations, the frames around them, gratuitous
//! ARP / unsolicited neighbour advertisements, and a small pcap reader/writer.
//!
//! Modelled on smoltcp's `wire`: a checked view (`VrrpPacket<T: AsRef<[u8]>>`) with field
//! accessors, a plain representation (`VrrpRepr`) whose `parse` validates everything and whose
//! `emit` is byte-exact, and tests with real byte vectors beside the code. Nothing here opens a
//! socket or reads a clock.

use core::fmt;
use core::net::IpAddr;

pub mod advert_cache;
pub mod arp;
pub mod checksum;
mod error;
pub mod ethernet;
pub mod frame;
pub mod ip;
pub mod ndisc;
pub mod pcap;
pub mod unicast;
pub mod vrrp;

pub use advert_cache::{AdvertCache, AdvertParams};
pub use error::WireError;
pub use ethernet::{virtual_mac, MacAddr};
pub use frame::{advert_frame, parse_ethernet_frame, parse_ipv4_packet, FrameView, IpPacketView};
pub use vrrp::{ChecksumKind, Parsed, RxMeta, V3Checksum, Version, VrrpPacket, VrrpRepr};

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl Family {
    /// The family of `addr`.
    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// Longest valid prefix length (32 or 128).
    pub const fn max_prefix_len(self) -> u8 {
        (self.addr_len() * 8) as u8
    }

    /// Length of one address of this family in bytes.
    pub const fn addr_len(self) -> usize {
        match self {
            Family::Ipv4 => 4,
            Family::Ipv6 => 16,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        })
    }
}
