//! keepalived peer: configuration writer and launcher (never touches the host's instance:
//! own config, own pid files, own namespace).

use crate::cmd::require_tool;
use crate::error::{io_ctx, Result};
use crate::lab::Lab;
use crate::proc::Proc;

/// One `vrrp_instance`.
#[derive(Debug, Clone)]
pub struct KaInstance {
    /// Interface.
    pub interface: String,
    /// VRID.
    pub vrid: u8,
    /// Priority.
    pub priority: u8,
    /// VRRP version (2 or 3).
    pub version: u8,
    /// Advert interval in seconds (v3 allows fractions).
    pub advert_int: f64,
    /// Preemption (false writes `nopreempt`).
    pub preempt: bool,
    /// Simple password (v2 only), at most 8 bytes.
    pub auth_pass: Option<String>,
    /// VIPs with prefix, e.g. `10.0.0.201/24`.
    pub vips: Vec<String>,
    /// Use a VMAC macvlan (`use_vmac`).
    pub use_vmac: bool,
    /// Unicast mode: `unicast_src_ip` (optional) and the `unicast_peer` list (empty:
    /// multicast).
    pub unicast_src: Option<String>,
    /// Unicast peers.
    pub unicast_peers: Vec<String>,
}

impl KaInstance {
    /// An instance with one VIP, preempting, no auth.
    pub fn new(
        interface: &str,
        vrid: u8,
        priority: u8,
        version: u8,
        advert_int: f64,
        vip: &str,
    ) -> KaInstance {
        KaInstance {
            interface: interface.into(),
            vrid,
            priority,
            version,
            advert_int,
            preempt: true,
            auth_pass: None,
            vips: vec![vip.into()],
            use_vmac: false,
            unicast_src: None,
            unicast_peers: Vec::new(),
        }
    }

    fn render(&self, o: &mut String) {
        o.push_str(&format!("vrrp_instance VI_{} {{\n", self.vrid));
        o.push_str("    state BACKUP\n");
        o.push_str(&format!("    interface {}\n", self.interface));
        o.push_str(&format!("    version {}\n", self.version));
        o.push_str(&format!("    virtual_router_id {}\n", self.vrid));
        o.push_str(&format!("    priority {}\n", self.priority));
        o.push_str(&format!("    advert_int {}\n", self.advert_int));
        if !self.preempt {
            o.push_str("    nopreempt\n");
        }
        if self.use_vmac {
            o.push_str("    use_vmac\n");
        }
        if let Some(src) = &self.unicast_src {
            o.push_str(&format!("    unicast_src_ip {src}\n"));
        }
        if !self.unicast_peers.is_empty() {
            o.push_str("    unicast_peer {\n");
            for p in &self.unicast_peers {
                o.push_str(&format!("        {p}\n"));
            }
            o.push_str("    }\n");
        }
        if let Some(p) = &self.auth_pass {
            o.push_str(&format!(
                "    authentication {{\n        auth_type PASS\n        auth_pass {p}\n    }}\n"
            ));
        }
        o.push_str("    virtual_ipaddress {\n");
        for v in &self.vips {
            o.push_str(&format!("        {v}\n"));
        }
        o.push_str("    }\n}\n");
    }
}

/// A keepalived configuration.
#[derive(Debug, Clone)]
pub struct KeepalivedConf {
    /// `router_id`.
    pub router_id: String,
    /// `vrrp_garp_master_delay` (s).
    pub garp_master_delay: u32,
    /// Instances.
    pub instances: Vec<KaInstance>,
}

impl KeepalivedConf {
    /// A configuration with one instance.
    pub fn new(router_id: &str, inst: KaInstance) -> KeepalivedConf {
        KeepalivedConf {
            router_id: router_id.into(),
            garp_master_delay: 1,
            instances: vec![inst],
        }
    }

    /// The keepalived.conf text.
    pub fn render(&self) -> String {
        let mut o = format!(
            "global_defs {{\n    router_id {}\n    vrrp_garp_master_delay {}\n    vrrp_garp_master_repeat 1\n    enable_script_security\n}}\n",
            self.router_id, self.garp_master_delay
        );
        for i in &self.instances {
            i.render(&mut o);
        }
        o
    }
}

/// Writes the configuration and runs `keepalived -n -l -D -P` in `ns` with pid files in the
/// lab directory. Signal the returned process with `signal_group` to reach its VRRP child.
pub fn spawn(lab: &Lab, ns: &str, name: &str, conf: &KeepalivedConf) -> Result<Proc> {
    let argv = write_and_argv(name, &conf.render(), |f| lab.path(f))?;
    lab.spawn(ns, name, &argv)
}

/// Writes `conf` to `<dir>/<name>.conf` (`path` maps a file name into the run's directory)
/// and returns the command line of a foreground keepalived running only VRRP, logging to the
/// console, with its pid files beside the configuration.
pub fn write_and_argv(
    name: &str,
    conf: &str,
    path: impl Fn(&str) -> std::path::PathBuf,
) -> Result<Vec<String>> {
    let bin = require_tool("keepalived", "apt-get install keepalived")?;
    let file = path(&format!("{name}.conf"));
    std::fs::write(&file, conf).map_err(io_ctx(format!("writing {}", file.display())))?;
    let p = |s: &str| path(&format!("{name}{s}")).to_string_lossy().into_owned();
    Ok(vec![
        bin.to_string_lossy().into_owned(),
        "-n".into(),
        "-l".into(),
        "-D".into(),
        "-G".into(),
        "-P".into(),
        "-f".into(),
        file.to_string_lossy().into_owned(),
        "-p".into(),
        p(".pid"),
        "-r".into(),
        p("-vrrp.pid"),
        "-c".into(),
        p("-checkers.pid"),
        "-b".into(),
        p("-bfd.pid"),
        "-i".into(),
        name.into(),
    ])
}
