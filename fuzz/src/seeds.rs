//! The checked-in seed corpora, from the unit-test vectors: the byte vectors of
//! `rvrrpd/src/wire` tests (copied here, each naming its test), frames built the way those
//! tests build them, the sample configurations in `conf/` and the mock's, the login bodies
//! of `api/login.rs` tests, and the timing-wheel scenarios of `timer/tests.rs`.
//!
//! `cargo xtask fuzz --seed` writes them to `fuzz/corpus/<target>/<name>`; the output only
//! depends on this file and `conf/`, so regenerating changes nothing unless they change.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use rvrrpd::auth::{AuthKey, AuthType};
use rvrrpd::timer::model::Op;
use rvrrpd::wire::pcap::{Linktype, PcapWriter};
use rvrrpd::wire::{advert_frame, V3Checksum, VrrpRepr};

use crate::api::{Body, Call, Cookies, Form, Login, Step};
use crate::{codec, wheel, Writer};

/// One seed: target, file name, contents.
pub type Seed = (&'static str, String, Vec<u8>);

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect()
}

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse().unwrap_or(Ipv4Addr::UNSPECIFIED))
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse().unwrap_or(Ipv6Addr::UNSPECIFIED))
}

/// Every seed of every target; `conf` is the repository's `conf/` directory.
pub fn all(conf: &Path) -> Vec<Seed> {
    let mut out = Vec::new();
    codec_seeds(&mut out);
    frame_seeds(&mut out);
    config_seeds(conf, &mut out);
    api_seeds(&mut out);
    wheel_seeds(&mut out);
    out
}

fn codec_seeds(out: &mut Vec<Seed>) {
    let (s4, g4, s6, g6) = (
        v4("192.168.1.1"),
        v4("224.0.0.18"),
        v6("fe80::1"),
        v6("ff02::12"),
    );
    let mut rx = |name: &str, secret: &str, src, dst, bytes: &str| {
        let msg = hex(bytes);
        out.push((
            "vrrp_codec",
            name.into(),
            codec::encode_rx(255, secret.as_bytes(), src, dst, &msg),
        ));
    };
    // vrrp/tests.rs: KEEPALIVED_V2, its corrupted twin, v3 both checksum modes, v3/IPv6.
    rx(
        "v2-keepalived",
        "",
        s4,
        g4,
        "21 33 64 01 00 01 b8 bd c0 a8 01 64 00 00 00 00 00 00 00 00",
    );
    rx(
        "v2-bad-checksum",
        "",
        s4,
        g4,
        "21 33 64 01 00 01 ba 52 c0 a8 01 64 00 00 00 00 00 00 00 00",
    );
    rx(
        "v3-ipv4-pseudo",
        "",
        s4,
        g4,
        "31 33 64 01 00 64 06 22 c0 a8 01 64",
    );
    rx(
        "v3-ipv4-plain",
        "",
        s4,
        g4,
        "31 33 64 01 00 64 a8 5a c0 a8 01 64",
    );
    rx(
        "v3-ipv4-padded",
        "",
        s4,
        g4,
        "31 33 64 01 00 64 06 22 c0 a8 01 64 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
    );
    rx(
        "v3-ipv6",
        "",
        s6,
        g6,
        "31 33 64 02 00 64 3d fd fe 80 00 00 00 00 00 00 00 00 00 00 00 00 01 00 \
         20 01 0d b8 00 00 00 00 00 00 00 00 00 00 01 00",
    );
    // vrrp/tests.rs auth_vectors(): simple, P0, P1 and P1 with two addresses.
    rx(
        "v2-simple",
        "secret",
        s4,
        g4,
        "21 01 64 01 01 01 33 af 0a 00 00 01 73 65 63 72 65 74 00 00",
    );
    rx(
        "v2-p0",
        "rvrrpd",
        s4,
        g4,
        "21 33 64 01 fa 01 72 92 c0 a8 01 64 b9 dd 51 ac fe 5c 42 43",
    );
    rx(
        "v2-p1",
        "rvrrpd",
        s4,
        g4,
        "21 33 64 01 fb 01 91 98 c0 a8 01 64 1e 3f 5c de 18 a0 98 66",
    );
    rx(
        "v2-p1-two-addrs",
        "a longer secret of 32 bytes!!!!!",
        s4,
        g4,
        "21 07 c8 02 fb 03 0d 99 0a 01 01 01 0a 01 01 02 3d f3 1f 65 59 b2 41 49",
    );
    // rejects_*: TTL 254, count zero, v2 over IPv6.
    out.push((
        "vrrp_codec",
        "v2-ttl-254".into(),
        codec::encode_rx(
            254,
            b"",
            s4,
            g4,
            &hex("21 33 64 01 00 01 b8 bd c0 a8 01 64 00 00 00 00 00 00 00 00"),
        ),
    ));
    out.push((
        "vrrp_codec",
        "v2-over-ipv6".into(),
        codec::encode_rx(
            255,
            b"",
            s6,
            g6,
            &[hex("21 33 64 01 00 01 b8 bd c0 a8 01 64"), vec![0; 20]].concat(),
        ),
    ));
    // Structure-aware modes: a few patterned byte strings.
    for (i, fill) in [0x00u8, 0x5a, 0xff].into_iter().enumerate() {
        let bytes: Vec<u8> = (0..96u8).map(|b| b.wrapping_mul(37) ^ fill).collect();
        out.push((
            "vrrp_codec",
            format!("structured-{i}"),
            [vec![codec::STRUCTURED], bytes.clone()].concat(),
        ));
        out.push((
            "vrrp_codec",
            format!("cache-{i}"),
            [vec![codec::CACHE], bytes].concat(),
        ));
    }
}

