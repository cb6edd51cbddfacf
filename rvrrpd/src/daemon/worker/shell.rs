//! The I/O shell around a [`Shard`]: receive sockets or the XDP ring, epoll, the timerfd and
//! the command channel, and the thread loop that drives them.

use std::collections::hash_map::Entry;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use crossbeam_channel::Receiver;
use tracing::warn;

use super::shard::unicast_tx_key;
use super::{GroupSpec, Heartbeat, Shard, WorkerCmd, WorkerError, WorkerLinks};
use crate::daemon::sys::{monotonic_micros, Epoll, EventFd, TimerFd};
use crate::net::rx::{RxConfig, RxSocket};
use crate::net::tx::TxSocket;
use crate::net::unicast_tx::UnicastTx;
use crate::net::xdp::WorkerRing;
use crate::time::Instant;
use crate::wire::Family;

/// Socket tokens: receive sockets are 0..n, then these.
const TOKEN_WAKE: u64 = u64::MAX;
const TOKEN_TIMER: u64 = u64::MAX - 1;
const TOKEN_RING: u64 = u64::MAX - 2;

/// A worker, built on the control plane's thread and then moved into its own thread: the I/O
/// shell (receive sockets, epoll, timerfd, command channel) around a [`Shard`].
pub struct Worker {
    pub(super) id: usize,
    /// Receive sockets (classic BPF path); empty when the XDP ring feeds this worker.
    pub(super) rx: Vec<RxSocket>,
    /// The worker's ring buffer when the XDP fast path demultiplexes for it.
    pub(super) ring: Option<WorkerRing>,
    pub(super) epoll: Epoll,
    pub(super) timerfd: TimerFd,
    pub(super) wake: Arc<EventFd>,
    pub(super) cmds: Receiver<WorkerCmd>,
    pub(super) shard: Shard,
    /// Stored at the top of every loop iteration, read by the control plane's watchdog.
    pub(super) heartbeat: Arc<Heartbeat>,
}

