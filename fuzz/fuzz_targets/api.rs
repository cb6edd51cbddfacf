//! The client API's request path (`routes::handle` on `AppState::new`, against
//! `MockBackend`): logins in the three body forms, cookies and session tokens, reads and JSON
//! writes, logouts. Input: a sequence of steps (`rvrrpd_fuzz::api`).
//!
//! A model follows the sessions the server issued (from its `Set-Cookie` headers), the nonces
//! it revoked and the failed logins per client. Checked after every response:
//! * well-formed: a known status, `Content-Type`, `Cache-Control: no-store`, a JSON body (an
//!   `{"error": ..}` one for 4xx), `Allow` on 405, `Retry-After` on 429;
//! * no one let in: a request carrying no live issued token gets 401 (except `POST /auth` and
//!   `/metrics` from an allowed address); a write reaches the backend only with the token of a
//!   live read-write session, in that session's user's name, and answers 2xx exactly then;
//! * no one locked out: intact cookies of a live session are never refused; the right
//!   password logs in unless the address is throttled, which happens after exactly five
//!   failures.

#![no_main]

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use rvrrpd::api::backend::GroupState;
use rvrrpd::api::routes::{handle, AppState};
use rvrrpd::api::{MockBackend, ServerOptions};
use rvrrpd::config::{Config, Format};
use rvrrpd_fuzz::api::{
    decode, Body, Call, Cookies, Form, Login, Step, INTERFACES, PATHS, USERS, VROUTERS,
};
use serde_json::Value;
use tokio::runtime::Runtime;

struct Harness {
    rt: Runtime,
    config: Config,
}

/// The mock's sample routers with three users: admin (read-write), reader (read-only),
/// scrypter (read-write, scrypt with cheap parameters), and `/metrics` open to 192.0.2.0/24.
fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let entry = |i: usize| {
            let (user, password, rw) = USERS[i];
            let level = u8::from(rw);
            let line = if i == 2 {
                rvrrpd::users::scrypt_entry(user, level, password.as_bytes(), 4, 8, 1)
            } else {
                rvrrpd::users::sha256_entry(user, level, password.as_bytes(), 0x5eed + i as u64)
            };
            line.expect("user entry")
        };
        let sample = rvrrpd::api::mock::SAMPLE_CONFIG;
        let cut = sample.find("\n[api]").expect("sample has [api]");
        let text = format!(
            "{}\n[api]\nsecret = \"fuzz\"\nmetrics_allow = [\"192.0.2.0/24\"]\nusers = [{:?}, {:?}, {:?}]\n",
            &sample[..cut],
            entry(0),
            entry(1),
            entry(2)
        );
        let config = Config::from_str(&text, Some(Format::Toml), "fuzz").expect("harness config");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        Harness { rt, config }
    })
}

const PEERS: [[u8; 4]; 3] = [[192, 0, 2, 1], [198, 51, 100, 1], [198, 51, 100, 2]];

fn peer(i: u8) -> (IpAddr, bool) {
    match usize::from(i) % 4 {
        3 => (IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]), false),
        n => (IpAddr::from(PEERS[n]), n == 0),
    }
}

#[derive(Debug, Clone)]
struct Issued {
    user: String,
    nonce: u64,
    token: String,
    cookie: String,
    rw: bool,
}

#[derive(Default)]
struct Model {
    issued: Vec<Issued>,
    revoked: HashSet<u64>,
    failures: HashMap<IpAddr, u32>,
}

impl Model {
    fn session(&self, i: u8) -> Option<&Issued> {
        (!self.issued.is_empty()).then(|| &self.issued[usize::from(i) % self.issued.len()])
    }

    /// Live issued sessions whose token the header carries.
    fn live_in(&self, header: &[u8]) -> Vec<&Issued> {
        self.issued
            .iter()
            .filter(|s| !self.revoked.contains(&s.nonce))
            .filter(|s| {
                header
                    .windows(s.token.len())
                    .any(|w| w == s.token.as_bytes())
            })
            .collect()
    }
}

