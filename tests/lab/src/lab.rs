//! The lab topology: N router namespaces and one client namespace, each with an `eth0` veth
//! plugged into a bridge in a "switch" namespace. Everything is removed on drop, also when a
//! test panics (then the log directory is kept and its path printed).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::capture::Capture;
use crate::cmd::{ip, outcome, run, run_in};
use crate::error::{io_ctx, Result};
use crate::names::{creator_pid, unique_prefix, NS_PREFIX};
use crate::proc::Proc;

/// Name of every node's link to the switch.
pub const NODE_IF: &str = "eth0";

/// One host of the lab (a router or the client).
#[derive(Debug, Clone)]
pub struct Node {
    /// Short role name (`r1`, `r2`, ..., `cl`).
    pub name: String,
    /// Network namespace.
    pub ns: String,
    /// Interface towards the switch (always [`NODE_IF`]).
    pub ifname: String,
    /// Its IPv4 address (/24).
    pub ipv4: Ipv4Addr,
    /// Its global IPv6 address (/64).
    pub ipv6: Ipv6Addr,
    /// Its MAC address.
    pub mac: String,
    /// The bridge port (in the switch namespace) it is plugged into.
    pub port: String,
}

/// Builder for a [`Lab`].
#[derive(Debug, Clone)]
pub struct LabBuilder {
    routers: usize,
}

impl LabBuilder {
    /// Number of router namespaces (1..=9).
    pub fn routers(mut self, n: usize) -> Self {
        self.routers = n.clamp(1, 9);
        self
    }

    /// Creates the namespaces, the bridge, the links and the addresses.
    pub fn build(self) -> Result<Lab> {
        cleanup_stale();
        let prefix = unique_prefix();
        let dir = std::env::temp_dir().join("rvrrpd-lab").join(&prefix);
        std::fs::create_dir_all(&dir).map_err(io_ctx(format!("creating {}", dir.display())))?;
        let mut lab = Lab {
            switch_ns: format!("{prefix}-sw"),
            prefix: prefix.clone(),
            dir,
            routers: Vec::new(),
            client: node(&prefix, "cl", 100),
            namespaces: Vec::new(),
            keep: std::env::var_os("RVRRPD_LAB_KEEP").is_some(),
        };
        // From here on, a failure drops `lab`, which removes what was created.
        let sw = lab.switch_ns.clone();
        lab.add_ns(&sw)?;
        ip(
            &sw,
            &[
                "link",
                "add",
                "br0",
                "type",
                "bridge",
                "mcast_snooping",
                "0",
                "stp_state",
                "0",
                "forward_delay",
                "0",
            ],
        )?;
        ip(&sw, &["link", "set", "br0", "up"])?;
        for i in 1..=self.routers {
            let n = node(&prefix, &format!("r{i}"), i as u8);
            lab.attach(&n)?;
            lab.routers.push(n);
        }
        let cl = lab.client.clone();
        lab.attach(&cl)?;
        Ok(lab)
    }
}

fn node(prefix: &str, name: &str, host: u8) -> Node {
    Node {
        name: name.to_string(),
        ns: format!("{prefix}-{name}"),
        ifname: NODE_IF.to_string(),
        ipv4: Ipv4Addr::new(10, 0, 0, host),
        ipv6: Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::from(host)),
        mac: format!("02:00:00:00:00:{host:02x}"),
        port: if name == "cl" {
            "pcl".into()
        } else {
            format!("p{host}")
        },
    }
}

/// A running lab; see the module documentation.
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    dir: PathBuf,
    switch_ns: String,
    routers: Vec<Node>,
    client: Node,
    namespaces: Vec<String>,
    keep: bool,
}

impl Lab {
    /// A builder with two routers.
    pub fn builder() -> LabBuilder {
        LabBuilder { routers: 2 }
    }

    /// Creates namespace `ns` with `lo` up and IPv6 DAD off (addresses usable at once).
    fn add_ns(&mut self, ns: &str) -> Result<()> {
        run(&["ip", "netns", "add", ns])?;
        self.namespaces.push(ns.to_string());
        ip(ns, &["link", "set", "lo", "up"])?;
        run_in(
            ns,
            &[
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
            ],
        )?;
        Ok(())
    }

    /// Creates the node's namespace and connects it to the bridge through `port`.
    fn attach(&mut self, n: &Node) -> Result<()> {
        let port = n.port.as_str();
        self.add_ns(&n.ns)?;
        let sw = self.switch_ns.clone();
        ip(
            &sw,
            &[
                "link", "add", port, "type", "veth", "peer", "name", NODE_IF, "netns", &n.ns,
            ],
        )?;
        ip(&sw, &["link", "set", port, "master", "br0", "up"])?;
        ip(&n.ns, &["link", "set", NODE_IF, "address", &n.mac])?;
        ip(&n.ns, &["link", "set", NODE_IF, "up"])?;
        ip(
            &n.ns,
            &["addr", "add", &format!("{}/24", n.ipv4), "dev", NODE_IF],
        )?;
        ip(
            &n.ns,
            &[
                "addr",
                "add",
                &format!("{}/64", n.ipv6),
                "dev",
                NODE_IF,
                "nodad",
            ],
        )?;
        Ok(())
    }

