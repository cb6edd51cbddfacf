//! The unicast directives: accepted forms, and every bad input named with file, directive and
//! line.

use std::net::IpAddr;

use super::tests::{assert_rejected, toml};

const V4: &str = "[[vrouter]]\ngroup = 1\ninterface = \"eth0\"\nvip = \"10.0.0.1\"\n";
const V6: &str = "[[vrouter]]\ngroup = 1\ninterface = \"eth0\"\nvip = \"fe80::1\"\nversion = 3\n";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn unicast_forms_are_accepted() {
    let text = format!(
        "{V4}unicast_peer = [\"10.0.0.2\", \"192.0.2.7\"]\nunicast_src = \"10.0.0.3\"\nunicast_ttl = 64\nunicast_min_ttl = 250\n"
    );
    let config = toml(&text).unwrap_or_else(|e| panic!("{e}"));
    let vr = &config.vrouters[0];
    assert!(vr.is_unicast());
    assert_eq!(vr.unicast_peer, [ip("10.0.0.2"), ip("192.0.2.7")]);
    assert_eq!(vr.unicast_src, Some(ip("10.0.0.3")));
    assert_eq!((vr.unicast_ttl, vr.unicast_min_ttl), (64, 250));
    // keepalived's spelling of the source, and the defaults.
    let text = format!("{V6}unicast_peer = [\"fe80::2\"]\nunicast_src_ip = \"fe80::3\"\n");
    let config = toml(&text).unwrap_or_else(|e| panic!("{e}"));
    let vr = &config.vrouters[0];
    assert_eq!(vr.unicast_src, Some(ip("fe80::3")));
    assert_eq!((vr.unicast_ttl, vr.unicast_min_ttl), (255, 255));
    // Multicast by default; serialised back without the unicast keys.
    let config = toml(V4).unwrap_or_else(|e| panic!("{e}"));
    assert!(!config.vrouters[0].is_unicast());
    let json = serde_json::to_string(&config).unwrap_or_else(|e| panic!("{e}"));
    assert!(!json.contains("unicast"), "{json}");
}

#[test]
fn bad_unicast_directives_are_named() {
    let cases: [(&str, &str, &str, &[&str]); 11] = [
        (
            V4,
            "unicast_src = \"10.0.0.3\"",
            "vrouter[0].unicast_src",
            &["needs unicast_peer"],
        ),
        (
            V4,
            "unicast_ttl = 10",
            "vrouter[0].unicast_ttl",
            &["needs unicast_peer"],
        ),
        (
            V4,
            "unicast_peer = [\"fe80::2\"]",
            "vrouter[0].unicast_peer",
            &["fe80::2", "IPv6", "IPv4"],
        ),
        (
            V4,
            "unicast_peer = [\"10.0.0.2\", \"10.0.0.2\"]",
            "vrouter[0].unicast_peer",
            &["10.0.0.2", "listed twice"],
        ),
        (
            V4,
            "unicast_peer = [\"224.0.0.18\"]",
            "vrouter[0].unicast_peer",
            &["224.0.0.18", "multicast"],
        ),
        (
            V4,
            "unicast_peer = [\"0.0.0.0\"]",
            "vrouter[0].unicast_peer",
            &["unspecified"],
        ),
        (
            V4,
            "unicast_peer = [\"10.0.0.2\"]\nunicast_src = \"10.0.0.2\"",
            "vrouter[0].unicast_src",
            &["10.0.0.2", "also listed"],
        ),
        (
            V4,
            "unicast_peer = [\"10.0.0.2\"]\nunicast_src = \"fe80::1\"",
            "vrouter[0].unicast_src",
            &["fe80::1", "IPv6"],
        ),
        (
            V4,
            "unicast_peer = [\"10.0.0.2\"]\nunicast_ttl = 0",
            "vrouter[0].unicast_ttl",
            &["out of range"],
        ),
        (
            V6,
            "unicast_peer = [\"fe80::2\"]\nunicast_min_ttl = 0",
            "vrouter[0].unicast_min_ttl",
            &["out of range"],
        ),
        (
            V4,
            "unicast_peer = [\"10.0.0.300\"]",
            "vrouter[0].unicast_peer[0]",
            &["invalid IP address"],
        ),
    ];
    for (base, body, directive, words) in cases {
        let text = format!("{base}{body}\n");
        let key = directive.rsplit('.').next().unwrap_or(directive);
        let key = key.split('[').next().unwrap_or(key);
        let in_body = body.lines().position(|l| l.starts_with(key)).unwrap_or(0);
        let line = base.lines().count() + 1 + in_body;
        assert_rejected(toml(&text), directive, Some(line), words);
    }
}

#[test]
fn too_many_peers_are_refused() {
    let peers: Vec<String> = (1..=super::MAX_UNICAST_PEERS + 1)
        .map(|i| format!("\"10.1.{}.{}\"", i / 200, i % 200 + 1))
        .collect();
    let text = format!("{V4}unicast_peer = [{}]\n", peers.join(", "));
    assert_rejected(
        toml(&text),
        "vrouter[0].unicast_peer",
        Some(5),
        &["65 peers", "at most 64"],
    );
}
