//! Master: advert cadence and phase spreading, priority 0, preemption by a peer, tie-breaks.

use super::*;

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
