//! Values of the general (top-level) directives: `debug`, `time_zone`, `time_format`,
//! `error_log` and `client_api`.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::serde_util::{string_enum, value_error};

/// Debugging (verbosity) level: 0 information, 1 low, 2 medium, 3 high, 5 extensive.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "i64", into = "u8")]
pub struct DebugLevel(u8);

impl DebugLevel {
    /// The valid levels.
    pub const VALID: [u8; 5] = [0, 1, 2, 3, 5];

    /// The numeric level.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for DebugLevel {
    type Error = String;

    fn try_from(level: i64) -> Result<Self, Self::Error> {
        match u8::try_from(level) {
            Ok(level) if Self::VALID.contains(&level) => Ok(Self(level)),
            _ => Err(value_error(
                level,
                "is not a valid debug level (expected 0 information, 1 low, 2 medium, 3 high or 5 extensive)",
            )),
        }
    }
}

impl From<DebugLevel> for u8 {
    fn from(level: DebugLevel) -> u8 {
        level.0
    }
}

impl fmt::Display for DebugLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

string_enum! {
    /// Reference time zone of timestamps (`time_zone`).
    pub enum TimeZone ("time zone") default Local {
        /// The operating system's local time zone (default).
        Local => "local",
        /// Coordinated Universal Time.
        Utc => "utc",
    }
}

string_enum! {
    /// Timestamp format (`time_format`).
    pub enum TimeFormat ("time format") default Disabled {
        /// No particular format: the logger's default (default).
        Disabled => "disabled",
        /// A shortened, concise format.
        Short => "short",
        /// RFC 2822 Internet time format.
        Rfc2822 => "rfc2822",
    }
}

string_enum! {
    /// Extension: how workers send their adverts (`tx_path`).
    pub enum TxPath ("transmit path") default Auto {
        /// An AF_PACKET socket per interface, one `sendmmsg` per batch.
        Packet => "packet",
        /// Batches of 16 or more through the XDP program (`BPF_PROG_TEST_RUN` with live
        /// frames) on interfaces where it is attached in driver mode; the AF_PACKET socket
        /// for the rest. The operator vouches that those drivers transmit XDP frames (on
        /// veth: that the peers run an XDP program); a device that reports no XDP transmit
        /// at start-up is warned about.
        Xdp => "xdp",
        /// As `xdp`, but only on interfaces while their driver reports XDP transmit
        /// (`xdp_features` has `NDO_XMIT`), followed as it changes (default).
        Auto => "auto",
    }
}

string_enum! {
    /// Client API interface (`client_api`); absent means the API is off.
    pub enum ClientApi ("client API interface") {
        /// RESTful HTTP(S) interface configured by the `[api]` section.
        Http => "http",
    }
}

/// Deserializes `error_log`: a path, or `"disabled"` (or `null`) for none.
pub(crate) fn deserialize_error_log<'de, D>(deserializer: D) -> Result<Option<PathBuf>, D::Error>
where
    D: Deserializer<'de>,
{
    let path = Option::<String>::deserialize(deserializer)?;
    Ok(path
        .filter(|p| p != "disabled" && !p.is_empty())
        .map(PathBuf::from))
}

/// Serializes `error_log` as its path, or `"disabled"`.
pub(crate) fn serialize_error_log<S>(
    path: &Option<PathBuf>,
    serializer: S,
) -> Result<S::Ok, S::Error>
where
    S: Serializer,
{
    match path {
        Some(path) => path.serialize(serializer),
        None => serializer.serialize_str("disabled"),
    }
}

impl TxPath {
    /// Whether this is the default (`auto`): not serialized then.
    pub fn is_default(&self) -> bool {
        *self == TxPath::Auto
    }
}
