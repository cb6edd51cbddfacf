//! The command lines of the three binaries — `rvrrpd`, `rvrrpctl` and `rvrrpd-pw` — as clap
//! parsers, in one place so that the binaries parse with them and `cargo xtask man` /
//! `cargo xtask completions` generate man pages and shell completions from the very same
//! definitions.
//!
//! This file depends on `clap` and `std` only: xtask compiles it into itself
//! (`#[path = "../../rvrrpd/src/cli.rs"]`) without building the daemon.

use std::path::PathBuf;

use clap::{ArgAction, CommandFactory, Parser};

/// `rvrrpd`: command line compatible with rVRRPd 0.1.3 (`-m`, `-c`, `-d`, `-g`, `-i`, `-v`).
#[derive(Parser, Debug)]
#[command(
    name = "rvrrpd",
    about = "Fast, secure, standards-compliant VRRP daemon (RFC 3768 / RFC 5798)",
    long_about = "Fast, secure, standards-compliant VRRP daemon (RFC 3768 / RFC 5798).\n\n\
                  Signals: SIGTERM/SIGINT release every virtual router (priority-0 adverts) and \
                  remove what rvrrpd added; SIGUSR1 writes the running state as JSON to \
                  dump_file (see --dump); SIGHUP is logged (reload: use the API or restart).\n\n\
                  Under systemd (Type=notify) it reports READY/STATUS/STOPPING and feeds the \
                  watchdog (WatchdogSec=) while every worker thread makes progress.",
    version,
    disable_version_flag = true
)]
pub struct DaemonArgs {
    /// Operating mode: 0 = sniffer (print every VRRP advert seen on -i IF), 1 = foreground, 2 = daemon.
    #[arg(short = 'm', long = "mode", value_parser = clap::value_parser!(u8).range(0..=2))]
    pub mode: Option<u8>,
    /// Interface for the sniffer mode.
    #[arg(short = 'i', long = "iface", value_name = "IF")]
    pub iface: Option<String>,
    /// Configuration file (default: /etc/rvrrpd/rvrrpd.conf, then /etc/rvrrpd.conf).
    #[arg(short = 'c', long = "conf", value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub conf: Option<PathBuf>,
    /// Debug level: 0 info, 1 low, 2 medium, 3 high, 5 extensive (overrides the configuration).
    #[arg(short = 'd', long = "debug", value_parser = clap::value_parser!(u8).range(0..=5))]
    pub debug: Option<u8>,
    /// Configuration format: toml (default) or json (also detected from the file).
    #[arg(short = 'g', long = "cfg-format", value_parser = ["toml", "json"])]
    pub cfg_format: Option<String>,
    /// Validate the configuration and exit without touching the system.
    #[arg(long = "check")]
    pub check: bool,
    /// Ask the running daemon (found by the configuration's pid file) for its state: it writes
    /// JSON to dump_file on SIGUSR1, which is printed on stdout.
    #[arg(long = "dump", conflicts_with_all = ["check", "mode"])]
    pub dump: bool,
    /// Number of worker threads (default: one per core, at most one per group).
    #[arg(long = "workers", value_name = "N")]
    pub workers: Option<usize>,
    /// Do not load the eBPF/XDP fast path; receive on raw sockets with classic BPF filters
    /// (also `RVRRPD_NO_EBPF=1`).
    #[arg(long = "no-ebpf")]
    pub no_ebpf: bool,
    /// Print the version and exit.
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,
}

/// `rvrrpctl`: the operator client of the client API.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "rvrrpctl",
    version,
    about = "Show the virtual routers of a running rvrrpd through its client API"
)]
pub struct ClientArgs {
    /// API address: http://HOST:PORT, https://HOST:PORT or HOST:PORT (plain HTTP).
    #[arg(short = 'H', long = "host", default_value = "http://127.0.0.1:7080")]
    pub url: String,
    /// API user name.
    #[arg(short, long)]
    pub user: String,
    /// Password (default: $RVRRPD_PASSWORD, else prompt without echo).
    #[arg(short, long)]
    pub password: Option<String>,
    /// PEM certificate (the server's or its CA) to trust for HTTPS.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub ca_cert: Option<PathBuf>,
    /// Do not verify the server's certificate (HTTPS).
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Print the JSON of /run/vrrp instead of a table (with --watch: one JSON object per
    /// transition and line).
    #[arg(long)]
    pub json: bool,
    /// Reload the daemon's configuration file (POST /config/reload) and print what changed;
    /// a file that fails validation is reported and the exit status is non-zero.
    #[arg(long)]
    pub reload: bool,
    /// Instead of the table, print state transitions as they happen (GET /events) until
    /// interrupted or the daemon stops.
    #[arg(short, long)]
    pub watch: bool,
    /// With --watch: exit after this many transitions.
    #[arg(long, requires = "watch")]
    pub count: Option<u64>,
}

/// `rvrrpd-pw`: prints a client API `users` entry.
#[derive(Debug, Parser)]
#[command(
    name = "rvrrpd-pw",
    version,
    about = "Generate a `users` entry for the rvrrpd client API ([api] users = [...])",
    after_help = "Levels: 0 read-only (the original's only level), 1 read-write.\n\
                  Algorithms: scrypt (default; $scrypt$ln=15,r=8,p=1) or sha256 (rVRRPd 0.1.3's format).\n\
                  Giving the password on the command line leaves it in the shell history: \
                  omit it to be prompted."
)]
pub struct PwArgs {
    /// USER [PASSWORD [ALGORITHM]], filling what the options left out.
    #[arg(value_name = "ARGS", num_args = 0..=3)]
    pub positional: Vec<String>,
    /// User name: 1 to 64 ASCII letters or digits.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Password (prompted without echo when omitted).
    #[arg(short, long)]
    pub password: Option<String>,
    /// Hash algorithm: scrypt (default) or sha256.
    #[arg(short, long)]
    pub algorithm: Option<String>,
    /// Access level: 0 read-only (default), 1 read-write.
    #[arg(short, long, default_value_t = 0)]
    pub level: u8,
}

/// The three commands, with the section their man page goes in: `(command, section)`.
pub fn commands() -> Vec<(clap::Command, &'static str)> {
    vec![
        (DaemonArgs::command(), "8"),
        (ClientArgs::command(), "8"),
        (PwArgs::command(), "8"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers_are_consistent() {
        for (c, _) in commands() {
            c.debug_assert();
        }
    }

    #[test]
    fn dump_conflicts_with_a_mode() {
        assert!(DaemonArgs::try_parse_from(["rvrrpd", "--dump", "-c", "/x"]).is_ok());
        let e = DaemonArgs::try_parse_from(["rvrrpd", "--dump", "-m", "1"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
    }
}
