//! A worker thread: owns a shard of groups, their receive sockets and their timers, and runs
//! the protocol core on them without locks. It talks to the control plane through channels:
//! commands in (crossbeam + an eventfd to wake it), events out (address and route changes that
//! need netlink). Each group publishes its state into its own status slot.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use crossbeam_channel::Receiver;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use super::plan::GroupSpec;
use super::status::{publish, GroupSnapshot, LatenessHistogram, Slot, StatusBoard};
use super::sys::{monotonic_micros, Epoll, EventFd, TimerFd};
use crate::fsm::{Action, AdvertInfo, GroupParams, State, Vrrp};
use crate::net::rx::{RxConfig, RxSocket};
use crate::net::tx::TxSocket;
use crate::net::xdp::WorkerRing;
use crate::time::Instant;
use crate::timer::{TimerId, TimingWheel};
use crate::wire::{self, AdvertCache, AdvertParams, Family, RxMeta, VrrpPacket, VrrpRepr};

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
    /// Stop a group (priority-0 advert if Master) and forget it.
    RemoveGroup {
        /// Group id.
        group: usize,
        /// Done.
        reply: Option<Reply>,
    },
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

/// What a timing-wheel entry stands for (values are local group slots).
#[derive(Debug, Clone, Copy)]
enum TimerKey {
    /// The group's protocol timer (Adver_Timer or Master_Down_Timer).
    Fsm(usize),
    /// The next gratuitous ARP / NA repetition.
    Announce(usize),
}

/// Per-group runtime state inside a worker.
struct Group {
    /// Shared with the control plane (one copy per group in the daemon).
    spec: Arc<GroupSpec>,
    fsm: Vrrp,
    advert: AdvertCache,
    fsm_timer: Option<TimerId>,
    announce_timer: Option<TimerId>,
    announce_left: u32,
    slot: Slot,
    auth_failures: u64,
    malformed: u64,
    last_transition: Option<u64>,
    /// Rate limit for discard logs (µs timestamp of the last one).
    last_discard_log: u64,
    /// What readers last saw (state, priority, Master) and when (µs).
    published_key: (State, u8, Option<std::net::IpAddr>),
    published_at: u64,
}

/// Deferred items (logs, announcements) run per worker loop turn.
const DEFERRED_PER_TURN: usize = 64;

/// Longest a group's published counters may lag behind (µs).
const PUBLISH_EVERY_US: u64 = 1_000_000;

/// Socket tokens: receive sockets are 0..n, then these.
const TOKEN_WAKE: u64 = u64::MAX;
const TOKEN_TIMER: u64 = u64::MAX - 1;
const TOKEN_RING: u64 = u64::MAX - 2;

/// A worker, built on the control plane's thread and then moved into its own thread: the I/O
/// shell (receive sockets, epoll, timerfd, command channel) around a [`Shard`].
pub struct Worker {
    id: usize,
    /// Receive sockets (classic BPF path); empty when the XDP ring feeds this worker.
    rx: Vec<RxSocket>,
    /// The worker's ring buffer when the XDP fast path demultiplexes for it.
    ring: Option<WorkerRing>,
    epoll: Epoll,
    timerfd: TimerFd,
    wake: Arc<EventFd>,
    cmds: Receiver<WorkerCmd>,
    shard: Shard,
}

/// The groups a worker owns and everything that drives them, without receive sockets: adverts
/// are fed in by the shell, timers fired from the timing wheel.
pub struct Shard {
    id: usize,
    /// Stable local slots (timer keys and the demux map point into it); `None` = free.
    groups: Vec<Option<Group>>,
    /// (ifindex, family, vrid) → local slot.
    demux: HashMap<(u32, Family, u8), usize>,
    tx: HashMap<u32, TxSocket>,
    wheel: TimingWheel<TimerKey>,
    events: UnboundedSender<WorkerEvent>,
    status: Arc<StatusBoard>,
    lateness: Arc<LatenessHistogram>,
    actions: Vec<Action>,
    /// Adverts queued for the next [`Shard::flush`]: bytes, and (ifindex, range) per frame.
    out_bytes: Vec<u8>,
    out_frames: Vec<(u32, std::ops::Range<usize>)>,
    /// Work that may wait until the turn's adverts are sent: when a thousand groups change
    /// state in the same millisecond, the last advert must not wait for a thousand log lines
    /// and gratuitous ARPs.
    deferred: Vec<(usize, Deferred)>,
    /// The `now` of the last [`Shard::fire_timers`]: receive timestamps are clamped to it, so
    /// the machines never see time go backwards.
    last_fire: Instant,
}

/// Work [`Shard::flush`] does after sending the adverts.
#[derive(Debug, Clone, Copy)]
enum Deferred {
    /// Log a transition.
    Log(State, State, crate::fsm::TransitionReason),
    /// Start gratuitous ARP / unsolicited NA (at the given time).
    Announce(Instant),
}