impl Worker {
    /// Builds a worker for `specs`: opens one receive socket per (interface, family) with a
    /// filter for exactly these groups' VRIDs, and one transmit socket per interface.
    pub fn new(
        id: usize,
        specs: Vec<Arc<GroupSpec>>,
        cmds: Receiver<WorkerCmd>,
        wake: Arc<EventFd>,
        links: WorkerLinks,
        ring: Option<WorkerRing>,
        mut sock_filter: Option<&mut crate::net::xdp::FastPath>,
    ) -> Result<Self, WorkerError> {
        let io = |what: &'static str| {
            move |source| WorkerError::Io {
                worker: id,
                what: what.into(),
                source,
            }
        };
        let epoll = Epoll::new().map_err(io("epoll"))?;
        let timerfd = TimerFd::new().map_err(io("timerfd"))?;
        epoll
            .add(wake.as_raw_fd(), TOKEN_WAKE)
            .map_err(io("epoll add"))?;
        epoll
            .add(timerfd.as_raw_fd(), TOKEN_TIMER)
            .map_err(io("epoll add"))?;
        if let Some(r) = &ring {
            use std::os::fd::AsFd;
            epoll
                .add(r.as_fd().as_raw_fd(), TOKEN_RING)
                .map_err(io("epoll add ring"))?;
        }
        let mut worker = Worker {
            id,
            rx: Vec::new(),
            ring,
            epoll,
            timerfd,
            wake,
            cmds,
            shard: Shard::new(id, links),
            heartbeat: Arc::new(Heartbeat::default()),
        };
        // The eBPF programs (XDP, or the socket filter) swallow the followed Masters' repeats.
        let table = worker
            .ring
            .as_ref()
            .map(WorkerRing::suppress_table)
            .or_else(|| sock_filter.as_deref().map(|f| f.suppress_table()));
        if let Some(t) = table {
            worker.shard.set_suppress_table(t);
        }
        worker.shard.reserve(specs.len());
        // All groups first, then one socket per (interface, family) with its whole VRID set:
        // starting thousands of groups must not re-filter a socket thousands of times.
        let mut sockets: Vec<(u32, String, Family, bool)> = Vec::new();
        for spec in specs {
            worker.ensure_tx(&spec)?;
            if !sockets
                .iter()
                .any(|s| s.0 == spec.ifindex && s.2 == spec.family)
            {
                sockets.push((
                    spec.ifindex,
                    spec.ifname.to_string(),
                    spec.family,
                    spec.socket_filter,
                ));
            }
            worker.shard.insert_group(spec);
        }
        if worker.ring.is_none() {
            for (ifindex, ifname, family, filter) in sockets {
                let vrids = worker.shard.vrids_on(ifindex, family);
                let peers = worker.shard.unicast_peers_on(ifindex, family);
                worker.open_rx(&ifname, family, &vrids, peers, filter)?;
                if let (Some(fast), true, Some(sock)) =
                    (sock_filter.as_deref_mut(), filter, worker.rx.last())
                {
                    // Replaces the classic filter, which guarded the socket until now.
                    use std::os::fd::AsFd;
                    fast.attach_socket_filter(sock.as_fd())
                        .map_err(|e| WorkerError::Io {
                            worker: id,
                            what: format!("eBPF socket filter on {ifname}"),
                            source: std::io::Error::other(e.to_string()),
                        })?;
                }
            }
        }
        Ok(worker)
    }

    fn ensure_tx(&mut self, spec: &GroupSpec) -> Result<(), WorkerError> {
        if let (Some(key), Some(u)) = (unicast_tx_key(spec), spec.unicast.as_ref()) {
            if let Entry::Vacant(e) = self.shard.utx.entry(key) {
                let sock = UnicastTx::open(&spec.ifname, spec.ifindex, u.src, u.ttl).map_err(
                    |source| WorkerError::Net {
                        worker: self.id,
                        source,
                    },
                )?;
                e.insert(sock);
            }
        }
        if let Entry::Vacant(e) = self.shard.tx.entry(spec.ifindex) {
            let sock = TxSocket::open_index(&spec.ifname, spec.ifindex).map_err(|source| {
                WorkerError::Net {
                    worker: self.id,
                    source,
                }
            })?;
            e.insert(sock);
        }
        Ok(())
    }

    fn open_rx(
        &mut self,
        ifname: &str,
        family: Family,
        vrids: &[u8],
        peers: Vec<(u8, Vec<std::net::IpAddr>)>,
        filter: bool,
    ) -> Result<(), WorkerError> {
        let mut cfg = RxConfig::new(ifname.to_string(), family, vrids);
        cfg.socket_filter = filter;
        cfg.peers = peers;
        let sock = RxSocket::open(&cfg).map_err(|source| WorkerError::Net {
            worker: self.id,
            source,
        })?;
        self.epoll
            .add(sock.as_raw_fd(), self.rx.len() as u64)
            .map_err(|source| WorkerError::Io {
                worker: self.id,
                what: format!("epoll add {ifname}"),
                source,
            })?;
        self.rx.push(sock);
        Ok(())
    }

    /// Adds a group at run time: sockets opened or re-filtered, state machine created (not
    /// started).
    fn add_group(&mut self, spec: Arc<GroupSpec>) -> Result<usize, WorkerError> {
        self.ensure_tx(&spec)?;
        // With the XDP ring, the control plane has already put the group in the demux map.
        if self.ring.is_none() {
            let mut vrids = self.shard.vrids_on(spec.ifindex, spec.family);
            vrids.push(spec.vrid);
            let mut peers = self.shard.unicast_peers_on(spec.ifindex, spec.family);
            if let Some(u) = spec.unicast.as_ref() {
                peers.push((spec.vrid, u.peers.clone()));
            }
            match self
                .rx
                .iter()
                .find(|s| s.ifindex() == spec.ifindex && s.family() == spec.family)
            {
                Some(sock) if sock.is_filtered() => {
                    sock.set_filter(&vrids, &peers)
                        .map_err(|source| WorkerError::Net {
                            worker: self.id,
                            source,
                        })?
                }
                Some(_) => {}
                None => {
                    self.open_rx(&spec.ifname, spec.family, &vrids, peers, spec.socket_filter)?
                }
            }
        }
        Ok(self.shard.insert_group(spec))
    }

    /// Stops and forgets a group; its socket filter no longer lets its VRID through.
    fn remove_group(&mut self, id: usize, now: Instant) -> Result<(), String> {
        let g = self
            .shard
            .local(id)
            .ok_or_else(|| format!("no group {id} in worker {}", self.id))?;
        self.shard.stop_group(g, now);
        let Some(group) = self.shard.take_group(g) else {
            return Ok(());
        };
        let spec = &group.spec;
        self.shard
            .demux
            .remove(&(spec.ifindex, spec.family, spec.vrid));
        self.shard.status.remove(spec.index);
        let vrids = self.shard.vrids_on(spec.ifindex, spec.family);
        let peers = self.shard.unicast_peers_on(spec.ifindex, spec.family);
        if let Some(sock) = self
            .rx
            .iter()
            .find(|s| s.ifindex() == spec.ifindex && s.family() == spec.family && s.is_filtered())
        {
            // An empty set keeps the socket open but lets nothing through.
            if let Err(e) = sock.set_filter(&vrids, &peers) {
                warn!("worker {}: re-filtering {}: {e}", self.id, spec.ifname);
            }
        }
        Ok(())
    }

    /// Sends this worker's adverts through the XDP path of `plan` (see `transmit_xdp`).
    pub fn set_xdp_tx(&mut self, plan: super::XdpTxPlan) {
        self.shard.set_xdp_tx(plan);
    }

    /// The worker's heartbeat, for the control plane's watchdog (take it before `run`).
    pub fn heartbeat(&self) -> Arc<Heartbeat> {
        self.heartbeat.clone()
    }

    /// Runs until a `Shutdown` command has been handled.
    pub fn run(mut self) {
        // Commands queued before the thread started (the initial tracking outcomes: a group
        // whose interface is down starts in Fault) apply before the groups start.
        while let Ok(cmd) = self.cmds.try_recv() {
            if let WorkerCmd::Shutdown = cmd {
                return self.shard.shutdown(now());
            }
            self.command(cmd);
        }
        self.shard.startup(now());
        let mut tokens = Vec::with_capacity(64);
        let mut armed: Option<u64> = None;
        loop {
            // One relaxed store per turn: a wake-up from the control plane (an empty command
            // batch) makes a healthy worker beat within microseconds.
            self.heartbeat.beat(monotonic_micros());
            // Adverts that arrived before a deadline must be seen before its timer fires.
            self.drain_ring();
            self.shard.fire_timers(now());
            self.shard.flush();
            // Re-arm only when the earliest deadline moved (not after every advert).
            let next = self.shard.wheel.next_deadline().map(|t| t.as_micros());
            if next != armed {
                match self.timerfd.arm_at(next) {
                    Ok(()) => armed = next,
                    Err(e) => warn!("worker {}: arming timer: {e}", self.id),
                }
            }
            // With deferred work waiting, or a takeover due within a millisecond, only poll.
            let spinning = self.shard.spin_until.is_some_and(|t| t > now());
            if !spinning {
                self.shard.spin_until = None;
            }
            let wait = (self.shard.has_deferred() || spinning).then_some(std::time::Duration::ZERO);
            if let Err(e) = self.epoll.wait(&mut tokens, wait) {
                warn!("worker {}: epoll: {e}", self.id);
                continue;
            }
            for &t in &tokens {
                match t {
                    TOKEN_TIMER => {
                        self.timerfd.drain();
                        // Fired: a one-shot timerfd is disarmed now.
                        armed = None;
                    }
                    TOKEN_RING => self.drain_ring(),
                    TOKEN_WAKE => {
                        self.wake.drain();
                        while let Ok(cmd) = self.cmds.try_recv() {
                            if let WorkerCmd::Shutdown = cmd {
                                self.shard.shutdown(now());
                                return;
                            }
                            self.command(cmd);
                        }
                    }
                    i => self.drain_socket(i as usize),
                }
            }
            self.shard.flush();
        }
    }

    /// Applies a run-time change from the control plane and answers it.
    fn command(&mut self, cmd: WorkerCmd) {
        let now = now();
        let (reply, result) = match cmd {
            WorkerCmd::Shutdown => return self.shard.shutdown(now),
            WorkerCmd::SetPriority {
                group,
                priority,
                reply,
            } => (reply, self.shard.set_priority(group, priority, now)),
            WorkerCmd::SetPreempt {
                group,
                preempt,
                reply,
            } => (reply, self.shard.set_preempt(group, preempt, now)),
            WorkerCmd::Handover { group, reply } => (reply, self.shard.handover(group, now)),
            WorkerCmd::AddGroup { spec, reply } => {
                let r = self
                    .add_group(spec)
                    .map(|g| self.shard.start_group(g, now))
                    .map_err(|e| e.to_string());
                (reply, r)
            }
            WorkerCmd::RemoveGroup { group, reply } => (reply, self.remove_group(group, now)),
            WorkerCmd::Sync { updates } => {
                for (group, cmd) in updates {
                    self.shard.sync(group, cmd, now);
                }
                (None, Ok(()))
            }
            WorkerCmd::Track { updates } => {
                for (group, outcome) in updates {
                    self.shard.track(group, outcome, now);
                }
                (None, Ok(()))
            }
        };
        if let Err(e) = &result {
            warn!("worker {}: {e}", self.id);
        }
        // The command's adverts and events go out before the answer: a caller that removed a
        // group reads its address changes from the event channel right after the reply.
        self.shard.flush();
        if let Some(reply) = reply {
            let _ = reply.send(result);
        }
    }
}

/// The workers' clock: CLOCK_MONOTONIC, the clock the timerfd is armed on.
pub(super) fn now() -> Instant {
    Instant::from_micros(monotonic_micros())
}
