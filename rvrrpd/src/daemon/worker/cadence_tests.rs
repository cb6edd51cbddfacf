//! Cadences on virtual time: Masters due at the same instant share one wheel entry, keep
//! their exact cadence, and leave it when they stop being Master.

use std::collections::BTreeMap;
use std::time::Duration;

use super::tests::{shard, spec};
use super::Shard;
use crate::fsm::State;
use crate::time::Instant;
use crate::wire::parse_ethernet_frame;

/// A shard of `n` address owners (Master at once), VRIDs 1..=n, 100 ms adverts over 20
/// phase slots of 5 ms.
fn owners(n: usize) -> Shard {
    let owner = |i: usize| {
        let mut s = spec(i, 1, 255);
        s.owner = true;
        s.vrid = u8::try_from(i + 1).unwrap_or_else(|e| panic!("{e}"));
        s
    };
    let (mut a, _events) = shard(0, owner(0));
    for i in 1..n {
        a.insert_group(owner(i));
    }
    a
}

/// Runs `a` for `ms` 1-ms steps; returns the send instants of each VRID.
fn sends(a: &mut Shard, t: &mut Instant, ms: u64) -> BTreeMap<u8, Vec<Instant>> {
    let mut out: BTreeMap<u8, Vec<Instant>> = BTreeMap::new();
    for _ in 0..ms {
        *t += Duration::from_millis(1);
        a.fire_timers(*t);
        for (_, f) in a.drain_outbox() {
            let view = parse_ethernet_frame(&f).unwrap_or_else(|e| panic!("{e}"));
            let vrid = view.vrrp[1];
            out.entry(vrid).or_default().push(*t);
        }
    }
    out
}

#[test]
fn masters_of_one_phase_slot_share_one_wheel_entry() {
    let mut a = owners(40);
    let mut t = Instant::from_millis(1_000);
    a.startup(t);
    for g in 0..40 {
        assert_eq!(a.state(g), Some(State::Master));
    }
    a.drain_outbox();
    // 40 Masters on 20 phase slots: 20 wheel entries, not 40.
    assert_eq!(a.cadences.len(), 20);
    assert_eq!(a.wheel.len(), 20);
    let sent = sends(&mut a, &mut t, 1_000);
    assert_eq!(sent.len(), 40);
    for (vrid, at) in &sent {
        // First on the slot between one and two intervals after start-up, then every 100 ms
        // to the microsecond, on the group's phase (slots dealt round-robin by index).
        assert!(at.len() >= 8, "VRID {vrid}: {} adverts", at.len());
        let phase = Duration::from_millis(5 * ((u64::from(*vrid) - 1) % 20));
        for pair in at.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::from_millis(100), "VRID {vrid}");
        }
        assert_eq!(
            at[0].as_micros() % 100_000,
            phase.as_micros() as u64,
            "VRID {vrid}"
        );
    }
    assert_eq!(a.wheel.len(), 20);
}

#[test]
fn a_master_that_stops_leaves_its_cadence() {
    let mut a = owners(40);
    let mut t = Instant::from_millis(1_000);
    a.startup(t);
    a.drain_outbox();
    sends(&mut a, &mut t, 300);
    // Groups 0 and 20 share slot 0; stopping one keeps the other on it.
    a.stop_group(0, t);
    assert!(a.groups[0].as_ref().is_some_and(|g| g.cadence.is_none()));
    a.drain_outbox();
    assert_eq!(a.cadences.len(), 20);
    let sent = sends(&mut a, &mut t, 300);
    assert!(!sent.contains_key(&1), "a stopped group kept sending");
    assert_eq!(sent.get(&21).map(Vec::len), Some(3));
    // The last of the slot out removes the slot's wheel entry.
    a.stop_group(20, t);
    a.drain_outbox();
    assert_eq!(a.cadences.len(), 19);
    assert_eq!(a.wheel.len(), 19);
    let sent = sends(&mut a, &mut t, 300);
    assert!(!sent.contains_key(&21));
    assert_eq!(sent.len(), 38);
    // Started again, it joins the slot's cadence after its out-of-cadence first advert.
    a.start_group(20, t);
    assert_eq!(a.cadences.len(), 20);
    let sent = sends(&mut a, &mut t, 300);
    assert!(sent.get(&21).is_some_and(|v| v.len() >= 2));
}

#[test]
fn a_master_preempted_leaves_its_cadence_for_a_master_down_timer() {
    let mut a = owners(1);
    let mut mine = spec(1, 1, 100);
    mine.vrid = 2;
    let g = a.insert_group(mine);
    let mut t = Instant::from_millis(1_000);
    a.startup(t);
    // No Master heard: group 1 takes over after its Master_Down_Interval and joins a cadence.
    sends(&mut a, &mut t, 600);
    assert_eq!(a.state(g), Some(State::Master));
    assert!(a.groups[g].as_ref().is_some_and(|gr| gr.cadence.is_some()));
    assert_eq!(a.cadences.len(), 2);
    // A better router (priority 200) appears: group 1 steps down to Backup.
    let mut better = spec(1, 9, 200);
    better.vrid = 2;
    let (mut b, _eb) = shard(1, better);
    b.startup(t);
    for _ in 0..1_000 {
        t += Duration::from_millis(1);
        b.fire_timers(t);
        for (ifindex, f) in b.drain_outbox() {
            let view = parse_ethernet_frame(&f).unwrap_or_else(|e| panic!("{e}"));
            let meta = crate::wire::RxMeta {
                src: view.src_ip,
                dst: view.dst_ip,
                ttl: view.ttl,
            };
            a.handle_advert(ifindex, view.vrrp, &meta, t);
        }
        a.fire_timers(t);
        a.drain_outbox();
        if a.state(g) == Some(State::Backup) {
            break;
        }
    }
    assert_eq!(a.state(g), Some(State::Backup));
    let group = a.groups[g].as_ref().unwrap_or_else(|| panic!("group"));
    assert!(group.cadence.is_none());
    assert!(
        group.fsm_timer.is_some(),
        "a Backup has a Master_Down_Timer of its own"
    );
    // Group 0 still has its slot; group 1's cadence is gone with it.
    assert_eq!(a.cadences.len(), 1);
    assert_eq!(a.wheel.len(), 2);
}
