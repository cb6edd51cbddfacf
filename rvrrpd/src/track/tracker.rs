//! The [`Tracker`]: tracked objects, the groups that watch them, and the outcome of each
//! group, recomputed only for the groups an object change touches.

use std::collections::BTreeMap;

use super::{file_effect, flag_effect, outcome, Effect, Outcome};

/// A tracked object: an interface, a script or a file, numbered by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectId {
    /// An interface, by the caller's number for its name.
    Interface(usize),
    /// A `[[track_script]]`, by position.
    Script(usize),
    /// A `[[track_file]]`, by position.
    File(usize),
}

/// One group's watch on an object, with the weight and direction it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    /// The object.
    pub object: ObjectId,
    /// Weight (0 = Fault while failed).
    pub weight: i32,
    /// Reverse the direction.
    pub reverse: bool,
}

#[derive(Debug, Clone)]
struct GroupEntry {
    base: u8,
    owner: bool,
    watches: Vec<Watch>,
    last: Outcome,
}

/// The state of an object: OK or not (interfaces, scripts), or a value (files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ObjectState {
    Flag(bool),
    Value(i64),
}

/// Tracked objects and the groups watching them.
#[derive(Debug, Default)]
pub struct Tracker {
    objects: BTreeMap<ObjectId, ObjectState>,
    /// Object → groups that watch it.
    watchers: BTreeMap<ObjectId, Vec<usize>>,
    groups: BTreeMap<usize, GroupEntry>,
}

impl Tracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets an interface's or script's state (before or after groups watch it); returns the
    /// groups whose outcome changed.
    pub fn set_flag(&mut self, object: ObjectId, ok: bool) -> Vec<(usize, Outcome)> {
        self.set(object, ObjectState::Flag(ok))
    }

    /// Sets a file's value; returns the groups whose outcome changed.
    pub fn set_value(&mut self, object: ObjectId, value: i64) -> Vec<(usize, Outcome)> {
        self.set(object, ObjectState::Value(value))
    }

    fn set(&mut self, object: ObjectId, state: ObjectState) -> Vec<(usize, Outcome)> {
        if self.objects.insert(object, state) == Some(state) {
            return Vec::new();
        }
        let groups = self.watchers.get(&object).cloned().unwrap_or_default();
        groups
            .into_iter()
            .filter_map(|g| self.recompute(g).map(|o| (g, o)))
            .collect()
    }

    /// Whether an interface or script is OK (unknown objects are OK until told otherwise,
    /// except interfaces, which the caller sets before adding groups).
    pub fn flag(&self, object: ObjectId) -> Option<bool> {
        match self.objects.get(&object) {
            Some(ObjectState::Flag(ok)) => Some(*ok),
            _ => None,
        }
    }

    /// Adds (or replaces) group `id` with its configured priority, owner flag and watches;
    /// returns its outcome now.
    pub fn add_group(&mut self, id: usize, base: u8, owner: bool, watches: Vec<Watch>) -> Outcome {
        self.remove_group(id);
        for w in &watches {
            let list = self.watchers.entry(w.object).or_default();
            if !list.contains(&id) {
                list.push(id);
            }
        }
        let entry = GroupEntry {
            base,
            owner,
            watches,
            last: Outcome {
                priority: base,
                fault: false,
            },
        };
        let now = self.evaluate(&entry);
        self.groups.insert(id, GroupEntry { last: now, ..entry });
        now
    }

    /// Forgets group `id`.
    pub fn remove_group(&mut self, id: usize) {
        let Some(entry) = self.groups.remove(&id) else {
            return;
        };
        for w in entry.watches {
            if let Some(list) = self.watchers.get_mut(&w.object) {
                list.retain(|&g| g != id);
                if list.is_empty() {
                    self.watchers.remove(&w.object);
                }
            }
        }
    }

    /// Changes group `id`'s configured priority (an API write); returns its new outcome if
    /// it changed.
    pub fn set_base(&mut self, id: usize, base: u8) -> Option<Outcome> {
        self.groups.get_mut(&id)?.base = base;
        self.recompute(id)
    }

    /// Group `id`'s current outcome.
    pub fn outcome(&self, id: usize) -> Option<Outcome> {
        self.groups.get(&id).map(|g| g.last)
    }

    /// Group `id`'s watches with each object's current effect on it.
    pub fn effects(&self, id: usize) -> Vec<(Watch, Effect)> {
        self.groups.get(&id).map_or_else(Vec::new, |g| {
            g.watches.iter().map(|w| (*w, self.effect(w))).collect()
        })
    }

    /// Whether any group watches `object`.
    pub fn is_watched(&self, object: ObjectId) -> bool {
        self.watchers.contains_key(&object)
    }

    fn recompute(&mut self, id: usize) -> Option<Outcome> {
        let entry = self.groups.get(&id)?;
        let now = self.evaluate(entry);
        let entry = self.groups.get_mut(&id)?;
        if entry.last == now {
            return None;
        }
        entry.last = now;
        Some(now)
    }

    fn evaluate(&self, entry: &GroupEntry) -> Outcome {
        outcome(
            entry.base,
            entry.owner,
            entry.watches.iter().map(|w| self.effect(w)),
        )
    }

    fn effect(&self, w: &Watch) -> Effect {
        match self.objects.get(&w.object) {
            // Not known yet: no effect (scripts start OK unless `init_fail`, which the caller
            // sets; interfaces are set from the kernel before groups are added).
            None => Effect::None,
            Some(ObjectState::Flag(ok)) => flag_effect(w.weight, w.reverse, *ok),
            Some(ObjectState::Value(v)) => file_effect(w.weight, w.reverse, *v),
        }
    }
}
