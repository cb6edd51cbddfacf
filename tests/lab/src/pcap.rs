//! A minimal reader of classic pcap files (as written by `tcpdump -w`), tolerant of a
//! truncated last record (the file may be read while tcpdump is still writing).

use crate::error::{LabError, Result};

/// One captured frame.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// Capture time, seconds since the epoch.
    pub ts: f64,
    /// Link-layer frame bytes as captured.
    pub data: Vec<u8>,
}

/// Link type of Ethernet captures.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Link type of Linux "cooked" captures (`-i any`).
pub const LINKTYPE_LINUX_SLL: u32 = 113;

/// Parses a pcap file image: returns its link type and records.
pub fn parse(bytes: &[u8]) -> Result<(u32, Vec<RawRecord>)> {
    if bytes.len() < 24 {
        // tcpdump has not written its header yet.
        return Ok((LINKTYPE_ETHERNET, Vec::new()));
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    let (le, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        _ => {
            return Err(LabError::Pcap(format!(
                "magic {magic:02x?} (pcapng is not supported)"
            )))
        }
    };
    let u32_at = |o: usize| -> Option<u32> {
        let s: [u8; 4] = bytes.get(o..o + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        })
    };
    let linktype = u32_at(20).ok_or_else(|| LabError::Pcap("short header".into()))?;
    let mut out = Vec::new();
    let mut off = 24;
    while let (Some(sec), Some(frac), Some(incl)) = (u32_at(off), u32_at(off + 4), u32_at(off + 8))
    {
        let start = off + 16;
        let end = start + incl as usize;
        let Some(data) = bytes.get(start..end) else {
            break;
        };
        let div = if nanos { 1e9 } else { 1e6 };
        out.push(RawRecord {
            ts: f64::from(sec) + f64::from(frac) / div,
            data: data.to_vec(),
        });
        off = end;
    }
    Ok((linktype, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_le_microsecond_file_and_ignores_truncated_tail() {
        let mut f = Vec::new();
        f.extend_from_slice(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]);
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&65535u32.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes());
        f.extend_from_slice(&10u32.to_le_bytes());
        f.extend_from_slice(&500_000u32.to_le_bytes());
        f.extend_from_slice(&3u32.to_le_bytes());
        f.extend_from_slice(&3u32.to_le_bytes());
        f.extend_from_slice(&[1, 2, 3]);
        f.extend_from_slice(&[9, 9, 9]);
        let (lt, recs) = parse(&f).expect("parse");
        assert_eq!(lt, 1);
        assert_eq!(recs.len(), 1);
        assert!((recs[0].ts - 10.5).abs() < 1e-9);
        assert_eq!(recs[0].data, vec![1, 2, 3]);
    }
}
