//! eBPF fast path: loads `rvrrpd-ebpf`, attaches the XDP demultiplexer `vrrp_demux` to
//! interfaces, maintains its `(ifindex, VRID, family) → worker` map, and hands each worker the
//! adverts for its groups through a per-worker ring buffer.
//!
//! ```text
//! FastPath::load(&FastPathConfig::new(workers))   object → maps created (no program yet)
//!   .attach("eth0")                               load + verify vrrp_demux, attach (driver,
//!                                                 falling back to skb), report the mode
//!   .set_group(DemuxKey::new(ifindex, vrid, FAMILY_V4), worker, 0)
//!   .take_ring(worker)  → WorkerRing              move to the worker thread; its fd goes
//!                                                 into that worker's epoll set
//! worker: ring.drain(64, |ev: &VrrpEvent| ...)    batch read, then codec parse + verify
//! drop(FastPath)                                  detaches everything (bpf_link fds close)
//! ```
//!
//! The object is found, in order, at `$RVRRPD_EBPF_OBJECT`, at [`DEV_OBJECT`] (what
//! `cargo xtask build-ebpf --release` produces in this source tree) and at
//! [`INSTALLED_OBJECT`]. It is read at run time rather than embedded by a build script, so a
//! plain `cargo build` never needs the nightly toolchain or bpf-linker, and packagers ship
//! the object beside the daemon.
//!
//! When the fast path is unavailable, [`FastPath::probe`] says why (object missing, missing
//! privileges, verifier rejection, attach refused) so the daemon can log
//! `falling back to classic BPF: <reason>`. For hosts where XDP cannot attach at all, the same
//! object carries a socket filter (`vrrp_sock_filter`) that [`FastPath::attach_socket_filter`]
//! puts on the classic raw socket: the kernel then keeps only valid adverts of configured
//! groups (same demux map, same counters).
//!
//! Counters are per-CPU and only count VRRP packets; see [`Counter`].
//!
//! No `unsafe` here: ring records are decoded with [`VrrpEvent::from_bytes`], privileges are
//! read from `/proc/self/status`.

mod demux;
mod error;
mod noaccept;
mod peers;
mod suppress;
mod tx;

use crate::net::sys::SharedWords;
use error::map_err;
pub use error::{XdpError, XdpResult};
use rvrrpd_common::BPF_F_MMAPABLE;
pub use suppress::{SuppressSlot, SuppressTable};
pub use tx::{TxError, XdpTx};

use std::collections::BTreeMap;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aya::maps::{HashMap as BpfHashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{SocketFilter, TestRun, TestRunOptions, TestRunResult, Xdp, XdpMode};
use aya::{Ebpf, EbpfLoader};
pub use rvrrpd_common::{
    Counter, DemuxKey, DemuxValue, VrrpEvent, FAMILY_V4, FAMILY_V6, FLAG_PASS, FLAG_UNICAST,
    MAX_DEMUX_BLOCKS, MAX_VRRP_LEN, MAX_WORKERS, NUM_COUNTERS, RING_BYTES,
};
use rvrrpd_common::{
    COUNTERS_MAP, DEMUX_ARRAY_MAP, DEMUX_MAP, IFBLOCK_MAP, RING_MAP_NAMES, SOCKET_FILTER_PROGRAM,
    SUPPRESS_MAP, XDP_PROGRAM,
};

/// Environment variable that overrides where the eBPF object is read from.
pub const OBJECT_ENV: &str = "RVRRPD_EBPF_OBJECT";
/// The object as built by `cargo xtask build-ebpf --release` in this source tree.
pub const DEV_OBJECT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../target/bpf/bpfel-unknown-none/release/rvrrpd-ebpf"
);
/// Where packages install the object.
pub const INSTALLED_OBJECT: &str = "/usr/lib/rvrrpd/rvrrpd-ebpf.o";

/// Size given to the ring buffers of unused worker slots (one page: the kernel minimum).
const UNUSED_RING_BYTES: u32 = 4096;

/// How `vrrp_demux` is attached to an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttachMode {
    /// Native XDP, run by the driver before any skb is allocated.
    Driver,
    /// Generic XDP, run by the kernel stack (works on every device, slower).
    Skb,
}

