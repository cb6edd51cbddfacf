//! Loading tests: every sample in `conf/`, defaults, and one test per rejected case asserting
//! the message names the file, the directive and (where known) the line.

use std::path::Path;
use std::time::Duration;

use super::*;

const FILE: &str = "/etc/rvrrpd/rvrrpd.conf";
const HASH: &str = "5b2cb61c38b3ad1d2eb83ee09b0e8c5f3bb2e5f3b0e1b4e0e3f84e1d8a6c2b7a";

pub(super) fn toml(text: &str) -> Result<Config, ConfigError> {
    Config::from_str(text, Some(Format::Toml), FILE)
}

fn json(text: &str) -> Result<Config, ConfigError> {
    Config::from_str(text, Some(Format::Json), FILE)
}

/// Asserts `result` is an error whose message contains the file, `directive`, `line N` (when
/// given) and every one of `words`; returns the message.
#[track_caller]
pub(super) fn assert_rejected(
    result: Result<Config, ConfigError>,
    directive: &str,
    line: Option<usize>,
    words: &[&str],
) -> String {
    let error = match result {
        Ok(config) => panic!("accepted: {config:?}"),
        Err(error) => error,
    };
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("{FILE}: ")),
        "no file: {message}"
    );
    assert!(
        message.contains(directive),
        "no directive {directive}: {message}"
    );
    assert_eq!(error.directive(), Some(directive), "{message}");
    if let Some(line) = line {
        assert!(
            message.contains(&format!("line {line}: ")),
            "no line {line}: {message}"
        );
        assert_eq!(error.line(), Some(line), "{message}");
    }
    for word in words {
        assert!(message.contains(word), "no {word:?}: {message}");
    }
    message
}

/// A minimal valid virtual router followed by `extra` lines.
fn vrouter(extra: &str) -> String {
    format!("[[vrouter]]\ngroup = 1\ninterface = \"eth0\"\nvip = \"10.0.0.1\"\n{extra}")
}

#[test]
fn every_sample_in_conf_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let path = entry.path();
        // conf/ also holds the systemd unit (rvrrpd.service).
        if path.extension().is_none_or(|e| e != "conf") {
            continue;
        }
        if let Err(error) = Config::load(&path, None) {
            panic!("{error}");
        }
        count += 1;
    }
    assert!(count >= 5, "expected the samples in {}", dir.display());
}

#[test]
fn toml_and_json_samples_agree() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf");
    let load = |name: &str| {
        let mut config = Config::load(&dir.join(name), None).unwrap_or_else(|e| panic!("{e}"));
        assert!(config.warnings.is_empty(), "{name}: {:?}", config.warnings);
        config.warnings.clear();
        config
    };
    assert_eq!(load("rvrrpd.conf"), load("rvrrpd.json.conf"));
}

#[test]
fn empty_configuration_uses_documented_defaults() {
    let config = toml("").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config, Config::default());
    assert_eq!(config.debug.get(), 0);
    assert_eq!(config.time_zone, TimeZone::Local);
    assert_eq!(config.time_format, TimeFormat::Disabled);
    assert_eq!(config.pid, Path::new("/var/run/rvrrpd.pid"));
    assert_eq!(config.working_dir, Path::new("/tmp"));
    assert_eq!(config.main_log, Path::new("/var/log/rvrrpd.log"));
    assert_eq!(config.error_log, None);
    assert_eq!(config.client_api, None);
    assert!(config.vrouters.is_empty() && config.protocols.static_routes.is_empty());
    assert!(!config.api_enabled());
}

