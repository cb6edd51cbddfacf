//! Timer arithmetic (skew, Master_Down_Interval) and parameter validation.

use super::*;

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
