//! `netdrv = "libnl"` (the default and recommended driver): addresses, macvlan virtual
//! interfaces and IPv4 routes through rtnetlink (async, tokio).
//!
//! * Addresses: VIPs are added as /32 or /128 unless a prefix is given; IPv6 VIPs carry
//!   `IFA_F_NODAD` so they are usable at once. Adding an existing address and removing a
//!   missing one are not errors (both report whether something changed).
//! * Macvlan: `ip link add NAME link PARENT address VMAC type macvlan mode bridge`, set up.
//!   The same sysctls as keepalived's VMAC support are applied so the macvlan answers ARP
//!   for the VIP with the virtual MAC and the parent does not:
//!   on the macvlan `arp_ignore=1`, `accept_local=1`, `rp_filter=0`,
//!   `promote_secondaries=1`; on the parent `arp_ignore=1`, `arp_filter=1`, `arp_announce=2` (previous
//!   values saved and restored when its last macvlan is deleted).
//! * Routes are installed with protocol [`RTPROT_RVRRPD`] (112, VRRP's IP protocol number,
//!   unused by iproute2's `rt_protos`), so `ip route show proto 112` shows them and
//!   [`NetlinkDriver::cleanup_leftovers`] can remove a crashed instance's routes.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;

use futures::TryStreamExt;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlag, AddressHeaderFlag, AddressMessage,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlag, LinkInfo as NlLinkInfo, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteMetric, RouteProtocol,
    RouteScope, RouteType,
};
use netlink_packet_route::AddressFamily;
use rtnetlink::{Handle, IpVersion};

use super::{IpPrefix, Ipv4Route, NetError, NetResult};

/// Route protocol number tagging every route rvrrpd installs (`ip route ... proto 112`).
pub const RTPROT_RVRRPD: u8 = 112;

/// `MACVLAN_MODE_BRIDGE` (linux/if_link.h).
pub const MACVLAN_MODE_BRIDGE: u32 = 4;

/// A link as seen by netlink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    /// Interface index.
    pub index: u32,
    /// Name.
    pub name: String,
    /// Hardware address (if 6 bytes).
    pub mac: Option<[u8; 6]>,
    /// `IFF_UP`.
    pub up: bool,
    /// `IFF_RUNNING`: up with its carrier (operationally up).
    pub running: bool,
    /// Link kind (`macvlan`, `veth`, ...), if any.
    pub kind: Option<String>,
    /// Parent link (`IFLA_LINK`), for macvlan/vlan.
    pub parent: Option<u32>,
}

/// What a configuration would create, for [`NetlinkDriver::cleanup_leftovers`].
#[derive(Clone, Debug, Default)]
pub struct CleanupPlan {
    /// Remove every route with protocol [`RTPROT_RVRRPD`].
    pub routes: bool,
    /// Macvlans `(name, virtual MAC)` the configuration would create; a link is deleted
    /// only when both its name and MAC match and it is a macvlan.
    pub macvlans: Vec<(String, [u8; 6])>,
    /// VIPs `(interface name, prefix)` the configuration would add; removed if present.
    /// Interfaces that do not exist are skipped.
    pub vips: Vec<(String, IpPrefix)>,
}

/// What [`NetlinkDriver::cleanup_leftovers`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Routes removed.
    pub routes: Vec<Ipv4Route>,
    /// Macvlans removed (names).
    pub macvlans: Vec<String>,
    /// Addresses removed.
    pub vips: Vec<(String, IpPrefix)>,
}

#[derive(Debug, Default)]
struct ParentArp {
    users: usize,
    saved: Vec<(String, String)>, // (sysctl path, previous value)
}

/// The rtnetlink driver. Create it inside a tokio runtime: [`NetlinkDriver::new`] spawns
/// the netlink connection task on the current runtime. Cheap to share (`&self` methods).
#[derive(Debug)]
pub struct NetlinkDriver {
    handle: Handle,
    conn: tokio::task::JoinHandle<()>,
    parents: Mutex<HashMap<String, ParentArp>>,
}

