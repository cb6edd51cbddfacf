//! The state machine of one virtual router (RFC 5798 §6.4, RFC 3768 §6.4).

use std::cmp::Ordering;
use std::net::IpAddr;
use std::time::Duration;

use super::event::{Action, AdvertInfo, DiscardReason, State, TransitionReason};
use super::params::{GroupParams, ParamsError, Version};
use super::stats::GroupStats;
use super::timing;
use crate::time::Instant;

mod follow;

/// The priority of the address owner.
pub const OWNER_PRIORITY: u8 = 255;

/// One virtual router, driven by the caller's clock.
///
/// Inputs are method calls carrying `now`; outputs are [`Action`]s appended to `out` in the
/// order a driver must execute them. The only timers are two deadlines (Adver_Timer in Master,
/// Master_Down_Timer in Backup), exposed through [`Vrrp::poll_timeout`]; the driver calls
/// [`Vrrp::handle_timeout`] once that instant has come.
///
/// Action orders:
/// * becoming Master: `Transition, AddVips, SendAdvert, Announce, InstallRoutes`;
/// * Master → Backup: `Transition, RemoveRoutes, RemoveVips`;
/// * shutdown from Master: `Transition, SendAdvert{priority: 0}, RemoveRoutes, RemoveVips`
///   (the priority-0 advert goes first so Backups start their Skew_Time as early as possible);
/// * Master → Fault: the same as shutdown, ending in Fault (the advert may not get out when
///   the interface is down; it costs nothing to try).
#[derive(Debug, Clone)]
pub struct Vrrp {
    params: GroupParams,
    state: State,
    /// Master_Adver_Interval: learned from the Master's adverts in v3 Backup, our own
    /// Advertisement_Interval otherwise.
    master_adver_interval: Duration,
    adver_timer: Option<Instant>,
    master_down_timer: Option<Instant>,
    /// The running Master_Down_Timer was set to Skew_Time by a priority-0 advert.
    master_left: bool,
    /// A fault is raised (see [`Vrrp::set_fault`]); in Initialize it applies at startup.
    faulted: bool,
    /// With `preempt_delay`: when the pending preemption of a worse Master may happen.
    preempt_at: Option<Instant>,
    /// A member of a sync group: it never becomes Master on its own (see [`Vrrp::set_sync`]).
    sync: bool,
    /// A sync-group member in Backup that wants Master (keepalived's `wantstate`), with the
    /// reason it would take over for; it waits for [`Vrrp::sync_go`].
    wants: Option<TransitionReason>,
    current_master: Option<IpAddr>,
    /// In Backup: the Master whose last advert was accepted and reset the Master_Down_Timer,
    /// while nothing else that decides how its next advert is handled has changed since (see
    /// [`Vrrp::follows`]).
    following: Option<IpAddr>,
    stats: GroupStats,
}

impl Vrrp {
    /// A machine in Initialize. Out-of-range parameters are made acceptable (see
    /// [`GroupParams::normalized`]); use [`Vrrp::try_new`] to reject them instead.
    pub fn new(params: GroupParams) -> Self {
        let params = params.normalized();
        Vrrp {
            master_adver_interval: params.advert_interval,
            params,
            state: State::Initialize,
            adver_timer: None,
            master_down_timer: None,
            master_left: false,
            faulted: false,
            preempt_at: None,
            sync: false,
            wants: None,
            current_master: None,
            following: None,
            stats: GroupStats::default(),
        }
    }

    /// A machine in Initialize, or an error if the parameters are not valid.
    pub fn try_new(params: GroupParams) -> Result<Self, ParamsError> {
        params.validate()?;
        Ok(Vrrp::new(params))
    }

