//! The XDP transmit path (`vrrp_demux` run with `BPF_PROG_TEST_RUN`, live frames and a seed) and its
//! fallback, the AF_PACKET socket, end to end: frames sent from namespace `a` over a veth
//! pair are captured in namespace `b` and compared byte for byte.
//!
//! * peer with an XDP program (`vrrp_demux`, the groups passing): every frame arrives, in
//!   order, byte-exact, also in batches larger than a stage;
//! * peer without XDP (and without GRO): the kernel drops `ndo_xdp_xmit` frames silently;
//!   the test pins that down (it is why the path needs a per-interface check and a
//!   fallback) and checks the AF_PACKET fallback delivers the same frames byte-exact;
//! * frames the stage cannot hold are refused before anything is sent.
//!
//! Needs root; the eBPF object is built like `cargo xtask build-ebpf --release`, and every
//! test FAILS if it cannot be.
#![cfg(target_os = "linux")]

mod xdp_support;

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rvrrpd::net::netns;
use rvrrpd::net::sniff::Sniffer;
use rvrrpd::net::tx::TxSocket;
use rvrrpd::net::xdp::{
    DemuxKey, FastPath, FastPathConfig, TxError, XdpTx, FAMILY_V4, FAMILY_V6, FLAG_PASS,
};
use rvrrpd::net::xdp_features::{xdp_features, NDO_XMIT};
use rvrrpd_lab::VethPair;
use xdp_support::*;

/// How long the receiver waits for the last expected frame.
const WAIT: Duration = Duration::from_secs(3);
/// How long the receiver listens for frames that must not come.
const QUIET: Duration = Duration::from_millis(500);

/// Namespaces `a` (sender, `xa`) and `b` (receiver, `xb`) joined by a veth pair; removed on drop.
struct Pair(VethPair);

impl std::ops::Deref for Pair {
    type Target = VethPair;

    fn deref(&self) -> &VethPair {
        &self.0
    }
}

impl Pair {
    fn new() -> Pair {
        Pair(VethPair::new("t").expect("veth pair"))
    }

    /// The sender's fast path, transmit program and `xa`'s ifindex, loaded in `a`.
    fn sender(&self) -> (FastPath, Arc<XdpTx>, u32) {
        let obj = object();
        netns::run_in(&self.a, move || {
            let mut fp = FastPath::load(&FastPathConfig {
                object: Some(obj),
                ..FastPathConfig::new(1)
            })
            .unwrap_or_else(|e| panic!("loading the eBPF object: {e}"));
            let tx = fp
                .xdp_tx()
                .unwrap_or_else(|e| panic!("loading the transmit path: {e}"));
            let ifindex = rvrrpd::net::iface::ifindex("xa").expect("ifindex of xa");
            (fp, tx, ifindex)
        })
        .expect("enter ns a")
    }

    /// Attaches `vrrp_demux` to `xb` with every group of `frames` passing (so the stack and
    /// the capture see them); keep the result alive while receiving.
    fn xdp_receiver(&self, frames: &[Vec<u8>]) -> FastPath {
        let obj = object();
        let keys: Vec<(u8, u8)> = frames.iter().map(|f| vrid_family(f)).collect();
        netns::run_in(&self.b, move || {
            let mut fp = FastPath::load(&FastPathConfig {
                object: Some(obj),
                ..FastPathConfig::new(1)
            })
            .unwrap_or_else(|e| panic!("loading the eBPF object in b: {e}"));
            fp.attach("xb")
                .unwrap_or_else(|e| panic!("attaching to xb: {e}"));
            let ifindex = rvrrpd::net::iface::ifindex("xb").expect("ifindex of xb");
            for (vrid, family) in keys {
                fp.set_group(DemuxKey::new(ifindex, vrid, family), 0, FLAG_PASS)
                    .expect("set_group");
            }
            fp
        })
        .expect("enter ns b")
    }

