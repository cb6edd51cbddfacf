//! RFC timer formulas, to compare measurements against.

use std::time::Duration;

/// Skew_Time: v2 (RFC 3768) `(256 - p) / 256` s; v3 (RFC 5798) `((256 - p) × interval) / 256`.
pub fn skew_time(version: u8, priority: u8, interval: Duration) -> Duration {
    let f = f64::from(256 - u32::from(priority)) / 256.0;
    if version == 2 {
        Duration::from_secs_f64(f)
    } else {
        interval.mul_f64(f)
    }
}

/// Master_Down_Interval = 3 × interval + Skew_Time.
pub fn master_down_interval(version: u8, priority: u8, interval: Duration) -> Duration {
    interval * 3 + skew_time(version, priority, interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas() {
        let one = Duration::from_secs(1);
        assert_eq!(skew_time(2, 100, one).as_millis(), 609);
        assert_eq!(master_down_interval(2, 100, one).as_millis(), 3609);
        let cs10 = Duration::from_millis(100);
        assert_eq!(master_down_interval(3, 100, cs10).as_micros(), 360_937);
    }
}
