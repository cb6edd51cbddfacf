//! Interface information on FreeBSD: index, MAC address (the `AF_LINK` entry), state and
//! addresses, read with `getifaddrs(3)`. Same shapes as the Linux `net::iface`, so the
//! daemon's plan code (`crate::net::iface::interface`) uses it unchanged.

use std::net::Ipv6Addr;

use super::sys::{self, IfAddrKind};
use crate::net::error::IoContext;
pub use crate::net::types::{is_link_local, Interface};
use crate::net::{mask_to_prefix, NetError, NetResult};

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
