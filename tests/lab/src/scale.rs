//! Scale topology: two router namespaces, A (intended Master) and B (Backup), joined
//! directly by `ceil(N / 250)` veth pairs `s0`, `s1`, ... Pair `k` carries VRIDs
//! `1..=250` (groups `250·k .. 250·k + 249`), A is `172.16.k.1/24` and B `172.16.k.2/24`
//! on it, and group (k, vrid) has the VIP `10.k.vrid.1/32`.
//!
//! Virtual routers use `iftype = ether` (the VIP goes on the veth itself): a macvlan per
//! group would mean 10,000 extra net devices per namespace, which measures the kernel more
//! than the daemon. IPv6 is disabled on the links (no ND/MLD chatter in the captures).
//!
//! Everything is removed on drop: the processes started by the caller are [`Proc`]s (dropped
//! by their owners), namespaces are deleted here.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cmd::{ip, outcome, require_tool, run, run_in};
use crate::config::rvrrpd::{RvrrpdConf, VRouter};
use crate::error::{io_ctx, LabError, Result};
use crate::names::unique_prefix;
use crate::proc::{Proc, Signal};
use crate::wait::wait_until;

/// VRIDs per interface (1..=250 on every pair).
pub const VRIDS_PER_LINK: usize = 250;
/// Most groups a topology can carry (pairs `s0`..`s254`).
pub const MAX_GROUPS: usize = 255 * VRIDS_PER_LINK;

/// Which router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The intended Master (priority 200).
    A,
    /// The Backup (priority 100).
    B,
}

/// One VRRP group of the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Group {
    /// Veth pair index.
    pub link: usize,
    /// VRID on that pair.
    pub vrid: u8,
}

impl Group {
    /// Group number `i` (0-based) of a topology.
    pub fn nth(i: usize) -> Group {
        Group {
            link: i / VRIDS_PER_LINK,
            vrid: (i % VRIDS_PER_LINK + 1) as u8,
        }
    }
    /// Interface name of its pair (same name in both namespaces).
    pub fn ifname(&self) -> String {
        link_name(self.link)
    }
    /// Its VIP.
    pub fn vip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, self.link as u8, self.vrid, 1)
    }
    /// The source address of `side`'s adverts for this group.
    pub fn src(&self, side: Side) -> Ipv4Addr {
        router_ip(self.link, side)
    }
}

/// Interface name of pair `k`.
pub fn link_name(k: usize) -> String {
    format!("s{k}")
}

/// Address of `side` on pair `k`.
pub fn router_ip(k: usize, side: Side) -> Ipv4Addr {
    Ipv4Addr::new(
        172,
        16,
        k as u8,
        match side {
            Side::A => 1,
            Side::B => 2,
        },
    )
}

/// The groups `0..n`.
pub fn groups(n: usize) -> Vec<Group> {
    (0..n).map(Group::nth).collect()
}

/// The two namespaces and their links; deleted on drop.
#[derive(Debug)]
pub struct ScaleTopo {
    prefix: String,
    dir: PathBuf,
    /// Namespace of router A.
    pub ns_a: String,
    /// Namespace of router B.
    pub ns_b: String,
    /// Number of veth pairs.
    pub links: usize,
    /// Number of groups.
    pub groups: usize,
    created: Vec<String>,
    keep: bool,
}

impl ScaleTopo {
    /// Creates the namespaces and `ceil(groups / 250)` veth pairs with their addresses.
    pub fn build(groups: usize) -> Result<ScaleTopo> {
        if groups == 0 || groups > MAX_GROUPS {
            return Err(LabError::Other(format!(
                "groups must be in 1..={MAX_GROUPS}, not {groups}"
            )));
        }
        crate::lab::cleanup_stale();
        let prefix = unique_prefix();
        let dir = std::env::temp_dir().join("rvrrpd-scale").join(&prefix);
        std::fs::create_dir_all(&dir).map_err(io_ctx(format!("creating {}", dir.display())))?;
        let links = groups.div_ceil(VRIDS_PER_LINK);
        let mut t = ScaleTopo {
            ns_a: format!("{prefix}-a"),
            ns_b: format!("{prefix}-b"),
            prefix,
            dir,
            links,
            groups,
            created: Vec::new(),
            keep: std::env::var_os("RVRRPD_LAB_KEEP").is_some(),
        };
        for ns in [t.ns_a.clone(), t.ns_b.clone()] {
            run(&["ip", "netns", "add", &ns])?;
            t.created.push(ns.clone());
            run_in(
                &ns,
                &[
                    "sysctl",
                    "-qw",
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1",
                ],
            )?;
        }
        // One `ip -batch` per namespace: thousands of `ip` processes would take seconds.
        let mut ba = String::from("link set lo up\n");
        let mut bb = String::from("link set lo up\n");
        for k in 0..links {
            let n = link_name(k);
            ba.push_str(&format!(
                "link add {n} type veth peer name {n} netns {}\n",
                t.ns_b
            ));
        }
        t.batch(Side::A, &ba)?;
        ba.clear();
        for k in 0..links {
            let n = link_name(k);
            ba.push_str(&format!(
                "addr add {}/24 dev {n}\nlink set {n} up\n",
                router_ip(k, Side::A)
            ));
            bb.push_str(&format!(
                "addr add {}/24 dev {n}\nlink set {n} up\n",
                router_ip(k, Side::B)
            ));
        }
        t.batch(Side::A, &ba)?;
        t.batch(Side::B, &bb)?;
        Ok(t)
    }

