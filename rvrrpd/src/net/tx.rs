//! AF_PACKET transmit socket: sends prebuilt Ethernet frames (adverts with the virtual MAC
//! as source, gratuitous ARP, unsolicited NA) on one interface.
//!
//! The socket is bound with protocol 0, so it never receives anything (no queue to drain,
//! no copy of every frame on the wire). Frames go without an address: the kernel sends them
//! on the bound interface with the ethertype of their own header.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use socket2::{Domain, Socket, Type};

use super::error::IoContext;
use super::{iface, sys, NetError, NetResult};

/// An AF_PACKET/SOCK_RAW socket bound to one interface, transmit only.
#[derive(Debug)]
pub struct TxSocket {
    sock: Socket,
    ifindex: u32,
    iface: String,
}

impl TxSocket {
    /// Opens a transmit socket on the interface `name`.
    pub fn open(name: &str) -> NetResult<Self> {
        let ifindex = iface::ifindex(name)?;
        Self::open_index(name, ifindex)
    }

    /// Opens a transmit socket on `ifindex` (`name` is only used in error messages).
    pub fn open_index(name: &str, ifindex: u32) -> NetResult<Self> {
        let sock = Socket::new(Domain::PACKET, Type::RAW.cloexec(), None)
            .ctx(|| format!("creating AF_PACKET transmit socket for {name}"))?;
        sys::bind_packet(&sock, ifindex, 0)
            .ctx(|| format!("binding AF_PACKET transmit socket to {name}"))?;
        Ok(TxSocket {
            sock,
            ifindex,
            iface: name.to_string(),
        })
    }

    /// Interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends one complete Ethernet frame (destination, source, ethertype, payload).
    pub fn send(&self, frame: &[u8]) -> NetResult<()> {
        self.send_batch(&[frame]).map(drop)
    }

    /// Sends frames with `sendmmsg(2)`, retrying until all are sent. Returns the count.
    pub fn send_batch(&self, frames: &[&[u8]]) -> NetResult<usize> {
        if let Some(f) = frames.iter().find(|f| f.len() < 14) {
            return Err(NetError::Invalid(format!(
                "sending on {}: frame of {} bytes is shorter than an Ethernet header",
                self.iface,
                f.len()
            )));
        }
        let mut done = 0;
        while done < frames.len() {
            let n = sys::sendmmsg_packet(&self.sock, &frames[done..])
                .ctx(|| format!("sending {} frame(s) on {}", frames.len() - done, self.iface))?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }
}

impl AsRawFd for TxSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for TxSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}
