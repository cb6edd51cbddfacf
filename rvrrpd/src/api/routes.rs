//! Request handling: authentication, routing, the read and write endpoints.
//!
//! Order of checks for every request: `POST /auth` (no session needed) and `GET /metrics` from an
//! allow-listed address are served first; any other request without a valid session gets 401,
//! whatever the path. Writes by a read-only user get 403 before their body is looked at. Bad
//! input gets a 4xx with `{"error": "..."}` and changes nothing.

// Helpers return the ready-made error response as their `Err`; it is built once per request.
#![allow(clippy::result_large_err)]

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Body;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tracing::{debug, info, warn};

use super::acl::IpNet;
use super::backend::Backend;
use super::error::ApiError;
use super::server::ServerOptions;
use super::session::{parse_cookies, unix_now, Session, Sessions};
use super::views::{detail, summary, ProtocolsJson, VrrpDetail, VrrpSummary};
pub use super::writes::validate_vrouter;
use super::writes::write_op;
use super::{events, login, metrics};
use crate::config::{ApiConfig, Config, UserEntry};
use crate::users::{self, Access};

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;
/// How long a client may take to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write may wait for the control plane.
pub(super) const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A response.
pub type Resp = Response<Full<Bytes>>;

/// Everything a request handler needs.
pub struct AppState {
    /// The daemon.
    pub backend: Arc<dyn Backend>,
    /// Sessions and login throttling.
    pub sessions: Sessions,
    /// Configured users.
    pub users: Arc<[UserEntry]>,
    /// Whether the server speaks TLS (cookies get `Secure`).
    pub tls: bool,
    /// Addresses allowed to read `/metrics` without a session.
    pub metrics_allow: Vec<IpNet>,
    /// Turns true when the server shuts down (ends the event streams).
    pub stop: tokio::sync::watch::Sender<bool>,
    /// Event streams that may be open at once ([`events::MAX_STREAMS`]): each holds a
    /// connection, and the server's connections are shared with every other request.
    pub event_streams: Arc<tokio::sync::Semaphore>,
}

/// The body of every response: complete (`Full`) or streamed (`GET /events`).
pub type ApiBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;
impl AppState {
    /// The request-handling state of a server for `cfg`, everything [`bind`] sets up besides
    /// the socket: sessions keyed with `[api] secret`, the users, and the `/metrics`
    /// allow-list of `options` followed by `[api] metrics_allow`. With [`handle`] it serves
    /// requests without a socket (tests, fuzzing); `tls` only adds `Secure` to cookies.
    ///
    /// [`bind`]: super::bind
    pub fn new(
        cfg: &ApiConfig,
        backend: Arc<dyn Backend>,
        options: ServerOptions,
        tls: bool,
    ) -> Result<Self, ApiError> {
        let mut metrics_allow = options.metrics_allow;
        for entry in &cfg.metrics_allow {
            metrics_allow.push(entry.parse::<IpNet>().map_err(ApiError::MetricsAllow)?);
        }
        Ok(AppState {
            backend,
            sessions: Sessions::new(cfg.secret.as_ref(), options.session, options.throttle),
            users: cfg.users.clone().into(),
            tls,
            metrics_allow,
            stop: tokio::sync::watch::channel(false).0,
            event_streams: Arc::new(tokio::sync::Semaphore::new(super::events::MAX_STREAMS)),
        })
    }
}

