//! Checks that involve more than one directive, run after deserialization.
//!
//! Single-value checks (ranges, keywords, address syntax) happen while deserializing so the
//! parser can point at the value; the checks here find the line through the [`Locator`].

use std::collections::HashMap;
use std::path::Path;

use super::error::{ConfigError, ConfigWarning};
use super::locate::Locator;
use super::notify::{check_executable, check_name, NotifyScript};
use super::serde_util::value_error;
use super::{
    AddressFamily, AuthType, Config, IfType, NetDriver, ProtocolVersion, V3Checksum, VRouter,
};

/// Builds located errors and warnings for one configuration text.
pub(super) struct Context<'a> {
    origin: &'a str,
    locator: &'a Locator,
    warnings: Vec<ConfigWarning>,
}

impl Context<'_> {
    /// An error about `directive`, on the line of `directive` (or of its nearest parent).
    pub(super) fn error(&self, directive: &str, message: impl Into<String>) -> ConfigError {
        self.error_at(directive, directive, message)
    }

    /// An error about `directive`, on the line where `line_of` is written.
    fn error_at(&self, directive: &str, line_of: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin.to_string(),
            line: self.locator.line_of_path(line_of),
            directive: Some(directive.to_string()),
            message: message.into(),
        }
    }

    pub(super) fn warn(&mut self, directive: &str, message: impl Into<String>) {
        self.warnings.push(ConfigWarning {
            directive: directive.to_string(),
            line: self.locator.line_of_path(directive),
            message: message.into(),
        });
    }
}

/// Validates `config` in place: fills [`Config::warnings`] and applies forced settings.
pub(super) fn validate(
    config: &mut Config,
    origin: &str,
    locator: &Locator,
) -> Result<(), ConfigError> {
    let mut ctx = Context {
        origin,
        locator,
        warnings: Vec::new(),
    };
    general(config, &mut ctx)?;
    let script_user = notify_general(config, &ctx)?;
    for (index, vrouter) in config.vrouters.iter_mut().enumerate() {
        single_vrouter(vrouter, &format!("vrouter[{index}]"), &mut ctx)?;
        notify_scripts(vrouter, &format!("vrouter[{index}]"), script_user, &ctx)?;
        super::validate_unicast::unicast(vrouter, &format!("vrouter[{index}]"), &ctx)?;
    }
    vrouter_uniqueness(&config.vrouters, &ctx)?;
    super::validate_tracking::tracking(config, &mut ctx)?;
    vrouter_names(&config.vrouters, &ctx)?;
    static_routes(config, &ctx)?;
    config.warnings = ctx.warnings;
    Ok(())
}

fn general(config: &Config, ctx: &mut Context<'_>) -> Result<(), ConfigError> {
    if let Some(w) = config.workers {
        if !(1..=16).contains(&w) {
            return Err(ctx.error("workers", format!("= {w} is out of range (1–16)")));
        }
    }
    if let Some(p) = config.realtime_priority {
        if p > 99 {
            return Err(ctx.error(
                "realtime_priority",
                format!("= {p} is out of range (1–99, SCHED_FIFO priorities; 0 = off)"),
            ));
        }
    }
    if let Some(l) = config.realtime_cpu_limit {
        if !(0.01..=10.0).contains(&l) {
            return Err(ctx.error(
                "realtime_cpu_limit",
                format!("= {l} is out of range (0.01–10 seconds)"),
            ));
        }
    }
    if let Some(n) = config.worker_nice {
        if !(-20..=19).contains(&n) {
            return Err(ctx.error(
                "worker_nice",
                format!("= {n} is out of range (−20–19, nice values)"),
            ));
        }
    }
    if let Some(n) = config.advert_slots {
        let max = super::MAX_ADVERT_SLOTS;
        if !(1..=max).contains(&n) {
            return Err(ctx.error("advert_slots", format!("= {n} is out of range (1–{max})")));
        }
    }
    for (name, path) in [
        ("pid", &config.pid),
        ("working_dir", &config.working_dir),
        ("main_log", &config.main_log),
    ] {
        if path.as_os_str().is_empty() {
            return Err(ctx.error(name, "must not be empty"));
        }
    }
    if let Some(dump) = &config.dump_file {
        dump_file(dump, config, ctx)?;
    }
    match (&config.client_api, &config.api) {
        (Some(api), None) => {
            return Err(ctx.error(
                "client_api",
                value_error(
                    format_args!("{:?}", api.as_str()),
                    "needs an [api] section (with at least `users`); remove client_api to disable the API",
                ),
            ))
        }
        (None, Some(_)) => ctx.warn(
            "api",
            "is ignored because client_api is not set (set client_api = \"http\" to enable the API)",
        ),
        (Some(_), Some(api)) if api.users.is_empty() => ctx.warn(
            "api.users",
            "is empty: nobody can authenticate to the client API (generate entries with rvrrpd-pw)",
        ),
        _ => {}
    }
    if let Some(api) = &config.api {
        let mut seen = HashMap::new();
        for (index, user) in api.users.iter().enumerate() {
            if let Some(first) = seen.insert(user.user.as_str(), index) {
                return Err(ctx.error(
                    &format!("api.users[{index}]"),
                    format!(
                        "defines user {:?} again (already in api.users[{first}])",
                        user.user
                    ),
                ));
            }
        }
        if api.secret.as_ref().is_some_and(|s| s.is_empty()) {
            return Err(ctx.error(
                "api.secret",
                "must not be empty (remove it to use a random secret)",
            ));
        }
    }
    Ok(())
}

