//! The eBPF fast path at start-up: the object loaded, the XDP demux map filled for the
//! shards, XDP attached (or the eBPF socket filter as the fallback) and one ring per worker.

use std::sync::Arc;

use crate::daemon::plan::GroupSpec;
use crate::net::xdp::{FastPath, FastPathConfig, WorkerRing, FLAG_UNICAST};
use crate::wire::Family;
use rvrrpd_common::screen_flags;

/// Routes group `s` to `worker` in the demux map; a unicast group's peers go in first, so
/// its unicast flag never goes live without them.
pub(super) fn route_group(
    fast: &mut FastPath,
    s: &GroupSpec,
    worker: u32,
) -> Result<(), crate::net::xdp::XdpError> {
    let key = s.demux_key();
    // The worker's checksum and authentication-type checks run in the kernel too; the
    // checksum of a unicast group's adverts is not checked there (see FLAG_SCREEN_SUM).
    let auth = s.auth.kind().number();
    let flags = match s.unicast.as_deref() {
        Some(u) => {
            fast.set_peers(key, &u.peers, u.min_ttl)?;
            FLAG_UNICAST | screen_flags(auth, false)
        }
        None => screen_flags(auth, true),
    };
    fast.set_group(key, worker, flags)?;
    if flags & FLAG_UNICAST == 0 {
        // A group that was unicast before a reload admits no stale peers.
        fast.set_peers(key, &[], 255)?;
    }
    Ok(())
}

/// The receive path chosen at start-up.
pub(super) enum FastSetup {
    /// XDP attached everywhere: one ring per shard.
    Xdp(FastPath, Vec<WorkerRing>, String),
    /// The object loaded but XDP could not attach (or `RVRRPD_NO_XDP`): the eBPF socket
    /// filter, reading the same demux map, goes on the raw sockets.
    SocketFilter(FastPath, String),
}

/// Bytes one advert of group `s` takes in a ring (small or full record, by its length).
pub(super) fn ring_record_bytes(s: &GroupSpec) -> u64 {
    let per_addr = match s.family {
        Family::Ipv4 => 4,
        Family::Ipv6 => 16,
    };
    let auth = match s.version {
        crate::wire::Version::V2 => rvrrpd_common::VRRP_V2_AUTH_LEN,
        crate::wire::Version::V3 => 0,
    };
    let len = rvrrpd_common::VRRP_HEADER_LEN + per_addr * s.advert_addrs.len() + auth;
    rvrrpd_common::VrrpEvent::ring_record_size(len) as u64
}

/// Loads the eBPF object, fills the demux map for `shards` and attaches XDP to every
/// interface; falls back to the eBPF socket filter when XDP cannot attach. `Err` means no
/// eBPF at all (the reason).
pub(super) fn setup_fast_path(
    shards: &[Vec<Arc<GroupSpec>>],
    xdp: bool,
) -> Result<FastSetup, String> {
    let mut cfg = FastPathConfig::new(shards.len() as u32);
    // Room for a full burst of adverts per worker: a peer that becomes Master of thousands of
    // groups at once sends their first adverts within milliseconds, and a worker that drains a
    // moment late must not lose any. Later adverts come spread over the interval (phase
    // slots), so one burst is the most a ring must hold.
    let biggest = shards
        .iter()
        .map(|s| s.iter().map(|g| ring_record_bytes(g)).sum::<u64>())
        .max()
        .unwrap_or(0);
    let want = biggest
        .next_power_of_two()
        .clamp(u64::from(cfg.ring_bytes), 64 << 20);
    cfg.ring_bytes = want as u32;
    let mut fast = FastPath::load(&cfg).map_err(|e| e.to_string())?;
    let mut ifnames: Vec<&str> = Vec::new();
    for (k, shard) in shards.iter().enumerate() {
        for s in shard {
            route_group(&mut fast, s, k as u32).map_err(|e| e.to_string())?;
            if !ifnames.contains(&s.ifname.as_str()) {
                ifnames.push(&s.ifname);
            }
        }
    }
    if !xdp {
        return Ok(FastSetup::SocketFilter(
            fast,
            "XDP disabled by RVRRPD_NO_XDP".into(),
        ));
    }
    let mut modes = Vec::new();
    for ifname in ifnames {
        match fast.attach(ifname) {
            Ok(mode) => modes.push(format!("{ifname}: {mode}")),
            Err(e) => {
                let attached: Vec<String> =
                    fast.attached().map(|(n, _, _)| n.to_string()).collect();
                for n in attached {
                    let _ = fast.detach(&n);
                }
                return Ok(FastSetup::SocketFilter(fast, e.to_string()));
            }
        }
    }
    let rings = (0..shards.len())
        .map(|k| fast.take_ring(k as u32).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(FastSetup::Xdp(
        fast,
        rings,
        format!("XDP ({})", modes.join(", ")),
    ))
}