    /// Moves each link's receive processing out of the sender's context: GRO on (a veth then
    /// receives through its own NAPI instance, as it does anyway with an XDP program) and
    /// threaded NAPI (that instance runs in a kernel thread `napi/s<k>-<id>`). By default a
    /// veth receives in the softirq of the *sending* task, so each router's CPU includes its
    /// peer's receive path; with this, each daemon is charged its own work, as with real NICs,
    /// and the receive work is measured apart ([`crate::procstat::napi_usage`]).
    pub fn thread_napi(&self) -> Result<()> {
        for side in [Side::A, Side::B] {
            let script: String = (0..self.links)
                .map(|k| {
                    let n = link_name(k);
                    format!("ethtool -K {n} gro on && echo 1 > /sys/class/net/{n}/threaded && ")
                })
                .collect::<String>()
                + "true";
            crate::cmd::run(&["ip", "netns", "exec", self.ns(side), "sh", "-c", &script])?;
        }
        Ok(())
    }

    /// Runs `ip -n NS -batch` with `text` in `side`'s namespace.
    pub fn batch(&self, side: Side, text: &str) -> Result<()> {
        let file = self.dir.join(format!("batch-{}.ip", self.ns(side)));
        std::fs::write(&file, text).map_err(io_ctx(format!("writing {}", file.display())))?;
        ip(self.ns(side), &["-batch", &file.to_string_lossy()]).map(|_| ())
    }

    /// How many of `vips` are assigned in `side`'s namespace.
    pub fn held(&self, side: Side, vips: &std::collections::HashSet<std::net::IpAddr>) -> usize {
        crate::kernel::addresses(self.ns(side), None)
            .map(|a| a.iter().filter(|a| vips.contains(&a.addr)).count())
            .unwrap_or(0)
    }

    /// The namespace of `side`.
    pub fn ns(&self, side: Side) -> &str {
        match side {
            Side::A => &self.ns_a,
            Side::B => &self.ns_b,
        }
    }

    /// The unique prefix of this topology's names.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Directory for configs, logs and captures.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A path in [`ScaleTopo::dir`].
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Keeps the directory (configs, logs, captures) after drop.
    pub fn keep_files(&mut self) {
        self.keep = true;
    }

    /// Spawns `argv` in `side`'s namespace with logs under `name` in [`ScaleTopo::dir`].
    pub fn spawn(&self, side: Side, name: &str, argv: &[String]) -> Result<Proc> {
        Proc::spawn(Some(self.ns(side)), name, &self.dir, argv)
    }

    /// Starts a capture of the VRRP adverts `side` sends (all its links, outgoing only, so the
    /// receiving side's XDP program cannot hide them), `-B` KiB of kernel buffer.
    pub fn capture_out(&self, side: Side, name: &str, buffer_kib: u32) -> Result<ScaleCapture> {
        let tcpdump = require_tool("tcpdump", "apt-get install tcpdump")?;
        let file = self.path(&format!("{name}.pcap"));
        let argv: Vec<String> = vec![
            tcpdump.to_string_lossy().into_owned(),
            "-i".into(),
            "any".into(),
            "-Q".into(),
            "out".into(),
            "-n".into(),
            "-U".into(),
            "-B".into(),
            buffer_kib.to_string(),
            "-Z".into(),
            "root".into(),
            "-s".into(),
            "96".into(),
            "-w".into(),
            file.to_string_lossy().into_owned(),
            "ip proto 112".into(),
        ];
        let mut proc = self.spawn(side, &format!("tcpdump-{name}"), &argv)?;
        let ok = wait_until(
            "tcpdump to listen",
            Duration::from_secs(10),
            Duration::from_millis(20),
            || proc.stderr().contains("listening on") || !proc.is_running(),
        );
        if ok.is_err() || !proc.is_running() {
            return Err(LabError::Other(format!(
                "tcpdump did not start: {}",
                proc.output()
            )));
        }
        Ok(ScaleCapture { proc, file })
    }
}

