//! The two routers' captures, decoded incrementally: when a run converged, when B took
//! every group over, and each group's failover lateness.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use rvrrpd_lab::advstream::{AdvertTimes, PcapFollower};
use rvrrpd_lab::scale::{Group, ScaleCapture, Side};

use super::Params;

/// Lateness statistics of one failover, milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Lateness {
    /// Groups measured.
    pub n: usize,
    /// Groups B did not take over (within the bound) or without an A advert before.
    pub missing: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
    /// Minimum (negative: B took over before Master_Down_Interval expired).
    pub min: f64,
    /// Time from SIGKILL to B advertising every group, seconds.
    pub all_taken_s: Option<f64>,
}

pub(super) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// How far a capture file may lag behind the wire (tcpdump without `--immediate-mode`
/// hands packets over in blocks, at the latest after its 1 s buffer timeout).
pub(super) const CAPTURE_LAG: f64 = 1.5;

/// Both captures, decoded incrementally.
pub(super) struct Observer {
    pub(super) fa: PcapFollower,
    pub(super) fb: PcapFollower,
    pub(super) ta: AdvertTimes,
    pub(super) tb: AdvertTimes,
}

impl Observer {
    pub(super) fn new(a: &ScaleCapture, b: &ScaleCapture) -> Observer {
        Observer {
            fa: PcapFollower::new(a.file()),
            fb: PcapFollower::new(b.file()),
            ta: AdvertTimes::default(),
            tb: AdvertTimes::default(),
        }
    }

    pub(super) fn poll(&mut self) -> Result<()> {
        let ta = &mut self.ta;
        self.fa.poll(|a| ta.add(a))?;
        let tb = &mut self.tb;
        self.fb.poll(|a| tb.add(a))?;
        Ok(())
    }

    pub(super) fn last(t: &AdvertTimes, g: &Group, side: Side) -> Option<f64> {
        t.of(g.src(side), g.vrid).last().copied()
    }

    /// (groups A advertised since `since` and within the last 3 intervals + lag, groups B
    /// advertised within the last 2 intervals + lag).
    pub(super) fn state(&self, groups: &[Group], since: f64, iv: f64) -> (usize, usize) {
        let t = now();
        let a_ok = groups
            .iter()
            .filter(|g| {
                Observer::last(&self.ta, g, Side::A)
                    .is_some_and(|l| l >= since && l >= t - 3.0 * iv - CAPTURE_LAG)
            })
            .count();
        let b_active = groups
            .iter()
            .filter(|g| {
                Observer::last(&self.tb, g, Side::B)
                    .is_some_and(|l| l >= t - 2.0 * iv - CAPTURE_LAG)
            })
            .count();
        (a_ok, b_active)
    }

    /// Groups B advertised at or after `t`.
    pub(super) fn b_since(&self, groups: &[Group], t: f64) -> usize {
        groups
            .iter()
            .filter(|g| Observer::last(&self.tb, g, Side::B).is_some_and(|l| l >= t))
            .count()
    }
}

/// Waits until A advertises every group (since `since`) and B is silent; bounded.
pub(super) fn wait_converged(
    obs: &mut Observer,
    groups: &[Group],
    since: f64,
    p: &Params,
    timeout: Duration,
    alive: &mut dyn FnMut() -> Result<()>,
) -> Result<std::result::Result<f64, String>> {
    let start = Instant::now();
    let mut last = (0, 0);
    while start.elapsed() < timeout {
        std::thread::sleep(Duration::from_millis(500));
        alive()?;
        obs.poll()?;
        last = obs.state(groups, since, p.interval);
        if last.0 == groups.len() && last.1 == 0 {
            return Ok(Ok(now()));
        }
    }
    Ok(Err(format!(
        "not converged after {:.0}s: A advertises {}/{} groups, B still advertises {}",
        timeout.as_secs_f64(),
        last.0,
        groups.len(),
        last.1
    )))
}

/// Waits until B advertised every group at or after `tk`; returns the time it took.
pub(super) fn wait_takeover(
    obs: &mut Observer,
    groups: &[Group],
    tk: f64,
    bound: Duration,
) -> Result<Option<f64>> {
    let start = Instant::now();
    while start.elapsed() < bound {
        std::thread::sleep(Duration::from_millis(250));
        obs.poll()?;
        if obs.b_since(groups, tk) == groups.len() {
            let done = groups
                .iter()
                .filter_map(|g| obs.tb.first_at_or_after(g.src(Side::B), g.vrid, tk))
                .fold(tk, f64::max);
            return Ok(Some(done - tk));
        }
    }
    Ok(None)
}

/// Per-group failover lateness for a SIGKILL of A at `tk` (epoch seconds).
pub(super) fn lateness(
    obs: &Observer,
    groups: &[Group],
    tk: f64,
    mdi: f64,
    taken: Option<f64>,
) -> Lateness {
    let mut v: Vec<f64> = Vec::with_capacity(groups.len());
    for g in groups {
        let Some(b) = obs.tb.first_at_or_after(g.src(Side::B), g.vrid, tk) else {
            continue;
        };
        let Some(a) = obs.ta.last_before(g.src(Side::A), g.vrid, b) else {
            continue;
        };
        v.push((b - a - mdi) * 1000.0);
    }
    v.sort_by(f64::total_cmp);
    let pick = |q: f64| -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    };
    Lateness {
        n: v.len(),
        missing: groups.len() - v.len(),
        p50: pick(0.5),
        p99: pick(0.99),
        max: v.last().copied().unwrap_or(f64::NAN),
        min: v.first().copied().unwrap_or(f64::NAN),
        all_taken_s: taken,
    }
}
