//! Thin `unsafe` wrappers around the FreeBSD system calls of the driver: the only module of
//! `net::freebsd` with `unsafe` code, one wrapper per call family, each with a `// SAFETY:`
//! argument. Kernel structures are built and parsed by the portable [`super::codec`]; here
//! they are only copied in and out. Everything returns `io::Result`; callers add context.

use std::ffi::{CStr, CString};
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::codec;

// The portable layouts of `codec` must be FreeBSD's: checked at compile time.
const _: () = {
    assert!(codec::IFNAMSIZ == libc::IFNAMSIZ);
    assert!(codec::AF_INET as libc::c_int == libc::AF_INET);
    assert!(codec::AF_LINK as libc::c_int == libc::AF_LINK);
    assert!(codec::IPPROTO_IP == libc::IPPROTO_IP);
    assert!(codec::IPPROTO_IPV6 == libc::IPPROTO_IPV6);
    assert!(codec::IP_RECVIF == libc::IP_RECVIF);
    assert!(codec::IP_RECVTTL == libc::IP_RECVTTL);
    assert!(codec::IPV6_PKTINFO == libc::IPV6_PKTINFO);
    assert!(codec::IPV6_HOPLIMIT == libc::IPV6_HOPLIMIT);
    assert!(codec::CMSG_HDR == size_of::<libc::cmsghdr>());
    // SAFETY: CMSG_LEN is pure arithmetic on its argument.
    assert!(codec::cmsg_align(codec::CMSG_HDR) == unsafe { libc::CMSG_LEN(0) } as usize);
    assert!(codec::SOCKADDR_IN_SIZE == size_of::<libc::sockaddr_in>());
    assert!(codec::IFREQ_SIZE == size_of::<libc::ifreq>());
    assert!(codec::IN_ALIASREQ_SIZE == size_of::<libc::ifaliasreq>());
    assert!(codec::iow(b'B', 108, codec::IFREQ_SIZE) as libc::c_ulong == libc::BIOCSETIF);
};

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_string())
}

// ---------------------------------------------------------------- interface names

/// `if_nametoindex(3)`.
pub(crate) fn if_nametoindex(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| invalid("NUL in interface name"))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(idx)
    }
}

/// `if_indextoname(3)`.
pub(crate) fn if_indextoname(index: u32) -> io::Result<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has the IF_NAMESIZE bytes the function may write.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success the buffer holds a NUL-terminated name.
    Ok(unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned())
}

// ---------------------------------------------------------------- sockets

/// `setsockopt(2)` with an `int` value.
pub(crate) fn setsockopt_int(
    fd: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: we pass a pointer to a live c_int and its exact size.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// `poll(2)` for readability.
pub(crate) fn poll_readable(fd: &impl AsRawFd, timeout: Duration) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd, as told to the kernel.
    match cvt(unsafe { libc::poll(&mut p, 1, ms) }) {
        Ok(n) => Ok(n > 0),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
        Err(e) => Err(e),
    }
}

/// Result of one [`recvmsg`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Received {
    /// Bytes of payload.
    pub len: usize,
    /// `MSG_TRUNC`: the datagram was longer than the buffer.
    pub truncated: bool,
    /// Bytes of control messages (parse with [`codec::parse_rx_control`]).
    pub ctrl_len: usize,
    /// Source address.
    pub src: Option<IpAddr>,
}

/// A control-message buffer, aligned for `struct cmsghdr`.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(8))]
pub(crate) struct CtrlBuf(pub [u8; 256]);

impl Default for CtrlBuf {
    fn default() -> Self {
        CtrlBuf([0; 256])
    }
}

/// Nonblocking `recvmsg(2)` of one datagram with its control messages; `Ok(None)` when
/// nothing is queued.
pub(crate) fn recvmsg(
    fd: &impl AsRawFd,
    buf: &mut [u8],
    ctrl: &mut CtrlBuf,
) -> io::Result<Option<Received>> {
    // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
    let mut name: libc::sockaddr_storage = unsafe { zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is valid.
    let mut h: libc::msghdr = unsafe { zeroed() };
    h.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
    h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    h.msg_iov = &mut iov;
    h.msg_iovlen = 1;
    h.msg_control = ctrl.0.as_mut_ptr().cast();
    h.msg_controllen = ctrl.0.len() as libc::socklen_t;
    // SAFETY: every pointer of `h` refers to a live buffer of the stated size.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut h, libc::MSG_DONTWAIT) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
            _ => Err(e),
        };
    }
    Ok(Some(Received {
        len: n as usize,
        truncated: h.msg_flags & libc::MSG_TRUNC != 0,
        ctrl_len: (h.msg_controllen as usize).min(ctrl.0.len()),
        src: sockaddr_ip(&name),
    }))
}

fn sockaddr_ip(s: &libc::sockaddr_storage) -> Option<IpAddr> {
    match libc::c_int::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: ss_family says the storage holds a sockaddr_in, which it can contain.
            let sin = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 =
                unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------- getifaddrs

pub(crate) use crate::net::types::{IfAddrEntry, IfAddrKind};

/// Reads a socket address, if it is of `family` (`None` for a null pointer).
///
/// # Safety
/// `p` is null or points to a valid socket address of at least `sa_len` bytes.
unsafe fn read_sockaddr(p: *const libc::sockaddr) -> Option<(libc::c_int, Vec<u8>)> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees `p` points to a valid sockaddr.
    let sa = unsafe { &*p };
    let len = usize::from(sa.sa_len).max(size_of::<libc::sockaddr>());
    // SAFETY: the kernel sized the address to `sa_len` bytes (at least a sockaddr).
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }.to_vec();
    Some((libc::c_int::from(sa.sa_family), bytes))
}

