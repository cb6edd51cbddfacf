//! Incremental reading of large VRRP captures: [`PcapFollower`] parses only what tcpdump
//! appended since the last call, and [`AdvertTimes`] keeps one timestamp list per
//! (source, VRID), which is all a scale run needs (a [`crate::Trace`] of millions of adverts
//! would hold every decoded packet).

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::error::{io_ctx, LabError, Result};
use crate::pcap::{LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL};

/// Link type of Linux "cooked" v2 captures (`tcpdump -i any` on libpcap ≥ 1.10).
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

/// The essentials of one IPv4 VRRP advert.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdvertSeen {
    /// Capture time, seconds since the epoch.
    pub ts: f64,
    /// IPv4 source.
    pub src: Ipv4Addr,
    /// VRID.
    pub vrid: u8,
    /// Priority.
    pub priority: u8,
    /// VRRP version.
    pub version: u8,
}

/// IPv4 identification of the frames the harness forges (`cargo xtask scale --attack`): it
/// captures each router's outgoing frames in the router's namespace, where the floods towards
/// the other router are sent too, and skips these. Receivers do not look at the field.
pub const FORGED_IP_ID: u16 = 0xbad1;

/// Decodes an IPv4 VRRP advert from a frame of `linktype` (Ethernet, SLL, SLL2); frames
/// marked [`FORGED_IP_ID`] are not adverts of a router under test.
pub fn decode_advert(linktype: u32, ts: f64, f: &[u8]) -> Option<AdvertSeen> {
    let (et, l3) = match linktype {
        LINKTYPE_ETHERNET => (u16::from_be_bytes([*f.get(12)?, *f.get(13)?]), 14),
        LINKTYPE_LINUX_SLL => (u16::from_be_bytes([*f.get(14)?, *f.get(15)?]), 16),
        LINKTYPE_LINUX_SLL2 => (u16::from_be_bytes([*f.first()?, *f.get(1)?]), 20),
        _ => return None,
    };
    if et != 0x0800 {
        return None;
    }
    let p = f.get(l3..)?;
    if p.first()? >> 4 != 4 || *p.get(9)? != 112 {
        return None;
    }
    if u16::from_be_bytes([*p.get(4)?, *p.get(5)?]) == FORGED_IP_ID {
        return None;
    }
    let ihl = usize::from(p.first()? & 0x0f) * 4;
    let src = Ipv4Addr::new(*p.get(12)?, *p.get(13)?, *p.get(14)?, *p.get(15)?);
    let v = p.get(ihl..ihl + 3)?;
    if v[0] & 0x0f != 1 {
        return None;
    }
    Some(AdvertSeen {
        ts,
        src,
        vrid: v[1],
        priority: v[2],
        version: v[0] >> 4,
    })
}

#[derive(Debug, Clone, Copy)]
struct Header {
    le: bool,
    nanos: bool,
    linktype: u32,
}

/// Follows a pcap file being written: each [`PcapFollower::poll`] decodes the complete
/// records appended since the previous one.
#[derive(Debug)]
pub struct PcapFollower {
    file: PathBuf,
    offset: u64,
    pending: Vec<u8>,
    header: Option<Header>,
    records: u64,
}

impl PcapFollower {
    /// Follows `file` (which may not exist yet).
    pub fn new(file: &Path) -> PcapFollower {
        PcapFollower {
            file: file.to_path_buf(),
            offset: 0,
            pending: Vec::new(),
            header: None,
            records: 0,
        }
    }

    /// Records read so far (adverts or not).
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes of the file consumed so far.
    pub fn bytes(&self) -> u64 {
        self.offset
    }

