//! Status publishing: a group's state and counters are copied into its status slot when what
//! readers act on changed, or at least every [`PUBLISH_EVERY_US`].

use super::Shard;
use crate::daemon::status::{publish, GroupSnapshot};
use crate::net::xdp::SuppressSlot;
use crate::time::Instant;

/// Longest a group's published counters may lag behind (µs).
const PUBLISH_EVERY_US: u64 = 1_000_000;

impl Shard {
    /// Publishes group `g` if what readers act on changed (state, priority, Master) or its
    /// counters are older than [`PUBLISH_EVERY_US`]: the per-advert path then costs a compare,
    /// not a lock and a copy.
    pub(super) fn publish_if_due(&mut self, g: usize, now: Instant) {
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        let key = (
            group.fsm.state(),
            group.fsm.priority(),
            group.fsm.current_master(),
        );
        if key != group.published_key
            || now.as_micros().saturating_sub(group.published_at) >= PUBLISH_EVERY_US
        {
            group.published_key = key;
            group.published_at = now.as_micros();
            self.publish(g);
        }
    }

    /// Copies group `g`'s state into its status slot.
    pub(super) fn publish(&self, g: usize) {
        let Some(group) = self.groups[g].as_ref() else {
            return;
        };
        let fsm = &group.fsm;
        let stats = fsm.stats();
        // The counts the eBPF programs keep (suppressed repeats, refused adverts) move
        // without the worker: readers add them from the table (`StatusBoard::get`).
        publish(
            &group.slot,
            GroupSnapshot {
                state: fsm.state(),
                master: fsm.current_master(),
                priority: fsm.priority(),
                preempt: fsm.params().preempt,
                master_adver_interval: fsm.master_adver_interval(),
                adverts_in: stats.adverts_received
                    + group.auth_failures
                    + group.malformed
                    + group.not_peer,
                adverts_suppressed: 0,
                adverts_out: stats.adverts_sent,
                transitions: stats.transitions,
                auth_failures: group.auth_failures,
                discarded: stats.discarded.total() + group.malformed + group.not_peer,
                last_transition: group.last_transition,
                kernel_entry: group.suppress.as_ref().map(SuppressSlot::entry),
            },
        );
    }
}
