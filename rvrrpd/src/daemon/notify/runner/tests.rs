//! The runner's queueing with a fake process under tokio's paused clock, and real processes
//! for failures and the timeout kill.

use std::os::unix::process::ExitStatusExt;
use std::sync::Mutex;

use tokio::time::Instant;

use super::*;

#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Start(String, Instant),
    End(String, Instant),
    Killed(String, Instant),
}

/// argv = [name, milliseconds, exit code].
#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Vec<Seen>>>);

struct FakeChild {
    log: Arc<Mutex<Vec<Seen>>>,
    name: String,
    until: Instant,
    code: i32,
    killed: bool,
}

impl Fake {
    fn seen(&self) -> Vec<Seen> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Exec for Fake {
    type Child = FakeChild;

    fn spawn(&self, argv: &[String]) -> io::Result<FakeChild> {
        let ms: u64 = argv[1].parse().map_err(|_| io::ErrorKind::InvalidInput)?;
        self.0
            .lock()
            .map_err(|_| io::ErrorKind::Other)?
            .push(Seen::Start(argv[0].clone(), Instant::now()));
        Ok(FakeChild {
            log: Arc::clone(&self.0),
            name: argv[0].clone(),
            until: Instant::now() + Duration::from_millis(ms),
            code: argv[2].parse().unwrap_or(0),
            killed: false,
        })
    }
}

impl Running for FakeChild {
    #[allow(clippy::manual_async_fn)] // the trait requires the future to be Send
    fn wait(&mut self) -> impl Future<Output = io::Result<ExitStatus>> + Send {
        async move {
            if self.killed {
                return Ok(ExitStatus::from_raw(libc::SIGKILL));
            }
            tokio::time::sleep_until(self.until).await;
            if let Ok(mut log) = self.log.lock() {
                log.push(Seen::End(self.name.clone(), Instant::now()));
            }
            Ok(ExitStatus::from_raw(self.code << 8))
        }
    }

