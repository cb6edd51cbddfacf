//! FreeBSD I/O drivers: raw VRRP receive sockets, BPF transmit, interface facts and VIP
//! addresses with ioctls. No netlink, no AF_PACKET, no eBPF.
//!
//! **Status: compile-checked only.** CI runs
//! `cargo check --target x86_64-unknown-freebsd -p rvrrpd --lib --bins`; nothing here has
//! run on a FreeBSD kernel yet. The pure parts ([`codec`]: control messages, `sockaddr_dl`,
//! `ifreq`/`in_aliasreq` building, ioctl numbers, raw IPv4 headers, embedded IPv6 scopes)
//! are portable and unit-tested on Linux; on FreeBSD their layout constants are checked
//! against `libc` at compile time.
//!
//! The modules keep the shapes of their Linux counterparts so the daemon can use them later:
//!
//! | module | Linux counterpart | what |
//! |---|---|---|
//! | [`iface`] | `net::iface` | ifindex, MAC (`AF_LINK`), flags, addresses (`getifaddrs`) |
//! | [`rx`] | `net::rx` | raw `SOCK_RAW`/112 sockets, `IP_RECVIF`/`IP_RECVTTL`, `IPV6_RECVPKTINFO`/`IPV6_RECVHOPLIMIT` |
//! | [`tx`] | `net::tx` | whole Ethernet frames written to `/dev/bpf` (`BIOCSETIF`, `BIOCSHDRCMPLT`) |
//! | [`addr`] | `net::driver` (VIP part) | IPv4 aliases with `SIOCAIFADDR`/`SIOCDIFADDR` |
//!
//! All `unsafe` code lives in the private `sys` module.

pub mod codec;

#[cfg(target_os = "freebsd")]
pub mod addr;
#[cfg(target_os = "freebsd")]
pub mod iface;
#[cfg(target_os = "freebsd")]
pub mod rx;
#[cfg(target_os = "freebsd")]
mod sys;
#[cfg(target_os = "freebsd")]
pub mod tx;
