//! A raw-socket (AF_PACKET) frame sender living in a namespace: used to flood a router with
//! forged or foreign adverts.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::error::{io_ctx, LabError, Result};

/// An AF_PACKET socket bound to an interface of a namespace.
#[derive(Debug)]
pub struct Injector {
    fd: OwnedFd,
    ifindex: i32,
}

fn last_err(what: &str) -> LabError {
    io_ctx(what.to_string())(std::io::Error::last_os_error())
}

/// Opens, inside `ns`, a raw packet socket on `ifname` (runs in a helper thread that joins
/// the namespace; the socket stays in that namespace afterwards).
fn open_in(ns: &str, ifname: &str) -> Result<(OwnedFd, i32)> {
    let path = format!("/run/netns/{ns}");
    let ifname = std::ffi::CString::new(ifname).map_err(|e| LabError::Other(e.to_string()))?;
    let nsfile = File::open(&path).map_err(io_ctx(format!("opening {path}")))?;
    let h = std::thread::spawn(move || -> Result<(OwnedFd, i32)> {
        // SAFETY: setns on this helper thread only; the fd is valid for the call.
        if unsafe { libc::setns(nsfile.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(last_err("setns"));
        }
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2) call.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
        if raw < 0 {
            return Err(last_err("socket(AF_PACKET)"));
        }
        // SAFETY: `raw` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: NUL-terminated name.
        let idx = unsafe { libc::if_nametoindex(ifname.as_ptr()) };
        if idx == 0 {
            return Err(last_err("if_nametoindex"));
        }
        // SAFETY: zeroed sockaddr_ll is a valid value; fields set below.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = idx as i32;
        // SAFETY: sll is a properly sized sockaddr_ll.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                std::ptr::addr_of!(sll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc != 0 {
            return Err(last_err("bind(AF_PACKET)"));
        }
        Ok((fd, idx as i32))
    });
    h.join()
        .map_err(|_| LabError::Other("injector thread panicked".into()))?
}

impl Injector {
    /// Opens a sender on `ifname` of namespace `ns`.
    pub fn open(ns: &str, ifname: &str) -> Result<Injector> {
        let (fd, ifindex) = open_in(ns, ifname)?;
        Ok(Injector { fd, ifindex })
    }

    /// Sends one complete Ethernet frame.
    pub fn send(&self, frame: &[u8]) -> Result<()> {
        // SAFETY: zeroed sockaddr_ll is valid; buffer pointer/length come from a slice.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = self.ifindex;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(frame.get(..6).unwrap_or(&[0; 6]));
        // SAFETY: see above.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                std::ptr::addr_of!(sll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            return Err(last_err("sendto(AF_PACKET)"));
        }
        Ok(())
    }

    /// Sends `frames` round-robin at `rate` frames/s for `duration`; returns how many were sent.
    pub fn flood(&self, frames: &[Vec<u8>], rate: u32, duration: Duration) -> Result<u64> {
        if frames.is_empty() || rate == 0 {
            return Ok(0);
        }
        let period = Duration::from_secs_f64(1.0 / f64::from(rate));
        let start = Instant::now();
        let mut sent: u64 = 0;
        while start.elapsed() < duration {
            let f = &frames[(sent as usize) % frames.len()];
            self.send(f)?;
            sent += 1;
            let next = period * (sent as u32);
            if let Some(d) = next.checked_sub(start.elapsed()) {
                std::thread::sleep(d);
            }
        }
        Ok(sent)
    }
}
