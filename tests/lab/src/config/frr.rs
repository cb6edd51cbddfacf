//! FRR peer: zebra + vrrpd per namespace, with private sockets and pid files, and the macvlan
//! devices FRR expects (FRR does not create them; see its vrrpd documentation).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::cmd::{ip, outcome, require_tool};
use crate::error::{io_ctx, LabError, Result};
use crate::lab::Lab;
use crate::packet::Mac;
use crate::proc::Proc;
use crate::wait::wait_until;

/// Where Debian installs the FRR daemons.
pub const FRR_DIR: &str = "/usr/lib/frr";

/// One FRR VRRP group on an interface.
#[derive(Debug, Clone)]
pub struct FrrVrrp {
    /// Parent interface.
    pub interface: String,
    /// VRID.
    pub vrid: u8,
    /// 2 or 3.
    pub version: u8,
    /// Priority.
    pub priority: u8,
    /// Advertisement interval in milliseconds (v2: a multiple of 1000).
    pub advert_ms: u32,
    /// Preempt.
    pub preempt: bool,
    /// VIPs (IPv4 and/or IPv6), with the prefix length used on the macvlan.
    pub vips: Vec<(IpAddr, u8)>,
}

impl FrrVrrp {
    /// vrrpd.conf text.
    pub fn render(&self) -> String {
        let id = self.vrid;
        let mut o = format!(
            "interface {}\n vrrp {id} version {}\n",
            self.interface, self.version
        );
        o.push_str(&format!(" vrrp {id} priority {}\n", self.priority));
        o.push_str(&format!(
            " vrrp {id} advertisement-interval {}\n",
            self.advert_ms
        ));
        if !self.preempt {
            o.push_str(&format!(" no vrrp {id} preempt\n"));
        }
        for (a, _) in &self.vips {
            let kw = if a.is_ipv6() { "ipv6" } else { "ip" };
            o.push_str(&format!(" vrrp {id} {kw} {a}\n"));
        }
        o.push_str("!\n");
        o
    }

    /// Name of the macvlan for one family (`vrrp4-<if>-<vrid>`, ≤ 15 chars).
    pub fn macvlan_name(&self, v6: bool) -> String {
        let mut n = format!(
            "vrrp{}-{}-{}",
            if v6 { 6 } else { 4 },
            self.interface,
            self.vrid
        );
        n.truncate(15);
        n
    }

    /// Creates the macvlan(s) in `ns` as FRR documents: bridge mode, virtual MAC,
    /// `addrgenmode random`, the VIPs on it, up.
    pub fn create_macvlans(&self, ns: &str) -> Result<()> {
        for v6 in [false, true] {
            let vips: Vec<&(IpAddr, u8)> = self
                .vips
                .iter()
                .filter(|(a, _)| a.is_ipv6() == v6)
                .collect();
            if vips.is_empty() {
                continue;
            }
            let name = self.macvlan_name(v6);
            let mac = Mac::vrrp(self.vrid, v6).to_string();
            ip(
                ns,
                &[
                    "link",
                    "add",
                    &name,
                    "link",
                    &self.interface,
                    "type",
                    "macvlan",
                    "mode",
                    "bridge",
                ],
            )?;
            // Set after creation: this kernel rejects IFLA_INET6_ADDR_GEN_MODE at creation time.
            ip(ns, &["link", "set", "dev", &name, "addrgenmode", "random"])?;
            ip(ns, &["link", "set", "dev", &name, "address", &mac])?;
            for (a, p) in vips {
                let cidr = format!("{a}/{p}");
                let mut args = vec!["addr", "add", &cidr, "dev", &name];
                if v6 {
                    args.push("nodad");
                }
                ip(ns, &args)?;
            }
            ip(ns, &["link", "set", "dev", &name, "up"])?;
        }
        Ok(())
    }
}

/// A running FRR router (zebra + vrrpd). Dropping it stops both.
#[derive(Debug)]
pub struct FrrRouter {
    /// vrrpd (declared first: stopped before zebra).
    pub vrrpd: Proc,
    /// zebra.
    pub zebra: Proc,
    /// Directory holding sockets, pid files, configs.
    pub dir: PathBuf,
    /// The namespace.
    pub ns: String,
}

impl FrrRouter {
    /// `show vrrp` through vtysh (for diagnostics).
    pub fn show_vrrp(&self) -> String {
        let sock = self.dir.to_string_lossy().into_owned();
        match outcome(
            Some(&self.ns),
            &["vtysh", "--vty_socket", &sock, "-c", "show vrrp"],
        ) {
            Ok(o) => format!("{}{}", o.stdout, o.stderr),
            Err(e) => e.to_string(),
        }
    }

    /// Crash: SIGKILL both daemons.
    pub fn kill(&mut self) -> Result<()> {
        self.vrrpd.signal_group(crate::Signal::Kill)?;
        self.zebra.signal_group(crate::Signal::Kill)
    }
}

/// Starts zebra then vrrpd in `ns` for `group`, after creating its macvlans.
pub fn start(lab: &Lab, ns: &str, name: &str, group: &FrrVrrp) -> Result<FrrRouter> {
    let zebra = require_tool(&format!("{FRR_DIR}/zebra"), "apt-get install frr")?;
    let vrrpd = require_tool(&format!("{FRR_DIR}/vrrpd"), "apt-get install frr")?;
    let dir = lab.path(name);
    std::fs::create_dir_all(&dir).map_err(io_ctx(format!("creating {}", dir.display())))?;
    // The daemons drop privileges to the `frr` user: let it own its sockets and pid files.
    crate::cmd::run(&["chown", "frr:frr", &dir.to_string_lossy()])?;
    group.create_macvlans(ns)?;
    let zconf = dir.join("zebra.conf");
    let vconf = dir.join("vrrpd.conf");
    std::fs::write(&zconf, "!\n").map_err(io_ctx("writing zebra.conf"))?;
    std::fs::write(&vconf, group.render()).map_err(io_ctx("writing vrrpd.conf"))?;
    let zsock = dir.join("zserv.api").to_string_lossy().into_owned();
    let d = dir.to_string_lossy().into_owned();
    let common = |bin: &PathBuf, conf: &PathBuf, pid: &str| -> Vec<String> {
        vec![
            bin.to_string_lossy().into_owned(),
            "-z".into(),
            zsock.clone(),
            "--vty_socket".into(),
            d.clone(),
            "-i".into(),
            dir.join(pid).to_string_lossy().into_owned(),
            "-f".into(),
            conf.to_string_lossy().into_owned(),
            "-P".into(),
            "0".into(),
            "--log".into(),
            "stdout".into(),
            "--log-level".into(),
            "debug".into(),
        ]
    };
    let mut z = lab.spawn(
        ns,
        &format!("{name}-zebra"),
        &common(&zebra, &zconf, "zebra.pid"),
    )?;
    let sock = dir.join("zserv.api");
    wait_until(
        "zebra's zserv socket",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || sock.exists() || !z.is_running(),
    )?;
    if !z.is_running() {
        return Err(LabError::Other(format!("zebra exited: {}", z.output())));
    }
    let v = lab.spawn(
        ns,
        &format!("{name}-vrrpd"),
        &common(&vrrpd, &vconf, "vrrpd.pid"),
    )?;
    Ok(FrrRouter {
        vrrpd: v,
        zebra: z,
        dir,
        ns: ns.to_string(),
    })
}
