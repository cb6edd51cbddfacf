//! The Fault state: raised by the group's interface going down or an unweighted tracked
//! object failing; silent while raised; back through Backup when it clears.

use super::*;

fn transition(from: State, to: State, reason: TransitionReason) -> Action {
    Action::Transition { from, to, reason }
}

#[test]
fn backup_to_fault_stops_the_timer_and_goes_silent() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    out.clear();
    m.set_fault(true, t(50_000), &mut out);
    assert_eq!(
        out,
        vec![transition(
            State::Backup,
            State::Fault,
            TransitionReason::Fault
        )]
    );
    assert_eq!(m.state(), State::Fault);
    assert_eq!(m.poll_timeout(), None);
    assert_eq!(m.current_master(), None);
    // Silent: adverts are discarded, timeouts do nothing, not even much later.
    out.clear();
    m.on_advert(&adv(HIGH, 50, 10), t(60_000), &mut out);
    assert_eq!(
        out,
        vec![Action::Discarded {
            reason: DiscardReason::NotRunning
        }]
    );
    out.clear();
    m.handle_timeout(t(10_000_000), &mut out);
    assert!(out.is_empty());
    assert_eq!(m.state(), State::Fault);
}

#[test]
fn master_to_fault_leaves_like_a_shutdown() {
    let (mut m, at) = master_v3(100);
    let mut out = Vec::new();
    m.set_fault(true, at + Duration::from_millis(10), &mut out);
    assert_eq!(
        out,
        vec![
            transition(State::Master, State::Fault, TransitionReason::Fault),
            Action::SendAdvert { priority: 0 },
            Action::RemoveRoutes,
            Action::RemoveVips,
        ]
    );
    assert_eq!(m.poll_timeout(), None);
    assert_eq!(m.stats().priority_zero_sent, 1);
}

#[test]
fn cleared_fault_returns_through_backup_with_a_fresh_master_down_timer() {
    let (mut m, at) = master_v3(100);
    let mut out = Vec::new();
    m.set_fault(true, at, &mut out);
    out.clear();
    let back = at + Duration::from_secs(5);
    m.set_fault(false, back, &mut out);
    assert_eq!(
        out,
        vec![transition(
            State::Fault,
            State::Backup,
            TransitionReason::FaultCleared
        )]
    );
    // Master_Down_Interval = 3 × 100 ms + 60 937 µs from the moment it cleared.
    assert_eq!(
        m.poll_timeout(),
        Some(back + Duration::from_micros(360_937))
    );
    // Nobody speaks: Master again at that deadline.
    out.clear();
    m.handle_timeout(back + Duration::from_micros(360_937), &mut out);
    assert_eq!(m.state(), State::Master);
}

#[test]
fn a_better_master_heard_after_the_fault_keeps_us_backup() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.set_fault(true, t(10_000), &mut out);
    m.set_fault(false, t(20_000), &mut out);
    m.on_advert(&adv(HIGH, 200, 10), t(30_000), &mut out);
    assert_eq!(m.state(), State::Backup);
    assert_eq!(m.current_master(), Some(HIGH));
    assert_eq!(m.poll_timeout(), Some(t(30_000 + 360_937)));
}

#[test]
fn fault_raised_in_initialize_applies_at_startup() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.set_fault(true, t(0), &mut out);
    assert!(out.is_empty());
    assert_eq!(m.state(), State::Initialize);
    assert!(m.faulted());
    m.startup(t(1_000), &mut out);
    assert_eq!(
        out,
        vec![transition(
            State::Initialize,
            State::Fault,
            TransitionReason::Fault
        )]
    );
    assert_eq!(m.poll_timeout(), None);
    // An owner too: a faulted owner does not claim its addresses.
    let mut owner = v3(255);
    out.clear();
    owner.set_fault(true, t(0), &mut out);
    owner.startup(t(0), &mut out);
    assert_eq!(owner.state(), State::Fault);
    assert!(!out.contains(&Action::AddVips));
}

#[test]
fn fault_cleared_in_initialize_just_drops_the_flag() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.set_fault(true, t(0), &mut out);
    m.set_fault(false, t(1), &mut out);
    assert!(out.is_empty());
    m.startup(t(2), &mut out);
    assert_eq!(m.state(), State::Backup);
}

#[test]
fn repeated_fault_calls_are_no_ops() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.set_fault(true, t(1), &mut out);
    out.clear();
    m.set_fault(true, t(2), &mut out);
    assert!(out.is_empty());
    m.set_fault(false, t(3), &mut out);
    out.clear();
    m.set_fault(false, t(4), &mut out);
    assert!(out.is_empty());
    assert_eq!(m.stats().transitions, 3);
}

#[test]
fn shutdown_from_fault_is_silent() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.set_fault(true, t(1), &mut out);
    out.clear();
    m.shutdown(t(2), &mut out);
    assert_eq!(
        out,
        vec![transition(
            State::Fault,
            State::Initialize,
            TransitionReason::Shutdown
        )]
    );
}

#[test]
fn priority_set_during_a_fault_is_used_after_it() {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.set_fault(true, t(1), &mut out);
    out.clear();
    assert_eq!(m.set_priority(200, t(2), &mut out), Ok(()));
    assert!(out.is_empty(), "no advert from Fault: {out:?}");
    m.set_fault(false, t(3), &mut out);
    // Master_Down_Interval with the new priority's skew (56 × 100 ms / 256 = 21 875 µs).
    assert_eq!(m.poll_timeout(), Some(t(3 + 321_875)));
}