/// The frames of `frame.rs`'s tests: P0 over IPv4, v3 over IPv6, v3/IPv4 plain.
fn test_frames() -> Vec<(&'static str, Vec<u8>)> {
    let mut frames = Vec::new();
    if let Ok(key) = AuthKey::new(AuthType::P0Sha256, "rvrrpd") {
        let repr = VrrpRepr::v2(51, 100, 1, vec![v4("192.168.1.100")], &key);
        if let Ok(f) = advert_frame(&repr, v4("192.168.1.1"), V3Checksum::default(), &key) {
            frames.push(("ipv4-p0", f));
        }
    }
    let none = AuthKey::none();
    let repr = VrrpRepr::v3(7, 200, 100, vec![v6("fe80::7"), v6("2001:db8::7")]);
    if let Ok(f) = advert_frame(&repr, v6("fe80::1"), V3Checksum::default(), &none) {
        frames.push(("ipv6-v3", f));
    }
    let repr = VrrpRepr::v3(51, 100, 100, vec![v4("192.168.1.100")]);
    if let Ok(f) = advert_frame(&repr, v4("192.168.1.1"), V3Checksum::Plain, &none) {
        frames.push(("ipv4-v3-plain", f));
    }
    frames
}

fn frame_seeds(out: &mut Vec<Seed>) {
    let frames = test_frames();
    for (name, f) in &frames {
        out.push((
            "frames",
            format!("eth-{name}"),
            [vec![0], f.clone()].concat(),
        ));
        out.push((
            "frames",
            format!("lab-{name}"),
            [vec![3], f.clone()].concat(),
        ));
        // ethernet.rs vlan_tags_are_skipped: 802.1ad + 802.1Q in front.
        let mut tagged = f[..12].to_vec();
        tagged.extend_from_slice(&[0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14]);
        tagged.extend_from_slice(&f[12..]);
        out.push((
            "frames",
            format!("eth-vlan-{name}"),
            [vec![0], tagged].concat(),
        ));
        let ip = f[14..].to_vec();
        let selector = if f[12] == 0x86 { 2 } else { 1 };
        out.push((
            "frames",
            format!("ip-{name}"),
            [vec![selector], ip].concat(),
        ));
    }
    // ip.rs ipv4_parse_with_options_and_padding (IHL 6, router alert, checksum filled in).
    let mut pkt = vec![0u8; 34];
    pkt[0] = 0x46;
    pkt[2..4].copy_from_slice(&28u16.to_be_bytes());
    pkt[8] = 255;
    pkt[9] = 112;
    pkt[12..16].copy_from_slice(&[10, 0, 0, 1]);
    pkt[16..20].copy_from_slice(&[224, 0, 0, 18]);
    pkt[20..28].copy_from_slice(&[0x94, 0x04, 0x00, 0x00, 1, 2, 3, 4]);
    let c = rvrrpd::wire::checksum::checksum(&pkt[..24]);
    pkt[10..12].copy_from_slice(&c.to_be_bytes());
    out.push(("frames", "ipv4-options".into(), [vec![1], pkt].concat()));
    // ip.rs ipv6_header_layout_and_extensions: hop-by-hop → destination options → VRRP.
    let mut pkt = vec![0u8; 60];
    pkt[..8].copy_from_slice(&[0x6c, 0, 0, 0, 0, 20, 0, 0xff]);
    pkt[8] = 0xfe;
    pkt[9] = 0x80;
    pkt[23] = 1;
    pkt[24] = 0xff;
    pkt[25] = 0x02;
    pkt[39] = 0x12;
    pkt[40] = 60;
    pkt[48] = 112;
    pkt[56..60].copy_from_slice(&[9, 9, 9, 9]);
    out.push((
        "frames",
        "ipv6-extensions".into(),
        [vec![2], pkt.clone()].concat(),
    ));
    pkt[48] = 44; // fragment header
    out.push(("frames", "ipv6-fragment".into(), [vec![2], pkt].concat()));
    // arp.rs / ndisc.rs byte_layout: VRID 51's MAC and 192.168.1.100; fe80::1 → 2001:db8::7.
    let mut w = Writer::new();
    w.u8(4)
        .bytes(&[0, 0, 0x5e, 0, 1, 0x33])
        .bytes(&[192, 168, 1, 100]);
    if let (IpAddr::V6(a), IpAddr::V6(b)) = (v6("fe80::1"), v6("2001:db8::7")) {
        w.bytes(&a.octets()).bytes(&b.octets());
    }
    w.u8(1).u8(41);
    out.push(("frames", "announcements".into(), w.finish()));
    // pcap.rs: the test frames written as captures, micro- and nanosecond.
    for nanos in [false, true] {
        let w = if nanos {
            PcapWriter::new_nanosecond(Vec::new(), Linktype::Ethernet, 65535)
        } else {
            PcapWriter::new(Vec::new(), Linktype::Ethernet, 65535)
        };
        let Ok(mut w) = w else { continue };
        for (i, (_, f)) in frames.iter().enumerate() {
            let _ = w.write_record(Duration::new(1_700_000_000 + i as u64, 123_456_789), f);
        }
        let name = if nanos { "pcap-nanos" } else { "pcap-micros" };
        out.push(("frames", name.into(), [vec![5], w.into_inner()].concat()));
    }
}

