//! Thin `unsafe` wrappers around the Linux system calls the drivers need. This is the only
//! module of `net` with `unsafe` code: one wrapper per syscall family, each with a
//! `// SAFETY:` argument. Everything returns `io::Result`; callers add the context.

use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed, MaybeUninit};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::cbpf::Insn;

mod shared_words;
mod test_run;
pub(crate) use shared_words::SharedWords;
pub(crate) use test_run::xdp_live_run;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn c_name(name: &str) -> io::Result<CString> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "invalid interface name length",
        ));
    }
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))
}

// ---------------------------------------------------------------- if_nametoindex

/// `if_nametoindex(3)`.
pub(crate) fn if_nametoindex(name: &str) -> io::Result<u32> {
    let c = c_name(name)?;
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
    let bytes: Vec<u8> = buf
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

// ---------------------------------------------------------------- setsockopt

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

/// Converts a program into the kernel's `sock_filter` array (same layout, checked).
pub(crate) fn to_sock_filter(prog: &[Insn]) -> Vec<libc::sock_filter> {
    prog.iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect()
}

// ---------------------------------------------------------------- AF_PACKET addressing

fn sockaddr_ll(ifindex: u32, protocol: u16) -> io::Result<libc::sockaddr_ll> {
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = i32::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "ifindex out of range"))?;
    Ok(sll)
}

/// `bind(2)` an AF_PACKET socket to `ifindex` and an ethertype (host order; 0 = receive
/// nothing).
pub(crate) fn bind_packet(fd: &impl AsRawFd, ifindex: u32, protocol: u16) -> io::Result<()> {
    let sll = sockaddr_ll(ifindex, protocol)?;
    // SAFETY: `sll` is a fully initialised sockaddr_ll and we pass its size.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// `sendmmsg(2)` of whole Ethernet frames on an AF_PACKET socket bound to one interface with
/// protocol 0 ([`bind_packet`]). The frames carry no address: the kernel sends on the bound
/// interface (its cached device, no lookup by index per frame) and, for a SOCK_RAW socket
/// bound to protocol 0, takes each frame's protocol from its own Ethernet header
/// (`packet_parse_headers`), so adverts, ARP and NA frames share the socket. Returns how
/// many frames were sent.
pub(crate) fn sendmmsg_packet(fd: &impl AsRawFd, frames: &[&[u8]]) -> io::Result<usize> {
    sendmmsg(fd, frames.iter().map(|f| (None, *f)))
}

/// `sendmmsg(2)` of datagrams, each to its own address (a raw IP socket's unicast adverts).
/// Returns how many the kernel took.
pub(crate) fn sendmmsg_to(
    fd: &impl AsRawFd,
    datagrams: &[(&socket2::SockAddr, &[u8])],
) -> io::Result<usize> {
    sendmmsg(fd, datagrams.iter().map(|(a, d)| (Some(*a), *d)))
}

/// One `sendmmsg(2)` of `bufs`, each to its address or, without one, to the socket's own.
fn sendmmsg<'a>(
    fd: &impl AsRawFd,
    bufs: impl ExactSizeIterator<Item = (Option<&'a socket2::SockAddr>, &'a [u8])> + Clone,
) -> io::Result<usize> {
    if bufs.len() == 0 {
        return Ok(0);
    }
    let mut iovs: Vec<libc::iovec> = bufs
        .clone()
        .map(|(_, b)| libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect();
    let mut hdrs: Vec<libc::mmsghdr> = Vec::with_capacity(iovs.len());
    for (iov, (addr, _)) in iovs.iter_mut().zip(bufs) {
        // SAFETY: msghdr/mmsghdr are plain old data; all-zero is valid (no address).
        let mut h: libc::mmsghdr = unsafe { zeroed() };
        if let Some(addr) = addr {
            h.msg_hdr.msg_name = addr.as_ptr() as *mut libc::c_void;
            h.msg_hdr.msg_namelen = addr.len();
        }
        h.msg_hdr.msg_iov = iov;
        h.msg_hdr.msg_iovlen = 1;
        hdrs.push(h);
    }
    let n = libc::c_uint::try_from(hdrs.len()).unwrap_or(libc::c_uint::MAX);
    // SAFETY: every header points into `iovs` and the callers' addresses, which live until the
    // call returns; the kernel only reads them (the `*mut` is an artefact of the C API).
    let sent = cvt(unsafe { libc::sendmmsg(fd.as_raw_fd(), hdrs.as_mut_ptr(), n, 0) })?;
    Ok(sent as usize)
}

// ---------------------------------------------------------------- recvmmsg

/// Metadata of one received datagram.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RecvMeta {
    /// Bytes received (≤ buffer size).
    pub len: usize,
    /// The datagram was longer than the buffer.
    pub truncated: bool,
    /// Source address (AF_INET / AF_INET6 sockets).
    pub src: Option<IpAddr>,
    /// Interface index (AF_PACKET `sll_ifindex`, or IPv6 `IPV6_PKTINFO`).
    pub ifindex: Option<u32>,
    /// AF_PACKET packet type (`PACKET_HOST`, `PACKET_OUTGOING`, ...).
    pub pkttype: Option<u8>,
    /// IPv6 hop limit (`IPV6_HOPLIMIT` control message).
    pub hoplimit: Option<u8>,
    /// IPv6 destination (`IPV6_PKTINFO` control message).
    pub dst6: Option<Ipv6Addr>,
    /// Kernel receive time (`SCM_TIMESTAMPNS`, CLOCK_REALTIME) converted to CLOCK_MONOTONIC
    /// nanoseconds; 0 when absent.
    pub rx_ns: u64,
}

