//! `--attack RATE`: a flood of forged adverts at both routers during a second steady-state
//! window, to show that the Masters stay on schedule, the Backups stay silent, and what the
//! flood costs each daemon.
//!
//! Per group, forged frames that every correct VRRP implementation must discard:
//! * **bad authentication** (VRRPv2 only): the peer's advert with auth type 1 and a password
//!   while the groups use none, priority 255 towards the Master (if accepted, it would make
//!   the Master step down) and the peer's own priority towards the Backup;
//! * **unknown VRID**: VRIDs 251–255 on a link (the topology uses 1–250);
//! * **replay with one changed byte**: the peer's advert with one address byte changed and
//!   the checksum left as it was.
//!
//! Frames towards B are sent from A's namespace on each link with A's source addresses (and
//! the other way round), so they look like the real peer's. On veth the receiver's XDP
//! program runs in the *sender's* context: what the fast path drops is charged to the
//! flooding thread, not to the daemon; the daemon's CPU shows what reached its workers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rvrrpd_lab::advstream::FORGED_IP_ID;
use rvrrpd_lab::scale::{router_ip, Group, ScaleTopo, Side};
use rvrrpd_lab::vrrp::{build_v4_frame, checksum, AdvertSpec};
use rvrrpd_lab::{Injector, Mac};

/// Offset of the last byte of a one-address advert's address in its frame.
const LAST_ADDR_BYTE: usize = 14 + 20 + 8 + 3;

/// The forged frames sent to `victim`, each with the link it goes out on.
pub(super) fn frames(
    groups: &[Group],
    victim: Side,
    version: u8,
    interval: f64,
) -> Vec<(usize, Vec<u8>)> {
    let (peer, peer_prio, bad_auth_prio) = match victim {
        Side::A => (Side::B, 100, 255),
        Side::B => (Side::A, 200, 200),
    };
    let wire_interval = if version == 2 {
        interval.round() as u16
    } else {
        (interval * 100.0).round() as u16
    };
    let base = |g: &Group| AdvertSpec {
        src_mac: Mac::vrrp(g.vrid, false).0,
        src_ip: router_ip(g.link, peer),
        version,
        vrid: g.vrid,
        priority: peer_prio,
        interval: wire_interval,
        auth_type: 0,
        auth_data: [0; 8],
        addrs: vec![g.vip()],
        ttl: 255,
    };
    let mut out = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        if version == 2 {
            let mut s = base(g);
            s.priority = bad_auth_prio;
            s.auth_type = 1;
            s.auth_data = *b"forged!!";
            out.push((g.link, mark(build_v4_frame(&s))));
        }
        let mut s = base(g);
        s.vrid = 251 + (i % 5) as u8;
        s.src_mac = Mac::vrrp(s.vrid, false).0;
        out.push((g.link, mark(build_v4_frame(&s))));
        // The last byte of the (only) address: Ethernet 14 + IPv4 20 + VRRP header 8 + 3. The
        // checksum is left as it was.
        let mut f = build_v4_frame(&base(g));
        f[LAST_ADDR_BYTE] ^= 0x01;
        out.push((g.link, mark(f)));
    }
    out
}

/// Sets the IPv4 identification to [`FORGED_IP_ID`] (the observer skips such frames in the
/// sender's own capture) and fixes the header checksum.
fn mark(mut f: Vec<u8>) -> Vec<u8> {
    f[18..20].copy_from_slice(&FORGED_IP_ID.to_be_bytes());
    f[24..26].copy_from_slice(&[0, 0]);
    let ck = checksum(&[&f[14..34]]);
    f[24..26].copy_from_slice(&ck.to_be_bytes());
    f
}

/// A running flood from one namespace.
pub(super) struct Flood {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<u64>>>,
}

