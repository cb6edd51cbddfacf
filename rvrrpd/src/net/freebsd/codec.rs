//! Portable, pure helpers of the FreeBSD driver: FreeBSD kernel structures are built and
//! parsed here as plain bytes with FreeBSD's layout, so they can be unit-tested on any host
//! (the FreeBSD `sys` wrappers only copy these bytes in and out of the kernel). On a FreeBSD
//! build, compile-time assertions in `sys` check every layout constant against `libc`.
//!
//! Layout facts (FreeBSD `sys/socket.h`, `net/if_dl.h`, `netinet/in.h`, `sys/ioccom.h`):
//! * `struct cmsghdr { socklen_t cmsg_len; int cmsg_level; int cmsg_type; }` (12 bytes); the
//!   data starts at `_ALIGN(12)` and the next header at `_ALIGN(cmsg_len)`, `_ALIGN` rounding
//!   up to `_ALIGNBYTES + 1` (the size of a pointer on the 64-bit and i386 targets).
//! * `struct sockaddr_dl { u_char sdl_len, sdl_family; u_short sdl_index; u_char sdl_type,
//!   sdl_nlen, sdl_alen, sdl_slen; char sdl_data[46]; }`: name, then link-level address.
//! * `struct sockaddr_in { uint8_t sin_len; sa_family_t sin_family; in_port_t sin_port;
//!   struct in_addr sin_addr; char sin_zero[8]; }` (16 bytes).
//! * `struct in_aliasreq { char ifra_name[16]; struct sockaddr_in ifra_addr, ifra_broadaddr,
//!   ifra_mask; int ifra_vhid; }` (68 bytes).

use std::net::{Ipv4Addr, Ipv6Addr};

/// `IFNAMSIZ` on FreeBSD.
pub const IFNAMSIZ: usize = 16;
/// `AF_INET` on FreeBSD.
pub const AF_INET: u8 = 2;
/// `AF_LINK` on FreeBSD.
pub const AF_LINK: u8 = 18;
/// `IPPROTO_IP`.
pub const IPPROTO_IP: i32 = 0;
/// `IPPROTO_IPV6`.
pub const IPPROTO_IPV6: i32 = 41;
/// `IP_RECVIF`: control message carrying a `sockaddr_dl` of the receiving interface.
pub const IP_RECVIF: i32 = 20;
/// `IP_RECVTTL`: control message carrying the TTL as one `u_char`.
pub const IP_RECVTTL: i32 = 65;
/// `IPV6_PKTINFO`: control message carrying a `struct in6_pktinfo`.
pub const IPV6_PKTINFO: i32 = 46;
/// `IPV6_HOPLIMIT`: control message carrying the hop limit as an `int`.
pub const IPV6_HOPLIMIT: i32 = 47;

/// `_ALIGNBYTES + 1` of the control-message macros (pointer size on FreeBSD's targets).
pub const CMSG_ALIGN: usize = std::mem::size_of::<usize>();
/// `sizeof(struct cmsghdr)`.
pub const CMSG_HDR: usize = 12;
/// Size of `struct sockaddr_in`.
pub const SOCKADDR_IN_SIZE: usize = 16;
/// Size of `struct in_aliasreq` (with `ifra_vhid`, FreeBSD 10 and later).
pub const IN_ALIASREQ_SIZE: usize = IFNAMSIZ + 3 * SOCKADDR_IN_SIZE + 4;
/// Size of `struct ifreq` on FreeBSD (name + a 16-byte union).
pub const IFREQ_SIZE: usize = IFNAMSIZ + 16;

/// `_ALIGN(n)` of `sys/socket.h`.
pub const fn cmsg_align(n: usize) -> usize {
    (n + CMSG_ALIGN - 1) & !(CMSG_ALIGN - 1)
}

// ---------------------------------------------------------------- ioctl numbers

const IOC_IN: u32 = 0x8000_0000;
const IOCPARM_MASK: u32 = 0x1fff;

/// `_IOW(group, num, len)` of `sys/ioccom.h`: a request that copies `len` bytes in.
pub const fn iow(group: u8, num: u8, len: usize) -> u32 {
    IOC_IN | (((len as u32) & IOCPARM_MASK) << 16) | ((group as u32) << 8) | num as u32
}

