//! The API's run-time writes: priority, preemption, hand-over, and adding or removing a
//! virtual router; each is applied fully or not at all.

use std::sync::Arc;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::api::backend::{WriteError, WriteOp, WriteOutcome};
use crate::config::Config;
use crate::daemon::plan::{self, NetDrv};
use crate::daemon::worker::{WorkerCmd, WorkerEvent};
use crate::net::driver::NetDriver;

use super::fast_path::route_group;
use super::Control;

impl Control {
    /// Applies one API write; nothing changes when an error is returned.
    pub(super) async fn write(
        &mut self,
        op: WriteOp,
        user: &str,
        ev_tx: &tokio::sync::mpsc::UnboundedSender<WorkerEvent>,
        ev_rx: &mut UnboundedReceiver<WorkerEvent>,
    ) -> Result<WriteOutcome, WriteError> {
        let find = |group: u8, interface: &str| {
            self.shared.find(group, interface).ok_or_else(|| {
                WriteError::NotFound(format!("no virtual router {group} on {interface}"))
            })
        };
        let message = match &op {
            WriteOp::SetPriority {
                group,
                interface,
                priority,
            } => {
                let id = find(*group, interface)?;
                let p = priority.get();
                // With tracking, `p` is the configured priority; the worker advertises it
                // with the tracked objects' weights applied.
                if let Some(t) = self.tracking.as_mut() {
                    t.set_base(id, p);
                }
                let advertised = self.effective_outcome(id).map_or(p, |o| o.priority);
                self.ask(id, |reply| WorkerCmd::SetPriority {
                    group: id,
                    priority: advertised,
                    reply,
                })
                .await?;
                let note = if advertised == p {
                    String::new()
                } else {
                    format!(" (advertised {advertised} with tracking)")
                };
                return Ok(self.outcome(id, format!("priority set to {p} by {user}{note}")));
            }
            WriteOp::SetPreemption {
                group,
                interface,
                preempt,
            } => {
                let id = find(*group, interface)?;
                let p = *preempt;
                self.ask(id, |reply| WorkerCmd::SetPreempt {
                    group: id,
                    preempt: p,
                    reply,
                })
                .await?;
                return Ok(self.outcome(id, format!("preemption set to {p} by {user}")));
            }
            WriteOp::Handover { group, interface } => {
                let id = find(*group, interface)?;
                self.ask(id, |reply| WorkerCmd::Handover { group: id, reply })
                    .await?;
                self.drain_events(ev_rx).await;
                return Ok(self.outcome(id, format!("handed over by {user}")));
            }
            WriteOp::AddVRouter(vr) => {
                let id = self.add_vrouter(vr, ev_tx).await?;
                return Ok(self.outcome(id, format!("started by {user}")));
            }
            WriteOp::RemoveVRouter { group, interface } => {
                let id = find(*group, interface)?;
                self.remove_vrouter(id, ev_rx).await?;
                format!("virtual router {group} on {interface} removed by {user}")
            }
            WriteOp::Reload => match self.reload(ev_tx, ev_rx).await {
                Ok(summary) => format!("configuration reloaded by {user}: {summary}"),
                Err(e) => {
                    return Err(WriteError::Invalid(format!(
                        "reload refused, nothing changed: {e}"
                    )))
                }
            },
        };
        Ok(WriteOutcome {
            message,
            group: None,
        })
    }

    pub(super) fn outcome(&self, id: usize, message: String) -> WriteOutcome {
        let group = self.spec(id).map(|s| self.shared.group_view(&s));
        WriteOutcome { message, group }
    }

    /// Applies the network changes workers already queued (e.g. after a hand-over).
    pub(super) async fn drain_events(&mut self, ev_rx: &mut UnboundedReceiver<WorkerEvent>) {
        while let Ok(ev) = ev_rx.try_recv() {
            self.handle_event(ev).await;
        }
    }