/// Errors while setting a worker (or a group in it) up.
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
        };
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
                    spec.ifname.clone(),
                    spec.family,
                    spec.socket_filter,
                ));
            }
            worker.shard.insert_group(spec);
        }
        if worker.ring.is_none() {
            for (ifindex, ifname, family, filter) in sockets {
                let vrids = worker.shard.vrids_on(ifindex, family);
                worker.open_rx(&ifname, family, &vrids, filter)?;
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
        filter: bool,
    ) -> Result<(), WorkerError> {
        let mut cfg = RxConfig::new(ifname.to_string(), family, vrids);
        cfg.socket_filter = filter;
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
            match self
                .rx
                .iter()
                .find(|s| s.ifindex() == spec.ifindex && s.family() == spec.family)
            {
                Some(sock) if sock.is_filtered() => {
                    sock.set_vrids(&vrids).map_err(|source| WorkerError::Net {
                        worker: self.id,
                        source,
                    })?
                }
                Some(_) => {}
                None => self.open_rx(&spec.ifname, spec.family, &vrids, spec.socket_filter)?,
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
        let Some(group) = self.shard.groups[g].take() else {
            return Ok(());
        };
        let spec = &group.spec;
        self.shard
            .demux
            .remove(&(spec.ifindex, spec.family, spec.vrid));
        self.shard.status.remove(spec.index);
        let vrids = self.shard.vrids_on(spec.ifindex, spec.family);
        if let Some(sock) = self
            .rx
            .iter()
            .find(|s| s.ifindex() == spec.ifindex && s.family() == spec.family && s.is_filtered())
        {
            // An empty set keeps the socket open but lets nothing through.
            if let Err(e) = sock.set_vrids(&vrids) {
                warn!("worker {}: re-filtering {}: {e}", self.id, spec.ifname);
            }
        }
        Ok(())
    }

    /// Runs until a `Shutdown` command has been handled.
    pub fn run(mut self) {
        self.shard.startup(now());
        let mut tokens = Vec::with_capacity(64);
        let mut armed: Option<u64> = None;
        loop {
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
            // With deferred work waiting, only poll: it runs in the next turn.
            let wait = self
                .shard
                .has_deferred()
                .then_some(std::time::Duration::ZERO);
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
            } => (reply, self.shard.set_preempt(group, preempt)),
            WorkerCmd::Handover { group, reply } => (reply, self.shard.handover(group, now)),
            WorkerCmd::AddGroup { spec, reply } => {
                let r = self
                    .add_group(spec)
                    .map(|g| self.shard.start_group(g, now))
                    .map_err(|e| e.to_string());
                (reply, r)
            }
            WorkerCmd::RemoveGroup { group, reply } => (reply, self.remove_group(group, now)),
        };
        if let Err(e) = &result {
            warn!("worker {}: {e}", self.id);
        }
        if let Some(reply) = reply {
            let _ = reply.send(result);
        }
    }

    /// Runs the events the XDP program queued for this worker, in bounded batches.
    fn drain_ring(&mut self) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        let shard = &mut self.shard;
        for _ in 0..8 {
            let now = now();
            let n = ring.drain(256, |ev| {
                let (Some(src), false) = (ev.src_addr(), ev.is_truncated()) else {
                    return;
                };
                let dst = match src {
                    std::net::IpAddr::V4(_) => std::net::IpAddr::V4(crate::net::VRRP_MCAST_V4),
                    std::net::IpAddr::V6(_) => std::net::IpAddr::V6(crate::net::VRRP_MCAST_V6),
                };
                let meta = RxMeta {
                    src,
                    dst,
                    ttl: ev.ttl,
                };
                let at = shard.rx_time(ev.rx_ns, now);
                shard.handle_advert(ev.ifindex, ev.vrrp_bytes(), &meta, at);
            });
            if n < 256 {
                return;
            }
        }
    }

    fn drain_socket(&mut self, sock: usize) {
        let Some(socket) = self.rx.get_mut(sock) else {
            return;
        };
        let shard = &mut self.shard;
        // Bounded so one flooded interface cannot starve timers and other sockets.
        for _ in 0..8 {
            let now = now();
            let n = socket.recv_batch(|d| {
                let meta = RxMeta {
                    src: d.src,
                    dst: d.dst,
                    ttl: d.ttl,
                };
                let at = shard.rx_time(d.rx_ns, now);
                shard.handle_advert(d.ifindex, d.payload, &meta, at);
            });
            match n {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) => {
                    warn!("worker {}: receive: {e}", self.id);
                    return;
                }
            }
        }
    }
}

/// The workers' clock: CLOCK_MONOTONIC, the clock the timerfd is armed on.
fn now() -> Instant {
    Instant::from_micros(monotonic_micros())
}

impl Shard {
    /// An empty shard publishing into `links`, with no transmit sockets: the worker adds them
    /// (benchmarks and tests drive a shard without any, queued adverts are then dropped).
    pub fn new(id: usize, links: WorkerLinks) -> Self {
        Shard {
            id,
            groups: Vec::new(),
            demux: HashMap::new(),
            tx: HashMap::new(),
            wheel: TimingWheel::new(),
            events: links.events,
            status: links.status,
            lateness: links.lateness,
            actions: Vec::with_capacity(16),
            out_bytes: Vec::with_capacity(4096),
            out_frames: Vec::with_capacity(64),
            deferred: Vec::new(),
            last_fire: Instant::ZERO,
        }
    }

