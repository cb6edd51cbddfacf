//! A `[[vrouter]]` section: one virtual router per (interface, group, address family).

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::address::{deserialize_vips, serialize_vips, AddressFamily, VirtualAddress};
use super::notify::NotifyScript;
use super::secret::Secret;
use super::serde_util::{default_true, or_default, or_true, string_enum, value_error};
use super::timers::{GarpInterval, Timers};
use super::tracking::TrackRef;
use crate::auth::AuthType;
use crate::wire::V3Checksum;

/// One `[[vrouter]]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VRouter {
    /// Virtual router ID (`group`), 1–255. Required.
    pub group: Vrid,
    /// Interface to run VRRP on. Required.
    pub interface: IfName,
    /// Name (keepalived's instance name, given to notify scripts and the notify FIFO);
    /// default `<interface>-<group>` (`-v6` appended for IPv6); see [`VRouter::name`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Interface type (default `ether`).
    #[serde(default, deserialize_with = "or_default")]
    pub iftype: IfType,
    /// Virtual addresses (`vip`), all of one family. Required.
    #[serde(
        deserialize_with = "deserialize_vips",
        serialize_with = "serialize_vips"
    )]
    pub vip: Vec<VirtualAddress>,
    /// Priority, 1–254 (default 100).
    #[serde(default, deserialize_with = "or_default")]
    pub priority: Priority,
    /// Whether a higher-priority backup preempts a lower-priority master (default false).
    #[serde(default, deserialize_with = "or_default")]
    pub preemption: bool,
    /// RFC 3768 compatibility flag (default true; forced true by proprietary authentication).
    #[serde(default = "default_true", deserialize_with = "or_true")]
    pub rfc3768: bool,
    /// Network driver (default `libnl`; forced to `libnl` for `macvlan`).
    #[serde(default, deserialize_with = "or_default")]
    pub netdrv: NetDriver,
    /// Virtual interface name for `macvlan` (default `standby<group>`); see [`VRouter::vifname`].
    #[serde(default)]
    pub vifname: Option<IfName>,
    /// Authentication type; `None` means no authentication.
    #[serde(default)]
    pub auth_type: Option<AuthType>,
    /// Authentication secret; required with `auth_type`. Never serialized.
    #[serde(default, skip_serializing)]
    pub auth_secret: Option<Secret>,
    /// Protocol timers.
    #[serde(default, deserialize_with = "or_default")]
    pub timers: Timers,
    /// Whether to attach a kernel socket filter (default true).
    #[serde(default = "default_true", deserialize_with = "or_true")]
    pub socket_filter: bool,
    /// Extension: VRRP version, 2 (RFC 3768, default) or 3 (RFC 5798).
    #[serde(default, deserialize_with = "or_default")]
    pub version: ProtocolVersion,
    /// Extension: accept packets addressed to the virtual addresses when master (default false).
    #[serde(default, deserialize_with = "or_default")]
    pub accept_mode: bool,
    /// Extension: VRRPv3-over-IPv4 checksum form (default `pseudo-header`).
    #[serde(default, deserialize_with = "or_default")]
    pub v3_checksum: V3Checksum,
    /// Extension: gratuitous ARPs / unsolicited NAs sent on becoming master (default 5;
    /// keepalived's name `garp_master_repeat` is accepted).
    #[serde(default, deserialize_with = "or_default", alias = "garp_master_repeat")]
    pub garp_repeat: GarpRepeat,
    /// Extension: delay between those announcements, seconds (default 1).
    #[serde(default, deserialize_with = "or_default")]
    pub garp_interval: GarpInterval,
    /// Extension (keepalived's): a second burst of `garp_repeat` announcements this many
    /// seconds after becoming Master (0–1000; default 0: none, the first burst is already
    /// spread over `garp_repeat` × `garp_interval`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub garp_master_delay: f64,
    /// Extension (keepalived's): announce again every this many seconds while Master
    /// (0–86400; default 0: never).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub garp_master_refresh: f64,
    /// Extension (keepalived's): announcements per refresh (1–255, default 1).
    #[serde(default = "one_u8")]
    pub garp_master_refresh_repeat: u8,
    /// Extension (keepalived's): announcements a Master sends when it hears a lower-priority
    /// advert (0–255, default 0: none).
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub garp_lower_prio_repeat: u8,
    /// Extension (keepalived's `preempt_delay`): seconds a preempting Backup waits, from the
    /// first advert of a worse Master, before it preempts (0–1000, default 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub preempt_delay: f64,
    /// Unicast mode (keepalived's `unicast_peer`): adverts go to each of these addresses
    /// instead of the multicast group, and only adverts from them are accepted. Empty:
    /// multicast (the RFC's mode).
    #[serde(
        default,
        deserialize_with = "or_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub unicast_peer: Vec<IpAddr>,
    /// Unicast mode: source address of our adverts (keepalived's `unicast_src_ip`; default
    /// the interface's primary IPv4 address, or its IPv6 link-local address).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "unicast_src_ip"
    )]
    pub unicast_src: Option<IpAddr>,
    /// Unicast mode: TTL / hop limit of our adverts (1–255, default 255 as keepalived).
    #[serde(default = "ttl_255", skip_serializing_if = "is_255")]
    pub unicast_ttl: u8,
    /// Unicast mode: the lowest TTL / hop limit accepted from a peer (1–255, default 255:
    /// the RFC's rule, peers on the link only; lower it for peers behind routers).
    #[serde(default = "ttl_255", skip_serializing_if = "is_255")]
    pub unicast_min_ttl: u8,
    /// Interfaces whose link state changes the priority (weighted) or puts the group in Fault
    /// (unweighted). The group's own interface is always tracked, unweighted.
    #[serde(
        default,
        deserialize_with = "or_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub track_interface: Vec<TrackRef>,
    /// `[[track_script]]` names (optionally with a weight for this vrouter).
    #[serde(
        default,
        deserialize_with = "or_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub track_script: Vec<TrackRef>,
    /// `[[track_file]]` names (optionally with a weight for this vrouter).
    #[serde(
        default,
        deserialize_with = "or_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub track_file: Vec<TrackRef>,
    /// Script run on becoming Master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_master: Option<NotifyScript>,
    /// Script run on becoming Backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_backup: Option<NotifyScript>,
    /// Script run on entering the Fault state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_fault: Option<NotifyScript>,
    /// Script run when the virtual router stops (daemon shutdown, removal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_stop: Option<NotifyScript>,
    /// Script run on every transition, after the specific one, with the arguments
    /// `INSTANCE <name> <state> <priority>` appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifyScript>,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn is_zero_u8(v: &u8) -> bool {
    *v == 0
}

