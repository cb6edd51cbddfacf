//! `cargo xtask deb`: the Debian package, built with `dpkg-deb` from a staged tree (no
//! debhelper), and [`check`], which `cargo xtask test` runs on it.
//!
//! | installed | from |
//! |---|---|
//! | /usr/sbin/rvrrpd, /usr/bin/rvrrpctl, /usr/bin/rvrrpd-pw | `cargo build --release` (stripped) |
//! | /usr/lib/rvrrpd/rvrrpd-ebpf.o | `cargo xtask build-ebpf --release` (where the daemon looks) |
//! | /lib/systemd/system/rvrrpd.service | conf/rvrrpd.service |
//! | /etc/rvrrpd/rvrrpd.conf (conffile) | conf/rvrrpd.packaged.conf |
//! | /usr/share/man/man{5,8}/… | [`super::man_pages`] |
//! | bash, zsh, fish completions | [`super::write_completions`] |
//! | /usr/share/doc/rvrrpd/{copyright, service.md, examples/} | GPL-3.0-or-later, docs/, conf/ |
//!
//! The maintainer scripts only reload systemd and stop the service on removal: the package
//! does not enable or start rvrrpd (a VRRP daemon must not claim addresses before it is
//! configured): `systemctl enable --now rvrrpd` does.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::{completion, completion_file, man_pages, SHELLS};
use crate::{cargo, ebpf, run};

/// Where the daemon looks for an installed eBPF object (rvrrpd/src/net/xdp.rs).
pub const EBPF_PATH: &str = "usr/lib/rvrrpd/rvrrpd-ebpf.o";

/// The binaries: (cargo name, installed path).
const BINARIES: [(&str, &str); 3] = [
    ("rvrrpd", "usr/sbin/rvrrpd"),
    ("rvrrpctl", "usr/bin/rvrrpctl"),
    ("rvrrpd-pw", "usr/bin/rvrrpd-pw"),
];

/// Files every package must contain (the check looks for each).
pub const EXPECTED: [&str; 20] = [
    "./usr/sbin/rvrrpd",
    "./usr/bin/rvrrpctl",
    "./usr/bin/rvrrpd-pw",
    "./usr/lib/rvrrpd/rvrrpd-ebpf.o",
    "./lib/systemd/system/rvrrpd.service",
    "./etc/rvrrpd/rvrrpd.conf",
    "./usr/share/man/man8/rvrrpd.8.gz",
    "./usr/share/man/man8/rvrrpctl.8.gz",
    "./usr/share/man/man8/rvrrpd-pw.8.gz",
    "./usr/share/man/man5/rvrrpd.conf.5.gz",
    "./usr/share/bash-completion/completions/rvrrpd",
    "./usr/share/bash-completion/completions/rvrrpctl",
    "./usr/share/bash-completion/completions/rvrrpd-pw",
    "./usr/share/zsh/vendor-completions/_rvrrpd",
    "./usr/share/zsh/vendor-completions/_rvrrpctl",
    "./usr/share/fish/vendor_completions.d/rvrrpd.fish",
    "./usr/share/fish/vendor_completions.d/rvrrpd-pw.fish",
    "./usr/share/doc/rvrrpd/copyright",
    "./usr/share/doc/rvrrpd/service.md",
    "./usr/share/doc/rvrrpd/examples/rvrrpd.conf",
];

/// The package version (the workspace's).
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

