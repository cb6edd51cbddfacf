//! The kernel-resident Backup's table (`SUPPRESS`): one [`SuppressEntry`] per group, where
//! the group's worker keeps the last advert it accepted from the Master it follows and the
//! eBPF programs stamp, count and drop identical copies (the protocol is described on
//! [`SuppressEntry`]).
//!
//! The array is `mmap`ed: a worker writes, invalidates and reads its entries with atomics,
//! without a system call, and the API reads the counts the same way. Slots are given out by
//! [`FastPath::set_group`](super::FastPath::set_group), one per demux key for the life of
//! the fast path, so a slot never changes hands between groups.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use aya::maps::MapData;
use rvrrpd_common::{DemuxKey, SuppressEntry, SMALL_VRRP_LEN};

use crate::daemon::status::KernelCounts;
use crate::net::sys::SharedWords;

/// Words of one entry.
const ENTRY_WORDS: usize = SuppressEntry::SIZE / 8;
/// Word index of `suppressed`, and of the first compared word (`key`).
const COUNT_WORD: usize = SuppressEntry::SUPPRESSED_OFFSET / 8;
const KEY_WORD: usize = SuppressEntry::KEY_OFFSET / 8;
/// Compared words: key, length, source (2), message.
const BODY_WORDS: usize = (SuppressEntry::COMPARED_END - SuppressEntry::KEY_OFFSET) / 8;
/// Word indices of the kernel's screening counts.
const SCREENED_MALFORMED_WORD: usize = SuppressEntry::SCREENED_MALFORMED_OFFSET / 8;
const SCREENED_AUTH_WORD: usize = SuppressEntry::SCREENED_AUTH_OFFSET / 8;

/// The mapped `SUPPRESS` array and its slot allocation.
#[derive(Debug)]
pub struct SuppressTable {
    words: SharedWords,
    entries: u32,
    slots: Mutex<HashMap<DemuxKey, u32>>,
    // Kept open with the mapping (the mapping alone also keeps the map alive); `None` in
    // unit tests.
    _map: Option<MapData>,
}

impl SuppressTable {
    /// Maps the `SUPPRESS` array (which must be `BPF_F_MMAPABLE` with entries of
    /// [`SuppressEntry::SIZE`] bytes).
    pub(super) fn open(map: MapData) -> Result<SuppressTable, String> {
        let (words, entries) = super::map_mmapable(&map, SuppressEntry::SIZE)?;
        Ok(SuppressTable {
            words,
            entries,
            slots: Mutex::new(HashMap::new()),
            _map: Some(map),
        })
    }

    /// A table of `entries` slots in plain memory, for unit tests of the workers.
    #[cfg(test)]
    pub(crate) fn for_tests(entries: u32) -> Arc<SuppressTable> {
        Arc::new(SuppressTable {
            words: SharedWords::anonymous(entries as usize * ENTRY_WORDS).expect("mmap"),
            entries,
            slots: Mutex::new(HashMap::new()),
            _map: None,
        })
    }

    /// The slot of `key`, allocated on first use (`None` when the table is full).
    pub(crate) fn allocate(&self, key: DemuxKey) -> Option<u32> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&s) = slots.get(&key) {
            return Some(s);
        }
        let s = u32::try_from(slots.len())
            .ok()
            .filter(|&s| s < self.entries)?;
        slots.insert(key, s);
        Some(s)
    }

    /// The entry of `key`, for the worker that owns the group (`None`: no slot).
    pub fn slot(self: &Arc<Self>, key: DemuxKey) -> Option<SuppressSlot> {
        let key = DemuxKey::new(key.ifindex, key.vrid, key.family);
        let index = *self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)?;
        Some(SuppressSlot {
            table: self.clone(),
            base: index as usize * ENTRY_WORDS,
            key,
        })
    }
}

impl KernelCounts for SuppressTable {
    /// Read with relaxed loads by the API while the programs and the worker write.
    fn counts(&self, entry: u32) -> (u64, u64, u64) {
        let base = entry as usize * ENTRY_WORDS;
        let load = |w: usize| {
            self.words
                .word(base + w)
                .map_or(0, |w| w.load(Ordering::Relaxed))
        };
        (
            load(COUNT_WORD),
            load(SCREENED_MALFORMED_WORD),
            load(SCREENED_AUTH_WORD),
        )
    }
}

