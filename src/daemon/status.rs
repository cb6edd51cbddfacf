//! State snapshots that workers publish and readers (logs, the API) take without ever blocking
//! a worker for long: a worker writes only on a transition, readers copy the table.

use std::net::IpAddr;
use std::sync::Mutex;

use crate::fsm::State;

/// The published state of one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupStatus {
    /// Current state.
    pub state: State,
    /// Current Master's address, if known.
    pub master: Option<IpAddr>,
    /// Monotonic time of the last transition (µs).
    pub since_us: u64,
}

/// The table of group states, indexed by the group's position in the configuration.
#[derive(Debug, Default)]
pub struct StatusBoard {
    groups: Mutex<Vec<Option<GroupStatus>>>,
}

impl StatusBoard {
    /// A board for `n` groups.
    pub fn new(n: usize) -> Self {
        StatusBoard {
            groups: Mutex::new(vec![None; n]),
        }
    }

    /// Records group `index`'s new status.
    pub fn update(&self, index: usize, status: GroupStatus) {
        // A poisoned lock only means a reader panicked mid-copy; the data is still whole.
        let mut g = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        if index >= g.len() {
            g.resize(index + 1, None);
        }
        g[index] = Some(status);
    }

    /// A copy of every group's status.
    pub fn snapshot(&self) -> Vec<Option<GroupStatus>> {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
