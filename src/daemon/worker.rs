//! A worker thread: owns a shard of groups, their receive sockets and their timers, and runs
//! the protocol core on them without locks. It talks to the control plane through channels:
//! commands in (crossbeam + an eventfd to wake it), events out (address and route changes that
//! need netlink, state transitions).

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use crossbeam_channel::Receiver;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, info, warn};

use super::plan::GroupSpec;
use super::status::{GroupStatus, StatusBoard};
use super::sys::{monotonic_micros, Epoll, EventFd, TimerFd};
use crate::fsm::{Action, AdvertInfo, GroupParams, State, Vrrp};
use crate::net::rx::{RxConfig, RxSocket};
use crate::net::tx::TxSocket;
use crate::time::Instant;
use crate::timer::{TimerId, TimingWheel};
use crate::wire::{self, AdvertCache, AdvertParams, Family, RxMeta, VrrpPacket, VrrpRepr};

/// Commands from the control plane.
#[derive(Debug, Clone)]
pub enum WorkerCmd {
    /// Leave: priority-0 adverts for every Master group, then stop.
    Shutdown,
    /// Change a group's priority (1–254) at run time.
    SetPriority {
        /// The group's index in the plan.
        group: usize,
        /// New priority.
        priority: u8,
    },
    /// Change a group's preemption at run time.
    SetPreempt {
        /// The group's index in the plan.
        group: usize,
        /// New preemption mode.
        preempt: bool,
    },
}

