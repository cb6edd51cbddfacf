//! Two shards wired back to back in memory, on virtual time: the worker logic around the
//! state machine (demux, validation, lazy timer re-arm, batching, status publishing).

use std::sync::Arc;

use super::shard::advert_phase;
use super::{GroupSpec, Shard, WorkerEvent, WorkerLinks};
use crate::auth::AuthKey;
use crate::daemon::plan::NetDrv;
use crate::daemon::status::{LatenessHistogram, StatusBoard};
use crate::fsm::State;
use crate::net::IpPrefix;
use crate::time::Instant;
use crate::wire::{self, Family, RxMeta};
use crate::wire::{parse_ethernet_frame, MacAddr, V3Checksum};
use std::time::Duration;

pub(super) fn spec(index: usize, me: u8, priority: u8) -> GroupSpec {
    let vip: std::net::IpAddr = "10.0.0.100".parse().unwrap();
    GroupSpec {
        index,
        ifname: crate::config::IfName::try_from("eth0".to_string())
            .unwrap_or_else(|e| panic!("{e}")),
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
        vif: None,
        netdrv: NetDrv::Netlink,
        socket_filter: true,
        garp_repeat: 0,
        garp_interval: Duration::from_secs(1),
        advert_slots: crate::daemon::plan::DEFAULT_ADVERT_SLOTS,
        preempt_delay: std::time::Duration::ZERO,
        garp_master_delay: std::time::Duration::ZERO,
        garp_master_refresh: std::time::Duration::ZERO,
        garp_master_refresh_repeat: 1,
        garp_lower_prio_repeat: 0,
        unicast: None,
        name: format!("eth0-{}", index + 1),
        notify: Default::default(),
    }
}

