//! Running notify scripts: directly (no shell), a bounded number at once, each group's in the
//! order of its transitions, killed (with their process group) after the timeout.
//!
//! Every group gets a queue of at most [`QUEUE_PER_GROUP`] transitions and a task draining
//! it; the tasks share a semaphore of `notify_max_running` permits. A transition arriving at a
//! full queue is dropped with a warning: a script that hangs until its timeout on a flapping
//! group cannot grow memory without bound. How processes are started is the [`Exec`] trait,
//! so the queueing is tested with a fake under tokio's paused clock.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Semaphore};
use tracing::{debug, warn};

/// Transitions that may wait per group (each with its scripts) before new ones are dropped.
pub const QUEUE_PER_GROUP: usize = 64;

/// One command to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// What it is, for the log (`vrouter "gw" notify_master`).
    pub label: String,
    /// Program and arguments.
    pub argv: Vec<String>,
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exited with status 0.
    Success,
    /// Exited otherwise, or was killed by a signal.
    Failed(ExitStatus),
    /// Ran past the timeout and was killed.
    TimedOut,
    /// Could not be started (or waited for).
    NotRun,
}

/// Starts processes.
pub trait Exec: Send + Sync + 'static {
    /// A started process.
    type Child: Running;
    /// Starts `argv`.
    fn spawn(&self, argv: &[String]) -> io::Result<Self::Child>;
}

/// A started process.
pub trait Running: Send + 'static {
    /// Waits for it to end.
    fn wait(&mut self) -> impl Future<Output = io::Result<ExitStatus>> + Send;
    /// Kills it and whatever it started (its process group).
    fn kill(&mut self);
}

/// Real processes, as `user` (uid, gid) when given.
pub struct ProcessExec {
    /// `script_user`, resolved.
    pub user: Option<(u32, u32)>,
}

/// The command for `argv` (never empty): no shell, stdio on /dev/null, working directory `/`,
/// its own process group (so a timeout kills what it started too), as `user` when given.
pub fn command(argv: &[String], user: Option<(u32, u32)>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir("/")
        .process_group(0);
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

impl Exec for ProcessExec {
    type Child = tokio::process::Child;

    fn spawn(&self, argv: &[String]) -> io::Result<Self::Child> {
        command(argv, self.user).kill_on_drop(true).spawn()
    }
}

impl Running for tokio::process::Child {
    fn wait(&mut self) -> impl Future<Output = io::Result<ExitStatus>> + Send {
        tokio::process::Child::wait(self)
    }

    fn kill(&mut self) {
        if let Some(pid) = self.id().and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: plain syscall; the group is the child's own (`process_group(0)`).
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
}

/// The script runner.
pub struct Runner<E: Exec> {
    exec: Arc<E>,
    permits: Arc<Semaphore>,
    timeout: Duration,
    queues: HashMap<usize, mpsc::Sender<Vec<Job>>>,
    /// Transitions queued or running.
    pending: Arc<watch::Sender<usize>>,
    dropped: u64,
}

impl<E: Exec> Runner<E> {
    /// A runner starting processes with `exec`, `max_running` at once, each for at most
    /// `timeout`.
    pub fn new(exec: E, max_running: usize, timeout: Duration) -> Self {
        Self {
            exec: Arc::new(exec),
            permits: Arc::new(Semaphore::new(max_running.max(1))),
            timeout,
            queues: HashMap::new(),
            pending: Arc::new(watch::channel(0).0),
            dropped: 0,
        }
    }

    /// Queues the jobs of one transition of `group`; they run in order, after the group's
    /// earlier ones. Never waits (must be called inside a tokio runtime).
    pub fn submit(&mut self, group: usize, jobs: Vec<Job>) {
        let queue = self.queues.entry(group).or_insert_with(|| {
            self::spawn_queue(&self.exec, &self.permits, &self.pending, self.timeout)
        });
        self.pending.send_modify(|n| *n += 1);
        let jobs = match queue.try_send(jobs) {
            // The group's task is gone (it cannot panic, but be safe): a new one.
            Err(mpsc::error::TrySendError::Closed(jobs)) => {
                *queue = spawn_queue(&self.exec, &self.permits, &self.pending, self.timeout);
                queue.try_send(jobs)
            }
            other => other,
        };
        match jobs {
            Ok(()) => {}
            Err(e) => {
                self.pending.send_modify(|n| *n -= 1);
                self.dropped += 1;
                let labels: Vec<String> = match e {
                    mpsc::error::TrySendError::Full(jobs)
                    | mpsc::error::TrySendError::Closed(jobs) => {
                        jobs.into_iter().map(|j| j.label).collect()
                    }
                };
                warn!(
                    "notify: {QUEUE_PER_GROUP} transitions of this vrouter already wait for their scripts: not running {}",
                    labels.join(", ")
                );
            }
        }
    }

    /// Forgets `group`'s queue (it stopped): its task runs what is queued, then ends.
    pub fn close(&mut self, group: usize) {
        self.queues.remove(&group);
    }

    /// Transitions whose scripts were dropped because their group's queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Resolves when nothing is queued or running.
    pub fn idle(&self) -> impl Future<Output = ()> + 'static {
        let mut rx = self.pending.subscribe();
        async move {
            let _ = rx.wait_for(|n| *n == 0).await;
        }
    }
}

fn spawn_queue<E: Exec>(
    exec: &Arc<E>,
    permits: &Arc<Semaphore>,
    pending: &Arc<watch::Sender<usize>>,
    timeout: Duration,
) -> mpsc::Sender<Vec<Job>> {
    let (tx, mut rx) = mpsc::channel::<Vec<Job>>(QUEUE_PER_GROUP);
    let (exec, permits, pending) = (Arc::clone(exec), Arc::clone(permits), Arc::clone(pending));
    tokio::spawn(async move {
        while let Some(jobs) = rx.recv().await {
            for job in jobs {
                let Ok(_permit) = permits.acquire().await else {
                    return;
                };
                run(&*exec, &job, timeout).await;
            }
            pending.send_modify(|n| *n = n.saturating_sub(1));
        }
    });
    tx
}

/// Runs one job to its end or its timeout, and logs how it ended.
pub async fn run<E: Exec>(exec: &E, job: &Job, timeout: Duration) -> Outcome {
    let shown = job.argv.join(" ");
    let mut child = match exec.spawn(&job.argv) {
        Ok(child) => child,
        Err(e) => {
            warn!("{} {shown:?}: cannot start: {e}", job.label);
            return Outcome::NotRun;
        }
    };
    let status = tokio::time::timeout(timeout, child.wait()).await;
    match status {
        Ok(Ok(status)) if status.success() => {
            debug!("{} {shown:?}: done", job.label);
            Outcome::Success
        }
        Ok(Ok(status)) => {
            warn!("{} {shown:?} failed: {status}", job.label);
            Outcome::Failed(status)
        }
        Ok(Err(e)) => {
            warn!("{} {shown:?}: waiting for it: {e}", job.label);
            Outcome::NotRun
        }
        Err(_) => {
            child.kill();
            let _ = child.wait().await;
            warn!(
                "{} {shown:?} did not finish in {:.1} s (notify_timeout): killed",
                job.label,
                timeout.as_secs_f64()
            );
            Outcome::TimedOut
        }
    }
}

#[cfg(test)]
mod tests;