/// `script_user`, `notify_fifo` and `notify_fifo_script`; returns the script user's
/// (uid, gid) when one is configured.
fn notify_general(config: &Config, ctx: &Context<'_>) -> Result<Option<(u32, u32)>, ConfigError> {
    let user = match &config.script_user {
        Some(user) => Some(user.resolve().map_err(|e| ctx.error("script_user", e))?),
        None => None,
    };
    if let Some(path) = &config.notify_fifo {
        let shown = format_args!("{:?}", path.display().to_string()).to_string();
        if !path.is_absolute() {
            return Err(ctx.error(
                "notify_fifo",
                value_error(&shown, "must be an absolute path"),
            ));
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()) => {
                return Err(ctx.error(
                    "notify_fifo",
                    value_error(&shown, "exists and is not a FIFO"),
                ))
            }
            Ok(_) => {}
            Err(_) if !path.parent().is_some_and(Path::is_dir) => {
                return Err(ctx.error(
                    "notify_fifo",
                    value_error(
                        &shown,
                        "is in a directory that does not exist (the FIFO is created, its directory is not)",
                    ),
                ))
            }
            Err(_) => {}
        }
    } else if config.notify_fifo_script.is_some() {
        return Err(ctx.error(
            "notify_fifo_script",
            "is set without notify_fifo (it reads the FIFO, whose path it gets as last argument)",
        ));
    }
    if let Some(script) = &config.notify_fifo_script {
        executable(script, "notify_fifo_script", user, ctx)?;
    }
    Ok(user)
}

fn notify_scripts(
    vr: &VRouter,
    p: &str,
    user: Option<(u32, u32)>,
    ctx: &Context<'_>,
) -> Result<(), ConfigError> {
    if let Some(name) = &vr.name {
        check_name(name).map_err(|e| ctx.error(&format!("{p}.name"), e))?;
    }
    for (directive, script) in vr.notify_scripts() {
        if let Some(script) = script {
            executable(script, &format!("{p}.{directive}"), user, ctx)?;
        }
    }
    Ok(())
}

fn executable(
    script: &NotifyScript,
    directive: &str,
    user: Option<(u32, u32)>,
    ctx: &Context<'_>,
) -> Result<(), ConfigError> {
    check_executable(script.program(), user).map_err(|why| {
        ctx.error(
            directive,
            value_error(
                format_args!("{:?}", script.as_str()),
                format_args!("cannot be executed: {why}"),
            ),
        )
    })
}

/// `dump_file`: an absolute path to a file, not one of the other files rvrrpd writes.
fn dump_file(
    dump: &std::path::Path,
    config: &Config,
    ctx: &Context<'_>,
) -> Result<(), ConfigError> {
    let shown = dump.display();
    if dump.as_os_str().is_empty() {
        return Err(ctx.error("dump_file", "must not be empty"));
    }
    if !dump.is_absolute() {
        return Err(ctx.error(
            "dump_file",
            format!("= {shown:?} must be an absolute path (the daemon may run from any directory)"),
        ));
    }
    if dump.as_os_str().as_encoded_bytes().ends_with(b"/") || dump.file_name().is_none() {
        return Err(ctx.error(
            "dump_file",
            format!("= {shown:?} names a directory, not a file"),
        ));
    }
    let others = [
        ("pid", Some(&config.pid)),
        ("main_log", Some(&config.main_log)),
    ];
    let error_log = config.error_log.as_ref().map(|p| ("error_log", Some(p)));
    for (name, path) in others.into_iter().chain(error_log) {
        if path.is_some_and(|p| p == dump) {
            return Err(ctx.error("dump_file", format!("= {shown:?} is also the {name} file")));
        }
    }
    Ok(())
}

