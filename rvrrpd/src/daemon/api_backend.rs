//! The daemon's side of the client API: [`DaemonBackend`] implements [`crate::api::Backend`]
//! from state the control plane shares (specs, configuration, worker status slots). Reads copy
//! snapshots and never wait on a worker; writes are queued to the control plane, which applies
//! them in order and answers through a oneshot channel.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant as StdInstant;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use super::plan::GroupSpec;
use super::status::{LatenessHistogram, StatusBoard, LATENESS_BOUNDS_US};
use crate::api::backend::{
    format_mac, Backend, GlobalView, GroupCounters, GroupState, GroupView, Histogram,
    InterfaceView, MetricsView, RouteView, TrackedView, WriteError, WriteOp, WriteOutcome,
};
use crate::config::Config;
use crate::fsm::State;
use crate::wire::Version;

/// A write from the API on its way to the control plane.
pub struct ApiRequest {
    /// The change.
    pub op: WriteOp,
    /// Authenticated user (for the log).
    pub user: String,
    /// Where the control plane answers.
    pub reply: oneshot::Sender<Result<WriteOutcome, WriteError>>,
}

/// State shared between the control plane (writer) and the API (reader).
pub struct Shared {
    /// Running groups by stable id.
    pub specs: RwLock<BTreeMap<usize, Arc<GroupSpec>>>,
    /// The configuration in force.
    pub config: RwLock<Arc<Config>>,
    /// Group status slots.
    pub status: Arc<StatusBoard>,
    /// Timer lateness of all workers.
    pub lateness: Arc<LatenessHistogram>,
    /// Whether the static routes are installed now.
    pub routes_installed: AtomicBool,
    /// Number of worker threads.
    pub workers: usize,
    /// Receive path in use.
    pub fast_path: String,
    /// Transmit path in use (`tx_path`).
    pub tx_path: String,
    /// What the XDP transmit path sends on now, when it runs (appended to `tx_path`).
    pub tx_now: Option<Box<dyn Fn() -> String + Send + Sync>>,
    /// Reads the XDP program's drop and delivery counters (set once the fast path runs; the
    /// API reads them per request, so an idle daemon does not).
    pub fast_path_counters: std::sync::OnceLock<CounterReader>,
    /// Start time, for the uptime.
    pub started: StdInstant,
    /// Tracking of each group (refreshed by the control plane when an outcome changes);
    /// groups that see the same (most often: only their own interface, up) share one list.
    pub tracking: RwLock<BTreeMap<usize, Arc<[TrackedView]>>>,
    /// Every transition, for `GET /events` (the control plane's notifier sends).
    pub transitions: tokio::sync::broadcast::Sender<crate::api::events::TransitionView>,
    /// How `accept_mode = false` is enforced (refreshed by the control plane).
    pub no_accept: RwLock<String>,
    /// How the workers are scheduled (refreshed by the control plane).
    pub worker_scheduling: RwLock<String>,
}

/// Reads the fast path's counters as (name, value) pairs.
pub type CounterReader = Box<dyn Fn() -> Vec<(String, u64)> + Send + Sync>;

/// The state the API shows for a published snapshot.
pub fn group_state(snap: &super::status::GroupSnapshot) -> GroupState {
    match (snap.priority, snap.state) {
        // Never published: the worker has not started it yet.
        (0, _) => GroupState::Down,
        (_, State::Initialize) => GroupState::Init,
        (_, State::Backup) => GroupState::Backup,
        (_, State::Master) => GroupState::Master,
        (_, State::Fault) => GroupState::Fault,
    }
}

impl Shared {
    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The state of group `spec` as the API shows it (a snapshot copy, no view built).
    pub fn group_state(&self, spec: &GroupSpec) -> GroupState {
        group_state(&self.status.get(spec.index).unwrap_or_default())
    }

    /// The view of one group, from its spec and its worker's latest snapshot.
    pub fn group_view(&self, spec: &GroupSpec) -> GroupView {
        let snap = self.status.get(spec.index).unwrap_or_default();
        let state = group_state(&snap);
        GroupView {
            group: spec.vrid,
            interface: spec.ifname.to_string(),
            name: spec.name.clone(),
            vif: spec.vip_ifname().to_string(),
            virtual_ips: spec.vips.iter().map(|v| v.addr).collect(),
            version: match spec.version {
                Version::V2 => 2,
                Version::V3 => 3,
            },
            priority: if snap.priority == 0 {
                spec.priority
            } else {
                snap.priority
            },
            preempt: if snap.priority == 0 {
                spec.preempt
            } else {
                snap.preempt
            },
            state,
            auth_type: match spec.auth.kind() {
                crate::auth::AuthType::None => "none".to_string(),
                k => k.name().to_string(),
            },
            interface_hwaddress: spec.if_mac.0,
            advert_interval: spec.interval,
            masterdown_interval: snap.master_down_interval(spec.fsm_version()),
            skew_time: snap.skew_time(spec.fsm_version()),
            master: snap.master,
            counters: GroupCounters {
                adverts_in: snap.adverts_in,
                adverts_suppressed: snap.adverts_suppressed,
                adverts_out: snap.adverts_out,
                transitions: snap.transitions,
                auth_failures: snap.auth_failures,
                discarded: snap.discarded,
                last_transition: snap.last_transition,
            },
            configured_priority: spec.priority,
            tracking: self
                .tracking
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&spec.index)
                .map(|v| v.to_vec())
                .unwrap_or_default(),
        }
    }

    /// The id of the group `vrid` running on `interface` (physical or macvlan name).
    pub fn find(&self, vrid: u8, interface: &str) -> Option<usize> {
        let specs = self.specs.read().unwrap_or_else(|e| e.into_inner());
        specs
            .values()
            .find(|s| s.vrid == vrid && (s.ifname == interface || s.vip_ifname() == interface))
            .map(|s| s.index)
    }
}

