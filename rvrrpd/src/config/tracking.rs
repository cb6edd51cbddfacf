//! Tracking directives: `[[track_script]]`, `[[track_file]]` and the references a
//! `[[vrouter]]` makes to them and to interfaces (`track_interface`, `track_script`,
//! `track_file`), with keepalived's semantics for weights.
//!
//! * A tracked object without a weight (weight 0) puts the group in Fault while it fails.
//! * A negative weight is added to the priority while the object fails; a positive one while
//!   it is OK; `reverse` swaps the two. A file's value is multiplied by its weight.
//! * Priority = configured + sum of the weights, clamped to 1–254; an owner (255) keeps 255.

use std::path::PathBuf;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::notify::NotifyScript;
use super::serde_util::value_error;

/// Weights of interfaces and scripts (keepalived: −253..253).
pub const WEIGHT_RANGE: std::ops::RangeInclusive<i32> = -253..=253;
/// Weights of files (keepalived: −254..254, so that a file can force Fault with −1 × 254).
pub const FILE_WEIGHT_RANGE: std::ops::RangeInclusive<i32> = -254..=254;

/// One `[[track_script]]`: a command run every `interval`, OK when it exits 0 in time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackScript {
    /// The name vrouters refer to. Required, unique.
    pub name: String,
    /// The command: split into arguments (`"..."` / `'...'` quote, `\` escapes) and executed
    /// directly, without a shell, unless `shell = true`. Required.
    pub script: String,
    /// Run `script` with `/bin/sh -c` (default false).
    #[serde(default)]
    pub shell: bool,
    /// Seconds between runs (default 1; 0.01–86400).
    #[serde(default = "defaults::interval")]
    pub interval: f64,
    /// Seconds after which a run is killed and counts as a failure (default: `interval`).
    #[serde(default)]
    pub timeout: Option<f64>,
    /// Priority weight (default 0: Fault while failed), −253–253.
    #[serde(default)]
    pub weight: i32,
    /// Apply the weight in the opposite direction (default false).
    #[serde(default)]
    pub reverse: bool,
    /// Consecutive failures before the script counts as failed (default 1).
    #[serde(default = "defaults::one")]
    pub fall: u32,
    /// Consecutive successes before it counts as OK again (default 1).
    #[serde(default = "defaults::one")]
    pub rise: u32,
    /// Run as this user (default: the daemon's user).
    #[serde(default)]
    pub user: Option<String>,
    /// Start in the failed state until `rise` successes (default false: start OK).
    #[serde(default)]
    pub init_fail: bool,
}

impl TrackScript {
    /// The timeout of one run.
    pub fn timeout(&self) -> f64 {
        self.timeout.unwrap_or(self.interval)
    }
}

/// One `[[track_file]]`: a file holding an integer, watched with inotify.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackFile {
    /// The name vrouters refer to. Required, unique.
    pub name: String,
    /// The file. Required. A missing or unreadable file counts as value 0 (and is logged).
    pub file: PathBuf,
    /// Multiplier of the value (default 1), −254–254. With weight 0, a non-zero value is a
    /// failure (Fault) and 0 is OK.
    #[serde(default = "defaults::one_i32")]
    pub weight: i32,
    /// Negate the result (default false).
    #[serde(default)]
    pub reverse: bool,
    /// Create the file with this value at start-up if it does not exist (default: leave it).
    #[serde(default)]
    pub init: Option<i64>,
}

/// One `[[sync_group]]`: vrouters that change state together (keepalived's
/// `vrrp_sync_group`): a Fault in one puts all in Fault, a member becomes Master only when
/// every member wants Master (one that hears a better Master holds the others in Backup), a
/// member leaving Master makes the others leave too, and the members' tracking weights apply
/// to all of them. The group's own notify scripts run once per change of the group's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncGroup {
    /// The group's name (logs, `GROUP` notifications). Required, unique.
    pub name: String,
    /// The members, by vrouter `name` (default `<interface>-<group>`). Required.
    pub vrouters: Vec<String>,
    /// Run when the group becomes MASTER (every member Master).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_master: Option<NotifyScript>,
    /// Run when the group becomes BACKUP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_backup: Option<NotifyScript>,
    /// Run when the group enters FAULT (a member in Fault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_fault: Option<NotifyScript>,
    /// Run when the group stops (every member stopped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_stop: Option<NotifyScript>,
    /// Run after the specific script with `GROUP name STATE 0` appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifyScript>,
}

impl SyncGroup {
    /// The notify scripts, as (directive, script), in keepalived's order.
    pub fn notify_scripts(&self) -> [(&'static str, Option<&NotifyScript>); 5] {
        [
            ("notify_master", self.notify_master.as_ref()),
            ("notify_backup", self.notify_backup.as_ref()),
            ("notify_fault", self.notify_fault.as_ref()),
            ("notify_stop", self.notify_stop.as_ref()),
            ("notify", self.notify.as_ref()),
        ]
    }
}

/// A vrouter's reference to a tracked object: `"name"`, or `{ name = "...", weight = N,
/// reverse = BOOL }` to override the object's weight (and direction) for this vrouter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackRef {
    /// Interface name (`track_interface`) or `[[track_script]]` / `[[track_file]]` name.
    pub name: String,
    /// The weight for this vrouter; `None` keeps the object's own (0 for interfaces).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    /// Reverse the weight's direction; `None` keeps the object's own (false for interfaces).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverse: Option<bool>,
}

impl<'de> Deserialize<'de> for TrackRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            name: String,
            #[serde(default)]
            weight: Option<i32>,
            #[serde(default)]
            reverse: Option<bool>,
        }

        struct RefVisitor;

        impl<'de> Visitor<'de> for RefVisitor {
            type Value = TrackRef;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a name, or a table { name, weight, reverse }")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<TrackRef, E> {
                Ok(TrackRef {
                    name: name.to_string(),
                    weight: None,
                    reverse: None,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TrackRef, A::Error> {
                let full = Full::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(TrackRef {
                    name: full.name,
                    weight: full.weight,
                    reverse: full.reverse,
                })
            }
        }

        deserializer.deserialize_any(RefVisitor)
    }
}

/// Checks a weight's range, as a `= N is out of range` message.
pub(super) fn check_weight(
    weight: i32,
    range: std::ops::RangeInclusive<i32>,
) -> Result<(), String> {
    if range.contains(&weight) {
        Ok(())
    } else {
        Err(value_error(
            weight,
            format_args!(
                "is out of range ({}–{}; 0 = Fault while failed)",
                range.start(),
                range.end()
            ),
        ))
    }
}

mod defaults {
    pub fn interval() -> f64 {
        1.0
    }

    pub fn one() -> u32 {
        1
    }

    pub fn one_i32() -> i32 {
        1
    }
}
