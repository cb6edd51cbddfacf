//! One test (or more) per RFC rule, with virtual time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::*;
use crate::time::Instant;

const ME: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
const LOW: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const HIGH: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));

fn params(version: Version, priority: u8, interval: Duration) -> GroupParams {
    GroupParams {
        version,
        vrid: 7,
        priority,
        preempt: true,
        accept_mode: false,
        advert_interval: interval,
        primary_addr: ME,
        advert_phase: None,
    }
}

fn v3(priority: u8) -> Vrrp {
    Vrrp::new(params(Version::V3, priority, Duration::from_millis(100)))
}

fn v2(priority: u8) -> Vrrp {
    Vrrp::new(params(Version::V2, priority, Duration::from_secs(1)))
}

fn t(us: u64) -> Instant {
    Instant::from_micros(us)
}

fn adv(src: IpAddr, priority: u8, cs: u16) -> AdvertInfo {
    AdvertInfo {
        src,
        priority,
        max_advert_int_cs: cs,
    }
}

fn becoming_master(from: State, reason: TransitionReason, priority: u8) -> Vec<Action> {
    vec![
        Action::Transition {
            from,
            to: State::Master,
            reason,
        },
        Action::AddVips,
        Action::SendAdvert { priority },
        Action::Announce,
        Action::InstallRoutes,
    ]
}

/// A machine started at t=0 and brought to Master by Master_Down_Timer expiry.
fn master_v3(priority: u8) -> (Vrrp, Instant) {
    let mut m = v3(priority);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    let at = m.poll_timeout().expect("master down timer");
    m.handle_timeout(at, &mut out);
    assert_eq!(m.state(), State::Master);
    (m, at)
}

// ---- timer arithmetic ----

#[test]
fn skew_and_mdi_v3_priority_100_at_100ms() {
    let m = v3(100);
    // 156 × 100 000 µs / 256 = 60 937.5 µs, truncated.
    assert_eq!(m.skew_time(), Duration::from_micros(60_937));
    assert_eq!(m.master_down_interval(), Duration::from_micros(360_937));
}

#[test]
fn skew_and_mdi_v3_at_1s() {
    let m = Vrrp::new(params(Version::V3, 200, Duration::from_secs(1)));
    // 56 / 256 s = 218 750 µs exactly.
    assert_eq!(m.skew_time(), Duration::from_micros(218_750));
    assert_eq!(m.master_down_interval(), Duration::from_micros(3_218_750));
}

#[test]
fn skew_and_mdi_v2_independent_of_interval() {
    let m = v2(100);
    assert_eq!(m.skew_time(), Duration::from_micros(609_375));
    assert_eq!(m.master_down_interval(), Duration::from_micros(3_609_375));
    let m = Vrrp::new(params(Version::V2, 100, Duration::from_secs(3)));
    assert_eq!(m.skew_time(), Duration::from_micros(609_375));
    assert_eq!(m.master_down_interval(), Duration::from_micros(9_609_375));
    // Priority 1: 255/256 s = 996 093.75 µs, truncated.
    assert_eq!(v2(1).skew_time(), Duration::from_micros(996_093));
}

#[test]
fn skew_differs_for_every_priority_at_minimum_interval() {
    let i = Duration::from_millis(10);
    let skews: Vec<_> = (1..=255u8)
        .map(|p| timing::skew_time(Version::V3, p, i))
        .collect();
    assert!(skews.windows(2).all(|w| w[0] > w[1]));
}

// ---- parameters ----

