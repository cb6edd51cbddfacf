//! Criterion measurement shared by the benches: thread CPU time instead of wall time.

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

// Thread CPU time instead of wall time: the machine is shared, and a core's capacity is what
// these numbers are about. Time the thread spends descheduled is not counted.

/// Criterion measurement: CPU time of the benchmarking thread (`CLOCK_THREAD_CPUTIME_ID`).
pub struct ThreadCpuTime;

static WALL: WallTime = WallTime;

/// CPU time of the calling thread.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux supports.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu()
    }

    fn end(&self, start: Duration) -> Duration {
        thread_cpu().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}
