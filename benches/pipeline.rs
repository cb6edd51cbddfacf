//! Worker pipeline benchmarks: capacity of one worker (one core), without sockets.
//!
//! They drive the daemon's own [`rvrrpd::daemon::worker::Shard`] (the groups of one worker and
//! everything around their state machines), fed on virtual time:
//!
//! * `pipeline/rx_*`: a batch of ring-buffer records (`rvrrpd_common::VrrpEvent`, as the XDP
//!   program writes them) for N Backup groups, each record run through what
//!   `Worker::drain_ring` does: decode the record (`from_bytes`, `src_addr`, `vrrp_bytes`,
//!   `ttl`), then `Shard::handle_advert` (demux, parse + validate, authenticate, `on_advert`,
//!   lazy timer re-arm, status publish when due). Once per batch, as the worker loop does:
//!   `fire_timers`, `flush` (no transmit socket: nothing is sent), `next_deadline()`.
//! * `pipeline/masters_10k_10s/*`: 10,000 Master groups (1 s interval, deadlines spread over
//!   the second) over 10 s of virtual time: wake at each deadline (or every 1 ms) →
//!   `fire_timers` (`handle_timeout` → `AdvertCache` hit → frame queued → re-arm → publish)
//!   → `drain_outbox` (which copies each frame into its own `Vec`, where the daemon's `flush`
//!   hands the batch to `sendmmsg`).
//! * Before the benchmarks, a memory report: `size_of` of the per-group parts and the RSS
//!   growth per group of a real `Shard` (with its status board) for 20,000 groups inserted and
//!   started.
//!
//! ```text
//! cargo bench --bench pipeline -- --warm-up-time 1 --measurement-time 3 --sample-size 20
//! ```

use std::collections::HashMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use rvrrpd::auth::{AuthKey, AuthType};
use rvrrpd::daemon::plan::{GroupSpec, NetDrv};
use rvrrpd::daemon::status::{GroupSnapshot, LatenessHistogram, StatusBoard};
use rvrrpd::daemon::worker::{Shard, WorkerLinks};
use rvrrpd::fsm::{State, Vrrp};
use rvrrpd::net::{IpPrefix, VRRP_MCAST_V4, VRRP_MCAST_V6};
use rvrrpd::time::Instant;
use rvrrpd::wire::{AdvertCache, Family, MacAddr, RxMeta, V3Checksum, Version, VrrpRepr};
use rvrrpd_common::{VrrpEvent, FAMILY_V4, FAMILY_V6, MAX_VRRP_LEN, VRRP_OFFSET};

/// Bytes of one event record as the ring hands it over (the struct, native byte order).
const RECORD: usize = std::mem::size_of::<VrrpEvent>();
/// Events the worker drains per `now()` reading (`Worker::drain_ring`).
const DRAIN_CHUNK: usize = 256;
const MASTER_PRIORITY: u8 = 200;
const BACKUP_PRIORITY: u8 = 100;
const OWNER_PRIORITY: u8 = 255;

/// Whether criterion runs for real (`cargo bench`) or once per benchmark (`cargo test`).
fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

#[path = "support/cpu_time.rs"]
mod cpu_time;
use cpu_time::ThreadCpuTime;

// ---------------------------------------------------------------------------------------------
// Groups.

/// One flavour of group.
#[derive(Clone)]
struct Flavour {
    name: &'static str,
    version: Version,
    auth: AuthKey,
    /// v3 groups alternate IPv4 / IPv6 per 250 VRIDs; v2 groups are IPv4.
    mixed_families: bool,
    interval: Duration,
}

