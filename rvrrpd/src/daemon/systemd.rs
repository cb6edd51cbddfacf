//! systemd service notifications (`sd_notify(3)`): readiness, status, stopping, reloading and
//! the watchdog.
//!
//! Under `Type=notify` systemd passes `NOTIFY_SOCKET` (and `WATCHDOG_USEC` with `WatchdogSec=`);
//! without them every call here does nothing, so the same code runs from a terminal, under
//! another supervisor and under systemd. Messages go through the `sd-notify` crate (a datagram
//! on the socket systemd named, no libsystemd). A failed send is logged once and never stops
//! the daemon: notifications are advisory.
//!
//! The control plane calls, in order:
//! - [`Notifier::ready`] once the workers run and the client API is bound;
//! - [`Notifier::status`] every second with [`status_line`] (sent only when it changes);
//! - [`Notifier::watchdog`] every [`Notifier::watchdog_interval`] while every worker thread
//!   makes progress (see [`stalled_workers`]): a stuck worker stops the pings, and systemd
//!   restarts the service after `WatchdogSec=`;
//! - [`Notifier::reloading`] / [`Notifier::reloaded`] around a configuration reload (SIGHUP);
//! - [`Notifier::stopping`] when shutdown starts.

use std::time::Duration;

use sd_notify::NotifyState;
use tracing::{debug, warn};

use crate::api::backend::GroupState;

/// Sends service notifications when a service manager asked for them.
#[derive(Debug)]
pub struct Notifier {
    /// Whether `NOTIFY_SOCKET` is set.
    enabled: bool,
    /// `WATCHDOG_USEC` (for this process), when set.
    watchdog: Option<Duration>,
    /// The last `STATUS=` sent, so unchanged lines are not sent again.
    last_status: Option<String>,
    /// Whether a send failure was already logged.
    warned: bool,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the environment.
    pub fn from_env() -> Self {
        let enabled = std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty());
        let watchdog = sd_notify::watchdog_enabled().filter(|d| !d.is_zero());
        Notifier {
            enabled,
            watchdog: if enabled { watchdog } else { None },
            last_status: None,
            warned: false,
        }
    }

    /// A notifier that never sends (tests, `--check`).
    pub fn disabled() -> Self {
        Notifier {
            enabled: false,
            watchdog: None,
            last_status: None,
            warned: false,
        }
    }

    /// Whether a service manager listens.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, as `sd_watchdog_enabled(3)`
    /// recommends; `None` without a watchdog.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|d| (d / 2).max(Duration::from_millis(1)))
    }

    /// `READY=1` with the first `STATUS=`.
    pub fn ready(&mut self, status: &str) {
        self.last_status = Some(status.to_string());
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// `STATUS=…`, only when it differs from the last one sent.
    pub fn status(&mut self, status: &str) {
        if self.last_status.as_deref() == Some(status) {
            return;
        }
        self.last_status = Some(status.to_string());
        self.send(&[NotifyState::Status(status)]);
    }

    /// `WATCHDOG=1`: the daemon is alive and every worker makes progress.
    pub fn watchdog(&mut self) {
        if self.watchdog.is_some() {
            self.send(&[NotifyState::Watchdog]);
        }
    }

    /// `RELOADING=1` with `MONOTONIC_USEC=` (what `Type=notify-reload` and `systemctl reload`
    /// wait on): call when a reload starts, and [`Notifier::reloaded`] when it is done.
    pub fn reloading(&mut self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.send(&[
                NotifyState::Reloading,
                now,
                NotifyState::Status("reloading the configuration"),
            ]),
            Err(e) => {
                warn!("sd_notify: reading CLOCK_MONOTONIC: {e}");
                self.send(&[NotifyState::Reloading]);
            }
        }
        self.last_status = None;
    }

    /// `READY=1` after a reload, with the status in force.
    pub fn reloaded(&mut self, status: &str) {
        self.ready(status);
    }

    /// `STOPPING=1`: shutdown has started (priority-0 adverts, clean-up).
    pub fn stopping(&mut self) {
        self.send(&[
            NotifyState::Stopping,
            NotifyState::Status("stopping: releasing the virtual routers"),
        ]);
    }

    fn send(&mut self, states: &[NotifyState<'_>]) {
        if !self.enabled {
            return;
        }
        match sd_notify::notify(states) {
            Ok(()) => debug!("sd_notify: {}", describe(states)),
            Err(e) if !self.warned => {
                self.warned = true;
                warn!("sd_notify: sending {}: {e}", describe(states));
            }
            Err(_) => {}
        }
    }
}

