//! Tracking in the control plane: link events, track scripts and track files feed the
//! sans-IO [`Tracker`]; the groups whose outcome changes get it through their worker
//! ([`WorkerCmd::Track`](crate::daemon::worker::WorkerCmd)). Every group tracks its own
//! interface unweighted: its link going down puts it in Fault.

mod files;
mod scripts;

use std::collections::HashMap;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config::{Config, TrackFile, TrackScript, VRouter};
use crate::daemon::plan::GroupSpec;
use crate::net::link_events::{self, LinkState};
use crate::net::netlink::NetlinkDriver;
use crate::track::{Effect, ObjectId, Outcome, ScriptHealth, Tracker, Watch};

/// Something a tracked object did.
#[derive(Debug)]
pub enum TrackEvent {
    /// A link changed.
    Link(LinkState),
    /// A script run finished.
    Script {
        /// Position in `[[track_script]]`.
        index: usize,
        /// Exit 0 within the timeout.
        success: bool,
        /// What happened (for logs).
        detail: String,
    },
    /// A file's value changed (or was re-read).
    File {
        /// Position in `[[track_file]]`.
        index: usize,
        /// Its value.
        value: i64,
        /// Why the value is 0, when the file could not be used.
        problem: Option<String>,
    },
}

/// The tracking state of the daemon.
pub struct Tracking {
    tracker: Tracker,
    /// Interface name → object number.
    ifaces: HashMap<String, usize>,
    scripts: Vec<(TrackScript, ScriptHealth, Option<JoinHandle<()>>)>,
    files: Vec<TrackFile>,
    tx: UnboundedSender<TrackEvent>,
    rx: Option<UnboundedReceiver<TrackEvent>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Tracking {
    /// Subscribes to link events, reads the current links, scripts' initial health and files'
    /// values, and adds `specs` (whose vrouters are `config.vrouters[spec.index]`).
    pub async fn start(
        config: &Config,
        specs: &[std::sync::Arc<GroupSpec>],
    ) -> Result<Self, String> {
        let (tx, rx) = unbounded_channel();
        let mut t = Tracking {
            tracker: Tracker::new(),
            ifaces: HashMap::new(),
            scripts: config
                .track_scripts
                .iter()
                .map(|s| (s.clone(), ScriptHealth::new(s.init_fail), None))
                .collect(),
            files: config.track_files.clone(),
            tx,
            rx: Some(rx),
            tasks: Vec::new(),
        };
        for (i, (s, health, _)) in t.scripts.iter().enumerate() {
            t.tracker.set_flag(ObjectId::Script(i), health.ok());
            let _ = s;
        }
        // Subscribe first, then dump: a change between the two is seen twice, never missed.
        let (link_tx, mut link_rx) = unbounded_channel();
        t.tasks
            .push(link_events::watch(link_tx).map_err(|e| e.to_string())?);
        let events = t.tx.clone();
        t.tasks.push(tokio::spawn(async move {
            while let Some(state) = link_rx.recv().await {
                if events.send(TrackEvent::Link(state)).is_err() {
                    break;
                }
            }
        }));
        let netlink = NetlinkDriver::new().map_err(|e| e.to_string())?;
        let links = netlink.list_links().await.map_err(|e| e.to_string())?;
        for l in links {
            let id = t.iface_id(&l.name);
            t.tracker
                .set_flag(ObjectId::Interface(id), l.up && l.running);
        }
        files::create_initial(&t.files);
        for (i, f) in t.files.iter().enumerate() {
            let (value, problem) = files::read_value(&f.file);
            if let Some(p) = problem {
                warn!("track_file {:?}: {p}", f.name);
            }
            t.tracker.set_value(ObjectId::File(i), value);
        }
        if !t.files.is_empty() {
            let list = t
                .files
                .iter()
                .enumerate()
                .map(|(i, f)| (i, f.file.clone()))
                .collect();
            t.tasks.push(
                files::watch(list, t.tx.clone())
                    .map_err(|e| format!("watching the track files: {e}"))?,
            );
        }
        // By identity, not position: groups added by the API or a reload have ids past the
        // file's vrouters. Indexed once (a search per group was quadratic at 10,000 groups);
        // the first of a repeated identity counts, as a search in file order would find.
        let mut by_key: HashMap<(&str, u8, bool), &VRouter> =
            HashMap::with_capacity(config.vrouters.len());
        for vr in &config.vrouters {
            by_key.entry(vr.identity()).or_insert(vr);
        }
        for spec in specs {
            let v6 = spec.family == crate::wire::Family::Ipv6;
            if let Some(vr) = by_key.get(&(spec.ifname.as_str(), spec.vrid, v6)) {
                t.add_group(spec, vr);
            }
        }
        Ok(t)
    }

    /// The event stream (taken once by the control loop).
    pub fn take_events(&mut self) -> Option<UnboundedReceiver<TrackEvent>> {
        self.rx.take()
    }

    fn iface_id(&mut self, name: &str) -> usize {
        let next = self.ifaces.len();
        *self.ifaces.entry(name.to_string()).or_insert(next)
    }

    /// Adds a group: its own interface (unweighted) and what its vrouter tracks; starts the
    /// scripts it is the first to track. Returns its outcome now.
    pub fn add_group(&mut self, spec: &GroupSpec, vr: &VRouter) -> Outcome {
        let mut watches = vec![Watch {
            object: ObjectId::Interface(self.iface_id(&spec.ifname)),
            weight: 0,
            reverse: false,
        }];
        for r in &vr.track_interface {
            let object = ObjectId::Interface(self.iface_id(&r.name));
            if self.tracker.flag(object).is_none() {
                warn!(
                    "vrouter {} on {}: tracked interface {} does not exist: counted as down",
                    spec.vrid, spec.ifname, r.name
                );
                self.tracker.set_flag(object, false);
            }
            watches.push(Watch {
                object,
                weight: r.weight.unwrap_or(0),
                reverse: r.reverse.unwrap_or(false),
            });
        }
        for r in &vr.track_script {
            let Some(i) = self.scripts.iter().position(|(s, ..)| s.name == r.name) else {
                continue;
            };
            let s = &self.scripts[i].0;
            watches.push(Watch {
                object: ObjectId::Script(i),
                weight: r.weight.unwrap_or(s.weight),
                reverse: r.reverse.unwrap_or(s.reverse),
            });
            if self.scripts[i].2.is_none() {
                let task = scripts::spawn(i, s.clone(), self.tx.clone());
                self.scripts[i].2 = Some(task);
            }
        }
        for r in &vr.track_file {
            let Some(i) = self.files.iter().position(|f| f.name == r.name) else {
                continue;
            };
            let f = &self.files[i];
            watches.push(Watch {
                object: ObjectId::File(i),
                weight: r.weight.unwrap_or(f.weight),
                reverse: r.reverse.unwrap_or(f.reverse),
            });
        }
        if spec.owner && watches.iter().any(|w| w.weight != 0) {
            warn!(
                "vrouter {} on {} owns its addresses: tracking weights do not change its priority 255",
                spec.vrid, spec.ifname
            );
        }
        self.tracker
            .add_group(spec.index, spec.priority, spec.owner, watches)
    }

    /// Forgets a group.
    pub fn remove_group(&mut self, id: usize) {
        self.tracker.remove_group(id);
    }

    /// A new configured priority for group `id` (an API write); returns its outcome.
    pub fn set_base(&mut self, id: usize, base: u8) -> Option<Outcome> {
        self.tracker.set_base(id, base);
        self.tracker.outcome(id)
    }

    /// Group `id`'s current outcome.
    pub fn outcome(&self, id: usize) -> Option<Outcome> {
        self.tracker.outcome(id)
    }

    /// Group `id`'s watches and their current effects (for the API).
    pub fn effects(&self, id: usize) -> Vec<(Watch, Effect)> {
        self.tracker.effects(id)
    }

    /// Group `id`'s tracking as the API shows it.
    pub fn views(&self, id: usize) -> Vec<crate::api::TrackedView> {
        self.effects(id)
            .into_iter()
            .map(|(w, effect)| crate::api::TrackedView {
                kind: match w.object {
                    ObjectId::Interface(_) => "interface",
                    ObjectId::Script(_) => "script",
                    ObjectId::File(_) => "file",
                },
                name: self.object_name(w.object),
                weight: w.weight,
                reverse: w.reverse,
                fault: effect == Effect::Fault,
                delta: match effect {
                    Effect::Delta(d) => d,
                    _ => 0,
                },
            })
            .collect()
    }

    /// The name of a tracked object.
    fn object_name(&self, object: ObjectId) -> String {
        match object {
            ObjectId::Interface(n) => self
                .ifaces
                .iter()
                .find(|(_, &id)| id == n)
                .map_or_else(|| format!("interface #{n}"), |(name, _)| name.clone()),
            ObjectId::Script(i) => self
                .scripts
                .get(i)
                .map_or_else(String::new, |s| s.0.name.clone()),
            ObjectId::File(i) => self
                .files
                .get(i)
                .map_or_else(String::new, |f| f.name.clone()),
        }
    }

    /// Applies an event; returns the groups whose outcome changed.
    pub fn handle(&mut self, event: TrackEvent) -> Vec<(usize, Outcome)> {
        match event {
            TrackEvent::Link(state) => {
                let object = ObjectId::Interface(self.iface_id(&state.name));
                if self.tracker.flag(object) != Some(state.usable)
                    && self.tracker.is_watched(object)
                {
                    info!(
                        "link {} is {}",
                        state.name,
                        if state.usable { "up" } else { "down" }
                    );
                }
                self.tracker.set_flag(object, state.usable)
            }
            TrackEvent::Script {
                index,
                success,
                detail,
            } => {
                let Some((script, health, _)) = self.scripts.get_mut(index) else {
                    return Vec::new();
                };
                if !health.record(success, script.fall, script.rise) {
                    return Vec::new();
                }
                let ok = health.ok();
                if ok {
                    info!("track_script {:?} is OK ({detail})", script.name);
                } else {
                    warn!("track_script {:?} failed ({detail})", script.name);
                }
                self.tracker.set_flag(ObjectId::Script(index), ok)
            }
            TrackEvent::File {
                index,
                value,
                problem,
            } => {
                let name = self.files.get(index).map_or("", |f| f.name.as_str());
                match problem {
                    Some(p) => warn!("track_file {name:?}: {p}"),
                    None => info!("track_file {name:?} = {value}"),
                }
                self.tracker.set_value(ObjectId::File(index), value)
            }
        }
    }

    /// Stops every task (running scripts are killed with them).
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        for (_, _, task) in &mut self.scripts {
            if let Some(t) = task.take() {
                t.abort();
            }
        }
    }
}

impl Drop for Tracking {
    fn drop(&mut self) {
        self.stop();
    }
}
