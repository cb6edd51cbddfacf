//! The control plane: prepares the system (leftover clean-up, macvlan interfaces), starts the
//! workers and the client API, applies the address and route changes workers ask for and the
//! writes the API queues, and handles signals — TERM/INT make every worker send its
//! priority-0 adverts, then everything rvrrpd added is removed.
//!
//! This module holds the [`Control`] state, its start-up and its main loop; the parts live in:
//! - [`fast_path`]: loading the eBPF object, the XDP demux map and the rings;
//! - [`workers`]: starting, asking and stopping the worker threads;
//! - [`system`]: the kernel changes (VIPs, routes, macvlans, leftovers, final clean-up);
//! - [`writes`]: the API's run-time writes (priority, preemption, hand-over, add/remove);
//! - [`reload`]: live reload of the configuration file (SIGHUP, the API);
//! - [`service`]: systemd notifications and the watchdog, the SIGUSR1 state dump;
//! - [`no_accept`]: accept mode enforced (XDP or nftables drops of traffic to the VIPs);
//! - [`scheduling`]: the workers' real-time policy, its CPU cap and its fallback.

mod diff;
mod fast_path;
mod no_accept;
mod reload;
mod scheduling;
mod service;
mod sync;
mod system;
mod tx_path;
mod workers;
mod writes;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::unbounded_channel;
use tokio::sync::oneshot;
use tracing::{info, warn};

use crate::config::Config;
use crate::daemon::api_backend::{ApiRequest, DaemonBackend, Shared};
use crate::daemon::plan::{self, GroupSpec, NetDrv};
use crate::daemon::status::{LatenessHistogram, StatusBoard};
use crate::daemon::tracking::Tracking;
use crate::daemon::worker::WorkerEvent;
use crate::daemon::DaemonError;
use crate::net::driver::NetDriver;
use crate::net::xdp::{FastPath, WorkerRing, MAX_WORKERS};
use crate::net::Ipv4Route;

use fast_path::{setup_fast_path, FastSetup};
pub use reload::{ConfigSource, ReloadSummary};
use workers::{shard, WorkerHandle};

