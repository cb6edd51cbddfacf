//! The transmit path: adverts queued during a loop turn leave in one batch per interface
//! (or, with `tx_path = "xdp"`, in XDP runs: `transmit_xdp`), then the work deferred behind
//! them (transition logs, gratuitous ARP / unsolicited NA).

use tracing::{debug, info, warn};

use super::shard::{unicast_tx_key, wire_interval, TimerKey};
use super::Shard;
use crate::fsm::State;
use crate::net::unicast_tx::UnicastTx;
use crate::time::Instant;
use crate::wire::{self, AdvertParams};

/// Deferred items (logs, announcements) run per worker loop turn.
const DEFERRED_PER_TURN: usize = 64;

/// How long before the next timer deadline deferred work stops (µs): more than one item
/// takes (a gratuitous ARP burst or a log line: tens of µs).
const DEFERRED_MARGIN_US: u64 = 100;

/// Longest deferred work waits without progress while timers keep it out (µs): then one item
/// runs anyway, so a worker whose timers never leave it room still logs and announces.
const DEFERRED_MAX_WAIT_US: u64 = 5_000;

/// What each of a turn's buffers keeps at least, in bytes, once a burst is over: a phase
/// slot's adverts and events fit, so steady-state turns never reallocate.
const KEEP_BYTES: usize = 64 * 1024;

