//! The [`Shard`]: the groups a worker owns (their specs, state machines, advert caches and
//! timers), the demultiplexing map, and the run-time changes the control plane asks for.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, info};

use super::transmit::Deferred;
use super::{GroupSpec, NetOp, WorkerEvent, WorkerLinks};
use crate::daemon::status::{LatenessHistogram, Slot, StatusBoard};
use crate::fsm::{Action, GroupParams, State, Vrrp};
use crate::net::tx::TxSocket;
use crate::net::unicast_tx::UnicastTx;
use crate::net::xdp::{SuppressSlot, SuppressTable};
use crate::time::Instant;
use crate::timer::{TimerId, TimingWheel};
use crate::wire::{self, AdvertCache, Family};

/// Which unicast transmit socket a group sends on: (ifindex, source address, TTL).
pub(super) type UnicastTxKey = (u32, std::net::IpAddr, u8);

/// The unicast transmit socket key of a group in unicast mode.
pub(super) fn unicast_tx_key(spec: &GroupSpec) -> Option<UnicastTxKey> {
    spec.unicast.as_ref().map(|u| (spec.ifindex, u.src, u.ttl))
}

/// What a wheel timer is for, and the group's local slot. The slot is held as 32 bits, so a
/// key is 8 bytes and a wheel entry 48 instead of 56 (the wheel keeps room for the peak of a
/// takeover: protocol timer, announcements and second burst of every group).
#[derive(Debug, Clone, Copy)]
pub(super) enum TimerKey {
    /// The group's protocol timer (Adver_Timer or Master_Down_Timer).
    Fsm(u32),
    /// The next gratuitous ARP / NA repetition.
    Announce(u32),
    /// A later burst while Master: the second one (`garp_master_delay`) or a refresh
    /// (`garp_master_refresh`).
    AnnounceLater(u32),
    /// The Masters whose adverts fall due together (see `cadence`): an index of the shard's
    /// cadence slab, not a group slot.
    Cadence(u32),
}

impl TimerKey {
    /// Group slot `g`'s protocol timer.
    pub(super) fn fsm(g: usize) -> Self {
        TimerKey::Fsm(slot32(g))
    }

    /// Group slot `g`'s next announcement.
    pub(super) fn announce(g: usize) -> Self {
        TimerKey::Announce(slot32(g))
    }

    /// Group slot `g`'s later burst.
    pub(super) fn announce_later(g: usize) -> Self {
        TimerKey::AnnounceLater(slot32(g))
    }
}

/// A local slot as a timer key holds it: slots are dense indices of groups of ~0.5 KiB
/// each, far below 2^32.
fn slot32(g: usize) -> u32 {
    debug_assert!(u32::try_from(g).is_ok());
    g as u32
}

/// What a group's status snapshot holds besides the advert counters (see `publish`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PublishKey {
    pub(super) state: State,
    pub(super) priority: u8,
    pub(super) preempt: bool,
    pub(super) master: Option<std::net::IpAddr>,
    /// Master_Adver_Interval in µs (at most 40.95 s).
    pub(super) master_adver_interval_us: u32,
    /// The sum of the other counters (transitions, refusals).
    pub(super) counters: u64,
}

impl Default for PublishKey {
    fn default() -> Self {
        PublishKey {
            state: State::Initialize,
            priority: 0,
            preempt: false,
            master: None,
            master_adver_interval_us: 0,
            counters: 0,
        }
    }
}

