//! The control plane: prepares the system (leftover clean-up, macvlan interfaces), starts the
//! workers and the client API, applies the address and route changes workers ask for and the
//! writes the API queues, and handles signals — TERM/INT make every worker send its
//! priority-0 adverts, then everything rvrrpd added is removed.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crossbeam_channel::Sender;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::sync::oneshot;
use tracing::{error, info, warn};

use super::api_backend::{ApiRequest, DaemonBackend, Shared};
use super::plan::{self, GroupSpec, NetDrv};
use super::status::{LatenessHistogram, StatusBoard};
use super::sys::EventFd;
use super::worker::{NetOp, Reply, Worker, WorkerCmd, WorkerEvent, WorkerLinks};
use super::DaemonError;
use crate::api::backend::{WriteError, WriteOp, WriteOutcome};
use crate::config::Config;
use crate::net::driver::NetDriver;
use crate::net::netlink::CleanupPlan;
use crate::net::xdp::{
    DemuxKey, FastPath, FastPathConfig, WorkerRing, FAMILY_V4, FAMILY_V6, MAX_WORKERS,
};
use crate::net::Ipv4Route;
use crate::wire::Family;

/// How long shutdown waits for workers to send their priority-0 adverts.
const WORKER_STOP_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an API write waits for its worker.
const WORKER_REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// A started worker as seen from the control plane.
struct WorkerHandle {
    cmds: Sender<WorkerCmd>,
    wake: Arc<EventFd>,
    thread: Option<std::thread::JoinHandle<()>>,
    groups: usize,
}

impl WorkerHandle {
    fn send(&self, cmd: WorkerCmd) {
        let _ = self.cmds.send(cmd);
        self.wake.notify();
    }
}

/// The control plane's state.
pub struct Control {
    shared: Arc<Shared>,
    routes: Vec<Ipv4Route>,
    /// rtnetlink: macvlans, leftovers, and the addresses/routes of `netdrv = "libnl"` groups.
    netlink: NetDriver,
    /// The ioctl driver, when a group asks for it.
    ioctl: Option<NetDriver>,
    /// Groups currently holding the static routes (installed while at least one does).
    route_holders: BTreeMap<usize, NetDrv>,
    /// Macvlans we created (name), to delete at exit.
    created_vifs: Vec<String>,
    workers: Vec<WorkerHandle>,
    /// Group id → worker number.
    owner: BTreeMap<usize, usize>,
    next_id: usize,
    /// The eBPF object, when loaded (dropping it detaches everything).
    fast: Option<FastPath>,
    /// Whether XDP is attached (else `fast`, if any, serves the eBPF socket filter).
    xdp: bool,
    /// Shards and rings prepared for the workers `run` starts.
    pending: Vec<(Vec<Arc<GroupSpec>>, Option<WorkerRing>)>,
    /// Network changes and API writes since the heap was last trimmed, and the quiet seconds
    /// since the last of them (see [`Control::trim_heap_when_quiet`]).
    heap_churn: u64,
    quiet_ticks: u8,
}

/// The XDP demux key of a group.
fn demux_key(s: &GroupSpec) -> DemuxKey {
    let family = match s.family {
        Family::Ipv4 => FAMILY_V4,
        Family::Ipv6 => FAMILY_V6,
    };
    DemuxKey::new(s.ifindex, s.vrid, family)
}

/// The receive path chosen at start-up.
enum FastSetup {
    /// XDP attached everywhere: one ring per shard.
    Xdp(FastPath, Vec<WorkerRing>, String),
    /// The object loaded but XDP could not attach (or `RVRRPD_NO_XDP`): the eBPF socket
    /// filter, reading the same demux map, goes on the raw sockets.
    SocketFilter(FastPath, String),
}

/// Bytes one advert of group `s` takes in a ring (small or full record, by its length).
fn ring_record_bytes(s: &GroupSpec) -> u64 {
    let per_addr = match s.family {
        Family::Ipv4 => 4,
        Family::Ipv6 => 16,
    };
    let auth = match s.version {
        crate::wire::Version::V2 => rvrrpd_common::VRRP_V2_AUTH_LEN,
        crate::wire::Version::V3 => 0,
    };
    let len = rvrrpd_common::VRRP_HEADER_LEN + per_addr * s.advert_addrs.len() + auth;
    rvrrpd_common::VrrpEvent::ring_record_size(len) as u64
}

