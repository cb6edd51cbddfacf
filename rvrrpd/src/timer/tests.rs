//! Unit tests and property tests of the timing wheel against a `BTreeMap` reference.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use proptest::prelude::*;

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

/// One step of a random scenario.
#[derive(Debug, Clone)]
enum Op {
    Insert(u64),
    Cancel(usize),
    Reschedule(usize, u64),
    /// Advance by this many µs, draining with `advance`.
    Advance(u64),
    /// Advance, but pop only this many timers with `poll`.
    PollSome(u64, usize),
    /// Cancel an id that has fired (or been cancelled) before.
    CancelStale(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..60_000).prop_map(Op::Insert),
        1 => any::<usize>().prop_map(Op::Cancel),
        1 => (any::<usize>(), 0u64..60_000).prop_map(|(i, d)| Op::Reschedule(i, d)),
        2 => (0u64..8_000).prop_map(Op::Advance),
        1 => (0u64..8_000, 0usize..4).prop_map(|(d, n)| Op::PollSome(d, n)),
        1 => any::<usize>().prop_map(Op::CancelStale),
    ]
}

/// The reference: `(deadline, seq) → token`.
#[derive(Default)]
struct Reference {
    map: BTreeMap<(u64, u64), u64>,
    key: HashMap<u64, (u64, u64)>,
    seq: u64,
}

impl Reference {
    fn insert(&mut self, token: u64, deadline: u64) {
        self.seq += 1;
        self.map.insert((deadline, self.seq), token);
        self.key.insert(token, (deadline, self.seq));
    }
    fn remove(&mut self, token: u64) -> bool {
        match self.key.remove(&token) {
            Some(k) => self.map.remove(&k).is_some(),
            None => false,
        }
    }
    fn pop_due(&mut self, now: u64) -> Option<(u64, u64)> {
        let (&(d, s), _) = self.map.iter().next().filter(|(&(d, _), _)| d <= now)?;
        let token = self.map.remove(&(d, s))?;
        self.key.remove(&token);
        Some((d, token))
    }
    fn earliest(&self) -> Option<u64> {
        self.map.keys().next().map(|&(d, _)| d)
    }
}

fn run(tick_us: u64, slots: usize, start: u64, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut w = wheel(tick_us, slots);
    let mut r = Reference::default();
    let mut live: Vec<(TimerId, u64)> = Vec::new();
    let mut dead: Vec<TimerId> = Vec::new();
    let mut now = start;
    let mut next_token = 0u64;
    // Starting late exercises a cursor far from zero.
    drain_checked(&mut w, &mut r, &mut live, &mut dead, now, usize::MAX)?;
    for op in ops {
        match op {
            Op::Insert(d) => {
                // Deadlines around now, some in the past.
                let deadline = (now + d).saturating_sub(5_000);
                next_token += 1;
                let id = w.insert(Instant::from_micros(deadline), next_token);
                r.insert(next_token, deadline);
                live.push((id, next_token));
            }
            Op::Cancel(i) if !live.is_empty() => {
                let (id, token) = live.swap_remove(i % live.len());
                prop_assert_eq!(w.cancel(id), Some(token));
                prop_assert!(r.remove(token));
                dead.push(id);
            }
            Op::Reschedule(i, d) if !live.is_empty() => {
                let (id, token) = live[i % live.len()];
                let deadline = (now + d).saturating_sub(5_000);
                prop_assert_eq!(w.reschedule(id, Instant::from_micros(deadline)), Ok(()));
                prop_assert!(r.remove(token));
                r.insert(token, deadline);
            }
            Op::CancelStale(i) if !dead.is_empty() => {
                let id = dead[i % dead.len()];
                prop_assert_eq!(w.cancel(id), None);
                prop_assert!(!w.contains(id));
            }
            Op::Advance(dt) => {
                now += dt;
                drain_checked(&mut w, &mut r, &mut live, &mut dead, now, usize::MAX)?;
            }
            Op::PollSome(dt, n) => {
                now += dt;
                drain_checked(&mut w, &mut r, &mut live, &mut dead, now, n)?;
            }
            _ => {}
        }
        prop_assert_eq!(w.len(), r.map.len());
        let nd = w.next_deadline().map(Instant::as_micros);
        prop_assert_eq!(nd, r.earliest(), "next_deadline must be exact");
    }
    // Nothing lost: everything fires eventually.
    now += 10_000_000;
    drain_checked(&mut w, &mut r, &mut live, &mut dead, now, usize::MAX)?;
    prop_assert!(w.is_empty());
    prop_assert!(r.map.is_empty());
    Ok(())
}

/// Pops up to `n` due timers from both and compares; with `n == usize::MAX` uses `advance`
/// and checks that nothing due remains.
fn drain_checked(
    w: &mut TimingWheel<u64>,
    r: &mut Reference,
    live: &mut Vec<(TimerId, u64)>,
    dead: &mut Vec<TimerId>,
    now: u64,
    n: usize,
) -> Result<(), TestCaseError> {
    let now_i = Instant::from_micros(now);
    let mut fired: Vec<(TimerId, u64)> = Vec::new();
    if n == usize::MAX {
        w.advance(now_i, |id, v| fired.push((id, v)));
    } else {
        for _ in 0..n {
            match w.poll(now_i) {
                Some(x) => fired.push(x),
                None => break,
            }
        }
    }
    for &(id, token) in &fired {
        let expected = r.pop_due(now);
        prop_assert_eq!(
            expected.map(|(_, tk)| tk),
            Some(token),
            "order or set differs"
        );
        if let Some((d, _)) = expected {
            prop_assert!(d <= now, "fired early");
        }
        let pos = live.iter().position(|&(_, tk)| tk == token);
        prop_assert!(pos.is_some());
        if let Some(p) = pos {
            prop_assert_eq!(live[p].0, id);
            live.swap_remove(p);
        }
        dead.push(id);
    }
    if n == usize::MAX {
        prop_assert!(
            r.earliest().is_none_or(|d| d > now),
            "a due timer was not fired"
        );
    } else if fired.len() < n {
        prop_assert!(
            r.earliest().is_none_or(|d| d > now),
            "a due timer was not polled"
        );
    }
    Ok(())
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
}
