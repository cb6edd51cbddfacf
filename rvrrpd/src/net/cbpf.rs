//! Classic BPF (cBPF) socket filter programs, generated per socket.
//!
//! This is the portable fallback of the fast path (XDP → eBPF → **cBPF**): the kernel drops
//! everything that is not a VRRP advertisement for one of the socket's VRIDs before it is
//! queued, so a worker only wakes up for packets it owns.
//!
//! * [`vrrp_ipv4`]: for `AF_INET`/`SOCK_RAW`/112 sockets, where the data the filter sees
//!   starts at the IPv4 header (options allowed: the VRRP offset is `4*([0]&0xf)`).
//! * [`vrrp_ipv6`]: for `AF_INET6`/`SOCK_RAW`/112 sockets, where the data starts at the
//!   VRRP message (the kernel has already pulled the IPv6 header).
//! * [`sniff_ethernet`]: for `AF_PACKET` sniffers: Ethernet frames carrying IPv4 or IPv6
//!   with (next) protocol 112.
//!
//! Accepted packets must be VRRP version 2 or 3 (high nibble of the first VRRP byte) and
//! type 1 (advertisement); the VRID (second byte) must be in the socket's set. The programs
//! are plain data ([`Insn`]), so they are unit tested with an interpreter ([`run`]) and can
//! be attached on Linux (`SO_ATTACH_FILTER`) or FreeBSD (`BIOCSETF`) alike.

use std::fmt;
use std::net::IpAddr;

/// One classic BPF instruction; same layout as Linux `struct sock_filter` and BSD
/// `struct bpf_insn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Generic field (constant, offset).
    pub k: u32,
}

// Opcode pieces (linux/bpf_common.h, net/bpf.h).
/// Instruction class: load into A.
pub const BPF_LD: u16 = 0x00;
/// Instruction class: load into X.
pub const BPF_LDX: u16 = 0x01;
/// Instruction class: ALU.
pub const BPF_ALU: u16 = 0x04;
/// Instruction class: jump.
pub const BPF_JMP: u16 = 0x05;
/// Instruction class: return.
pub const BPF_RET: u16 = 0x06;
/// Size: word.
pub const BPF_W: u16 = 0x00;
/// Size: half word.
pub const BPF_H: u16 = 0x08;
/// Size: byte.
pub const BPF_B: u16 = 0x10;
/// Mode: immediate.
pub const BPF_IMM: u16 = 0x00;
/// Mode: absolute offset.
pub const BPF_ABS: u16 = 0x20;
/// Mode: offset relative to X.
pub const BPF_IND: u16 = 0x40;
/// Mode: `4*([k]&0xf)` (IPv4 header length).
pub const BPF_MSH: u16 = 0xa0;
/// ALU op: and.
pub const BPF_AND: u16 = 0x50;
/// Jump op: always.
pub const BPF_JA: u16 = 0x00;
/// Jump op: equal.
pub const BPF_JEQ: u16 = 0x10;
/// Jump op: greater than.
pub const BPF_JGT: u16 = 0x20;
/// Jump op: greater or equal.
pub const BPF_JGE: u16 = 0x30;
/// Source: constant k.
pub const BPF_K: u16 = 0x00;
/// Return source: A.
pub const BPF_A: u16 = 0x10;

/// Snap length returned for accepted packets (whole packet).
pub const ACCEPT: u32 = 0x0004_0000;

const IPPROTO_VRRP: u32 = 112;
const ETH_P_IP: u32 = 0x0800;
const ETH_P_IPV6: u32 = 0x86dd;

impl Insn {
    /// A statement (no jump).
    pub const fn stmt(code: u16, k: u32) -> Self {
        Insn {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    /// A conditional jump.
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Self {
        Insn { code, jt, jf, k }
    }
}

impl fmt::Display for Insn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{ 0x{:02x}, {}, {}, 0x{:08x} }}",
            self.code, self.jt, self.jf, self.k
        )
    }
}

