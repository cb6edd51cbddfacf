//! The workers' scheduling in a real daemon: by default `SCHED_FIFO` priority 1 with the soft
//! `RLIMIT_RTTIME` cap set; SIGXCPU (what the kernel sends when a real-time worker used the
//! cap without sleeping) drops every worker to nice −10 and the daemon goes on advertising;
//! `realtime_priority = 0` runs them at nice from the start. Checked in `/proc` (policy,
//! priority, nice of each worker thread, the process's limits) and in `GET /run/daemon`.

use crate::client::*;
use crate::common::*;
use rvrrpd_lab::config::rvrrpd::{RvrrpdConf, VRouter};
use rvrrpd_lab::{wait_for, Node, Proc, Signal};
use std::time::Duration;

/// (policy, rt_priority, nice) of every worker thread (`rvrrpd-w*`) of `pid`, from
/// `/proc/PID/task/TID/stat` (fields 19, 40 and 41).
fn worker_sched(pid: u32) -> Vec<(u32, u32, i32)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for e in dir.flatten() {
        let base = e.path();
        let comm = std::fs::read_to_string(base.join("comm")).unwrap_or_default();
        if !comm.starts_with("rvrrpd-w") {
            continue;
        }
        let stat = std::fs::read_to_string(base.join("stat")).unwrap_or_default();
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        // f[0] is field 3: nice is field 19, rt_priority 40, policy 41.
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<i64>().ok());
        if let (Some(nice), Some(prio), Some(policy)) = (num(16), num(37), num(38)) {
            out.push((policy as u32, prio as u32, nice as i32));
        }
    }
    out
}

/// The soft "Max realtime timeout" of `pid` (µs), `None` when unlimited.
fn rttime_soft(pid: u32) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max realtime timeout"))?;
    line["Max realtime timeout".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn router(lab: &rvrrpd_lab::Lab, node: &Node, name: &str, general: &[&str]) -> Proc {
    let mut c = RvrrpdConf::new(lab.dir(), name).api(api_section(node));
    for line in general {
        c = c.general(line);
    }
    for vrid in 1..=4u8 {
        c = c.vrouter(
            VRouter::new(vrid, "eth0", format!("10.78.0.{vrid}/32"))
                .priority(200)
                .version(2)
                .advert(1.0),
        );
    }
    start(lab, node, name, &c)
}

fn scheduling_line(api: &Api) -> String {
    let d = api.get("/run/daemon").json();
    d["worker_scheduling"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn workers_run_capped_real_time_by_default_and_sigxcpu_drops_them_to_nice() {
    let lab = lab(1);
    let r1 = lab.router(1).clone();
    let mut p1 = router(&lab, &r1, "r1", &[]);
    let api = Api::new(&lab, &r1);
    wait_api(&api, &[&p1]);
    let api = api.login(RO);
    let pid = p1.pid();

    // Real-time priority 1 on every worker once they run; the cap in the process's limits.
    let fifo = wait_for(
        "every worker SCHED_FIFO 1",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let w = worker_sched(pid);
            (!w.is_empty() && w.iter().all(|&(pol, prio, _)| pol == 1 && prio == 1)).then_some(w)
        },
    );
    let workers = match fifo {
        Ok((w, _)) => w,
        Err(e) => panic!("{e}: {:?}\n{}", worker_sched(pid), diag(&[&p1])),
    };
    assert_eq!(rttime_soft(pid), Some(500_000), "{}", diag(&[&p1]));
    let line = scheduling_line(&api);
    assert_eq!(
        line,
        "SCHED_FIFO 1, capped at 500 ms of CPU without sleeping",
        "{}",
        diag(&[&p1])
    );
    wait_for(
        "every group Master",
        Duration::from_secs(15),
        Duration::from_millis(200),
        || (count_state(&api, "Master") == 4).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", diag(&[&p1])));

    // SIGXCPU, as the kernel sends it past the cap: demoted, not killed.
    p1.signal(Signal::Xcpu).expect("SIGXCPU");
    let demoted = wait_for(
        "every worker back to SCHED_OTHER at nice -10",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let w = worker_sched(pid);
            (w.len() == workers.len() && w.iter().all(|&(pol, _, nice)| pol == 0 && nice == -10))
                .then_some(())
        },
    );
    if let Err(e) = demoted {
        panic!("{e}: {:?}\n{}", worker_sched(pid), diag(&[&p1]));
    }
    assert!(
        p1.is_running(),
        "SIGXCPU killed the daemon\n{}",
        diag(&[&p1])
    );
    let line = scheduling_line(&api);
    assert!(
        line.starts_with("nice -10 (SCHED_FIFO 1 dropped after SIGXCPU"),
        "{line}"
    );
    // Still the Master of every group, a few intervals later.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(count_state(&api, "Master"), 4, "{}", diag(&[&p1]));
    assert!(p1.is_running());
}

#[test]
fn realtime_priority_0_runs_the_workers_at_worker_nice() {
    let lab = lab(1);
    let r1 = lab.router(1).clone();
    let p1 = router(
        &lab,
        &r1,
        "r1",
        &["realtime_priority = 0", "worker_nice = -7"],
    );
    let api = Api::new(&lab, &r1);
    wait_api(&api, &[&p1]);
    let api = api.login(RO);
    let pid = p1.pid();
    let nice = wait_for(
        "every worker SCHED_OTHER at nice -7",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let w = worker_sched(pid);
            (!w.is_empty() && w.iter().all(|&(pol, _, nice)| pol == 0 && nice == -7)).then_some(())
        },
    );
    if let Err(e) = nice {
        panic!("{e}: {:?}\n{}", worker_sched(pid), diag(&[&p1]));
    }
    assert_eq!(rttime_soft(pid), None, "no cap without real-time workers");
    assert_eq!(scheduling_line(&api), "nice -7 (realtime_priority = 0)");
}

fn count_state(api: &Api, state: &str) -> usize {
    let r = api.get("/run/vrrp");
    r.json()
        .as_array()
        .map(|l| l.iter().filter(|g| g["state"] == state).count())
        .unwrap_or(0)
}
