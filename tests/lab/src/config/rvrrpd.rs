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
    /// Accept mode: whether the Master answers traffic addressed to the VIPs.
    pub fn accept_mode(mut self, on: bool) -> Self {
        self.accept_mode = Some(on);
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

/// The client API: `client_api = "http"` at the top level and an `[api]` table.
#[derive(Debug, Clone, Default)]
pub struct ApiSection {
    /// `host` (`address:port`); `None`: the daemon's default (`0.0.0.0:7080`).
    pub host: Option<String>,
    /// `users` entries, as `rvrrpd-pw` prints them.
    pub users: Vec<String>,
    /// `secret`.
    pub secret: Option<String>,
    /// `tls`.
    pub tls: Option<bool>,
    /// `tls_key`.
    pub tls_key: Option<PathBuf>,
    /// `tls_cert`.
    pub tls_cert: Option<PathBuf>,
    /// `metrics_allow`.
    pub metrics_allow: Vec<String>,
}

impl ApiSection {
    /// An API listening on `host` (`address:port`) for `users`.
    pub fn new(host: impl ToString, users: &[String]) -> ApiSection {
        ApiSection {
            host: Some(host.to_string()),
            users: users.to_vec(),
            ..ApiSection::default()
        }
    }

    /// HTTPS with `key` and `cert`.
    pub fn tls(mut self, key: &Path, cert: &Path) -> Self {
        self.tls = Some(true);
        self.tls_key = Some(key.to_path_buf());
        self.tls_cert = Some(cert.to_path_buf());
        self
    }

    /// Adds a `metrics_allow` entry.
    pub fn metrics_allow(mut self, net: &str) -> Self {
        self.metrics_allow.push(net.into());
        self
    }

    fn render(&self, o: &mut String) {
        o.push_str("\n[api]\n");
        if let Some(h) = &self.host {
            o.push_str(&format!("host = {}\n", toml_str(h)));
        }
        if let Some(s) = &self.secret {
            o.push_str(&format!("secret = {}\n", toml_str(s)));
        }
        if let Some(t) = self.tls {
            o.push_str(&format!("tls = {t}\n"));
        }
        for (k, v) in [("tls_key", &self.tls_key), ("tls_cert", &self.tls_cert)] {
            if let Some(v) = v {
                o.push_str(&format!("{k} = {}\n", toml_str(&v.to_string_lossy())));
            }
        }
        let list = |l: &[String]| l.iter().map(|x| toml_str(x)).collect::<Vec<_>>().join(", ");
        if !self.metrics_allow.is_empty() {
            o.push_str(&format!(
                "metrics_allow = [{}]\n",
                list(&self.metrics_allow)
            ));
        }
        o.push_str(&format!("users = [{}]\n", list(&self.users)));
    }
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
    /// Raw general directives (lines before the first section).
    pub general: String,
    /// The client API (`client_api = "http"` and `[api]`); `None`: off.
    pub api: Option<ApiSection>,
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
            general: String::new(),
            api: None,
        }
    }
    /// Adds a general directive line (e.g. `realtime_priority = 0`).
    pub fn general(mut self, line: &str) -> Self {
        self.general.push_str(line);
        self.general.push('\n');
        self
    }
    /// Enables the client API.
    pub fn api(mut self, api: ApiSection) -> Self {
        self.api = Some(api);
        self
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
        o.push_str(&self.general);
        if let Some(api) = &self.api {
            o.push_str("client_api = \"http\"\n");
            api.render(&mut o);
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
    spawn_file(lab, ns, &[], bin, name, &file, debug)
}

/// Runs `prefix… bin -m 1 -c file -d debug` in `ns` (`prefix`: e.g. `env VAR=…`).
pub fn spawn_file(
    lab: &Lab,
    ns: &str,
    prefix: &[String],
    bin: &Path,
    name: &str,
    file: &Path,
    debug: u8,
) -> Result<Proc> {
    let mut argv: Vec<String> = prefix.to_vec();
    argv.extend([
        bin.to_string_lossy().into_owned(),
        "-m".into(),
        "1".into(),
        "-c".into(),
        file.to_string_lossy().into_owned(),
        "-d".into(),
        debug.to_string(),
    ]);
    lab.spawn(ns, name, &argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_section_is_rendered_at_the_top_level() {
        let users = vec!["{{SHA256}}op:1:5eed:abcd".to_string()];
        let c = RvrrpdConf::new(Path::new("/tmp"), "r1")
            .vrouter(VRouter::new(1, "eth0", "10.0.0.201"))
            .api(ApiSection::new("10.0.0.1:7080", &users).metrics_allow("127.0.0.1"));
        let t = c.to_toml();
        let api = t.find("client_api = \"http\"").expect("client_api");
        let table = t.find("\n[api]\n").expect("[api]");
        let vr = t.find("[[vrouter]]").expect("[[vrouter]]");
        assert!(api < table && table < vr, "{t}");
        assert!(t.contains("host = \"10.0.0.1:7080\"\n"), "{t}");
        assert!(
            t.contains("users = [\"{{SHA256}}op:1:5eed:abcd\"]\n"),
            "{t}"
        );
        assert!(t.contains("metrics_allow = [\"127.0.0.1\"]\n"), "{t}");
        assert!(!RvrrpdConf::new(Path::new("/tmp"), "r1")
            .to_toml()
            .contains("client_api"));
    }
}
