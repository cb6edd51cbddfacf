//! The demultiplexing tables the eBPF programs route adverts by: the hash of every group
//! (`DEMUX`), and for the first [`MAX_DEMUX_BLOCKS`] interfaces with groups a block of an
//! array indexed by VRID and family (`IFBLOCK` → `DEMUX_ARR`). At 10,000 groups a lookup in
//! the hash missed the cache twice per advert (its bucket, then its element: ~7 % of a
//! Master's CPU on veth, where the receiver's XDP run is charged to the sender); the block
//! map holds a handful of interfaces and stays in the cache, the array costs one miss.
//! The hash keeps every group (the programs fall back to it for interfaces without a block;
//! [`DemuxTables::get`] reads it).

use std::collections::{HashMap, HashSet};

use aya::maps::{Array, HashMap as BpfHashMap, MapData, MapError};
use rvrrpd_common::{
    demux_index, DemuxKey, DemuxValue, DEMUX_ARRAY_MAP, DEMUX_MAP, FLAG_ROUTED, IFBLOCK_MAP,
    MAX_DEMUX_BLOCKS,
};

use super::error::{absent_ok, map_err};
use super::XdpResult;

/// An interface's share of the tables.
#[derive(Clone, Copy)]
struct IfDemux {
    /// Its block, if it got one when its first group was routed (an interface whose groups
    /// started in the hash stays there until it has none: its block would lack them).
    block: Option<u32>,
    /// Its routed groups.
    groups: u32,
}

/// The three maps and what user space knows of their blocks.
pub(super) struct DemuxTables {
    hash: BpfHashMap<MapData, DemuxKey, DemuxValue>,
    blocks: BpfHashMap<MapData, u32, u32>,
    array: Array<MapData, DemuxValue>,
    by_if: HashMap<u32, IfDemux>,
    /// Every routed group (an update is not counted twice).
    routed: HashSet<DemuxKey>,
    /// Blocks not in use.
    free: Vec<u32>,
}

impl DemuxTables {
    /// The tables of a freshly loaded object (all three maps empty).
    pub(super) fn new(
        hash: BpfHashMap<MapData, DemuxKey, DemuxValue>,
        blocks: BpfHashMap<MapData, u32, u32>,
        array: Array<MapData, DemuxValue>,
    ) -> Self {
        DemuxTables {
            hash,
            blocks,
            array,
            by_if: HashMap::new(),
            routed: HashSet::new(),
            free: (0..MAX_DEMUX_BLOCKS).rev().collect(),
        }
    }

    /// Routes `key` as `val` (insert or update; each entry is written whole, atomically for
    /// the programs). An interface's first group gets it a block while blocks are left; the
    /// block's entry is written before the interface points to it.
    pub(super) fn set(&mut self, key: DemuxKey, val: DemuxValue) -> XdpResult<()> {
        self.hash
            .insert(key, val, 0)
            .map_err(map_err(DEMUX_MAP, "insert"))?;
        let mut iface = self.by_if.get(&key.ifindex).copied().unwrap_or(IfDemux {
            block: None,
            groups: 0,
        });
        let fresh = iface.groups == 0;
        let block = match iface.block {
            Some(block) => Some(block),
            None if fresh => self.free.last().copied(),
            // Out of blocks when its first group came: its packets use the hash.
            None => None,
        };
        if let Some(block) = block {
            let routed = DemuxValue {
                flags: val.flags | FLAG_ROUTED,
                ..val
            };
            self.array
                .set(demux_index(block, key.vrid, key.family), routed, 0)
                .map_err(map_err(DEMUX_ARRAY_MAP, "update"))?;
            if iface.block.is_none() {
                self.blocks
                    .insert(key.ifindex, block, 0)
                    .map_err(map_err(IFBLOCK_MAP, "insert"))?;
                self.free.pop();
                iface.block = Some(block);
            }
        }
        if self.routed.insert(key) {
            iface.groups += 1;
        }
        self.by_if.insert(key.ifindex, iface);
        Ok(())
    }

    /// Stops routing `key` (absent: not an error). The last group of an interface gives its
    /// block back; the interface stops pointing to it before anything else changes.
    pub(super) fn remove(&mut self, key: DemuxKey) -> XdpResult<()> {
        if self.routed.remove(&key) {
            if let Some(mut iface) = self.by_if.get(&key.ifindex).copied() {
                iface.groups = iface.groups.saturating_sub(1);
                if let Some(block) = iface.block {
                    if iface.groups == 0 {
                        absent_ok(self.blocks.remove(&key.ifindex))
                            .map_err(map_err(IFBLOCK_MAP, "remove"))?;
                        self.free.push(block);
                    }
                    self.array
                        .set(
                            demux_index(block, key.vrid, key.family),
                            DemuxValue::new(0, 0),
                            0,
                        )
                        .map_err(map_err(DEMUX_ARRAY_MAP, "update"))?;
                }
                if iface.groups == 0 {
                    self.by_if.remove(&key.ifindex);
                } else {
                    self.by_if.insert(key.ifindex, iface);
                }
            }
        }
        absent_ok(self.hash.remove(&key)).map_err(map_err(DEMUX_MAP, "remove"))
    }

    /// How `key` is routed, if it is.
    pub(super) fn get(&self, key: DemuxKey) -> XdpResult<Option<DemuxValue>> {
        match self.hash.get(&key, 0) {
            Ok(v) => Ok(Some(v)),
            Err(MapError::KeyNotFound) => Ok(None),
            Err(source) => Err(map_err(DEMUX_MAP, "lookup")(source)),
        }
    }

    /// The interfaces with a demux block.
    pub(super) fn blocks(&self) -> usize {
        self.by_if.values().filter(|i| i.block.is_some()).count()
    }
}