fn config_seeds(conf: &Path, out: &mut Vec<Seed>) {
    let mut files: Vec<_> = std::fs::read_dir(conf)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let json = text.trim_start().starts_with('{');
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push((
            "config",
            format!("conf-{name}"),
            [vec![u8::from(json)], text.into_bytes()].concat(),
        ));
    }
    out.push((
        "config",
        "mock-sample".into(),
        [
            vec![0],
            rvrrpd::api::mock::SAMPLE_CONFIG.as_bytes().to_vec(),
        ]
        .concat(),
    ));
    // config/tests.rs: the minimal router, and routers with each extension the tests cover.
    let minimal = "[[vrouter]]\ngroup = 1\ninterface = \"eth0\"\nvip = \"10.0.0.1\"\n";
    let extras = [
        ("minimal", ""),
        ("v3-ipv6", "version = 3\n"),
        ("macvlan", "iftype = \"macvlan\"\nnetdrv = \"ioctl\"\n"),
        (
            "p1",
            "auth_type = \"p1-b8-shake256\"\nauth_secret = \"secret\"\nrfc3768 = false\n",
        ),
        (
            "timers",
            "timers = { advert = 0.5 }\nversion = 3\ngarp_repeat = 3\ngarp_interval = 0.5\n",
        ),
    ];
    for (name, extra) in extras {
        let mut text = format!("{minimal}{extra}");
        if name == "v3-ipv6" {
            text = text.replace("10.0.0.1", "fe80::1/64");
        }
        out.push((
            "config",
            format!("toml-{name}"),
            [vec![0], text.into_bytes()].concat(),
        ));
    }
    let json = r#"{"workers": 2, "vrouter": [{"group": 1, "interface": "eth0", "vip": ["10.0.0.1/24", "10.0.0.2"], "priority": 254}], "protocols": {"static": [{"route": "10.1.0.0", "mask": "255.255.0.0", "nh": "10.0.0.254"}]}}"#;
    out.push((
        "config",
        "json-routes".into(),
        [vec![1], json.as_bytes().to_vec()].concat(),
    ));
}

