//! A decoded capture and the timing questions tests ask of it.

use std::net::IpAddr;

use crate::packet::{decode_ethernet, AdvertRecord, ArpRecord, Decoded, NaRecord};
use crate::pcap::{RawRecord, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL};

/// Result of a failover measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Failover {
    /// The old Master's last advert.
    pub old_last: AdvertRecord,
    /// The new Master's first advert.
    pub new_first: AdvertRecord,
}

impl Failover {
    /// Seconds from the old Master's last advert to the new Master's first.
    pub fn gap(&self) -> f64 {
        self.new_first.ts - self.old_last.ts
    }
}

/// Everything decoded from a capture.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// VRRP adverts in capture order.
    pub adverts: Vec<AdvertRecord>,
    /// ARP packets.
    pub arps: Vec<ArpRecord>,
    /// IPv6 neighbour advertisements.
    pub nas: Vec<NaRecord>,
}

impl Trace {
    /// Decodes raw records of the given pcap link type.
    pub fn from_raw(linktype: u32, recs: &[RawRecord]) -> Trace {
        let mut t = Trace::default();
        for r in recs {
            let d = match linktype {
                LINKTYPE_ETHERNET => decode_ethernet(r.ts, &r.data),
                LINKTYPE_LINUX_SLL if r.data.len() > 16 => {
                    // Re-frame as Ethernet: fake MACs (source from the SLL header), same ethertype.
                    let mut f = vec![0u8; 6];
                    f.extend_from_slice(&r.data[6..12]);
                    f.extend_from_slice(&r.data[14..]);
                    decode_ethernet(r.ts, &f)
                }
                _ => Decoded::Other,
            };
            match d {
                Decoded::Advert(a) => t.adverts.push(a),
                Decoded::Arp(a) => t.arps.push(a),
                Decoded::Na(n) => t.nas.push(n),
                Decoded::Other => {}
            }
        }
        t
    }

    /// Adverts of `vrid` (IPv6 ones when `v6`), in order.
    pub fn of(&self, vrid: u8, v6: bool) -> impl Iterator<Item = &AdvertRecord> {
        self.adverts
            .iter()
            .filter(move |a| a.vrid() == vrid && a.is_v6() == v6)
    }

    /// Distinct sources of adverts with non-zero priority for `vrid` at or after `since`.
    pub fn senders(&self, vrid: u8, v6: bool, since: f64) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = self
            .of(vrid, v6)
            .filter(|a| a.ts >= since && a.priority() > 0)
            .map(|a| a.src_ip)
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// First advert from `src` at or after `after`.
    pub fn first_from(&self, vrid: u8, src: IpAddr, after: f64) -> Option<&AdvertRecord> {
        self.of(vrid, src.is_ipv6())
            .find(|a| a.src_ip == src && a.ts >= after)
    }

    /// Last advert from `src` strictly before `before`.
    pub fn last_from(&self, vrid: u8, src: IpAddr, before: f64) -> Option<&AdvertRecord> {
        self.of(vrid, src.is_ipv6())
            .filter(|a| a.src_ip == src && a.ts < before)
            .last()
    }

    /// The last advert of anyone (the time base for "nothing happened since").
    pub fn last_ts(&self) -> Option<f64> {
        self.adverts.last().map(|a| a.ts)
    }

    /// Takeover of `vrid` from `old` by `new`, looking at adverts from `after` on:
    /// `new`'s first advert, and `old`'s last advert before it.
    pub fn failover(&self, vrid: u8, old: IpAddr, new: IpAddr, after: f64) -> Option<Failover> {
        let new_first = self.first_from(vrid, new, after)?.clone();
        let old_last = self.last_from(vrid, old, new_first.ts)?.clone();
        Some(Failover {
            old_last,
            new_first,
        })
    }

    /// Gaps between successive adverts of `src` in `[from, to]`.
    pub fn intervals(&self, vrid: u8, src: IpAddr, from: f64, to: f64) -> Vec<f64> {
        let ts: Vec<f64> = self
            .of(vrid, src.is_ipv6())
            .filter(|a| a.src_ip == src && a.ts >= from && a.ts <= to)
            .map(|a| a.ts)
            .collect();
        ts.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// Adverts of `vrid` from `src` in `[from, to]`.
    pub fn count_from(&self, vrid: u8, src: IpAddr, from: f64, to: f64) -> usize {
        self.of(vrid, src.is_ipv6())
            .filter(|a| a.src_ip == src && a.ts >= from && a.ts <= to)
            .count()
    }

    /// A compact listing (for assertion messages and demo output).
    pub fn summary(&self, max: usize) -> String {
        let t0 = self.adverts.first().map(|a| a.ts).unwrap_or(0.0);
        let mut s = String::new();
        let skip = self.adverts.len().saturating_sub(max);
        for a in self.adverts.iter().skip(skip) {
            s.push_str(&format!(
                "{:9.3}s {} {} -> {} ttl={} v{} vrid={} prio={} int={}cs auth={} addrs={:?}\n",
                a.ts - t0,
                a.src_mac,
                a.src_ip,
                a.dst_ip,
                a.ttl,
                a.version(),
                a.vrid(),
                a.priority(),
                a.advert.interval_cs,
                a.advert.auth_type,
                a.advert.addrs
            ));
        }
        s
    }
}
