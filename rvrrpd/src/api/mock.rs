//! An in-memory [`Backend`] for tests, benchmarks and API development: groups built from a
//! configuration, write operations applied to them, and a record of who wrote what.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;

use super::backend::{
    Backend, GlobalView, GroupCounters, GroupState, GroupView, Histogram, InterfaceView,
    MetricsView, RouteView, TrackedView, WriteError, WriteOp, WriteOutcome,
};
use crate::config::{Config, Format, ProtocolVersion, VRouter};

/// Configuration of [`MockBackend::sample`]: two groups with authentication secrets, a static
/// route and an `[api]` section with a secret, so tests can check none of them leaks.
pub const SAMPLE_CONFIG: &str = r#"
debug = 2
pid = "/run/rvrrpd-test.pid"
working_dir = "/tmp"
main_log = "/tmp/rvrrpd-test.log"
client_api = "http"

[[vrouter]]
group = 1
interface = "eth0"
vip = "10.0.0.1"
priority = 254
preemption = true
auth_type = "rfc2338-simple"
auth_secret = "vrrpSEC1"

[[vrouter]]
group = 2
interface = "eth1"
iftype = "macvlan"
vifname = "standby2"
vip = ["10.0.1.1", "10.0.1.2"]
auth_type = "p0-t8-sha256"
auth_secret = "p0-secret-do-not-leak"

[[protocols.static]]
route = "0.0.0.0"
mask = "0.0.0.0"
nh = "10.0.0.254"
metric = 10

[api]
secret = "api-secret-do-not-leak"
users = ["{{SHA256}}admin:0:1eb7ac761a1201f9:3df024b5dc20a168d6a3fe406c65ec286e71c61c9c738e079ddd6dae255ee695"]
"#;

#[derive(Debug)]
struct State {
    config: Arc<Config>,
    groups: Vec<GroupView>,
    writes: Vec<(String, WriteOp)>,
}

/// In-memory backend.
#[derive(Debug)]
pub struct MockBackend {
    state: Mutex<State>,
    metrics: MetricsView,
    transitions: tokio::sync::broadcast::Sender<crate::api::events::TransitionView>,
}

impl MockBackend {
    /// Groups built from `config` (all Backup), no writes yet.
    pub fn new(config: Config) -> Self {
        let groups = config.vrouters.iter().map(group_from_vrouter).collect();
        Self {
            state: Mutex::new(State {
                config: Arc::new(config),
                groups,
                writes: Vec::new(),
            }),
            metrics: MetricsView {
                fastpath_drops: vec![("not_vrrp".into(), 12), ("bad_checksum".into(), 1)],
                timer_lateness: Histogram {
                    bounds: vec![0.0001, 0.001, 0.01],
                    counts: vec![90, 8, 1],
                    overflow: 1,
                    sum: 0.042,
                },
            },
            transitions: crate::api::events::channel(),
        }
    }

    /// Publishes a transition on the `GET /events` stream; returns how many streams got it.
    pub fn emit(&self, transition: crate::api::events::TransitionView) -> usize {
        self.transitions.send(transition).unwrap_or(0)
    }

    /// Event streams currently open.
    pub fn event_clients(&self) -> usize {
        self.transitions.receiver_count()
    }

    /// [`SAMPLE_CONFIG`], with group 1 Master and counters set.
    pub fn sample() -> Self {
        let config = match Config::from_str(SAMPLE_CONFIG, Some(Format::Toml), "sample") {
            Ok(config) => config,
            // The sample is a constant checked by the tests.
            Err(e) => panic!("SAMPLE_CONFIG is invalid: {e}"),
        };
        let mock = Self::new(config);
        {
            let mut state = mock.lock();
            if let Some(g) = state.groups.first_mut() {
                g.state = GroupState::Master;
                g.master = g.virtual_ips.first().copied();
                g.counters = GroupCounters {
                    adverts_in: 3,
                    adverts_suppressed: 0,
                    adverts_out: 1200,
                    transitions: 2,
                    auth_failures: 1,
                    discarded: 4,
                    last_transition: Some(1_700_000_000),
                };
            }
        }
        mock
    }

    /// Replaces the state of group `group` on `interface` (for tests).
    pub fn set_state(&self, group: u8, interface: &str, state: GroupState) {
        if let Some(g) = self
            .lock()
            .groups
            .iter_mut()
            .find(|g| g.group == group && g.on_interface(interface))
        {
            g.state = state;
        }
    }

