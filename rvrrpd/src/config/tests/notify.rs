//! The notify directives: parsing, defaults, and every rejected input naming the file, the
//! directive and the line.

use super::*;

#[test]
fn notify_directives_parse() {
    let text = format!(
        "notify_fifo = \"/tmp/rvrrpd-test-no-such.fifo\"\nscript_user = \"root\"\nnotify_timeout = 2.5\nnotify_max_running = 4\n{}",
        vrouter("name = \"VI_1\"\nnotify_master = \"/bin/sh -c 'echo \\\"$@\\\"' x\"\nnotify = \"/bin/true\"\n")
    );
    let config = toml(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.notify_timeout.as_duration(),
        Duration::from_millis(2500)
    );
    assert_eq!(config.notify_max_running.get(), 4);
    let vr = &config.vrouters[0];
    assert_eq!(vr.name(), "VI_1");
    let master = vr.notify_master.as_ref().map(|s| s.argv().to_vec());
    assert_eq!(
        master,
        Some(vec![
            "/bin/sh".into(),
            "-c".into(),
            "echo \"$@\"".into(),
            "x".into()
        ])
    );
    let defaults = toml(&vrouter("")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(defaults.vrouters[0].name(), "eth0-1");
    assert_eq!(
        defaults.notify_timeout.as_duration(),
        Duration::from_secs(30)
    );
    assert_eq!(defaults.notify_max_running.get(), 16);
}

#[test]
fn notify_directives_reject_bad_input() {
    let line5 = |extra: &str| toml(&vrouter(&format!("\n{extra}\n")));
    assert_rejected(
        line5("notify_master = \"/nonexistent/up.sh MASTER\""),
        "vrouter[0].notify_master",
        Some(6),
        &["cannot be executed", "No such file"],
    );
    assert_rejected(
        line5("notify_backup = \"/etc/passwd\""),
        "vrouter[0].notify_backup",
        Some(6),
        &["not executable"],
    );
    assert_rejected(
        line5("notify_fault = \"fault.sh\""),
        "vrouter[0].notify_fault",
        Some(6),
        &["absolute path"],
    );
    assert_rejected(
        line5("notify_stop = \"/bin/true 'unclosed\""),
        "vrouter[0].notify_stop",
        Some(6),
        &["unterminated"],
    );
    assert_rejected(
        line5("notify = \"\""),
        "vrouter[0].notify",
        Some(6),
        &["empty"],
    );
    assert_rejected(
        line5("name = \"two words\""),
        "vrouter[0].name",
        Some(6),
        &["not a valid name"],
    );
    let twice = format!(
        "{}{}",
        vrouter("name = \"A\"\n"),
        vrouter("interface = \"eth1\"\nname = \"A\"\n").replace("interface = \"eth0\"\n", "")
    );
    assert_rejected(
        toml(&twice),
        "vrouter[1].name",
        None,
        &["\"A\"", "vrouter[0]"],
    );
    assert_rejected(
        toml("script_user = \"no-such-user-rvrrpd\"\n"),
        "script_user",
        Some(1),
        &["does not exist"],
    );
    assert_rejected(
        toml("script_user = \"root no-such-group-rvrrpd\"\n"),
        "script_user",
        Some(1),
        &["group", "does not exist"],
    );
    assert_rejected(
        toml("script_user = \"a b c\"\n"),
        "script_user",
        Some(1),
        &["user name"],
    );
    assert_rejected(
        toml("\nnotify_fifo = \"relative.fifo\"\n"),
        "notify_fifo",
        Some(2),
        &["absolute"],
    );
    assert_rejected(
        toml("notify_fifo = \"/etc/passwd\"\n"),
        "notify_fifo",
        Some(1),
        &["not a FIFO"],
    );
    assert_rejected(
        toml("notify_fifo = \"/nonexistent/dir/x.fifo\"\n"),
        "notify_fifo",
        Some(1),
        &["directory"],
    );
    assert_rejected(
        toml("notify_fifo_script = \"/bin/cat\"\n"),
        "notify_fifo_script",
        Some(1),
        &["without notify_fifo"],
    );
    assert_rejected(
        toml("notify_fifo = \"/tmp/x.fifo\"\nnotify_fifo_script = \"/nonexistent/reader\"\n"),
        "notify_fifo_script",
        Some(2),
        &["cannot be executed"],
    );
    assert_rejected(
        toml("notify_timeout = 0\n"),
        "notify_timeout",
        Some(1),
        &["out of range"],
    );
    assert_rejected(
        toml("notify_timeout = 3601\n"),
        "notify_timeout",
        Some(1),
        &["out of range"],
    );
    assert_rejected(
        toml("notify_max_running = 0\n"),
        "notify_max_running",
        Some(1),
        &["out of range"],
    );
    assert_rejected(
        json(
            r#"{"vrouter": [{"group": 1, "interface": "eth0", "vip": "10.0.0.1",
             "notify_master": "/nonexistent/x"}]}"#,
        ),
        "vrouter[0].notify_master",
        Some(2),
        &["cannot be executed"],
    );
}
