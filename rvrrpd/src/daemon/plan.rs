//! The resolved plan: each configured `[[vrouter]]` turned into a [`GroupSpec`] with everything
//! a worker needs (interface index and addresses looked up, owner priority applied, the
//! advertised address list decided). Resolving happens before anything on the system changes,
//! so a bad interface stops the start-up cleanly.

use std::net::IpAddr;
use std::time::Duration;

use crate::auth::AuthKey;
use crate::config::{Config, IfName, ProtocolVersion, VRouter};
use crate::net::{IpPrefix, Ipv4Route};
use crate::wire::{virtual_mac, Family, MacAddr, V3Checksum, Version};

/// Which network driver applies a group's addresses and routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetDrv {
    /// rtnetlink (the default).
    Netlink,
    /// ioctl: the interface's address is swapped for the VIP while Master.
    Ioctl,
}

/// A macvlan interface to create for a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VifSpec {
    /// Interface name (`vifname`).
    pub name: String,
    /// Its MAC: the virtual router MAC.
    pub mac: MacAddr,
}

/// Everything one group's worker and the control plane need, resolved.
#[derive(Clone, Debug)]
pub struct GroupSpec {
    /// Position in the configuration (`vrouter[N]`).
    pub index: usize,
    /// Interface the group runs on (inline, no allocation).
    pub ifname: IfName,
    /// Its index.
    pub ifindex: u32,
    /// Its MAC address.
    pub if_mac: MacAddr,
    /// Virtual router id.
    pub vrid: u8,
    /// Address family of the group.
    pub family: Family,
    /// VRRP version.
    pub version: Version,
    /// Configured priority, or 255 when we own the VIPs.
    pub priority: u8,
    /// True when a VIP is one of the interface's own addresses (RFC address owner).
    pub owner: bool,
    /// Preemption.
    pub preempt: bool,
    /// Accept mode (v3).
    pub accept_mode: bool,
    /// Advertisement interval.
    pub interval: Duration,
    /// Source address of our adverts (IPv4 primary, or IPv6 link-local).
    pub primary: IpAddr,
    /// The virtual addresses.
    pub vips: Vec<IpPrefix>,
    /// Addresses carried in our adverts (VIPs, plus local ones with `rfc3768 = false`).
    pub advert_addrs: Vec<IpAddr>,
    /// Authentication (v2).
    pub auth: AuthKey,
    /// VRRPv3/IPv4 checksum mode.
    pub v3_checksum: V3Checksum,
    /// MAC announced in gratuitous ARP / NA (virtual MAC with macvlan, the interface's otherwise).
    pub announce_mac: MacAddr,
    /// The macvlan to create, if `iftype = "macvlan"` (boxed: most groups have none).
    pub vif: Option<Box<VifSpec>>,
    /// Network driver.
    pub netdrv: NetDrv,
    /// Attach the classic BPF filter to the receive socket.
    pub socket_filter: bool,
    /// Gratuitous ARP / NA: number of announcements on becoming Master.
    pub garp_repeat: u32,
    /// Gratuitous ARP / NA: spacing of the announcements.
    pub garp_interval: Duration,
    /// Phase slots per advertisement interval (config `advert_slots`).
    pub advert_slots: u16,
    /// `preempt_delay`.
    pub preempt_delay: Duration,
    /// Second burst of `garp_repeat` announcements this long after becoming Master (0: none).
    pub garp_master_delay: Duration,
    /// Announce again every so often while Master (0: never).
    pub garp_master_refresh: Duration,
    /// Announcements per refresh.
    pub garp_master_refresh_repeat: u32,
    /// Announcements when a Master hears a lower-priority advert (0: none).
    pub garp_lower_prio_repeat: u32,
    /// Unicast mode (`unicast_peer`); `None`: multicast.
    pub unicast: Option<Box<UnicastSpec>>,
    /// The vrouter's name (keepalived's instance name).
    pub name: String,
    /// Its notify scripts, if it has any (boxed: most groups have none).
    pub notify: Option<Box<crate::daemon::notify::GroupNotify>>,
}

