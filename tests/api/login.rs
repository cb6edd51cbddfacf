//! Logging in (all three body forms, strict bodies), throttling and refused sessions.

use crate::harness::*;
use rvrrpd::api::session::{token_with_key, unix_now, ThrottlePolicy};
use rvrrpd::api::ServerOptions;
use serde_json::json;
use std::time::Duration;

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
        // A body refused before its end leaves the connection unusable: the reply says so,
        // or the client's next request could go out on it as the server closes it.
        let unread = problem == "larger than 4096 bytes";
        assert_eq!(
            reply.connection.as_deref() == Some("close"),
            unread,
            "{shown:?}: Connection {:?}",
            reply.connection
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
