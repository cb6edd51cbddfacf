//! Minimal VRRP v2/v3 codec for the harness: parse adverts seen on a capture, build adverts
//! for the injector. Independent from the daemon's own codec on purpose (a second opinion).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A parsed VRRP advertisement (the VRRP part only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    /// 2 or 3.
    pub version: u8,
    /// Packet type (1 = advertisement).
    pub kind: u8,
    /// Virtual router id.
    pub vrid: u8,
    /// Priority (0 = leaving Master).
    pub priority: u8,
    /// Address count field.
    pub count: u8,
    /// v2 auth type (0 for v3).
    pub auth_type: u8,
    /// Advertisement interval in centiseconds (v2 seconds × 100).
    pub interval_cs: u16,
    /// Virtual addresses carried.
    pub addrs: Vec<IpAddr>,
    /// v2 authentication data.
    pub auth_data: Option<[u8; 8]>,
}

/// RFC 1071 ones'-complement sum over `chunks`, folded and complemented.
pub fn checksum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for c in chunks {
        for &b in *c {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Parses the VRRP payload `b`; `v6` tells the address family of the carried addresses.
pub fn parse(b: &[u8], v6: bool) -> Option<Advert> {
    let vt = *b.first()?;
    let version = vt >> 4;
    let kind = vt & 0x0f;
    let vrid = *b.get(1)?;
    let priority = *b.get(2)?;
    let count = *b.get(3)?;
    let (auth_type, interval_cs) = match version {
        2 => (*b.get(4)?, u16::from(*b.get(5)?) * 100),
        3 => (0, u16::from_be_bytes([*b.get(4)?, *b.get(5)?]) & 0x0fff),
        _ => return None,
    };
    let alen = if v6 { 16 } else { 4 };
    let mut addrs = Vec::new();
    let mut off = 8;
    for _ in 0..count {
        let a = b.get(off..off + alen)?;
        addrs.push(if v6 {
            let mut x = [0u8; 16];
            x.copy_from_slice(a);
            IpAddr::V6(Ipv6Addr::from(x))
        } else {
            IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
        });
        off += alen;
    }
    let auth_data = if version == 2 {
        b.get(off..off + 8).map(|s| {
            let mut x = [0u8; 8];
            x.copy_from_slice(s);
            x
        })
    } else {
        None
    };
    Some(Advert {
        version,
        kind,
        vrid,
        priority,
        count,
        auth_type,
        interval_cs,
        addrs,
        auth_data,
    })
}

/// Parameters of an IPv4 advert frame built by [`build_v4_frame`].
#[derive(Debug, Clone)]
pub struct AdvertSpec {
    /// Ethernet source.
    pub src_mac: [u8; 6],
    /// IPv4 source.
    pub src_ip: Ipv4Addr,
    /// 2 or 3.
    pub version: u8,
    /// VRID.
    pub vrid: u8,
    /// Priority.
    pub priority: u8,
    /// Interval: seconds for v2, centiseconds for v3.
    pub interval: u16,
    /// v2 auth type.
    pub auth_type: u8,
    /// v2 auth data.
    pub auth_data: [u8; 8],
    /// Virtual addresses.
    pub addrs: Vec<Ipv4Addr>,
    /// TTL (255 for valid adverts).
    pub ttl: u8,
}

/// Builds a complete Ethernet + IPv4 + VRRP frame to 224.0.0.18 with correct checksums.
pub fn build_v4_frame(s: &AdvertSpec) -> Vec<u8> {
    let mut vrrp = vec![
        (s.version << 4) | 1,
        s.vrid,
        s.priority,
        s.addrs.len() as u8,
    ];
    if s.version == 2 {
        vrrp.push(s.auth_type);
        vrrp.push(s.interval as u8);
    } else {
        vrrp.extend_from_slice(&(s.interval & 0x0fff).to_be_bytes());
    }
    vrrp.extend_from_slice(&[0, 0]);
    for a in &s.addrs {
        vrrp.extend_from_slice(&a.octets());
    }
    if s.version == 2 {
        vrrp.extend_from_slice(&s.auth_data);
    }
    let dst = Ipv4Addr::new(224, 0, 0, 18);
    let ck = if s.version == 2 {
        checksum(&[&vrrp])
    } else {
        let len = (vrrp.len() as u16).to_be_bytes();
        let pseudo = [
            &s.src_ip.octets()[..],
            &dst.octets()[..],
            &[0, 112],
            &len[..],
        ]
        .concat();
        checksum(&[&pseudo, &vrrp])
    };
    vrrp[6..8].copy_from_slice(&ck.to_be_bytes());
    let total = (20 + vrrp.len()) as u16;
    let mut iph = vec![0x45, 0xc0];
    iph.extend_from_slice(&total.to_be_bytes());
    iph.extend_from_slice(&[0, 0, 0, 0, s.ttl, 112, 0, 0]);
    iph.extend_from_slice(&s.src_ip.octets());
    iph.extend_from_slice(&dst.octets());
    let ick = checksum(&[&iph]);
    iph[10..12].copy_from_slice(&ick.to_be_bytes());
    let mut f = vec![0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
    f.extend_from_slice(&s.src_mac);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&iph);
    f.extend_from_slice(&vrrp);
    while f.len() < 60 {
        f.push(0);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_then_parse_v2() {
        let spec = AdvertSpec {
            src_mac: [0, 0, 0x5e, 0, 1, 7],
            src_ip: Ipv4Addr::new(10, 0, 0, 9),
            version: 2,
            vrid: 7,
            priority: 200,
            interval: 1,
            auth_type: 1,
            auth_data: *b"secret\0\0",
            addrs: vec![Ipv4Addr::new(10, 0, 0, 201)],
            ttl: 255,
        };
        let f = build_v4_frame(&spec);
        assert_eq!(checksum(&[&f[14..34]]), 0, "IPv4 header checksum");
        let vr = &f[34..34 + 20];
        assert_eq!(checksum(&[vr]), 0, "VRRP checksum");
        let a = parse(vr, false).expect("parse");
        assert_eq!(
            (a.version, a.vrid, a.priority, a.interval_cs),
            (2, 7, 200, 100)
        );
        assert_eq!(a.addrs, vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 201))]);
        assert_eq!(a.auth_data, Some(*b"secret\0\0"));
    }

    #[test]
    fn build_then_parse_v3() {
        let spec = AdvertSpec {
            src_mac: [0, 0, 0x5e, 0, 1, 7],
            src_ip: Ipv4Addr::new(10, 0, 0, 9),
            version: 3,
            vrid: 7,
            priority: 100,
            interval: 10,
            auth_type: 0,
            auth_data: [0; 8],
            addrs: vec![Ipv4Addr::new(10, 0, 0, 201)],
            ttl: 255,
        };
        let f = build_v4_frame(&spec);
        let a = parse(&f[34..46], false).expect("parse");
        assert_eq!((a.version, a.interval_cs, a.auth_data), (3, 10, None));
    }
}
