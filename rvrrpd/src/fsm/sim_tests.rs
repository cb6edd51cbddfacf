//! Routers on an in-memory wire, exchanging adverts over virtual time.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::*;
use crate::time::Instant;

struct Router {
    m: Vrrp,
    up: bool,
    /// `(time, to-state)` of every transition.
    log: Vec<(Instant, State)>,
}

/// A broadcast segment with a fixed propagation delay.
struct Wire {
    routers: Vec<Router>,
    /// Adverts in flight: (arrival, info).
    in_flight: Vec<(Instant, AdvertInfo)>,
    delay: Duration,
    now: Instant,
    interval_cs: u16,
}

impl Wire {
    fn new(version: Version, interval: Duration, prios: &[(u8, u8)]) -> Wire {
        let routers = prios
            .iter()
            .map(|&(last_octet, priority)| Router {
                m: Vrrp::new(GroupParams {
                    version,
                    vrid: 1,
                    priority,
                    preempt: true,
                    accept_mode: false,
                    advert_interval: interval,
                    primary_addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, last_octet)),
                    advert_phase: None,
                    preempt_delay: Duration::ZERO,
                }),
                up: false,
                log: Vec::new(),
            })
            .collect();
        Wire {
            routers,
            in_flight: Vec::new(),
            delay: Duration::from_micros(50),
            now: Instant::ZERO,
            interval_cs: (interval.as_millis() / 10) as u16,
        }
    }

    fn apply(&mut self, i: usize, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::SendAdvert { priority } => {
                    let info = AdvertInfo {
                        src: self.routers[i].m.params().primary_addr,
                        priority,
                        max_advert_int_cs: self.interval_cs,
                    };
                    self.in_flight.push((self.now + self.delay, info));
                }
                Action::Transition { to, .. } => self.routers[i].log.push((self.now, to)),
                _ => {}
            }
        }
    }

    fn start(&mut self, i: usize) {
        let mut out = Vec::new();
        self.routers[i].up = true;
        self.routers[i].m.startup(self.now, &mut out);
        self.apply(i, out);
    }

    fn shutdown(&mut self, i: usize) {
        let mut out = Vec::new();
        self.routers[i].m.shutdown(self.now, &mut out);
        self.routers[i].up = false;
        self.apply(i, out);
    }

    /// Silent failure: the router stops sending and receiving.
    fn crash(&mut self, i: usize) {
        self.routers[i].up = false;
    }

    /// Runs every event up to and including `until`.
    fn run_until(&mut self, until: Instant) {
        loop {
            let timers = self
                .routers
                .iter()
                .filter(|r| r.up)
                .filter_map(|r| r.m.poll_timeout());
            let arrivals = self.in_flight.iter().map(|&(t, _)| t);
            let Some(next) = timers.chain(arrivals).min() else {
                break;
            };
            if next > until {
                break;
            }
            self.now = next;
            let (due, later): (Vec<_>, Vec<_>) =
                self.in_flight.drain(..).partition(|&(t, _)| t <= next);
            self.in_flight = later;
            for (_, info) in due {
                // Multicast loops back to the sender too: it must ignore its own adverts.
                for i in 0..self.routers.len() {
                    if self.routers[i].up {
                        let mut out = Vec::new();
                        self.routers[i].m.on_advert(&info, next, &mut out);
                        self.apply(i, out);
                    }
                }
            }
            for i in 0..self.routers.len() {
                if self.routers[i].up {
                    let mut out = Vec::new();
                    self.routers[i].m.handle_timeout(next, &mut out);
                    self.apply(i, out);
                }
            }
        }
        self.now = until;
    }

    fn masters(&self) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|&i| self.routers[i].up && self.routers[i].m.state() == State::Master)
            .collect()
    }

    fn became_master_at(&self, i: usize) -> Option<Instant> {
        self.routers[i]
            .log
            .iter()
            .rev()
            .find(|(_, s)| *s == State::Master)
            .map(|&(t, _)| t)
    }
}

fn ms(x: u64) -> Instant {
    Instant::from_millis(x)
}