fn single_vrouter(vr: &mut VRouter, p: &str, ctx: &mut Context<'_>) -> Result<(), ConfigError> {
    // Addresses: one family, no repeats, IPv6 only with VRRPv3.
    let family = vr.family();
    for (index, vip) in vr.vip.iter().enumerate() {
        if vip.family() != family {
            return Err(ctx.error(
                &format!("{p}.vip"),
                format!(
                    "mixes IPv4 and IPv6 addresses ({} and {vip}); configure one [[vrouter]] per address family",
                    vr.vip[0]
                ),
            ));
        }
        if vr.vip[..index].iter().any(|other| other.addr == vip.addr) {
            return Err(ctx.error(&format!("{p}.vip"), format!("lists {} twice", vip.addr)));
        }
    }
    if family == AddressFamily::Ipv6 && vr.version == ProtocolVersion::V2 {
        return Err(ctx.error(
            &format!("{p}.vip"),
            value_error(
                format_args!("{:?}", vr.vip[0].to_string()),
                "is an IPv6 address, which needs VRRP version 3 (set version = 3)",
            ),
        ));
    }

    // Timers for the version.
    let advert = vr.timers.advert;
    let timer_ok = match vr.version {
        ProtocolVersion::V2 => advert
            .whole_seconds()
            .is_some_and(|s| (1..=255).contains(&s)),
        ProtocolVersion::V3 => advert.centis() <= 4095,
    };
    if !timer_ok {
        let range = match vr.version {
            ProtocolVersion::V2 => "VRRP version 2 needs whole seconds, 1–255",
            ProtocolVersion::V3 => "VRRP version 3 allows 0.01–40.95 seconds in steps of 0.01",
        };
        return Err(ctx.error(
            &format!("{p}.timers.advert"),
            value_error(
                advert,
                format_args!("is not a valid advertisement interval ({range})"),
            ),
        ));
    }

    authentication(vr, p, ctx)?;

    for (name, value, max) in [
        ("preempt_delay", vr.preempt_delay, 1000.0),
        ("garp_master_delay", vr.garp_master_delay, 1000.0),
        ("garp_master_refresh", vr.garp_master_refresh, 86_400.0),
    ] {
        if !(value.is_finite() && (0.0..=max).contains(&value)) {
            return Err(ctx.error(
                &format!("{p}.{name}"),
                value_error(value, format_args!("is out of range (0–{max} seconds)")),
            ));
        }
    }
    if vr.garp_master_refresh_repeat == 0 {
        return Err(ctx.error(
            &format!("{p}.garp_master_refresh_repeat"),
            "= 0 is out of range (1–255)",
        ));
    }

    // Interface handling.
    if vr.iftype == IfType::Macvlan {
        if vr.netdrv != NetDriver::Libnl {
            ctx.warn(
                &format!("{p}.netdrv"),
                format!(
                    "= {:?} is overridden: iftype = \"macvlan\" requires the libnl driver",
                    vr.netdrv.as_str()
                ),
            );
            vr.netdrv = NetDriver::Libnl;
        }
        if *vr.vifname() == *vr.interface.as_str() {
            return Err(ctx.error(
                &format!("{p}.vifname"),
                value_error(
                    format_args!("{:?}", vr.vifname()),
                    "must differ from the interface the macvlan is created on",
                ),
            ));
        }
    } else if vr.vifname.is_some() {
        ctx.warn(
            &format!("{p}.vifname"),
            "is only used with iftype = \"macvlan\"; ignored",
        );
    }
    if vr.v3_checksum != V3Checksum::default()
        && (vr.version != ProtocolVersion::V3 || family != AddressFamily::Ipv4)
    {
        ctx.warn(
            &format!("{p}.v3_checksum"),
            "only applies to VRRP version 3 over IPv4; ignored",
        );
    }
    Ok(())
}

