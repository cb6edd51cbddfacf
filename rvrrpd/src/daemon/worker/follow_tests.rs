//! The kernel-resident Backup on virtual time: a Master shard's adverts go through a model of
//! the eBPF programs ([`SuppressSlot::kernel_swallows`](crate::net::xdp::SuppressSlot)) before
//! they reach the Backup shard, which keeps its entry in a table of plain memory.

use std::sync::Arc;
use std::time::Duration;

use super::tests::{fire_until_master, shard, spec};
use super::{Shard, SyncCmd, WorkerLinks};
use crate::daemon::status::{LatenessHistogram, StatusBoard};
use crate::fsm::State;
use crate::net::xdp::SuppressTable;
use crate::time::Instant;
use crate::wire::{parse_ethernet_frame, RxMeta};

/// MDI of a priority-100 Backup hearing 100 ms adverts.
const MDI: Duration = Duration::from_micros(360_937);

/// A Backup shard (priority `b_prio`) whose group has a slot in a fresh table.
fn backup(b_prio: u8) -> (Shard, Arc<SuppressTable>) {
    let table = SuppressTable::for_tests(16);
    let s = spec(1, 2, b_prio);
    table.allocate(s.demux_key());
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let links = WorkerLinks {
        events: tx,
        status: Arc::new(StatusBoard::new()),
        lateness: Arc::new(LatenessHistogram::default()),
    };
    let mut b = Shard::new(1, links);
    b.set_suppress_table(table.clone());
    b.insert_group(s);
    (b, table)
}

/// What reached the Backup's worker and what the "kernel" swallowed.
#[derive(Default, Debug)]
struct Seen {
    delivered: usize,
    swallowed: usize,
    last_on_wire: Option<Instant>,
}

/// Sends `a`'s queued adverts to `b` at `now` through the model of the eBPF programs.
fn wire(a: &mut Shard, b: &mut Shard, now: Instant, seen: &mut Seen) {
    for (ifindex, f) in a.drain_outbox() {
        let view = parse_ethernet_frame(&f).expect("frame");
        seen.last_on_wire = Some(now);
        let slot = b.groups[0].as_ref().and_then(|g| g.suppress.as_ref());
        if slot.is_some_and(|s| s.kernel_swallows(view.src_ip, view.vrrp, now.as_micros() * 1000)) {
            seen.swallowed += 1;
            continue;
        }
        seen.delivered += 1;
        let meta = RxMeta {
            src: view.src_ip,
            dst: view.dst_ip,
            ttl: view.ttl,
        };
        b.handle_advert(ifindex, view.vrrp, &meta, now);
    }
}

/// Runs A (priority 200) and B for `ms` ms of virtual time in 1 ms steps.
fn run(a: &mut Shard, b: &mut Shard, t: &mut Instant, ms: u64, seen: &mut Seen) {
    for _ in 0..ms {
        *t += Duration::from_millis(1);
        a.fire_timers(*t);
        wire(a, b, *t, seen);
        b.fire_timers(*t);
        // B's adverts reach A unfiltered (A is Master: it has no entry).
        for (ifindex, f) in b.drain_outbox() {
            let view = parse_ethernet_frame(&f).expect("frame");
            let meta = RxMeta {
                src: view.src_ip,
                dst: view.dst_ip,
                ttl: view.ttl,
            };
            a.handle_advert(ifindex, view.vrrp, &meta, *t);
        }
    }
}

/// A Master and a Backup in steady state after 2 s, and the time.
fn steady(b_prio: u8) -> (Shard, Shard, Arc<SuppressTable>, Instant, Seen) {
    let (mut a, _ea) = shard(0, spec(0, 1, 200));
    let (mut b, table) = backup(b_prio);
    let mut t = Instant::from_millis(1);
    a.startup(t);
    b.startup(t);
    let mut seen = Seen::default();
    run(&mut a, &mut b, &mut t, 2_000, &mut seen);
    assert_eq!(a.state(0), Some(State::Master));
    assert_eq!(b.state(0), Some(State::Backup));
    (a, b, table, t, seen)
}

