//! Every response against the OpenAPI document, and backend state visible in reads.

use crate::harness::*;
use crate::schema::*;
use rvrrpd::api::GroupState;
use serde_json::{json, Value};

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
    assert_eq!(all[0]["name"], "eth0-1", "the default vrouter name");
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
fn state_changes_show_up_in_reads() {
    let h = Harness::start();
    let session = h.login("admin", "banana");
    h.mock.set_state(2, "eth1", GroupState::Down);
    assert_eq!(h.get("/run/vrrp/2", &session).json()[0]["state"], "Down");
    h.mock.set_state(2, "standby2", GroupState::Init);
    assert_eq!(h.get("/run/vrrp/2/eth1", &session).json()["state"], "Init");
}
