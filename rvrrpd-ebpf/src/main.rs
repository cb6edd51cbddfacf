//! rvrrpd's eBPF programs (built for `bpfel-unknown-none` by `cargo xtask build-ebpf`).
//!
//! * `vrrp_demux` (XDP): VRRP adverts for a configured `(ifindex, VRID, family)` are copied
//!   into the owning worker's ring buffer and dropped (or also passed, per group flag);
//!   unknown VRIDs, malformed adverts, TTL ≠ 255 and, for unicast groups, sources that are
//!   not their peers (or below the peer's TTL) are counted and dropped; everything that
//!   is not IP protocol 112 is passed untouched, without touching any map. Frames with a VLAN
//!   tag other than a priority tag (VLAN id 0) belong to a VLAN device, not to the groups of
//!   the interface the program runs on (the demux key has no VLAN): passed untouched too.
//! * Accept mode (same program): while some group runs without accept mode, IP packets whose
//!   destination is one of its VIPs (`NOACCEPT`) are dropped, except VRRP and IPv6 neighbour
//!   solicitations / advertisements (RFC 5798 §6.4.3). Foreign traffic pays one array lookup
//!   while no group enforces it, a hash lookup while one does.
//! * `vrrp_sock_filter` (socket filter): for hosts where XDP cannot attach. Attached to the
//!   classic raw socket (AF_INET/AF_INET6 raw proto 112 or AF_PACKET), it keeps only valid
//!   adverts of configured groups; the worker then reads them from the socket as before.
//!
//! * Transmit (same program): a worker's `BPF_PROG_TEST_RUN` with live frames and a seed
//!   sends the frames it staged ([`tx`]).
//!
//! Both receive programs then drop an admitted advert that repeats the last one its group's
//! worker accepted from the Master it follows (the kernel-resident Backup, [`suppress`]); the
//! XDP program also drops adverts the worker would refuse for their checksum or
//! authentication type ([`screen`]).
//!
//! Layout of shared types, map names and counter indices: `rvrrpd-common`.
//!
//! Parsing strategy: the Ethernet header and the IP protocol / next-header byte are read with
//! direct packet access at constant offsets (so foreign traffic costs a few loads and no helper
//! call); everything of a VRRP packet past that is read with `bpf_xdp_load_bytes` /
//! `bpf_skb_load_bytes_relative` at offsets relative to the network header, which the verifier
//! accepts for variable offsets (IPv4 IHL, IPv6 extension headers) without bounds gymnastics.
#![no_std]
#![no_main]
// BPF_CMPXCHG / BPF_ADD on map values (see `suppress`).
#![allow(internal_features)]
#![feature(core_intrinsics)]

mod screen;
mod suppress;
mod tx;

use core::mem::{size_of, MaybeUninit};

use aya_ebpf::{
    bindings::{bpf_hdr_start_off::BPF_HDR_START_NET, xdp_action},
    helpers::generated::{bpf_ktime_get_ns, bpf_skb_load_bytes_relative, bpf_xdp_load_bytes},
    macros::{map, socket_filter, xdp},
    maps::{Array, HashMap, PerCpuArray, RingBuf},
    programs::{SkBuffContext, XdpContext},
    EbpfContext,
};
use rvrrpd_common::{
    demux_index, Counter, DemuxKey, DemuxValue, PeerKey, SmallVrrpEvent, VipKey, VrrpEvent,
    DEMUX_BLOCK_LEN, FAMILY_V4, FAMILY_V6, FLAG_PASS, FLAG_ROUTED, FLAG_UNICAST, MAX_DEMUX_BLOCKS,
    MAX_GROUPS, MAX_NOACCEPT, MAX_PEERS, MAX_VRRP_LEN, NUM_COUNTERS, RING_BYTES, SMALL_VRRP_LEN,
    VRRP_HEADER_LEN, VRRP_V2_AUTH_LEN,
};