fn arch() -> Result<String> {
    let o = Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .context("running dpkg --print-architecture (package dpkg)")?;
    if !o.status.success() {
        bail!("dpkg --print-architecture failed");
    }
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// Builds the package; `dev`: from the debug build (what the tests just built) with fast
/// gzip compression, for `cargo xtask test`. Returns the `.deb`.
pub fn build(root: &Path, dev: bool) -> Result<PathBuf> {
    let profile = if dev { "debug" } else { "release" };
    let mut b = cargo();
    b.current_dir(root)
        .args(["build", "-p", "rvrrpd", "--bins"]);
    if !dev {
        b.arg("--release");
    }
    run(&mut b)?;
    let object = ebpf::build(root, true)?;
    let arch = arch()?;
    let target = target_dir(root);
    let out = target.join("debian");
    let stage = out.join(format!("rvrrpd_{}_{arch}", version()));
    if stage.exists() {
        std::fs::remove_dir_all(&stage).with_context(|| format!("removing {}", stage.display()))?;
    }
    let put = |rel: &str, data: &[u8], mode: u32| -> Result<PathBuf> {
        let path = stage.join(rel);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        std::fs::write(&path, data).with_context(|| format!("writing {}", path.display()))?;
        set_mode(&path, mode)?;
        Ok(path)
    };
    let read = |rel: &str| -> Result<Vec<u8>> {
        let p = root.join(rel);
        std::fs::read(&p).with_context(|| format!("reading {}", p.display()))
    };

    let mut glibc = None;
    let mut gcc_s = false;
    for (name, dest) in BINARIES {
        let bin = target.join(format!("{profile}/{name}"));
        let data = std::fs::read(&bin).with_context(|| format!("reading {}", bin.display()))?;
        glibc = glibc.max(max_glibc(&data));
        gcc_s |= find(&data, b"libgcc_s.so.1");
        let path = put(dest, &data, 0o755)?;
        run(Command::new("strip").arg("--strip-debug").arg(&path))?;
    }
    put(EBPF_PATH, &std::fs::read(&object)?, 0o644)?;
    put(
        "lib/systemd/system/rvrrpd.service",
        &read("conf/rvrrpd.service")?,
        0o644,
    )?;
    put(
        "etc/rvrrpd/rvrrpd.conf",
        &read("conf/rvrrpd.packaged.conf")?,
        0o644,
    )?;
    for (name, text) in man_pages(root)? {
        let section = name.rsplit('.').next().unwrap_or("8");
        let path = put(
            &format!("usr/share/man/man{section}/{name}"),
            text.as_bytes(),
            0o644,
        )?;
        run(Command::new("gzip").args(["-9nf"]).arg(&path))?;
    }
    for (cmd, _) in super::cli::commands() {
        for shell in SHELLS {
            let dir = match shell {
                clap_complete::Shell::Bash => "usr/share/bash-completion/completions",
                clap_complete::Shell::Zsh => "usr/share/zsh/vendor-completions",
                _ => "usr/share/fish/vendor_completions.d",
            };
            let file = completion_file(shell, cmd.get_name());
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = name.context("completion file name")?;
            put(
                &format!("{dir}/{name}"),
                completion(cmd.clone(), shell).as_bytes(),
                0o644,
            )?;
        }
    }
    put(
        "usr/share/doc/rvrrpd/copyright",
        COPYRIGHT.as_bytes(),
        0o644,
    )?;
    put(
        "usr/share/doc/rvrrpd/service.md",
        &read("docs/service.md")?,
        0o644,
    )?;
    put(
        "usr/share/doc/rvrrpd/configuration.md",
        &read("docs/configuration.md")?,
        0o644,
    )?;
    for sample in ["rvrrpd.conf", "rvrrpd.json.conf", "v3-ipv6.conf"] {
        put(
            &format!("usr/share/doc/rvrrpd/examples/{sample}"),
            &read(&format!("conf/{sample}"))?,
            0o644,
        )?;
    }

    let mut depends = vec![match glibc {
        Some((minor, 0)) => format!("libc6 (>= 2.{minor})"),
        Some((minor, patch)) => format!("libc6 (>= 2.{minor}.{patch})"),
        None => "libc6".to_string(),
    }];
    if gcc_s {
        depends.push("libgcc-s1".into());
    }
    let installed_kib = tree_kib(&stage)?;
    let control = format!(
        "Package: rvrrpd\n\
         Version: {version}\n\
         Architecture: {arch}\n\
         Maintainer: rvrrpd developers <rvrrpd@example.invalid>\n\
         Installed-Size: {installed_kib}\n\
         Depends: {depends}\n\
         Recommends: nftables\n\
         Section: net\n\
         Priority: optional\n\
         Homepage: https://example.invalid/rvrrpd\n\
         Description: fast, secure, standards-compliant VRRP daemon\n \
         rvrrpd implements VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798) for IPv4 and IPv6,\n \
         compatible with rVRRPd 0.1.3 configurations, with an XDP fast path, a client\n \
         API (rvrrpctl), systemd integration (Type=notify, watchdog) and a JSON state\n \
         dump on SIGUSR1.\n",
        version = version(),
        depends = depends.join(", "),
    );
    put("DEBIAN/control", control.as_bytes(), 0o644)?;
    put("DEBIAN/conffiles", b"/etc/rvrrpd/rvrrpd.conf\n", 0o644)?;
    put("DEBIAN/postinst", POSTINST.as_bytes(), 0o755)?;
    put("DEBIAN/prerm", PRERM.as_bytes(), 0o755)?;
    put("DEBIAN/postrm", POSTRM.as_bytes(), 0o755)?;

    let deb = out.join(format!("rvrrpd_{}_{arch}.deb", version()));
    let mut d = Command::new("dpkg-deb");
    d.arg("--build").arg("--root-owner-group");
    if dev {
        d.args(["-Zgzip", "-z1"]);
    }
    run(d.arg(&stage).arg(&deb))?;
    Ok(deb)
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative to the workspace) or `target/`.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => root.join(d),
        _ => root.join("target"),
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {}", path.display()))
}

