//! Bounded polling waits.

use std::time::{Duration, Instant};

use crate::error::{LabError, Result};

/// Polls `cond` every `poll` until it is true; returns the time it took, or a timeout error
/// naming `what`.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    poll: Duration,
    mut cond: impl FnMut() -> bool,
) -> Result<Duration> {
    wait_for(what, timeout, poll, || cond().then_some(())).map(|((), d)| d)
}

/// Polls `f` every `poll` until it yields a value; returns it with the time it took.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    poll: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Result<(T, Duration)> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Ok((v, start.elapsed()));
        }
        if start.elapsed() >= timeout {
            return Err(LabError::Timeout {
                what: what.to_string(),
                after: timeout,
            });
        }
        std::thread::sleep(poll);
    }
}

/// Sleeps for `secs` seconds (fractional).
pub fn sleep_secs(secs: f64) {
    std::thread::sleep(Duration::from_secs_f64(secs));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_times_out_and_succeeds() {
        let ms = Duration::from_millis(1);
        assert!(wait_until("never", Duration::from_millis(20), ms, || false).is_err());
        let mut n = 0;
        assert!(wait_until("third", Duration::from_secs(1), ms, || {
            n += 1;
            n >= 3
        })
        .is_ok());
    }
}
