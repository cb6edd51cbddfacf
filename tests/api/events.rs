//! `GET /events`: Server-Sent Events of the transitions the backend emits, authenticated like
//! every read, documented in the OpenAPI document; slow clients are dropped.

use crate::harness::*;
use crate::schema::*;
use rvrrpd::api::{GroupState, TransitionView};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::time::{Duration, Instant};

fn transition(group: u8, to: GroupState, priority: u8) -> TransitionView {
    TransitionView {
        group,
        interface: "eth0".into(),
        name: format!("eth0-{group}"),
        from: GroupState::Backup,
        to,
        notify: match to {
            GroupState::Master => "MASTER",
            GroupState::Init => "STOP",
            _ => "BACKUP",
        }
        .into(),
        priority,
        reason: "master-down".into(),
        time: 1_700_000_000.25,
    }
}

/// Waits (bounded) until `n` event streams are open on the mock.
fn wait_for_clients(h: &Harness, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.mock.event_clients() != n {
        assert!(
            Instant::now() < deadline,
            "{} event streams open, expected {n}",
            h.mock.event_clients()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn open_stream(h: &Harness, session: &str) -> (u16, String, Box<dyn Read + Send>) {
    let resp = h
        .agent
        .get(&h.url("/events"))
        .header("Cookie", session)
        .call()
        .unwrap_or_else(|e| panic!("GET /events: {e}"));
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        status,
        content_type,
        Box::new(resp.into_body().into_reader()),
    )
}

#[test]
fn the_event_stream_sends_each_transition_once_as_documented() {
    let doc = openapi();
    let h = Harness::start();
    let session = h.login("admin", "banana");
    let (status, content_type, body) = open_stream(&h, &session);
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/event-stream");
    wait_for_clients(&h, 1);
    let sent = [
        transition(1, GroupState::Master, 254),
        transition(2, GroupState::Backup, 100),
        transition(1, GroupState::Init, 254),
    ];
    for t in &sent {
        assert_eq!(h.mock.emit(t.clone()), 1);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut event = None;
        for line in BufReader::new(body).lines() {
            let Ok(line) = line else { break };
            if let Some(name) = line.strip_prefix("event: ") {
                event = Some(name.to_string());
            } else if let Some(data) = line.strip_prefix("data: ") {
                let _ = tx.send((event.take(), data.to_string()));
            }
        }
    });
    let schema = json!({"$ref": "#/components/schemas/Transition"});
    let mut received = Vec::new();
    for _ in &sent {
        let (event, data) = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("no transition on the stream: {e}"));
        assert_eq!(event.as_deref(), Some("transition"));
        let value: Value = serde_json::from_str(&data).unwrap_or_else(|e| panic!("{e}: {data}"));
        let mut errors = Vec::new();
        check(&doc, &schema, &value, "$", &mut errors);
        assert!(errors.is_empty(), "{errors:?}: {data}");
        received.push(value);
    }
    assert_eq!(received[0]["group"], 1);
    assert_eq!(received[0]["to"], "Master");
    assert_eq!(received[0]["notify"], "MASTER");
    assert_eq!(received[0]["priority"], 254);
    assert_eq!(received[1]["name"], "eth0-2");
    assert_eq!(received[2]["notify"], "STOP");
    assert_eq!(received[2]["time"], 1_700_000_000.25);
    // Nothing else: exactly one frame per transition.
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    // A second client sees what is emitted after it connected.
    let (_, _, second) = open_stream(&h, &session);
    wait_for_clients(&h, 2);
    assert_eq!(h.mock.emit(transition(3, GroupState::Master, 90)), 2);
    let mut lines = BufReader::new(second).lines();
    let data = lines
        .find_map(|l| {
            l.ok()
                .and_then(|l| l.strip_prefix("data: ").map(str::to_string))
        })
        .unwrap_or_default();
    assert!(data.contains("\"group\":3"), "{data}");
    let first = rx.recv_timeout(Duration::from_secs(10)).map(|(_, d)| d);
    assert!(
        first.as_ref().is_ok_and(|d| d.contains("\"group\":3")),
        "{first:?}"
    );
    // Shutting the server down ends the streams (the harness checks it stops in time).
    drop(h);
    let ended = rx.recv_timeout(Duration::from_secs(10));
    assert!(
        matches!(ended, Err(std::sync::mpsc::RecvTimeoutError::Disconnected)),
        "the stream did not end with the server: {ended:?}"
    );
}

