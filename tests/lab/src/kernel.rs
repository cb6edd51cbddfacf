//! Read-only views of a namespace's kernel state (addresses, links, routes, neighbours) and
//! bounded pings, through `ip` and `ping`.

use std::net::IpAddr;
use std::time::Duration;

use crate::cmd::{ip, outcome};
use crate::error::Result;

/// An address assigned to an interface.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IfAddr {
    /// Interface name.
    pub ifname: String,
    /// The address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

/// Addresses in namespace `ns`, of interface `ifname` or of all interfaces.
pub fn addresses(ns: &str, ifname: Option<&str>) -> Result<Vec<IfAddr>> {
    let mut args = vec!["-o", "addr", "show"];
    if let Some(i) = ifname {
        args.extend(["dev", i]);
    }
    let out = ip(ns, &args)?;
    let mut v = Vec::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(name), Some(pos)) = (
            f.get(1),
            f.iter().position(|w| *w == "inet" || *w == "inet6"),
        ) else {
            continue;
        };
        let Some((a, p)) = f.get(pos + 1).and_then(|s| s.split_once('/')) else {
            continue;
        };
        if let (Ok(addr), Ok(prefix)) = (a.parse(), p.parse()) {
            let ifname = name.split('@').next().unwrap_or(name).to_string();
            v.push(IfAddr {
                ifname,
                addr,
                prefix,
            });
        }
    }
    Ok(v)
}

/// Whether `addr` is assigned to any interface of `ns`.
pub fn has_address(ns: &str, addr: IpAddr) -> Result<bool> {
    Ok(addresses(ns, None)?.iter().any(|a| a.addr == addr))
}

/// How many times `addr` is assigned in `ns` (a duplicate means a leftover was not cleaned).
pub fn address_count(ns: &str, addr: IpAddr) -> Result<usize> {
    Ok(addresses(ns, None)?
        .iter()
        .filter(|a| a.addr == addr)
        .count())
}

/// Names of the links of `ns`.
pub fn links(ns: &str) -> Result<Vec<String>> {
    let out = ip(ns, &["-o", "link", "show"])?;
    Ok(out
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect())
}

/// Whether link `ifname` exists in `ns`.
pub fn link_exists(ns: &str, ifname: &str) -> Result<bool> {
    Ok(links(ns)?.iter().any(|l| l == ifname))
}

/// The MAC address of `ifname` in `ns` (lowercase, colon separated), if the link exists.
pub fn link_mac(ns: &str, ifname: &str) -> Result<Option<String>> {
    if !link_exists(ns, ifname)? {
        return Ok(None);
    }
    let out = ip(ns, &["-o", "link", "show", "dev", ifname])?;
    let f: Vec<&str> = out.split_whitespace().collect();
    Ok(f.iter()
        .position(|w| *w == "link/ether")
        .and_then(|p| f.get(p + 1))
        .map(|s| s.to_lowercase()))
}

/// The flags of `ifname` (e.g. `UP`, `LOWER_UP`), and whether `protodown` is on.
pub fn link_flags(ns: &str, ifname: &str) -> Result<Vec<String>> {
    let out = ip(ns, &["-o", "-d", "link", "show", "dev", ifname])?;
    let mut flags: Vec<String> = out
        .split_once('<')
        .and_then(|(_, r)| r.split_once('>'))
        .map(|(f, _)| f.split(',').map(String::from).collect())
        .unwrap_or_default();
    if out.contains("protodown on") {
        flags.push("PROTODOWN".into());
    }
    Ok(flags)
}

/// IPv4 and IPv6 routes of every table in `ns`, one line each, sorted.
pub fn routes(ns: &str) -> Result<Vec<String>> {
    let mut v: Vec<String> = Vec::new();
    for fam in ["-4", "-6"] {
        let out = ip(ns, &[fam, "route", "show", "table", "all"])?;
        v.extend(out.lines().map(|l| l.trim().to_string()));
    }
    v.sort();
    Ok(v)
}

