//! The batched transmit path (issue 10, part 2), a branch of `vrrp_demux`: a worker runs
//! the program with `BPF_PROG_TEST_RUN`, `BPF_F_TEST_XDP_LIVE_FRAMES` and `repeat = batch_size = n` to
//! send the `n` frames it staged in its [`TxStage`] in one system call. Each repetition gets
//! a fresh page holding the run's [`TxSeed`] (which names the stage), takes the stage's next
//! frame, resizes the packet to it (`bpf_xdp_adjust_tail`), copies it in
//! (`bpf_xdp_store_bytes`) and redirects it to the frame's interface (`ndo_xdp_xmit`).
//! Anything unexpected (no seed, cursor past the count, bad length) drops the repetition.
//!
//! Why a branch of `vrrp_demux` and not a program of its own: a test run with `repeat > 1`
//! adds the program to the kernel's XDP dispatcher for the run and removes it afterwards,
//! and each change waits for an RCU grace period (milliseconds per call, measured). A program
//! already attached in driver mode stays in the dispatcher, so the change is only a reference
//! count. The branch is taken only for a run "received" on loopback (where `vrrp_demux` is
//! never attached) whose packet is a seed; real traffic pays one context load.
//!
//! The worker owns its stage: it writes the frames through `mmap`, then runs the program in
//! its own system call; the kernel runs the repetitions one after the other on one CPU, so
//! the cursor needs no atomics.

use aya_ebpf::{
    bindings::xdp_action,
    helpers::generated::{bpf_redirect, bpf_xdp_adjust_tail, bpf_xdp_store_bytes},
    macros::map,
    maps::Array,
    programs::XdpContext,
};
use rvrrpd_common::tx::{TxSeed, TxStage, TX_BATCH, TX_FRAME_MAX, TX_FRAME_MIN, TX_SEED_MAGIC};
use rvrrpd_common::{BPF_F_MMAPABLE, MAX_WORKERS};

#[map]
static TX_STAGE: Array<TxStage> = Array::with_max_entries(MAX_WORKERS as u32, BPF_F_MMAPABLE);

/// `ifindex` of every network namespace's loopback device (`LOOPBACK_IFINDEX`): a test run
/// without a context runs as if received on it, and `vrrp_demux` is never attached to it.
const LOOPBACK_IFINDEX: u32 = 1;

/// Whether `vrrp_demux` was started by a worker's transmit run: received "on" loopback
/// (a test run without context) and carrying a [`TxSeed`].
#[inline(always)]
pub(crate) fn is_tx_run(ctx: &XdpContext) -> bool {
    // SAFETY: reading a field of the program's own context.
    let ingress = unsafe { (*ctx.ctx).ingress_ifindex };
    if ingress != LOOPBACK_IFINDEX {
        return false;
    }
    let data = ctx.data();
    if data + TxSeed::SIZE > ctx.data_end() {
        return false;
    }
    // SAFETY: the seed's bytes were checked to lie within the packet just above.
    unsafe { (*(data as *const TxSeed)).magic == TX_SEED_MAGIC }
}

/// One repetition of a transmit run: the verdict (XDP_REDIRECT, or XDP_DROP when anything
/// is off).
#[inline(always)]
pub(crate) fn transmit(ctx: &XdpContext) -> u32 {
    try_tx(ctx).unwrap_or(xdp_action::XDP_DROP)
}

#[inline(always)]
fn try_tx(ctx: &XdpContext) -> Option<u32> {
    let data = ctx.data();
    // Exactly a seed (every repetition gets a fresh page initialised from the run's input),
    // so the resize below is by a known amount (the verifier forbids arithmetic on the
    // packet's end pointer).
    if data + TxSeed::SIZE > ctx.data_end() {
        return None;
    }
    if core::hint::black_box(ctx.data_end()) > data + TxSeed::SIZE {
        return None;
    }
    // SAFETY: the seed's bytes were checked to lie within the packet just above.
    let (magic, stage) = unsafe {
        let seed = data as *const TxSeed;
        ((*seed).magic, (*seed).stage)
    };
    if magic != TX_SEED_MAGIC {
        return None;
    }
    let st = TX_STAGE.get_ptr_mut(stage)?;
    // SAFETY: `st` is a valid map value of TxStage::SIZE bytes; only this run touches the
    // cursor while it lasts (the worker waits for the system call).
    let (i, count) = unsafe { ((*st).cursor, (*st).count) };
    if i >= count || i as usize >= TX_BATCH {
        return None;
    }
    // SAFETY: as above.
    unsafe { (*st).cursor = i + 1 };
    let idx = i as usize & (TX_BATCH - 1);
    // SAFETY: `idx < TX_BATCH`, so the frame lies within the map value.
    let (ifindex, len) = unsafe { ((*st).frames[idx].ifindex, (*st).frames[idx].len) };
    if (len as usize) < TX_FRAME_MIN || len as usize > TX_FRAME_MAX {
        return None;
    }
    // SAFETY: helper calls on this program's context; the source is `len` bytes within the
    // frame's `data` (bounded above).
    unsafe {
        if bpf_xdp_adjust_tail(ctx.ctx, len as i32 - TxSeed::SIZE as i32) != 0 {
            return None;
        }
        let src = (*st).frames[idx].data.as_mut_ptr();
        if bpf_xdp_store_bytes(ctx.ctx, 0, src.cast(), len) != 0 {
            return None;
        }
        Some(bpf_redirect(ifindex, 0) as u32)
    }
}
