//! IP address values: virtual addresses (`vip`), address families and plain IPv4 directives.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::serde_util::{parse_list, value_error};

/// IP address family of a virtual router: the protocol core's own type.
pub use crate::wire::Family as AddressFamily;

/// One virtual address: `10.0.0.1`, `10.0.0.1/24`, `2001:db8::1/64`, `fe80::1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VirtualAddress {
    /// The address itself.
    pub addr: IpAddr,
    /// Prefix length to install the address with; `None` means a host address (/32 or /128).
    pub prefix_len: Option<u8>,
}

impl VirtualAddress {
    /// Address family.
    pub fn family(&self) -> AddressFamily {
        AddressFamily::of(&self.addr)
    }

    /// The configured prefix length, or the host prefix (/32, /128) when none was given.
    pub fn effective_prefix_len(&self) -> u8 {
        self.prefix_len
            .unwrap_or_else(|| self.family().max_prefix_len())
    }
}

impl FromStr for VirtualAddress {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |why: &str| value_error(format_args!("{text:?}"), why);
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| invalid("is not a valid IPv4 or IPv6 address"))?;
        let family = AddressFamily::of(&addr);
        let prefix_len = match prefix {
            None => None,
            Some(prefix) => match prefix.trim().parse::<u8>() {
                Ok(len) if len <= family.max_prefix_len() => Some(len),
                _ => {
                    return Err(invalid(&format!(
                        "has an invalid prefix length (0–{} for {family})",
                        family.max_prefix_len()
                    )))
                }
            },
        };
        let unusable = match addr {
            IpAddr::V4(v4) => v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast(),
            IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast() || v6.is_loopback(),
        };
        if unusable {
            return Err(invalid(
                "cannot be a virtual address (unspecified, multicast, broadcast or loopback)",
            ));
        }
        Ok(Self { addr, prefix_len })
    }
}

impl fmt::Display for VirtualAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix_len {
            Some(len) => write!(f, "{}/{len}", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

impl Serialize for VirtualAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VirtualAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// Deserializes `vip`: one address as a string, or (extension) a non-empty list of them.
pub(crate) fn deserialize_vips<'de, D>(deserializer: D) -> Result<Vec<VirtualAddress>, D::Error>
where
    D: Deserializer<'de>,
{
    struct VipVisitor;

    impl<'de> Visitor<'de> for VipVisitor {
        type Value = Vec<VirtualAddress>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an IP address string or a list of IP address strings")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(vec![text.parse().map_err(E::custom)?])
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            let vips = parse_list(seq)?;
            if vips.is_empty() {
                return Err(de::Error::custom("must list at least one virtual address"));
            }
            Ok(vips)
        }
    }

    deserializer.deserialize_any(VipVisitor)
}

/// Serializes `vip` as a string when there is one address, as a list otherwise.
pub(crate) fn serialize_vips<S>(vips: &[VirtualAddress], serializer: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
{
    match vips {
        [one] => one.serialize(serializer),
        many => many.serialize(serializer),
    }
}

/// Deserializes a dotted-quad IPv4 address with a message naming the value.
pub(crate) fn deserialize_ipv4<'de, D>(deserializer: D) -> Result<Ipv4Addr, D::Error>
where
    D: Deserializer<'de>,
{
    let text = String::deserialize(deserializer)?;
    text.trim().parse().map_err(|_| {
        de::Error::custom(value_error(
            format_args!("{text:?}"),
            "is not a valid IPv4 address",
        ))
    })
}
