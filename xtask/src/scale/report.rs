//! The report: a Markdown table and notes per run set, the machine it ran on, and sections
//! of `docs/performance.md` replaced by key.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use super::observe::Lateness;
use super::RunResult;

/// `XDP (s0: driver (native XDP), s1: driver (native XDP))` → `XDP (driver (native XDP) on 2
/// interfaces)`; anything else unchanged.
pub(super) fn short_path(p: &str) -> String {
    let Some(inner) = p.strip_prefix("XDP (").and_then(|s| s.strip_suffix(')')) else {
        return p.to_string();
    };
    let mut modes: Vec<(String, usize)> = Vec::new();
    for part in inner.split("), ") {
        let mode = part.split_once(": ").map_or(part, |(_, m)| m);
        let mode = if mode.ends_with(')') || !mode.contains('(') {
            mode.to_string()
        } else {
            format!("{mode})")
        };
        match modes.iter_mut().find(|(m, _)| *m == mode) {
            Some((_, n)) => *n += 1,
            None => modes.push((mode, 1)),
        }
    }
    let list: Vec<String> = modes
        .iter()
        .map(|(m, n)| format!("{m} on {n} interface{}", if *n == 1 { "" } else { "s" }))
        .collect();
    format!("XDP ({})", list.join(", "))
}

pub(super) fn fmt_opt(x: Option<f64>, unit: &str, prec: usize) -> String {
    x.map(|v| format!("{v:.prec$}{unit}"))
        .unwrap_or_else(|| "—".into())
}

pub(super) fn fmt_lat(l: &Option<Lateness>) -> (String, String, String) {
    match l {
        Some(l) if l.n > 0 => (
            format!("{:+.2}", l.p50),
            format!("{:+.2}", l.p99),
            format!(
                "{:+.2} (min {:+.2}){}",
                l.max,
                l.min,
                if l.missing > 0 {
                    format!(" ({} missing)", l.missing)
                } else {
                    String::new()
                }
            ),
        ),
        _ => ("—".into(), "—".into(), "—".into()),
    }
}

pub(super) fn kib(k: u64) -> String {
    format!("{:.1} MiB", k as f64 / 1024.0)
}

/// A markdown table of single runs (one column per run).
pub(super) fn table(runs: &[RunResult]) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, f: &dyn Fn(&RunResult) -> String| {
        rows.push((name.to_string(), runs.iter().map(f).collect()));
    };
    row("receive path", &|r| r.path.clone());
    row("CPU % of one core, A (Master)", &|r| {
        format!("{:.2}", r.cpu[0])
    });
    row("CPU % of one core, B (Backup)", &|r| {
        format!("{:.2}", r.cpu[1])
    });
    if runs.iter().any(|r| r.napi_cpu.is_some()) {
        row(
            "kernel receive in NAPI threads, both routers (% of one core)",
            &|r| fmt_opt(r.napi_cpu, "", 2),
        );
    }
    row("RSS A / B", &|r| {
        format!("{} / {}", kib(r.rss_kib[0]), kib(r.rss_kib[1]))
    });
    row("ready (log line) after spawn", &|r| {
        fmt_opt(r.ready_s, " s", 3)
    });
    row("all groups advertised by A after spawn", &|r| {
        fmt_opt(r.elected_s, " s", 3)
    });
    row("  of which beyond A's Master_Down_Interval", &|r| {
        fmt_opt(r.startup_overhead_s, " s", 3)
    });
    row("groups B advertised during start-up", &|r| {
        r.startup_b_groups.to_string()
    });
    row("converged", &|r| {
        if r.converged { "yes" } else { "NO" }.into()
    });
    row("steady-state window", &|r| format!("{:.0} s", r.window_s));
    row("spurious: state-change log lines A / B", &|r| {
        format!("{} / {}", r.log_transitions[0], r.log_transitions[1])
    });
    row("spurious: B adverts (groups / adverts)", &|r| {
        format!("{} / {}", r.b_adverts.0, r.b_adverts.1)
    });
    row("spurious: A silent > MDI (groups; longest gap)", &|r| {
        format!("{}; {:.3} s", r.a_silent_groups, r.a_max_gap_s)
    });
    row("failover lateness idle p50 / p99 / max (ms)", &|r| {
        let (a, b, c) = fmt_lat(&r.failover_idle);
        format!("{a} / {b} / {c}")
    });
    row("failover lateness with hogs p50 / p99 / max (ms)", &|r| {
        let (a, b, c) = fmt_lat(&r.failover_hogs);
        format!("{a} / {b} / {c}")
    });
    row("time to take over every group (idle / hogs)", &|r| {
        let f = |l: &Option<Lateness>| fmt_opt(l.as_ref().and_then(|l| l.all_taken_s), " s", 3);
        format!("{} / {}", f(&r.failover_idle), f(&r.failover_hogs))
    });
    if runs.iter().any(|r| r.attack.is_some()) {
        row(
            "attack: forged adverts/s to each router (sent to A / B, window)",
            &|r| {
                r.attack.as_ref().map_or("—".into(), |a| {
                    format!(
                        "{} ({} / {}, {:.0} s)",
                        a.rate, a.sent[0], a.sent[1], a.window_s
                    )
                })
            },
        );
        row("attack: CPU % of one core A / B", &|r| {
            r.attack.as_ref().map_or("—".into(), |a| {
                format!("{:.2} / {:.2}", a.cpu[0], a.cpu[1])
            })
        });
        row(
            "attack: XDP program A / B (runs, ns each, % of a core)",
            &|r| {
                let f = |x: &Option<(u64, f64, f64)>| {
                    x.map_or("—".into(), |(n, ns, pct)| {
                        format!("{n}, {ns:.0} ns, {pct:.2} %")
                    })
                };
                r.attack.as_ref().map_or("—".into(), |a| {
                    format!("{} / {}", f(&a.xdp[0]), f(&a.xdp[1]))
                })
            },
        );
        row(
            "attack: spurious (log lines A / B; B adverts; A silent > MDI; longest gap)",
            &|r| {
                r.attack.as_ref().map_or("—".into(), |a| {
                    let c = &a.checks;
                    format!(
                        "{} / {}; {} / {}; {}; {:.3} s",
                        c.log_transitions[0],
                        c.log_transitions[1],
                        c.b_adverts.0,
                        c.b_adverts.1,
                        c.a_silent_groups,
                        c.a_max_gap_s
                    )
                })
            },
        );
    }
    let mut o = String::from("| |");
    for r in runs {
        let _ = write!(o, " {} |", r.daemon);
    }
    o.push_str("\n|---|");
    for _ in runs {
        o.push_str("---|");
    }
    o.push('\n');
    for (name, vals) in rows {
        let _ = write!(o, "| {name} |");
        for v in vals {
            let _ = write!(o, " {v} |");
        }
        o.push('\n');
    }
    if let [rv, ka] = runs {
        if rv.daemon == "rvrrpd" && ka.daemon == "keepalived" {
            let ratio = |a: f64, b: f64| {
                if a > 0.0 && b.is_finite() {
                    format!("{:.1}×", b / a)
                } else {
                    "—".into()
                }
            };
            o.push_str("\nkeepalived / rvrrpd ratios: ");
            let _ = write!(
                o,
                "CPU A {}, CPU B {}, RSS A {}",
                ratio(rv.cpu[0], ka.cpu[0]),
                ratio(rv.cpu[1], ka.cpu[1]),
                ratio(rv.rss_kib[0] as f64, ka.rss_kib[0] as f64)
            );
            let lat = |f: &dyn Fn(&RunResult) -> Option<f64>| match (f(rv), f(ka)) {
                (Some(a), Some(b)) => format!("{:.2} vs {:.2} ms", a, b),
                _ => "—".into(),
            };
            let _ = writeln!(
                o,
                "; failover p99 idle {}, with hogs {}",
                lat(&|r| r.failover_idle.as_ref().filter(|l| l.n > 0).map(|l| l.p99)),
                lat(&|r| r.failover_hogs.as_ref().filter(|l| l.n > 0).map(|l| l.p99))
            );
        }
    }
    o
}

