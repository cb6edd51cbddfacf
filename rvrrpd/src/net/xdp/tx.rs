//! The XDP transmit path (issue 10, part 2): a worker stages its turn's frames in its
//! [`TxStage`] (entry `stage` of the `BPF_F_MMAPABLE` array `TX_STAGE`, written through
//! `mmap`) and sends up to [`TX_BATCH`] of them, on any interfaces, with one
//! `BPF_PROG_TEST_RUN` of `vrrp_demux` (its transmit branch) with live frames. See `rvrrpd_common::tx` for the
//! protocol and `docs/performance.md` (finding 11) for what it costs and when it is exact.
//!
//! Exactness: frames leave through the egress driver's `ndo_xdp_xmit`. A driver without it,
//! or a veth whose peer has neither an XDP program nor GRO (no NAPI to receive them), drops
//! them silently. Frames sent this way also bypass the sender's packet taps (`tcpdump` on
//! the sending host does not see them). The daemon therefore uses this path only where
//! `tx_path` allows it and the interface passed its start-up check.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::Ordering;

use aya::maps::MapData;
use rvrrpd_common::tx::{TxFrame, TxSeed, TxStage, TX_BATCH, TX_FRAME_MAX, TX_FRAME_MIN};
use rvrrpd_common::MAX_WORKERS;

use crate::net::sys::{xdp_live_run, SharedWords};
use rvrrpd_common::XDP_PROGRAM;

/// Words of one stage.
const STAGE_WORDS: usize = TxStage::SIZE / 8;
const FRAME_WORDS: usize = TxFrame::SIZE / 8;

