//! VRRP advertisements: the checked view [`VrrpPacket`] and the representation [`VrrpRepr`].
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! v2: |   Auth Type   |   Adver Int   |          Checksum             |
//! v3: |(rsvd) |     Max Adver Int     |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  IPvX Address(es) (count × 4 or 16)           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! v2 only: |            Authentication Data (8 bytes)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Checksums: v2 covers the VRRP message (header, addresses, auth data); v3 over IPv6 adds the
//! IPv6 pseudo-header; v3 over IPv4 adds the IPv4 pseudo-header per RFC 5798, but some
//! implementations leave it out, so [`VrrpRepr::parse`] accepts both and reports which one a
//! peer used, and [`VrrpRepr::emit`] lets the caller choose ([`V3Checksum`]).

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::checksum::{self, PROTO_VRRP};
use super::{Family, WireError};
use crate::auth::{AuthKey, AuthType, AUTH_DATA_LEN};

/// Byte offsets of the VRRP header fields.
mod field {
    pub const VER_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    /// v2: auth type; v3: reserved nibble + high nibble of Max Adver Int.
    pub const AUTH_TYPE: usize = 4;
    /// v2: Adver Int (seconds).
    pub const ADVER_INT: usize = 5;
    /// v3: 4 reserved bits + 12-bit Max Adver Int (centiseconds).
    pub const MAX_ADVER_INT: core::ops::Range<usize> = 4..6;
    pub const CHECKSUM: core::ops::Range<usize> = 6..8;
    pub const ADDRESSES: usize = 8;
}

/// Length of the fixed VRRP header.
pub const HEADER_LEN: usize = field::ADDRESSES;
/// VRRP type of an advertisement, the only type defined.
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// Largest VRRPv2 Adver Int (8 bits, seconds).
pub const V2_MAX_INTERVAL: u16 = 0xff;
/// Largest VRRPv3 Max Adver Int (12 bits, centiseconds).
pub const V3_MAX_INTERVAL: u16 = 0x0fff;

/// VRRP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// RFC 3768, IPv4 only, intervals in seconds, optional authentication data.
    V2,
    /// RFC 5798, IPv4 and IPv6, intervals in centiseconds, no authentication.
    V3,
}

impl Version {
    /// The version number on the wire.
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// The version for a wire number.
    pub const fn from_number(n: u8) -> Option<Self> {
        match n {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            _ => None,
        }
    }

    /// Largest advertisement interval the version's field can hold.
    pub const fn max_interval(self) -> u16 {
        match self {
            Version::V2 => V2_MAX_INTERVAL,
            Version::V3 => V3_MAX_INTERVAL,
        }
    }
}

/// Length of a VRRP message (without trailing padding) for `count` addresses.
pub const fn message_len(version: Version, family: Family, count: usize) -> usize {
    let addrs = HEADER_LEN + count * family.addr_len();
    match version {
        Version::V2 => addrs + AUTH_DATA_LEN,
        Version::V3 => addrs,
    }
}

crate::config::serde_util::string_enum! {
    /// How a VRRPv3-over-IPv4 checksum is computed on transmission; also the configuration's
    /// `v3_checksum` keyword (one type from the configuration file to the wire).
    pub enum V3Checksum ("VRRPv3 checksum mode") default PseudoHeader {
        /// Include the IPv4 pseudo-header (RFC 5798; FRR and keepalived default).
        PseudoHeader => "pseudo-header",
        /// Checksum over the VRRP message only, as VRRPv2 does (some router vendors; FRR
        /// without `checksum-with-ipv4-pseudoheader`, keepalived `v3_checksum_as_v2`).
        Plain => "plain",
    }
}

/// Which checksum a received advertisement verified with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumKind {
    /// Over the VRRP message only (every VRRPv2 advert; VRRPv3/IPv4 from some vendors).
    Plain,
    /// Including the IP pseudo-header (VRRPv3/IPv6 always; VRRPv3/IPv4 per RFC 5798).
    PseudoHeader,
}

