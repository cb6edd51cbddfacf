//! Accept mode enforced (RFC 5798 §6.4.3, keepalived's `no_accept`).
//!
//! * `BPF_PROG_TEST_RUN` of `vrrp_demux` with VIPs in its `NOACCEPT` map: traffic to them is
//!   dropped and counted, except ARP, IPv6 neighbour solicitations / advertisements and VRRP;
//!   other destinations pass; with the map switched off everything passes again.
//! * Real routers in network namespaces: with `accept_mode` left at its default (false) the
//!   client's ping to the Master's VIP (IPv4 and IPv6) gets no reply while the Master holds
//!   it and answers its own address and the client resolves the VIP (ARP / ND work); with
//!   `accept_mode = true` the same pings are answered. On the XDP path the drops are XDP's; on
//!   the others (`RVRRPD_NO_XDP`, `RVRRPD_NO_EBPF`, which CI also runs) they are an nftables
//!   table, removed on exit and rebuilt (not duplicated) after a crash.
//!
//! Needs root; the eBPF object is built as `cargo xtask build-ebpf --release` would (fails,
//! never skips, without it).
#![cfg(target_os = "linux")]

mod common;
#[path = "xdp_support/mod.rs"]
mod xdp_support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use common::*;
use rvrrpd::net::xdp::Counter;
use rvrrpd_lab::config::rvrrpd::VRouter;
use rvrrpd_lab::{kernel, wait_until, Lab, Node, Proc, Signal};
use xdp_support::*;

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;

/// An Ethernet + IPv4 frame of protocol `proto` to `dst` with an 8-byte payload.
fn ipv4_frame(dst: Ipv4Addr, proto: u8) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    f.extend_from_slice(&[0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, proto, 0, 0]);
    f.extend_from_slice(&SRC4.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&[8, 0, 0, 0, 0, 1, 0, 1]);
    f
}

/// An Ethernet + IPv6 frame whose first header after the fixed one is ICMPv6 of `kind`
/// (or, with `hop_by_hop`, a hop-by-hop options header first).
fn icmpv6_frame(dst: Ipv6Addr, kind: u8, hop_by_hop: bool) -> Vec<u8> {
    let mut f = vec![0x33, 0x33, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x86, 0xdd];
    let payload: Vec<u8> = if hop_by_hop {
        let mut p = vec![58, 0, 1, 4, 0, 0, 0, 0];
        p.extend_from_slice(&[kind, 0, 0, 0, 0, 0, 0, 0]);
        p
    } else {
        vec![kind, 0, 0, 0, 0, 0, 0, 0]
    };
    f.extend_from_slice(&[0x60, 0, 0, 0, 0, payload.len() as u8]);
    f.push(if hop_by_hop { 0 } else { 58 });
    f.push(255);
    f.extend_from_slice(&SRC6.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&payload);
    f
}

