//! What the API needs from the daemon: the [`Backend`] trait and the plain data it returns.
//!
//! The control plane implements [`Backend`]; the API never touches workers, sockets or the
//! netlink driver itself. Every read method returns a cheap snapshot copy and must not block
//! (take a short lock on a status board, never wait on a worker). Writes go through
//! [`Backend::submit`], whose future resolves once the control plane applied — or refused — the
//! change.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;

use crate::config::{Config, Priority, VRouter};

/// The daemon as seen by the API.
pub trait Backend: Send + Sync + 'static {
    /// A snapshot of every virtual router (one per configured `[[vrouter]]`, in order).
    fn groups(&self) -> Vec<GroupView>;
    /// Daemon-wide settings and facts.
    fn global(&self) -> GlobalView;
    /// The configuration in force (including vrouters added or removed through the API).
    ///
    /// An `Arc` snapshot rather than a borrow: API writes replace the configuration.
    fn config(&self) -> Arc<Config>;
    /// The interfaces the virtual routers use.
    fn interfaces(&self) -> Vec<InterfaceView>;
    /// The configured static routes and whether each is installed right now.
    fn routes(&self) -> Vec<RouteView>;
    /// Fast-path and timer counters for `/metrics`.
    fn metrics(&self) -> MetricsView;
    /// Applies a write. `user` is the authenticated API user (for the control plane's log).
    fn submit(
        &self,
        op: WriteOp,
        user: &str,
    ) -> BoxFuture<'static, Result<WriteOutcome, WriteError>>;
    /// A subscription to the state transitions (`GET /events`); `None` when this backend
    /// has no stream.
    fn transitions(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<super::events::TransitionView>> {
        None
    }
}

/// Protocol state as the original's API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum GroupState {
    /// Not running: the worker has not started it or its interface is down.
    Down,
    /// Initialize.
    Init,
    /// Backup.
    Backup,
    /// Master.
    Master,
    /// Fault: its interface is down or a tracked object without a weight failed (keepalived's
    /// FAULT); silent until it clears, then Backup.
    Fault,
}

impl GroupState {
    /// Every state, in the order of the metrics output.
    pub const ALL: [GroupState; 5] = [
        Self::Down,
        Self::Init,
        Self::Backup,
        Self::Master,
        Self::Fault,
    ];

    /// `Down`, `Init`, `Backup`, `Master` or `Fault`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Down => "Down",
            Self::Init => "Init",
            Self::Backup => "Backup",
            Self::Master => "Master",
            Self::Fault => "Fault",
        }
    }
}

/// Counters of one virtual router.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GroupCounters {
    /// Adverts received (including discarded and suppressed ones).
    pub adverts_in: u64,
    /// Of those, repeats of the followed Master's advert the kernel swallowed.
    pub adverts_suppressed: u64,
    /// Adverts sent.
    pub adverts_out: u64,
    /// State transitions.
    pub transitions: u64,
    /// Adverts refused by authentication.
    pub auth_failures: u64,
    /// Adverts discarded for any other reason.
    pub discarded: u64,
    /// Unix time (seconds) of the last transition; `None` before the first.
    pub last_transition: Option<u64>,
}

/// One virtual router, everything `/run/vrrp` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupView {
    /// Virtual router id.
    pub group: u8,
    /// Interface the group runs on.
    pub interface: String,
    /// The vrouter's name (keepalived's instance name).
    pub name: String,
    /// Interface holding the virtual addresses (the macvlan, or `interface`).
    pub vif: String,
    /// Virtual addresses (the first is the original's `virtual_ip`).
    pub virtual_ips: Vec<IpAddr>,
    /// VRRP version, 2 or 3.
    pub version: u8,
    /// Current priority (255 for an address owner).
    pub priority: u8,
    /// Preemption.
    pub preempt: bool,
    /// Current state.
    pub state: GroupState,
    /// `auth_type` keyword, or `none`.
    pub auth_type: String,
    /// The interface's MAC address.
    pub interface_hwaddress: [u8; 6],
    /// Advertisement interval.
    pub advert_interval: Duration,
    /// Master_Down_Interval.
    pub masterdown_interval: Duration,
    /// Skew_Time.
    pub skew_time: Duration,
    /// The current Master's address, when known.
    pub master: Option<IpAddr>,
    /// Counters.
    pub counters: GroupCounters,
    /// The configured priority (`priority` is what tracking makes of it).
    pub configured_priority: u8,
    /// What the group tracks and what each object does to it now (its own interface first).
    pub tracking: Vec<TrackedView>,
}

