//! One test (or more) per RFC rule, with virtual time; the helpers shared by the themes below.

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
        preempt_delay: Duration::ZERO,
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

mod backup;
mod fault;
mod follow;
mod master;
mod priority;
mod sync;
mod timers;
mod validity;