#[test]
fn vrouter_defaults() {
    let config = toml(&vrouter("")).unwrap_or_else(|e| panic!("{e}"));
    let vr = &config.vrouters[0];
    assert_eq!(vr.group.get(), 1);
    assert_eq!(vr.priority.get(), 100);
    assert!(!vr.preemption && vr.rfc3768 && vr.socket_filter && !vr.accept_mode);
    assert_eq!(vr.iftype, IfType::Ether);
    assert_eq!(vr.netdrv, NetDriver::Libnl);
    assert_eq!(vr.vifname(), "standby1");
    assert_eq!(vr.auth_type, None);
    assert_eq!(vr.advert_interval(), Duration::from_secs(1));
    assert_eq!(vr.version, ProtocolVersion::V2);
    assert_eq!(vr.v3_checksum, V3Checksum::PseudoHeader);
    assert_eq!(vr.garp_repeat.get(), 5);
    assert_eq!(vr.garp_interval.as_duration(), Duration::from_secs(1));
    assert_eq!(vr.family(), AddressFamily::Ipv4);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn api_defaults() {
    let config = toml("client_api = \"http\"\n[api]\n").unwrap_or_else(|e| panic!("{e}"));
    let api = config.api.clone().unwrap_or_default();
    assert_eq!(api.host.to_string(), "0.0.0.0:7080");
    assert!(!api.tls);
    assert_eq!(api.tls_key, Path::new("/etc/rvrrpd/ssl/key.pem"));
    assert_eq!(api.tls_cert, Path::new("/etc/rvrrpd/ssl/cert.pem"));
    assert!(config.api_enabled());
    assert_eq!(
        config.warnings.len(),
        1,
        "empty users warns: {:?}",
        config.warnings
    );
}

#[test]
fn json_nulls_mean_defaults() {
    let text = r#"{"vrouter": [{"group": 2, "interface": "eth0", "vip": "10.0.2.1",
        "priority": null, "preemption": null, "auth_type": null, "auth_secret": null,
        "timers": null, "rfc3768": null, "netdrv": "libnl", "iftype": "macvlan", "vifname": "vrrp0"}],
        "protocols": {"static": [{"route": "100.100.100.0", "mask": "255.255.255.0",
        "nh": "10.2.2.1", "metric": 500, "mtu": 1500}]}}"#;
    let config = Config::from_str(text, None, FILE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.vrouters[0].priority.get(), 100);
    assert!(config.vrouters[0].rfc3768);
    assert_eq!(config.vrouters[0].vifname(), "vrrp0");
    assert_eq!(config.protocols.static_routes[0].prefix_len(), 24);
}

#[test]
fn format_detection() {
    assert_eq!(
        Format::detect(Some(Path::new("a.json")), "x = 1"),
        Format::Json
    );
    assert_eq!(
        Format::detect(Some(Path::new("a.conf")), "  {\"a\": 1}"),
        Format::Json
    );
    assert_eq!(
        Format::detect(Some(Path::new("a.conf")), "# {\na = 1"),
        Format::Toml
    );
    assert_eq!(Format::detect(None, ""), Format::Toml);
}

#[test]
fn default_paths_are_documented_order() {
    assert_eq!(
        DEFAULT_PATHS,
        ["/etc/rvrrpd/rvrrpd.conf", "/etc/rvrrpd.conf"]
    );
    assert!(DEFAULT_PATHS.iter().any(|p| Path::new(p) == default_path()));
}

#[test]
fn missing_file_names_the_path() {
    let error = Config::load(Path::new("/nonexistent/rvrrpd.conf"), None);
    let message = error.map(|_| ()).unwrap_err().to_string();
    assert!(
        message.starts_with("/nonexistent/rvrrpd.conf: cannot read"),
        "{message}"
    );
}

