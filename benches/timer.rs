//! Timing wheel benchmarks: arm, cancel, advance and the worker's fire-and-rearm pattern at
//! 1k / 10k / 100k timers.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use rvrrpd::time::Instant;
use rvrrpd::timer::{TimerId, TimingWheel};

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// Deterministic deadlines spread over ~4 s (a Master_Down_Interval), microsecond precision.
fn deadlines(n: usize) -> Vec<Instant> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Instant::from_micros(x % 4_000_000)
        })
        .collect()
}

fn filled(ds: &[Instant]) -> (TimingWheel<usize>, Vec<TimerId>) {
    let mut w = TimingWheel::new();
    let ids = ds
        .iter()
        .enumerate()
        .map(|(i, &d)| w.insert(d, i))
        .collect();
    (w, ids)
}

fn arm(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer/arm");
    for n in SIZES {
        let ds = deadlines(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &ds, |b, ds| {
            b.iter_batched(
                TimingWheel::<usize>::new,
                |mut w| {
                    for (i, &d) in ds.iter().enumerate() {
                        black_box(w.insert(d, i));
                    }
                    w
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn cancel(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer/cancel");
    for n in SIZES {
        let ds = deadlines(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &ds, |b, ds| {
            b.iter_batched(
                || filled(ds),
                |(mut w, ids)| {
                    for id in ids {
                        black_box(w.cancel(id));
                    }
                    w
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// Fires everything by advancing 1 ms at a time over the 4 s span (4000 advances).
fn advance(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer/advance");
    for n in SIZES {
        let ds = deadlines(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &ds, |b, ds| {
            b.iter_batched(
                || filled(ds).0,
                |mut w| {
                    let mut fired = 0usize;
                    let mut now = Instant::ZERO;
                    while !w.is_empty() {
                        now += Duration::from_millis(1);
                        fired += w.advance(now, |_, v| {
                            black_box(v);
                        });
                    }
                    fired
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// The worker pattern: every fired timer is re-armed one advert interval (1 s) later;
/// measures 1 s of virtual time in 1 ms steps plus `next_deadline` after each step.
fn rearm(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer/fire_rearm_1s");
    for n in SIZES {
        let ds: Vec<Instant> = deadlines(n)
            .into_iter()
            .map(|d| Instant::from_micros(d.as_micros() % 1_000_000))
            .collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &ds, |b, ds| {
            b.iter_batched(
                || filled(ds).0,
                |mut w| {
                    let mut now = Instant::ZERO;
                    for _ in 0..1000 {
                        now += Duration::from_millis(1);
                        while let Some((_, v)) = w.poll(now) {
                            w.insert(now + Duration::from_secs(1), v);
                        }
                        black_box(w.next_deadline());
                    }
                    w
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// The receive path's re-arm: every advert moves its group's Master_Down_Timer to
/// `now + 3.6 s` (`TimingWheel::reschedule`), one pass over all timers per iteration.
fn reschedule(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer/reschedule");
    for n in SIZES {
        let ds = deadlines(n);
        let (mut w, ids) = filled(&ds);
        let mut now = Instant::ZERO;
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                now += Duration::from_secs(1);
                for &id in &ids {
                    let r = w.reschedule(id, now + Duration::from_micros(3_600_000));
                    black_box(r.is_ok());
                }
            })
        });
        assert_eq!(w.len(), n);
    }
    g.finish();
}

criterion_group!(benches, arm, cancel, advance, rearm, reschedule);
criterion_main!(benches);
