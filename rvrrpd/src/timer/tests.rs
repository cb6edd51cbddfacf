//! Unit tests of the timing wheel, and property tests against the reference model
//! ([`super::model`]).

use std::time::Duration;

use proptest::prelude::*;

use super::model::{check, shape, Op};
use super::*;
use crate::time::Instant;

fn t(us: u64) -> Instant {
    Instant::from_micros(us)
}

fn wheel(tick_us: u64, slots: usize) -> TimingWheel<u64> {
    TimingWheel::with_config(WheelConfig {
        tick: Duration::from_micros(tick_us),
        slots,
    })
    .expect("valid config")
}

fn drain(w: &mut TimingWheel<u64>, now: Instant) -> Vec<u64> {
    let mut v = Vec::new();
    w.advance(now, |_, x| v.push(x));
    v
}

#[test]
fn config_is_validated() {
    assert!(matches!(
        TimingWheel::<()>::with_config(WheelConfig {
            tick: Duration::from_nanos(500),
            slots: 8
        }),
        Err(TimerError::Tick(_))
    ));
    assert!(matches!(
        TimingWheel::<()>::with_config(WheelConfig {
            tick: Duration::from_millis(1),
            slots: 12
        }),
        Err(TimerError::Slots(12))
    ));
    let w = TimingWheel::<()>::new();
    assert_eq!(w.tick(), Duration::from_millis(1));
    assert_eq!(w.slots(), 4096);
}

#[test]
fn fires_in_deadline_order_never_early() {
    let mut w = wheel(1000, 16);
    w.insert(t(5_500), 2);
    w.insert(t(5_200), 1);
    w.insert(t(30_000), 4); // a later round of slot 14
    w.insert(t(14_000), 3);
    assert_eq!(w.len(), 4);
    assert_eq!(w.next_deadline(), Some(t(5_200)));
    assert_eq!(drain(&mut w, t(5_199)), Vec::<u64>::new());
    assert_eq!(drain(&mut w, t(5_200)), vec![1]);
    assert_eq!(w.next_deadline(), Some(t(5_500)));
    assert_eq!(drain(&mut w, t(14_000)), vec![2, 3]);
    assert_eq!(w.next_deadline(), Some(t(30_000)));
    assert_eq!(drain(&mut w, t(29_999)), Vec::<u64>::new());
    assert_eq!(drain(&mut w, t(100_000)), vec![4]);
    assert!(w.is_empty());
    assert_eq!(w.next_deadline(), None);
}

#[test]
fn sub_tick_order_and_fifo_ties() {
    let mut w = wheel(1000, 8);
    w.insert(t(1_900), 3);
    w.insert(t(1_100), 1);
    w.insert(t(1_500), 2);
    w.insert(t(1_500), 22);
    assert_eq!(drain(&mut w, t(2_000)), vec![1, 2, 22, 3]);
}

#[test]
fn past_deadlines_fire_on_next_advance() {
    let mut w = wheel(1000, 8);
    drain(&mut w, t(50_000));
    w.insert(t(10), 1);
    w.insert(t(49_999), 2);
    assert_eq!(w.next_deadline(), Some(t(10)));
    assert_eq!(drain(&mut w, t(50_000)), vec![1, 2]);
}

#[test]
fn cancel_and_stale_ids() {
    let mut w = wheel(100, 64);
    let a = w.insert(t(1_000), 1);
    let b = w.insert(t(2_000), 2);
    assert_eq!(w.cancel(a), Some(1));
    assert_eq!(w.cancel(a), None);
    assert_eq!(w.reschedule(a, t(5)), Err(TimerError::Stale));
    let c = w.insert(t(3_000), 3); // reuses a's storage
    assert!(!w.contains(a));
    assert!(w.contains(c));
    assert_eq!(w.get(c), Some(&3));
    assert_eq!(drain(&mut w, t(2_500)), vec![2]);
    assert_eq!(w.cancel(b), None, "fired ids are stale");
    assert_eq!(w.deadline(c), Some(t(3_000)));
    w.reschedule(c, t(2_600)).expect("pending");
    assert_eq!(w.next_deadline(), Some(t(2_600)));
    assert_eq!(drain(&mut w, t(2_600)), vec![3]);
}

#[test]
fn poll_skips_entries_cancelled_or_rescheduled_after_collection() {
    let mut w = wheel(1000, 8);
    let a = w.insert(t(100), 1);
    let b = w.insert(t(200), 2);
    let c = w.insert(t(300), 3);
    let first = w.poll(t(1_000)).map(|(_, v)| v);
    assert_eq!(first, Some(1));
    assert!(!w.contains(a));
    assert_eq!(w.cancel(b), Some(2));
    w.reschedule(c, t(5_000)).expect("pending");
    assert_eq!(w.poll(t(1_000)), None);
    assert_eq!(w.len(), 1);
    assert_eq!(w.next_deadline(), Some(t(5_000)));
}

