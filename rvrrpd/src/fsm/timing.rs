//! The RFC timer arithmetic: Skew_Time and Master_Down_Interval.
//!
//! Everything is computed in integer microseconds and **rounded down** (truncated) to the
//! microsecond, like keepalived does. Example (v3, priority 100, Master_Adver_Interval
//! 100 ms): Skew_Time = 156 × 100 000 µs / 256 = 60 937.5 µs → 60 937 µs, so
//! Master_Down_Interval = 300 000 + 60 937 = 360 937 µs. The error is below 1 µs and never
//! makes two priorities collapse onto the same skew (one priority step is at least
//! 10 ms / 256 ≈ 39 µs).

use std::time::Duration;

use super::params::Version;

/// Skew_Time for `priority` given the current Master_Adver_Interval.
///
/// * v3 (RFC 5798 §6.1): `((256 − Priority) × Master_Adver_Interval) / 256`.
/// * v2 (RFC 3768 §6.1): `(256 − Priority) / 256` seconds, whatever the interval.
pub fn skew_time(version: Version, priority: u8, master_adver_interval: Duration) -> Duration {
    let weight = 256 - u128::from(priority);
    let base_us = match version {
        Version::V2 => 1_000_000,
        Version::V3 => master_adver_interval.as_micros(),
    };
    micros(base_us * weight / 256)
}

/// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_interval: Duration,
) -> Duration {
    let three = micros(master_adver_interval.as_micros() * 3);
    three + skew_time(version, priority, master_adver_interval)
}

fn micros(us: u128) -> Duration {
    Duration::from_micros(us.min(u128::from(u64::MAX)) as u64)
}

/// Converts an advert's Max Advert Interval (centiseconds) into a duration.
pub fn from_centis(cs: u16) -> Duration {
    Duration::from_millis(u64::from(cs) * 10)
}