fn describe(states: &[NotifyState<'_>]) -> String {
    states
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `STATUS=` line: group counts by state, e.g.
/// `3 virtual router(s): 1 master, 2 backup, 0 fault, 0 init, 0 down`.
pub fn status_line(states: impl IntoIterator<Item = GroupState>) -> String {
    let (mut all, mut n) = (0, [0usize; 5]);
    for s in states {
        all += 1;
        n[match s {
            GroupState::Master => 0,
            GroupState::Backup => 1,
            GroupState::Fault => 2,
            GroupState::Init => 3,
            GroupState::Down => 4,
        }] += 1;
    }
    format!(
        "{all} virtual router(s): {} master, {} backup, {} fault, {} init, {} down",
        n[0], n[1], n[2], n[3], n[4],
    )
}

/// The workers (by position in `beats`) whose last loop iteration (`beats`, CLOCK_MONOTONIC
/// µs) is older than `pinged_at`, when the control plane woke every worker: a worker that
/// makes progress runs its loop once per wake-up, so it beats after the ping.
pub fn stalled_workers(pinged_at: u64, beats: &[u64]) -> Vec<usize> {
    beats
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b < pinged_at)
        .map(|(i, _)| i)
        .collect()
}

/// The watchdog's bookkeeping between two pings of the workers.
#[derive(Debug, Default)]
pub struct Watchdog {
    /// When the workers were last woken (CLOCK_MONOTONIC µs).
    pinged_at: Option<u64>,
    /// Workers found stalled at the last check (to log a stall once, and its end).
    stalled: Vec<usize>,
}

impl Watchdog {
    /// Checks that every worker beat since the last ping (`beats` as read now), then records
    /// `now` as the time of the next ping: the caller wakes every worker right after. `Ok`
    /// means `WATCHDOG=1` may be sent; `Err` lists the stalled workers.
    pub fn check(&mut self, now: u64, beats: &[u64]) -> Result<(), Vec<usize>> {
        let stalled = match self.pinged_at {
            Some(p) => stalled_workers(p, beats),
            None => Vec::new(),
        };
        self.pinged_at = Some(now);
        if stalled != self.stalled {
            if stalled.is_empty() {
                warn!("watchdog: every worker makes progress again");
            } else {
                warn!(
                    "watchdog: worker(s) {stalled:?} did not run their loop since the last check; \
                     not sending WATCHDOG=1"
                );
            }
            self.stalled = stalled.clone();
        }
        if stalled.is_empty() {
            Ok(())
        } else {
            Err(stalled)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_counts_every_state() {
        let g = [
            GroupState::Master,
            GroupState::Backup,
            GroupState::Backup,
            GroupState::Down,
        ];
        assert_eq!(
            status_line(g),
            "4 virtual router(s): 1 master, 2 backup, 0 fault, 0 init, 1 down"
        );
        assert_eq!(
            status_line([]),
            "0 virtual router(s): 0 master, 0 backup, 0 fault, 0 init, 0 down"
        );
    }

    #[test]
    fn a_worker_that_did_not_beat_since_the_ping_is_stalled() {
        assert_eq!(stalled_workers(100, &[100, 150, 99, 0]), vec![2, 3]);
        assert!(stalled_workers(100, &[]).is_empty());
    }

    /// A real thread that beats once per wake-up, like a worker loop, then gets stuck: the
    /// watchdog holds while it answers and stops as soon as it does not.
    #[test]
    fn a_stuck_worker_stops_the_watchdog() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{mpsc, Arc};

        use crate::daemon::worker::Heartbeat;

        let micros = {
            let start = std::time::Instant::now();
            move || start.elapsed().as_micros() as u64 + 1
        };
        let beat = Arc::new(Heartbeat::default());
        let stuck = Arc::new(AtomicBool::new(false));
        let (wake, woken) = mpsc::channel::<()>();
        let t = {
            let (beat, stuck) = (beat.clone(), stuck.clone());
            std::thread::spawn(move || loop {
                beat.beat(micros());
                if woken.recv().is_err() {
                    return;
                }
                while stuck.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        let settle = || std::thread::sleep(Duration::from_millis(50));
        let mut w = Watchdog::default();
        for _ in 0..3 {
            assert_eq!(w.check(micros(), &[beat.last()]), Ok(()));
            wake.send(()).unwrap();
            settle();
        }
        stuck.store(true, Ordering::Relaxed);
        wake.send(()).unwrap();
        settle();
        // The wake-up before `stuck` was answered; the next one is not.
        assert_eq!(w.check(micros(), &[beat.last()]), Ok(()));
        wake.send(()).unwrap();
        settle();
        assert_eq!(w.check(micros(), &[beat.last()]), Err(vec![0]));
        assert_eq!(w.check(micros(), &[beat.last()]), Err(vec![0]));
        stuck.store(false, Ordering::Relaxed);
        settle();
        wake.send(()).unwrap();
        settle();
        assert_eq!(w.check(micros(), &[beat.last()]), Ok(()), "recovered");
        drop(wake);
        t.join().unwrap();
    }

    #[test]
    fn disabled_notifier_sends_nothing_and_has_no_watchdog() {
        let mut n = Notifier::disabled();
        assert!(!n.enabled());
        assert_eq!(n.watchdog_interval(), None);
        n.ready("x");
        n.watchdog();
        n.stopping();
    }

    /// The wire itself is checked by the integration test (tests/service.rs), which runs the
    /// daemon with `NOTIFY_SOCKET`; here the bookkeeping around it.
    #[test]
    fn watchdog_interval_is_half_and_a_reload_forgets_the_status() {
        let mut n = Notifier {
            enabled: false,
            watchdog: Some(Duration::from_secs(4)),
            last_status: None,
            warned: false,
        };
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(2)));
        n.status("one");
        assert_eq!(n.last_status.as_deref(), Some("one"));
        n.reloading();
        assert_eq!(n.last_status, None, "a reload forgets the status");
    }
}
