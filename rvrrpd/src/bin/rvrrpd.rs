//! The rvrrpd daemon: command line compatible with rVRRPd 0.1.3 (`-m`, `-c`, `-d`, `-g`, `-i`, `-v`),
//! defined in [`rvrrpd::cli::DaemonArgs`]; `--dump` asks the running daemon for its state.

use std::process::ExitCode;

use clap::Parser;
use rvrrpd::cli::DaemonArgs as Cli;
use rvrrpd::config::{Config, Format};
use rvrrpd::daemon::{self, Mode, RunOptions};

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
    if cli.dump {
        return match rvrrpd::daemon::dump::request(&config, rvrrpd::daemon::dump::DUMP_TIMEOUT) {
            Ok(json) => {
                print!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("rvrrpd: --dump: {e}");
                ExitCode::FAILURE
            }
        };
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