impl Drop for NetlinkDriver {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

fn nl_err(context: String, e: rtnetlink::Error) -> NetError {
    match e {
        rtnetlink::Error::NetlinkError(m) if m.raw_code() != 0 => NetError::os(context, m.to_io()),
        other => NetError::Netlink {
            context,
            message: other.to_string(),
        },
    }
}

fn is_errno(e: &rtnetlink::Error, errno: i32) -> bool {
    matches!(e, rtnetlink::Error::NetlinkError(m) if m.raw_code().abs() == errno)
}

fn ifname_or_index(index: u32) -> String {
    super::iface::ifname(index).unwrap_or_else(|_| format!("ifindex {index}"))
}

impl NetlinkDriver {
    /// Opens a NETLINK_ROUTE connection. Must be called from within a tokio runtime.
    pub fn new() -> NetResult<Self> {
        let (conn, handle, _) = rtnetlink::new_connection()
            .map_err(|e| NetError::os("opening a rtnetlink socket", e))?;
        let conn = tokio::spawn(conn);
        Ok(NetlinkDriver {
            handle,
            conn,
            parents: Mutex::new(HashMap::new()),
        })
    }

    // ------------------------------------------------------------ addresses

    /// Adds `addr` to `ifindex`. Returns `false` if it was already there.
    pub async fn add_address(&self, ifindex: u32, addr: IpPrefix) -> NetResult<bool> {
        let mut req = self
            .handle
            .address()
            .add(ifindex, addr.addr, addr.prefix_len);
        if addr.addr.is_ipv6() {
            let m = req.message_mut();
            m.header.flags.push(AddressHeaderFlag::Nodad);
            m.attributes
                .push(AddressAttribute::Flags(vec![AddressFlag::Nodad]));
        }
        match req.execute().await {
            Ok(()) => Ok(true),
            Err(e) if is_errno(&e, libc::EEXIST) => Ok(false),
            Err(e) => Err(nl_err(
                format!("adding {addr} to {}", ifname_or_index(ifindex)),
                e,
            )),
        }
    }

    /// Removes `addr` from `ifindex`. Returns `false` if it was not there.
    pub async fn remove_address(&self, ifindex: u32, addr: IpPrefix) -> NetResult<bool> {
        let mut msg = AddressMessage::default();
        msg.header.family = match addr.addr {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        };
        msg.header.prefix_len = addr.prefix_len;
        msg.header.index = ifindex;
        msg.attributes.push(AddressAttribute::Local(addr.addr));
        if addr.addr.is_ipv6() {
            msg.attributes.clear();
            msg.attributes.push(AddressAttribute::Address(addr.addr));
        }
        match self.handle.address().del(msg).execute().await {
            Ok(()) => Ok(true),
            Err(e) if is_errno(&e, libc::EADDRNOTAVAIL) || is_errno(&e, libc::ENOENT) => Ok(false),
            Err(e) => Err(nl_err(
                format!("removing {addr} from {}", ifname_or_index(ifindex)),
                e,
            )),
        }
    }

