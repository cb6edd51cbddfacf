//! Types shared by the rvrrpd daemon and its eBPF programs (`no_std`).
//!
//! Everything here is `#[repr(C)]` with explicit padding so the kernel side
//! (`rvrrpd-ebpf`, compiled for `bpfel-unknown-none`) and user space
//! (`rvrrpd::net::xdp`) agree on the byte layout. The `user` feature adds
//! `unsafe impl aya::Pod` so the structs can be map keys and values in aya.
//!
//! # Data path
//! The XDP program `vrrp_demux` looks up [`DemuxKey`] `(ifindex, vrid, family)` in the
//! [`DEMUX_MAP`] hash map; the [`DemuxValue`] names the worker whose ring buffer
//! ([`RING_MAP_NAMES`]`[worker]`) receives a [`VrrpEvent`] (or, for adverts of at most
//! [`SMALL_VRRP_LEN`] bytes, a [`SmallVrrpEvent`]) for the advert. A unicast group
//! ([`FLAG_UNICAST`]) admits only sources listed in [`PEERS_MAP`] ([`PeerKey`]).
//! Counters live in the per-CPU array [`COUNTERS_MAP`], indexed by [`Counter`].
//!
//! A Backup's steady state stays in the kernel: [`DemuxValue::slot`] names the group's
//! [`SuppressEntry`] in [`SUPPRESS_MAP`], where its worker keeps the last advert it accepted
//! from its Master; an advert identical to it is stamped and counted there and dropped, the
//! worker never woken (see [`SuppressEntry`]).
//!
//! # Accept mode
//! The VIPs of groups with `accept_mode = false` are keys ([`VipKey`]) of [`NOACCEPT_MAP`];
//! while [`NOACCEPT_ON_MAP`]`[0]` is non-zero, IP packets addressed to one of them (other than
//! VRRP and IPv6 neighbour solicitations / advertisements) are dropped and counted as
//! [`Counter::NoAccept`] (RFC 5798 §6.4.3).
//!
//! # Transmit
//! A worker may send its adverts through `vrrp_demux` run with `BPF_PROG_TEST_RUN` and live
//! frames instead of an AF_PACKET socket: see [`tx`].
#![no_std]

pub mod tx;

/// Address family tag for IPv4 in [`DemuxKey::family`] and [`VrrpEvent::family`].
pub const FAMILY_V4: u8 = 4;
/// Address family tag for IPv6 in [`DemuxKey::family`] and [`VrrpEvent::family`].
pub const FAMILY_V6: u8 = 6;

/// The 16 address bytes the maps and records carry for `a` (IPv4 in the first 4, rest zero),
/// and its family tag.
pub fn addr_bytes(a: &core::net::IpAddr) -> (u8, [u8; 16]) {
    match a {
        core::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            let mut b = [0; 16];
            b[..4].copy_from_slice(&o);
            (FAMILY_V4, b)
        }
        core::net::IpAddr::V6(v6) => (FAMILY_V6, v6.octets()),
    }
}

/// The address of `family` carried in `b` (inverse of [`addr_bytes`]); `None` for an unknown
/// family.
pub fn addr_from(family: u8, b: &[u8; 16]) -> Option<core::net::IpAddr> {
    match family {
        FAMILY_V4 => Some(core::net::IpAddr::V4(core::net::Ipv4Addr::new(
            b[0], b[1], b[2], b[3],
        ))),
        FAMILY_V6 => Some(core::net::IpAddr::V6(core::net::Ipv6Addr::from(*b))),
        _ => None,
    }
}

/// Number of per-worker ring buffers compiled into the eBPF object (`RING0` … `RING15`).
///
/// The program selects the ring with a `match` over statics (array-of-maps of ring buffers
/// needs aya ≥ 0.16 in user space). A [`DemuxValue::worker`] ≥ this is counted as
/// [`Counter::BadWorker`] and the packet dropped.
pub const MAX_WORKERS: usize = 16;

/// Default size in bytes of each worker's ring buffer (a power-of-two multiple of the page
/// size, as the kernel requires). 256 KiB hold ~840 full records of
/// [`VrrpEvent::RING_RECORD_SIZE`] bytes or ~2,500 small ones: at 100 adverts/s/group (v3, 10 ms minimum interval is 100/s) a worker that owns
/// 1 000 groups and drains every millisecond needs ~100 slots. User space may override the
/// size at load time.
pub const RING_BYTES: u32 = 256 * 1024;

