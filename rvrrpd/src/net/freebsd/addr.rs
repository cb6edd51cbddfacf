//! VIP addresses on FreeBSD with interface ioctls (no netlink): `SIOCAIFADDR` with a
//! `struct in_aliasreq` adds an IPv4 alias next to the interface's own addresses (unlike
//! the destructive Linux `netdrv = "ioctl"`, nothing is replaced), `SIOCDIFADDR` with a
//! `struct ifreq` removes it. IPv6 VIPs (`SIOCAIFADDR_IN6`) are not implemented yet.

use std::net::IpAddr;

use super::{codec, sys};
use crate::net::error::IoContext;
use crate::net::{prefix_to_mask, IpPrefix, NetError, NetResult};

/// Adds and removes VIPs (same verbs as `net::driver::NetDriver`, synchronous).
#[derive(Debug, Default)]
pub struct AddrDriver;

impl AddrDriver {
    /// A new driver.
    pub fn new() -> Self {
        AddrDriver
    }

    /// Adds `vips` to `iface`. Adding an address that is already there succeeds
    /// (`SIOCAIFADDR` changes it in place).
    pub fn add_vips(&self, iface: &str, vips: &[IpPrefix]) -> NetResult<()> {
        let s = sys::ioctl_socket().ctx(|| "creating ioctl socket".into())?;
        for p in vips {
            let IpAddr::V4(a) = p.addr else {
                return Err(v6_unsupported(iface, p));
            };
            let mut req = codec::in_aliasreq_bytes(iface, a, prefix_to_mask(p.prefix_len))
                .ok_or_else(|| bad_name(iface))?;
            sys::ioctl_bytes(&s, codec::SIOCAIFADDR, &mut req)
                .ctx(|| format!("adding {p} to {iface} (SIOCAIFADDR)"))?;
        }
        Ok(())
    }

    /// Removes `vips` from `iface`; addresses that are not there are skipped.
    pub fn remove_vips(&self, iface: &str, vips: &[IpPrefix]) -> NetResult<()> {
        let s = sys::ioctl_socket().ctx(|| "creating ioctl socket".into())?;
        for p in vips {
            let IpAddr::V4(a) = p.addr else {
                return Err(v6_unsupported(iface, p));
            };
            let mut req = codec::ifreq_bytes(iface, Some(a)).ok_or_else(|| bad_name(iface))?;
            match sys::ioctl_bytes(&s, codec::SIOCDIFADDR, &mut req) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {}
                Err(e) => {
                    return Err(NetError::os(
                        format!("removing {p} from {iface} (SIOCDIFADDR)"),
                        e,
                    ))
                }
            }
        }
        Ok(())
    }
}

fn bad_name(iface: &str) -> NetError {
    NetError::Invalid(format!("invalid interface name {iface:?}"))
}

fn v6_unsupported(iface: &str, p: &IpPrefix) -> NetError {
    NetError::Invalid(format!(
        "adding or removing IPv6 VIP {p} on {iface} is not implemented on FreeBSD yet"
    ))
}
