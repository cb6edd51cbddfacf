//! State snapshots that workers publish and readers (logs, the API, metrics) copy without ever
//! blocking a worker: each group has its own small slot that only its worker writes, so a
//! worker never waits on another worker, and a reader holds a slot's lock for a copy only.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use crate::fsm::{timing, State, Version};

/// The published state of one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupSnapshot {
    /// Current state.
    pub state: State,
    /// Current Master's address, if known.
    pub master: Option<IpAddr>,
    /// Current priority.
    pub priority: u8,
    /// Preemption in force.
    pub preempt: bool,
    /// Master_Adver_Interval in force (learned from the Master in v3). Master_Down_Interval
    /// and Skew_Time follow from it and the priority ([`GroupSnapshot::master_down_interval`]):
    /// not stored, one slot per group is 32 bytes smaller.
    pub master_adver_interval: Duration,
    /// Adverts received for this group (valid or not), including the suppressed ones.
    pub adverts_in: u64,
    /// Of those, repeats of the followed Master's advert swallowed by the eBPF programs
    /// (the kernel-resident Backup).
    pub adverts_suppressed: u64,
    /// Adverts sent.
    pub adverts_out: u64,
    /// State transitions.
    pub transitions: u64,
    /// Adverts refused by authentication.
    pub auth_failures: u64,
    /// Adverts discarded for any other reason (malformed, interval mismatch, ...).
    pub discarded: u64,
    /// Unix time (seconds) of the last transition.
    pub last_transition: Option<u64>,
    /// The group's entry in the eBPF programs' table, whose counts (suppressed repeats,
    /// adverts refused in the kernel) [`StatusBoard::get`] adds to the worker's: they move
    /// without the worker, which need not wake up to publish them.
    pub kernel_entry: Option<u32>,
}

impl Default for GroupSnapshot {
    fn default() -> Self {
        GroupSnapshot {
            state: State::Initialize,
            master: None,
            priority: 0,
            preempt: false,
            master_adver_interval: Duration::ZERO,
            adverts_in: 0,
            adverts_suppressed: 0,
            adverts_out: 0,
            transitions: 0,
            auth_failures: 0,
            discarded: 0,
            last_transition: None,
            kernel_entry: None,
        }
    }
}

impl GroupSnapshot {
    /// Master_Down_Interval in force for a group of `version` (zero before the first publish).
    pub fn master_down_interval(&self, version: Version) -> Duration {
        if self.master_adver_interval.is_zero() {
            return Duration::ZERO;
        }
        timing::master_down_interval(version, self.priority, self.master_adver_interval)
    }

    /// Skew_Time in force for a group of `version` (zero before the first publish).
    pub fn skew_time(&self, version: Version) -> Duration {
        if self.master_adver_interval.is_zero() {
            return Duration::ZERO;
        }
        timing::skew_time(version, self.priority, self.master_adver_interval)
    }
}

/// One group's slot, shared by its worker (writer) and readers.
pub type Slot = Arc<SlotCell>;

/// A group's published state: the snapshot under a lock, and the two counters that move with
/// every advert beside it, which the worker stores without the lock or a copy (a Master
/// publishes its `adverts_out` once per advert). Readers take the counters from the atomics.
#[derive(Debug, Default)]
pub struct SlotCell {
    snap: Mutex<GroupSnapshot>,
    adverts_in: AtomicU64,
    adverts_out: AtomicU64,
}

impl SlotCell {
    /// The snapshot with the current counters (without the kernel's).
    pub fn read(&self) -> GroupSnapshot {
        let mut snap = *self.snap.lock().unwrap_or_else(|e| e.into_inner());
        snap.adverts_in = self.adverts_in.load(Ordering::Relaxed);
        snap.adverts_out = self.adverts_out.load(Ordering::Relaxed);
        snap
    }
}