/// One group's entry, held by the worker that owns the group. Only that worker writes it.
#[derive(Debug)]
pub struct SuppressSlot {
    table: Arc<SuppressTable>,
    /// Index of the entry's first word.
    base: usize,
    key: DemuxKey,
}

impl SuppressSlot {
    fn word(&self, i: usize) -> &std::sync::atomic::AtomicU64 {
        // In range: `base` comes from a slot < entries, `i` < ENTRY_WORDS.
        self.table
            .words
            .word(self.base + i)
            .expect("suppress slot within the mapping")
    }

    /// Keeps `vrrp`, the VRRP message just accepted from `src` (arrived at `rx_ns`,
    /// CLOCK_MONOTONIC ns), so that the programs suppress identical copies. A message longer
    /// than [`SMALL_VRRP_LEN`] is not kept (its copies keep coming to the worker) and the
    /// entry is left invalid; returns whether it is valid now.
    pub fn keep(&self, src: IpAddr, vrrp: &[u8], rx_ns: u64) -> bool {
        let body = match body(self.key, src, vrrp) {
            Some(b) => b,
            None => {
                self.invalidate();
                return false;
            }
        };
        let stamp = rx_ns.max(1);
        let last = self.word(0);
        let same = last.load(Ordering::Acquire) != 0
            && (0..BODY_WORDS).all(|i| self.word(KEY_WORD + i).load(Ordering::Relaxed) == body[i]);
        if same {
            // A newer stamp: a program that loaded the old one fails its swap and hands its
            // advert to the worker, which is harmless.
            last.fetch_max(stamp, Ordering::AcqRel);
            return true;
        }
        // Invalid while the body changes: no program compares against half an advert (and one
        // that loaded the old stamp fails its swap).
        let old = last.swap(0, Ordering::AcqRel);
        for (i, w) in body.iter().enumerate() {
            self.word(KEY_WORD + i).store(*w, Ordering::Relaxed);
        }
        // Never the stamp a program may still hold from before (it must fail its swap).
        let stamp = if stamp == old { stamp + 1 } else { stamp };
        last.store(stamp, Ordering::Release);
        true
    }

    /// Invalidates the entry: from now on every advert goes to the worker. Returns the stamp
    /// of the newest advert the entry accounted for (the accepted one or the last suppressed
    /// one, CLOCK_MONOTONIC ns), or `None` if it was not valid. No advert is suppressed after
    /// this read, so the caller can act on it without missing one.
    pub fn invalidate(&self) -> Option<u64> {
        Some(self.word(0).swap(0, Ordering::AcqRel)).filter(|&s| s != 0)
    }

    /// Makes the entry valid again with the body it had, after an [`invalidate`] that
    /// returned `stamp` found no reason to change it.
    ///
    /// [`invalidate`]: SuppressSlot::invalidate
    pub fn restore(&self, stamp: u64) {
        let _ = self
            .word(0)
            .compare_exchange(0, stamp.max(1), Ordering::AcqRel, Ordering::Relaxed);
    }

    /// The stamp of the newest advert the entry accounts for (CLOCK_MONOTONIC ns), `None`
    /// while invalid; leaves the entry as it is.
    pub fn last_rx(&self) -> Option<u64> {
        Some(self.word(0).load(Ordering::Acquire)).filter(|&s| s != 0)
    }

