//! The tracking directives: accepted forms, and every bad input named with file, directive
//! and line.

use super::tests::{assert_rejected, toml};

const GROUP: &str = "[[vrouter]]\ngroup = 1\ninterface = \"eth0\"\nvip = \"10.0.0.1\"\n";

#[test]
fn every_form_is_accepted() {
    let text = format!(
        "[[track_script]]\nname = \"chk\"\nscript = \"/bin/true --quiet 'a b'\"\ninterval = 2\ntimeout = 0.5\nweight = -20\nfall = 3\nrise = 2\nuser = \"root\"\n\n\
         [[track_script]]\nname = \"sh\"\nscript = \"test -e /run/x && exit 0\"\nshell = true\n\n\
         [[track_file]]\nname = \"w\"\nfile = \"/run/rvrrpd/weight\"\nweight = 2\ninit = 0\n\n\
         {GROUP}track_interface = [\"eth1\", {{ name = \"eth2\", weight = -50 }}, {{ name = \"eth3\", weight = 0, reverse = true }}]\n\
         track_script = [\"chk\", {{ name = \"sh\", weight = 10 }}]\ntrack_file = [\"w\"]\n"
    );
    let config = toml(&text).unwrap_or_else(|e| panic!("{e}"));
    let s = &config.track_scripts[0];
    assert_eq!(
        (s.interval, s.timeout(), s.weight, s.fall, s.rise),
        (2.0, 0.5, -20, 3, 2)
    );
    assert_eq!(config.track_scripts[1].timeout(), 1.0);
    assert!(config.track_scripts[1].shell);
    assert_eq!(config.track_files[0].init, Some(0));
    let vr = &config.vrouters[0];
    assert_eq!(vr.track_interface.len(), 3);
    assert_eq!(vr.track_interface[0].weight, None);
    assert_eq!(vr.track_interface[1].weight, Some(-50));
    assert_eq!(vr.track_interface[2].reverse, Some(true));
    assert_eq!(vr.track_script[1].weight, Some(10));
    // The JSON form of the same configuration loads to the same thing.
    let json = serde_json::to_string(&config).unwrap_or_else(|e| panic!("{e}"));
    assert!(json.contains("\"track_script\""), "{json}");
}

#[test]
fn bad_scripts_are_configuration_errors() {
    let script = |body: &str| {
        format!("[[track_script]]\nname = \"chk\"\n{body}\n{GROUP}track_script = [\"chk\"]\n")
    };
    let cases: [(&str, &str, &[&str]); 9] = [
        (
            "script = \"/nonexistent/check\"",
            "track_script[0].script",
            &["cannot be executed", "/nonexistent/check"],
        ),
        (
            "script = \"/etc/passwd\"",
            "track_script[0].script",
            &["not executable"],
        ),
        (
            "script = \"/etc\"",
            "track_script[0].script",
            &["is not a file"],
        ),
        (
            "script = \"no-such-program-rvrrpd\"",
            "track_script[0].script",
            &["not found in $PATH"],
        ),
        (
            "script = \"/bin/true 'open\"",
            "track_script[0].script",
            &["unterminated"],
        ),
        ("script = \"  \"", "track_script[0].script", &["is empty"]),
        (
            "script = \"/bin/true\"\ninterval = 0",
            "track_script[0].interval",
            &["0.01–86400"],
        ),
        (
            "script = \"/bin/true\"\nweight = 300",
            "track_script[0].weight",
            &["-253–253"],
        ),
        (
            "script = \"/bin/true\"\nuser = \"no-such-user-rvrrpd\"",
            "track_script[0].user",
            &["not a user"],
        ),
    ];
    for (body, directive, words) in cases {
        assert_rejected(toml(&script(body)), directive, None, words);
    }
    assert_rejected(
        toml(&script("script = \"/bin/true\"\nfall = 0")),
        "track_script[0].fall",
        Some(4),
        &["1–1000"],
    );
    assert_rejected(
        toml(&script("script = \"/bin/true\"\nbogus = 1")),
        "track_script[0].bogus",
        None,
        &["bogus"],
    );
}

