//! rvrrpd TOML configuration builder and launcher.

use std::path::{Path, PathBuf};

use super::{toml_secs, toml_str};
use crate::error::{io_ctx, Result};
use crate::lab::Lab;
use crate::proc::Proc;

/// One `[[vrouter]]` table. `None` fields are left out (the daemon's default applies).
#[derive(Debug, Clone, Default)]
pub struct VRouter {
    /// VRID.
    pub group: u8,
    /// Interface.
    pub interface: String,
    /// Virtual addresses (written as a string when one, a list otherwise).
    pub vips: Vec<String>,
    /// Priority.
    pub priority: Option<u8>,
    /// Preemption.
    pub preemption: Option<bool>,
    /// RFC 3768 compatibility flag.
    pub rfc3768: Option<bool>,
    /// `libnl` / `ioctl`.
    pub netdrv: Option<String>,
    /// `ether` / `macvlan`.
    pub iftype: Option<String>,
    /// macvlan name.
    pub vifname: Option<String>,
    /// Auth type.
    pub auth_type: Option<String>,
    /// Auth secret.
    pub auth_secret: Option<String>,
    /// Advert interval (s).
    pub advert: Option<f64>,
    /// VRRP version 2/3.
    pub version: Option<u8>,
    /// Accept mode.
    pub accept_mode: Option<bool>,
    /// Socket filter.
    pub socket_filter: Option<bool>,
    /// Raw extra lines appended inside the table.
    pub extra: Vec<String>,
}

impl VRouter {
    /// A group on `interface` with one VIP.
    pub fn new(group: u8, interface: &str, vip: impl ToString) -> VRouter {
        VRouter {
            group,
            interface: interface.to_string(),
            vips: vec![vip.to_string()],
            ..VRouter::default()
        }
    }
    /// Sets the priority.
    pub fn priority(mut self, p: u8) -> Self {
        self.priority = Some(p);
        self
    }
    /// Sets preemption.
    pub fn preemption(mut self, p: bool) -> Self {
        self.preemption = Some(p);
        self
    }
    /// Sets the VRRP version.
    pub fn version(mut self, v: u8) -> Self {
        self.version = Some(v);
        self
    }
    /// Sets the advert interval (s).
    pub fn advert(mut self, s: f64) -> Self {
        self.advert = Some(s);
        self
    }
    /// Adds a VIP.
    pub fn vip(mut self, v: impl ToString) -> Self {
        self.vips.push(v.to_string());
        self
    }
    /// macvlan mode with interface `vifname`.
    pub fn macvlan(mut self, vifname: &str) -> Self {
        self.iftype = Some("macvlan".into());
        self.netdrv = Some("libnl".into());
        self.vifname = Some(vifname.into());
        self
    }
    /// Authentication.
    pub fn auth(mut self, kind: &str, secret: &str) -> Self {
        self.auth_type = Some(kind.into());
        self.auth_secret = Some(secret.into());
        self
    }
    /// RFC 3768 flag.
    pub fn rfc3768(mut self, b: bool) -> Self {
        self.rfc3768 = Some(b);
        self
    }
    /// A raw extra line.
    pub fn line(mut self, l: &str) -> Self {
        self.extra.push(l.into());
        self
    }

    fn render(&self, o: &mut String) {
        o.push_str("\n[[vrouter]]\n");
        o.push_str(&format!("group = {}\n", self.group));
        o.push_str(&format!("interface = {}\n", toml_str(&self.interface)));
        match self.vips.as_slice() {
            [one] => o.push_str(&format!("vip = {}\n", toml_str(one))),
            many => {
                let l: Vec<String> = many.iter().map(|v| toml_str(v)).collect();
                o.push_str(&format!("vip = [{}]\n", l.join(", ")));
            }
        }
        let nums = [("priority", self.priority), ("version", self.version)];
        for (k, v) in nums {
            if let Some(v) = v {
                o.push_str(&format!("{k} = {v}\n"));
            }
        }
        let bools = [
            ("preemption", self.preemption),
            ("rfc3768", self.rfc3768),
            ("accept_mode", self.accept_mode),
            ("socket_filter", self.socket_filter),
        ];
        for (k, v) in bools {
            if let Some(v) = v {
                o.push_str(&format!("{k} = {v}\n"));
            }
        }
        let strs = [
            ("netdrv", &self.netdrv),
            ("iftype", &self.iftype),
            ("vifname", &self.vifname),
            ("auth_type", &self.auth_type),
            ("auth_secret", &self.auth_secret),
        ];
        for (k, v) in strs {
            if let Some(v) = v {
                o.push_str(&format!("{k} = {}\n", toml_str(v)));
            }
        }
        if let Some(a) = self.advert {
            o.push_str(&format!("timers = {{ advert = {} }}\n", toml_secs(a)));
        }
        for l in &self.extra {
            o.push_str(l);
            o.push('\n');
        }
    }
}