fn key(kind: AuthType, secret: &str) -> AuthKey {
    AuthKey::new(kind, secret).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

fn v2(name: &'static str, auth: AuthKey) -> Flavour {
    Flavour {
        name,
        version: Version::V2,
        auth,
        mixed_families: false,
        interval: Duration::from_secs(1),
    }
}

fn v2_none() -> Flavour {
    v2("v2-none", AuthKey::none())
}

fn v2_sha256() -> Flavour {
    v2(
        "v2-p0-t8-sha256",
        key(AuthType::P0Sha256, "rvrrpd-bench-secret"),
    )
}

fn v3_mixed() -> Flavour {
    Flavour {
        name: "v3-ipv4+ipv6",
        version: Version::V3,
        auth: AuthKey::none(),
        mixed_families: true,
        interval: Duration::from_secs(1),
    }
}

/// The flavours of the 1,000-group receive benchmark.
fn rx_flavours() -> Vec<Flavour> {
    vec![
        v2_none(),
        v3_mixed(),
        v2("v2-rfc2338-simple", key(AuthType::Simple, "secret12")),
        v2_sha256(),
        v2(
            "v2-p1-t8-shake256",
            key(AuthType::P1Shake256, "rvrrpd-bench-secret"),
        ),
    ]
}

/// Where group `i` lives. VRIDs are 1..=250 per (interface, family): a VRID is unique per
/// (interface, family), so 1,000 groups need four (interface, family) pairs.
fn placement(f: &Flavour, i: usize) -> (u32, Family, u8) {
    let block = (i / 250) as u32;
    let vrid = (i % 250) as u8 + 1;
    if f.mixed_families {
        let family = if block % 2 == 0 {
            Family::Ipv4
        } else {
            Family::Ipv6
        };
        (2 + block / 2, family, vrid)
    } else {
        (2 + block, Family::Ipv4, vrid)
    }
}

/// Our primary address (`host` 1) or the peer's (`host` 2) on interface `ifindex`.
fn host(family: Family, ifindex: u32, host: u8) -> IpAddr {
    let i = ifindex as u8;
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(10, i, 0, host)),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::new(
            0xfe80,
            0,
            0,
            0,
            0,
            0,
            u16::from(i),
            host.into(),
        )),
    }
}

fn vip(family: Family, ifindex: u32, vrid: u8) -> IpAddr {
    let i = ifindex as u8;
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(10, i, vrid, 100)),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            u16::from(i),
            u16::from(vrid),
            0,
            0,
            0,
            0x100,
        )),
    }
}

fn wire_interval(version: Version, interval: Duration) -> u16 {
    match version {
        Version::V2 => interval.as_secs().clamp(1, 255) as u16,
        Version::V3 => (interval.as_millis() / 10).clamp(1, 4095) as u16,
    }
}

/// The resolved spec of group `i` (stable id `i`), as `plan::resolve` would produce it.
fn spec(f: &Flavour, i: usize, priority: u8) -> GroupSpec {
    let (ifindex, family, vrid) = placement(f, i);
    let vip = vip(family, ifindex, vrid);
    let mac = MacAddr([2, 0, 0, 0, ifindex as u8, 1]);
    GroupSpec {
        index: i,
        ifname: rvrrpd::config::IfName::try_from(format!("eth{ifindex}"))
            .unwrap_or_else(|e| panic!("{e}")),
        ifindex,
        if_mac: mac,
        vrid,
        family,
        version: f.version,
        priority,
        owner: priority == OWNER_PRIORITY,
        preempt: true,
        accept_mode: false,
        interval: f.interval,
        primary: host(family, ifindex, 1),
        vips: vec![IpPrefix::host(vip)],
        advert_addrs: vec![vip],
        auth: f.auth.clone(),
        v3_checksum: V3Checksum::default(),
        announce_mac: mac,
        vif: None,
        netdrv: NetDrv::Netlink,
        socket_filter: true,
        // No gratuitous ARP / NA rounds: they are not part of the steady state.
        garp_repeat: 0,
        garp_interval: Duration::from_secs(1),
        advert_slots: rvrrpd::daemon::plan::DEFAULT_ADVERT_SLOTS,
        preempt_delay: std::time::Duration::ZERO,
        garp_master_delay: std::time::Duration::ZERO,
        garp_master_refresh: std::time::Duration::ZERO,
        garp_master_refresh_repeat: 1,
        garp_lower_prio_repeat: 0,
        unicast: None,
        name: format!("bench-{i}"),
        notify: Default::default(),
    }
}

/// An empty shard and the status board it publishes into. The event channel's receiver is
/// dropped: the address changes Masters ask for are refused by the channel (no queue grows).
fn new_shard() -> (Shard, Arc<StatusBoard>) {
    let (events, _) = tokio::sync::mpsc::unbounded_channel();
    let status = Arc::new(StatusBoard::new());
    let links = WorkerLinks {
        events,
        status: status.clone(),
        lateness: Arc::new(LatenessHistogram::default()),
    };
    (Shard::new(0, links), status)
}

/// A shard holding groups `0..groups` of flavour `f` at `priority` (not started); their slots.
fn shard_with(f: &Flavour, groups: usize, priority: u8) -> (Shard, Arc<StatusBoard>, Vec<usize>) {
    let (mut shard, status) = new_shard();
    // As the daemon's worker does for its shard (`Worker::new`).
    shard.reserve(groups);
    let slots = (0..groups)
        .map(|i| shard.insert_group(spec(f, i, priority)))
        .collect();
    (shard, status, slots)
}

