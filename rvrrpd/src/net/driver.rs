//! [`NetDriver`]: one async facade over both network drivers, for the tokio control plane.
//!
//! ```ignore
//! let drv = NetDriver::from_config("libnl")?;          // inside the tokio runtime
//! drv.cleanup_leftovers(&plan).await?;                  // at start-up (libnl only)
//! let vif = drv.create_vif("standby1", "eth0", vmac).await?;   // iftype = macvlan
//! drv.add_vips(&vif, &vips).await?;                     // on becoming Master
//! drv.add_routes(&routes).await?;
//! drv.remove_routes(&routes).await?;                    // on leaving Master
//! drv.remove_vips(&vif, &vips).await?;
//! drv.delete_vif("standby1").await?;                    // at shutdown
//! ```
//!
//! All methods are idempotent: adding what exists and removing what is missing succeed.
//! The ioctl variant is synchronous underneath (ioctls do not block) and does not
//! support macvlan (the original also forces libnl with `iftype = "macvlan"`).

use super::ioctl::IoctlDriver;
use super::netlink::{CleanupPlan, CleanupReport, NetlinkDriver};
use super::{iface, IpPrefix, Ipv4Route, NetError, NetResult};

/// The network driver selected by `netdrv`.
#[derive(Debug)]
pub enum NetDriver {
    /// `netdrv = "libnl"` (default, recommended).
    Netlink(NetlinkDriver),
    /// `netdrv = "ioctl"` (destructive legacy mode, see [`super::ioctl`]).
    Ioctl(IoctlDriver),
}

impl NetDriver {
    /// Builds the driver for a `netdrv` value (`"libnl"` or `"ioctl"`). Call inside the
    /// tokio runtime (the netlink connection task is spawned on it).
    pub fn from_config(netdrv: &str) -> NetResult<Self> {
        match netdrv {
            "libnl" | "netlink" => Ok(NetDriver::Netlink(NetlinkDriver::new()?)),
            "ioctl" => Ok(NetDriver::Ioctl(IoctlDriver::new())),
            other => Err(NetError::Invalid(format!("unknown netdrv {other:?}"))),
        }
    }

    /// Driver name as in the configuration.
    pub fn name(&self) -> &'static str {
        match self {
            NetDriver::Netlink(_) => "libnl",
            NetDriver::Ioctl(_) => "ioctl",
        }
    }

    /// Adds the VIPs to `iface` (Master). ioctl: replaces the interface address.
    pub async fn add_vips(&self, iface_name: &str, vips: &[IpPrefix]) -> NetResult<()> {
        match self {
            NetDriver::Netlink(d) => {
                let idx = iface::ifindex(iface_name)?;
                for v in vips {
                    d.add_address(idx, *v).await?;
                }
                Ok(())
            }
            NetDriver::Ioctl(d) => d.become_master(iface_name, vips),
        }
    }

    /// Removes the VIPs from `iface` (leaving Master). ioctl: restores the saved address.
    pub async fn remove_vips(&self, iface_name: &str, vips: &[IpPrefix]) -> NetResult<()> {
        match self {
            NetDriver::Netlink(d) => {
                let idx = match iface::ifindex(iface_name) {
                    Ok(i) => i,
                    // The interface is gone: so are its addresses.
                    Err(NetError::NoSuchInterface(_)) => return Ok(()),
                    Err(e) => return Err(e),
                };
                let mut first = None;
                for v in vips {
                    if let Err(e) = d.remove_address(idx, *v).await {
                        first.get_or_insert(e);
                    }
                }
                first.map_or(Ok(()), Err)
            }
            NetDriver::Ioctl(d) => d.restore(iface_name),
        }
    }

    /// Installs static routes (Master).
    pub async fn add_routes(&self, routes: &[Ipv4Route]) -> NetResult<()> {
        for r in routes {
            match self {
                NetDriver::Netlink(d) => d.add_route(r).await?,
                NetDriver::Ioctl(d) => d.add_route(r)?,
            };
        }
        Ok(())
    }

    /// Removes static routes (leaving Master); tries all, returns the first error.
    pub async fn remove_routes(&self, routes: &[Ipv4Route]) -> NetResult<()> {
        let mut first = None;
        for r in routes {
            let res = match self {
                NetDriver::Netlink(d) => d.remove_route(r).await,
                NetDriver::Ioctl(d) => d.remove_route(r),
            };
            if let Err(e) = res {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Creates (or reuses) the macvlan `name` on `parent` with the virtual MAC and returns
    /// its name for the VIP calls. libnl only.
    pub async fn create_vif(&self, name: &str, parent: &str, vmac: [u8; 6]) -> NetResult<String> {
        match self {
            NetDriver::Netlink(d) => {
                let p = iface::ifindex(parent)?;
                d.create_macvlan(name, p, vmac).await?;
                Ok(name.to_string())
            }
            NetDriver::Ioctl(_) => Err(NetError::Invalid(format!(
                "creating {name}: macvlan interfaces need netdrv = \"libnl\""
            ))),
        }
    }

    /// Deletes the macvlan `name` (no error if it is gone).
    pub async fn delete_vif(&self, name: &str) -> NetResult<()> {
        match self {
            NetDriver::Netlink(d) => d.delete_link_by_name(name).await.map(drop),
            NetDriver::Ioctl(_) => Ok(()),
        }
    }

    /// Start-up cleanup of a crashed instance's leftovers (libnl); the ioctl driver has
    /// nothing it can recognise and returns an empty report.
    pub async fn cleanup_leftovers(&self, plan: &CleanupPlan) -> NetResult<CleanupReport> {
        match self {
            NetDriver::Netlink(d) => d.cleanup_leftovers(plan).await,
            NetDriver::Ioctl(_) => Ok(CleanupReport::default()),
        }
    }

    /// Shutdown: the ioctl driver restores every replaced address (netlink keeps no
    /// hidden state; the daemon removes its VIPs/routes/vifs explicitly).
    pub async fn shutdown(&self) -> NetResult<()> {
        match self {
            NetDriver::Netlink(_) => Ok(()),
            NetDriver::Ioctl(d) => d.restore_all(),
        }
    }
}
