//! Transmit cost per advert in the kernel, by transmit mode (issue 10, part 2). Not a
//! criterion benchmark and not a timed test: a measurement tool that prints numbers.
//!
//! It creates two network namespaces of its own (unique names) joined by a veth pair, sends
//! `--frames` prebuilt VRRP advert frames in batches of each `--batch` size through each
//! transmit mode from the first namespace, and prints per frame the CPU time of the sending
//! thread (`CLOCK_THREAD_CPUTIME_ID`: on veth this includes the receiver's work, which runs
//! in the sender's context) and the wall time. Modes:
//!
//! * `packet`: the daemon's AF_PACKET socket, one `sendmmsg` per batch (`TxSocket`);
//! * `xdp`: `vrrp_demux`'s transmit branch with `BPF_PROG_TEST_RUN` and live frames, one
//!   call per 64 frames (`XdpTx`), the program attached nowhere in driver mode: each call
//!   with more than one frame adds it to the kernel's XDP dispatcher and removes it, waiting
//!   for RCU grace periods (wall time);
//! * `xdp-att`: the same with `vrrp_demux` attached in driver mode to the sending interface,
//!   as the daemon runs it (the dispatcher keeps it).
//!
//! Receivers: `xdp-peer` (rvrrpd's `vrrp_demux` attached in native mode to the peer, no
//! groups configured: every advert is counted as an unknown VRID and dropped in XDP, the
//! cheapest receive) and `plain-peer` (no XDP program: the stack receives the frames; there
//! the `xdp` mode's frames are dropped by veth, which the tool reports as not exact).
//! The namespaces are removed on exit, also after a panic.
//!
//! ```text
//! cargo xtask build-ebpf --release
//! cargo bench -p rvrrpd --bench txcost -- --frames 200000 --batch 1,16,64
//! cargo xtask txbench -- --frames 200000      # the same, building the object first
//! ```
//! Run it on a quiet machine for figures; `--frames 2000` is a quick correctness run.
//! Without `--bench` (as `cargo test --all-targets` runs it) it makes a smoke run of 128
//! frames in batches of 16.
#![cfg(target_os = "linux")]

use std::sync::Arc;
use std::time::Instant;

use rvrrpd::auth::AuthKey;
use rvrrpd::net::netns;
use rvrrpd::net::tx::TxSocket;
use rvrrpd::net::xdp::{Counter, FastPath, FastPathConfig, XdpTx};
use rvrrpd::wire::{advert_frame, V3Checksum, VrrpRepr};
use rvrrpd_lab::VethPair;

// The CPU clock only: the criterion measurement beside it is for the criterion benches.
#[allow(dead_code)]
#[path = "support/cpu_time.rs"]
mod cpu_time;
use cpu_time::thread_cpu;

struct Args {
    frames: usize,
    batches: Vec<usize>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        frames: 20_000,
        batches: vec![1, 16, 64],
    };
    // `cargo test --all-targets` runs bench binaries without `--bench`: a smoke run then.
    if !std::env::args().any(|a| a == "--bench") {
        a.frames = 128;
        a.batches = vec![16];
    }
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--frames" => {
                a.frames = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n: &usize| n > 0)
                    .ok_or("--frames wants a positive number")?;
            }
            "--batch" => {
                a.batches = it
                    .next()
                    .ok_or("--batch wants a list like 1,16,64")?
                    .split(',')
                    .map(|s| s.parse().ok().filter(|&n: &usize| n > 0))
                    .collect::<Option<Vec<usize>>>()
                    .ok_or("--batch wants positive numbers like 1,16,64")?;
            }
            // What cargo bench passes to every bench binary.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// A VRRPv2 advert for `vrid` (one address, no authentication): 60 bytes.
fn advert(vrid: u8) -> Vec<u8> {
    let key = AuthKey::none();
    let repr = VrrpRepr::v2(
        vrid,
        100,
        1,
        vec!["192.0.2.100".parse().expect("address")],
        &key,
    );
    advert_frame(
        &repr,
        "192.0.2.1".parse().expect("address"),
        V3Checksum::default(),
        &key,
    )
    .expect("advert frame")
}

/// One measurement: (CPU ns per frame, wall ns per frame).
/// One row of the XDP modes: `frames` sent through `xdp` on `ifindex`, `batch` per call,
/// with the first error (if any) as a note.
fn xdp_row(
    mode: &str,
    xdp: &XdpTx,
    ifindex: u32,
    frames: &[&[u8]],
    total: usize,
    batch: usize,
) -> String {
    let staged: Vec<(u32, &[u8])> = frames.iter().map(|r| (ifindex, *r)).collect();
    let mut err = None;
    let (c, w) = measure(total, batch, |n| {
        if let Err(e) = xdp.send(0, &staged[..n]) {
            err.get_or_insert(e.to_string());
        }
    });
    let note = err.unwrap_or_default();
    format!("{mode}{batch:>6} {c:>12.0} {w:>12.0}  {note}")
}

