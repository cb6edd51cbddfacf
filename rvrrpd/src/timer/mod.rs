//! A hashed timing wheel for the workers' timers.
//!
//! Sans-IO like the rest of the core: the wheel never reads a clock; the caller passes `now`
//! to [`TimingWheel::poll`] / [`TimingWheel::advance`] and sleeps until
//! [`TimingWheel::next_deadline`], which is exact (never later than the earliest timer).
//!
//! Entries live in a generational slab and are threaded into per-slot intrusive lists, so
//! insert, cancel and reschedule are O(1) and a [`TimerId`] of a fired or cancelled timer
//! never matches a newer one.

mod bitmap;
#[cfg(any(test, feature = "test-support"))]
pub mod model;
mod slab;
mod wheel;

#[cfg(test)]
mod tests;

pub use wheel::{TimerError, TimerId, TimingWheel, WheelConfig};
