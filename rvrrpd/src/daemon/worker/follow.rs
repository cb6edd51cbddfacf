//! The worker's half of the kernel-resident Backup: a group that follows its Master
//! ([`Vrrp::follows`](crate::fsm::Vrrp::follows)) keeps the advert it accepted in its
//! [`SuppressSlot`](crate::net::xdp::SuppressSlot), the eBPF programs swallow identical
//! copies, and the worker learns their newest arrival only when it needs it.
//!
//! Every interaction with a group's machine other than an advert or a timer is wrapped in
//! [`Shard::settle`] / [`Shard::resume`]: the entry is invalidated *first* (from then on every
//! advert comes to the worker), the repeats it accounted for are folded into the machine
//! ([`Vrrp::on_repeat`](crate::fsm::Vrrp::on_repeat)), the change is applied, and the entry is
//! made valid again only if the machine still follows the same Master. At a Master_Down
//! expiry the same invalidate-then-read decides between extending the timer from the newest
//! repeat's kernel receive time (one timer operation per Master_Down_Interval) and taking
//! over: an advert arriving after the read goes to the ring, never into the entry.

use super::Shard;
use crate::time::Instant;

/// How long before a swallowed-repeats Backup's Master_Down deadline its timer fires, at
/// least (µs).
pub(super) const EARLY_WAKE_US: u64 = 1_000;

/// An early read joins one already armed up to this much earlier (µs) at least, so the
/// reads of the groups one Master burst fed (their deadlines spread over a few hundred µs)
/// fall due together (performance.md, finding 18). Reading early is harmless: the read only
/// looks for a newer repeat.
pub(super) const EARLY_JOIN_US: u64 = 1_000;

/// How early a read of a group whose Master_Down deadline is at `next` may come and still
/// find the Master's newest repeat (µs before `next`): Master_Down_Interval is three
/// intervals plus Skew_Time, so the third advert after the newest one read arrives about
/// Skew_Time before the deadline; a quarter of it is left for the Master's jitter. Reads of
/// the bursts of that span share one wake-up (finding 20).
pub(super) fn read_window_us(skew: std::time::Duration) -> u64 {
    let skew = u64::try_from(skew.as_micros()).unwrap_or(u64::MAX);
    EARLY_WAKE_US + EARLY_JOIN_US.max(skew - skew / 4)
}

impl Shard {
    /// Stops suppression for group `g` and folds the repeats its entry accounted for into the
    /// machine, before anything that could change how its next advert is handled. Returns the
    /// entry's stamp for [`Shard::resume`]; `None` if it was not valid.
    pub(super) fn settle(&mut self, g: usize, now: Instant) -> Option<u64> {
        let group = self.groups.get_mut(g)?.as_mut()?;
        if !group.entry_valid {
            return None;
        }
        group.entry_valid = false;
        let stamp = group.suppress.as_ref()?.invalidate()?;
        group.fsm.on_repeat(stamp_instant(stamp, now));
        Some(stamp)
    }

    /// After a change: suppression resumes with the same entry if the machine still follows
    /// the Master it was kept for.
    pub(super) fn resume(&mut self, g: usize, stamp: Option<u64>) {
        let Some(group) = self.groups.get_mut(g).and_then(Option::as_mut) else {
            return;
        };
        if let (Some(stamp), Some(_), Some(slot)) =
            (stamp, group.fsm.follows(), group.suppress.as_ref())
        {
            slot.restore(stamp);
            group.entry_valid = true;
        }
    }

    /// Runs `f` (a change to group `g` other than an advert or a timer) between
    /// [`Shard::settle`] and [`Shard::resume`].
    pub(super) fn settled<R>(
        &mut self,
        g: usize,
        now: Instant,
        f: impl FnOnce(&mut Self) -> R,
    ) -> R {
        let stamp = self.settle(g, now);
        let r = f(self);
        self.resume(g, stamp);
        r
    }

    /// After `on_advert`: if the machine now follows `src` because of this advert, the entry
    /// keeps it (`vrrp`, arrived at `at`); otherwise the entry `settle` took is restored if
    /// the machine still follows its Master (an advert of another router was refused).
    pub(super) fn follow_advert(
        &mut self,
        g: usize,
        src: std::net::IpAddr,
        vrrp: &[u8],
        at: Instant,
        stamp: Option<u64>,
    ) {
        let Some(group) = self.groups.get_mut(g).and_then(Option::as_mut) else {
            return;
        };
        match (group.fsm.follows(), group.suppress.as_ref()) {
            (Some(m), Some(slot)) if m == src => {
                group.entry_valid = slot.keep(src, vrrp, at.as_micros().saturating_mul(1000));
            }
            _ => self.resume(g, stamp),
        }
    }

    /// Safety net after any action batch: an entry kept for a machine that no longer follows
    /// is invalidated (the wrappers above normally did it already).
    pub(super) fn unfollow_if_needed(&mut self, g: usize) {
        if let Some(group) = self.groups.get_mut(g).and_then(Option::as_mut) {
            if group.entry_valid && group.fsm.follows().is_none() {
                group.entry_valid = false;
                if let Some(slot) = group.suppress.as_ref() {
                    slot.invalidate();
                }
            }
        }
    }

    /// The Master_Down_Timer of group `g` is due at `now`: if suppressed repeats move it on,
    /// the timer is re-armed from the newest one and suppression resumes (returns true);
    /// otherwise the entry stays invalid and the caller lets the machine take over.
    pub(super) fn extend_by_repeats(&mut self, g: usize, now: Instant) -> bool {
        let stamp = self.settle(g, now);
        if stamp.is_none() {
            return false;
        }
        let Some(group) = self.groups.get_mut(g).and_then(Option::as_mut) else {
            return false;
        };
        match group.fsm.poll_timeout() {
            Some(next) if next > now => {
                // The timer fires 1 ms ahead, or with an earlier read armed within the
                // group's read window (`read_window_us`), and reads the newest repeat: when
                // one came, the deadline moves on; when none did, the takeover is near and the
                // worker polls until it, since a sleeping worker on an idle (virtual) CPU
                // wakes hundreds of µs late (performance.md, finding 17). A read that found
                // none early re-arms 1 ms before the deadline.
                let early = next.as_micros().saturating_sub(EARLY_WAKE_US);
                let lowest = next
                    .as_micros()
                    .saturating_sub(read_window_us(group.fsm.skew_time()));
                let at = match self.early_read {
                    Some(prev) if prev > now && (lowest..=early).contains(&prev.as_micros()) => {
                        prev
                    }
                    _ => Instant::from_micros(early),
                };
                let at = if at > now {
                    self.early_read = Some(at);
                    at
                } else {
                    next
                };
                group.fsm_timer = Some(self.wheel.insert(at, super::shard::TimerKey::fsm(g)));
                if at == next {
                    self.spin_until = Some(self.spin_until.map_or(next, |s| s.max(next)));
                }
                self.resume(g, stamp);
                // Nothing to publish: the suppressed count is read from the table.
                true
            }
            _ => false,
        }
    }

    /// Adverts of group `g` the kernel swallowed so far.
    #[cfg(test)]
    pub fn suppressed(&self, g: usize) -> u64 {
        self.groups
            .get(g)
            .and_then(Option::as_ref)
            .and_then(|gr| gr.suppress.as_ref())
            .map_or(0, crate::net::xdp::SuppressSlot::suppressed)
    }
}

/// A kernel stamp (CLOCK_MONOTONIC ns) as the workers' clock, never after `now`.
fn stamp_instant(stamp: u64, now: Instant) -> Instant {
    Instant::from_micros(stamp / 1000).min(now)
}