const ETH_HLEN: usize = 14;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88A8;
/// VLAN id bits of a tag's TCI.
const VLAN_VID_MASK: u16 = 0x0fff;
/// Priority tags (802.1Q / 802.1ad with VLAN id 0) skipped before giving up (and passing).
const MAX_PRIORITY_TAGS: usize = 2;
const IPPROTO_VRRP: u8 = 112;
const IPPROTO_HOPOPTS: u8 = 0;
const IPPROTO_DSTOPTS: u8 = 60;
const IPPROTO_ICMPV6: u8 = 58;
const ND_NEIGHBOR_SOLICIT: u8 = 135;
const ND_NEIGHBOR_ADVERT: u8 = 136;
const IPV4_MIN_HLEN: u32 = 20;
const IPV6_HLEN: u32 = 40;
/// Extension headers skipped before giving up (and passing the packet untouched).
const MAX_EXT_HEADERS: u32 = 4;

#[map]
static DEMUX: HashMap<DemuxKey, DemuxValue> = HashMap::with_max_entries(MAX_GROUPS, 0);

/// Interface index → its block of `DEMUX_ARR` (see `rvrrpd_common::IFBLOCK_MAP`).
#[map]
static IFBLOCK: HashMap<u32, u32> = HashMap::with_max_entries(MAX_DEMUX_BLOCKS, 0);

/// The groups of interfaces with a block, at `demux_index` (see
/// `rvrrpd_common::DEMUX_ARRAY_MAP`).
#[map]
static DEMUX_ARR: Array<DemuxValue> =
    Array::with_max_entries(MAX_DEMUX_BLOCKS * DEMUX_BLOCK_LEN, 0);

/// Unicast peers of unicast groups; the value is the lowest TTL / hop limit accepted.
#[map]
static PEERS: HashMap<PeerKey, u32> = HashMap::with_max_entries(MAX_PEERS, 0);

/// VIPs of groups without accept mode (value unused).
#[map]
static NOACCEPT: HashMap<VipKey, u32> = HashMap::with_max_entries(MAX_NOACCEPT, 0);

/// `[0]` ≠ 0 while `NOACCEPT` has entries (user space keeps it so).
#[map]
static NOACCEPT_ON: Array<u32> = Array::with_max_entries(1, 0);

#[map]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(NUM_COUNTERS, 0);

/// Declares the per-worker ring buffers and `ring(worker)`, a `match` over them (the verifier
/// needs a constant map pointer at each `bpf_ringbuf_reserve` call site).
macro_rules! rings {
    ($($name:ident = $idx:literal),* $(,)?) => {
        $(
            #[map]
            static $name: RingBuf = RingBuf::with_byte_size(RING_BYTES, 0);
        )*

        /// Reserves a full event slot in `worker`'s ring. `Err(BadWorker)` /
        /// `Err(RingbufFull)`.
        #[inline(always)]
        fn reserve_full(worker: u32) -> Result<aya_ebpf::maps::ring_buf::RingBufEntry<VrrpEvent>, Counter> {
            let entry = match worker {
                $($idx => $name.reserve::<VrrpEvent>(0),)*
                _ => return Err(Counter::BadWorker),
            };
            entry.ok_or(Counter::RingbufFull)
        }

        /// Reserves a small event slot (adverts of at most `SMALL_VRRP_LEN` bytes).
        #[inline(always)]
        fn reserve_small(worker: u32) -> Result<aya_ebpf::maps::ring_buf::RingBufEntry<SmallVrrpEvent>, Counter> {
            let entry = match worker {
                $($idx => $name.reserve::<SmallVrrpEvent>(0),)*
                _ => return Err(Counter::BadWorker),
            };
            entry.ok_or(Counter::RingbufFull)
        }
    };
}

rings!(
    RING0 = 0,
    RING1 = 1,
    RING2 = 2,
    RING3 = 3,
    RING4 = 4,
    RING5 = 5,
    RING6 = 6,
    RING7 = 7,
    RING8 = 8,
    RING9 = 9,
    RING10 = 10,
    RING11 = 11,
    RING12 = 12,
    RING13 = 13,
    RING14 = 14,
    RING15 = 15,
);

#[inline(always)]
fn count(c: Counter) {
    if let Some(p) = COUNTERS.get_ptr_mut(c.index()) {
        // SAFETY: the pointer is this CPU's slot of the per-CPU array; programs do not
        // migrate CPUs while running, so there is no concurrent writer.
        unsafe { *p += 1 };
    }
}

