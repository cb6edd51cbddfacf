//! The control plane: prepares the system (leftover clean-up, macvlan interfaces), starts the
//! workers, applies the address and route changes they ask for, and handles signals — TERM/INT
//! make every worker send its priority-0 adverts, then everything rvrrpd added is removed.

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tracing::{error, info, warn};

use super::plan::{GroupSpec, NetDrv};
use super::status::StatusBoard;
use super::sys::EventFd;
use super::worker::{NetOp, Worker, WorkerCmd, WorkerEvent};
use super::DaemonError;
use crate::config::Config;
use crate::net::driver::NetDriver;
use crate::net::netlink::CleanupPlan;
use crate::net::Ipv4Route;

/// How long shutdown waits for workers to send their priority-0 adverts.
const WORKER_STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// A started worker as seen from the control plane.
struct WorkerHandle {
    cmds: Sender<WorkerCmd>,
    wake: Arc<EventFd>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The control plane's state.
pub struct Control {
    specs: Vec<GroupSpec>,
    routes: Vec<Ipv4Route>,
    /// rtnetlink: macvlans, leftovers, and the addresses/routes of `netdrv = "libnl"` groups.
    netlink: NetDriver,
    /// The ioctl driver, when a group asks for it.
    ioctl: Option<NetDriver>,
    /// Number of groups currently Master that asked for the static routes.
    route_users: usize,
    /// Per group: whether it currently asked for the routes (so counting stays right).
    route_held: Vec<bool>,
    /// Macvlans we created (name), to delete at exit.
    created_vifs: Vec<String>,
    status: Arc<StatusBoard>,
}

impl Control {
    /// Prepares the system for `specs` and returns the control plane; nothing is changed if an
    /// error is returned before the first macvlan is created.
    pub async fn prepare(config: &Config, specs: Vec<GroupSpec>) -> Result<Self, DaemonError> {
        let netlink = NetDriver::from_config("libnl").map_err(DaemonError::Net)?;
        let ioctl = if specs.iter().any(|s| s.netdrv == NetDrv::Ioctl) {
            Some(NetDriver::from_config("ioctl").map_err(DaemonError::Net)?)
        } else {
            None
        };
        let routes = super::plan::static_routes(config);
        let mut control = Control {
            route_held: vec![false; specs.len()],
            status: Arc::new(StatusBoard::new(specs.len())),
            specs,
            routes,
            netlink,
            ioctl,
            route_users: 0,
            created_vifs: Vec::new(),
        };
        control.cleanup_leftovers().await;
        if let Err(e) = control.create_vifs().await {
            control.final_cleanup().await;
            return Err(e);
        }
        Ok(control)
    }

    /// The status board workers publish to.
    pub fn status(&self) -> Arc<StatusBoard> {
        self.status.clone()
    }

