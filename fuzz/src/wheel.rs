//! `timer_wheel` input: `[tick: u16] [slots: u8] [start: u64] op…`, each op a selector byte
//! and its arguments (see [`decode`]). A tick of 0 or a slot byte of 0xf0 and above asks for
//! an invalid shape, which the wheel must refuse.

use rvrrpd::timer::model::Op;

use crate::{Reader, Writer};

/// Operations read at most (the rest of a longer input is ignored).
pub const MAX_OPS: usize = 64;

/// A decoded scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// Tick in µs (0: invalid).
    pub tick_us: u64,
    /// Slot count (a power of two unless the input asked for an invalid one).
    pub slots: usize,
    /// Start time in µs.
    pub start: u64,
    /// The steps.
    pub ops: Vec<Op>,
}

/// Decodes a scenario (every byte string is one).
pub fn decode(data: &[u8]) -> Scenario {
    let mut r = Reader::new(data);
    let tick_us = u64::from(r.u16());
    let s = r.u8();
    let slots = if s >= 0xf0 {
        usize::from(s) // not a power of two
    } else {
        1 << (s % 13)
    };
    let start = r.u64();
    let mut ops = Vec::new();
    // Short scenarios find what long ones do, and the checker is quadratic in live timers.
    while !r.is_empty() && ops.len() < MAX_OPS {
        let op = match r.u8() % 10 {
            0 => Op::Insert(u64::from(r.u32())),
            1 => Op::InsertAt(r.u64()),
            2 => Op::Cancel(usize::from(r.u8())),
            3 => Op::Reschedule(usize::from(r.u8()), u64::from(r.u32())),
            4 => Op::Advance(u64::from(r.u32())),
            5 => Op::PollSome(u64::from(r.u32()), usize::from(r.u8() % 5)),
            6 => Op::PollEarlier(u64::from(r.u32())),
            7 => Op::CancelStale(usize::from(r.u8())),
            8 => Op::RescheduleStale(usize::from(r.u8()), u64::from(r.u32())),
            _ => Op::Clear,
        };
        ops.push(op);
    }
    Scenario {
        tick_us,
        slots,
        start,
        ops,
    }
}

/// Encodes a scenario (indices and values cut to their field widths).
pub fn encode(s: &Scenario) -> Vec<u8> {
    let mut w = Writer::new();
    w.u16(s.tick_us.min(u64::from(u16::MAX)) as u16);
    w.u8(s.slots.trailing_zeros().min(12) as u8);
    w.u64(s.start);
    let n32 = |v: u64| v.min(u64::from(u32::MAX)) as u32;
    for op in &s.ops {
        match *op {
            Op::Insert(d) => w.u8(0).u32(n32(d)),
            Op::InsertAt(at) => w.u8(1).u64(at),
            Op::Cancel(i) => w.u8(2).u8(i as u8),
            Op::Reschedule(i, d) => w.u8(3).u8(i as u8).u32(n32(d)),
            Op::Advance(d) => w.u8(4).u32(n32(d)),
            Op::PollSome(d, n) => w.u8(5).u32(n32(d)).u8(n as u8),
            Op::PollEarlier(d) => w.u8(6).u32(n32(d)),
            Op::CancelStale(i) => w.u8(7).u8(i as u8),
            Op::RescheduleStale(i, d) => w.u8(8).u8(i as u8).u32(n32(d)),
            Op::Clear => w.u8(9),
        };
    }
    w.finish()
}