/// A group's unicast mode: where its adverts go and whose it accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnicastSpec {
    /// Source address of our adverts (`unicast_src`, default the group's `primary`); also
    /// the destination a peer's adverts are checksummed for (VRRPv3 pseudo-header).
    pub src: IpAddr,
    /// The peers: each advert goes to every one; only theirs are accepted.
    pub peers: Vec<IpAddr>,
    /// TTL / hop limit of our adverts.
    pub ttl: u8,
    /// Lowest TTL / hop limit accepted from a peer.
    pub min_ttl: u8,
}

impl GroupSpec {
    /// The interface that holds the VIPs: the macvlan, or the interface itself.
    pub fn vip_ifname(&self) -> &str {
        self.vif
            .as_ref()
            .map_or(self.ifname.as_str(), |v| v.name.as_str())
    }

    /// The VRRP version as the state machine (and its timer arithmetic) names it.
    pub fn fsm_version(&self) -> crate::fsm::Version {
        match self.version {
            Version::V2 => crate::fsm::Version::V2,
            Version::V3 => crate::fsm::Version::V3,
        }
    }

    /// Its notify scripts (none for most groups).
    pub fn notify(&self) -> &crate::daemon::notify::GroupNotify {
        self.notify
            .as_deref()
            .unwrap_or(&crate::daemon::notify::GroupNotify::NONE)
    }

    /// Source address of the group's adverts: `unicast_src` in unicast mode, else `primary`.
    pub fn advert_src(&self) -> IpAddr {
        self.unicast.as_ref().map_or(self.primary, |u| u.src)
    }

    /// The group's key in the eBPF demux map (and its suppression slot).
    pub fn demux_key(&self) -> rvrrpd_common::DemuxKey {
        let family = match self.family {
            Family::Ipv4 => rvrrpd_common::FAMILY_V4,
            Family::Ipv6 => rvrrpd_common::FAMILY_V6,
        };
        rvrrpd_common::DemuxKey::new(self.ifindex, self.vrid, family)
    }
}

/// Most phase slots per advertisement interval when the configuration sets none: 50 ms slots
/// at 1 s, so a thousand groups make clusters of 50 that a peer takes over in about a
/// millisecond, for 20 wake-ups a second.
pub const DEFAULT_ADVERT_SLOTS: u16 = 20;

/// Groups per slot the default aims at: fewer groups get fewer slots (each slot is a wake-up
/// per interval on both routers; clusters of 50 are taken over in well under a millisecond).
const GROUPS_PER_SLOT: usize = 50;

/// Most groups per slot by default: beyond [`DEFAULT_ADVERT_SLOTS`] × this many groups, the
/// default adds slots. A peer takes a slot's groups over one after another at a few µs each,
/// so the last of a cluster of 500 came up to ~1.3 ms late at 10,000 groups (p99), of 250
/// ~0.5–0.8 ms; smaller bursts cost the Master ~15 % more CPU per advert (performance.md,
/// finding 22).
const MAX_GROUPS_PER_SLOT: usize = 250;

/// Facts about an interface needed to resolve a group.
#[derive(Clone, Debug, Default)]
pub struct IfaceFacts {
    /// Interface index.
    pub ifindex: u32,
    /// MAC address.
    pub mac: MacAddr,
    /// IPv4 addresses, primary first.
    pub ipv4: Vec<IpAddr>,
    /// IPv6 link-local addresses.
    pub ipv6_link_local: Vec<IpAddr>,
    /// All IPv6 addresses.
    pub ipv6: Vec<IpAddr>,
    /// Every address with its prefix length, in kernel order.
    pub prefixed: Vec<(IpAddr, u8)>,
}