/// Gives back the memory a burst left in `v` (now empty; `used` elements this turn): a
/// takeover of 10,000 groups in one turn grows the adverts, frames and events buffers to
/// ~3 MiB, which steady-state turns of a few hundred adverts never need again. Keeps twice
/// what the turn used and at least [`KEEP_BYTES`], so a steady load is never shrunk and
/// regrown.
pub(super) fn release_burst<T>(v: &mut Vec<T>, used: usize) {
    let keep = (2 * used).max(KEEP_BYTES / std::mem::size_of::<T>().max(1));
    if v.capacity() > 2 * keep {
        v.shrink_to(keep);
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Deferred {
    /// Log a transition.
    Log(State, State, crate::fsm::TransitionReason),
    /// Start gratuitous ARP / unsolicited NA (at the given time).
    Announce(Instant),
}

impl Shard {
    /// Takes the queued adverts as (ifindex, Ethernet frame) without sending them (a shard
    /// driven without sockets: tests and benchmarks).
    pub fn drain_outbox(&mut self) -> Vec<(u32, Vec<u8>)> {
        let out = self
            .out_frames
            .iter()
            .map(|(i, r)| (*i, self.out_bytes[r.clone()].to_vec()))
            .collect();
        self.out_frames.clear();
        self.out_bytes.clear();
        self.out_unicast.clear();
        self.out_ubytes.clear();
        self.send_events();
        while self.has_deferred() {
            self.run_deferred();
        }
        out
    }

    /// Takes the queued unicast adverts as (peer, VRRP message) without sending them (call
    /// before [`drain_outbox`](Self::drain_outbox), which discards them).
    pub fn drain_unicast_outbox(&mut self) -> Vec<(std::net::IpAddr, Vec<u8>)> {
        let out = self
            .out_unicast
            .iter()
            .map(|(_, peer, r)| (*peer, self.out_ubytes[r.clone()].to_vec()))
            .collect();
        self.out_unicast.clear();
        self.out_ubytes.clear();
        out
    }

    /// Whether deferred work is waiting (the worker then polls instead of sleeping).
    pub fn has_deferred(&self) -> bool {
        !self.deferred.is_empty()
    }

    /// Runs the work deferred behind the adverts (logs, announcements), at most
    /// [`DEFERRED_PER_TURN`] items, and yields to the timers: it stops
    /// [`DEFERRED_MARGIN_US`] before the next deadline, and runs nothing that close to it
    /// unless the work waited [`DEFERRED_MAX_WAIT_US`] without progress. When thousands of
    /// groups take over at once, the expiries of the next ones are spread over a fraction of
    /// a millisecond; run between them, 64 gratuitous ARPs and log lines held each later
    /// takeover by milliseconds (performance.md, finding 17), and even one item per turn
    /// doubled the time a worker took for a cluster (finding 21).
    pub(super) fn run_deferred(&mut self) {
        if self.deferred.is_empty() {
            self.deferred_since = None;
            return;
        }
        let stop = self
            .wheel
            .next_deadline()
            .map(|d| d.as_micros().saturating_sub(DEFERRED_MARGIN_US));
        let now = (self.clock)().as_micros();
        let since = *self.deferred_since.get_or_insert(now);
        let starved = now.saturating_sub(since) >= DEFERRED_MAX_WAIT_US;
        let mut queue = std::mem::take(&mut self.deferred);
        let mut done = 0;
        while done < queue.len().min(DEFERRED_PER_TURN) {
            if (done > 0 || !starved) && stop.is_some_and(|s| (self.clock)().as_micros() >= s) {
                break;
            }
            let (g, d) = queue[done];
            done += 1;
            match d {
                Deferred::Log(from, to, reason) => {
                    if let Some(group) = self.groups.get(g).and_then(Option::as_ref) {
                        let spec = &group.spec;
                        info!(
                            "vrouter {} on {} ({}): {from:?} -> {to:?} ({reason:?})",
                            spec.vrid, spec.ifname, spec.family
                        );
                    }
                }
                Deferred::Announce(at) => self.announce(g, at),
            }
        }
        queue.drain(..done);
        // Work queued meanwhile goes after what was already waiting.
        queue.append(&mut self.deferred);
        self.deferred = queue;
        if done > 0 {
            self.deferred_since = (!self.deferred.is_empty()).then(|| (self.clock)().as_micros());
        }
    }

    /// Sends the queued adverts, one batch per interface (and per unicast socket), then the
    /// deferred work.
    pub fn flush(&mut self) {
        if !self.out_unicast.is_empty() {
            self.flush_unicast();
        }
        if self.out_frames.is_empty() {
            self.send_events();
            self.run_deferred();
            return;
        }
        // Stable: adverts keep their order within an interface.
        self.out_frames.sort_by_key(|(ifindex, _)| *ifindex);
        let via_xdp = self.flush_xdp();
        let mut frames: Vec<&[u8]> = Vec::with_capacity(self.out_frames.len());
        for chunk in self.out_frames.chunk_by(|a, b| a.0 == b.0) {
            if via_xdp.contains(&chunk[0].0) {
                continue;
            }
            frames.clear();
            frames.extend(chunk.iter().map(|(_, r)| &self.out_bytes[r.clone()]));
            if let Some(tx) = self.tx.get(&chunk[0].0) {
                if let Err(e) = tx.send_batch(&frames) {
                    warn!(
                        "worker {}: sending {} advert(s): {e}",
                        self.id,
                        frames.len()
                    );
                }
            }
        }
        let (frames_used, bytes_used) = (self.out_frames.len(), self.out_bytes.len());
        self.out_frames.clear();
        self.out_bytes.clear();
        release_burst(&mut self.out_frames, frames_used);
        release_burst(&mut self.out_bytes, bytes_used);
        self.send_events();
        self.run_deferred();
    }

    /// Hands the turn's events (transitions, address changes) to the control plane.
    pub(super) fn send_events(&mut self) {
        let used = self.pending_events.len();
        for ev in self.pending_events.drain(..) {
            let _ = self.events.send(ev);
        }
        release_burst(&mut self.pending_events, used);
    }

    /// Sends the queued unicast adverts, one `sendmmsg` per socket.
    fn flush_unicast(&mut self) {
        self.out_unicast.sort_by_key(|(key, _, _)| *key);
        for chunk in self.out_unicast.chunk_by(|a, b| a.0 == b.0) {
            let Some(tx) = self.utx.get(&chunk[0].0) else {
                continue;
            };
            let addrs: Vec<socket2::SockAddr> = chunk
                .iter()
                .map(|(_, peer, _)| UnicastTx::sockaddr(*peer, tx.ifindex()))
                .collect();
            let datagrams: Vec<(&socket2::SockAddr, &[u8])> = chunk
                .iter()
                .zip(&addrs)
                .map(|((_, _, r), a)| (a, &self.out_ubytes[r.clone()]))
                .collect();
            if let Err(e) = tx.send_batch(&datagrams) {
                warn!(
                    "worker {}: sending {} unicast advert(s): {e}",
                    self.id,
                    datagrams.len()
                );
            }
        }
        self.out_unicast.clear();
        self.out_ubytes.clear();
    }

    pub(super) fn send_advert(&mut self, g: usize, priority: u8) {
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        let spec = &group.spec;
        let params = AdvertParams {
            version: spec.version,
            vrid: spec.vrid,
            priority,
            interval: wire_interval(spec),
            src: spec.advert_src(),
            addrs: &spec.advert_addrs,
            auth: &spec.auth,
            v3_checksum: spec.v3_checksum,
        };
        let frame = match group.advert.frame(&params) {
            Ok(f) => f,
            Err(e) => {
                warn!(
                    "vrouter {} on {}: cannot build advert: {e}",
                    spec.vrid, spec.ifname
                );
                return;
            }
        };
        if let (Some(u), Some(key)) = (spec.unicast.as_ref(), unicast_tx_key(spec)) {
            // One copy per peer; only a pseudo-header checksum differs between them.
            for peer in &u.peers {
                match wire::unicast::push_unicast_message(
                    frame,
                    spec.version,
                    spec.v3_checksum,
                    u.src,
                    *peer,
                    &mut self.out_ubytes,
                ) {
                    Ok(r) => self.out_unicast.push((key, *peer, r)),
                    Err(e) => warn!(
                        "vrouter {} on {}: cannot build the advert to {peer}: {e}",
                        spec.vrid, spec.ifname
                    ),
                }
            }
            return;
        }
        // Queued: every advert due in this loop turn leaves in one sendmmsg per interface.
        let start = self.out_bytes.len();
        self.out_bytes.extend_from_slice(frame);
        self.out_frames
            .push((spec.ifindex, start..self.out_bytes.len()));
    }

    /// A later burst is due: keepalived's second burst (`garp_master_delay` after becoming
    /// Master, `garp_repeat` announcements) or a refresh (`garp_master_refresh_repeat`
    /// announcements every `garp_master_refresh`), which reschedules itself.
    pub(super) fn announce_later(&mut self, g: usize, now: Instant) {
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        if group.fsm.state() != State::Master {
            return;
        }
        let count = if std::mem::take(&mut group.second_burst_due) {
            group.spec.garp_repeat
        } else {
            group.spec.garp_master_refresh_repeat
        };
        let refresh = group.spec.garp_master_refresh;
        if !refresh.is_zero() {
            group.later_timer = Some(
                self.wheel
                    .insert(now + refresh, TimerKey::announce_later(g)),
            );
        }
        self.start_burst(g, count, now);
    }

    /// A Master heard a lower-priority advert (someone else believes it is Master): with
    /// `garp_lower_prio_repeat`, announce again so the segment's caches point back at us
    /// (not while a burst is already running).
    pub(super) fn lower_priority_heard(&mut self, g: usize, now: Instant) {
        let Some(group) = self.groups[g].as_ref() else {
            return;
        };
        let count = group.spec.garp_lower_prio_repeat;
        if count == 0 || group.fsm.state() != State::Master || group.announce_left > 0 {
            return;
        }
        self.start_burst(g, count, now);
    }

    /// Starts a burst of `count` announcements, `garp_interval` apart, unless one runs.
    fn start_burst(&mut self, g: usize, count: u32, now: Instant) {
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        if count == 0 || group.announce_left > 0 {
            return;
        }
        group.announce_left = count;
        self.deferred.push((g, Deferred::Announce(now)));
    }

    /// Sends one round of gratuitous ARP / unsolicited NA and schedules the next.
    pub(super) fn announce(&mut self, g: usize, now: Instant) {
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        if group.announce_left == 0 || group.fsm.state() != State::Master {
            return;
        }
        group.announce_left -= 1;
        group.announcements += 1;
        let spec = &group.spec;
        let frames: Vec<Vec<u8>> = spec
            .vips
            .iter()
            .map(|v| match v.addr {
                std::net::IpAddr::V4(a) => wire::arp::gratuitous_arp(spec.announce_mac, a).to_vec(),
                std::net::IpAddr::V6(a) => {
                    let src = match spec.primary {
                        std::net::IpAddr::V6(ll) => ll,
                        std::net::IpAddr::V4(_) => a,
                    };
                    wire::ndisc::unsolicited_na(spec.announce_mac, src, a, true).to_vec()
                }
            })
            .collect();
        if let Some(tx) = self.tx.get(&spec.ifindex) {
            for f in &frames {
                if let Err(e) = tx.send(f) {
                    debug!("vrouter {} on {}: announcing: {e}", spec.vrid, spec.ifname);
                }
            }
        }
        if group.announce_left > 0 {
            let at = now + spec.garp_interval;
            group.announce_timer = Some(self.wheel.insert(at, TimerKey::announce(g)));
        }
    }
}