#[test]
fn extensions_parse() {
    let config = toml(
        "[[vrouter]]\ngroup = 7\ninterface = \"eth0\"\nversion = 3\n\
         vip = [\"2001:db8::1/64\", \"2001:db8::2\"]\ntimers = { advert = 0.25 }\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let vr = &config.vrouters[0];
    assert_eq!(vr.family(), AddressFamily::Ipv6);
    assert_eq!(vr.vip.len(), 2);
    assert_eq!(vr.vip[0].prefix_len, Some(64));
    assert_eq!(vr.advert_interval(), Duration::from_millis(250));
}

#[test]
fn secrets_and_hashes_are_never_serialized() {
    let text = format!(
        "client_api = \"http\"\n{}\n[api]\nsecret = \"apisecret\"\nusers = [\"{{{{SHA256}}}}admin:0:1eb7ac761a1201f9:{HASH}\"]\n",
        vrouter("auth_type = \"p0-t8-sha256\"\nauth_secret = \"vrrpsecret\"")
    );
    let config = toml(&text).unwrap_or_else(|e| panic!("{e}"));
    let out = serde_json::to_string(&config).unwrap_or_default();
    for leak in [
        "apisecret",
        "vrrpsecret",
        HASH,
        "1eb7ac761a1201f9",
        "auth_secret",
    ] {
        assert!(!out.contains(leak), "{leak} leaked: {out}");
    }
    assert!(out.contains("\"auth_type\":\"p0-t8-sha256\""), "{out}");
    assert!(!format!("{config:?}").contains("vrrpsecret"));
}

#[test]
fn macvlan_forces_libnl_with_a_warning() {
    let config = toml(&vrouter("iftype = \"macvlan\"\nnetdrv = \"ioctl\"\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.vrouters[0].netdrv, NetDriver::Libnl);
    let warning = config
        .warnings
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        warning.contains("line 6: vrouter[0].netdrv") && warning.contains("libnl"),
        "{warning}"
    );
}

#[test]
fn p1_accepts_both_spellings_and_forces_rfc3768() {
    for spelling in ["p1-t8-shake256", "p1-b8-shake256"] {
        let text = vrouter(&format!(
            "rfc3768 = false\nauth_type = \"{spelling}\"\nauth_secret = \"k\"\n"
        ));
        let config = toml(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.vrouters[0].auth_type, Some(AuthType::P1Shake256));
        assert!(config.vrouters[0].rfc3768);
        assert_eq!(config.warnings.len(), 1);
    }
}

// ---- Rejected configurations -------------------------------------------------------------

#[test]
fn priority_out_of_range() {
    for bad in ["0", "255", "300", "-1"] {
        let message = assert_rejected(
            toml(&vrouter(&format!("priority = {bad}\n"))),
            "vrouter[0].priority",
            Some(5),
            &["out of range (1–254; 0 and 255 are reserved)"],
        );
        assert!(
            message.contains(&format!("vrouter[0].priority = {bad} is out of range")),
            "{message}"
        );
    }
}

#[test]
fn priority_out_of_range_in_second_vrouter() {
    let text = format!(
        "{}\n{}",
        vrouter(""),
        vrouter("priority = 255\n").replace("group = 1", "group = 2")
    );
    assert_rejected(
        toml(&text),
        "vrouter[1].priority",
        Some(10),
        &["= 255 is out of range"],
    );
}

#[test]
fn vrid_out_of_range() {
    for bad in ["0", "256"] {
        let text =
            format!("[[vrouter]]\ninterface = \"eth0\"\ngroup = {bad}\nvip = \"10.0.0.1\"\n");
        assert_rejected(
            toml(&text),
            "vrouter[0].group",
            Some(3),
            &["out of range (1–255"],
        );
    }
}

/// `auth_type` and `v3_checksum` parse straight into the types the codec uses.
#[test]
fn auth_and_checksum_keywords_are_the_codec_types() {
    let text = vrouter(
        "version = 3\nv3_checksum = \"plain\"\n[[vrouter]]\ngroup = 2\ninterface = \"eth0\"\nvip = \"10.0.0.2\"\nauth_type = \"rfc2338-simple\"\nauth_secret = \"k\"\n",
    );
    let config = toml(&text).unwrap_or_else(|e| panic!("{e}"));
    let v3: crate::wire::V3Checksum = config.vrouters[0].v3_checksum;
    assert_eq!(v3, crate::wire::V3Checksum::Plain);
    let auth: Option<crate::auth::AuthType> = config.vrouters[1].auth_type;
    assert_eq!(auth, Some(crate::auth::AuthType::Simple));
    assert_eq!(auth.map(|a| a.number()), Some(1));
}

#[test]
fn unknown_keywords() {
    let cases = [
        (
            "auth_type = \"md5\"\nauth_secret = \"x\"\n",
            "vrouter[0].auth_type",
            "authentication type",
        ),
        ("netdrv = \"dpdk\"\n", "vrouter[0].netdrv", "network driver"),
        ("iftype = \"vlan\"\n", "vrouter[0].iftype", "interface type"),
        (
            "v3_checksum = \"none\"\n",
            "vrouter[0].v3_checksum",
            "checksum",
        ),
        // `none` is the codec's name for no authentication, not a keyword: leave it out.
        (
            "auth_type = \"none\"\nauth_secret = \"x\"\n",
            "vrouter[0].auth_type",
            "`rfc2338-simple`, `p0-t8-sha256` or `p1-t8-shake256`",
        ),
    ];
    for (extra, directive, what) in cases {
        assert_rejected(
            toml(&vrouter(extra)),
            directive,
            Some(5),
            &[what, "expected"],
        );
    }
    assert_rejected(
        toml("debug = 0\ntime_zone = \"cet\"\n"),
        "time_zone",
        Some(2),
        &["= \"cet\"", "`local` or `utc`"],
    );
    assert_rejected(
        toml("debug = 0\ntx_path = \"ring\"\n"),
        "tx_path",
        Some(2),
        &["= \"ring\"", "`packet`", "`xdp`", "`auto`"],
    );
    assert_rejected(
        toml("client_api = \"grpc\"\n"),
        "client_api",
        Some(1),
        &["`http`"],
    );
    assert_rejected(
        toml("time_format = \"iso\"\n"),
        "time_format",
        Some(1),
        &["time format"],
    );
    assert_rejected(toml("debug = 4\n"), "debug", Some(1), &["debug level"]);
}

#[test]
fn missing_required_directives() {
    for (missing, text) in [
        ("vip", "[[vrouter]]\ngroup = 1\ninterface = \"eth0\"\n"),
        ("interface", "[[vrouter]]\ngroup = 1\nvip = \"10.0.0.1\"\n"),
        (
            "group",
            "[[vrouter]]\ninterface = \"eth0\"\nvip = \"10.0.0.1\"\n",
        ),
    ] {
        let text = format!("debug = 1\n\n{text}");
        assert_rejected(
            toml(&text),
            &format!("vrouter[0].{missing}"),
            Some(3),
            &["required"],
        );
    }
}

#[test]
fn bad_ip_addresses() {
    assert_rejected(
        toml(&vrouter("").replace("10.0.0.1", "10.0.0.300")),
        "vrouter[0].vip",
        Some(4),
        &["not a valid IPv4 or IPv6 address"],
    );
    assert_rejected(
        toml(&vrouter("").replace("10.0.0.1", "10.0.0.1/33")),
        "vrouter[0].vip",
        Some(4),
        &["prefix length"],
    );
    assert_rejected(
        toml("[[vrouter]]\ngroup = 1\ninterface = \"eth0\"\nvip = [\"10.0.0.1\",\n  \"224.0.0.18\"]\n"),
        "vrouter[0].vip[1]",
        Some(5),
        &["cannot be a virtual address"],
    );
    let route = "[[protocols.static]]\nroute = \"0.0.0.0\"\nmask = \"0.0.0.0\"\nnh = \"10.0.0\"\n";
    assert_rejected(
        toml(route),
        "protocols.static[0].nh",
        Some(4),
        &["not a valid IPv4 address"],
    );
    assert_rejected(
        toml("[api]\nhost = \"0.0.0.0\"\n"),
        "api.host",
        Some(2),
        &["address:port"],
    );
}

#[test]
fn duplicate_interface_group_pair() {
    let text = format!(
        "{}\n{}",
        vrouter(""),
        vrouter("priority = 50\n").replace("10.0.0.1", "10.0.0.2")
    );
    assert_rejected(
        toml(&text),
        "vrouter[1].group",
        Some(7),
        &["already used", "vrouter[0]", "eth0"],
    );
    // Another address family on the same pair is a separate VRRPv3 instance.
    let v6 = "[[vrouter]]\ngroup = 1\ninterface = \"eth0\"\nversion = 3\nvip = \"fe80::1\"\n";
    let ok = toml(&format!("{}\nversion = 3\n\n{v6}", vrouter("").trim_end()));
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn macvlan_vifname_collision() {
    let text = format!(
        "{}\n{}",
        vrouter("iftype = \"macvlan\"\n"),
        vrouter("iftype = \"macvlan\"\n").replace("eth0", "eth1")
    );
    assert_rejected(
        toml(&text),
        "vrouter[1].vifname",
        Some(7),
        &["standby1", "already used by vrouter[0]"],
    );
}

#[test]
fn secret_too_long() {
    let docs_sample =
        vrouter("auth_type = \"rfc2338-simple\"\nauth_secret = \"thissecretisnotlongeris\"\n");
    let message = assert_rejected(
        toml(&docs_sample),
        "vrouter[0].auth_secret",
        Some(6),
        &[
            "23 bytes",
            "at most 8",
            "silently truncated",
            "first 8 bytes",
            "set auth_secret",
        ],
    );
    assert!(
        !message.contains("thissecr"),
        "the secret must not be echoed: {message}"
    );
    let long = "x".repeat(65);
    assert_rejected(
        toml(&vrouter(&format!(
            "auth_type = \"p0-t8-sha256\"\nauth_secret = \"{long}\"\n"
        ))),
        "vrouter[0].auth_secret",
        Some(6),
        &["65 bytes", "at most 64"],
    );
}

#[test]
fn auth_type_without_secret() {
    assert_rejected(
        toml(&vrouter("auth_type = \"rfc2338-simple\"\n")),
        "vrouter[0].auth_secret",
        Some(5),
        &["missing", "requires a secret"],
    );
}

#[test]
fn auth_with_version_3() {
    let text = vrouter("version = 3\nauth_type = \"p0-t8-sha256\"\nauth_secret = \"k\"\n");
    assert_rejected(
        toml(&text),
        "vrouter[0].auth_type",
        Some(6),
        &["VRRP version 3"],
    );
}

#[test]
fn unknown_keys_anywhere() {
    assert_rejected(
        toml("debug = 0\nverbose = 1\n"),
        "verbose",
        Some(2),
        &["not a known directive"],
    );
    assert_rejected(
        toml(&vrouter("prio = 1\n")),
        "vrouter[0].prio",
        Some(5),
        &["not a known directive", "`priority`"],
    );
    assert_rejected(
        toml(&vrouter("timers = { advert = 1, down = 3 }\n")),
        "vrouter[0].timers.down",
        Some(5),
        &["not a known directive"],
    );
    assert_rejected(toml("[protocols]\n[[protocols.static]]\nroute = \"0.0.0.0\"\nmask = \"0.0.0.0\"\nnh = \"1.1.1.1\"\nweight = 3\n"), "protocols.static[0].weight", Some(6), &["not a known directive"]);
    assert_rejected(
        toml("[api]\nport = 1\n"),
        "api.port",
        Some(2),
        &["not a known directive"],
    );
    assert_rejected(
        toml("[global]\n"),
        "global",
        Some(1),
        &["not a known directive"],
    );
}

#[test]
fn ipv6_needs_version_3() {
    let text = vrouter("").replace("10.0.0.1", "2001:db8::1");
    assert_rejected(
        toml(&text),
        "vrouter[0].vip",
        Some(4),
        &["IPv6", "version = 3"],
    );
    let mixed = vrouter("version = 3\n").replace("\"10.0.0.1\"", "[\"10.0.0.1\", \"2001:db8::1\"]");
    assert_rejected(
        toml(&mixed),
        "vrouter[0].vip",
        Some(4),
        &["mixes IPv4 and IPv6"],
    );
}

#[test]
fn bad_timers_for_the_version() {
    assert_rejected(
        toml(&vrouter("timers = { advert = 0.5 }\n")),
        "vrouter[0].timers.advert",
        Some(5),
        &["= 0.50", "VRRP version 2"],
    );
    assert_rejected(
        toml(&vrouter("version = 3\ntimers = { advert = 41 }\n")),
        "vrouter[0].timers.advert",
        Some(6),
        &["VRRP version 3", "40.95"],
    );
    assert_rejected(
        toml(&vrouter("timers = { advert = 0 }\n")),
        "vrouter[0].timers.advert",
        Some(5),
        &["not a valid advertisement interval"],
    );
    assert_rejected(
        toml(&vrouter("[vrouter.timers]\nadvert = 0.001\n")),
        "vrouter[0].timers.advert",
        Some(6),
        &["0.001"],
    );
}

#[test]
fn invalid_mask() {
    let text = "[protocols]\n  [[protocols.static]]\n  route = \"10.0.0.0\"\n  mask = \"255.0.255.0\"\n  nh = \"10.0.0.1\"\n";
    assert_rejected(
        toml(text),
        "protocols.static[0].mask",
        Some(4),
        &["contiguous"],
    );
    let host_bits = text
        .replace("255.0.255.0", "255.255.0.0")
        .replace("10.0.0.0", "10.0.1.0");
    assert_rejected(
        toml(&host_bits),
        "protocols.static[0].route",
        Some(3),
        &["host bits", "10.0.0.0"],
    );
}

#[test]
fn client_api_without_api_section() {
    assert_rejected(
        toml("debug = 1\nclient_api = \"http\"\n"),
        "client_api",
        Some(2),
        &["[api]"],
    );
}

#[test]
fn malformed_users_line() {
    let text = format!("client_api = \"http\"\n[api]\nusers = [\n  \"{{{{SHA256}}}}admin:0:1eb7:{HASH}\",\n  \"{{{{SHA256}}}}bad user:0:1eb7:{HASH}\",\n]\n");
    let message = assert_rejected(
        toml(&text),
        "api.users[1]",
        Some(5),
        &["not a valid user entry", "user name"],
    );
    assert!(!message.contains(HASH), "{message}");
}

#[test]
fn syntax_errors() {
    let error = toml("debug = 1\nvip = \"10.0.0.1\n")
        .map(|_| ())
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("{FILE}: line 2, column")),
        "{message}"
    );
    assert!(message.contains("TOML syntax error"), "{message}");
    let error = json("{\n  \"debug\": 1,\n  \"pid\": \n}")
        .map(|_| ())
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("{FILE}: line 4, column")),
        "{message}"
    );
    assert!(message.contains("JSON syntax error"), "{message}");
}