/// The API backend of a running daemon.
pub struct DaemonBackend {
    shared: Arc<Shared>,
    requests: mpsc::UnboundedSender<ApiRequest>,
}

impl DaemonBackend {
    /// A backend reading `shared` and queueing writes on `requests`.
    pub fn new(shared: Arc<Shared>, requests: mpsc::UnboundedSender<ApiRequest>) -> Self {
        DaemonBackend { shared, requests }
    }
}

impl Backend for DaemonBackend {
    fn groups(&self) -> Vec<GroupView> {
        let specs = self.shared.specs.read().unwrap_or_else(|e| e.into_inner());
        specs.values().map(|s| self.shared.group_view(s)).collect()
    }

    fn global(&self) -> GlobalView {
        let config = self.config();
        GlobalView::from_config(
            &config,
            self.shared.started.elapsed().as_secs(),
            self.shared.workers,
            &self.shared.fast_path,
        )
        .with_tx_path(match &self.shared.tx_now {
            Some(now) => self.shared.tx_path.clone() + &now(),
            None => self.shared.tx_path.clone(),
        })
        .with_accept_mode(
            self.shared
                .no_accept
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
        .with_worker_scheduling(
            self.shared
                .worker_scheduling
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }

    fn config(&self) -> Arc<Config> {
        self.shared.config()
    }

    fn interfaces(&self) -> Vec<InterfaceView> {
        let specs = self.shared.specs.read().unwrap_or_else(|e| e.into_inner());
        let mut by_name: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for s in specs.values() {
            by_name
                .entry(s.ifname.to_string())
                .or_default()
                .push(s.vrid);
        }
        drop(specs);
        by_name
            .into_iter()
            .map(|(name, groups)| match crate::net::iface::interface(&name) {
                Ok(i) => InterfaceView {
                    index: i.index,
                    hwaddress: format_mac(&i.mac.unwrap_or_default()),
                    up: Some(i.running),
                    addresses: i
                        .ipv4
                        .iter()
                        .map(|(a, p)| format!("{a}/{p}"))
                        .chain(i.ipv6.iter().map(|(a, p)| format!("{a}/{p}")))
                        .collect(),
                    name,
                    groups,
                },
                Err(_) => InterfaceView {
                    name,
                    index: 0,
                    hwaddress: String::new(),
                    up: None,
                    addresses: Vec::new(),
                    groups,
                },
            })
            .collect()
    }

    fn routes(&self) -> Vec<RouteView> {
        let installed = self.shared.routes_installed.load(Ordering::Relaxed);
        self.config()
            .static_routes()
            .iter()
            .map(|r| RouteView {
                destination: r.route,
                mask: crate::net::prefix_to_mask(r.prefix_len()),
                next_hop: r.nh,
                metric: r.metric,
                mtu: r.mtu,
                installed,
            })
            .collect()
    }

    fn metrics(&self) -> MetricsView {
        let (buckets, sum_us) = self.shared.lateness.read();
        let n = LATENESS_BOUNDS_US.len();
        MetricsView {
            // Empty on the classic-BPF path, which drops in the kernel without counting.
            fastpath_drops: self
                .shared
                .fast_path_counters
                .get()
                .map(|read| read())
                .unwrap_or_default(),
            timer_lateness: Histogram {
                bounds: LATENESS_BOUNDS_US.iter().map(|&b| b as f64 / 1e6).collect(),
                counts: buckets[..n].to_vec(),
                overflow: buckets[n],
                sum: sum_us as f64 / 1e6,
            },
        }
    }

    fn submit(
        &self,
        op: WriteOp,
        user: &str,
    ) -> BoxFuture<'static, Result<WriteOutcome, WriteError>> {
        let (reply, answer) = oneshot::channel();
        let sent = self.requests.send(ApiRequest {
            op,
            user: user.to_string(),
            reply,
        });
        Box::pin(async move {
            if sent.is_err() {
                return Err(WriteError::Failed("rvrrpd is shutting down".into()));
            }
            answer
                .await
                .unwrap_or_else(|_| Err(WriteError::Failed("rvrrpd is shutting down".into())))
        })
    }

    fn transitions(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<crate::api::events::TransitionView>> {
        Some(self.shared.transitions.subscribe())
    }
}