/// Loads the eBPF object, fills the demux map for `shards` and attaches XDP to every
/// interface; falls back to the eBPF socket filter when XDP cannot attach. `Err` means no
/// eBPF at all (the reason).
fn setup_fast_path(shards: &[Vec<Arc<GroupSpec>>], xdp: bool) -> Result<FastSetup, String> {
    let mut cfg = FastPathConfig::new(shards.len() as u32);
    // Room for a full burst of adverts per worker: a peer that becomes Master of thousands of
    // groups at once sends their first adverts within milliseconds, and a worker that drains a
    // moment late must not lose any. Later adverts come spread over the interval (phase
    // slots), so one burst is the most a ring must hold.
    let biggest = shards
        .iter()
        .map(|s| s.iter().map(|g| ring_record_bytes(g)).sum::<u64>())
        .max()
        .unwrap_or(0);
    let want = biggest
        .next_power_of_two()
        .clamp(u64::from(cfg.ring_bytes), 64 << 20);
    cfg.ring_bytes = want as u32;
    let mut fast = FastPath::load(&cfg).map_err(|e| e.to_string())?;
    let mut ifnames: Vec<&str> = Vec::new();
    for (k, shard) in shards.iter().enumerate() {
        for s in shard {
            fast.set_group(demux_key(s), k as u32, 0)
                .map_err(|e| e.to_string())?;
            if !ifnames.contains(&s.ifname.as_str()) {
                ifnames.push(&s.ifname);
            }
        }
    }
    if !xdp {
        return Ok(FastSetup::SocketFilter(
            fast,
            "XDP disabled by RVRRPD_NO_XDP".into(),
        ));
    }
    let mut modes = Vec::new();
    for ifname in ifnames {
        match fast.attach(ifname) {
            Ok(mode) => modes.push(format!("{ifname}: {mode}")),
            Err(e) => {
                let attached: Vec<String> =
                    fast.attached().map(|(n, _, _)| n.to_string()).collect();
                for n in attached {
                    let _ = fast.detach(&n);
                }
                return Ok(FastSetup::SocketFilter(fast, e.to_string()));
            }
        }
    }
    let rings = (0..shards.len())
        .map(|k| fast.take_ring(k as u32).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(FastSetup::Xdp(
        fast,
        rings,
        format!("XDP ({})", modes.join(", ")),
    ))
}

impl Control {
    /// Prepares the system for `specs`; nothing is left changed if an error is returned.
    pub async fn prepare(
        config: Config,
        specs: Vec<GroupSpec>,
        workers: usize,
        no_ebpf: bool,
    ) -> Result<Self, DaemonError> {
        let netlink = NetDriver::from_config("libnl").map_err(DaemonError::Net)?;
        let ioctl = if specs.iter().any(|s| s.netdrv == NetDrv::Ioctl) {
            Some(NetDriver::from_config("ioctl").map_err(DaemonError::Net)?)
        } else {
            None
        };
        let specs: Vec<Arc<GroupSpec>> = specs.into_iter().map(Arc::new).collect();
        let routes = plan::static_routes(&config);
        let next_id = specs.iter().map(|s| s.index + 1).max().unwrap_or(0);
        let workers = workers.clamp(1, specs.len().max(1)).min(MAX_WORKERS);
        let shards = shard(&specs, workers);
        let (fast, rings, fast_path) = if no_ebpf {
            (
                None,
                Vec::new(),
                "raw sockets + classic BPF (eBPF disabled)".to_string(),
            )
        } else if shards.is_empty() {
            (None, Vec::new(), "raw sockets + classic BPF".to_string())
        } else {
            let xdp = std::env::var_os("RVRRPD_NO_XDP").is_none_or(|v| v == "0");
            match setup_fast_path(&shards, xdp) {
                Ok(FastSetup::Xdp(fast, rings, mode)) => (Some(fast), rings, mode),
                Ok(FastSetup::SocketFilter(fast, why)) => {
                    warn!("XDP unavailable, using the eBPF socket filter: {why}");
                    (
                        Some(fast),
                        Vec::new(),
                        "raw sockets + eBPF socket filter".to_string(),
                    )
                }
                Err(e) => {
                    warn!("eBPF fast path unavailable, falling back to classic BPF: {e}");
                    (
                        None,
                        Vec::new(),
                        "raw sockets + classic BPF (fallback)".to_string(),
                    )
                }
            }
        };
        let xdp = !rings.is_empty();
        let mut rings = rings.into_iter();
        let pending = shards.into_iter().map(|s| (s, rings.next())).collect();
        let shared = Arc::new(Shared {
            specs: RwLock::new(specs.into_iter().map(|s| (s.index, s)).collect()),
            config: RwLock::new(Arc::new(config)),
            status: Arc::new(StatusBoard::new()),
            lateness: Arc::new(LatenessHistogram::default()),
            routes_installed: Default::default(),
            workers,
            fast_path,
            fast_path_counters: RwLock::new(Vec::new()),
            started: std::time::Instant::now(),
        });
        let mut control = Control {
            shared,
            routes,
            netlink,
            ioctl,
            route_holders: BTreeMap::new(),
            created_vifs: Vec::new(),
            workers: Vec::new(),
            owner: BTreeMap::new(),
            next_id,
            fast,
            xdp,
            pending,
            heap_churn: 0,
            quiet_ticks: 0,
        };
        control.cleanup_leftovers().await;
        let specs: Vec<Arc<GroupSpec>> = control.specs().values().cloned().collect();
        for s in &specs {
            if let Err(e) = control.create_vif(s).await {
                control.final_cleanup().await;
                return Err(e);
            }
        }
        Ok(control)
    }

    fn specs(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<usize, Arc<GroupSpec>>> {
        self.shared.specs.read().unwrap_or_else(|e| e.into_inner())
    }

    fn spec(&self, id: usize) -> Option<Arc<GroupSpec>> {
        self.specs().get(&id).cloned()
    }

    /// Removes what a crashed run may have left: our routes, our macvlans, configured VIPs.
    async fn cleanup_leftovers(&self) {
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

    /// Creates the group's macvlan unless it has none or it exists already.
    async fn create_vif(&mut self, s: &GroupSpec) -> Result<(), DaemonError> {
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

    /// Starts the workers and the API, runs until a termination signal, then shuts down.
    pub async fn run(mut self) -> Result<(), DaemonError> {
        let (ev_tx, mut ev_rx) = unbounded_channel();
        let groups = self.specs().len();
        for (id, (shard, ring)) in std::mem::take(&mut self.pending).into_iter().enumerate() {
            let ids: Vec<usize> = shard.iter().map(|s| s.index).collect();
            if let Err(e) = self.spawn_worker(id, shard, ring, &ev_tx) {
                self.stop_workers(&mut ev_rx).await;
                self.final_cleanup().await;
                return Err(e);
            }
            for gid in ids {
                self.owner.insert(gid, id);
            }
        }
        info!(
            "rvrrpd {} running {} virtual router(s) on {} worker(s) (receive path: {})",
            env!("CARGO_PKG_VERSION"),
            groups,
            self.workers.len(),
            self.shared.fast_path
        );
        // Parsing thousands of vrouters and dumping every address of the namespace peaked far
        // above what the daemon keeps.
        super::sys::release_free_heap();

        let (api_tx, mut api_rx) = unbounded_channel::<ApiRequest>();
        let (api_stop, api_stopped) = oneshot::channel::<()>();
        let config = self
            .shared
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let api_task = match (config.api_enabled(), config.api.as_ref()) {
            (true, Some(api)) => {
                let backend = Arc::new(DaemonBackend::new(self.shared.clone(), api_tx.clone()));
                let options = crate::api::ServerOptions::default()
                    .with_metrics_allow(&api.metrics_allow)
                    .map_err(|e| DaemonError::Api(e.to_string()))?;
                let server = match crate::api::bind(api, backend, options).await {
                    Ok(s) => s,
                    Err(e) => {
                        self.stop_workers(&mut ev_rx).await;
                        self.final_cleanup().await;
                        return Err(DaemonError::Api(e.to_string()));
                    }
                };
                Some(tokio::spawn(server.run(async {
                    let _ = api_stopped.await;
                })))
            }
            _ => None,
        };

        let sig = |kind, name: &str| {
            signal(kind).map_err(|e| DaemonError::Io(format!("{name} handler"), e))
        };
        let mut term = sig(SignalKind::terminate(), "SIGTERM")?;
        let mut int = sig(SignalKind::interrupt(), "SIGINT")?;
        let mut hup = sig(SignalKind::hangup(), "SIGHUP")?;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    self.refresh_counters();
                    self.trim_heap_when_quiet();
                }
                _ = term.recv() => { info!("SIGTERM: leaving"); break; }
                _ = int.recv() => { info!("SIGINT: leaving"); break; }
                _ = hup.recv() => {
                    warn!("SIGHUP: configuration reload is not supported; use the API or restart rvrrpd");
                }
                ev = ev_rx.recv() => match ev {
                    Some(ev) => self.handle_event(ev).await,
                    None => break,
                },
                req = api_rx.recv() => {
                    if let Some(req) = req {
                        let result = self.write(req.op.clone(), &req.user, &ev_tx, &mut ev_rx).await;
                        self.heap_churn += 1;
                        self.quiet_ticks = 0;
                        match &result {
                            Ok(o) => info!("API user {}: {}: {}", req.user, req.op.describe(), o.message),
                            Err(e) => warn!("API user {}: {} refused: {e}", req.user, req.op.describe()),
                        }
                        let _ = req.reply.send(result);
                    }
                }
            }
        }
        let _ = api_stop.send(());
        if let Some(task) = api_task {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
        self.stop_workers(&mut ev_rx).await;
        self.final_cleanup().await;
        info!("rvrrpd stopped");
        Ok(())
    }

    fn spawn_worker(
        &mut self,
        id: usize,
        shard: Vec<Arc<GroupSpec>>,
        ring: Option<WorkerRing>,
        ev_tx: &tokio::sync::mpsc::UnboundedSender<WorkerEvent>,
    ) -> Result<(), DaemonError> {
        let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
        let wake = Arc::new(EventFd::new().map_err(|e| DaemonError::Io("eventfd".into(), e))?);
        let links = WorkerLinks {
            events: ev_tx.clone(),
            status: self.shared.status.clone(),
            lateness: self.shared.lateness.clone(),
        };
        let groups = shard.len();
        let (rt_priority, nice) = {
            let c = self.shared.config.read().unwrap_or_else(|e| e.into_inner());
            (
                c.realtime_priority,
                c.worker_nice.unwrap_or(DEFAULT_WORKER_NICE),
            )
        };
        // Without rings but with the object loaded, the workers' raw sockets get the eBPF
        // socket filter.
        let sock_filter = if ring.is_none() && !self.xdp {
            self.fast.as_mut()
        } else {
            None
        };
        let worker = Worker::new(id, shard, cmd_rx, wake.clone(), links, ring, sock_filter)
            .map_err(DaemonError::Worker)?;
        let thread = std::thread::Builder::new()
            .name(format!("rvrrpd-w{id}"))
            .spawn(move || {
                prepare_worker_thread(id, rt_priority, nice);
                worker.run()
            })
            .map_err(|e| DaemonError::Io("spawning a worker thread".into(), e))?;
        self.workers.push(WorkerHandle {
            cmds: cmd_tx,
            wake,
            thread: Some(thread),
            groups,
        });
        Ok(())
    }

    async fn handle_event(&mut self, ev: WorkerEvent) {
        match ev {
            WorkerEvent::Net { group, op } => {
                self.heap_churn += 1;
                self.quiet_ticks = 0;
                self.apply(group, op).await
            }
            WorkerEvent::Stopped { worker } => warn!("worker {worker} stopped unexpectedly"),
        }
    }

    /// Returns freed heap pages to the kernel two quiet seconds after network changes or API
    /// writes: a takeover of thousands of groups allocates netlink messages by the thousand,
    /// and glibc keeps the peak resident otherwise.
    fn trim_heap_when_quiet(&mut self) {
        if self.heap_churn == 0 {
            return;
        }
        self.quiet_ticks = self.quiet_ticks.saturating_add(1);
        if self.quiet_ticks >= 2 {
            super::sys::release_free_heap();
            self.heap_churn = 0;
        }
    }

    /// Applies one group's network change.
    async fn apply(&mut self, id: usize, op: NetOp) {
        let Some(spec) = self.spec(id) else { return };
        let result = match op {
            NetOp::AddVips | NetOp::RemoveVips if spec.owner => Ok(()),
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

    /// Sends `make(reply)` to the worker owning group `id` and waits for its answer.
    async fn ask(
        &self,
        id: usize,
        make: impl FnOnce(Option<Reply>) -> WorkerCmd,
    ) -> Result<(), WriteError> {
        let worker = self
            .owner
            .get(&id)
            .and_then(|w| self.workers.get(*w))
            .ok_or_else(|| WriteError::NotFound(format!("group id {id} has no worker")))?;
        let (tx, rx) = oneshot::channel();
        worker.send(make(Some(tx)));
        match tokio::time::timeout(WORKER_REPLY_TIMEOUT, rx).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(msg))) => Err(WriteError::Conflict(msg)),
            Ok(Err(_)) | Err(_) => Err(WriteError::Failed("the worker did not answer".into())),
        }
    }

    /// Applies one API write; nothing changes when an error is returned.
    async fn write(
        &mut self,
        op: WriteOp,
        user: &str,
        ev_tx: &tokio::sync::mpsc::UnboundedSender<WorkerEvent>,
        ev_rx: &mut UnboundedReceiver<WorkerEvent>,
    ) -> Result<WriteOutcome, WriteError> {
        let find = |group: u8, interface: &str| {
            self.shared.find(group, interface).ok_or_else(|| {
                WriteError::NotFound(format!("no virtual router {group} on {interface}"))
            })
        };
        let message = match &op {
            WriteOp::SetPriority {
                group,
                interface,
                priority,
            } => {
                let id = find(*group, interface)?;
                let p = priority.get();
                self.ask(id, |reply| WorkerCmd::SetPriority {
                    group: id,
                    priority: p,
                    reply,
                })
                .await?;
                return Ok(self.outcome(id, format!("priority set to {p} by {user}")));
            }
            WriteOp::SetPreemption {
                group,
                interface,
                preempt,
            } => {
                let id = find(*group, interface)?;
                let p = *preempt;
                self.ask(id, |reply| WorkerCmd::SetPreempt {
                    group: id,
                    preempt: p,
                    reply,
                })
                .await?;
                return Ok(self.outcome(id, format!("preemption set to {p} by {user}")));
            }
            WriteOp::Handover { group, interface } => {
                let id = find(*group, interface)?;
                self.ask(id, |reply| WorkerCmd::Handover { group: id, reply })
                    .await?;
                self.drain_events(ev_rx).await;
                return Ok(self.outcome(id, format!("handed over by {user}")));
            }
            WriteOp::AddVRouter(vr) => {
                let id = self.add_vrouter(vr, ev_tx).await?;
                return Ok(self.outcome(id, format!("started by {user}")));
            }
            WriteOp::RemoveVRouter { group, interface } => {
                let id = find(*group, interface)?;
                self.remove_vrouter(id, ev_rx).await?;
                format!("virtual router {group} on {interface} removed by {user}")
            }
        };
        Ok(WriteOutcome {
            message,
            group: None,
        })
    }

    fn outcome(&self, id: usize, message: String) -> WriteOutcome {
        let group = self.spec(id).map(|s| self.shared.group_view(&s));
        WriteOutcome { message, group }
    }

    /// Applies the network changes workers already queued (e.g. after a hand-over).
    async fn drain_events(&mut self, ev_rx: &mut UnboundedReceiver<WorkerEvent>) {
        while let Ok(ev) = ev_rx.try_recv() {
            self.handle_event(ev).await;
        }
    }

    async fn add_vrouter(
        &mut self,
        vr: &crate::config::VRouter,
        ev_tx: &tokio::sync::mpsc::UnboundedSender<WorkerEvent>,
    ) -> Result<usize, WriteError> {
        // Validate the whole configuration with the new vrouter, as the file would be.
        let config = self
            .shared
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(dup) = config.vrouters.iter().find(|o| {
            o.group == vr.group && o.interface == vr.interface && o.family() == vr.family()
        }) {
            return Err(WriteError::Conflict(format!(
                "virtual router {} already runs on {} for {}",
                dup.group.get(),
                dup.interface.as_str(),
                dup.family()
            )));
        }
        let mut next: Config = (*config).clone();
        next.vrouters.push(vr.clone());
        next.validate()
            .map_err(|e| WriteError::Invalid(e.to_string()))?;
        let id = self.next_id;
        let spec =
            plan::resolve_vrouter(id, vr, plan::advert_slots(&config), super::lookup_interface)
                .map(Arc::new)
                .map_err(|e| WriteError::Invalid(e.to_string()))?;
        if spec.netdrv == NetDrv::Ioctl && self.ioctl.is_none() {
            self.ioctl = Some(
                NetDriver::from_config("ioctl").map_err(|e| WriteError::Failed(e.to_string()))?,
            );
        }
        self.create_vif(&spec)
            .await
            .map_err(|e| WriteError::Failed(e.to_string()))?;
        // The least loaded worker takes it; with none running (empty start), start one.
        if self.workers.is_empty() {
            // Started without groups: no fast path was set up, the socket path serves it.
            self.spawn_worker(0, Vec::new(), None, ev_tx)
                .map_err(|e| WriteError::Failed(e.to_string()))?;
        }
        let w = (0..self.workers.len())
            .min_by_key(|&w| self.workers[w].groups)
            .unwrap_or(0);
        self.shared
            .specs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, spec.clone());
        self.owner.insert(id, w);
        let xdp = self.xdp;
        if let Some(fast) = self.fast.as_mut() {
            let attached = !xdp || fast.attached().any(|(name, _, _)| name == spec.ifname);
            let r = fast
                .set_group(demux_key(&spec), w as u32, 0)
                .and_then(|()| {
                    if attached {
                        Ok(())
                    } else {
                        fast.attach(&spec.ifname).map(drop)
                    }
                });
            if let Err(e) = r {
                self.owner.remove(&id);
                self.shared
                    .specs
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                return Err(WriteError::Failed(format!("XDP fast path: {e}")));
            }
        }
        let vif = spec.vif.as_ref().map(|v| v.name.clone());
        match self
            .ask(id, |reply| WorkerCmd::AddGroup { spec, reply })
            .await
        {
            Ok(()) => {
                self.next_id += 1;
                self.workers[w].groups += 1;
                *self
                    .shared
                    .config
                    .write()
                    .unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
                Ok(id)
            }
            Err(e) => {
                self.owner.remove(&id);
                self.shared
                    .specs
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                if let Some(name) = vif {
                    self.delete_vif_if_unused(&name).await;
                }
                Err(e)
            }
        }
    }

    async fn remove_vrouter(
        &mut self,
        id: usize,
        ev_rx: &mut UnboundedReceiver<WorkerEvent>,
    ) -> Result<(), WriteError> {
        let spec = self
            .spec(id)
            .ok_or_else(|| WriteError::NotFound(format!("group id {id}")))?;
        self.ask(id, |reply| WorkerCmd::RemoveGroup { group: id, reply })
            .await?;
        // The group's last changes (VIPs and routes removed) before its spec goes.
        self.drain_events(ev_rx).await;
        if let Some(w) = self.owner.remove(&id) {
            if let Some(h) = self.workers.get_mut(w) {
                h.groups = h.groups.saturating_sub(1);
            }
        }
        self.shared
            .specs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if let Some(vif) = &spec.vif {
            self.delete_vif_if_unused(&vif.name).await;
        }
        let mut cfg = (**self.shared.config.read().unwrap_or_else(|e| e.into_inner())).clone();
        cfg.vrouters.retain(|vr| {
            !(vr.group.get() == spec.vrid
                && vr.interface.as_str() == spec.ifname
                && vr.family() == spec.family)
        });
        *self
            .shared
            .config
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(cfg);
        Ok(())
    }

    async fn delete_vif_if_unused(&mut self, name: &str) {
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

    /// Stops every worker: their last changes (RemoveVips, RemoveRoutes) are applied until all
    /// have reported, bounded by [`WORKER_STOP_TIMEOUT`].
    async fn stop_workers(&mut self, ev_rx: &mut UnboundedReceiver<WorkerEvent>) {
        for h in &self.workers {
            h.send(WorkerCmd::Shutdown);
        }
        let mut running = self
            .workers
            .iter()
            .filter(|h| h.thread.as_ref().is_some_and(|t| !t.is_finished()))
            .count();
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
        for h in &mut self.workers {
            if let Some(t) = h.thread.take() {
                if t.is_finished() {
                    let _ = t.join();
                }
            }
        }
    }

    /// Removes everything rvrrpd may have added: VIPs (except owned addresses), routes and the
    /// macvlans it created. Idempotent.
    async fn final_cleanup(&mut self) {
        let specs: Vec<Arc<GroupSpec>> = self.specs().values().cloned().collect();
        for spec in &specs {
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
        if let Some(&drv) = self.route_holders.values().next() {
            if let Err(e) = self.driver(drv).remove_routes(&self.routes).await {
                warn!("removing static routes: {e}");
            }
            self.route_holders.clear();
            self.shared.routes_installed.store(false, Ordering::Relaxed);
        }
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

    /// Copies the XDP counters for the API (a map read: cheap, once a second).
    fn refresh_counters(&self) {
        let Some(fast) = &self.fast else { return };
        match fast.counters() {
            Ok(c) => {
                let list = c.iter().map(|(name, v)| (name.to_string(), v)).collect();
                *self
                    .shared
                    .fast_path_counters
                    .write()
                    .unwrap_or_else(|e| e.into_inner()) = list;
            }
            Err(e) => warn!("reading the XDP counters: {e}"),
        }
    }

    /// The driver a group uses.
    fn driver(&self, netdrv: NetDrv) -> &NetDriver {
        match (netdrv, &self.ioctl) {
            (NetDrv::Ioctl, Some(d)) => d,
            _ => &self.netlink,
        }
    }
}

/// The workers' nice value when the configuration sets none.
const DEFAULT_WORKER_NICE: i8 = -10;

/// Pins worker `id` to a CPU of its own (round-robin over the CPUs we may use) and gives it
/// SCHED_FIFO when configured, else the nice value `nice`, so timers stay exact on a busy
/// box. Failures are logged: an unpinned worker still works.
fn prepare_worker_thread(id: usize, rt_priority: Option<u8>, nice: i8) {
    let cpus = crate::net::sched::available_cpus().max(1);
    if let Err(e) = crate::net::sched::pin_thread_to_cpu(id % cpus) {
        warn!("worker {id}: pinning to CPU {}: {e}", id % cpus);
    }
    match rt_priority {
        Some(p) => match crate::net::sched::set_realtime_priority(i32::from(p)) {
            Ok(()) => info!("worker {id}: SCHED_FIFO priority {p}"),
            Err(e) => warn!("worker {id}: realtime priority {p}: {e}"),
        },
        None if nice != 0 => {
            if let Err(e) = crate::net::sched::set_thread_nice(i32::from(nice)) {
                warn!("worker {id}: nice {nice}: {e}");
            }
        }
        None => {}
    }
}

/// Splits the groups into at most `workers` shards, round-robin; each worker opens its own
/// filtered receive socket for the VRIDs it owns.
fn shard(specs: &[Arc<GroupSpec>], workers: usize) -> Vec<Vec<Arc<GroupSpec>>> {
    let n = workers.clamp(1, specs.len().max(1));
    let mut shards = vec![Vec::new(); n];
    for (i, s) in specs.iter().enumerate() {
        shards[i % n].push(s.clone());
    }
    shards.retain(|s| !s.is_empty());
    shards
}
