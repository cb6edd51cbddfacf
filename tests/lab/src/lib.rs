//! # rvrrpd-lab
//!
//! A test harness for VRRP daemons in Linux network namespaces:
//!
//! * [`Lab`]: N router namespaces and a client on a bridge, torn down on drop;
//! * [`Proc`]: a process in a namespace with logs and bounded termination;
//! * [`Capture`] → [`Trace`]: tcpdump, a pcap reader and advert timing analysis;
//! * [`kernel`]: addresses, links, routes, neighbours, ping;
//! * [`config`]: rvrrpd, keepalived and FRR configuration writers and launchers;
//! * [`Injector`]: a raw-socket frame sender for floods of forged adverts;
//! * [`theory`]: RFC timer formulas;
//! * [`netns`]: running code (e.g. an HTTP client) inside a namespace;
//! * [`scale`]: the two-router, many-group topology of `cargo xtask scale`, with
//!   [`advstream`] (incremental pcap decoding into per-group advert times) and [`procstat`]
//!   (CPU time and RSS of a process group from `/proc`).
//!
//! Needs root, `ip`, `tcpdump`, `ping`; peers need keepalived / FRR.

pub mod advstream;
pub mod capture;
pub mod cmd;
pub mod config;
pub mod error;
pub mod inject;
pub mod kernel;
pub mod lab;
pub mod names;
pub mod netns;
pub mod packet;
pub mod pair;
pub mod pcap;
pub mod proc;
pub mod procstat;
pub mod scale;
pub mod theory;
pub mod trace;
pub mod vrrp;
pub mod wait;

pub use capture::Capture;
pub use error::{LabError, Result};
pub use inject::Injector;
pub use lab::{Lab, Node};
pub use packet::{AdvertRecord, Mac};
pub use pair::VethPair;
pub use proc::{Proc, Signal};
pub use trace::{Failover, Trace};
pub use wait::{wait_for, wait_until};
