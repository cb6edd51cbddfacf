//! The eBPF fast path end to end: `vrrp_demux` attached to a veth inside a network namespace,
//! adverts injected from the peer namespace over AF_PACKET; the socket-filter variant on a raw
//! socket; and `BPF_PROG_TEST_RUN` unit checks of the parser.
//!
//! Needs root. The eBPF object is built by the same code as `cargo xtask build-ebpf --release`
//! (this file includes `xtask/src/ebpf.rs`); if it cannot be built, every test FAILS with the
//! reason: the fast path is never silently skipped.
#![cfg(target_os = "linux")]

mod xdp_support;

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsFd;
use std::time::Duration;

use rvrrpd::net::netns;
use rvrrpd::net::xdp::{
    AttachMode, Counter, Counters, DemuxKey, FastPath, FastPathConfig, FAMILY_V4, FAMILY_V6,
    FLAG_PASS, MAX_VRRP_LEN,
};
use rvrrpd_lab::{cmd, kernel, wait_until, Injector, VethPair};
use xdp_support::*;

const WAIT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(10);

/// Two namespaces joined by a veth pair (`xa` in `a`, `xb` in `b`), addressed; removed on drop.
struct Pair(VethPair);

impl std::ops::Deref for Pair {
    type Target = VethPair;

    fn deref(&self) -> &VethPair {
        &self.0
    }
}

impl Pair {
    fn new() -> Pair {
        let pair = Pair(VethPair::new("x").expect("veth pair"));
        for (ns, dev, v4, v6) in [
            (&pair.a, "xa", "192.0.2.1/24", "2001:db8::1/64"),
            (&pair.b, "xb", "192.0.2.2/24", "2001:db8::2/64"),
        ] {
            cmd::ip(ns, &["addr", "add", v4, "dev", dev]).expect("ipv4 address");
            cmd::ip(ns, &["addr", "add", v6, "dev", dev, "nodad"]).expect("ipv6 address");
            cmd::ip(ns, &["link", "set", "lo", "up"]).expect("lo up");
        }
        pair
    }

    /// ifindex of `xa` inside namespace `a`.
    fn ifindex_a(&self) -> u32 {
        netns::run_in(&self.a, || rvrrpd::net::iface::ifindex("xa"))
            .expect("enter ns")
            .expect("ifindex of xa")
    }

    /// Loads the fast path and attaches it to `xa`, inside namespace `a`.
    fn attach_a(&self, workers: u32) -> (FastPath, AttachMode) {
        let obj = object();
        netns::run_in(&self.a, move || {
            let mut fp = FastPath::load(&FastPathConfig {
                object: Some(obj),
                ..FastPathConfig::new(workers)
            })
            .unwrap_or_else(|e| panic!("loading the eBPF object: {e}"));
            let mode = fp
                .attach("xa")
                .unwrap_or_else(|e| panic!("attaching to xa: {e}"));
            (fp, mode)
        })
        .expect("enter ns")
    }

    fn injector(&self) -> Injector {
        Injector::open(&self.b, "xb").expect("AF_PACKET injector in b")
    }
}