impl fmt::Display for AttachMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttachMode::Driver => "driver (native XDP)",
            AttachMode::Skb => "skb (generic XDP)",
        })
    }
}

/// Which attach modes to try.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ModePolicy {
    /// Driver, falling back to skb.
    #[default]
    Auto,
    /// Driver only.
    Driver,
    /// Skb only.
    Skb,
}

/// What [`FastPath::load`] needs.
#[derive(Clone, Debug)]
pub struct FastPathConfig {
    /// The eBPF object; `None` searches ([`FastPath::find_object`]).
    pub object: Option<PathBuf>,
    /// Worker count (≤ [`MAX_WORKERS`]): rings `0..workers` are sized `ring_bytes`, the others
    /// one page.
    pub workers: u32,
    /// Bytes per worker ring: a power of two, ≥ 4096.
    pub ring_bytes: u32,
}

impl FastPathConfig {
    /// `workers` rings of [`RING_BYTES`], object searched.
    pub fn new(workers: u32) -> Self {
        Self {
            object: None,
            workers,
            ring_bytes: RING_BYTES,
        }
    }
}

/// Summed per-CPU counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters(pub [u64; NUM_COUNTERS as usize]);

impl Counters {
    /// One counter.
    pub fn get(&self, c: Counter) -> u64 {
        self.0[c.index() as usize]
    }

    /// `(name, value)` pairs in index order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Counter::ALL.iter().map(|c| (c.name(), self.get(*c)))
    }
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name}={v}")?;
        }
        Ok(())
    }
}

/// The programs' per-CPU counters, readable from any thread.
pub struct CounterMap(std::sync::Mutex<PerCpuArray<MapData, u64>>);

impl CounterMap {
    /// Counters summed over CPUs (one map lookup per counter).
    pub fn read(&self) -> XdpResult<Counters> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Counters::default();
        for c in Counter::ALL {
            let per_cpu = map
                .get(&c.index(), 0)
                .map_err(map_err(COUNTERS_MAP, "read"))?;
            out.0[c.index() as usize] = per_cpu.iter().copied().fold(0u64, u64::wrapping_add);
        }
        Ok(out)
    }
}

/// One worker's ring buffer: epoll its fd (readable = events pending), then [`drain`].
///
/// `Send`: move it to the worker thread that owns the groups mapped to this worker.
///
/// [`drain`]: WorkerRing::drain
pub struct WorkerRing {
    worker: u32,
    ring: RingBuf<MapData>,
    suppress: Arc<SuppressTable>,
}

impl fmt::Debug for WorkerRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerRing")
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

impl WorkerRing {
    /// The worker index.
    pub fn worker(&self) -> u32 {
        self.worker
    }

    /// The table where the worker keeps its groups' accepted adverts.
    pub fn suppress_table(&self) -> Arc<SuppressTable> {
        self.suppress.clone()
    }

    /// Reads up to `max` events, calling `f` for each; returns how many were read.
    /// Never blocks. Records too short to be an event (never written by our program) are
    /// consumed and skipped.
    pub fn drain(&mut self, max: usize, f: impl FnMut(&VrrpEvent)) -> usize {
        drain_ring(&mut self.ring, max, f)
    }
}

impl AsFd for WorkerRing {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.ring.as_fd()
    }
}

fn drain_ring(ring: &mut RingBuf<MapData>, max: usize, mut f: impl FnMut(&VrrpEvent)) -> usize {
    let mut n = 0;
    while n < max {
        let Some(item) = ring.next() else { break };
        if let Some(ev) = VrrpEvent::from_bytes(&item) {
            f(&ev);
        }
        n += 1;
    }
    n
}

/// One interface the XDP program is attached to.
#[derive(Debug)]
struct Attachment {
    ifindex: u32,
    mode: AttachMode,
    link: aya::programs::xdp::XdpLinkId,
}

