//! Screening in the kernel: an admitted advert of a [`FLAG_SCREEN`] group that the worker's
//! first checks would refuse — a wrong checksum ([`FLAG_SCREEN_SUM`]) or, for VRRPv2,
//! another authentication type than the group's — is counted and dropped here, so that a
//! flood of such forgeries does not wake the worker once per packet.
//!
//! The rules are the worker's, never stricter: the checksum is summed over the VRRP message
//! proper (header, addresses, VRRPv2 authentication data; not trailing bytes), VRRPv2 without
//! and VRRPv3/IPv6 with the pseudo-header, VRRPv3/IPv4 either way, with the VRRP multicast
//! group as destination as the worker assumes for adverts from the fast path. A message that
//! verifies here verifies there (RFC 1071 arithmetic: the sum over a message carrying its
//! computed checksum folds to 0xffff). Only the XDP program screens: the socket filter runs
//! once per receiving socket and could not count each packet once.

use core::intrinsics::{atomic_xadd, AtomicOrdering};

use rvrrpd_common::{
    Counter, DemuxValue, SuppressEntry, FAMILY_V4, FLAG_SCREEN, FLAG_SCREEN_SUM, NO_SLOT,
    SCREEN_AUTH_SHIFT, SMALL_VRRP_LEN, VRRP_HEADER_LEN, VRRP_V2_AUTH_LEN,
};

use crate::suppress::SUPPRESS;
use crate::{copy_len, Advert, L3Reader};

/// The counter of the check `adv` fails, if any; the group's entry has counted it.
#[inline(always)]
pub(crate) fn refuse<R: L3Reader>(r: &R, adv: &Advert, val: &DemuxValue) -> Option<Counter> {
    if val.flags & FLAG_SCREEN == 0 || val.slot == NO_SLOT || adv.len > SMALL_VRRP_LEN as u32 {
        return None;
    }
    // The header first, then exactly the message proper: the bytes after it stay zero, so
    // the checksum is a straight sum over the whole buffer (RFC 1071 pads with zeros too).
    // A per-byte "inside the message?" test made the verifier walk 64 branches (0.4 s at
    // every start-up).
    let hdr: [u8; 4] = r.load(adv.off)?;
    let version = hdr[0] >> 4;
    let v4 = adv.family == FAMILY_V4;
    let addr_len: usize = if v4 { 4 } else { 16 };
    let auth_len = if version == 2 { VRRP_V2_AUTH_LEN } else { 0 };
    let msg_len = VRRP_HEADER_LEN + hdr[3] as usize * addr_len + auth_len;
    if msg_len > adv.len as usize {
        // classify() guarantees it; the worker decides otherwise.
        return None;
    }
    let mut msg = [0u8; SMALL_VRRP_LEN];
    if !r.load_raw(
        adv.off,
        msg.as_mut_ptr(),
        copy_len(msg_len as u32, SMALL_VRRP_LEN as u32),
    ) {
        return None;
    }
    let (counter, word) = if val.flags & FLAG_SCREEN_SUM != 0 && !checksum_ok(&msg, msg_len, adv, version) {
        (Counter::BadChecksum, SuppressEntry::SCREENED_MALFORMED_OFFSET / 8)
    } else if !auth_type_ok(&msg, version, (val.flags >> SCREEN_AUTH_SHIFT) as u8) {
        (Counter::BadAuthType, SuppressEntry::SCREENED_AUTH_OFFSET / 8)
    } else {
        return None;
    };
    if let Some(e) = SUPPRESS.get_ptr_mut(val.slot) {
        // SAFETY: `e` is a valid, 8-byte aligned map value of SuppressEntry::SIZE bytes;
        // `word` < SIZE / 8. User space only loads this word (atomically, via mmap).
        unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(e.cast::<u64>().add(word), 1) };
    }
    Some(counter)
}

/// The worker's authentication-type rule (`AuthKey::verify`): a VRRPv2 message carries the
/// group's type; a VRRPv3 message is only for a group without authentication.
#[inline(always)]
fn auth_type_ok(msg: &[u8; SMALL_VRRP_LEN], version: u8, want: u8) -> bool {
    if version == 2 {
        msg[4] == want
    } else {
        want == 0
    }
}

/// The worker's checksum rule (see the module documentation).
#[inline(always)]
fn checksum_ok(msg: &[u8; SMALL_VRRP_LEN], msg_len: usize, adv: &Advert, version: u8) -> bool {
    let mut sum: u32 = 0;
    let mut i = 0;
    while i < SMALL_VRRP_LEN {
        sum += be(msg[i], msg[i + 1]);
        i += 2;
    }
    let plain = fold(sum) == 0xffff;
    if version == 2 {
        return plain;
    }
    // Pseudo-header: source, the multicast group, protocol 112, the message length.
    let s = &adv.src;
    let mut ph: u32 = 112 + msg_len as u32;
    if adv.family == FAMILY_V4 {
        ph += be(s[0], s[1]) + be(s[2], s[3]) + 0xe000 + 0x0012;
    } else {
        let mut j = 0;
        while j < 16 {
            ph += be(s[j], s[j + 1]);
            j += 2;
        }
        ph += 0xff02 + 0x0012;
    }
    let pseudo = fold(fold(sum) + fold(ph)) == 0xffff;
    if adv.family == FAMILY_V4 {
        pseudo || plain
    } else {
        pseudo
    }
}

#[inline(always)]
fn be(hi: u8, lo: u8) -> u32 {
    ((hi as u32) << 8) | lo as u32
}

/// Folds a 32-bit one's-complement sum to 16 bits.
#[inline(always)]
fn fold(mut sum: u32) -> u32 {
    sum = (sum & 0xffff) + (sum >> 16);
    (sum & 0xffff) + (sum >> 16)
}