/// Per-group runtime state inside a worker.
pub(super) struct Group {
    /// Shared with the control plane (one copy per group in the daemon).
    pub(super) spec: Arc<GroupSpec>,
    pub(super) fsm: Vrrp,
    pub(super) advert: AdvertCache,
    pub(super) fsm_timer: Option<TimerId>,
    /// A Master's cadence (index, position in its list) instead of a wheel entry of its own:
    /// at most one of `fsm_timer` and `cadence` is set.
    pub(super) cadence: Option<(u32, u32)>,
    pub(super) announce_timer: Option<TimerId>,
    pub(super) announce_left: u32,
    /// The timer of the next later burst, and whether it is the second one (else a refresh).
    pub(super) later_timer: Option<TimerId>,
    pub(super) second_burst_due: bool,
    /// Announcement rounds sent (each: one GARP / NA per VIP).
    pub(super) announcements: u64,
    pub(super) slot: Slot,
    pub(super) auth_failures: u64,
    pub(super) malformed: u64,
    /// Adverts of a unicast group from a source that is not one of its peers, or below its
    /// `unicast_min_ttl` (the kernel filters drop most; these got through a path without one).
    pub(super) not_peer: u64,
    pub(super) last_transition: Option<u64>,
    /// Rate limit for discard logs (µs timestamp of the last one).
    pub(super) last_discard_log: u64,
    /// What readers last saw besides the advert counters.
    pub(super) published_key: PublishKey,
    /// A hand-over is under way: its Master → Initialize → Backup is reported as one
    /// Master → Backup (no STOP notification for a router that keeps running).
    pub(super) handing_over: bool,
    /// The group's entry in the kernel-resident Backup's table (eBPF receive paths only),
    /// and whether it is valid, i.e. the kernel swallows repeats (see `follow`).
    pub(super) suppress: Option<SuppressSlot>,
    pub(super) entry_valid: bool,
}

/// The groups a worker owns and everything that drives them, without receive sockets: adverts
/// are fed in by the shell, timers fired from the timing wheel.
pub struct Shard {
    pub(super) id: usize,
    /// Stable local slots (timer keys and the demux map point into it); `None` = free.
    pub(super) groups: Vec<Option<Group>>,
    /// (ifindex, family, vrid) → local slot.
    pub(super) demux: HashMap<(u32, Family, u8), usize>,
    /// Stable group id (`GroupSpec::index`) → local slot: commands name groups by id, and a
    /// search of the slab per command made a 10,000-group start-up quadratic.
    by_id: HashMap<u32, u32>,
    /// Free local slots, reused before the slab grows.
    free: Vec<u32>,
    pub(super) tx: HashMap<u32, TxSocket>,
    /// Unicast transmit sockets, by (ifindex, source address, TTL).
    pub(super) utx: HashMap<UnicastTxKey, UnicastTx>,
    pub(super) wheel: TimingWheel<TimerKey>,
    /// Masters sharing a wheel entry per advert instant (see `cadence`).
    pub(super) cadences: super::cadence::Cadences,
    pub(super) events: UnboundedSender<WorkerEvent>,
    /// Events for the control plane raised during the turn, sent by [`Shard::flush`] after
    /// the turn's adverts: a send may wake the control plane, which then competes for the CPU
    /// with the takeover adverts it would otherwise delay.
    pub(super) pending_events: Vec<WorkerEvent>,
    pub(super) status: Arc<StatusBoard>,
    pub(super) lateness: Arc<LatenessHistogram>,
    pub(super) actions: Vec<Action>,
    /// Adverts queued for the next [`Shard::flush`]: bytes, and (ifindex, range) per frame.
    pub(super) out_bytes: Vec<u8>,
    pub(super) out_frames: Vec<(u32, std::ops::Range<usize>)>,
    /// Unicast adverts queued for the next flush: their VRRP messages, and (socket, peer,
    /// range) per advert.
    pub(super) out_ubytes: Vec<u8>,
    pub(super) out_unicast: Vec<(UnicastTxKey, std::net::IpAddr, std::ops::Range<usize>)>,
    /// Work that may wait until the turn's adverts are sent: when a thousand groups change
    /// state in the same millisecond, the last advert must not wait for a thousand log lines
    /// and gratuitous ARPs.
    pub(super) deferred: Vec<(usize, Deferred)>,
    /// The `now` of the last [`Shard::fire_timers`]: receive timestamps are clamped to it, so
    /// the machines never see time go backwards.
    pub(super) last_fire: Instant,
    /// The kernel-resident Backup's table, when an eBPF program receives for this shard.
    pub(super) suppress: Option<Arc<SuppressTable>>,
    /// The XDP transmit path, when `tx_path = "xdp"` found interfaces for it.
    pub(super) xdp_tx: Option<super::XdpTxPlan>,
    /// The clock deferred work reads to yield to the next timer (the workers' monotonic
    /// clock; tests set their own).
    pub(super) clock: fn() -> Instant,
    /// A takeover is due by then: the worker polls instead of sleeping until it (see
    /// `extend_by_repeats`).
    pub(super) spin_until: Option<Instant>,
    /// The last early read armed for a following Backup (see `extend_by_repeats`): the next
    /// ones of the same burst join it.
    pub(super) early_read: Option<Instant>,
    /// Since when (µs) deferred work has waited without progress (see `run_deferred`).
    pub(super) deferred_since: Option<u64>,
}