/// An error building a filter program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CbpfError {
    /// The VRID set produced jumps longer than 255 instructions (cannot happen with
    /// VRIDs in 1..=255, kept as a guard).
    #[error("socket filter for VRIDs {0:?} is too long (jumps over 255 instructions, or more than 4096 instructions: too many unicast peers on one interface)")]
    TooLong(Vec<u8>),
}

/// Contiguous ranges of a VRID set (sorted, deduplicated).
fn ranges(vrids: &[u8]) -> Vec<(u8, u8)> {
    let mut v: Vec<u8> = vrids.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut out: Vec<(u8, u8)> = Vec::new();
    for id in v {
        match out.last_mut() {
            Some((_, hi)) if u16::from(*hi) + 1 == u16::from(id) => *hi = id,
            _ => out.push((id, id)),
        }
    }
    out
}

/// Appends "A (the VRID) in set → accept, else reject" to `prog`, followed by the two
/// return instructions `ret #0` (reject) and `ret #ACCEPT`.
fn push_vrid_set(prog: &mut Vec<Insn>, vrids: &[u8]) -> Result<(), CbpfError> {
    let rs = ranges(vrids);
    if rs.len() == 1 && rs[0] == (0, 255) {
        // Every VRID: no test.
        prog.push(Insn::stmt(BPF_RET | BPF_K, ACCEPT));
        return Ok(());
    }
    // Layout: tests..., ret 0 (reject), ret ACCEPT (accept).
    // Each singleton is 1 insn (jeq), each range 2 insns (jge lo; jgt hi).
    let total: usize = rs.iter().map(|(l, h)| if l == h { 1 } else { 2 }).sum();
    let err = || CbpfError::TooLong(vrids.to_vec());
    let mut pos = 0usize; // index of the current test insn within the test block
    for (lo, hi) in rs {
        if lo == hi {
            // jeq #lo, accept, next
            let to_accept = total - pos; // skip remaining tests + reject
            prog.push(Insn::jump(
                BPF_JMP | BPF_JEQ | BPF_K,
                u32::from(lo),
                u8::try_from(to_accept).map_err(|_| err())?,
                0,
            ));
            pos += 1;
        } else {
            // jge #lo, next, skip(1) ; jgt #hi, next-range, accept
            prog.push(Insn::jump(BPF_JMP | BPF_JGE | BPF_K, u32::from(lo), 0, 1));
            pos += 1;
            let to_accept = total - pos;
            prog.push(Insn::jump(
                BPF_JMP | BPF_JGT | BPF_K,
                u32::from(hi),
                0,
                u8::try_from(to_accept).map_err(|_| err())?,
            ));
            pos += 1;
        }
    }
    prog.push(Insn::stmt(BPF_RET | BPF_K, 0));
    prog.push(Insn::stmt(BPF_RET | BPF_K, ACCEPT));
    Ok(())
}

/// Where a filter reads the IP source address of a packet.
#[derive(Clone, Copy)]
enum SrcAt {
    /// IPv4 source word at this absolute offset (the data starts at the IPv4 header).
    V4(u32),
    /// IPv6 source (four words) at this offset from the network header (`SKF_NET_OFF`): an
    /// `AF_INET6` raw socket's data starts at the VRRP message.
    V6Net,
}

/// Linux `SKF_NET_OFF`: loads at `SKF_NET_OFF + k` read byte `k` of the network header.
pub const SKF_NET_OFF: u32 = (-0x10_0000i32) as u32;

/// The unicast groups of a socket: (VRID, peers). Adverts of such a VRID are accepted only
/// from one of its peers.
pub type UnicastPeers = [(u8, Vec<IpAddr>)];