    /// The time to hand the machines for an advert the kernel stamped `rx_ns` (CLOCK_MONOTONIC
    /// nanoseconds, 0 = unknown) and the worker read at `now`: the arrival, so a Backup's
    /// Master_Down_Timer runs from when the advert arrived, not from when a busy worker got
    /// to it; never before the last timer turn (time must not run backwards for a machine)
    /// nor after `now`.
    pub fn rx_time(&self, rx_ns: u64, now: Instant) -> Instant {
        if rx_ns == 0 {
            return now;
        }
        Instant::from_micros(rx_ns / 1000)
            .max(self.last_fire)
            .min(now)
    }

    /// Adds a group (its state machine not started) and returns its local slot.
    pub fn insert_group(&mut self, spec: impl Into<Arc<GroupSpec>>) -> usize {
        let spec: Arc<GroupSpec> = spec.into();
        let key = (spec.ifindex, spec.family, spec.vrid);
        let group = Group {
            fsm: Vrrp::new(group_params(&spec)),
            advert: AdvertCache::new(),
            fsm_timer: None,
            announce_timer: None,
            announce_left: 0,
            slot: self.status.slot(spec.index),
            auth_failures: 0,
            malformed: 0,
            last_transition: None,
            last_discard_log: 0,
            published_key: (State::Initialize, 0, None),
            published_at: 0,
            spec,
        };
        let g = match self.groups.iter().position(Option::is_none) {
            Some(free) => {
                self.groups[free] = Some(group);
                free
            }
            None => {
                self.groups.push(Some(group));
                self.groups.len() - 1
            }
        };
        self.demux.insert(key, g);
        self.publish(g);
        g
    }

    /// The state of the group in local slot `g`.
    pub fn state(&self, g: usize) -> Option<State> {
        self.groups.get(g)?.as_ref().map(|gr| gr.fsm.state())
    }

