//! Unicast mode in the shard, on virtual time: adverts go to each peer with a checksum for
//! that peer and nothing goes to the multicast group; only the peers' adverts count, each
//! with at least the group's `unicast_min_ttl`.

use std::net::IpAddr;
use std::time::Duration;

use super::tests::{shard, spec};
use super::{GroupSpec, Shard};
use crate::daemon::plan::UnicastSpec;
use crate::fsm::State;
use crate::time::Instant;
use crate::wire::{RxMeta, VrrpRepr};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `spec(index, me, priority)` in unicast mode from 10.0.0.`me` to `peers`.
fn unicast(index: usize, me: u8, priority: u8, peers: &[&str], min_ttl: u8) -> GroupSpec {
    let mut s = spec(index, me, priority);
    s.unicast = Some(Box::new(UnicastSpec {
        src: s.primary,
        peers: peers.iter().map(|p| ip(p)).collect(),
        ttl: 255,
        min_ttl,
    }));
    s
}

/// Delivers `from`'s queued unicast adverts addressed to `to_addr` to `to`, as received from
/// `src` with `ttl` through a socket (`dst` known) or the XDP ring (`dst` multicast: records
/// carry no destination). Returns how many were addressed to `to_addr`.
fn deliver(
    from: &mut Shard,
    src: IpAddr,
    to: &mut Shard,
    to_addr: IpAddr,
    ttl: u8,
    ring: bool,
    now: Instant,
) -> usize {
    let msgs = from.drain_unicast_outbox();
    assert!(from.drain_outbox().is_empty(), "nothing goes multicast");
    let mut n = 0;
    for (peer, msg) in msgs.iter().filter(|(p, _)| *p == to_addr) {
        let dst = if ring { ip("224.0.0.18") } else { *peer };
        to.handle_advert(2, msg, &RxMeta { src, dst, ttl }, now);
        n += 1;
    }
    n
}

#[test]
fn a_unicast_master_advertises_to_each_peer_with_its_own_checksum() {
    let (mut a, _e) = shard(0, unicast(0, 1, 200, &["10.0.0.2", "10.0.0.9"], 255));
    let mut t = Instant::from_millis(1);
    a.startup(t);
    for _ in 0..1_000 {
        t += Duration::from_millis(1);
        a.fire_timers(t);
        if a.state(0) == Some(State::Master) {
            break;
        }
    }
    assert_eq!(a.state(0), Some(State::Master));
    let msgs = a.drain_unicast_outbox();
    let peers: Vec<IpAddr> = msgs.iter().map(|(p, _)| *p).collect();
    assert_eq!(peers, [ip("10.0.0.2"), ip("10.0.0.9")]);
    for (peer, msg) in &msgs {
        let meta = RxMeta {
            src: ip("10.0.0.1"),
            dst: *peer,
            ttl: 255,
        };
        let parsed = VrrpRepr::parse_bytes(msg, &meta).unwrap_or_else(|e| panic!("{peer}: {e}"));
        assert_eq!((parsed.repr.vrid, parsed.repr.priority), (7, 200));
    }
    assert_ne!(
        msgs[0].1, msgs[1].1,
        "VRRPv3: a pseudo-header checksum per peer"
    );
    assert!(a.drain_outbox().is_empty(), "no multicast advert");
}

#[test]
fn only_peers_are_heard_and_a_foreign_master_is_ignored() {
    let (mut a, _ea) = shard(0, unicast(0, 1, 200, &["10.0.0.2"], 255));
    let (mut b, _eb) = shard(1, unicast(0, 2, 100, &["10.0.0.1"], 255));
    // A router that is not B's peer, advertising a better priority to B's address.
    let (mut c, _ec) = shard(2, unicast(0, 5, 250, &["10.0.0.2"], 255));
    let (a_ip, b_ip, c_ip) = (ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.5"));
    let mut t = Instant::from_millis(1);
    for s in [&mut a, &mut b, &mut c] {
        s.startup(t);
    }
    for step in 0..2_000 {
        t += Duration::from_millis(1);
        a.fire_timers(t);
        // Half through the socket path, half through the ring: both verify.
        deliver(&mut a, a_ip, &mut b, b_ip, 255, step % 2 == 0, t);
        b.fire_timers(t);
        deliver(&mut b, b_ip, &mut a, a_ip, 255, false, t);
        c.fire_timers(t);
        deliver(&mut c, c_ip, &mut b, b_ip, 255, false, t);
    }
    assert_eq!(a.state(0), Some(State::Master));
    assert_eq!(
        b.state(0),
        Some(State::Backup),
        "C's priority 250 is not heard"
    );
    assert_eq!(
        b.groups[0].as_ref().map(|g| g.fsm.current_master()),
        Some(Some(a_ip))
    );
    let refused = b.groups[0].as_ref().map_or(0, |g| g.not_peer);
    assert!(refused > 10, "C's adverts counted as refused: {refused}");

    // A's adverts with TTL 254 (routed): refused by default, so B takes over.
    let mut took_over = false;
    for _ in 0..1_000 {
        t += Duration::from_millis(1);
        a.fire_timers(t);
        deliver(&mut a, a_ip, &mut b, b_ip, 254, false, t);
        b.fire_timers(t);
        b.drain_unicast_outbox();
        if b.state(0) == Some(State::Master) {
            took_over = true;
            break;
        }
    }
    assert!(
        took_over,
        "TTL 254 is below the default unicast_min_ttl 255"
    );
}

#[test]
fn a_lower_min_ttl_admits_routed_peers() {
    let (mut a, _ea) = shard(0, unicast(0, 1, 200, &["10.0.0.2"], 255));
    let (mut b, _eb) = shard(1, unicast(0, 2, 100, &["10.0.0.1"], 250));
    let (a_ip, b_ip) = (ip("10.0.0.1"), ip("10.0.0.2"));
    let mut t = Instant::from_millis(1);
    a.startup(t);
    b.startup(t);
    for _ in 0..2_000 {
        t += Duration::from_millis(1);
        a.fire_timers(t);
        deliver(&mut a, a_ip, &mut b, b_ip, 252, true, t);
        b.fire_timers(t);
        deliver(&mut b, b_ip, &mut a, a_ip, 255, false, t);
    }
    assert_eq!(a.state(0), Some(State::Master));
    assert_eq!(
        b.state(0),
        Some(State::Backup),
        "TTL 252 ≥ unicast_min_ttl 250"
    );
    assert_eq!(b.groups[0].as_ref().map_or(9, |g| g.not_peer), 0);
}