/// `SIOCAIFADDR`: `_IOW('i', 43, struct in_aliasreq)` (add or change an IPv4 alias).
pub const SIOCAIFADDR: u32 = iow(b'i', 43, IN_ALIASREQ_SIZE);
/// `SIOCDIFADDR`: `_IOW('i', 25, struct ifreq)` (delete an IPv4 address).
pub const SIOCDIFADDR: u32 = iow(b'i', 25, IFREQ_SIZE);

// ---------------------------------------------------------------- names and requests

/// An interface name as the kernel's NUL-padded `char[IFNAMSIZ]`; `None` if it is empty,
/// too long (15 bytes at most) or contains a NUL.
pub fn ifname_bytes(name: &str) -> Option<[u8; IFNAMSIZ]> {
    let b = name.as_bytes();
    if b.is_empty() || b.len() >= IFNAMSIZ || b.contains(&0) {
        return None;
    }
    let mut out = [0u8; IFNAMSIZ];
    out[..b.len()].copy_from_slice(b);
    Some(out)
}

/// A `struct sockaddr_in` (port 0).
pub fn sockaddr_in_bytes(addr: Ipv4Addr) -> [u8; SOCKADDR_IN_SIZE] {
    let mut s = [0u8; SOCKADDR_IN_SIZE];
    s[0] = SOCKADDR_IN_SIZE as u8;
    s[1] = AF_INET;
    s[4..8].copy_from_slice(&addr.octets());
    s
}

/// A `struct ifreq` naming `name` whose union holds `sockaddr_in(addr)` (the argument of
/// `SIOCDIFADDR`; with `addr = None` just the name, the argument of `BIOCSETIF`).
pub fn ifreq_bytes(name: &str, addr: Option<Ipv4Addr>) -> Option<[u8; IFREQ_SIZE]> {
    let mut r = [0u8; IFREQ_SIZE];
    r[..IFNAMSIZ].copy_from_slice(&ifname_bytes(name)?);
    if let Some(a) = addr {
        r[IFNAMSIZ..].copy_from_slice(&sockaddr_in_bytes(a));
    }
    Some(r)
}

/// A `struct in_aliasreq` adding `addr` with netmask `mask` to `name` (broadcast: the
/// subnet's, unless the prefix is /31 or /32; `ifra_vhid` 0: not a CARP address).
pub fn in_aliasreq_bytes(
    name: &str,
    addr: Ipv4Addr,
    mask: Ipv4Addr,
) -> Option<[u8; IN_ALIASREQ_SIZE]> {
    let mut r = [0u8; IN_ALIASREQ_SIZE];
    r[..IFNAMSIZ].copy_from_slice(&ifname_bytes(name)?);
    let m = u32::from(mask);
    let a = IFNAMSIZ;
    let b = a + SOCKADDR_IN_SIZE;
    let k = b + SOCKADDR_IN_SIZE;
    r[a..b].copy_from_slice(&sockaddr_in_bytes(addr));
    if m.leading_ones() < 31 {
        let brd = Ipv4Addr::from(u32::from(addr) | !m);
        r[b..k].copy_from_slice(&sockaddr_in_bytes(brd));
    }
    r[k..k + SOCKADDR_IN_SIZE].copy_from_slice(&sockaddr_in_bytes(mask));
    Some(r)
}

// ---------------------------------------------------------------- sockaddr_dl

/// The useful part of a `struct sockaddr_dl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkAddr {
    /// `sdl_index`.
    pub index: u32,
    /// The link-level address when it is 6 bytes long (Ethernet).
    pub mac: Option<[u8; 6]>,
}

/// Parses a `struct sockaddr_dl` (`b` holds at least `sdl_len` bytes, or the whole
/// structure). `None` if it is not `AF_LINK` or is truncated.
pub fn parse_sockaddr_dl(b: &[u8]) -> Option<LinkAddr> {
    if b.len() < 8 || b[1] != AF_LINK {
        return None;
    }
    let index = u32::from(u16::from_ne_bytes([b[2], b[3]]));
    let (nlen, alen) = (usize::from(b[5]), usize::from(b[6]));
    let start = 8 + nlen;
    let mac = match b.get(start..start + alen) {
        Some(m) if alen == 6 => {
            let mut mac = [0u8; 6];
            mac.copy_from_slice(m);
            Some(mac)
        }
        _ => None,
    };
    Some(LinkAddr { index, mac })
}

