//! Helpers shared by the eBPF fast-path tests (`tests/xdp.rs`, `tests/xdp_malformed.rs`):
//! building the object through the xtask code path, loading it, test frames, a throw-away
//! network namespace for `BPF_PROG_TEST_RUN`.
#![allow(dead_code)]

#[path = "../../xtask/src/ebpf.rs"]
#[allow(dead_code)]
mod ebpf;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use rvrrpd::auth::AuthKey;
use rvrrpd::net::netns;
use rvrrpd::net::xdp::{Counters, FastPath, FastPathConfig, VrrpEvent};
use rvrrpd::wire::{advert_frame, V3Checksum, VrrpRepr};
use rvrrpd_lab::{cmd, names};

pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;

/// Builds (once per test binary) the eBPF object through the xtask code path.
pub fn object() -> PathBuf {
    static OBJ: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static BUILDING: Mutex<()> = Mutex::new(());
    let _g = BUILDING.lock().unwrap_or_else(|p| p.into_inner());
    OBJ.get_or_init(|| {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        ebpf::build(root, true).map_err(|e| format!("{e:#}"))
    })
    .clone()
    .unwrap_or_else(|e| {
        panic!("the eBPF object could not be built (cargo xtask build-ebpf --release): {e}")
    })
}

/// Loads the object with `workers` rings (programs not yet verified).
pub fn load(workers: u32) -> FastPath {
    load_with(FastPathConfig::new(workers))
}

/// Loads the object with `cfg` (its `object` replaced by the freshly built one).
pub fn load_with(cfg: FastPathConfig) -> FastPath {
    FastPath::load(&FastPathConfig {
        object: Some(object()),
        ..cfg
    })
    .unwrap_or_else(|e| panic!("loading the eBPF object: {e}"))
}

/// A network namespace of its own for `BPF_PROG_TEST_RUN` (ifindex 1 is its loopback);
/// deleted on drop.
pub struct TestNs(pub String);

impl TestNs {
    pub fn new(tag: &str) -> TestNs {
        let ns = format!("{}-{tag}", names::unique_prefix());
        cmd::run(&["ip", "netns", "add", ns.as_str()]).expect("ip netns add");
        TestNs(ns)
    }

    /// Adds a device `name` (one end of a veth pair whose peer is `{name}p`; the dummy
    /// driver may be missing) and returns its ifindex: a second ifindex for test runs.
    pub fn add_device(&self, name: &str) -> u32 {
        let peer = format!("{name}p");
        cmd::ip(
            &self.0,
            &["link", "add", name, "type", "veth", "peer", "name", &peer],
        )
        .expect("veth pair");
        let name = name.to_string();
        netns::run_in(&self.0, move || rvrrpd::net::iface::ifindex(&name))
            .expect("enter ns")
            .expect("ifindex of the new device")
    }

    /// Runs `f` inside the namespace.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        netns::run_in(&self.0, f).expect("enter ns")
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let _ = cmd::run(&["ip", "netns", "del", self.0.as_str()]);
    }
}

pub const SRC4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
pub const SRC6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2);

/// A VRRPv2 advert (one address, no authentication) from [`SRC4`].
pub fn v2_frame(vrid: u8) -> Vec<u8> {
    let key = AuthKey::none();
    let repr = VrrpRepr::v2(
        vrid,
        100,
        1,
        vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))],
        &key,
    );
    advert_frame(&repr, IpAddr::V4(SRC4), V3Checksum::default(), &key).expect("v2 frame")
}

/// A VRRPv3 advert for `addrs` from `src`.
pub fn v3_frame(vrid: u8, addrs: Vec<IpAddr>, src: IpAddr) -> Vec<u8> {
    let repr = VrrpRepr::v3(vrid, 100, 100, addrs);
    advert_frame(&repr, src, V3Checksum::default(), &AuthKey::none()).expect("v3 frame")
}