impl Flood {
    /// Starts sending `frames` from `from`'s namespace, round-robin, at `rate` frames/s.
    pub(super) fn start(
        topo: &ScaleTopo,
        from: Side,
        frames: Vec<(usize, Vec<u8>)>,
        rate: u32,
    ) -> Result<Flood> {
        let mut injectors = Vec::new();
        for k in 0..topo.links {
            let ifname = rvrrpd_lab::scale::link_name(k);
            injectors.push(
                Injector::open(topo.ns(from), &ifname)
                    .with_context(|| format!("opening an injector on {ifname}"))?,
            );
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || -> Result<u64> {
            if frames.is_empty() || rate == 0 {
                return Ok(0);
            }
            let period = Duration::from_secs_f64(1.0 / f64::from(rate));
            let start = Instant::now();
            let mut sent: u64 = 0;
            while !flag.load(Ordering::Relaxed) {
                let (link, f) = &frames[(sent as usize) % frames.len()];
                injectors[*link].send(f)?;
                sent += 1;
                let next = period.mul_f64(sent as f64);
                if let Some(d) = next.checked_sub(start.elapsed()) {
                    std::thread::sleep(d);
                }
            }
            Ok(sent)
        });
        Ok(Flood {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the flood; returns how many frames were sent.
    pub(super) fn stop(mut self) -> Result<u64> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => anyhow::bail!("the flood thread panicked"),
            None => Ok(0),
        }
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The kernel's BPF run-time statistics (`kernel.bpf_stats_enabled`), switched on while this
/// lives and restored on drop; read per XDP program with `bpftool`.
pub(super) struct BpfStats {
    before: String,
}

const BPF_STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";

impl BpfStats {
    /// Switches the statistics on; `None` without `bpftool` or the sysctl.
    pub(super) fn enable() -> Option<BpfStats> {
        std::process::Command::new("bpftool")
            .arg("version")
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        let before = std::fs::read_to_string(BPF_STATS).ok()?;
        std::fs::write(BPF_STATS, "1").ok()?;
        Some(BpfStats { before })
    }

    /// (run time ns, runs) of the XDP program attached to `ifname` in namespace `ns`.
    pub(super) fn xdp(&self, ns: &str, ifname: &str) -> Option<(u64, u64)> {
        let out = std::process::Command::new("ip")
            .args([
                "netns", "exec", ns, "bpftool", "-j", "net", "show", "dev", ifname,
            ])
            .output()
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let id = v
            .as_array()?
            .iter()
            .filter_map(|e| e["xdp"].as_array())
            .flatten()
            .find_map(|x| x["id"].as_u64())?;
        let out = std::process::Command::new("bpftool")
            .args(["-j", "prog", "show", "id", &id.to_string()])
            .output()
            .ok()?;
        let p: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        Some((p["run_time_ns"].as_u64()?, p["run_cnt"].as_u64()?))
    }
}

impl Drop for BpfStats {
    fn drop(&mut self) {
        let _ = std::fs::write(BPF_STATS, self.before.trim());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvrrpd_lab::vrrp::{checksum, parse};

    /// Whether the VRRP checksum of `frame` (one IPv4 address) is right.
    fn checksum_ok(frame: &[u8], version: u8) -> bool {
        let len = 8 + 4 + if version == 2 { 8 } else { 0 };
        let vrrp = &frame[34..34 + len];
        if version == 2 {
            return checksum(&[vrrp]) == 0;
        }
        let l = (len as u16).to_be_bytes();
        checksum(&[&frame[26..34], &[0, 112], &l, vrrp]) == 0
    }

    #[test]
    fn every_forged_frame_is_one_a_correct_router_discards() {
        let groups = rvrrpd_lab::scale::groups(300);
        for (version, victim) in [(2, Side::A), (2, Side::B), (3, Side::A), (3, Side::B)] {
            let fs = frames(&groups, victim, version, 1.0);
            assert_eq!(fs.len(), 300 * if version == 2 { 3 } else { 2 });
            for (link, f) in &fs {
                let ad = parse(&f[34..], false).expect("parses");
                let peer = if victim == Side::A { Side::B } else { Side::A };
                let src = std::net::Ipv4Addr::new(f[26], f[27], f[28], f[29]);
                assert_eq!(
                    src,
                    router_ip(*link, peer),
                    "sent on the link of its source"
                );
                let faults = [
                    ad.vrid > 250,
                    version == 2 && ad.auth_type != 0,
                    !checksum_ok(f, version),
                ];
                assert_eq!(
                    faults.iter().filter(|b| **b).count(),
                    1,
                    "{ad:?} {faults:?}"
                );
                assert_eq!(f[22], 255, "TTL 255: only the forged field is wrong");
                assert_eq!(checksum(&[&f[14..34]]), 0, "IPv4 header checksum");
                assert!(
                    rvrrpd_lab::advstream::decode_advert(1, 0.0, f).is_none(),
                    "the observer skips it"
                );
            }
        }
    }
}
