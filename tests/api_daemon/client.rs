//! The API client of the tests: users from `rvrrpd-pw`, requests from a thread in the
//! client namespace, and the replies.

use crate::common::*;
use rvrrpd_lab::config::rvrrpd::ApiSection;
use rvrrpd_lab::{wait_for, Lab, Node, Proc};
use serde_json::Value;
use std::time::Duration;

pub(crate) const PORT: u16 = 7080;
pub(crate) const RW: (&str, &str) = ("operator", "rwpass1");
pub(crate) const RO: (&str, &str) = ("viewer", "ropass1");

// ---------------------------------------------------------------------------------------------
// Client

/// A `users` entry printed by the real `rvrrpd-pw`.
pub(crate) fn user_line(level: u8, user: &str, pass: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_rvrrpd-pw");
    let out = std::process::Command::new(bin)
        .args(["-l", &level.to_string(), user, pass, "sha256"])
        .output()
        .unwrap_or_else(|e| panic!("running {bin}: {e}"));
    assert!(
        out.status.success(),
        "rvrrpd-pw failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The API section of router `node`: listening on its lab address, a read-write and a
/// read-only user.
pub(crate) fn api_section(node: &Node) -> ApiSection {
    ApiSection::new(
        format!("{}:{PORT}", node.ipv4),
        &[user_line(1, RW.0, RW.1), user_line(0, RO.0, RO.1)],
    )
}

#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) set_cookies: Vec<String>,
    pub(crate) text: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// The `error` member of a JSON error body.
    pub(crate) fn error(&self) -> String {
        assert!(
            self.content_type.starts_with("application/json"),
            "error reply is not JSON: {self:?}"
        );
        self.json()
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no \"error\" member: {self:?}"))
    }
}

/// An HTTP client for one router's API, sending from the lab's client namespace.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) ns: String,
    pub(crate) base: String,
    pub(crate) agent: ureq::Agent,
    pub(crate) cookie: Option<String>,
}

impl Api {
    pub(crate) fn new(lab: &Lab, router: &Node) -> Api {
        Api {
            ns: lab.client().ns.clone(),
            base: format!("http://{}:{PORT}", router.ipv4),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(15)))
                // The daemon closes a connection idle for 10 s: a pooled one reused just then fails.
                .max_idle_age(Duration::from_secs(5))
                .build()
                .into(),
            cookie: None,
        }
    }

    /// Sends one request (with the session cookie, if logged in) from the client namespace.
    pub(crate) fn send(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        let (agent, url, cookie) = (
            self.agent.clone(),
            format!("{}{path}", self.base),
            self.cookie.clone(),
        );
        let (m, b) = (method.to_string(), body.map(str::to_string));
        let what = format!("{method} {path}");
        rvrrpd::net::netns::run_in(&self.ns, move || -> Result<Reply, ureq::Error> {
            let mut resp = match (m.as_str(), b) {
                ("GET", _) | ("DELETE", None) => {
                    let mut r = if m == "GET" {
                        agent.get(&url)
                    } else {
                        agent.delete(&url)
                    };
                    if let Some(c) = &cookie {
                        r = r.header("Cookie", c);
                    }
                    r.call()?
                }
                (_, body) => {
                    let mut r = match m.as_str() {
                        "POST" => agent.post(&url),
                        "PUT" => agent.put(&url),
                        other => panic!("method {other}"),
                    };
                    if let Some(c) = &cookie {
                        r = r.header("Cookie", c);
                    }
                    let ct = if url.ends_with("/auth") {
                        "application/x-www-form-urlencoded"
                    } else {
                        "application/json"
                    };
                    r.header("Content-Type", ct)
                        .send(body.unwrap_or_default())?
                }
            };
            let header = |n: &str| {
                resp.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            let content_type = header("content-type");
            let set_cookies = resp
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_string))
                .collect();
            Ok(Reply {
                status: resp.status().as_u16(),
                content_type,
                set_cookies,
                text: resp.body_mut().read_to_string().unwrap_or_default(),
            })
        })
        .unwrap_or_else(|e| panic!("{what}: entering the client namespace: {e}"))
        .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    pub(crate) fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None)
    }

    /// A copy of this client logged in as `user`.
    pub(crate) fn login(&self, (user, pass): (&str, &str)) -> Api {
        let r = self.send("POST", "/auth", Some(&format!("user={user} passwd={pass}")));
        assert_eq!(r.status, 200, "login as {user}: {r:?}");
        let cookie = r
            .set_cookies
            .iter()
            .filter_map(|c| c.split(';').next())
            .collect::<Vec<_>>()
            .join("; ");
        assert!(cookie.contains("token="), "no session cookies: {r:?}");
        Api {
            cookie: Some(cookie),
            ..self.clone()
        }
    }

    /// `GET /run/vrrp/{group}/{interface}` (the object; panics on anything else).
    pub(crate) fn group(&self, vrid: u8, ifname: &str) -> Value {
        let r = self.get(&format!("/run/vrrp/{vrid}/{ifname}"));
        assert_eq!(r.status, 200, "{r:?}");
        r.json()
    }

    /// Waits until `GET /run/vrrp/{group}/{interface}` shows `state`.
    pub(crate) fn wait_state(
        &self,
        vrid: u8,
        ifname: &str,
        state: &str,
        timeout: Duration,
        procs: &[&Proc],
    ) {
        let r = wait_for(
            &format!("group {vrid} on {ifname} in state {state} (API)"),
            timeout,
            Duration::from_millis(100),
            || {
                let g = self.group(vrid, ifname);
                (g["state"] == state).then_some(())
            },
        );
        if let Err(e) = r {
            panic!(
                "{e}: last view {}\n{}",
                self.group(vrid, ifname),
                diag(procs)
            );
        }
    }
}

/// Waits until the API of `api` answers (the listener starts with the daemon).
pub(crate) fn wait_api(api: &Api, procs: &[&Proc]) {
    let r = wait_for(
        "the API to answer",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let a = api.clone();
            let ok = rvrrpd::net::netns::run_in(&a.ns, move || {
                a.agent
                    .get(format!("{}/run/vrrp", a.base))
                    .config()
                    .timeout_global(Some(Duration::from_secs(1)))
                    .build()
                    .call()
                    .is_ok()
            });
            matches!(ok, Ok(true)).then_some(())
        },
    );
    if let Err(e) = r {
        panic!("{e}\n{}", diag(procs));
    }
}