/// Handles one request from `peer`: the whole request path of the server (routing, login,
/// sessions, writes) on any body type, so tests and fuzz targets can drive it without a
/// socket (build the state with [`AppState::new`]).
pub async fn handle<B>(
    state: Arc<AppState>,
    peer: IpAddr,
    req: Request<B>,
) -> Result<Response<ApiBody>, Infallible>
where
    B: Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let full = |resp: Resp| resp.map(BodyExt::boxed);
    let (parts, body) = req.into_parts();
    let events = split_path(parts.uri.path()).is_some_and(|s| s == ["events"]);
    if !events {
        return Ok(full(handle_complete(state, peer, parts, body).await));
    }
    // `GET /events`: authenticated like every read, then streamed.
    let session = match session_of(&state, &parts.headers) {
        Ok(session) => session,
        Err(why) => {
            debug!(%peer, path = "/events", "API request refused: {why}");
            return Ok(full(error(StatusCode::UNAUTHORIZED, &why)));
        }
    };
    if parts.method != Method::GET {
        return Ok(full(method_not_allowed("GET")));
    }
    let Ok(permit) = Arc::clone(&state.event_streams).try_acquire_owned() else {
        warn!(%peer, user = %session.user, "API: too many event streams, refusing one more");
        return Ok(full(error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "too many event streams open (at most {})",
                events::MAX_STREAMS
            ),
        )));
    };
    Ok(match state.backend.transitions() {
        Some(rx) => events::response(rx, state.stop.subscribe(), session.user.clone(), permit),
        None => full(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this daemon offers no event stream",
        )),
    })
}

/// Every request but `GET /events`: answered with a complete body.
async fn handle_complete<B>(
    state: Arc<AppState>,
    peer: IpAddr,
    parts: hyper::http::request::Parts,
    body: B,
) -> Resp
where
    B: Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let raw_path = parts.uri.path().to_string();
    let Some(segments) = split_path(&raw_path) else {
        return error(StatusCode::BAD_REQUEST, "malformed path");
    };
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = parts.method.clone();
    debug!(%peer, %method, path = %raw_path, "API request");

    if segs == ["auth"] {
        return if method == Method::POST {
            let json = content_type_is_json(&parts.headers);
            login_handler(&state, peer, body, json).await
        } else {
            method_not_allowed("POST")
        };
    }
    if segs == ["metrics"]
        && method == Method::GET
        && state.metrics_allow.iter().any(|net| net.contains(peer))
    {
        return metrics_response(&*state.backend);
    }

    let session = match session_of(&state, &parts.headers) {
        Ok(session) => session,
        Err(why) => {
            debug!(%peer, path = %raw_path, "API request refused: {why}");
            return error(StatusCode::UNAUTHORIZED, &why);
        }
    };
    route(&state, &session, method, &segs, body).await
}

/// The session the request's cookies carry, or why there is none.
fn session_of(state: &AppState, headers: &hyper::HeaderMap) -> Result<Session, String> {
    let cookies = parse_cookies(
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    state
        .sessions
        .validate(cookies, &state.users, unix_now())
        .map_err(|why| why.to_string())
}

async fn route<B>(
    state: &AppState,
    session: &Session,
    method: Method,
    segs: &[&str],
    body: B,
) -> Resp
where
    B: Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let backend = &*state.backend;
    let get = method == Method::GET;
    match segs {
        ["auth", "logout"] if method == Method::POST => logout(state, session),
        ["metrics"] if get => metrics_response(backend),
        ["run", "vrrp"] if get => json_ok(
            &backend
                .groups()
                .iter()
                .map(summary)
                .collect::<Vec<VrrpSummary>>(),
        ),
        ["run", "vrrp", group] if get => match parse_group(group) {
            Ok(group) => json_ok(
                &backend
                    .groups()
                    .iter()
                    .filter(|g| g.group == group)
                    .map(summary)
                    .collect::<Vec<_>>(),
            ),
            Err(resp) => resp,
        },
        ["run", "vrrp", group, interface] if get => match parse_group(group) {
            Ok(group) => json_ok(&find_detail(backend, group, interface)),
            Err(resp) => resp,
        },
        ["run", "global"] if get => json_ok(&backend.global()),
        ["run", "daemon"] if get => {
            let g = backend.global();
            json_ok(&json!({
                "version": g.version,
                "process_id": g.process_id,
                "uptime": g.uptime,
                "workers": g.workers,
                "fast_path": g.fast_path,
                "tx_path": g.tx_path,
                "accept_mode": g.accept_mode,
                "worker_scheduling": g.worker_scheduling,
                "pid": g.pid,
                "groups": backend.groups().len(),
            }))
        }
        ["run", "protocols"] if get => json_ok(&ProtocolsJson {
            static_routes: backend.routes(),
        }),
        ["run", "protocols", "static"] if get => json_ok(&backend.routes()),
        ["run", "interfaces"] if get => json_ok(&backend.interfaces()),
        ["config", "global"] if get => json_ok(&config_global(&backend.config())),
        ["config", "vrouter"] if get => json_ok(&redacted(&backend.config().vrouters)),
        ["config", "vrouter", group, interface] if get => match parse_group(group) {
            Ok(group) => {
                let config = backend.config();
                let vr = config
                    .vrouters
                    .iter()
                    .find(|vr| vr.group.get() == group && vr.interface.as_str() == *interface);
                json_ok(&redacted(&vr))
            }
            Err(resp) => resp,
        },
        ["config", "protocols"] if get => json_ok(&redacted(&backend.config().protocols)),
        _ => match write_op(state, session, &method, segs, body).await {
            Some(resp) => resp,
            None => match allowed_methods(segs) {
                Some(allow) => method_not_allowed(allow),
                None => error(StatusCode::NOT_FOUND, "no such resource"),
            },
        },
    }
}

