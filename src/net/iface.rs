//! Interface information: index, MAC address, administrative/operational state, IPv4 and
//! IPv6 addresses with prefix lengths, read with `getifaddrs(3)` (no netlink round trip,
//! usable from any thread).

use std::net::Ipv6Addr;

use super::error::IoContext;
use super::sys::{self, IfAddrKind};
pub use super::types::{is_link_local, Interface};
use super::{mask_to_prefix, NetError, NetResult};

fn v6_prefix(mask: Option<Ipv6Addr>) -> u8 {
    mask.map(|m| u128::from(m).leading_ones() as u8)
        .unwrap_or(128)
}

/// Interface index by name.
pub fn ifindex(name: &str) -> NetResult<u32> {
    sys::if_nametoindex(name).map_err(|e| match e.raw_os_error() {
        Some(libc::ENODEV) | Some(libc::ENXIO) => NetError::NoSuchInterface(name.to_string()),
        _ => NetError::os(format!("looking up the index of {name}"), e),
    })
}

/// Interface name by index.
pub fn ifname(index: u32) -> NetResult<String> {
    sys::if_indextoname(index).ctx(|| format!("looking up the name of ifindex {index}"))
}

/// All interfaces of the current network namespace.
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
                let p = mask.and_then(mask_to_prefix).unwrap_or(32);
                i.ipv4.push((addr, p));
            }
            IfAddrKind::V6 { addr, mask, .. } => i.ipv6.push((addr, v6_prefix(mask))),
            IfAddrKind::Link { ifindex, mac } => {
                i.index = ifindex;
                i.mac = mac;
                i.up = e.flags & libc::IFF_UP as u32 != 0;
                i.running = e.flags & libc::IFF_RUNNING as u32 != 0;
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
///
/// Alias labels (`eth0:1`) are folded into their interface by `getifaddrs`, so the
/// addresses of `eth0` include those of its labels.
pub fn interface(name: &str) -> NetResult<Interface> {
    let index = ifindex(name)?;
    let mut all = list()?;
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
    Ok(found)
}

/// Formats a MAC address as `00:00:5e:00:01:01`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_listed() {
        let lo = interface("lo").expect("lo exists");
        assert!(lo.index > 0);
        assert!(lo.ipv4.iter().any(|(a, p)| a.is_loopback() && *p == 8) || lo.ipv4.is_empty());
        assert!(matches!(
            ifindex("rvrrpd-nope0"),
            Err(NetError::NoSuchInterface(_))
        ));
    }

    #[test]
    fn helpers() {
        assert!(is_link_local(&"fe80::1".parse().unwrap()));
        assert!(!is_link_local(&"2001:db8::1".parse().unwrap()));
        assert_eq!(
            v6_prefix(Some("ffff:ffff:ffff:ffff::".parse().unwrap())),
            64
        );
        assert_eq!(format_mac(&[0, 0, 0x5e, 0, 1, 7]), "00:00:5e:00:01:07");
    }
}