impl Shard {
    /// An empty shard publishing into `links`, with no transmit sockets: the worker adds them
    /// (benchmarks and tests drive a shard without any, queued adverts are then dropped).
    pub fn new(id: usize, links: WorkerLinks) -> Self {
        Shard {
            id,
            groups: Vec::new(),
            demux: HashMap::new(),
            by_id: HashMap::new(),
            free: Vec::new(),
            tx: HashMap::new(),
            utx: HashMap::new(),
            wheel: TimingWheel::new(),
            cadences: Default::default(),
            events: links.events,
            pending_events: Vec::new(),
            status: links.status,
            lateness: links.lateness,
            actions: Vec::with_capacity(16),
            out_bytes: Vec::with_capacity(4096),
            out_frames: Vec::with_capacity(64),
            out_ubytes: Vec::new(),
            out_unicast: Vec::new(),
            deferred: Vec::new(),
            last_fire: Instant::ZERO,
            suppress: None,
            xdp_tx: None,
            clock: super::shell::now,
            spin_until: None,
            early_read: None,
            deferred_since: None,
        }
    }

    /// Room for `n` more groups, allocated once: the slab of groups (~0.5 KiB each) and the
    /// demux map would otherwise double their way up, leaving the outgrown copies in the heap.
    pub fn reserve(&mut self, n: usize) {
        self.groups.reserve_exact(n);
        self.demux.reserve(n);
        self.by_id.reserve(n);
    }

    /// Lets groups inserted from now on keep their Master's advert in `table`, where the eBPF
    /// programs swallow its repeats.
    pub fn set_suppress_table(&mut self, table: Arc<SuppressTable>) {
        self.status.set_kernel_counts(table.clone());
        self.suppress = Some(table);
    }

    /// Adds a group (its state machine not started) and returns its local slot.
    pub fn insert_group(&mut self, spec: impl Into<Arc<GroupSpec>>) -> usize {
        let spec: Arc<GroupSpec> = spec.into();
        let key = (spec.ifindex, spec.family, spec.vrid);
        let suppress = self
            .suppress
            .as_ref()
            .and_then(|t| t.slot(spec.demux_key()));
        if let Some(slot) = &suppress {
            // Whatever a group of this key left there is not this group's.
            slot.reset();
        }
        let group = Group {
            fsm: Vrrp::new(group_params(&spec)),
            advert: AdvertCache::new(),
            fsm_timer: None,
            cadence: None,
            announce_timer: None,
            announce_left: 0,
            later_timer: None,
            second_burst_due: false,
            announcements: 0,
            slot: self.status.slot(spec.index),
            auth_failures: 0,
            malformed: 0,
            not_peer: 0,
            last_transition: None,
            last_discard_log: 0,
            published_key: PublishKey::default(),
            handing_over: false,
            suppress,
            entry_valid: false,
            spec,
        };
        let id = group.spec.index as u32;
        let g = match self.free.pop() {
            Some(free) => {
                let free = free as usize;
                self.groups[free] = Some(group);
                free
            }
            None => {
                self.groups.push(Some(group));
                self.groups.len() - 1
            }
        };
        self.by_id.insert(id, g as u32);
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
        self.settled(g, now, |s| {
            let Some(group) = s.groups[g].as_mut() else {
                return;
            };
            group.fsm.startup(now, &mut s.actions);
            s.apply_actions(g, now);
        });
    }