/// Reads packet bytes at an offset relative to the network (L3) header.
trait L3Reader {
    /// Copies `len` (≥ 1) bytes at `off` into `dst`; false if out of the packet.
    fn load_raw(&self, off: u32, dst: *mut u8, len: u32) -> bool;

    #[inline(always)]
    fn load<T: Copy>(&self, off: u32) -> Option<T> {
        let mut v = MaybeUninit::<T>::uninit();
        if self.load_raw(off, v.as_mut_ptr().cast(), size_of::<T>() as u32) {
            // SAFETY: the helper filled all size_of::<T>() bytes; T is plain bytes here.
            Some(unsafe { v.assume_init() })
        } else {
            None
        }
    }
}

struct XdpL3<'a> {
    ctx: &'a XdpContext,
    l3: u32,
}

impl L3Reader for XdpL3<'_> {
    #[inline(always)]
    fn load_raw(&self, off: u32, dst: *mut u8, len: u32) -> bool {
        // SAFETY: `dst` points to `len` writable bytes (the callers pass a local or a reserved
        // ring slot of at least that size); the helper bounds-checks the packet side.
        unsafe { bpf_xdp_load_bytes(self.ctx.ctx, self.l3 + off, dst.cast(), len) == 0 }
    }
}

struct SkbL3<'a> {
    ctx: &'a SkBuffContext,
}

impl L3Reader for SkbL3<'_> {
    #[inline(always)]
    fn load_raw(&self, off: u32, dst: *mut u8, len: u32) -> bool {
        // SAFETY: as above; offsets are relative to the network header, so the same code
        // serves AF_PACKET (data at L2) and AF_INET/AF_INET6 raw sockets (data at L3).
        unsafe {
            bpf_skb_load_bytes_relative(self.ctx.as_ptr(), off, dst.cast(), len, BPF_HDR_START_NET)
                == 0
        }
    }
}

/// A valid advert, located relative to the network header.
struct Advert {
    family: u8,
    ttl: u8,
    vrid: u8,
    /// Offset of the VRRP message from the network header.
    off: u32,
    /// Length of the VRRP message per the IP header(s).
    len: u32,
    src: [u8; 16],
}

enum Verdict {
    /// Not VRRP (or not parseable as IP far enough to tell): leave it alone.
    NotVrrp,
    /// VRRP, but to be dropped and counted.
    Bad(Counter),
    Advert(Advert),
}

#[inline(always)]
fn be16(b: [u8; 2]) -> u32 {
    u16::from_be_bytes(b) as u32
}

