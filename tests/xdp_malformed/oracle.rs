//! The reference classifier: what the programs must do with a frame, written from the
//! contract in the crate docs, sharing no code with the programs.

use super::*;
/// Priority (VLAN id 0) tags the program skips.
pub(crate) const MAX_TAGS: usize = 2;
/// IPv6 extension headers the program skips.
pub(crate) const MAX_EXT: usize = 4;
pub(crate) const IPPROTO_VRRP: u8 = 112;
pub(crate) const LO: u32 = 1;
pub(crate) const WORKERS: u32 = 2;

/// What the reference classifier makes of a frame's network layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Not VRRP as far as the programs can tell.
    Foreign,
    /// VRRP, dropped and counted.
    Bad(Counter),
    /// A well-formed advert.
    Advert(Advert),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Advert {
    pub(crate) family: u8,
    pub(crate) ttl: u8,
    pub(crate) vrid: u8,
    pub(crate) src: [u8; 16],
    /// The whole VRRP message (per the IP length).
    pub(crate) vrrp: Vec<u8>,
}

pub(crate) fn be16(b: &[u8]) -> usize {
    usize::from(u16::from_be_bytes([b[0], b[1]]))
}

/// Where XDP finds the network header and which IP version the ethertype announces.
pub(crate) fn xdp_l3(f: &[u8]) -> Option<(usize, u8)> {
    let mut at = 12; // ethertype / TPID
    let mut tags = 0;
    loop {
        match be16(f.get(at..at + 2)?) {
            0x8100 | 0x88a8 => {
                let tci = be16(f.get(at + 2..at + 4)?);
                if tci & 0x0fff != 0 || tags == MAX_TAGS {
                    return None;
                }
                tags += 1;
                at += 4;
            }
            0x0800 => return Some((at + 2, 4)),
            0x86dd => return Some((at + 2, 6)),
            _ => return None,
        }
    }
}

/// The same for the socket filter: the kernel strips 14 bytes and takes the outer ethertype.
pub(crate) fn skb_l3(f: &[u8]) -> Option<(usize, u8)> {
    match be16(f.get(12..14)?) {
        0x0800 => Some((14, 4)),
        0x86dd => Some((14, 6)),
        _ => None,
    }
}

/// The reference classifier: the contract above applied to the bytes from the network
/// header on (`l3`), for the IP version the link layer announced.
pub(crate) fn classify(l3: &[u8], version: u8) -> Class {
    use Class::{Bad, Foreign};
    let Some(&b0) = l3.first() else {
        return Foreign;
    };
    if b0 >> 4 != version {
        return Foreign;
    }
    let (family, ttl, off, end, src) = if version == 4 {
        if l3.len() < 20 || l3[9] != IPPROTO_VRRP {
            return Foreign;
        }
        let ihl = usize::from(b0 & 0x0f) * 4;
        let total = be16(&l3[2..4]);
        if ihl < 20 || total < ihl || be16(&l3[6..8]) & 0x3fff != 0 {
            return Bad(Counter::Malformed);
        }
        let mut src = [0; 16];
        src[..4].copy_from_slice(&l3[12..16]);
        (FAMILY_V4, l3[8], ihl, total, src)
    } else {
        if l3.len() < 40 {
            return Foreign;
        }
        let (mut next, mut off, mut n) = (l3[6], 40, 0);
        while next != IPPROTO_VRRP {
            if !(next == 0 || next == 60) || n == MAX_EXT {
                return Foreign;
            }
            let Some(ext) = l3.get(off..off + 2) else {
                return Foreign;
            };
            next = ext[0];
            off += (usize::from(ext[1]) + 1) * 8;
            n += 1;
        }
        let mut src = [0; 16];
        src.copy_from_slice(&l3[8..24]);
        (FAMILY_V6, l3[7], off, 40 + be16(&l3[4..6]), src)
    };
    if ttl != 255 {
        return Bad(Counter::BadTtl);
    }
    if end < off + 8 || end > l3.len() {
        return Bad(Counter::Malformed);
    }
    let vrrp = &l3[off..end];
    let count = usize::from(vrrp[3]);
    let need = match (vrrp[0] >> 4, family) {
        (2, FAMILY_V4) => 8 + 4 * count + 8,
        (3, FAMILY_V4) => 8 + 4 * count,
        (3, _) => 8 + 16 * count,
        _ => return Bad(Counter::Malformed),
    };
    if vrrp[0] & 0x0f != 1 || vrrp[1] == 0 || vrrp.len() < need {
        return Bad(Counter::Malformed);
    }
    Class::Advert(Advert {
        family,
        ttl,
        vrid: vrrp[1],
        src,
        vrrp: vrrp.to_vec(),
    })
}

pub(crate) fn classify_xdp(f: &[u8]) -> Class {
    xdp_l3(f).map_or(Class::Foreign, |(at, v)| classify(&f[at..], v))
}

pub(crate) fn classify_skb(f: &[u8]) -> Class {
    skb_l3(f).map_or(Class::Foreign, |(at, v)| classify(&f[at..], v))
}

/// An event as compared: everything but the receive time (checked non-zero).
pub(crate) type EventView = (u32, u8, u8, u16, [u8; 16], Vec<u8>);

pub(crate) fn view(e: &VrrpEvent) -> EventView {
    assert!(e.rx_ns > 0, "rx_ns stamped by the program: {e:?}");
    (
        e.ifindex,
        e.family,
        e.ttl,
        e.len,
        e.src,
        e.vrrp_bytes().to_vec(),
    )
}

/// What one run must produce.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) ret: u32,
    pub(crate) counters: Counters,
    /// `(worker, event)`.
    pub(crate) events: Vec<(u32, EventView)>,
}

pub(crate) fn bump(c: &mut Counters, which: &[Counter]) {
    for k in which {
        c.0[k.index() as usize] += 1;
    }
}
