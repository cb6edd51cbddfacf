//! Configuration: loading, parsing and validating `rvrrpd.conf` (TOML or JSON).
//!
//! This module is pure apart from the notify checks: [`Config::load`] reads one file, and only
//! the notify directives look at the system (script executability, `script_user`, the FIFO).
//! Every error names the file, the directive (`vrouter[2].priority`) and, when known, the line;
//! see [`ConfigError`]. Non-fatal remarks (settings that were overridden) are returned in
//! [`Config::warnings`]. The directives are documented in `docs/configuration.md`.

mod address;
mod api;
mod error;
mod general;
mod locate;
mod notify;
mod parse;
mod protocols;
mod secret;
pub(crate) mod serde_util;
mod timers;
mod tracking;
mod validate;
mod validate_tracking;
mod validate_unicast;
mod vrouter;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tracking_tests;
#[cfg(test)]
mod unicast_tests;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use address::{AddressFamily, VirtualAddress};
pub use api::{ApiConfig, Credential, UserEntry};
pub use error::{ConfigError, ConfigWarning};
pub use general::{ClientApi, DebugLevel, TimeFormat, TimeZone, TxPath};
pub use notify::{
    check_executable, split_argv, NotifyMaxRunning, NotifyScript, NotifyTimeout, ScriptUser,
    SplitError,
};
pub use protocols::{Netmask, Protocols, StaticRoute};
pub use secret::Secret;
pub use timers::{AdvertInterval, GarpInterval, Timers};
pub use tracking::{SyncGroup, TrackFile, TrackRef, TrackScript};
pub use validate_unicast::MAX_UNICAST_PEERS;
pub use vrouter::{
    GarpRepeat, IfName, IfType, NetDriver, Priority, ProtocolVersion, VRouter, Vrid,
};
// One type each from the configuration to the codec: `auth_type` and `v3_checksum` are
// parsed straight into the types the wire and authentication code use.
pub use crate::auth::AuthType;
pub use crate::wire::V3Checksum;

/// Configuration files tried, in order, when none is given on the command line: the original's
/// code default first, then the path its documentation names.
pub const DEFAULT_PATHS: [&str; 2] = ["/etc/rvrrpd/rvrrpd.conf", "/etc/rvrrpd.conf"];

/// The first of [`DEFAULT_PATHS`] that exists, or the first one when none does (so that the
/// "cannot read" error names the preferred location).
pub fn default_path() -> PathBuf {
    DEFAULT_PATHS
        .iter()
        .map(Path::new)
        .find(|path| path.exists())
        .unwrap_or(Path::new(DEFAULT_PATHS[0]))
        .to_path_buf()
}

/// Configuration file syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// TOML (the default).
    Toml,
    /// JSON.
    Json,
}

impl Format {
    /// Guesses the format: a `.json` extension or text starting with `{` is JSON, anything else TOML.
    pub fn detect(path: Option<&Path>, text: &str) -> Self {
        let json_extension = path
            .and_then(Path::extension)
            .is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
        let json_content = text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with('{');
        if json_extension || json_content {
            Self::Json
        } else {
            Self::Toml
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Toml => "TOML",
            Self::Json => "JSON",
        })
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "toml" => Ok(Self::Toml),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown configuration format {other:?} (expected toml or json)"
            )),
        }
    }
}

/// Default of the `dump_file` directive: the running-state dump written on SIGUSR1.
pub const DEFAULT_DUMP_FILE: &str = "/run/rvrrpd/rvrrpd.json";

/// Most phase slots `advert_slots` may set.
pub const MAX_ADVERT_SLOTS: u16 = 1000;