fn v4_of(b: &[u8]) -> Option<Ipv4Addr> {
    let o: [u8; 4] = b.get(4..8)?.try_into().ok()?;
    Some(Ipv4Addr::from(o))
}

fn v6_of(b: &[u8]) -> Option<Ipv6Addr> {
    // sockaddr_in6: len, family, port(2), flowinfo(4), addr(16), scope_id(4)
    let o: [u8; 16] = b.get(8..24)?.try_into().ok()?;
    Some(Ipv6Addr::from(o))
}

/// `getifaddrs(3)`, copied into owned values (and freed).
pub(crate) fn getifaddrs() -> io::Result<Vec<IfAddrEntry>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `head` is a valid out pointer.
    cvt(unsafe { libc::getifaddrs(&mut head) })?;
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is an entry of the list getifaddrs returned and we have not freed it.
        let ifa = unsafe { &*cur };
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: ifa_addr / ifa_netmask are null or valid sockaddrs owned by the list.
        let addr = unsafe { read_sockaddr(ifa.ifa_addr) };
        // SAFETY: as above.
        let mask = unsafe { read_sockaddr(ifa.ifa_netmask) };
        let mask_bytes = mask.map(|(_, b)| b);
        let kind = match addr {
            Some((libc::AF_INET, b)) => match v4_of(&b) {
                Some(a) => IfAddrKind::V4 {
                    addr: a,
                    mask: mask_bytes.as_deref().and_then(v4_of),
                },
                None => IfAddrKind::None,
            },
            Some((libc::AF_INET6, b)) => match v6_of(&b) {
                Some(a) => IfAddrKind::V6 {
                    addr: codec::clear_embedded_scope(a),
                    mask: mask_bytes.as_deref().and_then(v6_of),
                },
                None => IfAddrKind::None,
            },
            Some((libc::AF_LINK, b)) => match codec::parse_sockaddr_dl(&b) {
                Some(l) => IfAddrKind::Link {
                    ifindex: l.index,
                    mac: l.mac,
                },
                None => IfAddrKind::None,
            },
            _ => IfAddrKind::None,
        };
        out.push(IfAddrEntry {
            name,
            flags: ifa.ifa_flags,
            kind,
        });
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed exactly once; nothing borrows it now.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

// ---------------------------------------------------------------- ioctl

/// A datagram socket to issue interface ioctls on.
pub(crate) fn ioctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket takes no pointers; the result is checked before being owned.
    let fd = cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `ioctl(2)` whose argument is a kernel structure given as bytes (built by `codec`); the
/// request's encoded size must be `arg.len()`.
pub(crate) fn ioctl_bytes(fd: &impl AsRawFd, req: u32, arg: &mut [u8]) -> io::Result<()> {
    let encoded = ((req >> 16) & 0x1fff) as usize;
    if encoded != arg.len() {
        return Err(invalid("ioctl argument size does not match the request"));
    }
    // SAFETY: `arg` is a live buffer of exactly the size encoded in `req`, so the kernel's
    // copyin/copyout stays inside it.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::c_ulong::from(req), arg.as_mut_ptr()) })
        .map(drop)
}

// ---------------------------------------------------------------- BPF

/// Opens a BPF device (`/dev/bpf`, cloning) for writing on `ifname`, with
/// `BIOCSHDRCMPLT` set so the source MAC of written frames is kept (the virtual MAC).
/// Opened `O_WRONLY`: bpf(4) then attaches it as a writer only, so it never copies the
/// interface's traffic into a capture buffer.
pub(crate) fn bpf_open(ifname: &str) -> io::Result<OwnedFd> {
    let ifr = codec::ifreq_bytes(ifname, None).ok_or_else(|| invalid("invalid interface name"))?;
    // SAFETY: the path is a NUL-terminated literal; the result is checked before being owned.
    let fd = cvt(unsafe { libc::open(c"/dev/bpf".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) })?;
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all-zero is valid.
    let mut req: libc::ifreq = unsafe { zeroed() };
    // SAFETY: `ifr` has exactly sizeof(struct ifreq) bytes (checked at compile time above).
    unsafe {
        std::ptr::copy_nonoverlapping(
            ifr.as_ptr(),
            (&mut req as *mut libc::ifreq).cast::<u8>(),
            ifr.len(),
        )
    };
    // SAFETY: BIOCSETIF reads one struct ifreq, which `req` is.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::BIOCSETIF, &mut req) })?;
    let mut one: libc::c_uint = 1;
    // SAFETY: BIOCSHDRCMPLT reads one u_int, which `one` is.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::BIOCSHDRCMPLT, &mut one) })?;
    Ok(fd)
}

/// `write(2)` of one whole frame to a BPF device.
pub(crate) fn write_frame(fd: &impl AsRawFd, frame: &[u8]) -> io::Result<()> {
    // SAFETY: the kernel reads `frame.len()` bytes from a live slice.
    let n = unsafe { libc::write(fd.as_raw_fd(), frame.as_ptr().cast(), frame.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != frame.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "BPF wrote part of a frame",
        ));
    }
    Ok(())
}
