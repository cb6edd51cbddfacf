//! Raw VRRP receive sockets: one per (interface, address family), shared by every group
//! on that interface.
//!
//! Set-up order matters: the classic BPF filter is attached **before** the socket is
//! bound to the device and joins the group, and whatever was queued before the filter
//! existed is drained, so no unfiltered packet ever reaches the worker.
//!
//! * IPv4: `AF_INET`/`SOCK_RAW`/112, `SO_BINDTODEVICE`, `IP_ADD_MEMBERSHIP` 224.0.0.18 with
//!   `ip_mreqn` on the ifindex, `IP_MULTICAST_ALL` 0, `IP_MULTICAST_LOOP` 0. Datagrams
//!   include the IPv4 header, from which TTL, source and destination are read.
//! * IPv6: `AF_INET6`/`SOCK_RAW`/112, bound to the device, `IPV6_ADD_MEMBERSHIP` ff02::12
//!   on the ifindex, `IPV6_RECVHOPLIMIT` + `IPV6_RECVPKTINFO` (read as control messages).
//!
//! Interfaces are never put in promiscuous mode. The sockets are nonblocking: register
//! [`RxSocket::as_raw_fd`] with epoll (or tokio's `AsyncFd`) and drain with
//! [`RxSocket::recv_batch`] (`recvmmsg`) or [`RxSocket::recv`].

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};

use super::error::IoContext;
use super::sys::{self, RecvBatch};
use super::{cbpf, iface, NetError, NetResult, IPPROTO_VRRP, VRRP_MCAST_V4, VRRP_MCAST_V6};

pub use super::types::{RxConfig, RxDatagram};
/// Address family of a receive socket (the protocol core's own type).
pub use crate::wire::Family;

/// Largest datagram we keep: a VRRP message is at most 8 + 255×16 + 8 bytes, plus a
/// 60-byte IPv4 header; anything longer is truncated and dropped.
const BUF_SIZE: usize = 4200;

/// A raw VRRP receive socket (see the module documentation).
#[derive(Debug)]
pub struct RxSocket {
    sock: Socket,
    family: Family,
    ifindex: u32,
    iface: String,
    batch: RecvBatchBox,
    filtered: bool,
}

struct RecvBatchBox(RecvBatch);

impl std::fmt::Debug for RecvBatchBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecvBatch({})", self.0.capacity())
    }
}

impl RxSocket {
    /// Opens, filters, binds and joins (in that order).
    pub fn open(cfg: &RxConfig) -> NetResult<Self> {
        let name = cfg.iface.as_str();
        let ifindex = iface::ifindex(name)?;
        let fam = match cfg.family {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        };
        let ctx = |what: &str| format!("{what} (VRRP {fam} receive socket on {name})");
        let domain = match cfg.family {
            Family::Ipv4 => Domain::IPV4,
            Family::Ipv6 => Domain::IPV6,
        };
        let sock = Socket::new(
            domain,
            Type::RAW.nonblocking().cloexec(),
            Some(Protocol::from(i32::from(IPPROTO_VRRP))),
        )
        .ctx(|| ctx("creating socket"))?;

        // 1. Filter first.
        if cfg.socket_filter {
            let prog = match cfg.family {
                Family::Ipv4 => cbpf::vrrp_ipv4(&cfg.vrids, &cfg.peers),
                Family::Ipv6 => cbpf::vrrp_ipv6(&cfg.vrids, &cfg.peers),
            }
            .map_err(|e| NetError::Invalid(e.to_string()))?;
            sock.attach_filter(&sys::to_sock_filter(&prog))
                .ctx(|| ctx("attaching socket filter"))?;
        }
        let mut batch = RecvBatch::new(cfg.batch, BUF_SIZE);
        // Drop whatever arrived between socket() and the filter.
        while batch
            .recv(&sock, batch.capacity())
            .ctx(|| ctx("draining"))?
            > 0
        {}

        if let Some(sz) = cfg.rcvbuf {
            sock.set_recv_buffer_size(sz)
                .ctx(|| ctx("setting SO_RCVBUF"))?;
        }
        // 2. Bind to the device.
        sock.bind_device(Some(name.as_bytes()))
            .ctx(|| ctx("binding to device (SO_BINDTODEVICE)"))?;
        // Kernel receive timestamps: timers then run from an advert's arrival, not from when
        // the worker read it.
        sys::setsockopt_int(&sock, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)
            .ctx(|| ctx("setting SO_TIMESTAMPNS"))?;
        // 3. Join the group on this interface only; never loop our own sends back.
        match cfg.family {
            Family::Ipv4 => {
                sock.set_multicast_all_v4(false)
                    .ctx(|| ctx("clearing IP_MULTICAST_ALL"))?;
                sock.join_multicast_v4_n(&VRRP_MCAST_V4, &InterfaceIndexOrAddress::Index(ifindex))
                    .ctx(|| ctx("joining 224.0.0.18"))?;
                sock.set_multicast_loop_v4(false)
                    .ctx(|| ctx("clearing IP_MULTICAST_LOOP"))?;
            }
            Family::Ipv6 => {
                // IPV6_MULTICAST_ALL appeared in Linux 4.20: best effort.
                let _ = sock.set_multicast_all_v6(false);
                sock.join_multicast_v6(&VRRP_MCAST_V6, ifindex)
                    .ctx(|| ctx("joining ff02::12"))?;
                sock.set_multicast_loop_v6(false)
                    .ctx(|| ctx("clearing IPV6_MULTICAST_LOOP"))?;
                sock.set_recv_hoplimit_v6(true)
                    .ctx(|| ctx("setting IPV6_RECVHOPLIMIT"))?;
                sys::setsockopt_int(&sock, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)
                    .ctx(|| ctx("setting IPV6_RECVPKTINFO"))?;
            }
        }
        Ok(RxSocket {
            sock,
            family: cfg.family,
            ifindex,
            iface: cfg.iface.clone(),
            batch: RecvBatchBox(batch),
            filtered: cfg.socket_filter,
        })
    }