/// The whole configuration.
///
/// Serializing it (for the API) never outputs `auth_secret`, the `[api]` secret or password
/// hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Debugging level (default 0).
    #[serde(default, deserialize_with = "serde_util::or_default")]
    pub debug: DebugLevel,
    /// Time zone of timestamps (default `local`).
    #[serde(default, deserialize_with = "serde_util::or_default")]
    pub time_zone: TimeZone,
    /// Timestamp format (default `disabled`).
    #[serde(default, deserialize_with = "serde_util::or_default")]
    pub time_format: TimeFormat,
    /// PID file (default `/var/run/rvrrpd.pid`).
    #[serde(default = "defaults::pid", deserialize_with = "defaults::or_pid")]
    pub pid: PathBuf,
    /// Working directory in daemon mode (default `/tmp`).
    #[serde(
        default = "defaults::working_dir",
        deserialize_with = "defaults::or_working_dir"
    )]
    pub working_dir: PathBuf,
    /// Main log file in daemon mode (default `/var/log/rvrrpd.log`).
    #[serde(
        default = "defaults::main_log",
        deserialize_with = "defaults::or_main_log"
    )]
    pub main_log: PathBuf,
    /// Extension: where SIGUSR1 (`rvrrpd --dump`) writes the running state as JSON (default
    /// [`DEFAULT_DUMP_FILE`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dump_file: Option<PathBuf>,
    /// Error log file in daemon mode; `None` (`"disabled"`, the default) means none.
    #[serde(
        default,
        deserialize_with = "general::deserialize_error_log",
        serialize_with = "general::serialize_error_log"
    )]
    pub error_log: Option<PathBuf>,
    /// Client API interface; `None` (the default) means the API is off.
    #[serde(default)]
    pub client_api: Option<ClientApi>,
    /// Extension: worker threads (1–16; default one per core, at most one per group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u8>,
    /// Extension: run workers with SCHED_FIFO at this priority (1–99; 0 = normal scheduling
    /// with `worker_nice`; default 1, capped by `realtime_cpu_limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime_priority: Option<u8>,
    /// Extension: seconds of CPU a real-time worker may use without sleeping before the
    /// workers drop to normal scheduling (0.01–10; default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtime_cpu_limit: Option<f64>,
    /// Extension: nice value of the workers when not real-time (−20–19; default −10, so
    /// workers outrank the control plane and ordinary load without real-time's risks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_nice: Option<i8>,
    /// Extension: phase slots a Master's adverts are spread over per Advertisement_Interval
    /// (1–1000; default one per 50 groups, at most 20, beyond 5,000 groups one per 250;
    /// 1 = every group in one burst).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advert_slots: Option<u16>,
    /// Extension: transmit path of the workers (`auto`, the default, `xdp` or `packet`).
    #[serde(default, skip_serializing_if = "TxPath::is_default")]
    pub tx_path: TxPath,
    /// FIFO that receives one line per transition in keepalived's format (created if missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_fifo: Option<PathBuf>,
    /// Script started with the FIFO's path as its last argument, to read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_fifo_script: Option<NotifyScript>,
    /// User (and group) notify scripts run as; default the daemon's (root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_user: Option<ScriptUser>,
    /// Seconds a notify script may run before it is killed (default 30).
    #[serde(default, deserialize_with = "serde_util::or_default")]
    pub notify_timeout: NotifyTimeout,
    /// Notify scripts running at once (default 16); more wait their turn.
    #[serde(default, deserialize_with = "serde_util::or_default")]
    pub notify_max_running: NotifyMaxRunning,
    /// Virtual routers (`[[vrouter]]`), possibly none.
    #[serde(
        rename = "vrouter",
        default,
        deserialize_with = "serde_util::or_default"
    )]
    pub vrouters: Vec<VRouter>,
    /// `[[track_script]]`: commands whose exit status vrouters track.
    #[serde(
        rename = "track_script",
        default,
        deserialize_with = "serde_util::or_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub track_scripts: Vec<TrackScript>,
    /// `[[sync_group]]`: vrouters that change state together.
    #[serde(
        rename = "sync_group",
        default,
        deserialize_with = "serde_util::or_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub sync_groups: Vec<SyncGroup>,
    /// `[[track_file]]`: files holding a weight, watched with inotify.
    #[serde(
        rename = "track_file",
        default,
        deserialize_with = "serde_util::or_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub track_files: Vec<TrackFile>,
    /// `[protocols]`.
    #[serde(default, deserialize_with = "serde_util::or_default")]
    pub protocols: Protocols,
    /// `[api]`; required when `client_api` is set.
    #[serde(default)]
    pub api: Option<ApiConfig>,
    /// Non-fatal remarks found while validating (not a directive).
    #[serde(skip)]
    pub warnings: Vec<ConfigWarning>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            debug: DebugLevel::default(),
            time_zone: TimeZone::default(),
            time_format: TimeFormat::default(),
            pid: defaults::pid(),
            working_dir: defaults::working_dir(),
            main_log: defaults::main_log(),
            dump_file: None,
            error_log: None,
            client_api: None,
            workers: None,
            realtime_priority: None,
            realtime_cpu_limit: None,
            worker_nice: None,
            advert_slots: None,
            tx_path: TxPath::default(),
            notify_fifo: None,
            notify_fifo_script: None,
            script_user: None,
            notify_timeout: NotifyTimeout::default(),
            notify_max_running: NotifyMaxRunning::default(),
            vrouters: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            sync_groups: Vec::new(),
            protocols: Protocols::default(),
            api: None,
            warnings: Vec::new(),
        }
    }
}

