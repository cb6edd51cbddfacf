//! `GET /metrics`: Prometheus text exposition format, version 0.0.4.

use std::fmt::Write;

use super::backend::{GlobalView, GroupState, GroupView, MetricsView};

/// Content type of the exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every metric.
pub fn render(groups: &[GroupView], global: &GlobalView, metrics: &MetricsView) -> String {
    let mut out = String::with_capacity(1024 + groups.len() * 1024);
    header(
        &mut out,
        "rvrrpd_info",
        "gauge",
        "Daemon version (value is always 1).",
    );
    let _ = writeln!(
        out,
        "rvrrpd_info{{version=\"{}\"}} 1",
        escape(&global.version)
    );
    header(
        &mut out,
        "rvrrpd_uptime_seconds",
        "gauge",
        "Seconds since the daemon started.",
    );
    let _ = writeln!(out, "rvrrpd_uptime_seconds {}", global.uptime);

    header(
        &mut out,
        "rvrrpd_group_state",
        "gauge",
        "1 for the current state of the virtual router, 0 for the others.",
    );
    for g in groups {
        for state in GroupState::ALL {
            let _ = writeln!(
                out,
                "rvrrpd_group_state{{{},state=\"{}\"}} {}",
                labels(g),
                state.as_str(),
                u8::from(g.state == state)
            );
        }
    }
    gauge_per_group(
        &mut out,
        groups,
        "rvrrpd_group_priority",
        "Current priority.",
        |g| u64::from(g.priority),
    );
    counter_per_group(
        &mut out,
        groups,
        "rvrrpd_group_transitions_total",
        "State transitions.",
        |g| g.counters.transitions,
    );
    counter_per_group(
        &mut out,
        groups,
        "rvrrpd_group_adverts_received_total",
        "Advertisements received.",
        |g| g.counters.adverts_in,
    );
    counter_per_group(
        &mut out,
        groups,
        "rvrrpd_group_adverts_suppressed_total",
        "Advertisements received that repeated the followed Master's last one, handled in the kernel (included in adverts_received).",
        |g| g.counters.adverts_suppressed,
    );
    counter_per_group(
        &mut out,
        groups,
        "rvrrpd_group_adverts_sent_total",
        "Advertisements sent.",
        |g| g.counters.adverts_out,
    );
    counter_per_group(
        &mut out,
        groups,
        "rvrrpd_group_auth_failures_total",
        "Advertisements refused by authentication.",
        |g| g.counters.auth_failures,
    );
    counter_per_group(
        &mut out,
        groups,
        "rvrrpd_group_discarded_total",
        "Advertisements discarded for other reasons.",
        |g| g.counters.discarded,
    );

    header(
        &mut out,
        "rvrrpd_fastpath_drops_total",
        "counter",
        "Frames dropped by the receive fast path, by reason.",
    );
    for (reason, count) in &metrics.fastpath_drops {
        let _ = writeln!(
            out,
            "rvrrpd_fastpath_drops_total{{reason=\"{}\"}} {count}",
            escape(reason)
        );
    }

    let h = &metrics.timer_lateness;
    header(
        &mut out,
        "rvrrpd_timer_lateness_seconds",
        "histogram",
        "How late protocol timers fired.",
    );
    let mut cumulative = 0u64;
    for (bound, count) in h.bounds.iter().zip(&h.counts) {
        cumulative += count;
        let _ = writeln!(
            out,
            "rvrrpd_timer_lateness_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
        );
    }
    cumulative += h.overflow;
    let _ = writeln!(
        out,
        "rvrrpd_timer_lateness_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
    );
    let _ = writeln!(out, "rvrrpd_timer_lateness_seconds_sum {}", h.sum);
    let _ = writeln!(out, "rvrrpd_timer_lateness_seconds_count {cumulative}");
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn labels(g: &GroupView) -> String {
    format!(
        "group=\"{}\",interface=\"{}\",vip=\"{}\"",
        g.group,
        escape(&g.interface),
        g.virtual_ips
            .first()
            .map(ToString::to_string)
            .unwrap_or_default()
    )
}

fn per_group(
    out: &mut String,
    groups: &[GroupView],
    name: &str,
    kind: &str,
    help: &str,
    value: impl Fn(&GroupView) -> u64,
) {
    header(out, name, kind, help);
    for g in groups {
        let _ = writeln!(out, "{name}{{{}}} {}", labels(g), value(g));
    }
}

fn gauge_per_group(
    out: &mut String,
    groups: &[GroupView],
    name: &str,
    help: &str,
    value: impl Fn(&GroupView) -> u64,
) {
    per_group(out, groups, name, "gauge", help, value);
}

fn counter_per_group(
    out: &mut String,
    groups: &[GroupView],
    name: &str,
    help: &str,
    value: impl Fn(&GroupView) -> u64,
) {
    per_group(out, groups, name, "counter", help, value);
}

/// Escapes a label value (`\`, `"`, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::mock::MockBackend;
    use crate::api::Backend;

    #[test]
    fn renders_groups_and_histogram() {
        let mock = MockBackend::sample();
        let text = render(&mock.groups(), &mock.global(), &mock.metrics());
        assert!(text.contains(
            "rvrrpd_group_state{group=\"1\",interface=\"eth0\",vip=\"10.0.0.1\",state=\"Master\"} 1"
        ), "{text}");
        assert!(text.contains("rvrrpd_timer_lateness_seconds_bucket{le=\"+Inf\"}"));
        assert!(text.contains("# TYPE rvrrpd_timer_lateness_seconds histogram"));
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
