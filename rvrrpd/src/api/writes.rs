//! The write endpoints of the API: which requests are writes, their bodies, and submitting
//! them to the backend (level 1 users only).

// `Resp` errors are whole HTTP responses, built once per request: boxing them buys nothing.
#![allow(clippy::result_large_err)]

use bytes::Bytes;
use hyper::body::Body;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::{info, warn};

use super::backend::{WriteError, WriteOp};
use super::routes::{
    error, json_response, parse_group, parse_json_body, read_body, AppState, Resp, MAX_BODY,
    WRITE_TIMEOUT,
};
use super::session::Session;
use super::views::{detail, VrrpDetail};
use crate::config::{Config, Format, Priority, VRouter};
use crate::users::Access;

/// The write endpoints; `None` when `(method, segs)` is not one.
pub(super) async fn write_op<B>(
    state: &AppState,
    session: &Session,
    method: &Method,
    segs: &[&str],
    body: B,
) -> Option<Resp>
where
    B: Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let is_write = matches!(
        (method, segs),
        (
            &Method::PUT,
            ["run", "vrrp", _, _, "priority" | "preemption"]
        ) | (&Method::POST, ["run", "vrrp", _, _, "handover"])
            | (&Method::POST, ["config", "vrouter"])
            | (&Method::POST, ["config", "reload"])
            | (&Method::DELETE, ["config", "vrouter", _, _])
    );
    if !is_write {
        return None;
    }
    if session.access != Access::ReadWrite {
        warn!(user = %session.user, "API write refused: read-only user");
        return Some(error(
            StatusCode::FORBIDDEN,
            &format!(
                "user {:?} is read-only (level 0); writes need a level 1 user",
                session.user
            ),
        ));
    }
    let body = match read_body(body, MAX_BODY, StatusCode::PAYLOAD_TOO_LARGE).await {
        Ok(body) => body,
        Err(resp) => return Some(resp),
    };
    let op = match parse_write(segs, &body) {
        Ok(op) => op,
        Err(resp) => return Some(resp),
    };
    Some(submit(state, session, op).await)
}

fn parse_write(segs: &[&str], body: &[u8]) -> Result<WriteOp, Resp> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct PriorityBody {
        priority: i64,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct PreemptionBody {
        #[serde(alias = "preempt")]
        preemption: bool,
    }
    let bad = |msg: String| error(StatusCode::BAD_REQUEST, &msg);
    match segs {
        ["run", "vrrp", group, interface, what] => {
            let group = parse_group(group)?;
            let interface = (*interface).to_string();
            match *what {
                "priority" => {
                    let body: PriorityBody = parse_json_body(body)?;
                    let priority = Priority::try_from(body.priority)
                        .map_err(|msg| bad(format!("priority {msg}")))?;
                    Ok(WriteOp::SetPriority {
                        group,
                        interface,
                        priority,
                    })
                }
                "preemption" => {
                    let body: PreemptionBody = parse_json_body(body)?;
                    Ok(WriteOp::SetPreemption {
                        group,
                        interface,
                        preempt: body.preemption,
                    })
                }
                _ => {
                    // handover: an empty body or an empty JSON object.
                    if !body.iter().all(u8::is_ascii_whitespace) {
                        let _: serde_json::Map<String, Value> = parse_json_body(body)?;
                    }
                    Ok(WriteOp::Handover { group, interface })
                }
            }
        }
        ["config", "vrouter"] => validate_vrouter(body)
            .map(|vr| WriteOp::AddVRouter(Box::new(vr)))
            .map_err(bad),
        ["config", "reload"] => {
            // An empty body or an empty JSON object.
            if !body.iter().all(u8::is_ascii_whitespace) {
                let object: serde_json::Map<String, Value> = parse_json_body(body)?;
                if let Some(field) = object.keys().next() {
                    return Err(bad(format!(
                        "unknown field {field:?}: reload takes no fields"
                    )));
                }
            }
            Ok(WriteOp::Reload)
        }
        ["config", "vrouter", group, interface] => Ok(WriteOp::RemoveVRouter {
            group: parse_group(group)?,
            interface: (*interface).to_string(),
        }),
        _ => Err(error(StatusCode::NOT_FOUND, "no such resource")),
    }
}

async fn submit(state: &AppState, session: &Session, op: WriteOp) -> Resp {
    let what = op.describe();
    let status = if matches!(op, WriteOp::AddVRouter(_)) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let pending = state.backend.submit(op, &session.user);
    match tokio::time::timeout(WRITE_TIMEOUT, pending).await {
        Ok(Ok(outcome)) => {
            info!(user = %session.user, "API: {what}");
            let vrrp: Option<VrrpDetail> = outcome.group.as_ref().map(detail);
            json_response(status, &json!({ "result": outcome.message, "vrrp": vrrp }))
        }
        Ok(Err(e)) => {
            warn!(user = %session.user, "API: refused to {what}: {e}");
            let status = match e {
                WriteError::NotFound(_) => StatusCode::NOT_FOUND,
                WriteError::Conflict(_) => StatusCode::CONFLICT,
                WriteError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                WriteError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            error(status, &e.to_string())
        }
        Err(_) => {
            warn!(user = %session.user, "API: {what}: no answer from the daemon");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the daemon did not answer in time",
            )
        }
    }
}

/// Validates a vrouter object exactly like a `[[vrouter]]` entry of the configuration file.
pub fn validate_vrouter(body: &[u8]) -> Result<VRouter, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("body is not valid JSON: {e}"))?;
    if !value.is_object() {
        return Err("body must be a JSON object: one [[vrouter]] entry".to_string());
    }
    let text =
        serde_json::to_string_pretty(&json!({ "vrouter": [value] })).map_err(|e| e.to_string())?;
    let config = Config::from_str(&text, Some(Format::Json), "vrouter").map_err(|e| {
        let message = e.to_string();
        let message = message.strip_prefix("vrouter: ").unwrap_or(&message);
        strip_position(message).replace("vrouter[0].", "")
    })?;
    config
        .vrouters
        .into_iter()
        .next()
        .ok_or_else(|| "body must describe one virtual router".to_string())
}

/// `line 3: x` / `line 3, column 7: x` → `x`.
fn strip_position(message: &str) -> &str {
    if let Some(rest) = message.strip_prefix("line ") {
        if let Some((position, text)) = rest.split_once(": ") {
            if position
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b',' || b == b' ' || b.is_ascii_lowercase())
            {
                return text;
            }
        }
    }
    message
}