impl ChecksumKind {
    /// The checksum our adverts carry: plain for VRRPv2 and for VRRPv3/IPv4 in `plain` mode,
    /// with the pseudo-header otherwise.
    pub fn for_emit(version: Version, family: Family, v3_mode: V3Checksum) -> Self {
        match (version, family, v3_mode) {
            (Version::V2, ..) | (Version::V3, Family::Ipv4, V3Checksum::Plain) => {
                ChecksumKind::Plain
            }
            (Version::V3, ..) => ChecksumKind::PseudoHeader,
        }
    }
}

impl From<ChecksumKind> for V3Checksum {
    fn from(kind: ChecksumKind) -> Self {
        match kind {
            ChecksumKind::Plain => V3Checksum::Plain,
            ChecksumKind::PseudoHeader => V3Checksum::PseudoHeader,
        }
    }
}

/// What the IP layer tells about a received advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxMeta {
    /// IP source address.
    pub src: IpAddr,
    /// IP destination address (used in the pseudo-header).
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
}

/// A read/write view of a VRRP message in a buffer.
///
/// The layout depends on the IP family (4- or 16-byte addresses), which the message itself
/// does not carry: accessors that need it take it as an argument, and the checksum helpers
/// take the IP source and destination (whose family they use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VrrpPacket<T> {
    /// Wraps `buffer` without checks: accessors may then panic on a short buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        VrrpPacket { buffer }
    }

    /// Wraps `buffer` after [`check_len`](Self::check_len): no read accessor can then panic
    /// (the IPv6 layout is only complete after [`check_len_for`](Self::check_len_for)).
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the header is complete, the version is 2 or 3 and the buffer holds the
    /// message its count implies with the smallest (IPv4) addresses. Trailing bytes (Ethernet
    /// padding) are allowed.
    pub fn check_len(&self) -> Result<(), WireError> {
        self.check_len_for(Family::Ipv4)
    }

    /// [`check_len`](Self::check_len) for `family`; also rejects VRRPv2 over IPv6.
    pub fn check_len_for(&self, family: Family) -> Result<(), WireError> {
        let got = self.buffer.as_ref().len();
        if got < HEADER_LEN {
            return Err(WireError::Truncated {
                what: "VRRP header",
                needed: HEADER_LEN,
                got,
            });
        }
        let version = self.version()?;
        if version == Version::V2 && family == Family::Ipv6 {
            return Err(WireError::V2OverIpv6);
        }
        let needed = message_len(version, family, usize::from(self.count()));
        if got < needed {
            return Err(WireError::Truncated {
                what: "VRRP message",
                needed,
                got,
            });
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version nibble, as read.
    pub fn version_number(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] >> 4
    }

    /// The version, or [`WireError::BadVersion`].
    pub fn version(&self) -> Result<Version, WireError> {
        let n = self.version_number();
        Version::from_number(n).ok_or(WireError::BadVersion(n))
    }

    /// The type nibble (1: advertisement).
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TYPE] & 0x0f
    }

    /// Virtual router ID.
    pub fn vrid(&self) -> u8 {
        self.buffer.as_ref()[field::VRID]
    }

    /// Priority (255: address owner, 0: master leaving).
    pub fn priority(&self) -> u8 {
        self.buffer.as_ref()[field::PRIORITY]
    }

    /// Count of addresses.
    pub fn count(&self) -> u8 {
        self.buffer.as_ref()[field::COUNT]
    }

    /// VRRPv2 auth type.
    pub fn auth_type(&self) -> u8 {
        self.buffer.as_ref()[field::AUTH_TYPE]
    }

    /// VRRPv2 Adver Int, in seconds.
    pub fn advert_int_v2(&self) -> u8 {
        self.buffer.as_ref()[field::ADVER_INT]
    }

    /// VRRPv3 Max Adver Int, in centiseconds (reserved bits masked off).
    pub fn max_advert_int_v3(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::MAX_ADVER_INT];
        u16::from_be_bytes([b[0], b[1]]) & V3_MAX_INTERVAL
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Length of the message the header describes for `family` (without trailing padding).
    pub fn message_len(&self, family: Family) -> usize {
        let version = self.version().unwrap_or(Version::V3);
        message_len(version, family, usize::from(self.count()))
    }

    /// The VRRP message without trailing padding.
    /// Clamped to the buffer, so it never panics on a checked view.
    pub fn message(&self, family: Family) -> &[u8] {
        let buf = self.buffer.as_ref();
        &buf[..self.message_len(family).min(buf.len())]
    }

    /// The raw address list.
    /// Clamped to the buffer, so it never panics on a checked view.
    pub fn address_bytes(&self, family: Family) -> &[u8] {
        let buf = self.buffer.as_ref();
        let end = (HEADER_LEN + usize::from(self.count()) * family.addr_len()).min(buf.len());
        &buf[HEADER_LEN.min(end)..end]
    }

    /// The addresses, in packet order.
    pub fn addresses(&self, family: Family) -> impl Iterator<Item = IpAddr> + '_ {
        self.address_bytes(family)
            .chunks_exact(family.addr_len())
            .filter_map(move |c| addr_from_bytes(family, c))
    }

    /// The VRRPv2 authentication data (`None` for VRRPv3 or a short buffer).
    pub fn auth_data(&self) -> Option<[u8; AUTH_DATA_LEN]> {
        if self.version().ok()? != Version::V2 {
            return None;
        }
        let start = HEADER_LEN + usize::from(self.count()) * 4;
        self.buffer
            .as_ref()
            .get(start..start + AUTH_DATA_LEN)?
            .try_into()
            .ok()
    }

    /// Checksum the message should carry, computed with the checksum field taken as zero,
    /// over the message sent from `src` to `dst`, with the IP pseudo-header for
    /// [`ChecksumKind::PseudoHeader`].
    pub fn compute_checksum(&self, src: IpAddr, dst: IpAddr, kind: ChecksumKind) -> u16 {
        let msg = self.message(Family::of(&src));
        let mut sum = checksum::combine(&[
            checksum::data(&msg[..field::CHECKSUM.start]),
            checksum::data(&msg[field::CHECKSUM.end..]),
        ]);
        if kind == ChecksumKind::PseudoHeader {
            sum = checksum::combine(&[sum, pseudo_header(src, dst, msg.len())]);
        }
        checksum::finish(sum)
    }

    /// Whether the checksum field verifies in the form `kind`. Both encodings of a zero
    /// checksum (0x0000 and 0xffff) verify, as RFC 1071 arithmetic has it.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr, kind: ChecksumKind) -> bool {
        let expected = self.compute_checksum(src, dst, kind);
        checksum::combine(&[checksum::finish(expected), self.checksum()]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VrrpPacket<T> {
    /// Sets version and type.
    pub fn set_version_type(&mut self, version: u8, msg_type: u8) {
        self.buffer.as_mut()[field::VER_TYPE] = (version << 4) | (msg_type & 0x0f);
    }

    /// Sets the virtual router ID.
    pub fn set_vrid(&mut self, vrid: u8) {
        self.buffer.as_mut()[field::VRID] = vrid;
    }

    /// Sets the priority.
    pub fn set_priority(&mut self, priority: u8) {
        self.buffer.as_mut()[field::PRIORITY] = priority;
    }

    /// Sets the address count.
    pub fn set_count(&mut self, count: u8) {
        self.buffer.as_mut()[field::COUNT] = count;
    }

    /// Sets the VRRPv2 auth type.
    pub fn set_auth_type(&mut self, auth_type: u8) {
        self.buffer.as_mut()[field::AUTH_TYPE] = auth_type;
    }

    /// Sets the VRRPv2 Adver Int (seconds).
    pub fn set_advert_int_v2(&mut self, secs: u8) {
        self.buffer.as_mut()[field::ADVER_INT] = secs;
    }

    /// Sets the VRRPv3 Max Adver Int (centiseconds, 12 bits) and clears the reserved bits.
    pub fn set_max_advert_int_v3(&mut self, centis: u16) {
        let bytes = (centis & V3_MAX_INTERVAL).to_be_bytes();
        self.buffer.as_mut()[field::MAX_ADVER_INT].copy_from_slice(&bytes);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// The raw address list, for writing (its length follows the count field).
    pub fn address_bytes_mut(&mut self, family: Family) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.count()) * family.addr_len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Sets the VRRPv2 authentication data (after the IPv4 address list).
    pub fn set_auth_data(&mut self, data: &[u8; AUTH_DATA_LEN]) {
        let start = HEADER_LEN + usize::from(self.count()) * 4;
        self.buffer.as_mut()[start..start + AUTH_DATA_LEN].copy_from_slice(data);
    }

    /// Computes and stores the checksum (see [`compute_checksum`](Self::compute_checksum)).
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr, kind: ChecksumKind) {
        let value = self.compute_checksum(src, dst, kind);
        self.set_checksum(value);
    }
}