#[test]
fn a_following_backup_sees_one_advert_then_only_its_timer() {
    let (mut a, mut b, _table, mut t, mut seen) = steady(100);
    // A's first advert reached B's worker; the rest were swallowed.
    assert_eq!(seen.delivered, 1, "{seen:?}");
    assert!(seen.swallowed >= 15, "{seen:?}");
    assert_eq!(b.suppressed(0), seen.swallowed as u64);
    // Ten more seconds: still nothing for the worker, still Backup.
    let before = seen.swallowed;
    run(&mut a, &mut b, &mut t, 10_000, &mut seen);
    assert_eq!(seen.delivered, 1);
    assert_eq!(seen.swallowed, before + 100);
    assert_eq!(b.state(0), Some(State::Backup));
    // The status board reads the count from the table: exact, without the worker publishing
    // it (the last publish was the takeover of the Master's first advert, ten seconds ago).
    let snap = b.status.get(1).expect("published");
    assert_eq!(snap.adverts_suppressed, seen.swallowed as u64);
    assert_eq!(snap.adverts_in, 1 + snap.adverts_suppressed);
    let slot = b.groups[0].as_ref().map(|g| g.slot.clone()).expect("group");
    let raw = slot.read();
    assert_eq!((raw.adverts_suppressed, raw.adverts_in), (0, 1), "{raw:?}");
}

#[test]
fn silence_after_swallowed_adverts_takes_over_mdi_after_the_last_on_the_wire() {
    let (_a, mut b, _table, mut t, seen) = steady(100);
    let last = seen.last_on_wire.expect("A advertised");
    // A dies: B must take over exactly MDI after A's last advert (which it never saw).
    let took_over = fire_until_master(&mut b, &mut t, 1_000);
    let gap = took_over.expect("B took over") - last;
    assert!(
        gap >= MDI && gap <= MDI + Duration::from_millis(1),
        "takeover {gap:?} after the last advert on the wire, MDI {MDI:?}"
    );
    // Master: the entry is invalid, the next advert of anyone reaches the worker.
    let g = b.groups[0].as_ref().expect("group");
    assert!(!g.entry_valid);
    assert_eq!(g.suppress.as_ref().and_then(|s| s.last_rx()), None);
}

#[test]
fn own_priority_raised_reaches_the_next_advert_and_preempts() {
    let (mut a, mut b, _table, mut t, mut seen) = steady(100);
    // Preempt on, 250 > A's 200: the next advert must reach B, which preempts fast.
    b.set_priority(1, 250, t).expect("set_priority");
    assert!(!b.groups[0].as_ref().expect("group").entry_valid);
    let delivered = seen.delivered;
    run(&mut a, &mut b, &mut t, 300, &mut seen);
    assert!(
        seen.delivered > delivered,
        "the Master's next advert reached B"
    );
    assert_eq!(b.state(0), Some(State::Master));
}

#[test]
fn a_changed_master_advert_reaches_the_backup_at_once() {
    let (mut a, mut b, _table, mut t, mut seen) = steady(100);
    // A's priority falls below B's (preempt on): different bytes, B preempts.
    a.set_priority(0, 50, t).expect("A priority");
    let delivered = seen.delivered;
    run(&mut a, &mut b, &mut t, 300, &mut seen);
    assert!(seen.delivered > delivered);
    assert_eq!(b.state(0), Some(State::Master));
}

#[test]
fn local_changes_invalidate_before_they_apply_and_keep_the_repeats() {
    let (mut a, mut b, table, mut t, mut seen) = steady(100);
    let slot = table.slot(spec(1, 2, 100).demux_key()).expect("slot");
    // Preemption off: invalidated (its repeats folded), then followed again on the next advert.
    b.set_preempt(1, false, t).expect("set_preempt");
    assert_eq!(slot.last_rx(), None);
    let delivered = seen.delivered;
    run(&mut a, &mut b, &mut t, 200, &mut seen);
    assert_eq!(seen.delivered, delivered + 1, "one advert re-learnt");
    assert!(slot.last_rx().is_some());
    // A sync-group order or membership: the same.
    b.sync(1, SyncCmd::Member(true), t);
    assert_eq!(slot.last_rx(), None);
    run(&mut a, &mut b, &mut t, 200, &mut seen);
    assert!(slot.last_rx().is_some(), "a member follows a better Master");
    // Fault: invalidated, and nothing is kept while in Fault.
    b.track(
        1,
        crate::track::Outcome {
            priority: 100,
            fault: true,
        },
        t,
    );
    assert_eq!(slot.last_rx(), None);
    run(&mut a, &mut b, &mut t, 500, &mut seen);
    assert_eq!(b.state(0), Some(State::Fault));
    assert_eq!(slot.last_rx(), None);
    // Through all of it B never took over while A was alive.
    b.track(
        1,
        crate::track::Outcome {
            priority: 100,
            fault: false,
        },
        t,
    );
    run(&mut a, &mut b, &mut t, 2_000, &mut seen);
    assert_eq!(b.state(0), Some(State::Backup));
    assert!(slot.last_rx().is_some());
    // Removal: invalidated.
    b.stop_group(0, t);
    assert_eq!(slot.last_rx(), None);
}