pub(super) fn shard(
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

/// Event receivers kept alive beside their shards.
type Events = tokio::sync::mpsc::UnboundedReceiver<WorkerEvent>;

/// Shards of `sa` (id 0) and `sb` (id 1), both started at 1 ms.
fn started_pair(sa: GroupSpec, sb: GroupSpec) -> (Shard, Shard, Instant, [Events; 2]) {
    let (mut a, ea) = shard(0, sa);
    let (mut b, eb) = shard(1, sb);
    let t = Instant::from_millis(1);
    a.startup(t);
    b.startup(t);
    (a, b, t, [ea, eb])
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
    let (mut a, mut b, mut t, _events) = started_pair(spec(0, 1, 200), spec(1, 2, 100));
    let last_advert = run(&mut a, &mut b, &mut t, 2_000).expect("A advertised");
    assert_eq!(a.state(0), Some(State::Master));
    assert_eq!(b.state(0), Some(State::Backup));
    let mdi = Duration::from_micros(300_000 + 60_937);
    // A dies: B must take over exactly at the last advert + Master_Down_Interval.
    let took_over = fire_until_master(&mut b, &mut t, 1_000);
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
    // After the first advert: the 20 slots of 50 ms, two groups each; between one and two
    // intervals after the first advert, never closer than the interval.
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
    let (mut a, mut b, mut t, _events) = started_pair(spec(0, 1, 200), spec(1, 2, 100));
    // Ten seconds of steady adverts: B sees 100 of them and stays Backup throughout,
    // although its wheel entry fired several times at stale deadlines.
    run(&mut a, &mut b, &mut t, 10_000);
    assert_eq!(b.state(0), Some(State::Backup));
    let next = b.next_deadline().expect("B has a timer");
    assert!(next > t, "B's timer is in the past");
}

#[test]
fn adverts_for_other_vrids_or_interfaces_are_ignored() {
    let mut other = spec(1, 2, 100);
    other.vrid = 8;
    let (mut a, mut b, mut t, _events) = started_pair(spec(0, 1, 200), other);
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

#[test]
fn a_masters_adverts_are_counted_without_copying_its_snapshot() {
    let (mut a, mut b, mut t, _events) = started_pair(spec(5, 1, 200), spec(6, 2, 100));
    run(&mut a, &mut b, &mut t, 1_000);
    assert_eq!(a.state(0), Some(State::Master));
    let slot = a.groups[0].as_ref().map(|g| g.slot.clone()).expect("group");
    let before = a.status.get(5).expect("published");
    let locked = slot.locked();
    // 100 ms adverts: ten more seconds, a hundred adverts, nothing else changes.
    run(&mut a, &mut b, &mut t, 10_000);
    let after = a.status.get(5).expect("published");
    assert_eq!(
        after.adverts_out,
        before.adverts_out + 100,
        "exact at every advert"
    );
    assert_eq!(after.adverts_in, before.adverts_in);
    assert_eq!(
        slot.locked(),
        locked,
        "the snapshot itself was not rewritten"
    );
    assert_eq!(
        (after.state, after.transitions),
        (State::Master, before.transitions)
    );
    // B's adverts are counted the same way, and its state change rewrites the snapshot.
    let b_before = b.status.get(6).expect("published");
    assert!(
        b_before.adverts_in <= after.adverts_out && b_before.adverts_in + 1 >= after.adverts_out,
        "B counted {} of A's {} adverts",
        b_before.adverts_in,
        after.adverts_out
    );
    let (mut c, _ec) = shard(2, spec(7, 3, 250));
    c.startup(t);
    run(&mut c, &mut a, &mut t, 1_000);
    let demoted = a.status.get(5).expect("published");
    assert_eq!(demoted.state, State::Backup);
    assert_eq!(slot.locked().state, State::Backup);
    assert_eq!(slot.locked().adverts_out, demoted.adverts_out);
}

/// Announcement rounds of the shard's only group at the end of each step of `ms` ms.
fn announce_times(a: &mut Shard, t: &mut Instant, ms: u64) -> Vec<u64> {
    let start = *t;
    let mut seen = a.groups[0].as_ref().map_or(0, |g| g.announcements);
    let mut times = Vec::new();
    for _ in 0..ms {
        *t += Duration::from_millis(1);
        a.fire_timers(*t);
        a.drain_outbox();
        let n = a.groups[0].as_ref().map_or(0, |g| g.announcements);
        for _ in seen..n {
            times.push((*t - start).as_millis() as u64);
        }
        seen = n;
    }
    times
}

#[test]
fn second_burst_and_refreshes_follow_becoming_master() {
    let mut sp = spec(0, 1, 200);
    sp.garp_repeat = 2;
    sp.garp_master_delay = Duration::from_secs(5);
    sp.garp_master_refresh = Duration::from_secs(10);
    sp.garp_master_refresh_repeat = 1;
    let (mut a, _ea) = shard(0, sp);
    let mut t = Instant::from_millis(1);
    a.startup(t);
    // Alone: Master after Master_Down_Interval (≈ 322 ms); then the bursts.
    let times = announce_times(&mut a, &mut t, 26_000);
    assert_eq!(a.state(0), Some(State::Master));
    let took_over = times[0];
    let rel: Vec<u64> = times.iter().map(|x| x - took_over).collect();
    // First burst at 0 and 1 s, the second at 5 and 6 s, refreshes at 15 and 25 s.
    assert_eq!(
        rel,
        vec![0, 1_000, 5_000, 6_000, 15_000, 25_000],
        "{times:?}"
    );
}

#[test]
fn a_master_hearing_a_lower_priority_advert_announces_again() {
    let mut sa = spec(0, 1, 200);
    sa.garp_lower_prio_repeat = 3;
    let (mut a, _ea) = shard(0, sa);
    let mut sb = spec(1, 2, 100);
    sb.preempt = false;
    let (mut b, _eb) = shard(1, sb);
    let mut t = Instant::from_millis(1);
    a.startup(t);
    run(&mut a, &mut b, &mut t, 1_000);
    assert_eq!(a.state(0), Some(State::Master));
    let before = a.groups[0].as_ref().map_or(0, |g| g.announcements);
    // B is forced to Master (a split brain): its adverts reach A, which announces 3 times.
    b.startup(t);
    for _ in 0..2_000 {
        t += Duration::from_millis(1);
        b.fire_timers(t);
        if b.state(0) == Some(State::Master) {
            break;
        }
    }
    assert_eq!(b.state(0), Some(State::Master));
    deliver(&mut b, &mut a, t);
    let times = announce_times(&mut a, &mut t, 3_000);
    let after = a.groups[0].as_ref().map_or(0, |g| g.announcements);
    assert_eq!(after - before, 3, "{times:?}");
}
/// Fires `b`'s timers every millisecond for up to `ms` ms; the time its group 0 became Master.
pub(super) fn fire_until_master(b: &mut Shard, t: &mut Instant, ms: u32) -> Option<Instant> {
    for _ in 0..ms {
        *t += Duration::from_millis(1);
        b.fire_timers(*t);
        if b.state(0) == Some(State::Master) {
            return Some(*t);
        }
    }
    None
}

#[test]
fn each_transition_is_reported_once_and_a_handover_as_master_to_backup() {
    let (mut a, mut events) = shard(0, spec(0, 1, 200));
    let mut t = Instant::from_millis(1);
    a.startup(t);
    let mut took_over = false;
    let mut queued = events.len();
    for _ in 0..5_000 {
        t += Duration::from_millis(1);
        a.fire_timers(t);
        if !took_over && a.state(0) == Some(State::Master) {
            took_over = true;
            // The takeover's events wait until its advert is out (the turn's flush).
            assert_eq!(
                events.len(),
                queued,
                "an event left before the takeover advert"
            );
            assert_eq!(a.drain_outbox().len(), 1, "the takeover advert");
            assert!(events.len() > queued, "the takeover's events were not sent");
        }
        a.drain_outbox();
        queued = events.len();
    }
    assert!(took_over);
    assert_eq!(a.state(0), Some(State::Master));
    assert_eq!(a.handover(0, t), Ok(()));
    a.stop_group(0, t);
    // The worker flushes after every command.
    a.drain_outbox();
    let mut seen = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let WorkerEvent::Transition(tr) = ev {
            assert_eq!((tr.group, tr.priority), (0, 200));
            seen.push((
                tr.from,
                tr.to,
                crate::daemon::notify::reason_word(&tr.reason),
            ));
        }
    }
    assert_eq!(
        seen,
        [
            (State::Initialize, State::Backup, "startup"),
            (State::Backup, State::Master, "master-down"),
            // The hand-over's Master → Initialize → Backup: one transition, no STOP.
            (State::Master, State::Backup, "startup"),
            (State::Backup, State::Initialize, "shutdown"),
        ]
    );
}

#[test]
fn a_burst_leaves_no_big_buffers_behind() {
    use super::transmit::release_burst;
    // A takeover turn of 10,000 adverts: kept while that turn's size is the norm.
    let mut v: Vec<u8> = Vec::with_capacity(600_000);
    release_burst(&mut v, 600_000);
    assert!(v.capacity() >= 600_000);
    // The next, steady turn: back to twice its size, at least 64 KiB.
    release_burst(&mut v, 15_000);
    assert!(v.capacity() >= 64 * 1024 && v.capacity() < 600_000);
    // A steady load is never shrunk and regrown.
    let cap = v.capacity();
    for _ in 0..3 {
        v.extend(std::iter::repeat_n(0u8, 15_000));
        v.clear();
        release_burst(&mut v, 15_000);
        assert_eq!(v.capacity(), cap);
    }
}

#[test]
fn deferred_work_yields_to_the_next_timer() {
    // 100 groups start and become Master on the same tick: 300 deferred items (two log lines
    // and an announcement each), and every group's next advert timer in the wheel.
    let mk = |i: usize| GroupSpec {
        vrid: (i + 1) as u8,
        ..spec(i, 1, 200)
    };
    let burst = || {
        let (mut a, events) = shard(0, mk(0));
        for i in 1..100 {
            a.insert_group(mk(i));
        }
        let mut t = Instant::from_millis(1);
        a.startup(t);
        while (0..100).any(|g| a.state(g) != Some(State::Master)) {
            t += Duration::from_millis(1);
            a.fire_timers(t);
        }
        assert_eq!(a.deferred.len(), 300);
        (a, events)
    };
    // Far from the next deadline: a full batch.
    let (mut a, _e) = burst();
    a.clock = || Instant::ZERO;
    a.run_deferred();
    assert_eq!(a.deferred.len(), 300 - 64);
    // At the next deadline: nothing, the timer's turn comes first; after 5 ms without
    // progress one item runs anyway. Nothing is lost or reordered.
    static NOW_US: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let (mut b, _e) = burst();
    NOW_US.store(1_000_000_000_000, std::sync::atomic::Ordering::Relaxed);
    b.clock = || Instant::from_micros(NOW_US.load(std::sync::atomic::Ordering::Relaxed));
    let (first, second) = (b.deferred[0], b.deferred[1]);
    b.run_deferred();
    assert_eq!(b.deferred.len(), 300);
    NOW_US.fetch_add(4_999, std::sync::atomic::Ordering::Relaxed);
    b.run_deferred();
    assert_eq!(b.deferred.len(), 300);
    assert_eq!(format!("{:?}", b.deferred[0]), format!("{first:?}"));
    NOW_US.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    b.run_deferred();
    assert_eq!(b.deferred.len(), 299);
    assert_eq!(format!("{:?}", b.deferred[0]), format!("{second:?}"));
    let mut turns = 0;
    while b.has_deferred() {
        NOW_US.fetch_add(5_000, std::sync::atomic::Ordering::Relaxed);
        b.run_deferred();
        turns += 1;
    }
    assert_eq!(
        turns, 299,
        "one item per 5 ms while the timers leave no room"
    );
}
