//! `[[track_script]]` runs: one task per script whatever the number of groups tracking it
//! (a thousand groups sharing a script run it once per interval), never two runs of a script
//! at once (a run that outlives its interval delays the next), killed with its process
//! group at the timeout.

use std::process::Stdio;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::TrackEvent;
use crate::config::TrackScript;
use crate::track::command;

/// Starts running script `index` every interval; results go to `tx`.
pub(super) fn spawn(
    index: usize,
    script: TrackScript,
    tx: UnboundedSender<TrackEvent>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(script.interval));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (success, detail) = run_once(&script).await;
            if tx
                .send(TrackEvent::Script {
                    index,
                    success,
                    detail,
                })
                .is_err()
            {
                break;
            }
        }
    })
}

/// One run: `(success, what happened)`.
pub(super) async fn run_once(script: &TrackScript) -> (bool, String) {
    let argv = if script.shell {
        vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            script.script.clone(),
        ]
    } else {
        match command::split(&script.script) {
            Ok(argv) => argv,
            Err(e) => return (false, format!("command {e}")),
        }
    };
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        // Its own process group, so a timeout kills whatever it started too.
        .process_group(0);
    if let Some(user) = &script.user {
        match crate::sysuser::lookup(user) {
            Some(ids) => {
                cmd.uid(ids.uid).gid(ids.gid);
            }
            None => return (false, format!("user {user:?} no longer exists")),
        }
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (false, format!("cannot start {}: {e}", argv[0])),
    };
    let timeout = Duration::from_secs_f64(script.timeout());
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => (true, "exit 0".to_string()),
        Ok(Ok(status)) => (false, format!("{status}")),
        Ok(Err(e)) => (false, format!("waiting for it: {e}")),
        Err(_) => {
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                // SAFETY: kill(2) with a negative pid signals the process group we created
                // for this child (process_group(0) made its pid the group id).
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = child.wait().await;
            (false, format!("killed after the {timeout:?} timeout"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(line: &str, shell: bool, timeout: f64) -> TrackScript {
        TrackScript {
            name: "t".into(),
            script: line.into(),
            shell,
            interval: 1.0,
            timeout: Some(timeout),
            weight: 0,
            reverse: false,
            fall: 1,
            rise: 1,
            user: None,
            init_fail: false,
        }
    }

    #[tokio::test]
    async fn exit_status_timeout_and_missing_program() {
        assert!(run_once(&script("/bin/true", false, 5.0)).await.0);
        let (ok, detail) = run_once(&script("/bin/false", false, 5.0)).await;
        assert!(!ok && detail.contains("exit status: 1"), "{detail}");
        // Without a shell, `;` is an argument, not a separator: `true` ignores it.
        assert!(run_once(&script("/bin/true ; exit 1", false, 5.0)).await.0);
        assert!(!run_once(&script("exit 3", true, 5.0)).await.0);
        let started = std::time::Instant::now();
        let (ok, detail) = run_once(&script("sleep 30", true, 0.2)).await;
        assert!(!ok && detail.contains("timeout"), "{detail}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let (ok, detail) = run_once(&script("/nonexistent/x", false, 1.0)).await;
        assert!(!ok && detail.contains("cannot start"), "{detail}");
    }
}