#[test]
fn params_validation_and_normalization() {
    let mut p = params(Version::V2, 100, Duration::from_millis(1500));
    assert!(matches!(
        p.validate(),
        Err(ParamsError::IntervalGranularity { .. })
    ));
    assert_eq!(p.normalized().advert_interval, Duration::from_secs(1));
    p.advert_interval = Duration::from_secs(300);
    assert!(matches!(
        p.validate(),
        Err(ParamsError::IntervalOutOfRange { .. })
    ));
    p.advert_interval = Duration::from_secs(1);
    p.priority = 0;
    assert_eq!(p.validate(), Err(ParamsError::ZeroPriority));
    assert_eq!(Vrrp::new(p.clone()).priority(), 1);
    assert!(Vrrp::try_new(p.clone()).is_err());
    p.priority = 100;
    p.primary_addr = IpAddr::V6(Ipv6Addr::LOCALHOST);
    assert_eq!(p.validate(), Err(ParamsError::V2OverIpv6));
    let p3 = params(Version::V3, 100, Duration::from_millis(5));
    assert_eq!(p3.normalized().advert_interval, Duration::from_millis(10));
    let p3 = params(Version::V3, 100, Duration::from_secs(50));
    assert_eq!(
        p3.normalized().advert_interval,
        Duration::from_millis(40_950)
    );
}

// ---- Initialize ----

#[test]
fn startup_non_owner_goes_backup_with_master_down_timer() {
    let mut m = v3(100);
    let mut out = Vec::new();
    assert_eq!(m.poll_timeout(), None);
    m.startup(t(1_000), &mut out);
    assert_eq!(m.state(), State::Backup);
    assert_eq!(
        out,
        vec![Action::Transition {
            from: State::Initialize,
            to: State::Backup,
            reason: TransitionReason::Startup
        }]
    );
    assert_eq!(m.poll_timeout(), Some(t(1_000 + 360_937)));
    assert_eq!(m.current_master(), None);
}

#[test]
fn startup_owner_goes_master_directly() {
    let mut m = v3(255);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    assert_eq!(m.state(), State::Master);
    assert_eq!(
        out,
        becoming_master(State::Initialize, TransitionReason::AddressOwner, 255)
    );
    assert_eq!(m.poll_timeout(), Some(t(100_000)));
    assert_eq!(m.current_master(), Some(ME));
}

#[test]
fn startup_twice_is_noop() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    out.clear();
    m.startup(t(5), &mut out);
    assert!(out.is_empty());
    assert_eq!(m.poll_timeout(), Some(t(360_937)));
}

#[test]
fn advert_in_initialize_is_discarded() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.on_advert(&adv(HIGH, 100, 10), t(0), &mut out);
    assert_eq!(
        out,
        vec![Action::Discarded {
            reason: DiscardReason::NotRunning
        }]
    );
    assert_eq!(m.stats().discarded.not_running, 1);
}

// ---- Backup ----

#[test]
fn backup_master_down_timer_expiry_becomes_master() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    out.clear();
    m.handle_timeout(t(360_936), &mut out);
    assert!(out.is_empty(), "must not fire early");
    assert_eq!(m.state(), State::Backup);
    m.handle_timeout(t(360_937), &mut out);
    assert_eq!(
        out,
        becoming_master(State::Backup, TransitionReason::MasterDown, 100)
    );
    assert_eq!(m.poll_timeout(), Some(t(460_937)));
    assert_eq!(m.stats().became_master, 1);
    assert_eq!(m.stats().last_transition, Some(t(360_937)));
}

#[test]
fn backup_advert_resets_master_down_timer() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    out.clear();
    m.on_advert(&adv(HIGH, 200, 10), t(200_000), &mut out);
    assert!(out.is_empty());
    assert_eq!(m.poll_timeout(), Some(t(560_937)));
    assert_eq!(m.current_master(), Some(HIGH));
}

#[test]
fn backup_v3_learns_master_adver_interval() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.on_advert(&adv(HIGH, 200, 100), t(10), &mut out); // 1 s
    assert_eq!(m.master_adver_interval(), Duration::from_secs(1));
    // 156/256 s = 609 375 µs.
    assert_eq!(m.skew_time(), Duration::from_micros(609_375));
    assert_eq!(m.master_down_interval(), Duration::from_micros(3_609_375));
    assert_eq!(m.poll_timeout(), Some(t(10 + 3_609_375)));
    // Our own adverts keep our own interval once we are Master.
    let at = m.poll_timeout().unwrap_or(t(0));
    m.handle_timeout(at, &mut out);
    assert_eq!(m.master_adver_interval(), Duration::from_millis(100));
    assert_eq!(m.poll_timeout(), Some(at + Duration::from_millis(100)));
}

