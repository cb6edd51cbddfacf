//! Classic libpcap files: a reader over bytes (both byte orders, micro- and nanosecond
//! timestamps, link types Ethernet and Linux cooked SLL) and a writer.
//!
//! The reader works on a byte slice (`std::fs::read` the capture first): captures used by the
//! sniffer and tests are small, and a slice keeps records zero-copy.

use std::borrow::Cow;
use std::io::{self, Write};
use std::time::Duration;

use super::ethernet::{ethertype, MacAddr};

/// Length of the global header.
const GLOBAL_HEADER_LEN: usize = 24;
/// Length of a record header.
const RECORD_HEADER_LEN: usize = 16;
/// Length of a Linux cooked (SLL) header.
const SLL_HEADER_LEN: usize = 16;
/// Magic of microsecond captures, as a native number.
const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// Magic of nanosecond captures, as a native number.
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// Why a capture could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PcapError {
    /// The file does not start with a classic pcap magic number (pcapng is not supported).
    #[error("not a classic pcap file: magic {0:#010x}")]
    BadMagic(u32),
    /// The file ends inside a header or record.
    #[error("pcap {what} truncated: need {needed} bytes, got {got}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The record's link type cannot be turned into an Ethernet frame.
    #[error("unsupported pcap link type {0} (supported: 1 Ethernet, 113 Linux cooked)")]
    UnsupportedLinktype(u32),
}

/// Link-layer header type of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Linktype {
    /// `LINKTYPE_ETHERNET` (1).
    Ethernet,
    /// `LINKTYPE_LINUX_SLL` (113), `tcpdump -i any`.
    LinuxSll,
    /// Any other link type, by number.
    Other(u32),
}

impl Linktype {
    /// The link type for its number.
    pub fn from_number(n: u32) -> Self {
        match n {
            1 => Linktype::Ethernet,
            113 => Linktype::LinuxSll,
            n => Linktype::Other(n),
        }
    }

    /// The link type number.
    pub fn number(self) -> u32 {
        match self {
            Linktype::Ethernet => 1,
            Linktype::LinuxSll => 113,
            Linktype::Other(n) => n,
        }
    }
}

/// One captured packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcapRecord<'a> {
    /// Capture time since the Unix epoch.
    pub timestamp: Duration,
    /// Length of the packet on the wire (may exceed `data.len()` when the snap length cut it).
    pub orig_len: u32,
    /// Link type of the capture.
    pub linktype: Linktype,
    /// The captured bytes, starting with the link-layer header.
    pub data: &'a [u8],
}

impl<'a> PcapRecord<'a> {
    /// The record as an Ethernet frame: Ethernet records as they are; SLL records with an
    /// Ethernet header synthesised from the SLL header (source from the SLL address, destination
    /// broadcast or the IP multicast group's MAC where the packet says so, else zero).
    pub fn ethernet_frame(&self) -> Result<Cow<'a, [u8]>, PcapError> {
        match self.linktype {
            Linktype::Ethernet => Ok(Cow::Borrowed(self.data)),
            Linktype::LinuxSll => sll_to_ethernet(self.data).map(Cow::Owned),
            Linktype::Other(n) => Err(PcapError::UnsupportedLinktype(n)),
        }
    }
}

fn sll_to_ethernet(data: &[u8]) -> Result<Vec<u8>, PcapError> {
    if data.len() < SLL_HEADER_LEN {
        return Err(PcapError::Truncated {
            what: "SLL header",
            needed: SLL_HEADER_LEN,
            got: data.len(),
        });
    }
    let packet_type = u16::from_be_bytes([data[0], data[1]]);
    let halen = usize::from(u16::from_be_bytes([data[4], data[5]]));
    let protocol = [data[14], data[15]];
    let payload = &data[SLL_HEADER_LEN..];
    let mut src = [0u8; 6];
    if halen == 6 {
        src.copy_from_slice(&data[6..12]);
    }
    let dst = match packet_type {
        1 => MacAddr::BROADCAST.0, // PACKET_BROADCAST
        _ => multicast_mac(u16::from_be_bytes(protocol), payload).unwrap_or([0; 6]),
    };
    let mut frame = Vec::with_capacity(14 + payload.len());
    frame.extend_from_slice(&dst);
    frame.extend_from_slice(&src);
    frame.extend_from_slice(&protocol);
    frame.extend_from_slice(payload);
    Ok(frame)
}