pub(super) fn notes(runs: &[RunResult]) -> String {
    let mut o = String::new();
    for r in runs {
        for n in &r.notes {
            let _ = writeln!(o, "- {}: {}", r.daemon, n.replace('\n', " ⏎ "));
        }
        let _ = writeln!(
            o,
            "- {}: tcpdump A: {}; B: {}",
            r.daemon, r.capture_stats[0], r.capture_stats[1]
        );
    }
    o
}

pub(super) fn machine() -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    let ka = std::process::Command::new("keepalived")
        .arg("--version")
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    format!("nproc {nproc}, kernel {kernel}, {cpu}; {ka}")
}

pub(super) fn date() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Replaces the section `key` of the markdown file `path` (between marker comments), or
/// appends it.
pub(super) fn upsert_section(path: &Path, key: &str, body: &str) -> Result<()> {
    let begin = format!("<!-- scale:{key} -->");
    let end = format!("<!-- /scale:{key} -->");
    let mut doc = std::fs::read_to_string(path).unwrap_or_else(|_| {
        "# Performance\n\nResults of `cargo xtask scale` (sections below are rewritten by it).\n".into()
    });
    let block = format!("{begin}\n{}\n{end}", body.trim_end());
    match (doc.find(&begin), doc.find(&end)) {
        (Some(b), Some(e)) if e > b => doc.replace_range(b..e + end.len(), &block),
        _ => {
            if !doc.ends_with('\n') {
                doc.push('\n');
            }
            doc.push('\n');
            doc.push_str(&block);
            doc.push('\n');
        }
    }
    std::fs::write(path, doc).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_replaced() {
        let dir = std::env::temp_dir().join(format!("scale-md-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("p.md");
        std::fs::write(&f, "# P\n\nintro\n").expect("write");
        upsert_section(&f, "k", "one").expect("upsert");
        upsert_section(&f, "j", "two").expect("upsert");
        upsert_section(&f, "k", "three").expect("upsert");
        let s = std::fs::read_to_string(&f).expect("read");
        assert!(s.starts_with("# P\n\nintro\n"));
        assert!(s.contains("three") && s.contains("two") && !s.contains("one"));
        assert!(s.find("three") < s.find("two"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn paths() {
        assert_eq!(
            short_path("XDP (s0: driver (native XDP), s1: driver (native XDP))"),
            "XDP (driver (native XDP) on 2 interfaces)"
        );
        assert_eq!(short_path("raw sockets"), "raw sockets");
    }
}