    fn kill(&mut self) {
        self.killed = true;
        if let Ok(mut log) = self.log.lock() {
            log.push(Seen::Killed(self.name.clone(), Instant::now()));
        }
    }
}

fn job(name: &str, ms: u64) -> Job {
    Job {
        label: format!("test {name}"),
        argv: vec![name.to_string(), ms.to_string(), "0".to_string()],
    }
}

fn time_of(seen: &[Seen], wanted: &Seen) -> Duration {
    let t0 = match seen.first() {
        Some(Seen::Start(_, t)) => *t,
        _ => panic!("nothing started"),
    };
    for s in seen {
        let same = match (s, wanted) {
            (Seen::Start(a, t), Seen::Start(b, _))
            | (Seen::End(a, t), Seen::End(b, _))
            | (Seen::Killed(a, t), Seen::Killed(b, _))
                if a == b =>
            {
                Some(*t)
            }
            _ => None,
        };
        if let Some(t) = same {
            return t - t0;
        }
    }
    panic!("{wanted:?} not seen in {seen:?}")
}

#[tokio::test(start_paused = true)]
async fn bounded_concurrency_and_per_group_order() {
    let fake = Fake::default();
    let mut runner = Runner::new(fake.clone(), 2, Duration::from_secs(10));
    let t0 = Instant::now();
    for round in 0..2 {
        for group in 0..3 {
            runner.submit(group, vec![job(&format!("g{group}r{round}"), 1000)]);
        }
    }
    runner.idle().await;
    // Six one-second jobs, two at a time: three seconds on the paused clock.
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    let seen = fake.seen();
    let mut running = 0usize;
    let mut most = 0;
    for s in &seen {
        match s {
            Seen::Start(..) => running += 1,
            _ => running -= 1,
        }
        most = most.max(running);
    }
    assert_eq!(most, 2, "{seen:?}");
    for group in 0..3 {
        let first_end = time_of(&seen, &Seen::End(format!("g{group}r0"), t0));
        let second_start = time_of(&seen, &Seen::Start(format!("g{group}r1"), t0));
        assert!(first_end <= second_start, "group {group}: {seen:?}");
    }
    assert_eq!(runner.dropped(), 0);
}

#[tokio::test(start_paused = true)]
async fn scripts_of_one_transition_run_in_order() {
    let fake = Fake::default();
    let mut runner = Runner::new(fake.clone(), 8, Duration::from_secs(10));
    runner.submit(7, vec![job("specific", 500), job("notify", 10)]);
    runner.submit(7, vec![job("next", 10)]);
    runner.idle().await;
    let names: Vec<String> = fake
        .seen()
        .into_iter()
        .filter_map(|s| match s {
            Seen::Start(n, _) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["specific", "notify", "next"]);
}

#[tokio::test(start_paused = true)]
async fn a_script_past_its_timeout_is_killed_and_the_queue_moves_on() {
    let fake = Fake::default();
    let mut runner = Runner::new(fake.clone(), 1, Duration::from_secs(5));
    runner.submit(1, vec![job("slow", 100_000)]);
    runner.submit(1, vec![job("after", 10)]);
    runner.idle().await;
    let seen = fake.seen();
    let t0 = Instant::now();
    assert_eq!(
        time_of(&seen, &Seen::Killed("slow".into(), t0)),
        Duration::from_secs(5)
    );
    assert_eq!(
        time_of(&seen, &Seen::Start("after".into(), t0)),
        Duration::from_secs(5)
    );
    assert!(!seen.contains(&Seen::End("slow".into(), t0)));
}

#[tokio::test(start_paused = true)]
async fn a_full_group_queue_drops_new_transitions() {
    let fake = Fake::default();
    let mut runner = Runner::new(fake.clone(), 4, Duration::from_secs(60));
    // No await in between: the group's task has not taken any yet.
    for i in 0..100 {
        runner.submit(3, vec![job(&format!("t{i}"), 1)]);
    }
    assert_eq!(runner.dropped(), 100 - QUEUE_PER_GROUP as u64);
    // Another group is not affected.
    runner.submit(4, vec![job("other", 1)]);
    assert_eq!(runner.dropped(), 100 - QUEUE_PER_GROUP as u64);
    runner.idle().await;
    let started = fake
        .seen()
        .iter()
        .filter(|s| matches!(s, Seen::Start(..)))
        .count();
    assert_eq!(started, QUEUE_PER_GROUP + 1);
}

fn sh(script: &str) -> Job {
    Job {
        label: "test".into(),
        argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
    }
}

#[tokio::test]
async fn real_processes_report_failures_and_timeouts() {
    let exec = ProcessExec { user: None };
    let long = Duration::from_secs(20);
    assert_eq!(run(&exec, &sh("exit 0"), long).await, Outcome::Success);
    match run(&exec, &sh("exit 3"), long).await {
        Outcome::Failed(status) => assert_eq!(status.code(), Some(3)),
        other => panic!("{other:?}"),
    }
    let missing = Job {
        label: "test".into(),
        argv: vec!["/nonexistent/script".into()],
    };
    assert_eq!(run(&exec, &missing, long).await, Outcome::NotRun);

    // The shell and the sleep it started are both killed.
    let marker = std::env::temp_dir().join(format!("rvrrpd-runner-{}", std::process::id()));
    let script = format!("sleep 30 & echo $! > {}; wait", marker.display());
    let started = std::time::Instant::now();
    assert_eq!(
        run(&exec, &sh(&script), Duration::from_millis(500)).await,
        Outcome::TimedOut
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let pid: i32 = std::fs::read_to_string(&marker)
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("sleep's pid: {e}"));
    let _ = std::fs::remove_file(&marker);
    // Killed: gone, or a zombie waiting for whoever reaps orphans.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
        if stat.is_empty() || state == Some('Z') {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the script's child {pid} survived the timeout: {stat}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_closed_queue_finishes_its_jobs() {
    let fake = Fake::default();
    let mut runner = Runner::new(fake.clone(), 2, Duration::from_secs(10));
    runner.submit(5, vec![job("stop", 100), job("notify", 100)]);
    runner.close(5);
    runner.submit(5, vec![job("again", 1)]);
    runner.idle().await;
    let ends = fake
        .seen()
        .iter()
        .filter(|s| matches!(s, Seen::End(..)))
        .count();
    assert_eq!(ends, 3);
}