#[test]
fn backup_priority_zero_sets_timer_to_skew() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.on_advert(&adv(HIGH, 200, 10), t(100_000), &mut out);
    out.clear();
    m.on_advert(&adv(HIGH, 0, 10), t(150_000), &mut out);
    assert!(out.is_empty());
    assert_eq!(m.poll_timeout(), Some(t(150_000 + 60_937)));
    assert_eq!(m.current_master(), None);
    assert_eq!(m.stats().priority_zero_received, 1);
    m.handle_timeout(t(210_937), &mut out);
    assert_eq!(
        out,
        becoming_master(State::Backup, TransitionReason::MasterLeft, 100)
    );
}

#[test]
fn backup_priority_zero_skew_uses_learned_interval() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.on_advert(&adv(HIGH, 200, 100), t(0), &mut out);
    m.on_advert(&adv(HIGH, 0, 100), t(500_000), &mut out);
    assert_eq!(m.poll_timeout(), Some(t(500_000 + 609_375)));
}

#[test]
fn backup_preempt_discards_lower_priority_and_takes_over() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    out.clear();
    m.on_advert(&adv(HIGH, 50, 10), t(100_000), &mut out);
    assert_eq!(
        out,
        vec![Action::Discarded {
            reason: DiscardReason::LowerPriority {
                theirs: 50,
                ours: 100
            }
        }]
    );
    // Timer untouched: we take over at the original deadline.
    assert_eq!(m.poll_timeout(), Some(t(360_937)));
    out.clear();
    m.handle_timeout(t(360_937), &mut out);
    assert_eq!(m.state(), State::Master);
}

#[test]
fn backup_preempt_accepts_equal_priority() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    out.clear();
    // Equal priority, even from a lower address: Backup uses ">=", no tie-break.
    m.on_advert(&adv(LOW, 100, 10), t(100_000), &mut out);
    assert!(out.is_empty());
    assert_eq!(m.poll_timeout(), Some(t(460_937)));
}

#[test]
fn backup_without_preempt_accepts_lower_priority() {
    let mut p = params(Version::V3, 100, Duration::from_millis(100));
    p.preempt = false;
    let mut m = Vrrp::new(p);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    out.clear();
    m.on_advert(&adv(HIGH, 50, 20), t(100_000), &mut out);
    assert!(out.is_empty());
    assert_eq!(m.master_adver_interval(), Duration::from_millis(200));
    // 600 000 + 156 × 200 000 / 256 = 600 000 + 121 875.
    assert_eq!(m.poll_timeout(), Some(t(100_000 + 721_875)));
    assert_eq!(m.current_master(), Some(HIGH));
}

#[test]
fn set_preempt_applies_from_next_advert() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.set_preempt(false);
    m.startup(t(0), &mut out);
    m.on_advert(&adv(HIGH, 50, 10), t(100_000), &mut out);
    assert_eq!(m.poll_timeout(), Some(t(460_937)));
    m.set_preempt(true);
    out.clear();
    m.on_advert(&adv(HIGH, 50, 10), t(200_000), &mut out);
    assert_eq!(m.stats().discarded.lower_priority, 1);
    assert_eq!(m.poll_timeout(), Some(t(460_937)));
}

#[test]
fn shutdown_from_backup() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    out.clear();
    m.shutdown(t(10), &mut out);
    assert_eq!(
        out,
        vec![Action::Transition {
            from: State::Backup,
            to: State::Initialize,
            reason: TransitionReason::Shutdown
        }]
    );
    assert_eq!(m.state(), State::Initialize);
    assert_eq!(m.poll_timeout(), None);
    out.clear();
    m.handle_timeout(t(10_000_000), &mut out);
    assert!(out.is_empty());
}

#[test]
fn shutdown_from_initialize_is_noop() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.shutdown(t(0), &mut out);
    assert!(out.is_empty());
}

// ---- Master ----