    /// The (normalized) parameters, including run-time priority and preempt changes.
    pub fn params(&self) -> &GroupParams {
        &self.params
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Our current priority.
    pub fn priority(&self) -> u8 {
        self.params.priority
    }

    /// Master_Adver_Interval (v3: learned from the Master; v2: our Advertisement_Interval).
    pub fn master_adver_interval(&self) -> Duration {
        self.master_adver_interval
    }

    /// Skew_Time for our current priority and Master_Adver_Interval.
    pub fn skew_time(&self) -> Duration {
        timing::skew_time(
            self.params.version,
            self.params.priority,
            self.master_adver_interval,
        )
    }

    /// Master_Down_Interval for our current priority and Master_Adver_Interval.
    pub fn master_down_interval(&self) -> Duration {
        timing::master_down_interval(
            self.params.version,
            self.params.priority,
            self.master_adver_interval,
        )
    }

    /// The router we believe is Master: ourselves in Master; in Backup, the source of the
    /// last advert with a non-zero priority (accepted, or discarded because we preempt it);
    /// `None` before any such advert, after the Master said it was leaving, and in Initialize.
    pub fn current_master(&self) -> Option<IpAddr> {
        self.current_master
    }

    /// Counters.
    pub fn stats(&self) -> &GroupStats {
        &self.stats
    }

    /// The earliest pending deadline (Adver_Timer or Master_Down_Timer), if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.adver_timer, self.master_down_timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Startup event. No-op unless in Initialize.
    pub fn startup(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Initialize {
            return;
        }
        if self.faulted {
            self.transition(State::Fault, TransitionReason::Fault, now, out);
        } else if self.params.priority == OWNER_PRIORITY && !self.sync {
            self.become_master(now, TransitionReason::AddressOwner, out);
        } else if self.params.priority == OWNER_PRIORITY {
            self.enter_backup(now, TransitionReason::Startup, out);
            self.want_master(TransitionReason::AddressOwner, out);
        } else {
            self.enter_backup(now, TransitionReason::Startup, out);
        }
    }

    /// Shutdown event: from Master, a priority-0 advert and removal of VIPs and routes; from
    /// Backup or Fault, just back to Initialize. No-op in Initialize.
    pub fn shutdown(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Initialize {
            self.leave(State::Initialize, TransitionReason::Shutdown, now, out);
        }
    }

    /// Whether a fault is raised (the group is, or will start, in Fault).
    pub fn faulted(&self) -> bool {
        self.faulted
    }

    /// Raises or clears the fault: the group's interface went down or came back, an
    /// unweighted tracked object failed or recovered (the caller aggregates its causes).
    ///
    /// * raised: Master → Fault as a shutdown (priority-0 advert, routes and VIPs removed),
    ///   Backup → Fault (timers stopped); in Initialize it applies at startup;
    /// * cleared: Fault → Backup with a fresh Master_Down_Timer (as at startup: the group
    ///   listens for a Master before it takes over; an owner or a preempting better router
    ///   gets mastership back by the normal election). In Initialize the flag just drops.
    pub fn set_fault(&mut self, fault: bool, now: Instant, out: &mut Vec<Action>) {
        if fault == self.faulted {
            return;
        }
        self.faulted = fault;
        match (fault, self.state) {
            (true, State::Master | State::Backup) => {
                self.leave(State::Fault, TransitionReason::Fault, now, out)
            }
            (false, State::Fault) => self.enter_backup(now, TransitionReason::FaultCleared, out),
            _ => {}
        }
    }

    /// Whether the group is a sync-group member (see [`Vrrp::set_sync`]).
    pub fn sync_member(&self) -> bool {
        self.sync
    }

    /// Whether the group, a sync-group member in Backup, wants Master (its Master_Down_Timer
    /// expired, or it would preempt the Master) and waits for [`Vrrp::sync_go`].
    pub fn wants_master(&self) -> bool {
        self.wants.is_some()
    }

    /// Makes the group a member of a sync group, or not (keepalived's
    /// `vrrp_sync_can_goto_master`: a member becomes Master only when every member wants
    /// to, and the members' state lives in other workers, so the decision is the control
    /// plane's).
    ///
    /// A member never becomes Master on its own: where a lone group would take over (its
    /// Master_Down_Timer expires, it preempts a worse Master, it owns its addresses at
    /// startup), it stays Backup, emits [`Action::WantMaster`] `{ wants: true }` and waits for
    /// [`Vrrp::sync_go`]; an advert that would have reset its timer (a Master as good as
    /// it, or one it may not preempt) ends the wish with `{ wants: false }`. A member that
    /// stops being one while it wants Master takes over at once.
    pub fn set_sync(&mut self, member: bool, now: Instant, out: &mut Vec<Action>) {
        if member == self.sync {
            return;
        }
        self.sync = member;
        self.following = None;
        if let (false, Some(reason)) = (member, self.wants.take()) {
            self.become_master(now, reason, out);
        }
    }

    /// Every member of the sync group wants Master (or is): a member waiting for it becomes
    /// Master now; otherwise (it no longer wants, it is Master already) nothing happens.
    pub fn sync_go(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Backup {
            return;
        }
        if let Some(reason) = self.wants.take() {
            self.become_master(now, reason, out);
        }
    }

    /// Another member of the sync group left Master (preempted, Fault, it hears a better
    /// Master): a Master leaves too, with a priority-0 advert so the peer takes over after its
    /// Skew_Time, routes and VIPs removed. It then waits in Backup like any member.
    pub fn sync_leave(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Master {
            return;
        }
        self.adver_timer = None;
        self.preempt_at = None;
        self.master_adver_interval = self.params.advert_interval;
        self.master_down_timer = Some(now + self.master_down_interval());
        self.master_left = false;
        self.current_master = None;
        self.transition(State::Backup, TransitionReason::SyncGroup, now, out);
        self.send_advert(0, out);
        out.push(Action::RemoveRoutes);
        out.push(Action::RemoveVips);
    }

    /// A sync-group member in Backup would take over for `reason`: it waits instead (no timer:
    /// only an advert or the control plane changes its mind).
    fn want_master(&mut self, reason: TransitionReason, out: &mut Vec<Action>) {
        self.master_down_timer = None;
        self.following = None;
        if self.wants.is_none() {
            self.wants = Some(reason);
            out.push(Action::WantMaster { wants: true });
        }
    }

    /// A sync-group member that wanted Master heard a Master it accepts.
    fn stop_wanting(&mut self, out: &mut Vec<Action>) {
        if self.wants.take().is_some() {
            out.push(Action::WantMaster { wants: false });
        }
    }

    /// Leaves Master or Backup for `to` (Initialize or Fault): timers stopped; from Master, a
    /// priority-0 advert and the routes and VIPs removed.
    fn leave(&mut self, to: State, reason: TransitionReason, now: Instant, out: &mut Vec<Action>) {
        let from = self.state;
        self.wants = None;
        self.preempt_at = None;
        self.adver_timer = None;
        self.master_down_timer = None;
        self.master_left = false;
        self.current_master = None;
        self.transition(to, reason, now, out);
        if from == State::Master {
            self.send_advert(0, out);
            out.push(Action::RemoveRoutes);
            out.push(Action::RemoveVips);
        }
    }

    /// Initialize or Fault → Backup, waiting Master_Down_Interval for a Master.
    fn enter_backup(&mut self, now: Instant, reason: TransitionReason, out: &mut Vec<Action>) {
        self.master_adver_interval = self.params.advert_interval;
        self.master_down_timer = Some(now + self.master_down_interval());
        self.master_left = false;
        self.wants = None;
        self.current_master = None;
        self.transition(State::Backup, reason, now, out);
    }

    /// Fires whatever timer is due at `now` (deadline <= now); no-op otherwise.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Action>) {
        match self.state {
            State::Initialize | State::Fault => {}
            State::Master => {
                let Some(deadline) = self.adver_timer.filter(|&d| d <= now) else {
                    return;
                };
                self.send_advert(self.params.priority, out);
                // Keep the cadence of the deadlines, unless the driver is more than one
                // interval late (then restart from now, on the phase, rather than sending a
                // burst).
                let mut next = deadline + self.params.advert_interval;
                if next <= now {
                    next = self.next_advert_after(now);
                }
                self.adver_timer = Some(next);
            }
            State::Backup => {
                if self.master_down_timer.is_some_and(|d| d <= now) {
                    let reason = if self.master_left {
                        TransitionReason::MasterLeft
                    } else {
                        TransitionReason::MasterDown
                    };
                    if self.sync {
                        self.want_master(reason, out);
                    } else {
                        self.become_master(now, reason, out);
                    }
                }
            }
        }
    }