fn measure(frames: usize, batch: usize, mut send: impl FnMut(usize)) -> (f64, f64) {
    // Warm up (page pools, caches, the first syscall's lazy set-up).
    send(batch.min(frames));
    let (c0, w0) = (thread_cpu(), Instant::now());
    let mut left = frames;
    while left > 0 {
        let n = batch.min(left);
        send(n);
        left -= n;
    }
    let (cpu, wall) = (thread_cpu() - c0, w0.elapsed());
    (
        cpu.as_nanos() as f64 / frames as f64,
        wall.as_nanos() as f64 / frames as f64,
    )
}

fn run() -> Result<(), String> {
    let args = args()?;
    let object = FastPath::find_object()
        .map_err(|e| format!("{e} (build it with cargo xtask build-ebpf --release)"))?;
    let pair = VethPair::new("tx").map_err(|e| format!("veth pair: {e:#}"))?;
    let frames: Arc<Vec<Vec<u8>>> = Arc::new((1..=64).map(advert).collect());
    println!(
        "txcost: {} frames of {} bytes per mode and batch size; CPU = sending thread's CPU \
         time (includes the veth receiver's work), wall = elapsed",
        args.frames,
        frames[0].len()
    );
    println!(
        "{:<11} {:<7} {:>6} {:>12} {:>12}  note",
        "receiver", "mode", "batch", "cpu ns/frm", "wall ns/frm"
    );
    for receiver in ["xdp-peer", "plain-peer"] {
        // The receiver: rvrrpd's program with no groups (drops every advert in XDP).
        let rx = if receiver == "xdp-peer" {
            let obj = object.clone();
            Some(
                netns::run_in(&pair.b, move || -> Result<FastPath, String> {
                    let mut fp = FastPath::load(&FastPathConfig {
                        object: Some(obj),
                        ..FastPathConfig::new(1)
                    })
                    .map_err(|e| e.to_string())?;
                    fp.attach(VethPair::B_DEV).map_err(|e| e.to_string())?;
                    Ok(fp)
                })
                .map_err(|e| e.to_string())??,
            )
        } else {
            None
        };
        let obj = object.clone();
        let f = frames.clone();
        let batches = args.batches.clone();
        let total = args.frames;
        let rows = netns::run_in(&pair.a, move || -> Result<Vec<String>, String> {
            let mut fp = FastPath::load(&FastPathConfig {
                object: Some(obj),
                ..FastPathConfig::new(1)
            })
            .map_err(|e| e.to_string())?;
            let xdp: Arc<XdpTx> = fp.xdp_tx().map_err(|e| e.to_string())?;
            let sock = TxSocket::open(VethPair::A_DEV).map_err(|e| e.to_string())?;
            let ifindex = sock.ifindex();
            let mut rows = Vec::new();
            for &batch in &batches {
                let refs: Vec<&[u8]> = (0..batch).map(|i| f[i % f.len()].as_slice()).collect();
                let (c, w) = measure(total, batch, |n| {
                    let _ = sock.send_batch(&refs[..n]);
                });
                rows.push(format!("packet {batch:>6} {c:>12.0} {w:>12.0}"));
                rows.push(xdp_row("xdp    ", &xdp, ifindex, &refs, total, batch));
            }
            fp.attach_with(VethPair::A_DEV, rvrrpd::net::xdp::ModePolicy::Driver)
                .map_err(|e| e.to_string())?;
            for &batch in &batches {
                let refs: Vec<&[u8]> = (0..batch).map(|i| f[i % f.len()].as_slice()).collect();
                rows.push(xdp_row("xdp-att", &xdp, ifindex, &refs, total, batch));
            }
            Ok(rows)
        })
        .map_err(|e| e.to_string())??;
        let seen = rx
            .as_ref()
            .and_then(|fp| fp.counters().ok())
            .map(|c| c.get(Counter::UnknownVrid));
        for r in rows {
            let note = match (receiver, r.starts_with("xdp")) {
                ("plain-peer", true) => "  (dropped by veth: peer has no XDP/NAPI; not exact)",
                _ => "",
            };
            println!("{receiver:<11} {r}{note}");
        }
        if let Some(n) = seen {
            // Every mode sends `frames` plus one warm-up batch per batch size.
            let sent: usize = args
                .batches
                .iter()
                .map(|&b| 3 * (args.frames + b.min(args.frames)))
                .sum();
            let verdict = if n == sent as u64 {
                "all arrived"
            } else {
                "SOME LOST"
            };
            println!(
                "{receiver:<11} (receiver's XDP program saw {n} of {sent} adverts: {verdict})"
            );
        }
        drop(rx);
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("txcost: {e}");
        std::process::exit(1);
    }
}
