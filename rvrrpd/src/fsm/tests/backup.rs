//! Initialize and Backup: start-up, Master_Down timer, preemption, learning the interval.

use super::*;

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
    // Fast preemption: Skew_Time (156 × 100 ms / 256 = 60 937 µs) after the worse advert,
    // not the Master_Down_Timer of the start (360 937 µs).
    assert_eq!(m.poll_timeout(), Some(t(160_937)));
    out.clear();
    m.handle_timeout(t(160_937), &mut out);
    assert_eq!(m.state(), State::Master);
}

#[test]
fn fast_preemption_never_delays_an_earlier_timer() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    // A priority-0 advert set the timer to Skew_Time; a worse advert just after keeps it.
    m.on_advert(&adv(HIGH, 0, 10), t(100_000), &mut out);
    assert_eq!(m.poll_timeout(), Some(t(160_937)));
    m.on_advert(&adv(HIGH, 50, 10), t(150_000), &mut out);
    assert_eq!(m.poll_timeout(), Some(t(160_937)));
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
    // Preempting now: Skew_Time after the worse advert.
    assert_eq!(m.poll_timeout(), Some(t(260_937)));
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

fn delayed_v3(priority: u8, delay_ms: u64) -> Vrrp {
    let mut p = params(Version::V3, priority, Duration::from_millis(100));
    p.preempt_delay = Duration::from_millis(delay_ms);
    Vrrp::new(p)
}

#[test]
fn preempt_delay_accepts_a_worse_master_until_it_has_passed() {
    let mut m = delayed_v3(100, 500);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    out.clear();
    // The worse Master's adverts are accepted (timer reset) for 500 ms from the first one.
    for k in 0..5 {
        let at = 100_000 + k * 100_000;
        m.on_advert(&adv(HIGH, 50, 10), t(at), &mut out);
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(m.poll_timeout(), Some(t(at + 360_937)));
    }
    // At 600 ms the delay (from 100 ms) has passed: discarded, Skew_Time to take over.
    m.on_advert(&adv(HIGH, 50, 10), t(600_000), &mut out);
    assert_eq!(m.stats().discarded.lower_priority, 1);
    assert_eq!(m.poll_timeout(), Some(t(660_937)));
    m.handle_timeout(t(660_937), &mut out);
    assert_eq!(m.state(), State::Master);
}

#[test]
fn preempt_delay_restarts_after_a_better_master() {
    let mut m = delayed_v3(100, 500);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.on_advert(&adv(HIGH, 50, 10), t(100_000), &mut out);
    // A better Master in between cancels the pending preemption...
    m.on_advert(&adv(HIGH, 200, 10), t(400_000), &mut out);
    // ...so a worse one at 700 ms starts a new delay (until 1.2 s).
    m.on_advert(&adv(HIGH, 50, 10), t(700_000), &mut out);
    m.on_advert(&adv(HIGH, 50, 10), t(1_100_000), &mut out);
    assert_eq!(m.stats().discarded.lower_priority, 0);
    m.on_advert(&adv(HIGH, 50, 10), t(1_200_000), &mut out);
    assert_eq!(m.stats().discarded.lower_priority, 1);
}

#[test]
fn preempt_delay_does_not_delay_a_master_down_takeover() {
    let mut m = delayed_v3(100, 5_000);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    // No Master at all: Master_Down_Interval, as without the delay.
    m.handle_timeout(t(360_937), &mut out);
    assert_eq!(m.state(), State::Master);
}
