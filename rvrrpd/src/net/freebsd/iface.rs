//! Interface information on FreeBSD: index, MAC address (the `AF_LINK` entry), state and
//! addresses, read with `getifaddrs(3)`. Same shapes as the Linux `net::iface`, so the
//! daemon's plan code (`crate::net::iface::interface`) uses it unchanged.

use super::sys;
use crate::net::error::IoContext;
use crate::net::types::{interfaces_from, pick_interface};
pub use crate::net::types::{is_link_local, Interface};
use crate::net::{NetError, NetResult};

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
    Ok(interfaces_from(entries, |n| sys::if_nametoindex(n).ok()))
}

/// One interface by name.
pub fn interface(name: &str) -> NetResult<Interface> {
    let index = ifindex(name)?;
    Ok(pick_interface(name, index, list()?))
}

/// Formats a MAC address as `00:00:5e:00:01:01`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