/// A VRRP advertisement, independent of its encoding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VrrpRepr {
    /// Protocol version.
    pub version: Version,
    /// Virtual router ID.
    pub vrid: u8,
    /// Priority.
    pub priority: u8,
    /// v2: seconds (8 bits on the wire); v3: centiseconds (12 bits).
    pub max_advert_int: u16,
    /// v2 auth type number; always 0 for v3.
    pub auth_type: u8,
    /// Virtual addresses, all of the family of the IP source address.
    pub addrs: Vec<IpAddr>,
    /// v2 authentication data as received; zero for v3. `emit` computes it from the key.
    pub auth_data: [u8; AUTH_DATA_LEN],
}

/// The result of parsing: the advertisement and the checksum form it verified with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The advertisement.
    pub repr: VrrpRepr,
    /// Which checksum the sender used.
    pub checksum: ChecksumKind,
}

impl VrrpRepr {
    /// A VRRPv2 advertisement with `auth`'s type (auth data is computed by `emit`).
    pub fn v2(
        vrid: u8,
        priority: u8,
        advert_int_secs: u8,
        addrs: Vec<IpAddr>,
        auth: &AuthKey,
    ) -> Self {
        VrrpRepr {
            version: Version::V2,
            vrid,
            priority,
            max_advert_int: u16::from(advert_int_secs),
            auth_type: auth.kind().number(),
            addrs,
            auth_data: [0; AUTH_DATA_LEN],
        }
    }