/// Parses the IP header of the family the link layer announced (`version` 4 or 6, from the
/// ethertype / the skb's protocol; a header of another version is not IP as far as that link
/// layer goes) and the VRRP header.
#[inline(always)]
fn classify<R: L3Reader>(r: &R, version: u8) -> Verdict {
    let Some(b0) = r.load::<u8>(0) else {
        return Verdict::NotVrrp;
    };
    if b0 >> 4 != version {
        return Verdict::NotVrrp;
    }
    let (family, ttl, off, ip_end, src) = match version {
        4 => {
            let Some(h) = r.load::<[u8; 20]>(0) else {
                return Verdict::NotVrrp;
            };
            if h[9] != IPPROTO_VRRP {
                return Verdict::NotVrrp;
            }
            let ihl = ((h[0] & 0x0f) as u32) << 2;
            let total = be16([h[2], h[3]]);
            // Fragments (MF or offset != 0) are never legal for VRRP.
            let frag = be16([h[6], h[7]]) & 0x3fff;
            if ihl < IPV4_MIN_HLEN || total < ihl || frag != 0 {
                return Verdict::Bad(Counter::Malformed);
            }
            let mut src = [0u8; 16];
            src[0] = h[12];
            src[1] = h[13];
            src[2] = h[14];
            src[3] = h[15];
            (FAMILY_V4, h[8], ihl, total, src)
        }
        6 => {
            let Some(h) = r.load::<[u8; 40]>(0) else {
                return Verdict::NotVrrp;
            };
            let mut next = h[6];
            let mut off = IPV6_HLEN;
            let mut i = 0;
            while i < MAX_EXT_HEADERS && next != IPPROTO_VRRP {
                if next != IPPROTO_HOPOPTS && next != IPPROTO_DSTOPTS {
                    return Verdict::NotVrrp;
                }
                let Some(ext) = r.load::<[u8; 2]>(off) else {
                    return Verdict::NotVrrp;
                };
                next = ext[0];
                off += (ext[1] as u32 + 1) * 8;
                i += 1;
            }
            if next != IPPROTO_VRRP {
                return Verdict::NotVrrp;
            }
            let mut src = [0u8; 16];
            src.copy_from_slice(&h[8..24]);
            (FAMILY_V6, h[7], off, IPV6_HLEN + be16([h[4], h[5]]), src)
        }
        _ => return Verdict::NotVrrp,
    };
    // TTL ≠ 255 is only legal for a unicast group's peer (decided after the demux lookup);
    // a packet that is also malformed counts as bad TTL, as before unicast existed.
    let malformed = if ttl != 255 {
        Verdict::Bad(Counter::BadTtl)
    } else {
        Verdict::Bad(Counter::Malformed)
    };
    if ip_end < off + VRRP_HEADER_LEN as u32 {
        return malformed;
    }
    // The frame must hold the whole IP packet: a truncated one is malformed whatever its VRID
    // (and the copy into the ring, which reads at most MAX_VRRP_LEN bytes, cannot tell for
    // longer adverts; the socket filter copies nothing).
    if r.load::<u8>(ip_end - 1).is_none() {
        return malformed;
    }
    let len = ip_end - off;
    let Some(v) = r.load::<[u8; 8]>(off) else {
        return malformed;
    };
    let version = v[0] >> 4;
    let kind = v[0] & 0x0f;
    let vrid = v[1];
    let addr_len: u32 = if family == FAMILY_V4 { 4 } else { 16 };
    let min_len = match version {
        2 if family == FAMILY_V4 => {
            VRRP_HEADER_LEN as u32 + v[3] as u32 * addr_len + VRRP_V2_AUTH_LEN as u32
        }
        3 => VRRP_HEADER_LEN as u32 + v[3] as u32 * addr_len,
        _ => return malformed,
    };
    if kind != 1 || vrid == 0 || len < min_len {
        return malformed;
    }
    Verdict::Advert(Advert {
        family,
        ttl,
        vrid,
        off,
        len,
        src,
    })
}

/// The group (`ifindex`, `vrid`, `family`) is routed to: from the interface's demux block
/// when it has one (a lookup among a few interfaces, then an array index), else from the
/// hash of every group. Not inlined: `vrrp_demux`'s frame is at the 512-byte limit, and a
/// subprogram's frame counts apart for LLVM (the verifier checks the sum, within bounds).
#[inline(never)]
fn demux(ifindex: u32, vrid: u8, family: u8) -> Option<DemuxValue> {
    // SAFETY: values are copied out at once; user space writes whole entries.
    if let Some(block) = unsafe { IFBLOCK.get(ifindex) }.copied() {
        let val = DEMUX_ARR.get(demux_index(block, vrid, family)).copied()?;
        return (val.flags & FLAG_ROUTED != 0).then_some(val);
    }
    // SAFETY: as above.
    unsafe { DEMUX.get(DemuxKey::new(ifindex, vrid, family)) }.copied()
}

/// The group an advert belongs to, if it may enter: multicast groups take TTL 255 only, a
/// unicast group only its peers, each with at least the peer's TTL. `Err` is the counter of
/// the drop.
#[inline(always)]
fn admit(adv: &Advert, ifindex: u32) -> Result<DemuxValue, Counter> {
    let Some(val) = demux(ifindex, adv.vrid, adv.family) else {
        return Err(if adv.ttl != 255 {
            Counter::BadTtl
        } else {
            Counter::UnknownVrid
        });
    };
    if val.flags & FLAG_UNICAST == 0 {
        return if adv.ttl == 255 {
            Ok(val)
        } else {
            Err(Counter::BadTtl)
        };
    }
    let peer = PeerKey::new(ifindex, adv.vrid, adv.family, adv.src);
    // SAFETY: as above.
    match unsafe { PEERS.get(peer) }.copied() {
        None => Err(Counter::UnknownPeer),
        Some(min_ttl) if u32::from(adv.ttl) < min_ttl => Err(Counter::BadTtl),
        Some(_) => Ok(val),
    }
}