    /// Addresses of `ifindex` (IPv4 and IPv6).
    pub async fn list_addresses(&self, ifindex: u32) -> NetResult<Vec<IpPrefix>> {
        let msgs: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(ifindex)
            .execute()
            .try_collect()
            .await
            .map_err(|e| {
                nl_err(
                    format!("listing addresses of {}", ifname_or_index(ifindex)),
                    e,
                )
            })?;
        let mut out = Vec::new();
        for m in msgs {
            let local = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(a) => Some(*a),
                _ => None,
            });
            let address = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(a) => Some(*a),
                _ => None,
            });
            if let Some(a) = local.or(address) {
                out.push(IpPrefix {
                    addr: a,
                    prefix_len: m.header.prefix_len,
                });
            }
        }
        Ok(out)
    }

    // ------------------------------------------------------------ links

    /// A link by name; `Ok(None)` if it does not exist.
    pub async fn link_by_name(&self, name: &str) -> NetResult<Option<LinkInfo>> {
        let h = self.handle.clone();
        let r: Result<Vec<LinkMessage>, _> = h
            .link()
            .get()
            .match_name(name.to_string())
            .execute()
            .try_collect()
            .await;
        match r {
            Ok(v) => Ok(v.into_iter().next().map(link_info)),
            Err(e) if is_errno(&e, libc::ENODEV) => Ok(None),
            Err(e) => Err(nl_err(format!("looking up link {name}"), e)),
        }
    }

    /// All links.
    pub async fn list_links(&self) -> NetResult<Vec<LinkInfo>> {
        let h = self.handle.clone();
        let v: Vec<LinkMessage> = h
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| nl_err("listing links".into(), e))?;
        Ok(v.into_iter().map(link_info).collect())
    }

    /// A link whose name **and** MAC match (crash leftovers of a macvlan).
    pub async fn find_link(&self, name: &str, mac: [u8; 6]) -> NetResult<Option<LinkInfo>> {
        Ok(self
            .link_by_name(name)
            .await?
            .filter(|l| l.mac == Some(mac)))
    }

    /// Creates a macvlan `name` on `parent` with MAC `mac`, mode bridge, sets it up and
    /// applies the ARP sysctls (see the module documentation). Returns its ifindex.
    ///
    /// An existing link with the same name, MAC and kind macvlan is reused (restart after
    /// a crash); a different link of that name is an error (`File exists`).
    pub async fn create_macvlan(&self, name: &str, parent: u32, mac: [u8; 6]) -> NetResult<u32> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ {
            return Err(NetError::Invalid(format!(
                "invalid interface name {name:?}"
            )));
        }
        let parent_name = ifname_or_index(parent);
        let ctx = || format!("creating macvlan {name} on {parent_name}");
        match self.link_by_name(name).await? {
            Some(l) if l.mac == Some(mac) && l.kind.as_deref() == Some("macvlan") => {}
            Some(_) => {
                return Err(NetError::os(
                    ctx(),
                    std::io::Error::from_raw_os_error(libc::EEXIST),
                ))
            }
            None => {
                let mut req =
                    self.handle
                        .link()
                        .add()
                        .macvlan(name.to_string(), parent, MACVLAN_MODE_BRIDGE);
                req.message_mut()
                    .attributes
                    .push(LinkAttribute::Address(mac.to_vec()));
                req.execute().await.map_err(|e| nl_err(ctx(), e))?;
            }
        }
        let link = self
            .link_by_name(name)
            .await?
            .ok_or_else(|| NetError::NoSuchInterface(name.to_string()))?;
        // Before the link comes up: no IPv6 link-local derived from the virtual MAC. Every
        // router of the group has the same macvlan MAC, so an autoconfigured fe80:: address
        // would collide (DAD) and the Backups' macvlans would send traffic with the virtual
        // MAC, moving it away from the Master in the switches. The VIPs are all it holds.
        let gen_mode = format!("/proc/sys/net/ipv6/conf/{name}/addr_gen_mode");
        if std::path::Path::new(&gen_mode).exists() {
            write_sysctl(&gen_mode, "1")?;
        }
        self.set_link_up(link.index).await?;
        self.apply_vif_sysctls(name, &parent_name)?;
        Ok(link.index)
    }

    /// Sets a link administratively up.
    pub async fn set_link_up(&self, ifindex: u32) -> NetResult<()> {
        self.handle
            .link()
            .set(ifindex)
            .up()
            .execute()
            .await
            .map_err(|e| nl_err(format!("setting {} up", ifname_or_index(ifindex)), e))
    }

    /// Deletes a link by index. Returns `false` if it did not exist.
    pub async fn delete_link(&self, ifindex: u32) -> NetResult<bool> {
        let name = ifname_or_index(ifindex);
        let parent = self
            .link_by_name(&name)
            .await
            .ok()
            .flatten()
            .and_then(|l| l.parent);
        let h = self.handle.clone();
        match h.link().del(ifindex).execute().await {
            Ok(()) => {
                if let Some(p) = parent {
                    self.release_parent(&ifname_or_index(p));
                }
                Ok(true)
            }
            Err(e) if is_errno(&e, libc::ENODEV) => Ok(false),
            Err(e) => Err(nl_err(format!("deleting link {name}"), e)),
        }
    }

    /// Deletes a link by name. Returns `false` if it did not exist.
    pub async fn delete_link_by_name(&self, name: &str) -> NetResult<bool> {
        match self.link_by_name(name).await? {
            Some(l) => self.delete_link(l.index).await,
            None => Ok(false),
        }
    }

    fn apply_vif_sysctls(&self, vif: &str, parent: &str) -> NetResult<()> {
        for (key, val) in [
            ("arp_ignore", "1"),
            ("accept_local", "1"),
            ("rp_filter", "0"),
            ("promote_secondaries", "1"),
        ] {
            write_sysctl(&ipv4_conf(vif, key), val)?;
        }
        let mut parents = self
            .parents
            .lock()
            .map_err(|_| NetError::Invalid("sysctl state lock poisoned".into()))?;
        let entry = parents.entry(parent.to_string()).or_default();
        if entry.users == 0 {
            entry.saved.clear();
            for (key, val) in [
                ("arp_ignore", "1"),
                ("arp_filter", "1"),
                // Replies leaving the parent must not carry a VIP as ARP sender address,
                // or neighbours would learn the VIP at the parent's MAC, not the virtual one.
                ("arp_announce", "2"),
            ] {
                let path = ipv4_conf(parent, key);
                if let Ok(old) = std::fs::read_to_string(&path) {
                    let old = old.trim().to_string();
                    if old != val {
                        write_sysctl(&path, val)?;
                        entry.saved.push((path, old));
                    }
                }
            }
        }
        entry.users += 1;
        Ok(())
    }

    fn release_parent(&self, parent: &str) {
        let Ok(mut parents) = self.parents.lock() else {
            return;
        };
        let done = match parents.get_mut(parent) {
            Some(e) => {
                e.users = e.users.saturating_sub(1);
                if e.users == 0 {
                    for (path, old) in e.saved.drain(..) {
                        if let Err(err) = write_sysctl(&path, &old) {
                            tracing::warn!("restoring {path}: {err}");
                        }
                    }
                    true
                } else {
                    false
                }
            }
            None => false,
        };
        if done {
            parents.remove(parent);
        }
    }

    // ------------------------------------------------------------ routes

    fn route_message(r: &Ipv4Route) -> RouteMessage {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet;
        m.header.destination_prefix_length = r.prefix_len;
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::from(RTPROT_RVRRPD);
        m.header.scope = RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        if r.prefix_len > 0 {
            m.attributes
                .push(RouteAttribute::Destination(RouteAddress::Inet(r.dst)));
        }
        m.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(r.gateway)));
        if let Some(p) = r.metric {
            m.attributes.push(RouteAttribute::Priority(p));
        }
        if let Some(mtu) = r.mtu {
            m.attributes
                .push(RouteAttribute::Metrics(vec![RouteMetric::Mtu(mtu)]));
        }
        m
    }

    /// Adds an IPv4 route tagged [`RTPROT_RVRRPD`]. Returns `false` if it already existed.
    pub async fn add_route(&self, r: &Ipv4Route) -> NetResult<bool> {
        let mut req = self.handle.route().add().v4();
        *req.message_mut() = Self::route_message(r);
        match req.execute().await {
            Ok(()) => Ok(true),
            Err(e) if is_errno(&e, libc::EEXIST) => Ok(false),
            Err(e) => Err(nl_err(format!("adding route {r}"), e)),
        }
    }

    /// Removes an IPv4 route (ours). Returns `false` if it did not exist.
    pub async fn remove_route(&self, r: &Ipv4Route) -> NetResult<bool> {
        let msg = Self::route_message(r);
        match self.handle.route().del(msg).execute().await {
            Ok(()) => Ok(true),
            Err(e) if is_errno(&e, libc::ESRCH) || is_errno(&e, libc::ENOENT) => Ok(false),
            Err(e) => Err(nl_err(format!("removing route {r}"), e)),
        }
    }

    async fn route_dump(&self, protocol: u8) -> NetResult<Vec<RouteMessage>> {
        let v: Vec<RouteMessage> = self
            .handle
            .route()
            .get(IpVersion::V4)
            .execute()
            .try_collect()
            .await
            .map_err(|e| nl_err("listing IPv4 routes".into(), e))?;
        Ok(v.into_iter()
            .filter(|m| u8::from(m.header.protocol) == protocol)
            .collect())
    }

    /// IPv4 routes (all tables) with route protocol `protocol` (usually [`RTPROT_RVRRPD`]).
    /// Multipath routes are reported without a gateway (0.0.0.0).
    pub async fn list_routes_by_protocol(&self, protocol: u8) -> NetResult<Vec<Ipv4Route>> {
        Ok(self
            .route_dump(protocol)
            .await?
            .iter()
            .map(route_from_message)
            .collect())
    }

    // ------------------------------------------------------------ cleanup

    /// Removes what a previous (crashed) instance may have left: our routes (by
    /// protocol), macvlans whose name **and** MAC match the plan, and the planned VIPs on
    /// their interfaces. Returns what was removed. Individual failures are logged and the
    /// first one is returned after everything else was attempted.
    pub async fn cleanup_leftovers(&self, plan: &CleanupPlan) -> NetResult<CleanupReport> {
        let mut report = CleanupReport::default();
        let mut first_err: Option<NetError> = None;
        let note = |e: NetError, first: &mut Option<NetError>| {
            tracing::warn!("cleanup: {e}");
            if first.is_none() {
                *first = Some(e);
            }
        };
        if plan.routes {
            match self.route_dump(RTPROT_RVRRPD).await {
                Ok(msgs) => {
                    for m in msgs {
                        let r = route_from_message(&m);
                        match self.handle.route().del(m).execute().await {
                            Ok(()) => report.routes.push(r),
                            Err(e) if is_errno(&e, libc::ESRCH) => {}
                            Err(e) => note(
                                nl_err(format!("removing leftover route {r}"), e),
                                &mut first_err,
                            ),
                        }
                    }
                }
                Err(e) => note(e, &mut first_err),
            }
        }
        for (name, mac) in &plan.macvlans {
            match self.find_link(name, *mac).await {
                Ok(Some(l)) if l.kind.as_deref() == Some("macvlan") => {
                    let h = self.handle.clone();
                    match h.link().del(l.index).execute().await {
                        Ok(()) => report.macvlans.push(name.clone()),
                        Err(e) if is_errno(&e, libc::ENODEV) => {}
                        Err(e) => note(
                            nl_err(format!("deleting leftover macvlan {name}"), e),
                            &mut first_err,
                        ),
                    }
                }
                Ok(_) => {}
                Err(e) => note(e, &mut first_err),
            }
        }
        // One address dump per interface, however many VIPs it carries (thousands of groups
        // must not mean thousands of dumps at start-up).
        let mut installed_on: HashMap<String, Option<(u32, Vec<IpPrefix>)>> = HashMap::new();
        for (ifname, vip) in &plan.vips {
            if !installed_on.contains_key(ifname) {
                let entry = match super::iface::ifindex(ifname) {
                    Err(_) => None,
                    Ok(idx) => match self.list_addresses(idx).await {
                        Ok(v) => Some((idx, v)),
                        Err(e) => {
                            note(e, &mut first_err);
                            None
                        }
                    },
                };
                installed_on.insert(ifname.clone(), entry);
            }
            let Some(Some((idx, addrs))) = installed_on.get(ifname) else {
                continue;
            };
            // Remove with the prefix actually installed.
            let Some(installed) = addrs.iter().find(|a| a.addr == vip.addr).copied() else {
                continue;
            };
            match self.remove_address(*idx, installed).await {
                Ok(true) => report.vips.push((ifname.clone(), installed)),
                Ok(false) => {}
                Err(e) => note(e, &mut first_err),
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }
}

fn route_from_message(m: &RouteMessage) -> Ipv4Route {
    let mut r = Ipv4Route {
        dst: Ipv4Addr::UNSPECIFIED,
        prefix_len: m.header.destination_prefix_length,
        gateway: Ipv4Addr::UNSPECIFIED,
        metric: None,
        mtu: None,
    };
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(RouteAddress::Inet(d)) => r.dst = *d,
            RouteAttribute::Gateway(RouteAddress::Inet(g)) => r.gateway = *g,
            RouteAttribute::Priority(p) => r.metric = Some(*p),
            RouteAttribute::Metrics(ms) => {
                for x in ms {
                    if let RouteMetric::Mtu(v) = x {
                        r.mtu = Some(*v);
                    }
                }
            }
            _ => {}
        }
    }
    r
}

