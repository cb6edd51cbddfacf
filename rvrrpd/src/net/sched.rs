//! Worker thread placement: CPU pinning and realtime scheduling (calling thread only).

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
    sys::set_thread_nice(nice).ctx(|| format!("setting nice {nice}"))
}

/// Number of CPUs available to this process.
pub fn available_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
