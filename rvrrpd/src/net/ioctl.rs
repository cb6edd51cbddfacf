//! `netdrv = "ioctl"`: the original's legacy driver, kept for compatibility.
//!
//! **Destructive by design.** As documented by rVRRPd ("simpler but will remove the
//! interface's IP address(es) for the VIP when in Master state"): on becoming Master the
//! interface's primary IPv4 address and netmask are saved and **replaced** by the VIP with
//! `SIOCSIFADDR`/`SIOCSIFNETMASK`; on leaving Master (or at shutdown) the saved address is
//! put back. While Master the host loses its own address on that interface (and, unless
//! `promote_secondaries` is set, the kernel also drops secondary addresses of the same
//! subnet). Use `netdrv = "libnl"` ([`super::netlink`]) whenever possible.
//!
//! Details:
//! * The first IPv4 VIP replaces the primary address. The netmask is the VIP's prefix if
//!   it is shorter than /32, otherwise the saved netmask (so the connected subnet stays).
//!   Further IPv4 VIPs are added as alias labels `IFACE:N` (the `ifconfig eth0:1` way)
//!   and removed by downing the label. IPv6 VIPs are not supported by this driver.
//! * Routes: `SIOCADDRT`/`SIOCDELRT`; they cannot carry a route protocol, so they show
//!   as `proto boot` and crash leftovers cannot be told apart from the admin's routes.
//! * An interface without an IPv4 address gets the VIP; restoring removes it again
//!   (`SIOCSIFADDR 0.0.0.0`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;

use super::error::IoContext;
use super::{mask_to_prefix, prefix_to_mask, sys, IpPrefix, Ipv4Route, NetError, NetResult};

/// What was on an interface before the VIP replaced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SavedAddress {
    /// Previous primary address (`None`: the interface had no IPv4 address).
    pub addr: Option<Ipv4Addr>,
    /// Previous netmask.
    pub netmask: Option<Ipv4Addr>,
}

#[derive(Debug)]
struct IfState {
    saved: SavedAddress,
    aliases: Vec<String>,
}

/// The ioctl driver (see the module documentation). Methods are synchronous and fast.
#[derive(Debug, Default)]
pub struct IoctlDriver {
    state: Mutex<HashMap<String, IfState>>,
}

impl IoctlDriver {
    /// A new driver with nothing saved.
    pub fn new() -> Self {
        Self::default()
    }

    /// Current primary IPv4 address and netmask of `iface`.
    pub fn get_address(&self, iface: &str) -> NetResult<SavedAddress> {
        let s = sys::ioctl_socket().ctx(|| "creating ioctl socket".into())?;
        let addr = sys::ioctl_get_v4(&s, iface, libc::SIOCGIFADDR)
            .ctx(|| format!("reading the IPv4 address of {iface} (SIOCGIFADDR)"))?;
        let netmask = match addr {
            Some(_) => sys::ioctl_get_v4(&s, iface, libc::SIOCGIFNETMASK)
                .ctx(|| format!("reading the netmask of {iface} (SIOCGIFNETMASK)"))?,
            None => None,
        };
        Ok(SavedAddress { addr, netmask })
    }

    /// Becomes Master on `iface`: saves the current address (once) and installs `vips`.
    /// Idempotent: calling it again re-applies the VIPs without overwriting the saved
    /// address.
    pub fn become_master(&self, iface: &str, vips: &[IpPrefix]) -> NetResult<()> {
        let v4: Vec<(Ipv4Addr, u8)> = vips
            .iter()
            .filter_map(|p| match p.addr {
                IpAddr::V4(a) => Some((a, p.prefix_len)),
                IpAddr::V6(_) => None,
            })
            .collect();
        if v4.len() != vips.len() {
            return Err(NetError::Invalid(format!(
                "the ioctl driver cannot add IPv6 addresses to {iface}; use netdrv = \"libnl\""
            )));
        }
        let Some(&(first, first_len)) = v4.first() else {
            return Ok(());
        };
        let s = sys::ioctl_socket().ctx(|| "creating ioctl socket".into())?;
        let mut st = self
            .state
            .lock()
            .map_err(|_| NetError::Invalid("ioctl driver state lock poisoned".into()))?;
        if !st.contains_key(iface) {
            let saved = self.get_address(iface)?;
            st.insert(
                iface.to_string(),
                IfState {
                    saved,
                    aliases: Vec::new(),
                },
            );
        }
        let Some(entry) = st.get_mut(iface) else {
            return Err(NetError::NoSuchInterface(iface.to_string()));
        };
        let mask = if first_len < 32 {
            prefix_to_mask(first_len)
        } else {
            entry.saved.netmask.unwrap_or(Ipv4Addr::BROADCAST)
        };
        let what = IpPrefix::host(IpAddr::V4(first));
        set_addr_mask(&s, iface, first, mask)
            .map_err(|e| reword(e, format!("setting {what} on {iface} (SIOCSIFADDR)")))?;
        for (i, (a, len)) in v4.iter().enumerate().skip(1) {
            let label = alias_label(iface, i)?;
            set_addr_mask(&s, &label, *a, prefix_to_mask((*len).min(32)))
                .map_err(|e| reword(e, format!("adding {a}/{len} to {label} (SIOCSIFADDR)")))?;
            if !entry.aliases.contains(&label) {
                entry.aliases.push(label);
            }
        }
        Ok(())
    }

