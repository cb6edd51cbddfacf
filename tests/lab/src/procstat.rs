//! CPU time and resident memory of a process group, read from `/proc`.
//!
//! The harness starts every daemon in its own process group ([`crate::Proc`]), so a daemon
//! that forks (keepalived's VRRP child) is measured whole by summing the group's members.

use std::time::Instant;

use crate::error::{io_ctx, Result};

/// Clock ticks per second of `utime` / `stime` in `/proc/PID/stat`.
pub fn clk_tck() -> f64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// The fields of `/proc/PID/stat` the harness uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PidStat {
    /// Process group id.
    pub pgrp: u32,
    /// User + system CPU time, clock ticks (all threads).
    pub ticks: u64,
}

/// Parses the text of `/proc/PID/stat` (the command name may contain spaces and parentheses).
pub fn parse_stat(text: &str) -> Option<PidStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state): pgrp is field 5, utime 14, stime 15.
    let pgrp = f.get(2)?.parse().ok()?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(PidStat {
        pgrp,
        ticks: utime + stime,
    })
}

/// `/proc/PID/stat` of `pid`, if it exists.
pub fn pid_stat(pid: u32) -> Option<PidStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// VmRSS of `pid` in KiB (0 for a kernel thread or a vanished process).
pub fn rss_kib(pid: u32) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Every live pid whose process group is `pgid`.
pub fn group_members(pgid: u32) -> Result<Vec<u32>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").map_err(io_ctx("listing /proc"))? {
        let Ok(e) = e else { continue };
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid_stat(pid).is_some_and(|s| s.pgrp == pgid) {
            v.push(pid);
        }
    }
    v.sort_unstable();
    Ok(v)
}

/// One reading of a process group.
#[derive(Debug, Clone)]
pub struct GroupUsage {
    /// When it was taken.
    pub at: Instant,
    /// Members at that time.
    pub pids: Vec<u32>,
    /// Their summed CPU time, seconds.
    pub cpu_secs: f64,
    /// Their summed VmRSS, KiB.
    pub rss_kib: u64,
}

/// Reads CPU time and RSS of process group `pgid`.
pub fn group_usage(pgid: u32) -> Result<GroupUsage> {
    let pids = group_members(pgid)?;
    let tck = clk_tck();
    let ticks: u64 = pids
        .iter()
        .filter_map(|p| pid_stat(*p))
        .map(|s| s.ticks)
        .sum();
    let rss_kib = pids.iter().map(|p| rss_kib(*p)).sum();
    Ok(GroupUsage {
        at: Instant::now(),
        pids,
        cpu_secs: ticks as f64 / tck,
        rss_kib,
    })
}

/// CPU time (seconds) of the kernel's threaded-NAPI threads of the scale links
/// (`napi/s<k>-<id>`, see [`crate::scale::ScaleTopo::thread_napi`]), both routers together
/// (the names do not tell the namespaces apart).
pub fn napi_usage() -> GroupUsage {
    let mut pids = Vec::new();
    let mut ticks = 0;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if !comm.starts_with("napi/s") {
                continue;
            }
            if let Some(s) = pid_stat(pid) {
                ticks += s.ticks;
                pids.push(pid);
            }
        }
    }
    GroupUsage {
        at: Instant::now(),
        pids,
        cpu_secs: ticks as f64 / clk_tck(),
        rss_kib: 0,
    }
}

/// CPU use between two readings, in percent of one core.
pub fn cpu_percent(from: &GroupUsage, to: &GroupUsage) -> f64 {
    let wall = to.at.duration_since(from.at).as_secs_f64();
    if wall <= 0.0 {
        return 0.0;
    }
    (to.cpu_secs - from.cpu_secs).max(0.0) / wall * 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_comm() {
        let s = "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(
            parse_stat(s),
            Some(PidStat {
                pgrp: 1234,
                ticks: 300
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn reads_own_group() {
        let me = std::process::id();
        let st = pid_stat(me).expect("own stat");
        let g = group_usage(st.pgrp).expect("usage");
        assert!(g.pids.contains(&me));
        assert!(g.rss_kib > 0);
    }
}
