//! Sync-group hold: a held Master leaves, a held Backup neither preempts nor takes over.

use super::*;

#[test]
fn a_held_master_leaves_with_priority_zero() {
    let (mut m, at) = master_v3(200);
    let mut out = Vec::new();
    m.set_hold(true, at + Duration::from_millis(5), &mut out);
    assert_eq!(
        out,
        vec![
            Action::Transition {
                from: State::Master,
                to: State::Backup,
                reason: TransitionReason::SyncGroup
            },
            Action::SendAdvert { priority: 0 },
            Action::RemoveRoutes,
            Action::RemoveVips,
        ]
    );
    assert_eq!(m.state(), State::Backup);
}

#[test]
fn a_held_backup_neither_takes_over_nor_preempts_until_released() {
    let mut m = v3(200);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.set_hold(true, t(1), &mut out);
    out.clear();
    // Nobody speaks: the timer expires and re-arms, no takeover.
    let first = m.poll_timeout().expect("timer");
    m.handle_timeout(first, &mut out);
    assert_eq!(m.state(), State::Backup);
    assert!(m.poll_timeout().is_some_and(|d| d > first));
    // A worse Master is accepted, not preempted.
    m.on_advert(&adv(HIGH, 100, 10), t(500_000), &mut out);
    assert_eq!(m.stats().discarded.lower_priority, 0);
    assert_eq!(m.poll_timeout(), Some(t(500_000 + 321_875)));
    // Released: the next worse advert is preempted (Skew_Time 21 875 µs).
    m.set_hold(false, t(550_000), &mut out);
    m.on_advert(&adv(HIGH, 100, 10), t(600_000), &mut out);
    assert_eq!(m.stats().discarded.lower_priority, 1);
    m.handle_timeout(t(621_875), &mut out);
    assert_eq!(m.state(), State::Master);
}