    pub(super) async fn add_vrouter(
        &mut self,
        vr: &crate::config::VRouter,
        ev_tx: &tokio::sync::mpsc::UnboundedSender<WorkerEvent>,
    ) -> Result<usize, WriteError> {
        // Validate the whole configuration with the new vrouter, as the file would be.
        let config = self.config();
        if let Some(dup) = config.vrouters.iter().find(|o| {
            o.group == vr.group && o.interface == vr.interface && o.family() == vr.family()
        }) {
            return Err(WriteError::Conflict(format!(
                "virtual router {} already runs on {} for {}",
                dup.group.get(),
                dup.interface.as_str(),
                dup.family()
            )));
        }
        let mut next: Config = (*config).clone();
        next.vrouters.push(vr.clone());
        next.validate()
            .map_err(|e| WriteError::Invalid(e.to_string()))?;
        let id = self.next_id;
        let spec = plan::resolve_vrouter(
            id,
            vr,
            plan::advert_slots(&config),
            crate::daemon::lookup_interface,
        )
        .map(Arc::new)
        .map_err(|e| WriteError::Invalid(e.to_string()))?;
        if spec.netdrv == NetDrv::Ioctl && self.ioctl.is_none() {
            self.ioctl = Some(
                NetDriver::from_config("ioctl").map_err(|e| WriteError::Failed(e.to_string()))?,
            );
        }
        self.create_vif(&spec)
            .await
            .map_err(|e| WriteError::Failed(e.to_string()))?;
        // The least loaded worker takes it; with none running (empty start), start one.
        if self.workers.is_empty() {
            // Started without groups: no fast path was set up, the socket path serves it.
            self.spawn_worker(0, Vec::new(), None, ev_tx)
                .map_err(|e| WriteError::Failed(e.to_string()))?;
        }
        let w = (0..self.workers.len())
            .min_by_key(|&w| self.workers[w].groups)
            .unwrap_or(0);
        self.shared
            .specs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, spec.clone());
        self.owner.insert(id, w);
        let xdp = self.xdp;
        if let Some(fast) = self.fast.as_mut() {
            let attached = !xdp
                || fast
                    .attached()
                    .any(|(name, _, _)| name == spec.ifname.as_str());
            let r = route_group(fast, &spec, w as u32).and_then(|()| {
                if attached {
                    Ok(())
                } else {
                    fast.attach(&spec.ifname).map(drop)
                }
            });
            if let Err(e) = r {
                self.owner.remove(&id);
                self.shared
                    .specs
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                return Err(WriteError::Failed(format!("XDP fast path: {e}")));
            }
        }
        // Before the worker may take it to Master and install its VIPs.
        self.enforce_no_accept(&[&spec]).await;
        let vif = spec.vif.as_ref().map(|v| v.name.clone());
        let started = spec.clone();
        match self
            .ask(id, |reply| WorkerCmd::AddGroup { spec, reply })
            .await
        {
            Ok(()) => {
                self.next_id += 1;
                self.workers[w].groups += 1;
                let spec = self.spec(id);
                if let (Some(t), Some(spec)) = (self.tracking.as_mut(), spec) {
                    let outcome = t.add_group(&spec, vr);
                    self.send_tracking(vec![(id, outcome)]);
                    self.publish_tracking(std::iter::once(id));
                }
                *self
                    .shared
                    .config
                    .write()
                    .unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
                Ok(id)
            }
            Err(e) => {
                self.owner.remove(&id);
                self.shared
                    .specs
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                self.release_no_accept(&started).await;
                if let Some(name) = vif {
                    self.delete_vif_if_unused(&name).await;
                }
                Err(e)
            }
        }
    }

    pub(super) async fn remove_vrouter(
        &mut self,
        id: usize,
        ev_rx: &mut UnboundedReceiver<WorkerEvent>,
    ) -> Result<(), WriteError> {
        let spec = self
            .spec(id)
            .ok_or_else(|| WriteError::NotFound(format!("group id {id}")))?;
        self.ask(id, |reply| WorkerCmd::RemoveGroup { group: id, reply })
            .await?;
        if let Some(t) = self.tracking.as_mut() {
            t.remove_group(id);
        }
        self.shared
            .tracking
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        // The group's last changes (VIPs and routes removed) before its spec goes.
        self.drain_events(ev_rx).await;
        self.release_no_accept(&spec).await;
        if let Some(w) = self.owner.remove(&id) {
            if let Some(h) = self.workers.get_mut(w) {
                h.groups = h.groups.saturating_sub(1);
            }
        }
        self.shared
            .specs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if let Some(vif) = &spec.vif {
            self.delete_vif_if_unused(&vif.name).await;
        }
        let mut cfg = (**self.shared.config.read().unwrap_or_else(|e| e.into_inner())).clone();
        cfg.vrouters.retain(|vr| {
            !(vr.group.get() == spec.vrid
                && vr.interface == spec.ifname
                && vr.family() == spec.family)
        });
        *self
            .shared
            .config
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(cfg);
        Ok(())
    }
}