#[test]
fn an_unchanged_setting_keeps_suppressing() {
    let (mut a, mut b, table, mut t, mut seen) = steady(100);
    let slot = table.slot(spec(1, 2, 100).demux_key()).expect("slot");
    b.set_priority(1, 100, t).expect("same priority");
    b.set_preempt(1, true, t).expect("same preemption");
    assert!(slot.last_rx().is_some(), "restored");
    let delivered = seen.delivered;
    run(&mut a, &mut b, &mut t, 1_000, &mut seen);
    assert_eq!(seen.delivered, delivered);
}

#[test]
fn a_change_just_before_the_unextended_deadline_keeps_the_swallowed_repeats() {
    let (mut a, mut b, _table, mut t, mut seen) = steady(100);
    // The machine's deadline has not seen the repeats swallowed since its last extension.
    let due = b.groups[0]
        .as_ref()
        .and_then(|g| g.fsm.poll_timeout())
        .expect("Master_Down_Timer");
    assert!(due > t);
    let ms = (due.as_micros() - t.as_micros()) / 1000;
    run(&mut a, &mut b, &mut t, ms.saturating_sub(1), &mut seen);
    // A change 1 ms before it: the repeats are folded first, so no takeover at `due` while A
    // is alive (dropping them would make B take over there).
    b.set_preempt(1, false, t).expect("set_preempt");
    run(&mut a, &mut b, &mut t, 1_000, &mut seen);
    assert_eq!(b.state(0), Some(State::Backup));
    assert_eq!(a.state(0), Some(State::Master));
}

#[test]
fn adverts_refused_in_the_kernel_count_as_the_workers_own_refusals() {
    let (mut b, _table) = backup(100);
    let t = Instant::from_micros(1_000_000);
    b.startup(t);
    let slot = b.groups[0].as_ref().and_then(|g| g.suppress.as_ref());
    let slot = slot.expect("a slot");
    slot.kernel_screens(false);
    slot.kernel_screens(false);
    slot.kernel_screens(true);
    // Read from the table: no publish needed.
    let snap = b.status.get(1).expect("published");
    assert_eq!(
        (snap.discarded, snap.auth_failures, snap.adverts_in),
        (2, 1, 3),
        "{snap:?}"
    );
}

#[test]
fn the_timer_reads_the_newest_repeat_early_and_polls_only_before_a_takeover() {
    let (mut a, mut b, _table, mut t, mut seen) = steady(100);
    // Steady state: the early reads find a newer repeat each time, no polling is asked.
    for _ in 0..3_000 {
        run(&mut a, &mut b, &mut t, 1, &mut seen);
        assert_eq!(b.spin_until, None, "at {t:?}");
    }
    let last = seen.last_on_wire.expect("A advertised");
    let deadline = last + MDI;
    // A dies. In 100 µs steps: polling is asked from the early read on (1 ms ahead), the
    // takeover comes at the deadline and not before.
    let mut asked = None;
    while b.state(0) != Some(State::Master) {
        t += Duration::from_micros(100);
        b.fire_timers(t);
        if asked.is_none() && b.spin_until.is_some() {
            asked = Some(t);
            assert_eq!(b.spin_until, Some(deadline));
        }
        assert!(
            t < deadline + Duration::from_millis(1),
            "no takeover by {t:?}"
        );
    }
    let asked = asked.expect("polling asked before the takeover");
    let ahead = super::follow::EARLY_WAKE_US + super::follow::EARLY_JOIN_US;
    assert!(asked + Duration::from_micros(ahead) >= deadline);
    assert!(
        asked < deadline,
        "asked at {asked:?}, deadline {deadline:?}"
    );
    assert!(
        t >= deadline && t < deadline + Duration::from_micros(100),
        "took over at {t:?}"
    );
}

#[test]
fn the_early_reads_of_one_burst_fall_due_together() {
    // A Backup of four groups whose Master's adverts arrive in bursts, 150 µs apart: the
    // link delivers what A sent in 20 ms as one burst.
    let (mut a, mut b) = four_groups();
    let mut t = Instant::from_millis(1);
    let delivered = run_bursts(&mut a, &mut b, &mut t, 5_000, 20, |_| {});
    assert_eq!(delivered, 4, "one advert per group reached the worker");
    // Every group follows its Master; their next reads are one timer instant, within 2 ms
    // before the earliest Master_Down deadline.
    let mut reads = Vec::new();
    for g in 0..4 {
        let group = b.groups[g].as_ref().expect("group");
        assert!(group.entry_valid && b.state(g) == Some(State::Backup));
        let id = group.fsm_timer.expect("armed");
        reads.push(b.wheel.deadline(id).expect("pending"));
    }
    let deadline = (0..4)
        .filter_map(|g| b.groups[g].as_ref()?.fsm.poll_timeout())
        .min()
        .expect("deadlines");
    assert!(reads.iter().all(|&r| r == reads[0]), "{reads:?}");
    let ahead = deadline.as_micros() - reads[0].as_micros();
    assert!((1_000..=2_000).contains(&ahead), "{ahead} µs ahead");
}

