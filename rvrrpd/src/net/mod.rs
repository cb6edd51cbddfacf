//! I/O drivers: raw sockets + classic BPF, AF_PACKET transmit, sniffer, netlink and ioctl
//! network drivers, interface information and thread helpers.
//!
//! Everything here is a thin driver around byte slices: frames are built and parsed by
//! `crate::wire`, never here.
//!
//! | module | what | execution model |
//! |---|---|---|
//! | [`cbpf`] | classic BPF program generator (portable, pure) | - |
//! | [`iface`] | ifindex, MAC, up/down, addresses (`getifaddrs`) | blocking, cheap |
//! | [`rx`] | raw VRRP receive sockets (one per interface and family) | nonblocking fd, epoll-able |
//! | [`tx`] | AF_PACKET Ethernet frame transmit (`sendmmsg`) | blocking, cheap |
//! | [`unicast_tx`] | raw IP transmit of unicast adverts to each peer (`sendmmsg`) | blocking, cheap |
//! | [`sniff`] | AF_PACKET sniffer of IP protocol 112 (`-m 0`) | nonblocking fd |
//! | [`netlink`] | `netdrv = "libnl"`: VIPs, macvlan, routes via rtnetlink | async (tokio) |
//! | [`ioctl`] | `netdrv = "ioctl"`: destructive address swap, routes via ioctl | sync, fast |
//! | [`driver`] | [`driver::NetDriver`], one async facade over both drivers | async (tokio) |
//! | [`nft`] | accept mode without XDP: the `inet rvrrpd` nftables table, via `nft` | async (tokio) |
//! | [`sched`] | CPU pinning, realtime priority for worker threads | sync |
//! | [`netns`] | enter a named network namespace (tests and lab only) | sync, per thread |
//!
//! All `unsafe` code lives in the private `sys` module: one thin, documented wrapper per
//! syscall family.

pub mod cbpf;
mod error;
pub mod types;

pub use error::{NetError, NetResult};
pub use types::{mask_to_prefix, prefix_to_mask, IpPrefix, Ipv4Route};

#[cfg(target_os = "linux")]
pub mod driver;
#[cfg(target_os = "linux")]
pub mod iface;
#[cfg(target_os = "linux")]
pub mod ioctl;
#[cfg(target_os = "linux")]
pub mod link_events;
#[cfg(target_os = "linux")]
pub mod netlink;
#[cfg(target_os = "linux")]
pub mod netns;
#[cfg(target_os = "linux")]
pub mod nft;
#[cfg(target_os = "linux")]
pub mod rx;
#[cfg(target_os = "linux")]
pub mod sched;
#[cfg(target_os = "linux")]
pub mod sniff;
#[cfg(target_os = "linux")]
mod sys;
#[cfg(target_os = "linux")]
pub mod tx;
#[cfg(target_os = "linux")]
pub mod unicast_tx;
#[cfg(target_os = "linux")]
pub mod xdp;
#[cfg(target_os = "linux")]
pub mod xdp_features;

/// FreeBSD drivers (compile-checked only). Their portable `codec` also builds in Linux tests.
#[cfg(any(target_os = "freebsd", test))]
pub mod freebsd;
/// On FreeBSD, `net::iface` is the FreeBSD implementation (same API as the Linux one).
#[cfg(target_os = "freebsd")]
pub use freebsd::iface;

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// IPv4 VRRP multicast group (224.0.0.18).
pub const VRRP_MCAST_V4: std::net::Ipv4Addr = std::net::Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 VRRP multicast group (ff02::12).
pub const VRRP_MCAST_V6: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
