//! `GET /events`: the stream of state transitions as Server-Sent Events.
//!
//! Each transition is one `event: transition` with a JSON [`TransitionView`] as `data:`. The
//! backend offers a tokio broadcast channel ([`Backend::transitions`](super::Backend)); its
//! capacity bounds how far a client may fall behind: a client that lags further is dropped
//! with a warning (it reconnects and reads the current state from `/run/vrrp`). A comment line
//! every [`KEEPALIVE`] lets both ends notice a dead connection.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{self, HeaderValue};
use hyper::Response;
use serde::Serialize;
use tokio::sync::{broadcast, watch};
use tracing::{info, warn};

use super::backend::GroupState;

/// Transitions a client may fall behind before it is dropped (the broadcast capacity).
pub const EVENT_BUFFER: usize = 4096;
/// Event streams open at once (more get 503): a quarter of the server's connections.
pub const MAX_STREAMS: usize = 64;
/// Interval of the keep-alive comments.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// One state transition, as `GET /events` sends it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransitionView {
    /// Virtual router id.
    pub group: u8,
    /// Interface the group runs on.
    pub interface: String,
    /// The vrouter's name (keepalived's instance name).
    pub name: String,
    /// State left.
    pub from: GroupState,
    /// State entered.
    pub to: GroupState,
    /// keepalived's word for it: `MASTER`, `BACKUP`, `FAULT` or `STOP`.
    pub notify: String,
    /// Priority at the transition.
    pub priority: u8,
    /// Why: `startup`, `address-owner`, `master-down`, `master-left`, `preempted`, `shutdown`,
    /// `fault`, `fault-cleared`.
    pub reason: String,
    /// Unix time of the transition, seconds.
    pub time: f64,
}

/// A new broadcast channel for transitions.
pub fn channel() -> broadcast::Sender<TransitionView> {
    broadcast::channel(EVENT_BUFFER).0
}

/// The SSE frame of one transition.
pub fn frame(t: &TransitionView) -> String {
    let data = serde_json::to_string(t).unwrap_or_else(|_| "null".to_string());
    format!("event: transition\ndata: {data}\n\n")
}

/// The streaming response for `user`: transitions from `rx` until the client goes, lags
/// too far, or `stop` turns true (the server is shutting down).
pub fn response(
    rx: broadcast::Receiver<TransitionView>,
    stop: watch::Receiver<bool>,
    user: String,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Response<BoxBody<Bytes, Infallible>> {
    info!(user = %user, "API: event stream opened");
    // The permit lives as long as the stream.
    let state = (rx, stop, user, true, permit);
    let stream = futures::stream::unfold(state, |(mut rx, mut stop, user, first, permit)| {
        async move {
            if first {
                // An initial comment: headers and a first byte reach the client at once.
                let hello = Bytes::from_static(b": rvrrpd transitions\n\n");
                return Some((hello, (rx, stop, user, false, permit)));
            }
            let keepalive = tokio::time::sleep(KEEPALIVE);
            let next = tokio::select! {
                // Transitions already sent go out before the end of the stream.
                biased;
                received = rx.recv() => match received {
                    Ok(t) => Some(Bytes::from(frame(&t))),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        warn!(user = %user, "API: event stream client fell {n} transitions behind: dropped");
                        None
                    }
                    Err(broadcast::error::RecvError::Closed) => None,
                },
                _ = keepalive => Some(Bytes::from_static(b": keep-alive\n\n")),
                _ = stop.wait_for(|s| *s) => None,
            };
            next.map(|bytes| (bytes, (rx, stop, user, false, permit)))
        }
    });
    let body = StreamBody::new(stream.map(|b| Ok::<_, Infallible>(Frame::data(b))));
    let mut resp = Response::new(BodyExt::boxed(body));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}
