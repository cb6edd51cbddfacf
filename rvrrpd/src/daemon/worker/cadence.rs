//! Cadences: the Masters whose next advert falls due at the same instant share one wheel
//! entry. A Master in steady state sends on its phase slot every interval (`advert_phase`),
//! so the groups of one slot have the same Adver_Timer deadline to the microsecond; one timer
//! per slot instead of one per group saves each advert a wheel insertion and collection
//! (performance.md, finding 22). Any other timer (a Backup's Master_Down_Timer, an
//! announcement) keeps a wheel entry of its own.

use std::collections::HashMap;

use super::shard::TimerKey;
use super::Shard;
use crate::time::Instant;
use crate::timer::TimerId;

/// The Masters due at one instant and the wheel entry that fires them.
pub(super) struct Cadence {
    due: Instant,
    timer: TimerId,
    /// Local slots of the groups; each group knows its position (`Group::cadence`).
    groups: Vec<u32>,
}

/// Every cadence of a shard: a slab (wheel keys name an entry) and its index by instant.
#[derive(Default)]
pub(super) struct Cadences {
    slab: Vec<Option<Cadence>>,
    free: Vec<u32>,
    by_due: HashMap<u64, u32>,
    /// Group lists of fired cadences, emptied, for the next ones (a slot's list is rebuilt
    /// every interval; reusing it spares the reallocations of its growth).
    spare: Vec<Vec<u32>>,
}

/// Emptied group lists kept for reuse: a few slots' worth.
const SPARE_LISTS: usize = 4;

impl Cadences {
    /// How many cadences have a wheel entry (tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_due.len()
    }
}

impl Shard {
    /// Puts group `g` (not in a cadence, no wheel entry of its own) in the cadence due `at`.
    pub(super) fn join_cadence(&mut self, g: usize, at: Instant) {
        let c = match self.cadences.by_due.get(&at.as_micros()) {
            Some(&c) => c,
            None => {
                let c = self.cadences.free.pop().unwrap_or_else(|| {
                    self.cadences.slab.push(None);
                    (self.cadences.slab.len() - 1) as u32
                });
                self.cadences.slab[c as usize] = Some(Cadence {
                    due: at,
                    timer: self.wheel.insert(at, TimerKey::Cadence(c)),
                    groups: self.cadences.spare.pop().unwrap_or_default(),
                });
                self.cadences.by_due.insert(at.as_micros(), c);
                c
            }
        };
        let Some(cadence) = self.cadences.slab[c as usize].as_mut() else {
            return;
        };
        let pos = cadence.groups.len() as u32;
        cadence.groups.push(g as u32);
        if let Some(group) = self.groups[g].as_mut() {
            group.cadence = Some((c, pos));
        }
    }

    /// Takes group `g` out of its cadence, if it is in one; the last group out removes the
    /// cadence's wheel entry.
    pub(super) fn leave_cadence(&mut self, g: usize) {
        let Some((c, pos)) = self.groups[g].as_mut().and_then(|gr| gr.cadence.take()) else {
            return;
        };
        let Some(cadence) = self.cadences.slab[c as usize].as_mut() else {
            return;
        };
        let pos = pos as usize;
        debug_assert_eq!(cadence.groups.get(pos), Some(&(g as u32)));
        cadence.groups.swap_remove(pos);
        if let Some(&moved) = cadence.groups.get(pos) {
            if let Some(group) = self.groups[moved as usize].as_mut() {
                group.cadence = Some((c, pos as u32));
            }
        }
        if cadence.groups.is_empty() {
            let (due, timer) = (cadence.due, cadence.timer);
            self.wheel.cancel(timer);
            self.free_cadence(c, due);
        }
    }

    /// The instant of group `g`'s cadence.
    pub(super) fn cadence_due(&self, g: usize) -> Option<Instant> {
        let (c, _) = self.groups[g].as_ref()?.cadence?;
        Some(self.cadences.slab[c as usize].as_ref()?.due)
    }

    /// Fires cadence `c` (its wheel entry came due): every group in it runs its timer as if
    /// it had its own entry, and joins the cadence of its next advert again.
    pub(super) fn fire_cadence(&mut self, c: u32, now: Instant) {
        let Some(cadence) = self
            .cadences
            .slab
            .get_mut(c as usize)
            .and_then(Option::take)
        else {
            return;
        };
        self.free_cadence(c, cadence.due);
        for &g in &cadence.groups {
            if let Some(group) = self.groups[g as usize].as_mut() {
                group.cadence = None;
            }
        }
        for &g in &cadence.groups {
            self.fire_fsm(g as usize, now);
        }
        let mut groups = cadence.groups;
        if self.cadences.spare.len() < SPARE_LISTS {
            groups.clear();
            self.cadences.spare.push(groups);
        }
    }

    /// Gives cadence `c`'s slab entry and instant back (its wheel entry is gone).
    fn free_cadence(&mut self, c: u32, due: Instant) {
        self.cadences.slab[c as usize] = None;
        self.cadences.by_due.remove(&due.as_micros());
        self.cadences.free.push(c);
    }
}