struct Reply {
    status: StatusCode,
    headers: hyper::HeaderMap,
    json: Option<Value>,
}

fn send(h: &Harness, state: &Arc<AppState>, peer: IpAddr, req: Request<Full<Bytes>>) -> Reply {
    let resp =
        h.rt.block_on(handle(Arc::clone(state), peer, req))
            .unwrap_or_else(|n| match n {});
    let (parts, body) = resp.into_parts();
    let body =
        h.rt.block_on(body.collect())
            .map(|c| c.to_bytes())
            .unwrap_or_default();
    let status = parts.status;
    let known = [200, 201, 400, 401, 403, 404, 405, 409, 422, 429];
    assert!(known.contains(&status.as_u16()), "status {status}");
    let ctype = parts
        .headers
        .get(header::CONTENT_TYPE)
        .expect("Content-Type");
    assert_eq!(
        parts
            .headers
            .get(header::CACHE_CONTROL)
            .map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    let json = if ctype == "application/json" {
        let v: Value = serde_json::from_slice(&body).expect("JSON body");
        if status.as_u16() >= 400 {
            assert!(v.get("error").is_some_and(Value::is_string), "{status} {v}");
        }
        Some(v)
    } else {
        assert_eq!(status, StatusCode::OK, "only /metrics answers in text");
        None
    };
    if status == StatusCode::METHOD_NOT_ALLOWED {
        assert!(parts.headers.contains_key(header::ALLOW));
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        assert!(parts.headers.contains_key(header::RETRY_AFTER));
    }
    Reply {
        status,
        headers: parts.headers,
        json,
    }
}

/// Records the session a successful login issued.
fn register(model: &mut Model, reply: &Reply) {
    let mut jar: HashMap<&str, &str> = HashMap::new();
    for v in reply.headers.get_all(header::SET_COOKIE) {
        let v = v.to_str().expect("ASCII cookie");
        assert!(
            v.contains("HttpOnly") && v.contains("SameSite=Strict"),
            "{v}"
        );
        let pair = v.split(';').next().unwrap_or_default();
        if let Some((name, value)) = pair.split_once('=') {
            jar.insert(name, value);
        }
    }
    let json = reply.json.as_ref().expect("login JSON");
    let user = json["user"].as_str().expect("user").to_string();
    assert!(
        USERS.iter().any(|u| u.0 == user),
        "logged in as unknown {user:?}"
    );
    assert_eq!(jar.get("user"), Some(&user.as_str()));
    let rw = json["access"] == "read-write";
    assert_eq!(rw, USERS.iter().any(|u| u.0 == user && u.2));
    let nonce = jar
        .get("nonce")
        .and_then(|n| n.parse().ok())
        .expect("nonce cookie");
    let token = jar.get("token").expect("token cookie").to_string();
    let cookie = ["user", "ts", "nonce", "token"]
        .map(|n| format!("{n}={}", jar.get(n).copied().unwrap_or("")))
        .join("; ");
    model.issued.push(Issued {
        user,
        nonce,
        token,
        cookie,
        rw,
    });
}

fn login(h: &Harness, state: &Arc<AppState>, model: &mut Model, l: &Login) {
    let (addr, _) = peer(l.peer);
    let known = usize::from(l.user) < USERS.len();
    let (user, password) = match USERS.get(usize::from(l.user)) {
        Some(&(u, p, _)) => (
            u.to_string(),
            if l.right_password {
                p.to_string()
            } else {
                format!("{p}x")
            },
        ),
        None => (format!("nobody{}", l.user), "banana".to_string()),
    };
    let body: Vec<u8> = match &l.form {
        Form::Space => format!("user={user} passwd={password}").into_bytes(),
        Form::Urlencoded => {
            let enc = rvrrpd::api::login::percent_encode;
            format!(
                "user={}&passwd={}",
                enc(user.as_bytes()),
                enc(password.as_bytes())
            )
            .into_bytes()
        }
        Form::Json => serde_json::json!({"user": user, "passwd": password})
            .to_string()
            .into_bytes(),
        Form::Raw(b) => b.clone(),
    };
    if let Some(want) = reference_login(&body, l.json_type) {
        let got = rvrrpd::api::login::parse(&body, l.json_type);
        let got = got.map(|c| (c.user, c.password)).map_err(|_| ());
        assert_eq!(got, want, "login body {:?}", String::from_utf8_lossy(&body));
    }
    let mut req = Request::post("/auth");
    if l.json_type {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let req = req.body(Full::new(Bytes::from(body))).expect("request");
    let reply = send(h, state, addr, req);
    login_outcome(model, addr, &reply);
    let locked = reply.status == StatusCode::TOO_MANY_REQUESTS;
    if !matches!(l.form, Form::Raw(_)) {
        let space_in_space_form = l.form == Form::Space && password.contains(' ');
        let may_log_in = known
            && l.right_password
            && !space_in_space_form
            && (l.json_type == (l.form == Form::Json) || l.form == Form::Json);
        let s = reply.status.as_u16();
        if !locked {
            if may_log_in {
                assert_eq!(s, 200, "right password refused");
            } else if known && l.right_password {
                assert!(s == 200 || s == 400, "{s}");
            } else {
                assert!(s == 401 || s == 400, "wrong password or user answered {s}");
            }
        }
    }
}

/// Login bookkeeping shared by templated and raw requests to `POST /auth`.
fn login_outcome(model: &mut Model, addr: IpAddr, reply: &Reply) {
    let failures = model.failures.get(&addr).copied().unwrap_or(0);
    assert_eq!(
        reply.status == StatusCode::TOO_MANY_REQUESTS,
        failures >= 5,
        "throttle after {failures} failures"
    );
    match reply.status {
        StatusCode::OK => {
            model.failures.remove(&addr);
            register(model, reply);
        }
        StatusCode::UNAUTHORIZED => *model.failures.entry(addr).or_default() += 1,
        _ => assert!(!reply.headers.contains_key(header::SET_COOKIE)),
    }
}

/// The path segments the server routes on: split at `/`, empty ones dropped,
/// percent-decoded (`+` kept); `None` when not decodable to UTF-8.
fn segments(path: &str) -> Option<Vec<String>> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let b = s.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    out.push(hex_byte(b.get(i + 1..i + 3)?)?);
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).ok()
        })
        .collect()
}

