//! Sync groups: a member never becomes Master on its own, it wants Master and waits for the
//! others (keepalived's `vrrp_sync_can_goto_master`); [`SyncMembers`] gives the orders.

use super::*;
use crate::fsm::sync::{SyncMembers, SyncOrder};

const WANT: Action = Action::WantMaster { wants: true };
const UNWANT: Action = Action::WantMaster { wants: false };

fn member(priority: u8) -> Vrrp {
    let mut m = v3(priority);
    m.set_sync(true, t(0), &mut Vec::new());
    m
}

#[test]
fn a_member_leaves_master_with_priority_zero() {
    let (mut m, at) = master_v3(200);
    let mut out = Vec::new();
    m.set_sync(true, at, &mut out);
    assert!(
        out.is_empty(),
        "becoming a member changes nothing by itself"
    );
    m.sync_leave(at + Duration::from_millis(5), &mut out);
    assert_eq!(
        out,
        vec![
            Action::Transition {
                from: State::Master,
                to: State::Backup,
                reason: TransitionReason::SyncGroup
            },
            Action::SendAdvert { priority: 0 },
            Action::RemoveRoutes,
            Action::RemoveVips,
        ]
    );
    assert_eq!(m.state(), State::Backup);
    // In Backup, leaving again is nothing.
    out.clear();
    m.sync_leave(at + Duration::from_millis(6), &mut out);
    assert!(out.is_empty());
}

#[test]
fn a_member_that_hears_nobody_wants_master_and_waits_for_go() {
    let mut m = member(200);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    out.clear();
    let due = m.poll_timeout().expect("master down timer");
    assert_eq!(due, t(321_875));
    m.handle_timeout(due, &mut out);
    assert_eq!(out, vec![WANT]);
    assert_eq!(m.state(), State::Backup);
    assert!(m.wants_master());
    // No timer while waiting: nothing to do until an advert or the group decides.
    assert_eq!(m.poll_timeout(), None);
    out.clear();
    m.sync_go(t(400_000), &mut out);
    assert_eq!(
        out,
        becoming_master(State::Backup, TransitionReason::MasterDown, 200)
    );
    assert!(!m.wants_master());
    // Go again (a duplicate) is nothing.
    out.clear();
    m.sync_go(t(400_001), &mut out);
    assert!(out.is_empty());
}

#[test]
fn a_better_master_ends_the_wish_and_go_is_then_ignored() {
    let mut m = member(200);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.handle_timeout(t(321_875), &mut out);
    assert!(m.wants_master());
    out.clear();
    m.on_advert(&adv(HIGH, 250, 10), t(350_000), &mut out);
    assert_eq!(out, vec![UNWANT]);
    assert!(!m.wants_master());
    // Listening to it again: a Master_Down_Interval (at our priority) from its advert.
    assert_eq!(m.poll_timeout(), Some(t(350_000 + 321_875)));
    out.clear();
    m.sync_go(t(351_000), &mut out);
    assert!(out.is_empty(), "a Go sent before the wish ended: {out:?}");
    assert_eq!(m.state(), State::Backup);
    // Another advert from it: no second report.
    m.on_advert(&adv(HIGH, 250, 10), t(450_000), &mut out);
    assert!(out.is_empty());
}

#[test]
fn a_member_that_would_preempt_wants_master_once() {
    let mut m = member(200);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    // A worse Master: the fast preemption's Skew_Time (21 875 µs), then the wish.
    m.on_advert(&adv(LOW, 100, 10), t(100_000), &mut out);
    assert_eq!(m.poll_timeout(), Some(t(121_875)));
    out.clear();
    m.handle_timeout(t(121_875), &mut out);
    assert_eq!(out, vec![WANT]);
    // Its next adverts: still wanted, no new report, no timer.
    out.clear();
    for i in 2..5 {
        m.on_advert(&adv(LOW, 100, 10), t(i * 100_000), &mut out);
    }
    assert!(out.iter().all(|a| matches!(a, Action::Discarded { .. })));
    assert_eq!(m.poll_timeout(), None);
    assert!(m.wants_master());
    out.clear();
    m.sync_go(t(450_000), &mut out);
    assert_eq!(
        out,
        becoming_master(State::Backup, TransitionReason::MasterDown, 200)
    );
}

#[test]
fn a_master_leaving_keeps_the_wish_and_fault_ends_it() {
    let mut m = member(200);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.handle_timeout(t(321_875), &mut out);
    // The peer's priority 0: the wish stands.
    out.clear();
    m.on_advert(&adv(HIGH, 0, 10), t(330_000), &mut out);
    assert!(out.is_empty());
    assert!(m.wants_master());
    // Fault: no wish in Fault (the transition says it), none after the fault clears.
    m.set_fault(true, t(340_000), &mut out);
    assert!(!m.wants_master());
    m.set_fault(false, t(350_000), &mut out);
    assert_eq!(m.state(), State::Backup);
    assert!(!m.wants_master());
    out.clear();
    m.sync_go(t(351_000), &mut out);
    assert!(out.is_empty());
    // It listens first, then wants again.
    m.handle_timeout(t(350_000 + 321_875), &mut out);
    assert_eq!(out, vec![WANT]);
}