#[test]
fn master_adver_timer_sends_and_rearms() {
    let (mut m, at) = master_v3(100);
    let mut out = Vec::new();
    m.handle_timeout(at + Duration::from_micros(99_999), &mut out);
    assert!(out.is_empty());
    let next = at + Duration::from_millis(100);
    m.handle_timeout(next, &mut out);
    assert_eq!(out, vec![Action::SendAdvert { priority: 100 }]);
    assert_eq!(m.poll_timeout(), Some(next + Duration::from_millis(100)));
}

#[test]
fn master_late_timer_keeps_cadence_or_restarts() {
    let (mut m, at) = master_v3(100);
    let mut out = Vec::new();
    // 5 ms late: next deadline stays on the cadence.
    m.handle_timeout(at + Duration::from_millis(105), &mut out);
    assert_eq!(m.poll_timeout(), Some(at + Duration::from_millis(200)));
    // More than an interval late: one advert, restart from now.
    out.clear();
    let late = at + Duration::from_millis(450);
    m.handle_timeout(late, &mut out);
    assert_eq!(out, vec![Action::SendAdvert { priority: 100 }]);
    assert_eq!(m.poll_timeout(), Some(late + Duration::from_millis(100)));
}

/// A v2 (1 s) machine whose adverts go `phase_ms` past each whole second, started at t=0 and
/// brought to Master by Master_Down_Timer expiry: the machine, the expiry, and the actions of
/// the takeover.
fn phased_v2_master(phase_ms: u64) -> (Vrrp, Instant, Vec<Action>) {
    let mut p = params(Version::V2, 100, Duration::from_secs(1));
    p.advert_phase = Some(Duration::from_millis(phase_ms));
    let mut m = Vrrp::new(p);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    let at = m.poll_timeout().expect("master down timer");
    out.clear();
    m.handle_timeout(at, &mut out);
    (m, at, out)
}

#[test]
fn phased_master_advertises_at_once_then_on_its_phase_then_every_interval() {
    // Master_Down_Timer expiry at 3.609375 s: the advert goes at once (RFC 3768 6.4.2) ...
    let (mut m, _, mut out) = phased_v2_master(250);
    assert_eq!(m.state(), State::Master);
    assert!(out.contains(&Action::SendAdvert { priority: 100 }));
    // ... the next at the first phase instant at least one interval later (5.25 s: 4.25 s
    // would be only 0.64 s after the first), then every interval.
    assert_eq!(m.poll_timeout(), Some(t(5_250_000)));
    out.clear();
    m.handle_timeout(t(5_250_000), &mut out);
    assert_eq!(out, vec![Action::SendAdvert { priority: 100 }]);
    assert_eq!(m.poll_timeout(), Some(t(6_250_000)));
}

#[test]
fn phased_master_next_advert_between_one_and_two_intervals_after_an_unscheduled_one() {
    for phase_ms in [0u64, 1, 499, 500, 999, 1000, 1500] {
        for now_us in [0u64, 1, 249_999, 250_000, 250_001, 999_999, 7_000_000] {
            // Take over at the Master_Down deadline, then jump to `now` with a priority-0
            // advert, which makes a Master advertise out of cadence.
            let (mut m, at, mut out) = phased_v2_master(phase_ms);
            let now = at + Duration::from_micros(now_us);
            out.clear();
            m.on_advert(&adv(HIGH, 0, 100), now, &mut out);
            assert_eq!(out, vec![Action::SendAdvert { priority: 100 }]);
            let next = m.poll_timeout().expect("adver timer");
            assert!(
                next - now >= Duration::from_secs(1),
                "phase {phase_ms} ms at {now:?}: {next:?}"
            );
            assert!(
                next - now < Duration::from_secs(2),
                "phase {phase_ms} ms at {now:?}: {next:?}"
            );
            assert_eq!(next.as_micros() % 1_000_000, (phase_ms % 1000) * 1000);
        }
    }
}