/// The loaded eBPF object: XDP demux, socket filter, maps. Detaches everything on drop.
pub struct FastPath {
    // Declared first so programs (and their links) are dropped before the maps.
    ebpf: Ebpf,
    object: PathBuf,
    workers: u32,
    demux: demux::DemuxTables,
    counters: Arc<CounterMap>,
    suppress: Arc<SuppressTable>,
    rings: Vec<Option<RingBuf<MapData>>>,
    attached: BTreeMap<String, Attachment>,
    xdp_loaded: bool,
    sock_loaded: bool,
    /// The transmit program and stages, once [`xdp_tx`](Self::xdp_tx) loaded them.
    tx: Option<Arc<XdpTx>>,
    /// What `PEERS` holds, per group: only [`set_peers`](Self::set_peers) writes the map (it
    /// is created empty at load), so stale peers are found here and not by walking the map —
    /// a walk of the whole hash table per group made a 10,000-group start-up quadratic.
    peer_keys: std::collections::HashMap<DemuxKey, Vec<rvrrpd_common::PeerKey>>,
}

impl fmt::Debug for FastPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FastPath")
            .field("object", &self.object)
            .field("workers", &self.workers)
            .field("attached", &self.attached)
            .finish_non_exhaustive()
    }
}

impl FastPath {
    /// Finds the eBPF object: `$RVRRPD_EBPF_OBJECT` (which must then exist), [`DEV_OBJECT`],
    /// [`INSTALLED_OBJECT`].
    pub fn find_object() -> XdpResult<PathBuf> {
        if let Some(p) = std::env::var_os(OBJECT_ENV) {
            let p = PathBuf::from(p);
            return if p.is_file() {
                Ok(p)
            } else {
                Err(XdpError::ObjectMissing {
                    searched: format!("{OBJECT_ENV}={}", p.display()),
                })
            };
        }
        [DEV_OBJECT, INSTALLED_OBJECT]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| XdpError::ObjectMissing {
                searched: format!("{DEV_OBJECT}, {INSTALLED_OBJECT}"),
            })
    }

    /// Checks the privileges eBPF needs, from the effective capability set.
    pub fn check_privileges() -> XdpResult<()> {
        let status = std::fs::read_to_string("/proc/self/status")
            .map_err(|e| XdpError::NotPrivileged(format!("reading /proc/self/status: {e}")))?;
        let caps = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .ok_or_else(|| XdpError::NotPrivileged("no CapEff in /proc/self/status".into()))?;
        const CAP_NET_ADMIN: u32 = 12;
        const CAP_SYS_ADMIN: u32 = 21;
        const CAP_BPF: u32 = 39;
        let has = |c: u32| caps & (1u64 << c) != 0;
        if !(has(CAP_BPF) || has(CAP_SYS_ADMIN)) {
            return Err(XdpError::NotPrivileged("missing CAP_BPF".into()));
        }
        if !has(CAP_NET_ADMIN) {
            return Err(XdpError::NotPrivileged("missing CAP_NET_ADMIN".into()));
        }
        Ok(())
    }

    /// Whether the fast path can run on `ifnames`: finds the object, checks privileges, loads
    /// and verifies the program and attaches it to each interface (then detaches it again).
    /// Returns the mode each interface would get; the error is the reason to log before
    /// falling back to classic BPF.
    /// `cfg` is the configuration the daemon will load with (its rings are shrunk for the
    /// probe).
    pub fn probe(cfg: &FastPathConfig, ifnames: &[&str]) -> XdpResult<Vec<(String, AttachMode)>> {
        let mut fp = FastPath::load(&FastPathConfig {
            ring_bytes: UNUSED_RING_BYTES,
            ..cfg.clone()
        })?;
        fp.load_xdp()?;
        let mut modes = Vec::with_capacity(ifnames.len());
        for name in ifnames {
            modes.push((name.to_string(), fp.attach(name)?));
        }
        Ok(modes)
    }

    /// Loads the object and creates its maps. Programs are verified on first attach
    /// ([`attach`](Self::attach), [`attach_socket_filter`](Self::attach_socket_filter)) or by
    /// [`load_xdp`](Self::load_xdp).
    pub fn load(cfg: &FastPathConfig) -> XdpResult<FastPath> {
        let object = match &cfg.object {
            Some(p) if p.is_file() => p.clone(),
            Some(p) => {
                return Err(XdpError::ObjectMissing {
                    searched: p.display().to_string(),
                })
            }
            None => Self::find_object()?,
        };
        Self::check_privileges()?;
        let workers = cfg.workers.clamp(1, MAX_WORKERS as u32);
        let bad_object = |what: String| XdpError::BadObject {
            path: object.clone(),
            what,
        };
        if !cfg.ring_bytes.is_power_of_two() || cfg.ring_bytes < UNUSED_RING_BYTES {
            return Err(bad_object(format!(
                "ring_bytes {} is not a power of two >= 4096",
                cfg.ring_bytes
            )));
        }
        let mut loader = EbpfLoader::new();
        for (i, name) in RING_MAP_NAMES.iter().enumerate() {
            let size = if (i as u32) < workers {
                cfg.ring_bytes
            } else {
                UNUSED_RING_BYTES
            };
            loader.map_max_entries(name, size);
        }
        let mut ebpf = loader.load_file(&object).map_err(|source| XdpError::Load {
            path: object.clone(),
            source: Box::new(source),
        })?;
        let mut take = |name: &'static str| {
            ebpf.take_map(name)
                .ok_or_else(|| bad_object(format!("map {name} missing")))
        };
        let demux = demux::DemuxTables::new(
            BpfHashMap::try_from(take(DEMUX_MAP)?)
                .map_err(|e| bad_object(format!("map {DEMUX_MAP}: {e}")))?,
            BpfHashMap::try_from(take(IFBLOCK_MAP)?)
                .map_err(|e| bad_object(format!("map {IFBLOCK_MAP}: {e}")))?,
            aya::maps::Array::try_from(take(DEMUX_ARRAY_MAP)?)
                .map_err(|e| bad_object(format!("map {DEMUX_ARRAY_MAP}: {e}")))?,
        );
        let counters = PerCpuArray::try_from(take(COUNTERS_MAP)?)
            .map_err(|e| bad_object(format!("map {COUNTERS_MAP}: {e}")))?;
        let suppress = match take(SUPPRESS_MAP)? {
            aya::maps::Map::Array(m) => SuppressTable::open(m),
            _ => Err("not an array".to_string()),
        }
        .map_err(|e| bad_object(format!("map {SUPPRESS_MAP}: {e}")))?;
        let mut rings = Vec::with_capacity(workers as usize);
        for name in RING_MAP_NAMES.iter().take(workers as usize) {
            let ring = RingBuf::try_from(take(name)?)
                .map_err(|e| bad_object(format!("map {name}: {e}")))?;
            rings.push(Some(ring));
        }
        Ok(FastPath {
            ebpf,
            object,
            workers,
            demux,
            counters: Arc::new(CounterMap(std::sync::Mutex::new(counters))),
            suppress: Arc::new(suppress),
            rings,
            attached: BTreeMap::new(),
            xdp_loaded: false,
            sock_loaded: false,
            tx: None,
            peer_keys: std::collections::HashMap::new(),
        })
    }

    /// The object's map `name` (the object predates this daemon if it has none).
    fn map_data(&mut self, name: &'static str) -> XdpResult<&mut aya::maps::Map> {
        let object = self.object.clone();
        self.ebpf.map_mut(name).ok_or_else(|| XdpError::BadObject {
            path: object,
            what: format!("map {name} missing (object built by an older rvrrpd?)"),
        })
    }

    /// The object this was loaded from.
    pub fn object(&self) -> &Path {
        &self.object
    }

    /// Number of worker rings.
    pub fn workers(&self) -> u32 {
        self.workers
    }

    fn xdp(&mut self) -> XdpResult<&mut Xdp> {
        let object = &self.object;
        let prog = self
            .ebpf
            .program_mut(XDP_PROGRAM)
            .ok_or_else(|| XdpError::BadObject {
                path: object.clone(),
                what: format!("program {XDP_PROGRAM} missing"),
            })?;
        prog.try_into().map_err(|e| XdpError::BadObject {
            path: object.clone(),
            what: format!("program {XDP_PROGRAM}: {e}"),
        })
    }

    /// Loads `vrrp_demux` into the kernel (runs the verifier). Idempotent.
    pub fn load_xdp(&mut self) -> XdpResult<()> {
        if !self.xdp_loaded {
            self.xdp()?.load().map_err(|source| XdpError::Verify {
                program: XDP_PROGRAM,
                source: Box::new(source),
            })?;
            self.xdp_loaded = true;
        }
        Ok(())
    }

    /// Attaches `vrrp_demux` to `ifname`: driver mode, falling back to skb mode.
    pub fn attach(&mut self, ifname: &str) -> XdpResult<AttachMode> {
        self.attach_with(ifname, ModePolicy::Auto)
    }

    /// Attaches `vrrp_demux` to `ifname` with the given mode policy; returns the mode used.
    /// Attaching an interface already attached returns its mode.
    pub fn attach_with(&mut self, ifname: &str, policy: ModePolicy) -> XdpResult<AttachMode> {
        if let Some(a) = self.attached.get(ifname) {
            return Ok(a.mode);
        }
        let ifindex = crate::net::iface::ifindex(ifname)
            .map_err(|_| XdpError::UnknownInterface(ifname.to_string()))?;
        self.load_xdp()?;
        let modes: &[AttachMode] = match policy {
            ModePolicy::Auto => &[AttachMode::Driver, AttachMode::Skb],
            ModePolicy::Driver => &[AttachMode::Driver],
            ModePolicy::Skb => &[AttachMode::Skb],
        };
        let mut detail = Vec::new();
        for &mode in modes {
            let xdp_mode = match mode {
                AttachMode::Driver => XdpMode::Driver,
                AttachMode::Skb => XdpMode::Skb,
            };
            match self.xdp()?.attach_to_if_index(ifindex, xdp_mode) {
                Ok(link) => {
                    self.attached.insert(
                        ifname.to_string(),
                        Attachment {
                            ifindex,
                            mode,
                            link,
                        },
                    );
                    return Ok(mode);
                }
                Err(e) => detail.push(format!("{mode}: {}", error_chain(&e))),
            }
        }
        Err(XdpError::Attach {
            ifname: ifname.to_string(),
            ifindex,
            detail: detail.join("; "),
        })
    }

    /// Detaches `vrrp_demux` from `ifname` (no-op if not attached).
    pub fn detach(&mut self, ifname: &str) -> XdpResult<()> {
        let Some(a) = self.attached.remove(ifname) else {
            return Ok(());
        };
        self.xdp()?
            .detach(a.link)
            .map_err(|source| XdpError::Detach {
                ifname: ifname.to_string(),
                source: Box::new(source),
            })
    }

    /// Interfaces with the program attached: `(name, ifindex, mode)`.
    pub fn attached(&self) -> impl Iterator<Item = (&str, u32, AttachMode)> + '_ {
        self.attached
            .iter()
            .map(|(n, a)| (n.as_str(), a.ifindex, a.mode))
    }

    fn socket_filter(&mut self) -> XdpResult<&mut SocketFilter> {
        let object = &self.object;
        self.ebpf
            .program_mut(SOCKET_FILTER_PROGRAM)
            .ok_or_else(|| XdpError::BadObject {
                path: object.clone(),
                what: format!("program {SOCKET_FILTER_PROGRAM} missing"),
            })?
            .try_into()
            .map_err(|e| XdpError::BadObject {
                path: object.clone(),
                what: format!("program {SOCKET_FILTER_PROGRAM}: {e}"),
            })
    }

    /// Loads `vrrp_sock_filter` into the kernel (runs the verifier). Idempotent.
    pub fn load_socket_filter(&mut self) -> XdpResult<()> {
        if !self.sock_loaded {
            self.socket_filter()?
                .load()
                .map_err(|source| XdpError::Verify {
                    program: SOCKET_FILTER_PROGRAM,
                    source: Box::new(source),
                })?;
            self.sock_loaded = true;
        }
        Ok(())
    }

    /// Attaches the socket filter `vrrp_sock_filter` to a raw socket (AF_INET/AF_INET6 raw
    /// proto 112, or AF_PACKET): the socket then only receives valid adverts of groups in the
    /// demux map. Attach it before `bind()`. The filter goes away with the socket.
    pub fn attach_socket_filter(&mut self, socket: BorrowedFd<'_>) -> XdpResult<()> {
        self.load_socket_filter()?;
        self.socket_filter()?
            .attach(socket)
            .map_err(|e| XdpError::SocketFilter(Box::new(e)))
    }

    fn check_worker(&self, worker: u32) -> XdpResult<()> {
        if worker >= self.workers {
            return Err(XdpError::BadWorker {
                worker,
                workers: self.workers,
            });
        }
        Ok(())
    }

    /// Routes the group `key` to `worker` (insert or update, atomic for the kernel side).
    /// `flags`: [`FLAG_PASS`] to also hand the advert to the kernel stack, [`FLAG_UNICAST`]
    /// to admit only its peers ([`set_peers`](Self::set_peers) first). The group gets its
    /// [`SuppressTable`] slot (the same one every time for the same key).
    pub fn set_group(&mut self, key: DemuxKey, worker: u32, flags: u32) -> XdpResult<()> {
        self.check_worker(worker)?;
        let key = DemuxKey::new(key.ifindex, key.vrid, key.family);
        let slot = self
            .suppress
            .allocate(key)
            .unwrap_or(rvrrpd_common::NO_SLOT);
        self.demux
            .set(key, DemuxValue::with_slot(worker, flags, slot))
    }

    /// Stops routing the group (its adverts then count as `unknown_vrid`). Removing an
    /// absent group is not an error.
    pub fn remove_group(&mut self, key: DemuxKey) -> XdpResult<()> {
        self.demux
            .remove(DemuxKey::new(key.ifindex, key.vrid, key.family))
    }

    /// The worker a group is routed to, if any.
    pub fn group(&self, key: DemuxKey) -> XdpResult<Option<DemuxValue>> {
        self.demux
            .get(DemuxKey::new(key.ifindex, key.vrid, key.family))
    }

    /// How many interfaces have a demux block (an array the programs index by VRID instead
    /// of the hash of every group; see `xdp::demux`).
    pub fn demux_blocks(&self) -> usize {
        self.demux.blocks()
    }

    /// The table of the groups' accepted adverts (the kernel-resident Backup), shared with
    /// the workers and the API.
    pub fn suppress_table(&self) -> Arc<SuppressTable> {
        self.suppress.clone()
    }

    /// Counters summed over CPUs.
    pub fn counters(&self) -> XdpResult<Counters> {
        self.counters.read()
    }

    /// The counters' map, for readers on other threads (the API reads it per request).
    pub fn counter_map(&self) -> Arc<CounterMap> {
        self.counters.clone()
    }

    fn ring_mut(&mut self, worker: u32) -> XdpResult<&mut RingBuf<MapData>> {
        self.check_worker(worker)?;
        self.rings[worker as usize]
            .as_mut()
            .ok_or(XdpError::RingTaken(worker))
    }

    /// The fd of `worker`'s ring (readable when events are pending), for epoll.
    pub fn ring_fd(&self, worker: u32) -> XdpResult<BorrowedFd<'_>> {
        self.check_worker(worker)?;
        self.rings[worker as usize]
            .as_ref()
            .map(|r| r.as_fd())
            .ok_or(XdpError::RingTaken(worker))
    }

    /// Reads up to `max` events of `worker`'s ring (never blocks); returns how many.
    pub fn drain(
        &mut self,
        worker: u32,
        max: usize,
        f: impl FnMut(&VrrpEvent),
    ) -> XdpResult<usize> {
        Ok(drain_ring(self.ring_mut(worker)?, max, f))
    }

    /// Moves `worker`'s ring out, to be owned by that worker's thread. The maps stay alive
    /// as long as the ring does; the program keeps writing to it while this `FastPath` lives.
    pub fn take_ring(&mut self, worker: u32) -> XdpResult<WorkerRing> {
        self.check_worker(worker)?;
        let ring = self.rings[worker as usize]
            .take()
            .ok_or(XdpError::RingTaken(worker))?;
        Ok(WorkerRing {
            worker,
            ring,
            suppress: self.suppress.clone(),
        })
    }

    /// Runs `vrrp_demux` once on `frame` with `BPF_PROG_TEST_RUN`, as if it arrived on
    /// `ifindex` (which must exist in the current network namespace; 1 is loopback).
    /// Returns the XDP action (1 = DROP, 2 = PASS). Ring events and counters are real.
    pub fn test_run(&mut self, frame: &[u8], ifindex: u32) -> XdpResult<u32> {
        self.load_xdp()?;
        // struct xdp_md { data, data_end, data_meta, ingress_ifindex, rx_queue_index,
        // egress_ifindex }: the kernel wants data = 0, data_end = len, data_meta = 0.
        let mut ctx = [0u8; 24];
        ctx[4..8].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
        ctx[12..16].copy_from_slice(&ifindex.to_ne_bytes());
        run_once(self.xdp()?, XDP_PROGRAM, frame, &ctx, 1)
    }

    /// Runs `vrrp_sock_filter` once on the Ethernet frame `frame` with `BPF_PROG_TEST_RUN`,
    /// as if it arrived on `ifindex` (1, loopback, or another device of the current network
    /// namespace). The kernel strips the Ethernet header as the stack does (`eth_type_trans`),
    /// so the program sees the network header first, like on an AF_INET raw socket. Returns
    /// the filter's verdict: the number of bytes to keep, 0 to drop. Counters are real.
    pub fn test_run_socket_filter(&mut self, frame: &[u8], ifindex: u32) -> XdpResult<u32> {
        self.test_run_socket_filter_repeated(frame, ifindex, 1)
    }

    /// [`test_run_socket_filter`](Self::test_run_socket_filter) `repeat` times in a row in
    /// the kernel (as if the packet reached `repeat` sockets); the last verdict.
    pub fn test_run_socket_filter_repeated(
        &mut self,
        frame: &[u8],
        ifindex: u32,
        repeat: u32,
    ) -> XdpResult<u32> {
        self.load_socket_filter()?;
        // struct __sk_buff up to `ifindex` (offset 40); the kernel only accepts a few fields
        // and zero-fills the rest. ifindex <= 1 means loopback.
        let mut ctx = [0u8; 44];
        ctx[40..44].copy_from_slice(&ifindex.to_ne_bytes());
        run_once(
            self.socket_filter()?,
            SOCKET_FILTER_PROGRAM,
            frame,
            &ctx,
            repeat,
        )
    }
}

