//! Checks of the tracking directives: `[[track_script]]`, `[[track_file]]` and the
//! references vrouters make to them and to interfaces.
//!
//! The one place configuration validation looks at the system: a script that cannot be
//! executed (missing, not a file, no execute bit) or a `user` that does not exist is an
//! error here, not a surprise at run time.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::error::ConfigError;
use super::notify::{check_executable, check_name};
use super::serde_util::value_error;
use super::tracking::{check_weight, TrackRef, FILE_WEIGHT_RANGE, WEIGHT_RANGE};
use super::validate::Context;
use super::{Config, IfName};
use crate::track::command;

pub(super) fn tracking(config: &Config, ctx: &mut Context<'_>) -> Result<(), ConfigError> {
    let scripts = names(
        config.track_scripts.iter().map(|s| s.name.as_str()),
        "track_script",
        ctx,
    )?;
    let files = names(
        config.track_files.iter().map(|f| f.name.as_str()),
        "track_file",
        ctx,
    )?;
    for (i, s) in config.track_scripts.iter().enumerate() {
        let p = format!("track_script[{i}]");
        script_command(&s.script, s.shell, &format!("{p}.script"), ctx)?;
        seconds(s.interval, &format!("{p}.interval"), ctx)?;
        seconds(s.timeout(), &format!("{p}.timeout"), ctx)?;
        check_weight(s.weight, WEIGHT_RANGE).map_err(|m| ctx.error(&format!("{p}.weight"), m))?;
        for (what, n) in [("fall", s.fall), ("rise", s.rise)] {
            if !(1..=1000).contains(&n) {
                return Err(ctx.error(
                    &format!("{p}.{what}"),
                    format!("= {n} is out of range (1–1000 consecutive runs)"),
                ));
            }
        }
        if let Some(user) = &s.user {
            if crate::sysuser::lookup(user).is_none() {
                return Err(ctx.error(
                    &format!("{p}.user"),
                    value_error(format_args!("{user:?}"), "is not a user of this system"),
                ));
            }
        }
    }
    for (i, f) in config.track_files.iter().enumerate() {
        let p = format!("track_file[{i}]");
        if !f.file.is_absolute() {
            return Err(ctx.error(
                &format!("{p}.file"),
                value_error(
                    format_args!("{:?}", f.file.display().to_string()),
                    "must be an absolute path",
                ),
            ));
        }
        check_weight(f.weight, FILE_WEIGHT_RANGE)
            .map_err(|m| ctx.error(&format!("{p}.weight"), m))?;
    }
    for (v, vr) in config.vrouters.iter().enumerate() {
        let p = format!("vrouter[{v}]");
        for (j, r) in vr.track_interface.iter().enumerate() {
            let at = format!("{p}.track_interface[{j}]");
            if let Err(m) = IfName::try_from(r.name.clone()) {
                return Err(ctx.error(&at, m));
            }
            references(r, &vr.track_interface[..j], WEIGHT_RANGE, &at, ctx)?;
        }
        for (j, r) in vr.track_script.iter().enumerate() {
            let at = format!("{p}.track_script[{j}]");
            known(r, &scripts, "track_script", &at, ctx)?;
            references(r, &vr.track_script[..j], WEIGHT_RANGE, &at, ctx)?;
        }
        for (j, r) in vr.track_file.iter().enumerate() {
            let at = format!("{p}.track_file[{j}]");
            known(r, &files, "track_file", &at, ctx)?;
            references(r, &vr.track_file[..j], FILE_WEIGHT_RANGE, &at, ctx)?;
        }
    }
    sync_groups(config, ctx)?;
    for (i, s) in config.track_scripts.iter().enumerate() {
        if !config
            .vrouters
            .iter()
            .any(|vr| vr.track_script.iter().any(|r| r.name == s.name))
        {
            ctx.warn(
                &format!("track_script[{i}]"),
                format!("{:?} is tracked by no vrouter: it will not run", s.name),
            );
        }
    }
    Ok(())
}

