//! Codec benchmarks: the per-advert receive path (parse + validate, authentication, one state
//! machine step) and the transmit path (fresh emit vs. the `AdvertCache` hit), per protocol
//! flavour and auth type.
//!
//! Receive = what `Shard::handle_advert` does once the group is found: `VrrpPacket::new_checked`
//! and `VrrpRepr::parse` (length, version, type, count, TTL, checksum, interval), the version
//! check, `AuthKey::verify` for VRRPv2, then `Vrrp::on_advert` on a Backup (priority 100)
//! receiving its Master's (priority 200) advert, which re-arms the Master_Down_Timer.
//!
//! ```text
//! cargo bench --bench codec -- --warm-up-time 1 --measurement-time 3 --sample-size 20
//! cargo bench --bench codec -- --quick codec/rx      # only the receive benchmarks
//! ```

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rvrrpd::auth::{AuthKey, AuthType};
use rvrrpd::fsm::{self, Action, AdvertInfo, GroupParams, State, Vrrp};
use rvrrpd::time::Instant;
use rvrrpd::wire::frame::emit_advert_frame;
use rvrrpd::wire::{AdvertCache, AdvertParams, RxMeta, V3Checksum, Version, VrrpPacket, VrrpRepr};

#[path = "support/cpu_time.rs"]
mod cpu_time;
use cpu_time::ThreadCpuTime;

const VRID: u8 = 51;
const MASTER_PRIORITY: u8 = 200;
const BACKUP_PRIORITY: u8 = 100;