/// `min(len, MAX_VRRP_LEN)` in a form the verifier can bound to `[1, MAX_VRRP_LEN]`
/// (a helper's size argument must not be possibly zero).
///
/// `len ≥ 8` is known from `classify`, but LLVM folds that knowledge into a plain
/// `min(len, 272)` whose lower bound the verifier loses (it then sees `[0, 271]` and rejects
/// the call). Going through a volatile stack slot hides the value from LLVM, so it keeps
/// `min(len - 1, 271) + 1`, which the verifier bounds exactly.
#[inline(always)]
fn copy_len(len: u32, cap: u32) -> u32 {
    let m = len.wrapping_sub(1);
    // SAFETY: reads a local u32 through a valid, aligned reference.
    let m = unsafe { core::ptr::read_volatile(&m) };
    let m = if m > cap - 1 { cap - 1 } else { m };
    m + 1
}

/// Reserves a record of `$reserve`'s type in the worker's ring, fills it for `$adv` and submits
/// it (both record types have the same fields; only the message array differs). Evaluates to
/// `Err(counter)` when the ring is full or the frame is shorter than the IP header says.
macro_rules! deliver {
    ($reserve:ident, $cap:expr, $r:expr, $adv:expr, $ifindex:expr, $worker:expr) => {{
        match $reserve($worker) {
            Err(c) => Err(c),
            Ok(mut entry) => {
                let ev = entry.as_mut_ptr();
                let n = copy_len($adv.len, $cap as u32);
                // SAFETY: `ev` is a reserved, writable ring slot of the record's size; the
                // copy writes n ≤ $cap bytes into its `vrrp` array.
                let copied = unsafe {
                    (*ev).ifindex = $ifindex;
                    (*ev).family = $adv.family;
                    (*ev).ttl = $adv.ttl;
                    (*ev).len = if $adv.len > u16::MAX as u32 {
                        u16::MAX
                    } else {
                        $adv.len as u16
                    };
                    (*ev).src = $adv.src;
                    (*ev).rx_ns = bpf_ktime_get_ns();
                    $r.load_raw($adv.off, (*ev).vrrp.as_mut_ptr(), n)
                };
                if copied {
                    entry.submit(0);
                    Ok(())
                } else {
                    entry.discard(0);
                    Err(Counter::Malformed)
                }
            }
        }
    }};
}

#[xdp]
pub fn vrrp_demux(ctx: XdpContext) -> u32 {
    if tx::is_tx_run(&ctx) {
        return tx::transmit(&ctx);
    }
    // Up to MAX_PRIORITY_TAGS priority tags, each at a constant offset (so that `l3` reads
    // the IP header with direct access at constant offsets too).
    match vlan_tag::<ETH_HLEN>(&ctx) {
        Tag::None(proto) => l3::<ETH_HLEN>(&ctx, proto),
        Tag::Pass => xdp_action::XDP_PASS,
        Tag::Priority => match vlan_tag::<{ ETH_HLEN + 4 }>(&ctx) {
            Tag::None(proto) => l3::<{ ETH_HLEN + 4 }>(&ctx, proto),
            Tag::Pass => xdp_action::XDP_PASS,
            Tag::Priority => match vlan_tag::<{ ETH_HLEN + 8 }>(&ctx) {
                Tag::None(proto) => l3::<{ ETH_HLEN + 8 }>(&ctx, proto),
                // More than MAX_PRIORITY_TAGS tags: give up.
                Tag::Pass | Tag::Priority => xdp_action::XDP_PASS,
            },
        },
    }
}

const _: () = assert!(MAX_PRIORITY_TAGS == 2, "vrrp_demux unrolls two tags");

/// What is at the ethertype position `AT - 2` of a frame whose tags so far are all priority
/// tags.
enum Tag {
    /// No tag: the ethertype of the network header at `AT`.
    None(u16),
    /// A priority tag (VLAN id 0, the frame is the interface's own): the next ethertype is at
    /// `AT + 4 - 2`.
    Priority,
    /// A VLAN tag with a VLAN id (the frame belongs to a VLAN device), or a truncated frame.
    Pass,
}