// ---------------------------------------------------------------- control messages

/// Iterates over the control messages of a `recvmsg(2)` control buffer (FreeBSD layout):
/// `(level, type, data)`. Stops at the first malformed header.
pub fn cmsgs(buf: &[u8]) -> impl Iterator<Item = (i32, i32, &[u8])> + '_ {
    let mut off = 0usize;
    std::iter::from_fn(move || {
        let h = buf.get(off..off + CMSG_HDR)?;
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let level = i32::from_ne_bytes([h[4], h[5], h[6], h[7]]);
        let ty = i32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
        let data_start = off + cmsg_align(CMSG_HDR);
        if len < cmsg_align(CMSG_HDR) || off + len > buf.len() {
            return None;
        }
        let data = &buf[data_start..off + len];
        off += cmsg_align(len);
        Some((level, ty, data))
    })
}

/// What the receive socket's control messages told us.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxControl {
    /// Receiving interface (`IP_RECVIF` `sdl_index`, or `IPV6_PKTINFO` `ipi6_ifindex`).
    pub ifindex: Option<u32>,
    /// IPv4 TTL (`IP_RECVTTL`) or IPv6 hop limit (`IPV6_HOPLIMIT`).
    pub ttl: Option<u8>,
    /// IPv6 destination (`IPV6_PKTINFO` `ipi6_addr`).
    pub dst6: Option<Ipv6Addr>,
}

/// Decodes the control messages the receive socket asks for.
pub fn parse_rx_control(buf: &[u8]) -> RxControl {
    let mut c = RxControl::default();
    for (level, ty, data) in cmsgs(buf) {
        match (level, ty) {
            (IPPROTO_IP, IP_RECVIF) => {
                if let Some(l) = parse_sockaddr_dl(data) {
                    c.ifindex = Some(l.index);
                }
            }
            (IPPROTO_IP, IP_RECVTTL) => c.ttl = data.first().copied(),
            (IPPROTO_IPV6, IPV6_HOPLIMIT) => {
                if let Some(b) = data.get(..4) {
                    let v = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
                    c.ttl = u8::try_from(v).ok();
                }
            }
            (IPPROTO_IPV6, IPV6_PKTINFO) => {
                // struct in6_pktinfo { struct in6_addr ipi6_addr; unsigned ipi6_ifindex; }
                if let Some(b) = data.get(..20) {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&b[..16]);
                    c.dst6 = Some(Ipv6Addr::from(a));
                    c.ifindex = Some(u32::from_ne_bytes([b[16], b[17], b[18], b[19]]));
                }
            }
            _ => {}
        }
    }
    c
}

// ---------------------------------------------------------------- IPv4 raw datagrams

/// An IPv4 datagram read from a FreeBSD raw socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawIpv4<'a> {
    /// TTL from the header.
    pub ttl: u8,
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// The payload after the header (and its options).
    pub payload: &'a [u8],
}

/// Parses the IPv4 header a FreeBSD raw socket delivers in front of the payload.
///
/// `ip_len` is **not** used: ip(4) documents that, on input, raw sockets get `ip_len` (and
/// `ip_off`) in host byte order, and releases before FreeBSD 11 also subtracted the header
/// length from it, while newer ones leave it in network order. The kernel has trimmed the
/// datagram to its real length (link-layer padding removed) before queueing it, so the
/// received length is the datagram length on every release.
pub fn parse_raw_ipv4(d: &[u8]) -> Option<RawIpv4<'_>> {
    if d.len() < 20 || d[0] >> 4 != 4 {
        return None;
    }
    let hlen = usize::from(d[0] & 0x0f) * 4;
    if hlen < 20 || d.len() < hlen {
        return None;
    }
    Some(RawIpv4 {
        ttl: d[8],
        src: Ipv4Addr::new(d[12], d[13], d[14], d[15]),
        dst: Ipv4Addr::new(d[16], d[17], d[18], d[19]),
        payload: &d[hlen..],
    })
}

