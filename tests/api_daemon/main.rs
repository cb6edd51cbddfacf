//! The client API of real rvrrpd processes in network namespaces: writes through the API
//! checked on the wire (a capture on the client) and in the kernel, bad requests that must
//! change nothing, and `/metrics`.
//!
//! Each API listens on its router's lab address (`10.0.0.N:7080`); the test talks to it from
//! the client namespace (requests run on a thread that entered it). Users come from
//! `rvrrpd-pw -l LEVEL USER PASS sha256`.
//!
//! Needs root. Run alone: `cargo test --test api_daemon -- --nocapture`.

#[path = "../common/mod.rs"]
mod common;

mod client;
mod scenario;

mod control;
mod kernel_backup;
mod metrics;
mod refusals;
mod scheduling;