#[inline(always)]
fn vlan_tag<const AT: usize>(ctx: &XdpContext) -> Tag {
    let data = ctx.data();
    if data + AT > ctx.data_end() {
        return Tag::Pass;
    }
    // SAFETY: bounds checked against data_end just above.
    let proto = u16::from_be_bytes(unsafe { *((data + AT - 2) as *const [u8; 2]) });
    if proto != ETH_P_8021Q && proto != ETH_P_8021AD {
        return Tag::None(proto);
    }
    if data + AT + 4 > ctx.data_end() {
        return Tag::Pass;
    }
    // SAFETY: bounds checked just above.
    let tci = u16::from_be_bytes(unsafe { *((data + AT) as *const [u8; 2]) });
    if tci & VLAN_VID_MASK != 0 {
        return Tag::Pass;
    }
    Tag::Priority
}

/// The rest of `vrrp_demux` with the network header at the constant offset `L3`.
#[inline(always)]
fn l3<const L3: usize>(ctx: &XdpContext, proto: u16) -> u32 {
    let data = ctx.data();
    let end = ctx.data_end();
    // Cheap pre-filter with direct access: only IP protocol 112 (or IPv6 with hop-by-hop /
    // destination options first) goes further.
    let version = match proto {
        ETH_P_IP => {
            if data + L3 + 10 > end {
                return xdp_action::XDP_PASS;
            }
            // SAFETY: bounds checked just above.
            if unsafe { *((data + L3 + 9) as *const u8) } != IPPROTO_VRRP {
                return not_vrrp::<L3>(ctx, 4);
            }
            4
        }
        ETH_P_IPV6 => {
            if data + L3 + 7 > end {
                return xdp_action::XDP_PASS;
            }
            // SAFETY: bounds checked just above.
            let next = unsafe { *((data + L3 + 6) as *const u8) };
            if next != IPPROTO_VRRP && next != IPPROTO_HOPOPTS && next != IPPROTO_DSTOPTS {
                return not_vrrp::<L3>(ctx, 6);
            }
            6
        }
        _ => return xdp_action::XDP_PASS,
    };
    let r = XdpL3 { ctx, l3: L3 as u32 };
    let adv = match classify(&r, version) {
        Verdict::NotVrrp => return not_vrrp::<L3>(ctx, version),
        Verdict::Bad(c) => {
            count(c);
            return xdp_action::XDP_DROP;
        }
        Verdict::Advert(a) => a,
    };
    // SAFETY: ctx.ctx is the xdp_md the kernel handed us.
    let ifindex = unsafe { (*ctx.ctx).ingress_ifindex };
    let val = match admit(&adv, ifindex) {
        Ok(v) => v,
        Err(c) => {
            count(c);
            return xdp_action::XDP_DROP;
        }
    };
    let key = DemuxKey::new(ifindex, adv.vrid, adv.family);
    if suppress::swallow(&r, &adv, key, val.slot, 0) {
        return pass_or_drop(val);
    }
    if let Some(c) = screen::refuse(&r, &adv, &val) {
        count(c);
        return pass_or_drop(val);
    }
    // Short adverts (most) go into small records: three times as many fit in a ring.
    let delivered = if adv.len <= SMALL_VRRP_LEN as u32 {
        deliver!(reserve_small, SMALL_VRRP_LEN, r, adv, ifindex, val.worker)
    } else {
        deliver!(reserve_full, MAX_VRRP_LEN, r, adv, ifindex, val.worker)
    };
    if let Err(c) = delivered {
        // Ring full, bad worker, or the IP header claims more bytes than the frame holds.
        count(c);
        return xdp_action::XDP_DROP;
    }
    count(Counter::Delivered);
    if adv.len > MAX_VRRP_LEN as u32 {
        count(Counter::Truncated);
    }
    pass_or_drop(val)
}

/// The verdict for an advert handled for a group: also handed to the stack with
/// [`FLAG_PASS`].
#[inline(always)]
fn pass_or_drop(val: DemuxValue) -> u32 {
    if val.flags & FLAG_PASS != 0 {
        count(Counter::Passed);
        xdp_action::XDP_PASS
    } else {
        xdp_action::XDP_DROP
    }
}

