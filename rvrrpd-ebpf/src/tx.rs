//! `vrrp_tx`: the batched transmit path (issue 10, part 2). Never attached: a worker runs it
//! with `BPF_PROG_TEST_RUN`, `BPF_F_TEST_XDP_LIVE_FRAMES` and `repeat = batch_size = n` to
//! send the `n` frames it staged in its [`TxStage`] in one system call. Each repetition gets
//! a fresh page holding the run's [`TxSeed`] (which names the stage), takes the stage's next
//! frame, resizes the packet to it (`bpf_xdp_adjust_tail`), copies it in
//! (`bpf_xdp_store_bytes`) and redirects it to the frame's interface (`ndo_xdp_xmit`).
//! Anything unexpected (no seed, cursor past the count, bad length) drops the repetition.
//!
//! The worker owns its stage: it writes the frames through `mmap`, then runs the program in
//! its own system call; the kernel runs the repetitions one after the other on one CPU, so
//! the cursor needs no atomics.

use aya_ebpf::{
    bindings::xdp_action,
    helpers::generated::{bpf_redirect, bpf_xdp_adjust_tail, bpf_xdp_store_bytes},
    macros::{map, xdp},
    maps::Array,
    programs::XdpContext,
};
use rvrrpd_common::tx::{
    TxSeed, TxStage, TX_BATCH, TX_FRAME_MAX, TX_FRAME_MIN, TX_SEED_MAGIC,
};
use rvrrpd_common::{BPF_F_MMAPABLE, MAX_WORKERS};

#[map]
static TX_STAGE: Array<TxStage> = Array::with_max_entries(MAX_WORKERS as u32, BPF_F_MMAPABLE);

#[xdp]
pub fn vrrp_tx(ctx: XdpContext) -> u32 {
    try_tx(&ctx).unwrap_or(xdp_action::XDP_DROP)
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
