//! rvrrpd: a VRRP (RFC 3768 / RFC 5798) daemon built around a sans-IO protocol core.
//!
//! * [`wire`], [`auth`], [`fsm`], [`timer`], [`track`] and [`time`] form the sans-IO core: they never touch a
//!   socket, a thread or the wall clock. Callers pass an explicit `now` and get actions back.
//! * [`config`] loads and validates TOML/JSON configuration without touching the system.
//! * [`net`] holds the I/O drivers (raw sockets + classic BPF, netlink, ioctl, ARP/ND announcements).
//! * [`daemon`] wires drivers and protocol core together: worker threads, control plane, signals.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod fsm;
pub mod net;
pub mod sysuser;
pub mod time;
pub mod timer;
pub mod track;
pub mod users;
pub mod wire;
