//! The receive path: draining a worker's sockets or XDP ring in bounded batches, and
//! validating and demultiplexing each advert to its group's state machine.

use tracing::warn;

use super::shard::Group;
use super::shell::{now, Worker};
use super::Shard;
use crate::fsm::AdvertInfo;
use crate::time::Instant;
use crate::wire::{self, Family, RxMeta, VrrpPacket, VrrpRepr};

impl Worker {
    /// Runs the events the XDP program queued for this worker, in bounded batches.
    pub(super) fn drain_ring(&mut self) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        let shard = &mut self.shard;
        for _ in 0..8 {
            let now = now();
            let n = ring.drain(256, |ev| {
                let (Some(src), false) = (ev.src_addr(), ev.is_truncated()) else {
                    return;
                };
                let dst = match src {
                    std::net::IpAddr::V4(_) => std::net::IpAddr::V4(crate::net::VRRP_MCAST_V4),
                    std::net::IpAddr::V6(_) => std::net::IpAddr::V6(crate::net::VRRP_MCAST_V6),
                };
                let meta = RxMeta {
                    src,
                    dst,
                    ttl: ev.ttl,
                };
                let at = shard.rx_time(ev.rx_ns, now);
                shard.handle_advert(ev.ifindex, ev.vrrp_bytes(), &meta, at);
            });
            if n < 256 {
                return;
            }
        }
    }

    pub(super) fn drain_socket(&mut self, sock: usize) {
        let Some(socket) = self.rx.get_mut(sock) else {
            return;
        };
        let shard = &mut self.shard;
        // Bounded so one flooded interface cannot starve timers and other sockets.
        for _ in 0..8 {
            let now = now();
            let n = socket.recv_batch(|d| {
                let meta = RxMeta {
                    src: d.src,
                    dst: d.dst,
                    ttl: d.ttl,
                };
                let at = shard.rx_time(d.rx_ns, now);
                shard.handle_advert(d.ifindex, d.payload, &meta, at);
            });
            match n {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) => {
                    warn!("worker {}: receive: {e}", self.id);
                    return;
                }
            }
        }
    }
}

impl Shard {
    /// The time to hand the machines for an advert the kernel stamped `rx_ns` (CLOCK_MONOTONIC
    /// nanoseconds, 0 = unknown) and the worker read at `now`: the arrival, so a Backup's
    /// Master_Down_Timer runs from when the advert arrived, not from when a busy worker got
    /// to it; never before the last timer turn (time must not run backwards for a machine)
    /// nor after `now`.
    pub fn rx_time(&self, rx_ns: u64, now: Instant) -> Instant {
        if rx_ns == 0 {
            return now;
        }
        Instant::from_micros(rx_ns / 1000)
            .max(self.last_fire)
            .min(now)
    }

    /// Validates and demultiplexes one received VRRP message and runs its group's machine.
    pub fn handle_advert(&mut self, ifindex: u32, payload: &[u8], meta: &RxMeta, now: Instant) {
        let family = Family::of(&meta.src);
        let Some(vrid) = payload.get(1).copied() else {
            return;
        };
        let Some(&g) = self.demux.get(&(ifindex, family, vrid)) else {
            return;
        };
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        let unicast_meta;
        let meta = match group.spec.unicast.as_deref() {
            None => meta,
            Some(u) => {
                let refused = if !u.peers.contains(&meta.src) {
                    Some(format_args!("not a unicast peer of this vrouter"))
                } else if meta.ttl < u.min_ttl {
                    Some(format_args!("TTL {} below unicast_min_ttl", meta.ttl))
                } else {
                    None
                };
                if let Some(why) = refused {
                    group.not_peer += 1;
                    group.log_discard(now, format_args!("from {}: {why}", meta.src));
                    self.publish_if_due(g);
                    return;
                }
                // The group's TTL rule is checked: the codec's (255, for multicast) is not
                // ours. Ring records carry no destination: a peer's unicast advert is
                // addressed (and its VRRPv3 pseudo-header checksummed) to our unicast source.
                unicast_meta = RxMeta {
                    src: meta.src,
                    dst: if meta.dst.is_multicast() {
                        u.src
                    } else {
                        meta.dst
                    },
                    ttl: 255,
                };
                &unicast_meta
            }
        };
        let parsed = match VrrpPacket::new_checked(payload).and_then(|p| VrrpRepr::parse(&p, meta))
        {
            Ok(p) => p,
            Err(e) => {
                group.malformed += 1;
                group.log_discard(now, format_args!("from {}: {e}", meta.src));
                self.publish_if_due(g);
                return;
            }
        };
        let repr = &parsed.repr;
        if repr.version != group.spec.version {
            let expected = group.spec.version;
            group.malformed += 1;
            group.log_discard(
                now,
                format_args!(
                    "from {}: version {:?}, expected {expected:?}",
                    meta.src, repr.version
                ),
            );
            self.publish_if_due(g);
            return;
        }
        if repr.version == wire::Version::V2 {
            if let Err(e) = group.spec.auth.verify(payload) {
                group.auth_failures += 1;
                group.log_discard(
                    now,
                    format_args!("from {}: authentication failed: {e}", meta.src),
                );
                self.publish_if_due(g);
                return;
            }
        }
        let interval_cs = match repr.version {
            wire::Version::V2 => repr.max_advert_int.saturating_mul(100),
            wire::Version::V3 => repr.max_advert_int,
        };
        let info = AdvertInfo {
            src: meta.src,
            priority: repr.priority,
            max_advert_int_cs: interval_cs,
        };
        // Its repeats swallowed so far count before it (see `follow`).
        let stamp = self.settle(g, now);
        if let Some(group) = self.groups[g].as_mut() {
            group.fsm.on_advert(&info, now, &mut self.actions);
        }
        self.follow_advert(g, info.src, payload, now, stamp);
        self.apply_actions(g, now);
    }
}

impl Group {
    /// Logs a discarded advert, at most once per second per group (a flood must not flood logs).
    pub(super) fn log_discard(&mut self, now: Instant, what: std::fmt::Arguments<'_>) {
        if self.last_discard_log == 0
            || now.as_micros().saturating_sub(self.last_discard_log) >= 1_000_000
        {
            self.last_discard_log = now.as_micros().max(1);
            warn!(
                "vrouter {} on {}: advert discarded {what}",
                self.spec.vrid, self.spec.ifname
            );
        }
    }
}
