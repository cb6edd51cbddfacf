//! Link state events from the kernel (rtnetlink `RTMGRP_LINK`), for Fault and
//! `track_interface`: a link is usable when it is up with its carrier (`IFF_UP` and
//! `IFF_RUNNING`). Events, not polling: the kernel tells us the moment a link changes.

use futures::StreamExt;
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::AsyncSocket;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::netlink::link_info;
use super::{NetError, NetResult};

/// `RTMGRP_LINK` (linux/rtnetlink.h): the multicast group of link changes.
const RTMGRP_LINK: u32 = 1;

/// A link's state as the tracker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    /// Interface name.
    pub name: String,
    /// Up with its carrier; `false` also when the link was deleted.
    pub usable: bool,
}

/// Subscribes to link changes and sends each to `tx` until `tx` closes. The subscription is
/// made before this returns: the caller's dump of the current links (taken after) misses no
/// change.
pub fn watch(tx: UnboundedSender<LinkState>) -> NetResult<JoinHandle<()>> {
    let (mut conn, _handle, mut messages) = rtnetlink::new_connection()
        .map_err(|e| NetError::os("opening a rtnetlink socket for link events", e))?;
    conn.socket_mut()
        .socket_mut()
        .bind(&netlink_sys::SocketAddr::new(0, RTMGRP_LINK))
        .map_err(|e| NetError::os("subscribing to link events", e))?;
    let conn = tokio::spawn(conn);
    Ok(tokio::spawn(async move {
        while let Some((message, _)) = messages.next().await {
            let state = match message.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(m)) => {
                    let l = link_info(m);
                    LinkState {
                        usable: l.up && l.running,
                        name: l.name,
                    }
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(m)) => LinkState {
                    name: link_info(m).name,
                    usable: false,
                },
                _ => continue,
            };
            if state.name.is_empty() {
                continue;
            }
            if tx.send(state).is_err() {
                break;
            }
        }
        conn.abort();
    }))
}
