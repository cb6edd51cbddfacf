//! Worker thread placement: CPU pinning and scheduling policy (real-time with a CPU-time
//! cap, or a nice value).

use std::time::Duration;

use super::error::IoContext;
use super::{sys, NetResult};

/// Pins the calling thread to `cpu` (`sched_setaffinity`).
pub fn pin_thread_to_cpu(cpu: usize) -> NetResult<()> {
    sys::pin_to_cpu(cpu).ctx(|| format!("pinning thread to CPU {cpu}"))
}

/// Gives the calling thread the `SCHED_FIFO` policy with `priority` (1..=99). Needs
/// `CAP_SYS_NICE`; callers usually log and continue on error.
pub fn set_realtime_priority(priority: i32) -> NetResult<()> {
    sys::set_fifo(priority).ctx(|| format!("setting SCHED_FIFO priority {priority}"))
}

/// Sets the calling thread's nice value (`setpriority` on its thread id). Lowering it needs
/// `CAP_SYS_NICE`.
pub fn set_thread_nice(nice: i32) -> NetResult<()> {
    set_nice_of(current_thread_id(), nice)
}

/// Sets thread `tid`'s nice value.
pub fn set_nice_of(tid: i32, nice: i32) -> NetResult<()> {
    sys::set_nice_of(tid, nice).ctx(|| format!("setting nice {nice} of thread {tid}"))
}

/// Moves thread `tid` (of this process) back to the normal policy with nice `nice`.
pub fn set_normal_policy_of(tid: i32, nice: i32) -> NetResult<()> {
    sys::set_normal_policy_of(tid, nice)
        .ctx(|| format!("moving thread {tid} to SCHED_OTHER, nice {nice}"))
}

/// The calling thread's id, as the scheduling calls above take it.
pub fn current_thread_id() -> i32 {
    sys::gettid()
}

/// Caps the CPU time a real-time thread of this process may use without sleeping: past
/// `limit` the kernel sends the process SIGXCPU (the soft `RLIMIT_RTTIME`; the hard limit is
/// left alone). Returns the cap in force (lower when the hard limit is lower). The caller
/// must handle SIGXCPU *before* calling this: its default action kills the process.
pub fn cap_realtime_cpu(limit: Duration) -> NetResult<Duration> {
    let usec = u64::try_from(limit.as_micros()).unwrap_or(u64::MAX);
    sys::set_rttime_soft(usec)
        .map(Duration::from_micros)
        .ctx(|| format!("setting RLIMIT_RTTIME to {} µs", usec))
}

/// Number of CPUs available to this process.
pub fn available_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