async fn login_handler<B>(state: &AppState, peer: IpAddr, body: B, json: bool) -> Resp
where
    B: Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if let Err(retry) = state.sessions.check_throttle(peer, Instant::now()) {
        return throttled(retry);
    }
    // A login body has a small limit of its own, and one over it is a malformed login (400)
    // like any other, not just a large request.
    let body = match read_body(body, login::MAX_BODY, StatusCode::BAD_REQUEST).await {
        Ok(body) => body,
        Err(resp) => return resp,
    };
    let credentials = match login::parse(&body, json) {
        Ok(c) => c,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let users = Arc::clone(&state.users);
    let user = credentials.user.clone();
    // scrypt takes a while: keep it off the executor.
    let verified = tokio::task::spawn_blocking(move || {
        users::authenticate(&users, &credentials.user, &credentials.password)
            .map(|entry| entry.level)
    })
    .await
    .unwrap_or(None);
    match verified {
        Some(level) => {
            state.sessions.record_success(peer);
            let issued = state.sessions.issue(&user, unix_now());
            let access = Access::from_level(level);
            info!(%peer, user = %user, access = access.as_str(), "API login");
            let lifetime = state.sessions.policy().lifetime.as_secs();
            let mut resp = json_response(
                StatusCode::OK,
                &json!({
                    "user": user,
                    "access": access.as_str(),
                    "expires": issued.ts + lifetime,
                }),
            );
            for (name, value) in [
                ("user", issued.user.clone()),
                ("ts", issued.ts.to_string()),
                ("nonce", issued.nonce.to_string()),
                ("token", issued.token.clone()),
            ] {
                append_cookie(&mut resp, name, &value, lifetime, state.tls);
            }
            resp
        }
        None => {
            let known = state.users.iter().any(|u| u.user == user);
            let locked = state.sessions.record_failure(peer, Instant::now());
            if known {
                warn!(%peer, user = %user, "API login failed: wrong password");
            } else {
                warn!(%peer, "API login failed: unknown user");
            }
            if locked {
                warn!(%peer, "API: too many failed logins, address locked out");
            }
            error(StatusCode::UNAUTHORIZED, "invalid user name or password")
        }
    }
}

fn logout(state: &AppState, session: &Session) -> Resp {
    state.sessions.revoke(session, unix_now());
    info!(user = %session.user, "API logout");
    let mut resp = json_ok(&json!({ "result": "logged out" }));
    for name in ["user", "ts", "nonce", "token"] {
        append_cookie(&mut resp, name, "", 0, state.tls);
    }
    resp
}

