//! Validity rules for received adverts (own adverts, interval mismatch, other family).

use super::*;

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
