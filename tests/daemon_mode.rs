//! `-m 2`: the daemon detaches, writes its pid file, logs to `main_log` (warnings and errors to
//! `error_log`), refuses a second instance, and on SIGTERM removes its pid file and everything
//! it added to the system.
//!
//! Needs root.

mod common;

use std::time::Duration;

use common::*;
use rvrrpd_lab::config::rvrrpd::VRouter;
use rvrrpd_lab::{cmd, kernel, wait_until, Lab};

#[test]
fn daemon_mode_pid_file_logs_and_clean_exit() {
    let bin = daemon();
    let lab = lab(1);
    let r1 = lab.router(1).clone();
    let vip = Lab::vip4(5);
    let conf = conf(
        &lab,
        "d1",
        VRouter::new(5, "eth0", vip)
            .priority(200)
            .version(3)
            .advert(0.1)
            .macvlan("vrrp5"),
    );
    let file = lab.path("d1.toml");
    conf.write(&file).expect("write config");
    let before = kernel::snapshot(&r1.ns).expect("snapshot");
    let b = bin.to_string_lossy().into_owned();
    let f = file.to_string_lossy().into_owned();

    // The parent returns at once with 0; the daemon lives on.
    let o = cmd::outcome(Some(&r1.ns), &[b.as_str(), "-m", "2", "-c", &f]).expect("run");
    assert!(o.success, "-m 2 failed: {}{}", o.stdout, o.stderr);
    wait_until(
        "pid file",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || conf.pid.exists(),
    )
    .expect("the daemon wrote no pid file");
    let pid: i32 = std::fs::read_to_string(&conf.pid)
        .expect("read pid file")
        .trim()
        .parse()
        .expect("pid file holds a number");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(comm.trim(), "rvrrpd", "pid {pid} is not rvrrpd");
    // Make sure the pid we signal below is ours even if the test fails half-way.
    struct Kill(i32);
    impl Drop for Kill {
        fn drop(&mut self) {
            // SAFETY: kill with a pid we read from our daemon's pid file.
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
    let guard = Kill(pid);

    wait_until(
        "VIP on the Master",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || kernel::has_address(&r1.ns, vip.into()).unwrap_or(false),
    )
    .expect("the daemon did not become Master");
    let log = std::fs::read_to_string(&conf.main_log).expect("main_log exists");
    assert!(
        log.contains("-> Master"),
        "main_log lacks the transition:\n{log}"
    );
    assert!(
        log.contains("receive path:"),
        "main_log lacks the start-up line:\n{log}"
    );

    // A second instance with the same pid file is refused and changes nothing.
    let o = cmd::outcome(Some(&r1.ns), &[b.as_str(), "-m", "1", "-c", &f]).expect("run");
    let msg = format!("{}{}", o.stdout, o.stderr);
    assert!(!o.success, "a second instance started: {msg}");
    assert!(msg.contains("already running"), "unexpected refusal: {msg}");

    // SAFETY: SIGTERM to the daemon whose pid we read from its pid file.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    wait_until(
        "daemon exit",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || !std::path::Path::new(&format!("/proc/{pid}")).exists(),
    )
    .expect("the daemon did not exit on SIGTERM");
    drop(guard);
    assert!(!conf.pid.exists(), "pid file left behind");
    let after = kernel::snapshot(&r1.ns).expect("snapshot");
    assert_eq!(before, after, "the namespace was not restored");
    let log = std::fs::read_to_string(&conf.main_log).expect("main_log");
    assert!(
        log.contains("rvrrpd stopped"),
        "main_log lacks the exit:\n{log}"
    );
}