/// Capacity of the demux hash map (groups across all interfaces and families).
pub const MAX_GROUPS: u32 = 16 * 1024;

/// Name of the XDP program in the object.
pub const XDP_PROGRAM: &str = "vrrp_demux";
/// Name of the socket-filter program in the object.
pub const SOCKET_FILTER_PROGRAM: &str = "vrrp_sock_filter";
/// Name of the `HashMap<DemuxKey, DemuxValue>`: every routed group; what the programs read
/// for interfaces without a demux block.
pub const DEMUX_MAP: &str = "DEMUX";
/// Name of the `HashMap<u32, u32>` from an interface index to its demux block: the first
/// [`MAX_DEMUX_BLOCKS`] interfaces with groups get one. A handful of entries, hot in the
/// cache, where a lookup in [`DEMUX_MAP`] of 10,000 groups missed it twice per packet.
pub const IFBLOCK_MAP: &str = "IFBLOCK";
/// Name of the `Array<DemuxValue>` of [`MAX_DEMUX_BLOCKS`] × [`DEMUX_BLOCK_LEN`] entries:
/// a group of an interface with a block is at [`demux_index`]; an entry without
/// [`FLAG_ROUTED`] is no group.
pub const DEMUX_ARRAY_MAP: &str = "DEMUX_ARR";
/// Interfaces that get a demux block (each 512 entries of 16 bytes: 8 KiB of kernel memory).
pub const MAX_DEMUX_BLOCKS: u32 = 128;
/// Entries of a demux block: every VRID of both families.
pub const DEMUX_BLOCK_LEN: u32 = 512;

/// The index in [`DEMUX_ARRAY_MAP`] of group (`vrid`, `family`) of the interface with demux
/// block `block`.
#[inline(always)]
pub const fn demux_index(block: u32, vrid: u8, family: u8) -> u32 {
    let half = if family == FAMILY_V6 { 256 } else { 0 };
    block * DEMUX_BLOCK_LEN + half + vrid as u32
}
/// Name of the `PerCpuArray<u64>` of [`Counter`]s.
pub const COUNTERS_MAP: &str = "COUNTERS";
/// Names of the per-worker `RingBuf`s, indexed by worker.
pub const RING_MAP_NAMES: [&str; MAX_WORKERS] = [
    "RING0", "RING1", "RING2", "RING3", "RING4", "RING5", "RING6", "RING7", "RING8", "RING9",
    "RING10", "RING11", "RING12", "RING13", "RING14", "RING15",
];

/// Length of the fixed VRRP header (version/type, VRID, priority, count, auth/interval,
/// checksum).
pub const VRRP_HEADER_LEN: usize = 8;
/// Length of the VRRPv2 authentication data trailer.
pub const VRRP_V2_AUTH_LEN: usize = 8;

/// Bytes of VRRP message carried in a [`VrrpEvent`].
///
/// `8 + 16 * 16 + 8 = 272`: the header, 16 IPv6 addresses (v3) and room for the v2
/// authentication trailer; that is also 64 IPv4 addresses for v2 (`8 + 4*64 + 8`) or 66 for v3.
/// Bigger adverts are legal (count ≤ 255) but rare; carrying 4 KiB per event would cut the
/// ring's capacity 14-fold for everyone. An advert longer than this is still delivered, with
/// only the first `MAX_VRRP_LEN` bytes copied and [`VrrpEvent::len`] holding the real length
/// (see [`VrrpEvent::is_truncated`]); it is counted as [`Counter::Truncated`]. User space
/// cannot verify its checksum and should count and drop it (or switch that group to the
/// classic socket path).
pub const MAX_VRRP_LEN: usize = VRRP_HEADER_LEN + 16 * 16 + VRRP_V2_AUTH_LEN;

/// [`DemuxValue::flags`] bit: after queueing the event, return `XDP_PASS` instead of
/// `XDP_DROP`, so the kernel stack (a classic raw socket, tcpdump on the host) also sees the
/// advert. Off by default: the event is consumed by user space and the stack is spared.
pub const FLAG_PASS: u32 = 1 << 0;