    /// What the eBPF programs do with an admitted advert (`vrrp` from `src`, arrived at
    /// `now_ns`), for unit tests of the workers: swallowed (stamped and counted) if the entry
    /// is valid and holds exactly it.
    #[cfg(test)]
    pub(crate) fn kernel_swallows(&self, src: IpAddr, vrrp: &[u8], now_ns: u64) -> bool {
        let last = self.word(0);
        let seen = last.load(Ordering::Acquire);
        let Some(body) = body(self.key, src, vrrp) else {
            return false;
        };
        if seen == 0
            || (0..BODY_WORDS).any(|i| self.word(KEY_WORD + i).load(Ordering::Relaxed) != body[i])
        {
            return false;
        }
        if last
            .compare_exchange(seen, now_ns, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        self.word(COUNT_WORD).fetch_add(1, Ordering::Relaxed);
        true
    }

    /// The entry's index in the table (see [`SuppressTable::counts`]).
    pub fn entry(&self) -> u32 {
        // base < entries × ENTRY_WORDS, entries: u32.
        (self.base / ENTRY_WORDS) as u32
    }

    /// Adverts suppressed since [`reset`](SuppressSlot::reset).
    pub fn suppressed(&self) -> u64 {
        self.table.counts(self.entry()).0
    }

    /// Adverts the XDP program refused for the group (see `rvrrpd_common::FLAG_SCREEN`):
    /// (bad checksum, other authentication type).
    pub fn screened(&self) -> (u64, u64) {
        let (_, malformed, auth) = self.table.counts(self.entry());
        (malformed, auth)
    }

    /// What the XDP program does when it refuses an advert of the group, for unit tests.
    #[cfg(test)]
    pub(crate) fn kernel_screens(&self, auth: bool) {
        let w = if auth {
            SCREENED_AUTH_WORD
        } else {
            SCREENED_MALFORMED_WORD
        };
        self.word(w).fetch_add(1, Ordering::Relaxed);
    }

    /// A fresh entry for a new group: invalid, counts 0.
    pub fn reset(&self) {
        self.invalidate();
        for w in [COUNT_WORD, SCREENED_MALFORMED_WORD, SCREENED_AUTH_WORD] {
            self.word(w).store(0, Ordering::Relaxed);
        }
    }
}

/// The compared words of an entry for `vrrp` from `src` (as the programs build them from the
/// packet), or `None` if the message is too long to be kept.
fn body(key: DemuxKey, src: IpAddr, vrrp: &[u8]) -> Option<[u64; BODY_WORDS]> {
    if vrrp.len() > SMALL_VRRP_LEN || vrrp.is_empty() {
        return None;
    }
    let mut bytes = [0u8; BODY_WORDS * 8];
    bytes[..4].copy_from_slice(&key.ifindex.to_ne_bytes());
    bytes[4] = key.vrid;
    bytes[5] = key.family;
    bytes[8..10].copy_from_slice(&(vrrp.len() as u16).to_ne_bytes());
    bytes[16..32].copy_from_slice(&rvrrpd_common::addr_bytes(&src).1);
    bytes[32..32 + vrrp.len()].copy_from_slice(vrrp);
    let mut out = [0u64; BODY_WORDS];
    for (w, b) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        *w = u64::from_ne_bytes(a);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_matches_the_entry_layout() {
        let key = DemuxKey::new(7, 42, rvrrpd_common::FAMILY_V4);
        let msg = [
            0x21, 42, 100, 1, 0, 1, 0xab, 0xcd, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let b = body(key, IpAddr::from([192, 0, 2, 2]), &msg).expect("short message");
        let mut e = SuppressEntry {
            last_rx: 1,
            suppressed: 0,
            key,
            len: msg.len() as u16,
            _pad: [0; 6],
            src: [0; 16],
            vrrp: [0; SMALL_VRRP_LEN],
            screened_malformed: 0,
            screened_auth: 0,
        };
        e.src[..4].copy_from_slice(&[192, 0, 2, 2]);
        e.vrrp[..msg.len()].copy_from_slice(&msg);
        // The entry's bytes from the key on, as 8-byte words.
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&key.ifindex.to_ne_bytes());
        bytes.extend_from_slice(&[key.vrid, key.family, 0, 0]);
        bytes.extend_from_slice(&e.len.to_ne_bytes());
        bytes.extend_from_slice(&e._pad);
        bytes.extend_from_slice(&e.src);
        bytes.extend_from_slice(&e.vrrp);
        assert_eq!(
            bytes.len(),
            SuppressEntry::COMPARED_END - SuppressEntry::KEY_OFFSET
        );
        let words: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes")))
            .collect();
        assert_eq!(b.to_vec(), words);
        assert!(body(key, IpAddr::from([192, 0, 2, 2]), &[0; SMALL_VRRP_LEN + 1]).is_none());
    }
}