/// Why a batch did not leave (the caller falls back to the AF_PACKET socket).
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// A frame the stage cannot hold.
    #[error(
        "frame {index} of {len} bytes: the XDP transmit path takes {TX_FRAME_MIN}..={TX_FRAME_MAX}"
    )]
    FrameSize {
        /// Index in the batch.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// No such stage.
    #[error("stage {0} out of range (max {MAX_WORKERS})")]
    BadStage(u32),
    /// The system call failed.
    #[error("BPF_PROG_TEST_RUN of vrrp_demux with live frames (transmit): {0}")]
    Run(#[source] std::io::Error),
    /// The program did not take every staged frame (an object out of step with the daemon).
    #[error("vrrp_demux took {taken} of {staged} staged frames")]
    Short {
        /// Frames the program took.
        taken: u32,
        /// Frames staged.
        staged: u32,
    },
}

/// The transmit program and the mapped stages; shared by the workers (each uses only its
/// own stage).
///
/// Memory ordering: a stage is written by its worker (atomic word stores) before the
/// system call and read after it; the program reads the frames and moves the cursor only
/// during the call, in the worker's own context. The two sides never touch a stage at the
/// same time, so the program's byte and 4-byte accesses need no atomics.
#[derive(Debug)]
pub struct XdpTx {
    prog: OwnedFd,
    words: SharedWords,
    stages: u32,
    _map: MapData,
}

impl XdpTx {
    /// Maps `TX_STAGE` and keeps a descriptor of the loaded `vrrp_demux`.
    pub(super) fn open(prog: OwnedFd, map: MapData) -> Result<XdpTx, String> {
        let (words, stages) = super::map_mmapable(&map, TxStage::SIZE)?;
        Ok(XdpTx {
            prog,
            words,
            stages,
            _map: map,
        })
    }

    /// Sends `frames` (egress ifindex, complete Ethernet frame) through stage `stage`, in
    /// runs of up to [`TX_BATCH`]. Returns the number handed to the drivers (which may still
    /// drop them: see the module documentation). Validates every frame before sending any.
    pub fn send(&self, stage: u32, frames: &[(u32, &[u8])]) -> Result<usize, TxError> {
        if stage >= self.stages {
            return Err(TxError::BadStage(stage));
        }
        if let Some((index, (_, f))) = frames
            .iter()
            .enumerate()
            .find(|(_, (_, f))| !(TX_FRAME_MIN..=TX_FRAME_MAX).contains(&f.len()))
        {
            return Err(TxError::FrameSize {
                index,
                len: f.len(),
            });
        }
        let seed = TxSeed::bytes(stage);
        let base = stage as usize * STAGE_WORDS;
        let mut sent = 0;
        for chunk in frames.chunks(TX_BATCH) {
            for (i, (ifindex, f)) in chunk.iter().enumerate() {
                self.stage_frame(base + TxStage::frame_offset(i) / 8, *ifindex, f);
            }
            let n = chunk.len() as u32;
            // cursor (low half) = 0, count (high half) = n.
            self.word(base).store(u64::from(n) << 32, Ordering::Release);
            xdp_live_run(self.prog.as_fd(), &seed, n, n).map_err(TxError::Run)?;
            let taken = self.word(base).load(Ordering::Acquire) as u32;
            if taken != n {
                return Err(TxError::Short { taken, staged: n });
            }
            sent += chunk.len();
        }
        Ok(sent)
    }

    /// Writes one frame at word `w` (its header word, then its bytes, zero-padded to a word).
    fn stage_frame(&self, w: usize, ifindex: u32, frame: &[u8]) {
        let mut head = [0u8; 8];
        head[..4].copy_from_slice(&ifindex.to_ne_bytes());
        head[4..].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
        self.word(w)
            .store(u64::from_ne_bytes(head), Ordering::Relaxed);
        for (j, c) in frame.chunks(8).enumerate().take(FRAME_WORDS - 1) {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            self.word(w + 1 + j)
                .store(u64::from_ne_bytes(b), Ordering::Relaxed);
        }
    }

    fn word(&self, i: usize) -> &std::sync::atomic::AtomicU64 {
        // In range: `stage < self.stages` and offsets within one stage (checked by the
        // callers and the layout asserts).
        self.words
            .word(i)
            .unwrap_or_else(|| unreachable!("word {i} outside the mapped stages"))
    }
}

impl super::FastPath {
    /// Loads `vrrp_demux` (runs the verifier) if not yet done and maps the transmit stages,
    /// once; the workers share the result. Fails on an object without them (built by an
    /// older rvrrpd).
    ///
    /// Cheap runs need the program attached in driver mode somewhere (the daemon's VRRP
    /// interfaces): otherwise every run with more than one frame adds it to the kernel's XDP
    /// dispatcher and removes it again, each time waiting for an RCU grace period.
    pub fn xdp_tx(&mut self) -> super::XdpResult<std::sync::Arc<XdpTx>> {
        use rvrrpd_common::tx::TX_STAGE_MAP;
        if let Some(tx) = &self.tx {
            return Ok(tx.clone());
        }
        self.load_xdp()?;
        let object = self.object.clone();
        let bad = |what: String| super::XdpError::BadObject {
            path: object.clone(),
            what,
        };
        let fd = self
            .xdp()?
            .fd()
            .map_err(|e| e.to_string())
            .and_then(|fd| fd.as_fd().try_clone_to_owned().map_err(|e| e.to_string()))
            .map_err(|e| bad(format!("program {XDP_PROGRAM}: descriptor: {e}")))?;
        let map = match self.ebpf.take_map(TX_STAGE_MAP) {
            Some(aya::maps::Map::Array(m)) => m,
            Some(_) => return Err(bad(format!("map {TX_STAGE_MAP}: not an array"))),
            None => return Err(bad(format!("map {TX_STAGE_MAP} missing"))),
        };
        let tx = XdpTx::open(fd, map).map_err(|e| bad(format!("map {TX_STAGE_MAP}: {e}")))?;
        let tx = std::sync::Arc::new(tx);
        self.tx = Some(tx.clone());
        Ok(tx)
    }
}