    /// Leaves Master on `iface`: removes alias VIPs and restores the saved address.
    /// No-op if nothing was saved.
    pub fn restore(&self, iface: &str) -> NetResult<()> {
        let s = sys::ioctl_socket().ctx(|| "creating ioctl socket".into())?;
        let mut st = self
            .state
            .lock()
            .map_err(|_| NetError::Invalid("ioctl driver state lock poisoned".into()))?;
        let Some(entry) = st.remove(iface) else {
            return Ok(());
        };
        for label in &entry.aliases {
            if let Ok(flags) = sys::ioctl_get_flags(&s, label) {
                let _ = sys::ioctl_set_flags(&s, label, flags & !(libc::IFF_UP as libc::c_short));
            }
        }
        let r = match entry.saved.addr {
            Some(a) => set_addr_mask(
                &s,
                iface,
                a,
                entry.saved.netmask.unwrap_or(Ipv4Addr::BROADCAST),
            )
            .map_err(|e| reword(e, format!("restoring {a} on {iface} (SIOCSIFADDR)"))),
            None => sys::ioctl_set_v4(&s, iface, libc::SIOCSIFADDR, Ipv4Addr::UNSPECIFIED)
                .ctx(|| format!("removing the VIP from {iface} (SIOCSIFADDR 0.0.0.0)")),
        };
        if r.is_err() {
            // Keep the saved state so a retry can restore it.
            st.insert(iface.to_string(), entry);
        }
        r
    }

    /// Interfaces whose address is currently replaced (what a shutdown must restore).
    pub fn saved(&self) -> Vec<(String, SavedAddress)> {
        self.state
            .lock()
            .map(|st| st.iter().map(|(k, v)| (k.clone(), v.saved)).collect())
            .unwrap_or_default()
    }

    /// Restores every saved interface (shutdown). Returns the first error after trying
    /// all of them.
    pub fn restore_all(&self) -> NetResult<()> {
        let mut first = None;
        for (iface, _) in self.saved() {
            if let Err(e) = self.restore(&iface) {
                tracing::warn!("{e}");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Adds an IPv4 route with `SIOCADDRT`. Returns `false` if it already existed.
    pub fn add_route(&self, r: &Ipv4Route) -> NetResult<bool> {
        self.route(libc::SIOCADDRT, r, libc::EEXIST, "adding")
    }

    /// Removes an IPv4 route with `SIOCDELRT`. Returns `false` if it did not exist.
    pub fn remove_route(&self, r: &Ipv4Route) -> NetResult<bool> {
        self.route(libc::SIOCDELRT, r, libc::ESRCH, "removing")
    }

    fn route(&self, req: libc::Ioctl, r: &Ipv4Route, benign: i32, verb: &str) -> NetResult<bool> {
        let s = sys::ioctl_socket().ctx(|| "creating ioctl socket".into())?;
        match sys::ioctl_route(
            &s,
            req,
            r.dst,
            prefix_to_mask(r.prefix_len),
            r.gateway,
            r.metric,
            r.mtu,
        ) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(benign) => Ok(false),
            Err(e) => Err(NetError::os(format!("{verb} route {r}"), e)),
        }
    }
}

fn reword(e: std::io::Error, context: String) -> NetError {
    NetError::os(context, e)
}

fn set_addr_mask(
    s: &socket2::Socket,
    name: &str,
    addr: Ipv4Addr,
    mask: Ipv4Addr,
) -> std::io::Result<()> {
    sys::ioctl_set_v4(s, name, libc::SIOCSIFADDR, addr)?;
    // SIOCSIFADDR resets the mask to the classful default: set ours afterwards.
    sys::ioctl_set_v4(s, name, libc::SIOCSIFNETMASK, mask)?;
    // Make sure an alias label is up (a no-op for an up base interface).
    let flags = sys::ioctl_get_flags(s, name)?;
    if flags & libc::IFF_UP as libc::c_short == 0 && name.contains(':') {
        sys::ioctl_set_flags(s, name, flags | libc::IFF_UP as libc::c_short)?;
    }
    Ok(())
}

fn alias_label(iface: &str, n: usize) -> NetResult<String> {
    let label = format!("{iface}:{n}");
    if label.len() >= libc::IFNAMSIZ {
        return Err(NetError::Invalid(format!(
            "alias label {label} is longer than {} bytes",
            libc::IFNAMSIZ - 1
        )));
    }
    Ok(label)
}

/// The prefix length of a saved address (for logs).
pub fn saved_prefix(s: &SavedAddress) -> Option<u8> {
    s.netmask.and_then(mask_to_prefix)
}
