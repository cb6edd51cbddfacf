//! Notifications: what the control plane does with the transitions workers report.
//!
//! Workers only send a [`Transition`] record over their event channel (see
//! `worker::WorkerEvent::Transition`); the control plane hands it to the [`Notifier`], which
//! - writes one line to the `notify_fifo` in keepalived's format ([`fifo`]),
//! - queues the group's scripts (`notify_<state>` then `notify`) on the [`runner`], which runs
//!   them directly (no shell), as `script_user`, a bounded number at once, each group's in
//!   transition order, killed after `notify_timeout`, failures logged.
//!
//! The mapping from a protocol state to keepalived's notify word is [`kind_of`], the one
//! place a new state (Fault) adds an arm.

pub mod fifo;
pub mod runner;

use std::time::{Duration, SystemTime};

use tracing::{debug, error, warn};

use crate::api::backend::GroupState;
use crate::api::events::TransitionView;
use crate::config::{Config, NotifyScript, VRouter};
use crate::fsm::{State, TransitionReason};

pub use fifo::Fifo;
pub use runner::{Job, ProcessExec, Runner};

/// keepalived's notify kinds: the state word given to scripts and written to the FIFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Became Master.
    Master,
    /// Became Backup.
    Backup,
    /// Entered Fault.
    Fault,
    /// Stopped (daemon shutdown, vrouter removed).
    Stop,
}

impl Kind {
    /// The word keepalived uses: `MASTER`, `BACKUP`, `FAULT`, `STOP`.
    pub fn word(self) -> &'static str {
        match self {
            Self::Master => "MASTER",
            Self::Backup => "BACKUP",
            Self::Fault => "FAULT",
            Self::Stop => "STOP",
        }
    }

    /// The directive of the script run for this kind.
    pub fn directive(self) -> &'static str {
        match self {
            Self::Master => "notify_master",
            Self::Backup => "notify_backup",
            Self::Fault => "notify_fault",
            Self::Stop => "notify_stop",
        }
    }
}

/// The notify kind of a transition into `state`. Initialize is only entered by stopping.
pub fn kind_of(state: State) -> Kind {
    match state {
        State::Master => Kind::Master,
        State::Backup => Kind::Backup,
        State::Initialize => Kind::Stop,
        State::Fault => Kind::Fault,
    }
}

/// The API's spelling of a protocol state.
pub fn api_state(state: State) -> GroupState {
    match state {
        State::Initialize => GroupState::Init,
        State::Backup => GroupState::Backup,
        State::Master => GroupState::Master,
        State::Fault => GroupState::Fault,
    }
}

/// What a notification is about: a virtual router (keepalived's instance) or a sync group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// A `[[vrouter]]`, by name, with its priority at the transition.
    Instance {
        /// The vrouter's name.
        name: &'a str,
        /// Its priority.
        priority: u8,
    },
    /// A sync group, by name (keepalived gives groups no priority: 0 to scripts).
    Group {
        /// The group's name.
        name: &'a str,
    },
}

impl Subject<'_> {
    /// The arguments appended to the `notify` script: `INSTANCE|GROUP name STATE priority`.
    pub fn args(&self, kind: Kind) -> [String; 4] {
        match *self {
            Self::Instance { name, priority } => [
                "INSTANCE".into(),
                name.into(),
                kind.word().into(),
                priority.to_string(),
            ],
            Self::Group { name } => ["GROUP".into(), name.into(), kind.word().into(), "0".into()],
        }
    }

    /// The `notify_fifo` line, newline included: `INSTANCE "name" MASTER 100` or
    /// `GROUP "name" MASTER`, as keepalived writes them.
    pub fn fifo_line(&self, kind: Kind) -> String {
        match *self {
            Self::Instance { name, priority } => {
                format!("INSTANCE \"{name}\" {} {priority}\n", kind.word())
            }
            Self::Group { name } => format!("GROUP \"{name}\" {}\n", kind.word()),
        }
    }
}

/// One transition as a worker reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// Stable group id.
    pub group: usize,
    /// State left.
    pub from: State,
    /// State entered.
    pub to: State,
    /// Priority at the transition.
    pub priority: u8,
    /// Why.
    pub reason: TransitionReason,
    /// When (wall clock).
    pub at: SystemTime,
}

/// A group's notify scripts (from its `[[vrouter]]` or `[[sync_group]]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupNotify {
    /// `notify_master`, `notify_backup`, `notify_fault`, `notify_stop`.
    pub master: Option<NotifyScript>,
    /// See `master`.
    pub backup: Option<NotifyScript>,
    /// See `master`.
    pub fault: Option<NotifyScript>,
    /// See `master`.
    pub stop: Option<NotifyScript>,
    /// `notify`, run after the specific one with the four arguments appended.
    pub any: Option<NotifyScript>,
}

impl GroupNotify {
    /// No scripts.
    pub const NONE: GroupNotify = GroupNotify {
        master: None,
        backup: None,
        fault: None,
        stop: None,
        any: None,
    };