fn append_cookie(resp: &mut Resp, name: &str, value: &str, max_age: u64, secure: bool) {
    let secure = if secure { "; Secure" } else { "" };
    let cookie =
        format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn throttled(retry: Duration) -> Resp {
    let secs = retry.as_secs() + u64::from(retry.subsec_nanos() > 0);
    let mut resp = error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("too many failed logins from this address; retry in {secs} s"),
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

fn metrics_response(backend: &dyn Backend) -> Resp {
    let text = metrics::render(&backend.groups(), &backend.global(), &backend.metrics());
    let mut resp = Response::new(Full::new(Bytes::from(text)));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    common_headers(&mut resp);
    resp
}

fn find_detail(backend: &dyn Backend, group: u8, interface: &str) -> Option<VrrpDetail> {
    backend
        .groups()
        .iter()
        .find(|g| g.group == group && g.on_interface(interface))
        .map(detail)
}

/// `/config/global`: the configuration without `vrouter` and `protocols`, secrets removed.
fn config_global(config: &Config) -> Value {
    let mut value = redacted(config);
    if let Value::Object(map) = &mut value {
        map.remove("vrouter");
        map.remove("protocols");
    }
    value
}

/// Serializes `value` and removes any secret-bearing key, as a second line of defence behind
/// the configuration types' own `skip_serializing`.
fn redacted<T: Serialize + ?Sized>(value: &T) -> Value {
    fn scrub(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for key in ["secret", "auth_secret", "hash", "salt", "phc"] {
                    map.remove(key);
                }
                map.values_mut().for_each(scrub);
            }
            Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(value).unwrap_or(Value::Null);
    scrub(&mut value);
    value
}

/// Reads a request body of at most `limit` bytes; a longer one is answered with `too_large`.
/// A body not read to its end leaves the connection unusable (the server closes it after the
/// reply): such replies say `Connection: close`, so that a client does not send its next
/// request on a connection about to be closed.
pub(super) async fn read_body<B>(
    body: B,
    limit: usize,
    too_large: StatusCode,
) -> Result<Bytes, Resp>
where
    B: Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let unread = match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, limit).collect()).await
    {
        Ok(Ok(collected)) => return Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => error(
            too_large,
            &format!("request body larger than {limit} bytes"),
        ),
        Ok(Err(_)) => error(StatusCode::BAD_REQUEST, "could not read the request body"),
        Err(_) => error(StatusCode::REQUEST_TIMEOUT, "request body too slow"),
    };
    let mut resp = unread;
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    Err(resp)
}

pub(super) fn parse_json_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Resp> {
    serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("invalid request body: {e}"),
        )
    })
}

pub(super) fn parse_group(text: &str) -> Result<u8, Resp> {
    match text.parse::<u8>() {
        Ok(group) if group >= 1 => Ok(group),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            &format!("group {text:?} is not a virtual router id (1–255)"),
        )),
    }
}

fn content_type_is_json(headers: &hyper::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
}

/// The methods a known path accepts, for 405 responses.
fn allowed_methods(segs: &[&str]) -> Option<&'static str> {
    match segs {
        ["auth"] | ["auth", "logout"] | ["run", "vrrp", _, _, "handover"] => Some("POST"),
        ["run", "vrrp", _, _, "priority" | "preemption"] => Some("PUT"),
        ["config", "vrouter"] => Some("GET, POST"),
        ["config", "vrouter", _, _] => Some("GET, DELETE"),
        ["metrics"]
        | ["events"]
        | ["run", "vrrp" | "global" | "daemon" | "protocols" | "interfaces"]
        | ["run", "vrrp", _]
        | ["run", "vrrp", _, _]
        | ["run", "protocols", "static"]
        | ["config", "global" | "protocols"] => Some("GET"),
        _ => None,
    }
}