/// Appends, for every unicast VRID, "A (the VRID) is it → accept only from its peers", each
/// block self-contained (its own returns) and skipped with `ja` otherwise, so no jump grows
/// with the number of peers. A is left holding the VRID for the code that follows.
fn push_peer_blocks(prog: &mut Vec<Insn>, peers: &UnicastPeers, src: SrcAt) {
    for (vrid, list) in peers {
        let mut block = Vec::new();
        for peer in list {
            match (src, peer) {
                (SrcAt::V4(at), IpAddr::V4(a)) => {
                    block.push(Insn::stmt(BPF_LD | BPF_W | BPF_ABS, at));
                    block.push(Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, u32::from(*a), 0, 1));
                    block.push(Insn::stmt(BPF_RET | BPF_K, ACCEPT));
                }
                (SrcAt::V6Net, IpAddr::V6(a)) => {
                    let o = a.octets();
                    for w in 0..4u8 {
                        let i = usize::from(w) * 4;
                        let word = u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
                        block.push(Insn::stmt(
                            BPF_LD | BPF_W | BPF_ABS,
                            SKF_NET_OFF + 8 + u32::from(w) * 4,
                        ));
                        // Mismatch: on to the next peer (past this peer's remaining loads,
                        // compares and return).
                        block.push(Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, word, 0, 7 - 2 * w));
                    }
                    block.push(Insn::stmt(BPF_RET | BPF_K, ACCEPT));
                }
                // A peer of the other family can never match (validation refuses them).
                _ => {}
            }
        }
        block.push(Insn::stmt(BPF_RET | BPF_K, 0));
        // jeq #vrid → the block; else ja over it.
        prog.push(Insn::jump(
            BPF_JMP | BPF_JEQ | BPF_K,
            u32::from(*vrid),
            1,
            0,
        ));
        prog.push(Insn::stmt(BPF_JMP | BPF_JA, block.len() as u32));
        prog.extend(block);
    }
}

/// Appends the VRRP header test, with the VRRP header at `X + 0` (`ind == true`) or at
/// absolute offset 0 (`ind == false`). The first `ret #0` of the program is the one right
/// after the version test (the IP header tests jump there).
fn push_vrrp_checks(
    prog: &mut Vec<Insn>,
    vrids: &[u8],
    peers: &UnicastPeers,
    ind: bool,
    src: SrcAt,
) -> Result<(), CbpfError> {
    let mode = if ind { BPF_IND } else { BPF_ABS };
    // A = version/type byte. Accept 0x21 (v2) and 0x31 (v3).
    prog.push(Insn::stmt(BPF_LD | BPF_B | mode, 0));
    prog.push(Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, 0x21, 2, 0));
    prog.push(Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, 0x31, 1, 0));
    prog.push(Insn::stmt(BPF_RET | BPF_K, 0));
    // A = VRID.
    prog.push(Insn::stmt(BPF_LD | BPF_B | mode, 1));
    push_peer_blocks(prog, peers, src);
    push_vrid_set(prog, vrids)?;
    if prog.len() > MAX_INSNS {
        return Err(CbpfError::TooLong(vrids.to_vec()));
    }
    Ok(())
}

/// Longest program the kernel accepts (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// Filter for an `AF_INET` raw socket (data starts at the IPv4 header): IPv4, protocol
/// 112, VRRP v2/v3 advertisement, VRID in `vrids`; a unicast VRID only from its peers.
pub fn vrrp_ipv4(vrids: &[u8], peers: &UnicastPeers) -> Result<Vec<Insn>, CbpfError> {
    let mut p = Vec::with_capacity(16 + vrids.len());
    // ldb [0]; and #0xf0; jeq #0x40, next, reject(placeholder: patched below)
    p.push(Insn::stmt(BPF_LD | BPF_B | BPF_ABS, 0));
    p.push(Insn::stmt(BPF_ALU | BPF_AND | BPF_K, 0xf0));
    let ver_idx = p.len();
    p.push(Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, 0x40, 0, 0));
    // ldb [9]; jeq #112, next, reject
    p.push(Insn::stmt(BPF_LD | BPF_B | BPF_ABS, 9));
    let proto_idx = p.len();
    p.push(Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_VRRP, 0, 0));
    // ldxb 4*([0]&0xf)
    p.push(Insn::stmt(BPF_LDX | BPF_B | BPF_MSH, 0));
    push_vrrp_checks(&mut p, vrids, peers, true, SrcAt::V4(12))?;
    let reject = reject_index(&p);
    for idx in [ver_idx, proto_idx] {
        p[idx].jf =
            u8::try_from(reject - idx - 1).map_err(|_| CbpfError::TooLong(vrids.to_vec()))?;
    }
    Ok(p)
}