#[test]
fn xdp_drops_traffic_to_vips_but_arp_nd_and_vrrp() {
    let ns = TestNs::new("na");
    object();
    ns.run(move || {
        let mut fp = load(1);
        let lo = 1;
        let vip4 = Ipv4Addr::new(192, 0, 2, 100);
        let vip6: Ipv6Addr = "2001:db8::100".parse().expect("ip");
        let other4 = Ipv4Addr::new(192, 0, 2, 1);
        fp.set_group(
            rvrrpd::net::xdp::DemuxKey::new(lo, 5, rvrrpd::net::xdp::FAMILY_V4),
            0,
            0,
        )
        .expect("set_group");
        let cases: Vec<(&str, Vec<u8>, u32)> = vec![
            ("ICMP to the VIP", ipv4_frame(vip4, 1), XDP_DROP),
            ("TCP to the VIP", ipv4_frame(vip4, 6), XDP_DROP),
            ("UDP to the VIP", ipv4_frame(vip4, 17), XDP_DROP),
            ("ICMP elsewhere", ipv4_frame(other4, 1), XDP_PASS),
            ("ARP", arp_frame(), XDP_PASS),
            (
                "echo request to the IPv6 VIP",
                icmpv6_frame(vip6, 128, false),
                XDP_DROP,
            ),
            (
                "neighbour solicitation",
                icmpv6_frame(vip6, 135, false),
                XDP_PASS,
            ),
            (
                "neighbour advertisement",
                icmpv6_frame(vip6, 136, false),
                XDP_PASS,
            ),
            (
                "echo request behind hop-by-hop options",
                icmpv6_frame(vip6, 128, true),
                XDP_DROP,
            ),
            (
                "echo request elsewhere",
                icmpv6_frame("2001:db8::1".parse().expect("ip"), 128, false),
                XDP_PASS,
            ),
            // A configured group's advert is consumed into the ring, as always.
            ("VRRP", v2_frame(5), XDP_DROP),
        ];
        let run = |fp: &mut rvrrpd::net::xdp::FastPath, f: &[u8]| {
            fp.test_run(f, lo)
                .unwrap_or_else(|e| panic!("test_run: {e}"))
        };
        // Switched off: only the advert is consumed.
        for (what, frame, _) in &cases {
            let want = if *what == "VRRP" { XDP_DROP } else { XDP_PASS };
            assert_eq!(run(&mut fp, frame), want, "{what}, nothing enforced");
        }
        assert_eq!(counters(&fp).get(Counter::NoAccept), 0);

        fp.update_no_accept(&[IpAddr::V4(vip4), IpAddr::V6(vip6)], &[], true)
            .expect("enforce");
        assert_eq!(
            fp.no_accept().expect("read"),
            [IpAddr::V4(vip4), IpAddr::V6(vip6)]
        );
        for (what, frame, want) in &cases {
            assert_eq!(run(&mut fp, frame), *want, "{what}");
        }
        let c = counters(&fp);
        assert_eq!(c.get(Counter::NoAccept), 5, "{c}");
        assert_eq!(
            c.get(Counter::Delivered),
            2,
            "both adverts reached the ring: {c}"
        );
        assert_eq!(drain_all(&mut fp, 0).len(), 2);

        // The IPv4 VIP released: its traffic passes, the IPv6 one is still dropped.
        fp.update_no_accept(&[], &[IpAddr::V4(vip4)], true)
            .expect("release");
        assert_eq!(run(&mut fp, &ipv4_frame(vip4, 1)), XDP_PASS);
        assert_eq!(run(&mut fp, &icmpv6_frame(vip6, 128, false)), XDP_DROP);
        // All released: the switch is off and the map empty.
        fp.update_no_accept(&[], &[IpAddr::V6(vip6)], false)
            .expect("release all");
        assert!(fp.no_accept().expect("read").is_empty());
        assert_eq!(run(&mut fp, &icmpv6_frame(vip6, 128, false)), XDP_PASS);
        assert_eq!(counters(&fp).get(Counter::NoAccept), 6);
    });
}

/// Which enforcer this run's receive path implies (`nft` unless XDP is attached).
fn nft_expected() -> bool {
    let set = |var: &str| std::env::var_os(var).is_some_and(|v| v != "0");
    set("RVRRPD_NO_EBPF") || set("RVRRPD_NO_XDP")
}

fn nft_table(node: &Node) -> Option<String> {
    rvrrpd_lab::cmd::run(&[
        "ip", "netns", "exec", &node.ns, "nft", "list", "table", "inet", "rvrrpd",
    ])
    .ok()
}

/// Router `name`'s configuration: an IPv4 group (v2) and an IPv6 group (v3) at priority `p`,
/// with `accept_mode` as given (`None`: the default).
fn pair_conf(
    lab: &Lab,
    name: &str,
    p: u8,
    accept: Option<bool>,
) -> rvrrpd_lab::config::rvrrpd::RvrrpdConf {
    let mut v4 = VRouter::new(71, "eth0", Lab::vip4(7))
        .priority(p)
        .preemption(true)
        .version(2);
    let mut v6 = VRouter::new(72, "eth0", Lab::vip6(7))
        .priority(p)
        .preemption(true)
        .version(3)
        .advert(0.5);
    if let Some(a) = accept {
        v4 = v4.accept_mode(a);
        v6 = v6.accept_mode(a);
    }
    conf(lab, name, v4).vrouter(v6)
}

/// r1 (150), to be Master, and r2 (100) with [`pair_conf`]; the two VIPs.
fn start_pair(lab: &Lab, accept: Option<bool>) -> (Proc, Proc, IpAddr, IpAddr) {
    let (r1, r2) = (lab.router(1).clone(), lab.router(2).clone());
    let p1 = start(lab, &r1, "r1", &pair_conf(lab, "r1", 150, accept));
    let p2 = start(lab, &r2, "r2", &pair_conf(lab, "r2", 100, accept));
    (p1, p2, IpAddr::V4(Lab::vip4(7)), IpAddr::V6(Lab::vip6(7)))
}

fn ping_vip(lab: &Lab, target: IpAddr) -> kernel::PingStats {
    kernel::ping(&lab.client().ns, target, 3, Duration::from_secs(1)).expect("ping")
}