/// A VRRPv3/IPv4 advert with `n_addrs` addresses from [`SRC4`].
pub fn v3_frame_v4(vrid: u8, n_addrs: u8) -> Vec<u8> {
    let addrs = (0..n_addrs)
        .map(|i| IpAddr::V4(Ipv4Addr::new(198, 51, 100, i)))
        .collect();
    v3_frame(vrid, addrs, IpAddr::V4(SRC4))
}

/// A VRRPv3/IPv6 advert (one address) from [`SRC6`].
pub fn v3_frame_v6(vrid: u8) -> Vec<u8> {
    let addr = IpAddr::V6("2001:db8::100".parse().unwrap());
    v3_frame(vrid, vec![addr], IpAddr::V6(SRC6))
}

/// IPv4 frame with another TTL (header checksum recomputed, so the stack accepts it too).
pub fn with_ttl(mut f: Vec<u8>, ttl: u8) -> Vec<u8> {
    f[14 + 8] = ttl;
    f[24] = 0;
    f[25] = 0;
    let sum: u32 = f[14..34]
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    let folded = (sum & 0xffff) + (sum >> 16);
    let csum = !(((folded & 0xffff) + (folded >> 16)) as u16);
    f[24..26].copy_from_slice(&csum.to_be_bytes());
    f
}

/// IPv4 frame whose VRRP version nibble is `v`.
pub fn with_version(mut f: Vec<u8>, v: u8) -> Vec<u8> {
    f[34] = (v << 4) | (f[34] & 0x0f);
    f
}

/// Inserts an 802.1Q tag with VLAN id `vid` (outside any tags already there).
pub fn with_vlan(f: Vec<u8>, vid: u16) -> Vec<u8> {
    with_tag(f, 0x8100, vid)
}

/// Inserts a VLAN tag `tpid` (0x8100, 0x88a8, ...) with TCI `tci` after the MAC addresses,
/// i.e. outside any tags already there.
pub fn with_tag(f: Vec<u8>, tpid: u16, tci: u16) -> Vec<u8> {
    let mut out = f[..12].to_vec();
    out.extend_from_slice(&tpid.to_be_bytes());
    out.extend_from_slice(&tci.to_be_bytes());
    out.extend_from_slice(&f[12..]);
    out
}

/// Inserts an 8-byte hop-by-hop options header (PadN) into an untagged IPv6 frame.
pub fn with_hop_by_hop(f: Vec<u8>) -> Vec<u8> {
    with_ext_header(f, 0, 0)
}

/// Inserts an IPv6 extension header of type `kind` right after the fixed header of an
/// untagged IPv6 frame: `8 * (units + 1)` bytes (PadN filling the body; for a fragment or
/// routing header the body is zero apart from the next-header and length bytes), payload
/// length adjusted.
pub fn with_ext_header(f: Vec<u8>, kind: u8, units: u8) -> Vec<u8> {
    let mut out = f[..54].to_vec();
    let next = out[14 + 6];
    out[14 + 6] = kind;
    let len = (usize::from(units) + 1) * 8;
    let plen = u16::from_be_bytes([out[18], out[19]]) + len as u16;
    out[18..20].copy_from_slice(&plen.to_be_bytes());
    let mut ext = vec![0u8; len];
    ext[0] = next;
    ext[1] = units;
    if kind == 0 || kind == 60 {
        // PadN over the rest of the header.
        ext[2] = 1;
        ext[3] = (len - 4) as u8;
    }
    out.extend_from_slice(&ext);
    out.extend_from_slice(&f[54..]);
    out
}

pub fn arp_frame() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x08, 0x06]);
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 192, 0, 2, 2]);
    f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 192, 0, 2, 1]);
    f
}

/// Every pending event of `worker`'s ring.
pub fn drain_all(fp: &mut FastPath, worker: u32) -> Vec<VrrpEvent> {
    let mut out = Vec::new();
    fp.drain(worker, usize::MAX, |e| out.push(*e))
        .expect("drain");
    out
}

pub fn counters(fp: &FastPath) -> Counters {
    fp.counters().expect("read counters")
}
