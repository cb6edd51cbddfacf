//! The typed errors of the `wire` module.
//!
//! Every message names the problem and, where it helps an operator reading a log line, the
//! offending value and the expected one.

use core::net::IpAddr;

use super::Family;

/// Why a packet could not be parsed, validated or emitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The buffer ends before the field or header being read.
    #[error("{what} truncated: need {needed} bytes, got {got}")]
    Truncated {
        /// What was being read ("VRRP message", "IPv4 header", ...).
        what: &'static str,
        /// Bytes the layout requires.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The output buffer is too small for the packet being emitted.
    #[error("output buffer too small: need {needed} bytes, got {got}")]
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes the buffer has.
        got: usize,
    },
    /// The IPv4 TTL / IPv6 hop limit is not 255: the packet was routed (RFC 3768 §7.1, RFC 5798 §7.1).
    #[error("TTL/hop limit is {0}, expected 255")]
    BadTtl(u8),
    /// The VRRP version nibble is neither 2 nor 3.
    #[error("unsupported VRRP version {0} (expected 2 or 3)")]
    BadVersion(u8),
    /// VRRPv2 is only defined over IPv4.
    #[error("VRRPv2 is only defined over IPv4, got it over IPv6")]
    V2OverIpv6,
    /// The VRRP type nibble is not 1 (advertisement).
    #[error("unsupported VRRP type {0} (only 1, advertisement, exists)")]
    BadType(u8),
    /// The advertisement carries no address.
    #[error("VRRP advertisement carries no address (count 0)")]
    ZeroCount,
    /// More addresses than the 8-bit count field can describe.
    #[error("too many addresses for one advertisement: {0} (at most 255)")]
    TooManyAddresses(usize),
    /// The source and destination addresses are of different families.
    #[error("address family mismatch: source {src} and destination {dst}")]
    FamilyMismatch {
        /// Source address of the IP packet.
        src: IpAddr,
        /// Destination address of the IP packet.
        dst: IpAddr,
    },
    /// A virtual address is not of the family of the source address.
    #[error(
        "address family mismatch: virtual address {addr} is not {family} like the source address"
    )]
    AddressFamily {
        /// The offending virtual address.
        addr: IpAddr,
        /// The family of the source address.
        family: Family,
    },
    /// The advertisement interval is zero or does not fit its field.
    #[error("invalid advertisement interval {interval} for VRRPv{version} (allowed: 1..={max})")]
    BadInterval {
        /// VRRP version (2: seconds, 3: centiseconds).
        version: u8,
        /// The interval read or asked for.
        interval: u16,
        /// The largest value the version allows.
        max: u16,
    },
    /// The VRRP checksum does not verify (VRRPv2, or VRRPv3 over IPv6).
    #[error("VRRP checksum mismatch: got {got:#06x}, expected {expected:#06x}")]
    ChecksumMismatch {
        /// Checksum field of the packet.
        got: u16,
        /// Checksum computed over the packet.
        expected: u16,
    },
    /// A VRRPv3/IPv4 checksum verifies neither with nor without the IPv4 pseudo-header.
    #[error(
        "VRRP checksum mismatch: got {got:#06x}, expected {pseudo_header:#06x} \
         (with IPv4 pseudo-header) or {plain:#06x} (without)"
    )]
    ChecksumMismatchV3Ipv4 {
        /// Checksum field of the packet.
        got: u16,
        /// Checksum including the IPv4 pseudo-header (RFC 5798, FRR and keepalived default).
        pseudo_header: u16,
        /// Checksum over the VRRP message alone (some router vendors).
        plain: u16,
    },
    /// VRRPv3 has no authentication, yet a key other than `none` was given.
    #[error("VRRPv3 has no authentication, got auth type {0}")]
    V3Authentication(u8),
    /// The representation's auth type differs from the key used to emit it.
    #[error("auth type mismatch: advertisement says {repr}, key is {key}")]
    AuthTypeMismatch {
        /// `VrrpRepr::auth_type`.
        repr: u8,
        /// `AuthKey::kind().number()`.
        key: u8,
    },
    /// The frame carries neither IPv4 nor IPv6.
    #[error("unsupported ethertype {0:#06x} (expected IPv4 0x0800 or IPv6 0x86dd)")]
    UnsupportedEthertype(u16),
    /// The IP version nibble does not match the ethertype or socket.
    #[error("bad IP version {got} (expected {expected})")]
    BadIpVersion {
        /// Version nibble read.
        got: u8,
        /// Version the context requires.
        expected: u8,
    },
    /// The IPv4 header length field is below 5 words or beyond the packet.
    #[error("bad IPv4 header length {0} bytes")]
    BadIpv4HeaderLength(usize),
    /// The IPv4 header checksum does not verify.
    #[error("IPv4 header checksum mismatch: got {got:#06x}, expected {expected:#06x}")]
    Ipv4ChecksumMismatch {
        /// Checksum field of the header.
        got: u16,
        /// Checksum computed over the header.
        expected: u16,
    },
    /// The IPv4 packet is a fragment; VRRP advertisements are never fragmented.
    #[error("IPv4 fragment (offset {offset}, more fragments: {more}); VRRP is never fragmented")]
    Fragmented {
        /// Fragment offset in 8-byte units.
        offset: u16,
        /// The More Fragments flag.
        more: bool,
    },
    /// The IP length field disagrees with the bytes received.
    #[error("bad IP length field {field} for a packet of {got} bytes")]
    BadIpLength {
        /// Value of the total length (IPv4) or payload length + 40 (IPv6).
        field: usize,
        /// Bytes available.
        got: usize,
    },
    /// The IP payload is not VRRP (protocol / next header 112).
    #[error("not VRRP: IP protocol {0} (expected 112)")]
    NotVrrp(u8),
}