fn sync_groups(config: &Config, ctx: &mut Context<'_>) -> Result<(), ConfigError> {
    names(
        config.sync_groups.iter().map(|g| g.name.as_str()),
        "sync_group",
        ctx,
    )?;
    let vrouters: HashMap<String, usize> = config
        .vrouters
        .iter()
        .enumerate()
        .map(|(i, vr)| (vr.name().into_owned(), i))
        .collect();
    let mut member_of: HashMap<&str, usize> = HashMap::new();
    // Resolved already by the notify checks (an unknown user is their error).
    let user = config.script_user.as_ref().and_then(|u| u.resolve().ok());
    for (i, g) in config.sync_groups.iter().enumerate() {
        check_name(&g.name).map_err(|e| ctx.error(&format!("sync_group[{i}].name"), e))?;
        for (directive, script) in g.notify_scripts() {
            let Some(script) = script else { continue };
            check_executable(script.program(), user).map_err(|why| {
                ctx.error(
                    &format!("sync_group[{i}].{directive}"),
                    value_error(
                        format_args!("{:?}", script.as_str()),
                        format_args!("cannot be executed: {why}"),
                    ),
                )
            })?;
        }
        let p = format!("sync_group[{i}].vrouters");
        if g.vrouters.is_empty() {
            return Err(ctx.error(&p, "is empty: a sync group needs its member vrouters"));
        }
        for (j, name) in g.vrouters.iter().enumerate() {
            let at = format!("{p}[{j}]");
            if !vrouters.contains_key(name) {
                let mut known: Vec<&str> = vrouters.keys().map(String::as_str).collect();
                known.sort_unstable();
                return Err(ctx.error(
                    &at,
                    value_error(
                        format_args!("{name:?}"),
                        format_args!("names no vrouter (vrouter names: {})", known.join(", ")),
                    ),
                ));
            }
            if let Some(other) = member_of.insert(name.as_str(), i) {
                let what = if other == i {
                    "twice in this sync group".to_string()
                } else {
                    format!("already in sync_group[{other}]: a vrouter belongs to one sync group")
                };
                return Err(ctx.error(&at, format!("lists {name:?} {what}")));
            }
        }
        if g.vrouters.len() == 1 {
            ctx.warn(&p, "has a single member: the sync group changes nothing");
        }
    }
    Ok(())
}

/// Checks names are non-empty and unique; returns name → position.
fn names<'a>(
    list: impl Iterator<Item = &'a str>,
    section: &str,
    ctx: &Context<'_>,
) -> Result<HashMap<&'a str, usize>, ConfigError> {
    let mut seen = HashMap::new();
    for (i, name) in list.enumerate() {
        if name.trim().is_empty() {
            return Err(ctx.error(&format!("{section}[{i}].name"), "must not be empty"));
        }
        if let Some(first) = seen.insert(name, i) {
            return Err(ctx.error(
                &format!("{section}[{i}].name"),
                format!("{name:?} is already the name of {section}[{first}]"),
            ));
        }
    }
    Ok(seen)
}

fn known(
    r: &TrackRef,
    defined: &HashMap<&str, usize>,
    section: &str,
    at: &str,
    ctx: &Context<'_>,
) -> Result<(), ConfigError> {
    if defined.contains_key(r.name.as_str()) {
        return Ok(());
    }
    let mut list: Vec<&str> = defined.keys().copied().collect();
    list.sort_unstable();
    let known = if list.is_empty() {
        format!("there is no [[{section}]]")
    } else {
        format!("defined: {}", list.join(", "))
    };
    Err(ctx.error(
        at,
        value_error(
            format_args!("{:?}", r.name),
            format_args!("names no [[{section}]] ({known})"),
        ),
    ))
}

fn references(
    r: &TrackRef,
    before: &[TrackRef],
    range: std::ops::RangeInclusive<i32>,
    at: &str,
    ctx: &Context<'_>,
) -> Result<(), ConfigError> {
    if before.iter().any(|b| b.name == r.name) {
        return Err(ctx.error(at, format!("tracks {:?} twice", r.name)));
    }
    if let Some(w) = r.weight {
        check_weight(w, range).map_err(|m| ctx.error(&format!("{at}.weight"), m))?;
    }
    Ok(())
}

fn seconds(value: f64, at: &str, ctx: &Context<'_>) -> Result<(), ConfigError> {
    if value.is_finite() && (0.01..=86_400.0).contains(&value) {
        Ok(())
    } else {
        Err(ctx.error(
            at,
            value_error(value, "is out of range (0.01–86400 seconds)"),
        ))
    }
}

/// The script must split into arguments and its program must be an executable file.
fn script_command(line: &str, shell: bool, at: &str, ctx: &Context<'_>) -> Result<(), ConfigError> {
    let argv = command::split(line)
        .map_err(|e| ctx.error(at, value_error(format_args!("{line:?}"), e)))?;
    if shell {
        return Ok(());
    }
    let program = &argv[0];
    match find_program(program) {
        Ok(_) => Ok(()),
        Err(why) => Err(ctx.error(
            at,
            value_error(
                format_args!("{line:?}"),
                format_args!("cannot be executed: {program} {why}"),
            ),
        )),
    }
}

/// Finds `program` (a path, or a name looked up in `$PATH`) as an executable file.
pub fn find_program(program: &str) -> Result<PathBuf, String> {
    if program.contains('/') {
        return executable(Path::new(program)).map(|()| PathBuf::from(program));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        if executable(&candidate).is_ok() {
            return Ok(candidate);
        }
    }
    Err("is not found in $PATH".to_string())
}

fn executable(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot be read ({e})"))?;
    if !meta.is_file() {
        return Err("is not a file".to_string());
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err("is not executable (no execute permission)".to_string());
    }
    Ok(())
}