/// [`DemuxValue::flags`] bit: the group runs in unicast mode. Its adverts are accepted only
/// from a source listed in [`PEERS_MAP`] for the group ([`PeerKey`]) with at least the TTL /
/// hop limit stored there (else [`Counter::UnknownPeer`] / [`Counter::BadTtl`]); other groups
/// require TTL 255.
pub const FLAG_UNICAST: u32 = 1 << 1;

/// Demux flag: the XDP program drops, before the worker sees them, adverts of this group
/// (of at most [`SMALL_VRRP_LEN`] bytes, with a [`SuppressEntry`]) that the worker's first
/// checks would refuse: a VRRPv2 message whose authentication type is not the group's
/// (bits [`SCREEN_AUTH_SHIFT`]..+8; a VRRPv3 message when that type is not 0), and with
/// [`FLAG_SCREEN_SUM`] a wrong checksum. Counted in [`Counter::BadAuthType`] /
/// [`Counter::BadChecksum`] and in the group's entry. A forged flood then costs the host the
/// XDP program, not a worker wake-up per packet.
pub const FLAG_SCREEN: u32 = 1 << 2;
/// With [`FLAG_SCREEN`]: also verify the checksum, as the worker does (VRRPv2: over the
/// message; VRRPv3/IPv6: with the pseudo-header; VRRPv3/IPv4: either), with the VRRP
/// multicast group as destination, as the worker assumes for adverts from the fast path.
/// Not for unicast groups (the worker checks their pseudo-header against its own address).
pub const FLAG_SCREEN_SUM: u32 = 1 << 3;
/// Set on every entry of [`DEMUX_ARRAY_MAP`] that routes a group (the array's entries exist
/// from the start, zeroed: without it, an entry is no group).
pub const FLAG_ROUTED: u32 = 1 << 31;
/// Position of the expected VRRPv2 authentication type in the demux flags.
pub const SCREEN_AUTH_SHIFT: u32 = 16;

/// The demux flags that screen a group's adverts in the kernel (see [`FLAG_SCREEN`]).
pub const fn screen_flags(auth_type: u8, checksum: bool) -> u32 {
    FLAG_SCREEN
        | ((auth_type as u32) << SCREEN_AUTH_SHIFT)
        | if checksum { FLAG_SCREEN_SUM } else { 0 }
}

/// Name of the `HashMap<PeerKey, u32>` of unicast peers (value: the lowest accepted TTL).
pub const PEERS_MAP: &str = "PEERS";

/// Capacity of the unicast peer map (peers across all unicast groups).
pub const MAX_PEERS: u32 = 16 * 1024;

/// Indices into the per-CPU counter array [`COUNTERS_MAP`].
///
/// Only VRRP (IP protocol 112) packets are counted; other traffic is passed without touching
/// any map.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Counter {
    /// VRRP packets handed to the kernel stack (`XDP_PASS`, group has [`FLAG_PASS`]).
    Passed = 0,
    /// Events written to a worker's ring buffer.
    Delivered = 1,
    /// VRRP packets for an `(ifindex, vrid, family)` not in the demux map (dropped).
    UnknownVrid = 2,
    /// Bad VRRP version/type, too short for its address count, v2 over IPv6, or truncated
    /// IP packet (dropped).
    Malformed = 3,
    /// TTL / hop limit ≠ 255 (dropped, RFC 3768 §7.1 / RFC 5798 §7.1).
    BadTtl = 4,
    /// The worker's ring buffer was full (dropped).
    RingbufFull = 5,
    /// Delivered, but longer than [`MAX_VRRP_LEN`] (also counted in `Delivered`).
    Truncated = 6,
    /// The demux map named a worker ≥ [`MAX_WORKERS`] (dropped).
    BadWorker = 7,
    /// An advert of a unicast group ([`FLAG_UNICAST`]) from a source that is not one of its
    /// peers (dropped).
    UnknownPeer = 8,
    /// A packet addressed to the VIP of a group without accept mode ([`NOACCEPT_MAP`]),
    /// neither VRRP nor IPv6 neighbour discovery (dropped).
    NoAccept = 9,
    /// An advert of a [`FLAG_SCREEN_SUM`] group whose VRRP checksum is wrong (dropped in the
    /// kernel; also counted in the group's [`SuppressEntry::screened_malformed`]).
    BadChecksum = 10,
    /// A VRRPv2 advert of a [`FLAG_SCREEN`] group with another authentication type than the
    /// group's (dropped in the kernel; also in [`SuppressEntry::screened_auth`]).
    BadAuthType = 11,
}

