//! Distribution files: man pages (`cargo xtask man`), shell completions
//! (`cargo xtask completions`) and the Debian package (`cargo xtask deb`, in [`deb`]).
//!
//! The binaries' man pages and completions come from their clap parsers — the very file the
//! binaries parse with, `rvrrpd/src/cli.rs`, compiled into xtask here — through clap_mangen
//! and clap_complete; `rvrrpd.conf(5)` is docs/configuration.md through [`roff`].

pub mod deb;
pub mod roff;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap_complete::Shell;

#[allow(dead_code)]
#[path = "../../../rvrrpd/src/cli.rs"]
pub mod cli;

/// The shells completions are generated for, with where Debian installs each binary's file.
pub const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// The man page of one binary, in roff.
pub fn man_page(cmd: clap::Command, section: &str) -> Result<String> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .section(section)
        .manual("rvrrpd manual")
        .source(format!("rvrrpd {}", env!("CARGO_PKG_VERSION")))
        .render(&mut out)
        .context("rendering a man page")?;
    String::from_utf8(out).context("man page is not UTF-8")
}

/// `rvrrpd.conf(5)` from docs/configuration.md.
pub fn conf_page(root: &Path) -> Result<String> {
    let md = root.join("docs/configuration.md");
    let text = std::fs::read_to_string(&md).with_context(|| format!("reading {}", md.display()))?;
    Ok(roff::markdown_to_man(
        &text,
        &roff::Page {
            name: "rvrrpd.conf",
            section: "5",
            summary: "configuration file of the rvrrpd VRRP daemon",
            source: &format!("rvrrpd {}", env!("CARGO_PKG_VERSION")),
            manual: "rvrrpd manual",
            see_also: &["rvrrpd(8)", "rvrrpctl(8)", "rvrrpd-pw(8)"],
        },
    ))
}

/// Every man page: (file name, roff text).
pub fn man_pages(root: &Path) -> Result<Vec<(String, String)>> {
    let mut pages = Vec::new();
    for (cmd, section) in cli::commands() {
        let name = format!("{}.{section}", cmd.get_name());
        pages.push((name, man_page(cmd, section)?));
    }
    pages.push(("rvrrpd.conf.5".to_string(), conf_page(root)?));
    Ok(pages)
}

/// One binary's completion script for `shell`.
pub fn completion(mut cmd: clap::Command, shell: Shell) -> String {
    let name = cmd.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The file a completion goes in, relative to the completions directory: the names Debian's
/// bash-completion, zsh and fish look up.
pub fn completion_file(shell: Shell, bin: &str) -> PathBuf {
    match shell {
        Shell::Bash => PathBuf::from(format!("bash/{bin}")),
        Shell::Zsh => PathBuf::from(format!("zsh/_{bin}")),
        Shell::Fish => PathBuf::from(format!("fish/{bin}.fish")),
        other => PathBuf::from(format!("{other}/{bin}")),
    }
}

/// Writes the man pages under `out` (target/dist/man); returns the files.
pub fn write_man(root: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut files = Vec::new();
    for (name, text) in man_pages(root)? {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        files.push(path);
    }
    Ok(files)
}

/// Writes every binary's completions under `out` (target/dist/completions); returns the files.
pub fn write_completions(out: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for (cmd, _) in cli::commands() {
        for shell in SHELLS {
            let path = out.join(completion_file(shell, cmd.get_name()));
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&path, completion(cmd.clone(), shell))
                .with_context(|| format!("writing {}", path.display()))?;
            files.push(path);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        crate::project_root()
    }

    /// Directives of a configuration sample: `key = ...` lines, commented out or not.
    pub fn sample_directives(sample: &str) -> Vec<String> {
        let mut keys: Vec<String> = sample
            .lines()
            .filter_map(|l| {
                let l = l.trim_start_matches('#').trim_start();
                let (key, _) = l.split_once(" = ")?;
                key.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    .then(|| key.to_string())
            })
            .filter(|k| !k.is_empty())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// How clap_mangen and our converter write `--name` in roff.
    fn roff_long(long: &str) -> String {
        format!("\\-\\-{}", long.replace('-', "\\-"))
    }

    #[test]
    fn every_option_is_in_its_man_page_and_completions() {
        for (cmd, section) in cli::commands() {
            let name = cmd.get_name().to_string();
            let page = man_page(cmd.clone(), section).unwrap();
            assert!(
                page.contains(&format!(".TH {name} {section}")),
                "{name}: {page}"
            );
            let bash = completion(cmd.clone(), Shell::Bash);
            let zsh = completion(cmd.clone(), Shell::Zsh);
            let fish = completion(cmd.clone(), Shell::Fish);
            let mut n = 0;
            for arg in cmd.get_arguments() {
                if let Some(long) = arg.get_long() {
                    n += 1;
                    assert!(
                        page.contains(&roff_long(long)),
                        "{name}.{section} lacks --{long}"
                    );
                    assert!(bash.contains(&format!("--{long}")), "bash {name}: --{long}");
                    assert!(zsh.contains(&format!("--{long}")), "zsh {name}: --{long}");
                    assert!(
                        fish.contains(&format!("-l {long}")),
                        "fish {name}: --{long}"
                    );
                }
                if let Some(short) = arg.get_short() {
                    assert!(page.contains(&format!("\\-{short}")), "{name}: -{short}");
                }
            }
            assert!(n >= 3, "{name}: {n} long options");
        }
        let daemon = man_page(cli::commands().remove(0).0, "8").unwrap();
        assert!(daemon.contains("SIGUSR1"), "signals documented");
    }

    #[test]
    fn the_configuration_page_has_every_directive() {
        let page = conf_page(&root()).unwrap();
        assert!(page.starts_with(".TH \"RVRRPD.CONF\" \"5\""), "{page}");
        let sample = std::fs::read_to_string(root().join("conf/rvrrpd.conf")).unwrap();
        let keys = sample_directives(&sample);
        assert!(keys.len() >= 30, "{keys:?}");
        for k in ["dump_file", "pid", "vip", "garp_interval", "tls_cert"] {
            assert!(
                keys.iter().any(|x| x == k),
                "{k} not in the sample: {keys:?}"
            );
        }
        for key in &keys {
            let tagged = format!("\\fB{}\\fR", key.replace('-', "\\-"));
            assert!(page.contains(&tagged), "rvrrpd.conf.5 lacks {key}");
        }
        // Every section heading of the document.
        let md = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
        for h in md.lines().filter_map(|l| l.strip_prefix("## ")) {
            let h = roff::heading(h, true);
            assert!(page.contains(&format!(".SH \"{h}\"")), "no section {h}");
        }
    }

    #[test]
    fn pages_and_completions_are_written() {
        let dir = std::env::temp_dir().join(format!("xtask-dist-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let man = write_man(&root(), &dir.join("man")).unwrap();
        let names: Vec<_> = man
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["rvrrpd.8", "rvrrpctl.8", "rvrrpd-pw.8", "rvrrpd.conf.5"]
        );
        let comp = write_completions(&dir.join("completions")).unwrap();
        assert_eq!(comp.len(), 9);
        assert!(dir.join("completions/zsh/_rvrrpctl").exists());
        assert!(dir.join("completions/fish/rvrrpd-pw.fish").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
