//! Interface information: index, MAC address, administrative/operational state, IPv4 and
//! IPv6 addresses with prefix lengths, read with `getifaddrs(3)` (no netlink round trip,
//! usable from any thread).

use super::error::IoContext;
use super::sys;
#[cfg(test)]
use super::types::v6_prefix;
use super::types::{interfaces_from, pick_interface};
pub use super::types::{is_link_local, Interface};
use super::{NetError, NetResult};

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
    Ok(interfaces_from(entries, |n| sys::if_nametoindex(n).ok()))
}

/// One interface by name.
///
/// Alias labels (`eth0:1`) are folded into their interface by `getifaddrs`, so the
/// addresses of `eth0` include those of its labels.
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