#[test]
fn long_jump_visits_everything_once() {
    let mut w = wheel(1000, 4);
    for i in 0..20u64 {
        w.insert(t(i * 3_333), i);
    }
    let fired = drain(&mut w, t(1_000_000));
    assert_eq!(fired, (0..20).collect::<Vec<_>>());
}

#[test]
fn next_deadline_beyond_one_revolution_is_exact() {
    let mut w = wheel(1000, 8);
    w.insert(t(100_500), 1);
    w.insert(t(90_700), 2);
    assert_eq!(w.next_deadline(), Some(t(90_700)));
}

#[test]
fn clear_makes_ids_stale() {
    let mut w = wheel(1000, 8);
    let a = w.insert(t(100), 1);
    w.clear();
    assert!(w.is_empty());
    assert!(!w.contains(a));
    assert_eq!(w.next_deadline(), None);
    assert_eq!(drain(&mut w, t(1_000)), Vec::<u64>::new());
}

/// Found by the reference model (`PollEarlier`): a poll at an earlier `now` than the last
/// collection consumed the "merge early timers" flag without collecting them, so a timer
/// inserted with a past deadline then fired after later ones.
#[test]
fn poll_at_an_earlier_now_keeps_later_order() {
    let mut w = wheel(1000, 8);
    w.insert(t(5_000), 1);
    w.insert(t(3_000), 2);
    assert_eq!(w.poll(t(6_000)).map(|(_, v)| v), Some(2));
    w.insert(t(4_000), 3); // due within the batch already collected
    assert_eq!(
        w.poll(t(2_000)),
        None,
        "nothing is due at the earlier instant"
    );
    assert_eq!(drain(&mut w, t(10_000)), vec![3, 1]);
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..60_000).prop_map(Op::Insert),
        1 => any::<usize>().prop_map(Op::Cancel),
        1 => (any::<usize>(), 0u64..60_000).prop_map(|(i, d)| Op::Reschedule(i, d)),
        2 => (0u64..8_000).prop_map(Op::Advance),
        1 => (0u64..8_000, 0usize..4).prop_map(|(d, n)| Op::PollSome(d, n)),
        1 => (0u64..8_000).prop_map(Op::PollEarlier),
        1 => any::<usize>().prop_map(Op::CancelStale),
        1 => (any::<usize>(), 0u64..60_000).prop_map(|(i, d)| Op::RescheduleStale(i, d)),
        1 => prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()].prop_map(Op::InsertAt),
    ]
}

/// Runs a scenario against the reference model (the same checker the fuzz target drives).
fn run(tick_us: u64, slots: usize, start: u64, ops: Vec<Op>) -> Result<(), TestCaseError> {
    check(shape(tick_us, slots), start, &ops).map_err(|m| TestCaseError::fail(m.to_string()))
}

#[test]
fn model_catches_nothing_on_the_unit_scenarios() {
    // The hand-written scenarios above, replayed through the checker.
    let ops = [
        Op::Insert(10_500),
        Op::Insert(10_200),
        Op::Insert(35_000),
        Op::Advance(5_199),
        Op::Advance(1),
        Op::Advance(8_800),
        Op::PollEarlier(9_000),
        Op::Clear,
        Op::InsertAt(u64::MAX),
        Op::InsertAt(0),
        Op::CancelStale(0),
        Op::RescheduleStale(1, 7),
        Op::Advance(u64::MAX),
    ];
    assert_eq!(check(shape(1000, 16), 0, &ops), Ok(()));
    assert_eq!(check(shape(1, 1), 123_456, &ops), Ok(()));
}

#[test]
fn model_rejects_invalid_shapes() {
    assert!(check(shape(0, 8), 0, &[]).is_err());
    assert!(check(shape(1000, 12), 0, &[]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn matches_reference_1ms_small_wheel(start in 0u64..100_000, ops in proptest::collection::vec(op(), 1..120)) {
        run(1_000, 8, start, ops)?;
    }

    #[test]
    fn matches_reference_100us(start in 0u64..100_000, ops in proptest::collection::vec(op(), 1..120)) {
        run(100, 64, start, ops)?;
    }

    #[test]
    fn matches_reference_one_slot(ops in proptest::collection::vec(op(), 1..60)) {
        run(1_000, 1, 0, ops)?;
    }

    #[test]
    fn matches_reference_default_shape(start in 0u64..10_000_000, ops in proptest::collection::vec(op(), 1..120)) {
        run(1_000, 4096, start, ops)?;
    }

    #[test]
    fn matches_reference_any_shape(tick in 1u64..5_000, slots_log2 in 0u32..13, start in any::<u64>(), ops in proptest::collection::vec(op(), 1..120)) {
        run(tick, 1 << slots_log2, start, ops)?;
    }
}