/// A tracked object as one group sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedView {
    /// `interface`, `script` or `file`.
    pub kind: &'static str,
    /// Interface name, or the `[[track_script]]` / `[[track_file]]` name.
    pub name: String,
    /// The weight the group applies.
    pub weight: i32,
    /// Reversed direction.
    pub reverse: bool,
    /// It puts the group in Fault now.
    pub fault: bool,
    /// What it adds to the priority now.
    pub delta: i64,
}

impl GroupView {
    /// Whether `name` designates this group's interface (the physical one or the macvlan).
    pub fn on_interface(&self, name: &str) -> bool {
        self.interface == name || self.vif == name
    }
}

/// Daemon-wide facts for `/run/global` and `/run/daemon`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GlobalView {
    /// Debug level in force.
    pub debug: u8,
    /// `local` or `utc`.
    pub time_zone: String,
    /// `disabled`, `short` or `rfc2822`.
    pub time_format: String,
    /// PID file path.
    pub pid: PathBuf,
    /// Working directory.
    pub working_dir: PathBuf,
    /// Main log path.
    pub main_log: PathBuf,
    /// Error log path, or `disabled`.
    pub error_log: String,
    /// rvrrpd version.
    pub version: String,
    /// Process id.
    pub process_id: u32,
    /// Seconds since start.
    pub uptime: u64,
    /// Worker threads.
    pub workers: usize,
    /// Receive fast path in use (e.g. `af_packet+cbpf`).
    pub fast_path: String,
    /// Transmit path in use (`tx_path`: AF_PACKET `sendmmsg`, or XDP live frames on which
    /// interfaces).
    pub tx_path: String,
    /// How `accept_mode = false` is enforced: XDP, nftables, not needed, or NOT ENFORCED.
    pub accept_mode: String,
    /// How the worker threads are scheduled (real-time with its CPU cap, or nice).
    pub worker_scheduling: String,
}

impl GlobalView {
    /// The view of `config`'s general directives plus the running daemon's facts.
    pub fn from_config(config: &Config, uptime: u64, workers: usize, fast_path: &str) -> Self {
        GlobalView {
            debug: config.debug.get(),
            time_zone: config.time_zone.as_str().to_string(),
            time_format: config.time_format.as_str().to_string(),
            pid: config.pid.clone(),
            working_dir: config.working_dir.clone(),
            main_log: config.main_log.clone(),
            error_log: config
                .error_log
                .as_ref()
                .map_or_else(|| "disabled".to_string(), |p| p.display().to_string()),
            version: env!("CARGO_PKG_VERSION").to_string(),
            process_id: std::process::id(),
            uptime,
            workers,
            fast_path: fast_path.to_string(),
            tx_path: "AF_PACKET sendmmsg".to_string(),
            accept_mode: String::new(),
            worker_scheduling: String::new(),
        }
    }

    /// The same, saying which transmit path runs.
    pub fn with_tx_path(mut self, how: String) -> Self {
        self.tx_path = how;
        self
    }

    /// The same, saying how accept mode is enforced.
    pub fn with_accept_mode(mut self, how: String) -> Self {
        self.accept_mode = how;
        self
    }

    /// The same, saying how the workers are scheduled.
    pub fn with_worker_scheduling(mut self, how: String) -> Self {
        self.worker_scheduling = how;
        self
    }
}