pub(crate) fn link_info(m: LinkMessage) -> LinkInfo {
    let mut l = LinkInfo {
        index: m.header.index,
        name: String::new(),
        mac: None,
        up: m.header.flags.contains(&LinkFlag::Up),
        running: m.header.flags.contains(&LinkFlag::Running),
        kind: None,
        parent: None,
    };
    for a in m.attributes {
        match a {
            LinkAttribute::IfName(n) => l.name = n,
            LinkAttribute::Address(mac) if mac.len() == 6 => {
                let mut b = [0u8; 6];
                b.copy_from_slice(&mac);
                l.mac = Some(b);
            }
            LinkAttribute::Link(p) => l.parent = Some(p),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let NlLinkInfo::Kind(k) = i {
                        l.kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    l
}

fn ipv4_conf(iface: &str, key: &str) -> String {
    format!("/proc/sys/net/ipv4/conf/{iface}/{key}")
}

fn write_sysctl(path: &str, value: &str) -> NetResult<()> {
    std::fs::write(path, value).map_err(|e| NetError::os(format!("writing {value} to {path}"), e))
}

impl std::fmt::Display for CleanupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "removed {} route(s), {} macvlan(s), {} address(es)",
            self.routes.len(),
            self.macvlans.len(),
            self.vips.len()
        )
    }
}

impl CleanupReport {
    /// True when nothing was removed.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty() && self.macvlans.is_empty() && self.vips.is_empty()
    }
}