/// A Master shard and a following Backup shard of four groups (VRIDs 1–4, 100 ms adverts,
/// A's spread over the interval), started.
fn four_groups() -> (Shard, Shard) {
    let table = SuppressTable::for_tests(16);
    let links = || WorkerLinks {
        events: tokio::sync::mpsc::unbounded_channel().0,
        status: Arc::new(StatusBoard::new()),
        lateness: Arc::new(LatenessHistogram::default()),
    };
    let (mut a, mut b) = (Shard::new(0, links()), Shard::new(1, links()));
    b.set_suppress_table(table.clone());
    for vrid in 1..=4u8 {
        let mut m = spec(usize::from(vrid), 1, 200);
        m.vrid = vrid;
        a.insert_group(m);
        let mut s = spec(usize::from(vrid), 2, 100);
        s.vrid = vrid;
        table.allocate(s.demux_key());
        b.insert_group(s);
    }
    let t = Instant::from_millis(1);
    a.startup(t);
    b.startup(t);
    (a, b)
}

/// Runs `ms` ms in 1 ms steps; what A sent arrives at B every `every_ms` ms as one burst,
/// 150 µs apart, through the model of the eBPF programs. `step` sees B after each step.
/// Returns how many adverts reached B's worker.
fn run_bursts(
    a: &mut Shard,
    b: &mut Shard,
    t: &mut Instant,
    ms: u64,
    every_ms: u64,
    mut step: impl FnMut(&Shard),
) -> usize {
    let mut delivered = 0;
    let mut burst = Vec::new();
    for _ in 0..ms {
        *t += Duration::from_millis(1);
        a.fire_timers(*t);
        burst.extend(a.drain_outbox());
        if t.as_micros() % (every_ms * 1_000) == 0 {
            for (k, (ifindex, f)) in burst.drain(..).enumerate() {
                let at = *t + Duration::from_micros(150 * k as u64);
                let view = parse_ethernet_frame(&f).expect("frame");
                let g = b.demux[&(ifindex, crate::wire::Family::Ipv4, view.vrrp[1])];
                let slot = b.groups[g].as_ref().and_then(|g| g.suppress.as_ref());
                let ns = at.as_micros() * 1000;
                if slot.is_some_and(|s| s.kernel_swallows(view.src_ip, view.vrrp, ns)) {
                    continue;
                }
                delivered += 1;
                b.fire_timers(at);
                let meta = RxMeta {
                    src: view.src_ip,
                    dst: view.dst_ip,
                    ttl: view.ttl,
                };
                b.handle_advert(ifindex, view.vrrp, &meta, at);
            }
        }
        b.fire_timers(*t);
        step(b);
    }
    delivered
}

#[test]
fn the_reads_of_bursts_within_a_skew_time_share_one_wake_up() {
    // A's four groups advertise at different phases and each advert arrives on its own.
    // Skew_Time is 60.9 ms (priority 100, 100 ms adverts): their reads fit in one window.
    let (mut a, mut b) = four_groups();
    let mut t = Instant::from_millis(1);
    run_bursts(&mut a, &mut b, &mut t, 2_000, 1, |_| {});
    let mut instants = std::collections::BTreeSet::new();
    let delivered = run_bursts(&mut a, &mut b, &mut t, 10_000, 1, |b| {
        instants.extend(
            (0..4)
                .filter_map(|g| b.groups[g].as_ref()?.fsm_timer)
                .filter_map(|id| b.wheel.deadline(id)),
        );
    });
    assert_eq!(
        delivered, 0,
        "every read found the newest repeat: nothing reached B"
    );
    assert!((0..4).all(|g| b.state(g) == Some(State::Backup)));
    // One read instant per three intervals (each finds the third repeat since the last one)
    // for all four groups: ~33 in 10 s, not ~133.
    assert!(
        (30..=36).contains(&instants.len()),
        "{} read instants in 10 s",
        instants.len()
    );
    // No group reads later than 1 ms before its deadline, nor before its window.
    for g in 0..4 {
        let group = b.groups[g].as_ref().expect("group");
        let read = b.wheel.deadline(group.fsm_timer.expect("armed"));
        let read = read.expect("pending");
        let deadline = group.fsm.poll_timeout().expect("deadline");
        let ahead = deadline.as_micros() - read.as_micros();
        let window = super::follow::read_window_us(group.fsm.skew_time());
        assert!(
            (1_000..=window).contains(&ahead),
            "group {g}: {ahead} µs ahead"
        );
    }
}