/// One protocol flavour: version, family and authentication.
struct Case {
    name: &'static str,
    version: Version,
    auth: AuthKey,
    /// The Master's address (source of the adverts the Backup receives).
    master: IpAddr,
    /// The Backup's primary address.
    backup: IpAddr,
    /// Multicast destination.
    group: IpAddr,
    vips: Vec<IpAddr>,
    /// Wire interval: seconds (v2) or centiseconds (v3).
    interval: u16,
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn key(kind: AuthType, secret: &str) -> AuthKey {
    AuthKey::new(kind, secret).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

fn cases() -> Vec<Case> {
    let v2 = |name, auth| Case {
        name,
        version: Version::V2,
        auth,
        master: ip("192.168.1.2"),
        backup: ip("192.168.1.1"),
        group: ip("224.0.0.18"),
        vips: vec![ip("192.168.1.100")],
        interval: 1,
    };
    vec![
        v2("v2-none", AuthKey::none()),
        v2("v2-rfc2338-simple", key(AuthType::Simple, "secret12")),
        v2(
            "v2-p0-t8-sha256",
            key(AuthType::P0Sha256, "rvrrpd-bench-secret"),
        ),
        v2(
            "v2-p1-t8-shake256",
            key(AuthType::P1Shake256, "rvrrpd-bench-secret"),
        ),
        Case {
            name: "v3-ipv4",
            version: Version::V3,
            auth: AuthKey::none(),
            master: ip("192.168.1.2"),
            backup: ip("192.168.1.1"),
            group: ip("224.0.0.18"),
            vips: vec![ip("192.168.1.100")],
            interval: 100,
        },
        Case {
            name: "v3-ipv6",
            version: Version::V3,
            auth: AuthKey::none(),
            master: ip("fe80::2"),
            backup: ip("fe80::1"),
            group: ip("ff02::12"),
            vips: vec![ip("2001:db8::100")],
            interval: 100,
        },
    ]
}

impl Case {
    /// The Master's advert as it arrives (VRRP message only, as the ring / raw socket give it).
    fn master_advert(&self) -> Vec<u8> {
        let repr = self.repr(MASTER_PRIORITY);
        let mut buf = vec![0u8; repr.buffer_len()];
        let n = repr
            .emit(
                &mut buf,
                self.master,
                self.group,
                V3Checksum::default(),
                &self.auth,
            )
            .unwrap_or_else(|e| panic!("{}: emit: {e}", self.name));
        buf.truncate(n);
        buf
    }

    fn repr(&self, priority: u8) -> VrrpRepr {
        match self.version {
            Version::V2 => VrrpRepr::v2(
                VRID,
                priority,
                self.interval as u8,
                self.vips.clone(),
                &self.auth,
            ),
            Version::V3 => VrrpRepr::v3(VRID, priority, self.interval, self.vips.clone()),
        }
    }

    fn meta(&self) -> RxMeta {
        RxMeta {
            src: self.master,
            dst: self.group,
            ttl: 255,
        }
    }

    /// A Backup that the Master's adverts keep in Backup.
    fn backup(&self, now: Instant) -> Vrrp {
        let (version, interval) = match self.version {
            Version::V2 => (
                fsm::Version::V2,
                Duration::from_secs(u64::from(self.interval)),
            ),
            Version::V3 => (
                fsm::Version::V3,
                Duration::from_millis(u64::from(self.interval) * 10),
            ),
        };
        let mut vrrp = Vrrp::new(GroupParams {
            version,
            vrid: VRID,
            priority: BACKUP_PRIORITY,
            preempt: true,
            accept_mode: false,
            advert_interval: interval,
            primary_addr: self.backup,
            advert_phase: None,
            preempt_delay: Duration::ZERO,
        });
        let mut out = Vec::new();
        vrrp.startup(now, &mut out);
        assert_eq!(vrrp.state(), State::Backup, "{}", self.name);
        vrrp
    }

    fn params(&self, priority: u8) -> AdvertParams<'_> {
        AdvertParams {
            version: self.version,
            vrid: VRID,
            priority,
            interval: self.interval,
            src: self.master,
            addrs: &self.vips,
            auth: &self.auth,
            v3_checksum: V3Checksum::default(),
        }
    }
}

/// The receive path of one advert: parse + validate, version check, authentication, state
/// machine step. Returns whether the advert was accepted.
#[inline]
fn receive(
    payload: &[u8],
    meta: &RxMeta,
    version: Version,
    auth: &AuthKey,
    fsm: &mut Vrrp,
    now: Instant,
    out: &mut Vec<Action>,
) -> bool {
    let Ok(parsed) = VrrpPacket::new_checked(payload).and_then(|p| VrrpRepr::parse(&p, meta))
    else {
        return false;
    };
    let repr = &parsed.repr;
    if repr.version != version {
        return false;
    }
    if repr.version == Version::V2 && auth.verify(payload).is_err() {
        return false;
    }
    let max_advert_int_cs = match repr.version {
        Version::V2 => repr.max_advert_int.saturating_mul(100),
        Version::V3 => repr.max_advert_int,
    };
    let info = AdvertInfo {
        src: meta.src,
        priority: repr.priority,
        max_advert_int_cs,
    };
    fsm.on_advert(&info, now, out);
    out.clear();
    true
}

/// Full receive path per advert.
fn rx(c: &mut Criterion<ThreadCpuTime>) {
    let mut g = c.benchmark_group("codec/rx");
    g.throughput(Throughput::Elements(1));
    for case in cases() {
        let payload = case.master_advert();
        let meta = case.meta();
        let mut now = Instant::from_millis(1);
        let mut fsm = case.backup(now);
        let mut out = Vec::with_capacity(8);
        // Sanity (also what test mode checks): the advert is accepted and keeps us Backup.
        assert!(
            receive(
                &payload,
                &meta,
                case.version,
                &case.auth,
                &mut fsm,
                now,
                &mut out
            ),
            "{}: advert rejected",
            case.name
        );
        assert_eq!(fsm.state(), State::Backup);
        g.bench_function(BenchmarkId::from_parameter(case.name), |b| {
            b.iter(|| {
                now += Duration::from_micros(1);
                black_box(receive(
                    black_box(&payload),
                    &meta,
                    case.version,
                    &case.auth,
                    &mut fsm,
                    now,
                    &mut out,
                ))
            })
        });
        assert_eq!(fsm.state(), State::Backup, "{}", case.name);
    }
    g.finish();
}

/// The pieces of the receive path, to see where the time goes.
fn rx_parts(c: &mut Criterion<ThreadCpuTime>) {
    let cases = cases();
    let mut g = c.benchmark_group("codec/parse");
    g.throughput(Throughput::Elements(1));
    for case in &cases {
        let payload = case.master_advert();
        let meta = case.meta();
        g.bench_function(BenchmarkId::from_parameter(case.name), |b| {
            b.iter(|| {
                VrrpPacket::new_checked(black_box(&payload[..]))
                    .and_then(|p| VrrpRepr::parse(&p, &meta))
                    .is_ok()
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("codec/auth_verify");
    g.throughput(Throughput::Elements(1));
    for case in cases.iter().filter(|c| c.version == Version::V2) {
        let payload = case.master_advert();
        assert_eq!(case.auth.verify(&payload), Ok(()), "{}", case.name);
        g.bench_function(BenchmarkId::from_parameter(case.name), |b| {
            b.iter(|| case.auth.verify(black_box(&payload)).is_ok())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("codec/fsm_on_advert");
    g.throughput(Throughput::Elements(1));
    for case in cases.iter().filter(|c| c.auth.kind() == AuthType::None) {
        let mut now = Instant::from_millis(1);
        let mut fsm = case.backup(now);
        let mut out = Vec::with_capacity(8);
        let cs = match case.version {
            Version::V2 => case.interval * 100,
            Version::V3 => case.interval,
        };
        let info = AdvertInfo {
            src: case.master,
            priority: MASTER_PRIORITY,
            max_advert_int_cs: cs,
        };
        g.bench_function(BenchmarkId::from_parameter(case.name), |b| {
            b.iter(|| {
                now += Duration::from_micros(1);
                fsm.on_advert(black_box(&info), now, &mut out);
                out.clear();
            })
        });
        assert_eq!(fsm.state(), State::Backup, "{}", case.name);
    }
    g.finish();
}

/// Transmit: a fresh repr + `VrrpRepr::emit` + Ethernet/IP headers, vs. the cached frame.
fn emit(c: &mut Criterion<ThreadCpuTime>) {
    let cases = cases();
    let mut g = c.benchmark_group("codec/emit_fresh");
    g.throughput(Throughput::Elements(1));
    for case in &cases {
        let params = case.params(MASTER_PRIORITY);
        let mut buf = vec![0u8; 128];
        g.bench_function(BenchmarkId::from_parameter(case.name), |b| {
            b.iter(|| {
                // What an AdvertCache miss does: the repr (one Vec) and the whole frame.
                let p = black_box(&params);
                let repr = p.to_repr();
                emit_advert_frame(&mut buf, &repr, p.src, p.v3_checksum, p.auth).ok()
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("codec/emit_cached");
    g.throughput(Throughput::Elements(1));
    for case in &cases {
        let params = case.params(MASTER_PRIORITY);
        let mut cache = AdvertCache::new();
        let first = cache
            .frame(&params)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name))
            .to_vec();
        let mut out = Vec::with_capacity(4096);
        g.bench_function(BenchmarkId::from_parameter(case.name), |b| {
            b.iter(|| {
                // What `Shard::send_advert` does on a hit: compare, copy into the TX batch.
                out.clear();
                if let Ok(f) = cache.frame(black_box(&params)) {
                    out.extend_from_slice(f);
                }
                out.len()
            })
        });
        assert_eq!(cache.rebuilds(), 1, "{}: cache missed", case.name);
        assert_eq!(cache.cached(), Some(&first[..]));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = rx, rx_parts, emit
}
criterion_main!(benches);