    /// Boxed when there is a script, `None` otherwise (a group's spec keeps one word).
    pub fn boxed_if_any(self) -> Option<Box<Self>> {
        (self != Self::NONE).then(|| Box::new(self))
    }

    /// The scripts of `vr`.
    pub fn from_vrouter(vr: &VRouter) -> Self {
        Self {
            master: vr.notify_master.clone(),
            backup: vr.notify_backup.clone(),
            fault: vr.notify_fault.clone(),
            stop: vr.notify_stop.clone(),
            any: vr.notify.clone(),
        }
    }

    /// The scripts of a `[[sync_group]]`.
    pub fn from_sync_group(g: &crate::config::SyncGroup) -> Self {
        Self {
            master: g.notify_master.clone(),
            backup: g.notify_backup.clone(),
            fault: g.notify_fault.clone(),
            stop: g.notify_stop.clone(),
            any: g.notify.clone(),
        }
    }

    fn specific(&self, kind: Kind) -> Option<&NotifyScript> {
        match kind {
            Kind::Master => self.master.as_ref(),
            Kind::Backup => self.backup.as_ref(),
            Kind::Fault => self.fault.as_ref(),
            Kind::Stop => self.stop.as_ref(),
        }
    }

    /// The command lines to run for `kind`, in order: the specific script as configured,
    /// then `notify` with the subject's four arguments.
    pub fn jobs(&self, subject: &Subject<'_>, kind: Kind) -> Vec<Job> {
        let label = match subject {
            Subject::Instance { name, .. } => format!("vrouter {name:?}"),
            Subject::Group { name } => format!("sync group {name:?}"),
        };
        let mut jobs = Vec::new();
        if let Some(script) = self.specific(kind) {
            jobs.push(Job {
                label: format!("{label} {}", kind.directive()),
                argv: script.argv().to_vec(),
            });
        }
        if let Some(script) = &self.any {
            let mut argv = script.argv().to_vec();
            argv.extend(subject.args(kind));
            jobs.push(Job {
                label: format!("{label} notify"),
                argv,
            });
        }
        jobs
    }
}

/// What the control plane knows of a group when notifying (from its spec).
pub struct GroupInfo<'a> {
    /// Virtual router id.
    pub vrid: u8,
    /// Interface.
    pub ifname: &'a str,
    /// Name.
    pub name: &'a str,
    /// Scripts.
    pub notify: &'a GroupNotify,
}

/// The control plane's notifier: FIFO, scripts, and the API's stream of transitions.
pub struct Notifier {
    fifo: Option<Fifo>,
    runner: Runner<ProcessExec>,
    events: tokio::sync::broadcast::Sender<TransitionView>,
    timeout: Duration,
    /// False when `script_user` no longer resolves: scripts are not run rather than run as
    /// the daemon's user.
    scripts: bool,
}

impl Notifier {
    /// A notifier for `config`, publishing transitions on `events`. Opens (creates) the FIFO
    /// and starts its reader; a FIFO that cannot be opened is logged, not fatal.
    pub fn new(config: &Config, events: tokio::sync::broadcast::Sender<TransitionView>) -> Self {
        let (user, scripts) = match config.script_user.as_ref().map(|u| u.resolve()) {
            None => (None, true),
            Some(Ok(ids)) => (Some(ids), true),
            Some(Err(e)) => {
                error!("script_user {e}: notify scripts will not run");
                (None, false)
            }
        };
        let fifo = config.notify_fifo.as_ref().and_then(|path| {
            let reader = config.notify_fifo_script.as_ref().filter(|_| scripts);
            match Fifo::open(path, user, reader) {
                Ok(fifo) => Some(fifo),
                Err(e) => {
                    warn!("notify_fifo: {e}");
                    None
                }
            }
        });
        let timeout = config.notify_timeout.as_duration();
        Self {
            fifo,
            runner: Runner::new(
                ProcessExec { user },
                config.notify_max_running.get(),
                timeout,
            ),
            events,
            timeout,
            scripts,
        }
    }

    /// Handles one transition of the group described by `info`.
    pub fn transition(&mut self, t: &Transition, info: &GroupInfo<'_>) {
        let kind = kind_of(t.to);
        let subject = Subject::Instance {
            name: info.name,
            priority: t.priority,
        };
        debug!(
            "notify: vrouter {:?} (group {} on {}): {} (priority {})",
            info.name,
            info.vrid,
            info.ifname,
            kind.word(),
            t.priority
        );
        if let Some(fifo) = &mut self.fifo {
            fifo.write_line(&subject.fifo_line(kind));
        }
        let jobs = info.notify.jobs(&subject, kind);
        if !jobs.is_empty() {
            if self.scripts {
                self.runner.submit(t.group, jobs);
            } else {
                warn!("{}: not run (script_user does not resolve)", jobs[0].label);
            }
        }
        if kind == Kind::Stop {
            // A stopped group starts again only as a new group (new id).
            self.runner.close(t.group);
        }
        // No subscriber is not an error.
        let _ = self.events.send(TransitionView {
            group: info.vrid,
            interface: info.ifname.to_string(),
            name: info.name.to_string(),
            from: api_state(t.from),
            to: api_state(t.to),
            notify: kind.word().to_string(),
            priority: t.priority,
            reason: reason_word(&t.reason).to_string(),
            time: t
                .at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        });
    }