/// Every advert a phased Master sends over 40 intervals, with whether its Adver_Timer sent it:
/// timers fired on time, with priority-0 adverts from another router and priority changes at
/// pseudo-random instants (the RFC makes the Master answer both at once, out of cadence).
fn phased_master_send_times(
    version: Version,
    iv: Duration,
    phase: Duration,
    seed: u64,
) -> Vec<(Instant, bool)> {
    let mut p = params(version, 100, iv);
    p.advert_phase = Some(phase);
    let mut m = Vrrp::new(p);
    let mut out = Vec::new();
    let mut sent = Vec::new();
    let mut record = |now: Instant, by_timer: bool, out: &mut Vec<Action>| {
        if out.iter().any(|a| matches!(a, Action::SendAdvert { .. })) {
            sent.push((now, by_timer));
        }
        out.clear();
    };
    // Start at an arbitrary offset so that takeovers land anywhere relative to the phase.
    let start = t(seed % 10_000_000);
    m.startup(start, &mut out);
    record(start, false, &mut out);
    let iv_us = u64::try_from(iv.as_micros()).expect("interval");
    let mut rng = seed | 1;
    let mut next_rng = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let end = start + iv * 40;
    let mut interrupt = start + Duration::from_micros(next_rng() % (8 * iv_us));
    let mut priority = 100u8;
    while let Some(deadline) = m.poll_timeout() {
        if deadline >= end {
            break;
        }
        if interrupt < deadline {
            let now = interrupt;
            if m.state() == State::Master {
                if next_rng() % 2 == 0 {
                    m.on_advert(&adv(LOW, 0, (iv_us / 10_000) as u16), now, &mut out);
                } else {
                    priority = if priority == 100 { 120 } else { 100 };
                    m.set_priority(priority, now, &mut out).expect("priority");
                }
            }
            record(now, false, &mut out);
            interrupt = now + Duration::from_micros(1 + next_rng() % (3 * iv_us));
            continue;
        }
        // A timer advert that follows a takeover or an unscheduled advert is still a
        // scheduled one: the takeover itself is recorded as unscheduled below.
        let was_master = m.state() == State::Master;
        m.handle_timeout(deadline, &mut out);
        record(deadline, was_master, &mut out);
    }
    assert_eq!(m.state(), State::Master);
    sent
}