impl Drop for ScaleTopo {
    fn drop(&mut self) {
        // Deleting a namespace also deletes its veth ends (and so the pairs).
        for ns in self.created.iter().rev() {
            let _ = outcome(None, &["ip", "netns", "del", ns]);
        }
        if self.keep || std::thread::panicking() {
            eprintln!("rvrrpd-scale: files kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A tcpdump writing adverts to a pcap file.
#[derive(Debug)]
pub struct ScaleCapture {
    proc: Proc,
    file: PathBuf,
}

impl ScaleCapture {
    /// The pcap file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Stops tcpdump (SIGINT flushes) and returns its statistics line(s) from stderr, e.g.
    /// `0 packets dropped by kernel`.
    pub fn stop(&mut self) -> Result<String> {
        if self.proc.is_running() {
            self.proc.signal(Signal::Int)?;
            if self.proc.wait_exit(Duration::from_secs(10)).is_err() {
                self.proc.stop(Duration::from_secs(1))?;
            }
        }
        Ok(self
            .proc
            .stderr()
            .lines()
            .filter(|l| l.contains("packets"))
            .collect::<Vec<_>>()
            .join("; "))
    }

    /// Packets the kernel dropped, from tcpdump's final statistics (after [`ScaleCapture::stop`]).
    pub fn dropped(&self) -> Option<u64> {
        self.proc
            .stderr()
            .lines()
            .find(|l| l.contains("dropped by kernel"))
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
    }
}

/// The rvrrpd configuration of `side` for groups `0..n`: one `[[vrouter]]` per group,
/// `iftype` ether, preemption on, priority 200 (A) or 100 (B).
pub fn rvrrpd_conf(
    dir: &Path,
    name: &str,
    side: Side,
    n: usize,
    version: u8,
    interval: f64,
) -> RvrrpdConf {
    let prio = match side {
        Side::A => 200,
        Side::B => 100,
    };
    let mut c = RvrrpdConf::new(dir, name);
    c.debug = Some(0);
    for g in groups(n) {
        c.vrouters.push(
            VRouter::new(g.vrid, &g.ifname(), format!("{}/32", g.vip()))
                .priority(prio)
                .preemption(true)
                .version(version)
                .advert(interval),
        );
    }
    c
}

/// keepalived.conf text for `side` and groups `0..n`: one `vrrp_instance` per group, both
/// routers starting in BACKUP (like rvrrpd), preemption on, no scripts, one GARP burst.
/// `rt_priority`: `vrrp_rt_priority` (real-time scheduling of the VRRP process), none by
/// default; with it, `vrrp_rlimit_rttime` is raised to 5 s: keepalived's default (10 ms of CPU
/// without blocking) gets its VRRP process SIGKILLed when hundreds of instances change state
/// at once ("has rlimit_rttime been exceeded?").
pub fn keepalived_conf(
    side: Side,
    n: usize,
    version: u8,
    interval: f64,
    rt_priority: Option<u8>,
) -> String {
    let prio = match side {
        Side::A => 200,
        Side::B => 100,
    };
    let rt = rt_priority
        .map(|p| format!("    vrrp_rt_priority {p}\n    vrrp_rlimit_rttime 5000000\n"))
        .unwrap_or_default();
    let mut o = format!(
        "global_defs {{\n    router_id scale_{side:?}\n    vrrp_version {version}\n    \
         vrrp_garp_master_delay 0\n    vrrp_garp_master_repeat 1\n    \
         vrrp_garp_master_refresh 0\n    enable_script_security\n{rt}}}\n"
    );
    for g in groups(n) {
        o.push_str(&format!(
            "vrrp_instance G{}_{} {{\n    state BACKUP\n    interface {}\n    \
             virtual_router_id {}\n    priority {prio}\n    advert_int {interval}\n    \
             virtual_ipaddress {{\n        {}/32\n    }}\n}}\n",
            g.link,
            g.vrid,
            g.ifname(),
            g.vrid,
            g.vip()
        ));
    }
    o
}

/// Runs keepalived (VRRP only, foreground, console log, no syslog) with `conf` in `side`'s
/// namespace, its pid files in the topology directory.
pub fn spawn_keepalived(topo: &ScaleTopo, side: Side, name: &str, conf: &str) -> Result<Proc> {
    let argv = crate::config::keepalived::write_and_argv(name, conf, |f| topo.path(f))?;
    topo.spawn(side, name, &argv)
}

/// Runs rvrrpd (foreground, info level) with `conf` in `side`'s namespace; `head` is TOML put
/// before the configuration (top-level directives such as `realtime_priority = 10`).
pub fn spawn_rvrrpd(
    topo: &ScaleTopo,
    side: Side,
    bin: &Path,
    name: &str,
    conf: &RvrrpdConf,
    head: &str,
    extra: &[String],
) -> Result<Proc> {
    let file = topo.path(&format!("{name}.toml"));
    std::fs::write(&file, format!("{head}{}", conf.to_toml()))
        .map_err(io_ctx(format!("writing {}", file.display())))?;
    let mut argv = vec![
        bin.to_string_lossy().into_owned(),
        "-m".into(),
        "1".into(),
        "-c".into(),
        file.to_string_lossy().into_owned(),
        "-d".into(),
        "0".into(),
    ];
    argv.extend(extra.iter().cloned());
    topo.spawn(side, name, &argv)
}

/// Counts state-change lines in a daemon's output: rvrrpd's `X -> Master` / `X -> Backup`
/// and keepalived's `Entering MASTER STATE` / `Entering BACKUP STATE`.
pub fn count_transitions(log: &str) -> (usize, usize) {
    let mut master = 0;
    let mut backup = 0;
    for l in log.lines() {
        if l.contains("-> Master") || l.contains("Entering MASTER STATE") {
            master += 1;
        } else if l.contains("-> Backup") || l.contains("Entering BACKUP STATE") {
            backup += 1;
        }
    }
    (master, backup)
}

/// `K` busy-loop processes (`sh -c 'while :; do :; done'`) on the host, each in its own
/// process group; killed on drop.
#[derive(Debug)]
pub struct Hogs {
    procs: Vec<Proc>,
}

impl Hogs {
    /// Starts `k` hogs with logs in `dir`.
    pub fn start(k: usize, dir: &Path) -> Result<Hogs> {
        let mut procs = Vec::with_capacity(k);
        for i in 0..k {
            let argv: Vec<String> = ["sh", "-c", "while :; do :; done"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            procs.push(Proc::spawn(None, &format!("hog{i}"), dir, &argv)?);
        }
        Ok(Hogs { procs })
    }

    /// Their pids.
    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(Proc::pid).collect()
    }

    /// Kills them (SIGKILL, by pid) and reaps them.
    pub fn stop(&mut self) {
        for p in &mut self.procs {
            let _ = p.signal(Signal::Kill);
            let _ = p.wait_exit(Duration::from_secs(2));
        }
        self.procs.clear();
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering() {
        assert_eq!(Group::nth(0), Group { link: 0, vrid: 1 });
        assert_eq!(Group::nth(249), Group { link: 0, vrid: 250 });
        assert_eq!(Group::nth(250), Group { link: 1, vrid: 1 });
        assert_eq!(Group::nth(9999).vip(), Ipv4Addr::new(10, 39, 250, 1));
        assert_eq!(Group::nth(300).src(Side::B), Ipv4Addr::new(172, 16, 1, 2));
    }

    #[test]
    fn configs() {
        let c = rvrrpd_conf(Path::new("/tmp"), "a", Side::A, 3, 3, 0.01);
        let t = c.to_toml();
        assert_eq!(t.matches("[[vrouter]]").count(), 3);
        assert!(t.contains("timers = { advert = 0.01 }"));
        assert!(t.contains("priority = 200"));
        let k = keepalived_conf(Side::B, 251, 2, 1.0, Some(10));
        assert_eq!(k.matches("vrrp_instance").count(), 251);
        assert!(k.contains("vrrp_instance G1_1 {"));
        assert!(k.contains("10.1.1.1/32"));
        assert!(k.contains("vrrp_rt_priority 10"));
        assert_eq!(
            count_transitions("x: Backup -> Master (t)\nVI (G0_1) Entering BACKUP STATE\n"),
            (1, 1)
        );
    }
}