/// Installed-Size: KiB of the files outside DEBIAN/, each rounded up.
fn tree_kib(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let e = e?;
        if e.file_name() == "DEBIAN" {
            continue;
        }
        let m = e.metadata()?;
        total += if m.is_dir() {
            tree_kib(&e.path())?
        } else {
            m.len().div_ceil(1024)
        };
    }
    Ok(total)
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The highest `GLIBC_2.N[.P]` symbol version a binary references, as (N, P).
pub fn max_glibc(bin: &[u8]) -> Option<(u32, u32)> {
    let tag = b"GLIBC_2.";
    let mut best: Option<(u32, u32)> = None;
    let mut i = 0;
    while let Some(off) = bin[i..].windows(tag.len()).position(|w| w == tag) {
        let start = i + off + tag.len();
        let digits = |from: usize| {
            bin[from..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count()
        };
        let n = digits(start);
        if n > 0 {
            let minor: u32 = std::str::from_utf8(&bin[start..start + n])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let mut patch = 0;
            if bin.get(start + n) == Some(&b'.') {
                let m = digits(start + n + 1);
                patch = std::str::from_utf8(&bin[start + n + 1..start + n + 1 + m])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
            }
            best = best.max(Some((minor, patch)));
        }
        i = start;
    }
    best
}

const COPYRIGHT: &str = "\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: rvrrpd
Source: https://example.invalid/rvrrpd

Files: *
Copyright: rvrrpd developers
License: GPL-3.0-or-later

License: GPL-3.0-or-later
 This program is free software: you can redistribute it and/or modify it under
 the terms of the GNU General Public License as published by the Free Software
 Foundation, either version 3 of the License, or (at your option) any later
 version.
 .
 This program is distributed in the hope that it will be useful, but WITHOUT
 ANY WARRANTY; without even the implied warranty of MERCHANTABILITY or FITNESS
 FOR A PARTICULAR PURPOSE. See the GNU General Public License for more details.
 .
 On Debian systems, the complete text of the GNU General Public License
 version 3 can be found in /usr/share/common-licenses/GPL-3.
";

const POSTINST: &str = "#!/bin/sh
set -e
# Not enabled or started here: configure /etc/rvrrpd/rvrrpd.conf, then
# `systemctl enable --now rvrrpd`. An upgrade restarts a running service.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
    if [ \"$1\" = configure ] && [ -n \"$2\" ]; then
        systemctl try-restart rvrrpd.service || true
    fi
fi
exit 0
";

const PRERM: &str = "#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ \"$1\" = remove ]; then
    systemctl stop rvrrpd.service || true
fi
exit 0
";

const POSTRM: &str = "#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
exit 0
";

/// Counts checks and collects failures.
#[derive(Default)]
struct Checks {
    passed: usize,
    failed: Vec<String>,
}

impl Checks {
    fn check(&mut self, what: &str, ok: bool, detail: impl FnOnce() -> String) {
        if ok {
            self.passed += 1;
            eprintln!("deb check: ok: {what}");
        } else {
            let d = detail();
            eprintln!("deb check: FAILED: {what}: {d}");
            self.failed.push(format!("{what}: {d}"));
        }
    }
}

fn output(cmd: &mut Command) -> Result<(bool, String, String)> {
    let o = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    Ok((
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    ))
}

/// Checks a built package: control fields, conffiles, contents and ownership, then unpacks it
/// into a scratch root (`dpkg -x`) and runs the packaged `rvrrpd --version` and `--check` on
/// the packaged configuration, and lints the packaged man pages with groff.
pub fn check(root: &Path, deb: &Path) -> Result<()> {
    let mut c = Checks::default();
    let field = |name: &str| -> Result<String> {
        let (_, out, _) = output(Command::new("dpkg-deb").arg("-f").arg(deb).arg(name))?;
        Ok(out.trim().to_string())
    };
    let (ok, info, err) = output(Command::new("dpkg-deb").arg("-I").arg(deb))?;
    c.check("dpkg-deb -I reads the package", ok, || err.clone());
    c.check("Package: rvrrpd", field("Package")? == "rvrrpd", || {
        info.clone()
    });
    let v = field("Version")?;
    c.check("Version is the workspace's", v == version(), || v.clone());
    let a = field("Architecture")?;
    c.check("Architecture is dpkg's", a == arch()?, || a.clone());
    let dep = field("Depends")?;
    c.check(
        "Depends on a versioned libc6",
        dep.contains("libc6 (>= 2."),
        || dep.clone(),
    );
    let size: u64 = field("Installed-Size")?.parse().unwrap_or(0);
    c.check("Installed-Size is set", size > 100, || size.to_string());
    for f in ["Maintainer", "Section", "Priority", "Description"] {
        let v = field(f)?;
        c.check(&format!("{f} is set"), !v.is_empty(), || info.clone());
    }
    let (_, conffiles, _) = output(Command::new("dpkg-deb").arg("-I").arg(deb).arg("conffiles"))?;
    c.check(
        "conffiles: /etc/rvrrpd/rvrrpd.conf",
        conffiles.trim() == "/etc/rvrrpd/rvrrpd.conf",
        || conffiles.clone(),
    );

    let (ok, listing, err) = output(Command::new("dpkg-deb").arg("-c").arg(deb))?;
    c.check("dpkg-deb -c lists the contents", ok, || err.clone());
    let entries: Vec<(&str, &str, &str)> = listing
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            Some((*cols.first()?, *cols.get(1)?, *cols.get(5)?))
        })
        .collect();
    for want in EXPECTED {
        c.check(
            &format!("contains {want}"),
            entries.iter().any(|e| e.2 == want),
            || listing.clone(),
        );
    }
    let not_root: Vec<_> = entries.iter().filter(|e| e.1 != "root/root").collect();
    c.check("every file is root/root", not_root.is_empty(), || {
        format!("{not_root:?}")
    });
    let mode = |path: &str| entries.iter().find(|e| e.2 == path).map(|e| e.0);
    c.check(
        "binaries are executable",
        mode("./usr/sbin/rvrrpd") == Some("-rwxr-xr-x"),
        || format!("{:?}", mode("./usr/sbin/rvrrpd")),
    );
    let xdp = std::fs::read_to_string(root.join("rvrrpd/src/net/xdp.rs"))?;
    c.check(
        "the eBPF object is where the daemon looks",
        xdp.contains(&format!("INSTALLED_OBJECT: &str = \"/{EBPF_PATH}\"")),
        || "rvrrpd/src/net/xdp.rs INSTALLED_OBJECT differs".into(),
    );

    let scratch = target_dir(root).join("debian/scratch-root");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    let (ok, _, err) = output(Command::new("dpkg").arg("-x").arg(deb).arg(&scratch))?;
    c.check("dpkg -x unpacks it", ok, || err.clone());
    let daemon = scratch.join("usr/sbin/rvrrpd");
    let (ok, out, err) = output(Command::new(&daemon).arg("--version"))?;
    c.check(
        "packaged rvrrpd --version",
        ok && out.contains(version()),
        || format!("{out}{err}"),
    );
    let conf = scratch.join("etc/rvrrpd/rvrrpd.conf");
    let (ok, out, err) = output(Command::new(&daemon).arg("--check").arg("-c").arg(&conf))?;
    c.check(
        "packaged rvrrpd --check on the packaged configuration",
        ok && out.contains("configuration OK"),
        || format!("{out}{err}"),
    );
    for (bin, _) in &BINARIES[1..] {
        let path = scratch.join(if *bin == "rvrrpd" {
            "usr/sbin"
        } else {
            "usr/bin"
        });
        let (ok, out, err) = output(Command::new(path.join(bin)).arg("--version"))?;
        c.check(&format!("packaged {bin} --version"), ok, || {
            format!("{out}{err}")
        });
    }
    let unit = std::fs::read_to_string(scratch.join("lib/systemd/system/rvrrpd.service"))?;
    c.check(
        "the unit starts the packaged binary on the packaged configuration",
        unit.contains("ExecStart=/usr/sbin/rvrrpd -m 1 -c /etc/rvrrpd/rvrrpd.conf"),
        || unit.clone(),
    );
    for page in [
        "man8/rvrrpd.8.gz",
        "man8/rvrrpctl.8.gz",
        "man8/rvrrpd-pw.8.gz",
        "man5/rvrrpd.conf.5.gz",
    ] {
        let path = scratch.join("usr/share/man").join(page);
        let (ok, roff, err) = output(Command::new("gzip").arg("-dc").arg(&path))?;
        c.check(&format!("{page} is gzip"), ok, || err.clone());
        let lint = Command::new("groff")
            .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .context("running groff (package groff-base)")
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .context("groff stdin")?
                    .write_all(roff.as_bytes())?;
                Ok(child.wait_with_output()?)
            })?;
        let warnings = String::from_utf8_lossy(&lint.stderr).into_owned();
        c.check(
            &format!("{page} renders without groff warnings"),
            lint.status.success() && warnings.trim().is_empty(),
            || warnings.clone(),
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
    // The plain closing line CI reads.
    println!("deb: {} passed, {} failed", c.passed, c.failed.len());
    if !c.failed.is_empty() {
        bail!(
            "{} package check(s) failed:\n{}",
            c.failed.len(),
            c.failed.join("\n")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_version_is_the_highest_referenced() {
        let bin = b"\0GLIBC_2.2.5\0GLIBC_2.34\0GLIBC_2.3.4\0GLIBC_PRIVATE\0GLIBC_2.";
        assert_eq!(max_glibc(bin), Some((34, 0)));
        assert_eq!(max_glibc(b"GLIBC_2.4\0GLIBC_2.17.1"), Some((17, 1)));
        assert_eq!(max_glibc(b"nothing"), None);
    }
}