    /// The earliest timer deadline of the shard (when its worker wakes next).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.wheel.next_deadline()
    }

    /// Starts every group's state machine.
    pub fn startup(&mut self, now: Instant) {
        for g in 0..self.groups.len() {
            self.start_group(g, now);
        }
    }

    /// Starts the state machine of the group in local slot `g`.
    pub fn start_group(&mut self, g: usize, now: Instant) {
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        group.fsm.startup(now, &mut self.actions);
        self.apply_actions(g, now);
    }

    fn stop_group(&mut self, g: usize, now: Instant) {
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        group.fsm.shutdown(now, &mut self.actions);
        self.apply_actions(g, now);
        if let Some(group) = self.groups[g].as_mut() {
            if let Some(id) = group.announce_timer.take() {
                self.wheel.cancel(id);
            }
        }
    }

    /// Takes the queued adverts as (ifindex, Ethernet frame) without sending them (a shard
    /// driven without sockets: tests and benchmarks).
    pub fn drain_outbox(&mut self) -> Vec<(u32, Vec<u8>)> {
        let out = self
            .out_frames
            .iter()
            .map(|(i, r)| (*i, self.out_bytes[r.clone()].to_vec()))
            .collect();
        self.out_frames.clear();
        self.out_bytes.clear();
        while self.has_deferred() {
            self.run_deferred();
        }
        out
    }

    /// Whether deferred work is waiting (the worker then polls instead of sleeping).
    pub fn has_deferred(&self) -> bool {
        !self.deferred.is_empty()
    }

    /// Runs the work deferred behind the adverts (logs, announcements), at most
    /// [`DEFERRED_PER_TURN`] items: when thousands of groups take over at once, timers that
    /// fall due meanwhile must not wait for thousands of gratuitous ARPs.
    fn run_deferred(&mut self) {
        let n = self.deferred.len().min(DEFERRED_PER_TURN);
        let mut deferred = std::mem::take(&mut self.deferred);
        let rest = deferred.split_off(n);
        for (g, d) in deferred.drain(..) {
            match d {
                Deferred::Log(from, to, reason) => {
                    if let Some(group) = self.groups.get(g).and_then(Option::as_ref) {
                        let spec = &group.spec;
                        info!(
                            "vrouter {} on {} ({}): {from:?} -> {to:?} ({reason:?})",
                            spec.vrid, spec.ifname, spec.family
                        );
                    }
                }
                Deferred::Announce(at) => self.announce(g, at),
            }
        }
        // Work queued meanwhile goes after what was already waiting.
        let mut rest = rest;
        rest.append(&mut self.deferred);
        self.deferred = rest;
    }

    /// Sends the queued adverts, one batch per interface, then the deferred work.
    pub fn flush(&mut self) {
        if self.out_frames.is_empty() {
            self.run_deferred();
            return;
        }
        // Stable: adverts keep their order within an interface.
        self.out_frames.sort_by_key(|(ifindex, _)| *ifindex);
        let mut frames: Vec<&[u8]> = Vec::with_capacity(self.out_frames.len());
        for chunk in self.out_frames.chunk_by(|a, b| a.0 == b.0) {
            frames.clear();
            frames.extend(chunk.iter().map(|(_, r)| &self.out_bytes[r.clone()]));
            if let Some(tx) = self.tx.get(&chunk[0].0) {
                if let Err(e) = tx.send_batch(&frames) {
                    warn!(
                        "worker {}: sending {} advert(s): {e}",
                        self.id,
                        frames.len()
                    );
                }
            }
        }
        self.out_frames.clear();
        self.out_bytes.clear();
        self.run_deferred();
    }

    /// Shuts every group down (priority-0 adverts from Masters) and reports it.
    pub fn shutdown(&mut self, now: Instant) {
        for g in 0..self.groups.len() {
            self.stop_group(g, now);
        }
        self.flush();
        while self.has_deferred() {
            self.run_deferred();
        }
        info!("worker {}: stopped", self.id);
        let _ = self.events.send(WorkerEvent::Stopped { worker: self.id });
    }

    /// The VRIDs this shard runs on (interface, family): what its socket filter lets through.
    fn vrids_on(&self, ifindex: u32, family: Family) -> Vec<u8> {
        self.demux
            .keys()
            .filter(|(i, f, _)| *i == ifindex && *f == family)
            .map(|(_, _, v)| *v)
            .collect()
    }

    /// The local slot of the group with stable id `id`.
    fn local(&self, id: usize) -> Option<usize> {
        self.groups
            .iter()
            .position(|g| g.as_ref().is_some_and(|g| g.spec.index == id))
    }

    /// The local slot and group of stable id `id`, with the action buffer beside it.
    fn group_mut(&mut self, id: usize) -> Result<(usize, &mut Group, &mut Vec<Action>), String> {
        let g = self
            .local(id)
            .ok_or_else(|| format!("no group {id} in worker {}", self.id))?;
        let group = self.groups[g]
            .as_mut()
            .ok_or_else(|| format!("group {id} is gone"))?;
        Ok((g, group, &mut self.actions))
    }

    fn set_priority(&mut self, id: usize, priority: u8, now: Instant) -> Result<(), String> {
        let (g, group, actions) = self.group_mut(id)?;
        if group.spec.owner {
            return Err(format!(
                "vrouter {} on {} owns its addresses: its priority stays 255",
                group.spec.vrid, group.spec.ifname
            ));
        }
        let r = group.fsm.set_priority(priority, now, actions);
        info!(
            "vrouter {} on {}: priority set to {priority}",
            group.spec.vrid, group.spec.ifname
        );
        self.apply_actions(g, now);
        r.map_err(|e| e.to_string())
    }

    fn set_preempt(&mut self, id: usize, preempt: bool) -> Result<(), String> {
        let (g, group, _) = self.group_mut(id)?;
        group.fsm.set_preempt(preempt);
        info!(
            "vrouter {} on {}: preemption set to {preempt}",
            group.spec.vrid, group.spec.ifname
        );
        self.publish(g);
        Ok(())
    }

    fn handover(&mut self, id: usize, now: Instant) -> Result<(), String> {
        let (g, group, _) = self.group_mut(id)?;
        if group.fsm.state() != State::Master {
            return Err(format!(
                "vrouter {} on {} is not Master: nothing to hand over",
                group.spec.vrid, group.spec.ifname
            ));
        }
        info!(
            "vrouter {} on {}: handing over",
            group.spec.vrid, group.spec.ifname
        );
        self.stop_group(g, now);
        self.start_group(g, now);
        Ok(())
    }

    /// Fires every timer due at `now`, recording how late each fired.
    pub fn fire_timers(&mut self, now: Instant) {
        self.last_fire = self.last_fire.max(now);
        while let Some((_, key)) = self.wheel.poll(now) {
            match key {
                TimerKey::Fsm(g) => {
                    let Some(group) = self.groups[g].as_mut() else {
                        continue;
                    };
                    group.fsm_timer = None;
                    match group.fsm.poll_timeout() {
                        // Armed early (see `rearm`): the real deadline moved on.
                        Some(due) if due > now => {
                            group.fsm_timer = Some(self.wheel.insert(due, TimerKey::Fsm(g)));
                            continue;
                        }
                        Some(due) => self
                            .lateness
                            .record(now.as_micros().saturating_sub(due.as_micros())),
                        None => continue,
                    }
                    group.fsm.handle_timeout(now, &mut self.actions);
                    self.apply_actions(g, now);
                }
                TimerKey::Announce(g) => {
                    if let Some(group) = self.groups[g].as_mut() {
                        group.announce_timer = None;
                        self.announce(g, now);
                    }
                }
            }
        }
    }

    /// Validates and demultiplexes one received VRRP message and runs its group's machine.
    pub fn handle_advert(&mut self, ifindex: u32, payload: &[u8], meta: &RxMeta, now: Instant) {
        let family = Family::of(&meta.src);
        let Some(vrid) = payload.get(1).copied() else {
            return;
        };
        let Some(&g) = self.demux.get(&(ifindex, family, vrid)) else {
            return;
        };
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        let parsed = match VrrpPacket::new_checked(payload).and_then(|p| VrrpRepr::parse(&p, meta))
        {
            Ok(p) => p,
            Err(e) => {
                group.malformed += 1;
                group.log_discard(now, format_args!("from {}: {e}", meta.src));
                self.publish_if_due(g, now);
                return;
            }
        };
        let repr = &parsed.repr;
        if repr.version != group.spec.version {
            let expected = group.spec.version;
            group.malformed += 1;
            group.log_discard(
                now,
                format_args!(
                    "from {}: version {:?}, expected {expected:?}",
                    meta.src, repr.version
                ),
            );
            self.publish_if_due(g, now);
            return;
        }
        if repr.version == wire::Version::V2 {
            if let Err(e) = group.spec.auth.verify(payload) {
                group.auth_failures += 1;
                group.log_discard(
                    now,
                    format_args!("from {}: authentication failed: {e}", meta.src),
                );
                self.publish_if_due(g, now);
                return;
            }
        }
        let interval_cs = match repr.version {
            wire::Version::V2 => repr.max_advert_int.saturating_mul(100),
            wire::Version::V3 => repr.max_advert_int,
        };
        let info = AdvertInfo {
            src: meta.src,
            priority: repr.priority,
            max_advert_int_cs: interval_cs,
        };
        group.fsm.on_advert(&info, now, &mut self.actions);
        self.apply_actions(g, now);
    }

    /// Executes the actions the state machine returned for group `g`, re-arms its timer and
    /// publishes its state.
    fn apply_actions(&mut self, g: usize, now: Instant) {
        let mut actions = std::mem::take(&mut self.actions);
        for action in actions.drain(..) {
            match action {
                Action::SendAdvert { priority } => self.send_advert(g, priority),
                Action::Transition { from, to, reason } => {
                    // Logged after the turn's adverts are out (see `flush`).
                    self.deferred.push((g, Deferred::Log(from, to, reason)));
                    if let Some(group) = self.groups[g].as_mut() {
                        group.last_transition = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .ok()
                            .map(|d| d.as_secs());
                    }
                }
                Action::AddVips => self.net(g, NetOp::AddVips),
                Action::RemoveVips => self.net(g, NetOp::RemoveVips),
                Action::InstallRoutes => self.net(g, NetOp::InstallRoutes),
                Action::RemoveRoutes => self.net(g, NetOp::RemoveRoutes),
                Action::Announce => {
                    if let Some(group) = self.groups[g].as_mut() {
                        group.announce_left = group.spec.garp_repeat;
                        if let Some(id) = group.announce_timer.take() {
                            self.wheel.cancel(id);
                        }
                    }
                    // Sent after the turn's adverts are out (see `flush`).
                    self.deferred.push((g, Deferred::Announce(now)));
                }
                Action::Discarded { reason } => {
                    if let Some(group) = self.groups[g].as_mut() {
                        group.log_discard(now, format_args!("{reason:?}"));
                    }
                }
            }
        }
        self.actions = actions;
        self.rearm(g);
        self.publish_if_due(g, now);
    }

    /// Keeps the wheel entry of group `g` at or before its machine's next deadline. A later
    /// deadline (a Backup's Master_Down_Timer pushed back by every advert) leaves the entry
    /// where it is: when it fires early, [`Shard::fire_timers`] moves it on. That is one wheel
    /// operation per Master_Down_Interval instead of one per advert.
    fn rearm(&mut self, g: usize) {
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        let next = group.fsm.poll_timeout();
        match (group.fsm_timer, next) {
            (Some(id), Some(at)) => match self.wheel.deadline(id) {
                Some(armed) if armed <= at => {}
                _ => {
                    if self.wheel.reschedule(id, at).is_err() {
                        group.fsm_timer = Some(self.wheel.insert(at, TimerKey::Fsm(g)));
                    }
                }
            },
            (Some(id), None) => {
                self.wheel.cancel(id);
                group.fsm_timer = None;
            }
            (None, Some(at)) => group.fsm_timer = Some(self.wheel.insert(at, TimerKey::Fsm(g))),
            (None, None) => {}
        }
    }

    fn send_advert(&mut self, g: usize, priority: u8) {
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        let spec = &group.spec;
        let params = AdvertParams {
            version: spec.version,
            vrid: spec.vrid,
            priority,
            interval: wire_interval(spec),
            src: spec.primary,
            addrs: &spec.advert_addrs,
            auth: &spec.auth,
            v3_checksum: spec.v3_checksum,
        };
        let frame = match group.advert.frame(&params) {
            Ok(f) => f,
            Err(e) => {
                warn!(
                    "vrouter {} on {}: cannot build advert: {e}",
                    spec.vrid, spec.ifname
                );
                return;
            }
        };
        // Queued: every advert due in this loop turn leaves in one sendmmsg per interface.
        let start = self.out_bytes.len();
        self.out_bytes.extend_from_slice(frame);
        self.out_frames
            .push((spec.ifindex, start..self.out_bytes.len()));
    }

    /// Sends one round of gratuitous ARP / unsolicited NA and schedules the next.
    fn announce(&mut self, g: usize, now: Instant) {
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        if group.announce_left == 0 || group.fsm.state() != State::Master {
            return;
        }
        group.announce_left -= 1;
        let spec = &group.spec;
        let frames: Vec<Vec<u8>> = spec
            .vips
            .iter()
            .map(|v| match v.addr {
                std::net::IpAddr::V4(a) => wire::arp::gratuitous_arp(spec.announce_mac, a).to_vec(),
                std::net::IpAddr::V6(a) => {
                    let src = match spec.primary {
                        std::net::IpAddr::V6(ll) => ll,
                        std::net::IpAddr::V4(_) => a,
                    };
                    wire::ndisc::unsolicited_na(spec.announce_mac, src, a, true).to_vec()
                }
            })
            .collect();
        if let Some(tx) = self.tx.get(&spec.ifindex) {
            for f in &frames {
                if let Err(e) = tx.send(f) {
                    debug!("vrouter {} on {}: announcing: {e}", spec.vrid, spec.ifname);
                }
            }
        }
        if group.announce_left > 0 {
            let at = now + spec.garp_interval;
            group.announce_timer = Some(self.wheel.insert(at, TimerKey::Announce(g)));
        }
    }

    fn net(&self, g: usize, op: NetOp) {
        if let Some(group) = self.groups[g].as_ref() {
            let _ = self.events.send(WorkerEvent::Net {
                group: group.spec.index,
                op,
            });
        }
    }

    /// Copies group `g`'s state into its status slot.
    /// Publishes group `g` if what readers act on changed (state, priority, Master) or its
    /// counters are older than [`PUBLISH_EVERY_US`]: the per-advert path then costs a compare,
    /// not a lock and a copy.
    fn publish_if_due(&mut self, g: usize, now: Instant) {
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        let key = (
            group.fsm.state(),
            group.fsm.priority(),
            group.fsm.current_master(),
        );
        if key != group.published_key
            || now.as_micros().saturating_sub(group.published_at) >= PUBLISH_EVERY_US
        {
            group.published_key = key;
            group.published_at = now.as_micros();
            self.publish(g);
        }
    }

    fn publish(&self, g: usize) {
        let Some(group) = self.groups[g].as_ref() else {
            return;
        };
        let fsm = &group.fsm;
        let stats = fsm.stats();
        publish(
            &group.slot,
            GroupSnapshot {
                state: fsm.state(),
                master: fsm.current_master(),
                priority: fsm.priority(),
                preempt: fsm.params().preempt,
                master_adver_interval: fsm.master_adver_interval(),
                master_down_interval: fsm.master_down_interval(),
                skew_time: fsm.skew_time(),
                adverts_in: stats.adverts_received + group.auth_failures + group.malformed,
                adverts_out: stats.adverts_sent,
                transitions: stats.transitions,
                auth_failures: group.auth_failures,
                discarded: stats.discarded.total() + group.malformed,
                last_transition: group.last_transition,
            },
        );
    }
}