#[test]
fn two_routers_elect_one_master_and_fail_over_at_master_down_interval() {
    let mut w = Wire::new(
        Version::V3,
        Duration::from_millis(100),
        &[(1, 200), (2, 100)],
    );
    w.start(0);
    w.start(1);
    w.run_until(ms(2_000));
    assert_eq!(w.masters(), vec![0]);
    assert_eq!(w.routers[1].m.state(), State::Backup);
    assert_eq!(w.routers[1].log.len(), 1, "the Backup never flapped");
    // A (200) took over at its own Master_Down_Interval: 300 ms + 56 × 100 ms / 256.
    assert_eq!(w.became_master_at(0), Some(Instant::from_micros(321_875)));

    // A's adverts go at 321.875 ms + k × 100 ms; the last before 2 050 ms is at 2 021.875.
    w.run_until(ms(2_050));
    w.crash(0);
    let last_arrival = Instant::from_micros(2_021_875 + 50);
    let mdi_b = w.routers[1].m.master_down_interval();
    assert_eq!(mdi_b, Duration::from_micros(360_937));
    w.run_until(ms(3_000));
    assert_eq!(w.masters(), vec![1]);
    assert_eq!(w.became_master_at(1), Some(last_arrival + mdi_b));
}

#[test]
fn graceful_shutdown_fails_over_after_skew_time() {
    let mut w = Wire::new(
        Version::V3,
        Duration::from_millis(100),
        &[(1, 200), (2, 100)],
    );
    w.start(0);
    w.start(1);
    w.run_until(ms(1_000));
    w.shutdown(0);
    let skew_b = w.routers[1].m.skew_time();
    w.run_until(ms(2_000));
    assert_eq!(w.masters(), vec![1]);
    assert_eq!(
        w.became_master_at(1),
        Some(ms(1_000) + Duration::from_micros(50) + skew_b)
    );
}

#[test]
fn returning_higher_priority_router_preempts() {
    let mut w = Wire::new(
        Version::V3,
        Duration::from_millis(100),
        &[(1, 200), (2, 100)],
    );
    w.start(1);
    w.run_until(ms(1_000));
    assert_eq!(w.masters(), vec![1]);
    w.start(0);
    w.run_until(ms(2_000));
    assert_eq!(w.masters(), vec![0]);
    // A starts in Backup, discards B's first lower-priority advert and takes over Skew_Time
    // (56 × 100 ms / 256 = 21 875 µs) after it: within one interval plus Skew_Time of its
    // start, well before its Master_Down_Interval (321 875 µs).
    let took_over = w.became_master_at(0).expect("A became Master");
    let skew_a = Duration::from_micros(21_875);
    assert!(took_over > ms(1_000) + skew_a, "{took_over:?}");
    assert!(
        took_over <= ms(1_100) + Duration::from_micros(50) + skew_a,
        "{took_over:?}"
    );
    assert_eq!(w.routers[1].m.state(), State::Backup);
}

#[test]
fn equal_priorities_resolve_to_highest_address() {
    let mut w = Wire::new(
        Version::V3,
        Duration::from_millis(100),
        &[(1, 100), (3, 100), (2, 100)],
    );
    for i in 0..3 {
        w.start(i);
    }
    w.run_until(ms(3_000));
    // All three expire together, all become Master, and the tie-break leaves 192.0.2.3.
    assert_eq!(w.masters(), vec![1]);
}

#[test]
fn v2_two_routers_fail_over() {
    let mut w = Wire::new(Version::V2, Duration::from_secs(1), &[(1, 150), (2, 100)]);
    w.start(0);
    w.start(1);
    w.run_until(ms(10_000));
    assert_eq!(w.masters(), vec![0]);
    w.crash(0);
    w.run_until(ms(20_000));
    assert_eq!(w.masters(), vec![1]);
    // A became Master at 3 s + 106/256 s = 3 414 062 µs (truncated); adverts each second
    // after that; the last one before the crash at 10 s was sent at 9 414 062 µs.
    assert_eq!(w.became_master_at(0), Some(Instant::from_micros(3_414_062)));
    let expected = Instant::from_micros(9_414_062 + 50) + Duration::from_micros(3_609_375);
    assert_eq!(w.became_master_at(1), Some(expected));
}
