//! Sync groups in the control plane (`[[sync_group]]`, keepalived's `vrrp_sync_group`):
//!
//! * Fault: a member's own fault (its interface, an unweighted tracked object) puts every
//!   member in Fault;
//! * tracking weights: the sum of every member's weights applies to each member, so a failure
//!   lowers them all and the peer preempts them together;
//! * mastership ([`crate::fsm::sync`]): members are made sync members in their workers, so
//!   none becomes Master on its own; they report when they want Master, and once every member
//!   wants it they are told to go together. While one does not (it hears a better Master, it
//!   was preempted, it is in Fault), the Masters among them are told to leave. Members may sit
//!   on different workers: the decision is taken here, from the reports of all of them;
//! * notifications: each change of the group's state gives one `GROUP` FIFO line and runs the
//!   group's scripts once, after the members' own.

use std::collections::{BTreeMap, BTreeSet};

use tracing::info;

use crate::config::Config;
use crate::daemon::notify::{kind_of, GroupNotify, Transition};
use crate::daemon::worker::{SyncCmd, WorkerCmd};
use crate::fsm::{State, SyncMembers, SyncOrder};
use crate::track::Outcome;

use super::Control;

#[derive(Debug, Default)]
pub(super) struct SyncGroups {
    groups: Vec<Group>,
    /// Group id → its sync group.
    of: BTreeMap<usize, usize>,
    /// Every running group's last reported state and wish for Master: a sync group rebuilt by
    /// a reload starts from what its members are, not from Initialize.
    views: BTreeMap<usize, (State, bool)>,
}

#[derive(Debug)]
struct Group {
    name: String,
    members: SyncMembers,
    notify: GroupNotify,
}

impl SyncGroups {
    /// The sync groups of `config`, with members resolved by vrouter name to the running
    /// groups `(id, name)`; the members' states and the group states already notified come
    /// from `previous` (empty at start-up).
    pub(super) fn build<'a>(
        config: &Config,
        running: impl Iterator<Item = (usize, &'a str)>,
        previous: SyncGroups,
    ) -> Self {
        let by_name: BTreeMap<&str, usize> = running.map(|(id, name)| (name, id)).collect();
        let views = previous.views;
        let mut s = SyncGroups {
            views,
            ..SyncGroups::default()
        };
        for g in &config.sync_groups {
            let ids: Vec<usize> = g
                .vrouters
                .iter()
                .filter_map(|n| by_name.get(n.as_str()).copied())
                .collect();
            for &id in &ids {
                s.of.insert(id, s.groups.len());
            }
            let mut members = SyncMembers::new(ids.iter().map(|&id| {
                let (state, wants) = s
                    .views
                    .get(&id)
                    .copied()
                    .unwrap_or((State::Initialize, false));
                (id, state, wants)
            }));
            if let Some(old) = previous.groups.iter().find(|o| o.name == g.name) {
                members.set_notified(old.members.notified());
            }
            s.groups.push(Group {
                name: g.name.clone(),
                members,
                notify: GroupNotify::from_sync_group(g),
            });
        }
        s
    }

    /// The ids of every member.
    pub(super) fn member_ids(&self) -> BTreeSet<usize> {
        self.of.keys().copied().collect()
    }

    fn members_of(&self, id: usize) -> Option<Vec<usize>> {
        self.of
            .get(&id)
            .and_then(|&k| self.groups.get(k))
            .map(|g| g.members.ids().collect())
    }
}

/// The runner queue of sync group `k`'s scripts: counted down from the top, away from vrouter
/// ids (counted up from 0).
fn queue_of(k: usize) -> usize {
    usize::MAX - k
}

