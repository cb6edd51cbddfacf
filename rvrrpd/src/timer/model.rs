//! A reference model of [`TimingWheel`] and a checker that runs a scenario on both.
//!
//! The model is a `BTreeMap` keyed by `(deadline, insertion order)`: the obvious, slow
//! implementation of what the wheel promises (fire when `deadline <= now`, never earlier, in
//! `(deadline, insertion order)` order; exact `next_deadline`; stale ids never match). The
//! unit tests (proptest) and the `timer_wheel` fuzz target both drive [`check`], so the
//! reference is exercised by `cargo test` as well as by the fuzzer.
//!
//! Compiled for tests and with the `test-support` feature only.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::{TimerError, TimerId, TimingWheel, WheelConfig};
use crate::time::Instant;

/// How far in the past [`Op::Insert`] and [`Op::Reschedule`] deadlines may lie (µs).
pub const PAST: u64 = 5_000;

/// One step of a scenario. Indices pick a live (or dead) timer modulo their count; a step
/// that needs a timer when there is none does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Schedules a timer `offset - PAST` µs from now (so some deadlines are already past).
    Insert(u64),
    /// Schedules a timer at an absolute instant (extremes such as 0 and `u64::MAX` included).
    InsertAt(u64),
    /// Cancels a live timer.
    Cancel(usize),
    /// Moves a live timer to `offset - PAST` µs from now.
    Reschedule(usize, u64),
    /// Advances `now` by this many µs and fires everything due (`advance`).
    Advance(u64),
    /// Advances `now` by the first value and pops at most the second many timers (`poll`).
    PollSome(u64, usize),
    /// Polls at `now` minus this many µs without moving `now` (a clock read out of order):
    /// whatever fires must be due at that earlier instant.
    PollEarlier(u64),
    /// Cancels a timer that has fired or been cancelled: must be refused.
    CancelStale(usize),
    /// Reschedules a timer that has fired or been cancelled: must be refused.
    RescheduleStale(usize, u64),
    /// Removes every timer.
    Clear,
}

/// Where and how the wheel departed from the reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("step {step} ({op:?}): {what}")]
pub struct Mismatch {
    /// Index of the step in the scenario (`ops.len()` for the final drain).
    pub step: usize,
    /// The step, `None` for the set-up and the final drain.
    pub op: Option<Op>,
    /// What differed.
    pub what: String,
}

/// The reference: `(deadline, seq) → token`, and `token → (deadline, seq)`.
#[derive(Debug, Default, Clone)]
pub struct Reference {
    map: BTreeMap<(u64, u64), u64>,
    key: HashMap<u64, (u64, u64)>,
    seq: u64,
}

impl Reference {
    /// An empty reference.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `token` at `deadline` (after every timer already scheduled for it).
    pub fn insert(&mut self, token: u64, deadline: u64) {
        self.seq += 1;
        self.map.insert((deadline, self.seq), token);
        self.key.insert(token, (deadline, self.seq));
    }

    /// Removes `token`; false if it was not pending.
    pub fn remove(&mut self, token: u64) -> bool {
        match self.key.remove(&token) {
            Some(k) => self.map.remove(&k).is_some(),
            None => false,
        }
    }

    /// The earliest `(deadline, token)` due at `now`, removed.
    pub fn pop_due(&mut self, now: u64) -> Option<(u64, u64)> {
        let (&(d, s), _) = self.map.iter().next().filter(|(&(d, _), _)| d <= now)?;
        let token = self.map.remove(&(d, s))?;
        self.key.remove(&token);
        Some((d, token))
    }

    /// The earliest deadline.
    pub fn earliest(&self) -> Option<u64> {
        self.map.keys().next().map(|&(d, _)| d)
    }

    /// The deadline of a pending `token`.
    pub fn deadline(&self, token: u64) -> Option<u64> {
        self.key.get(&token).map(|&(d, _)| d)
    }

    /// Pending timers.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.map.clear();
        self.key.clear();
    }
}

/// A wheel and the reference side by side, with the ids handed out so far.
struct Pair {
    wheel: TimingWheel<u64>,
    reference: Reference,
    live: Vec<(TimerId, u64)>,
    dead: Vec<TimerId>,
    now: u64,
    next_token: u64,
}

/// Runs `ops` on a wheel of shape `config` and on the reference, starting at `start` µs, and
/// compares them after every step: fired timers (set and order), `len`, `next_deadline`,
/// `get`/`deadline`/`contains` of every id; finally everything must fire at `u64::MAX`.
pub fn check(config: WheelConfig, start: u64, ops: &[Op]) -> Result<(), Mismatch> {
    let wheel = TimingWheel::with_config(config).map_err(|e| Mismatch {
        step: 0,
        op: None,
        what: format!("invalid wheel shape {config:?}: {e}"),
    })?;
    let mut p = Pair {
        wheel,
        reference: Reference::new(),
        live: Vec::new(),
        dead: Vec::new(),
        now: start,
        next_token: 0,
    };
    // Starting late exercises a cursor far from zero.
    p.drain(start, usize::MAX)
        .map_err(|what| mismatch(0, None, what))?;
    for (step, &op) in ops.iter().enumerate() {
        p.step(op)
            .and_then(|()| p.compare(step))
            .map_err(|what| mismatch(step, Some(op), what))?;
    }
    p.compare_ids(0..p.live.len())
        .map_err(|what| mismatch(ops.len(), None, what))?;
    // Nothing lost: everything fires eventually.
    p.now = u64::MAX;
    p.drain(u64::MAX, usize::MAX)
        .map_err(|what| mismatch(ops.len(), None, what))?;
    if !p.wheel.is_empty() || !p.reference.is_empty() {
        return Err(mismatch(
            ops.len(),
            None,
            format!(
                "{} timers left in the wheel, {} in the reference",
                p.wheel.len(),
                p.reference.len()
            ),
        ));
    }
    Ok(())
}

