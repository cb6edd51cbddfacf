//! How the worker threads are scheduled.
//!
//! By default they run `SCHED_FIFO` at priority 1: a takeover advert then never waits for a
//! CPU behind ordinary load (with 4 busy loops on 2 cores a nice −10 worker waited ms for
//! EEVDF to run it; docs/performance.md findings 10 and 13). The risk of real-time threads is
//! a worker that never sleeps; so the soft `RLIMIT_RTTIME` is set to `realtime_cpu_limit`
//! and when the kernel reports (SIGXCPU) that a worker used that much CPU without sleeping,
//! every worker drops back to the normal policy with `worker_nice`. The cap demotes, it never
//! kills the daemon (keepalived's `vrrp_rlimit_rttime` SIGKILLs its VRRP process; finding 5).
//! Without the cap (the limit cannot be set, or SIGXCPU cannot be handled) no worker runs
//! real-time. `realtime_priority = 0` asks for the normal policy from the start.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tracing::{info, warn};

use crate::config::Config;
use crate::net::sched;

/// The workers' nice value when the configuration sets none.
const DEFAULT_WORKER_NICE: i8 = -10;

/// One worker thread as the scheduling sees it (written by the thread when it starts).
#[derive(Debug, Default)]
pub(super) struct WorkerThread {
    tid: AtomicI32,
    fifo: AtomicBool,
}

/// What a worker thread applies to itself when it starts.
#[derive(Debug, Clone)]
pub(super) struct ThreadPlan {
    fifo: Option<u8>,
    nice: i8,
    thread: Arc<WorkerThread>,
}

#[derive(Debug, Clone, PartialEq)]
enum Mode {
    /// Real-time, with the CPU cap in force.
    Fifo { priority: u8, cap: Duration },
    /// Normal policy, and why.
    Normal { why: String },
}

/// The workers' scheduling policy, its cap and its fallback.
#[derive(Debug)]
pub(super) struct WorkerScheduling {
    mode: Mode,
    nice: i8,
    threads: Vec<Arc<WorkerThread>>,
}

impl WorkerScheduling {
    /// The policy `config` asks for; nothing is applied yet (see [`arm`](Self::arm)).
    pub(super) fn new(config: &Config) -> Self {
        let nice = config.worker_nice.unwrap_or(DEFAULT_WORKER_NICE);
        let mode = match config.worker_fifo_priority() {
            Some(priority) => Mode::Fifo {
                priority,
                cap: config.realtime_cpu_limit(),
            },
            None => Mode::Normal {
                why: "realtime_priority = 0".into(),
            },
        };
        WorkerScheduling {
            mode,
            nice,
            threads: Vec::new(),
        }
    }

    /// Before any worker starts: handles SIGXCPU, then sets the cap. Returns the signal
    /// stream to poll (`None` when the workers will not run real-time).
    pub(super) fn arm(&mut self) -> Option<Signal> {
        let Mode::Fifo { priority, cap } = self.mode.clone() else {
            return None;
        };
        // The handler first: SIGXCPU's default action kills the process.
        let stream = match signal(SignalKind::from_raw(libc::SIGXCPU)) {
            Ok(s) => s,
            Err(e) => {
                self.fall_back(priority, format!("no SIGXCPU handler: {e}"));
                return None;
            }
        };
        match sched::cap_realtime_cpu(cap) {
            Ok(cap) if !cap.is_zero() => {
                self.mode = Mode::Fifo { priority, cap };
                Some(stream)
            }
            Ok(_) => {
                self.fall_back(priority, "the hard RLIMIT_RTTIME is 0".into());
                None
            }
            Err(e) => {
                self.fall_back(priority, format!("no CPU cap: {e}"));
                None
            }
        }
    }

    fn fall_back(&mut self, priority: u8, why: String) {
        warn!(
            "workers: not using SCHED_FIFO {priority} ({why}); nice {} instead",
            self.nice
        );
        self.mode = Mode::Normal {
            why: format!("SCHED_FIFO {priority} not used: {why}"),
        };
    }

    /// What the next worker thread applies to itself.
    pub(super) fn plan_thread(&mut self) -> ThreadPlan {
        let thread = Arc::new(WorkerThread::default());
        self.threads.push(thread.clone());
        ThreadPlan {
            fifo: match self.mode {
                Mode::Fifo { priority, .. } => Some(priority),
                Mode::Normal { .. } => None,
            },
            nice: self.nice,
            thread,
        }
    }

