//! The worker threads as the control plane sees them: started (pinned, prioritised), asked
//! for run-time changes, and stopped with their last network changes applied.

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::oneshot;
use tracing::warn;

use crate::api::backend::WriteError;
use crate::daemon::plan::GroupSpec;
use crate::daemon::sys::EventFd;
use crate::daemon::worker::{Heartbeat, Reply, Worker, WorkerCmd, WorkerEvent, WorkerLinks};
use crate::daemon::DaemonError;
use crate::net::xdp::WorkerRing;

use super::scheduling::prepare_worker_thread;
use super::Control;

/// How long shutdown waits for workers to send their priority-0 adverts.
const WORKER_STOP_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an API write waits for its worker.
const WORKER_REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// Distinct tracking lists remembered while publishing, to share among groups.
const RECENT_VIEWS: usize = 8;

/// A started worker as seen from the control plane.
pub(super) struct WorkerHandle {
    pub(super) cmds: Sender<WorkerCmd>,
    pub(super) wake: Arc<EventFd>,
    pub(super) thread: Option<std::thread::JoinHandle<()>>,
    pub(super) groups: usize,
    /// The worker's loop heartbeat (see [`crate::daemon::notify::stalled_workers`]).
    pub(super) heartbeat: Arc<Heartbeat>,
}

impl WorkerHandle {
    pub(super) fn send(&self, cmd: WorkerCmd) {
        let _ = self.cmds.send(cmd);
        self.wake.notify();
    }
}

impl Control {
    pub(super) fn spawn_worker(
        &mut self,
        id: usize,
        shard: Vec<Arc<GroupSpec>>,
        ring: Option<WorkerRing>,
        ev_tx: &tokio::sync::mpsc::UnboundedSender<WorkerEvent>,
    ) -> Result<(), DaemonError> {
        let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
        // The initial tracking outcomes, applied before the worker starts its groups.
        let updates: Vec<_> = shard
            .iter()
            .filter_map(|s| self.effective_outcome(s.index).map(|o| (s.index, o)))
            .collect();
        if !updates.is_empty() {
            let _ = cmd_tx.send(WorkerCmd::Track { updates });
        }
        // Sync-group members never become Master on their own, from the start.
        let updates = self.sync_membership(shard.iter().map(|s| s.index));
        if !updates.is_empty() {
            let _ = cmd_tx.send(WorkerCmd::Sync { updates });
        }
        let wake = Arc::new(EventFd::new().map_err(|e| DaemonError::Io("eventfd".into(), e))?);
        let links = WorkerLinks {
            events: ev_tx.clone(),
            status: self.shared.status.clone(),
            lateness: self.shared.lateness.clone(),
        };
        let groups = shard.len();
        let plan = self.scheduling.plan_thread();
        // Without rings but with the object loaded, the workers' raw sockets get the eBPF
        // socket filter.
        let sock_filter = if ring.is_none() && !self.xdp {
            self.fast.as_mut()
        } else {
            None
        };
        let mut worker = Worker::new(id, shard, cmd_rx, wake.clone(), links, ring, sock_filter)
            .map_err(DaemonError::Worker)?;
        if let Some(plan) = &self.xdp_tx {
            worker.set_xdp_tx(plan.clone());
        }
        let heartbeat = worker.heartbeat();
        let thread = std::thread::Builder::new()
            .name(format!("rvrrpd-w{id}"))
            .spawn(move || {
                prepare_worker_thread(id, &plan);
                worker.run()
            })
            .map_err(|e| DaemonError::Io("spawning a worker thread".into(), e))?;
        self.workers.push(WorkerHandle {
            cmds: cmd_tx,
            wake,
            thread: Some(thread),
            groups,
            heartbeat,
        });
        Ok(())
    }

    /// Copies the tracking of `groups` where the API reads it.
    pub(super) fn publish_tracking(&self, groups: impl Iterator<Item = usize>) {
        let Some(t) = self.tracking.as_ref() else {
            return;
        };
        let mut views = self
            .shared
            .tracking
            .write()
            .unwrap_or_else(|e| e.into_inner());
        // Most groups see the same list as the group before them (their interface, up):
        // one shared copy instead of one list and one name per group.
        let mut recent: Vec<Arc<[crate::api::TrackedView]>> = Vec::new();
        for g in groups {
            let v = t.views(g);
            let shared = match recent.iter().find(|r| r[..] == v[..]) {
                Some(r) => r.clone(),
                None => {
                    let r: Arc<[crate::api::TrackedView]> = v.into();
                    if recent.len() == RECENT_VIEWS {
                        recent.remove(0);
                    }
                    recent.push(r.clone());
                    r
                }
            };
            views.insert(g, shared);
        }
    }

    /// Sends tracking outcomes to the workers owning their groups, one command per worker.
    pub(super) fn send_tracking(&self, updates: Vec<(usize, crate::track::Outcome)>) {
        let updates = self.with_sync_members(updates);
        let mut per_worker: std::collections::BTreeMap<usize, Vec<_>> = Default::default();
        for (group, outcome) in updates {
            if let Some(&w) = self.owner.get(&group) {
                per_worker.entry(w).or_default().push((group, outcome));
            }
        }
        for (w, updates) in per_worker {
            if let Some(h) = self.workers.get(w) {
                h.send(WorkerCmd::Track { updates });
            }
        }
    }

    /// Sends `make(reply)` to the worker owning group `id` and waits for its answer.
    pub(super) async fn ask(
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

    /// Stops every worker: their last changes (RemoveVips, RemoveRoutes) are applied until all
    /// have reported, bounded by [`WORKER_STOP_TIMEOUT`].
    pub(super) async fn stop_workers(&mut self, ev_rx: &mut UnboundedReceiver<WorkerEvent>) {
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
                Ok(Some(WorkerEvent::Transition(t))) => self.notify(&t),
                // Orders make no sense any more.
                Ok(Some(WorkerEvent::WantMaster { .. })) => {}
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
}

/// Splits the groups into at most `workers` shards, round-robin; each worker opens its own
/// filtered receive socket for the VRIDs it owns.
pub(super) fn shard(specs: &[Arc<GroupSpec>], workers: usize) -> Vec<Vec<Arc<GroupSpec>>> {
    let n = workers.clamp(1, specs.len().max(1));
    let mut shards = vec![Vec::new(); n];
    for (i, s) in specs.iter().enumerate() {
        shards[i % n].push(s.clone());
    }
    shards.retain(|s| !s.is_empty());
    shards
}