#[test]
fn xdp_delivers_each_group_to_its_worker_ring() {
    let pair = Pair::new();
    let (mut fp, mode) = pair.attach_a(2);
    eprintln!("vrrp_demux attached to xa in {mode}");
    let ifx = pair.ifindex_a();
    fp.set_group(DemuxKey::new(ifx, 10, FAMILY_V4), 1, 0)
        .expect("set_group 10/v4");
    fp.set_group(DemuxKey::new(ifx, 20, FAMILY_V4), 0, 0)
        .expect("set_group 20/v4");
    fp.set_group(DemuxKey::new(ifx, 10, FAMILY_V6), 0, 0)
        .expect("set_group 10/v6");

    let inj = pair.injector();
    let f10 = v2_frame(10);
    let f20 = v2_frame(20);
    let f10v6 = v3_frame_v6(10);
    for _ in 0..3 {
        inj.send(&f10).expect("send vrid 10");
    }
    for _ in 0..2 {
        inj.send(&f20).expect("send vrid 20");
    }
    inj.send(&f10v6).expect("send vrid 10 v6");

    let (mut w0, mut w1) = (Vec::new(), Vec::new());
    let waited = wait_until("5 events in ring 0+1", WAIT, POLL, || {
        w0.extend(drain_all(&mut fp, 0));
        w1.extend(drain_all(&mut fp, 1));
        w0.len() >= 3 && w1.len() >= 3
    });
    assert!(
        waited.is_ok(),
        "expected 3 events for worker 1 and 3 for worker 0, got {} / {}; counters: {}",
        w1.len(),
        w0.len(),
        counters(&fp)
    );
    assert_eq!(w1.len(), 3, "worker 1 gets exactly the vrid-10/v4 adverts");
    for ev in &w1 {
        assert_eq!(ev.ifindex, ifx);
        assert_eq!(ev.family, FAMILY_V4);
        assert_eq!(ev.ttl, 255);
        assert_eq!(ev.src_addr(), Some(IpAddr::V4(SRC4)));
        assert_eq!(ev.vrid(), 10);
        assert_eq!(ev.vrrp_bytes(), &f10[34..], "VRRP bytes copied verbatim");
    }
    let v4_20: Vec<_> = w0.iter().filter(|e| e.family == FAMILY_V4).collect();
    let v6_10: Vec<_> = w0.iter().filter(|e| e.family == FAMILY_V6).collect();
    assert_eq!(v4_20.len(), 2);
    assert!(v4_20
        .iter()
        .all(|e| e.vrid() == 20 && e.vrrp_bytes() == &f20[34..]));
    assert_eq!(v6_10.len(), 1);
    assert_eq!(v6_10[0].src_addr(), Some(IpAddr::V6(SRC6)));
    assert_eq!(v6_10[0].vrrp_bytes(), &f10v6[54..]);
    let c = counters(&fp);
    assert_eq!(c.get(Counter::Delivered), 6, "{c}");
    assert_eq!(c.get(Counter::RingbufFull), 0, "{c}");

    // Removing the group turns its adverts into unknown_vrid drops.
    fp.remove_group(DemuxKey::new(ifx, 10, FAMILY_V4))
        .expect("remove_group");
    inj.send(&f10).expect("send vrid 10");
    wait_until("unknown_vrid after remove_group", WAIT, POLL, || {
        counters(&fp).get(Counter::UnknownVrid) >= 1
    })
    .unwrap_or_else(|e| panic!("{e}; counters: {}", counters(&fp)));
    assert!(drain_all(&mut fp, 1).is_empty());
}

#[test]
fn xdp_drops_and_counts_unknown_vrid_and_malformed() {
    let pair = Pair::new();
    let (mut fp, _) = pair.attach_a(1);
    let ifx = pair.ifindex_a();
    fp.set_group(DemuxKey::new(ifx, 30, FAMILY_V4), 0, 0)
        .expect("set_group");
    let inj = pair.injector();
    inj.send(&v2_frame(99)).expect("send unknown vrid");
    inj.send(&v2_frame(98)).expect("send unknown vrid");
    inj.send(&with_version(v2_frame(30), 4))
        .expect("send bad version");
    inj.send(&with_ttl(v2_frame(30), 254))
        .expect("send ttl 254");
    wait_until("drop counters", WAIT, POLL, || {
        let c = counters(&fp);
        c.get(Counter::UnknownVrid) >= 2
            && c.get(Counter::Malformed) >= 1
            && c.get(Counter::BadTtl) >= 1
    })
    .unwrap_or_else(|e| panic!("{e}; counters: {}", counters(&fp)));
    let c = counters(&fp);
    assert_eq!(c.get(Counter::UnknownVrid), 2, "{c}");
    assert_eq!(c.get(Counter::Malformed), 1, "{c}");
    assert_eq!(c.get(Counter::BadTtl), 1, "{c}");
    assert_eq!(c.get(Counter::Delivered), 0, "{c}");
    assert!(drain_all(&mut fp, 0).is_empty(), "nothing reaches the ring");
}

