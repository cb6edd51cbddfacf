//! Live reload (SIGHUP, `POST /config/reload`, `rvrrpctl reload`): the configuration file is
//! read and validated again, then compared with what runs, vrouter by vrouter (a vrouter is
//! its interface, group and address family):
//!
//! * unchanged: nothing happens to it (its state and timers go on, no advert missing or
//!   extra);
//! * only `priority`, `preemption`, `accept_mode` or tracking changed: updated in place (a
//!   Master with a new priority advertises it at once; accept mode changes only the drops);
//! * anything else changed: restarted (priority-0 advert if Master, then started again);
//! * gone: stopped as at exit (priority 0, VIPs and routes removed); new: started.
//!
//! A file that fails validation changes nothing; the error goes to the log and the caller.
//! Settings of the daemon itself (`workers`, scheduling, the API, pid and log files) apply
//! at the next start; a reload that changes them says so.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tracing::{info, warn};

use crate::config::{Config, Format, VRouter};
use crate::daemon::tracking::Tracking;
use crate::daemon::worker::{WorkerCmd, WorkerEvent};

use super::Control;

/// What a reload did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReloadSummary {
    /// Vrouters left as they were.
    pub unchanged: usize,
    /// Updated in place.
    pub updated: usize,
    /// Stopped and started again.
    pub restarted: usize,
    /// Started.
    pub added: usize,
    /// Stopped and removed.
    pub removed: usize,
    /// Changed settings that apply at the next start.
    pub need_restart: Vec<String>,
}

