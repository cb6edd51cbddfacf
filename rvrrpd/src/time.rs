//! Virtual-time friendly timestamps for the sans-IO core.
//!
//! The protocol core never reads a clock: drivers convert their monotonic clock into an
//! [`Instant`] (microseconds since an arbitrary epoch) and pass it in. Tests simply build
//! instants from numbers.

use core::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// A monotonic point in time, in microseconds since an arbitrary epoch chosen by the driver.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant(0);

    /// An instant `us` microseconds after the epoch.
    pub const fn from_micros(us: u64) -> Self {
        Instant(us)
    }

    /// An instant `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms * 1000)
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(
            self.0
                .saturating_add(d.as_micros().min(u64::MAX as u128) as u64),
        )
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_since(rhs)
    }
}

/// A driver-side clock that maps `std::time::Instant` onto [`Instant`].
#[derive(Clone, Copy, Debug)]
pub struct MonotonicClock {
    origin: std::time::Instant,
}

impl MonotonicClock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        MonotonicClock {
            origin: std::time::Instant::now(),
        }
    }

    /// The current time on this clock.
    pub fn now(&self) -> Instant {
        Instant(self.origin.elapsed().as_micros() as u64)
    }

    /// Converts a core instant back to a `std` instant (for sleeping until it).
    pub fn to_std(&self, t: Instant) -> std::time::Instant {
        self.origin + Duration::from_micros(t.0)
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let a = Instant::from_millis(5);
        assert_eq!(a + Duration::from_millis(1), Instant::from_micros(6000));
        assert_eq!(Instant::ZERO - a, Duration::ZERO);
        assert_eq!(a - Instant::ZERO, Duration::from_millis(5));
    }
}