    /// Removes what a crashed run may have left: our routes, our macvlans, configured VIPs.
    async fn cleanup_leftovers(&self) {
        let plan = CleanupPlan {
            routes: true,
            macvlans: self
                .specs
                .iter()
                .filter_map(|s| s.vif.as_ref().map(|v| (v.name.clone(), v.mac.0)))
                .collect(),
            vips: self
                .specs
                .iter()
                .filter(|s| !s.owner && s.netdrv == NetDrv::Netlink)
                .flat_map(|s| s.vips.iter().map(|v| (s.vip_ifname.clone(), *v)))
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
    }

    async fn create_vifs(&mut self) -> Result<(), DaemonError> {
        let mut done: Vec<String> = Vec::new();
        for s in &self.specs {
            let Some(vif) = &s.vif else { continue };
            if done.contains(&vif.name) {
                continue;
            }
            self.netlink
                .create_vif(&vif.name, &s.ifname, vif.mac.0)
                .await
                .map_err(DaemonError::Net)?;
            info!(
                "created macvlan {} on {} with MAC {}",
                vif.name, s.ifname, vif.mac
            );
            done.push(vif.name.clone());
            self.created_vifs.push(vif.name.clone());
        }
        Ok(())
    }

    /// Starts the workers, runs until a termination signal, then shuts down cleanly.
    pub async fn run(mut self, workers: usize) -> Result<(), DaemonError> {
        let (ev_tx, mut ev_rx) = unbounded_channel();
        let shards = shard(&self.specs, workers);
        let mut handles: Vec<WorkerHandle> = Vec::new();
        for (id, shard) in shards.into_iter().enumerate() {
            let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
            let wake = Arc::new(EventFd::new().map_err(|e| DaemonError::Io("eventfd".into(), e))?);
            let worker = match Worker::new(
                id,
                shard,
                cmd_rx,
                wake.clone(),
                ev_tx.clone(),
                self.status.clone(),
            ) {
                Ok(w) => w,
                Err(e) => {
                    stop_workers(&mut handles);
                    self.final_cleanup().await;
                    return Err(DaemonError::Worker(e));
                }
            };
            let thread = std::thread::Builder::new()
                .name(format!("rvrrpd-w{id}"))
                .spawn(move || worker.run())
                .map_err(|e| DaemonError::Io("spawning a worker thread".into(), e))?;
            handles.push(WorkerHandle {
                cmds: cmd_tx,
                wake,
                thread: Some(thread),
            });
        }
        info!(
            "rvrrpd {} running {} virtual router(s) on {} worker(s) (receive path: raw sockets + classic BPF)",
            env!("CARGO_PKG_VERSION"),
            self.specs.len(),
            handles.len()
        );

        let mut term = signal(SignalKind::terminate())
            .map_err(|e| DaemonError::Io("SIGTERM handler".into(), e))?;
        let mut int = signal(SignalKind::interrupt())
            .map_err(|e| DaemonError::Io("SIGINT handler".into(), e))?;
        let mut hup = signal(SignalKind::hangup())
            .map_err(|e| DaemonError::Io("SIGHUP handler".into(), e))?;
        loop {
            tokio::select! {
                _ = term.recv() => { info!("SIGTERM: leaving"); break; }
                _ = int.recv() => { info!("SIGINT: leaving"); break; }
                _ = hup.recv() => { warn!("SIGHUP: configuration reload is not supported yet; restart rvrrpd to apply changes"); }
                ev = ev_rx.recv() => match ev {
                    Some(ev) => self.handle_event(ev).await,
                    None => break,
                },
            }
        }
        self.shutdown(handles, &mut ev_rx).await;
        Ok(())
    }

    async fn handle_event(&mut self, ev: WorkerEvent) {
        match ev {
            WorkerEvent::Net { group, op } => self.apply(group, op).await,
            WorkerEvent::Stopped { worker } => warn!("worker {worker} stopped unexpectedly"),
        }
    }

    /// Applies one group's network change.
    async fn apply(&mut self, g: usize, op: NetOp) {
        let Some(spec) = self.specs.get(g) else {
            return;
        };
        let result = match op {
            NetOp::AddVips if spec.owner => Ok(()),
            NetOp::RemoveVips if spec.owner => Ok(()),
            NetOp::AddVips => {
                self.driver(spec.netdrv)
                    .add_vips(&spec.vip_ifname, &spec.vips)
                    .await
            }
            NetOp::RemoveVips => {
                self.driver(spec.netdrv)
                    .remove_vips(&spec.vip_ifname, &spec.vips)
                    .await
            }
            NetOp::InstallRoutes => {
                if !self.route_held[g] {
                    self.route_held[g] = true;
                    self.route_users += 1;
                    if self.route_users == 1 {
                        self.driver(spec.netdrv).add_routes(&self.routes).await
                    } else {
                        Ok(())
                    }
                } else {
                    Ok(())
                }
            }
            NetOp::RemoveRoutes => {
                if self.route_held[g] {
                    self.route_held[g] = false;
                    self.route_users -= 1;
                    if self.route_users == 0 {
                        self.driver(spec.netdrv).remove_routes(&self.routes).await
                    } else {
                        Ok(())
                    }
                } else {
                    Ok(())
                }
            }
        };
        if let Err(e) = result {
            error!("vrouter {} on {}: {op:?}: {e}", spec.vrid, spec.ifname);
        }
    }

    async fn shutdown(
        mut self,
        mut handles: Vec<WorkerHandle>,
        ev_rx: &mut UnboundedReceiver<WorkerEvent>,
    ) {
        for h in &handles {
            let _ = h.cmds.send(WorkerCmd::Shutdown);
            h.wake.notify();
        }
        // Keep applying the workers' last changes (RemoveVips, RemoveRoutes) until all stopped.
        let mut running = handles.len();
        let deadline = tokio::time::Instant::now() + WORKER_STOP_TIMEOUT;
        while running > 0 {
            match tokio::time::timeout_at(deadline, ev_rx.recv()).await {
                Ok(Some(WorkerEvent::Stopped { .. })) => running -= 1,
                Ok(Some(WorkerEvent::Net { group, op })) => self.apply(group, op).await,
                Ok(None) => break,
                Err(_) => {
                    warn!("{running} worker(s) did not stop in {WORKER_STOP_TIMEOUT:?}");
                    break;
                }
            }
        }
        for h in &mut handles {
            if let Some(t) = h.thread.take() {
                if t.is_finished() {
                    let _ = t.join();
                }
            }
        }
        self.final_cleanup().await;
        info!("rvrrpd stopped");
    }

    /// Removes everything rvrrpd may have added: VIPs (except owned addresses), routes and the
    /// macvlans it created. Idempotent.
    async fn final_cleanup(&mut self) {
        for spec in &self.specs {
            if !spec.owner {
                let drv = self.driver(spec.netdrv);
                if let Err(e) = drv.remove_vips(&spec.vip_ifname, &spec.vips).await {
                    warn!(
                        "vrouter {} on {}: removing VIPs: {e}",
                        spec.vrid, spec.ifname
                    );
                }
            }
        }
        if self.route_users > 0 {
            let drv = self.specs.first().map_or(NetDrv::Netlink, |s| s.netdrv);
            if let Err(e) = self.driver(drv).remove_routes(&self.routes).await {
                warn!("removing static routes: {e}");
            }
            self.route_users = 0;
        }
        for name in self.created_vifs.drain(..) {
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
}

impl Control {
    /// The driver a group uses.
    fn driver(&self, netdrv: NetDrv) -> &NetDriver {
        match (netdrv, &self.ioctl) {
            (NetDrv::Ioctl, Some(d)) => d,
            _ => &self.netlink,
        }
    }
}

fn stop_workers(handles: &mut [WorkerHandle]) {
    for h in handles.iter() {
        let _ = h.cmds.send(WorkerCmd::Shutdown);
        h.wake.notify();
    }
    for h in handles.iter_mut() {
        if let Some(t) = h.thread.take() {
            let _ = t.join();
        }
    }
}

/// Splits the groups into at most `workers` shards, keeping all groups of one interface and
/// family together when there are few interfaces is not required: each worker opens its own
/// filtered socket for the VRIDs it owns.
fn shard(specs: &[GroupSpec], workers: usize) -> Vec<Vec<GroupSpec>> {
    let n = workers.clamp(1, specs.len().max(1));
    let mut shards = vec![Vec::new(); n];
    for (i, s) in specs.iter().enumerate() {
        shards[i % n].push(s.clone());
    }
    shards.retain(|s| !s.is_empty());
    shards
}