impl std::fmt::Display for ReloadSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} unchanged, {} updated, {} restarted, {} added, {} removed",
            self.unchanged, self.updated, self.restarted, self.added, self.removed
        )?;
        if !self.need_restart.is_empty() {
            write!(
                f,
                "; restart rvrrpd to apply {}",
                self.need_restart.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Where the configuration comes from.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    /// The file.
    pub path: PathBuf,
    /// Its format, when forced on the command line.
    pub format: Option<Format>,
}

/// The daemon-wide settings whose change needs a restart.
fn restart_settings(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |name: &str, changed: bool| {
        if changed {
            out.push(name.to_string());
        }
    };
    check("workers", old.workers != new.workers);
    check(
        "realtime_priority",
        old.realtime_priority != new.realtime_priority,
    );
    check(
        "realtime_cpu_limit",
        old.realtime_cpu_limit != new.realtime_cpu_limit,
    );
    check("worker_nice", old.worker_nice != new.worker_nice);
    check("advert_slots", old.advert_slots != new.advert_slots);
    check("tx_path", old.tx_path != new.tx_path);
    check("client_api", old.client_api != new.client_api);
    check("api", old.api != new.api);
    check("pid", old.pid != new.pid);
    check("main_log", old.main_log != new.main_log);
    check("error_log", old.error_log != new.error_log);
    check("protocols", old.protocols != new.protocols);
    out
}

impl Control {
    /// Re-reads the configuration file and applies the differences (see the module docs).
    pub(super) async fn reload(
        &mut self,
        ev_tx: &UnboundedSender<WorkerEvent>,
        ev_rx: &mut UnboundedReceiver<WorkerEvent>,
    ) -> Result<ReloadSummary, String> {
        let source = self
            .config_source
            .clone()
            .ok_or_else(|| "the daemon was not started from a configuration file".to_string())?;
        let new = Config::load(&source.path, source.format).map_err(|e| e.to_string())?;
        for w in &new.warnings {
            warn!("{}: {w}", source.path.display());
        }
        // Every interface of the new file must resolve before anything changes.
        crate::daemon::plan::resolve(&new, crate::daemon::lookup_interface)
            .map_err(|e| e.to_string())?;
        let old = self.config();
        let mut summary = ReloadSummary {
            need_restart: restart_settings(&old, &new),
            ..ReloadSummary::default()
        };

        let diff = super::diff::classify(&old.vrouters, &new.vrouters);
        summary.unchanged = diff.unchanged;
        let (removed, restarted, updated) = (diff.removed, diff.restarted, diff.updated);

        // 1. Stop what goes (also the old form of what restarts).
        for vr in removed.iter().chain(restarted.iter()) {
            let Some(id) = self.shared.find(vr.group.get(), vr.interface.as_str()) else {
                continue;
            };
            self.remove_vrouter(id, ev_rx)
                .await
                .map_err(|e| format!("removing vrouter {} on {}: {e}", vr.group, vr.interface))?;
        }
        // 2. The new daemon-wide sections (track scripts and files, …) with the vrouters
        //    still running; tracking restarts with them when they changed.
        let running: Vec<VRouter> = self
            .shared
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .vrouters
            .clone();
        let mut staged = new.clone();
        staged.vrouters = running;
        if old.track_scripts != new.track_scripts || old.track_files != new.track_files {
            let specs: Vec<_> = self.specs().values().cloned().collect();
            if let Some(t) = self.tracking.as_mut() {
                t.stop();
            }
            let mut tracking = Tracking::start(&staged, &specs).await?;
            self.new_track_rx = tracking.take_events();
            self.tracking = Some(tracking);
            let all: Vec<usize> = specs.iter().map(|s| s.index).collect();
            let outcomes: Vec<_> = all
                .iter()
                .filter_map(|&g| self.tracking.as_ref()?.outcome(g).map(|o| (g, o)))
                .collect();
            self.publish_tracking(all.into_iter());
            self.send_tracking(outcomes);
        }
        *self
            .shared
            .config
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(staged);

        // 3. In place.
        for vr in &updated {
            self.update_in_place(vr).await?;
            summary.updated += 1;
        }
        // 4. Start what is new (and the new form of what restarts), in file order.
        for vr in &diff.start {
            self.add_vrouter(vr, ev_tx)
                .await
                .map_err(|e| format!("starting vrouter {} on {}: {e}", vr.group, vr.interface))?;
        }
        summary.added = diff.added.len();
        summary.removed = removed.len();
        summary.restarted = restarted.len();
        // The file's order and content from now on.
        let mut finale = new;
        finale.warnings.clear();
        self.rebuild_sync(&finale);
        *self
            .shared
            .config
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(finale);
        info!(
            "configuration {} reloaded: {summary}",
            source.path.display()
        );
        Ok(summary)
    }

    /// Applies a new priority, preemption or tracking to a running vrouter.
    async fn update_in_place(&mut self, vr: &VRouter) -> Result<(), String> {
        let id = self
            .shared
            .find(vr.group.get(), vr.interface.as_str())
            .ok_or_else(|| format!("vrouter {} on {} is not running", vr.group, vr.interface))?;
        let spec = self
            .spec(id)
            .ok_or_else(|| format!("vrouter {} on {} has no spec", vr.group, vr.interface))?;
        let mut next = (*spec).clone();
        next.priority = if spec.owner { 255 } else { vr.priority.get() };
        next.preempt = vr.preemption || spec.owner;
        next.accept_mode = vr.accept_mode;
        let next = Arc::new(next);
        self.shared
            .specs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, next.clone());
        // Accept mode changes only what the kernel drops: the new form's VIPs in first.
        self.enforce_no_accept(&[&next]).await;
        self.release_no_accept(&spec).await;
        let preempt = next.preempt;
        self.ask(id, |reply| WorkerCmd::SetPreempt {
            group: id,
            preempt,
            reply,
        })
        .await
        .map_err(|e| e.to_string())?;
        if let Some(t) = self.tracking.as_mut() {
            t.add_group(&next, vr);
        }
        // With tracking and sync groups applied (the spec above holds the new base).
        let outcome = self.effective_outcome(id);
        let priority = outcome.map_or(next.priority, |o| o.priority);
        if !spec.owner {
            self.ask(id, |reply| WorkerCmd::SetPriority {
                group: id,
                priority,
                reply,
            })
            .await
            .map_err(|e| e.to_string())?;
        }
        if let Some(o) = outcome {
            self.send_tracking(vec![(id, o)]);
            self.publish_tracking(std::iter::once(id));
        }
        Ok(())
    }
}
