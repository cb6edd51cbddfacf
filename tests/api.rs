//! The client API against a real server on 127.0.0.1 (port 0) with the in-memory backend, over
//! plain HTTP and over HTTPS, using an independent HTTP client (ureq).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rvrrpd::api::client::{self, ClientArgs};
use rvrrpd::api::session::{token_with_key, unix_now, ThrottlePolicy};
use rvrrpd::api::{self, ApiError, Backend, GroupState, MockBackend, ServerOptions, WriteOp};
use rvrrpd::config::{ApiConfig, Secret, UserEntry};
use serde_json::{json, Value};

const SECRET: &str = "test-secret";
/// `{{SHA256}}` entry of admin/banana, level 0 (as in the mock's sample configuration).
const ADMIN: &str = "{{SHA256}}admin:0:1eb7ac761a1201f9:3df024b5dc20a168d6a3fe406c65ec286e71c61c9c738e079ddd6dae255ee695";
/// Strings of the sample configuration that must never appear in a response.
const NEVER_SHOWN: [&str; 5] = [
    "vrrpSEC1",
    "p0-secret-do-not-leak",
    "api-secret-do-not-leak",
    "3df024b5dc20a168",
    "1eb7ac761a1201f9",
];

// ---------------------------------------------------------------------------------------------
// Harness

struct Harness {
    base: String,
    mock: Arc<MockBackend>,
    agent: ureq::Agent,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<std::sync::mpsc::Receiver<Result<(), ApiError>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

fn users() -> Vec<UserEntry> {
    let op = rvrrpd::users::sha256_entry("op", 1, b"oppass", 0x5eed).unwrap_or_default();
    let sc = rvrrpd::users::scrypt_entry("scrypter", 1, b"s3cret pw", 4, 8, 1).unwrap_or_default();
    [ADMIN.to_string(), op, sc]
        .iter()
        .map(|l| l.parse().unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn api_config() -> ApiConfig {
    ApiConfig {
        users: users(),
        secret: Some(Secret::new(SECRET)),
        host: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..ApiConfig::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn plain_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

impl Harness {
    fn start() -> Self {
        Self::start_with(api_config(), ServerOptions::default())
    }

    fn start_with(cfg: ApiConfig, options: ServerOptions) -> Self {
        Self::start_full(cfg, options, plain_agent())
    }

    fn start_full(cfg: ApiConfig, options: ServerOptions, agent: ureq::Agent) -> Self {
        let rt = runtime();
        let mock = Arc::new(MockBackend::sample());
        let backend: Arc<dyn Backend> = mock.clone();
        let server = rt
            .block_on(api::bind(&cfg, backend, options))
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = server.local_addr();
        let scheme = if cfg.tls { "https" } else { "http" };
        let host = if cfg.tls {
            "localhost".to_string()
        } else {
            addr.ip().to_string()
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        rt.spawn(async move {
            let result = server
                .run(async {
                    let _ = rx.await;
                })
                .await;
            let _ = done_tx.send(result);
        });
        Harness {
            base: format!("{scheme}://{host}:{}", addr.port()),
            mock,
            agent,
            shutdown: Some(tx),
            done: Some(done_rx),
            runtime: Some(rt),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; returns status, Set-Cookie values and body.
    fn send(
        &self,
        method: &str,
        path: &str,
        cookies: Option<&str>,
        content_type: Option<&str>,
        body: Option<&str>,
    ) -> Reply {
        let url = self.url(path);
        let result = match method {
            "GET" | "DELETE" => {
                let mut req = if method == "GET" {
                    self.agent.get(&url)
                } else {
                    self.agent.delete(&url)
                };
                if let Some(c) = cookies {
                    req = req.header("Cookie", c);
                }
                req.call()
            }
            _ => {
                let mut req = match method {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    other => panic!("method {other}"),
                };
                if let Some(c) = cookies {
                    req = req.header("Cookie", c);
                }
                if let Some(ct) = content_type {
                    req = req.header("Content-Type", ct);
                }
                req.send(body.unwrap_or(""))
            }
        };
        let mut resp = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let set_cookies = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok().map(str::to_string));
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok().map(str::to_string))
            .unwrap_or_default();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        Reply {
            status,
            set_cookies,
            retry_after,
            content_type,
            text,
        }
    }

    fn get(&self, path: &str, session: &str) -> Reply {
        self.send("GET", path, Some(session), None, None)
    }

    fn json_write(&self, method: &str, path: &str, session: &str, body: &str) -> Reply {
        self.send(
            method,
            path,
            Some(session),
            Some("application/json"),
            Some(body),
        )
    }

    /// Logs in and returns the `Cookie` header value.
    fn login(&self, user: &str, password: &str) -> String {
        let reply = self.send(
            "POST",
            "/auth",
            None,
            Some("application/x-www-form-urlencoded"),
            Some(&format!(
                "user={}&passwd={}",
                api::login::percent_encode(user.as_bytes()),
                api::login::percent_encode(password.as_bytes())
            )),
        );
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.cookie_header()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(done) = self.done.take() {
            let stopped = done.recv_timeout(Duration::from_secs(10));
            if !std::thread::panicking() {
                assert!(matches!(stopped, Ok(Ok(()))), "server did not stop cleanly");
            }
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    set_cookies: Vec<String>,
    retry_after: Option<String>,
    content_type: String,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    fn cookie_header(&self) -> String {
        self.set_cookies
            .iter()
            .filter_map(|c| c.split(';').next())
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn error_message(&self) -> String {
        assert!(
            self.content_type.starts_with("application/json"),
            "{self:?}"
        );
        self.json()
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no error message: {}", self.text))
    }
}

/// Session cookies signed with `key` (to forge and to age sessions).
fn signed_cookies(key: &[u8], user: &str, ts: u64, nonce: u64) -> String {
    let token = token_with_key(key, user, ts, nonce);
    format!("user={user}; ts={ts}; nonce={nonce}; token={token}")
}

// ---------------------------------------------------------------------------------------------
// OpenAPI document and a small schema checker (type, required, properties, items, enum,
// nullable, allOf, oneOf, $ref, additionalProperties)

fn openapi() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            let target = doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"));
            resolve(doc, target)
        }
        None => schema,
    }
}

/// The schema with `$ref` resolved and `allOf` merged into one object schema.
fn merged(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    let Some(parts) = schema.get("allOf").and_then(Value::as_array) else {
        return schema.clone();
    };
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    let mut additional = false;
    for part in parts {
        let part = merged(doc, part);
        if let Some(p) = part.get("properties").and_then(Value::as_object) {
            properties.extend(p.clone());
        }
        if let Some(r) = part.get("required").and_then(Value::as_array) {
            required.extend(r.clone());
        }
        additional |= part.get("additionalProperties") == Some(&Value::Bool(true));
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": additional,
        "nullable": schema.get("nullable").cloned().unwrap_or(Value::Bool(false)),
    })
}

fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = merged(doc, schema);
    if value.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
        return;
    }
    if let Some(choices) = schema.get("oneOf").and_then(Value::as_array) {
        let fits = choices.iter().any(|c| {
            let mut e = Vec::new();
            check(doc, c, value, at, &mut e);
            e.is_empty()
        });
        if !fits {
            errors.push(format!("{at}: {value} matches no oneOf choice"));
        }
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            errors.push(format!("{at}: {value} not in {allowed:?}"));
        }
    }
    let Some(kind) = schema.get("type").and_then(Value::as_str) else {
        return;
    };
    let ok = match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        other => panic!("schema type {other} not handled"),
    };
    if !ok {
        errors.push(format!("{at}: expected {kind}, got {value}"));
        return;
    }
    if let (Some(object), "object") = (value.as_object(), kind) {
        let properties = schema.get("properties").and_then(Value::as_object);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                errors.push(format!("{at}: required field {name} missing"));
            }
        }
        let open = schema.get("additionalProperties") == Some(&Value::Bool(true));
        for (name, field) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(s) => check(doc, s, field, &format!("{at}.{name}"), errors),
                None if open => {}
                None => errors.push(format!("{at}: field {name} is not documented")),
            }
        }
    }
    if let (Some(items), Some(schema_items)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(doc, schema_items, item, &format!("{at}[{i}]"), errors);
        }
    }
}