    /// Replaces the filter (e.g. after a reload changed the groups on this interface):
    /// `vrids` accepted, those in `peers` only from their unicast peers.
    pub fn set_filter(&self, vrids: &[u8], peers: &cbpf::UnicastPeers) -> NetResult<()> {
        let prog = match self.family {
            Family::Ipv4 => cbpf::vrrp_ipv4(vrids, peers),
            Family::Ipv6 => cbpf::vrrp_ipv6(vrids, peers),
        }
        .map_err(|e| NetError::Invalid(e.to_string()))?;
        self.sock
            .attach_filter(&sys::to_sock_filter(&prog))
            .ctx(|| format!("replacing the socket filter on {}", self.iface))
    }

    /// Address family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Interface index the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Interface name the socket is bound to.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// Whether a classic BPF filter is attached.
    pub fn is_filtered(&self) -> bool {
        self.filtered
    }

    /// Waits up to `timeout` for the socket to become readable (for simple blocking loops
    /// and tests; the daemon uses epoll on [`AsRawFd::as_raw_fd`]).
    pub fn wait_readable(&self, timeout: Duration) -> NetResult<bool> {
        sys::poll_readable(&self.sock, timeout).ctx(|| format!("polling {}", self.iface))
    }

    /// Receives at most one datagram; `Ok(None)` when nothing is queued. Malformed
    /// datagrams (truncated, bad IPv4 header) are skipped.
    pub fn recv(&mut self) -> NetResult<Option<RxDatagram<'_>>> {
        loop {
            let n = self
                .batch
                .0
                .recv(&self.sock, 1)
                .ctx(|| format!("receiving on {}", self.iface))?;
            if n == 0 {
                return Ok(None);
            }
            if self.decode(0).is_some() {
                return Ok(self.decode(0));
            }
        }
    }

    /// Drains up to one batch with `recvmmsg(2)`, calling `f` for each well-formed
    /// datagram. Returns the number of datagrams read from the socket (0 = queue empty).
    pub fn recv_batch(&mut self, mut f: impl FnMut(RxDatagram<'_>)) -> NetResult<usize> {
        let cap = self.batch.0.capacity();
        let n = self
            .batch
            .0
            .recv(&self.sock, cap)
            .ctx(|| format!("receiving on {}", self.iface))?;
        for i in 0..n {
            if let Some(d) = self.decode(i) {
                f(d);
            }
        }
        Ok(n)
    }

    fn decode(&self, i: usize) -> Option<RxDatagram<'_>> {
        let (meta, data) = self.batch.0.get(i)?;
        if meta.truncated {
            return None;
        }
        match self.family {
            Family::Ipv4 => {
                let (hlen, total, ttl, src, dst) = parse_ipv4_header(data)?;
                Some(RxDatagram {
                    src: IpAddr::V4(src),
                    dst: IpAddr::V4(dst),
                    ttl,
                    ifindex: self.ifindex,
                    payload: &data[hlen..total],
                    rx_ns: meta.rx_ns,
                })
            }
            Family::Ipv6 => Some(RxDatagram {
                src: meta.src?,
                dst: IpAddr::V6(meta.dst6?),
                ttl: meta.hoplimit?,
                ifindex: meta.ifindex.unwrap_or(self.ifindex),
                payload: data,
                rx_ns: meta.rx_ns,
            }),
        }
    }
}

/// Parses an IPv4 header: `(header length, total length (clamped), ttl, src, dst)`.
pub fn parse_ipv4_header(d: &[u8]) -> Option<(usize, usize, u8, Ipv4Addr, Ipv4Addr)> {
    if d.len() < 20 || d[0] >> 4 != 4 {
        return None;
    }
    let hlen = usize::from(d[0] & 0x0f) * 4;
    if hlen < 20 || d.len() < hlen {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([d[2], d[3]]));
    // Raw sockets hand us exactly the IP datagram; trust Total Length when sane.
    let total = if total >= hlen && total <= d.len() {
        total
    } else {
        d.len()
    };
    let src = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
    let dst = Ipv4Addr::new(d[16], d[17], d[18], d[19]);
    Some((hlen, total, d[8], src, dst))
}

impl AsRawFd for RxSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for RxSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header() {
        let mut h = vec![
            0x46, 0, 0, 28, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 2, 224, 0, 0, 18,
        ];
        h.extend_from_slice(&[1, 1, 1, 1]); // options
        h.extend_from_slice(&[0x21, 1, 100, 0]);
        h.extend_from_slice(&[0, 0]); // padding beyond total length
        let (hl, total, ttl, s, d) = parse_ipv4_header(&h).unwrap();
        assert_eq!((hl, total, ttl), (24, 28, 255));
        assert_eq!(s, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(d, VRRP_MCAST_V4);
        assert!(parse_ipv4_header(&h[..10]).is_none());
        let mut bad = h.clone();
        bad[0] = 0x44;
        assert!(parse_ipv4_header(&bad).is_none());
    }
}