fn api_seeds(out: &mut Vec<Seed>) {
    let login = |user: u8, form: Form, right| {
        Step::Login(Login {
            peer: 1,
            form,
            user,
            right_password: right,
            json_type: false,
        })
    };
    let call = |method: u8, t: u8, g: u8, i: u8, cookies: Cookies, body: Body| {
        Step::Call(Call {
            peer: 1,
            method,
            path: Ok((t, g, i)),
            cookies,
            body,
            json_type: true,
        })
    };
    let s = |i| Cookies::Session(i);
    let sequences: Vec<(&str, Vec<Step>)> = vec![
        // Read, write and log out as admin (read-write), space form.
        (
            "admin-session",
            vec![
                login(0, Form::Space, true),
                call(0, 3, 1, 0, s(0), Body::Empty),
                call(2, 15, 1, 0, s(0), Body::Priority(200)),
                call(2, 16, 1, 0, s(0), Body::Preemption(false)),
                call(1, 17, 1, 0, s(0), Body::Empty),
                Step::Logout(1, 0),
                call(0, 3, 1, 0, s(0), Body::Empty),
            ],
        ),
        // A read-only user is refused writes; intact, altered and wrapped cookies.
        (
            "reader-session",
            vec![
                login(1, Form::Urlencoded, true),
                call(2, 15, 1, 0, s(0), Body::Priority(50)),
                call(0, 5, 1, 0, Cookies::Altered(0, 3), Body::Empty),
                call(
                    0,
                    5,
                    2,
                    1,
                    Cookies::Wrapped(0, b"a=1; ".to_vec(), b"; b=\"2\"".to_vec()),
                    Body::Empty,
                ),
            ],
        ),
        // JSON login, add and remove a router, metrics with and without a session.
        (
            "vrouters",
            vec![
                login(2, Form::Json, true),
                call(1, 12, 0, 0, s(0), Body::VRouter(0, 9)),
                call(0, 13, 9, 2, s(0), Body::Empty),
                call(3, 13, 9, 2, s(0), Body::Empty),
                call(0, 2, 0, 0, Cookies::None, Body::Empty),
                Step::Call(Call {
                    peer: 0,
                    method: 0,
                    path: Ok((2, 0, 0)),
                    cookies: Cookies::None,
                    body: Body::Empty,
                    json_type: false,
                }),
            ],
        ),
        // Five wrong passwords lock the address out; unknown user; raw paths and cookies.
        (
            "throttle",
            vec![
                login(0, Form::Space, false),
                login(0, Form::Space, false),
                login(7, Form::Json, true),
                login(0, Form::Urlencoded, false),
                login(1, Form::Space, false),
                login(0, Form::Space, true),
                Step::Call(Call {
                    peer: 1,
                    method: 0,
                    path: Err(b"/run/%76rrp/".to_vec()),
                    cookies: Cookies::Raw(b"user=admin; ts=1; nonce=2; token=00".to_vec()),
                    body: Body::Empty,
                    json_type: false,
                }),
                Step::Call(Call {
                    peer: 2,
                    method: 1,
                    path: Err(b"/%zz".to_vec()),
                    cookies: Cookies::None,
                    body: Body::Empty,
                    json_type: false,
                }),
            ],
        ),
    ];
    for (name, steps) in sequences {
        out.push(("api", name.into(), crate::api::encode(&steps)));
    }
    // api/login.rs tests: the bodies of every form, accepted and refused.
    let bodies: [&[u8]; 15] = [
        b"user=admin passwd=banana",
        b"user=u&passwd=p%26s%3Ds%20w%25rd",
        b"user=admin passwd=a&b=c%41",
        b"user=admin&passwd=ban%20a+na",
        b"password=x&user=op",
        br#"{"user":"admin","passwd":"banana"}"#,
        br#" {"user":"admin","password":"banana"}"#,
        b"user=admin",
        b"user=a&passwd=%zz",
        b"\xff\xfe",
        b"user=admin&passwd=banana&x=1",
        b"user=admin  passwd=banana",
        b"user=admin&passwd=banana&user=root",
        br#"{"user":"admin","passwd":"banana","user":"root"}"#,
        b"  \r\n",
    ];
    for (i, body) in bodies.iter().enumerate() {
        let steps = [
            Step::Login(Login {
                peer: 2,
                form: Form::Raw(body.to_vec()),
                user: 0,
                right_password: true,
                json_type: i % 5 == 4,
            }),
            Step::Call(Call {
                peer: 2,
                method: 0,
                path: Ok((3, 0, 0)),
                cookies: s(0),
                body: Body::Empty,
                json_type: false,
            }),
        ];
        out.push((
            "api",
            format!("login-body-{i:02}"),
            crate::api::encode(&steps),
        ));
    }
}

