//! Status publishing: a group's state and counters are copied into its status slot when
//! anything but the advert counters changed; the advert counters alone (a Master's
//! `adverts_out` at every advert, a Backup's `adverts_in`) are stored without a lock or copy.

use super::shard::PublishKey;
use super::Shard;
use crate::daemon::status::{publish, publish_counts, GroupSnapshot};
use crate::net::xdp::SuppressSlot;

impl Shard {
    /// Publishes group `g`: the whole snapshot if anything readers see besides the advert
    /// counters changed since the last time, else only those counters (the per-advert path:
    /// two relaxed stores instead of a lock and a copy).
    pub(super) fn publish_if_due(&mut self, g: usize) {
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        let key = group.publish_key();
        if key != group.published_key {
            group.published_key = key;
            self.publish(g);
        } else {
            let (adverts_in, adverts_out) = group.advert_counts();
            publish_counts(&group.slot, adverts_in, adverts_out);
        }
    }

    /// Copies group `g`'s state into its status slot.
    pub(super) fn publish(&self, g: usize) {
        let Some(group) = self.groups[g].as_ref() else {
            return;
        };
        let fsm = &group.fsm;
        let stats = fsm.stats();
        let (adverts_in, adverts_out) = group.advert_counts();
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
                adverts_in,
                adverts_suppressed: 0,
                adverts_out,
                transitions: stats.transitions,
                auth_failures: group.auth_failures,
                discarded: stats.discarded.total() + group.malformed + group.not_peer,
                last_transition: group.last_transition,
                kernel_entry: group.suppress.as_ref().map(SuppressSlot::entry),
            },
        );
    }
}

impl super::shard::Group {
    /// Adverts received (valid or not, without the kernel's) and sent.
    fn advert_counts(&self) -> (u64, u64) {
        let stats = self.fsm.stats();
        (
            stats.adverts_received + self.auth_failures + self.malformed + self.not_peer,
            stats.adverts_sent,
        )
    }

    /// What the snapshot holds besides the advert counters. The other counters are summed:
    /// each only grows, so the sum changes whenever one of them does.
    fn publish_key(&self) -> PublishKey {
        let fsm = &self.fsm;
        let stats = fsm.stats();
        PublishKey {
            state: fsm.state(),
            priority: fsm.priority(),
            preempt: fsm.params().preempt,
            master: fsm.current_master(),
            master_adver_interval_us: u32::try_from(fsm.master_adver_interval().as_micros())
                .unwrap_or(u32::MAX),
            counters: stats.transitions
                + stats.discarded.total()
                + self.auth_failures
                + self.malformed
                + self.not_peer,
        }
    }
}