/// `struct in6_pktinfo` (not exported by libc for glibc targets).
#[repr(C)]
#[derive(Clone, Copy)]
struct In6Pktinfo {
    addr: [u8; 16],
    ifindex: u32,
}

const CTRL_WORDS: usize = 16; // 128 bytes, 8-byte aligned: hoplimit + pktinfo + timestamp

/// Reusable buffers for `recvmmsg(2)`.
pub(crate) struct RecvBatch {
    bufs: Vec<Vec<u8>>,
    names: Vec<libc::sockaddr_storage>,
    ctrls: Vec<[u64; CTRL_WORDS]>,
    meta: Vec<RecvMeta>,
}

impl RecvBatch {
    /// `n` buffers of `size` bytes.
    pub(crate) fn new(n: usize, size: usize) -> Self {
        let n = n.max(1);
        RecvBatch {
            bufs: (0..n).map(|_| vec![0u8; size]).collect(),
            // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
            names: (0..n).map(|_| unsafe { zeroed() }).collect(),
            ctrls: vec![[0u64; CTRL_WORDS]; n],
            meta: vec![RecvMeta::default(); n],
        }
    }

    /// Capacity in datagrams.
    pub(crate) fn capacity(&self) -> usize {
        self.bufs.len()
    }

    /// Datagram `i` of the last [`RecvBatch::recv`].
    pub(crate) fn get(&self, i: usize) -> Option<(&RecvMeta, &[u8])> {
        let m = self.meta.get(i)?;
        let b = self.bufs.get(i)?;
        Some((m, &b[..m.len.min(b.len())]))
    }