/// Number of [`Counter`]s (length of the per-CPU array).
pub const NUM_COUNTERS: u32 = 12;

impl Counter {
    /// Every counter, in index order.
    pub const ALL: [Counter; NUM_COUNTERS as usize] = [
        Counter::Passed,
        Counter::Delivered,
        Counter::UnknownVrid,
        Counter::Malformed,
        Counter::BadTtl,
        Counter::RingbufFull,
        Counter::Truncated,
        Counter::BadWorker,
        Counter::UnknownPeer,
        Counter::NoAccept,
        Counter::BadChecksum,
        Counter::BadAuthType,
    ];

    /// Stable snake_case name (for logs and metrics).
    pub const fn name(self) -> &'static str {
        match self {
            Counter::Passed => "passed",
            Counter::Delivered => "delivered",
            Counter::UnknownVrid => "unknown_vrid",
            Counter::Malformed => "malformed",
            Counter::BadTtl => "bad_ttl",
            Counter::RingbufFull => "ringbuf_full",
            Counter::Truncated => "truncated",
            Counter::BadWorker => "bad_worker",
            Counter::UnknownPeer => "unknown_peer",
            Counter::NoAccept => "no_accept",
            Counter::BadChecksum => "bad_checksum",
            Counter::BadAuthType => "bad_auth_type",
        }
    }

    /// The array index.
    pub const fn index(self) -> u32 {
        self as u32
    }
}

/// Key of the demux map: which VRRP group a packet belongs to.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DemuxKey {
    /// Interface index the packet arrived on.
    pub ifindex: u32,
    /// Virtual router id.
    pub vrid: u8,
    /// [`FAMILY_V4`] or [`FAMILY_V6`].
    pub family: u8,
    /// Must be zero (the kernel hashes all 8 bytes).
    pub _pad: [u8; 2],
}

impl DemuxKey {
    /// A key with zeroed padding.
    pub const fn new(ifindex: u32, vrid: u8, family: u8) -> Self {
        Self {
            ifindex,
            vrid,
            family,
            _pad: [0; 2],
        }
    }
}

/// Key of the unicast peer map: a group (as in [`DemuxKey`]) and one peer's address.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerKey {
    /// Interface index the group runs on.
    pub ifindex: u32,
    /// Virtual router id.
    pub vrid: u8,
    /// [`FAMILY_V4`] or [`FAMILY_V6`].
    pub family: u8,
    /// Must be zero (the kernel hashes all 24 bytes).
    pub _pad: [u8; 2],
    /// The peer's address: IPv4 in the first 4 bytes (rest zero), or IPv6.
    pub addr: [u8; 16],
}

impl PeerKey {
    /// A key with zeroed padding.
    pub const fn new(ifindex: u32, vrid: u8, family: u8, addr: [u8; 16]) -> Self {
        Self {
            ifindex,
            vrid,
            family,
            _pad: [0; 2],
            addr,
        }
    }
}

/// Name of the `HashMap<VipKey, u32>` of the VIPs whose traffic is dropped (groups without
/// accept mode); the value is unused (1).
pub const NOACCEPT_MAP: &str = "NOACCEPT";

/// Name of the one-entry `Array<u32>` that switches the [`NOACCEPT_MAP`] lookup on (non-zero)
/// or off (0): foreign traffic pays no hash lookup while no group enforces accept mode.
pub const NOACCEPT_ON_MAP: &str = "NOACCEPT_ON";

/// Capacity of the [`NOACCEPT_MAP`] (VIPs across all groups).
pub const MAX_NOACCEPT: u32 = 64 * 1024;

/// Key of the [`NOACCEPT_MAP`]: one VIP, whatever interface the packet arrives on (a VIP is
/// an address of the host, so a packet for it must not get in through any interface the
/// program runs on).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VipKey {
    /// [`FAMILY_V4`] or [`FAMILY_V6`].
    pub family: u8,
    /// Must be zero (the kernel hashes all 20 bytes).
    pub _pad: [u8; 3],
    /// The address: IPv4 in the first 4 bytes (rest zero), or IPv6.
    pub addr: [u8; 16],
}

