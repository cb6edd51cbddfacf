//! The kernel-resident Backup: an admitted advert identical to the last one its group's worker
//! accepted (same group, source, length and message bytes) is stamped and counted in the
//! group's [`SuppressEntry`] and dropped, without waking the worker. The protocol of the
//! entry is described on [`SuppressEntry`]; its slot comes from the demux value.
//!
//! Why an array slot named by the demux value rather than a hash map keyed by [`DemuxKey`]:
//! the demux lookup that admits the advert already yields the slot, so a repeat costs one
//! array access (inlined by the verifier) instead of a second hash lookup; an array's values
//! never move, so the worker and the programs can share them through `mmap` with atomics
//! (a hash map's element is replaced on every update from user space: a program could stamp
//! a copy the worker no longer reads); and user space writes or invalidates an entry
//! without a system call.

use core::intrinsics::{atomic_cxchg, atomic_xadd, AtomicOrdering};

use aya_ebpf::{helpers::generated::bpf_ktime_get_ns, macros::map, maps::Array};
use rvrrpd_common::{DemuxKey, SuppressEntry, BPF_F_MMAPABLE, MAX_GROUPS, SMALL_VRRP_LEN};

use crate::{copy_len, Advert, L3Reader};

#[map]
pub(crate) static SUPPRESS: Array<SuppressEntry> = Array::with_max_entries(MAX_GROUPS, BPF_F_MMAPABLE);

/// Compared 8-byte words of an entry, from [`SuppressEntry::KEY_OFFSET`] to
/// [`SuppressEntry::COMPARED_END`]: key, length (+ padding), source, message.
const WORDS: usize = (SuppressEntry::COMPARED_END - SuppressEntry::KEY_OFFSET) / 8;
const MSG_WORDS: usize = SMALL_VRRP_LEN / 8;
const _: () = assert!(WORDS == 4 + MSG_WORDS);

/// The socket filter runs once per receiving socket (one per worker on the interface): the
/// same packet seen again within this many ns of the stamp it left is the same advert, dropped
/// without a second count. Adverts are at least 10 ms apart (VRRPv3's smallest interval).
pub(crate) const SOCKET_DUP_NS: u64 = 100_000;

/// Whether `adv` (admitted for the group of `key`, whose demux value names `slot`) repeats
/// the group's last accepted advert; if so it has been stamped and counted, and the caller
/// drops it. `dup_ns`: see [`SOCKET_DUP_NS`] (0 for XDP, which sees each packet once).
#[inline(always)]
pub(crate) fn swallow<R: L3Reader>(
    r: &R,
    adv: &Advert,
    key: DemuxKey,
    slot: u32,
    dup_ns: u64,
) -> bool {
    if adv.len > SMALL_VRRP_LEN as u32 {
        return false;
    }
    let Some(e) = SUPPRESS.get_ptr_mut(slot) else {
        return false;
    };
    let words = e.cast::<u64>();
    // An acquiring read of `last_rx`: the BPF target has no load-acquire before cpu v4, but
    // a compare-and-swap is fully ordered on every JIT (x86 `lock cmpxchg`, arm64 `casal`),
    // so the message words below are read after it. It swaps 0 for 0: it changes nothing.
    // SAFETY: `e` is a valid, 8-byte aligned map value of SuppressEntry::SIZE bytes; its
    // words are only ever accessed 8 bytes at a time (here and by user space through mmap).
    let (seen, _) = unsafe {
        atomic_cxchg::<u64, { AtomicOrdering::AcqRel }, { AtomicOrdering::Acquire }>(words, 0, 0)
    };
    if seen == 0 {
        return false;
    }
    // The advert as an entry would hold it.
    let mut want = [0u64; WORDS];
    // SAFETY: DemuxKey is 8 plain bytes.
    want[0] = unsafe { core::mem::transmute::<DemuxKey, u64>(key) };
    want[1] = u64::from(adv.len as u16);
    want[2] = u64::from_ne_bytes([
        adv.src[0], adv.src[1], adv.src[2], adv.src[3], adv.src[4], adv.src[5], adv.src[6],
        adv.src[7],
    ]);
    want[3] = u64::from_ne_bytes([
        adv.src[8],
        adv.src[9],
        adv.src[10],
        adv.src[11],
        adv.src[12],
        adv.src[13],
        adv.src[14],
        adv.src[15],
    ]);
    let n = copy_len(adv.len, SMALL_VRRP_LEN as u32);
    // SAFETY: want[4..] is MSG_WORDS * 8 = SMALL_VRRP_LEN writable bytes; n ≤ SMALL_VRRP_LEN.
    if !r.load_raw(adv.off, unsafe { want.as_mut_ptr().add(4) }.cast(), n) {
        return false;
    }
    let mut diff = 0u64;
    let mut i = 0;
    while i < WORDS {
        // SAFETY: word 2 + i < SuppressEntry::SIZE / 8 of the value `e` points to. A volatile
        // 8-byte load is the BPF target's relaxed atomic load (READ_ONCE; LLVM cannot select
        // `load atomic` before cpu v4).
        diff |= unsafe { core::ptr::read_volatile(words.add(2 + i)) } ^ want[i];
        i += 1;
    }
    if diff != 0 {
        return false;
    }
    // SAFETY: as above.
    let now = unsafe { bpf_ktime_get_ns() };
    if dup_ns != 0 && now.wrapping_sub(seen) < dup_ns {
        return true;
    }
    // The swap fails if the worker invalidated or rewrote the entry since `seen` was loaded:
    // then the worker must see the advert.
    // (`core`'s atomics offer no read-modify-write on the BPF target, which has them since
    // kernel 5.12: the intrinsics emit BPF_CMPXCHG and BPF_ADD.)
    // SAFETY: `words` is the aligned first word of the entry (see above).
    let (_, swapped) = unsafe {
        atomic_cxchg::<u64, { AtomicOrdering::AcqRel }, { AtomicOrdering::Relaxed }>(
            words, seen, now,
        )
    };
    if !swapped {
        return false;
    }
    // SAFETY: word 1 (`suppressed`) of the entry.
    unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(words.add(1), 1) };
    true
}