fn wheel_seeds(out: &mut Vec<Seed>) {
    use Op::*;
    let scenarios: [(&str, u64, usize, u64, Vec<Op>); 6] = [
        // fires_in_deadline_order_never_early (deadlines 5.5, 5.2, 30, 14 ms).
        (
            "deadline-order",
            1000,
            16,
            0,
            vec![
                Insert(10_500),
                Insert(10_200),
                Insert(35_000),
                Insert(19_000),
                Advance(5_199),
                Advance(1),
                Advance(8_800),
                Advance(15_999),
                Advance(70_000),
            ],
        ),
        // sub_tick_order_and_fifo_ties.
        (
            "fifo-ties",
            1000,
            8,
            0,
            vec![
                Insert(6_900),
                Insert(6_100),
                Insert(6_500),
                Insert(6_500),
                Advance(2_000),
            ],
        ),
        // past_deadlines_fire_on_next_advance.
        (
            "past-deadlines",
            1000,
            8,
            50_000,
            vec![InsertAt(10), Insert(4_999), Advance(0)],
        ),
        // cancel_and_stale_ids, poll_skips_entries_cancelled_or_rescheduled_after_collection.
        (
            "cancel-stale",
            100,
            64,
            0,
            vec![
                Insert(6_000),
                Insert(7_000),
                Cancel(0),
                CancelStale(0),
                RescheduleStale(0, 5),
                Insert(8_000),
                Advance(2_500),
                Reschedule(0, 5_100),
                PollSome(100, 1),
                Advance(1_000),
            ],
        ),
        // long_jump_visits_everything_once, next_deadline_beyond_one_revolution_is_exact.
        (
            "long-jump",
            1000,
            4,
            0,
            vec![
                Insert(5_000),
                Insert(8_333),
                Insert(11_666),
                Insert(105_500),
                Insert(95_700),
                Advance(1_000_000),
            ],
        ),
        // poll_at_an_earlier_now_keeps_later_order, clear_makes_ids_stale.
        (
            "earlier-now",
            1000,
            8,
            0,
            vec![
                Insert(10_000),
                Insert(8_000),
                PollSome(6_000, 1),
                InsertAt(4_000),
                PollEarlier(4_000),
                Advance(4_000),
                Insert(100),
                Clear,
                Advance(1_000),
            ],
        ),
    ];
    for (name, tick_us, slots, start, ops) in scenarios {
        let s = wheel::Scenario {
            tick_us,
            slots,
            start,
            ops,
        };
        out.push(("timer_wheel", name.into(), wheel::encode(&s)));
    }
}