    /// Nonblocking `recvmmsg(2)` of up to `max` datagrams; `Ok(0)` when none is queued.
    pub(crate) fn recv(&mut self, fd: &impl AsRawFd, max: usize) -> io::Result<usize> {
        let n = max.clamp(1, self.bufs.len());
        let mut iovs: Vec<libc::iovec> = self.bufs[..n]
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        let mut hdrs: Vec<libc::mmsghdr> = Vec::with_capacity(n);
        for ((iov, name), ctrl) in iovs
            .iter_mut()
            .zip(self.names.iter_mut())
            .zip(self.ctrls.iter_mut())
        {
            // SAFETY: mmsghdr is plain old data; all-zero is valid.
            let mut h: libc::mmsghdr = unsafe { zeroed() };
            h.msg_hdr.msg_name = (name as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_control = ctrl.as_mut_ptr().cast();
            h.msg_hdr.msg_controllen = size_of::<[u64; CTRL_WORDS]>() as _;
            hdrs.push(h);
        }
        let vlen = libc::c_uint::try_from(n).unwrap_or(libc::c_uint::MAX);
        // SAFETY: every header points at buffers owned by `self` (and `iovs`) that stay
        // alive and unaliased for the duration of the call; MSG_DONTWAIT never blocks and
        // the timeout pointer may be null.
        let ret = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                hdrs.as_mut_ptr(),
                vlen,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if ret < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(0),
                io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        let got = ret as usize;
        let realtime_to_monotonic = realtime_minus_monotonic_ns();
        for (i, h) in hdrs.iter().take(got).enumerate() {
            let mut m = RecvMeta {
                len: h.msg_len as usize,
                truncated: h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
                ..RecvMeta::default()
            };
            parse_name(&self.names[i], h.msg_hdr.msg_namelen, &mut m);
            parse_cmsgs(&h.msg_hdr, &mut m);
            // parse_cmsgs left the realtime stamp; shift it onto the monotonic clock.
            m.rx_ns = u64::try_from(i128::from(m.rx_ns) - realtime_to_monotonic)
                .ok()
                .filter(|_| m.rx_ns != 0)
                .unwrap_or(0);
            self.meta[i] = m;
        }
        Ok(got)
    }
}

fn parse_name(ss: &libc::sockaddr_storage, len: libc::socklen_t, m: &mut RecvMeta) {
    let len = len as usize;
    match libc::c_int::from(ss.ss_family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in of `len` bytes;
            // sockaddr_storage is suitably sized and aligned for it.
            let sin =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            m.src = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))));
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            m.src = Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
        }
        libc::AF_PACKET if len >= 12 => {
            // SAFETY: as above, for sockaddr_ll (its fixed part is 12 bytes).
            let sll =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_ll>() };
            m.ifindex = u32::try_from(sll.sll_ifindex).ok();
            m.pkttype = Some(sll.sll_pkttype);
        }
        _ => {}
    }
}

fn timespec_ns(ts: &libc::timespec) -> u64 {
    u64::try_from(ts.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(ts.tv_nsec).unwrap_or(0))
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; both clocks always exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    timespec_ns(&ts)
}

/// CLOCK_REALTIME − CLOCK_MONOTONIC now, in nanoseconds: socket timestamps are realtime, the
/// workers' clock is monotonic.
fn realtime_minus_monotonic_ns() -> i128 {
    i128::from(clock_ns(libc::CLOCK_REALTIME)) - i128::from(clock_ns(libc::CLOCK_MONOTONIC))
}

fn parse_cmsgs(hdr: &libc::msghdr, m: &mut RecvMeta) {
    if hdr.msg_control.is_null() || hdr.msg_controllen == 0 {
        return;
    }
    // SAFETY: `hdr` was filled by recvmmsg: msg_control/msg_controllen describe a valid
    // control buffer owned by the batch; the CMSG_* macros stay within it and we read
    // the payloads with read_unaligned after checking their length.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(hdr);
        while !c.is_null() {
            let data = libc::CMSG_DATA(c);
            let dlen = ((*c).cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
            match ((*c).cmsg_level, (*c).cmsg_type) {
                (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) if dlen >= size_of::<libc::c_int>() => {
                    let v = std::ptr::read_unaligned(data.cast::<libc::c_int>());
                    m.hoplimit = u8::try_from(v).ok();
                }
                (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS)
                    if dlen >= size_of::<libc::timespec>() =>
                {
                    let ts = std::ptr::read_unaligned(data.cast::<libc::timespec>());
                    m.rx_ns = timespec_ns(&ts);
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) if dlen >= size_of::<In6Pktinfo>() => {
                    let p = std::ptr::read_unaligned(data.cast::<In6Pktinfo>());
                    m.dst6 = Some(Ipv6Addr::from(p.addr));
                    m.ifindex = Some(p.ifindex);
                }
                _ => {}
            }
            c = libc::CMSG_NXTHDR(hdr, c);
        }
    }
}

