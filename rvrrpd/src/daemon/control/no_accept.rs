//! Accept mode enforced: the VIPs of groups with `accept_mode = false` (that do not own them)
//! take no traffic but VRRP and IPv6 neighbour discovery (RFC 5798 §6.4.3, keepalived's
//! `no_accept`). The XDP program drops it where XDP is attached; otherwise an nftables table
//! does.
//!
//! The set follows the configuration, not the groups' states: a Backup holds no VIP, so
//! nothing addressed to one gets in there anyway, and a takeover needs no extra step before
//! its VIPs go up. It changes at start-up (before any worker runs), when the API or a reload
//! adds a group (before its worker starts it) or removes one (after its VIPs are gone), and
//! is emptied at exit after the VIPs.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use tracing::{error, info, warn};

use crate::daemon::plan::GroupSpec;
use crate::net::nft;

use super::Control;

/// Where the drops happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Enforcer {
    /// The XDP program on every VRRP interface (`NOACCEPT` map).
    Xdp,
    /// The `inet rvrrpd` nftables table, through this `nft`.
    Nft(PathBuf),
    /// Neither: XDP is not attached and `nft` is not installed.
    Unavailable,
}

/// The enforced VIPs, counted by the groups that want them (two groups may share one).
#[derive(Debug, Default)]
pub(super) struct NoAccept {
    enforcer: Option<Enforcer>,
    vips: BTreeMap<IpAddr, u32>,
    /// Whether the nftables table exists (created with the first VIP).
    table: bool,
}

/// The VIPs group `s` keeps traffic away from: none for accept mode or an address owner.
pub(super) fn vips_of(s: &GroupSpec) -> Vec<IpAddr> {
    if s.accept_mode || s.owner {
        return Vec::new();
    }
    s.vips.iter().map(|p| p.addr).collect()
}

impl NoAccept {
    /// Adds `vips`; returns the ones that were not enforced yet.
    fn count_in(&mut self, vips: &[IpAddr]) -> Vec<IpAddr> {
        let mut new = Vec::new();
        for a in vips {
            let n = self.vips.entry(*a).or_insert(0);
            if *n == 0 {
                new.push(*a);
            }
            *n += 1;
        }
        new
    }

    /// Removes `vips`; returns the ones no group wants any more.
    fn count_out(&mut self, vips: &[IpAddr]) -> Vec<IpAddr> {
        let mut gone = Vec::new();
        for a in vips {
            if let Some(n) = self.vips.get_mut(a) {
                *n -= 1;
                if *n == 0 {
                    self.vips.remove(a);
                    gone.push(*a);
                }
            }
        }
        gone
    }

    /// How it is enforced, for the API and the logs.
    pub(super) fn describe(&self) -> String {
        match (&self.enforcer, self.vips.len()) {
            (_, 0) => "not needed (every group has accept_mode or owns its VIPs)".into(),
            (Some(Enforcer::Xdp), n) => format!("XDP ({n} VIPs)"),
            (Some(Enforcer::Nft(_)), n) => format!("nftables table inet {} ({n} VIPs)", nft::TABLE),
            (_, n) => format!("NOT ENFORCED ({n} VIPs): no XDP and no nft command"),
        }
    }
}

impl Control {
    fn no_accept_enforcer(&mut self) -> Enforcer {
        if let Some(e) = &self.no_accept.enforcer {
            return e.clone();
        }
        let e = if self.xdp {
            Enforcer::Xdp
        } else if let Some(path) = nft::find() {
            Enforcer::Nft(path)
        } else {
            Enforcer::Unavailable
        };
        self.no_accept.enforcer = Some(e.clone());
        e
    }

    /// Starts dropping traffic to the VIPs of `specs` that need it (before their workers may
    /// install them).
    pub(super) async fn enforce_no_accept(&mut self, specs: &[&GroupSpec]) {
        let vips: Vec<IpAddr> = specs.iter().flat_map(|s| vips_of(s)).collect();
        let new = self.no_accept.count_in(&vips);
        if new.is_empty() {
            return;
        }
        self.apply_no_accept(&new, &[]).await;
    }

    /// Stops dropping traffic to the VIPs of `spec` (once its VIPs are gone).
    pub(super) async fn release_no_accept(&mut self, spec: &GroupSpec) {
        let gone = self.no_accept.count_out(&vips_of(spec));
        if gone.is_empty() {
            return;
        }
        self.apply_no_accept(&[], &gone).await;
    }