/// The VRID of a VRRP message (second byte), for the user-space VRID filter.
pub fn vrrp_vrid(payload: &[u8]) -> Option<u8> {
    payload.get(1).copied()
}

// ---------------------------------------------------------------- IPv6 scopes

/// Clears the KAME "embedded scope": FreeBSD's `getifaddrs(3)` may return link-local
/// (fe80::/10) and link-local multicast (ff02::/16) addresses with the interface index
/// stored in bytes 2-3. Returns the address as seen on the wire.
pub fn clear_embedded_scope(a: Ipv6Addr) -> Ipv6Addr {
    let s = a.segments();
    let link_local = (s[0] & 0xffc0) == 0xfe80;
    let mc_link_local = (s[0] & 0xff0f) == 0xff02;
    if link_local || mc_link_local {
        let mut s = s;
        s[1] = 0;
        Ipv6Addr::from(s)
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_freebsd_headers() {
        // Values of the FreeBSD 10+ headers (amd64 and every other target: the structures
        // hold no pointers).
        assert_eq!(SIOCAIFADDR, 0x8044_692b);
        assert_eq!(SIOCDIFADDR, 0x8020_6919);
        // BIOCSETIF = _IOW('B', 108, struct ifreq), as in libc.
        assert_eq!(iow(b'B', 108, IFREQ_SIZE), 0x8020_426c);
    }

    #[test]
    fn requests() {
        assert!(ifname_bytes("").is_none());
        assert!(ifname_bytes("sixteen-chars-xx").is_none());
        assert!(ifname_bytes("em\0").is_none());
        let r = ifreq_bytes("em0", Some(Ipv4Addr::new(10, 0, 0, 1))).unwrap();
        assert_eq!(&r[..4], b"em0\0");
        assert_eq!(&r[16..24], &[16, 2, 0, 0, 10, 0, 0, 1]);
        assert_eq!(ifreq_bytes("em0", None).unwrap()[16..], [0u8; 16]);

        let r = in_aliasreq_bytes(
            "vtnet0",
            Ipv4Addr::new(192, 0, 2, 10),
            "255.255.255.0".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(r.len(), 68);
        assert_eq!(&r[..7], b"vtnet0\0");
        assert_eq!(&r[16..24], &[16, 2, 0, 0, 192, 0, 2, 10]);
        assert_eq!(&r[32..40], &[16, 2, 0, 0, 192, 0, 2, 255]);
        assert_eq!(&r[48..56], &[16, 2, 0, 0, 255, 255, 255, 0]);
        assert_eq!(&r[64..], &[0, 0, 0, 0]);
        // A /32 VIP has no broadcast address.
        let r =
            in_aliasreq_bytes("em0", Ipv4Addr::new(192, 0, 2, 10), Ipv4Addr::BROADCAST).unwrap();
        assert_eq!(&r[32..48], &[0u8; 16]);
    }

    fn sdl(index: u16, name: &[u8], mac: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 8];
        b[1] = AF_LINK;
        b[2..4].copy_from_slice(&index.to_ne_bytes());
        b[4] = 6; // IFT_ETHER
        b[5] = name.len() as u8;
        b[6] = mac.len() as u8;
        b.extend_from_slice(name);
        b.extend_from_slice(mac);
        b.resize(54, 0);
        b[0] = 54;
        b
    }

    #[test]
    fn link_addresses() {
        let mac = [0, 0, 0x5e, 0, 1, 7];
        let l = parse_sockaddr_dl(&sdl(3, b"em0", &mac)).unwrap();
        assert_eq!(
            l,
            LinkAddr {
                index: 3,
                mac: Some(mac)
            }
        );
        // lo0 has no link-level address.
        assert_eq!(parse_sockaddr_dl(&sdl(2, b"lo0", &[])).unwrap().mac, None);
        let mut not_link = sdl(2, b"lo0", &[]);
        not_link[1] = AF_INET;
        assert!(parse_sockaddr_dl(&not_link).is_none());
        assert!(parse_sockaddr_dl(&[0; 4]).is_none());
    }

    fn cmsg(level: i32, ty: i32, data: &[u8]) -> Vec<u8> {
        let len = cmsg_align(CMSG_HDR) + data.len();
        let mut b = Vec::new();
        b.extend_from_slice(&(len as u32).to_ne_bytes());
        b.extend_from_slice(&level.to_ne_bytes());
        b.extend_from_slice(&ty.to_ne_bytes());
        b.resize(cmsg_align(CMSG_HDR), 0);
        b.extend_from_slice(data);
        b.resize(cmsg_align(len), 0);
        b
    }

    #[test]
    fn control_messages_v4() {
        let mut buf = cmsg(IPPROTO_IP, IP_RECVIF, &sdl(4, b"em1", &[2, 0, 0, 0, 0, 1]));
        buf.extend(cmsg(IPPROTO_IP, IP_RECVTTL, &[255]));
        let c = parse_rx_control(&buf);
        assert_eq!(
            c,
            RxControl {
                ifindex: Some(4),
                ttl: Some(255),
                dst6: None
            }
        );
        // A truncated trailer is ignored, what came before is kept.
        buf.extend_from_slice(&[1, 2, 3]);
        assert_eq!(parse_rx_control(&buf).ttl, Some(255));
        // A header claiming more than the buffer stops the walk.
        let mut bad = cmsg(IPPROTO_IP, IP_RECVTTL, &[64]);
        bad[0] = 200;
        assert_eq!(parse_rx_control(&bad), RxControl::default());
    }

    #[test]
    fn control_messages_v6() {
        let mut info = "ff02::12".parse::<Ipv6Addr>().unwrap().octets().to_vec();
        info.extend_from_slice(&7u32.to_ne_bytes());
        let mut buf = cmsg(IPPROTO_IPV6, IPV6_HOPLIMIT, &255i32.to_ne_bytes());
        buf.extend(cmsg(IPPROTO_IPV6, IPV6_PKTINFO, &info));
        let c = parse_rx_control(&buf);
        assert_eq!(c.ttl, Some(255));
        assert_eq!(c.ifindex, Some(7));
        assert_eq!(c.dst6, Some("ff02::12".parse().unwrap()));
    }

    #[test]
    fn raw_ipv4_ignores_ip_len() {
        let vrrp = [0x21, 9, 100, 1, 0, 1, 0, 0, 10, 0, 0, 1];
        let mut d = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 2, 224, 0, 0, 18,
        ];
        d.extend_from_slice(&vrrp);
        // Network order total, host order total, host order minus header: same result.
        for ip_len in [
            (32u16).to_be_bytes(),
            (32u16).to_le_bytes(),
            (12u16).to_le_bytes(),
        ] {
            d[2..4].copy_from_slice(&ip_len);
            let p = parse_raw_ipv4(&d).unwrap();
            assert_eq!(p.ttl, 255);
            assert_eq!(p.src, Ipv4Addr::new(10, 0, 0, 2));
            assert_eq!(p.dst, Ipv4Addr::new(224, 0, 0, 18));
            assert_eq!(p.payload, &vrrp);
            assert_eq!(vrrp_vrid(p.payload), Some(9));
        }
        assert!(parse_raw_ipv4(&d[..19]).is_none());
        d[0] = 0x46; // claims options that are not there... still 24 <= 32
        assert_eq!(parse_raw_ipv4(&d).unwrap().payload.len(), 8);
        d[0] = 0x65;
        assert!(parse_raw_ipv4(&d).is_none());
    }

    #[test]
    fn embedded_scope() {
        let a: Ipv6Addr = "fe80:4::1".parse().unwrap();
        assert_eq!(
            clear_embedded_scope(a),
            "fe80::1".parse::<Ipv6Addr>().unwrap()
        );
        let m: Ipv6Addr = "ff02:4::12".parse().unwrap();
        assert_eq!(
            clear_embedded_scope(m),
            "ff02::12".parse::<Ipv6Addr>().unwrap()
        );
        let g: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(clear_embedded_scope(g), g);
    }
}