fn one_u8() -> u8 {
    1
}

fn ttl_255() -> u8 {
    255
}

fn is_255(v: &u8) -> bool {
    *v == 255
}

impl VRouter {
    /// `preempt_delay` as a duration (validated: 0–1000 s).
    pub fn preempt_delay(&self) -> Duration {
        Duration::try_from_secs_f64(self.preempt_delay).unwrap_or_default()
    }

    /// Advertisement interval as a duration.
    pub fn advert_interval(&self) -> Duration {
        self.timers.advert.as_duration()
    }

    /// The name: `name`, or `<interface>-<group>` by default (`<interface>-<group>-v6` for
    /// IPv6, so that the two families of one group differ).
    pub fn name(&self) -> Cow<'_, str> {
        match &self.name {
            Some(name) => Cow::Borrowed(name.as_str()),
            None if self.family() == AddressFamily::Ipv6 => {
                Cow::Owned(format!("{}-{}-v6", self.interface, self.group))
            }
            None => Cow::Owned(format!("{}-{}", self.interface, self.group)),
        }
    }

    /// The notify scripts, as (directive, script), in keepalived's order.
    pub fn notify_scripts(&self) -> [(&'static str, Option<&NotifyScript>); 5] {
        [
            ("notify_master", self.notify_master.as_ref()),
            ("notify_backup", self.notify_backup.as_ref()),
            ("notify_fault", self.notify_fault.as_ref()),
            ("notify_stop", self.notify_stop.as_ref()),
            ("notify", self.notify.as_ref()),
        ]
    }

    /// The virtual interface name: `vifname`, or `standby<group>` by default.
    pub fn vifname(&self) -> Cow<'_, str> {
        match &self.vifname {
            Some(name) => Cow::Borrowed(name.as_str()),
            None => Cow::Owned(format!("standby{}", self.group)),
        }
    }

    /// Whether the group runs in unicast mode (`unicast_peer` given).
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peer.is_empty()
    }

    /// Whether the virtual router works through a macvlan virtual interface.
    pub fn is_macvlan(&self) -> bool {
        self.iftype == IfType::Macvlan
    }

    /// Whether the legacy ioctl driver is used (never with macvlan after validation).
    pub fn uses_ioctl(&self) -> bool {
        self.netdrv == NetDriver::Ioctl
    }

    /// Delay between repeated gratuitous ARPs / unsolicited NAs.
    pub fn garp_interval(&self) -> Duration {
        self.garp_interval.as_duration()
    }

    /// The authentication secret's bytes, when authentication is configured.
    pub fn auth_secret_bytes(&self) -> Option<&[u8]> {
        self.auth_type
            .and(self.auth_secret.as_ref())
            .map(Secret::expose)
    }

    /// Address family of the virtual addresses (all addresses share it after validation).
    pub fn family(&self) -> AddressFamily {
        self.vip
            .first()
            .map_or(AddressFamily::Ipv4, VirtualAddress::family)
    }

    /// What identifies the vrouter among the others (validation keeps it unique): its
    /// interface, group and whether it is IPv6. Borrowed: building one allocates nothing.
    pub fn identity(&self) -> (&str, u8, bool) {
        (
            self.interface.as_str(),
            self.group.get(),
            self.family() == AddressFamily::Ipv6,
        )
    }
}