fn authentication(vr: &mut VRouter, p: &str, ctx: &mut Context<'_>) -> Result<(), ConfigError> {
    let Some(auth) = vr.auth_type else {
        if vr.auth_secret.take().is_some() {
            // Dropped, not kept unused: what is ignored must not reappear (the secret is never
            // serialized, so an API round trip of the vrouter would differ; found by fuzzing).
            ctx.warn(
                &format!("{p}.auth_secret"),
                "is ignored because auth_type is not set",
            );
        }
        return Ok(());
    };
    let auth_path = format!("{p}.auth_type");
    let secret_path = format!("{p}.auth_secret");
    if vr.version == ProtocolVersion::V3 {
        return Err(ctx.error(
            &auth_path,
            value_error(
                format_args!("{:?}", auth.name()),
                "is not available with VRRP version 3 (RFC 5798 removed authentication; authentication types are VRRPv2 only)",
            ),
        ));
    }
    let secret_len = match &vr.auth_secret {
        Some(secret) if !secret.is_empty() => secret.len(),
        _ => {
            return Err(ctx.error_at(
                &secret_path,
                &auth_path,
                format!(
                    "is missing: auth_type = {:?} requires a secret",
                    auth.name()
                ),
            ))
        }
    };
    let max = auth.max_secret_len();
    if secret_len > max {
        let message = if auth == AuthType::Simple {
            format!(
                "is {secret_len} bytes long, but {auth} authentication carries at most {max} bytes. \
                 rVRRPd 0.1.3 silently truncated it to its first {max} bytes; to keep \
                 interoperating with such routers, set auth_secret to exactly those first {max} bytes"
            )
        } else {
            format!("is {secret_len} bytes long, but {auth} accepts at most {max} bytes")
        };
        return Err(ctx.error(&secret_path, message));
    }
    if auth.is_proprietary() && !vr.rfc3768 {
        ctx.warn(
            &format!("{p}.rfc3768"),
            format!(
                "= false is overridden: auth_type = {:?} forces it to true",
                auth.name()
            ),
        );
        vr.rfc3768 = true;
    }
    Ok(())
}

fn vrouter_uniqueness(vrouters: &[VRouter], ctx: &Context<'_>) -> Result<(), ConfigError> {
    let mut instances = HashMap::new();
    let mut vifnames = HashMap::new();
    for (index, vr) in vrouters.iter().enumerate() {
        let key = (vr.interface.as_str(), vr.group, vr.family());
        if let Some(first) = instances.insert(key, index) {
            return Err(ctx.error(
                &format!("vrouter[{index}].group"),
                value_error(
                    vr.group,
                    format_args!(
                        "is already used for {} on interface {:?} by vrouter[{first}] \
                         (one virtual router per interface, group and address family)",
                        vr.family(),
                        vr.interface.as_str()
                    ),
                ),
            ));
        }
        if vr.iftype == IfType::Macvlan {
            let name = vr.vifname().into_owned();
            if let Some(first) = vifnames.insert(name.clone(), index) {
                let hint = if vr.vifname.is_none() {
                    " (the default standby<group>)"
                } else {
                    ""
                };
                return Err(ctx.error(
                    &format!("vrouter[{index}].vifname"),
                    value_error(
                        format_args!("{name:?}{hint}"),
                        format_args!(
                            "is already used by vrouter[{first}]; give each macvlan virtual router its own vifname"
                        ),
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Every vrouter's name (explicit or default) differs: notify scripts and the FIFO tell
/// them apart by it. Runs after [`vrouter_uniqueness`], so default names are unique.
fn vrouter_names(vrouters: &[VRouter], ctx: &Context<'_>) -> Result<(), ConfigError> {
    let mut names = HashMap::new();
    for (index, vr) in vrouters.iter().enumerate() {
        if let Some(first) = names.insert(vr.name().into_owned(), index) {
            let directive = if vr.name.is_some() { "name" } else { "group" };
            return Err(ctx.error(
                &format!("vrouter[{index}].{directive}"),
                format!(
                    "gives the name {:?} of vrouter[{first}] again (every vrouter needs its own name; set name)",
                    vr.name()
                ),
            ));
        }
    }
    Ok(())
}

fn static_routes(config: &Config, ctx: &Context<'_>) -> Result<(), ConfigError> {
    let mut seen = HashMap::new();
    for (index, route) in config.protocols.static_routes.iter().enumerate() {
        let mask = u32::from(route.mask.addr());
        let network = u32::from(route.route) & mask;
        if network != u32::from(route.route) {
            return Err(ctx.error(
                &format!("protocols.static[{index}].route"),
                value_error(
                    format_args!("{:?}", route.route.to_string()),
                    format_args!(
                        "has host bits set for mask {} (did you mean {}?)",
                        route.mask,
                        std::net::Ipv4Addr::from(network)
                    ),
                ),
            ));
        }
        if let Some(first) = seen.insert((route.route, route.prefix_len()), index) {
            return Err(ctx.error(
                &format!("protocols.static[{index}]"),
                format!(
                    "repeats the route {}/{} of protocols.static[{first}]",
                    route.route,
                    route.prefix_len()
                ),
            ));
        }
    }
    Ok(())
}