// ---- JSON locates errors as well ---------------------------------------------------------

#[test]
fn json_errors_name_directive_and_line() {
    let text = "{\n  \"vrouter\": [\n    {\n      \"group\": 1,\n      \"interface\": \"eth0\",\n      \"vip\": \"10.0.0.1\",\n      \"priority\": 255\n    }\n  ]\n}\n";
    assert_rejected(
        json(text),
        "vrouter[0].priority",
        Some(7),
        &["= 255 is out of range"],
    );
    let unknown = text.replace("\"priority\"", "\"prio\"");
    assert_rejected(
        json(&unknown),
        "vrouter[0].prio",
        Some(7),
        &["not a known directive"],
    );
    let missing = text
        .replace("      \"vip\": \"10.0.0.1\",\n", "")
        .replace("255", "254");
    assert_rejected(json(&missing), "vrouter[0].vip", None, &["required"]);
    let dup = "{\"vrouter\": [\n{\"group\": 1, \"interface\": \"eth0\", \"vip\": \"10.0.0.1\"},\n{\"group\": 1, \"interface\": \"eth0\", \"vip\": \"10.0.0.2\"}]}";
    assert_rejected(json(dup), "vrouter[1].group", Some(3), &["already used"]);
}

#[test]
fn workers_and_realtime_priority_are_range_checked() {
    let ok = toml("workers = 2\nrealtime_priority = 10\n").unwrap();
    assert_eq!((ok.workers, ok.realtime_priority), (Some(2), Some(10)));
    assert_rejected(
        toml("debug = 0\nworkers = 17\n"),
        "workers",
        Some(2),
        &["1–16"],
    );
    assert_rejected(
        toml("realtime_priority = 100\n"),
        "realtime_priority",
        Some(1),
        &["1–99", "0 = off"],
    );
    // 0: normal scheduling; absent: the capped real-time default.
    let off = toml("realtime_priority = 0\n").unwrap();
    assert_eq!(off.worker_fifo_priority(), None);
    assert_eq!(
        toml("").unwrap().worker_fifo_priority(),
        Some(crate::config::DEFAULT_REALTIME_PRIORITY)
    );
    assert_eq!(
        toml("realtime_cpu_limit = 0.25\n")
            .unwrap()
            .realtime_cpu_limit(),
        std::time::Duration::from_millis(250)
    );
    assert_rejected(
        toml("realtime_cpu_limit = 0.001\n"),
        "realtime_cpu_limit",
        Some(1),
        &["0.01–10 seconds"],
    );
    assert_eq!(toml("worker_nice = -5\n").unwrap().worker_nice, Some(-5));
    assert_eq!(toml("advert_slots = 1\n").unwrap().advert_slots, Some(1));
    assert_eq!(toml("tx_path = \"xdp\"\n").unwrap().tx_path, TxPath::Xdp);
    assert_eq!(toml("debug = 0\n").unwrap().tx_path, TxPath::Auto);
    assert_eq!(
        toml("tx_path = \"packet\"\n").unwrap().tx_path,
        TxPath::Packet
    );
    assert_eq!(toml("tx_path = \"auto\"\n").unwrap().tx_path, TxPath::Auto);
    assert_rejected(
        toml("advert_slots = 0\n"),
        "advert_slots",
        Some(1),
        &["1–1000"],
    );
    assert_rejected(
        toml("debug = 0\nworker_nice = 20\n"),
        "worker_nice",
        Some(2),
        &["−20–19"],
    );
}

