//! Configuration of one virtual router group, and its validation.

use std::net::IpAddr;
use std::time::Duration;

/// The VRRP protocol version a group runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// VRRPv2 (RFC 3768): IPv4 only, advertisement interval in whole seconds.
    V2,
    /// VRRPv3 (RFC 5798): IPv4 or IPv6, advertisement interval in centiseconds.
    V3,
}

impl Version {
    /// The smallest advertisement interval this version can carry.
    pub const fn min_interval(self) -> Duration {
        match self {
            Version::V2 => Duration::from_secs(1),
            Version::V3 => Duration::from_millis(10),
        }
    }

    /// The largest advertisement interval this version can carry (8-bit seconds for v2,
    /// 12-bit centiseconds for v3).
    pub const fn max_interval(self) -> Duration {
        match self {
            Version::V2 => Duration::from_secs(255),
            Version::V3 => Duration::from_millis(4095 * 10),
        }
    }

    /// The granularity of the advertisement interval on the wire.
    pub const fn interval_granularity(self) -> Duration {
        self.min_interval()
    }

    /// `d` rounded down to the wire granularity and clamped into the representable range.
    pub fn normalize_interval(self, d: Duration) -> Duration {
        let g = self.interval_granularity().as_micros();
        let floored = Duration::from_micros((d.as_micros() / g * g).min(u64::MAX as u128) as u64);
        floored.clamp(self.min_interval(), self.max_interval())
    }
}

/// The parameters of one virtual router: one (interface, VRID, address family) group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupParams {
    /// Protocol version.
    pub version: Version,
    /// Virtual router identifier, 1..=255.
    pub vrid: u8,
    /// Our priority, 1..=255; 255 means we own the virtual addresses.
    pub priority: u8,
    /// Whether a higher-priority Backup preempts a lower-priority Master.
    pub preempt: bool,
    /// VRRPv3 Accept_Mode: whether a non-owner Master accepts packets addressed to the VIPs.
    /// The state machine only carries it for the driver; it changes no protocol decision.
    pub accept_mode: bool,
    /// Our Advertisement_Interval: whole seconds for v2, centiseconds for v3.
    pub advert_interval: Duration,
    /// Our primary address on the interface (the source of our adverts), used to ignore
    /// our own adverts and for the equal-priority tie-break.
    pub primary_addr: IpAddr,
    /// Where in the Advertisement_Interval this group's adverts go, on the driver's clock
    /// (instants `t` with `t mod interval == phase`). A Master sends its first advert at once,
    /// as the RFCs require, and the next one at the first such instant at least one interval
    /// later (so between one and two intervals later); from then on every interval. Spreading the phases of many groups spreads their
    /// adverts (and the peers' Master_Down deadlines) over the interval instead of sending
    /// them all in one burst. `None`: one interval after the out-of-cadence advert.
    pub advert_phase: Option<Duration>,
    /// keepalived's `preempt_delay`: a preempting Backup that hears a worse Master waits this
    /// long (from the first such advert) before preempting it, accepting its adverts
    /// meanwhile. Zero: preempt at once.
    pub preempt_delay: Duration,
}

/// Why a [`GroupParams`] is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// Priority 0 is reserved for the "Master is leaving" advert.
    #[error("priority 0 is reserved (a Master leaving); use 1..=255")]
    ZeroPriority,
    /// VRID 0 is not a valid virtual router identifier.
    #[error("VRID 0 is not valid; use 1..=255")]
    ZeroVrid,
    /// VRRPv2 runs over IPv4 only.
    #[error("VRRPv2 runs over IPv4 only; use version 3 for IPv6")]
    V2OverIpv6,
    /// The interval cannot be carried by the version's advert.
    #[error(
        "advertisement interval {interval:?} out of range for {version:?} ({min:?}..={max:?})"
    )]
    IntervalOutOfRange {
        /// Protocol version.
        version: Version,
        /// The interval asked for.
        interval: Duration,
        /// Smallest interval of the version.
        min: Duration,
        /// Largest interval of the version.
        max: Duration,
    },
    /// The interval is finer than the version's wire granularity.
    #[error(
        "advertisement interval {interval:?} is not a multiple of {granularity:?} for {version:?}"
    )]
    IntervalGranularity {
        /// Protocol version.
        version: Version,
        /// The interval asked for.
        interval: Duration,
        /// Granularity of the version (1 s for v2, 10 ms for v3).
        granularity: Duration,
    },
}

impl GroupParams {
    /// Checks the parameters against the limits of the protocol.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.priority == 0 {
            return Err(ParamsError::ZeroPriority);
        }
        if self.vrid == 0 {
            return Err(ParamsError::ZeroVrid);
        }
        if self.version == Version::V2 && self.primary_addr.is_ipv6() {
            return Err(ParamsError::V2OverIpv6);
        }
        let v = self.version;
        let (min, max) = (v.min_interval(), v.max_interval());
        if self.advert_interval < min || self.advert_interval > max {
            return Err(ParamsError::IntervalOutOfRange {
                version: v,
                interval: self.advert_interval,
                min,
                max,
            });
        }
        let g = v.interval_granularity();
        if v.normalize_interval(self.advert_interval) != self.advert_interval {
            return Err(ParamsError::IntervalGranularity {
                version: v,
                interval: self.advert_interval,
                granularity: g,
            });
        }
        Ok(())
    }

    /// A copy made acceptable: priority 0 becomes 1, the interval is rounded down to the wire
    /// granularity and clamped into range. The VRID is kept as is (it plays no part in the
    /// state machine).
    pub fn normalized(&self) -> GroupParams {
        GroupParams {
            priority: self.priority.max(1),
            advert_interval: self.version.normalize_interval(self.advert_interval),
            ..self.clone()
        }
    }
}