    /// A capture of VRRP frames on `xb`, with a receive buffer for a few hundred frames:
    /// frames that came through `ndo_xdp_xmit` are skbs of a whole page each (truesize
    /// 4 KiB), so the default buffer holds only ~50.
    fn capture(&self) -> Sniffer {
        let cap = netns::run_in(&self.b, || Sniffer::open("xb"))
            .expect("enter ns b")
            .expect("sniffer on xb");
        let bytes: libc::c_int = 8 << 20;
        // SAFETY: a valid socket descriptor and a pointer to a c_int of the size passed.
        let r = unsafe {
            libc::setsockopt(
                cap.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&bytes as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0, "SO_RCVBUFFORCE: {}", std::io::Error::last_os_error());
        cap
    }
}

/// Sends `frames` on `ifindex` through stage 0 from inside namespace `ns` (the run redirects
/// to interfaces of the calling thread's namespace).
fn xdp_send(ns: &str, tx: &Arc<XdpTx>, ifindex: u32, frames: &[Vec<u8>]) -> Result<usize, TxError> {
    let tx = tx.clone();
    let frames = frames.to_vec();
    netns::run_in(ns, move || {
        let batch: Vec<(u32, &[u8])> = frames.iter().map(|f| (ifindex, f.as_slice())).collect();
        tx.send(0, &batch)
    })
    .expect("enter ns")
}

/// `xdp_features` of `ifindex` in `ns`.
fn features(ns: &str, ifindex: u32) -> u64 {
    netns::run_in(ns, move || xdp_features(ifindex))
        .expect("enter ns")
        .expect("xdp_features")
}

/// (VRID, family) of one of our test frames.
fn vrid_family(f: &[u8]) -> (u8, u8) {
    if f[12..14] == [0x86, 0xdd] {
        (f[14 + 40 + 1], FAMILY_V6)
    } else {
        (f[14 + 20 + 1], FAMILY_V4)
    }
}

/// `n` distinct adverts: VRRPv2 and VRRPv3 over IPv4 and IPv6, several lengths.
fn frames(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let vrid = (i % 250 + 1) as u8;
            match i % 3 {
                0 => v2_frame(vrid),
                1 => v3_frame_v4(vrid, (i % 5 + 1) as u8),
                _ => v3_frame_v6(vrid),
            }
        })
        .collect()
}

/// Receives VRRP frames on `cap` until `want` arrived or `limit` passed.
fn receive(cap: &mut Sniffer, want: usize, limit: Duration) -> Vec<Vec<u8>> {
    let end = Instant::now() + limit;
    let mut got = Vec::new();
    while got.len() < want {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() || !cap.wait_readable(left).expect("poll capture") {
            break;
        }
        while let Some(f) = cap.recv().expect("recv capture") {
            if !f.outgoing {
                got.push(f.frame.to_vec());
            }
        }
    }
    got
}

fn assert_exact(got: &[Vec<u8>], sent: &[Vec<u8>], what: &str) {
    if got.len() != sent.len() {
        let idx: Vec<Option<usize>> = got
            .iter()
            .map(|g| sent.iter().position(|s| s == g))
            .collect();
        eprintln!("{what}: received indices {idx:?}");
    }
    assert_eq!(got.len(), sent.len(), "{what}: frames received");
    for (i, (g, s)) in got.iter().zip(sent).enumerate() {
        assert_eq!(g, s, "{what}: frame {i} differs on the wire");
    }
}

#[test]
fn xdp_tx_is_byte_exact_to_a_peer_with_xdp() {
    let pair = Pair::new();
    // 150 frames: two full stages and a partial one, in one call.
    let sent = frames(150);
    let rx = pair.xdp_receiver(&sent);
    let mut cap = pair.capture();
    let (_fp, tx, ifindex) = pair.sender();
    // With XDP on the peer, veth reports that it accepts redirected frames.
    assert_ne!(
        features(&pair.a, ifindex) & NDO_XMIT,
        0,
        "xdp_features of xa"
    );
    let n = xdp_send(&pair.a, &tx, ifindex, &sent).expect("xdp send");
    assert_eq!(n, sent.len());
    let got = receive(&mut cap, sent.len(), WAIT);
    if got.len() != sent.len() {
        eprintln!("receiver counters: {}", rx.counters().expect("counters"));
    }
    assert_exact(&got, &sent, "XDP transmit, peer with XDP");
    // A second, smaller batch through the same stage: nothing of the first one leaks.
    let again = frames(7);
    xdp_send(&pair.a, &tx, ifindex, &again).expect("xdp send");
    let got = receive(&mut cap, again.len() + 1, QUIET);
    assert_exact(&got, &again, "XDP transmit, second batch");
}