    /// SIGXCPU: a real-time worker used the cap without sleeping. Every worker goes back to
    /// the normal policy (the signal does not say which thread it was).
    pub(super) fn demote(&mut self) {
        let Mode::Fifo { priority, cap } = self.mode.clone() else {
            return;
        };
        warn!(
            "SIGXCPU: a worker ran {} ms without sleeping under SCHED_FIFO {priority}; \
             every worker now runs at nice {} (until restart)",
            cap.as_millis(),
            self.nice
        );
        for t in &self.threads {
            let tid = t.tid.load(Ordering::Acquire);
            if tid <= 0 {
                continue;
            }
            match sched::set_normal_policy_of(tid, i32::from(self.nice)) {
                Ok(()) => t.fifo.store(false, Ordering::Release),
                Err(e) => warn!("worker thread {tid}: {e}"),
            }
        }
        self.mode = Mode::Normal {
            why: format!(
                "SCHED_FIFO {priority} dropped after SIGXCPU: a worker ran {} ms without sleeping",
                cap.as_millis()
            ),
        };
    }

    /// One line for the API and the logs, e.g. `SCHED_FIFO 1, capped at 500 ms of CPU
    /// without sleeping` or `nice -10 (realtime_priority = 0)`.
    pub(super) fn describe(&self) -> String {
        let started: Vec<&Arc<WorkerThread>> = self
            .threads
            .iter()
            .filter(|t| t.tid.load(Ordering::Acquire) > 0)
            .collect();
        let fifo = started
            .iter()
            .filter(|t| t.fifo.load(Ordering::Acquire))
            .count();
        match &self.mode {
            Mode::Fifo { priority, cap } if fifo == started.len() => format!(
                "SCHED_FIFO {priority}, capped at {} ms of CPU without sleeping",
                cap.as_millis()
            ),
            Mode::Fifo { priority, .. } => format!(
                "SCHED_FIFO {priority} on {fifo} of {} workers, nice {} on the others \
                 (refused, see the log)",
                started.len(),
                self.nice
            ),
            Mode::Normal { why } => format!("nice {} ({why})", self.nice),
        }
    }
}

/// Runs in a new worker thread: pins worker `id` to a CPU of its own (round-robin over the
/// CPUs we may use) and applies `plan`. Failures are logged: an unpinned worker, or one at
/// nice instead of real-time, still works.
pub(super) fn prepare_worker_thread(id: usize, plan: &ThreadPlan) {
    let cpus = sched::available_cpus().max(1);
    if let Err(e) = sched::pin_thread_to_cpu(id % cpus) {
        warn!("worker {id}: pinning to CPU {}: {e}", id % cpus);
    }
    let fifo = match plan.fifo {
        Some(p) => match sched::set_realtime_priority(i32::from(p)) {
            Ok(()) => {
                info!("worker {id}: SCHED_FIFO priority {p}");
                true
            }
            Err(e) => {
                warn!(
                    "worker {id}: realtime priority {p}: {e}; nice {} instead",
                    plan.nice
                );
                false
            }
        },
        None => false,
    };
    if !fifo && plan.nice != 0 {
        if let Err(e) = sched::set_thread_nice(i32::from(plan.nice)) {
            warn!("worker {id}: nice {}: {e}", plan.nice);
        }
    }
    plan.thread.fifo.store(fifo, Ordering::Release);
    plan.thread
        .tid
        .store(sched::current_thread_id(), Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        Config::from_str(extra, Some(crate::config::Format::Toml), "test").unwrap()
    }

    #[test]
    fn the_default_is_capped_fifo_priority_1() {
        let s = WorkerScheduling::new(&config(""));
        assert_eq!(
            s.mode,
            Mode::Fifo {
                priority: 1,
                cap: Duration::from_millis(500)
            }
        );
        let s = WorkerScheduling::new(&config(
            "realtime_priority = 20\nrealtime_cpu_limit = 0.05\n",
        ));
        assert_eq!(
            s.mode,
            Mode::Fifo {
                priority: 20,
                cap: Duration::from_millis(50)
            }
        );
    }

    #[test]
    fn priority_0_means_normal_scheduling_with_worker_nice() {
        let mut s = WorkerScheduling::new(&config("realtime_priority = 0\nworker_nice = -5\n"));
        assert!(s.arm().is_none());
        let plan = s.plan_thread();
        assert_eq!((plan.fifo, plan.nice), (None, -5));
        assert_eq!(s.describe(), "nice -5 (realtime_priority = 0)");
    }

    #[test]
    fn demotion_reports_why_and_later_threads_are_not_real_time() {
        let mut s = WorkerScheduling::new(&config(""));
        let plan = s.plan_thread();
        assert_eq!(plan.fifo, Some(1));
        // A started real-time thread (no real tid: demotion skips threads not started).
        plan.thread.fifo.store(true, Ordering::Release);
        s.demote();
        assert!(s
            .describe()
            .starts_with("nice -10 (SCHED_FIFO 1 dropped after SIGXCPU"));
        assert_eq!(s.plan_thread().fifo, None);
    }
}