    /// Reads what was appended and calls `f` for every IPv4 VRRP advert in it; returns how
    /// many adverts were seen.
    pub fn poll(&mut self, mut f: impl FnMut(AdvertSeen)) -> Result<usize> {
        let mut file = match std::fs::File::open(&self.file) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io_ctx(format!("opening {}", self.file.display()))(e)),
        };
        file.seek(SeekFrom::Start(self.offset))
            .map_err(io_ctx(format!("seeking {}", self.file.display())))?;
        let n = file
            .read_to_end(&mut self.pending)
            .map_err(io_ctx(format!("reading {}", self.file.display())))?;
        self.offset += n as u64;
        let buf = std::mem::take(&mut self.pending);
        let mut off = 0;
        let h = match self.header {
            Some(h) => h,
            None => {
                if buf.len() < 24 {
                    self.pending = buf;
                    return Ok(0);
                }
                let (le, nanos) = match [buf[0], buf[1], buf[2], buf[3]] {
                    [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
                    [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
                    [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
                    [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
                    m => return Err(LabError::Pcap(format!("magic {m:02x?}"))),
                };
                let lt = [buf[20], buf[21], buf[22], buf[23]];
                let linktype = if le {
                    u32::from_le_bytes(lt)
                } else {
                    u32::from_be_bytes(lt)
                };
                let h = Header {
                    le,
                    nanos,
                    linktype,
                };
                self.header = Some(h);
                off = 24;
                h
            }
        };
        let u32_at = |o: usize| -> Option<u32> {
            let s: [u8; 4] = buf.get(o..o + 4)?.try_into().ok()?;
            Some(if h.le {
                u32::from_le_bytes(s)
            } else {
                u32::from_be_bytes(s)
            })
        };
        let div = if h.nanos { 1e9 } else { 1e6 };
        let mut seen = 0;
        while let (Some(sec), Some(frac), Some(incl)) =
            (u32_at(off), u32_at(off + 4), u32_at(off + 8))
        {
            let start = off + 16;
            let end = start + incl as usize;
            let Some(data) = buf.get(start..end) else {
                break;
            };
            self.records += 1;
            let ts = f64::from(sec) + f64::from(frac) / div;
            if let Some(a) = decode_advert(h.linktype, ts, data) {
                f(a);
                seen += 1;
            }
            off = end;
        }
        self.pending = buf.get(off..).map(<[u8]>::to_vec).unwrap_or_default();
        Ok(seen)
    }
}

/// Advert timestamps per (source, VRID), in capture order.
#[derive(Debug, Default, Clone)]
pub struct AdvertTimes {
    /// Adverts with a non-zero priority.
    pub by_group: HashMap<(Ipv4Addr, u8), Vec<f64>>,
    /// Priority-0 adverts ("Master leaving") per group.
    pub leaving: HashMap<(Ipv4Addr, u8), Vec<f64>>,
    /// Every advert counted.
    pub total: u64,
    /// Latest timestamp seen.
    pub last_ts: f64,
}

impl AdvertTimes {
    /// Records one advert.
    pub fn add(&mut self, a: AdvertSeen) {
        let m = if a.priority == 0 {
            &mut self.leaving
        } else {
            &mut self.by_group
        };
        m.entry((a.src, a.vrid)).or_default().push(a.ts);
        self.total += 1;
        if a.ts > self.last_ts {
            self.last_ts = a.ts;
        }
    }

    /// Timestamps of (`src`, `vrid`) (empty when none).
    pub fn of(&self, src: Ipv4Addr, vrid: u8) -> &[f64] {
        self.by_group
            .get(&(src, vrid))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// First advert of (`src`, `vrid`) at or after `t`.
    pub fn first_at_or_after(&self, src: Ipv4Addr, vrid: u8, t: f64) -> Option<f64> {
        let v = self.of(src, vrid);
        let i = v.partition_point(|x| *x < t);
        v.get(i).copied()
    }

    /// Last advert of (`src`, `vrid`) strictly before `t`.
    pub fn last_before(&self, src: Ipv4Addr, vrid: u8, t: f64) -> Option<f64> {
        let v = self.of(src, vrid);
        let i = v.partition_point(|x| *x < t);
        i.checked_sub(1).and_then(|i| v.get(i)).copied()
    }

    /// Adverts of (`src`, `vrid`) in `[from, to)`.
    pub fn count_in(&self, src: Ipv4Addr, vrid: u8, from: f64, to: f64) -> usize {
        let v = self.of(src, vrid);
        v.partition_point(|x| *x < to) - v.partition_point(|x| *x < from)
    }

    /// Longest silence of (`src`, `vrid`) inside `[from, to]`, counting the edges of the window
    /// (a group never heard in it has a silence of `to - from`).
    pub fn max_gap_in(&self, src: Ipv4Addr, vrid: u8, from: f64, to: f64) -> f64 {
        let v = self.of(src, vrid);
        let a = v.partition_point(|x| *x < from);
        let b = v.partition_point(|x| *x <= to);
        let mut prev = from;
        let mut gap: f64 = 0.0;
        for t in &v[a..b] {
            gap = gap.max(t - prev);
            prev = *t;
        }
        gap.max(to - prev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sll2_frame(src: [u8; 4], vrid: u8, prio: u8) -> Vec<u8> {
        let mut f = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6];
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&[0x45, 0xc0, 0, 40, 0, 0, 0, 0, 255, 112, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&[224, 0, 0, 18]);
        f.extend_from_slice(&[0x21, vrid, prio, 1, 0, 1, 0, 0, 10, 0, 0, 1]);
        f
    }

    fn record(ts_s: u32, ts_us: u32, data: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&ts_s.to_le_bytes());
        r.extend_from_slice(&ts_us.to_le_bytes());
        r.extend_from_slice(&(data.len() as u32).to_le_bytes());
        r.extend_from_slice(&(data.len() as u32).to_le_bytes());
        r.extend_from_slice(data);
        r
    }

    #[test]
    fn follows_a_growing_file() {
        let dir = std::env::temp_dir().join(format!("advstream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("t.pcap");
        let mut file = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        file.extend_from_slice(&[0; 8]);
        file.extend_from_slice(&128u32.to_le_bytes());
        file.extend_from_slice(&LINKTYPE_LINUX_SLL2.to_le_bytes());
        let r1 = record(10, 0, &sll2_frame([172, 16, 0, 1], 7, 200));
        let r2 = record(11, 500_000, &sll2_frame([172, 16, 0, 1], 7, 200));
        file.extend_from_slice(&r1);
        file.extend_from_slice(&r2[..10]);
        std::fs::write(&path, &file).expect("write");
        let mut fol = PcapFollower::new(&path);
        let mut times = AdvertTimes::default();
        assert_eq!(fol.poll(|a| times.add(a)).expect("poll"), 1);
        file.extend_from_slice(&r2[10..]);
        std::fs::write(&path, &file).expect("write");
        assert_eq!(fol.poll(|a| times.add(a)).expect("poll"), 1);
        let src = Ipv4Addr::new(172, 16, 0, 1);
        assert_eq!(times.of(src, 7), &[10.0, 11.5]);
        assert_eq!(times.last_before(src, 7, 11.5), Some(10.0));
        assert_eq!(times.first_at_or_after(src, 7, 10.1), Some(11.5));
        assert_eq!(times.count_in(src, 7, 10.0, 11.0), 1);
        assert!((times.max_gap_in(src, 7, 9.0, 14.0) - 2.5).abs() < 1e-9);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
