//! Writes: applied and attributed, or refused with a 4xx naming the problem and nothing changed.

use crate::harness::*;
use rvrrpd::api::{Backend, WriteOp};
use serde_json::{json, Value};

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

    // Reload: an empty body or {}; anything else is refused.
    for body in ["", "{}"] {
        let reply = h.json_write("POST", "/config/reload", &op, body);
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let reply = h.json_write("POST", "/config/reload", &op, r#"{"force": true}"#);
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(reply.error_message().contains("force"), "{}", reply.text);

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
    assert_eq!(writes.len(), 7, "{writes:?}");
    assert!(matches!(
        (&writes[2].1, &writes[3].1),
        (WriteOp::Reload, WriteOp::Reload)
    ));
    assert!(writes.iter().all(|(user, _)| user == "op"));
    assert!(
        matches!(&writes[0].1, WriteOp::SetPriority { group: 1, priority, .. } if priority.get() == 200)
    );
    assert!(matches!(&writes[5].1, WriteOp::AddVRouter(vr) if vr.group.get() == 9));
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
