//! AF_PACKET sniffer for `-m 0`: every Ethernet frame carrying IPv4 protocol 112 or IPv6
//! next header 112 on one interface (both directions), whole frames.
//!
//! The socket is created with protocol 0 (receives nothing), the cBPF filter is attached,
//! then it is bound to the interface with `ETH_P_ALL`: no unfiltered frame is queued and
//! frames of other interfaces are never seen. No promiscuous mode: the sniffer sees what
//! the host receives (multicast adverts on 224.0.0.18 / ff02::12 are received once any
//! socket joined the group; the sniffer joins nothing by itself).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use super::error::IoContext;
use super::sys::{self, RecvBatch};
use super::{cbpf, iface, NetResult};

const ETH_P_ALL: u16 = 0x0003;

/// A captured frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SniffedFrame<'a> {
    /// Interface index the frame was seen on.
    pub ifindex: u32,
    /// `true` for frames this host sent (`PACKET_OUTGOING`).
    pub outgoing: bool,
    /// The whole Ethernet frame.
    pub frame: &'a [u8],
}

/// The sniffer socket.
pub struct Sniffer {
    sock: Socket,
    iface: String,
    batch: RecvBatch,
}

impl std::fmt::Debug for Sniffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sniffer")
            .field("iface", &self.iface)
            .finish()
    }
}

impl Sniffer {
    /// Opens a sniffer on interface `name` (nonblocking).
    pub fn open(name: &str) -> NetResult<Self> {
        let ifindex = iface::ifindex(name)?;
        let ctx = |w: &str| format!("{w} (sniffer on {name})");
        let sock = Socket::new(Domain::PACKET, Type::RAW.nonblocking().cloexec(), None)
            .ctx(|| ctx("creating AF_PACKET socket"))?;
        sock.attach_filter(&sys::to_sock_filter(&cbpf::sniff_ethernet()))
            .ctx(|| ctx("attaching socket filter"))?;
        sys::bind_packet(&sock, ifindex, ETH_P_ALL).ctx(|| ctx("binding"))?;
        Ok(Sniffer {
            sock,
            iface: name.to_string(),
            batch: RecvBatch::new(16, 9216),
        })
    }

    /// Waits up to `timeout` for a frame.
    pub fn wait_readable(&self, timeout: Duration) -> NetResult<bool> {
        sys::poll_readable(&self.sock, timeout).ctx(|| format!("polling sniffer on {}", self.iface))
    }

    /// Receives one frame; `Ok(None)` if none is queued.
    pub fn recv(&mut self) -> NetResult<Option<SniffedFrame<'_>>> {
        let n = self
            .batch
            .recv(&self.sock, 1)
            .ctx(|| format!("receiving on sniffer {}", self.iface))?;
        if n == 0 {
            return Ok(None);
        }
        Ok(self.batch.get(0).map(|(m, d)| SniffedFrame {
            ifindex: m.ifindex.unwrap_or(0),
            outgoing: m.pkttype == Some(libc::PACKET_OUTGOING),
            frame: d,
        }))
    }
}

impl AsRawFd for Sniffer {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for Sniffer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}
