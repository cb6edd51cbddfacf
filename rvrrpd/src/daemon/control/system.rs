//! The kernel changes the control plane makes: leftovers of a crashed run removed, macvlans
//! created and deleted, VIPs and static routes applied for the workers, and the final
//! clean-up that leaves the system as found.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tracing::{error, info, warn};

use crate::daemon::plan::{GroupSpec, NetDrv};
use crate::daemon::worker::NetOp;
use crate::daemon::DaemonError;
use crate::net::driver::NetDriver;
use crate::net::netlink::CleanupPlan;

use super::Control;

impl Control {
    /// Removes what a crashed run may have left: our routes, our macvlans, configured VIPs.
    pub(super) async fn cleanup_leftovers(&self) {
        let specs = self.specs().clone();
        let plan = CleanupPlan {
            routes: true,
            macvlans: specs
                .values()
                .filter_map(|s| s.vif.as_ref().map(|v| (v.name.clone(), v.mac.0)))
                .collect(),
            vips: specs
                .values()
                .filter(|s| !s.owner && s.netdrv == NetDrv::Netlink)
                .flat_map(|s| s.vips.iter().map(|v| (s.vip_ifname().to_string(), *v)))
                .collect(),
        };
        match self.netlink.cleanup_leftovers(&plan).await {
            Ok(report) => {
                if !report.is_empty() {
                    warn!("removed leftovers of an earlier run: {report}");
                }
            }
            Err(e) => warn!("cleaning leftovers of an earlier run: {e}"),
        }
        Self::cleanup_no_accept_leftovers().await;
    }

    /// Creates the group's macvlan unless it has none or it exists already.
    pub(super) async fn create_vif(&mut self, s: &GroupSpec) -> Result<(), DaemonError> {
        let Some(vif) = &s.vif else { return Ok(()) };
        if self.created_vifs.contains(&vif.name) {
            return Ok(());
        }
        self.netlink
            .create_vif(&vif.name, &s.ifname, vif.mac.0)
            .await
            .map_err(DaemonError::Net)?;
        info!(
            "created macvlan {} on {} with MAC {}",
            vif.name, s.ifname, vif.mac
        );
        self.created_vifs.push(vif.name.clone());
        Ok(())
    }

    /// Applies one group's network change.
    pub(super) async fn apply(&mut self, id: usize, op: NetOp) {
        let Some(spec) = self.spec(id) else { return };
        let result = match op {
            NetOp::AddVips | NetOp::RemoveVips if spec.owner => Ok(()),
            NetOp::AddVips => {
                self.driver(spec.netdrv)
                    .add_vips(spec.vip_ifname(), &spec.vips)
                    .await
            }
            NetOp::RemoveVips => {
                self.driver(spec.netdrv)
                    .remove_vips(spec.vip_ifname(), &spec.vips)
                    .await
            }
            NetOp::InstallRoutes => {
                let first = self.route_holders.is_empty();
                if self.route_holders.insert(id, spec.netdrv).is_none() && first {
                    self.shared.routes_installed.store(true, Ordering::Relaxed);
                    self.driver(spec.netdrv).add_routes(&self.routes).await
                } else {
                    Ok(())
                }
            }
            NetOp::RemoveRoutes => {
                if self.route_holders.remove(&id).is_some() && self.route_holders.is_empty() {
                    self.shared.routes_installed.store(false, Ordering::Relaxed);
                    self.driver(spec.netdrv).remove_routes(&self.routes).await
                } else {
                    Ok(())
                }
            }
        };
        if let Err(e) = result {
            error!("vrouter {} on {}: {op:?}: {e}", spec.vrid, spec.ifname);
        }
    }

    pub(super) async fn delete_vif_if_unused(&mut self, name: &str) {
        let used = self
            .specs()
            .values()
            .any(|s| s.vif.as_ref().is_some_and(|v| v.name == name));
        if !used && self.created_vifs.iter().any(|n| n == name) {
            if let Err(e) = self.netlink.delete_vif(name).await {
                warn!("deleting macvlan {name}: {e}");
            }
            self.created_vifs.retain(|n| n != name);
        }
    }

    /// Removes everything rvrrpd may have added: VIPs (except owned addresses), routes and the
    /// macvlans it created. Idempotent.
    pub(super) async fn final_cleanup(&mut self) {
        let specs: Vec<Arc<GroupSpec>> = self.specs().values().cloned().collect();
        for spec in &specs {
            if !spec.owner {
                let drv = self.driver(spec.netdrv);
                if let Err(e) = drv.remove_vips(spec.vip_ifname(), &spec.vips).await {
                    warn!(
                        "vrouter {} on {}: removing VIPs: {e}",
                        spec.vrid, spec.ifname
                    );
                }
            }
        }
        if let Some(&drv) = self.route_holders.values().next() {
            if let Err(e) = self.driver(drv).remove_routes(&self.routes).await {
                warn!("removing static routes: {e}");
            }
            self.route_holders.clear();
            self.shared.routes_installed.store(false, Ordering::Relaxed);
        }
        // The VIPs are gone: nothing to drop any more.
        self.clear_no_accept().await;
        // Detaches the XDP program from every interface.
        self.fast = None;
        for name in std::mem::take(&mut self.created_vifs) {
            if let Err(e) = self.netlink.delete_vif(&name).await {
                warn!("deleting macvlan {name}: {e}");
            }
        }
        if let Some(ioctl) = &self.ioctl {
            if let Err(e) = ioctl.shutdown().await {
                warn!("restoring addresses changed by the ioctl driver: {e}");
            }
        }
    }

    /// The driver a group uses.
    pub(super) fn driver(&self, netdrv: NetDrv) -> &NetDriver {
        match (netdrv, &self.ioctl) {
            (NetDrv::Ioctl, Some(d)) => d,
            _ => &self.netlink,
        }
    }
}