/// The workers' SCHED_FIFO priority when `realtime_priority` is absent: the lowest, above
/// every normal thread and below the kernel's threaded interrupts.
pub const DEFAULT_REALTIME_PRIORITY: u8 = 1;

/// `realtime_cpu_limit` when absent. A worker's longest legitimate run without sleeping
/// (thousands of groups starting or taking over in one turn) is tens of milliseconds.
pub const DEFAULT_REALTIME_CPU_LIMIT: std::time::Duration = std::time::Duration::from_millis(500);

impl Config {
    /// Reads and validates the configuration file at `path`.
    ///
    /// With `format = None` the format is detected (see [`Format::detect`]).
    pub fn load(path: &Path, format: Option<Format>) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let format = format.unwrap_or_else(|| Format::detect(Some(path), &text));
        parse::parse(&text, format, &path.display().to_string())
    }

    /// Parses and validates configuration text; `origin_name` names it in errors (usually the
    /// file path). With `format = None` the format is detected from the content.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(
        text: &str,
        format: Option<Format>,
        origin_name: &str,
    ) -> Result<Config, ConfigError> {
        let format = format.unwrap_or_else(|| Format::detect(None, text));
        parse::parse(text, format, origin_name)
    }

    /// Validates a configuration changed in memory (e.g. a vrouter added through the API)
    /// with the same rules as a file; errors name the directive (there is no line).
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        let locator = locate::Locator::new("", Format::Toml);
        validate::validate(self, "running configuration", &locator)
    }

    /// The `[[protocols.static]]` routes.
    pub fn static_routes(&self) -> &[StaticRoute] {
        &self.protocols.static_routes
    }

    /// Where SIGUSR1 writes the running state (`dump_file`, else [`DEFAULT_DUMP_FILE`]).
    pub fn dump_path(&self) -> &Path {
        self.dump_file
            .as_deref()
            .unwrap_or(Path::new(DEFAULT_DUMP_FILE))
    }

    /// The workers' SCHED_FIFO priority: `realtime_priority`, by default
    /// [`DEFAULT_REALTIME_PRIORITY`]; `None` when set to 0 (normal scheduling).
    pub fn worker_fifo_priority(&self) -> Option<u8> {
        match self.realtime_priority {
            Some(0) => None,
            Some(p) => Some(p),
            None => Some(DEFAULT_REALTIME_PRIORITY),
        }
    }

    /// CPU time a real-time worker may use without sleeping (`realtime_cpu_limit`).
    pub fn realtime_cpu_limit(&self) -> std::time::Duration {
        self.realtime_cpu_limit.map_or(
            DEFAULT_REALTIME_CPU_LIMIT,
            std::time::Duration::from_secs_f64,
        )
    }

    /// Whether the client API is enabled.
    pub fn api_enabled(&self) -> bool {
        self.client_api.is_some() && self.api.is_some()
    }
}

/// Defaults of the general path directives.
mod defaults {
    use std::path::PathBuf;

    use serde::{Deserialize, Deserializer};

    pub(super) fn pid() -> PathBuf {
        PathBuf::from("/var/run/rvrrpd.pid")
    }

    pub(super) fn working_dir() -> PathBuf {
        PathBuf::from("/tmp")
    }

    pub(super) fn main_log() -> PathBuf {
        PathBuf::from("/var/log/rvrrpd.log")
    }

    fn or<'de, D: Deserializer<'de>>(d: D, default: fn() -> PathBuf) -> Result<PathBuf, D::Error> {
        Ok(Option::<PathBuf>::deserialize(d)?.unwrap_or_else(default))
    }

    pub(super) fn or_pid<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        or(d, pid)
    }

    pub(super) fn or_working_dir<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        or(d, working_dir)
    }

    pub(super) fn or_main_log<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        or(d, main_log)
    }
}
