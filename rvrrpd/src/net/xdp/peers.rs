//! The unicast peer map (`PEERS`): which sources a unicast group ([`FLAG_UNICAST`]) admits,
//! each with the lowest TTL / hop limit accepted from it.
//!
//! [`FLAG_UNICAST`]: rvrrpd_common::FLAG_UNICAST

use std::net::IpAddr;

use aya::maps::{HashMap as BpfHashMap, MapError};
use rvrrpd_common::{PeerKey, PEERS_MAP};

use super::{DemuxKey, FastPath, XdpError, XdpResult};

/// The 16 address bytes of a peer key (IPv4 in the first 4).
fn addr_bytes(a: &IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => {
            let mut b = [0; 16];
            b[..4].copy_from_slice(&v4.octets());
            b
        }
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn map_err(op: &'static str) -> impl FnOnce(MapError) -> XdpError {
    move |source| XdpError::Map {
        map: PEERS_MAP,
        op,
        source: Box::new(source),
    }
}

impl FastPath {
    fn peers_map(&mut self) -> XdpResult<BpfHashMap<&mut aya::maps::MapData, PeerKey, u32>> {
        let map = self
            .ebpf
            .map_mut(PEERS_MAP)
            .ok_or_else(|| XdpError::BadObject {
                path: self.object.clone(),
                what: format!("map {PEERS_MAP} missing (object built before unicast support?)"),
            })?;
        BpfHashMap::try_from(map).map_err(map_err("open"))
    }

    /// Sets the peers the group `key` admits (replacing the ones it had), each with TTL / hop
    /// limit ≥ `min_ttl`. Call before routing the group with [`FLAG_UNICAST`], so that the
    /// flag never goes live without its peers.
    ///
    /// [`FLAG_UNICAST`]: rvrrpd_common::FLAG_UNICAST
    pub fn set_peers(&mut self, key: DemuxKey, peers: &[IpAddr], min_ttl: u8) -> XdpResult<()> {
        let mut map = self.peers_map()?;
        let of_group =
            |k: &PeerKey| k.ifindex == key.ifindex && k.vrid == key.vrid && k.family == key.family;
        let wanted: Vec<PeerKey> = peers
            .iter()
            .map(|p| PeerKey::new(key.ifindex, key.vrid, key.family, addr_bytes(p)))
            .collect();
        for k in &wanted {
            map.insert(k, u32::from(min_ttl), 0)
                .map_err(map_err("insert"))?;
        }
        let stale: Vec<PeerKey> = map
            .keys()
            .filter_map(Result::ok)
            .filter(|k| of_group(k) && !wanted.contains(k))
            .collect();
        for k in stale {
            match map.remove(&k) {
                Ok(()) | Err(MapError::KeyNotFound) => {}
                Err(e) => return Err(map_err("remove")(e)),
            }
        }
        Ok(())
    }

    /// The peers the group `key` admits, with their lowest TTL.
    pub fn peers(&mut self, key: DemuxKey) -> XdpResult<Vec<(IpAddr, u8)>> {
        let map = self.peers_map()?;
        let mut out = Vec::new();
        for k in map.keys() {
            let k = k.map_err(map_err("iterate"))?;
            if (k.ifindex, k.vrid, k.family) != (key.ifindex, key.vrid, key.family) {
                continue;
            }
            let ttl = map.get(&k, 0).map_err(map_err("lookup"))?;
            let addr = if k.family == rvrrpd_common::FAMILY_V4 {
                IpAddr::from([k.addr[0], k.addr[1], k.addr[2], k.addr[3]])
            } else {
                IpAddr::from(k.addr)
            };
            out.push((addr, u8::try_from(ttl).unwrap_or(u8::MAX)));
        }
        out.sort();
        Ok(out)
    }
}