/// What a worker tells the control plane.
#[derive(Debug, Clone)]
pub enum WorkerEvent {
    /// Apply a network change for a group (in order).
    Net {
        /// Index of the group in the plan.
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

/// What a timing-wheel entry stands for.
#[derive(Debug, Clone, Copy)]
enum TimerKey {
    /// The group's protocol timer (Adver_Timer or Master_Down_Timer).
    Fsm(usize),
    /// The next gratuitous ARP / NA repetition.
    Announce(usize),
}

/// Per-group runtime state inside a worker.
struct Group {
    spec: GroupSpec,
    fsm: Vrrp,
    advert: AdvertCache,
    fsm_timer: Option<TimerId>,
    announce_timer: Option<TimerId>,
    announce_left: u32,
    /// Rate limit for discard logs (µs timestamp of the last one).
    last_discard_log: u64,
}

/// Socket tokens: rx sockets are 0..n, then these.
const TOKEN_WAKE: u64 = u64::MAX;
const TOKEN_TIMER: u64 = u64::MAX - 1;

/// A worker, built on the control plane's thread and then moved into its own thread: the I/O
/// shell (receive sockets, epoll, timerfd, command channel) around a [`Shard`].
pub struct Worker {
    id: usize,
    rx: Vec<RxSocket>,
    epoll: Epoll,
    timerfd: TimerFd,
    wake: Arc<EventFd>,
    cmds: Receiver<WorkerCmd>,
    shard: Shard,
}

/// The groups a worker owns and everything that drives them, without receive sockets: adverts
/// are fed in by the shell (or a benchmark), timers fired from the timing wheel.
pub struct Shard {
    id: usize,
    groups: Vec<Group>,
    /// (ifindex, family, vrid) → index into `groups`.
    demux: HashMap<(u32, Family, u8), usize>,
    tx: HashMap<u32, TxSocket>,
    wheel: TimingWheel<TimerKey>,
    events: UnboundedSender<WorkerEvent>,
    status: Arc<StatusBoard>,
    actions: Vec<Action>,
}

/// Errors while setting a worker up.
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
    #[error("worker {worker}: {0}", worker = .1)]
    Net(#[source] crate::net::NetError, usize),
}

impl Worker {
    /// Builds a worker for `specs`: opens one receive socket per (interface, family) with a
    /// filter for exactly these groups' VRIDs, and one transmit socket per interface.
    pub fn new(
        id: usize,
        specs: Vec<GroupSpec>,
        cmds: Receiver<WorkerCmd>,
        wake: Arc<EventFd>,
        events: UnboundedSender<WorkerEvent>,
        status: Arc<StatusBoard>,
    ) -> Result<Self, WorkerError> {
        let io = |what: String| {
            move |source| WorkerError::Io {
                worker: id,
                what,
                source,
            }
        };
        let epoll = Epoll::new().map_err(io("epoll".into()))?;
        let timerfd = TimerFd::new().map_err(io("timerfd".into()))?;
        epoll
            .add(wake.as_raw_fd(), TOKEN_WAKE)
            .map_err(io("epoll add".into()))?;
        epoll
            .add(timerfd.as_raw_fd(), TOKEN_TIMER)
            .map_err(io("epoll add".into()))?;

        // Group the VRIDs by (interface, family) for the socket filters.
        // (ifindex, ifname, family) → (VRIDs, socket filter wanted).
        type SocketKey = (u32, String, Family);
        let mut by_socket: Vec<(SocketKey, Vec<u8>, bool)> = Vec::new();
        for s in &specs {
            let key = (s.ifindex, s.ifname.clone(), s.family);
            match by_socket.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, vrids, filter)) => {
                    vrids.push(s.vrid);
                    *filter &= s.socket_filter;
                }
                None => by_socket.push((key, vec![s.vrid], s.socket_filter)),
            }
        }
        let mut rx = Vec::new();
        for ((ifindex, ifname, family), vrids, filter) in by_socket {
            let mut cfg = RxConfig::new(ifname.clone(), family, &vrids);
            cfg.socket_filter = filter;
            let sock = RxSocket::open(&cfg).map_err(|e| WorkerError::Net(e, id))?;
            debug_assert_eq!(sock.ifindex(), ifindex);
            epoll
                .add(sock.as_raw_fd(), rx.len() as u64)
                .map_err(io(format!("epoll add {ifname}")))?;
            rx.push(sock);
        }
        let mut tx = HashMap::new();
        for s in &specs {
            if let std::collections::hash_map::Entry::Vacant(e) = tx.entry(s.ifindex) {
                let sock = TxSocket::open_index(&s.ifname, s.ifindex)
                    .map_err(|e| WorkerError::Net(e, id))?;
                e.insert(sock);
            }
        }
        let mut demux = HashMap::new();
        let groups: Vec<Group> = specs
            .into_iter()
            .enumerate()
            .map(|(i, spec)| {
                demux.insert((spec.ifindex, spec.family, spec.vrid), i);
                Group {
                    fsm: Vrrp::new(group_params(&spec)),
                    advert: AdvertCache::new(),
                    fsm_timer: None,
                    announce_timer: None,
                    announce_left: 0,
                    last_discard_log: 0,
                    spec,
                }
            })
            .collect();
        Ok(Worker {
            id,
            rx,
            epoll,
            timerfd,
            wake,
            cmds,
            shard: Shard {
                id,
                groups,
                demux,
                tx,
                wheel: TimingWheel::new(),
                events,
                status,
                actions: Vec::with_capacity(16),
            },
        })
    }

    /// Runs until a `Shutdown` command has been handled.
    pub fn run(mut self) {
        self.shard.startup(now());
        let mut tokens = Vec::with_capacity(64);
        loop {
            self.shard.fire_timers(now());
            if let Err(e) = self
                .timerfd
                .arm_at(self.shard.wheel.next_deadline().map(|t| t.as_micros()))
            {
                warn!("worker {}: arming timer: {e}", self.id);
            }
            if let Err(e) = self.epoll.wait(&mut tokens, None) {
                warn!("worker {}: epoll: {e}", self.id);
                continue;
            }
            for &t in &tokens {
                match t {
                    TOKEN_TIMER => self.timerfd.drain(),
                    TOKEN_WAKE => {
                        self.wake.drain();
                        while let Ok(cmd) = self.cmds.try_recv() {
                            if let WorkerCmd::Shutdown = cmd {
                                self.shard.shutdown(now());
                                return;
                            }
                            self.shard.command(cmd, now());
                        }
                    }
                    i => self.drain_socket(i as usize),
                }
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
                shard.handle_advert(d.ifindex, d.payload, &meta, now);
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
    /// Starts every group's state machine.
    pub fn startup(&mut self, now: Instant) {
        for g in 0..self.groups.len() {
            self.groups[g].fsm.startup(now, &mut self.actions);
            self.apply_actions(g, now);
        }
    }

    /// Shuts every group down (priority-0 adverts from Masters) and reports it.
    pub fn shutdown(&mut self, now: Instant) {
        for g in 0..self.groups.len() {
            self.groups[g].fsm.shutdown(now, &mut self.actions);
            self.apply_actions(g, now);
        }
        info!("worker {}: stopped", self.id);
        let _ = self.events.send(WorkerEvent::Stopped { worker: self.id });
    }

    /// Applies a run-time change from the control plane.
    pub fn command(&mut self, cmd: WorkerCmd, now: Instant) {
        let (group, result) = match cmd {
            WorkerCmd::Shutdown => return self.shutdown(now),
            WorkerCmd::SetPriority { group, priority } => {
                let Some(g) = self.local(group) else { return };
                let r = self.groups[g]
                    .fsm
                    .set_priority(priority, now, &mut self.actions);
                self.apply_actions(g, now);
                (g, r.map_err(|e| e.to_string()))
            }
            WorkerCmd::SetPreempt { group, preempt } => {
                let Some(g) = self.local(group) else { return };
                self.groups[g].fsm.set_preempt(preempt);
                (g, Ok(()))
            }
        };
        if let Err(e) = result {
            let spec = &self.groups[group].spec;
            warn!("vrouter {} on {}: {e}", spec.vrid, spec.ifname);
        }
    }

    /// The local index of the group at plan index `index`.
    fn local(&self, index: usize) -> Option<usize> {
        self.groups.iter().position(|g| g.spec.index == index)
    }

    /// Fires every timer due at `now`.
    pub fn fire_timers(&mut self, now: Instant) {
        while let Some((_, key)) = self.wheel.poll(now) {
            match key {
                TimerKey::Fsm(g) => {
                    self.groups[g].fsm_timer = None;
                    self.groups[g].fsm.handle_timeout(now, &mut self.actions);
                    self.apply_actions(g, now);
                }
                TimerKey::Announce(g) => {
                    self.groups[g].announce_timer = None;
                    self.announce(g, now);
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
        let group = &mut self.groups[g];
        let parsed = match VrrpPacket::new_checked(payload).and_then(|p| VrrpRepr::parse(&p, meta))
        {
            Ok(p) => p,
            Err(e) => {
                group.log_discard(now, format_args!("from {}: {e}", meta.src));
                return;
            }
        };
        let repr = &parsed.repr;
        if repr.version != group.spec.version {
            let expected = group.spec.version;
            group.log_discard(
                now,
                format_args!(
                    "from {}: version {:?}, expected {expected:?}",
                    meta.src, repr.version
                ),
            );
            return;
        }
        if repr.version == wire::Version::V2 {
            if let Err(e) = group.spec.auth.verify(payload) {
                group.log_discard(
                    now,
                    format_args!("from {}: authentication failed: {e}", meta.src),
                );
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

    /// Executes the actions the state machine returned for group `g`, then re-arms its timer.
    fn apply_actions(&mut self, g: usize, now: Instant) {
        let mut actions = std::mem::take(&mut self.actions);
        for action in actions.drain(..) {
            match action {
                Action::SendAdvert { priority } => self.send_advert(g, priority),
                Action::Transition { from, to, reason } => {
                    let spec = &self.groups[g].spec;
                    info!(
                        "vrouter {} on {} ({}): {:?} -> {:?} ({:?})",
                        spec.vrid, spec.ifname, spec.family, from, to, reason
                    );
                    self.publish(g, now);
                }
                Action::AddVips => self.net(g, NetOp::AddVips),
                Action::RemoveVips => self.net(g, NetOp::RemoveVips),
                Action::InstallRoutes => self.net(g, NetOp::InstallRoutes),
                Action::RemoveRoutes => self.net(g, NetOp::RemoveRoutes),
                Action::Announce => {
                    let group = &mut self.groups[g];
                    group.announce_left = group.spec.garp_repeat;
                    if let Some(id) = group.announce_timer.take() {
                        self.wheel.cancel(id);
                    }
                    self.announce(g, now);
                }
                Action::Discarded { reason } => {
                    self.groups[g].log_discard(now, format_args!("{reason:?}"));
                }
            }
        }
        self.actions = actions;
        self.rearm(g);
    }

    fn rearm(&mut self, g: usize) {
        let group = &mut self.groups[g];
        let next = group.fsm.poll_timeout();
        match (group.fsm_timer, next) {
            (Some(id), Some(at)) => {
                if self.wheel.reschedule(id, at).is_err() {
                    group.fsm_timer = Some(self.wheel.insert(at, TimerKey::Fsm(g)));
                }
            }
            (Some(id), None) => {
                self.wheel.cancel(id);
                group.fsm_timer = None;
            }
            (None, Some(at)) => group.fsm_timer = Some(self.wheel.insert(at, TimerKey::Fsm(g))),
            (None, None) => {}
        }
    }

    fn send_advert(&mut self, g: usize, priority: u8) {
        let group = &mut self.groups[g];
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
        if let Some(tx) = self.tx.get(&spec.ifindex) {
            if let Err(e) = tx.send(frame) {
                warn!(
                    "vrouter {} on {}: sending advert: {e}",
                    spec.vrid, spec.ifname
                );
            }
        }
    }

    /// Sends one round of gratuitous ARP / unsolicited NA and schedules the next.
    fn announce(&mut self, g: usize, now: Instant) {
        let group = &mut self.groups[g];
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
        let _ = self.events.send(WorkerEvent::Net {
            group: self.groups[g].spec.index,
            op,
        });
    }

    fn publish(&self, g: usize, now: Instant) {
        let group = &self.groups[g];
        self.status.update(
            group.spec.index,
            GroupStatus {
                state: group.fsm.state(),
                master: group.fsm.current_master(),
                since_us: now.as_micros(),
            },
        );
    }
}

impl Group {
    /// Logs a discarded advert, at most once per second per group (a flood must not flood logs).
    fn log_discard(&mut self, now: Instant, what: std::fmt::Arguments<'_>) {
        if now.as_micros().saturating_sub(self.last_discard_log) >= 1_000_000
            || self.last_discard_log == 0
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
    }
}
