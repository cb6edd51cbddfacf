//! Repeated adverts of the followed Master: the rule behind the kernel-resident Backup.
//!
//! A Backup that accepted an advert and reset its Master_Down_Timer for it would handle an
//! identical advert (same source, priority, interval, addresses, authentication) in exactly
//! the same way, as long as nothing of its own changed meanwhile: reset the timer to
//! arrival + Master_Down_Interval, nothing else. So a driver may keep the accepted advert
//! where the packets arrive (the eBPF programs), let identical copies be counted and stamped
//! there, and tell the machine only the arrival of the newest one when the timer is due:
//! [`Vrrp::on_repeat`]. [`Vrrp::follows`] says when that is allowed; every event that could
//! change how the next advert is handled (leaving Backup, a priority or preemption change, a
//! priority-0 or worse advert, `preempt_delay` running, sync-group membership or hold, an
//! advert refused from the followed Master) ends it, and the driver must then stop
//! suppressing before the next advert arrives.

use super::{State, Vrrp};
use crate::time::Instant;

impl Vrrp {
    /// The Master this Backup follows: the source of the last advert it accepted and reset
    /// its Master_Down_Timer for, if nothing that decides how the next advert is handled has
    /// changed since. Right after [`Vrrp::on_advert`], `follows() == Some(src)` means this
    /// advert was such an advert: the driver may then suppress identical copies of it and
    /// report them with [`Vrrp::on_repeat`]. `None`: every advert must come through
    /// `on_advert`.
    pub fn follows(&self) -> Option<std::net::IpAddr> {
        self.following
    }

    /// An advert identical to the last one accepted from the followed Master arrived at `at`
    /// (the newest of those the driver suppressed): the Master_Down_Timer runs from it, as
    /// `on_advert` would have set it. Returns whether the deadline moved; it never moves
    /// earlier, and nothing happens unless the machine [`follows`](Vrrp::follows) a Master.
    pub fn on_repeat(&mut self, at: Instant) -> bool {
        if self.state != State::Backup || self.following.is_none() {
            return false;
        }
        let until = at + self.master_down_interval();
        match self.master_down_timer {
            Some(d) if d >= until => false,
            _ => {
                self.master_down_timer = Some(until);
                true
            }
        }
    }
}