pub use service::Service;

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
    /// The XDP transmit path the workers use (`tx_path = "xdp"`), if any.
    xdp_tx: Option<crate::daemon::worker::XdpTxPlan>,
    /// Shards and rings prepared for the workers `run` starts.
    pending: Vec<(Vec<Arc<GroupSpec>>, Option<WorkerRing>)>,
    /// Network changes and API writes since the heap was last trimmed, and the quiet seconds
    /// since the last of them (see [`Control::trim_heap_when_quiet`]).
    heap_churn: u64,
    quiet_ticks: u8,
    /// The `STATUS=` line may be out of date (a transition, reload or API write since), and
    /// seconds since it was last computed (see `notify_status`).
    status_stale: bool,
    status_ticks: u32,
    /// Link, script and file tracking (started by `run`).
    tracking: Option<Tracking>,
    /// The tracking events of a tracking restarted by a reload, for the main loop to take.
    new_track_rx: Option<tokio::sync::mpsc::UnboundedReceiver<crate::daemon::tracking::TrackEvent>>,
    /// The configuration file, for reloads.
    config_source: Option<ConfigSource>,
    /// `[[sync_group]]`s.
    sync: sync::SyncGroups,
    /// Scripts, FIFO and the API's transition stream (started by `run`).
    notifier: Option<crate::daemon::notify::Notifier>,
    /// systemd notifications, the watchdog, the state dump.
    service: Service,
    /// The VIPs whose traffic is dropped (`accept_mode = false`) and how.
    no_accept: no_accept::NoAccept,
    /// The workers' scheduling policy (real-time with a cap, or nice).
    scheduling: scheduling::WorkerScheduling,
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
        let mut fast = fast;
        let (xdp_tx, tx_path) = tx_path::choose(config.tx_path, fast.as_mut().filter(|_| xdp));
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
            tx_path,
            tx_now: xdp_tx.as_ref().map(|p| {
                let ifaces = Arc::clone(&p.ifaces);
                Box::new(move || tx_path::now(&ifaces)) as Box<dyn Fn() -> String + Send + Sync>
            }),
            fast_path_counters: std::sync::OnceLock::new(),
            started: std::time::Instant::now(),
            tracking: RwLock::new(BTreeMap::new()),
            transitions: crate::api::events::channel(),
            no_accept: RwLock::new(String::new()),
            worker_scheduling: RwLock::new(String::new()),
        });
        if let Some(map) = fast.as_ref().map(FastPath::counter_map) {
            let read: crate::daemon::api_backend::CounterReader =
                Box::new(move || match map.read() {
                    Ok(c) => c.iter().map(|(name, v)| (name.to_string(), v)).collect(),
                    Err(e) => {
                        warn!("reading the XDP counters: {e}");
                        Vec::new()
                    }
                });
            let _ = shared.fast_path_counters.set(read);
        }
        let scheduling = scheduling::WorkerScheduling::new(&shared.config());
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
            xdp_tx,
            pending,
            heap_churn: 0,
            quiet_ticks: 0,
            status_stale: true,
            status_ticks: 0,
            tracking: None,
            new_track_rx: None,
            config_source: None,
            sync: sync::SyncGroups::default(),
            notifier: None,
            service: Service::disabled(),
            no_accept: no_accept::NoAccept::default(),
            scheduling,
        };
        control.cleanup_leftovers().await;
        let specs: Vec<Arc<GroupSpec>> = control.specs().values().cloned().collect();
        for s in &specs {
            if let Err(e) = control.create_vif(s).await {
                control.final_cleanup().await;
                return Err(e);
            }
        }
        // Before any worker runs, so no VIP goes up before its traffic is dropped.
        let refs: Vec<&GroupSpec> = specs.iter().map(|s| s.as_ref()).collect();
        control.enforce_no_accept(&refs).await;
        control.publish_no_accept();
        Ok(control)
    }

    /// Where the configuration was read from (enables reloads).
    pub fn with_config_source(mut self, source: ConfigSource) -> Self {
        self.config_source = Some(source);
        self
    }

    /// The configuration in force.
    fn config(&self) -> Arc<Config> {
        self.shared.config()
    }

    fn specs(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<usize, Arc<GroupSpec>>> {
        self.shared.specs.read().unwrap_or_else(|e| e.into_inner())
    }

    fn spec(&self, id: usize) -> Option<Arc<GroupSpec>> {
        self.specs().get(&id).cloned()
    }

    /// Starts the workers and the API, runs until a termination signal, then shuts down.
    pub async fn run(mut self) -> Result<(), DaemonError> {
        let (ev_tx, mut ev_rx) = unbounded_channel();
        let config = self.config();
        self.notifier = Some(crate::daemon::notify::Notifier::new(
            &config,
            self.shared.transitions.clone(),
        ));
        let groups = self.specs().len();
        // Tracking first: a group whose interface is down starts in Fault, one whose script
        // is failing starts with its tracked priority.
        let specs: Vec<Arc<GroupSpec>> = self.specs().values().cloned().collect();
        let mut tracking = match Tracking::start(&config, &specs).await {
            Ok(t) => t,
            Err(e) => {
                self.final_cleanup().await;
                return Err(DaemonError::Tracking(e));
            }
        };
        let mut track_rx = tracking.take_events();
        self.tracking = Some(tracking);
        self.sync = sync::SyncGroups::build(
            &config,
            specs.iter().map(|s| (s.index, s.name.as_str())),
            sync::SyncGroups::default(),
        );
        self.publish_tracking(specs.iter().map(|s| s.index));
        let mut xcpu = self.scheduling.arm();
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
        // A line of its own: tools parse the one above up to its closing parenthesis.
        info!("transmit path: {}", self.shared.tx_path);
        // Parsing thousands of vrouters and dumping every address of the namespace peaked far
        // above what the daemon keeps.
        crate::daemon::sys::release_free_heap();

        let (api_tx, mut api_rx) = unbounded_channel::<ApiRequest>();
        let (api_stop, api_stopped) = oneshot::channel::<()>();
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
        let mut usr1 = sig(SignalKind::user_defined1(), "SIGUSR1")?;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut watchdog = self.service.watchdog_timer();
        self.notify_ready();
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    self.publish_scheduling();
                    self.trim_heap_when_quiet();
                    self.notify_status();
                }
                _ = service::tick(&mut watchdog) => self.watchdog_tick(),
                _ = term.recv() => { info!("SIGTERM: leaving"); break; }
                _ = int.recv() => { info!("SIGINT: leaving"); break; }
                _ = usr1.recv() => self.dump_state(),
                Some(()) = async { match xcpu.as_mut() { Some(s) => s.recv().await, None => None } } => {
                    self.scheduling.demote();
                    self.publish_scheduling();
                }
                _ = hup.recv() => {
                    self.notify_reloading();
                    info!("SIGHUP: reloading the configuration");
                    if let Err(e) = self.reload(&ev_tx, &mut ev_rx).await {
                        warn!("reload refused, nothing changed: {e}");
                    }
                    if let Some(rx) = self.new_track_rx.take() {
                        track_rx = Some(rx);
                    }
                    self.notify_reloaded();
                    self.status_stale = true;
                }
                ev = ev_rx.recv() => match ev {
                    Some(ev) => self.handle_event(ev).await,
                    None => break,
                },
                Some(ev) = async { match track_rx.as_mut() { Some(rx) => rx.recv().await, None => None } } => {
                    let updates = self.tracking.as_mut().map(|t| t.handle(ev)).unwrap_or_default();
                    self.publish_tracking(updates.iter().map(|u| u.0));
                    self.send_tracking(updates);
                }
                req = api_rx.recv() => {
                    if let Some(req) = req {
                        let result = self.write(req.op.clone(), &req.user, &ev_tx, &mut ev_rx).await;
                        self.heap_churn += 1;
                        self.status_stale = true;
                        self.quiet_ticks = 0;
                        match &result {
                            Ok(o) => info!("API user {}: {}: {}", req.user, req.op.describe(), o.message),
                            Err(e) => warn!("API user {}: {} refused: {e}", req.user, req.op.describe()),
                        }
                        let _ = req.reply.send(result);
                        if let Some(rx) = self.new_track_rx.take() {
                            track_rx = Some(rx);
                        }
                    }
                }
            }
        }
        self.notify_stopping();
        // Writes arriving from now on are refused; the event streams stay open until the
        // workers' last transitions (STOP) are out.
        drop(api_rx);
        if let Some(t) = self.tracking.as_mut() {
            t.stop();
        }
        self.stop_workers(&mut ev_rx).await;
        let _ = api_stop.send(());
        if let Some(task) = api_task {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
        self.final_cleanup().await;
        if let Some(notifier) = &mut self.notifier {
            notifier.finish().await;
        }
        info!("rvrrpd stopped");
        Ok(())
    }

    async fn handle_event(&mut self, ev: WorkerEvent) {
        match ev {
            WorkerEvent::Net { group, op } => {
                self.heap_churn += 1;
                self.quiet_ticks = 0;
                self.apply(group, op).await
            }
            WorkerEvent::Transition(t) => {
                self.status_stale = true;
                self.notify(&t)
            }
            WorkerEvent::WantMaster { group, wants } => self.sync_want(group, wants),
            WorkerEvent::Stopped { worker } => warn!("worker {worker} stopped unexpectedly"),
        }
    }

    /// Hands a transition to the notifier, with the group's name and scripts, then to its
    /// sync group (whose own notification follows the member's, as keepalived's).
    fn notify(&mut self, t: &crate::daemon::notify::Transition) {
        self.notify_instance(t);
        self.sync_transition(t);
    }

    fn notify_instance(&mut self, t: &crate::daemon::notify::Transition) {
        let Some(spec) = self.spec(t.group) else {
            return;
        };
        if let Some(notifier) = &mut self.notifier {
            notifier.transition(
                t,
                &crate::daemon::notify::GroupInfo {
                    vrid: spec.vrid,
                    ifname: &spec.ifname,
                    name: &spec.name,
                    notify: spec.notify(),
                },
            );
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
            crate::daemon::sys::release_free_heap();
            self.heap_churn = 0;
        }
    }

    /// Copies the workers' scheduling where the API reads it.
    fn publish_scheduling(&self) {
        let line = self.scheduling.describe();
        let mut slot = self
            .shared
            .worker_scheduling
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if *slot != line {
            *slot = line;
        }
    }
}
