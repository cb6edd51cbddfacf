//! Integration tests of the `net` drivers in throw-away network namespaces.
//!
//! Needs root (CAP_NET_ADMIN/CAP_SYS_ADMIN) and iproute2; each test creates its own
//! namespaces `rvt-<pid>-<n>` with a veth pair between them, never touches the host's
//! interfaces, and removes everything in a `Drop` guard (also on panic). Without root the
//! tests fail with a message saying so: a skipped test must never count as passed.
#![cfg(target_os = "linux")]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rvrrpd::net::netlink::{CleanupPlan, NetlinkDriver, RTPROT_RVRRPD};
use rvrrpd::net::rx::{Family, RxConfig, RxSocket};
use rvrrpd::net::{iface, ioctl::IoctlDriver, netns, sniff::Sniffer, tx::TxSocket};
use rvrrpd::net::{IpPrefix, Ipv4Route};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("running {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Two namespaces joined by a veth pair `va` (in `a`) <-> `vb` (in `b`), with
/// 10.9.0.1/24 on `va` and 10.9.0.2/24 on `vb`. Deleted on drop.
struct Lab {
    a: String,
    b: String,
}

impl Lab {
    fn new() -> Lab {
        assert!(
            is_root(),
            "these tests need root (network namespaces, raw sockets): run them with sudo"
        );
        let pid = std::process::id();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let lab = Lab {
            a: format!("rvt-{pid}-{n}a"),
            b: format!("rvt-{pid}-{n}b"),
        };
        run(&["ip", "netns", "add", &lab.a]);
        run(&["ip", "netns", "add", &lab.b]);
        run(&[
            "ip", "-n", &lab.a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns",
            &lab.b,
        ]);
        for (ns, dev, ip) in [(&lab.a, "va", "10.9.0.1/24"), (&lab.b, "vb", "10.9.0.2/24")] {
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            run(&["ip", "-n", ns, "addr", "add", ip, "dev", dev]);
            run(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        lab.wait_up(&lab.a.clone(), "va");
        lab.wait_up(&lab.b.clone(), "vb");
        lab
    }

    /// Waits (bounded) until `dev` is operationally up: the kernel activates the qdisc
    /// asynchronously after `ip link set up`, and frames sent before are dropped.
    fn wait_up(&self, ns: &str, dev: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let out = self.ip(ns, &["-o", "link", "show", dev]);
            if out.contains("state UP") && out.contains("LOWER_UP") {
                // IPv6 link-local configuration follows shortly.
                std::thread::sleep(Duration::from_millis(100));
                return;
            }
            assert!(Instant::now() < deadline, "{dev} in {ns} not up: {out}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ip(&self, ns: &str, args: &[&str]) -> String {
        let mut v = vec!["ip", "-n", ns];
        v.extend_from_slice(args);
        run(&v)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse().unwrap())
}

// ------------------------------------------------------------------------- netlink

#[test]
fn netlink_vip_add_remove() {
    let lab = Lab::new();
    let res = netns::block_on_in(&lab.a, || async move {
        let d = NetlinkDriver::new().unwrap();
        let idx = iface::ifindex("va").unwrap();
        let vip = IpPrefix::host(v4("10.9.0.100"));
        let vip6 = IpPrefix::host("2001:db8::100".parse().unwrap());
        let added = (
            d.add_address(idx, vip).await.unwrap(),
            d.add_address(idx, vip).await.unwrap(),
        );
        let added6 = d.add_address(idx, vip6).await.unwrap();
        let listed = d.list_addresses(idx).await.unwrap();
        (added, added6, listed)
    })
    .unwrap();
    assert_eq!(res.0, (true, false), "second add is a no-op");
    assert!(res.1);
    assert!(res.2.contains(&IpPrefix::host(v4("10.9.0.100"))));
    let out = lab.ip(&lab.a, &["-o", "addr", "show", "dev", "va"]);
    assert!(out.contains("inet 10.9.0.100/32"), "{out}");
    let v6line = out
        .lines()
        .find(|l| l.contains("2001:db8::100/128"))
        .expect(&out);
    assert!(!v6line.contains("tentative"), "NODAD: {v6line}");

    let removed = netns::block_on_in(&lab.a, || async move {
        let d = NetlinkDriver::new().unwrap();
        let idx = iface::ifindex("va").unwrap();
        let vip = IpPrefix::host(v4("10.9.0.100"));
        let vip6 = IpPrefix::host("2001:db8::100".parse().unwrap());
        (
            d.remove_address(idx, vip).await.unwrap(),
            d.remove_address(idx, vip).await.unwrap(),
            d.remove_address(idx, vip6).await.unwrap(),
        )
    })
    .unwrap();
    assert_eq!(removed, (true, false, true));
    let out = lab.ip(&lab.a, &["-o", "addr", "show", "dev", "va"]);
    assert!(
        !out.contains("10.9.0.100") && !out.contains("2001:db8::100"),
        "{out}"
    );
    assert!(out.contains("10.9.0.1/24"), "{out}");
}

#[test]
fn netlink_error_names_interface_and_address() {
    let lab = Lab::new();
    let err = netns::block_on_in(&lab.a, || async move {
        let d = NetlinkDriver::new().unwrap();
        d.add_address(9999, IpPrefix::host(v4("10.0.0.1")))
            .await
            .unwrap_err()
    })
    .unwrap();
    let s = err.to_string();
    assert!(s.starts_with("adding 10.0.0.1/32 to ifindex 9999: "), "{s}");
}

#[test]
fn netlink_macvlan_create_delete() {
    let lab = Lab::new();
    let mac = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x07];
    let (idx, found, again) = netns::block_on_in(&lab.a, move || async move {
        let d = NetlinkDriver::new().unwrap();
        let parent = iface::ifindex("va").unwrap();
        let idx = d.create_macvlan("rvmv7", parent, mac).await.unwrap();
        let found = d.find_link("rvmv7", mac).await.unwrap();
        // Re-creating the same macvlan reuses it.
        let again = d.create_macvlan("rvmv7", parent, mac).await.unwrap();
        (idx, found, again)
    })
    .unwrap();
    assert_eq!(idx, again);
    let found = found.expect("link found by name+mac");
    assert_eq!(found.kind.as_deref(), Some("macvlan"));
    assert!(found.up);
    let out = lab.ip(&lab.a, &["-d", "link", "show", "rvmv7"]);
    assert!(out.contains("00:00:5e:00:01:07"), "{out}");
    assert!(out.contains("macvlan mode bridge"), "{out}");
    let sysctl = run(&[
        "ip",
        "netns",
        "exec",
        &lab.a,
        "cat",
        "/proc/sys/net/ipv4/conf/rvmv7/arp_ignore",
    ]);
    assert_eq!(sysctl.trim(), "1");
    let parent_filter = run(&[
        "ip",
        "netns",
        "exec",
        &lab.a,
        "cat",
        "/proc/sys/net/ipv4/conf/va/arp_filter",
    ]);
    assert_eq!(parent_filter.trim(), "1");

    let (del, del2, other_mac) = netns::block_on_in(&lab.a, move || async move {
        let d = NetlinkDriver::new().unwrap();
        let other = d.find_link("rvmv7", [0, 0, 0x5e, 0, 1, 8]).await.unwrap();
        (
            d.delete_link_by_name("rvmv7").await.unwrap(),
            d.delete_link_by_name("rvmv7").await.unwrap(),
            other,
        )
    })
    .unwrap();
    assert!(other_mac.is_none(), "MAC must match too");
    assert!(del && !del2);
    let out = lab.ip(&lab.a, &["link", "show"]);
    assert!(!out.contains("rvmv7"), "{out}");
}

#[test]
fn netlink_routes_with_protocol() {
    let lab = Lab::new();
    let route = Ipv4Route {
        dst: Ipv4Addr::new(10, 50, 0, 0),
        prefix_len: 16,
        gateway: Ipv4Addr::new(10, 9, 0, 2),
        metric: Some(50),
        mtu: Some(1400),
    };
    let dflt = Ipv4Route {
        dst: Ipv4Addr::UNSPECIFIED,
        prefix_len: 0,
        gateway: Ipv4Addr::new(10, 9, 0, 254),
        metric: None,
        mtu: None,
    };
    let (a1, a2, a3, listed) = netns::block_on_in(&lab.a, move || async move {
        let d = NetlinkDriver::new().unwrap();
        (
            d.add_route(&route).await.unwrap(),
            d.add_route(&route).await.unwrap(),
            d.add_route(&dflt).await.unwrap(),
            d.list_routes_by_protocol(RTPROT_RVRRPD).await.unwrap(),
        )
    })
    .unwrap();
    assert!(a1 && !a2 && a3);
    assert!(listed.contains(&route), "{listed:?}");
    assert!(listed.contains(&dflt), "{listed:?}");
    let out = lab.ip(&lab.a, &["route", "show", "proto", "112"]);
    assert!(out.contains("10.50.0.0/16 via 10.9.0.2"), "{out}");
    assert!(
        out.contains("metric 50") && out.contains("mtu 1400"),
        "{out}"
    );
    assert!(out.contains("default via 10.9.0.254"), "{out}");

    let (r1, r2) = netns::block_on_in(&lab.a, move || async move {
        let d = NetlinkDriver::new().unwrap();
        let r1 = d.remove_route(&route).await.unwrap() && d.remove_route(&dflt).await.unwrap();
        (r1, d.remove_route(&route).await.unwrap())
    })
    .unwrap();
    assert!(r1 && !r2);
    assert_eq!(
        lab.ip(&lab.a, &["route", "show", "proto", "112"]).trim(),
        ""
    );
}

#[test]
fn netlink_cleanup_leftovers() {
    let lab = Lab::new();
    let a = &lab.a;
    // Plant leftovers of a "crashed" instance, plus things that must survive.
    lab.ip(
        a,
        &[
            "route",
            "add",
            "10.60.0.0/16",
            "via",
            "10.9.0.2",
            "proto",
            "112",
        ],
    );
    lab.ip(a, &["route", "add", "10.61.0.0/16", "via", "10.9.0.2"]); // admin's route
    lab.ip(
        a,
        &[
            "link",
            "add",
            "standby1",
            "link",
            "va",
            "address",
            "00:00:5e:00:01:01",
            "type",
            "macvlan",
            "mode",
            "bridge",
        ],
    );
    lab.ip(
        a,
        &[
            "link",
            "add",
            "standby2",
            "link",
            "va",
            "address",
            "02:00:00:00:00:02",
            "type",
            "macvlan",
            "mode",
            "bridge",
        ],
    );
    lab.ip(a, &["addr", "add", "10.9.0.50/32", "dev", "va"]);
    let plan = CleanupPlan {
        routes: true,
        macvlans: vec![
            ("standby1".into(), [0, 0, 0x5e, 0, 1, 1]),
            ("standby2".into(), [0, 0, 0x5e, 0, 1, 2]), // same name, other MAC: keep
        ],
        vips: vec![
            ("va".into(), IpPrefix::host(v4("10.9.0.50"))),
            ("va".into(), IpPrefix::host(v4("10.9.0.51"))), // absent: fine
            ("nosuchif0".into(), IpPrefix::host(v4("10.9.0.52"))),
        ],
    };
    let report = netns::block_on_in(a, move || async move {
        let d = NetlinkDriver::new().unwrap();
        d.cleanup_leftovers(&plan).await.unwrap()
    })
    .unwrap();
    assert_eq!(report.routes.len(), 1, "{report:?}");
    assert_eq!(report.macvlans, vec!["standby1".to_string()]);
    assert_eq!(report.vips.len(), 1);
    let routes = lab.ip(a, &["route", "show"]);
    assert!(!routes.contains("10.60.0.0"), "{routes}");
    assert!(routes.contains("10.61.0.0"), "{routes}");
    let links = lab.ip(a, &["link", "show"]);
    assert!(
        !links.contains("standby1") && links.contains("standby2"),
        "{links}"
    );
    let addrs = lab.ip(a, &["-o", "addr", "show", "dev", "va"]);
    assert!(
        !addrs.contains("10.9.0.50") && addrs.contains("10.9.0.1/24"),
        "{addrs}"
    );
}

// ------------------------------------------------------------------------- ioctl

#[test]
fn ioctl_swaps_and_restores_address() {
    let lab = Lab::new();
    let a = lab.a.clone();
    let (saved, during) = netns::run_in(&a, || {
        let d = IoctlDriver::new();
        let saved = d.get_address("va").unwrap();
        d.become_master("va", &[IpPrefix::host(v4("10.9.0.100"))])
            .unwrap();
        // Second call keeps the original saved address.
        d.become_master("va", &[IpPrefix::host(v4("10.9.0.100"))])
            .unwrap();
        let during = Command::new("ip")
            .args(["-o", "-4", "addr", "show", "dev", "va"])
            .output()
            .unwrap();
        d.restore("va").unwrap();
        d.restore("va").unwrap(); // no-op
        (saved, String::from_utf8_lossy(&during.stdout).into_owned())
    })
    .unwrap();
    assert_eq!(saved.addr, Some(Ipv4Addr::new(10, 9, 0, 1)));
    assert_eq!(saved.netmask, Some(Ipv4Addr::new(255, 255, 255, 0)));
    assert!(during.contains("10.9.0.100/24"), "{during}");
    assert!(!during.contains("10.9.0.1/"), "{during}");
    let after = lab.ip(&a, &["-o", "-4", "addr", "show", "dev", "va"]);
    assert!(
        after.contains("10.9.0.1/24") && !after.contains("10.9.0.100"),
        "{after}"
    );
}

#[test]
fn ioctl_routes() {
    let lab = Lab::new();
    let route = Ipv4Route {
        dst: Ipv4Addr::new(10, 70, 0, 0),
        prefix_len: 16,
        gateway: Ipv4Addr::new(10, 9, 0, 2),
        metric: Some(20),
        mtu: None,
    };
    let (added, again) = netns::run_in(&lab.a, move || {
        let d = IoctlDriver::new();
        (d.add_route(&route).unwrap(), d.add_route(&route).unwrap())
    })
    .unwrap();
    assert!(added && !again);
    let out = lab.ip(&lab.a, &["route", "show", "10.70.0.0/16"]);
    assert!(
        out.contains("via 10.9.0.2") && out.contains("metric 20"),
        "{out}"
    );
    let (r1, r2) = netns::run_in(&lab.a, move || {
        let d = IoctlDriver::new();
        (
            d.remove_route(&route).unwrap(),
            d.remove_route(&route).unwrap(),
        )
    })
    .unwrap();
    assert!(r1 && !r2);
}

// ------------------------------------------------------------------------- rx / tx

fn csum(data: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from(c[0]) << 8
        };
        s += u32::from(w);
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

fn vrrp_v2(vrid: u8) -> Vec<u8> {
    let mut v = vec![
        0x21, vrid, 100, 1, 0, 1, 0, 0, 10, 9, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let c = csum(&v);
    v[6..8].copy_from_slice(&c.to_be_bytes());
    v
}

fn frame_v4(vrid: u8, ttl: u8) -> Vec<u8> {
    let vrrp = vrrp_v2(vrid);
    let total = (20 + vrrp.len()) as u16;
    let mut ip = vec![0x45, 0xc0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0, 0, ttl, 112, 0, 0, 10, 9, 0, 1, 224, 0, 0, 18]);
    let c = csum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = vec![
        0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x00, 0x00, 0x5e, 0x00, 0x01, vrid, 0x08, 0x00,
    ];
    f.extend_from_slice(&ip);
    f.extend_from_slice(&vrrp);
    while f.len() < 60 {
        f.push(0); // Ethernet padding, as real NICs do
    }
    f
}

fn frame_v6(vrid: u8) -> Vec<u8> {
    let vrrp = vec![
        0x31, vrid, 100, 1, 0, 100, 0, 0, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64,
    ];
    let mut f = vec![
        0x33, 0x33, 0, 0, 0, 0x12, 0, 0, 0x5e, 0, 2, vrid, 0x86, 0xdd,
    ];
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(vrrp.len() as u16).to_be_bytes());
    f.extend_from_slice(&[112, 255]);
    f.extend_from_slice(&"fe80::1".parse::<Ipv6Addr>().unwrap().octets());
    f.extend_from_slice(&"ff02::12".parse::<Ipv6Addr>().unwrap().octets());
    f.extend_from_slice(&vrrp);
    f
}

/// (src, dst, ttl, vrrp payload, kernel receive time in CLOCK_MONOTONIC ns)
type Got = Vec<(IpAddr, IpAddr, u8, Vec<u8>, u64)>;

fn drain_until(sock: &mut RxSocket, want: usize, deadline: Instant) -> Got {
    let mut got = Got::new();
    while got.len() < want && Instant::now() < deadline {
        if sock.wait_readable(Duration::from_millis(50)).unwrap() {
            sock.recv_batch(|d| got.push((d.src, d.dst, d.ttl, d.payload.to_vec(), d.rx_ns)))
                .unwrap();
        }
    }
    // A short grace period to catch unexpected extra packets.
    let grace = Instant::now() + Duration::from_millis(200);
    while Instant::now() < grace {
        while let Some(d) = sock.recv().unwrap() {
            got.push((d.src, d.dst, d.ttl, d.payload.to_vec(), d.rx_ns));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    got
}

#[test]
fn raw_socket_receives_vrrp_and_filter_drops_wrong_vrid() {
    let lab = Lab::new();
    let (ready_tx, ready_rx) = mpsc::channel();
    let b = lab.b.clone();
    let receiver = std::thread::spawn(move || {
        netns::run_in(&b, move || {
            let mut filtered = RxSocket::open(&RxConfig::new("vb", Family::Ipv4, &[5])).unwrap();
            let mut cfg = RxConfig::new("vb", Family::Ipv4, &[5]);
            cfg.socket_filter = false;
            let mut open = RxSocket::open(&cfg).unwrap();
            let mut f6 = RxSocket::open(&RxConfig::new("vb", Family::Ipv6, &[5])).unwrap();
            let mut sniffer = Sniffer::open("vb").unwrap();
            ready_tx.send(()).unwrap();
            let deadline = || Instant::now() + Duration::from_secs(5);
            let gf = drain_until(&mut filtered, 1, deadline());
            let go = drain_until(&mut open, 2, deadline());
            let g6 = drain_until(&mut f6, 1, deadline());
            let mut sniffed = Vec::new();
            let end = deadline();
            while sniffed.len() < 3 && Instant::now() < end {
                if sniffer.wait_readable(Duration::from_millis(50)).unwrap() {
                    while let Some(fr) = sniffer.recv().unwrap() {
                        sniffed.push(fr.frame.to_vec());
                    }
                }
            }
            // Grace period: the ARP frame must not show up.
            std::thread::sleep(Duration::from_millis(200));
            while let Some(fr) = sniffer.recv().unwrap() {
                sniffed.push(fr.frame.to_vec());
            }
            (gf, go, g6, sniffed)
        })
        .unwrap()
    });
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("receiver ready");
    let before_send_ns = rvrrpd::daemon::sys::monotonic_micros() * 1000;
    let sent = netns::run_in(&lab.a, || {
        let tx = TxSocket::open("va").unwrap();
        let (f5, f6, v6) = (frame_v4(5, 255), frame_v4(6, 255), frame_v6(5));
        let n = tx.send_batch(&[&f5, &f6]).unwrap();
        tx.send(&v6).unwrap();
        // Not VRRP: ARP request, must not reach the sniffer.
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&[0, 0, 0x5e, 0, 1, 5, 0x08, 0x06]);
        arp.extend_from_slice(&[0; 46]);
        tx.send(&arp).unwrap();
        n
    })
    .unwrap();
    assert_eq!(sent, 2);
    let (gf, go, g6, sniffed) = receiver.join().unwrap();

    assert_eq!(gf.len(), 1, "filtered socket: only VRID 5: {gf:?}");
    let (src, dst, ttl, payload, rx_ns) = &gf[0];
    // The kernel's receive time, on the workers' monotonic clock (SO_TIMESTAMPNS converted):
    // after the send started, before the receiver read it.
    let read_ns = rvrrpd::daemon::sys::monotonic_micros() * 1000;
    assert!(
        *rx_ns >= before_send_ns.saturating_sub(5_000_000) && *rx_ns <= read_ns + 5_000_000,
        "receive stamp {rx_ns} outside [{before_send_ns}, {read_ns}]"
    );
    assert!(g6.iter().all(|d| d.4 > 0), "IPv6 datagrams are stamped too");
    assert_eq!(*src, v4("10.9.0.1"));
    assert_eq!(*dst, v4("224.0.0.18"));
    assert_eq!(*ttl, 255);
    assert_eq!(
        payload,
        &vrrp_v2(5),
        "payload is the VRRP message, padding stripped"
    );

    let vrids: Vec<u8> = go.iter().map(|g| g.3[1]).collect();
    assert_eq!(vrids, vec![5, 6], "unfiltered socket sees both");

    assert_eq!(g6.len(), 1, "{g6:?}");
    assert_eq!(g6[0].0, "fe80::1".parse::<IpAddr>().unwrap());
    assert_eq!(g6[0].1, "ff02::12".parse::<IpAddr>().unwrap());
    assert_eq!(g6[0].2, 255);
    assert_eq!(g6[0].3[0..2], [0x31, 5]);

    assert_eq!(sniffed.len(), 3, "three VRRP frames, no ARP");
    assert!(sniffed
        .iter()
        .all(|f| f[12..14] == [0x08, 0x00] || f[12..14] == [0x86, 0xdd]));
}