/// Filter for an `AF_INET6` raw socket (data starts at the VRRP message): VRRP v2/v3
/// advertisement, VRID in `vrids`; a unicast VRID only from its peers (read through
/// [`SKF_NET_OFF`]).
pub fn vrrp_ipv6(vrids: &[u8], peers: &UnicastPeers) -> Result<Vec<Insn>, CbpfError> {
    let mut p = Vec::with_capacity(8 + vrids.len());
    push_vrrp_checks(&mut p, vrids, peers, false, SrcAt::V6Net)?;
    Ok(p)
}

/// Filter for an `AF_PACKET` sniffer (data starts at the Ethernet header): IPv4 with
/// protocol 112, or IPv6 with next header 112 (no extension headers).
pub fn sniff_ethernet() -> Vec<Insn> {
    vec![
        // ldh [12]
        Insn::stmt(BPF_LD | BPF_H | BPF_ABS, 12),
        // jeq #0x0800, v4, next
        Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 2),
        // v4: ldb [23]; jeq #112, accept, reject
        Insn::stmt(BPF_LD | BPF_B | BPF_ABS, 23),
        Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_VRRP, 3, 4),
        // jeq #0x86dd, v6, reject
        Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 3),
        // v6: ldb [20]; jeq #112, accept, reject
        Insn::stmt(BPF_LD | BPF_B | BPF_ABS, 20),
        Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_VRRP, 0, 1),
        Insn::stmt(BPF_RET | BPF_K, ACCEPT),
        Insn::stmt(BPF_RET | BPF_K, 0),
    ]
}

/// A program that rejects everything (used to keep an unbound socket's queue empty).
pub fn reject_all() -> Vec<Insn> {
    vec![Insn::stmt(BPF_RET | BPF_K, 0)]
}

fn reject_index(p: &[Insn]) -> usize {
    p.iter()
        .position(|i| *i == Insn::stmt(BPF_RET | BPF_K, 0))
        .unwrap_or(p.len().saturating_sub(1))
}

/// Outcome of [`run`]: the number of bytes the kernel would keep (0 = drop), or an error
/// for a malformed program.
pub type RunResult = Result<u32, &'static str>;

/// A classic BPF interpreter with Linux semantics for the instructions used here: an
/// out-of-bounds load ends the program with 0 (drop). Used by the unit tests and handy to
/// check a program against captured bytes.
pub fn run(prog: &[Insn], pkt: &[u8]) -> RunResult {
    run_net(prog, pkt, pkt)
}