// ---------------------------------------------------------------- poll

/// `poll(2)` for readability with a timeout; `Ok(true)` if readable.
pub(crate) fn poll_readable(fd: &impl AsRawFd, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd, count 1.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    match n {
        n if n < 0 => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            }
        }
        0 => Ok(false),
        _ => Ok(pfd.revents & libc::POLLIN != 0),
    }
}

// ---------------------------------------------------------------- ioctl

/// An `AF_INET`/`SOCK_DGRAM` socket for interface ioctls.
pub(crate) fn ioctl_socket() -> io::Result<socket2::Socket> {
    socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)
}

fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    let c = c_name(name)?;
    // SAFETY: ifreq is plain old data; all-zero is valid.
    let mut r: libc::ifreq = unsafe { zeroed() };
    for (dst, src) in r.ifr_name.iter_mut().zip(c.as_bytes()) {
        *dst = *src as libc::c_char;
    }
    Ok(r)
}

fn sockaddr_in(addr: Ipv4Addr) -> libc::sockaddr {
    // SAFETY: sockaddr_in is plain old data; all-zero is valid.
    let mut sin: libc::sockaddr_in = unsafe { zeroed() };
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_addr.s_addr = u32::from(addr).to_be();
    // SAFETY: sockaddr_in and sockaddr have the same size (16 bytes) on Linux; this is
    // the documented way to pass an IPv4 address through `struct sockaddr`.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

fn sockaddr_to_v4(sa: &libc::sockaddr) -> Option<Ipv4Addr> {
    if libc::c_int::from(sa.sa_family) != libc::AF_INET {
        return None;
    }
    // SAFETY: the family says this sockaddr holds a sockaddr_in of the same size.
    let sin: libc::sockaddr_in = unsafe { std::mem::transmute_copy(sa) };
    Some(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
}

/// `SIOCGIFADDR` / `SIOCGIFNETMASK` etc.: reads an IPv4 `sockaddr` of an interface.
/// `Ok(None)` if the interface has no IPv4 address (`EADDRNOTAVAIL`).
pub(crate) fn ioctl_get_v4(
    sock: &impl AsRawFd,
    name: &str,
    req: libc::Ioctl,
) -> io::Result<Option<Ipv4Addr>> {
    let mut r = ifreq(name)?;
    // SAFETY: `r` is a valid ifreq with a NUL-terminated name; the kernel fills
    // ifr_ifru.ifru_addr for these get requests.
    let ret = unsafe { libc::ioctl(sock.as_raw_fd(), req, &mut r) };
    if ret < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) {
            return Ok(None);
        }
        return Err(e);
    }
    // SAFETY: the get requests above fill the ifru_addr member of the union.
    Ok(sockaddr_to_v4(unsafe { &r.ifr_ifru.ifru_addr }))
}

/// `SIOCSIFADDR` / `SIOCSIFNETMASK` etc.: sets an IPv4 `sockaddr` of an interface.
pub(crate) fn ioctl_set_v4(
    sock: &impl AsRawFd,
    name: &str,
    req: libc::Ioctl,
    addr: Ipv4Addr,
) -> io::Result<()> {
    let mut r = ifreq(name)?;
    r.ifr_ifru.ifru_addr = sockaddr_in(addr);
    // SAFETY: `r` is a valid ifreq with a NUL-terminated name and an AF_INET address.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), req, &mut r) }).map(drop)
}

/// `SIOCGIFFLAGS`.
pub(crate) fn ioctl_get_flags(sock: &impl AsRawFd, name: &str) -> io::Result<libc::c_short> {
    let mut r = ifreq(name)?;
    // SAFETY: valid ifreq; the kernel fills ifru_flags.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut r) })?;
    // SAFETY: SIOCGIFFLAGS fills the ifru_flags member.
    Ok(unsafe { r.ifr_ifru.ifru_flags })
}

