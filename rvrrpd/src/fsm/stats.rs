//! Per-group counters.

use super::event::DiscardReason;
use crate::time::Instant;

/// Counters of discarded adverts, one per [`DiscardReason`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiscardCounters {
    /// Our own adverts.
    pub own_advert: u64,
    /// Received while in Initialize.
    pub not_running: u64,
    /// v2 interval mismatch.
    pub interval_mismatch: u64,
    /// v3 advert with a zero interval.
    pub zero_interval: u64,
    /// Source of the wrong address family.
    pub family_mismatch: u64,
    /// From a less preferred router.
    pub lower_priority: u64,
}

impl DiscardCounters {
    /// Counts one discard.
    pub fn record(&mut self, reason: &DiscardReason) {
        let c = match reason {
            DiscardReason::OwnAdvert => &mut self.own_advert,
            DiscardReason::NotRunning => &mut self.not_running,
            DiscardReason::IntervalMismatch { .. } => &mut self.interval_mismatch,
            DiscardReason::ZeroInterval => &mut self.zero_interval,
            DiscardReason::FamilyMismatch => &mut self.family_mismatch,
            DiscardReason::LowerPriority { .. } => &mut self.lower_priority,
        };
        *c += 1;
    }

    /// All discards.
    pub fn total(&self) -> u64 {
        self.own_advert
            + self.not_running
            + self.interval_mismatch
            + self.zero_interval
            + self.family_mismatch
            + self.lower_priority
    }
}

/// Statistics of one group, kept by the state machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Adverts passed to `on_advert` (including discarded ones).
    pub adverts_received: u64,
    /// `SendAdvert` actions emitted.
    pub adverts_sent: u64,
    /// Discarded adverts by reason.
    pub discarded: DiscardCounters,
    /// State transitions.
    pub transitions: u64,
    /// Transitions into Master.
    pub became_master: u64,
    /// Adverts with priority 0 received.
    pub priority_zero_received: u64,
    /// Adverts with priority 0 sent.
    pub priority_zero_sent: u64,
    /// Time of the last transition.
    pub last_transition: Option<Instant>,
}
