//! Plain, portable value types shared by the drivers.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::wire::Family;

use super::NetError;

/// An IP address with a prefix length (`10.0.0.1/32`, `2001:db8::1/128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length (0..=32 for IPv4, 0..=128 for IPv6).
    pub prefix_len: u8,
}

impl IpPrefix {
    /// A host prefix: /32 for IPv4, /128 for IPv6 (the default for a VIP).
    pub fn host(addr: IpAddr) -> Self {
        let prefix_len = if addr.is_ipv4() { 32 } else { 128 };
        IpPrefix { addr, prefix_len }
    }

    /// A prefix, validated against the address family.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Result<Self, NetError> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix_len > max {
            return Err(NetError::Invalid(format!(
                "invalid prefix length {prefix_len} for {addr}"
            )));
        }
        Ok(IpPrefix { addr, prefix_len })
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl From<IpAddr> for IpPrefix {
    fn from(addr: IpAddr) -> Self {
        IpPrefix::host(addr)
    }
}

/// An IPv4 static route (`[[protocols.static]]`): `dst/prefix_len via gateway`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Route {
    /// Destination network.
    pub dst: Ipv4Addr,
    /// Destination prefix length.
    pub prefix_len: u8,
    /// Next hop.
    pub gateway: Ipv4Addr,
    /// Route metric (netlink `RTA_PRIORITY`), if any.
    pub metric: Option<u32>,
    /// Path MTU metric (`RTAX_MTU`), if any.
    pub mtu: Option<u32>,
}

impl fmt::Display for Ipv4Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} via {}", self.dst, self.prefix_len, self.gateway)?;
        if let Some(m) = self.metric {
            write!(f, " metric {m}")?;
        }
        if let Some(m) = self.mtu {
            write!(f, " mtu {m}")?;
        }
        Ok(())
    }
}

/// Converts a dotted netmask (`255.255.255.0`) into a prefix length; `None` if the mask
/// is not contiguous.
pub fn mask_to_prefix(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let ones = m.leading_ones();
    if m.checked_shl(ones).unwrap_or(0) == 0 {
        u8::try_from(ones).ok()
    } else {
        None
    }
}

/// Converts a prefix length (clamped to 32) into a dotted netmask.
pub fn prefix_to_mask(prefix_len: u8) -> Ipv4Addr {
    let p = u32::from(prefix_len.min(32));
    Ipv4Addr::from(u32::MAX.checked_shl(32 - p).unwrap_or(0))
}

/// A snapshot of one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Name (`eth0`, `em0`).
    pub name: String,
    /// Interface index.
    pub index: u32,
    /// Hardware address, when the link has a 6-byte one.
    pub mac: Option<[u8; 6]>,
    /// `IFF_UP` (administratively up).
    pub up: bool,
    /// `IFF_RUNNING` (operationally up: carrier present).
    pub running: bool,
    /// IPv4 addresses with prefix length, in kernel order (primary first).
    pub ipv4: Vec<(Ipv4Addr, u8)>,
    /// IPv6 addresses with prefix length (FreeBSD: embedded scope ids cleared).
    pub ipv6: Vec<(Ipv6Addr, u8)>,
}

impl Interface {
    /// IPv6 link-local addresses (fe80::/10).
    pub fn ipv6_link_local(&self) -> impl Iterator<Item = Ipv6Addr> + '_ {
        self.ipv6.iter().map(|(a, _)| *a).filter(is_link_local)
    }

    /// IPv6 addresses that are not link-local (global / unique-local).
    pub fn ipv6_global(&self) -> impl Iterator<Item = Ipv6Addr> + '_ {
        self.ipv6
            .iter()
            .map(|(a, _)| *a)
            .filter(|a| !is_link_local(a) && !a.is_loopback())
    }

    /// The first (primary) IPv4 address, the default VRRPv2/v3 source address.
    pub fn primary_ipv4(&self) -> Option<Ipv4Addr> {
        self.ipv4.first().map(|(a, _)| *a)
    }
}

/// True for fe80::/10.
pub fn is_link_local(a: &Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80
}

/// Options of a receive socket.
#[derive(Clone, Debug)]
pub struct RxConfig {
    /// Interface name.
    pub iface: String,
    /// Address family.
    pub family: Family,
    /// VRIDs accepted by the socket filter (groups configured on this interface).
    pub vrids: Vec<u8>,
    /// Unicast groups among them, as (VRID, peers): the Linux kernel filter accepts their
    /// adverts only from a peer (FreeBSD: the worker checks).
    pub peers: Vec<(u8, Vec<std::net::IpAddr>)>,
    /// Filter on VRID (`socket_filter = true`, the default): a kernel filter on Linux, in user
    /// space on FreeBSD.
    pub socket_filter: bool,
    /// Datagrams per `recvmmsg` batch (≥ 1).
    pub batch: usize,
    /// `SO_RCVBUF` in bytes, if set.
    pub rcvbuf: Option<usize>,
}

impl RxConfig {
    /// Defaults: filter on, batch of 32, kernel default receive buffer.
    pub fn new(iface: impl Into<String>, family: Family, vrids: &[u8]) -> Self {
        RxConfig {
            iface: iface.into(),
            family,
            vrids: vrids.to_vec(),
            peers: Vec::new(),
            socket_filter: true,
            batch: 32,
            rcvbuf: None,
        }
    }
}

