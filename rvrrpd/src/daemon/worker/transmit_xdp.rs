//! The turn's adverts through the XDP transmit path (`tx_path = "xdp"` / `"auto"`, issue 10
//! part 2):
//! the frames of every interface the plan covers leave in runs of up to 64 with one
//! `BPF_PROG_TEST_RUN` each, instead of one `sendmmsg` per interface and an skb per frame.
//!
//! Only when the turn has at least [`XDP_MIN_BATCH`] of them: a run has a fixed cost (the
//! kernel sets up a page pool per call, ~11 µs on the development VM against ~2 µs for a
//! one-frame `sendmmsg`) that only a batch pays back (docs/performance.md, finding 11).
//! An interface with a frame too long for the stage sends the whole turn through its socket,
//! so its adverts keep their order. A failed run falls back to the sockets for its frames.

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
    /// Interfaces (ifindex) it serves; the others use their AF_PACKET socket.
    pub ifindexes: Vec<u32>,
}

impl Shard {
    /// Sends this shard's adverts through `plan` from now on (on its interfaces).
    pub fn set_xdp_tx(&mut self, plan: XdpTxPlan) {
        self.xdp_tx = Some(plan);
    }

    /// Sends through the XDP path the adverts of the interfaces it serves, if enough;
    /// returns the interfaces it took (their frames are then not sent again). `out_frames`
    /// is sorted by interface.
    pub(super) fn flush_xdp(&mut self) -> Vec<u32> {
        let Some(plan) = &self.xdp_tx else {
            return Vec::new();
        };
        let mut ifaces = Vec::new();
        let mut batch: Vec<(u32, &[u8])> = Vec::new();
        for chunk in self.out_frames.chunk_by(|a, b| a.0 == b.0) {
            let ifindex = chunk[0].0;
            if !plan.ifindexes.contains(&ifindex)
                || chunk.iter().any(|(_, r)| r.len() > TX_FRAME_MAX)
            {
                continue;
            }
            ifaces.push(ifindex);
            batch.extend(chunk.iter().map(|(i, r)| (*i, &self.out_bytes[r.clone()])));
        }
        if batch.len() < XDP_MIN_BATCH {
            return Vec::new();
        }
        match plan.tx.send(self.id as u32, &batch) {
            Ok(_) => ifaces,
            Err(e) => {
                warn!(
                    "worker {}: XDP transmit of {} advert(s) failed, sending them on the \
                     AF_PACKET sockets: {e}",
                    self.id,
                    batch.len()
                );
                Vec::new()
            }
        }
    }
}
