//! The turn's adverts through the XDP transmit path (`tx_path = "xdp"` / `"auto"`, issue 10
//! part 2):
//! the frames of every interface the plan covers leave in runs of up to 64 with one
//! `BPF_PROG_TEST_RUN` each, instead of one `sendmmsg` per interface and an skb per frame.
//!
//! Only when the turn has at least [`XDP_MIN_BATCH`] of them: a run has a fixed cost (the
//! kernel sets up a page pool per call, ~11 µs on the development VM against ~2 µs for a
//! one-frame `sendmmsg`) that only a batch pays back (docs/performance.md, finding 11).
//! An interface with a frame too long for the stage sends the whole turn through its socket,
//! so its adverts keep their order. A failed run falls back to the sockets for its frames
//! and the worker's later turns. An interface whose driver stops reporting XDP transmit
//! (`tx_path = "auto"`, followed by the control plane) is left to its socket until it
//! reports it again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tracing::warn;

use super::Shard;
use crate::net::xdp::XdpTx;
use rvrrpd_common::tx::TX_FRAME_MAX;

/// Fewest frames in a turn for which the XDP path is used.
pub const XDP_MIN_BATCH: usize = 16;

/// The XDP transmit path as the workers use it.
#[derive(Debug, Clone)]
pub struct XdpTxPlan {
    /// The program and the stages (each worker uses the stage of its id).
    pub tx: Arc<XdpTx>,
    /// Interfaces it may serve; the others use their AF_PACKET socket.
    pub ifaces: Arc<XmitIfaces>,
}

/// The interfaces of the XDP transmit path, each with whether it is in use now: with
/// `tx_path = "auto"` the control plane clears an interface's flag when its driver stops
/// reporting XDP transmit (a veth whose peer lost its XDP program would drop the frames
/// silently) and sets it again when it returns; workers read the flags every turn.
#[derive(Debug)]
pub struct XmitIfaces {
    entries: Vec<(u32, String, AtomicBool)>,
}

impl XmitIfaces {
    /// `(ifindex, name, in use)` of each interface.
    pub fn new(entries: impl IntoIterator<Item = (u32, String, bool)>) -> Self {
        XmitIfaces {
            entries: entries
                .into_iter()
                .map(|(i, n, on)| (i, n, AtomicBool::new(on)))
                .collect(),
        }
    }

    /// Whether the XDP path sends on `ifindex` now.
    pub fn serves(&self, ifindex: u32) -> bool {
        self.entries
            .iter()
            .any(|(i, _, on)| *i == ifindex && on.load(Ordering::Relaxed))
    }

    /// Sets whether the XDP path sends on `ifindex`; returns the interface's name when this
    /// changed it.
    pub fn set(&self, ifindex: u32, on: bool) -> Option<&str> {
        let (_, name, flag) = self.entries.iter().find(|(i, _, _)| *i == ifindex)?;
        (flag.swap(on, Ordering::Relaxed) != on).then_some(name.as_str())
    }

    /// Every interface: (ifindex, name).
    pub fn all(&self) -> impl Iterator<Item = (u32, &str)> {
        self.entries.iter().map(|(i, n, _)| (*i, n.as_str()))
    }

    /// The names of the interfaces in use now, and of the others.
    pub fn split(&self) -> (Vec<&str>, Vec<&str>) {
        let mut on = Vec::new();
        let mut off = Vec::new();
        for (_, name, flag) in &self.entries {
            if flag.load(Ordering::Relaxed) {
                on.push(name.as_str());
            } else {
                off.push(name.as_str());
            }
        }
        (on, off)
    }
}

impl Shard {
    /// Sends this shard's adverts through `plan` from now on (on its interfaces).
    pub fn set_xdp_tx(&mut self, plan: XdpTxPlan) {
        self.xdp_tx = Some(plan);
    }

