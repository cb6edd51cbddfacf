//! A worker thread: owns a shard of groups, their receive sockets and their timers, and runs
//! the protocol core on them without locks. It talks to the control plane through channels:
//! commands in (crossbeam + an eventfd to wake it), events out (address and route changes that
//! need netlink). Each group publishes its state into its own status slot.
//!
//! This module holds the interface to the control plane (commands, events, errors, links);
//! the parts live in:
//! - [`shell`]: the [`Worker`], the I/O shell (sockets, epoll, timerfd) and its thread loop;
//! - [`shard`]: the [`Shard`], which owns the groups' state, state machines and timers;
//! - [`receive`]: draining the receive sockets or XDP ring and validating adverts;
//! - [`transmit`]: batched advert sending, announcements and work deferred behind them;
//! - [`cadence`]: one wheel entry for the Masters whose adverts fall due together;
//! - [`publish`]: copying group state into the status board;
//! - [`follow`]: the kernel-resident Backup (the eBPF programs swallow the followed Master's
//!   repeated adverts).

mod cadence;
#[cfg(test)]
mod cadence_tests;
mod follow;
#[cfg(test)]
mod follow_tests;
mod publish;
mod receive;
mod shard;
mod shell;
#[cfg(test)]
mod tests;
mod transmit;
mod transmit_xdp;
#[cfg(test)]
mod unicast_tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use super::plan::GroupSpec;
use super::status::{LatenessHistogram, StatusBoard};

pub use shard::Shard;
pub use shell::Worker;
pub use transmit_xdp::{XdpTxPlan, XmitIfaces, XDP_MIN_BATCH};

/// A reply to a command: `Err` carries a message for the operator.
pub type Reply = oneshot::Sender<Result<(), String>>;

/// Commands from the control plane. Groups are named by their stable id ([`GroupSpec::index`]).
#[derive(Debug)]
pub enum WorkerCmd {
    /// Leave: priority-0 adverts for every Master group, then stop.
    Shutdown,
    /// Change a group's priority (1–254) at run time.
    SetPriority {
        /// Group id.
        group: usize,
        /// New priority.
        priority: u8,
        /// Done.
        reply: Option<Reply>,
    },
    /// Change a group's preemption at run time.
    SetPreempt {
        /// Group id.
        group: usize,
        /// New preemption mode.
        preempt: bool,
        /// Done.
        reply: Option<Reply>,
    },
    /// A Master hands over: priority-0 advert, then Backup (it may take over again later
    /// if nobody else does, or by preemption).
    Handover {
        /// Group id.
        group: usize,
        /// Done.
        reply: Option<Reply>,
    },
    /// Start a new group in this worker.
    AddGroup {
        /// The resolved group.
        spec: Arc<GroupSpec>,
        /// Done.
        reply: Option<Reply>,
    },
    /// Tracking outcomes (priority, Fault) of groups of this worker, from the control plane's
    /// tracker (interfaces, scripts, files). Sent before the worker starts for the initial
    /// state, then whenever an outcome changes.
    Track {
        /// (group id, outcome).
        updates: Vec<(usize, crate::track::Outcome)>,
    },
    /// Sync-group membership and orders, in order (see [`SyncCmd`]).
    Sync {
        /// (group id, what).
        updates: Vec<(usize, SyncCmd)>,
    },
    /// Stop a group (priority-0 advert if Master) and forget it.
    RemoveGroup {
        /// Group id.
        group: usize,
        /// Done.
        reply: Option<Reply>,
    },
}

/// What the control plane tells a sync-group member (see [`crate::fsm::sync`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncCmd {
    /// Becomes a member (it then only becomes Master on [`SyncCmd::Go`]) or stops being one
    /// ([`crate::fsm::Vrrp::set_sync`]). Sent before the worker starts for the initial state.
    Member(bool),
    /// Every member wants Master ([`crate::fsm::Vrrp::sync_go`]).
    Go,
    /// A member does not want Master ([`crate::fsm::Vrrp::sync_leave`]).
    Leave,
}

/// What a worker tells the control plane.
#[derive(Debug, Clone)]
pub enum WorkerEvent {
    /// Apply a network change for a group (in order).
    Net {
        /// Group id.
        group: usize,
        /// The change.
        op: NetOp,
    },
    /// A group changed state: the control plane notifies (scripts, FIFO, API stream).
    Transition(crate::daemon::notify::Transition),
    /// A sync-group member in Backup started or stopped wanting Master. Sent on the channel
    /// of the group's transitions, so the control plane sees both in the worker's order.
    WantMaster {
        /// Group id.
        group: usize,
        /// Whether it wants Master now.
        wants: bool,
    },
    /// The worker has finished its shutdown and exited.
    Stopped {
        /// Worker number.
        worker: usize,
    },
}

/// Kernel changes a group asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetOp {
    /// Add the VIPs.
    AddVips,
    /// Remove the VIPs.
    RemoveVips,
    /// Install the static routes.
    InstallRoutes,
    /// Remove the static routes.
    RemoveRoutes,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// A socket or other kernel object could not be created.
    #[error("worker {worker}: {what}: {source}")]
    Io {
        /// Worker number.
        worker: usize,
        /// What was being set up.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A driver error.
    #[error("worker {worker}: {source}")]
    Net {
        /// Worker number.
        worker: usize,
        /// The driver error.
        #[source]
        source: crate::net::NetError,
    },
}

/// Shared things a worker publishes into.
#[derive(Clone)]
pub struct WorkerLinks {
    /// Events to the control plane.
    pub events: UnboundedSender<WorkerEvent>,
    /// Group status slots.
    pub status: Arc<StatusBoard>,
    /// Timer lateness, shared by all workers.
    pub lateness: Arc<LatenessHistogram>,
}

/// A worker's sign of life for the watchdog: the CLOCK_MONOTONIC time (µs) at the top of its
/// last loop iteration. The worker stores, the control plane loads; nothing else is ordered
/// by it, so relaxed atomics suffice.
#[derive(Debug, Default)]
pub struct Heartbeat(AtomicU64);

impl Heartbeat {
    /// Records a loop iteration at `micros`.
    pub fn beat(&self, micros: u64) {
        self.0.store(micros, Ordering::Relaxed);
    }

    /// The last iteration's time (0: never ran).
    pub fn last(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