    /// A VRRPv3 advertisement.
    pub fn v3(vrid: u8, priority: u8, max_advert_int_centis: u16, addrs: Vec<IpAddr>) -> Self {
        VrrpRepr {
            version: Version::V3,
            vrid,
            priority,
            max_advert_int: max_advert_int_centis,
            auth_type: 0,
            addrs,
            auth_data: [0; AUTH_DATA_LEN],
        }
    }

    /// Validates a received VRRP message (`bytes` may carry trailing padding) and returns the
    /// advertisement. Authentication is checked separately, with [`AuthKey::verify`].
    pub fn parse_bytes(bytes: &[u8], meta: &RxMeta) -> Result<Parsed, WireError> {
        rx_family(meta)?;
        check_ttl(meta)?;
        Self::parse(&VrrpPacket::new_checked(bytes)?, meta)
    }

    /// Validates a received VRRP message and returns the advertisement.
    ///
    /// Checks, in order: source and destination of one family, TTL/hop limit 255, version 2
    /// or 3 (2 only over IPv4), length for the count and family, type 1, count ≥ 1, checksum
    /// (see [`ChecksumKind`]), interval ≥ 1. Trailing bytes are ignored. Authentication is
    /// checked separately, with [`AuthKey::verify`].
    pub fn parse<T: AsRef<[u8]>>(
        packet: &VrrpPacket<T>,
        meta: &RxMeta,
    ) -> Result<Parsed, WireError> {
        let family = rx_family(meta)?;
        check_ttl(meta)?;
        packet.check_len_for(family)?;
        let version = packet.version()?;
        if packet.msg_type() != TYPE_ADVERTISEMENT {
            return Err(WireError::BadType(packet.msg_type()));
        }
        if packet.count() == 0 {
            return Err(WireError::ZeroCount);
        }
        let kind = verify_checksum(packet, version, meta)?;
        let (max_advert_int, auth_type, auth_data) = match version {
            Version::V2 => (
                u16::from(packet.advert_int_v2()),
                packet.auth_type(),
                packet.auth_data().unwrap_or_default(),
            ),
            Version::V3 => (packet.max_advert_int_v3(), 0, [0; AUTH_DATA_LEN]),
        };
        if max_advert_int == 0 {
            return Err(WireError::BadInterval {
                version: version.number(),
                interval: 0,
                max: version.max_interval(),
            });
        }
        let repr = VrrpRepr {
            version,
            vrid: packet.vrid(),
            priority: packet.priority(),
            max_advert_int,
            auth_type,
            addrs: packet.addresses(family).collect(),
            auth_data,
        };
        Ok(Parsed {
            repr,
            checksum: kind,
        })
    }

