//! The kernel-resident Backup's rule: repeats of the followed Master's advert, reported by
//! their newest arrival ([`Vrrp::on_repeat`]), and everything that ends following.

use super::*;

/// Master_Down_Interval of `v3(100)` hearing 100 ms adverts.
const MDI: u64 = 360_937;

/// A v3 Backup (priority 100) started at 0 that accepted HIGH's advert (priority 200) at 1 ms.
fn following() -> Vrrp {
    let mut m = v3(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.on_advert(&adv(HIGH, 200, 10), t(1_000), &mut out);
    assert_eq!(m.follows(), Some(HIGH));
    m
}

#[test]
fn repeats_then_silence_take_over_exactly_mdi_after_the_last_repeat() {
    let mut m = following();
    // The reference: the same adverts through on_advert.
    let mut r = following();
    let mut out = Vec::new();
    let mut last = 1_000;
    for i in 1..=10u64 {
        last = 1_000 + i * 100_000 + i * 7; // a little jitter
        r.on_advert(&adv(HIGH, 200, 10), t(last), &mut out);
    }
    assert!(out.is_empty(), "{out:?}");
    // The driver learns only the newest arrival, when the first deadline is due.
    assert_eq!(m.poll_timeout(), Some(t(1_000 + MDI)));
    assert!(m.on_repeat(t(last)));
    assert_eq!(m.poll_timeout(), Some(t(last + MDI)));
    assert_eq!(
        m.poll_timeout(),
        r.poll_timeout(),
        "same deadline as the slow path"
    );
    assert_eq!(m.follows(), Some(HIGH));
    m.handle_timeout(t(last + MDI - 1), &mut out);
    assert!(out.is_empty(), "not before t_n + MDI");
    assert_eq!(m.state(), State::Backup);
    m.handle_timeout(t(last + MDI), &mut out);
    assert_eq!(
        out,
        becoming_master(State::Backup, TransitionReason::MasterDown, 100)
    );
    assert_eq!(m.follows(), None, "a Master follows nobody");
}

#[test]
fn repeats_extend_one_deadline_at_a_time() {
    let mut m = following();
    let mut out = Vec::new();
    let mut due = m.poll_timeout().expect("deadline");
    // Each expiry finds newer repeats: one extension per Master_Down_Interval.
    for _ in 0..5 {
        let newest = t(due.as_micros() - 60_000);
        assert!(m.on_repeat(newest));
        let next = m.poll_timeout().expect("deadline");
        assert_eq!(next, newest + Duration::from_micros(MDI));
        m.handle_timeout(due, &mut out);
        assert!(out.is_empty());
        due = next;
    }
    assert_eq!(m.state(), State::Backup);
}

#[test]
fn a_repeat_never_moves_the_deadline_earlier() {
    let mut m = following();
    assert!(m.on_repeat(t(500_000)));
    let due = m.poll_timeout();
    assert_eq!(due, Some(t(500_000 + MDI)));
    assert!(!m.on_repeat(t(400_000)), "an older repeat");
    assert!(!m.on_repeat(t(500_000)), "the same repeat again");
    assert_eq!(m.poll_timeout(), due);
    // An advert accepted on the slow path at the same instant sets the same deadline.
    let mut out = Vec::new();
    m.on_advert(&adv(HIGH, 200, 10), t(500_000), &mut out);
    assert_eq!(m.poll_timeout(), due);
}

#[test]
fn priority_zero_ends_following_and_runs_skew_time() {
    let mut m = following();
    let mut out = Vec::new();
    m.on_advert(&adv(HIGH, 0, 10), t(50_000), &mut out);
    assert_eq!(m.follows(), None);
    let skew = m.poll_timeout().expect("skew timer");
    assert_eq!(skew, t(50_000 + 60_937));
    assert!(
        !m.on_repeat(t(60_000)),
        "a stale repeat must not undo the hand-over"
    );
    assert_eq!(m.poll_timeout(), Some(skew));
    m.handle_timeout(skew, &mut out);
    assert_eq!(m.state(), State::Master);
}

#[test]
fn a_different_advert_of_the_master_goes_the_normal_way() {
    // Its priority fell below ours (preempt on): fast preemption, not following.
    let mut m = following();
    let mut out = Vec::new();
    m.on_advert(&adv(HIGH, 50, 10), t(50_000), &mut out);
    assert_eq!(m.follows(), None);
    assert!(matches!(
        out.as_slice(),
        [Action::Discarded {
            reason: DiscardReason::LowerPriority { .. }
        }]
    ));
    assert!(!m.on_repeat(t(60_000)));
    assert_eq!(m.poll_timeout(), Some(t(50_000 + 60_937)));
    // Another interval, still better than us: followed again, with the new interval.
    let mut m = following();
    m.on_advert(&adv(HIGH, 200, 20), t(50_000), &mut out);
    assert_eq!(m.follows(), Some(HIGH));
    assert_eq!(m.master_adver_interval(), Duration::from_millis(200));
}

#[test]
fn a_refused_advert_of_the_followed_master_ends_following() {
    // v2: an interval other than ours is discarded; its copies must not extend the timer.
    let mut m = v2(100);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.on_advert(&adv(HIGH, 200, 100), t(1_000), &mut out);
    assert_eq!(m.follows(), Some(HIGH));
    let due = m.poll_timeout();
    m.on_advert(&adv(HIGH, 200, 200), t(2_000), &mut out);
    assert_eq!(m.follows(), None);
    assert!(!m.on_repeat(t(3_000)));
    assert_eq!(m.poll_timeout(), due);
}

#[test]
fn another_router_refused_or_followed() {
    let mut m = following();
    let mut out = Vec::new();
    // A third router's advert of another family is refused: HIGH is still followed.
    let other = IpAddr::V6(Ipv6Addr::LOCALHOST);
    m.on_advert(&adv(other, 250, 10), t(2_000), &mut out);
    assert_eq!(m.follows(), Some(HIGH));
    // A third router as good as us (preempt on) is deferred to: it is followed now.
    m.on_advert(&adv(LOW, 100, 10), t(3_000), &mut out);
    assert_eq!(m.follows(), Some(LOW));
}

#[test]
fn own_changes_end_following() {
    let mut out = Vec::new();

    let mut m = following();
    m.set_priority(100, t(2_000), &mut out)
        .expect("same priority");
    assert_eq!(
        m.follows(),
        Some(HIGH),
        "an unchanged priority changes nothing"
    );
    m.set_priority(120, t(2_000), &mut out).expect("priority");
    assert_eq!(m.follows(), None, "priority change");

    let mut m = following();
    m.set_preempt(true);
    assert_eq!(m.follows(), Some(HIGH), "unchanged preemption");
    m.set_preempt(false);
    assert_eq!(m.follows(), None, "preemption change");

    let mut m = following();
    m.set_fault(true, t(2_000), &mut out);
    assert_eq!(m.follows(), None, "Fault");
    assert!(!m.on_repeat(t(3_000)));
    m.set_fault(false, t(4_000), &mut out);
    assert_eq!(m.state(), State::Backup);
    assert_eq!(m.follows(), None, "back from Fault: nobody heard yet");

    let mut m = following();
    m.set_sync(true, t(2_000), &mut out);
    assert_eq!(m.follows(), None, "sync-group membership");

    let mut m = following();
    m.shutdown(t(2_000), &mut out);
    assert_eq!(m.follows(), None, "shutdown");
    assert!(!m.on_repeat(t(3_000)));
}

#[test]
fn a_worse_master_waiting_out_preempt_delay_is_not_followed() {
    let mut p = params(Version::V3, 150, Duration::from_millis(100));
    p.preempt_delay = Duration::from_millis(500);
    let mut m = Vrrp::new(p);
    let mut out = Vec::new();
    m.startup(t(0), &mut out);
    m.on_advert(&adv(HIGH, 100, 10), t(1_000), &mut out);
    assert_eq!(m.state(), State::Backup);
    assert_eq!(
        m.follows(),
        None,
        "its adverts must reach the machine to preempt it"
    );
    assert!(!m.on_repeat(t(100_000)));
}

#[test]
fn a_sync_member_holding_for_its_group_follows_nobody() {
    let mut m = v3(200);
    let mut out = Vec::new();
    m.set_sync(true, t(0), &mut out);
    m.startup(t(0), &mut out);
    m.on_advert(&adv(HIGH, 250, 10), t(1_000), &mut out);
    assert_eq!(
        m.follows(),
        Some(HIGH),
        "a member may follow a better Master"
    );
    let due = m.poll_timeout().expect("deadline");
    m.handle_timeout(due, &mut out);
    assert!(m.wants_master());
    assert_eq!(m.follows(), None, "holding for its sync group");
    assert!(!m.on_repeat(due));
    assert_eq!(m.poll_timeout(), None);
}