/// `SIOCSIFFLAGS`.
pub(crate) fn ioctl_set_flags(
    sock: &impl AsRawFd,
    name: &str,
    flags: libc::c_short,
) -> io::Result<()> {
    let mut r = ifreq(name)?;
    r.ifr_ifru.ifru_flags = flags;
    // SAFETY: valid ifreq with the flags member set.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &mut r) }).map(drop)
}

/// `SIOCADDRT` / `SIOCDELRT` for an IPv4 gateway route.
pub(crate) fn ioctl_route(
    sock: &impl AsRawFd,
    req: libc::Ioctl,
    dst: Ipv4Addr,
    mask: Ipv4Addr,
    gateway: Ipv4Addr,
    metric: Option<u32>,
    mtu: Option<u32>,
) -> io::Result<()> {
    // SAFETY: rtentry is plain old data; all-zero is valid (rt_dev null = any device).
    let mut rt: libc::rtentry = unsafe { zeroed() };
    rt.rt_dst = sockaddr_in(dst);
    rt.rt_genmask = sockaddr_in(mask);
    rt.rt_gateway = sockaddr_in(gateway);
    rt.rt_flags = libc::RTF_UP | libc::RTF_GATEWAY;
    if mask == Ipv4Addr::BROADCAST {
        rt.rt_flags |= libc::RTF_HOST;
    }
    if let Some(m) = metric {
        // The kernel stores rt_metric - 1 (route(8) passes metric + 1).
        rt.rt_metric = libc::c_short::try_from(m.saturating_add(1)).unwrap_or(libc::c_short::MAX);
    }
    if let Some(m) = mtu {
        rt.rt_flags |= libc::RTF_MTU;
        rt.rt_mtu = libc::c_ulong::from(m);
    }
    // SAFETY: `rt` is a fully initialised rtentry that lives across the call.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), req, &mut rt) }).map(drop)
}

// ---------------------------------------------------------------- setns

/// `setns(2)` of the calling thread into the network namespace `fd`.
pub(crate) fn setns_net(fd: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: `fd` is an open namespace file descriptor; setns only affects the calling
    // thread's namespace membership.
    cvt(unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) }).map(drop)
}

// ---------------------------------------------------------------- sched

/// `sched_setaffinity(2)` of the calling thread to one CPU.
pub(crate) fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cpu out of range",
        ));
    }
    // SAFETY: cpu_set_t is a plain bitmask; CPU_ZERO/CPU_SET write within it (cpu checked
    // above); pid 0 means the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        cvt(libc::sched_setaffinity(
            0,
            size_of::<libc::cpu_set_t>(),
            &set,
        ))
        .map(drop)
    }
}

/// `sched_setscheduler(2)` of the calling thread to `SCHED_FIFO` with `priority`.
pub(crate) fn set_fifo(priority: i32) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: valid sched_param pointer; pid 0 means the calling thread.
    cvt(unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) }).map(drop)
}

/// The calling thread's id (`gettid`).
pub(crate) fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// `setpriority(PRIO_PROCESS, tid, nice)`: on Linux a thread id names one thread.
pub(crate) fn set_nice_of(tid: i32, nice: i32) -> io::Result<()> {
    let who = libc::id_t::try_from(tid).unwrap_or(0);
    // SAFETY: plain integer arguments.
    cvt(unsafe { libc::setpriority(libc::PRIO_PROCESS, who, nice) }).map(drop)
}

/// Gives thread `tid` the normal policy (`SCHED_OTHER`) with nice `nice`.
pub(crate) fn set_normal_policy_of(tid: i32, nice: i32) -> io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: valid sched_param pointer; a thread id names one thread.
    cvt(unsafe { libc::sched_setscheduler(tid, libc::SCHED_OTHER, &param) })?;
    set_nice_of(tid, nice)
}