fn count_state(shard: &Shard, slots: &[usize], state: State) -> usize {
    slots
        .iter()
        .filter(|&&g| shard.state(g) == Some(state))
        .count()
}

/// The published snapshots of groups `0..groups`.
fn snapshots(status: &StatusBoard, groups: usize) -> Vec<GroupSnapshot> {
    (0..groups)
        .map(|i| {
            status
                .get(i)
                .unwrap_or_else(|| panic!("group {i}: no slot"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Ring records.

/// The Master's advert for group `i`, as the XDP program writes it into the ring.
fn record(f: &Flavour, i: usize) -> [u8; RECORD] {
    let (ifindex, family, vrid) = placement(f, i);
    let src = host(family, ifindex, 2);
    let dst = match family {
        Family::Ipv4 => IpAddr::V4(VRRP_MCAST_V4),
        Family::Ipv6 => IpAddr::V6(VRRP_MCAST_V6),
    };
    let addrs = vec![vip(family, ifindex, vrid)];
    let interval = wire_interval(f.version, f.interval);
    let repr = match f.version {
        Version::V2 => VrrpRepr::v2(vrid, MASTER_PRIORITY, interval as u8, addrs, &f.auth),
        Version::V3 => VrrpRepr::v3(vrid, MASTER_PRIORITY, interval, addrs),
    };
    let mut msg = [0u8; MAX_VRRP_LEN];
    let len = repr
        .emit(&mut msg, src, dst, V3Checksum::default(), &f.auth)
        .unwrap_or_else(|e| panic!("{}: emit: {e}", f.name));
    let mut rec = [0u8; RECORD];
    rec[0..4].copy_from_slice(&ifindex.to_ne_bytes());
    let (tag, src_bytes) = match src {
        IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            (FAMILY_V4, b)
        }
        IpAddr::V6(a) => (FAMILY_V6, a.octets()),
    };
    rec[4] = tag;
    rec[5] = 255;
    rec[6..8].copy_from_slice(&(len as u16).to_ne_bytes());
    rec[8..24].copy_from_slice(&src_bytes);
    rec[VRRP_OFFSET..VRRP_OFFSET + len].copy_from_slice(&msg[..len]);
    rec
}

/// One record per group, in a deterministic shuffled order.
fn batch(f: &Flavour, groups: usize) -> Vec<u8> {
    let mut order: Vec<usize> = (0..groups).collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..order.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    order.iter().flat_map(|&i| record(f, i)).collect()
}

/// `Worker::drain_ring`'s closure: decode one ring record and hand it to the shard.
fn on_record(shard: &mut Shard, rec: &[u8], now: Instant) {
    let Some(ev) = VrrpEvent::from_bytes(rec) else {
        return;
    };
    let (Some(src), false) = (ev.src_addr(), ev.is_truncated()) else {
        return;
    };
    let dst = match src {
        IpAddr::V4(_) => IpAddr::V4(VRRP_MCAST_V4),
        IpAddr::V6(_) => IpAddr::V6(VRRP_MCAST_V6),
    };
    let meta = RxMeta {
        src,
        dst,
        ttl: ev.ttl,
    };
    shard.handle_advert(ev.ifindex, ev.vrrp_bytes(), &meta, now);
}

// ---------------------------------------------------------------------------------------------
// Receive side.

/// `groups` Backups on the receiving side, started at t = 1 ms; their Master's adverts.
struct RxSim {
    shard: Shard,
    status: Arc<StatusBoard>,
    slots: Vec<usize>,
    records: Vec<u8>,
    now: Instant,
}

impl RxSim {
    fn new(f: &Flavour, groups: usize) -> Self {
        let (mut shard, status, slots) = shard_with(f, groups, BACKUP_PRIORITY);
        shard.startup(Instant::from_millis(1));
        assert_eq!(
            count_state(&shard, &slots, State::Backup),
            groups,
            "{}",
            f.name
        );
        assert!(shard.next_deadline().is_some());
        let mut sim = RxSim {
            shard,
            status,
            slots,
            records: batch(f, groups),
            now: Instant::from_millis(2),
        };
        sim.run_batch();
        sim
    }

    /// One second of traffic (one advert per group) as worker loop turns: drain in chunks
    /// of 256 (one `now` each), fire timers, flush, compute the next wake-up.
    fn run_batch(&mut self) {
        let shard = &mut self.shard;
        for chunk in self.records.chunks(DRAIN_CHUNK * RECORD) {
            self.now += Duration::from_micros(50);
            for rec in chunk.chunks_exact(RECORD) {
                on_record(shard, rec, self.now);
            }
        }
        shard.fire_timers(self.now);
        shard.flush();
        black_box(shard.next_deadline());
    }

    /// Adverts every second: each batch is one second of traffic.
    fn next_second(&mut self) {
        self.now += Duration::from_secs(1);
        self.run_batch();
    }

    /// Every advert was accepted: still all Backups, nothing refused, and `batches` or more
    /// adverts counted per group.
    fn check(&mut self, name: &str, batches: u64) {
        // One more batch, so that every group's counters are published (every 200 ms).
        self.next_second();
        let groups = self.slots.len();
        assert_eq!(
            count_state(&self.shard, &self.slots, State::Backup),
            groups,
            "{name}"
        );
        for (i, s) in snapshots(&self.status, groups).iter().enumerate() {
            assert_eq!(s.state, State::Backup, "{name}: group {i}");
            assert_eq!(
                (s.auth_failures, s.discarded),
                (0, 0),
                "{name}: group {i}: adverts refused"
            );
            assert!(s.adverts_in >= batches, "{name}: group {i}: {s:?}");
        }
    }
}

fn rx(c: &mut Criterion<ThreadCpuTime>) {
    const GROUPS: usize = 1_000;
    let mut g = c.benchmark_group("pipeline/rx_1k_groups");
    g.throughput(Throughput::Elements(GROUPS as u64));
    for f in rx_flavours() {
        let mut sim = RxSim::new(&f, GROUPS);
        let mut batches = 1;
        g.bench_function(BenchmarkId::from_parameter(f.name), |b| {
            b.iter(|| {
                batches += 1;
                sim.next_second();
            })
        });
        sim.check(f.name, batches);
    }
    g.finish();

    // The same for 100 / 1,000 / 10,000 groups: how much is cache misses on group state.
    let mut g = c.benchmark_group("pipeline/rx_scaling_v2-none");
    let sizes: &[usize] = if bench_mode() {
        &[100, 1_000, 10_000]
    } else {
        &[100]
    };
    for &n in sizes {
        let mut sim = RxSim::new(&v2_none(), n);
        let mut batches = 1;
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                batches += 1;
                sim.next_second();
            })
        });
        sim.check("v2-none", batches);
    }
    g.finish();

    // The part before the shard: record decode, and a demux lookup in a map of the worker's
    // key type (`HashMap<(ifindex, family, VRID), slot>`, default hasher).
    let mut g = c.benchmark_group("pipeline/decode_demux_1k");
    g.throughput(Throughput::Elements(GROUPS as u64));
    let f = v2_none();
    let demux: HashMap<(u32, Family, u8), usize> =
        (0..GROUPS).map(|i| (placement(&f, i), i)).collect();
    let records = batch(&f, GROUPS);
    g.bench_function("v2-none", |b| {
        b.iter(|| {
            let mut hits = 0usize;
            for rec in records.chunks_exact(RECORD) {
                let Some(ev) = VrrpEvent::from_bytes(rec) else {
                    continue;
                };
                let Some(src) = ev.src_addr() else { continue };
                black_box((ev.vrrp_bytes(), ev.ttl));
                let key = (ev.ifindex, Family::of(&src), ev.vrid());
                hits += usize::from(demux.contains_key(black_box(&key)));
            }
            assert_eq!(hits, GROUPS);
            hits
        })
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// Masters: the timer side.

struct MasterSim {
    shard: Shard,
    now: Instant,
}

impl MasterSim {
    /// `groups` address owners (priority 255: Master at startup), started 1 s / groups apart
    /// so that their Adver_Timers spread over the second.
    fn new(f: &Flavour, groups: usize) -> Self {
        let (mut shard, _status, slots) = shard_with(f, groups, OWNER_PRIORITY);
        let step = 1_000_000 / groups as u64;
        for (i, &g) in slots.iter().enumerate() {
            let now = Instant::from_micros(1_000_000 + i as u64 * step);
            shard.fire_timers(now);
            shard.start_group(g, now);
            shard.flush();
        }
        assert_eq!(
            count_state(&shard, &slots, State::Master),
            groups,
            "{}",
            f.name
        );
        MasterSim {
            shard,
            // Just before the first deadline (2 s): every window then holds 10 per group.
            now: Instant::from_micros(1_999_999),
        }
    }

    /// Runs `span` of virtual time; returns the adverts sent. `tick: None` wakes at every
    /// deadline (the worker arms its timerfd at `next_deadline()`); `Some(t)` wakes every `t`
    /// (timer slack: batches).
    fn run(&mut self, span: Duration, tick: Option<Duration>) -> u64 {
        let end = self.now + span;
        let mut sent = 0;
        loop {
            let next = match tick {
                None => match self.shard.next_deadline() {
                    Some(d) if d < end => d.max(self.now),
                    _ => break,
                },
                Some(t) if self.now + t <= end => self.now + t,
                Some(_) => break,
            };
            self.now = next;
            self.shard.fire_timers(next);
            sent += black_box(self.shard.drain_outbox()).len() as u64;
        }
        self.now = end;
        sent
    }
}

fn masters(c: &mut Criterion<ThreadCpuTime>) {
    // Unoptimised (`cargo test --benches`), 10,000 Masters would take seconds: 200 there.
    let groups = if bench_mode() { 10_000 } else { 200 };
    const SECONDS: u64 = 10;
    let mut g = c.benchmark_group("pipeline/masters_10k_10s");
    g.throughput(Throughput::Elements(groups as u64 * SECONDS));
    g.sample_size(10);
    for f in [v2_none(), v2_sha256(), v3_mixed()] {
        for (label, tick) in [
            ("exact", None),
            ("tick-1ms", Some(Duration::from_millis(1))),
        ] {
            let mut sim = MasterSim::new(&f, groups);
            let span = Duration::from_secs(SECONDS);
            // The first span holds the takeover, after which each group's next advert comes
            // on its phase one to two intervals later; from the second span on, exactly one
            // advert per group and second.
            let first = sim.run(span, tick);
            let all = groups as u64 * SECONDS;
            assert!(
                first > all - groups as u64 && first <= all,
                "{} {label}: {first}",
                f.name
            );
            let sent = sim.run(span, tick);
            assert_eq!(sent, all, "{} {label}", f.name);
            g.bench_function(BenchmarkId::new(f.name, label), |b| {
                b.iter(|| {
                    let sent = sim.run(span, tick);
                    assert_eq!(sent, groups as u64 * SECONDS);
                    sent
                })
            });
        }
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// Memory per group.

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn memory_report() {
    use std::mem::size_of;
    let n = if bench_mode() { 20_000 } else { 1_000 };
    println!("memory: size_of (inline bytes)");
    for (name, size) in [
        ("fsm::Vrrp", size_of::<Vrrp>()),
        ("wire::AdvertCache", size_of::<AdvertCache>()),
        ("daemon::plan::GroupSpec", size_of::<GroupSpec>()),
        ("daemon::status::GroupSnapshot", size_of::<GroupSnapshot>()),
        (
            "config::VRouter (kept for reloads)",
            size_of::<rvrrpd::config::VRouter>(),
        ),
        ("rvrrpd_common::VrrpEvent", size_of::<VrrpEvent>()),
    ] {
        println!("  {name:<40} {size:>5}");
    }
    // Kept alive until the end, so that freed memory is not reused by the next measurement.
    let mut keep = Vec::new();
    let cases = [
        (v2_none(), OWNER_PRIORITY, "Masters"),
        (v2_none(), BACKUP_PRIORITY, "Backups"),
        (v2_sha256(), OWNER_PRIORITY, "Masters"),
        (v3_mixed(), OWNER_PRIORITY, "Masters"),
    ];
    for (f, priority, role) in cases {
        let base = rss_kib();
        // Everything a worker holds per group: the group (spec, state machine, advert cache,
        // counters), its status slot and status-board entry, its demux entry and timer entry.
        // Masters have built and cached their advert frame; Backups have not.
        let (mut shard, status, slots) = shard_with(&f, n, priority);
        let now = Instant::from_millis(1);
        for chunk in slots.chunks(DRAIN_CHUNK) {
            for &g in chunk {
                shard.start_group(g, now);
            }
            // Sent (dropped) as the worker loop would: the TX batch buffer stays small.
            shard.flush();
        }
        let want = if priority == OWNER_PRIORITY {
            State::Master
        } else {
            State::Backup
        };
        assert_eq!(count_state(&shard, &slots, want), n, "{}", f.name);
        let after = rss_kib();
        let grown = after.saturating_sub(base);
        let per_group = (grown * 1024) as f64 / n as f64;
        println!(
            "memory: {:<16} {role:<7} {n} groups: RSS +{grown} KiB = {per_group:.0} B/group \
             (target <= 1024)",
            f.name,
        );
        keep.push((shard, status));
    }
    black_box(&keep);
}

// `criterion_main!` with the memory report first.
fn main() {
    memory_report();
    let mut c = Criterion::default()
        .with_measurement(ThreadCpuTime)
        .configure_from_args();
    rx(&mut c);
    masters(&mut c);
    c.final_summary();
}