impl VipKey {
    /// A key with zeroed padding.
    pub const fn new(family: u8, addr: [u8; 16]) -> Self {
        Self {
            family,
            _pad: [0; 3],
            addr,
        }
    }
}

/// Value of the demux map: who handles the group.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DemuxValue {
    /// Worker index, `< MAX_WORKERS`: selects the ring buffer.
    pub worker: u32,
    /// `FLAG_*` bits.
    pub flags: u32,
    /// Index of the group's [`SuppressEntry`] in [`SUPPRESS_MAP`] ([`NO_SLOT`]: none, every
    /// advert goes to the ring).
    pub slot: u32,
    /// Must be zero.
    pub _pad: u32,
}

impl DemuxValue {
    /// A value for `worker` with `flags` and no suppression slot.
    pub const fn new(worker: u32, flags: u32) -> Self {
        Self::with_slot(worker, flags, NO_SLOT)
    }

    /// A value for `worker` with `flags` whose repeated adverts are checked against
    /// [`SUPPRESS_MAP`]`[slot]`.
    pub const fn with_slot(worker: u32, flags: u32, slot: u32) -> Self {
        Self {
            worker,
            flags,
            slot,
            _pad: 0,
        }
    }
}

/// Name of the `Array<SuppressEntry>` of [`MAX_GROUPS`] slots, created
/// [`BPF_F_MMAPABLE`]: user space maps it and works on the entries with atomics, without a
/// system call.
pub const SUPPRESS_MAP: &str = "SUPPRESS";

/// `BPF_F_MMAPABLE` (`include/uapi/linux/bpf.h`): an array map user space may `mmap`.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;

/// [`DemuxValue::slot`] of a group without a suppression entry.
pub const NO_SLOT: u32 = u32::MAX;

/// The kernel-resident Backup: the last advert a group's worker accepted from the Master
/// it defers to, kept where the eBPF programs compare each new advert of the group with it.
///
/// Protocol (every field is accessed with atomics, 8 bytes at a time, on both sides):
/// * **valid** while [`last_rx`](Self::last_rx) ≠ 0. The worker writes the other fields while
///   it is 0 and then stores a non-zero stamp (release); it invalidates by swapping in 0,
///   which also returns the newest stamp: no advert can be swallowed after that read.
/// * the programs load `last_rx` (acquire); a valid entry whose `key` is the advert's group
///   and whose `src`, `len` and `len` message bytes equal the advert's (`len` ≤
///   [`SMALL_VRRP_LEN`]; the rest of `vrrp` is zero) is claimed by a compare-and-swap of
///   `last_rx` from the loaded value to `bpf_ktime_get_ns()`; if it succeeds,
///   `suppressed` is incremented and the advert dropped. A failed swap (the worker
///   invalidated or rewrote the entry meanwhile) sends the advert to the worker.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SuppressEntry {
    /// CLOCK_MONOTONIC ns of the newest identical advert (the accepted one, or the last one
    /// suppressed); 0: invalid, nothing is suppressed.
    pub last_rx: u64,
    /// Adverts suppressed since the group was created (never reset by invalidation).
    pub suppressed: u64,
    /// The group that wrote the entry (a stale slot never matches another group).
    pub key: DemuxKey,
    /// Length of the VRRP message.
    pub len: u16,
    /// Must be zero.
    pub _pad: [u8; 6],
    /// Source address: IPv4 in the first 4 bytes (rest zero), or IPv6.
    pub src: [u8; 16],
    /// The VRRP message, zero beyond `len`.
    pub vrrp: [u8; SMALL_VRRP_LEN],
    /// Adverts the XDP program refused for a bad checksum ([`FLAG_SCREEN_SUM`]), since the
    /// group was created; not compared.
    pub screened_malformed: u64,
    /// Adverts the XDP program refused for another authentication type ([`FLAG_SCREEN`]).
    pub screened_auth: u64,
}