/// Lowers the soft `RLIMIT_RTTIME` (microseconds of CPU a real-time thread may use without
/// sleeping before the process gets SIGXCPU) to `usec`, never above the hard limit, which
/// stays as it is (a thread exceeding the hard limit is killed). Returns the soft limit set.
pub(crate) fn set_rttime_soft(usec: u64) -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid rlimit pointer.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_RTTIME, &mut lim) })?;
    lim.rlim_cur = usec.min(lim.rlim_max);
    // SAFETY: valid rlimit pointer.
    cvt(unsafe { libc::setrlimit(libc::RLIMIT_RTTIME, &lim) })?;
    Ok(lim.rlim_cur)
}

// ---------------------------------------------------------------- getifaddrs

pub(crate) use super::types::{IfAddrEntry, IfAddrKind};

fn sa_v4(sa: *const libc::sockaddr) -> Option<Ipv4Addr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: non-null pointer from getifaddrs to a sockaddr whose family we check first.
    unsafe {
        if libc::c_int::from((*sa).sa_family) != libc::AF_INET {
            return None;
        }
        let sin = &*sa.cast::<libc::sockaddr_in>();
        Some(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
    }
}

fn sa_v6(sa: *const libc::sockaddr) -> Option<(Ipv6Addr, u32)> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: as above, for sockaddr_in6.
    unsafe {
        if libc::c_int::from((*sa).sa_family) != libc::AF_INET6 {
            return None;
        }
        let sin6 = &*sa.cast::<libc::sockaddr_in6>();
        Some((Ipv6Addr::from(sin6.sin6_addr.s6_addr), sin6.sin6_scope_id))
    }
}

/// `getifaddrs(3)`, copied into owned values (the list is freed before returning).
pub(crate) fn getifaddrs() -> io::Result<Vec<IfAddrEntry>> {
    let mut head = MaybeUninit::<*mut libc::ifaddrs>::uninit();
    // SAFETY: getifaddrs writes a list head on success.
    cvt(unsafe { libc::getifaddrs(head.as_mut_ptr()) })?;
    // SAFETY: initialised by the successful call above.
    let head = unsafe { head.assume_init() };
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list returned by getifaddrs, valid until
        // freeifaddrs; its name is a NUL-terminated string.
        let ifa = unsafe { &*cur };
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        let kind = if ifa.ifa_addr.is_null() {
            IfAddrKind::None
        } else {
            // SAFETY: non-null sockaddr pointer from getifaddrs.
            match libc::c_int::from(unsafe { (*ifa.ifa_addr).sa_family }) {
                libc::AF_INET => match sa_v4(ifa.ifa_addr) {
                    Some(addr) => IfAddrKind::V4 {
                        addr,
                        mask: sa_v4(ifa.ifa_netmask),
                    },
                    None => IfAddrKind::None,
                },
                libc::AF_INET6 => match sa_v6(ifa.ifa_addr) {
                    Some((addr, _scope)) => IfAddrKind::V6 {
                        addr,
                        mask: sa_v6(ifa.ifa_netmask).map(|m| m.0),
                    },
                    None => IfAddrKind::None,
                },
                libc::AF_PACKET => {
                    // SAFETY: AF_PACKET entries of getifaddrs carry a sockaddr_ll.
                    let sll = unsafe { &*ifa.ifa_addr.cast::<libc::sockaddr_ll>() };
                    let mac = if sll.sll_halen == 6 {
                        let mut m = [0u8; 6];
                        m.copy_from_slice(&sll.sll_addr[..6]);
                        Some(m)
                    } else {
                        None
                    };
                    IfAddrKind::Link {
                        ifindex: u32::try_from(sll.sll_ifindex).unwrap_or(0),
                        mac,
                    }
                }
                _ => IfAddrKind::None,
            }
        };
        out.push(IfAddrEntry {
            name,
            flags: ifa.ifa_flags,
            kind,
        });
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed exactly once; no references into
    // the list survive (everything was copied).
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}