/// The verdict for an IP packet that is not VRRP (`version` 4 or 6, from the ethertype):
/// `XDP_DROP` when it is addressed to a VIP of a group without accept mode and is not IPv6
/// neighbour discovery, else `XDP_PASS`.
#[inline(always)]
fn not_vrrp<const L3: usize>(ctx: &XdpContext, version: u8) -> u32 {
    if !NOACCEPT_ON.get(0).is_some_and(|on| *on != 0) {
        return xdp_action::XDP_PASS;
    }
    let data = ctx.data();
    let end = ctx.data_end();
    let mut addr = [0u8; 16];
    let family = if version == 4 {
        if data + L3 + 20 > end {
            return xdp_action::XDP_PASS;
        }
        // SAFETY: bounds checked just above (the destination is bytes 16..20).
        let dst = unsafe { *((data + L3 + 16) as *const [u8; 4]) };
        addr[..4].copy_from_slice(&dst);
        FAMILY_V4
    } else {
        if data + L3 + 40 > end {
            return xdp_action::XDP_PASS;
        }
        // SAFETY: bounds checked just above (the destination is bytes 24..40).
        addr = unsafe { *((data + L3 + 24) as *const [u8; 16]) };
        FAMILY_V6
    };
    // SAFETY: only the presence of the key is used.
    if unsafe { NOACCEPT.get(VipKey::new(family, addr)) }.is_none() {
        return xdp_action::XDP_PASS;
    }
    if family == FAMILY_V6 && is_neighbour_discovery::<L3>(ctx) {
        return xdp_action::XDP_PASS;
    }
    count(Counter::NoAccept);
    xdp_action::XDP_DROP
}

/// Whether an IPv6 packet is a neighbour solicitation or advertisement (ICMPv6 right after the
/// fixed header: a Master must answer those for its VIPs whatever its accept mode).
#[inline(always)]
fn is_neighbour_discovery<const L3: usize>(ctx: &XdpContext) -> bool {
    let data = ctx.data();
    if data + L3 + 41 > ctx.data_end() {
        return false;
    }
    // SAFETY: bounds checked just above (next header at 6, ICMPv6 type at 40).
    let (next, kind) = unsafe {
        (
            *((data + L3 + 6) as *const u8),
            *((data + L3 + 40) as *const u8),
        )
    };
    next == IPPROTO_ICMPV6 && (kind == ND_NEIGHBOR_SOLICIT || kind == ND_NEIGHBOR_ADVERT)
}

/// Socket filter: returns the packet length (keep) for valid adverts of configured groups,
/// 0 (drop for this socket only) for everything else.
#[socket_filter]
pub fn vrrp_sock_filter(ctx: SkBuffContext) -> i64 {
    // The family the link layer announced (network byte order in the low 16 bits): an
    // AF_INET raw socket only gets ETH_P_IP, an AF_INET6 one ETH_P_IPV6.
    // SAFETY: ctx.skb.skb is the __sk_buff the kernel handed us.
    let version = match u16::from_be(unsafe { (*ctx.skb.skb).protocol } as u16) {
        ETH_P_IP => 4,
        ETH_P_IPV6 => 6,
        _ => return 0,
    };
    let r = SkbL3 { ctx: &ctx };
    let adv = match classify(&r, version) {
        Verdict::NotVrrp => return 0,
        Verdict::Bad(c) => {
            count(c);
            return 0;
        }
        Verdict::Advert(a) => a,
    };
    // SAFETY: ctx.skb.skb is the __sk_buff the kernel handed us.
    let ifindex = unsafe { (*ctx.skb.skb).ifindex };
    let val = match admit(&adv, ifindex) {
        Ok(v) => v,
        Err(c) => {
            count(c);
            return 0;
        }
    };
    let key = DemuxKey::new(ifindex, adv.vrid, adv.family);
    if suppress::swallow(&r, &adv, key, val.slot, suppress::SOCKET_DUP_NS) {
        return 0;
    }
    count(Counter::Passed);
    ctx.len() as i64
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[link_section = "license"]
#[no_mangle]
static LICENSE: [u8; 4] = *b"GPL\0";