#[test]
fn phased_master_adverts_never_closer_than_the_interval() {
    // Every slot count and every phase the worker hands out (advert_phase), v2 and v3: an
    // advert the Adver_Timer sends is never closer than the interval to the one before it,
    // whether that one was scheduled, the takeover's, or an answer sent at once.
    for (version, iv) in [
        (Version::V2, Duration::from_secs(1)),
        (Version::V3, Duration::from_millis(100)),
        (Version::V3, Duration::from_millis(10)),
    ] {
        for slots in 1u32..=20 {
            for k in 0..slots {
                let phase = iv / slots * k;
                for seed in [1u64, 0x9e37_79b9_7f4a_7c15, 12_345_678_901] {
                    let sent = phased_master_send_times(version, iv, phase, seed);
                    assert!(
                        sent.len() > 20,
                        "{version:?} {iv:?}: only {} adverts",
                        sent.len()
                    );
                    for w in sent.windows(2) {
                        let ((before, _), (at, by_timer)) = (w[0], w[1]);
                        assert!(
                            !by_timer || at - before >= iv,
                            "{version:?} interval {iv:?}, {slots} slots, phase {phase:?}: \
                             adverts at {before:?} and {at:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn phased_master_more_than_an_interval_late_returns_to_its_phase() {
    let (mut m, _, mut out) = phased_v2_master(250);
    out.clear();
    // Due at 4.25 s, run at 5.6 s: one advert, the next at 6.25 s.
    m.handle_timeout(t(5_600_000), &mut out);
    assert_eq!(out, vec![Action::SendAdvert { priority: 100 }]);
    assert_eq!(m.poll_timeout(), Some(t(6_250_000)));
}

#[test]
fn master_priority_zero_sends_advert_immediately() {
    let (mut m, at) = master_v3(100);
    let mut out = Vec::new();
    let now = at + Duration::from_millis(30);
    m.on_advert(&adv(HIGH, 0, 10), now, &mut out);
    assert_eq!(out, vec![Action::SendAdvert { priority: 100 }]);
    assert_eq!(m.poll_timeout(), Some(now + Duration::from_millis(100)));
    assert_eq!(m.state(), State::Master);
}

#[test]
fn master_higher_priority_goes_backup() {
    let (mut m, at) = master_v3(100);
    let mut out = Vec::new();
    let now = at + Duration::from_millis(30);
    m.on_advert(&adv(LOW, 101, 50), now, &mut out);
    assert_eq!(
        out,
        vec![
            Action::Transition {
                from: State::Master,
                to: State::Backup,
                reason: TransitionReason::Preempted {
                    by: LOW,
                    priority: 101
                }
            },
            Action::RemoveRoutes,
            Action::RemoveVips,
        ]
    );
    // v3: interval learned (500 ms): MDI = 1.5 s + 156 × 500 000 / 256 = 1 500 000 + 304 687.
    assert_eq!(m.master_adver_interval(), Duration::from_millis(500));
    assert_eq!(
        m.poll_timeout(),
        Some(now + Duration::from_micros(1_804_687))
    );
    assert_eq!(m.current_master(), Some(LOW));
}

#[test]
fn master_lower_priority_is_discarded() {
    let (mut m, at) = master_v3(100);
    let mut out = Vec::new();
    m.on_advert(&adv(HIGH, 99, 10), at, &mut out);
    assert_eq!(
        out,
        vec![Action::Discarded {
            reason: DiscardReason::LowerPriority {
                theirs: 99,
                ours: 100
            }
        }]
    );
    assert_eq!(m.state(), State::Master);
}

#[test]
fn master_tie_break_ipv4_numeric() {
    let (mut m, at) = master_v3(100);
    let mut out = Vec::new();
    // 10.0.0.1 < 10.0.0.2: we stay.
    m.on_advert(&adv(LOW, 100, 10), at, &mut out);
    assert_eq!(m.state(), State::Master);
    // 9.255.255.255 < 10.0.0.2 although its first... numeric, not byte-string, order.
    m.on_advert(
        &adv(IpAddr::V4(Ipv4Addr::new(9, 255, 255, 255)), 100, 10),
        at,
        &mut out,
    );
    assert_eq!(m.state(), State::Master);
    // 10.0.0.3 > 10.0.0.2: we yield.
    m.on_advert(&adv(HIGH, 100, 10), at, &mut out);
    assert_eq!(m.state(), State::Backup);
    assert!(addr_gt(
        IpAddr::V4(Ipv4Addr::new(10, 0, 1, 0)),
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 255))
    ));
}

#[test]
fn master_tie_break_ipv6_numeric() {
    let me: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x20));
    let lower: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x1f));
    let higher: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 1, 0));
    let mut p = params(Version::V3, 100, Duration::from_millis(100));
    p.primary_addr = me;
    let mut m = Vrrp::new(p);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.handle_timeout(t(360_937), &mut out);
    assert_eq!(m.state(), State::Master);
    m.on_advert(&adv(lower, 100, 10), t(400_000), &mut out);
    assert_eq!(m.state(), State::Master);
    m.on_advert(&adv(higher, 100, 10), t(400_000), &mut out);
    assert_eq!(m.state(), State::Backup);
    assert_eq!(m.current_master(), Some(higher));
}

#[test]
fn owner_vs_owner_follows_tie_break() {
    let mut m = v3(255);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.on_advert(&adv(LOW, 255, 10), t(10), &mut out);
    assert_eq!(m.state(), State::Master);
    m.on_advert(&adv(HIGH, 255, 10), t(20), &mut out);
    assert_eq!(m.state(), State::Backup);
    // As Backup, the other owner's adverts (>= ours) keep resetting the timer.
    let before = m.poll_timeout();
    m.on_advert(&adv(HIGH, 255, 10), t(50_000), &mut out);
    assert!(m.poll_timeout() > before);
    // Skew for 255 at 100 ms: 100 000 / 256 = 390.625 → 390 µs.
    assert_eq!(m.skew_time(), Duration::from_micros(390));
}