/// A received VRRP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxDatagram<'a> {
    /// IP source address.
    pub src: IpAddr,
    /// IP destination address (224.0.0.18 / ff02::12 for adverts).
    pub dst: IpAddr,
    /// IPv4 TTL / IPv6 hop limit (must be 255 for VRRP; checked by the caller).
    pub ttl: u8,
    /// Interface the datagram arrived on.
    pub ifindex: u32,
    /// The VRRP message (IP header stripped, IPv4 padding removed using Total Length).
    pub payload: &'a [u8],
    /// When the kernel received it, CLOCK_MONOTONIC nanoseconds (0: unknown).
    pub rx_ns: u64,
}

/// One `getifaddrs(3)` entry, copied out (each platform's `sys` module produces these).
#[derive(Clone, Debug)]
pub(crate) struct IfAddrEntry {
    pub name: String,
    pub flags: u32,
    pub kind: IfAddrKind,
}

/// The address part of a `getifaddrs(3)` entry.
#[derive(Clone, Debug)]
pub(crate) enum IfAddrKind {
    V4 {
        addr: Ipv4Addr,
        mask: Option<Ipv4Addr>,
    },
    V6 {
        addr: Ipv6Addr,
        mask: Option<Ipv6Addr>,
    },
    /// The link-level entry (`AF_PACKET` on Linux, `AF_LINK` on FreeBSD).
    Link {
        ifindex: u32,
        mac: Option<[u8; 6]>,
    },
    None,
}

/// Prefix length of an IPv6 netmask (128 when there is none).
pub(crate) fn v6_prefix(mask: Option<Ipv6Addr>) -> u8 {
    mask.map(|m| u128::from(m).leading_ones() as u8)
        .unwrap_or(128)
}

/// Groups `getifaddrs` entries into interfaces; `index_of` fills in the index of interfaces
/// without a link-level entry.
pub(crate) fn interfaces_from(
    entries: Vec<IfAddrEntry>,
    index_of: impl Fn(&str) -> Option<u32>,
) -> Vec<Interface> {
    let mut out: Vec<Interface> = Vec::new();
    for e in entries {
        let up = e.flags & libc::IFF_UP as u32 != 0;
        let running = e.flags & libc::IFF_RUNNING as u32 != 0;
        let pos = match out.iter().position(|i| i.name == e.name) {
            Some(p) => p,
            None => {
                out.push(Interface {
                    name: e.name.clone(),
                    index: 0,
                    mac: None,
                    up,
                    running,
                    ipv4: Vec::new(),
                    ipv6: Vec::new(),
                });
                out.len() - 1
            }
        };
        let i = &mut out[pos];
        match e.kind {
            IfAddrKind::V4 { addr, mask } => {
                i.ipv4
                    .push((addr, mask.and_then(mask_to_prefix).unwrap_or(32)));
            }
            IfAddrKind::V6 { addr, mask } => i.ipv6.push((addr, v6_prefix(mask))),
            IfAddrKind::Link { ifindex, mac } => {
                i.index = ifindex;
                i.mac = mac;
                i.up = up;
                i.running = running;
            }
            IfAddrKind::None => {}
        }
    }
    for i in out.iter_mut().filter(|i| i.index == 0) {
        if let Some(idx) = index_of(&i.name) {
            i.index = idx;
        }
    }
    out
}

/// Interface `name` (index `index`) out of `all`, with the IPv4 addresses of its alias labels
/// (`eth0:1`, which `getifaddrs` lists apart on Linux) folded in; an interface without any
/// address entry is still returned.
pub(crate) fn pick_interface(name: &str, index: u32, mut all: Vec<Interface>) -> Interface {
    let mut found = all
        .iter()
        .position(|i| i.name == name)
        .map(|p| all.swap_remove(p))
        .unwrap_or(Interface {
            name: name.to_string(),
            index,
            mac: None,
            up: false,
            running: false,
            ipv4: Vec::new(),
            ipv6: Vec::new(),
        });
    found.index = index;
    let prefix = format!("{name}:");
    for alias in all.iter().filter(|i| i.name.starts_with(&prefix)) {
        found.ipv4.extend(alias.ipv4.iter().copied());
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_to_prefix(Ipv4Addr::new(255, 255, 255, 0)), Some(24));
        assert_eq!(mask_to_prefix(Ipv4Addr::new(0, 0, 0, 0)), Some(0));
        assert_eq!(mask_to_prefix(Ipv4Addr::new(255, 255, 255, 255)), Some(32));
        assert_eq!(mask_to_prefix(Ipv4Addr::new(255, 0, 255, 0)), None);
        assert_eq!(prefix_to_mask(0), Ipv4Addr::new(0, 0, 0, 0));
        assert_eq!(prefix_to_mask(20), Ipv4Addr::new(255, 255, 240, 0));
        assert_eq!(prefix_to_mask(32), Ipv4Addr::new(255, 255, 255, 255));
        for p in 0..=32u8 {
            assert_eq!(mask_to_prefix(prefix_to_mask(p)), Some(p));
        }
    }

    #[test]
    fn prefixes() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(IpPrefix::host(a).to_string(), "10.0.0.1/32");
        assert!(IpPrefix::new(a, 33).is_err());
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(IpPrefix::from(b).prefix_len, 128);
    }
}