/// One `[[protocols.static]]` route.
#[derive(Debug, Clone)]
pub struct StaticRoute {
    /// Destination network.
    pub route: String,
    /// Dotted mask.
    pub mask: String,
    /// Next hop.
    pub nh: String,
}

/// A whole rvrrpd configuration file.
#[derive(Debug, Clone)]
pub struct RvrrpdConf {
    /// `debug`.
    pub debug: Option<u8>,
    /// `pid`.
    pub pid: PathBuf,
    /// `working_dir`.
    pub working_dir: PathBuf,
    /// `main_log`.
    pub main_log: PathBuf,
    /// `error_log`.
    pub error_log: PathBuf,
    /// Virtual routers.
    pub vrouters: Vec<VRouter>,
    /// Static routes.
    pub statics: Vec<StaticRoute>,
    /// Raw text appended at the end.
    pub tail: String,
}

impl RvrrpdConf {
    /// A configuration whose pid file and logs live in `dir` under `name`.
    pub fn new(dir: &Path, name: &str) -> RvrrpdConf {
        RvrrpdConf {
            debug: None,
            pid: dir.join(format!("{name}.pid")),
            working_dir: dir.to_path_buf(),
            main_log: dir.join(format!("{name}.log")),
            error_log: dir.join(format!("{name}-error.log")),
            vrouters: Vec::new(),
            statics: Vec::new(),
            tail: String::new(),
        }
    }
    /// Adds a virtual router.
    pub fn vrouter(mut self, v: VRouter) -> Self {
        self.vrouters.push(v);
        self
    }
    /// Adds a static route.
    pub fn static_route(mut self, route: &str, mask: &str, nh: &str) -> Self {
        self.statics.push(StaticRoute {
            route: route.into(),
            mask: mask.into(),
            nh: nh.into(),
        });
        self
    }
    /// The TOML text.
    pub fn to_toml(&self) -> String {
        let mut o = String::new();
        if let Some(d) = self.debug {
            o.push_str(&format!("debug = {d}\n"));
        }
        let paths = [
            ("pid", &self.pid),
            ("working_dir", &self.working_dir),
            ("main_log", &self.main_log),
            ("error_log", &self.error_log),
        ];
        for (k, p) in paths {
            o.push_str(&format!("{k} = {}\n", toml_str(&p.to_string_lossy())));
        }
        for v in &self.vrouters {
            v.render(&mut o);
        }
        if !self.statics.is_empty() {
            o.push_str("\n[protocols]\n");
            for s in &self.statics {
                o.push_str(&format!(
                    "[[protocols.static]]\nroute = {}\nmask = {}\nnh = {}\n",
                    toml_str(&s.route),
                    toml_str(&s.mask),
                    toml_str(&s.nh)
                ));
            }
        }
        o.push_str(&self.tail);
        o
    }
    /// Writes the TOML to `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_toml()).map_err(io_ctx(format!("writing {}", path.display())))
    }
}

/// Writes `conf` as `<name>.toml` in the lab directory and runs `bin -m 1 -c FILE -d debug`
/// in `ns`.
pub fn spawn(
    lab: &Lab,
    ns: &str,
    bin: &Path,
    name: &str,
    conf: &RvrrpdConf,
    debug: u8,
) -> Result<Proc> {
    let file = lab.path(&format!("{name}.toml"));
    conf.write(&file)?;
    let argv = vec![
        bin.to_string_lossy().into_owned(),
        "-m".into(),
        "1".into(),
        "-c".into(),
        file.to_string_lossy().into_owned(),
        "-d".into(),
        debug.to_string(),
    ];
    lab.spawn(ns, name, &argv)
}