#[test]
fn xdp_passes_ordinary_traffic() {
    let pair = Pair::new();
    let (fp, mode) = pair.attach_a(1);
    assert_eq!(fp.attached().count(), 1);
    eprintln!("attached in {mode}");
    for target in [
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        IpAddr::V6("2001:db8::1".parse().unwrap()),
    ] {
        let st = kernel::ping(&pair.b, target, 3, Duration::from_secs(1)).expect("ping");
        assert_eq!(st.received, 3, "ping {target} through XDP: {st:?}");
    }
    let c = counters(&fp);
    assert_eq!(
        c,
        Counters::default(),
        "non-VRRP traffic touches no counter: {c}"
    );
    drop(fp);
    // Detached on drop: no XDP program left on xa.
    let out = cmd::ip(&pair.a, &["link", "show", "xa"]).expect("ip link show");
    assert!(!out.contains("xdp"), "XDP still attached after drop: {out}");
}

#[test]
fn socket_filter_keeps_only_configured_groups() {
    use socket2::{Domain, Protocol, Socket, Type};
    let pair = Pair::new();
    let mut fp = load(1);
    let ifx = pair.ifindex_a();
    fp.set_group(DemuxKey::new(ifx, 7, FAMILY_V4), 0, 0)
        .expect("set_group");
    let sock = netns::run_in(&pair.a, || {
        Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112)))
    })
    .expect("enter ns")
    .expect("raw socket");
    fp.attach_socket_filter(sock.as_fd())
        .unwrap_or_else(|e| panic!("attach socket filter: {e}"));
    sock.join_multicast_v4(&Ipv4Addr::new(224, 0, 0, 18), &Ipv4Addr::new(192, 0, 2, 1))
        .expect("IP_ADD_MEMBERSHIP");
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");

    let inj = pair.injector();
    inj.send(&v2_frame(8)).expect("send unconfigured");
    inj.send(&with_ttl(v2_frame(7), 254)).expect("send ttl 254");
    inj.send(&v2_frame(7)).expect("send configured");
    inj.send(&v2_frame(8)).expect("send unconfigured");

    let mut vrids = Vec::new();
    let mut buf = [0u8; 2048];
    for _ in 0..10 {
        match std::io::Read::read(&mut &sock, &mut buf) {
            Ok(n) if n >= 22 => {
                let ihl = usize::from(buf[0] & 0x0f) * 4;
                vrids.push(buf[ihl + 1]);
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert_eq!(
        vrids,
        vec![7],
        "only the valid advert of the configured group"
    );
    let c = counters(&fp);
    assert_eq!(c.get(Counter::UnknownVrid), 2, "{c}");
    assert_eq!(c.get(Counter::BadTtl), 1, "{c}");
}

/// Parser unit checks with BPF_PROG_TEST_RUN (no NIC; ifindex 1 = loopback of the test's
/// own network namespace).
#[test]
fn test_run_parses_every_case() {
    let ns = TestNs::new("tr");
    object();
    ns.run(move || {
        let mut fp = load(2);
        let lo = 1;
        fp.set_group(DemuxKey::new(lo, 5, FAMILY_V4), 0, 0)
            .expect("set");
        fp.set_group(DemuxKey::new(lo, 5, FAMILY_V6), 1, 0)
            .expect("set");
        fp.set_group(DemuxKey::new(lo, 9, FAMILY_V4), 1, FLAG_PASS)
            .expect("set");
        let mut run = |f: &[u8]| {
            fp.test_run(f, lo)
                .unwrap_or_else(|e| panic!("test_run: {e}"))
        };

        assert_eq!(run(&v2_frame(5)), XDP_DROP, "configured: consumed");
        assert_eq!(run(&arp_frame()), XDP_PASS, "ARP passes");
        assert_eq!(run(&v2_frame(6)), XDP_DROP, "unknown vrid");
        assert_eq!(run(&with_ttl(v2_frame(5), 254)), XDP_DROP, "ttl 254");
        assert_eq!(run(&with_version(v2_frame(5), 4)), XDP_DROP, "version 4");
        assert_eq!(run(&with_version(v2_frame(5), 2)), XDP_DROP, "version 2 ok");
        assert_eq!(
            run(&with_vlan(v2_frame(5), 0)),
            XDP_DROP,
            "802.1Q priority tag"
        );
        assert_eq!(
            run(&with_vlan(v2_frame(5), 10)),
            XDP_PASS,
            "VLAN 10: for the VLAN device, not this interface's group"
        );
        assert_eq!(
            run(&with_hop_by_hop(v3_frame_v6(5))),
            XDP_DROP,
            "IPv6 + HBH"
        );
        let short = v2_frame(5);
        assert_eq!(
            run(&short[..short.len() - 4]),
            XDP_DROP,
            "IP length > frame"
        );
        assert_eq!(run(&v2_frame(9)), XDP_PASS, "FLAG_PASS group");
        let big = v3_frame_v4(5, 100);
        assert_eq!(run(&big), XDP_DROP, "oversized advert still delivered");
        // 8 + 4 × 20 = 88 bytes: longer than a small record, so a full one, not truncated.
        let mid = v3_frame_v4(5, 20);
        assert_eq!(run(&mid), XDP_DROP, "mid-size advert delivered");
        let mut udp = v2_frame(5);
        udp[14 + 9] = 17;
        assert_eq!(run(&udp), XDP_PASS, "UDP passes");

        let c = fp.counters().expect("counters");
        assert_eq!(c.get(Counter::UnknownVrid), 1, "{c}");
        assert_eq!(c.get(Counter::BadTtl), 1, "{c}");
        assert_eq!(c.get(Counter::Malformed), 2, "version 4 + short: {c}");
        assert_eq!(c.get(Counter::Truncated), 1, "{c}");
        assert_eq!(c.get(Counter::Passed), 1, "{c}");
        assert_eq!(c.get(Counter::Delivered), 7, "{c}");

        let mut w0 = Vec::new();
        fp.drain(0, 64, |e| w0.push(*e)).expect("drain 0");
        let mut w1 = Vec::new();
        fp.drain(1, 64, |e| w1.push(*e)).expect("drain 1");
        assert_eq!(
            w0.len(),
            5,
            "v2, v2 (version 2), priority-tagged, oversized, mid-size"
        );
        assert_eq!(w1.len(), 2, "IPv6 HBH + FLAG_PASS group");
        assert_eq!(w0[0].vrrp_bytes(), &v2_frame(5)[34..]);
        assert_eq!(
            w0[2].vrrp_bytes(),
            &v2_frame(5)[34..],
            "priority-tag offset handled"
        );
        let ev = &w0[3];
        assert!(ev.is_truncated());
        assert_eq!(usize::from(ev.len), 8 + 4 * 100);
        assert_eq!(ev.vrrp_bytes(), &big[34..34 + MAX_VRRP_LEN]);
        let ev = &w0[4];
        assert!(!ev.is_truncated());
        assert_eq!(usize::from(ev.len), 8 + 4 * 20);
        assert_eq!(ev.vrrp_bytes(), &mid[34..], "full record, every byte");
        assert!(ev.rx_ns > 0, "stamped by the program");
        assert_eq!(w1[0].family, FAMILY_V6);
        assert_eq!(w1[0].vrrp_bytes(), &v3_frame_v6(5)[54..], "HBH skipped");
    });
}

#[test]
fn probe_reports_a_reason_for_a_missing_interface() {
    let cfg = FastPathConfig {
        object: Some(object()),
        ..FastPathConfig::new(1)
    };
    let err = FastPath::probe(&cfg, &["rvrrpd-nonexistent0"]).expect_err("no such interface");
    let msg = err.to_string();
    assert!(msg.contains("rvrrpd-nonexistent0"), "{msg}");
}

/// Unicast groups (`FLAG_UNICAST`): both programs admit only the group's peers, each with at
/// least its TTL; replacing the peers drops the old ones.
#[test]
fn test_run_admits_only_unicast_peers() {
    use rvrrpd::net::xdp::FLAG_UNICAST;
    let ns = TestNs::new("up");
    object();
    ns.run(move || {
        let mut fp = load(1);
        let lo = 1;
        let src4 = IpAddr::V4(SRC4);
        let other = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 77));
        let groups = [
            (5, FAMILY_V4, vec![src4], 255),
            (6, FAMILY_V4, vec![other], 255),
            (7, FAMILY_V6, vec![IpAddr::V6(SRC6)], 255),
            (8, FAMILY_V4, vec![other, src4], 250),
        ];
        for (vrid, family, peers, min_ttl) in &groups {
            let key = DemuxKey::new(lo, *vrid, *family);
            fp.set_peers(key, peers, *min_ttl).expect("set_peers");
            fp.set_group(key, 0, FLAG_UNICAST).expect("set_group");
        }
        let cases: [(&str, Vec<u8>, bool); 7] = [
            ("peer", v2_frame(5), true),
            ("not a peer", v2_frame(6), false),
            ("peer, TTL 254 < 255", with_ttl(v2_frame(5), 254), false),
            ("peer, TTL 252 ≥ 250", with_ttl(v2_frame(8), 252), true),
            ("peer, TTL 249 < 250", with_ttl(v2_frame(8), 249), false),
            ("IPv6 peer", v3_frame_v6(7), true),
            (
                "malformed and TTL 1",
                with_ttl(with_version(v2_frame(5), 4), 1),
                false,
            ),
        ];
        for (what, frame, admitted) in &cases {
            let xdp = fp.test_run(frame, lo).expect("test_run");
            assert_eq!(xdp, XDP_DROP, "{what}: consumed or dropped");
            let kept = fp
                .test_run_socket_filter(frame, lo)
                .expect("test_run_socket_filter");
            assert_eq!(kept > 0, *admitted, "{what}: socket filter");
        }
        let delivered: Vec<u8> = drain_all(&mut fp, 0).iter().map(|e| e.vrid()).collect();
        assert_eq!(delivered, [5, 8, 7], "the admitted adverts reach the ring");
        let c = counters(&fp);
        // Each refused frame went through both programs.
        assert_eq!(c.get(Counter::UnknownPeer), 2, "{c}");
        assert_eq!(c.get(Counter::BadTtl), 6, "{c}");
        assert_eq!(
            c.get(Counter::Malformed),
            0,
            "bad TTL is counted first: {c}"
        );

        // Replacing group 5's peers: the old one is gone, the new one admitted.
        let key = DemuxKey::new(lo, 5, FAMILY_V4);
        fp.set_peers(key, &[other], 255).expect("replace peers");
        assert_eq!(fp.peers(key).expect("peers"), [(other, 255)]);
        assert_eq!(fp.test_run_socket_filter(&v2_frame(5), lo).expect("run"), 0);
        assert_eq!(counters(&fp).get(Counter::UnknownPeer), 3);
        // Back to multicast: no peers, TTL 255 from anyone.
        fp.set_group(key, 0, 0).expect("multicast");
        fp.set_peers(key, &[], 255).expect("clear peers");
        assert!(fp.peers(key).expect("peers").is_empty());
        assert!(fp.test_run_socket_filter(&v2_frame(5), lo).expect("run") > 0);
    });
}

