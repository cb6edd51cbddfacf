//! The rvrrpd daemon: command line compatible with rVRRPd 0.1.3 (`-m`, `-c`, `-d`, `-g`, `-i`, `-v`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser};
use rvrrpd::config::{Config, Format};
use rvrrpd::daemon::{self, Mode, RunOptions};

#[derive(Parser, Debug)]
#[command(
    name = "rvrrpd",
    about = "Fast, secure, standards-compliant VRRP daemon (RFC 3768 / RFC 5798)",
    version,
    disable_version_flag = true
)]
struct Cli {
    /// Operating mode: 0 = sniffer (print every VRRP advert seen on -i IF), 1 = foreground, 2 = daemon.
    #[arg(short = 'm', long = "mode", value_parser = clap::value_parser!(u8).range(0..=2))]
    mode: Option<u8>,
    /// Interface for the sniffer mode.
    #[arg(short = 'i', long = "iface")]
    iface: Option<String>,
    /// Configuration file (default: /etc/rvrrpd/rvrrpd.conf, then /etc/rvrrpd.conf).
    #[arg(short = 'c', long = "conf")]
    conf: Option<PathBuf>,
    /// Debug level: 0 info, 1 low, 2 medium, 3 high, 5 extensive (overrides the configuration).
    #[arg(short = 'd', long = "debug", value_parser = clap::value_parser!(u8).range(0..=5))]
    debug: Option<u8>,
    /// Configuration format: toml (default) or json (also detected from the file).
    #[arg(short = 'g', long = "cfg-format", value_parser = ["toml", "json"])]
    cfg_format: Option<String>,
    /// Validate the configuration and exit without touching the system.
    #[arg(long = "check")]
    check: bool,
    /// Number of worker threads (default: one per core, at most one per group).
    #[arg(long = "workers")]
    workers: Option<usize>,
    /// Do not load the eBPF/XDP fast path; receive on raw sockets with classic BPF filters
    /// (also `RVRRPD_NO_EBPF=1`).
    #[arg(long = "no-ebpf")]
    no_ebpf: bool,
    /// Print the version and exit.
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    version: Option<bool>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match cli.cfg_format.as_deref() {
        Some("json") => Some(Format::Json),
        Some(_) => Some(Format::Toml),
        None => None,
    };

    if cli.mode == Some(0) {
        let Some(iface) = cli.iface.as_deref() else {
            eprintln!("rvrrpd: the sniffer mode (-m 0) needs an interface: -i IF");
            return ExitCode::from(2);
        };
        daemon::init_logging(cli.debug.unwrap_or(0), None);
        return match daemon::sniffer::run(iface) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rvrrpd: sniffer on {iface}: {e}");
                ExitCode::FAILURE
            }
        };
    }

    let path = cli
        .conf
        .clone()
        .unwrap_or_else(rvrrpd::config::default_path);
    let config = match Config::load(&path, format) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rvrrpd: {e}");
            return ExitCode::FAILURE;
        }
    };
    for w in &config.warnings {
        eprintln!("rvrrpd: warning: {w}");
    }
    if cli.check {
        println!(
            "{}: configuration OK ({} virtual router(s))",
            path.display(),
            config.vrouters.len()
        );
        return ExitCode::SUCCESS;
    }
    let mode = match cli.mode {
        Some(1) => Mode::Foreground,
        Some(2) => Mode::Daemon,
        _ => {
            eprintln!("rvrrpd: an operating mode is required: -m 1 (foreground) or -m 2 (daemon); -m 0 -i IF sniffs");
            return ExitCode::from(2);
        }
    };
    let opts = RunOptions {
        mode,
        config_path: path,
        format,
        debug_override: cli.debug,
        workers: cli.workers,
        no_ebpf: cli.no_ebpf || std::env::var_os("RVRRPD_NO_EBPF").is_some_and(|v| v != "0"),
    };
    match daemon::run(config, opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rvrrpd: {e}");
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
