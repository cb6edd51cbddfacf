//! The runtime around the sans-IO core: a control plane on a small tokio runtime (netlink,
//! signals) and pinned worker threads that own the groups, their sockets and timers.
//!
//! Start-up order matters for "leave the system as found": the configuration is validated and
//! every interface resolved before anything on the system changes; then leftovers of a crashed
//! run are removed, macvlans created, and only then the workers start.

pub mod api_backend;
#[cfg(target_os = "linux")]
pub mod control;
pub mod dump;
pub mod logging;
pub mod notify;
pub mod pidfile;
pub mod plan;
#[cfg(target_os = "linux")]
pub mod sniffer;
pub mod status;
#[cfg(target_os = "linux")]
pub mod sys;
#[cfg(target_os = "linux")]
pub mod systemd;
#[cfg(target_os = "linux")]
pub mod tracking;
#[cfg(target_os = "linux")]
pub mod worker;

use std::path::PathBuf;

#[cfg(target_os = "linux")]
use tracing::info;

use crate::config::Config;
pub use logging::init as init_logging_styled;

/// How the daemon runs (`-m`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `-m 1`: in the foreground, logging to the terminal.
    Foreground,
    /// `-m 2`: detached, with pid file, working directory and log files.
    Daemon,
}

/// Options from the command line.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Foreground or daemon.
    pub mode: Mode,
    /// The configuration file (for logs and reloads).
    pub config_path: PathBuf,
    /// `-g FORMAT`, when forced (reloads read the file the same way).
    pub format: Option<crate::config::Format>,
    /// `-d N`, overriding `debug`.
    pub debug_override: Option<u8>,
    /// `--workers N`.
    pub workers: Option<usize>,
    /// `--no-ebpf` (or `RVRRPD_NO_EBPF=1`): use the classic-BPF raw-socket path.
    pub no_ebpf: bool,
}

/// Why the daemon could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Resolving the configuration against this host failed.
    #[error("{0}")]
    Plan(#[from] plan::PlanError),
    /// An OS call failed.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// A network driver failed.
    #[error("{0}")]
    Net(#[source] crate::net::NetError),
    /// A worker could not be set up.
    #[cfg(target_os = "linux")]
    #[error("{0}")]
    Worker(#[source] worker::WorkerError),
    /// The client API could not start.
    #[error("client API: {0}")]
    Api(String),
    /// Link, script or file tracking could not start.
    #[error("tracking: {0}")]
    Tracking(String),
}

/// Installs logging with the original's debug levels (no timestamp directives).
pub fn init_logging(debug: u8, style: Option<logging::TimeStyle>) {
    logging::init(debug, style);
}

/// Runs the daemon until SIGTERM/SIGINT.
#[cfg(target_os = "linux")]
pub fn run(config: Config, opts: RunOptions) -> Result<(), DaemonError> {
    // Resolve first: a bad interface must stop us before we fork, log or touch anything.
    let specs = plan::resolve(&config, lookup_interface)?;
    pidfile::PidFile::check(&config.pid).map_err(|e| DaemonError::Io("pid file".into(), e))?;

    if opts.mode == Mode::Daemon {
        sys::daemonize(
            &config.working_dir,
            &config.main_log,
            config.error_log.as_deref(),
        )
        .map_err(|e| DaemonError::Io("daemonizing".into(), e))?;
    }
    let debug = opts.debug_override.unwrap_or(config.debug.get());
    init_logging(debug, Some(time_style(&config)));
    // Both modes: `rvrrpd --dump` finds the daemon through it (systemd runs `-m 1`).
    let _pid =
        pidfile::PidFile::create(&config.pid).map_err(|e| DaemonError::Io("pid file".into(), e))?;
    info!("configuration {} loaded", opts.config_path.display());

    let workers = opts
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DaemonError::Io("starting the control-plane runtime".into(), e))?;
    rt.block_on(async move {
        let control = control::Control::prepare(config, specs, workers, opts.no_ebpf)
            .await?
            .with_config_source(control::ConfigSource {
                path: opts.config_path.clone(),
                format: opts.format,
            });
        control
            .with_service(control::Service::from_env(opts.config_path))
            .run()
            .await
    })
}

/// FreeBSD: the runtime (workers, control plane) is Linux-only for now; the configuration is
/// still resolved against the host's interfaces (`net::freebsd::iface`) before failing.
#[cfg(target_os = "freebsd")]
pub fn run(config: Config, opts: RunOptions) -> Result<(), DaemonError> {
    plan::resolve(&config, lookup_interface)?;
    Err(DaemonError::Io(
        format!(
            "{}: the daemon runtime is Linux-only for now (FreeBSD drivers: net::freebsd)",
            opts.config_path.display()
        ),
        std::io::ErrorKind::Unsupported.into(),
    ))
}

/// FreeBSD: the sniffer (`-m 0`) needs a BPF reader; Linux-only for now.
#[cfg(target_os = "freebsd")]
pub mod sniffer {
    /// Always fails on FreeBSD for now.
    pub fn run(iface: &str) -> Result<(), crate::net::NetError> {
        Err(crate::net::NetError::Invalid(format!(
            "sniffing on {iface}: the sniffer mode (-m 0) is Linux-only for now"
        )))
    }
}

/// The `time_zone` / `time_format` directives as a logging style.
#[cfg(target_os = "linux")]
fn time_style(config: &Config) -> logging::TimeStyle {
    use crate::config::{TimeFormat, TimeZone};
    logging::TimeStyle {
        utc: config.time_zone == TimeZone::Utc,
        format: match config.time_format {
            TimeFormat::Disabled => logging::TimeFormat::Default,
            TimeFormat::Short => logging::TimeFormat::Short,
            TimeFormat::Rfc2822 => logging::TimeFormat::Rfc2822,
        },
    }
}

/// Reads an interface's index, MAC and addresses for the plan.
pub(crate) fn lookup_interface(name: &str) -> Result<plan::IfaceFacts, String> {
    let iface = crate::net::iface::interface(name).map_err(|e| e.to_string())?;
    Ok(plan::IfaceFacts::from_interface(&iface))
}