/// Two hex digits, strictly.
fn hex_byte(h: &[u8]) -> Option<u8> {
    let digit = |c: u8| char::from(c).to_digit(16);
    Some((digit(h[0])? * 16 + digit(h[1])?) as u8)
}

/// `application/x-www-form-urlencoded` decoding, strictly (`+` is a space).
fn form_decode(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < b.len() {
        match b[i] {
            b'%' => {
                out.push(hex_byte(b.get(i + 1..i + 3)?)?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

/// The two non-JSON login forms as `api/login.rs` documents them, written independently:
/// `Some(Ok((user, password)))`, `Some(Err(()))` when refused, `None` for JSON bodies.
fn reference_login(body: &[u8], json: bool) -> Option<Result<(String, Vec<u8>), ()>> {
    if body.len() > rvrrpd::api::login::MAX_BODY {
        return Some(Err(()));
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return Some(Err(()));
    };
    if text.trim().is_empty() {
        return Some(Err(()));
    }
    if json || text.trim_start().starts_with('{') {
        return None;
    }
    let space = text.starts_with("user=") && text.contains(' ');
    let decode = |t: &str| {
        if space {
            Some(t.as_bytes().to_vec())
        } else {
            form_decode(t)
        }
    };
    let (mut user, mut password) = (None, None);
    for pair in text.split(if space { ' ' } else { '&' }) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(name), Some(value)) = (decode(name), decode(value)) else {
            return Some(Err(()));
        };
        let slot = match name.as_slice() {
            b"user" => &mut user,
            b"passwd" | b"password" => &mut password,
            _ => return Some(Err(())),
        };
        if pair.is_empty() || slot.is_some() {
            return Some(Err(()));
        }
        *slot = Some(value);
    }
    let (Some(user), Some(password)) = (user, password) else {
        return Some(Err(()));
    };
    let Ok(user) = String::from_utf8(user) else {
        return Some(Err(()));
    };
    if user.is_empty() || password.is_empty() {
        return Some(Err(()));
    }
    Some(Ok((user, password)))
}

fn is_write(method: &Method, segs: &[&str]) -> bool {
    matches!(
        (method.as_str(), segs),
        ("PUT", ["run", "vrrp", _, _, "priority" | "preemption"])
            | ("POST", ["run", "vrrp", _, _, "handover"])
            | ("POST", ["config", "vrouter"])
            | ("DELETE", ["config", "vrouter", _, _])
    )
}

fn cookie_header(model: &Model, c: &Cookies) -> (Option<Vec<u8>>, bool) {
    match c {
        Cookies::None => (None, false),
        Cookies::Session(i) => match model.session(*i) {
            Some(s) => (Some(s.cookie.clone().into_bytes()), true),
            None => (None, false),
        },
        Cookies::Altered(i, how) => {
            let Some(s) = model.session(*i) else {
                return (None, false);
            };
            let mut parts: Vec<String> = s.cookie.split("; ").map(str::to_string).collect();
            let k = usize::from(how % 4);
            match how / 4 % 4 {
                0 => parts[k].push('0'),
                1 => {
                    parts[k].pop();
                }
                2 => {
                    parts.remove(k);
                }
                _ => parts[k] = parts[k].to_uppercase(),
            }
            (Some(parts.join("; ").into_bytes()), false)
        }
        Cookies::Wrapped(i, before, after) => {
            let Some(s) = model.session(*i) else {
                return (None, false);
            };
            let mut v = before.clone();
            v.extend_from_slice(s.cookie.as_bytes());
            v.extend_from_slice(after);
            (Some(v), false)
        }
        Cookies::Raw(b) => (Some(b.clone()), false),
    }
}

fn call(h: &Harness, state: &Arc<AppState>, mock: &MockBackend, model: &mut Model, c: &Call) {
    let (addr, metrics_allowed) = peer(c.peer);
    let method = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
    ][usize::from(c.method) % 5]
        .clone();
    let path: Vec<u8> = match &c.path {
        Ok((t, g, i)) => PATHS[usize::from(*t) % PATHS.len()]
            .replace("{g}", &g.to_string())
            .replace("{i}", INTERFACES[usize::from(*i) % INTERFACES.len()])
            .into_bytes(),
        Err(raw) => raw.clone(),
    };
    let Ok(uri) = hyper::Uri::try_from(path) else {
        return;
    };
    let body: Vec<u8> = match &c.body {
        Body::Empty => Vec::new(),
        Body::Priority(p) => format!("{{\"priority\": {p}}}").into_bytes(),
        Body::Preemption(b) => format!("{{\"preemption\": {b}}}").into_bytes(),
        Body::VRouter(t, g) => VROUTERS[usize::from(*t) % VROUTERS.len()]
            .replace("{g}", &g.to_string())
            .into_bytes(),
        Body::Raw(b) => b.clone(),
    };
    let (cookie, intact) = cookie_header(model, &c.cookies);
    let cookie = cookie.and_then(|v| HeaderValue::from_bytes(&v).ok());
    let sent: Vec<u8> = cookie
        .as_ref()
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_default();
    let mut req = Request::builder().method(method.clone()).uri(uri.clone());
    if let Some(v) = cookie {
        req = req.header(header::COOKIE, v);
    }
    if c.json_type {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let Ok(req) = req.body(Full::new(Bytes::from(body))) else {
        return;
    };
    let writes_before = mock.writes().len();
    let live: Vec<Issued> = model.live_in(&sent).into_iter().cloned().collect();
    let reply = send(h, state, addr, req);
    let s = reply.status;
    let writes = mock.writes();
    let new_writes = &writes[writes_before..];

    let Some(segs) = segments(uri.path()) else {
        assert_eq!(s, StatusCode::BAD_REQUEST, "malformed path");
        assert!(new_writes.is_empty());
        return;
    };
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    if segs == ["auth"] {
        assert!(new_writes.is_empty());
        if method == Method::POST {
            login_outcome(model, addr, &reply);
        } else {
            assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
        }
        return;
    }
    if segs == ["metrics"] && method == Method::GET && metrics_allowed {
        assert_eq!(s, StatusCode::OK);
        return;
    }
    // No one let in.
    if live.is_empty() {
        assert_eq!(
            s,
            StatusCode::UNAUTHORIZED,
            "{method} {uri} let in without a session"
        );
    }
    if intact && !live.is_empty() {
        assert_ne!(s, StatusCode::UNAUTHORIZED, "intact live session refused");
    }
    let write = is_write(&method, &segs);
    match new_writes {
        [] => assert!(
            !(write && s.is_success()),
            "a write answered {s} without reaching the backend"
        ),
        [(user, _)] => {
            assert!(
                write && s.is_success(),
                "backend written by {method} {uri} ({s})"
            );
            assert!(
                live.iter().any(|l| l.rw && &l.user == user),
                "write as {user:?} without its read-write session"
            );
        }
        more => panic!("one request, {} writes", more.len()),
    }
    if write && s != StatusCode::UNAUTHORIZED && !live.iter().any(|l| l.rw) {
        assert_eq!(s, StatusCode::FORBIDDEN, "read-only session writing");
    }
    if method == Method::POST && segs == ["auth", "logout"] && s == StatusCode::OK {
        // The server revokes the nonce of the cookies it validated: the last `nonce` value.
        let text = String::from_utf8_lossy(&sent);
        let nonce: Option<u64> = text
            .rsplit(';')
            .filter_map(|p| p.split_once('='))
            .find(|(n, _)| n.trim() == "nonce")
            .and_then(|(_, v)| v.trim().trim_matches('"').parse().ok());
        model.revoked.extend(nonce);
    }
}

fn logout(h: &Harness, state: &Arc<AppState>, model: &mut Model, peer_index: u8, i: u8) {
    let Some(s) = model.session(i).cloned() else {
        return;
    };
    let req = Request::post("/auth/logout").header(header::COOKIE, s.cookie.as_str());
    let req = req.body(Full::new(Bytes::new())).expect("request");
    let reply = send(h, state, peer(peer_index).0, req);
    if model.revoked.contains(&s.nonce) {
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "revoked session logged out again"
        );
    } else {
        assert_eq!(reply.status, StatusCode::OK);
        model.revoked.insert(s.nonce);
    }
}

fuzz_target!(|data: &[u8]| {
    let steps = decode(data);
    if steps.is_empty() {
        return;
    }
    let h = harness();
    let mock = Arc::new(MockBackend::new(h.config.clone()));
    mock.set_state(1, "eth0", GroupState::Master);
    let api = h.config.api.clone().unwrap_or_default();
    let state = AppState::new(
        &api,
        Arc::clone(&mock) as _,
        ServerOptions::default(),
        false,
    );
    let state = Arc::new(state.expect("state"));
    let mut model = Model::default();
    for step in &steps {
        match step {
            Step::Login(l) => login(h, &state, &mut model, l),
            Step::Call(c) => call(h, &state, &mock, &mut model, c),
            Step::Logout(p, i) => logout(h, &state, &mut model, *p, *i),
        }
    }
});
