//! The unicast peer map (`PEERS`): which sources a unicast group ([`FLAG_UNICAST`]) admits,
//! each with the lowest TTL / hop limit accepted from it.
//!
//! [`FLAG_UNICAST`]: rvrrpd_common::FLAG_UNICAST

use std::net::IpAddr;

use aya::maps::HashMap as BpfHashMap;
use rvrrpd_common::{addr_bytes, addr_from, PeerKey, PEERS_MAP};

use super::error::map_err;
use super::{DemuxKey, FastPath, XdpResult};

impl FastPath {
    fn peers_map(&mut self) -> XdpResult<BpfHashMap<&mut aya::maps::MapData, PeerKey, u32>> {
        BpfHashMap::try_from(self.map_data(PEERS_MAP)?).map_err(map_err(PEERS_MAP, "open"))
    }

    /// Sets the peers the group `key` admits (replacing the ones it had), each with TTL / hop
    /// limit ≥ `min_ttl`. Call before routing the group with [`FLAG_UNICAST`], so that the
    /// flag never goes live without its peers.
    ///
    /// [`FLAG_UNICAST`]: rvrrpd_common::FLAG_UNICAST
    pub fn set_peers(&mut self, key: DemuxKey, peers: &[IpAddr], min_ttl: u8) -> XdpResult<()> {
        let previous = self.peer_keys.remove(&key).unwrap_or_default();
        if peers.is_empty() && previous.is_empty() {
            return Ok(());
        }
        let wanted: Vec<PeerKey> = peers
            .iter()
            .map(|p| PeerKey::new(key.ifindex, key.vrid, key.family, addr_bytes(p).1))
            .collect();
        let result = self.write_peers(&wanted, min_ttl, &previous);
        // After a failure the map may hold any of both: remember them all, so a later call
        // removes what is stale.
        let mut held = wanted;
        if result.is_err() {
            for k in previous {
                if !held.contains(&k) {
                    held.push(k);
                }
            }
        }
        if !held.is_empty() {
            self.peer_keys.insert(key, held);
        }
        result
    }

    /// Inserts `wanted` (with `min_ttl`), then removes what of `previous` is not wanted.
    fn write_peers(
        &mut self,
        wanted: &[PeerKey],
        min_ttl: u8,
        previous: &[PeerKey],
    ) -> XdpResult<()> {
        let mut map = self.peers_map()?;
        for k in wanted {
            map.insert(k, u32::from(min_ttl), 0)
                .map_err(map_err(PEERS_MAP, "insert"))?;
        }
        for k in previous.iter().filter(|k| !wanted.contains(k)) {
            super::error::absent_ok(map.remove(k)).map_err(map_err(PEERS_MAP, "remove"))?;
        }
        Ok(())
    }

    /// The peers the group `key` admits, with their lowest TTL.
    pub fn peers(&mut self, key: DemuxKey) -> XdpResult<Vec<(IpAddr, u8)>> {
        let map = self.peers_map()?;
        let mut out = Vec::new();
        for k in map.keys() {
            let k = k.map_err(map_err(PEERS_MAP, "iterate"))?;
            if (k.ifindex, k.vrid, k.family) != (key.ifindex, key.vrid, key.family) {
                continue;
            }
            let ttl = map.get(&k, 0).map_err(map_err(PEERS_MAP, "lookup"))?;
            let Some(addr) = addr_from(k.family, &k.addr) else {
                continue;
            };
            out.push((addr, u8::try_from(ttl).unwrap_or(u8::MAX)));
        }
        out.sort();
        Ok(out)
    }
}