impl SuppressEntry {
    /// Bytes one entry occupies in the map (and in its `mmap`).
    pub const SIZE: usize = core::mem::size_of::<SuppressEntry>();
    /// Offset of [`Self::suppressed`].
    pub const SUPPRESSED_OFFSET: usize = 8;
    /// Offset of [`Self::key`]; the 8-byte words from here to [`Self::COMPARED_END`] are
    /// the compared bytes.
    pub const KEY_OFFSET: usize = 16;
    /// End of the compared bytes (offset of [`Self::screened_malformed`]).
    pub const COMPARED_END: usize = 112;
    /// Offset of [`Self::screened_malformed`].
    pub const SCREENED_MALFORMED_OFFSET: usize = 112;
    /// Offset of [`Self::screened_auth`].
    pub const SCREENED_AUTH_OFFSET: usize = 120;
}

/// One received advert, as written by the XDP program into a worker's ring buffer, carrying
/// up to `N` bytes of the VRRP message: [`VrrpEvent`] (the longest legal advert) or
/// [`SmallVrrpEvent`] (most adverts; a record of 104 bytes instead of 312 makes a ring hold
/// three times as many). Both have the same fields at the same offsets;
/// [`VrrpEvent::from_bytes`] decodes either.
///
/// The IP header is not carried: the fields VRRP needs from it (source address, TTL — always
/// 255 since others are dropped — and the family for the v3 pseudo-header checksum) are here.
/// For v3 checksum verification user space also needs the destination address: it is the
/// VRRP multicast group (224.0.0.18 / ff02::12) for RFC-conformant peers; unicast adverts
/// are checked against the address of the receiving interface by the worker.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VrrpRecord<const N: usize> {
    /// Interface index the advert arrived on.
    pub ifindex: u32,
    /// [`FAMILY_V4`] or [`FAMILY_V6`].
    pub family: u8,
    /// IPv4 TTL / IPv6 hop limit (255: the program drops anything else).
    pub ttl: u8,
    /// Length of the VRRP message on the wire (may exceed `N`).
    pub len: u16,
    /// Source address: IPv4 in the first 4 bytes (rest zero), or IPv6.
    pub src: [u8; 16],
    /// When the program saw the frame: `bpf_ktime_get_ns()`, i.e. CLOCK_MONOTONIC in
    /// nanoseconds, the workers' clock. Timers then start from the arrival, not from when a
    /// busy worker got round to the record (0: unknown).
    pub rx_ns: u64,
    /// The VRRP message, `min(len, N)` bytes; the rest is unspecified.
    pub vrrp: [u8; N],
}

/// The record of any advert (truncated beyond [`MAX_VRRP_LEN`]), and the decoded form user
/// space works with.
pub type VrrpEvent = VrrpRecord<MAX_VRRP_LEN>;

/// The record of an advert of at most [`SMALL_VRRP_LEN`] bytes.
pub type SmallVrrpEvent = VrrpRecord<SMALL_VRRP_LEN>;

/// Longest VRRP message carried in a [`SmallVrrpEvent`]: v2 with up to 12 IPv4 addresses,
/// v3 with up to 14 IPv4 or 3 IPv6 addresses.
pub const SMALL_VRRP_LEN: usize = 64;

/// Offset of the VRRP bytes in both record types (the receive time is the 8 bytes before).
pub const VRRP_OFFSET: usize = 32;

impl VrrpEvent {
    /// Bytes one event occupies in a ring buffer (8-byte record header + payload rounded up
    /// to 8).
    pub const RING_RECORD_SIZE: usize = 8 + core::mem::size_of::<VrrpEvent>().next_multiple_of(8);

    /// Bytes the record of an advert of `vrrp_len` bytes occupies in a ring buffer: a
    /// [`SmallVrrpEvent`] when it fits, else a `VrrpEvent`.
    pub const fn ring_record_size(vrrp_len: usize) -> usize {
        if vrrp_len <= SMALL_VRRP_LEN {
            8 + core::mem::size_of::<SmallVrrpEvent>().next_multiple_of(8)
        } else {
            Self::RING_RECORD_SIZE
        }
    }

    /// An all-zero event.
    pub const fn zeroed() -> Self {
        Self {
            ifindex: 0,
            family: 0,
            ttl: 0,
            len: 0,
            src: [0; 16],
            rx_ns: 0,
            vrrp: [0; MAX_VRRP_LEN],
        }
    }

