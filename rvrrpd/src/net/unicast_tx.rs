//! Unicast advert transmit: a raw IP socket (protocol 112) per (interface, source address,
//! TTL), sending each advert to every peer with one `sendmmsg`.
//!
//! Unlike multicast adverts (whole Ethernet frames from the virtual MAC on an AF_PACKET
//! socket), unicast adverts need the peer's MAC: the kernel routes them and resolves the
//! neighbour, as keepalived's unicast mode does. The socket is bound to the device (adverts
//! leave by the group's interface even towards routed peers) and to the source address with
//! `IP_FREEBIND`, so a source configured a moment later (or a VIP) does not stop the group.
//! Raw sockets receive every packet of their protocol: a reject-all filter keeps this one's
//! queue empty (adverts are received by the receive path).

use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::error::IoContext;
use super::{cbpf, sys, NetError, NetResult, IPPROTO_VRRP};

/// IPv4 TOS / IPv6 traffic class of adverts: internetwork control, as for multicast.
const TOS_INTERNETWORK_CONTROL: u32 = 0xc0;

/// A raw IP socket sending one group family's unicast adverts on one interface.
#[derive(Debug)]
pub struct UnicastTx {
    sock: Socket,
    ifindex: u32,
    iface: String,
    src: IpAddr,
}

impl UnicastTx {
    /// Opens a socket on `iface` (`ifindex`) sending from `src` with TTL / hop limit `ttl`.
    pub fn open(iface: &str, ifindex: u32, src: IpAddr, ttl: u8) -> NetResult<Self> {
        let ctx =
            |what: &str| format!("{what} (unicast VRRP transmit socket on {iface}, from {src})");
        let domain = match src {
            IpAddr::V4(_) => Domain::IPV4,
            IpAddr::V6(_) => Domain::IPV6,
        };
        let sock = Socket::new(
            domain,
            Type::RAW.cloexec(),
            Some(Protocol::from(i32::from(IPPROTO_VRRP))),
        )
        .ctx(|| ctx("creating socket"))?;
        sock.attach_filter(&sys::to_sock_filter(&cbpf::reject_all()))
            .ctx(|| ctx("attaching the reject-all filter"))?;
        sock.bind_device(Some(iface.as_bytes()))
            .ctx(|| ctx("binding to device (SO_BINDTODEVICE)"))?;
        match src {
            IpAddr::V4(_) => {
                sock.set_freebind(true).ctx(|| ctx("setting IP_FREEBIND"))?;
                sock.set_ttl(u32::from(ttl)).ctx(|| ctx("setting IP_TTL"))?;
                sock.set_tos(TOS_INTERNETWORK_CONTROL)
                    .ctx(|| ctx("setting IP_TOS"))?;
            }
            IpAddr::V6(_) => {
                sock.set_freebind_ipv6(true)
                    .ctx(|| ctx("setting IPV6_FREEBIND"))?;
                sock.set_unicast_hops_v6(u32::from(ttl))
                    .ctx(|| ctx("setting IPV6_UNICAST_HOPS"))?;
                sys::setsockopt_int(
                    &sock,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_TCLASS,
                    TOS_INTERNETWORK_CONTROL as libc::c_int,
                )
                .ctx(|| ctx("setting IPV6_TCLASS"))?;
            }
        }
        sock.bind(&Self::sockaddr(src, ifindex))
            .ctx(|| ctx("binding to the source address"))?;
        Ok(UnicastTx {
            sock,
            ifindex,
            iface: iface.to_string(),
            src,
        })
    }

    /// The socket address of `addr` on this interface (link-local IPv6 needs the scope).
    pub fn sockaddr(addr: IpAddr, ifindex: u32) -> SockAddr {
        match addr {
            IpAddr::V4(a) => SockAddr::from(SocketAddr::from((a, 0))),
            IpAddr::V6(a) => {
                let scope = if a.is_unicast_link_local() {
                    ifindex
                } else {
                    0
                };
                SockAddr::from(SocketAddrV6::new(a, 0, 0, scope))
            }
        }
    }

    /// Interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends VRRP messages, each to its peer, retrying until all are taken. Returns the count.
    pub fn send_batch(&self, datagrams: &[(&SockAddr, &[u8])]) -> NetResult<usize> {
        let mut done = 0;
        while done < datagrams.len() {
            let n = sys::sendmmsg_to(&self.sock, &datagrams[done..]).ctx(|| {
                format!(
                    "sending {} unicast advert(s) on {} from {}",
                    datagrams.len() - done,
                    self.iface,
                    self.src
                )
            })?;
            if n == 0 {
                return Err(NetError::Invalid(format!(
                    "sending unicast adverts on {}: the kernel took none",
                    self.iface
                )));
            }
            done += n;
        }
        Ok(done)
    }
}

impl AsRawFd for UnicastTx {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}
