//! Who may read and write: sessions on every endpoint, read-only users, metrics access.

use crate::harness::*;
use rvrrpd::api::{self, Backend, MockBackend, ServerOptions};
use rvrrpd::config::ApiConfig;
use std::sync::Arc;
use std::time::Duration;

/// Every (method, path) the API serves, for the 401 and schema tests.
const ENDPOINTS: [(&str, &str); 24] = [
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
    ("GET", "/events"),
    ("PUT", "/run/vrrp/1/eth0/priority"),
    ("PUT", "/run/vrrp/1/eth0/preemption"),
    ("POST", "/run/vrrp/1/eth0/handover"),
    ("POST", "/config/vrouter"),
    ("DELETE", "/config/vrouter/1/eth0"),
    ("POST", "/config/reload"),
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