/// The documented schema of `method template` answering `status`.
fn response_schema(doc: &Value, method: &str, template: &str, status: u16) -> Value {
    let operation = doc
        .get("paths")
        .and_then(|p| p.get(template))
        .and_then(|p| p.get(method.to_ascii_lowercase()))
        .unwrap_or_else(|| panic!("{method} {template} is not documented"));
    let response = operation
        .get("responses")
        .and_then(|r| r.get(status.to_string()))
        .unwrap_or_else(|| panic!("{method} {template}: status {status} is not documented"));
    let response = resolve(doc, response);
    response
        .pointer("/content/application~1json/schema")
        .cloned()
        .unwrap_or_else(|| panic!("{method} {template} {status}: no JSON schema"))
}

fn assert_matches_openapi(doc: &Value, method: &str, template: &str, reply: &Reply) {
    let schema = response_schema(doc, method, template, reply.status);
    let mut errors = Vec::new();
    check(doc, &schema, &reply.json(), "$", &mut errors);
    assert!(
        errors.is_empty(),
        "{method} {template} ({}): {errors:#?}\n{}",
        reply.status,
        reply.text
    );
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn login_accepts_all_three_body_forms() {
    let lenient = ServerOptions {
        throttle: ThrottlePolicy {
            max_failures: 100,
            ..ThrottlePolicy::default()
        },
        ..ServerOptions::default()
    };
    let h = Harness::start_with(api_config(), lenient);
    let forms = [
        (
            "application/x-www-form-urlencoded",
            "user=admin passwd=banana".to_string(),
        ),
        (
            "application/x-www-form-urlencoded",
            "user=admin&passwd=ban%61na".to_string(),
        ),
        (
            "application/json",
            json!({"user": "admin", "passwd": "banana"}).to_string(),
        ),
        // A password with a space: form-encoded or JSON (in the original's form a space
        // separates fields).
        ("text/plain", "user=scrypter&passwd=s3cret+pw".to_string()),
        (
            "application/json",
            json!({"user": "scrypter", "password": "s3cret pw"}).to_string(),
        ),
    ];
    for (content_type, body) in &forms {
        let reply = h.send("POST", "/auth", None, Some(content_type), Some(body));
        assert_eq!(reply.status, 200, "{body}: {}", reply.text);
        let names: Vec<&str> = reply
            .set_cookies
            .iter()
            .filter_map(|c| c.split('=').next())
            .collect();
        assert_eq!(names, ["user", "ts", "nonce", "token"], "{reply:?}");
        for cookie in &reply.set_cookies {
            assert!(cookie.contains("; HttpOnly"), "{cookie}");
            assert!(cookie.contains("; SameSite=Strict"), "{cookie}");
            assert!(cookie.contains("; Max-Age=3600"), "{cookie}");
            assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
        }
        let session = reply.cookie_header();
        assert_eq!(h.get("/run/vrrp", &session).status, 200);
    }
    let wrong = [
        "user=admin passwd=apple",
        "user=admin&passwd=apple",
        r#"{"user":"admin","passwd":"apple"}"#,
        "user=nobody passwd=banana",
    ];
    for body in wrong {
        let reply = h.send(
            "POST",
            "/auth",
            None,
            Some("application/x-www-form-urlencoded"),
            Some(body),
        );
        assert_eq!(reply.status, 401, "{body}");
        assert!(reply.set_cookies.is_empty());
        assert!(reply
            .error_message()
            .contains("invalid user name or password"));
    }
    // Bodies that are not exactly a user and a password: 400, a JSON error naming the problem,
    // no session, in every accepted form.
    let long = "x".repeat(5_000);
    let refused = [
        ("", "empty login body"),
        ("  ", "empty login body"),
        ("user=admin", "missing field \"passwd\""),
        ("garbage", "unknown field \"garbage\""),
        (r#"{"user":"admin"}"#, "missing field `passwd`"),
        ("user=admin passwd=", "empty password"),
        ("user=admin&passwd=banana&x=1", "unknown field \"x\""),
        ("user=admin passwd=banana x=1", "unknown field \"x\""),
        (
            r#"{"user":"admin","passwd":"banana","x":1}"#,
            "unknown field `x`",
        ),
        (
            "user=admin&passwd=banana&user=root",
            "\"user\" given more than once",
        ),
        (
            "user=admin passwd=banana passwd=banana",
            "\"passwd\" given more than once",
        ),
        (
            r#"{"user":"admin","passwd":"banana","passwd":"banana"}"#,
            "duplicate field `passwd`",
        ),
        ("user=admin passwd=banana ", "empty field"),
        ("user=admin&passwd=banana&", "empty field"),
    ];
    let long_bodies = [
        format!("user=admin passwd={long}"),
        format!("user=admin&passwd={long}"),
        json!({"user": "admin", "passwd": long}).to_string(),
        format!("user=admin passwd={}", "x".repeat(70_000)),
    ];
    let cases = refused.iter().map(|&(b, m)| (b.to_string(), m)).chain(
        long_bodies
            .into_iter()
            .map(|b| (b, "larger than 4096 bytes")),
    );
    for (body, problem) in cases {
        let reply = h.send(
            "POST",
            "/auth",
            None,
            Some("application/x-www-form-urlencoded"),
            Some(&body),
        );
        let shown = &body[..body.len().min(60)];
        assert_eq!(reply.status, 400, "{shown:?}: {}", reply.text);
        assert!(reply.set_cookies.is_empty(), "{shown:?}: {reply:?}");
        assert!(
            reply.error_message().contains(problem),
            "{shown:?}: expected {problem:?} in {:?}",
            reply.error_message()
        );
    }
    assert_eq!(h.send("GET", "/auth", None, None, None).status, 405);
}

#[test]
fn failed_logins_are_throttled_per_address() {
    let options = ServerOptions {
        throttle: ThrottlePolicy {
            max_failures: 3,
            lockout: Duration::from_secs(2),
            ..ThrottlePolicy::default()
        },
        ..ServerOptions::default()
    };
    let h = Harness::start_with(api_config(), options);
    let attempt = |password: &str| {
        h.send(
            "POST",
            "/auth",
            None,
            Some("application/x-www-form-urlencoded"),
            Some(&format!("user=admin passwd={password}")),
        )
    };
    for _ in 0..3 {
        assert_eq!(attempt("wrong").status, 401);
    }
    let locked = attempt("banana");
    assert_eq!(
        locked.status, 429,
        "even the right password is refused while locked out"
    );
    assert!(locked.retry_after.is_some());
    assert!(locked.error_message().contains("too many failed logins"));
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(attempt("banana").status, 200);
    // A success clears the count.
    for _ in 0..2 {
        assert_eq!(attempt("wrong").status, 401);
    }
    assert_eq!(attempt("banana").status, 200);
}

#[test]
fn forged_expired_and_logged_out_sessions_are_refused() {
    let h = Harness::start();
    let now = unix_now();
    let valid = signed_cookies(SECRET.as_bytes(), "admin", now, 7);
    assert_eq!(
        h.get("/run/vrrp", &valid).status,
        200,
        "a correctly signed session works"
    );

    let token = token_with_key(SECRET.as_bytes(), "admin", now, 7);
    let flipped: String = token
        .char_indices()
        .map(|(i, c)| {
            if i == 10 {
                if c == '0' {
                    '1'
                } else {
                    '0'
                }
            } else {
                c
            }
        })
        .collect();
    let refused = [
        format!("user=admin; ts={now}; nonce=7; token={flipped}"),
        format!("user=admin; ts={now}; nonce=8; token={token}"),
        format!("user=op; ts={now}; nonce=7; token={token}"),
        format!("user=admin; ts={}; nonce=7; token={token}", now + 1),
        signed_cookies(b"another-secret", "admin", now, 7),
        signed_cookies(SECRET.as_bytes(), "admin", now - 3601, 7),
        signed_cookies(SECRET.as_bytes(), "admin", now + 600, 7),
        signed_cookies(SECRET.as_bytes(), "ghost", now, 7),
        format!("user=admin; ts={now}; nonce=7"),
        format!(
            "user=admin; ts={now}; nonce=7; token={}",
            token.to_uppercase()
        ),
        String::new(),
    ];
    for cookies in &refused {
        let reply = h.get("/run/vrrp", cookies);
        assert_eq!(reply.status, 401, "{cookies}");
        reply.error_message();
    }
    let expired = h.get(
        "/run/vrrp",
        &signed_cookies(SECRET.as_bytes(), "admin", now - 3601, 7),
    );
    assert!(expired.error_message().contains("expired"));

    // Logout revokes the nonce and clears the cookies.
    let session = h.login("admin", "banana");
    let logout = h.send("POST", "/auth/logout", Some(&session), None, None);
    assert_eq!(logout.status, 200);
    assert!(logout.set_cookies.iter().all(|c| c.contains("Max-Age=0")));
    let after = h.get("/run/vrrp", &session);
    assert_eq!(after.status, 401);
    assert!(after.error_message().contains("logout"));
}

/// Every (method, path) the API serves, for the 401 and schema tests.
const ENDPOINTS: [(&str, &str); 22] = [
    ("GET", "/run/vrrp"),
    ("GET", "/run/vrrp/1"),
    ("GET", "/run/vrrp/1/eth0"),
    ("GET", "/run/global"),
    ("GET", "/run/daemon"),
    ("GET", "/run/protocols"),
    ("GET", "/run/protocols/static"),
    ("GET", "/run/interfaces"),
    ("GET", "/config/global"),
    ("GET", "/config/vrouter"),
    ("GET", "/config/vrouter/1/eth0"),
    ("GET", "/config/protocols"),
    ("GET", "/metrics"),
    ("PUT", "/run/vrrp/1/eth0/priority"),
    ("PUT", "/run/vrrp/1/eth0/preemption"),
    ("POST", "/run/vrrp/1/eth0/handover"),
    ("POST", "/config/vrouter"),
    ("DELETE", "/config/vrouter/1/eth0"),
    ("POST", "/auth/logout"),
    ("GET", "/no/such/path"),
    ("GET", "/"),
    ("DELETE", "/run/vrrp"),
];

#[test]
fn every_endpoint_needs_a_session() {
    let h = Harness::start();
    let before = h.mock.groups();
    for (method, path) in ENDPOINTS {
        let body = match path {
            p if p.ends_with("priority") => r#"{"priority": 10}"#,
            p if p.ends_with("preemption") => r#"{"preemption": false}"#,
            "/config/vrouter" => r#"{"group": 9, "interface": "eth9", "vip": "10.9.0.1"}"#,
            _ => "",
        };
        let reply = h.send(method, path, None, Some("application/json"), Some(body));
        assert_eq!(reply.status, 401, "{method} {path}: {}", reply.text);
        reply.error_message();
    }
    assert!(h.mock.writes().is_empty());
    assert_eq!(h.mock.groups(), before);
}

#[test]
fn read_only_users_cannot_write() {
    let h = Harness::start();
    let admin = h.login("admin", "banana");
    let before = h.mock.groups();
    let writes = [
        ("PUT", "/run/vrrp/1/eth0/priority", r#"{"priority": 10}"#),
        (
            "PUT",
            "/run/vrrp/1/eth0/preemption",
            r#"{"preemption": false}"#,
        ),
        ("POST", "/run/vrrp/1/eth0/handover", ""),
        (
            "POST",
            "/config/vrouter",
            r#"{"group": 9, "interface": "eth9", "vip": "10.9.0.1"}"#,
        ),
        ("DELETE", "/config/vrouter/1/eth0", ""),
    ];
    for (method, path, body) in writes {
        let reply = h.json_write(method, path, &admin, body);
        assert_eq!(reply.status, 403, "{method} {path}");
        assert!(reply.error_message().contains("read-only"));
    }
    assert!(h.mock.writes().is_empty());
    assert_eq!(h.mock.groups(), before);
}

#[test]
fn responses_match_the_openapi_document() {
    let doc = openapi();
    let h = Harness::start();
    let login = h.send(
        "POST",
        "/auth",
        None,
        Some("application/json"),
        Some(r#"{"user":"op","passwd":"oppass"}"#),
    );
    assert_matches_openapi(&doc, "POST", "/auth", &login);
    assert_eq!(login.json()["access"], "read-write");
    let op = login.cookie_header();

    let reads = [
        ("/run/vrrp", "/run/vrrp"),
        ("/run/vrrp/1", "/run/vrrp/{group}"),
        ("/run/vrrp/7", "/run/vrrp/{group}"),
        ("/run/vrrp/1/eth0", "/run/vrrp/{group}/{interface}"),
        ("/run/vrrp/2/standby2", "/run/vrrp/{group}/{interface}"),
        ("/run/vrrp/1/eth9", "/run/vrrp/{group}/{interface}"),
        ("/run/global", "/run/global"),
        ("/run/daemon", "/run/daemon"),
        ("/run/protocols", "/run/protocols"),
        ("/run/protocols/static", "/run/protocols/static"),
        ("/run/interfaces", "/run/interfaces"),
        ("/config/global", "/config/global"),
        ("/config/vrouter", "/config/vrouter"),
        (
            "/config/vrouter/2/eth1",
            "/config/vrouter/{group}/{interface}",
        ),
        (
            "/config/vrouter/9/eth1",
            "/config/vrouter/{group}/{interface}",
        ),
        ("/config/protocols", "/config/protocols"),
    ];
    for (path, template) in reads {
        let reply = h.get(path, &op);
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert!(reply.content_type.starts_with("application/json"));
        assert_matches_openapi(&doc, "GET", template, &reply);
        for secret in NEVER_SHOWN {
            assert!(
                !reply.text.contains(secret),
                "{path} shows {secret}: {}",
                reply.text
            );
        }
    }

    // The original's shapes and values.
    let all = h.get("/run/vrrp", &op).json();
    assert_eq!(all[0]["virtual_ip"], "10.0.0.1");
    assert_eq!(all[0]["group"], 1);
    assert_eq!(all[0]["interface"], "eth0");
    assert_eq!(all[0]["priority"], 254);
    assert_eq!(all[0]["preempt"], true);
    assert_eq!(all[0]["state"], "Master");
    assert_eq!(all[1]["state"], "Backup");
    assert_eq!(all[1]["virtual_ips"], json!(["10.0.1.1", "10.0.1.2"]));
    assert_eq!(h.get("/run/vrrp/7", &op).json(), json!([]));
    assert_eq!(h.get("/run/vrrp/1/eth9", &op).json(), Value::Null);
    let detail = h.get("/run/vrrp/2/standby2", &op).json();
    assert_eq!(detail["vif"], "standby2");
    assert_eq!(detail["interface"], "eth1");
    assert_eq!(detail["auth_type"], "p0-t8-sha256");
    assert_eq!(detail["advert_interval"], 1.0);
    assert_eq!(detail["interface_hwaddress"], "02:00:00:00:00:02");
    let one = h.get("/run/vrrp/1/eth0", &op).json();
    assert_eq!(one["counters"]["adverts_out"], 1200);
    assert_eq!(one["counters"]["auth_failures"], 1);
    let protocols = h.get("/run/protocols", &op).json();
    assert_eq!(protocols["static"][0]["next_hop"], "10.0.0.254");
    assert_eq!(protocols["static"][0]["metric"], 10);
    assert_eq!(
        h.get("/run/protocols/static", &op).json(),
        protocols["static"]
    );
    let config = h.get("/config/global", &op).json();
    assert_eq!(
        config["api"]["users"][0],
        json!({"user": "admin", "level": 0, "scheme": "SHA256"})
    );
    assert!(config.get("vrouter").is_none() && config["api"].get("secret").is_none());
    assert!(h.get("/config/vrouter", &op).json()[0]
        .get("auth_secret")
        .is_none());

    // Errors, writes and logout.
    let unauthorized = h.get("/run/vrrp", "");
    assert_matches_openapi(&doc, "GET", "/run/vrrp", &unauthorized);
    let bad_group = h.get("/run/vrrp/0", &op);
    assert_eq!(bad_group.status, 400);
    assert_matches_openapi(&doc, "GET", "/run/vrrp/{group}", &bad_group);
    let writes = [
        (
            "PUT",
            "/run/vrrp/1/eth0/priority",
            "/run/vrrp/{group}/{interface}/priority",
            r#"{"priority": 120}"#,
        ),
        (
            "PUT",
            "/run/vrrp/1/eth0/preemption",
            "/run/vrrp/{group}/{interface}/preemption",
            r#"{"preemption": false}"#,
        ),
        (
            "POST",
            "/run/vrrp/1/eth0/handover",
            "/run/vrrp/{group}/{interface}/handover",
            "",
        ),
        (
            "POST",
            "/run/vrrp/1/eth0/handover",
            "/run/vrrp/{group}/{interface}/handover",
            "",
        ),
        (
            "POST",
            "/config/vrouter",
            "/config/vrouter",
            r#"{"group": 9, "interface": "eth9", "vip": "10.9.0.1"}"#,
        ),
        (
            "DELETE",
            "/config/vrouter/9/eth9",
            "/config/vrouter/{group}/{interface}",
            "",
        ),
        (
            "DELETE",
            "/config/vrouter/9/eth9",
            "/config/vrouter/{group}/{interface}",
            "",
        ),
        (
            "PUT",
            "/run/vrrp/1/eth0/priority",
            "/run/vrrp/{group}/{interface}/priority",
            r#"{"priority": 0}"#,
        ),
    ];
    for (method, path, template, body) in writes {
        let reply = h.json_write(method, path, &op, body);
        assert_matches_openapi(&doc, method, template, &reply);
    }
    let logout = h.send("POST", "/auth/logout", Some(&op), None, None);
    assert_matches_openapi(&doc, "POST", "/auth/logout", &logout);
}

#[test]
fn writes_change_the_backend_and_are_attributed() {
    let h = Harness::start();
    let op = h.login("op", "oppass");

    let reply = h.json_write(
        "PUT",
        "/run/vrrp/1/eth0/priority",
        &op,
        r#"{"priority": 200}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["vrrp"]["priority"], 200);
    assert_eq!(h.get("/run/vrrp/1/eth0", &op).json()["priority"], 200);
    assert_eq!(h.get("/config/vrouter/1/eth0", &op).json()["priority"], 200);

    let reply = h.json_write(
        "PUT",
        "/run/vrrp/2/standby2/preemption",
        &op,
        r#"{"preempt": true}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(h.get("/run/vrrp/2/eth1", &op).json()["preempt"], true);

    let reply = h.json_write("POST", "/run/vrrp/1/eth0/handover", &op, "");
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(h.get("/run/vrrp/1/eth0", &op).json()["state"], "Backup");
    let again = h.json_write("POST", "/run/vrrp/1/eth0/handover", &op, "{}");
    assert_eq!(again.status, 409);
    assert!(again.error_message().contains("not Master"));

    let vrouter = r#"{"group": 9, "interface": "eth9", "vip": ["10.9.0.1", "10.9.0.2"], "priority": 150, "auth_type": "rfc2338-simple", "auth_secret": "abc"}"#;
    let added = h.json_write("POST", "/config/vrouter", &op, vrouter);
    assert_eq!(added.status, 201, "{}", added.text);
    assert_eq!(added.json()["vrrp"]["priority"], 150);
    assert!(!added.text.contains("\"abc\""));
    let listed = h.get("/run/vrrp/9", &op).json();
    assert_eq!(listed[0]["virtual_ips"], json!(["10.9.0.1", "10.9.0.2"]));
    assert!(!h.get("/config/vrouter", &op).text.contains("\"abc\""));
    let duplicate = h.json_write("POST", "/config/vrouter", &op, vrouter);
    assert_eq!(duplicate.status, 409);
    assert!(duplicate.error_message().contains("already"));

    let removed = h.json_write("DELETE", "/config/vrouter/9/eth9", &op, "");
    assert_eq!(removed.status, 200, "{}", removed.text);
    assert_eq!(removed.json()["vrrp"], Value::Null);
    assert_eq!(h.get("/run/vrrp/9", &op).json(), json!([]));
    assert_eq!(
        h.json_write("DELETE", "/config/vrouter/9/eth9", &op, "")
            .status,
        404
    );

    let writes = h.mock.writes();
    assert_eq!(writes.len(), 5, "{writes:?}");
    assert!(writes.iter().all(|(user, _)| user == "op"));
    assert!(
        matches!(&writes[0].1, WriteOp::SetPriority { group: 1, priority, .. } if priority.get() == 200)
    );
    assert!(matches!(&writes[3].1, WriteOp::AddVRouter(vr) if vr.group.get() == 9));
}

#[test]
fn bad_writes_get_4xx_with_a_message_and_change_nothing() {
    let h = Harness::start();
    let op = h.login("scrypter", "s3cret pw");
    let before = h.mock.groups();
    let cases: [(&str, &str, &str, u16, &str); 17] = [
        (
            "PUT",
            "/run/vrrp/1/eth0/priority",
            r#"{"priority": 255}"#,
            400,
            "priority = 255 is out of range",
        ),
        (
            "PUT",
            "/run/vrrp/1/eth0/priority",
            r#"{"priority": 0}"#,
            400,
            "priority = 0 is out of range",
        ),
        (
            "PUT",
            "/run/vrrp/1/eth0/priority",
            r#"{"priority": "high"}"#,
            400,
            "invalid request body",
        ),
        (
            "PUT",
            "/run/vrrp/1/eth0/priority",
            r#"{"priority": 10, "x": 1}"#,
            400,
            "unknown field",
        ),
        (
            "PUT",
            "/run/vrrp/1/eth0/priority",
            "",
            400,
            "invalid request body",
        ),
        (
            "PUT",
            "/run/vrrp/1/eth0/preemption",
            r#"{"preemption": "yes"}"#,
            400,
            "invalid request body",
        ),
        (
            "PUT",
            "/run/vrrp/abc/eth0/priority",
            r#"{"priority": 10}"#,
            400,
            "not a virtual router id",
        ),
        (
            "PUT",
            "/run/vrrp/300/eth0/priority",
            r#"{"priority": 10}"#,
            400,
            "not a virtual router id",
        ),
        (
            "PUT",
            "/run/vrrp/5/eth0/priority",
            r#"{"priority": 10}"#,
            404,
            "no group 5",
        ),
        ("POST", "/run/vrrp/2/eth1/handover", "", 409, "not Master"),
        (
            "POST",
            "/run/vrrp/1/eth0/handover",
            "[1]",
            400,
            "invalid request body",
        ),
        (
            "POST",
            "/config/vrouter",
            r#"{"group": 9, "interface": "eth9", "vip": "10.9.0.300"}"#,
            400,
            "vip",
        ),
        (
            "POST",
            "/config/vrouter",
            r#"{"group": 9, "interface": "eth9"}"#,
            400,
            "vip is required",
        ),
        (
            "POST",
            "/config/vrouter",
            r#"{"group": 9, "interface": "eth9", "vip": "10.9.0.1", "version": 3, "auth_type": "p0-t8-sha256", "auth_secret": "x"}"#,
            400,
            "auth_type",
        ),
        (
            "POST",
            "/config/vrouter",
            r#"{"group": 9, "interface": "eth9", "vip": "10.9.0.1", "colour": "red"}"#,
            400,
            "colour",
        ),
        ("POST", "/config/vrouter", "not json", 400, "not valid JSON"),
        (
            "DELETE",
            "/config/vrouter/0/eth0",
            "",
            400,
            "not a virtual router id",
        ),
    ];
    for (method, path, body, status, message) in cases {
        let reply = h.json_write(method, path, &op, body);
        assert_eq!(
            reply.status, status,
            "{method} {path} {body}: {}",
            reply.text
        );
        let error = reply.error_message();
        assert!(
            error.contains(message),
            "{method} {path} {body}: {error:?} lacks {message:?}"
        );
        assert!(!error.contains("vrouter[0]"), "{error}");
    }
    assert_eq!(h.get("/run/vrrp/1/eth0/priority", &op).status, 405);
    assert_eq!(
        h.send("DELETE", "/run/vrrp", Some(&op), None, None).status,
        405
    );
    assert_eq!(h.get("/no/such/thing", &op).status, 404);
    assert!(h.mock.writes().is_empty());
    assert_eq!(h.mock.groups(), before);
}

#[test]
fn metrics_need_a_session_or_an_allowed_address() {
    let h = Harness::start();
    assert_eq!(h.get("/metrics", "").status, 401);
    let session = h.login("admin", "banana");
    let reply = h.get("/metrics", &session);
    assert_eq!(reply.status, 200);
    assert!(reply.content_type.starts_with("text/plain; version=0.0.4"));
    for needle in [
        "rvrrpd_group_state{group=\"1\",interface=\"eth0\",vip=\"10.0.0.1\",state=\"Master\"} 1",
        "rvrrpd_group_state{group=\"2\",interface=\"eth1\",vip=\"10.0.1.1\",state=\"Master\"} 0",
        "rvrrpd_group_transitions_total{group=\"1\",interface=\"eth0\",vip=\"10.0.0.1\"} 2",
        "rvrrpd_group_adverts_sent_total{group=\"1\",interface=\"eth0\",vip=\"10.0.0.1\"} 1200",
        "rvrrpd_group_auth_failures_total{group=\"1\",interface=\"eth0\",vip=\"10.0.0.1\"} 1",
        "rvrrpd_fastpath_drops_total{reason=\"not_vrrp\"} 12",
        "rvrrpd_timer_lateness_seconds_bucket{le=\"0.001\"} 98",
        "rvrrpd_timer_lateness_seconds_bucket{le=\"+Inf\"} 100",
        "rvrrpd_timer_lateness_seconds_count 100",
    ] {
        assert!(
            reply.text.contains(needle),
            "missing {needle}:\n{}",
            reply.text
        );
    }

    let allowed = ServerOptions::default()
        .with_metrics_allow(["127.0.0.0/8"])
        .unwrap_or_else(|e| panic!("{e}"));
    let h2 = Harness::start_with(api_config(), allowed);
    assert_eq!(h2.get("/metrics", "").status, 200);
    assert_eq!(
        h2.get("/run/vrrp", "").status,
        401,
        "the allow-list only opens /metrics"
    );
    let elsewhere = ServerOptions::default()
        .with_metrics_allow(["10.0.0.0/8", "::1"])
        .unwrap_or_else(|e| panic!("{e}"));
    let h3 = Harness::start_with(api_config(), elsewhere);
    assert_eq!(h3.get("/metrics", "").status, 401);
    assert!(ServerOptions::default()
        .with_metrics_allow(["nonsense"])
        .is_err());

    // The same through `[api] metrics_allow`.
    let configured = ApiConfig {
        metrics_allow: vec!["::1".into(), "127.0.0.1".into()],
        ..api_config()
    };
    let h4 = Harness::start_with(configured, ServerOptions::default());
    assert_eq!(h4.get("/metrics", "").status, 200);
    assert_eq!(h4.get("/run/global", "").status, 401);
    let invalid = ApiConfig {
        metrics_allow: vec!["10.0.0.0/40".into()],
        ..api_config()
    };
    let rt = runtime();
    let backend: Arc<dyn Backend> = Arc::new(MockBackend::sample());
    let error = rt
        .block_on(api::bind(&invalid, backend, ServerOptions::default()))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("metrics_allow") && error.contains("10.0.0.0/40"),
        "{error}"
    );
    rt.shutdown_timeout(Duration::from_secs(1));
}

// ---------------------------------------------------------------------------------------------
// HTTPS

static DIRS: AtomicUsize = AtomicUsize::new(0);

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rvrrpd-api-test-{}-{}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

struct Pki {
    dir: PathBuf,
    cert_pem: String,
}

impl Pki {
    fn new() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .unwrap_or_else(|e| panic!("rcgen: {e}"));
        let dir = temp_dir();
        let cert_pem = certified.cert.pem();
        std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem())
            .unwrap_or_else(|e| panic!("{e}"));
        Pki { dir, cert_pem }
    }

    fn api_config(&self) -> ApiConfig {
        ApiConfig {
            tls: true,
            tls_key: self.dir.join("key.pem"),
            tls_cert: self.dir.join("cert.pem"),
            ..api_config()
        }
    }

    fn agent(&self) -> ureq::Agent {
        let cert = ureq::tls::Certificate::from_pem(self.cert_pem.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
            .build();
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .tls_config(tls)
            .build()
            .into()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn https_serves_with_secure_cookies() {
    let pki = Pki::new();
    let h = Harness::start_full(pki.api_config(), ServerOptions::default(), pki.agent());
    assert!(h.base.starts_with("https://localhost:"));
    let login = h.send(
        "POST",
        "/auth",
        None,
        Some("application/x-www-form-urlencoded"),
        Some("user=admin passwd=banana"),
    );
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.set_cookies.len(), 4);
    assert!(
        login.set_cookies.iter().all(|c| c.ends_with("; Secure")),
        "{:?}",
        login.set_cookies
    );
    let session = login.cookie_header();
    let reply = h.get("/run/vrrp", &session);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()[0]["state"], "Master");
    assert_eq!(h.get("/run/vrrp", "").status, 401);

    // A plain-HTTP request to the TLS port gets nothing useful.
    let port = h.base.rsplit(':').next().unwrap_or_default();
    let plain = plain_agent()
        .get(format!("http://127.0.0.1:{port}/run/vrrp"))
        .call();
    assert!(plain.map(|r| r.status().as_u16() != 200).unwrap_or(true));
}

#[test]
fn operator_client_over_http_and_https() {
    let pki = Pki::new();
    let https = Harness::start_full(pki.api_config(), ServerOptions::default(), pki.agent());
    let http = Harness::start();
    let rt = runtime();
    let cert_file = pki.dir.join("cert.pem");
    let args = |url: &str, ca: Option<PathBuf>, json: bool| ClientArgs {
        url: url.to_string(),
        user: "admin".into(),
        password: None,
        ca_cert: ca,
        insecure: false,
        json,
    };
    let table = rt
        .block_on(client::status(
            &args(&https.base, Some(cert_file.clone()), false),
            b"banana",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(table.starts_with("GROUP"), "{table}");
    assert!(
        table.contains("10.0.0.1") && table.contains("Master"),
        "{table}"
    );
    assert!(table.contains("10.0.1.1 (+1)"), "{table}");

    let json = rt
        .block_on(client::status(&args(&http.base, None, true), b"banana"))
        .unwrap_or_else(|e| panic!("{e}"));
    let parsed: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(parsed[1]["group"], 2);

    let wrong = rt.block_on(client::status(&args(&http.base, None, false), b"apple"));
    assert!(
        matches!(&wrong, Err(client::ClientError::Status { status, .. }) if status.as_u16() == 401),
        "{wrong:?}"
    );
    let untrusted = rt.block_on(client::status(&args(&https.base, None, false), b"banana"));
    assert!(matches!(untrusted, Err(client::ClientError::Tls(_))));
    let mut insecure = args(&https.base, None, false);
    insecure.insecure = true;
    assert!(rt.block_on(client::status(&insecure, b"banana")).is_ok());
    rt.shutdown_timeout(Duration::from_secs(1));
}

#[test]
fn tls_file_problems_name_the_file() {
    let rt = runtime();
    let pki = Pki::new();
    let bind = |cfg: ApiConfig| {
        let backend: Arc<dyn Backend> = Arc::new(MockBackend::sample());
        rt.block_on(api::bind(&cfg, backend, ServerOptions::default()))
            .map(|s| s.local_addr())
    };
    let missing = ApiConfig {
        tls_key: pki.dir.join("missing-key.pem"),
        ..pki.api_config()
    };
    let error = bind(missing)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("missing-key.pem") && error.contains("tls_key"),
        "{error}"
    );

    let garbage = pki.dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap_or_else(|e| panic!("{e}"));
    let bad_cert = ApiConfig {
        tls_cert: garbage.clone(),
        ..pki.api_config()
    };
    let error = bind(bad_cert)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("garbage.pem") && error.contains("tls_cert"),
        "{error}"
    );

    let other = Pki::new();
    let mismatched = ApiConfig {
        tls_key: other.dir.join("key.pem"),
        ..pki.api_config()
    };
    let error = bind(mismatched)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("key.pem") && error.contains("cert.pem"),
        "{error}"
    );

    // Port already in use.
    let first = bind(api_config()).unwrap_or_else(|e| panic!("{e}"));
    let _ = first;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let taken = ApiConfig {
        host: listener.local_addr().unwrap_or_else(|e| panic!("{e}")),
        ..api_config()
    };
    let error = bind(taken).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("cannot listen on 127.0.0.1:"), "{error}");
    rt.shutdown_timeout(Duration::from_secs(1));
}

#[test]
fn state_changes_show_up_in_reads() {
    let h = Harness::start();
    let session = h.login("admin", "banana");
    h.mock.set_state(2, "eth1", GroupState::Down);
    assert_eq!(h.get("/run/vrrp/2", &session).json()[0]["state"], "Down");
    h.mock.set_state(2, "standby2", GroupState::Init);
    assert_eq!(h.get("/run/vrrp/2/eth1", &session).json()["state"], "Init");
}

#[test]
fn the_schema_checker_catches_mismatches() {
    let doc = openapi();
    let schema = json!({"$ref": "#/components/schemas/VrrpSummary"});
    let good = json!({
        "virtual_ip": "10.0.0.1", "group": 1, "interface": "eth0", "priority": 100,
        "preempt": false, "state": "Backup", "virtual_ips": ["10.0.0.1"], "version": 2,
        "master": null,
        "counters": {"adverts_in": 0, "adverts_out": 0, "transitions": 0, "auth_failures": 0,
                     "discarded": 0, "last_transition": null}
    });
    let mut errors = Vec::new();
    check(&doc, &schema, &good, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    let mut bad_cases = Vec::new();
    for (field, value) in [
        ("state", json!("Active")),
        ("group", json!("1")),
        ("master", json!(5)),
        ("undocumented", json!(1)),
    ] {
        let mut bad = good.clone();
        bad[field] = value;
        bad_cases.push(bad);
    }
    let mut missing = good.clone();
    missing.as_object_mut().map(|o| o.remove("preempt"));
    bad_cases.push(missing);
    for bad in bad_cases {
        let mut errors = Vec::new();
        check(&doc, &schema, &bad, "$", &mut errors);
        assert!(!errors.is_empty(), "accepted {bad}");
    }
}