    /// Decodes an event from the bytes of a ring buffer record, a `VrrpEvent` or a
    /// [`SmallVrrpEvent`] (native byte order, the layouts above). `None` if `b` is shorter than
    /// a small record or its message is shorter than `len` says (up to what the record type
    /// can carry). Safe and alignment-agnostic: ring records need not be aligned.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() < core::mem::size_of::<SmallVrrpEvent>() {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([b[6], b[7]]));
        if b.len() - VRRP_OFFSET < len.min(MAX_VRRP_LEN) {
            return None;
        }
        let mut ev = Self::zeroed();
        ev.ifindex = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        ev.family = b[4];
        ev.ttl = b[5];
        ev.len = u16::from_ne_bytes([b[6], b[7]]);
        ev.src.copy_from_slice(&b[8..24]);
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[24..VRRP_OFFSET]);
        ev.rx_ns = u64::from_ne_bytes(ts);
        let body = &b[VRRP_OFFSET..];
        let n = body.len().min(MAX_VRRP_LEN);
        ev.vrrp[..n].copy_from_slice(&body[..n]);
        Some(ev)
    }

    /// Whether the advert was longer than [`MAX_VRRP_LEN`] and only its start was copied.
    pub const fn is_truncated(&self) -> bool {
        self.len as usize > MAX_VRRP_LEN
    }

    /// The VRRP bytes that were copied (`min(len, MAX_VRRP_LEN)`).
    pub fn vrrp_bytes(&self) -> &[u8] {
        let n = if self.is_truncated() {
            MAX_VRRP_LEN
        } else {
            self.len as usize
        };
        &self.vrrp[..n]
    }

    /// The source address, or `None` for an unknown family.
    pub fn src_addr(&self) -> Option<core::net::IpAddr> {
        addr_from(self.family, &self.src)
    }

    /// The VRID byte of the carried message (0 if nothing was copied).
    pub fn vrid(&self) -> u8 {
        if self.len >= 2 {
            self.vrrp[1]
        } else {
            0
        }
    }
}

// Layout guards: the kernel and user space must agree byte for byte.
const _: () = assert!(core::mem::size_of::<DemuxKey>() == 8);
const _: () = assert!(core::mem::size_of::<DemuxValue>() == 16);
const _: () = assert!(core::mem::size_of::<SuppressEntry>() == 48 + SMALL_VRRP_LEN + 16);
const _: () = assert!(SuppressEntry::SIZE.is_multiple_of(8));
const _: () = assert!(core::mem::align_of::<SuppressEntry>() == 8);
const _: () = assert!(core::mem::offset_of!(SuppressEntry, suppressed) == 8);
const _: () = assert!(core::mem::offset_of!(SuppressEntry, key) == SuppressEntry::KEY_OFFSET);
const _: () = assert!(core::mem::offset_of!(SuppressEntry, len) == 24);
const _: () = assert!(core::mem::offset_of!(SuppressEntry, src) == 32);
const _: () = assert!(core::mem::offset_of!(SuppressEntry, vrrp) == 48);
const _: () = assert!(
    core::mem::offset_of!(SuppressEntry, screened_malformed)
        == SuppressEntry::SCREENED_MALFORMED_OFFSET
);
const _: () = assert!(
    core::mem::offset_of!(SuppressEntry, screened_auth) == SuppressEntry::SCREENED_AUTH_OFFSET
);
const _: () = assert!(SuppressEntry::COMPARED_END == 48 + SMALL_VRRP_LEN);
const _: () = assert!(SMALL_VRRP_LEN.is_multiple_of(8));
const _: () = assert!(core::mem::size_of::<PeerKey>() == 24);
const _: () = assert!(core::mem::size_of::<VipKey>() == 20);
const _: () = assert!(core::mem::size_of::<VrrpEvent>() == VRRP_OFFSET + MAX_VRRP_LEN);
const _: () = assert!(core::mem::size_of::<SmallVrrpEvent>() == VRRP_OFFSET + SMALL_VRRP_LEN);
const _: () = assert!(core::mem::offset_of!(VrrpEvent, vrrp) == VRRP_OFFSET);
const _: () = assert!(core::mem::offset_of!(SmallVrrpEvent, vrrp) == VRRP_OFFSET);
const _: () = assert!(core::mem::offset_of!(SmallVrrpEvent, rx_ns) == 24);
const _: () = assert!(core::mem::offset_of!(VrrpEvent, rx_ns) == 24);
const _: () = assert!(core::mem::align_of::<VrrpEvent>() <= 8);
const _: () = assert!(Counter::ALL.len() == NUM_COUNTERS as usize);
const _: () = assert!(RING_BYTES.is_power_of_two() && RING_BYTES >= 4096);

