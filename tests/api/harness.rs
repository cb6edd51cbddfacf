//! The test harness: a real API server on 127.0.0.1 (port 0) over the in-memory backend,
//! and the replies seen by an independent HTTP client (ureq).

use rvrrpd::api::session::token_with_key;
use rvrrpd::api::{self, ApiError, Backend, MockBackend, ServerOptions};
use rvrrpd::config::{ApiConfig, Secret, UserEntry};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub(crate) const SECRET: &str = "test-secret";
/// `{{SHA256}}` entry of admin/banana, level 0 (as in the mock's sample configuration).
pub(crate) const ADMIN: &str = "{{SHA256}}admin:0:1eb7ac761a1201f9:3df024b5dc20a168d6a3fe406c65ec286e71c61c9c738e079ddd6dae255ee695";
/// Strings of the sample configuration that must never appear in a response.
pub(crate) const NEVER_SHOWN: [&str; 5] = [
    "vrrpSEC1",
    "p0-secret-do-not-leak",
    "api-secret-do-not-leak",
    "3df024b5dc20a168",
    "1eb7ac761a1201f9",
];

// ---------------------------------------------------------------------------------------------
// Harness

pub(crate) struct Harness {
    pub(crate) base: String,
    pub(crate) mock: Arc<MockBackend>,
    pub(crate) agent: ureq::Agent,
    pub(crate) shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub(crate) done: Option<std::sync::mpsc::Receiver<Result<(), ApiError>>>,
    pub(crate) runtime: Option<tokio::runtime::Runtime>,
}

pub(crate) fn users() -> Vec<UserEntry> {
    let op = rvrrpd::users::sha256_entry("op", 1, b"oppass", 0x5eed).unwrap_or_default();
    let sc = rvrrpd::users::scrypt_entry("scrypter", 1, b"s3cret pw", 4, 8, 1).unwrap_or_default();
    [ADMIN.to_string(), op, sc]
        .iter()
        .map(|l| l.parse().unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

pub(crate) fn api_config() -> ApiConfig {
    ApiConfig {
        users: users(),
        secret: Some(Secret::new(SECRET)),
        host: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..ApiConfig::default()
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

pub(crate) fn plain_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        // The daemon closes a connection idle for 10 s: a pooled one reused just then fails.
        .max_idle_age(Duration::from_secs(5))
        .build()
        .into()
}

impl Harness {
    pub(crate) fn start() -> Self {
        Self::start_with(api_config(), ServerOptions::default())
    }

    pub(crate) fn start_with(cfg: ApiConfig, options: ServerOptions) -> Self {
        Self::start_full(cfg, options, plain_agent())
    }

    pub(crate) fn start_full(cfg: ApiConfig, options: ServerOptions, agent: ureq::Agent) -> Self {
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

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request; returns status, Set-Cookie values and body.
    pub(crate) fn send(
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
        let connection = resp
            .headers()
            .get("connection")
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
            connection,
            content_type,
            text,
        }
    }

    pub(crate) fn get(&self, path: &str, session: &str) -> Reply {
        self.send("GET", path, Some(session), None, None)
    }

    pub(crate) fn json_write(&self, method: &str, path: &str, session: &str, body: &str) -> Reply {
        self.send(
            method,
            path,
            Some(session),
            Some("application/json"),
            Some(body),
        )
    }

    /// Logs in and returns the `Cookie` header value.
    pub(crate) fn login(&self, user: &str, password: &str) -> String {
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
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) set_cookies: Vec<String>,
    pub(crate) retry_after: Option<String>,
    /// The `Connection` header (`close`: the server closes the connection after this reply).
    pub(crate) connection: Option<String>,
    pub(crate) content_type: String,
    pub(crate) text: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    pub(crate) fn cookie_header(&self) -> String {
        self.set_cookies
            .iter()
            .filter_map(|c| c.split(';').next())
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) fn error_message(&self) -> String {
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
pub(crate) fn signed_cookies(key: &[u8], user: &str, ts: u64, nonce: u64) -> String {
    let token = token_with_key(key, user, ts, nonce);
    format!("user={user}; ts={ts}; nonce={nonce}; token={token}")
}