/// Virtual router identifier (`group`), 1–255.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u8")]
pub struct Vrid(u8);

impl Vrid {
    /// The numeric VRID.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for Vrid {
    type Error = String;

    fn try_from(vrid: i64) -> Result<Self, Self::Error> {
        match u8::try_from(vrid) {
            Ok(vrid @ 1..=255) => Ok(Self(vrid)),
            _ => Err(value_error(
                vrid,
                "is out of range (1–255; 0 is not a valid VRID)",
            )),
        }
    }
}

impl From<Vrid> for u8 {
    fn from(vrid: Vrid) -> u8 {
        vrid.0
    }
}

impl fmt::Display for Vrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Virtual router priority, 1–254 (0 and 255 are reserved by the RFCs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u8")]
pub struct Priority(u8);

impl Priority {
    /// The numeric priority.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for Priority {
    fn default() -> Self {
        Self(100)
    }
}

impl TryFrom<i64> for Priority {
    type Error = String;

    fn try_from(priority: i64) -> Result<Self, Self::Error> {
        match u8::try_from(priority) {
            Ok(priority @ 1..=254) => Ok(Self(priority)),
            _ => Err(value_error(
                priority,
                "is out of range (1–254; 0 and 255 are reserved)",
            )),
        }
    }
}

impl From<Priority> for u8 {
    fn from(priority: Priority) -> u8 {
        priority.0
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Number of gratuitous ARPs / unsolicited NAs sent on becoming master, 1–255 (default 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u8")]
pub struct GarpRepeat(u8);

impl GarpRepeat {
    /// The count.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for GarpRepeat {
    fn default() -> Self {
        Self(5)
    }
}

impl TryFrom<i64> for GarpRepeat {
    type Error = String;

    fn try_from(count: i64) -> Result<Self, Self::Error> {
        match u8::try_from(count) {
            Ok(count @ 1..=255) => Ok(Self(count)),
            _ => Err(value_error(count, "is out of range (1–255)")),
        }
    }
}

impl From<GarpRepeat> for u8 {
    fn from(count: GarpRepeat) -> u8 {
        count.0
    }
}

/// A network interface name as Linux accepts it: 1–15 bytes, no `/`, `:` or whitespace.
/// Stored inline (16 bytes, no allocation): every `[[vrouter]]` has one, and the daemon keeps
/// them all.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IfName {
    /// The name, zero-padded: a valid name has no NUL, so the padding sorts before any byte
    /// and the derived order is the names' order.
    bytes: [u8; IfName::MAX_LEN],
    len: u8,
}

impl IfName {
    /// Longest valid name (IFNAMSIZ − 1).
    pub const MAX_LEN: usize = 15;

    /// The name.
    pub fn as_str(&self) -> &str {
        // Built from a `String` of at most MAX_LEN bytes, so always valid UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl TryFrom<String> for IfName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        let invalid = |why: &str| value_error(format_args!("{name:?}"), why);
        if name.is_empty() || name.len() > Self::MAX_LEN {
            return Err(invalid("is not a valid interface name (1 to 15 bytes)"));
        }
        if name == "." || name == ".." {
            return Err(invalid("is not a valid interface name"));
        }
        if name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
        {
            return Err(invalid(
                "is not a valid interface name (no '/', ':' or whitespace)",
            ));
        }
        let mut bytes = [0; Self::MAX_LEN];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Ok(Self {
            bytes,
            len: name.len() as u8,
        })
    }
}

impl From<IfName> for String {
    fn from(name: IfName) -> String {
        name.as_str().to_string()
    }
}

impl std::ops::Deref for IfName {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for IfName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for IfName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IfName").field(&self.as_str()).finish()
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

string_enum! {
    /// Interface type (`iftype`).
    pub enum IfType ("interface type") default Ether {
        /// Work directly on the configured interface (default).
        Ether => "ether",
        /// Create a MAC-based virtual interface (`vifname`) for the virtual MAC and addresses.
        Macvlan => "macvlan",
    }
}

string_enum! {
    /// Network driver (`netdrv`).
    pub enum NetDriver ("network driver") default Libnl {
        /// Netlink (default; required by `macvlan`).
        Libnl => "libnl",
        /// Legacy ioctls.
        Ioctl => "ioctl",
    }
}

/// VRRP protocol version (`version`, extension): 2 (RFC 3768) or 3 (RFC 5798).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "i64", into = "u8")]
pub enum ProtocolVersion {
    /// VRRPv2, RFC 3768 (default).
    #[default]
    V2,
    /// VRRPv3, RFC 5798.
    V3,
}

impl TryFrom<i64> for ProtocolVersion {
    type Error = String;

    fn try_from(version: i64) -> Result<Self, Self::Error> {
        match version {
            2 => Ok(Self::V2),
            3 => Ok(Self::V3),
            other => Err(value_error(
                other,
                "is not a supported VRRP version (expected 2 or 3)",
            )),
        }
    }
}

impl From<ProtocolVersion> for u8 {
    fn from(version: ProtocolVersion) -> u8 {
        match version {
            ProtocolVersion::V2 => 2,
            ProtocolVersion::V3 => 3,
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        u8::from(*self).fmt(f)
    }
}

#[cfg(test)]
mod ifname_tests {
    use super::IfName;

    fn name(s: &str) -> IfName {
        IfName::try_from(s.to_string()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn inline_name_keeps_text_order_and_forms() {
        assert_eq!(std::mem::size_of::<IfName>(), 16);
        let longest = "abcdefghijklmno";
        assert_eq!(name(longest).as_str(), longest);
        assert_eq!(String::from(name("eth0")), "eth0");
        assert_eq!(name("eth0").to_string(), "eth0");
        assert_eq!(format!("{:?}", name("eth0")), "IfName(\"eth0\")");
        let mut v = [
            name("eth10"),
            name("eth0"),
            name("eth"),
            name("dummy"),
            name("é"),
        ];
        v.sort();
        let sorted: Vec<&str> = v.iter().map(IfName::as_str).collect();
        assert_eq!(sorted, ["dummy", "eth", "eth0", "eth10", "é"]);
        assert_ne!(name("eth"), name("eth0"));
        assert!(IfName::try_from("abcdefghijklmnop".to_string()).is_err());
        assert!(IfName::try_from(String::new()).is_err());
        assert!(IfName::try_from("a\0".to_string()).is_err());
    }
}