    /// The writes applied so far, with the user who made each.
    pub fn writes(&self) -> Vec<(String, WriteOp)> {
        self.lock().writes.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn apply(&self, op: &WriteOp) -> Result<WriteOutcome, WriteError> {
        let mut state = self.lock();
        let describe = op.describe();
        let find = |groups: &[GroupView], group: u8, interface: &str| {
            groups
                .iter()
                .position(|g| g.group == group && g.on_interface(interface))
                .ok_or_else(|| {
                    WriteError::NotFound(format!("no group {group} on interface {interface}"))
                })
        };
        let index = match op {
            WriteOp::SetPriority {
                group,
                interface,
                priority,
            } => {
                let i = find(&state.groups, *group, interface)?;
                if state.groups[i].priority == 255 {
                    return Err(WriteError::Conflict(format!(
                        "group {group} on {interface} owns its addresses: its priority is always 255"
                    )));
                }
                state.groups[i].priority = priority.get();
                Self::edit_config(&mut state, *group, interface, |vr| vr.priority = *priority);
                Some(i)
            }
            WriteOp::SetPreemption {
                group,
                interface,
                preempt,
            } => {
                let i = find(&state.groups, *group, interface)?;
                state.groups[i].preempt = *preempt;
                Self::edit_config(&mut state, *group, interface, |vr| vr.preemption = *preempt);
                Some(i)
            }
            WriteOp::Handover { group, interface } => {
                let i = find(&state.groups, *group, interface)?;
                let g = &mut state.groups[i];
                if g.state != GroupState::Master {
                    return Err(WriteError::Conflict(format!(
                        "group {group} on {interface} is {}, not Master: nothing to hand over",
                        g.state.as_str()
                    )));
                }
                g.state = GroupState::Backup;
                g.master = None;
                g.counters.transitions += 1;
                Some(i)
            }
            // No file behind the mock: a reload finds nothing changed.
            WriteOp::Reload => None,
            WriteOp::AddVRouter(vr) => {
                let interface = vr.interface.as_str();
                if find(&state.groups, vr.group.get(), interface).is_ok() {
                    return Err(WriteError::Conflict(format!(
                        "group {} already runs on {interface}",
                        vr.group
                    )));
                }
                state.groups.push(group_from_vrouter(vr));
                let mut config = (*state.config).clone();
                config.vrouters.push((**vr).clone());
                state.config = Arc::new(config);
                Some(state.groups.len() - 1)
            }
            WriteOp::RemoveVRouter { group, interface } => {
                let i = find(&state.groups, *group, interface)?;
                state.groups.remove(i);
                let mut config = (*state.config).clone();
                config
                    .vrouters
                    .retain(|vr| !(vr.group.get() == *group && vr.interface.as_str() == interface));
                state.config = Arc::new(config);
                None
            }
        };
        Ok(WriteOutcome {
            message: describe,
            group: index.and_then(|i| state.groups.get(i).cloned()),
        })
    }

    fn edit_config(state: &mut State, group: u8, interface: &str, edit: impl Fn(&mut VRouter)) {
        let mut config = (*state.config).clone();
        for vr in config
            .vrouters
            .iter_mut()
            .filter(|vr| vr.group.get() == group && vr.interface.as_str() == interface)
        {
            edit(vr);
        }
        state.config = Arc::new(config);
    }
}

impl Backend for MockBackend {
    fn groups(&self) -> Vec<GroupView> {
        self.lock().groups.clone()
    }

    fn global(&self) -> GlobalView {
        let config = self.config();
        GlobalView::from_config(&config, 42, 2, "mock")
            .with_accept_mode("mock".into())
            .with_worker_scheduling("mock".into())
    }

    fn config(&self) -> Arc<Config> {
        Arc::clone(&self.lock().config)
    }

    fn interfaces(&self) -> Vec<InterfaceView> {
        let mut out: Vec<InterfaceView> = Vec::new();
        for g in self.groups() {
            match out.iter_mut().find(|i| i.name == g.interface) {
                Some(iface) => iface.groups.push(g.group),
                None => out.push(InterfaceView {
                    index: u32::try_from(out.len() + 2).unwrap_or(u32::MAX),
                    name: g.interface.clone(),
                    hwaddress: super::backend::format_mac(&g.interface_hwaddress),
                    up: Some(true),
                    addresses: vec![format!("192.0.2.{}/24", out.len() + 2)],
                    groups: vec![g.group],
                }),
            }
        }
        out
    }

    fn routes(&self) -> Vec<RouteView> {
        let master = self.groups().iter().any(|g| g.state == GroupState::Master);
        self.config()
            .static_routes()
            .iter()
            .map(|r| RouteView {
                destination: r.route,
                mask: r.mask.addr(),
                next_hop: r.nh,
                metric: r.metric,
                mtu: r.mtu,
                installed: master,
            })
            .collect()
    }

    fn metrics(&self) -> MetricsView {
        self.metrics.clone()
    }

    fn submit(
        &self,
        op: WriteOp,
        user: &str,
    ) -> BoxFuture<'static, Result<WriteOutcome, WriteError>> {
        let result = self.apply(&op);
        if result.is_ok() {
            self.lock().writes.push((user.to_string(), op));
        }
        Box::pin(async move { result })
    }

    fn transitions(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<crate::api::events::TransitionView>> {
        Some(self.transitions.subscribe())
    }
}

/// A group view for a configured vrouter, in Backup, with zero counters.
fn group_from_vrouter(vr: &VRouter) -> GroupView {
    let advert = vr.advert_interval();
    let priority = u32::from(vr.priority.get());
    let skew = match vr.version {
        ProtocolVersion::V2 => Duration::from_secs(u64::from(256 - priority)) / 256,
        ProtocolVersion::V3 => advert * (256 - priority) / 256,
    };
    GroupView {
        group: vr.group.get(),
        interface: vr.interface.as_str().to_string(),
        name: vr.name().into_owned(),
        vif: if vr.is_macvlan() {
            vr.vifname().into_owned()
        } else {
            vr.interface.as_str().to_string()
        },
        virtual_ips: vr.vip.iter().map(|v| v.addr).collect::<Vec<IpAddr>>(),
        version: vr.version.into(),
        priority: vr.priority.get(),
        preempt: vr.preemption,
        state: GroupState::Backup,
        auth_type: vr
            .auth_type
            .map_or_else(|| "none".to_string(), |a| a.name().to_string()),
        interface_hwaddress: [0x02, 0, 0, 0, 0, vr.group.get()],
        advert_interval: advert,
        masterdown_interval: advert * 3 + skew,
        skew_time: skew,
        master: None,
        counters: GroupCounters::default(),
        configured_priority: vr.priority.get(),
        tracking: vec![TrackedView {
            kind: "interface",
            name: vr.interface.as_str().to_string(),
            weight: 0,
            reverse: false,
            fault: false,
            delta: 0,
        }],
    }
}
