//! Running as a service: systemd notifications (readiness, status, watchdog, reload,
//! stopping) and the SIGUSR1 state dump, seen from the control plane's loop.

use std::path::PathBuf;

use tokio::sync::mpsc::unbounded_channel;
use tokio::time::Interval;
use tracing::{info, warn};

use crate::daemon::api_backend::DaemonBackend;
use crate::daemon::dump;
use crate::daemon::sys::monotonic_micros;
use crate::daemon::systemd::{status_line, Notifier as SdNotifier, Watchdog};

use super::Control;

/// The control plane's service state.
pub struct Service {
    pub(super) notifier: SdNotifier,
    watchdog: Watchdog,
    /// The configuration file (named in the dump).
    config_path: PathBuf,
}

impl Service {
    /// Notifications as the environment asks (`NOTIFY_SOCKET`, `WATCHDOG_USEC`).
    pub fn from_env(config_path: PathBuf) -> Self {
        Service {
            notifier: SdNotifier::from_env(),
            watchdog: Watchdog::default(),
            config_path,
        }
    }

    /// No notifications (the default of a [`Control`] not given a service).
    pub fn disabled() -> Self {
        Service {
            notifier: SdNotifier::disabled(),
            watchdog: Watchdog::default(),
            config_path: PathBuf::new(),
        }
    }

    /// The watchdog's ping timer, when systemd set one.
    pub(super) fn watchdog_timer(&self) -> Option<Interval> {
        self.notifier.watchdog_interval().map(|period| {
            let mut i = tokio::time::interval(period);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        })
    }
}

/// Waits for the next tick of `timer`, forever when there is none.
pub(super) async fn tick(timer: &mut Option<Interval>) {
    match timer {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Seconds between two `STATUS=` computations when nothing marked the line stale.
const STATUS_REFRESH_TICKS: u32 = 30;

impl Control {
    /// Gives the control plane its service notifications and the configuration path.
    pub fn with_service(mut self, service: Service) -> Self {
        self.service = service;
        self
    }

    /// The `STATUS=` line: one snapshot copy per group, no API view built (10,000 views a
    /// second cost ~1 % of a core).
    fn status_now(&self) -> String {
        status_line(self.specs().values().map(|s| self.shared.group_state(s)))
    }

    /// `READY=1`: the workers run and the API is bound.
    pub(super) fn notify_ready(&mut self) {
        if self.service.notifier.enabled() {
            let status = self.status_now();
            self.service.notifier.ready(&status);
        }
    }

    /// `STATUS=` with the group counts, when they may have changed: after a transition,
    /// a reload or an API write (`status_stale`), and every [`STATUS_REFRESH_TICKS`]
    /// seconds anyway. Called every second; in steady state it costs nothing.
    pub(super) fn notify_status(&mut self) {
        self.status_ticks = self.status_ticks.saturating_add(1);
        if !self.service.notifier.enabled()
            || !(self.status_stale || self.status_ticks >= STATUS_REFRESH_TICKS)
        {
            return;
        }
        self.status_stale = false;
        self.status_ticks = 0;
        let status = self.status_now();
        self.service.notifier.status(&status);
    }

    /// `RELOADING=1` + `MONOTONIC_USEC=`: the configuration reload (SIGHUP) calls this when
    /// it starts and [`Control::notify_reloaded`] when it has finished (or failed).
    pub(super) fn notify_reloading(&mut self) {
        self.service.notifier.reloading();
    }

    /// `READY=1` after a reload, with the status in force.
    pub(super) fn notify_reloaded(&mut self) {
        let status = self.status_now();
        self.service.notifier.reloaded(&status);
    }

    /// `STOPPING=1`: shutdown starts.
    pub(super) fn notify_stopping(&mut self) {
        self.service.notifier.stopping();
    }

    /// Every half watchdog period: `WATCHDOG=1` if every worker ran its loop since the last
    /// ping, then a new ping (an empty wake-up) to every worker.
    pub(super) fn watchdog_tick(&mut self) {
        let beats: Vec<u64> = self.workers.iter().map(|w| w.heartbeat.last()).collect();
        let now = monotonic_micros();
        if self.service.watchdog.check(now, &beats).is_ok() {
            self.service.notifier.watchdog();
        }
        for w in &self.workers {
            w.wake.notify();
        }
    }

    /// SIGUSR1: writes the running state to `dump_file`.
    pub(super) fn dump_state(&self) {
        let config = self.config();
        let path = config.dump_path();
        // The dump only reads; writes queued here would go nowhere.
        let (requests, _) = unbounded_channel();
        let backend = DaemonBackend::new(self.shared.clone(), requests);
        match dump::render(&backend, &self.service.config_path)
            .and_then(|text| dump::write_atomic(path, &text))
        {
            Ok(()) => info!("SIGUSR1: running state written to {}", path.display()),
            Err(e) => warn!("SIGUSR1: {e}"),
        }
    }
}