/// Whether a route to `dest` (as `ip route` prints it, e.g. `192.0.2.0/24` or `default`) exists
/// in the main table of `ns`.
pub fn has_route(ns: &str, dest: &str) -> Result<bool> {
    let out = ip(ns, &["-4", "route", "show"])?;
    let out6 = ip(ns, &["-6", "route", "show"])?;
    Ok(out
        .lines()
        .chain(out6.lines())
        .any(|l| l.split_whitespace().next() == Some(dest)))
}

/// A neighbour (ARP / ND) entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neigh {
    /// The neighbour's IP.
    pub ip: IpAddr,
    /// Its link-layer address, if resolved.
    pub mac: Option<String>,
    /// The state word (`REACHABLE`, `STALE`, `FAILED`...).
    pub state: String,
}

/// The neighbour table of `ns`.
pub fn neigh(ns: &str) -> Result<Vec<Neigh>> {
    let out = ip(ns, &["neigh", "show"])?;
    let mut v = Vec::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(Ok(ip)) = f.first().map(|s| s.parse::<IpAddr>()) else {
            continue;
        };
        let mac = f
            .iter()
            .position(|w| *w == "lladdr")
            .and_then(|p| f.get(p + 1))
            .map(|s| s.to_lowercase());
        let state = f.last().map(|s| s.to_string()).unwrap_or_default();
        v.push(Neigh { ip, mac, state });
    }
    Ok(v)
}

/// The MAC the neighbour table of `ns` holds for `addr`.
pub fn neigh_mac(ns: &str, addr: IpAddr) -> Result<Option<String>> {
    Ok(neigh(ns)?
        .into_iter()
        .find(|n| n.ip == addr)
        .and_then(|n| n.mac))
}

/// Outcome of a bounded ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingStats {
    /// Echo requests sent.
    pub sent: u32,
    /// Replies received.
    pub received: u32,
}

impl PingStats {
    /// Requests without a reply.
    pub fn lost(&self) -> u32 {
        self.sent.saturating_sub(self.received)
    }
}

/// Parses ping's summary line (`N packets transmitted, M received`).
pub fn parse_ping_summary(out: &str) -> Option<PingStats> {
    let line = out.lines().find(|l| l.contains("packets transmitted"))?;
    let mut nums = line
        .split(',')
        .filter_map(|p| p.split_whitespace().next()?.parse::<u32>().ok());
    Some(PingStats {
        sent: nums.next()?,
        received: nums.next()?,
    })
}

/// Pings `target` from `ns` `count` times, each waiting at most `wait`; never fails on loss.
pub fn ping(ns: &str, target: IpAddr, count: u32, wait: Duration) -> Result<PingStats> {
    let c = count.to_string();
    let w = wait.as_secs().max(1).to_string();
    let deadline = (wait.as_secs().max(1) * u64::from(count) + 2).to_string();
    let argv = [
        "ping", "-n", "-i", "0.2", "-c", &c, "-W", &w, "-w", &deadline,
    ];
    let t = target.to_string();
    let mut full: Vec<&str> = argv.to_vec();
    full.push(&t);
    let out = outcome(Some(ns), &full)?.stdout;
    Ok(parse_ping_summary(&out).unwrap_or(PingStats {
        sent: count,
        received: 0,
    }))
}

/// A snapshot of what a test must leave unchanged: links, addresses and routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsSnapshot {
    /// Link names.
    pub links: Vec<String>,
    /// All addresses.
    pub addresses: Vec<IfAddr>,
    /// All routes.
    pub routes: Vec<String>,
}

/// Takes a [`NsSnapshot`] of `ns`.
pub fn snapshot(ns: &str) -> Result<NsSnapshot> {
    let mut links = links(ns)?;
    links.sort();
    let mut addresses = addresses(ns, None)?;
    addresses.sort();
    Ok(NsSnapshot {
        links,
        addresses,
        routes: routes(ns)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_summary() {
        let s = "--- 10.0.0.1 ping statistics ---\n5 packets transmitted, 4 received, 20% packet loss, time 4005ms\n";
        assert_eq!(
            parse_ping_summary(s),
            Some(PingStats {
                sent: 5,
                received: 4
            })
        );
        let s = "3 packets transmitted, 0 received, +3 errors, 100% packet loss";
        assert_eq!(parse_ping_summary(s).map(|p| p.lost()), Some(3));
    }
}