mod notify;
#[test]
fn dump_file_defaults_and_rejections() {
    let c = toml("debug = 0\n").unwrap();
    assert_eq!(c.dump_file, None);
    assert_eq!(c.dump_path(), Path::new(DEFAULT_DUMP_FILE));
    let c = toml("dump_file = \"/run/x/state.json\"\n").unwrap();
    assert_eq!(c.dump_path(), Path::new("/run/x/state.json"));
    // Not written back by the API's configuration view unless set.
    assert!(!serde_json::to_string(&Config::default())
        .unwrap()
        .contains("dump_file"));
    assert_rejected(
        toml("debug = 0\ndump_file = \"state.json\"\n"),
        "dump_file",
        Some(2),
        &["absolute"],
    );
    assert_rejected(toml("dump_file = \"\"\n"), "dump_file", Some(1), &["empty"]);
    assert_rejected(
        toml("dump_file = \"/run/rvrrpd/\"\n"),
        "dump_file",
        Some(1),
        &["directory"],
    );
    assert_rejected(
        toml("pid = \"/run/r.pid\"\ndump_file = \"/run/r.pid\"\n"),
        "dump_file",
        Some(2),
        &["pid"],
    );
    assert_rejected(json("{\n  \"dump_file\": 3\n}"), "dump_file", Some(2), &[]);
}

#[test]
fn accept_mode_must_be_a_boolean() {
    let text =
        "[[vrouter]]\ngroup = 1\ninterface = \"eth0\"\nvip = \"10.0.0.1\"\naccept_mode = \"no\"\n";
    assert_rejected(toml(text), "vrouter[0].accept_mode", Some(5), &["bool"]);
    let ok = toml(&text.replace("\"no\"", "true")).expect("accept_mode = true");
    assert!(ok.vrouters[0].accept_mode);
}
