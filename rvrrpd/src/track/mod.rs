//! Tracking, sans-IO: what interfaces, scripts and files do to a group's priority and Fault
//! state. The control plane feeds in link states, script results and file values; the
//! [`Tracker`] answers with the groups whose outcome changed, which the workers apply.
//!
//! keepalived's rules, which its users expect:
//! * weight 0: Fault while the object fails (`reverse`: while it is OK);
//! * weight < 0: added while the object fails; weight > 0: added while it is OK; `reverse`
//!   negates the contribution;
//! * a file's value is multiplied by its weight (weight 0: non-zero is a failure); a result
//!   below −253 is a Fault;
//! * priority = configured + sum, clamped to 1–254; an owner (255) is never changed.

pub mod command;
mod tracker;

pub use tracker::{ObjectId, Tracker, Watch};

/// The effect of one tracked object on a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing.
    None,
    /// Add this to the priority.
    Delta(i64),
    /// Put the group in Fault.
    Fault,
}

/// The effect of an interface or script with `weight` (and `reverse`) that is `ok` or not.
pub fn flag_effect(weight: i32, reverse: bool, ok: bool) -> Effect {
    let weight = i64::from(weight);
    if weight == 0 {
        return if ok != reverse {
            Effect::None
        } else {
            Effect::Fault
        };
    }
    let applies = if weight > 0 { ok } else { !ok };
    match (applies, reverse) {
        (false, _) => Effect::None,
        (true, false) => Effect::Delta(weight),
        (true, true) => Effect::Delta(-weight),
    }
}

/// The effect of a file holding `value`, with `weight` (and `reverse`).
pub fn file_effect(weight: i32, reverse: bool, value: i64) -> Effect {
    if weight == 0 {
        return if (value == 0) != reverse {
            Effect::None
        } else {
            Effect::Fault
        };
    }
    let mut result = value.saturating_mul(i64::from(weight));
    if reverse {
        result = result.saturating_neg();
    }
    if result < -253 {
        Effect::Fault
    } else {
        Effect::Delta(result)
    }
}

/// What tracking makes of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The priority to advertise.
    pub priority: u8,
    /// Whether the group must be in Fault.
    pub fault: bool,
}

/// Combines the effects on a group configured with `base` priority.
pub fn outcome(base: u8, owner: bool, effects: impl IntoIterator<Item = Effect>) -> Outcome {
    let mut fault = false;
    let mut sum: i64 = 0;
    for e in effects {
        match e {
            Effect::None => {}
            Effect::Delta(d) => sum = sum.saturating_add(d),
            Effect::Fault => fault = true,
        }
    }
    let priority = if owner {
        255
    } else {
        // Clamped to 1–254: tracking can neither silence a group (0) nor make it an owner.
        i64::from(base).saturating_add(sum).clamp(1, 254) as u8
    };
    Outcome { priority, fault }
}

/// A script's health: `fall` consecutive failures make an OK script failed, `rise`
/// consecutive successes make a failed one OK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptHealth {
    ok: bool,
    streak: u32,
}

impl ScriptHealth {
    /// Initial health: OK, or failed with `init_fail`.
    pub fn new(init_fail: bool) -> Self {
        ScriptHealth {
            ok: !init_fail,
            streak: 0,
        }
    }

    /// Whether the script counts as OK.
    pub fn ok(&self) -> bool {
        self.ok
    }

    /// Records one run; returns whether the health changed.
    pub fn record(&mut self, success: bool, fall: u32, rise: u32) -> bool {
        if success == self.ok {
            self.streak = 0;
            return false;
        }
        self.streak += 1;
        let needed = if self.ok { fall } else { rise }.max(1);
        if self.streak >= needed {
            self.ok = success;
            self.streak = 0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests;