/// One `BPF_PROG_TEST_RUN` of `prog` (called `name`) on `frame` with context `ctx`; its
/// return value.
fn run_once<P>(
    prog: &P,
    name: &'static str,
    frame: &[u8],
    ctx: &[u8],
    repeat: u32,
) -> XdpResult<u32>
where
    P: for<'a> TestRun<Opts<'a> = TestRunOptions<'a>, Result = TestRunResult>,
{
    let opts = TestRunOptions {
        data_in: Some(frame),
        ctx_in: Some(ctx),
        repeat,
        ..TestRunOptions::new()
    };
    prog.test_run(opts)
        .map(|res| res.return_value)
        .map_err(|e| XdpError::TestRun(name, Box::new(e)))
}

/// `e` and its sources, joined with ": ".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(src) = cur {
        let t = src.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = src.source();
    }
    s
}

/// Maps the whole `BPF_F_MMAPABLE` array `map`, whose entries must be `value_size` bytes (a
/// multiple of 8): its words, and its entry count.
fn map_mmapable(map: &MapData, value_size: usize) -> Result<(SharedWords, u32), String> {
    let info = map.info().map_err(|e| format!("info: {e}"))?;
    if info.map_flags() & BPF_F_MMAPABLE == 0 {
        return Err("not created BPF_F_MMAPABLE".into());
    }
    if info.value_size() as usize != value_size {
        return Err(format!(
            "entries of {} bytes, expected {value_size}",
            info.value_size()
        ));
    }
    let entries = info.max_entries();
    let words = SharedWords::map(map.fd().as_fd(), entries as usize * value_size / 8)
        .map_err(|e| format!("mmap: {e}"))?;
    Ok((words, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_display_names_every_counter() {
        let mut c = Counters::default();
        c.0[Counter::BadTtl.index() as usize] = 3;
        let s = c.to_string();
        assert!(s.contains("bad_ttl=3"), "{s}");
        assert_eq!(s.split(' ').count(), NUM_COUNTERS as usize);
    }

    #[test]
    fn missing_object_names_the_path() {
        let err = FastPath::load(&FastPathConfig {
            object: Some(PathBuf::from("/nonexistent/rvrrpd-ebpf")),
            ..FastPathConfig::new(1)
        })
        .expect_err("object is missing");
        assert!(matches!(err, XdpError::ObjectMissing { .. }));
        assert!(
            err.to_string().contains("/nonexistent/rvrrpd-ebpf"),
            "{err}"
        );
    }
}