    pub(super) fn stop_group(&mut self, g: usize, now: Instant) {
        self.settle(g, now);
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        group.fsm.shutdown(now, &mut self.actions);
        self.apply_actions(g, now);
        if let Some(group) = self.groups[g].as_mut() {
            if let Some(id) = group.announce_timer.take() {
                self.wheel.cancel(id);
            }
            if let Some(id) = group.later_timer.take() {
                self.wheel.cancel(id);
            }
        }
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
    /// The unicast groups on (interface, family), as (VRID, peers), for the socket filter.
    pub(super) fn unicast_peers_on(
        &self,
        ifindex: u32,
        family: Family,
    ) -> Vec<(u8, Vec<std::net::IpAddr>)> {
        self.groups
            .iter()
            .flatten()
            .filter(|g| g.spec.ifindex == ifindex && g.spec.family == family)
            .filter_map(|g| Some((g.spec.vrid, g.spec.unicast.as_ref()?.peers.clone())))
            .collect()
    }

    pub(super) fn vrids_on(&self, ifindex: u32, family: Family) -> Vec<u8> {
        self.demux
            .keys()
            .filter(|(i, f, _)| *i == ifindex && *f == family)
            .map(|(_, _, v)| *v)
            .collect()
    }

    /// The local slot of the group with stable id `id`.
    pub(super) fn local(&self, id: usize) -> Option<usize> {
        let g = *self.by_id.get(&u32::try_from(id).ok()?)? as usize;
        // The slot holds that group while the id is mapped (`insert_group`, `take_group`).
        debug_assert!(self.groups[g]
            .as_ref()
            .is_some_and(|gr| gr.spec.index == id));
        Some(g)
    }

    /// Takes the group out of local slot `g` (stopped by the caller) and frees the slot.
    pub(super) fn take_group(&mut self, g: usize) -> Option<Group> {
        self.leave_cadence(g);
        let group = self.groups.get_mut(g)?.take()?;
        self.by_id.remove(&(group.spec.index as u32));
        self.free.push(g as u32);
        Some(group)
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

    pub(super) fn set_priority(
        &mut self,
        id: usize,
        priority: u8,
        now: Instant,
    ) -> Result<(), String> {
        let (g, group, _) = self.group_mut(id)?;
        if group.spec.owner {
            return Err(format!(
                "vrouter {} on {} owns its addresses: its priority stays 255",
                group.spec.vrid, group.spec.ifname
            ));
        }
        self.settled(g, now, |s| {
            let (g, group, actions) = s.group_mut(id)?;
            let r = group.fsm.set_priority(priority, now, actions);
            info!(
                "vrouter {} on {}: priority set to {priority}",
                group.spec.vrid, group.spec.ifname
            );
            s.apply_actions(g, now);
            r.map_err(|e| e.to_string())
        })
    }

    /// Applies a tracking outcome: the priority (never an owner's) and the Fault state. Logged
    /// at debug only: the control plane logs the tracked object's change once, and a thousand
    /// groups sharing it must not write a thousand lines on the worker before their adverts. A
    /// fault is raised before the priority changes (no advert with the new priority from a
    /// group going silent) and cleared after (it comes back with the new one).
    pub(super) fn track(&mut self, id: usize, outcome: crate::track::Outcome, now: Instant) {
        let Some(g) = self.local(id) else {
            return;
        };
        self.settled(g, now, |s| s.track_settled(id, outcome, now));
    }

    /// [`Shard::track`] once the group is settled.
    fn track_settled(&mut self, id: usize, outcome: crate::track::Outcome, now: Instant) {
        let Ok((g, group, actions)) = self.group_mut(id) else {
            return;
        };
        if outcome.fault && !group.fsm.faulted() {
            debug!(
                "vrouter {} on {}: fault raised by tracking",
                group.spec.vrid, group.spec.ifname
            );
            group.fsm.set_fault(true, now, actions);
        }
        if !group.spec.owner && outcome.priority != group.fsm.priority() {
            debug!(
                "vrouter {} on {}: priority {} → {} (tracking)",
                group.spec.vrid,
                group.spec.ifname,
                group.fsm.priority(),
                outcome.priority
            );
            // 1–254 by construction: set_priority cannot fail.
            let _ = group.fsm.set_priority(outcome.priority, now, actions);
        }
        if !outcome.fault && group.fsm.faulted() {
            debug!(
                "vrouter {} on {}: fault cleared",
                group.spec.vrid, group.spec.ifname
            );
            group.fsm.set_fault(false, now, actions);
        }
        self.apply_actions(g, now);
    }

    /// Applies a sync-group membership change or order to a group.
    pub(super) fn sync(&mut self, id: usize, cmd: super::SyncCmd, now: Instant) {
        let Some(g) = self.local(id) else {
            return;
        };
        self.settled(g, now, |s| {
            let Ok((g, group, actions)) = s.group_mut(id) else {
                return;
            };
            match cmd {
                super::SyncCmd::Member(member) => group.fsm.set_sync(member, now, actions),
                super::SyncCmd::Go => group.fsm.sync_go(now, actions),
                super::SyncCmd::Leave => group.fsm.sync_leave(now, actions),
            }
            s.apply_actions(g, now);
        });
    }

    pub(super) fn set_preempt(
        &mut self,
        id: usize,
        preempt: bool,
        now: Instant,
    ) -> Result<(), String> {
        let (g, _, _) = self.group_mut(id)?;
        self.settled(g, now, |s| {
            let (_, group, _) = s.group_mut(id)?;
            group.fsm.set_preempt(preempt);
            info!(
                "vrouter {} on {}: preemption set to {preempt}",
                group.spec.vrid, group.spec.ifname
            );
            Ok::<(), String>(())
        })?;
        // The repeats folded by `settle` may have moved the Master_Down_Timer.
        self.rearm(g);
        self.publish(g);
        Ok(())
    }

    pub(super) fn handover(&mut self, id: usize, now: Instant) -> Result<(), String> {
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
        if let Some(group) = self.groups[g].as_mut() {
            group.handing_over = true;
        }
        self.stop_group(g, now);
        self.start_group(g, now);
        if let Some(group) = self.groups[g].as_mut() {
            group.handing_over = false;
        }
        Ok(())
    }

    /// Fires every timer due at `now`, recording how late each fired.
    pub fn fire_timers(&mut self, now: Instant) {
        self.last_fire = self.last_fire.max(now);
        while let Some((_, key)) = self.wheel.poll(now) {
            match key {
                TimerKey::Fsm(g) => {
                    let g = g as usize;
                    if let Some(group) = self.groups[g].as_mut() {
                        group.fsm_timer = None;
                        self.fire_fsm(g, now);
                    }
                }
                TimerKey::Cadence(c) => self.fire_cadence(c, now),
                TimerKey::AnnounceLater(g) => {
                    let g = g as usize;
                    if let Some(group) = self.groups[g].as_mut() {
                        group.later_timer = None;
                        self.announce_later(g, now);
                    }
                }
                TimerKey::Announce(g) => {
                    let g = g as usize;
                    if let Some(group) = self.groups[g].as_mut() {
                        group.announce_timer = None;
                        self.announce(g, now);
                    }
                }
            }
        }
    }

    /// Runs group `g`'s protocol timer, whose wheel entry (or cadence) came due at `now` and
    /// is gone: a deadline still ahead is re-armed, a due one handled.
    pub(super) fn fire_fsm(&mut self, g: usize, now: Instant) {
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        let due = match group.fsm.poll_timeout() {
            // Armed early (see `rearm`, and `extend_by_repeats` for a Backup whose Master's
            // repeats are swallowed: it reads the newest now).
            Some(due) if due > now => {
                if group.entry_valid && self.extend_by_repeats(g, now) {
                    return;
                }
                self.rearm(g);
                return;
            }
            Some(due) => due,
            None => return,
        };
        // A Backup whose Master's repeats were swallowed: the newest moves it on.
        if self.extend_by_repeats(g, now) {
            return;
        }
        self.lateness
            .record(now.as_micros().saturating_sub(due.as_micros()));
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        group.fsm.handle_timeout(now, &mut self.actions);
        self.apply_actions(g, now);
    }

    /// Executes the actions the state machine returned for group `g`, re-arms its timer and
    /// publishes its state.
    pub(super) fn apply_actions(&mut self, g: usize, now: Instant) {
        let mut actions = std::mem::take(&mut self.actions);
        for action in actions.drain(..) {
            match action {
                Action::SendAdvert { priority } => self.send_advert(g, priority),
                Action::Transition { from, to, reason } => {
                    // Logged after the turn's adverts are out (see `flush`).
                    self.deferred.push((g, Deferred::Log(from, to, reason)));
                    if let Some(group) = self.groups[g].as_mut() {
                        let at = std::time::SystemTime::now();
                        group.last_transition = at
                            .duration_since(std::time::UNIX_EPOCH)
                            .ok()
                            .map(|d| d.as_secs());
                        self.report_transition(g, from, to, reason, at);
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
                        if let Some(id) = group.later_timer.take() {
                            self.wheel.cancel(id);
                        }
                        // keepalived's second burst, then periodic refreshes.
                        let (delay, refresh) =
                            (group.spec.garp_master_delay, group.spec.garp_master_refresh);
                        let next = if !delay.is_zero() {
                            group.second_burst_due = true;
                            Some(now + delay)
                        } else {
                            group.second_burst_due = false;
                            (!refresh.is_zero()).then(|| now + refresh)
                        };
                        if let Some(at) = next {
                            group.later_timer =
                                Some(self.wheel.insert(at, TimerKey::announce_later(g)));
                        }
                    }
                    // Sent after the turn's adverts are out (see `flush`).
                    self.deferred.push((g, Deferred::Announce(now)));
                }
                Action::WantMaster { wants } => {
                    if let Some(group) = self.groups[g].as_ref() {
                        self.pending_events.push(WorkerEvent::WantMaster {
                            group: group.spec.index,
                            wants,
                        });
                    }
                }
                Action::Discarded { reason } => {
                    if let crate::fsm::DiscardReason::LowerPriority { .. } = reason {
                        self.lower_priority_heard(g, now);
                    }
                    if let Some(group) = self.groups[g].as_mut() {
                        group.log_discard(now, format_args!("{reason:?}"));
                    }
                }
            }
        }
        self.actions = actions;
        self.unfollow_if_needed(g);
        self.rearm(g);
        self.publish_if_due(g);
    }

    /// Keeps the wheel entry of group `g` at or before its machine's next deadline (a Master
    /// joins the cadence of that deadline instead). A later deadline (a Backup's
    /// Master_Down_Timer pushed back by every advert) leaves the entry where it is: when it
    /// fires early, [`Shard::fire_timers`] moves it on. That is one wheel operation per
    /// Master_Down_Interval instead of one per advert.
    pub(super) fn rearm(&mut self, g: usize) {
        let cadence_due = self.cadence_due(g);
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        let next = group.fsm.poll_timeout();
        if group.fsm.state() == State::Master {
            // A Master's next advert: in the cadence of its instant (see `cadence`).
            if let Some(at) = next {
                if cadence_due == Some(at) {
                    return;
                }
                if let Some(id) = group.fsm_timer.take() {
                    self.wheel.cancel(id);
                }
                self.leave_cadence(g);
                self.join_cadence(g, at);
                return;
            }
        }
        if cadence_due.is_some() {
            self.leave_cadence(g);
        }
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        match (group.fsm_timer, next) {
            (Some(id), Some(at)) => match self.wheel.deadline(id) {
                Some(armed) if armed <= at => {}
                _ => {
                    if self.wheel.reschedule(id, at).is_err() {
                        group.fsm_timer = Some(self.wheel.insert(at, TimerKey::fsm(g)));
                    }
                }
            },
            (Some(id), None) => {
                self.wheel.cancel(id);
                group.fsm_timer = None;
            }
            (None, Some(at)) => group.fsm_timer = Some(self.wheel.insert(at, TimerKey::fsm(g))),
            (None, None) => {}
        }
    }

    /// Tells the control plane about a transition, which notifies (scripts, FIFO, API). One
    /// send on the unbounded event channel: it never blocks, and it goes out in the same
    /// turn as the group's address changes, so a removed group's STOP is not lost.
    fn report_transition(
        &mut self,
        g: usize,
        from: State,
        to: State,
        reason: crate::fsm::TransitionReason,
        at: std::time::SystemTime,
    ) {
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        let from = match (group.handing_over, from, to) {
            // The Master → Initialize half of a hand-over: reported with the other half.
            (true, _, State::Initialize) => return,
            (true, State::Initialize, _) => State::Master,
            _ => from,
        };
        self.pending_events
            .push(WorkerEvent::Transition(crate::daemon::notify::Transition {
                group: group.spec.index,
                from,
                to,
                priority: group.fsm.priority(),
                reason,
                at,
            }));
    }

    fn net(&mut self, g: usize, op: NetOp) {
        if let Some(group) = self.groups[g].as_ref() {
            self.pending_events.push(WorkerEvent::Net {
                group: group.spec.index,
                op,
            });
        }
    }
}

pub(super) fn wire_interval(spec: &GroupSpec) -> u16 {
    match spec.version {
        wire::Version::V2 => spec.interval.as_secs().clamp(1, 255) as u16,
        wire::Version::V3 => (spec.interval.as_millis() / 10).clamp(1, 4095) as u16,
    }
}

fn group_params(spec: &GroupSpec) -> GroupParams {
    GroupParams {
        version: spec.fsm_version(),
        vrid: spec.vrid,
        priority: spec.priority,
        preempt: spec.preempt,
        accept_mode: spec.accept_mode,
        advert_interval: spec.interval,
        primary_addr: spec.advert_src(),
        advert_phase: Some(advert_phase(spec.index, spec.interval, spec.advert_slots)),
        preempt_delay: spec.preempt_delay,
    }
}

/// The phase of group `index`'s adverts: groups are dealt round-robin over the `slots` slots
/// of their interval, slots of at least [`MIN_ADVERT_SLOT_US`]. Groups sharing a slot leave
/// in one `sendmmsg` and are what a peer's workers take over together when this router dies;
/// every slot costs each side a wake-up per interval.
/// Narrowest phase slot: at 10 ms adverts two slots, not ten (each slot is a wake-up per
/// interval on both routers, and a hundred groups at 10 ms are only a few per slot anyway).
const MIN_ADVERT_SLOT_US: u128 = 5_000;

pub(super) fn advert_phase(
    index: usize,
    interval: std::time::Duration,
    slots: u16,
) -> std::time::Duration {
    let slots = (interval.as_micros() / MIN_ADVERT_SLOT_US).clamp(1, u128::from(slots.max(1)));
    let slot_us = interval.as_micros() / slots;
    let phase_us = (index as u128 % slots) * slot_us;
    std::time::Duration::from_micros(u64::try_from(phase_us).unwrap_or(0))
}
