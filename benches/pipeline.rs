//! Worker pipeline benchmarks: capacity of one worker (one core), without sockets.
//!
//! * `pipeline/rx/*`: a batch of ring-buffer records (`rvrrpd_common::VrrpEvent`, as the XDP
//!   program writes them) for 1,000 Backup groups, each record run through what
//!   `Worker::drain_ring` + `Shard::handle_advert` + `apply_actions` do: decode the record,
//!   demultiplex on (ifindex, family, VRID) in a `HashMap`, parse + validate, authenticate
//!   (VRRPv2), `Vrrp::on_advert`, re-arm the group's timer in the `TimingWheel` at
//!   `poll_timeout()`, publish the status snapshot. Once per batch, as the worker loop does:
//!   fire due timers, flush, `next_deadline()`.
//! * `pipeline/masters_10k/*`: 10,000 Master groups (1 s interval, deadlines spread over the
//!   second) over 10 s of virtual time: wake at each deadline → `handle_timeout` →
//!   `AdvertCache` hit → frame queued for TX → re-arm → publish.
//! * Before the benchmarks, a memory report: `size_of` of the per-group parts and the RSS
//!   growth per group for 20,000 groups with the state a worker keeps (state machine, cached
//!   advert frame, timer entry, demux entry, status slot, spec data).
//!
//! The groups mirror `worker::Group` (private to the daemon); keep them in step with it.
//!
//! ```text
//! cargo bench --bench pipeline -- --warm-up-time 1 --measurement-time 3 --sample-size 20
//! ```

use std::collections::HashMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BenchmarkId, Criterion, Throughput};
use rvrrpd::auth::{AuthKey, AuthType};
use rvrrpd::daemon::status::{publish, GroupSnapshot, Slot};
use rvrrpd::fsm::{self, Action, AdvertInfo, GroupParams, State, Vrrp};
use rvrrpd::net::{IpPrefix, VRRP_MCAST_V4, VRRP_MCAST_V6};
use rvrrpd::time::Instant;
use rvrrpd::timer::{TimerId, TimingWheel};
use rvrrpd::wire::{
    AdvertCache, AdvertParams, Family, RxMeta, V3Checksum, Version, VrrpPacket, VrrpRepr,
};
use rvrrpd_common::{VrrpEvent, FAMILY_V4, FAMILY_V6, MAX_VRRP_LEN};

/// Bytes of one event record as the ring hands it over (the struct, native byte order).
const RECORD: usize = std::mem::size_of::<VrrpEvent>();
/// Events the worker drains per `now()` reading (`Worker::drain_ring`).
const DRAIN_CHUNK: usize = 256;
const MASTER_PRIORITY: u8 = 200;
const BACKUP_PRIORITY: u8 = 100;

/// Whether criterion runs for real (`cargo bench`) or once per benchmark (`cargo test`).
fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

// ---------------------------------------------------------------------------------------------
// Thread CPU time instead of wall time: the machine is shared, and a core's capacity is what
// these numbers are about. Time the thread spends descheduled is not counted.

/// Criterion measurement: CPU time of the benchmarking thread (`CLOCK_THREAD_CPUTIME_ID`).
struct ThreadCpuTime;

