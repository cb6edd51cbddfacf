//! Raw VRRP receive sockets on FreeBSD: one per (interface, address family), same API as
//! the Linux `net::rx` (`RxConfig`, `RxSocket`, `RxDatagram`).
//!
//! FreeBSD has neither `SO_BINDTODEVICE` nor classic BPF filters on IP sockets, so:
//! * the socket joins the group on its interface only, and every datagram whose receiving
//!   interface (`IP_RECVIF` / `IPV6_PKTINFO`) is another one is dropped in user space;
//! * the VRID filter (`RxConfig::socket_filter`) runs in user space too.
//!
//! * IPv4: `AF_INET`/`SOCK_RAW`/112, `IP_ADD_MEMBERSHIP` 224.0.0.18 with `ip_mreqn` on the
//!   ifindex, `IP_MULTICAST_LOOP` 0, `IP_RECVIF` + `IP_RECVTTL`. Datagrams include the IPv4
//!   header; its `ip_len` is not trusted (see [`super::codec::parse_raw_ipv4`] and ip(4)).
//! * IPv6: `AF_INET6`/`SOCK_RAW`/112, `IPV6_JOIN_GROUP` ff02::12 on the ifindex,
//!   `IPV6_MULTICAST_LOOP` 0, `IPV6_RECVHOPLIMIT` + `IPV6_RECVPKTINFO`.
//!
//! Sockets are nonblocking: register [`RxSocket::as_raw_fd`] with kqueue (or tokio's
//! `AsyncFd`) and drain with [`RxSocket::recv_batch`] or [`RxSocket::recv`].

use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};

use super::codec::{self, RxControl};
use super::{iface, sys};
use crate::net::error::IoContext;
use crate::net::{NetResult, IPPROTO_VRRP, VRRP_MCAST_V4, VRRP_MCAST_V6};

pub use crate::net::types::{RxConfig, RxDatagram};
/// Address family of a receive socket (the protocol core's own type).
pub use crate::wire::Family;

/// Largest datagram we keep (as on Linux).
const BUF_SIZE: usize = 4200;

/// A set of VRIDs readable while another thread replaces it.
#[derive(Debug, Default)]
struct VridSet([AtomicU64; 4]);

impl VridSet {
    fn set(&self, vrids: &[u8]) {
        let mut words = [0u64; 4];
        for v in vrids {
            words[usize::from(*v / 64)] |= 1 << (v % 64);
        }
        for (w, v) in self.0.iter().zip(words) {
            w.store(v, Ordering::Relaxed);
        }
    }

    fn contains(&self, v: u8) -> bool {
        self.0[usize::from(v / 64)].load(Ordering::Relaxed) & (1 << (v % 64)) != 0
    }
}

/// A decoded datagram, the payload given as a range of the receive buffer.
struct Head {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    ifindex: u32,
    start: usize,
    end: usize,
}

/// A raw VRRP receive socket (see the module documentation).
#[derive(Debug)]
pub struct RxSocket {
    sock: Socket,
    family: Family,
    ifindex: u32,
    iface: String,
    batch: usize,
    filtered: bool,
    vrids: VridSet,
    buf: Vec<u8>,
    ctrl: Box<sys::CtrlBuf>,
}