/// The Ethernet multicast MAC of the packet's IP destination, if it is multicast.
fn multicast_mac(proto: u16, ip: &[u8]) -> Option<[u8; 6]> {
    match proto {
        ethertype::IPV4 => {
            let d = ip.get(16..20)?;
            (d[0] & 0xf0 == 0xe0).then(|| [0x01, 0x00, 0x5e, d[1] & 0x7f, d[2], d[3]])
        }
        ethertype::IPV6 => {
            let d = ip.get(24..40)?;
            (d[0] == 0xff).then(|| [0x33, 0x33, d[12], d[13], d[14], d[15]])
        }
        _ => None,
    }
}

/// Reads the records of a classic pcap capture held in memory.
#[derive(Debug, Clone)]
pub struct PcapReader<'a> {
    data: &'a [u8],
    pos: usize,
    big_endian: bool,
    nanos: bool,
    linktype: Linktype,
    snaplen: u32,
    failed: bool,
}

impl<'a> PcapReader<'a> {
    /// Reads the global header of `data`.
    pub fn new(data: &'a [u8]) -> Result<Self, PcapError> {
        let hdr = data.get(..GLOBAL_HEADER_LEN).ok_or(PcapError::Truncated {
            what: "global header",
            needed: GLOBAL_HEADER_LEN,
            got: data.len(),
        })?;
        let magic_le = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        let magic_be = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        let (big_endian, nanos) = match (magic_le, magic_be) {
            (MAGIC_MICROS, _) => (false, false),
            (MAGIC_NANOS, _) => (false, true),
            (_, MAGIC_MICROS) => (true, false),
            (_, MAGIC_NANOS) => (true, true),
            _ => return Err(PcapError::BadMagic(magic_be)),
        };
        let mut reader = PcapReader {
            data,
            pos: GLOBAL_HEADER_LEN,
            big_endian,
            nanos,
            linktype: Linktype::Ethernet,
            snaplen: 0,
            failed: false,
        };
        reader.snaplen = reader.u32_at(16);
        // The upper bits of the link type field may carry FCS information; the type is the
        // low 16 bits.
        reader.linktype = Linktype::from_number(reader.u32_at(20) & 0xffff);
        Ok(reader)
    }

    /// Link type of the capture.
    pub fn linktype(&self) -> Linktype {
        self.linktype
    }

    /// Snap length of the capture.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// Whether timestamps have nanosecond resolution.
    pub fn is_nanosecond(&self) -> bool {
        self.nanos
    }

    /// Reads a u32 at `at` (the caller checked the bounds) in the file's byte order.
    fn u32_at(&self, at: usize) -> u32 {
        let b = [
            self.data[at],
            self.data[at + 1],
            self.data[at + 2],
            self.data[at + 3],
        ];
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn read_record(&mut self) -> Result<PcapRecord<'a>, PcapError> {
        let remaining = self.data.len() - self.pos;
        if remaining < RECORD_HEADER_LEN {
            return Err(PcapError::Truncated {
                what: "record header",
                needed: RECORD_HEADER_LEN,
                got: remaining,
            });
        }
        let secs = self.u32_at(self.pos);
        let frac = self.u32_at(self.pos + 4);
        let incl = self.u32_at(self.pos + 8) as usize;
        let orig_len = self.u32_at(self.pos + 12);
        let start = self.pos + RECORD_HEADER_LEN;
        let got = self.data.len() - start;
        if incl > got {
            return Err(PcapError::Truncated {
                what: "record",
                needed: incl,
                got,
            });
        }
        self.pos = start + incl;
        let sub = if self.nanos {
            Duration::from_nanos(u64::from(frac))
        } else {
            Duration::from_micros(u64::from(frac))
        };
        Ok(PcapRecord {
            timestamp: Duration::from_secs(u64::from(secs)) + sub,
            orig_len,
            linktype: self.linktype,
            data: &self.data[start..start + incl],
        })
    }
}

impl<'a> Iterator for PcapReader<'a> {
    type Item = Result<PcapRecord<'a>, PcapError>;

    /// The next record; a truncated last record (capture cut short) is reported once, then the
    /// iteration ends.
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.data.len() {
            return None;
        }
        let record = self.read_record();
        self.failed = record.is_err();
        Some(record)
    }
}