#[test]
fn the_event_stream_needs_a_session_and_get() {
    let h = Harness::start();
    let reply = h.send("GET", "/events", None, None, None);
    assert_eq!(reply.status, 401);
    reply.error_message();
    let session = h.login("admin", "banana");
    let post = h.send("POST", "/events", Some(&session), None, Some(""));
    assert_eq!(post.status, 405);
    assert_eq!(h.mock.event_clients(), 0);
}

#[test]
fn a_client_that_does_not_read_is_dropped() {
    let h = Harness::start();
    let session = h.login("admin", "banana");
    let (_, _, mut body) = open_stream(&h, &session);
    wait_for_clients(&h, 1);
    // Far more than the broadcast buffer and the socket buffers hold, while nobody reads.
    let emitted = 200_000;
    for i in 0..emitted {
        h.mock
            .emit(transition((i % 200 + 1) as u8, GroupState::Master, 100));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    // The server drops the lagging stream: its subscription goes...
    while h.mock.event_clients() != 0 {
        assert!(Instant::now() < deadline, "the slow client was not dropped");
        std::thread::sleep(Duration::from_millis(20));
    }
    // ... and the client, reading at last, gets an end before all transitions.
    let mut all = String::new();
    let _ = body.read_to_string(&mut all);
    let frames = all.matches("event: transition").count();
    assert!(frames < emitted as usize, "{frames} frames");
}

#[test]
fn rvrrpctl_watch_prints_each_transition_as_it_arrives() {
    use clap::Parser;
    let h = Harness::start();
    let (tx, rx) = std::sync::mpsc::channel();
    for json in [false, true] {
        let mut argv = vec![
            "rvrrpctl", "-H", &h.base, "-u", "admin", "--watch", "--count", "2",
        ];
        if json {
            argv.push("--json");
        }
        let args = rvrrpd::api::client::ClientArgs::parse_from(argv);
        let tx = tx.clone();
        std::thread::spawn(move || {
            let rt = runtime();
            let mut out = Vec::new();
            let shown = rt.block_on(rvrrpd::api::watch::watch(&args, b"banana", &mut out));
            let _ = tx.send((
                json,
                shown.map_err(|e| e.to_string()),
                String::from_utf8_lossy(&out).to_string(),
            ));
        });
        wait_for_clients(&h, 1);
        h.mock.emit(transition(1, GroupState::Master, 254));
        h.mock.emit(transition(2, GroupState::Init, 100));
        let (was_json, shown, out) = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("rvrrpctl --watch did not finish: {e}"));
        assert_eq!(was_json, json);
        assert_eq!(shown, Ok(2), "{out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        if json {
            let v: Value = serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {out}"));
            assert_eq!(v["notify"], "MASTER");
        } else {
            assert!(
                lines[0].contains("eth0-1")
                    && lines[0].contains("Backup -> Master (MASTER, priority 254, master-down)"),
                "{out}"
            );
            assert!(
                lines[1].contains("eth0-2") && lines[1].contains("(STOP, priority 100"),
                "{out}"
            );
        }
        wait_for_clients(&h, 0);
    }
}

#[test]
fn event_streams_are_bounded() {
    let h = Harness::start();
    let session = h.login("admin", "banana");
    let max = rvrrpd::api::events::MAX_STREAMS;
    let mut open: Vec<_> = (0..max).map(|_| open_stream(&h, &session)).collect();
    assert!(open.iter().all(|(status, _, _)| *status == 200));
    wait_for_clients(&h, max);
    let refused = h.get("/events", &session);
    assert_eq!(refused.status, 503, "{}", refused.text);
    assert!(refused.error_message().contains("too many event streams"));
    // Other requests are still served.
    assert_eq!(h.get("/run/vrrp", &session).status, 200);
    // A client that goes frees its place once the server notices (at the next write).
    drop(open.pop());
    h.mock.emit(transition(1, GroupState::Master, 100));
    wait_for_clients(&h, max - 1);
    let (status, _, _again) = open_stream(&h, &session);
    assert_eq!(status, 200);
}
