//! The notifier end to end in-process: a thousand groups changing state at once with real
//! scripts, the FIFO and the event stream.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Instant;

use super::*;
use crate::config::NotifyMaxRunning;

fn script(line: &str) -> Option<NotifyScript> {
    Some(NotifyScript::try_from(line.to_string()).unwrap_or_else(|e| panic!("{e}")))
}

#[tokio::test]
async fn a_thousand_transitions_at_once_are_queued_without_waiting_and_all_run() {
    let dir = std::env::temp_dir().join(format!("rvrrpd-notifier-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let fifo_path = dir.join("notify.fifo");
    let config = Config {
        notify_fifo: Some(fifo_path.clone()),
        notify_max_running: NotifyMaxRunning::try_from(8).unwrap_or_else(|e| panic!("{e}")),
        ..Config::default()
    };
    let events = crate::api::events::channel();
    let mut stream = events.subscribe();
    let mut notifier = Notifier::new(&config, events);
    // `notify` writes "<state> <priority>" into a file named after the vrouter.
    let notify = GroupNotify {
        any: script(&format!(
            "/bin/sh -c 'echo \"$3 $4\" >> \"$0/$2\"' {}",
            dir.display()
        )),
        ..GroupNotify::default()
    };
    let names: Vec<String> = (0..1000).map(|g| format!("eth0-{g}")).collect();
    let started = Instant::now();
    for (g, name) in names.iter().enumerate() {
        let t = Transition {
            group: g,
            from: State::Backup,
            to: State::Master,
            priority: 100,
            reason: TransitionReason::MasterDown,
            at: SystemTime::now(),
        };
        let info = GroupInfo {
            vrid: (g % 255 + 1) as u8,
            ifname: "eth0",
            name,
            notify: &notify,
        };
        notifier.transition(&t, &info);
    }
    // Handing a thousand transitions over takes no script's time.
    let queued_in = started.elapsed();
    assert!(queued_in < Duration::from_millis(500), "{queued_in:?}");
    tokio::time::timeout(Duration::from_secs(60), notifier.runner.idle())
        .await
        .unwrap_or_else(|_| panic!("scripts still running after 60 s"));
    for name in &names {
        let got = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert_eq!(got, "MASTER 100\n", "{name}");
    }
    // One FIFO line per transition (the pipe holds them all: about 30 KB).
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo_path)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut text = String::new();
    let mut buf = [0u8; 65536];
    while let Ok(n @ 1..) = reader.read(&mut buf) {
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1000);
    assert_eq!(lines[0], "INSTANCE \"eth0-0\" MASTER 100");
    assert_eq!(lines[999], "INSTANCE \"eth0-999\" MASTER 100");
    // And one event per transition, in order.
    for name in &names {
        let t = stream.try_recv().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (t.name.as_str(), t.notify.as_str()),
            (name.as_str(), "MASTER")
        );
    }
    assert!(stream.try_recv().is_err());
    notifier.finish().await;
    let _ = std::fs::remove_dir_all(&dir);
}