static WALL: WallTime = WallTime;

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux supports.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu()
    }

    fn end(&self, start: Duration) -> Duration {
        thread_cpu().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

// ---------------------------------------------------------------------------------------------
// A socket-less shard, mirroring `daemon::worker::{Group, Shard}`.

#[derive(Debug, Clone, Copy)]
enum TimerKey {
    Fsm(usize),
    #[allow(dead_code)] // Announcements are not part of the steady state measured here.
    Announce(usize),
}

/// `worker::Group`: the spec fields the hot path and the memory footprint involve, the state
/// machine, the advert cache, timer handles, status slot and counters. Fields the benchmarks
/// do not read are kept for the memory footprint.
#[allow(dead_code)]
struct Group {
    // -- from GroupSpec
    ifname: String,
    vip_ifname: String,
    ifindex: u32,
    vrid: u8,
    family: Family,
    version: Version,
    interval: Duration,
    primary: IpAddr,
    vips: Vec<IpPrefix>,
    advert_addrs: Vec<IpAddr>,
    auth: AuthKey,
    v3_checksum: V3Checksum,
    // -- runtime
    fsm: Vrrp,
    advert: AdvertCache,
    fsm_timer: Option<TimerId>,
    announce_timer: Option<TimerId>,
    announce_left: u32,
    slot: Slot,
    auth_failures: u64,
    malformed: u64,
    last_transition: Option<u64>,
}

#[derive(Default)]
struct Counters {
    discarded: u64,
    net_ops: u64,
    announces: u64,
    transitions: u64,
}

struct Shard {
    groups: Vec<Option<Group>>,
    demux: HashMap<(u32, Family, u8), usize>,
    wheel: TimingWheel<TimerKey>,
    actions: Vec<Action>,
    out_bytes: Vec<u8>,
    out_frames: Vec<(u32, Range<usize>)>,
    /// Publish status snapshots (a mutex lock per event), as the daemon does.
    publish: bool,
    counters: Counters,
    sent: u64,
}

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

fn flavours() -> Vec<Flavour> {
    let v2 = |name, auth| Flavour {
        name,
        version: Version::V2,
        auth,
        mixed_families: false,
        interval: Duration::from_secs(1),
    };
    vec![
        v2("v2-none", AuthKey::none()),
        v2(
            "v2-p0-t8-sha256",
            key(AuthType::P0Sha256, "rvrrpd-bench-secret"),
        ),
        Flavour {
            name: "v3-ipv4+ipv6",
            version: Version::V3,
            auth: AuthKey::none(),
            mixed_families: true,
            interval: Duration::from_secs(1),
        },
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

fn new_group(f: &Flavour, i: usize, priority: u8) -> Group {
    let (ifindex, family, vrid) = placement(f, i);
    let primary = host(family, ifindex, 1);
    let vip = vip(family, ifindex, vrid);
    let fsm = Vrrp::new(GroupParams {
        version: match f.version {
            Version::V2 => fsm::Version::V2,
            Version::V3 => fsm::Version::V3,
        },
        vrid,
        priority,
        preempt: true,
        accept_mode: false,
        advert_interval: f.interval,
        primary_addr: primary,
    });
    Group {
        ifname: format!("eth{ifindex}"),
        vip_ifname: format!("eth{ifindex}"),
        ifindex,
        vrid,
        family,
        version: f.version,
        interval: f.interval,
        primary,
        vips: vec![IpPrefix {
            addr: vip,
            prefix_len: family.max_prefix_len(),
        }],
        advert_addrs: vec![vip],
        auth: f.auth.clone(),
        v3_checksum: V3Checksum::default(),
        fsm,
        advert: AdvertCache::new(),
        fsm_timer: None,
        announce_timer: None,
        announce_left: 0,
        slot: Slot::default(),
        auth_failures: 0,
        malformed: 0,
        last_transition: None,
    }
}

impl Shard {
    fn new(groups: impl Iterator<Item = Group>, publish: bool) -> Self {
        let groups: Vec<Option<Group>> = groups.map(Some).collect();
        let demux = groups
            .iter()
            .flatten()
            .enumerate()
            .map(|(g, gr)| ((gr.ifindex, gr.family, gr.vrid), g))
            .collect();
        Shard {
            groups,
            demux,
            wheel: TimingWheel::new(),
            actions: Vec::with_capacity(16),
            out_bytes: Vec::with_capacity(4096),
            out_frames: Vec::with_capacity(64),
            publish,
            counters: Counters::default(),
            sent: 0,
        }
    }

    /// `startup` at `at(g)` for every group, firing timers due in between (a staggered start).
    fn startup(&mut self, at: impl Fn(usize) -> Instant) {
        for g in 0..self.groups.len() {
            let now = at(g);
            self.fire_timers(now);
            if let Some(group) = self.groups[g].as_mut() {
                group.fsm.startup(now, &mut self.actions);
                self.apply_actions(g, now);
            }
        }
        self.flush();
    }

    /// `Worker::drain_ring`'s closure.
    fn on_record(&mut self, rec: &[u8], now: Instant) {
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
        self.handle_advert(ev.ifindex, ev.vrrp_bytes(), &meta, now);
    }

    /// `Shard::handle_advert` without the logging.
    fn handle_advert(&mut self, ifindex: u32, payload: &[u8], meta: &RxMeta, now: Instant) {
        let family = Family::of(&meta.src);
        let Some(vrid) = payload.get(1).copied() else {
            return;
        };
        let Some(&g) = self.demux.get(&(ifindex, family, vrid)) else {
            return;
        };
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        let parsed = match VrrpPacket::new_checked(payload).and_then(|p| VrrpRepr::parse(&p, meta))
        {
            Ok(p) => p,
            Err(_) => {
                group.malformed += 1;
                self.publish(g);
                return;
            }
        };
        let repr = &parsed.repr;
        if repr.version != group.version {
            group.malformed += 1;
            self.publish(g);
            return;
        }
        if repr.version == Version::V2 && group.auth.verify(payload).is_err() {
            group.auth_failures += 1;
            self.publish(g);
            return;
        }
        let interval_cs = match repr.version {
            Version::V2 => repr.max_advert_int.saturating_mul(100),
            Version::V3 => repr.max_advert_int,
        };
        let info = AdvertInfo {
            src: meta.src,
            priority: repr.priority,
            max_advert_int_cs: interval_cs,
        };
        group.fsm.on_advert(&info, now, &mut self.actions);
        self.apply_actions(g, now);
    }

    fn apply_actions(&mut self, g: usize, now: Instant) {
        let mut actions = std::mem::take(&mut self.actions);
        for action in actions.drain(..) {
            match action {
                Action::SendAdvert { priority } => self.send_advert(g, priority),
                Action::Transition { .. } => {
                    self.counters.transitions += 1;
                    if let Some(group) = self.groups[g].as_mut() {
                        group.last_transition = Some(now.as_micros() / 1_000_000);
                    }
                }
                Action::AddVips
                | Action::RemoveVips
                | Action::InstallRoutes
                | Action::RemoveRoutes => self.counters.net_ops += 1,
                // No gratuitous ARP rounds: they are not part of the steady state.
                Action::Announce => self.counters.announces += 1,
                Action::Discarded { .. } => self.counters.discarded += 1,
            }
        }
        self.actions = actions;
        self.rearm(g);
        self.publish(g);
    }

    fn rearm(&mut self, g: usize) {
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        let next = group.fsm.poll_timeout();
        match (group.fsm_timer, next) {
            (Some(id), Some(at)) => {
                if self.wheel.reschedule(id, at).is_err() {
                    group.fsm_timer = Some(self.wheel.insert(at, TimerKey::Fsm(g)));
                }
            }
            (Some(id), None) => {
                self.wheel.cancel(id);
                group.fsm_timer = None;
            }
            (None, Some(at)) => group.fsm_timer = Some(self.wheel.insert(at, TimerKey::Fsm(g))),
            (None, None) => {}
        }
    }

    fn send_advert(&mut self, g: usize, priority: u8) {
        let Some(group) = self.groups[g].as_mut() else {
            return;
        };
        let params = AdvertParams {
            version: group.version,
            vrid: group.vrid,
            priority,
            interval: wire_interval(group.version, group.interval),
            src: group.primary,
            addrs: &group.advert_addrs,
            auth: &group.auth,
            v3_checksum: group.v3_checksum,
        };
        let Ok(frame) = group.advert.frame(&params) else {
            return;
        };
        let start = self.out_bytes.len();
        self.out_bytes.extend_from_slice(frame);
        self.out_frames
            .push((group.ifindex, start..self.out_bytes.len()));
        self.sent += 1;
    }

    fn publish(&self, g: usize) {
        if !self.publish {
            return;
        }
        let Some(group) = self.groups[g].as_ref() else {
            return;
        };
        let fsm = &group.fsm;
        let stats = fsm.stats();
        publish(
            &group.slot,
            GroupSnapshot {
                state: fsm.state(),
                master: fsm.current_master(),
                priority: fsm.priority(),
                preempt: fsm.params().preempt,
                master_adver_interval: fsm.master_adver_interval(),
                master_down_interval: fsm.master_down_interval(),
                skew_time: fsm.skew_time(),
                adverts_in: stats.adverts_received + group.auth_failures + group.malformed,
                adverts_out: stats.adverts_sent,
                transitions: stats.transitions,
                auth_failures: group.auth_failures,
                discarded: stats.discarded.total() + group.malformed,
                last_transition: group.last_transition,
            },
        );
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some((_, key)) = self.wheel.poll(now) {
            match key {
                TimerKey::Fsm(g) => {
                    let Some(group) = self.groups[g].as_mut() else {
                        continue;
                    };
                    group.fsm_timer = None;
                    group.fsm.handle_timeout(now, &mut self.actions);
                    self.apply_actions(g, now);
                }
                TimerKey::Announce(g) => {
                    if let Some(group) = self.groups[g].as_mut() {
                        group.announce_timer = None;
                    }
                }
            }
        }
    }

    /// `Shard::flush` minus the `sendmmsg`: the frames are grouped per interface and dropped.
    fn flush(&mut self) -> usize {
        if self.out_frames.is_empty() {
            return 0;
        }
        self.out_frames.sort_by_key(|(ifindex, _)| *ifindex);
        let mut n = 0;
        for chunk in self.out_frames.chunk_by(|a, b| a.0 == b.0) {
            n += chunk
                .iter()
                .map(|(_, r)| black_box(&self.out_bytes[r.clone()]).len())
                .sum::<usize>();
        }
        self.out_frames.clear();
        self.out_bytes.clear();
        n
    }

    fn count_state(&self, state: State) -> usize {
        self.groups
            .iter()
            .flatten()
            .filter(|g| g.fsm.state() == state)
            .count()
    }
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
    rec[24..24 + len].copy_from_slice(&msg[..len]);
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

/// `groups` Backups on the receiving side, started at t = 1 ms; their Master's adverts.
fn rx_setup(f: &Flavour, groups: usize, publish: bool) -> (Shard, Vec<u8>) {
    let groups_iter = (0..groups).map(|i| new_group(f, i, BACKUP_PRIORITY));
    let mut shard = Shard::new(groups_iter, publish);
    shard.startup(|_| Instant::from_millis(1));
    assert_eq!(shard.count_state(State::Backup), groups, "{}", f.name);
    assert_eq!(shard.wheel.len(), groups);
    (shard, batch(f, groups))
}

/// One worker loop turn over a batch: drain in chunks of 256 (one `now` each), fire timers,
/// flush, compute the next wake-up.
fn run_batch(shard: &mut Shard, records: &[u8], now: &mut Instant) {
    for chunk in records.chunks(DRAIN_CHUNK * RECORD) {
        *now += Duration::from_micros(50);
        for rec in chunk.chunks_exact(RECORD) {
            shard.on_record(rec, *now);
        }
    }
    shard.fire_timers(*now);
    shard.flush();
    black_box(shard.wheel.next_deadline());
}

fn rx(c: &mut Criterion<ThreadCpuTime>) {
    const GROUPS: usize = 1_000;
    let mut g = c.benchmark_group("pipeline/rx_1k_groups");
    g.throughput(Throughput::Elements(GROUPS as u64));
    let mut variants: Vec<(Flavour, bool)> = flavours().into_iter().map(|f| (f, true)).collect();
    variants.push((flavours().remove(0), false));
    for (f, publish) in variants {
        let (mut shard, records) = rx_setup(&f, GROUPS, publish);
        let mut now = Instant::from_millis(2);
        run_batch(&mut shard, &records, &mut now);
        let name = if publish {
            f.name.to_owned()
        } else {
            format!("{}-no-publish", f.name)
        };
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                // Adverts every second: each batch is one second of traffic.
                now += Duration::from_secs(1);
                run_batch(&mut shard, &records, &mut now);
            })
        });
        // Every advert was accepted: still all Backups, nothing discarded or fired.
        assert_eq!(shard.count_state(State::Backup), GROUPS, "{}", f.name);
        assert_eq!(shard.counters.discarded, 0, "{}", f.name);
        let bad: u64 = shard
            .groups
            .iter()
            .flatten()
            .map(|g| g.malformed + g.auth_failures)
            .sum();
        assert_eq!(bad, 0, "{}: adverts rejected", f.name);
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
        let f = flavours().remove(0);
        let (mut shard, records) = rx_setup(&f, n, true);
        let mut now = Instant::from_millis(2);
        run_batch(&mut shard, &records, &mut now);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                now += Duration::from_secs(1);
                run_batch(&mut shard, &records, &mut now);
            })
        });
        assert_eq!(shard.count_state(State::Backup), n);
    }
    g.finish();

    // The part before the codec: record decode + demux lookup.
    let mut g = c.benchmark_group("pipeline/decode_demux_1k");
    g.throughput(Throughput::Elements(GROUPS as u64));
    let f = flavours().remove(0);
    let (shard, records) = rx_setup(&f, GROUPS, false);
    g.bench_function("v2-none", |b| {
        b.iter(|| {
            let mut hits = 0usize;
            for rec in records.chunks_exact(RECORD) {
                let Some(ev) = VrrpEvent::from_bytes(rec) else {
                    continue;
                };
                let Some(src) = ev.src_addr() else { continue };
                let key = (ev.ifindex, Family::of(&src), ev.vrid());
                hits += usize::from(shard.demux.contains_key(black_box(&key)));
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
        let mut shard = Shard::new((0..groups).map(|i| new_group(f, i, 255)), true);
        let step = 1_000_000 / groups as u64;
        shard.startup(|g| Instant::from_micros(1_000_000 + g as u64 * step));
        assert_eq!(shard.count_state(State::Master), groups, "{}", f.name);
        shard.sent = 0;
        MasterSim {
            shard,
            // Just before the first deadline (2 s): every window then holds 10 per group.
            now: Instant::from_micros(1_999_999),
        }
    }

    /// Runs `span` of virtual time. `tick: None` wakes at every deadline (the worker arms
    /// its timerfd at `next_deadline()`); `Some(t)` wakes every `t` (timer slack: batches).
    fn run(&mut self, span: Duration, tick: Option<Duration>) -> u64 {
        let end = self.now + span;
        let before = self.shard.sent;
        loop {
            let next = match tick {
                None => match self.shard.wheel.next_deadline() {
                    Some(d) if d < end => d.max(self.now),
                    _ => break,
                },
                Some(t) if self.now + t <= end => self.now + t,
                Some(_) => break,
            };
            self.now = next;
            self.shard.fire_timers(next);
            self.shard.flush();
        }
        if tick.is_none() {
            black_box(self.shard.wheel.next_deadline());
        }
        self.now = end;
        self.shard.sent - before
    }
}

fn masters(c: &mut Criterion<ThreadCpuTime>) {
    let groups = if bench_mode() { 10_000 } else { 1_000 };
    const SECONDS: u64 = 10;
    let mut g = c.benchmark_group("pipeline/masters_10k_10s");
    g.throughput(Throughput::Elements(groups as u64 * SECONDS));
    g.sample_size(10);
    let fl = flavours();
    for f in [&fl[0], &fl[1], &fl[2]] {
        for (label, tick) in [
            ("exact", None),
            ("tick-1ms", Some(Duration::from_millis(1))),
        ] {
            let mut sim = MasterSim::new(f, groups);
            let span = Duration::from_secs(SECONDS);
            let sent = sim.run(span, tick);
            assert_eq!(sent, groups as u64 * SECONDS, "{} {label}", f.name);
            g.bench_function(BenchmarkId::new(f.name, label), |b| {
                b.iter(|| sim.run(span, tick))
            });
            let rebuilds: u64 = sim
                .shard
                .groups
                .iter()
                .flatten()
                .map(|g| g.advert.rebuilds())
                .sum();
            assert_eq!(rebuilds, groups as u64, "{}: cache misses", f.name);
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
        ("timer::TimerId", size_of::<TimerId>()),
        ("daemon::status::GroupSnapshot", size_of::<GroupSnapshot>()),
        (
            "daemon::plan::GroupSpec",
            size_of::<rvrrpd::daemon::plan::GroupSpec>(),
        ),
        ("bench Group (mirror of worker::Group)", size_of::<Group>()),
        ("rvrrpd_common::VrrpEvent", size_of::<VrrpEvent>()),
    ] {
        println!("  {name:<40} {size:>5}");
    }
    // Kept alive until the end, so that freed memory is not reused by the next measurement.
    let mut keep = Vec::new();
    for f in flavours() {
        let base = rss_kib();
        // Everything a worker holds per group: the group (spec data, machine, cache, counters),
        // its status slot, its demux entry and its timer entry; each group Master once so its
        // advert frame is built and cached (then Backup, as most groups are).
        let mut sim = MasterSim::new(&f, n);
        sim.run(Duration::from_secs(1), None);
        // The status board's index of the slots (`StatusBoard`: a BTreeMap of them).
        let board: std::collections::BTreeMap<usize, Slot> = sim
            .shard
            .groups
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, g)| (i, g.slot.clone()))
            .collect();
        let after = rss_kib();
        let per_group = (after.saturating_sub(base) * 1024) as f64 / n as f64;
        println!(
            "memory: {:<16} {n} groups: RSS +{} KiB = {per_group:.0} B/group (target <= 1024)",
            f.name,
            after.saturating_sub(base)
        );
        keep.push((sim, board));
    }
    black_box(&keep);
    // `worker::Group` holds the whole GroupSpec where the mirror holds the fields it uses.
    let daemon_group = size_of::<rvrrpd::daemon::plan::GroupSpec>()
        + size_of::<Vrrp>()
        + size_of::<AdvertCache>()
        + 2 * size_of::<Option<TimerId>>()
        + size_of::<Slot>()
        + 4 * size_of::<u64>()
        + size_of::<Option<u64>>()
        + size_of::<u32>();
    println!(
        "memory: worker::Group is about {daemon_group} B inline (mirror: {} B): add the \
         difference to the figures above for the daemon",
        size_of::<Group>()
    );
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