/// One interface used by a virtual router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterfaceView {
    /// Name.
    pub name: String,
    /// Kernel index.
    pub index: u32,
    /// MAC address, `aa:bb:cc:dd:ee:ff`.
    pub hwaddress: String,
    /// Operationally up, when known.
    pub up: Option<bool>,
    /// Addresses with prefix length (`10.0.0.2/24`).
    pub addresses: Vec<String>,
    /// Groups running on it.
    pub groups: Vec<u8>,
}

/// One configured static route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteView {
    /// Destination network.
    pub destination: Ipv4Addr,
    /// Netmask, dotted.
    pub mask: Ipv4Addr,
    /// Next hop.
    pub next_hop: Ipv4Addr,
    /// Metric.
    pub metric: Option<u16>,
    /// MTU.
    pub mtu: Option<u16>,
    /// Whether it is installed in the kernel now (a group is Master).
    pub installed: bool,
}

/// A histogram: bucket upper bounds in seconds with per-bucket (not cumulative) counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Upper bounds, ascending (seconds). Samples above the last bound go in `overflow`.
    pub bounds: Vec<f64>,
    /// Samples per bucket, same length as `bounds`.
    pub counts: Vec<u64>,
    /// Samples above the last bound.
    pub overflow: u64,
    /// Sum of all samples (seconds).
    pub sum: f64,
}

/// Counters that are not per group, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsView {
    /// Frames dropped by the receive fast path, by reason (`not_vrrp`, `bad_checksum`, ...).
    pub fastpath_drops: Vec<(String, u64)>,
    /// How late timers fired.
    pub timer_lateness: Histogram,
}

/// A change requested through the API.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    /// Change a group's priority (not allowed for an address owner).
    SetPriority {
        /// Group.
        group: u8,
        /// Interface.
        interface: String,
        /// New priority.
        priority: Priority,
    },
    /// Turn preemption on or off.
    SetPreemption {
        /// Group.
        group: u8,
        /// Interface.
        interface: String,
        /// New setting.
        preempt: bool,
    },
    /// Master gives up: sends a priority-0 advert and becomes Backup.
    Handover {
        /// Group.
        group: u8,
        /// Interface.
        interface: String,
    },
    /// Start a new virtual router (already validated like a configuration file entry).
    AddVRouter(Box<VRouter>),
    /// Stop and remove a virtual router.
    RemoveVRouter {
        /// Group.
        group: u8,
        /// Interface.
        interface: String,
    },
    /// Re-read the configuration file and apply the differences (as SIGHUP).
    Reload,
}

impl WriteOp {
    /// Short description for logs (never secrets).
    pub fn describe(&self) -> String {
        match self {
            Self::SetPriority {
                group,
                interface,
                priority,
            } => format!("set priority of group {group} on {interface} to {priority}"),
            Self::SetPreemption {
                group,
                interface,
                preempt,
            } => format!("set preemption of group {group} on {interface} to {preempt}"),
            Self::Handover { group, interface } => {
                format!("hand over group {group} on {interface}")
            }
            Self::AddVRouter(vr) => format!("add group {} on {}", vr.group, vr.interface),
            Self::RemoveVRouter { group, interface } => {
                format!("remove group {group} on {interface}")
            }
            Self::Reload => "reload the configuration".to_string(),
        }
    }
}

/// The result of an applied write.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOutcome {
    /// What was done, for the response.
    pub message: String,
    /// The affected group afterwards (absent after a removal).
    pub group: Option<GroupView>,
}

/// Why a write was refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// No such group / interface (404).
    #[error("{0}")]
    NotFound(String),
    /// The change conflicts with the current state (409), e.g. a duplicate vrouter or a
    /// handover from a group that is not Master.
    #[error("{0}")]
    Conflict(String),
    /// The request is well-formed but not acceptable (422).
    #[error("{0}")]
    Invalid(String),
    /// The daemon could not apply it (500).
    #[error("{0}")]
    Failed(String),
}

/// Formats a MAC address as `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    let [a, b, c, d, e, f] = mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}