#[test]
fn bad_references_and_files_are_named() {
    let base = "[[track_script]]\nname = \"chk\"\nscript = \"/bin/true\"\n";
    assert_rejected(
        toml(&format!(
            "{base}{GROUP}track_script = [\"chk\", \"nope\"]\n"
        )),
        "vrouter[0].track_script[1]",
        None,
        &["\"nope\"", "names no [[track_script]]", "defined: chk"],
    );
    assert_rejected(
        toml(&format!("{GROUP}track_file = [\"w\"]\n")),
        "vrouter[0].track_file[0]",
        None,
        &["there is no [[track_file]]"],
    );
    assert_rejected(
        toml(&format!(
            "{base}{GROUP}track_script = [\"chk\", {{ name = \"chk\" }}]\n"
        )),
        "vrouter[0].track_script[1]",
        None,
        &["twice"],
    );
    assert_rejected(
        toml(&format!(
            "{GROUP}track_interface = [{{ name = \"eth1\", weight = -254 }}]\n"
        )),
        "vrouter[0].track_interface[0].weight",
        None,
        &["out of range"],
    );
    assert_rejected(
        toml(&format!("{GROUP}track_interface = [\"bad/name\"]\n")),
        "vrouter[0].track_interface[0]",
        None,
        &["bad/name"],
    );
    assert_rejected(
        toml(&format!("{base}{base}{GROUP}")),
        "track_script[1].name",
        None,
        &["already the name of track_script[0]"],
    );
    assert_rejected(
        toml(&format!(
            "[[track_file]]\nname = \"w\"\nfile = \"weight\"\n{GROUP}track_file = [\"w\"]\n"
        )),
        "track_file[0].file",
        None,
        &["absolute path"],
    );
    assert_rejected(
        toml(&format!("[[track_file]]\nname = \"w\"\nfile = \"/run/w\"\nweight = 255\n{GROUP}track_file = [\"w\"]\n")),
        "track_file[0].weight",
        None,
        &["-254–254"],
    );
}