// SAFETY (all five): `#[repr(C)]`, only integer and byte-array fields, explicit padding
// fields and no implicit padding (checked by the size asserts above), so every bit pattern
// is a valid value and the types can be copied to and from kernel memory.
#[cfg(all(feature = "user", target_os = "linux"))]
unsafe impl aya::Pod for DemuxKey {}
#[cfg(all(feature = "user", target_os = "linux"))]
unsafe impl aya::Pod for DemuxValue {}
#[cfg(all(feature = "user", target_os = "linux"))]
unsafe impl aya::Pod for PeerKey {}
#[cfg(all(feature = "user", target_os = "linux"))]
unsafe impl aya::Pod for VipKey {}
#[cfg(all(feature = "user", target_os = "linux"))]
unsafe impl aya::Pod for VrrpEvent {}
#[cfg(all(feature = "user", target_os = "linux"))]
unsafe impl aya::Pod for SuppressEntry {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_indices_are_dense() {
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(c.index() as usize, i, "{}", c.name());
        }
    }

    #[test]
    fn event_helpers() {
        let mut ev = VrrpEvent::zeroed();
        ev.family = FAMILY_V4;
        ev.src[..4].copy_from_slice(&[192, 0, 2, 1]);
        ev.len = 20;
        ev.vrrp[1] = 42;
        assert_eq!(ev.vrid(), 42);
        assert_eq!(ev.vrrp_bytes().len(), 20);
        assert!(!ev.is_truncated());
        assert_eq!(
            ev.src_addr(),
            Some(core::net::IpAddr::V4(core::net::Ipv4Addr::new(
                192, 0, 2, 1
            )))
        );
        ev.len = 4000;
        assert!(ev.is_truncated());
        assert_eq!(ev.vrrp_bytes().len(), MAX_VRRP_LEN);
    }

    #[test]
    fn from_bytes_roundtrip() {
        let mut b = [0u8; core::mem::size_of::<VrrpEvent>()];
        b[..4].copy_from_slice(&7u32.to_ne_bytes());
        b[4] = FAMILY_V6;
        b[5] = 255;
        b[6..8].copy_from_slice(&40u16.to_ne_bytes());
        b[8] = 0xfe;
        b[24..32].copy_from_slice(&1_234_567u64.to_ne_bytes());
        b[32] = 0x31;
        b[33] = 9;
        let ev = VrrpEvent::from_bytes(&b).expect("long enough");
        assert_eq!(
            (ev.ifindex, ev.family, ev.ttl, ev.len),
            (7, FAMILY_V6, 255, 40)
        );
        assert_eq!(ev.src[0], 0xfe);
        assert_eq!(ev.vrid(), 9);
        assert_eq!(ev.rx_ns, 1_234_567);
        // A small record (104-byte slot, 96 bytes of payload) decodes the same.
        let small = VrrpEvent::from_bytes(&b[..core::mem::size_of::<SmallVrrpEvent>()])
            .expect("small record");
        assert_eq!(small, ev);
        // Shorter than a small record, or a message shorter than its length: rejected.
        assert!(VrrpEvent::from_bytes(&b[..90]).is_none());
        b[6..8].copy_from_slice(&200u16.to_ne_bytes());
        assert!(VrrpEvent::from_bytes(&b[..core::mem::size_of::<SmallVrrpEvent>()]).is_none());
        assert!(VrrpEvent::from_bytes(&b).is_some());
    }

    #[test]
    fn record_fits_ring() {
        assert_eq!(VrrpEvent::RING_RECORD_SIZE, 8 + 304);
        assert_eq!(VrrpEvent::ring_record_size(20), 8 + 96);
        assert_eq!(VrrpEvent::ring_record_size(SMALL_VRRP_LEN), 8 + 96);
        assert_eq!(VrrpEvent::ring_record_size(SMALL_VRRP_LEN + 1), 8 + 304);
    }
}