fn mismatch(step: usize, op: Option<Op>, what: String) -> Mismatch {
    Mismatch { step, op, what }
}

/// `Err(message)` unless `a == b`.
fn same<T: PartialEq + std::fmt::Debug>(a: T, b: T, what: &str) -> Result<(), String> {
    if a == b {
        Ok(())
    } else {
        Err(format!("{what}: wheel {a:?}, reference {b:?}"))
    }
}

impl Pair {
    fn relative(&self, offset: u64) -> u64 {
        self.now.saturating_add(offset).saturating_sub(PAST)
    }

    fn insert(&mut self, deadline: u64) {
        self.next_token += 1;
        let id = self
            .wheel
            .insert(Instant::from_micros(deadline), self.next_token);
        self.reference.insert(self.next_token, deadline);
        self.live.push((id, self.next_token));
    }

    fn step(&mut self, op: Op) -> Result<(), String> {
        match op {
            Op::Insert(offset) => self.insert(self.relative(offset)),
            Op::InsertAt(at) => self.insert(at),
            Op::Cancel(i) if !self.live.is_empty() => {
                let (id, token) = self.live.swap_remove(i % self.live.len());
                same(self.wheel.cancel(id), Some(token), "cancel")?;
                same(self.reference.remove(token), true, "reference cancel")?;
                self.dead.push(id);
            }
            Op::Reschedule(i, offset) if !self.live.is_empty() => {
                let (id, token) = self.live[i % self.live.len()];
                let deadline = self.relative(offset);
                same(
                    self.wheel.reschedule(id, Instant::from_micros(deadline)),
                    Ok(()),
                    "reschedule",
                )?;
                self.reference.remove(token);
                self.reference.insert(token, deadline);
            }
            Op::Advance(dt) => {
                self.now = self.now.saturating_add(dt);
                self.drain(self.now, usize::MAX)?;
            }
            Op::PollSome(dt, n) => {
                self.now = self.now.saturating_add(dt);
                self.drain(self.now, n)?;
            }
            Op::PollEarlier(back) => {
                let earlier = self.now.saturating_sub(back);
                self.drain(earlier, usize::MAX)?;
            }
            Op::CancelStale(i) if !self.dead.is_empty() => {
                let id = self.dead[i % self.dead.len()];
                same(self.wheel.cancel(id), None, "cancel of a stale id")?;
                same(self.wheel.contains(id), false, "contains of a stale id")?;
            }
            Op::RescheduleStale(i, offset) if !self.dead.is_empty() => {
                let id = self.dead[i % self.dead.len()];
                let at = Instant::from_micros(self.relative(offset));
                same(
                    self.wheel.reschedule(id, at),
                    Err(TimerError::Stale),
                    "reschedule of a stale id",
                )?;
            }
            Op::Clear => {
                self.wheel.clear();
                self.reference.clear();
                self.dead.extend(self.live.drain(..).map(|(id, _)| id));
            }
            _ => {}
        }
        Ok(())
    }

    /// Pops up to `n` due timers at `now` from both and compares; with `n == usize::MAX`
    /// uses `advance` and checks that nothing due remains.
    fn drain(&mut self, now: u64, n: usize) -> Result<(), String> {
        let at = Instant::from_micros(now);
        let mut fired: Vec<(TimerId, u64)> = Vec::new();
        if n == usize::MAX {
            self.wheel.advance(at, |id, v| fired.push((id, v)));
        } else {
            for _ in 0..n {
                match self.wheel.poll(at) {
                    Some(x) => fired.push(x),
                    None => break,
                }
            }
        }
        for &(id, token) in &fired {
            let expected = self.reference.pop_due(now);
            same(
                Some(token),
                expected.map(|(_, t)| t),
                "fired timer (order or set)",
            )?;
            let Some(pos) = self.live.iter().position(|&(_, t)| t == token) else {
                return Err(format!("fired token {token} was not live"));
            };
            same(self.live[pos].0, id, "id of a fired timer")?;
            self.live.swap_remove(pos);
            self.dead.push(id);
        }
        if n == usize::MAX || fired.len() < n {
            if let Some(d) = self.reference.earliest().filter(|&d| d <= now) {
                return Err(format!("a timer due at {d} was not fired at {now}"));
            }
        }
        Ok(())
    }

    /// `len` and `next_deadline` after every step; `get` and `deadline` of one live id per
    /// step, in turn (all of them at the end), so a check costs O(1) and not O(timers).
    fn compare(&self, step: usize) -> Result<(), String> {
        same(self.wheel.len(), self.reference.len(), "len")?;
        same(
            self.wheel.next_deadline().map(Instant::as_micros),
            self.reference.earliest(),
            "next_deadline (must be exact)",
        )?;
        match self.live.len() {
            0 => Ok(()),
            n => self.compare_ids(step % n..step % n + 1),
        }
    }

    fn compare_ids(&self, range: std::ops::Range<usize>) -> Result<(), String> {
        for &(id, token) in &self.live[range] {
            same(self.wheel.get(id), Some(&token), "get of a live id")?;
            same(
                self.wheel.deadline(id).map(Instant::as_micros),
                self.reference.deadline(token),
                "deadline of a live id",
            )?;
        }
        Ok(())
    }
}

/// A wheel shape from a tick in µs and a slot count (for tests and the fuzz target).
pub fn shape(tick_us: u64, slots: usize) -> WheelConfig {
    WheelConfig {
        tick: Duration::from_micros(tick_us),
        slots,
    }
}
