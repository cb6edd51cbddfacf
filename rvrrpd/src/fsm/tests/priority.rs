//! Run-time priority changes, and the rest (no-op timeouts, statistics).

use super::*;

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
fn set_priority_as_backup_takes_over_skew_time_after_the_next_advert() {
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
    // ...and we take over after our Skew_Time (56 × 100 ms / 256 = 21 875 µs).
    assert_eq!(m.poll_timeout(), Some(t(221_875)));
    m.handle_timeout(t(221_875), &mut out);
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