    /// An advert was received (already validated by the caller).
    pub fn on_advert(&mut self, adv: &AdvertInfo, now: Instant, out: &mut Vec<Action>) {
        self.stats.adverts_received += 1;
        if adv.priority == 0 {
            self.stats.priority_zero_received += 1;
        }
        if let Err(reason) = self.check(adv) {
            // A Master we follow sending what we refuse: its copies must be refused too.
            if self.following == Some(adv.src) {
                self.following = None;
            }
            self.discard(reason, out);
            return;
        }
        let theirs = timing::from_centis(adv.max_advert_int_cs);
        match self.state {
            State::Initialize | State::Fault => self.discard(DiscardReason::NotRunning, out),
            State::Backup => self.backup_advert(adv, theirs, now, out),
            State::Master => self.master_advert(adv, theirs, now, out),
        }
    }

    /// Changes our priority at run time (1..=255).
    ///
    /// * Master: an advert with the new priority is sent at once and the Adver_Timer re-armed,
    ///   so that a better Backup with preemption can take over without waiting.
    /// * Backup: the new priority (and so Skew_Time) applies from the next advert; the running
    ///   Master_Down_Timer is left alone. If raised above the Master's priority with preempt
    ///   on, the Master's next adverts are discarded and we take over when the
    ///   Master_Down_Timer (set by its last accepted advert) expires: plain RFC behaviour, no
    ///   shortcut.
    /// * Initialize, Fault: stored for the next startup or return to Backup.
    pub fn set_priority(
        &mut self,
        priority: u8,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Result<(), ParamsError> {
        if priority == 0 {
            return Err(ParamsError::ZeroPriority);
        }
        if priority == self.params.priority {
            return Ok(());
        }
        self.params.priority = priority;
        // Skew_Time, and whether the Master is worse than us, change with our priority.
        self.following = None;
        if self.state == State::Master {
            self.send_advert(priority, out);
            self.adver_timer = Some(self.next_advert_after(now));
        }
        Ok(())
    }

    /// Changes Preempt_Mode at run time; it applies from the next advert.
    pub fn set_preempt(&mut self, preempt: bool) {
        if preempt != self.params.preempt {
            self.following = None;
        }
        self.params.preempt = preempt;
    }

    /// Validity checks that do not depend on the state.
    fn check(&self, adv: &AdvertInfo) -> Result<(), DiscardReason> {
        if adv.src == self.params.primary_addr {
            return Err(DiscardReason::OwnAdvert);
        }
        if adv.src.is_ipv4() != self.params.primary_addr.is_ipv4() {
            return Err(DiscardReason::FamilyMismatch);
        }
        let theirs = timing::from_centis(adv.max_advert_int_cs);
        match self.params.version {
            Version::V2 if theirs != self.params.advert_interval => {
                Err(DiscardReason::IntervalMismatch {
                    ours: self.params.advert_interval,
                    theirs,
                })
            }
            Version::V3 if adv.max_advert_int_cs == 0 => Err(DiscardReason::ZeroInterval),
            _ => Ok(()),
        }
    }

    fn backup_advert(
        &mut self,
        adv: &AdvertInfo,
        theirs: Duration,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        // Set again below only when this advert is deferred to.
        self.following = None;
        if adv.priority == 0 {
            // The Master is leaving: take over after Skew_Time unless someone speaks first.
            self.master_down_timer = Some(now + self.skew_time());
            self.master_left = true;
            if self.current_master == Some(adv.src) {
                self.current_master = None;
            }
            return;
        }
        self.current_master = Some(adv.src);
        let worse = self.params.preempt && adv.priority < self.params.priority;
        if !worse {
            // A Master as good as us: a later worse one starts its own preempt_delay.
            self.preempt_at = None;
        }
        let delayed = worse
            && !self.params.preempt_delay.is_zero()
            && now
                < *self
                    .preempt_at
                    .get_or_insert(now + self.params.preempt_delay);
        if !worse || delayed {
            self.stop_wanting(out);
            if self.params.version == Version::V3 {
                self.master_adver_interval = theirs;
            }
            self.master_down_timer = Some(now + self.master_down_interval());
            self.master_left = false;
            // A worse Master waiting out preempt_delay is not followed: its adverts must keep
            // coming to the machine, which preempts it once the delay is over.
            if !worse {
                self.following = Some(adv.src);
            }
        } else {
            // Fast preemption: the Master says it is worse than us (its priority fell, by
            // tracking or by hand, or ours rose). RFC 5798 §6.4.2 would discard and wait for
            // the Master_Down_Timer its last accepted advert set (up to three intervals); we
            // wait Skew_Time instead, as for a priority-0 advert, so the best preempting Backup
            // still speaks first and the others hear it before their own timer runs out.
            let soon = now + self.skew_time();
            // A member already waiting for its sync group needs no timer to want again.
            if self.wants.is_none() && self.master_down_timer.is_none_or(|d| d > soon) {
                self.master_down_timer = Some(soon);
            }
            self.discard(
                DiscardReason::LowerPriority {
                    theirs: adv.priority,
                    ours: self.params.priority,
                },
                out,
            );
        }
    }

    fn master_advert(
        &mut self,
        adv: &AdvertInfo,
        theirs: Duration,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        if adv.priority == 0 {
            // Another router left Master: assert ourselves at once.
            self.send_advert(self.params.priority, out);
            self.adver_timer = Some(self.next_advert_after(now));
            return;
        }
        let better = match adv.priority.cmp(&self.params.priority) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => addr_gt(adv.src, self.params.primary_addr),
        };
        if !better {
            self.discard(
                DiscardReason::LowerPriority {
                    theirs: adv.priority,
                    ours: self.params.priority,
                },
                out,
            );
            return;
        }
        self.adver_timer = None;
        if self.params.version == Version::V3 {
            self.master_adver_interval = theirs;
        }
        self.master_down_timer = Some(now + self.master_down_interval());
        self.master_left = false;
        self.current_master = Some(adv.src);
        let reason = TransitionReason::Preempted {
            by: adv.src,
            priority: adv.priority,
        };
        self.transition(State::Backup, reason, now, out);
        out.push(Action::RemoveRoutes);
        out.push(Action::RemoveVips);
    }

