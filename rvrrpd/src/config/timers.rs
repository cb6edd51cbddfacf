//! Time values of a virtual router: `timers = { advert = N }`, `garp_interval`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::serde_util::{or_default, value_error};

/// `timers = { advert = N }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timers {
    /// Advertisement interval (default 1 s).
    #[serde(default, deserialize_with = "or_default")]
    pub advert: AdvertInterval,
}

/// Advertisement interval in centiseconds, written in the configuration as seconds.
///
/// Parsing only checks it is a positive multiple of 0.01 s up to 255 s; the limits of the
/// chosen VRRP version (v2: whole seconds 1–255, v3: 0.01–40.95 s) are checked afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct AdvertInterval(u16);

impl AdvertInterval {
    /// One second, the default.
    pub const DEFAULT: Self = Self(100);

    /// From centiseconds.
    pub fn from_centis(centis: u16) -> Self {
        Self(centis)
    }

    /// In centiseconds (the VRRPv3 wire unit).
    pub fn centis(self) -> u16 {
        self.0
    }

    /// Whole seconds when the interval is a whole number of seconds (the VRRPv2 wire unit).
    pub fn whole_seconds(self) -> Option<u16> {
        (self.0 % 100 == 0).then_some(self.0 / 100)
    }

    /// As a duration.
    pub fn as_duration(self) -> Duration {
        Duration::from_millis(u64::from(self.0) * 10)
    }
}

impl Default for AdvertInterval {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TryFrom<f64> for AdvertInterval {
    type Error = String;

    fn try_from(seconds: f64) -> Result<Self, Self::Error> {
        let centis = (seconds * 100.0).round();
        if !(1.0..=25500.0).contains(&centis) || (seconds * 100.0 - centis).abs() > 1e-6 {
            return Err(value_error(
                seconds,
                "is not a valid advertisement interval (seconds, a multiple of 0.01 between 0.01 and 255)",
            ));
        }
        // Checked above: 1 ≤ centis ≤ 25500.
        Ok(Self(centis as u16))
    }
}

impl From<AdvertInterval> for f64 {
    fn from(interval: AdvertInterval) -> f64 {
        f64::from(interval.0) / 100.0
    }
}

impl fmt::Display for AdvertInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.whole_seconds() {
            Some(s) => write!(f, "{s}"),
            None => write!(f, "{}.{:02}", self.0 / 100, self.0 % 100),
        }
    }
}

/// Delay between repeated gratuitous ARPs / unsolicited neighbour advertisements (`garp_interval`),
/// in seconds with millisecond precision, 0–60 (default 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct GarpInterval(u32);

impl GarpInterval {
    /// As a duration.
    pub fn as_duration(self) -> Duration {
        Duration::from_millis(u64::from(self.0))
    }
}

impl Default for GarpInterval {
    fn default() -> Self {
        Self(1000)
    }
}

impl TryFrom<f64> for GarpInterval {
    type Error = String;

    fn try_from(seconds: f64) -> Result<Self, Self::Error> {
        let millis = (seconds * 1000.0).round();
        if !(0.0..=60_000.0).contains(&millis) || (seconds * 1000.0 - millis).abs() > 1e-6 {
            return Err(value_error(
                seconds,
                "is not a valid announcement interval (seconds, 0 to 60, at most millisecond precision)",
            ));
        }
        // Checked above: 0 ≤ millis ≤ 60000.
        Ok(Self(millis as u32))
    }
}

impl From<GarpInterval> for f64 {
    fn from(interval: GarpInterval) -> f64 {
        f64::from(interval.0) / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advert_interval_parses_seconds() {
        assert_eq!(AdvertInterval::try_from(1.0).map(|a| a.centis()), Ok(100));
        assert_eq!(AdvertInterval::try_from(0.01).map(|a| a.centis()), Ok(1));
        assert_eq!(
            AdvertInterval::try_from(40.95).map(|a| a.centis()),
            Ok(4095)
        );
        assert!(AdvertInterval::try_from(0.0).is_err());
        assert!(AdvertInterval::try_from(0.005).is_err());
        assert!(AdvertInterval::try_from(256.0).is_err());
        assert_eq!(AdvertInterval::from_centis(150).to_string(), "1.50");
        assert_eq!(
            AdvertInterval::from_centis(5).as_duration(),
            Duration::from_millis(50)
        );
    }
}
