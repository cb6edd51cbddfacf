//! JSON shapes of the read endpoints, built from the [`Backend`](super::Backend) views.
//!
//! Field names and meanings of the original are kept (`virtual_ip`, `group`, `interface`,
//! `priority`, `preempt`, `state`, and in the detailed object `vif`, `auth_type`,
//! `interface_hwaddress`, `advert_interval`, `masterdown_interval`, `skew_time`); the other
//! fields are additions. Times are seconds (JSON numbers).

use serde::{Deserialize, Serialize};

use super::backend::{format_mac, GroupCounters, GroupView, RouteView};

/// One element of `GET /run/vrrp` and `GET /run/vrrp/{group}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VrrpSummary {
    /// First virtual address.
    pub virtual_ip: String,
    /// Virtual router id.
    pub group: u8,
    /// Interface.
    pub interface: String,
    /// The vrouter's name, keepalived's instance name (addition).
    #[serde(default)]
    pub name: String,
    /// Current priority.
    pub priority: u8,
    /// Preemption.
    pub preempt: bool,
    /// `Down`, `Init`, `Backup` or `Master`.
    pub state: String,
    /// Every virtual address (addition).
    pub virtual_ips: Vec<String>,
    /// VRRP version (addition).
    pub version: u8,
    /// Current Master's address, when known (addition).
    pub master: Option<String>,
    /// Counters (addition).
    pub counters: CountersJson,
}

/// Counters as JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountersJson {
    /// Adverts received (including the suppressed ones).
    pub adverts_in: u64,
    /// Of those, repeats of the followed Master's advert the kernel swallowed.
    #[serde(default)]
    pub adverts_suppressed: u64,
    /// Adverts sent.
    pub adverts_out: u64,
    /// State transitions.
    pub transitions: u64,
    /// Authentication failures.
    pub auth_failures: u64,
    /// Other discards.
    pub discarded: u64,
    /// Unix time of the last transition, or `null`.
    pub last_transition: Option<u64>,
}

impl From<GroupCounters> for CountersJson {
    fn from(c: GroupCounters) -> Self {
        Self {
            adverts_in: c.adverts_in,
            adverts_suppressed: c.adverts_suppressed,
            adverts_out: c.adverts_out,
            transitions: c.transitions,
            auth_failures: c.auth_failures,
            discarded: c.discarded,
            last_transition: c.last_transition,
        }
    }
}

/// `GET /run/vrrp/{group}/{interface}`: the summary plus the original's extra fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VrrpDetail {
    /// The summary fields.
    #[serde(flatten)]
    pub summary: VrrpSummary,
    /// Interface holding the virtual addresses.
    pub vif: String,
    /// Authentication type keyword or `none`.
    pub auth_type: String,
    /// The interface's MAC address.
    pub interface_hwaddress: String,
    /// Advertisement interval, seconds.
    pub advert_interval: f64,
    /// Master_Down_Interval, seconds.
    pub masterdown_interval: f64,
    /// Skew_Time, seconds.
    pub skew_time: f64,
    /// The configured priority (addition; `priority` includes tracking).
    pub configured_priority: u8,
    /// Tracked objects and their current effect (addition).
    pub tracking: Vec<TrackedJson>,
}

/// A tracked object in `VrrpDetail.tracking`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedJson {
    /// `interface`, `script` or `file`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Weight applied by this group.
    pub weight: i32,
    /// Reversed direction.
    pub reverse: bool,
    /// Puts the group in Fault now.
    pub fault: bool,
    /// Added to the priority now.
    pub delta: i64,
}

/// The summary of a group.
pub fn summary(g: &GroupView) -> VrrpSummary {
    let virtual_ips: Vec<String> = g.virtual_ips.iter().map(ToString::to_string).collect();
    VrrpSummary {
        virtual_ip: virtual_ips.first().cloned().unwrap_or_default(),
        group: g.group,
        interface: g.interface.clone(),
        name: g.name.clone(),
        priority: g.priority,
        preempt: g.preempt,
        state: g.state.as_str().to_string(),
        virtual_ips,
        version: g.version,
        master: g.master.map(|m| m.to_string()),
        counters: g.counters.into(),
    }
}

/// The detailed object of a group.
pub fn detail(g: &GroupView) -> VrrpDetail {
    VrrpDetail {
        summary: summary(g),
        vif: g.vif.clone(),
        auth_type: g.auth_type.clone(),
        interface_hwaddress: format_mac(&g.interface_hwaddress),
        advert_interval: g.advert_interval.as_secs_f64(),
        masterdown_interval: g.masterdown_interval.as_secs_f64(),
        skew_time: g.skew_time.as_secs_f64(),
        configured_priority: g.configured_priority,
        tracking: g
            .tracking
            .iter()
            .map(|t| TrackedJson {
                kind: t.kind.to_string(),
                name: t.name.clone(),
                weight: t.weight,
                reverse: t.reverse,
                fault: t.fault,
                delta: t.delta,
            })
            .collect(),
    }
}

/// `GET /run/protocols`.
#[derive(Debug, Clone, Serialize)]
pub struct ProtocolsJson {
    /// Static routes.
    #[serde(rename = "static")]
    pub static_routes: Vec<RouteView>,
}