#[test]
fn an_owner_member_wants_master_at_startup() {
    let mut m = member(255);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    assert_eq!(
        out,
        vec![
            Action::Transition {
                from: State::Initialize,
                to: State::Backup,
                reason: TransitionReason::Startup
            },
            WANT
        ]
    );
    out.clear();
    m.sync_go(t(10), &mut out);
    assert_eq!(
        out,
        becoming_master(State::Backup, TransitionReason::AddressOwner, 255)
    );
}

#[test]
fn a_waiting_member_freed_from_its_group_takes_over() {
    let mut m = member(200);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.handle_timeout(t(321_875), &mut out);
    out.clear();
    m.set_sync(false, t(400_000), &mut out);
    assert_eq!(
        out,
        becoming_master(State::Backup, TransitionReason::MasterDown, 200)
    );
}

#[test]
fn orders_go_only_when_every_running_member_wants_master() {
    let mut g = SyncMembers::new([(1, State::Initialize, false), (2, State::Initialize, false)]);
    assert!(g.transition(1, State::Backup).is_empty());
    assert!(g.transition(2, State::Backup).is_empty());
    assert!(g.want(1, true).is_empty());
    assert_eq!(g.want(2, true), [(1, SyncOrder::Go), (2, SyncOrder::Go)]);
    // Both become Master; nothing more to say.
    assert!(g.transition(1, State::Master).is_empty());
    assert!(g.transition(2, State::Master).is_empty());
    // One is preempted: the other leaves, once.
    assert_eq!(g.transition(1, State::Backup), [(2, SyncOrder::Leave)]);
    assert!(g.want(1, false).is_empty());
    assert!(g.transition(2, State::Backup).is_empty());
}

#[test]
fn a_go_crossing_an_ended_wish_ends_with_the_masters_leaving() {
    let mut g = SyncMembers::new([(1, State::Backup, false), (2, State::Backup, false)]);
    g.want(1, true);
    assert_eq!(g.want(2, true).len(), 2);
    // Member 1 heard a better Master before its Go arrived: it reports that first, then
    // member 2's takeover arrives.
    assert!(g.want(1, false).is_empty());
    assert_eq!(g.transition(2, State::Master), [(2, SyncOrder::Leave)]);
    // Stale report from a member already gone to Master: ignored.
    let mut g = SyncMembers::new([(1, State::Master, false), (2, State::Backup, false)]);
    assert!(g.want(1, false).is_empty());
}

#[test]
fn stopped_members_do_not_count_and_fault_holds_everyone() {
    let mut g = SyncMembers::new([(1, State::Backup, false), (2, State::Initialize, false)]);
    assert_eq!(g.want(1, true), [(1, SyncOrder::Go)]);
    let mut g = SyncMembers::new([
        (1, State::Master, false),
        (2, State::Master, false),
        (3, State::Backup, false),
    ]);
    assert_eq!(
        g.transition(3, State::Fault),
        [(1, SyncOrder::Leave), (2, SyncOrder::Leave)]
    );
    // Not a member: nothing.
    assert!(g.transition(9, State::Master).is_empty());
    assert!(g.want(9, true).is_empty());
}

#[test]
fn the_group_state_changes_once_per_group_transition() {
    let mut g = SyncMembers::new([(1, State::Initialize, false), (2, State::Initialize, false)]);
    assert_eq!(g.group_change(), None, "nothing runs yet");
    g.transition(1, State::Backup);
    assert_eq!(g.group_change(), Some(State::Backup));
    g.transition(2, State::Backup);
    assert_eq!(g.group_change(), None);
    g.transition(1, State::Master);
    assert_eq!(g.group_change(), None, "one member Master is not the group");
    g.transition(2, State::Master);
    assert_eq!(g.group_change(), Some(State::Master));
    g.transition(1, State::Backup);
    assert_eq!(g.group_change(), Some(State::Backup));
    g.transition(2, State::Backup);
    assert_eq!(g.group_change(), None);
    g.transition(2, State::Fault);
    assert_eq!(g.group_change(), Some(State::Fault));
    g.transition(1, State::Fault);
    assert_eq!(g.group_change(), None);
    g.transition(2, State::Backup);
    assert_eq!(g.group_change(), None, "still a member in Fault");
    g.transition(1, State::Backup);
    assert_eq!(g.group_change(), Some(State::Backup));
    g.transition(1, State::Master);
    g.transition(2, State::Master);
    assert_eq!(g.group_change(), Some(State::Master));
    // Shutdown: the members stop one after the other, the group once.
    g.transition(1, State::Initialize);
    assert_eq!(g.group_change(), None);
    g.transition(2, State::Initialize);
    assert_eq!(g.group_change(), Some(State::Initialize));
    assert_eq!(g.group_change(), None);
}