impl Control {
    /// The outcome to apply to group `id`: its own tracking outcome, or with a sync group the
    /// members' faults and weights combined.
    pub(super) fn effective_outcome(&self, id: usize) -> Option<Outcome> {
        let t = self.tracking.as_ref()?;
        let own = t.outcome(id)?;
        let Some(ids) = self.sync.members_of(id) else {
            return Some(own);
        };
        let spec = self.spec(id)?;
        let mut fault = false;
        let mut delta: i64 = 0;
        for member in ids {
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
                Some(m) => ids.extend(m),
                None => {
                    ids.insert(*g);
                }
            }
        }
        ids.into_iter()
            .filter_map(|g| self.effective_outcome(g).map(|o| (g, o)))
            .collect()
    }

    /// Follows a group's transition: the orders it calls for, and the sync group's
    /// notification if the group as a whole changed state.
    pub(super) fn sync_transition(&mut self, t: &Transition) {
        if t.to == State::Initialize {
            self.sync.views.remove(&t.group);
        } else {
            self.sync.views.insert(t.group, (t.to, false));
        }
        let Some(&k) = self.sync.of.get(&t.group) else {
            return;
        };
        let orders = self.sync.groups[k].members.transition(t.group, t.to);
        self.sync_orders(k, orders);
        self.sync_notify(k);
    }

    /// A member started or stopped wanting Master.
    pub(super) fn sync_want(&mut self, group: usize, wants: bool) {
        if let Some(v) = self.sync.views.get_mut(&group) {
            v.1 = wants && v.0 == State::Backup;
        }
        let Some(&k) = self.sync.of.get(&group) else {
            return;
        };
        let orders = self.sync.groups[k].members.want(group, wants);
        self.sync_orders(k, orders);
    }

    /// Replaces the sync groups by those of `config` (a reload): workers learn which of their
    /// groups became or stopped being members, and the orders and notifications the new
    /// memberships call for are given.
    pub(super) fn rebuild_sync(&mut self, config: &Config) {
        let named: Vec<(usize, String)> = self
            .specs()
            .values()
            .map(|s| (s.index, s.name.clone()))
            .collect();
        let before = self.sync.member_ids();
        let previous = std::mem::take(&mut self.sync);
        self.sync = SyncGroups::build(
            config,
            named.iter().map(|(i, n)| (*i, n.as_str())),
            previous,
        );
        let after = self.sync.member_ids();
        let changes = after
            .difference(&before)
            .map(|&g| (g, SyncCmd::Member(true)))
            .chain(
                before
                    .difference(&after)
                    .map(|&g| (g, SyncCmd::Member(false))),
            );
        self.send_sync(changes);
        for k in 0..self.sync.groups.len() {
            let orders = self.sync.groups[k].members.orders();
            self.sync_orders(k, orders);
            self.sync_notify(k);
        }
    }

    /// The initial membership commands of the groups `ids` (for a worker about to start).
    pub(super) fn sync_membership(
        &self,
        ids: impl Iterator<Item = usize>,
    ) -> Vec<(usize, SyncCmd)> {
        ids.filter(|g| self.sync.of.contains_key(g))
            .map(|g| (g, SyncCmd::Member(true)))
            .collect()
    }

    fn sync_orders(&self, k: usize, orders: Vec<(usize, SyncOrder)>) {
        if orders.is_empty() {
            return;
        }
        let name = &self.sync.groups[k].name;
        if orders.iter().any(|(_, o)| *o == SyncOrder::Go) {
            info!("sync group {name}: every member wants Master: taking over together");
        } else {
            info!("sync group {name}: a member does not want Master: the others leave it");
        }
        self.send_sync(orders.into_iter().map(|(g, o)| {
            (
                g,
                match o {
                    SyncOrder::Go => SyncCmd::Go,
                    SyncOrder::Leave => SyncCmd::Leave,
                },
            )
        }));
    }

    /// Sends sync commands to the workers owning their groups, one command per worker.
    fn send_sync(&self, cmds: impl Iterator<Item = (usize, SyncCmd)>) {
        let mut per_worker: BTreeMap<usize, Vec<(usize, SyncCmd)>> = BTreeMap::new();
        for (g, cmd) in cmds {
            if let Some(&w) = self.owner.get(&g) {
                per_worker.entry(w).or_default().push((g, cmd));
            }
        }
        for (w, updates) in per_worker {
            if let Some(h) = self.workers.get(w) {
                h.send(WorkerCmd::Sync { updates });
            }
        }
    }

    /// Notifies the change of sync group `k`'s state, if any.
    fn sync_notify(&mut self, k: usize) {
        let group = &mut self.sync.groups[k];
        let Some(to) = group.members.group_change() else {
            return;
        };
        info!("sync group {}: {}", group.name, kind_of(to).word());
        if let Some(notifier) = &mut self.notifier {
            notifier.group_transition(queue_of(k), &group.name, to, &group.notify);
        }
    }
}
