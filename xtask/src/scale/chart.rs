//! The SVG chart: CPU % of one core against groups (log scale), A solid and B dashed, one
//! colour per daemon.

use std::fmt::Write as _;

use super::RunResult;

/// A line chart of CPU % (A solid, B dashed) against groups (log scale), one colour per daemon.
pub(super) fn svg(runs: &[RunResult], interval_ms: u32, version: u8) -> String {
    let (w, h) = (720.0, 440.0);
    let (l, r, t, b) = (70.0, 180.0, 40.0, 60.0);
    let pw = w - l - r;
    let ph = h - t - b;
    let xs: Vec<f64> = runs.iter().map(|r| r.groups as f64).collect();
    let xmin = xs.iter().copied().fold(f64::INFINITY, f64::min).max(1.0);
    let xmax = xs.iter().copied().fold(0.0, f64::max).max(xmin * 10.0);
    let ymax_raw = runs.iter().flat_map(|r| r.cpu).fold(0.0, f64::max).max(0.1);
    let step = nice_step(ymax_raw / 5.0);
    let ymax = (ymax_raw / step).ceil() * step;
    let x = |g: f64| l + (g.ln() - xmin.ln()) / (xmax.ln() - xmin.ln()) * pw;
    let y = |c: f64| t + ph - c / ymax * ph;
    let mut o = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">CPU % of one core per instance vs VRRP groups ({interval_ms} ms adverts, VRRPv{version})</text>\n",
        w / 2.0
    );
    // Axes and grid.
    let mut v = 0.0;
    while v <= ymax + 1e-9 {
        let yy = y(v);
        let _ = writeln!(
            o,
            "<line x1=\"{l}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            l + pw,
            l - 6.0,
            yy + 4.0,
            trim_num(v)
        );
        v += step;
    }
    let mut ticks = xs.clone();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    for g in &ticks {
        let xx = x(*g);
        let _ = writeln!(
            o,
            "<line x1=\"{xx:.1}\" y1=\"{t}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/><text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{g}</text>",
            t + ph,
            t + ph + 18.0
        );
    }
    let _ = writeln!(
        o,
        "<line x1=\"{l}\" y1=\"{t}\" x2=\"{l}\" y2=\"{:.1}\" stroke=\"black\"/><line x1=\"{l}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\"/>",
        t + ph,
        t + ph,
        l + pw,
        t + ph
    );
    let _ = writeln!(
        o,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">groups (log scale)</text><text transform=\"translate(18 {:.1}) rotate(-90)\" text-anchor=\"middle\">CPU % of one core</text>",
        l + pw / 2.0,
        h - 15.0,
        t + ph / 2.0
    );
    let mut ly = t + 10.0;
    for (name, colour) in [("rvrrpd", "#1f77b4"), ("keepalived", "#d62728")] {
        for (side, dash, label) in [
            (0, "", "A (Master)"),
            (1, " stroke-dasharray=\"6 4\"", "B (Backup)"),
        ] {
            let mut pts: Vec<(f64, f64)> = runs
                .iter()
                .filter(|r| r.daemon == name)
                .map(|r| (r.groups as f64, r.cpu[side]))
                .collect();
            if pts.is_empty() {
                continue;
            }
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let path: Vec<String> = pts
                .iter()
                .map(|(g, c)| format!("{:.1},{:.1}", x(*g), y(*c)))
                .collect();
            let _ = writeln!(
                o,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash} points=\"{}\"/>",
                path.join(" ")
            );
            for (g, c) in &pts {
                let _ = writeln!(
                    o,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{name} {label}: {g} groups, {c:.2} %</title></circle>",
                    x(*g),
                    y(*c)
                );
            }
            let lx = l + pw + 15.0;
            let _ = writeln!(
                o,
                "<line x1=\"{lx:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/><text x=\"{:.1}\" y=\"{:.1}\">{name} {label}</text>",
                lx + 25.0,
                lx + 30.0,
                ly + 4.0
            );
            ly += 20.0;
        }
    }
    o.push_str("</svg>\n");
    o
}

pub(super) fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    let k = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    k * p
}

pub(super) fn trim_num(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(1.5), 2.0);
        assert_eq!(trim_num(2.50), "2.5");
    }
}
