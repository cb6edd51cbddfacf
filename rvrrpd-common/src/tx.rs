//! Layout shared by the transmit branch of the XDP program `vrrp_demux` and the workers
//! that stage frames for it (issue 10, part 2).
//!
//! A worker writes up to [`TX_BATCH`] complete Ethernet frames with their egress interface
//! into its own [`TxStage`] (entry `worker` of the `BPF_F_MMAPABLE` array [`TX_STAGE_MAP`],
//! through `mmap`), sets [`TxStage::count`], zeroes [`TxStage::cursor`] and runs `vrrp_demux`
//! with `BPF_PROG_TEST_RUN`, `BPF_F_TEST_XDP_LIVE_FRAMES` and `repeat = batch_size = count`.
//! Each repetition gets a fresh page initialised from the run's input (a [`TxSeed`]: it
//! names the worker), takes frame `cursor` of that stage, resizes the packet to it, copies
//! it in and redirects it to its interface (`ndo_xdp_xmit`). One system call sends the
//! whole batch, on every interface at once.

/// Frames per stage and per run (the kernel allows batches of up to 256).
pub const TX_BATCH: usize = 64;

/// Largest frame the stage holds: Ethernet (14) + IPv6 (40) + the largest VRRP message the
/// receive path handles ([`crate::MAX_VRRP_LEN`], 272), rounded up to 8 bytes. Longer frames
/// go through the AF_PACKET socket.
pub const TX_FRAME_MAX: usize = 328;

/// Shortest frame accepted (an Ethernet header).
pub const TX_FRAME_MIN: usize = 14;

/// Name of the staging array (one [`TxStage`] per worker).
pub const TX_STAGE_MAP: &str = "TX_STAGE";

/// Magic in [`TxSeed::magic`]: a run whose input is not a seed drops every frame.
pub const TX_SEED_MAGIC: u32 = 0x5654_5852; // "RXTV" little-endian

/// The input packet of a transmit run (copied by the kernel into every live frame's page
/// before the program sees it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxSeed {
    /// [`TX_SEED_MAGIC`].
    pub magic: u32,
    /// The stage (worker) to take frames from.
    pub stage: u32,
    /// Padding up to an Ethernet header's length and beyond (the kernel wants ≥ 14 bytes).
    pub _pad: [u8; 8],
}

impl TxSeed {
    /// Size in bytes.
    pub const SIZE: usize = core::mem::size_of::<TxSeed>();

    /// The seed of `stage`, as the bytes the kernel copies.
    pub fn bytes(stage: u32) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..4].copy_from_slice(&TX_SEED_MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&stage.to_le_bytes());
        b
    }
}

/// One staged frame.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TxFrame {
    /// Egress interface.
    pub ifindex: u32,
    /// Length of the frame in `data` ([`TX_FRAME_MIN`]..=[`TX_FRAME_MAX`]).
    pub len: u32,
    /// The frame, from the destination MAC address on.
    pub data: [u8; TX_FRAME_MAX],
}

/// A worker's staging area.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TxStage {
    /// Next frame to send (the program advances it; the worker zeroes it before a run).
    pub cursor: u32,
    /// Frames staged.
    pub count: u32,
    /// The frames.
    pub frames: [TxFrame; TX_BATCH],
}

impl TxFrame {
    /// Size in bytes.
    pub const SIZE: usize = core::mem::size_of::<TxFrame>();
}

impl TxStage {
    /// Size in bytes.
    pub const SIZE: usize = core::mem::size_of::<TxStage>();
    /// Offset of frame `i`.
    pub const fn frame_offset(i: usize) -> usize {
        8 + i * TxFrame::SIZE
    }
}

const _: () = assert!(TxSeed::SIZE == 16);
const _: () = assert!(TxFrame::SIZE == 8 + TX_FRAME_MAX);
const _: () = assert!(TxFrame::SIZE & 7 == 0);
const _: () = assert!(TxStage::SIZE == 8 + TX_BATCH * TxFrame::SIZE);
const _: () = assert!(TX_FRAME_MAX >= 14 + 40 + crate::MAX_VRRP_LEN);
const _: () = assert!(TX_BATCH <= 256 && TX_BATCH.is_power_of_two());

// SAFETY: `#[repr(C)]`, only integer and byte-array fields, no implicit padding (checked by
// the size asserts above): every bit pattern is a valid value.
#[cfg(all(feature = "user", target_os = "linux"))]
unsafe impl aya::Pod for TxStage {}