    async fn apply_no_accept(&mut self, add: &[IpAddr], remove: &[IpAddr]) {
        let on = !self.no_accept.vips.is_empty();
        let result = match self.no_accept_enforcer() {
            Enforcer::Xdp => match self.fast.as_mut() {
                Some(fast) => fast
                    .update_no_accept(add, remove, on)
                    .map_err(|e| e.to_string()),
                None => Err("the XDP fast path is gone".into()),
            },
            Enforcer::Nft(path) => {
                let r = if self.no_accept.table {
                    nft::update(&path, add, remove).await
                } else {
                    let all: Vec<IpAddr> = self.no_accept.vips.keys().copied().collect();
                    nft::apply(&path, &all).await
                };
                self.no_accept.table |= r.is_ok();
                r.map_err(|e| e.to_string())
            }
            Enforcer::Unavailable => {
                if !add.is_empty() {
                    error!(
                        "accept_mode = false cannot be enforced for {}: XDP is not attached and \
                         nft is not installed (install nftables, or set accept_mode = true)",
                        list(add)
                    );
                }
                return;
            }
        };
        match result {
            Ok(()) => {
                if !add.is_empty() {
                    info!(
                        "accept mode: dropping traffic to {} (accept_mode = false) via {}",
                        list(add),
                        self.no_accept.describe()
                    );
                }
            }
            Err(e) => error!(
                "accept mode: updating the drops (add {}, remove {}): {e}",
                list(add),
                list(remove)
            ),
        }
        self.publish_no_accept();
    }

    pub(super) fn publish_no_accept(&self) {
        *self
            .shared
            .no_accept
            .write()
            .unwrap_or_else(|e| e.into_inner()) = self.no_accept.describe();
    }

    /// Removes the nftables table a crashed run may have left (whatever enforces now).
    pub(super) async fn cleanup_no_accept_leftovers() {
        let Some(path) = nft::find() else { return };
        match nft::delete_table(&path).await {
            Ok(true) => warn!(
                "removed leftovers of an earlier run: nftables table inet {}",
                nft::TABLE
            ),
            Ok(false) => {}
            Err(e) => warn!("removing nftables table inet {}: {e}", nft::TABLE),
        }
    }

    /// Drops nothing any more (at exit, after the VIPs went).
    pub(super) async fn clear_no_accept(&mut self) {
        let all: Vec<IpAddr> = std::mem::take(&mut self.no_accept.vips)
            .into_keys()
            .collect();
        match self.no_accept.enforcer.clone() {
            Some(Enforcer::Xdp) => {
                if let Some(fast) = self.fast.as_mut() {
                    if let Err(e) = fast.update_no_accept(&[], &all, false) {
                        warn!("accept mode: clearing the XDP map: {e}");
                    }
                }
            }
            Some(Enforcer::Nft(path)) if self.no_accept.table => {
                if let Err(e) = nft::delete_table(&path).await {
                    warn!("removing nftables table inet {}: {e}", nft::TABLE);
                }
                self.no_accept.table = false;
            }
            _ => {}
        }
    }
}

/// `a, b, c` (at most 8, then `… (N in all)`).
fn list(addrs: &[IpAddr]) -> String {
    let mut s: Vec<String> = addrs.iter().take(8).map(|a| a.to_string()).collect();
    if addrs.len() > 8 {
        s.push(format!("… ({} in all)", addrs.len()));
    }
    s.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|a| a.parse().expect("ip")).collect()
    }

    #[test]
    fn a_vip_shared_by_two_groups_stays_until_both_are_gone() {
        let mut n = NoAccept::default();
        assert_eq!(
            n.count_in(&ips(&["10.0.0.1", "10.0.0.2"])),
            ips(&["10.0.0.1", "10.0.0.2"])
        );
        assert_eq!(n.count_in(&ips(&["10.0.0.1"])), Vec::<IpAddr>::new());
        assert_eq!(n.count_out(&ips(&["10.0.0.1"])), Vec::<IpAddr>::new());
        assert_eq!(
            n.count_out(&ips(&["10.0.0.1", "10.0.0.2"])),
            ips(&["10.0.0.1", "10.0.0.2"])
        );
        // Removing what is not there changes nothing.
        assert_eq!(n.count_out(&ips(&["10.0.0.9"])), Vec::<IpAddr>::new());
        assert!(n.vips.is_empty());
    }

    #[test]
    fn the_description_names_the_enforcer() {
        let mut n = NoAccept::default();
        assert!(n.describe().starts_with("not needed"));
        n.count_in(&ips(&["10.0.0.1"]));
        n.enforcer = Some(Enforcer::Xdp);
        assert_eq!(n.describe(), "XDP (1 VIPs)");
        n.enforcer = Some(Enforcer::Nft("/usr/sbin/nft".into()));
        assert_eq!(n.describe(), "nftables table inet rvrrpd (1 VIPs)");
        n.enforcer = Some(Enforcer::Unavailable);
        assert!(n.describe().starts_with("NOT ENFORCED"));
    }
}