impl Group {
    /// Logs a discarded advert, at most once per second per group (a flood must not flood logs).
    fn log_discard(&mut self, now: Instant, what: std::fmt::Arguments<'_>) {
        if self.last_discard_log == 0
            || now.as_micros().saturating_sub(self.last_discard_log) >= 1_000_000
        {
            self.last_discard_log = now.as_micros().max(1);
            warn!(
                "vrouter {} on {}: advert discarded {what}",
                self.spec.vrid, self.spec.ifname
            );
        }
    }
}

/// The advert interval field: whole seconds (v2) or centiseconds (v3).
fn wire_interval(spec: &GroupSpec) -> u16 {
    match spec.version {
        wire::Version::V2 => spec.interval.as_secs().clamp(1, 255) as u16,
        wire::Version::V3 => (spec.interval.as_millis() / 10).clamp(1, 4095) as u16,
    }
}

fn group_params(spec: &GroupSpec) -> GroupParams {
    GroupParams {
        version: match spec.version {
            wire::Version::V2 => crate::fsm::Version::V2,
            wire::Version::V3 => crate::fsm::Version::V3,
        },
        vrid: spec.vrid,
        priority: spec.priority,
        preempt: spec.preempt,
        accept_mode: spec.accept_mode,
        advert_interval: spec.interval,
        primary_addr: spec.primary,
        advert_phase: Some(advert_phase(spec.index, spec.interval, spec.advert_slots)),
    }
}