    /// The family of the addresses (`None` without addresses).
    pub fn family(&self) -> Option<Family> {
        self.addrs.first().map(Family::of)
    }

    /// Length of the emitted message.
    pub fn buffer_len(&self) -> usize {
        let family = self.family().unwrap_or(Family::Ipv4);
        message_len(self.version, family, self.addrs.len())
    }

    /// Writes the advertisement into `buf` and returns its length ([`buffer_len`]).
    ///
    /// VRRPv2: the auth type must be `auth`'s; the authentication data is computed from
    /// `auth` with the checksum field zero (the repr's `auth_data` is not used), then the
    /// checksum over header, addresses and authentication data. VRRPv3: `auth` must be
    /// [`AuthType::None`]; `v3_mode` selects whether an IPv4 checksum includes the
    /// pseudo-header (IPv6 always does).
    ///
    /// [`buffer_len`]: Self::buffer_len
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: IpAddr,
        dst: IpAddr,
        v3_mode: V3Checksum,
        auth: &AuthKey,
    ) -> Result<usize, WireError> {
        let family = self.check_emit(src, dst, auth)?;
        let len = self.buffer_len();
        if buf.len() < len {
            return Err(WireError::BufferTooSmall {
                needed: len,
                got: buf.len(),
            });
        }
        let buf = &mut buf[..len];
        let count = self.addrs.len() as u8; // checked ≤ 255 by check_emit
        let mut packet = VrrpPacket::new_unchecked(&mut *buf);
        packet.set_version_type(self.version.number(), TYPE_ADVERTISEMENT);
        packet.set_vrid(self.vrid);
        packet.set_priority(self.priority);
        packet.set_count(count);
        match self.version {
            Version::V2 => {
                packet.set_auth_type(self.auth_type);
                packet.set_advert_int_v2(self.max_advert_int as u8); // checked ≤ 255
            }
            Version::V3 => packet.set_max_advert_int_v3(self.max_advert_int),
        }
        packet.set_checksum(0);
        let addrs = packet.address_bytes_mut(family);
        for (chunk, addr) in addrs.chunks_exact_mut(family.addr_len()).zip(&self.addrs) {
            match addr {
                IpAddr::V4(a) => chunk.copy_from_slice(&a.octets()),
                IpAddr::V6(a) => chunk.copy_from_slice(&a.octets()),
            }
        }
        let kind = ChecksumKind::for_emit(self.version, family, v3_mode);
        if self.version == Version::V2 {
            let signed_len = len - AUTH_DATA_LEN;
            let data = auth.sign(&packet.buffer[..signed_len]);
            packet.set_auth_data(&data);
        }
        packet.fill_checksum(src, dst, kind);
        Ok(len)
    }

    /// All of `emit`'s checks; returns the family.
    fn check_emit(&self, src: IpAddr, dst: IpAddr, auth: &AuthKey) -> Result<Family, WireError> {
        let family = Family::of(&src);
        if Family::of(&dst) != family {
            return Err(WireError::FamilyMismatch { src, dst });
        }
        if self.version == Version::V2 && family == Family::Ipv6 {
            return Err(WireError::V2OverIpv6);
        }
        if self.addrs.is_empty() {
            return Err(WireError::ZeroCount);
        }
        if self.addrs.len() > usize::from(u8::MAX) {
            return Err(WireError::TooManyAddresses(self.addrs.len()));
        }
        if let Some(addr) = self.addrs.iter().find(|a| Family::of(a) != family) {
            return Err(WireError::AddressFamily {
                addr: *addr,
                family,
            });
        }
        let max = self.version.max_interval();
        if self.max_advert_int == 0 || self.max_advert_int > max {
            return Err(WireError::BadInterval {
                version: self.version.number(),
                interval: self.max_advert_int,
                max,
            });
        }
        match self.version {
            Version::V2 if self.auth_type != auth.kind().number() => {
                Err(WireError::AuthTypeMismatch {
                    repr: self.auth_type,
                    key: auth.kind().number(),
                })
            }
            Version::V3 if auth.kind() != AuthType::None => {
                Err(WireError::V3Authentication(auth.kind().number()))
            }
            Version::V3 if self.auth_type != 0 => Err(WireError::V3Authentication(self.auth_type)),
            _ => Ok(family),
        }
    }
}

