//! Plain, portable value types shared by the drivers.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

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
