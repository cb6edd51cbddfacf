//! Sync groups in the control plane (`[[sync_group]]`, keepalived's `vrrp_sync_group`):
//!
//! * Fault: a member's own fault (its interface, an unweighted tracked object) puts every
//!   member in Fault;
//! * tracking weights: the sum of every member's weights applies to each member, so a failure
//!   lowers them all and the peer preempts them together;
//! * preemption: a member that a better router preempts makes the others leave Master
//!   (priority 0, so the peer takes them over after its Skew_Time) and holds them in Backup
//!   until it is Master again, so they cannot preempt back one by one.

use std::collections::{BTreeMap, BTreeSet};

use tracing::info;

use crate::config::Config;
use crate::daemon::notify::Transition;
use crate::daemon::worker::WorkerCmd;
use crate::fsm::{State, TransitionReason};
use crate::track::Outcome;

use super::Control;

#[derive(Debug, Default)]
pub(super) struct SyncGroups {
    groups: Vec<Members>,
    /// Group id → its sync group.
    of: BTreeMap<usize, usize>,
}

#[derive(Debug)]
struct Members {
    name: String,
    ids: Vec<usize>,
    /// Members preempted by a better router (the others are held while any is).
    lost: BTreeSet<usize>,
}

impl SyncGroups {
    /// The sync groups of `config`, with members resolved by vrouter name to the running
    /// groups `(id, name)`.
    pub(super) fn build<'a>(
        config: &Config,
        running: impl Iterator<Item = (usize, &'a str)>,
    ) -> Self {
        let by_name: BTreeMap<&str, usize> = running.map(|(id, name)| (name, id)).collect();
        let mut s = SyncGroups::default();
        for g in &config.sync_groups {
            let ids: Vec<usize> = g
                .vrouters
                .iter()
                .filter_map(|n| by_name.get(n.as_str()).copied())
                .collect();
            for &id in &ids {
                s.of.insert(id, s.groups.len());
            }
            s.groups.push(Members {
                name: g.name.clone(),
                ids,
                lost: BTreeSet::new(),
            });
        }
        s
    }

    fn members_of(&self, id: usize) -> Option<&Members> {
        self.of.get(&id).and_then(|&k| self.groups.get(k))
    }
}

impl Control {
    /// The outcome to apply to group `id`: its own tracking outcome, or with a sync group the
    /// members' faults and weights combined.
    pub(super) fn effective_outcome(&self, id: usize) -> Option<Outcome> {
        let t = self.tracking.as_ref()?;
        let own = t.outcome(id)?;
        let Some(m) = self.sync.members_of(id) else {
            return Some(own);
        };
        let spec = self.spec(id)?;
        let mut fault = false;
        let mut delta: i64 = 0;
        for &member in &m.ids {
            let (Some(o), Some(s)) = (t.outcome(member), self.spec(member)) else {
                continue;
            };
            fault |= o.fault;
            delta += i64::from(o.priority) - i64::from(s.priority);
        }
        let priority = if spec.owner {
            255
        } else {
            (i64::from(spec.priority) + delta).clamp(1, 254) as u8
        };
        Some(Outcome { priority, fault })
    }

    /// Tracking updates with their sync groups: a change of one member is a change of all.
    pub(super) fn with_sync_members(
        &self,
        updates: Vec<(usize, Outcome)>,
    ) -> Vec<(usize, Outcome)> {
        let mut ids: BTreeSet<usize> = BTreeSet::new();
        for (g, _) in &updates {
            match self.sync.members_of(*g) {
                Some(m) => ids.extend(m.ids.iter().copied()),
                None => {
                    ids.insert(*g);
                }
            }
        }
        ids.into_iter()
            .filter_map(|g| self.effective_outcome(g).map(|o| (g, o)))
            .collect()
    }

    /// Follows a member's transition: preempted → hold the others; Master, Fault or stopped
    /// → release them once no member is preempted.
    pub(super) fn sync_transition(&mut self, t: &Transition) {
        let Some(&k) = self.sync.of.get(&t.group) else {
            return;
        };
        let m = &mut self.sync.groups[k];
        let before = !m.lost.is_empty();
        match (t.to, t.reason) {
            (State::Backup, TransitionReason::Preempted { .. }) => {
                m.lost.insert(t.group);
            }
            (State::Backup, _) => {}
            _ => {
                m.lost.remove(&t.group);
            }
        }
        let after = !m.lost.is_empty();
        if before == after {
            return;
        }
        info!(
            "sync group {}: {}",
            m.name,
            if after {
                "a member was preempted: the others leave Master and wait"
            } else {
                "released"
            }
        );
        let others: Vec<usize> = m
            .ids
            .iter()
            .copied()
            .filter(|&g| !m.lost.contains(&g))
            .collect();
        let mut per_worker: BTreeMap<usize, Vec<(usize, bool)>> = BTreeMap::new();
        for g in others {
            if let Some(&w) = self.owner.get(&g) {
                per_worker.entry(w).or_default().push((g, after));
            }
        }
        for (w, updates) in per_worker {
            if let Some(h) = self.workers.get(w) {
                h.send(WorkerCmd::SetHold { updates });
            }
        }
    }
}