    /// The unique prefix of this lab's names.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The directory holding configs, logs and captures of this lab.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A path in [`Lab::dir`].
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Router `i` (1-based, like its name `r<i>`).
    ///
    /// # Panics
    /// If `i` is 0 or larger than the number of routers (a test bug).
    pub fn router(&self, i: usize) -> &Node {
        &self.routers[i - 1]
    }

    /// All routers.
    pub fn routers(&self) -> &[Node] {
        &self.routers
    }

    /// The client.
    pub fn client(&self) -> &Node {
        &self.client
    }

    /// The namespace holding the bridge `br0`.
    pub fn switch_ns(&self) -> &str {
        &self.switch_ns
    }

    /// A virtual IPv4 address in the lab subnet (10.0.0.200 + k).
    pub fn vip4(k: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, 200u8.saturating_add(k))
    }

    /// A virtual IPv6 address in the lab subnet (fd00::200 + k).
    pub fn vip6(k: u8) -> Ipv6Addr {
        Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x200 + u16::from(k))
    }

    /// Runs `argv` in namespace `ns`, returning stdout (non-zero exit is an error).
    pub fn exec(&self, ns: &str, argv: &[&str]) -> Result<String> {
        run_in(ns, argv)
    }

    /// Spawns a long-running process in `ns`, logs in the lab directory under `name`.
    pub fn spawn(&self, ns: &str, name: &str, argv: &[String]) -> Result<Proc> {
        Proc::spawn(Some(ns), name, &self.dir, argv)
    }

    /// Starts a VRRP/ARP/ND capture on the client's interface (sees every multicast and
    /// broadcast frame of the segment).
    pub fn capture(&self, name: &str) -> Result<Capture> {
        Capture::start(
            &self.client.ns,
            NODE_IF,
            &self.path(&format!("{name}.pcap")),
        )
    }

    /// Which router owns `addr` (any interface, e.g. an IPv6 link-local advert source).
    pub fn owner_of(&self, addr: IpAddr) -> Option<&Node> {
        self.routers.iter().find(|n| {
            crate::kernel::has_address(&n.ns, addr).unwrap_or(false)
                || n.ipv4 == addr
                || n.ipv6 == addr
        })
    }

    /// Routers currently holding `vip` on some interface.
    pub fn holders_of(&self, vip: IpAddr) -> Vec<&Node> {
        self.routers
            .iter()
            .filter(|n| crate::kernel::has_address(&n.ns, vip).unwrap_or(false))
            .collect()
    }

    /// Unplugs `node` from the switch (its bridge port goes down): with a SIGKILL of its
    /// daemon, this is a dead router whose kernel no longer answers for the VIP.
    pub fn unplug(&self, node: &Node) -> Result<()> {
        ip(&self.switch_ns, &["link", "set", &node.port, "down"]).map(|_| ())
    }

    /// Plugs `node` back in.
    pub fn plug(&self, node: &Node) -> Result<()> {
        ip(&self.switch_ns, &["link", "set", &node.port, "up"]).map(|_| ())
    }

    /// SIGKILLs every process in `ns` that is not this test process (a crash of that host).
    pub fn kill_all_in(&self, ns: &str) {
        kill_ns_pids(ns);
    }
}

/// Kills, by pid, every process living in namespace `ns`.
fn kill_ns_pids(ns: &str) {
    let Ok(o) = outcome(None, &["ip", "netns", "pids", ns]) else {
        return;
    };
    let me = std::process::id();
    for pid in o
        .stdout
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
    {
        if pid != me {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
}

/// Removes namespaces left by lab processes that no longer exist (a crashed earlier run).
pub fn cleanup_stale() {
    let Ok(o) = outcome(None, &["ip", "netns", "list"]) else {
        return;
    };
    for ns in o.stdout.lines().filter_map(|l| l.split_whitespace().next()) {
        if !ns.starts_with(NS_PREFIX) {
            continue;
        }
        if let Some(pid) = creator_pid(ns) {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                kill_ns_pids(ns);
                let _ = outcome(None, &["ip", "netns", "del", ns]);
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            kill_ns_pids(ns);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        for ns in self.namespaces.iter().rev() {
            let _ = outcome(None, &["ip", "netns", "del", ns]);
        }
        if std::thread::panicking() || self.keep {
            eprintln!(
                "rvrrpd-lab: logs and captures kept in {}",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