    /// Sends through the XDP path the adverts of the interfaces it serves, if enough;
    /// returns the interfaces it took (their frames are then not sent again). `out_frames`
    /// is sorted by interface. A failed run sends its frames on the sockets and turns the
    /// XDP path off for this worker (logged once; the cause is not going away by itself).
    pub(super) fn flush_xdp(&mut self) -> Vec<u32> {
        let Some(plan) = &self.xdp_tx else {
            return Vec::new();
        };
        let ifaces = select(&self.out_frames, &plan.ifaces);
        if ifaces.is_empty() {
            return ifaces;
        }
        // `ifaces` is in the order of `out_frames`' interfaces: one walk, no search per frame.
        let mut next = ifaces.iter().peekable();
        let mut batch: Vec<(u32, &[u8])> = Vec::with_capacity(self.out_frames.len());
        for chunk in self.out_frames.chunk_by(|a, b| a.0 == b.0) {
            if next.peek() == Some(&&chunk[0].0) {
                next.next();
                batch.extend(chunk.iter().map(|(i, r)| (*i, &self.out_bytes[r.clone()])));
            }
        }
        match plan.tx.send(self.id as u32, &batch) {
            Ok(_) => ifaces,
            Err(e) => {
                warn!(
                    "worker {}: XDP transmit of {} advert(s) failed, sending them and all \
                     later adverts of this worker on the AF_PACKET sockets: {e}",
                    self.id,
                    batch.len()
                );
                self.xdp_tx = None;
                Vec::new()
            }
        }
    }
}

/// The interfaces whose frames of this turn go through the XDP path: those `served` now,
/// with no frame longer than the stage holds; none unless they have at least
/// [`XDP_MIN_BATCH`] frames together. `frames` (ifindex, byte range) is sorted by interface.
fn select(frames: &[(u32, std::ops::Range<usize>)], served: &XmitIfaces) -> Vec<u32> {
    let mut ifaces = Vec::new();
    let mut n = 0;
    for chunk in frames.chunk_by(|a, b| a.0 == b.0) {
        let ifindex = chunk[0].0;
        if served.serves(ifindex) && chunk.iter().all(|(_, r)| r.len() <= TX_FRAME_MAX) {
            ifaces.push(ifindex);
            n += chunk.len();
        }
    }
    if n < XDP_MIN_BATCH {
        ifaces.clear();
    }
    ifaces
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` frames of `len` bytes on `ifindex`, appended to `v` (ranges are fake offsets).
    fn add(v: &mut Vec<(u32, std::ops::Range<usize>)>, ifindex: u32, n: usize, len: usize) {
        for _ in 0..n {
            v.push((ifindex, 0..len));
        }
    }

    /// Interfaces `ifindexes`, all in use.
    fn on(ifindexes: &[u32]) -> XmitIfaces {
        XmitIfaces::new(ifindexes.iter().map(|i| (*i, format!("if{i}"), true)))
    }

    #[test]
    fn small_turns_stay_on_the_sockets() {
        let mut f = Vec::new();
        add(&mut f, 2, XDP_MIN_BATCH - 1, 60);
        assert!(select(&f, &on(&[2])).is_empty());
        add(&mut f, 2, 1, 60);
        assert_eq!(select(&f, &on(&[2])), vec![2]);
    }

    #[test]
    fn interfaces_add_up_and_only_served_ones_count() {
        let mut f = Vec::new();
        add(&mut f, 2, 10, 60);
        add(&mut f, 3, 10, 60);
        add(&mut f, 4, 30, 60);
        // 2 and 3 together reach the minimum; 4 is not served.
        assert_eq!(select(&f, &on(&[2, 3])), vec![2, 3]);
        assert!(select(&f, &on(&[2])).is_empty());
    }

    #[test]
    fn an_interface_with_a_long_frame_keeps_its_order_on_the_socket() {
        let mut f = Vec::new();
        add(&mut f, 2, 20, 60);
        add(&mut f, 3, 19, 60);
        add(&mut f, 3, 1, TX_FRAME_MAX + 1);
        assert_eq!(select(&f, &on(&[2, 3])), vec![2]);
    }

    #[test]
    fn an_interface_out_of_use_sends_on_its_socket_until_it_is_back() {
        let mut f = Vec::new();
        add(&mut f, 2, 20, 60);
        add(&mut f, 3, 20, 60);
        let served = on(&[2, 3]);
        assert_eq!(served.set(3, false), Some("if3"));
        assert_eq!(served.set(3, false), None, "no change, nothing to report");
        assert_eq!(select(&f, &served), vec![2]);
        assert_eq!(served.split(), (vec!["if2"], vec!["if3"]));
        assert_eq!(served.set(2, false), Some("if2"));
        assert!(select(&f, &served).is_empty());
        assert_eq!(served.set(3, true), Some("if3"));
        assert_eq!(select(&f, &served), vec![3]);
        assert_eq!(served.set(9, true), None, "not an interface of the path");
    }
}