/// The demux blocks: an interface's groups are found through its block (an array by VRID and
/// family) while blocks last, through the hash of every group otherwise; an interface whose
/// first group came when none was left stays on the hash until it has no group; removing a
/// group unroutes it on either path.
#[test]
fn test_run_routes_through_demux_blocks_and_the_hash() {
    use rvrrpd::net::xdp::MAX_DEMUX_BLOCKS;
    let ns = TestNs::new("db");
    object();
    ns.run(move || {
        let mut fp = load(2);
        let lo = 1;
        let delivered = |fp: &mut FastPath, frame: &[u8], worker: u32| -> usize {
            assert_eq!(fp.test_run(frame, lo).expect("test_run"), XDP_DROP);
            drain_all(fp, worker).len()
        };
        // With a block: routed to its worker; another VRID of the interface is unknown.
        fp.set_group(DemuxKey::new(lo, 5, FAMILY_V4), 1, 0)
            .expect("set");
        fp.set_group(DemuxKey::new(lo, 5, FAMILY_V6), 0, 0)
            .expect("set");
        assert_eq!(fp.demux_blocks(), 1);
        assert_eq!(
            delivered(&mut fp, &v2_frame(5), 1),
            1,
            "VRID 5 via its block"
        );
        assert_eq!(delivered(&mut fp, &v3_frame_v6(5), 0), 1, "IPv6 VRID 5");
        assert_eq!(delivered(&mut fp, &v2_frame(6), 1), 0, "VRID 6: no group");
        // Updated in place (another worker): the block follows.
        fp.set_group(DemuxKey::new(lo, 5, FAMILY_V4), 0, 0)
            .expect("update");
        assert_eq!(delivered(&mut fp, &v2_frame(5), 0), 1, "moved to worker 0");
        // Removed: unknown on the block path; the last group frees the block.
        fp.remove_group(DemuxKey::new(lo, 5, FAMILY_V4))
            .expect("remove");
        assert_eq!(delivered(&mut fp, &v2_frame(5), 0), 0, "removed");
        fp.remove_group(DemuxKey::new(lo, 5, FAMILY_V6))
            .expect("remove");
        assert_eq!(fp.demux_blocks(), 0);

        // Every block taken by other interfaces: loopback's groups go through the hash.
        for i in 0..MAX_DEMUX_BLOCKS {
            fp.set_group(DemuxKey::new(100_000 + i, 1, FAMILY_V4), 0, 0)
                .expect("set");
        }
        assert_eq!(fp.demux_blocks(), MAX_DEMUX_BLOCKS as usize);
        fp.set_group(DemuxKey::new(lo, 7, FAMILY_V4), 1, 0)
            .expect("set");
        assert_eq!(
            delivered(&mut fp, &v2_frame(7), 1),
            1,
            "VRID 7 via the hash"
        );
        // A block comes free: loopback keeps to the hash (its block would lack VRID 7).
        fp.remove_group(DemuxKey::new(100_000, 1, FAMILY_V4))
            .expect("remove");
        fp.set_group(DemuxKey::new(lo, 8, FAMILY_V4), 1, 0)
            .expect("set");
        assert_eq!(fp.demux_blocks(), MAX_DEMUX_BLOCKS as usize - 1);
        assert_eq!(
            delivered(&mut fp, &v2_frame(7), 1),
            1,
            "VRID 7 still routed"
        );
        assert_eq!(
            delivered(&mut fp, &v2_frame(8), 1),
            1,
            "VRID 8 via the hash"
        );
        fp.remove_group(DemuxKey::new(lo, 7, FAMILY_V4))
            .expect("remove");
        assert_eq!(
            delivered(&mut fp, &v2_frame(7), 1),
            0,
            "removed from the hash"
        );
        // Once loopback has no group, its next first group takes the free block.
        fp.remove_group(DemuxKey::new(lo, 8, FAMILY_V4))
            .expect("remove");
        fp.set_group(DemuxKey::new(lo, 9, FAMILY_V4), 0, 0)
            .expect("set");
        assert_eq!(fp.demux_blocks(), MAX_DEMUX_BLOCKS as usize);
        assert_eq!(
            delivered(&mut fp, &v2_frame(9), 0),
            1,
            "VRID 9 via its block"
        );
        assert_eq!(delivered(&mut fp, &v2_frame(8), 0), 0, "VRID 8 gone");
        let c = counters(&fp);
        assert_eq!(c.get(Counter::UnknownVrid), 4, "{c}");
    });
}