/// Two members driven through a [`SyncMembers`] as the daemon does (the members' reports
/// feed it, its orders go back), on two segments: `peer` speaks on the first only.
struct Pair {
    members: [Vrrp; 2],
    group: SyncMembers,
    /// (time, member, state) of every transition.
    log: Vec<(Instant, usize, State)>,
    now: Instant,
    next_peer: Instant,
}

impl Pair {
    fn new() -> Self {
        let mut members = [member(200), member(200)];
        let mut group =
            SyncMembers::new([(0, State::Initialize, false), (1, State::Initialize, false)]);
        let mut log = Vec::new();
        for (i, m) in members.iter_mut().enumerate() {
            let mut out = Vec::new();
            m.startup(t(0), &mut out);
            assert!(out.iter().all(|a| !matches!(a, Action::WantMaster { .. })));
            group.transition(i, m.state());
            log.push((t(0), i, m.state()));
        }
        Pair {
            members,
            group,
            log,
            now: t(0),
            next_peer: t(0),
        }
    }

    /// Feeds member `i`'s actions to the group and the group's orders back, until quiet.
    fn settle(&mut self, i: usize, out: Vec<Action>, now: Instant) {
        let mut work = vec![(i, out)];
        while let Some((i, out)) = work.pop() {
            for a in out {
                let orders = match a {
                    Action::Transition { to, .. } => {
                        self.log.push((now, i, to));
                        self.group.transition(i, to)
                    }
                    Action::WantMaster { wants } => self.group.want(i, wants),
                    _ => Vec::new(),
                };
                for (j, order) in orders {
                    let mut out = Vec::new();
                    match order {
                        SyncOrder::Go => self.members[j].sync_go(now, &mut out),
                        SyncOrder::Leave => self.members[j].sync_leave(now, &mut out),
                    }
                    work.push((j, out));
                }
            }
        }
    }

    /// Runs until `end`. With `peer = Some(until)`, a peer of priority 250 advertises on
    /// member 0's segment every 100 ms, its last advert (at `until`) with priority 0.
    fn run(&mut self, end: Instant, peer: Option<Instant>) {
        while self.now < end {
            let timer = (0..2)
                .filter_map(|i| self.members[i].poll_timeout().map(|d| (d, i)))
                .min();
            let advert = peer.filter(|until| self.next_peer <= *until);
            match (timer, advert) {
                (Some((d, i)), a) if a.is_none_or(|_| d < self.next_peer) => {
                    if d >= end {
                        break;
                    }
                    self.now = d;
                    let mut out = Vec::new();
                    self.members[i].handle_timeout(d, &mut out);
                    self.settle(i, out, d);
                }
                (_, Some(until)) => {
                    let at = self.next_peer;
                    if at >= end {
                        break;
                    }
                    self.now = at;
                    let priority = if at == until { 0 } else { 250 };
                    let mut out = Vec::new();
                    self.members[0].on_advert(&adv(HIGH, priority, 10), at, &mut out);
                    self.settle(0, out, at);
                    self.next_peer = at + Duration::from_millis(100);
                }
                _ => break,
            }
        }
        self.now = self.now.max(end);
    }

    fn masters(&self) -> Vec<(Instant, usize)> {
        self.log
            .iter()
            .filter(|(_, _, s)| *s == State::Master)
            .map(|(at, i, _)| (*at, *i))
            .collect()
    }
}

#[test]
fn a_peer_better_for_one_member_holds_both_in_backup_until_it_goes() {
    let mut p = Pair::new();
    // 5 s with the peer on member 0's segment only: member 1 hears nobody, wants Master,
    // and waits for member 0, which never wants it.
    let leaves = t(5_000_000);
    p.run(leaves, Some(leaves));
    assert!(p.masters().is_empty(), "{:?}", p.log);
    assert!(p.members[1].wants_master());
    assert!(!p.members[0].wants_master());
    // The peer leaves (priority 0 at 5 s): member 0 wants Master after its Skew_Time, and
    // both become Master at that instant.
    p.run(t(7_000_000), Some(leaves));
    let at = t(5_000_000 + 21_875);
    let mut masters = p.masters();
    masters.sort();
    assert_eq!(masters, [(at, 0), (at, 1)]);
}

#[test]
fn a_preempted_member_takes_the_other_out_of_master() {
    let mut p = Pair::new();
    // Nobody speaks: both become Master together after Master_Down_Interval.
    p.run(t(1_000_000), None);
    let at = t(321_875);
    let masters = p.masters();
    assert_eq!(masters.len(), 2, "{:?}", p.log);
    assert!(masters.iter().all(|(when, _)| *when == at), "{masters:?}");
    // The peer preempts member 0: member 1 leaves with it and stays Backup while the peer
    // stays.
    p.log.clear();
    p.next_peer = t(1_000_000);
    p.run(t(3_000_000), Some(t(10_000_000)));
    assert_eq!(
        p.log,
        [
            (t(1_000_000), 0, State::Backup),
            (t(1_000_000), 1, State::Backup)
        ]
    );
    assert!(p.members[1].wants_master(), "member 1 hears nobody");
}