/// The phase of group `index`'s adverts: groups are dealt round-robin over the `slots` slots
/// of their interval, slots of at least [`MIN_ADVERT_SLOT_US`]. Groups sharing a slot leave
/// in one `sendmmsg` and are what a peer's workers take over together when this router dies;
/// every slot costs each side a wake-up per interval.
/// Narrowest phase slot: at 10 ms adverts two slots, not ten (each slot is a wake-up per
/// interval on both routers, and a hundred groups at 10 ms are only a few per slot anyway).
const MIN_ADVERT_SLOT_US: u128 = 5_000;

fn advert_phase(index: usize, interval: std::time::Duration, slots: u16) -> std::time::Duration {
    let slots = (interval.as_micros() / MIN_ADVERT_SLOT_US).clamp(1, u128::from(slots.max(1)));
    let slot_us = interval.as_micros() / slots;
    let phase_us = (index as u128 % slots) * slot_us;
    std::time::Duration::from_micros(u64::try_from(phase_us).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    //! Two shards wired back to back in memory, on virtual time: the worker logic around the
    //! state machine (demux, validation, lazy timer re-arm, batching, status publishing).

    use super::*;
    use crate::auth::AuthKey;
    use crate::daemon::plan::NetDrv;
    use crate::net::IpPrefix;
    use crate::wire::{parse_ethernet_frame, MacAddr, V3Checksum};
    use std::time::Duration;

    fn spec(index: usize, me: u8, priority: u8) -> GroupSpec {
        let vip: std::net::IpAddr = "10.0.0.100".parse().unwrap();
        GroupSpec {
            index,
            ifname: "eth0".into(),
            ifindex: 2,
            if_mac: MacAddr([2, 0, 0, 0, 0, me]),
            vrid: 7,
            family: Family::Ipv4,
            version: wire::Version::V3,
            priority,
            owner: false,
            preempt: true,
            accept_mode: false,
            interval: Duration::from_millis(100),
            primary: format!("10.0.0.{me}").parse().unwrap(),
            vips: vec![IpPrefix::host(vip)],
            advert_addrs: vec![vip],
            auth: AuthKey::none(),
            v3_checksum: V3Checksum::PseudoHeader,
            announce_mac: MacAddr([2, 0, 0, 0, 0, me]),
            vip_ifname: "eth0".into(),
            vif: None,
            netdrv: NetDrv::Netlink,
            socket_filter: true,
            garp_repeat: 0,
            garp_interval: Duration::from_secs(1),
            advert_slots: crate::daemon::plan::DEFAULT_ADVERT_SLOTS,
        }
    }

    fn shard(
        id: usize,
        spec: GroupSpec,
    ) -> (Shard, tokio::sync::mpsc::UnboundedReceiver<WorkerEvent>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let links = WorkerLinks {
            events: tx,
            status: Arc::new(StatusBoard::new()),
            lateness: Arc::new(LatenessHistogram::default()),
        };
        let mut s = Shard::new(id, links);
        s.insert_group(spec);
        (s, rx)
    }

    /// Delivers `from`'s queued adverts to `to` at `now`; returns how many.
    fn deliver(from: &mut Shard, to: &mut Shard, now: Instant) -> usize {
        let frames = from.drain_outbox();
        for (ifindex, f) in &frames {
            let view = parse_ethernet_frame(f).unwrap();
            let meta = RxMeta {
                src: view.src_ip,
                dst: view.dst_ip,
                ttl: view.ttl,
            };
            to.handle_advert(*ifindex, view.vrrp, &meta, now);
        }
        frames.len()
    }

    /// Runs both shards for `ms` milliseconds of virtual time in 1 ms steps; returns when B
    /// last received an advert from A.
    fn run(a: &mut Shard, b: &mut Shard, t: &mut Instant, ms: u64) -> Option<Instant> {
        let mut last = None;
        for _ in 0..ms {
            *t += Duration::from_millis(1);
            a.fire_timers(*t);
            if deliver(a, b, *t) > 0 {
                last = Some(*t);
            }
            b.fire_timers(*t);
            deliver(b, a, *t);
        }
        last
    }

    #[test]
    fn higher_priority_wins_and_backup_takes_over_at_master_down_interval() {
        let (mut a, _ea) = shard(0, spec(0, 1, 200));
        let (mut b, _eb) = shard(1, spec(1, 2, 100));
        let mut t = Instant::from_millis(1);
        a.startup(t);
        b.startup(t);
        let last_advert = run(&mut a, &mut b, &mut t, 2_000).expect("A advertised");
        assert_eq!(a.state(0), Some(State::Master));
        assert_eq!(b.state(0), Some(State::Backup));
        let mdi = Duration::from_micros(300_000 + 60_937);
        // A dies: B must take over exactly at the last advert + Master_Down_Interval.
        let mut took_over = None;
        for _ in 0..1_000 {
            t += Duration::from_millis(1);
            b.fire_timers(t);
            if b.state(0) == Some(State::Master) {
                took_over = Some(t);
                break;
            }
        }
        let took_over = took_over.expect("B never took over");
        let gap = took_over - last_advert;
        // 1 ms steps: the takeover is seen in the first step at or after the deadline.
        assert!(
            gap >= mdi && gap <= mdi + Duration::from_millis(1),
            "takeover {gap:?} after the last advert, MDI {mdi:?}"
        );
        // And its first advert is queued right away.
        assert_eq!(b.drain_outbox().len(), 1);
    }

    #[test]
    fn masters_that_took_over_together_spread_their_next_adverts_over_the_interval() {
        // 40 groups, 1 s adverts (v2), one shard: all become Master on the same tick.
        let mk = |i: usize| GroupSpec {
            vrid: (i + 1) as u8,
            version: wire::Version::V2,
            interval: Duration::from_secs(1),
            ..spec(i, 1, 200)
        };
        let (mut a, _ea) = shard(0, mk(0));
        for i in 1..40 {
            a.insert_group(mk(i));
        }
        let mut t = Instant::from_millis(1);
        a.startup(t);
        let mut sent_at: Vec<Vec<Instant>> = vec![Vec::new(); 41];
        for _ in 0..8_000 {
            t += Duration::from_millis(1);
            a.fire_timers(t);
            for (_, f) in a.drain_outbox() {
                let view = parse_ethernet_frame(&f).unwrap();
                sent_at[usize::from(view.vrrp[1])].push(t);
            }
        }
        let first: Vec<Instant> = sent_at[1..].iter().map(|v| v[0]).collect();
        assert!(first.iter().all(|&f| f == first[0]), "took over together");
        // After the first advert: the 20 slots of 50 ms, two groups each; between one and
        // two intervals after the first advert, never closer than the interval.
        let mut per_slot = std::collections::BTreeMap::<u64, usize>::new();
        for v in &sent_at[1..] {
            *per_slot.entry(v[1].as_micros() % 1_000_000).or_default() += 1;
        }
        assert_eq!(per_slot.len(), 20, "{per_slot:?}");
        assert!(per_slot.values().all(|&n| n == 2), "{per_slot:?}");
        assert!(per_slot.keys().all(|k| k % 50_000 == 0), "{per_slot:?}");
        for v in &sent_at[1..] {
            assert!(v.len() >= 4);
            for w in v.windows(2) {
                let gap = w[1] - w[0];
                assert!(gap >= Duration::from_secs(1), "{w:?}");
                assert!(gap < Duration::from_secs(2), "{w:?}");
            }
            for w in v[1..].windows(2) {
                assert_eq!(w[1] - w[0], Duration::from_secs(1), "{w:?}");
            }
        }
    }

    #[test]
    fn advert_phases_follow_the_configured_slots() {
        let ms = Duration::from_millis;
        let phases = |interval, slots| {
            (0..100)
                .map(|i| advert_phase(i, interval, slots))
                .collect::<std::collections::BTreeSet<_>>()
        };
        // 1 s, 20 slots: 0, 50, ..., 950 ms.
        assert_eq!(phases(ms(1000), 20), (0..20).map(|k| ms(50 * k)).collect());
        // One slot: every group in one burst.
        assert_eq!(phases(ms(1000), 1), [ms(0)].into());
        // 10 ms adverts: slots of at least 5 ms, so two.
        assert_eq!(phases(ms(10), 20), [ms(0), ms(5)].into());
    }

    #[test]
    fn receive_timestamps_start_timers_from_the_arrival() {
        let (mut b, _eb) = shard(1, spec(1, 2, 100));
        b.fire_timers(Instant::from_millis(10));
        let now = Instant::from_millis(20);
        // The kernel's stamp (15 ms) is used; earlier than the last timer turn or later than
        // now it is clamped; 0 means unknown.
        assert_eq!(b.rx_time(15_000_000, now), Instant::from_millis(15));
        assert_eq!(b.rx_time(5_000_000, now), Instant::from_millis(10));
        assert_eq!(b.rx_time(25_000_000, now), now);
        assert_eq!(b.rx_time(0, now), now);
    }

    #[test]
    fn lazy_rearm_never_fires_a_backup_early() {
        let (mut a, _ea) = shard(0, spec(0, 1, 200));
        let (mut b, _eb) = shard(1, spec(1, 2, 100));
        let mut t = Instant::from_millis(1);
        a.startup(t);
        b.startup(t);
        // Ten seconds of steady adverts: B sees 100 of them and stays Backup throughout,
        // although its wheel entry fired several times at stale deadlines.
        run(&mut a, &mut b, &mut t, 10_000);
        assert_eq!(b.state(0), Some(State::Backup));
        let next = b.next_deadline().expect("B has a timer");
        assert!(next > t, "B's timer is in the past");
    }

    #[test]
    fn adverts_for_other_vrids_or_interfaces_are_ignored() {
        let (mut a, _ea) = shard(0, spec(0, 1, 200));
        let mut other = spec(1, 2, 100);
        other.vrid = 8;
        let (mut b, _eb) = shard(1, other);
        let mut t = Instant::from_millis(1);
        a.startup(t);
        b.startup(t);
        run(&mut a, &mut b, &mut t, 2_000);
        // Different VRIDs: both are Master of their own group.
        assert_eq!(a.state(0), Some(State::Master));
        assert_eq!(b.state(0), Some(State::Master));
    }

    #[test]
    fn status_is_published_on_transitions() {
        let (mut a, _ea) = shard(0, spec(5, 1, 200));
        let status = a.status.clone();
        let mut t = Instant::from_millis(1);
        a.startup(t);
        assert_eq!(status.get(5).map(|s| s.state), Some(State::Backup));
        t += Duration::from_millis(400);
        a.fire_timers(t);
        let snap = status.get(5).unwrap();
        assert_eq!(snap.state, State::Master);
        assert_eq!(snap.priority, 200);
        assert_eq!(snap.transitions, 2);
    }
}