/// A problem resolving the configuration against this host.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The interface does not exist or cannot be read.
    #[error("vrouter[{index}].interface = {ifname:?}: {reason}")]
    Interface {
        /// vrouter index.
        index: usize,
        /// Interface name.
        ifname: String,
        /// What is wrong.
        reason: String,
    },
    /// The authentication key could not be built.
    #[error("vrouter[{index}].auth_secret: {reason}")]
    Auth {
        /// vrouter index.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Resolves every vrouter of `config` using `lookup` to read interface facts.
pub fn resolve(
    config: &Config,
    mut lookup: impl FnMut(&str) -> Result<IfaceFacts, String>,
) -> Result<Vec<GroupSpec>, PlanError> {
    // One lookup per interface, not per group: thousands of groups share a few interfaces.
    let mut cache: std::collections::HashMap<String, Result<IfaceFacts, String>> =
        std::collections::HashMap::new();
    let mut lookup = move |name: &str| {
        cache
            .entry(name.to_string())
            .or_insert_with(|| lookup(name))
            .clone()
    };
    config
        .vrouters
        .iter()
        .enumerate()
        .map(|(index, vr)| {
            let facts = lookup(vr.interface.as_str()).map_err(|reason| PlanError::Interface {
                index,
                ifname: vr.interface.as_str().to_string(),
                reason,
            })?;
            resolve_one(index, vr, &facts, advert_slots(config))
        })
        .collect()
}

/// The configured phase slots, or by default one per [`GROUPS_PER_SLOT`] groups, at most
/// [`DEFAULT_ADVERT_SLOTS`] unless slots would then hold more than [`MAX_GROUPS_PER_SLOT`]
/// groups (10,000 groups: 40 slots). The interval's 5-ms floor on a slot's width applies
/// later (`advert_phase`): at 1 s, 200 slots at most.
pub fn advert_slots(config: &Config) -> u16 {
    config.advert_slots.unwrap_or_else(|| {
        let groups = config.vrouters.len();
        let few = (groups / GROUPS_PER_SLOT).clamp(1, usize::from(DEFAULT_ADVERT_SLOTS));
        let many = groups.div_ceil(MAX_GROUPS_PER_SLOT);
        u16::try_from(few.max(many))
            .unwrap_or(u16::MAX)
            .min(crate::config::MAX_ADVERT_SLOTS)
    })
}

/// Whether the interface really owns `vip` (RFC address owner). A VIP that a crashed run left
/// behind looks like a local address too; it is told apart by being exactly what rvrrpd
/// installs (the VIP with its configured prefix) and not the interface's first address of
/// that family, which an administrator configured before any VIP was added.
fn owns(facts: &IfaceFacts, vip: &IpPrefix) -> bool {
    let family_first = facts
        .prefixed
        .iter()
        .find(|(a, _)| {
            a.is_ipv4() == vip.addr.is_ipv4()
                && !matches!(a, IpAddr::V6(v6) if crate::net::types::is_link_local(v6))
        })
        .map(|(a, _)| *a);
    facts
        .prefixed
        .iter()
        .any(|(a, p)| *a == vip.addr && (*p != vip.prefix_len || family_first == Some(vip.addr)))
}

/// Resolves one vrouter (added at run time) under the stable id `index`.
pub fn resolve_vrouter(
    index: usize,
    vr: &VRouter,
    advert_slots: u16,
    mut lookup: impl FnMut(&str) -> Result<IfaceFacts, String>,
) -> Result<GroupSpec, PlanError> {
    let facts = lookup(vr.interface.as_str()).map_err(|reason| PlanError::Interface {
        index,
        ifname: vr.interface.as_str().to_string(),
        reason,
    })?;
    resolve_one(index, vr, &facts, advert_slots)
}

fn resolve_one(
    index: usize,
    vr: &VRouter,
    facts: &IfaceFacts,
    advert_slots: u16,
) -> Result<GroupSpec, PlanError> {
    let family = vr.family();
    let ifname = vr.interface.clone();
    let iface_err = |reason: String| PlanError::Interface {
        index,
        ifname: ifname.to_string(),
        reason,
    };
    let (primary, local): (IpAddr, &[IpAddr]) = match family {
        Family::Ipv4 => (
            *facts
                .ipv4
                .first()
                .ok_or_else(|| iface_err("has no IPv4 address to send adverts from".into()))?,
            &facts.ipv4,
        ),
        Family::Ipv6 => (
            *facts.ipv6_link_local.first().ok_or_else(|| {
                iface_err("has no IPv6 link-local address to send adverts from".into())
            })?,
            &facts.ipv6,
        ),
    };
    let vips: Vec<IpPrefix> = vr
        .vip
        .iter()
        .map(|v| IpPrefix {
            addr: v.addr,
            prefix_len: v.effective_prefix_len(),
        })
        .collect();
    let owner = vips.iter().any(|v| owns(facts, v));
    let version = match vr.version {
        ProtocolVersion::V2 => Version::V2,
        ProtocolVersion::V3 => Version::V3,
    };
    let mut advert_addrs: Vec<IpAddr> = vips.iter().map(|v| v.addr).collect();
    if version == Version::V2 && !vr.rfc3768 {
        // The original's extension: the interface's own addresses follow the VIPs.
        let extra: Vec<IpAddr> = local
            .iter()
            .filter(|a| !advert_addrs.contains(a))
            .copied()
            .collect();
        advert_addrs.extend(extra);
    }
    let auth = auth_key(vr).map_err(|reason| PlanError::Auth { index, reason })?;
    let vrid = vr.group.get();
    let vmac = virtual_mac(family, vrid);
    let vif = vr.is_macvlan().then(|| VifSpec {
        name: vr.vifname().into_owned(),
        mac: vmac,
    });
    Ok(GroupSpec {
        index,
        ifindex: facts.ifindex,
        if_mac: facts.mac,
        vrid,
        family,
        version,
        priority: if owner { 255 } else { vr.priority.get() },
        owner,
        preempt: vr.preemption || owner,
        accept_mode: vr.accept_mode,
        interval: vr.advert_interval(),
        primary,
        vips,
        advert_addrs,
        auth,
        v3_checksum: vr.v3_checksum,
        announce_mac: if vif.is_some() { vmac } else { facts.mac },
        vif: vif.map(Box::new),
        netdrv: if vr.uses_ioctl() {
            NetDrv::Ioctl
        } else {
            NetDrv::Netlink
        },
        socket_filter: vr.socket_filter,
        garp_repeat: u32::from(vr.garp_repeat.get()),
        garp_interval: vr.garp_interval(),
        advert_slots,
        preempt_delay: vr.preempt_delay(),
        garp_master_delay: secs(vr.garp_master_delay),
        garp_master_refresh: secs(vr.garp_master_refresh),
        garp_master_refresh_repeat: u32::from(vr.garp_master_refresh_repeat),
        garp_lower_prio_repeat: u32::from(vr.garp_lower_prio_repeat),
        unicast: vr.is_unicast().then(|| {
            Box::new(UnicastSpec {
                src: vr.unicast_src.unwrap_or(primary),
                peers: vr.unicast_peer.clone(),
                ttl: vr.unicast_ttl,
                min_ttl: vr.unicast_min_ttl,
            })
        }),
        ifname,
        name: vr.name().into_owned(),
        notify: crate::daemon::notify::GroupNotify::from_vrouter(vr).boxed_if_any(),
    })
}

/// Validated seconds as a duration.
fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or_default()
}