#[test]
fn peer_without_xdp_drops_xdp_tx_and_packet_fallback_is_exact() {
    let pair = Pair::new();
    let sent = frames(20);
    let mut cap = pair.capture();
    let (_fp, tx, ifindex) = pair.sender();
    // veth says so: no XDP transmit while the peer cannot receive (what `auto` checks).
    assert_eq!(
        features(&pair.a, ifindex) & NDO_XMIT,
        0,
        "xdp_features of xa"
    );
    // The kernel takes the frames and drops them in veth (no NAPI on the peer): the call
    // succeeds, nothing arrives. If this ever changes, the start-up check can be relaxed.
    assert_eq!(
        xdp_send(&pair.a, &tx, ifindex, &sent).expect("xdp send"),
        sent.len()
    );
    let got = receive(&mut cap, 1, QUIET);
    assert!(
        got.is_empty(),
        "veth without XDP on the peer delivered {} ndo_xdp_xmit frames",
        got.len()
    );
    // The fallback: the same frames through the AF_PACKET socket arrive byte-exact.
    let sock = netns::run_in(&pair.a, || TxSocket::open("xa"))
        .expect("enter ns a")
        .expect("AF_PACKET socket on xa");
    let refs: Vec<&[u8]> = sent.iter().map(Vec::as_slice).collect();
    assert_eq!(sock.send_batch(&refs).expect("sendmmsg"), sent.len());
    let got = receive(&mut cap, sent.len(), WAIT);
    assert_exact(&got, &sent, "AF_PACKET fallback");
}

#[test]
fn xdp_tx_refuses_frames_the_stage_cannot_hold() {
    let pair = Pair::new();
    let mut cap = pair.capture();
    let (_fp, tx, ifindex) = pair.sender();
    let good = v2_frame(1);
    let long = vec![0u8; 400];
    let short = [0u8; 10];
    for (bad, len) in [(&long[..], 400), (&short[..], 10)] {
        match tx.send(0, &[(ifindex, &good), (ifindex, bad)]) {
            Err(TxError::FrameSize { index: 1, len: l }) => assert_eq!(l, len),
            other => panic!("a frame of {len} bytes: {other:?}"),
        }
    }
    match tx.send(99, &[(ifindex, &good)]) {
        Err(TxError::BadStage(99)) => {}
        other => panic!("stage 99: {other:?}"),
    }
    // Nothing was sent (the good frame of a refused batch stays too).
    assert!(receive(&mut cap, 1, QUIET).is_empty());
}

#[test]
fn transmit_branch_only_for_seeds_run_on_loopback() {
    use rvrrpd_common::tx::TxSeed;
    let ns = TestNs::new("txseed");
    let dev = ns.add_device("sd0");
    let obj = object();
    let (on_dev, on_lo, not_seed) = ns.run(move || {
        let mut fp = FastPath::load(&FastPathConfig {
            object: Some(obj),
            ..FastPathConfig::new(1)
        })
        .expect("load");
        let _tx = fp.xdp_tx().expect("transmit path");
        let seed = TxSeed::bytes(0);
        let mut other = seed;
        other[0] ^= 1;
        (
            fp.test_run(&seed, dev).expect("run on device"),
            fp.test_run(&seed, 1).expect("run on loopback"),
            fp.test_run(&other, 1).expect("run on loopback"),
        )
    });
    // A seed that arrives on a real interface is ordinary (non-IP) traffic: passed.
    assert_eq!(on_dev, XDP_PASS, "seed on a device");
    // On loopback it is a transmit run; with nothing staged the repetition is dropped.
    assert_eq!(on_lo, XDP_DROP, "seed on loopback, nothing staged");
    // Anything else on loopback is ordinary traffic.
    assert_eq!(not_seed, XDP_PASS, "not a seed");
}