    /// Handles one change of a sync group's state (see [`crate::fsm::SyncMembers`]): one
    /// `GROUP` FIFO line, the group's scripts. `queue` keys the group's script queue; it must
    /// differ from every vrouter id (the control plane counts sync groups down from
    /// `usize::MAX`).
    pub fn group_transition(&mut self, queue: usize, name: &str, to: State, notify: &GroupNotify) {
        let kind = kind_of(to);
        let subject = Subject::Group { name };
        debug!("notify: sync group {name:?}: {}", kind.word());
        if let Some(fifo) = &mut self.fifo {
            fifo.write_line(&subject.fifo_line(kind));
        }
        let jobs = notify.jobs(&subject, kind);
        if !jobs.is_empty() {
            if self.scripts {
                self.runner.submit(queue, jobs);
            } else {
                warn!("{}: not run (script_user does not resolve)", jobs[0].label);
            }
        }
    }

    /// Waits (at most `notify_timeout` and a second) for the queued scripts, then stops the
    /// FIFO reader: the `notify_stop` scripts of a shutdown get their chance to run.
    pub async fn finish(&mut self) {
        let limit = self.timeout + Duration::from_secs(1);
        if tokio::time::timeout(limit, self.runner.idle())
            .await
            .is_err()
        {
            warn!("notify scripts still queued or running after {limit:?}: not waiting");
        }
        if let Some(fifo) = &mut self.fifo {
            fifo.stop_reader().await;
        }
    }
}

/// Short names of the transition reasons for the API.
pub fn reason_word(reason: &TransitionReason) -> &'static str {
    match reason {
        TransitionReason::Startup => "startup",
        TransitionReason::AddressOwner => "address-owner",
        TransitionReason::MasterDown => "master-down",
        TransitionReason::MasterLeft => "master-left",
        TransitionReason::Preempted { .. } => "preempted",
        TransitionReason::Shutdown => "shutdown",
        TransitionReason::Fault => "fault",
        TransitionReason::FaultCleared => "fault-cleared",
        TransitionReason::SyncGroup => "sync-group",
    }
}

#[cfg(test)]
mod notifier_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_to_keepalived_words() {
        assert_eq!(kind_of(State::Master).word(), "MASTER");
        assert_eq!(kind_of(State::Backup).word(), "BACKUP");
        assert_eq!(kind_of(State::Initialize).word(), "STOP");
        assert_eq!(Kind::Fault.word(), "FAULT");
        assert_eq!(Kind::Fault.directive(), "notify_fault");
        assert_eq!(kind_of(State::Initialize).directive(), "notify_stop");
    }

    #[test]
    fn fifo_lines_are_keepalived_format() {
        let vr = Subject::Instance {
            name: "VI_1",
            priority: 100,
        };
        assert_eq!(vr.fifo_line(Kind::Master), "INSTANCE \"VI_1\" MASTER 100\n");
        assert_eq!(vr.fifo_line(Kind::Stop), "INSTANCE \"VI_1\" STOP 100\n");
        let group = Subject::Group { name: "G1" };
        assert_eq!(group.fifo_line(Kind::Fault), "GROUP \"G1\" FAULT\n");
        assert_eq!(group.args(Kind::Backup), ["GROUP", "G1", "BACKUP", "0"]);
    }

    #[test]
    fn jobs_run_the_specific_script_then_notify_with_four_arguments() {
        let script =
            |s: &str| Some(NotifyScript::try_from(s.to_string()).unwrap_or_else(|e| panic!("{e}")));
        let notify = GroupNotify {
            master: script("/bin/up 'a b'"),
            fault: script("/bin/fault"),
            any: script("/bin/any x"),
            ..GroupNotify::default()
        };
        let subject = Subject::Instance {
            name: "gw",
            priority: 254,
        };
        let argv = |kind| {
            notify
                .jobs(&subject, kind)
                .into_iter()
                .map(|j| j.argv.join("|"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            argv(Kind::Master),
            ["/bin/up|a b", "/bin/any|x|INSTANCE|gw|MASTER|254"]
        );
        assert_eq!(argv(Kind::Backup), ["/bin/any|x|INSTANCE|gw|BACKUP|254"]);
        assert_eq!(
            argv(Kind::Fault),
            ["/bin/fault", "/bin/any|x|INSTANCE|gw|FAULT|254"]
        );
        let labels: Vec<String> = notify
            .jobs(&subject, Kind::Master)
            .into_iter()
            .map(|j| j.label)
            .collect();
        assert_eq!(
            labels,
            ["vrouter \"gw\" notify_master", "vrouter \"gw\" notify"]
        );
    }
}