/// [`run`] for a socket whose data does not start at the network header (`AF_INET6` raw):
/// loads at [`SKF_NET_OFF`]` + k` read byte `k` of `net`.
pub fn run_net(prog: &[Insn], pkt: &[u8], net: &[u8]) -> RunResult {
    let (mut a, mut x) = (0u32, 0u32);
    let mut pc = 0usize;
    let load = |off: u64, size: usize| -> Option<u32> {
        let (buf, off) = match off.checked_sub(u64::from(SKF_NET_OFF)) {
            Some(rel) => (net, rel),
            None => (pkt, off),
        };
        let off = usize::try_from(off).ok()?;
        let bytes = buf.get(off..off.checked_add(size)?)?;
        Some(bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
    };
    let mut steps = 0usize;
    while let Some(i) = prog.get(pc) {
        steps += 1;
        if steps > 4096 {
            return Err("program does not terminate");
        }
        pc += 1;
        let class = i.code & 0x07;
        let size = match i.code & 0x18 {
            BPF_W => 4,
            BPF_H => 2,
            _ => 1,
        };
        match class {
            BPF_LD => {
                let off = match i.code & 0xe0 {
                    BPF_ABS => u64::from(i.k),
                    BPF_IND => u64::from(x) + u64::from(i.k),
                    BPF_IMM => {
                        a = i.k;
                        continue;
                    }
                    _ => return Err("unsupported ld mode"),
                };
                match load(off, size) {
                    Some(v) => a = v,
                    None => return Ok(0),
                }
            }
            BPF_LDX => match i.code & 0xe0 {
                BPF_MSH => match load(u64::from(i.k), 1) {
                    Some(v) => x = 4 * (v & 0xf),
                    None => return Ok(0),
                },
                BPF_IMM => x = i.k,
                _ => return Err("unsupported ldx mode"),
            },
            BPF_ALU => match i.code & 0xf0 {
                BPF_AND => a &= i.k,
                _ => return Err("unsupported alu op"),
            },
            BPF_JMP => {
                let off = match i.code & 0xf0 {
                    BPF_JA => {
                        pc += i.k as usize;
                        continue;
                    }
                    BPF_JEQ => a == i.k,
                    BPF_JGT => a > i.k,
                    BPF_JGE => a >= i.k,
                    _ => return Err("unsupported jump"),
                };
                pc += usize::from(if off { i.jt } else { i.jf });
            }
            BPF_RET => {
                return Ok(if i.code & 0x18 == BPF_A { a } else { i.k });
            }
            _ => return Err("unsupported class"),
        }
    }
    Err("fell off the end of the program")
}

/// Checks that every jump lands inside the program and that it ends with a return, as
/// the kernel's `sk_chk_filter` does.
pub fn validate(prog: &[Insn]) -> Result<(), &'static str> {
    if prog.is_empty() || prog.len() > 4096 {
        return Err("bad program length");
    }
    for (pc, i) in prog.iter().enumerate() {
        if i.code & 0x07 == BPF_JMP {
            let far = if i.code & 0xf0 == BPF_JA {
                i.k as usize
            } else {
                usize::from(i.jt.max(i.jf))
            };
            if pc + 1 + far >= prog.len() {
                return Err("jump out of range");
            }
        }
    }
    match prog.last() {
        Some(i) if i.code & 0x07 == BPF_RET => Ok(()),
        _ => Err("program does not end with a return"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vrrp(ver: u8, ty: u8, vrid: u8) -> Vec<u8> {
        let mut v = vec![(ver << 4) | ty, vrid, 100, 1, 0, 1, 0, 0];
        v.extend_from_slice(&[10, 0, 0, 1]);
        v.extend_from_slice(&[0; 8]);
        v
    }

    fn ipv4(options: usize, proto: u8, payload: &[u8]) -> Vec<u8> {
        let ihl = 5 + options / 4;
        let total = ihl * 4 + payload.len();
        let mut h = vec![
            0x40 | ihl as u8,
            0xc0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0,
            0,
            255,
            proto,
            0,
            0,
            10,
            0,
            0,
            2,
            224,
            0,
            0,
            18,
        ];
        h.extend(std::iter::repeat_n(1u8, options)); // NOP options
        h.extend_from_slice(payload);
        h
    }

    fn ether(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![1, 0, 0x5e, 0, 0, 0x12, 0, 0, 0x5e, 0, 1, 1];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        h.push(next);
        h.push(255);
        h.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        h.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12]);
        h.extend_from_slice(payload);
        h
    }

    #[test]
    fn ipv4_filter_accepts_and_rejects() {
        let prog = vrrp_ipv4(&[1, 7, 42], &[]).unwrap();
        validate(&prog).unwrap();
        let ok = |p: &[u8]| run(&prog, p).unwrap() > 0;
        for vrid in [1, 7, 42] {
            assert!(ok(&ipv4(0, 112, &vrrp(2, 1, vrid))), "v2 vrid {vrid}");
            assert!(ok(&ipv4(0, 112, &vrrp(3, 1, vrid))), "v3 vrid {vrid}");
        }
        // IPv4 with options: VRRP header found through the IHL.
        assert!(ok(&ipv4(8, 112, &vrrp(2, 1, 7))));
        assert!(ok(&ipv4(40, 112, &vrrp(3, 1, 42))));
        assert!(!ok(&ipv4(8, 112, &vrrp(2, 1, 8))));
        // Wrong VRID, version, type, protocol, IP version, truncated.
        for vrid in [0, 2, 6, 8, 41, 43, 255] {
            assert!(!ok(&ipv4(0, 112, &vrrp(2, 1, vrid))), "vrid {vrid}");
        }
        assert!(!ok(&ipv4(0, 112, &vrrp(1, 1, 1))));
        assert!(!ok(&ipv4(0, 112, &vrrp(4, 1, 1))));
        assert!(!ok(&ipv4(0, 112, &vrrp(2, 2, 1))));
        assert!(!ok(&ipv4(0, 112, &vrrp(3, 0, 1))));
        assert!(!ok(&ipv4(0, 6, &vrrp(2, 1, 1))));
        let mut v6ish = ipv4(0, 112, &vrrp(2, 1, 1));
        v6ish[0] = 0x65;
        assert!(!ok(&v6ish));
        assert!(!ok(&ipv4(0, 112, &[0x21])));
        assert!(!ok(&[0x45, 0, 0]));
        assert!(!ok(&[]));
    }

    #[test]
    fn ranges_and_edge_sets() {
        assert_eq!(
            ranges(&[5, 1, 2, 3, 9, 10, 3]),
            vec![(1, 3), (5, 5), (9, 10)]
        );
        let all: Vec<u8> = (0..=255).collect();
        let worst: Vec<u8> = (1..=255).filter(|v| v % 3 != 0).collect();
        let odd: Vec<u8> = (1..=255).step_by(2).collect();
        for set in [
            vec![],
            vec![255],
            vec![1, 255],
            all,
            worst,
            odd,
            (1..=255).collect(),
        ] {
            for prog in [vrrp_ipv4(&set, &[]).unwrap(), vrrp_ipv6(&set, &[]).unwrap()] {
                validate(&prog).unwrap();
            }
            let p4 = vrrp_ipv4(&set, &[]).unwrap();
            let p6 = vrrp_ipv6(&set, &[]).unwrap();
            for vrid in 0..=255u8 {
                let want = set.contains(&vrid);
                let v = vrrp(3, 1, vrid);
                assert_eq!(run(&p4, &ipv4(4, 112, &v)).unwrap() > 0, want, "v4 {vrid}");
                assert_eq!(run(&p6, &v).unwrap() > 0, want, "v6 {vrid}");
                let bad = vrrp(3, 2, vrid);
                assert_eq!(run(&p6, &bad).unwrap(), 0);
            }
        }
    }

    #[test]
    fn ipv6_filter() {
        let prog = vrrp_ipv6(&[10, 11, 12, 200], &[]).unwrap();
        validate(&prog).unwrap();
        assert!(run(&prog, &vrrp(3, 1, 11)).unwrap() > 0);
        assert!(run(&prog, &vrrp(2, 1, 200)).unwrap() > 0);
        assert_eq!(run(&prog, &vrrp(3, 1, 13)).unwrap(), 0);
        assert_eq!(run(&prog, &vrrp(5, 1, 11)).unwrap(), 0);
        assert_eq!(run(&prog, &vrrp(3, 3, 11)).unwrap(), 0);
        assert_eq!(run(&prog, &[0x31]).unwrap(), 0);
    }

    #[test]
    fn sniffer_filter() {
        let prog = sniff_ethernet();
        validate(&prog).unwrap();
        let v = vrrp(2, 1, 1);
        assert!(run(&prog, &ether(0x0800, &ipv4(0, 112, &v))).unwrap() > 0);
        assert!(run(&prog, &ether(0x86dd, &ipv6(112, &v))).unwrap() > 0);
        assert_eq!(run(&prog, &ether(0x0800, &ipv4(0, 17, &v))).unwrap(), 0);
        assert_eq!(run(&prog, &ether(0x86dd, &ipv6(58, &v))).unwrap(), 0);
        assert_eq!(run(&prog, &ether(0x0806, &[0; 28])).unwrap(), 0);
        assert_eq!(run(&prog, &[0; 10]).unwrap(), 0);
    }

    #[test]
    fn unicast_vrids_only_from_their_peers() {
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        // VRID 7 is unicast with two peers (the packets' source 10.0.0.2 among them), VRID 8
        // unicast with another peer; 9 is multicast.
        let peers = vec![
            (7, vec![ip("192.0.2.1"), ip("10.0.0.2")]),
            (8, vec![ip("192.0.2.9")]),
        ];
        let prog = vrrp_ipv4(&[7, 8, 9], &peers).unwrap();
        validate(&prog).unwrap();
        let ok = |p: &[u8]| run(&prog, p).unwrap() > 0;
        assert!(ok(&ipv4(0, 112, &vrrp(2, 1, 7))));
        assert!(ok(&ipv4(4, 112, &vrrp(3, 1, 7))));
        assert!(
            !ok(&ipv4(0, 112, &vrrp(2, 1, 8))),
            "10.0.0.2 is not 8's peer"
        );
        assert!(ok(&ipv4(0, 112, &vrrp(2, 1, 9))));
        assert!(!ok(&ipv4(0, 112, &vrrp(2, 1, 10))));
        assert!(!ok(&ipv4(0, 112, &vrrp(2, 2, 7))), "still only adverts");
        let mut other = ipv4(0, 112, &vrrp(2, 1, 7));
        other[15] = 3;
        assert!(!ok(&other), "10.0.0.3 is no peer of 7");

        // IPv6: the source is read from the network header (SKF_NET_OFF); every word counts.
        let peers6 = vec![(7, vec![ip("fe80::9"), ip("fe80::1")])];
        let prog = vrrp_ipv6(&[7, 9], &peers6).unwrap();
        validate(&prog).unwrap();
        let v = vrrp(3, 1, 7);
        let net = ipv6(112, &v);
        assert!(run_net(&prog, &v, &net).unwrap() > 0);
        for word in 0..4 {
            let mut n = net.clone();
            n[8 + word * 4 + 3] ^= 0x40;
            assert_eq!(run_net(&prog, &v, &n).unwrap(), 0, "word {word} differs");
        }
        assert!(run_net(&prog, &vrrp(3, 1, 9), &net).unwrap() > 0);

        // Many peers: every jump stays short; the longest allowed set still fits.
        let many: Vec<IpAddr> = (1..=64u16)
            .map(|i| IpAddr::V6(std::net::Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 1, i)))
            .collect();
        let groups: Vec<(u8, Vec<IpAddr>)> = (1..=6).map(|v| (v, many.clone())).collect();
        let prog = vrrp_ipv6(&[1, 2, 3, 4, 5, 6], &groups).unwrap();
        validate(&prog).unwrap();
        let mut n = net.clone();
        n[8..24].copy_from_slice(&match many[63] {
            IpAddr::V6(a) => a.octets(),
            IpAddr::V4(_) => unreachable!(),
        });
        assert!(run_net(&prog, &vrrp(3, 1, 6), &n).unwrap() > 0);
        assert_eq!(run_net(&prog, &vrrp(3, 1, 6), &net).unwrap(), 0);
        // Past the kernel's limit: an error naming it, not a program the kernel refuses.
        let groups: Vec<(u8, Vec<IpAddr>)> = (1..=8).map(|v| (v, many.clone())).collect();
        let vrids: Vec<u8> = (1..=8).collect();
        let e = vrrp_ipv6(&vrids, &groups).unwrap_err();
        assert!(e.to_string().contains("too many unicast peers"), "{e}");
    }
}