impl RxSocket {
    /// Opens the socket, asks for the control messages, joins the group on the interface.
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
        if let Some(sz) = cfg.rcvbuf {
            sock.set_recv_buffer_size(sz)
                .ctx(|| ctx("setting SO_RCVBUF"))?;
        }
        match cfg.family {
            Family::Ipv4 => {
                sys::setsockopt_int(&sock, libc::IPPROTO_IP, libc::IP_RECVIF, 1)
                    .ctx(|| ctx("setting IP_RECVIF"))?;
                sys::setsockopt_int(&sock, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)
                    .ctx(|| ctx("setting IP_RECVTTL"))?;
                sock.join_multicast_v4_n(&VRRP_MCAST_V4, &InterfaceIndexOrAddress::Index(ifindex))
                    .ctx(|| ctx("joining 224.0.0.18"))?;
                sock.set_multicast_loop_v4(false)
                    .ctx(|| ctx("clearing IP_MULTICAST_LOOP"))?;
            }
            Family::Ipv6 => {
                sys::setsockopt_int(&sock, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)
                    .ctx(|| ctx("setting IPV6_RECVHOPLIMIT"))?;
                sys::setsockopt_int(&sock, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)
                    .ctx(|| ctx("setting IPV6_RECVPKTINFO"))?;
                sock.join_multicast_v6(&VRRP_MCAST_V6, ifindex)
                    .ctx(|| ctx("joining ff02::12 (IPV6_JOIN_GROUP)"))?;
                sock.set_multicast_loop_v6(false)
                    .ctx(|| ctx("clearing IPV6_MULTICAST_LOOP"))?;
            }
        }
        let vrids = VridSet::default();
        vrids.set(&cfg.vrids);
        Ok(RxSocket {
            sock,
            family: cfg.family,
            ifindex,
            iface: cfg.iface.clone(),
            batch: cfg.batch.max(1),
            filtered: cfg.socket_filter,
            vrids,
            buf: vec![0u8; BUF_SIZE],
            ctrl: Box::default(),
        })
    }

    /// Replaces the VRID filter (e.g. after a reload changed the groups on this interface).
    pub fn set_vrids(&self, vrids: &[u8]) -> NetResult<()> {
        self.vrids.set(vrids);
        Ok(())
    }

    /// Address family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Interface index the socket listens on.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Interface name the socket listens on.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// Whether datagrams are filtered on VRID (in user space on FreeBSD).
    pub fn is_filtered(&self) -> bool {
        self.filtered
    }

    /// Waits up to `timeout` for the socket to become readable.
    pub fn wait_readable(&self, timeout: Duration) -> NetResult<bool> {
        sys::poll_readable(&self.sock, timeout).ctx(|| format!("polling {}", self.iface))
    }

    /// Receives at most one datagram; `Ok(None)` when nothing is queued. Malformed or
    /// filtered datagrams are skipped.
    pub fn recv(&mut self) -> NetResult<Option<RxDatagram<'_>>> {
        loop {
            match self.recv_one()? {
                None => return Ok(None),
                Some(None) => continue,
                Some(Some(h)) => return Ok(Some(self.datagram(&h))),
            }
        }
    }

    /// Reads up to one batch of datagrams, calling `f` for each accepted one. Returns the
    /// number of datagrams read from the socket (0 = queue empty).
    pub fn recv_batch(&mut self, mut f: impl FnMut(RxDatagram<'_>)) -> NetResult<usize> {
        let mut n = 0;
        while n < self.batch {
            match self.recv_one()? {
                None => break,
                Some(h) => {
                    n += 1;
                    if let Some(h) = h {
                        f(self.datagram(&h));
                    }
                }
            }
        }
        Ok(n)
    }

    fn datagram(&self, h: &Head) -> RxDatagram<'_> {
        RxDatagram {
            src: h.src,
            dst: h.dst,
            ttl: h.ttl,
            ifindex: h.ifindex,
            payload: &self.buf[h.start..h.end],
            rx_ns: 0,
        }
    }

    /// `None`: queue empty; `Some(None)`: a datagram was read and dropped.
    fn recv_one(&mut self) -> NetResult<Option<Option<Head>>> {
        let Some(r) = sys::recvmsg(&self.sock, &mut self.buf, &mut self.ctrl)
            .ctx(|| format!("receiving on {}", self.iface))?
        else {
            return Ok(None);
        };
        if r.truncated {
            return Ok(Some(None));
        }
        let c = codec::parse_rx_control(&self.ctrl.0[..r.ctrl_len]);
        Ok(Some(self.decode(r.src, r.len, c)))
    }

    fn decode(&self, src: Option<IpAddr>, len: usize, c: RxControl) -> Option<Head> {
        let ifindex = c.ifindex?;
        if ifindex != self.ifindex {
            return None;
        }
        let data = &self.buf[..len.min(self.buf.len())];
        let head = match self.family {
            Family::Ipv4 => {
                let p = codec::parse_raw_ipv4(data)?;
                let start = len - p.payload.len();
                Head {
                    src: IpAddr::V4(p.src),
                    dst: IpAddr::V4(p.dst),
                    ttl: p.ttl,
                    ifindex,
                    start,
                    end: len,
                }
            }
            Family::Ipv6 => Head {
                src: src?,
                dst: IpAddr::V6(c.dst6?),
                ttl: c.ttl?,
                ifindex,
                start: 0,
                end: len,
            },
        };
        if self.filtered {
            let vrid = codec::vrrp_vrid(&self.buf[head.start..head.end])?;
            if !self.vrids.contains(vrid) {
                return None;
            }
        }
        Some(head)
    }
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