#[cfg(test)]
impl SlotCell {
    /// The snapshot as last written under the lock (its advert counters as of then).
    pub fn locked(&self) -> GroupSnapshot {
        *self.snap.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes a snapshot into a slot; a poisoned lock only means a reader panicked mid-copy.
pub fn publish(slot: &SlotCell, snap: GroupSnapshot) {
    publish_counts(slot, snap.adverts_in, snap.adverts_out);
    *slot.snap.lock().unwrap_or_else(|e| e.into_inner()) = snap;
}

/// Updates only the counters of adverts received and sent (nothing else changed).
pub fn publish_counts(slot: &SlotCell, adverts_in: u64, adverts_out: u64) {
    slot.adverts_in.store(adverts_in, Ordering::Relaxed);
    slot.adverts_out.store(adverts_out, Ordering::Relaxed);
}

/// Per-group counts kept by the eBPF programs, read where they are.
pub trait KernelCounts: Send + Sync + std::fmt::Debug {
    /// (repeats suppressed, adverts refused for a bad checksum, for another authentication
    /// type) of table entry `entry`.
    fn counts(&self, entry: u32) -> (u64, u64, u64);
}

/// The table of group slots, keyed by the group's stable id.
#[derive(Debug, Default)]
pub struct StatusBoard {
    slots: RwLock<BTreeMap<usize, Slot>>,
    kernel: OnceLock<Arc<dyn KernelCounts>>,
}

impl StatusBoard {
    /// An empty board.
    pub fn new() -> Self {
        Self::default()
    }

    /// The slot of group `id`, created on first use.
    pub fn slot(&self, id: usize) -> Slot {
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        slots.entry(id).or_default().clone()
    }

    /// Forgets group `id`.
    pub fn remove(&self, id: usize) {
        self.slots
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// Where snapshots with a [`GroupSnapshot::kernel_entry`] find the kernel's counts (the
    /// first table set stays: there is one per daemon).
    pub fn set_kernel_counts(&self, table: Arc<dyn KernelCounts>) {
        let _ = self.kernel.set(table);
    }

    /// A copy of group `id`'s snapshot, with the kernel's counts added.
    pub fn get(&self, id: usize) -> Option<GroupSnapshot> {
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        let mut snap = slots.get(&id).map(|s| s.read())?;
        if let (Some(entry), Some(table)) = (snap.kernel_entry, self.kernel.get()) {
            let (suppressed, bad_sum, bad_auth) = table.counts(entry);
            snap.adverts_suppressed += suppressed;
            snap.adverts_in += suppressed + bad_sum + bad_auth;
            snap.auth_failures += bad_auth;
            snap.discarded += bad_sum;
        }
        Some(snap)
    }
}

/// Upper bounds (µs) of the timer lateness histogram buckets; one more bucket counts the rest.
pub const LATENESS_BOUNDS_US: [u64; 10] =
    [10, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000];

/// How late timers fired (now − deadline when the worker ran them), lock-free.
#[derive(Debug, Default)]
pub struct LatenessHistogram {
    buckets: [AtomicU64; LATENESS_BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
}

impl LatenessHistogram {
    /// Records one firing `late_us` microseconds after its deadline.
    pub fn record(&self, late_us: u64) {
        let i = LATENESS_BOUNDS_US
            .iter()
            .position(|&b| late_us <= b)
            .unwrap_or(LATENESS_BOUNDS_US.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(late_us, Ordering::Relaxed);
    }

    /// Per-bucket counts (the last one is the overflow) and the sum in µs.
    pub fn read(&self) -> ([u64; LATENESS_BOUNDS_US.len() + 1], u64) {
        let mut out = [0; LATENESS_BOUNDS_US.len() + 1];
        for (o, b) in out.iter_mut().zip(&self.buckets) {
            *o = b.load(Ordering::Relaxed);
        }
        (out, self.sum_us.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_shared_between_writer_and_reader() {
        let board = StatusBoard::new();
        let slot = board.slot(3);
        publish(
            &slot,
            GroupSnapshot {
                priority: 42,
                ..Default::default()
            },
        );
        assert_eq!(board.get(3).map(|s| s.priority), Some(42));
        board.remove(3);
        assert_eq!(board.get(3), None);
    }

    #[test]
    fn intervals_follow_from_priority_and_master_adver_interval() {
        let v2 = GroupSnapshot {
            priority: 100,
            master_adver_interval: Duration::from_secs(1),
            ..Default::default()
        };
        assert_eq!(v2.skew_time(Version::V2).as_micros(), 609_375);
        assert_eq!(v2.master_down_interval(Version::V2).as_micros(), 3_609_375);
        let v3 = GroupSnapshot {
            master_adver_interval: Duration::from_millis(100),
            ..v2
        };
        assert_eq!(v3.master_down_interval(Version::V3).as_micros(), 360_937);
        // Before the first publish, as when the values were stored.
        let unset = GroupSnapshot::default();
        assert_eq!(unset.master_down_interval(Version::V2), Duration::ZERO);
        assert_eq!(unset.skew_time(Version::V3), Duration::ZERO);
    }

    #[test]
    fn lateness_lands_in_the_right_bucket() {
        let h = LatenessHistogram::default();
        h.record(0);
        h.record(10);
        h.record(11);
        h.record(1_000_000);
        let (b, sum) = h.read();
        assert_eq!(b[0], 2);
        assert_eq!(b[1], 1);
        assert_eq!(b[LATENESS_BOUNDS_US.len()], 1);
        assert_eq!(sum, 1_000_021);
    }
}
