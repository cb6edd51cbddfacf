//! Interface information on FreeBSD: index, MAC address (the `AF_LINK` entry), state and
//! addresses, read with `getifaddrs(3)`. Same shapes as the Linux `net::iface`, so the
//! daemon's plan code (`crate::net::iface::interface`) uses it unchanged.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::sys::{self, IfAddrKind};
use crate::net::error::IoContext;
use crate::net::{mask_to_prefix, NetError, NetResult};

/// A snapshot of one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Name (`em0`).
    pub name: String,
    /// Interface index.
    pub index: u32,
    /// Hardware address, when the link has a 6-byte one.
    pub mac: Option<[u8; 6]>,
    /// `IFF_UP` (administratively up).
    pub up: bool,
    /// `IFF_RUNNING` (operationally up).
    pub running: bool,
    /// IPv4 addresses with prefix length, in kernel order (primary first).
    pub ipv4: Vec<(Ipv4Addr, u8)>,
    /// IPv6 addresses with prefix length (embedded scope ids cleared).
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

    /// The first (primary) IPv4 address.
    pub fn primary_ipv4(&self) -> Option<Ipv4Addr> {
        self.ipv4.first().map(|(a, _)| *a)
    }
}

/// True for fe80::/10.
pub fn is_link_local(a: &Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80
}

fn v6_prefix(mask: Option<Ipv6Addr>) -> u8 {
    mask.map(|m| u128::from(m).leading_ones() as u8)
        .unwrap_or(128)
}

/// Interface index by name.
pub fn ifindex(name: &str) -> NetResult<u32> {
    sys::if_nametoindex(name).map_err(|e| match e.raw_os_error() {
        Some(libc::ENODEV) | Some(libc::ENXIO) | Some(0) | None => {
            NetError::NoSuchInterface(name.to_string())
        }
        _ => NetError::os(format!("looking up the index of {name}"), e),
    })
}

/// Interface name by index.
pub fn ifname(index: u32) -> NetResult<String> {
    sys::if_indextoname(index).ctx(|| format!("looking up the name of ifindex {index}"))
}

/// All interfaces.
pub fn list() -> NetResult<Vec<Interface>> {
    let entries = sys::getifaddrs().ctx(|| "listing interfaces (getifaddrs)".to_string())?;
    let mut out: Vec<Interface> = Vec::new();
    for e in entries {
        let pos = match out.iter().position(|i| i.name == e.name) {
            Some(p) => p,
            None => {
                out.push(Interface {
                    name: e.name.clone(),
                    index: 0,
                    mac: None,
                    up: e.flags & libc::IFF_UP as u32 != 0,
                    running: e.flags & libc::IFF_RUNNING as u32 != 0,
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
            IfAddrKind::Link(l) => {
                i.index = l.index;
                i.mac = l.mac;
            }
            IfAddrKind::None => {}
        }
    }
    for i in out.iter_mut().filter(|i| i.index == 0) {
        if let Ok(idx) = sys::if_nametoindex(&i.name) {
            i.index = idx;
        }
    }
    Ok(out)
}

/// One interface by name.
pub fn interface(name: &str) -> NetResult<Interface> {
    let index = ifindex(name)?;
    let mut found = list()?
        .into_iter()
        .find(|i| i.name == name)
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
    Ok(found)
}

/// Formats a MAC address as `00:00:5e:00:01:01`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
