//! Logging set-up: `tracing` with the original's verbosity levels and timestamp directives.

use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::macros::format_description;
use time::UtcOffset;
use tracing_subscriber::fmt::time::OffsetTime;
use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::EnvFilter;

/// Timestamp settings (`time_zone`, `time_format` directives).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeStyle {
    /// `time_zone = "utc"`; local time otherwise.
    pub utc: bool,
    /// `time_format`: `disabled` (RFC 3339), `short` or `rfc2822`.
    pub format: TimeFormat,
}

/// The `time_format` directive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeFormat {
    /// Default format (RFC 3339 with microseconds).
    #[default]
    Default,
    /// `HH:MM:SS.mmm`.
    Short,
    /// RFC 2822.
    Rfc2822,
}

/// Maps the original's debug levels (0 info, 1 low, 2 medium, 3 high, 5 extensive) to filters.
pub fn level_filter(debug: u8) -> &'static str {
    match debug {
        0 => "info",
        1 | 2 => "debug",
        _ => "trace",
    }
}

/// Installs the global subscriber. `RUST_LOG` overrides the level when set. Safe to call once;
/// later calls are ignored. Must run before threads start (the local UTC offset is read here).
pub fn init(debug: u8, style: Option<TimeStyle>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{0},netlink_packet_route=error,netlink_proto=error,rtnetlink=error",
            level_filter(debug)
        ))
    });
    let style = style.unwrap_or_default();
    let offset = if style.utc {
        UtcOffset::UTC
    } else {
        UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC)
    };
    // Warnings and errors on stderr (→ error_log in daemon mode), the rest on stdout
    // (→ main_log), as the original split them.
    let writer = std::io::stderr
        .with_max_level(tracing::Level::WARN)
        .or_else(std::io::stdout);
    let builder = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_env_filter(filter)
        .with_target(debug >= 3)
        .with_ansi(false);
    // try_init: a second initialisation (tests, sniffer then daemon) is not an error.
    let _ = match style.format {
        TimeFormat::Default => builder
            .with_timer(OffsetTime::new(offset, Rfc3339))
            .try_init(),
        TimeFormat::Short => builder
            .with_timer(OffsetTime::new(
                offset,
                format_description!("[hour]:[minute]:[second].[subsecond digits:3]"),
            ))
            .try_init(),
        TimeFormat::Rfc2822 => builder
            .with_timer(OffsetTime::new(offset, Rfc2822))
            .try_init(),
    };
}