impl fmt::Display for VrrpRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VRRPv{} vrid {} prio {} ",
            self.version.number(),
            self.vrid,
            self.priority
        )?;
        match self.version {
            Version::V2 => write!(
                f,
                "adv {}s auth {} addrs [",
                self.max_advert_int, self.auth_type
            )?,
            Version::V3 => write!(f, "adv {}cs addrs [", self.max_advert_int)?,
        }
        for (i, a) in self.addrs.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_str("]")
    }
}

/// The family of a received packet, or an error when source and destination disagree.
fn rx_family(meta: &RxMeta) -> Result<Family, WireError> {
    let family = Family::of(&meta.src);
    if Family::of(&meta.dst) != family {
        return Err(WireError::FamilyMismatch {
            src: meta.src,
            dst: meta.dst,
        });
    }
    Ok(family)
}

fn check_ttl(meta: &RxMeta) -> Result<(), WireError> {
    if meta.ttl != 255 {
        return Err(WireError::BadTtl(meta.ttl));
    }
    Ok(())
}

/// Verifies the checksum in the form(s) the version and family allow.
fn verify_checksum<T: AsRef<[u8]>>(
    packet: &VrrpPacket<T>,
    version: Version,
    meta: &RxMeta,
) -> Result<ChecksumKind, WireError> {
    let (src, dst) = (meta.src, meta.dst);
    let got = packet.checksum();
    let only = |kind| match packet.verify_checksum(src, dst, kind) {
        true => Ok(kind),
        false => Err(WireError::ChecksumMismatch {
            got,
            expected: packet.compute_checksum(src, dst, kind),
        }),
    };
    match (version, Family::of(&src)) {
        (Version::V2, _) => only(ChecksumKind::Plain),
        (Version::V3, Family::Ipv6) => only(ChecksumKind::PseudoHeader),
        (Version::V3, Family::Ipv4) => {
            if packet.verify_checksum(src, dst, ChecksumKind::PseudoHeader) {
                Ok(ChecksumKind::PseudoHeader)
            } else if packet.verify_checksum(src, dst, ChecksumKind::Plain) {
                Ok(ChecksumKind::Plain)
            } else {
                Err(WireError::ChecksumMismatchV3Ipv4 {
                    got,
                    pseudo_header: packet.compute_checksum(src, dst, ChecksumKind::PseudoHeader),
                    plain: packet.compute_checksum(src, dst, ChecksumKind::Plain),
                })
            }
        }
    }
}

/// Sum of the pseudo-header for a VRRP message of `len` bytes; zero when the families differ
/// (callers check families first).
fn pseudo_header(src: IpAddr, dst: IpAddr, len: usize) -> u16 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => checksum::pseudo_header_v4(s, d, PROTO_VRRP, len as u16),
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            checksum::pseudo_header_v6(&s, &d, PROTO_VRRP, len as u32)
        }
        _ => 0,
    }
}

/// An address from its bytes (`None` if the slice has the wrong length).
pub(crate) fn addr_from_bytes(family: Family, bytes: &[u8]) -> Option<IpAddr> {
    match family {
        Family::Ipv4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        Family::Ipv6 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
    }
}

#[cfg(test)]
mod tests;