#[test]
fn an_untracked_script_is_a_warning() {
    let config = toml(&format!(
        "[[track_script]]\nname = \"chk\"\nscript = \"/bin/true\"\n{GROUP}"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        config
            .warnings
            .iter()
            .any(|w| w.to_string().contains("tracked by no vrouter")),
        "{:?}",
        config.warnings
    );
}

#[test]
fn preempt_delay_range() {
    let ok = toml(&format!("{GROUP}preempt_delay = 2.5\n")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ok.vrouters[0].preempt_delay(),
        std::time::Duration::from_millis(2500)
    );
    for bad in ["-1", "1001"] {
        assert_rejected(
            toml(&format!("{GROUP}preempt_delay = {bad}\n")),
            "vrouter[0].preempt_delay",
            Some(5),
            &["0–1000 seconds"],
        );
    }
}

#[test]
fn announcement_directives() {
    let ok = toml(&format!(
        "{GROUP}garp_master_repeat = 3\ngarp_master_delay = 5\ngarp_master_refresh = 60\ngarp_master_refresh_repeat = 2\ngarp_lower_prio_repeat = 4\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let vr = &ok.vrouters[0];
    assert_eq!(vr.garp_repeat.get(), 3);
    assert_eq!((vr.garp_master_delay, vr.garp_master_refresh), (5.0, 60.0));
    assert_eq!(
        (vr.garp_master_refresh_repeat, vr.garp_lower_prio_repeat),
        (2, 4)
    );
    for (line, directive, words) in [
        (
            "garp_master_delay = 1001",
            "vrouter[0].garp_master_delay",
            "0–1000 seconds",
        ),
        (
            "garp_master_refresh = -1",
            "vrouter[0].garp_master_refresh",
            "0–86400 seconds",
        ),
        (
            "garp_master_refresh_repeat = 0",
            "vrouter[0].garp_master_refresh_repeat",
            "1–255",
        ),
    ] {
        assert_rejected(
            toml(&format!("{GROUP}{line}\n")),
            directive,
            Some(5),
            &[words],
        );
    }
}

#[test]
fn sync_groups_name_existing_vrouters_once() {
    let two = format!("{GROUP}[[vrouter]]\ngroup = 2\ninterface = \"eth1\"\nvip = \"10.0.1.1\"\n");
    let ok = toml(&format!(
        "{two}[[sync_group]]\nname = \"gw\"\nvrouters = [\"eth0-1\", \"eth1-2\"]\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.sync_groups[0].vrouters, ["eth0-1", "eth1-2"]);
    assert_rejected(
        toml(&format!(
            "{two}[[sync_group]]\nname = \"gw\"\nvrouters = [\"eth0-1\", \"eth9-2\"]\n"
        )),
        "sync_group[0].vrouters[1]",
        None,
        &["\"eth9-2\" names no vrouter", "eth0-1, eth1-2"],
    );
    assert_rejected(
        toml(&format!("{two}[[sync_group]]\nname = \"a\"\nvrouters = [\"eth0-1\"]\n[[sync_group]]\nname = \"b\"\nvrouters = [\"eth0-1\", \"eth1-2\"]\n")),
        "sync_group[1].vrouters[0]",
        None,
        &["already in sync_group[0]"],
    );
    assert_rejected(
        toml(&format!(
            "{two}[[sync_group]]\nname = \"gw\"\nvrouters = []\n"
        )),
        "sync_group[0].vrouters",
        None,
        &["is empty"],
    );
}

#[test]
fn sync_groups_take_notify_scripts_that_can_run() {
    let two = format!("{GROUP}[[vrouter]]\ngroup = 2\ninterface = \"eth1\"\nvip = \"10.0.1.1\"\n");
    let group = |extra: &str| {
        format!("{two}[[sync_group]]\nname = \"gw\"\nvrouters = [\"eth0-1\", \"eth1-2\"]\n{extra}")
    };
    let ok = toml(&group(
        "notify_master = \"/bin/true master 'a b'\"\nnotify_backup = \"/bin/true\"\n\
         notify_fault = \"/bin/true\"\nnotify_stop = \"/bin/true\"\nnotify = \"/bin/true any\"\n",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let g = &ok.sync_groups[0];
    assert_eq!(
        g.notify_master.as_ref().map(|s| s.argv().to_vec()),
        Some(vec!["/bin/true".into(), "master".into(), "a b".into()])
    );
    assert!(g.notify_scripts().iter().all(|(_, s)| s.is_some()));
    // The JSON form loads to the same thing.
    let json = serde_json::to_string(&ok).unwrap_or_else(|e| panic!("{e}"));
    let back: super::Config = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.sync_groups, ok.sync_groups);
    // Line 12: the vrouters take 8 lines, then [[sync_group]], name, vrouters.
    assert_rejected(
        toml(&group("notify_fault = \"/nonexistent/fault.sh\"\n")),
        "sync_group[0].notify_fault",
        Some(12),
        &[
            "/nonexistent/fault.sh",
            "cannot be executed",
            "No such file",
        ],
    );
    assert_rejected(
        toml(&group("notify = \"/etc/passwd GROUP\"\n")),
        "sync_group[0].notify",
        Some(12),
        &["not executable"],
    );
    assert_rejected(
        toml(&group("notify_master = \"true\"\n")),
        "sync_group[0].notify_master",
        Some(12),
        &["absolute path"],
    );
    assert_rejected(
        toml(&format!(
            "{two}[[sync_group]]\nname = \"g w\"\nvrouters = [\"eth0-1\", \"eth1-2\"]\n"
        )),
        "sync_group[0].name",
        Some(10),
        &["not a valid name"],
    );
}

/// Regression (fuzz target `config`): an `auth_secret` without `auth_type` is dropped with
/// its warning, so the vrouter round-trips through the API's JSON unchanged.
#[test]
fn an_ignored_secret_is_dropped() {
    let config = toml(&format!(
        "{GROUP}auth_secret = \"secret\"\nrfc3768 = false\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let vr = &config.vrouters[0];
    assert!(vr.auth_secret.is_none());
    assert!(config
        .warnings
        .iter()
        .any(|w| w.to_string().contains("auth_secret is ignored")));
    let json = serde_json::to_vec(vr).unwrap_or_else(|e| panic!("{e}"));
    let back = crate::api::routes::validate_vrouter(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&back, vr);
}
