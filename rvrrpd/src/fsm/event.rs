//! What goes in and out of the state machine: states, received adverts, actions.

use std::net::IpAddr;
use std::time::Duration;

/// The RFC states of a virtual router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not running (before `startup`, after `shutdown`).
    Initialize,
    /// Monitoring the Master, ready to take over.
    Backup,
    /// Forwarding for the virtual addresses and sending adverts.
    Master,
    /// Not usable: the group's interface is down or a tracked object without a weight
    /// failed. Silent (no adverts, no timers, no VIPs) until the fault clears, then Backup.
    /// Not an RFC state: keepalived's FAULT, which operators of both expect.
    Fault,
}

/// The fields of a received, already validated advert that the state machine needs.
///
/// The caller has checked version, type, checksum, TTL / hop limit, authentication and VRID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvertInfo {
    /// Source address of the IP packet (the sender's primary address).
    pub src: IpAddr,
    /// Advertised priority; 0 means the Master is leaving.
    pub priority: u8,
    /// Advertised interval in centiseconds (v3 Max Advert Int; for v2 pass seconds × 100).
    pub max_advert_int_cs: u16,
}

/// Why a transition happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionReason {
    /// Startup of a non-owner: Initialize → Backup.
    Startup,
    /// Startup of the address owner (priority 255): Initialize → Master.
    AddressOwner,
    /// Master_Down_Timer expired: no advert from the Master for Master_Down_Interval.
    MasterDown,
    /// Master_Down_Timer expired after the Master announced it was leaving (priority 0).
    MasterLeft,
    /// As Master, an advert from a better router arrived: Master → Backup.
    Preempted {
        /// The better router's address.
        by: IpAddr,
        /// Its priority.
        priority: u8,
    },
    /// `shutdown` was called.
    Shutdown,
    /// A fault was raised (own interface down, an unweighted tracked object failed).
    Fault,
    /// Every fault cleared: Fault → Backup.
    FaultCleared,
    /// Another member of the group's sync group left Master (or does not want it):
    /// Master → Backup.
    SyncGroup,
}

/// Why an advert was discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscardReason {
    /// The advert is our own (source = our primary address), e.g. looped back multicast.
    /// Counted but never reported as an action.
    OwnAdvert,
    /// The group is in Initialize or Fault.
    NotRunning,
    /// v2 only (RFC 3768 §7.1): the advert's interval differs from ours.
    IntervalMismatch {
        /// Our Advertisement_Interval.
        ours: Duration,
        /// The advertised interval.
        theirs: Duration,
    },
    /// v3: the advert carries an interval of zero, which would make the Master_Down_Interval
    /// meaningless.
    ZeroInterval,
    /// The source address is not of the family of our primary address.
    FamilyMismatch,
    /// The sender is less preferred than us: as a preempting Backup, a lower priority; as
    /// Master, a lower priority, or an equal priority and a lower primary address.
    LowerPriority {
        /// The advertised priority.
        theirs: u8,
        /// Our priority.
        ours: u8,
    },
}

/// Something the driver must do, in the order the state machine emitted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send an advert with this priority (0 when leaving Master).
    SendAdvert {
        /// Priority to advertise.
        priority: u8,
    },
    /// The state changed (for logs, status and notifications).
    Transition {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        /// Why.
        reason: TransitionReason,
    },
    /// Configure the virtual addresses (and the virtual MAC).
    AddVips,
    /// Remove the virtual addresses.
    RemoveVips,
    /// Gratuitous ARP / unsolicited Neighbor Advertisement for every virtual address.
    Announce,
    /// Install the static routes tied to this virtual router.
    InstallRoutes,
    /// Remove those routes.
    RemoveRoutes,
    /// A sync-group member in Backup starts (`true`) or stops (`false`) wanting Master: the
    /// driver tells the control plane, which calls [`crate::fsm::Vrrp::sync_go`] on every
    /// member once all want it.
    WantMaster {
        /// Whether it wants Master now.
        wants: bool,
    },
    /// An advert was discarded (for logging; never for our own adverts).
    Discarded {
        /// Why.
        reason: DiscardReason,
    },
}
