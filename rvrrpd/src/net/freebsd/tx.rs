//! BPF transmit on FreeBSD: sends prebuilt Ethernet frames (adverts with the virtual MAC as
//! source, gratuitous ARP, unsolicited NA) on one interface by writing them to a BPF device.
//!
//! The device is `/dev/bpf` (cloning: every open gets its own instance), attached with
//! `BIOCSETIF` and put in "header complete" mode with `BIOCSHDRCMPLT`, so the kernel keeps
//! the source MAC we wrote (the virtual MAC) instead of filling in the interface's. Every
//! `write(2)` is one whole frame. The device is opened write-only, so it captures nothing.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use super::{iface, sys};
use crate::net::error::IoContext;
use crate::net::{NetError, NetResult};

/// A BPF device attached to one interface, transmit only (same API as the Linux
/// `net::tx::TxSocket`).
#[derive(Debug)]
pub struct TxSocket {
    fd: OwnedFd,
    ifindex: u32,
    iface: String,
}

impl TxSocket {
    /// Opens a BPF device on the interface `name`.
    pub fn open(name: &str) -> NetResult<Self> {
        let ifindex = iface::ifindex(name)?;
        Self::open_index(name, ifindex)
    }

    /// Opens a BPF device on `name` (`ifindex` is recorded for the caller: BPF attaches by
    /// name).
    pub fn open_index(name: &str, ifindex: u32) -> NetResult<Self> {
        let fd = sys::bpf_open(name)
            .ctx(|| format!("opening /dev/bpf on {name} (BIOCSETIF, BIOCSHDRCMPLT)"))?;
        Ok(TxSocket {
            fd,
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

    /// Sends frames, one `write(2)` each (BPF has no batch write). Returns the count.
    pub fn send_batch(&self, frames: &[&[u8]]) -> NetResult<usize> {
        if let Some(f) = frames.iter().find(|f| f.len() < 14) {
            return Err(NetError::Invalid(format!(
                "sending on {}: frame of {} bytes is shorter than an Ethernet header",
                self.iface,
                f.len()
            )));
        }
        for (i, f) in frames.iter().enumerate() {
            sys::write_frame(&self.fd, f).ctx(|| {
                format!(
                    "sending frame {} of {} on {}",
                    i + 1,
                    frames.len(),
                    self.iface
                )
            })?;
        }
        Ok(frames.len())
    }
}

impl AsRawFd for TxSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for TxSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
