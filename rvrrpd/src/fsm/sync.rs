//! The sync-group rule (keepalived's `vrrp_sync_can_goto_master`, `vrrp_sync_backup`), sans-IO:
//! members are [`Vrrp`](super::Vrrp)s made sync members ([`super::Vrrp::set_sync`]), possibly
//! driven by different threads; a [`SyncMembers`] sees what they report (transitions,
//! [`Action::WantMaster`](super::Action::WantMaster)) and says what to tell them:
//!
//! * a member becomes Master only when every running member wants Master or is Master: then
//!   each waiting member gets [`SyncOrder::Go`] and they become Master together;
//! * while some running member neither is nor wants Master (it hears a better Master, it was
//!   preempted, it is in Fault, it just started), every Master member gets
//!   [`SyncOrder::Leave`];
//! * stopped members (Initialize: not started yet, shut down, removed) do not count.
//!
//! The orders are level-triggered: whatever order the reports of different threads arrive
//! in, the last report leaves the members consistent (a member that ignored a `Go` because it
//! stopped wanting reports it, and the Masters are then told to leave).
//!
//! It also derives the group's own state for notifications (keepalived's `GROUP` lines): FAULT
//! when a running member is in Fault, MASTER when all running members are Master, BACKUP
//! otherwise, STOP when none runs any more; [`SyncMembers::group_change`] reports each change
//! once, however many member transitions it took.

use super::State;

/// What a member is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOrder {
    /// Every member wants Master: become Master ([`super::Vrrp::sync_go`]).
    Go,
    /// A member does not want Master: leave it ([`super::Vrrp::sync_leave`]).
    Leave,
}

/// A member as last reported, with the order already given for that report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Stopped,
    Backup { wants: bool, go_sent: bool },
    Master { leave_sent: bool },
    Fault,
}

impl View {
    fn of(state: State) -> Self {
        match state {
            State::Initialize => View::Stopped,
            State::Backup => View::Backup {
                wants: false,
                go_sent: false,
            },
            State::Master => View::Master { leave_sent: false },
            State::Fault => View::Fault,
        }
    }

    fn state(self) -> State {
        match self {
            View::Stopped => State::Initialize,
            View::Backup { .. } => State::Backup,
            View::Master { .. } => State::Master,
            View::Fault => State::Fault,
        }
    }
}

/// One sync group's members (by caller-chosen id) as the coordinator sees them.
#[derive(Debug, Clone)]
pub struct SyncMembers {
    members: Vec<(usize, View)>,
    /// The group state last returned by [`SyncMembers::group_change`].
    notified: Option<State>,
}

impl SyncMembers {
    /// A group of members `(id, state, wants Master)`, with their current states
    /// (Initialize for members not started).
    pub fn new(members: impl IntoIterator<Item = (usize, State, bool)>) -> Self {
        SyncMembers {
            members: members
                .into_iter()
                .map(|(id, s, wants)| {
                    let view = match View::of(s) {
                        View::Backup { go_sent, .. } => View::Backup { wants, go_sent },
                        v => v,
                    };
                    (id, view)
                })
                .collect(),
            notified: None,
        }
    }

    /// The member ids.
    pub fn ids(&self) -> impl Iterator<Item = usize> + '_ {
        self.members.iter().map(|(id, _)| *id)
    }

    /// Whether `id` is a member.
    pub fn contains(&self, id: usize) -> bool {
        self.members.iter().any(|(m, _)| *m == id)
    }

    /// The group state last reported (for a group rebuilt by a reload: no repeated line).
    pub fn notified(&self) -> Option<State> {
        self.notified
    }

    /// Carries the group state already reported over (see [`SyncMembers::notified`]).
    pub fn set_notified(&mut self, state: Option<State>) {
        self.notified = state;
    }

    /// Member `id` entered `to`; returns the orders to give.
    pub fn transition(&mut self, id: usize, to: State) -> Vec<(usize, SyncOrder)> {
        self.set(id, View::of(to))
    }

    /// Member `id`, in Backup, started or stopped wanting Master; returns the orders to give.
    pub fn want(&mut self, id: usize, wants: bool) -> Vec<(usize, SyncOrder)> {
        let Some(view) = self.view(id) else {
            return Vec::new();
        };
        // A report from Backup only: one queued before a later transition is stale.
        if !matches!(view, View::Backup { .. }) {
            return Vec::new();
        }
        self.set(
            id,
            View::Backup {
                wants,
                go_sent: false,
            },
        )
    }

    fn view(&self, id: usize) -> Option<View> {
        self.members.iter().find(|(m, _)| *m == id).map(|(_, v)| *v)
    }

    fn set(&mut self, id: usize, view: View) -> Vec<(usize, SyncOrder)> {
        match self.members.iter_mut().find(|(m, _)| *m == id) {
            Some((_, v)) => *v = view,
            None => return Vec::new(),
        }
        self.orders()
    }

    /// Every running member is Master or wants it.
    fn all_want(&self) -> bool {
        self.members.iter().all(|(_, v)| match v {
            View::Stopped | View::Master { .. } => true,
            View::Backup { wants, .. } => *wants,
            View::Fault => false,
        })
    }

    /// The orders the members' current views call for, not given yet (after a rebuild).
    pub fn orders(&mut self) -> Vec<(usize, SyncOrder)> {
        let all = self.all_want();
        let mut out = Vec::new();
        for (id, v) in &mut self.members {
            match v {
                View::Backup {
                    wants: true,
                    go_sent,
                } if all && !*go_sent => {
                    *go_sent = true;
                    out.push((*id, SyncOrder::Go));
                }
                View::Master { leave_sent } if !all && !*leave_sent => {
                    *leave_sent = true;
                    out.push((*id, SyncOrder::Leave));
                }
                _ => {}
            }
        }
        out
    }

    /// The group state from the members' (see the module docs); `None` before any member ran.
    fn group_state(&self) -> Option<State> {
        let running: Vec<State> = self
            .members
            .iter()
            .map(|(_, v)| v.state())
            .filter(|s| *s != State::Initialize)
            .collect();
        if running.is_empty() {
            return self.notified.map(|_| State::Initialize);
        }
        Some(if running.contains(&State::Fault) {
            State::Fault
        } else if running.iter().all(|s| *s == State::Master) {
            State::Master
        } else {
            State::Backup
        })
    }

    /// The group's new state (Initialize = stopped) if it changed since the last call.
    pub fn group_change(&mut self) -> Option<State> {
        let now = self.group_state()?;
        if self.notified == Some(now) {
            return None;
        }
        self.notified = Some(now);
        Some(now)
    }
}
