//! `[protocols]`: routes installed while a virtual router is master.

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::address::deserialize_ipv4;
use super::serde_util::value_error;

/// The `[protocols]` section.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocols {
    /// `[[protocols.static]]` routes.
    #[serde(
        rename = "static",
        default,
        deserialize_with = "super::serde_util::or_default"
    )]
    pub static_routes: Vec<StaticRoute>,
}

/// One `[[protocols.static]]` route (IPv4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticRoute {
    /// Destination network.
    #[serde(deserialize_with = "deserialize_ipv4")]
    pub route: Ipv4Addr,
    /// Destination netmask, dotted and contiguous.
    pub mask: Netmask,
    /// Next hop.
    #[serde(deserialize_with = "deserialize_ipv4")]
    pub nh: Ipv4Addr,
    /// Route metric.
    #[serde(default)]
    pub metric: Option<u16>,
    /// Route MTU.
    #[serde(default)]
    pub mtu: Option<u16>,
}

impl StaticRoute {
    /// Prefix length of the mask (`255.255.255.0` → 24).
    pub fn prefix_len(&self) -> u8 {
        self.mask.prefix_len()
    }
}

/// A contiguous dotted IPv4 netmask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Netmask(Ipv4Addr);

impl Netmask {
    /// The mask as an address.
    pub fn addr(self) -> Ipv4Addr {
        self.0
    }

    /// Number of leading one bits.
    pub fn prefix_len(self) -> u8 {
        // At most 32, so the conversion cannot fail.
        u8::try_from(u32::from(self.0).leading_ones()).unwrap_or(32)
    }
}

impl TryFrom<&str> for Netmask {
    type Error = String;

    fn try_from(text: &str) -> Result<Self, Self::Error> {
        let invalid = |why: &str| value_error(format_args!("{text:?}"), why);
        let mask: Ipv4Addr = text
            .trim()
            .parse()
            .map_err(|_| invalid("is not a valid netmask (dotted quad, e.g. 255.255.255.0)"))?;
        let bits = u32::from(mask);
        if bits.leading_ones() + bits.trailing_zeros() < 32 {
            return Err(invalid(
                "is not a valid netmask (its one bits must be contiguous)",
            ));
        }
        Ok(Self(mask))
    }
}

impl fmt::Display for Netmask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Netmask {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Netmask {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::try_from(text.as_str()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmask_contiguity() {
        assert_eq!(
            Netmask::try_from("255.255.255.0").map(Netmask::prefix_len),
            Ok(24)
        );
        assert_eq!(Netmask::try_from("0.0.0.0").map(Netmask::prefix_len), Ok(0));
        assert_eq!(
            Netmask::try_from("255.255.255.255").map(Netmask::prefix_len),
            Ok(32)
        );
        assert!(Netmask::try_from("255.0.255.0").is_err());
        assert!(Netmask::try_from("0.0.0.255").is_err());
    }
}