#[test]
fn shutdown_from_master_sends_priority_zero() {
    let (mut m, at) = master_v3(100);
    let mut out = Vec::new();
    m.shutdown(at, &mut out);
    assert_eq!(
        out,
        vec![
            Action::Transition {
                from: State::Master,
                to: State::Initialize,
                reason: TransitionReason::Shutdown
            },
            Action::SendAdvert { priority: 0 },
            Action::RemoveRoutes,
            Action::RemoveVips,
        ]
    );
    assert_eq!(m.poll_timeout(), None);
    assert_eq!(m.current_master(), None);
    assert_eq!(m.stats().priority_zero_sent, 1);
    // Restart works.
    out.clear();
    m.startup(at, &mut out);
    assert_eq!(m.state(), State::Backup);
}

// ---- validity rules ----

#[test]
fn own_advert_is_ignored_silently() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    out.clear();
    m.on_advert(&adv(ME, 200, 10), t(10), &mut out);
    assert!(out.is_empty());
    assert_eq!(m.poll_timeout(), Some(t(360_937)));
    assert_eq!(m.stats().discarded.own_advert, 1);
    assert_eq!(m.stats().adverts_received, 1);
}

#[test]
fn v2_interval_mismatch_is_discarded_in_every_state() {
    let mut m = v2(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    out.clear();
    let expected = Action::Discarded {
        reason: DiscardReason::IntervalMismatch {
            ours: Duration::from_secs(1),
            theirs: Duration::from_secs(2),
        },
    };
    // Even a priority-0 advert.
    m.on_advert(&adv(HIGH, 0, 200), t(10), &mut out);
    assert_eq!(out, vec![expected]);
    assert_eq!(m.poll_timeout(), Some(t(3_609_375)));
    m.handle_timeout(t(3_609_375), &mut out);
    assert_eq!(m.state(), State::Master);
    out.clear();
    m.on_advert(&adv(HIGH, 200, 200), t(3_700_000), &mut out);
    assert_eq!(out, vec![expected]);
    assert_eq!(m.state(), State::Master);
    assert_eq!(m.stats().discarded.interval_mismatch, 2);
}

#[test]
fn v2_matching_interval_is_accepted_without_learning() {
    let mut m = v2(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    out.clear();
    m.on_advert(&adv(HIGH, 200, 100), t(1_000_000), &mut out);
    assert!(out.is_empty());
    assert_eq!(m.master_adver_interval(), Duration::from_secs(1));
    assert_eq!(m.poll_timeout(), Some(t(4_609_375)));
}

#[test]
fn v2_master_preempted_and_priority_zero_fast_takeover() {
    let mut m = v2(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.handle_timeout(t(3_609_375), &mut out);
    out.clear();
    m.on_advert(&adv(HIGH, 150, 100), t(4_000_000), &mut out);
    assert_eq!(m.state(), State::Backup);
    assert_eq!(m.poll_timeout(), Some(t(7_609_375)));
    m.on_advert(&adv(HIGH, 0, 100), t(5_000_000), &mut out);
    assert_eq!(m.poll_timeout(), Some(t(5_609_375)));
}

#[test]
fn v3_zero_interval_is_discarded() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    out.clear();
    m.on_advert(&adv(HIGH, 200, 0), t(10), &mut out);
    assert_eq!(
        out,
        vec![Action::Discarded {
            reason: DiscardReason::ZeroInterval
        }]
    );
    assert_eq!(m.poll_timeout(), Some(t(360_937)));
}

#[test]
fn v3_interval_difference_is_not_a_mismatch() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    out.clear();
    m.on_advert(&adv(HIGH, 200, 4095), t(10), &mut out);
    assert!(out.is_empty());
    assert_eq!(m.master_adver_interval(), Duration::from_millis(40_950));
}

#[test]
fn other_family_source_is_discarded() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    out.clear();
    m.on_advert(
        &adv(IpAddr::V6(Ipv6Addr::LOCALHOST), 200, 10),
        t(10),
        &mut out,
    );
    assert_eq!(
        out,
        vec![Action::Discarded {
            reason: DiscardReason::FamilyMismatch
        }]
    );
}