#[test]
fn master_drops_traffic_to_its_vips_without_accept_mode() {
    let lab = lab(2);
    let (r1, cl) = (lab.router(1).clone(), lab.client().clone());
    let cap = lab.capture("no-accept").expect("capture");
    let (mut p1, p2, vip4, vip6) = start_pair(&lab, None);
    wait_sole_master(&lab, &cap, 71, false, &r1, 1.0, &[&p1, &p2]);
    wait_sole_master(&lab, &cap, 72, true, &r1, 0.5, &[&p1, &p2]);
    for vip in [vip4, vip6] {
        wait_vip(&r1, vip, true, Duration::from_secs(5), &[&p1, &p2]);
    }
    // The Master is reachable on its own addresses: the path works.
    for own in [IpAddr::V4(r1.ipv4), IpAddr::V6(r1.ipv6)] {
        let st = ping_vip(&lab, own);
        assert!(st.received >= 2, "ping {own}: {st:?}\n{}", diag(&[&p1]));
    }
    for vip in [vip4, vip6] {
        let st = ping_vip(&lab, vip);
        assert_eq!(
            st.received,
            0,
            "the Master answered a ping to {vip} without accept mode: {st:?}\n{}",
            diag(&[&p1])
        );
        // ARP / neighbour discovery for the VIP still work.
        assert!(
            kernel::neigh_mac(&cl.ns, vip).expect("ip neigh").is_some(),
            "the client could not resolve {vip}"
        );
    }
    let log = p1.output();
    assert!(
        log.contains("accept mode: dropping traffic to"),
        "{}",
        p1.tail(30)
    );
    let table = nft_table(&r1);
    if nft_expected() {
        let t = table.unwrap_or_else(|| panic!("no nftables table\n{}", p1.tail(30)));
        assert!(
            t.contains(&vip4.to_string()) && t.contains(&vip6.to_string()),
            "{t}"
        );
        // A crash leaves the table; the restarted daemon replaces it (one table, one chain).
        p1.signal(Signal::Kill).expect("SIGKILL");
        p1.wait_exit(Duration::from_secs(5)).expect("exit");
        assert!(nft_table(&r1).is_some(), "the crashed run's table is gone?");
        p1 = start(&lab, &r1, "r1", &pair_conf(&lab, "r1", 150, None));
        wait_until(
            "the restarted r1 rebuilding its table",
            Duration::from_secs(10),
            Duration::from_millis(100),
            || p1.output().contains("nftables table inet rvrrpd"),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", p1.tail(30)));
        wait_vip(&r1, vip4, true, Duration::from_secs(15), &[&p1, &p2]);
        let t = nft_table(&r1).expect("table after the restart");
        assert_eq!(t.matches("chain no_accept").count(), 1, "{t}");
        assert!(t.contains(&vip4.to_string()), "{t}");
        assert_eq!(ping_vip(&lab, vip4).received, 0, "after the restart");
        // A clean exit removes it.
        p1.stop(Duration::from_secs(10)).expect("stop r1");
        assert!(
            nft_table(&r1).is_none(),
            "the nftables table outlived the daemon"
        );
    } else {
        assert!(
            table.is_none(),
            "XDP enforces, yet an nftables table exists: {table:?}"
        );
    }
    drop(p2);
}

#[test]
fn master_answers_traffic_to_its_vips_with_accept_mode() {
    let lab = lab(2);
    let r1 = lab.router(1).clone();
    let cap = lab.capture("accept").expect("capture");
    let (p1, p2, vip4, vip6) = start_pair(&lab, Some(true));
    wait_sole_master(&lab, &cap, 71, false, &r1, 1.0, &[&p1, &p2]);
    wait_sole_master(&lab, &cap, 72, true, &r1, 0.5, &[&p1, &p2]);
    for vip in [vip4, vip6] {
        wait_vip(&r1, vip, true, Duration::from_secs(5), &[&p1, &p2]);
        let st = ping_vip(&lab, vip);
        assert!(
            st.received >= 2,
            "accept_mode = true, yet no reply from {vip}: {st:?}\n{}",
            diag(&[&p1])
        );
    }
    assert!(nft_table(&r1).is_none(), "a table with nothing to drop");

    // A reload that turns accept mode off changes it in place: the drops start, and r1 stays
    // Master (no restart of the group, no advert of r2).
    let t_reload = now();
    pair_conf(&lab, "r1", 150, Some(false))
        .write(&lab.path("r1.toml"))
        .expect("rewrite r1's configuration");
    let mut p1 = p1;
    let summary = reload_and_wait(&mut p1, "reloaded: ");
    assert!(
        summary.contains("2 updated, 0 restarted"),
        "accept_mode not updated in place: {summary}"
    );
    for vip in [vip4, vip6] {
        assert_eq!(ping_vip(&lab, vip).received, 0, "{vip} after the reload");
    }
    let t = cap.snapshot().expect("capture");
    assert_eq!(
        sender_names(&lab, &t, 71, false, t_reload),
        ["r1"],
        "mastership moved on the reload"
    );
}