/// The authentication key of a vrouter (the config has already checked the secret's length).
fn auth_key(vr: &VRouter) -> Result<AuthKey, String> {
    let Some(kind) = vr.auth_type else {
        return Ok(AuthKey::none());
    };
    let secret = vr.auth_secret_bytes().unwrap_or_default();
    AuthKey::new(kind, secret.to_vec()).map_err(|e| e.to_string())
}

/// The configured static routes in the drivers' form.
pub fn static_routes(config: &Config) -> Vec<Ipv4Route> {
    config
        .static_routes()
        .iter()
        .map(|r| Ipv4Route {
            dst: r.route,
            prefix_len: r.prefix_len(),
            gateway: r.nh,
            metric: r.metric.map(u32::from),
            mtu: r.mtu.map(u32::from),
        })
        .collect()
}

impl IfaceFacts {
    /// Facts from the driver's interface description.
    pub fn from_interface(iface: &crate::net::iface::Interface) -> Self {
        IfaceFacts {
            ifindex: iface.index,
            mac: MacAddr(iface.mac.unwrap_or_default()),
            ipv4: iface.ipv4.iter().map(|(a, _)| IpAddr::V4(*a)).collect(),
            ipv6_link_local: iface.ipv6_link_local().map(IpAddr::V6).collect(),
            ipv6: iface.ipv6.iter().map(|(a, _)| IpAddr::V6(*a)).collect(),
            prefixed: iface
                .ipv4
                .iter()
                .map(|(a, p)| (IpAddr::V4(*a), *p))
                .chain(iface.ipv6.iter().map(|(a, p)| (IpAddr::V6(*a), *p)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Format;

    fn facts() -> IfaceFacts {
        IfaceFacts {
            ifindex: 4,
            mac: MacAddr([2, 0, 0, 0, 0, 1]),
            ipv4: vec!["10.0.0.2".parse().unwrap(), "10.0.1.2".parse().unwrap()],
            ipv6_link_local: vec!["fe80::1".parse().unwrap()],
            ipv6: vec!["fe80::1".parse().unwrap(), "2001:db8::2".parse().unwrap()],
            prefixed: vec![
                ("10.0.0.2".parse().unwrap(), 24),
                ("10.0.1.2".parse().unwrap(), 24),
                ("fe80::1".parse().unwrap(), 64),
                ("2001:db8::2".parse().unwrap(), 64),
            ],
        }
    }

    fn plan(text: &str) -> Result<Vec<GroupSpec>, PlanError> {
        let cfg = Config::from_str(text, Some(Format::Toml), "test.conf").unwrap();
        resolve(&cfg, |name| {
            if name == "eth0" {
                Ok(facts())
            } else {
                Err("no such interface".into())
            }
        })
    }

    #[test]
    fn advert_slots_default_to_one_per_50_groups_at_most_20_below_5000() {
        let groups = |n: usize, extra: &str| {
            let mut text = String::from(extra);
            for v in 0..n {
                text += &format!(
                    "[[vrouter]]\ngroup = {}\ninterface = \"eth{}\"\nvip = \"10.0.0.100\"\n",
                    v % 250 + 1,
                    v / 250
                );
            }
            Config::from_str(&text, Some(Format::Toml), "test.conf").unwrap()
        };
        assert_eq!(advert_slots(&groups(0, "")), 1);
        assert_eq!(advert_slots(&groups(99, "")), 1);
        assert_eq!(advert_slots(&groups(100, "")), 2);
        assert_eq!(advert_slots(&groups(1000, "")), 20);
        assert_eq!(advert_slots(&groups(1500, "")), 20);
        assert_eq!(advert_slots(&groups(5000, "")), 20);
        // Beyond 5,000 groups, slots of at most 250.
        assert_eq!(advert_slots(&groups(5001, "")), 21);
        assert_eq!(advert_slots(&groups(10_000, "")), 40);
        assert_eq!(advert_slots(&groups(100, "advert_slots = 7\n")), 7);
        let specs = plan("advert_slots = 3\n[[vrouter]]\ngroup = 9\ninterface = \"eth0\"\nvip = \"10.0.0.100\"\n")
            .unwrap();
        assert_eq!(specs[0].advert_slots, 3);
    }

    #[test]
    fn plain_group_uses_primary_address_and_interface_mac() {
        let g = &plan("[[vrouter]]\ngroup = 9\ninterface = \"eth0\"\nvip = \"10.0.0.100\"\n")
            .unwrap()[0];
        assert_eq!(g.primary, "10.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(g.priority, 100);
        assert!(!g.owner);
        assert_eq!(
            g.advert_addrs,
            vec!["10.0.0.100".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(g.announce_mac, MacAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!(g.vip_ifname(), "eth0");
        assert!(g.vif.is_none());
        assert_eq!(g.vips[0].prefix_len, 32);
    }

    #[test]
    fn owning_the_vip_means_priority_255_and_preemption() {
        let g = &plan(
            "[[vrouter]]\ngroup = 9\ninterface = \"eth0\"\nvip = \"10.0.1.2\"\npriority = 50\n",
        )
        .unwrap()[0];
        assert!(g.owner);
        assert_eq!(g.priority, 255);
        assert!(g.preempt);
    }

    #[test]
    fn a_vip_left_by_a_crashed_run_is_not_ownership() {
        let cfg = Config::from_str(
            "[[vrouter]]\ngroup = 9\ninterface = \"eth0\"\nvip = \"10.0.0.100\"\npriority = 50\n",
            Some(Format::Toml),
            "test.conf",
        )
        .unwrap();
        let mut f = facts();
        f.ipv4.push("10.0.0.100".parse().unwrap());
        f.prefixed.push(("10.0.0.100".parse().unwrap(), 32));
        let g = &resolve(&cfg, |_| Ok(f.clone())).unwrap()[0];
        assert!(!g.owner);
        assert_eq!(g.priority, 50);
        // The same address as the interface's own first address is ownership, whatever its
        // prefix.
        let mut f = facts();
        f.prefixed[0] = ("10.0.0.100".parse().unwrap(), 32);
        f.ipv4[0] = "10.0.0.100".parse().unwrap();
        let g = &resolve(&cfg, |_| Ok(f.clone())).unwrap()[0];
        assert!(g.owner);
    }

    #[test]
    fn rfc3768_false_appends_local_addresses() {
        let g = &plan(
            "[[vrouter]]\ngroup = 9\ninterface = \"eth0\"\nvip = \"10.0.0.100\"\nrfc3768 = false\n",
        )
        .unwrap()[0];
        let want: Vec<IpAddr> = ["10.0.0.100", "10.0.0.2", "10.0.1.2"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(g.advert_addrs, want);
    }

    #[test]
    fn macvlan_group_announces_the_virtual_mac_on_its_vif() {
        let g = &plan(
            "[[vrouter]]\ngroup = 9\ninterface = \"eth0\"\nvip = \"10.0.0.100\"\niftype = \"macvlan\"\n",
        )
        .unwrap()[0];
        let vmac = virtual_mac(Family::Ipv4, 9);
        assert_eq!(g.announce_mac, vmac);
        assert_eq!(
            g.vif.as_deref(),
            Some(&VifSpec {
                name: "standby9".into(),
                mac: vmac
            })
        );
        assert_eq!(g.vip_ifname(), "standby9");
    }

    #[test]
    fn ipv6_group_sends_from_the_link_local_address() {
        let g = &plan(
            "[[vrouter]]\ngroup = 9\ninterface = \"eth0\"\nversion = 3\nvip = \"2001:db8::100\"\n",
        )
        .unwrap()[0];
        assert_eq!(g.family, Family::Ipv6);
        assert_eq!(g.primary, "fe80::1".parse::<IpAddr>().unwrap());
        assert_eq!(g.vips[0].prefix_len, 128);
    }

    #[test]
    fn unknown_interface_is_named_in_the_error() {
        let e = plan("[[vrouter]]\ngroup = 9\ninterface = \"eth7\"\nvip = \"10.0.0.100\"\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "vrouter[0].interface = \"eth7\": no such interface"
        );
    }

    #[test]
    fn simple_auth_key_is_built_from_the_secret() {
        let g = &plan(
            "[[vrouter]]\ngroup = 9\ninterface = \"eth0\"\nvip = \"10.0.0.100\"\nauth_type = \"rfc2338-simple\"\nauth_secret = \"s3cret\"\n",
        )
        .unwrap()[0];
        assert_eq!(g.auth.kind(), crate::auth::AuthType::Simple);
    }
}