/// Writes a classic pcap capture (little-endian).
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    nanos: bool,
    snaplen: u32,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header of a microsecond capture.
    pub fn new(out: W, linktype: Linktype, snaplen: u32) -> io::Result<Self> {
        Self::with_resolution(out, linktype, snaplen, false)
    }

    /// Writes the global header of a nanosecond capture.
    pub fn new_nanosecond(out: W, linktype: Linktype, snaplen: u32) -> io::Result<Self> {
        Self::with_resolution(out, linktype, snaplen, true)
    }

    fn with_resolution(
        mut out: W,
        linktype: Linktype,
        snaplen: u32,
        nanos: bool,
    ) -> io::Result<Self> {
        let magic = if nanos { MAGIC_NANOS } else { MAGIC_MICROS };
        let mut hdr = [0u8; GLOBAL_HEADER_LEN];
        hdr[0..4].copy_from_slice(&magic.to_le_bytes());
        hdr[4..6].copy_from_slice(&2u16.to_le_bytes());
        hdr[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone 0, sigfigs 0
        hdr[16..20].copy_from_slice(&snaplen.to_le_bytes());
        hdr[20..24].copy_from_slice(&linktype.number().to_le_bytes());
        out.write_all(&hdr)?;
        Ok(PcapWriter {
            out,
            nanos,
            snaplen,
        })
    }

    /// Appends a record captured at `timestamp` (since the Unix epoch; seconds beyond u32 are
    /// an error), cut to the snap length.
    pub fn write_record(&mut self, timestamp: Duration, data: &[u8]) -> io::Result<()> {
        let secs = u32::try_from(timestamp.as_secs()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "pcap timestamp beyond 2106")
        })?;
        let frac = if self.nanos {
            timestamp.subsec_nanos()
        } else {
            timestamp.subsec_micros()
        };
        let orig_len = u32::try_from(data.len()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "pcap record longer than 4 GiB")
        })?;
        let incl = orig_len.min(self.snaplen);
        let mut hdr = [0u8; RECORD_HEADER_LEN];
        hdr[0..4].copy_from_slice(&secs.to_le_bytes());
        hdr[4..8].copy_from_slice(&frac.to_le_bytes());
        hdr[8..12].copy_from_slice(&incl.to_le_bytes());
        hdr[12..16].copy_from_slice(&orig_len.to_le_bytes());
        self.out.write_all(&hdr)?;
        self.out.write_all(&data[..incl as usize])
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The output.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthKey;
    use crate::wire::frame::{advert_frame, parse_ethernet_frame};
    use crate::wire::vrrp::{V3Checksum, VrrpRepr};

    fn advert() -> Vec<u8> {
        let repr = VrrpRepr::v2(
            51,
            100,
            1,
            vec!["192.168.1.100".parse().expect("addr")],
            &AuthKey::none(),
        );
        advert_frame(
            &repr,
            "192.168.1.1".parse().expect("addr"),
            V3Checksum::default(),
            &AuthKey::none(),
        )
        .expect("frame")
    }

    #[test]
    fn write_then_read_micro_and_nano() {
        let frame = advert();
        let t1 = Duration::new(1_700_000_000, 123_456_000);
        let t2 = Duration::new(1_700_000_001, 999_999_000);
        let mut w = PcapWriter::new(Vec::new(), Linktype::Ethernet, 65535).expect("writer");
        w.write_record(t1, &frame).expect("write");
        w.write_record(t2, &frame[..20]).expect("write");
        let bytes = w.into_inner();
        assert_eq!(bytes[..4], [0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(bytes.len(), 24 + 16 + frame.len() + 16 + 20);
        let mut r = PcapReader::new(&bytes).expect("reader");
        assert_eq!(
            (r.linktype(), r.snaplen(), r.is_nanosecond()),
            (Linktype::Ethernet, 65535, false)
        );
        let rec = r.next().expect("record").expect("ok");
        assert_eq!(
            (rec.timestamp, rec.data, rec.orig_len),
            (t1, &frame[..], frame.len() as u32)
        );
        assert_eq!(
            parse_ethernet_frame(&rec.ethernet_frame().expect("eth"))
                .expect("vrrp")
                .ttl,
            255
        );
        let rec = r.next().expect("record").expect("ok");
        assert_eq!((rec.timestamp, rec.data.len()), (t2, 20));
        assert!(r.next().is_none());

        let t = Duration::new(5, 123_456_789);
        let mut w =
            PcapWriter::new_nanosecond(Vec::new(), Linktype::Ethernet, 65535).expect("writer");
        w.write_record(t, &frame).expect("write");
        let bytes = w.into_inner();
        let mut r = PcapReader::new(&bytes).expect("reader");
        assert!(r.is_nanosecond());
        assert_eq!(r.next().expect("record").expect("ok").timestamp, t);
    }

    #[test]
    fn snaplen_cuts_records() {
        let frame = advert();
        let mut w = PcapWriter::new(Vec::new(), Linktype::Ethernet, 40).expect("writer");
        w.write_record(Duration::ZERO, &frame).expect("write");
        let bytes = w.into_inner();
        let rec = PcapReader::new(&bytes)
            .expect("reader")
            .next()
            .expect("record")
            .expect("ok");
        assert_eq!((rec.data.len(), rec.orig_len), (40, 54));
    }

    /// A big-endian nanosecond capture written by hand.
    #[test]
    fn big_endian_nanosecond_by_hand() {
        let frame = advert();
        let mut bytes = vec![0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(&[0, 0, 0xff, 0xff, 0, 0, 0, 1]);
        bytes.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 9]); // 7 s + 9 ns
        bytes.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&frame);
        let mut r = PcapReader::new(&bytes).expect("reader");
        let rec = r.next().expect("record").expect("ok");
        assert_eq!(rec.timestamp, Duration::new(7, 9));
        assert_eq!(rec.data, &frame[..]);
    }

    #[test]
    fn linux_cooked_becomes_ethernet() {
        let frame = advert();
        // SLL: outgoing (4), ARPHRD_ETHER (1), halen 6, the virtual MAC, protocol IPv4.
        let mut sll = vec![
            0, 4, 0, 1, 0, 6, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x33, 0, 0, 0x08, 0x00,
        ];
        sll.extend_from_slice(&frame[14..]);
        let mut w = PcapWriter::new(Vec::new(), Linktype::LinuxSll, 65535).expect("writer");
        w.write_record(Duration::from_secs(1), &sll).expect("write");
        let bytes = w.into_inner();
        let rec = PcapReader::new(&bytes)
            .expect("reader")
            .next()
            .expect("record")
            .expect("ok");
        assert_eq!(rec.linktype, Linktype::LinuxSll);
        assert_eq!(rec.ethernet_frame().expect("eth").as_ref(), &frame[..]);
        let view = parse_ethernet_frame(&rec.ethernet_frame().expect("eth"))
            .expect("parse")
            .src_mac;
        assert_eq!(
            view,
            crate::wire::virtual_mac(crate::wire::Family::Ipv4, 51)
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            PcapReader::new(&[0; 10]).err(),
            Some(PcapError::Truncated {
                what: "global header",
                needed: 24,
                got: 10
            })
        );
        let pcapng = [
            0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(
            PcapReader::new(&pcapng).err(),
            Some(PcapError::BadMagic(0x0a0d0d0a))
        );
        let mut w = PcapWriter::new(Vec::new(), Linktype::Other(147), 65535).expect("writer");
        w.write_record(Duration::ZERO, &[1, 2, 3, 4])
            .expect("write");
        let mut bytes = w.into_inner();
        let rec = PcapReader::new(&bytes)
            .expect("reader")
            .next()
            .expect("record")
            .expect("ok");
        assert_eq!(
            rec.ethernet_frame(),
            Err(PcapError::UnsupportedLinktype(147))
        );
        bytes.truncate(bytes.len() - 1);
        let mut r = PcapReader::new(&bytes).expect("reader");
        assert_eq!(
            r.next(),
            Some(Err(PcapError::Truncated {
                what: "record",
                needed: 4,
                got: 3
            }))
        );
        assert_eq!(r.next(), None);
    }

    proptest::proptest! {
        #[test]
        fn reader_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300), magic in 0usize..4) {
            let magics = [[0xd4, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0xc3, 0xd4], [0x4d, 0x3c, 0xb2, 0xa1], [0xa1, 0xb2, 0x3c, 0x4d]];
            let mut data = magics[magic].to_vec();
            data.extend_from_slice(&bytes);
            if let Ok(r) = PcapReader::new(&data) {
                for rec in r.take(50).flatten() {
                    let _ = rec.ethernet_frame();
                }
            }
        }
    }
}