// ---- run-time priority changes ----

#[test]
fn set_priority_as_master_sends_advert_now() {
    let (mut m, at) = master_v3(100);
    let mut out = Vec::new();
    let now = at + Duration::from_millis(40);
    assert_eq!(m.set_priority(50, now, &mut out), Ok(()));
    assert_eq!(out, vec![Action::SendAdvert { priority: 50 }]);
    assert_eq!(m.poll_timeout(), Some(now + Duration::from_millis(100)));
    out.clear();
    m.handle_timeout(now + Duration::from_millis(100), &mut out);
    assert_eq!(out, vec![Action::SendAdvert { priority: 50 }]);
    // Now a priority-60 advert wins.
    out.clear();
    m.on_advert(
        &adv(LOW, 60, 10),
        now + Duration::from_millis(150),
        &mut out,
    );
    assert_eq!(m.state(), State::Backup);
}

#[test]
fn set_priority_same_or_zero() {
    let (mut m, at) = master_v3(100);
    let mut out = Vec::new();
    assert_eq!(m.set_priority(100, at, &mut out), Ok(()));
    assert!(out.is_empty());
    assert_eq!(
        m.set_priority(0, at, &mut out),
        Err(ParamsError::ZeroPriority)
    );
    assert_eq!(m.priority(), 100);
}

#[test]
fn set_priority_as_backup_takes_over_at_master_down_timer() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.on_advert(&adv(HIGH, 150, 10), t(100_000), &mut out);
    out.clear();
    assert_eq!(m.set_priority(200, t(150_000), &mut out), Ok(()));
    assert!(out.is_empty());
    // Running timer untouched (set with the old skew).
    assert_eq!(m.poll_timeout(), Some(t(460_937)));
    // The Master's next advert is now discarded (preempt, 150 < 200)...
    m.on_advert(&adv(HIGH, 150, 10), t(200_000), &mut out);
    assert_eq!(m.stats().discarded.lower_priority, 1);
    assert_eq!(m.poll_timeout(), Some(t(460_937)));
    // ...and we take over when the timer expires.
    m.handle_timeout(t(460_937), &mut out);
    assert_eq!(m.state(), State::Master);
    // The new priority is used in our adverts and Skew_Time.
    assert!(out.contains(&Action::SendAdvert { priority: 200 }));
}

#[test]
fn set_priority_in_initialize_applies_at_startup() {
    let mut m = v3(100);
    let mut out = Vec::new();
    assert_eq!(m.set_priority(255, t(0), &mut out), Ok(()));
    assert!(out.is_empty());
    m.startup(t(0), &mut out);
    assert_eq!(m.state(), State::Master);
}

// ---- misc ----

#[test]
fn handle_timeout_without_due_timer_is_noop() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.handle_timeout(t(1_000_000_000), &mut out);
    assert!(out.is_empty());
    m.startup(t(0), &mut out);
    out.clear();
    m.handle_timeout(t(0), &mut out);
    assert!(out.is_empty());
}

#[test]
fn stats_count_everything() {
    let (mut m, at) = master_v3(100);
    let mut out = Vec::new();
    m.handle_timeout(at + Duration::from_millis(100), &mut out);
    m.on_advert(&adv(HIGH, 0, 10), at, &mut out);
    m.shutdown(at + Duration::from_millis(150), &mut out);
    let s = m.stats();
    assert_eq!(s.adverts_sent, 4); // on takeover, timer, priority-0 reply, shutdown
    assert_eq!(s.adverts_received, 1);
    assert_eq!(s.priority_zero_received, 1);
    assert_eq!(s.priority_zero_sent, 1);
    assert_eq!(s.transitions, 3);
    assert_eq!(s.discarded.total(), 0);
    assert_eq!(s.last_transition, Some(at + Duration::from_millis(150)));
}