    /// The Adver_Timer deadline after an advert sent out of cadence at `now`: the first instant
    /// on the group's phase that is at least one Advertisement_Interval after `now`, so in
    /// `[now + interval, now + 2 × interval)`. Phase spreading may only delay the next advert
    /// (Master_Down_Interval, over three intervals, allows it), never bring it closer than
    /// the interval: peers and captures must never see two adverts of a Master closer
    /// together than its Advertisement_Interval. Without a phase: `now + interval`.
    fn next_advert_after(&self, now: Instant) -> Instant {
        let interval = self.params.advert_interval;
        let (Some(phase), Ok(iv)) = (
            self.params.advert_phase,
            u64::try_from(interval.as_micros()),
        ) else {
            return now + interval;
        };
        if iv == 0 {
            return now + interval;
        }
        let earliest = now.as_micros().saturating_add(iv);
        let phase = u64::try_from(phase.as_micros()).unwrap_or(0) % iv;
        let mut next = earliest - earliest % iv + phase;
        if next < earliest {
            next += iv;
        }
        Instant::from_micros(next)
    }

    fn become_master(&mut self, now: Instant, reason: TransitionReason, out: &mut Vec<Action>) {
        self.wants = None;
        self.preempt_at = None;
        self.master_down_timer = None;
        self.master_left = false;
        self.master_adver_interval = self.params.advert_interval;
        self.adver_timer = Some(self.next_advert_after(now));
        self.current_master = Some(self.params.primary_addr);
        self.stats.became_master += 1;
        self.transition(State::Master, reason, now, out);
        out.push(Action::AddVips);
        self.send_advert(self.params.priority, out);
        out.push(Action::Announce);
        out.push(Action::InstallRoutes);
    }

    fn transition(
        &mut self,
        to: State,
        reason: TransitionReason,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let from = self.state;
        self.state = to;
        self.following = None;
        self.stats.transitions += 1;
        self.stats.last_transition = Some(now);
        out.push(Action::Transition { from, to, reason });
    }

    fn send_advert(&mut self, priority: u8, out: &mut Vec<Action>) {
        self.stats.adverts_sent += 1;
        if priority == 0 {
            self.stats.priority_zero_sent += 1;
        }
        out.push(Action::SendAdvert { priority });
    }

    fn discard(&mut self, reason: DiscardReason, out: &mut Vec<Action>) {
        self.stats.discarded.record(&reason);
        if reason != DiscardReason::OwnAdvert {
            out.push(Action::Discarded { reason });
        }
    }
}

/// `a > b` comparing addresses as numbers (IPv4 as `u32`, IPv6 as `u128`). Addresses of
/// different families never compare greater (the caller filters them out beforehand).
pub fn addr_gt(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => u32::from(a) > u32::from(b),
        (IpAddr::V6(a), IpAddr::V6(b)) => u128::from(a) > u128::from(b),
        _ => false,
    }
}