/// Splits a path into percent-decoded segments, ignoring empty ones (`/run/vrrp/` = `/run/vrrp`).
fn split_path(path: &str) -> Option<Vec<String>> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let bytes = if s.contains('%') {
                login::percent_decode(&s.replace('+', "%2B"))?
            } else {
                s.as_bytes().to_vec()
            };
            String::from_utf8(bytes).ok()
        })
        .collect()
}

fn json_ok<T: Serialize + ?Sized>(value: &T) -> Resp {
    json_response(StatusCode::OK, value)
}

pub(super) fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Resp {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    common_headers(&mut resp);
    resp
}

/// `{"error": message}` with `status`.
pub fn error(status: StatusCode, message: &str) -> Resp {
    json_response(status, &json!({ "error": message }))
}

fn method_not_allowed(allow: &'static str) -> Resp {
    let mut resp = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

fn common_headers(resp: &mut Resp) {
    let headers = resp.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vrouter_validation_names_the_directive() {
        let ok = validate_vrouter(br#"{"group": 9, "interface": "eth9", "vip": "10.9.0.1"}"#);
        assert_eq!(ok.map(|vr| vr.group.get()), Ok(9));
        let bad = validate_vrouter(
            br#"{"group": 9, "interface": "eth9", "vip": "10.9.0.1", "priority": 255}"#,
        );
        assert!(
            matches!(&bad, Err(m) if m.starts_with("priority = 255 is out of range")),
            "{bad:?}"
        );
        let missing = validate_vrouter(br#"{"group": 9, "interface": "eth9"}"#);
        assert!(
            matches!(&missing, Err(m) if m.contains("vip")),
            "{missing:?}"
        );
        assert!(validate_vrouter(b"[1]").is_err());
        assert!(validate_vrouter(b"{").is_err());
    }

    /// The socket-free seam: `AppState::new` + `handle` serve a login, a read with its
    /// cookies, and refuse the same read without them.
    #[test]
    fn app_state_serves_requests_without_a_socket() {
        use crate::api::MockBackend;
        let mock = Arc::new(MockBackend::sample());
        let cfg = mock.config().api.clone().unwrap_or_default();
        let options = ServerOptions::default().with_metrics_allow(["192.0.2.0/24"]);
        let state = AppState::new(&cfg, mock, options.expect("allow-list"), false);
        let state = Arc::new(state.expect("state"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let call = |method: Method, path: &str, cookie: Option<&str>, body: &'static str| {
            let mut req = Request::builder().method(method).uri(path);
            if let Some(cookie) = cookie {
                req = req.header(header::COOKIE, cookie);
            }
            let req = req.body(Full::new(Bytes::from_static(body.as_bytes())));
            let peer = IpAddr::from([198, 51, 100, 7]);
            let resp = rt.block_on(handle(Arc::clone(&state), peer, req.expect("request")));
            resp.unwrap_or_else(|never| match never {})
        };
        let login = call(Method::POST, "/auth", None, "user=admin passwd=banana");
        assert_eq!(login.status(), StatusCode::OK);
        let cookie: Vec<String> = login
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
            .collect();
        let cookie = cookie.join("; ");
        let read = call(Method::GET, "/run/vrrp", Some(&cookie), "");
        assert_eq!(read.status(), StatusCode::OK);
        let write = call(
            Method::PUT,
            "/run/vrrp/1/eth0/priority",
            Some(&cookie),
            "{\"priority\": 9}",
        );
        assert_eq!(write.status(), StatusCode::FORBIDDEN, "admin is read-only");
        assert_eq!(
            call(Method::GET, "/run/vrrp", None, "").status(),
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn paths_split_and_decode() {
        assert_eq!(
            split_path("/run/vrrp/"),
            Some(vec!["run".into(), "vrrp".into()])
        );
        assert_eq!(split_path("/a%2Eb"), Some(vec!["a.b".into()]));
        assert_eq!(split_path("/a+b"), Some(vec!["a+b".into()]));
        assert_eq!(split_path("/%zz"), None);
        assert_eq!(split_path("/"), Some(vec![]));
    }
}
