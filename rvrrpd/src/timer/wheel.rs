//! The hashed timing wheel.

use std::collections::VecDeque;
use std::time::Duration;

use super::bitmap::Bitmap;
use super::slab::{Slab, NIL};
use crate::time::Instant;

/// `Entry::slot` of an entry that is due and waits in the ready queue.
const READY: u32 = u32::MAX;

/// Handle of a scheduled timer. Stale-safe: once the timer has fired or been cancelled, the
/// handle never matches another timer, even one reusing the same storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: u32,
    gen: u32,
}

/// Errors of the timing wheel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimerError {
    /// The timer has already fired or been cancelled.
    #[error("stale timer id (already fired or cancelled)")]
    Stale,
    /// The tick must be at least one microsecond.
    #[error("timing wheel tick must be at least 1 µs, got {0:?}")]
    Tick(Duration),
    /// The slot count must be a power of two between 1 and 2^30.
    #[error("timing wheel slot count must be a power of two in 1..=2^30, got {0}")]
    Slots(usize),
}

/// Shape of a wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WheelConfig {
    /// Tick resolution (whole microseconds; sub-microsecond parts are dropped).
    pub tick: Duration,
    /// Number of slots, a power of two. One revolution spans `tick × slots`.
    pub slots: usize,
}

impl Default for WheelConfig {
    /// 1 ms ticks, 4096 slots: a revolution of 4.096 s, which holds the usual VRRP timers
    /// (1 s adverts, ~3.6 s Master_Down_Interval) in their first round.
    fn default() -> Self {
        WheelConfig {
            tick: Duration::from_millis(1),
            slots: 4096,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry<T> {
    value: T,
    deadline: Instant,
    /// Order of insertion / rescheduling, to break deadline ties (FIFO) and to recognise
    /// stale ready-queue items.
    seq: u64,
    /// Absolute tick of the entry: `max(deadline / tick, cursor at insertion)`.
    tick: u64,
    /// Slot index, or [`READY`].
    slot: u32,
    prev: u32,
    next: u32,
}

/// A hashed timing wheel holding values of type `T` until their deadline.
///
/// * `insert`, `cancel`, `reschedule`: O(1).
/// * `poll` / `advance`: O(slots visited / 64 + entries in the visited slots); a jump of
///   more than one revolution visits each slot once.
/// * Entries fire when `deadline <= now`, never earlier; those of one batch (one collection
///   of due entries) fire in `(deadline, insertion order)` order. Deadlines in the past fire
///   on the next `poll` / `advance`. A `now` earlier than a previous call's fires nothing
///   early and leaves the order of later calls intact.
/// * [`next_deadline`](TimingWheel::next_deadline) is **exact**.
#[derive(Debug, Clone)]
pub struct TimingWheel<T> {
    tick_us: u64,
    mask: u64,
    heads: Vec<u32>,
    occupied: Bitmap,
    slab: Slab<Entry<T>>,
    /// Every tick before this one has been fully processed.
    cursor: u64,
    seq: u64,
    /// Entries collected as due, with their `seq` at collection time.
    ready: VecDeque<(u32, u64)>,
    /// `now` of the last collection.
    collected_at: Instant,
    /// A timer due at `collected_at` was inserted while the ready queue was not empty: the
    /// next `poll` merges it in deadline order.
    dirty: bool,
    batch: Vec<u32>,
}

impl<T> Default for TimingWheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> TimingWheel<T> {
    /// A wheel with the default shape (1 ms ticks, 4096 slots).
    pub fn new() -> Self {
        Self::build(WheelConfig::default())
    }

    /// A wheel of the given shape.
    pub fn with_config(config: WheelConfig) -> Result<Self, TimerError> {
        if config.tick.as_micros() == 0 {
            return Err(TimerError::Tick(config.tick));
        }
        if !config.slots.is_power_of_two() || config.slots > 1 << 30 {
            return Err(TimerError::Slots(config.slots));
        }
        Ok(Self::build(config))
    }

    fn build(config: WheelConfig) -> Self {
        TimingWheel {
            tick_us: config.tick.as_micros().min(u128::from(u64::MAX)) as u64,
            mask: config.slots as u64 - 1,
            heads: vec![NIL; config.slots],
            occupied: Bitmap::new(config.slots),
            slab: Slab::new(),
            cursor: 0,
            seq: 0,
            ready: VecDeque::new(),
            collected_at: Instant::ZERO,
            dirty: false,
            batch: Vec::new(),
        }
    }

    /// Tick resolution.
    pub fn tick(&self) -> Duration {
        Duration::from_micros(self.tick_us)
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.heads.len()
    }

    /// Number of pending timers (including due ones not yet returned by `poll`).
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.slab.len() == 0
    }

    /// Schedules `value` for `deadline`.
    pub fn insert(&mut self, deadline: Instant, value: T) -> TimerId {
        let seq = self.next_seq();
        let (index, gen) = self.slab.insert(Entry {
            value,
            deadline,
            seq,
            tick: 0,
            slot: READY,
            prev: NIL,
            next: NIL,
        });
        self.link(index, deadline);
        self.note_early(deadline);
        TimerId { index, gen }
    }

    /// Cancels a timer, returning its value, or `None` if it already fired or was cancelled.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        self.slab.get(id.index, id.gen)?;
        self.unlink(id.index);
        // A ready-queue item for it, if any, is now stale (generation bumped).
        self.slab.remove_at(id.index).map(|e| e.value)
    }

    /// Moves a pending timer to a new deadline (it then ranks after timers already scheduled
    /// for the same deadline).
    pub fn reschedule(&mut self, id: TimerId, deadline: Instant) -> Result<(), TimerError> {
        if self.slab.get(id.index, id.gen).is_none() {
            return Err(TimerError::Stale);
        }
        self.unlink(id.index);
        let seq = self.next_seq();
        if let Some(e) = self.slab.at_mut(id.index) {
            e.deadline = deadline;
            e.seq = seq;
        }
        self.link(id.index, deadline);
        self.note_early(deadline);
        Ok(())
    }

    /// The deadline of a pending timer.
    pub fn deadline(&self, id: TimerId) -> Option<Instant> {
        self.slab.get(id.index, id.gen).map(|e| e.deadline)
    }

    /// The value of a pending timer.
    pub fn get(&self, id: TimerId) -> Option<&T> {
        self.slab.get(id.index, id.gen).map(|e| &e.value)
    }

    /// The value of a pending timer.
    pub fn get_mut(&mut self, id: TimerId) -> Option<&mut T> {
        self.slab.get_mut(id.index, id.gen).map(|e| &mut e.value)
    }

    /// Whether `id` is still pending.
    pub fn contains(&self, id: TimerId) -> bool {
        self.slab.get(id.index, id.gen).is_some()
    }

    /// Removes every timer; all ids become stale.
    pub fn clear(&mut self) {
        self.slab.clear();
        self.heads.iter_mut().for_each(|h| *h = NIL);
        self.occupied.clear_all();
        self.ready.clear();
        self.dirty = false;
    }

    /// Returns the next timer due at `now` (deadline <= now), or `None`.
    ///
    /// Due timers are collected in batches: when none is waiting, every timer due at `now`
    /// is collected and sorted by `(deadline, insertion order)`; later calls return them one
    /// by one. Timers cancelled or rescheduled meanwhile are skipped, and a timer inserted
    /// meanwhile with a deadline the batch already covers is merged into it in order (so
    /// the whole sequence is in deadline order for a non-decreasing `now`).
    pub fn poll(&mut self, now: Instant) -> Option<(TimerId, T)> {
        let mut collected = false;
        if self.dirty {
            // At an earlier `now` than the batch's, timers due between the two stay in their
            // slots: keep merging until `now` catches up, or they would fire after later ones.
            self.dirty = now < self.collected_at;
            self.collect(now);
            self.sort_ready();
            collected = true;
        }
        loop {
            while let Some(&(index, seq)) = self.ready.front() {
                let Some(e) = self.slab.at(index) else {
                    self.ready.pop_front();
                    continue;
                };
                if e.slot != READY || e.seq != seq {
                    self.ready.pop_front();
                    continue;
                }
                if e.deadline > now {
                    // Only when `now` went backwards: never fire early.
                    return None;
                }
                self.ready.pop_front();
                let gen = self.slab.gen_at(index);
                return self
                    .slab
                    .remove_at(index)
                    .map(|e| (TimerId { index, gen }, e.value));
            }
            if collected {
                return None;
            }
            self.collect(now);
            collected = true;
        }
    }

    /// Fires every timer due at `now`, in deadline order, calling `fire` for each; returns
    /// how many fired.
    pub fn advance(&mut self, now: Instant, mut fire: impl FnMut(TimerId, T)) -> usize {
        let mut n = 0;
        while let Some((id, value)) = self.poll(now) {
            fire(id, value);
            n += 1;
        }
        n
    }

    /// The exact earliest deadline of the pending timers, `None` if there are none.
    ///
    /// Cost: O(slots / 64) bitmap words plus the entries of the slots walked until the first
    /// tick holding an entry of the current round (every entry, at worst, when all are more
    /// than one revolution away).
    pub fn next_deadline(&self) -> Option<Instant> {
        let best = self
            .ready
            .iter()
            .filter_map(|&(index, seq)| {
                self.slab
                    .at(index)
                    .filter(|e| e.slot == READY && e.seq == seq)
                    .map(|e| e.deadline)
            })
            .min();
        let n = self.heads.len();
        let start = (self.cursor & self.mask) as usize;
        // Minimum over every entry walked, for the case where none is in the current round.
        let mut any: Option<Instant> = None;
        let mut k = 0;
        while let Some(off) = self.occupied.next_offset(start, k, n) {
            let tick = self.cursor + off as u64;
            let mut round: Option<Instant> = None;
            let mut i = self.heads[(start + off) & (n - 1)];
            while let Some(e) = self.slab.at(i) {
                if e.tick == tick {
                    round = Some(round.map_or(e.deadline, |r| r.min(e.deadline)));
                }
                any = Some(any.map_or(e.deadline, |a| a.min(e.deadline)));
                i = e.next;
            }
            if let Some(r) = round {
                // Entries of later ticks have later deadlines.
                return Some(best.map_or(r, |b| b.min(r)));
            }
            k = off + 1;
        }
        match (best, any) {
            (Some(b), Some(a)) => Some(b.min(a)),
            (b, a) => b.or(a),
        }
    }

    /// Marks the ready queue for a merge if `deadline` would have been part of its batch.
    fn note_early(&mut self, deadline: Instant) {
        if !self.ready.is_empty() && deadline <= self.collected_at {
            self.dirty = true;
        }
    }

    /// Drops stale ready items and sorts the rest by `(deadline, seq)`.
    fn sort_ready(&mut self) {
        let slab = &self.slab;
        let mut items: Vec<(Instant, u64, u32)> = self
            .ready
            .drain(..)
            .filter_map(|(i, seq)| {
                slab.at(i)
                    .filter(|e| e.slot == READY && e.seq == seq)
                    .map(|e| (e.deadline, seq, i))
            })
            .collect();
        items.sort_unstable();
        self.ready
            .extend(items.into_iter().map(|(_, seq, i)| (i, seq)));
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Links the (unlinked) entry `index` into the slot of `deadline`.
    fn link(&mut self, index: u32, deadline: Instant) {
        let tick = (deadline.as_micros() / self.tick_us).max(self.cursor);
        let slot = (tick & self.mask) as usize;
        let head = self.heads[slot];
        if let Some(e) = self.slab.at_mut(index) {
            e.tick = tick;
            e.slot = slot as u32;
            e.prev = NIL;
            e.next = head;
        }
        if let Some(h) = self.slab.at_mut(head) {
            h.prev = index;
        }
        self.heads[slot] = index;
        self.occupied.set(slot);
    }

    /// Unlinks entry `index` from its slot list (no-op for ready entries).
    fn unlink(&mut self, index: u32) {
        let Some(e) = self.slab.at_mut(index) else {
            return;
        };
        if e.slot == READY {
            return;
        }
        let (slot, prev, next) = (e.slot as usize, e.prev, e.next);
        e.slot = READY;
        e.prev = NIL;
        e.next = NIL;
        match self.slab.at_mut(prev) {
            Some(p) => p.next = next,
            None => self.heads[slot] = next,
        }
        if let Some(nx) = self.slab.at_mut(next) {
            nx.prev = prev;
        }
        if self.heads[slot] == NIL {
            self.occupied.clear(slot);
        }
    }

    /// Moves every entry due at `now` to the ready queue, sorted, and advances the cursor.
    fn collect(&mut self, now: Instant) {
        let now_tick = now.as_micros() / self.tick_us;
        let n = self.heads.len();
        let span = now_tick.saturating_sub(self.cursor);
        // Ticks cursor..=now_tick; each slot at most once.
        let count = if span >= n as u64 {
            n
        } else {
            span as usize + 1
        };
        let start = (self.cursor & self.mask) as usize;
        let mut batch = std::mem::take(&mut self.batch);
        batch.clear();
        let mut k = 0;
        while let Some(off) = self.occupied.next_offset(start, k, count) {
            let mut i = self.heads[(start + off) & (n - 1)];
            while let Some(e) = self.slab.at(i) {
                if e.deadline <= now {
                    batch.push(i);
                }
                i = e.next;
            }
            k = off + 1;
        }
        for &i in &batch {
            self.unlink(i);
        }
        let slab = &self.slab;
        batch.sort_unstable_by_key(|&i| slab.at(i).map(|e| (e.deadline, e.seq)));
        self.ready.extend(
            batch
                .iter()
                .filter_map(|&i| self.slab.at(i).map(|e| (i, e.seq))),
        );
        self.batch = batch;
        self.cursor = self.cursor.max(now_tick);
        self.collected_at = self.collected_at.max(now);
    }
}
