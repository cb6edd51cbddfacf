//! The RFC state machine of one virtual router: one (interface, VRID, address family) group.
//!
//! Sans-IO in the quinn-proto style: [`Vrrp`] never reads a clock, opens a socket or spawns
//! anything. The driver feeds it events with an explicit [`Instant`](crate::time::Instant)
//! (`startup`, `shutdown`, `on_advert`, `handle_timeout`), asks it for its next deadline
//! (`poll_timeout`) and executes the [`Action`]s it returns, in order.
//!
//! The rules implemented are RFC 5798 §6.4 (VRRPv3) and RFC 3768 §6.4 / §7.1 (VRRPv2);
//! timer arithmetic and its rounding are described in [`timing`].

mod event;
mod machine;
mod params;
mod stats;
pub mod sync;
pub mod timing;

#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod tests;

pub use event::{Action, AdvertInfo, DiscardReason, State, TransitionReason};
pub use machine::{addr_gt, Vrrp, OWNER_PRIORITY};
pub use params::{GroupParams, ParamsError, Version};
pub use stats::{DiscardCounters, GroupStats};
pub use sync::{SyncMembers, SyncOrder};
