//! The configuration loader: `[format] document…`, the format byte's low bit choosing TOML (0)
//! or JSON (1), the rest the text (UTF-8, lossily).
//!
//! `Config::from_str` (parse, locate, validate) returns a configuration or a typed error,
//! never panics; an error's line lies within the text. An accepted configuration keeps every
//! promise validation makes (ranges, one family per router, version rules, authentication,
//! uniqueness, routes), validates again unchanged, and each of its virtual routers, shown as
//! the API shows it (plus its secret), is accepted back by `POST /config/vrouter`'s validation
//! as the same router.

#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use rvrrpd::auth::{AuthKey, AuthType};
use rvrrpd::config::{
    AddressFamily, Config, Format, IfType, NetDriver, ProtocolVersion,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(text);
    let format = if selector & 1 == 0 {
        Format::Toml
    } else {
        Format::Json
    };
    let _ = Format::detect(None, &text);
    match Config::from_str(&text, Some(format), "fuzz.conf") {
        Ok(config) => accepted(config),
        Err(e) => {
            let _ = e.to_string();
            if let Some(line) = e.line() {
                let lines = text.lines().count().max(1);
                assert!(
                    line >= 1 && line <= lines + 1,
                    "line {line} of {lines}: {e}"
                );
            }
        }
    }
});

fn accepted(mut config: Config) {
    if let Some(w) = config.workers {
        assert!((1..=16).contains(&w));
    }
    if let Some(p) = config.realtime_priority {
        assert!((1..=99).contains(&p));
    }
    if let Some(n) = config.worker_nice {
        assert!((-20..=19).contains(&n));
    }
    if let Some(n) = config.advert_slots {
        assert!((1..=1000).contains(&n));
    }
    if config.client_api.is_some() {
        assert!(config.api.is_some(), "client_api without [api]");
    }
    let mut instances = HashSet::new();
    let mut vifnames = HashSet::new();
    for vr in &config.vrouters {
        assert!(vr.group.get() >= 1);
        assert!((1..=254).contains(&vr.priority.get()));
        assert!(vr.garp_repeat.get() >= 1);
        let family = vr.family();
        assert!(!vr.vip.is_empty());
        assert!(
            vr.vip.iter().all(|v| v.family() == family),
            "mixed families"
        );
        let distinct: HashSet<_> = vr.vip.iter().map(|v| v.addr).collect();
        assert_eq!(distinct.len(), vr.vip.len(), "repeated vip");
        for v in &vr.vip {
            assert!(v.effective_prefix_len() <= family.max_prefix_len());
        }
        let centis = vr.timers.advert.centis();
        match vr.version {
            ProtocolVersion::V2 => {
                assert_eq!(family, AddressFamily::Ipv4, "VRRPv2 over IPv6");
                assert!(centis % 100 == 0 && (100..=25500).contains(&centis));
            }
            ProtocolVersion::V3 => assert!((1..=4095).contains(&centis)),
        }
        if let Some(auth) = vr.auth_type {
            assert_eq!(
                vr.version,
                ProtocolVersion::V2,
                "authentication with VRRPv3"
            );
            let secret = vr.auth_secret_bytes().expect("auth_type without a secret");
            // The daemon builds its key from these (one AuthType from the file to the wire):
            // it must be constructible, and never "no authentication".
            assert_ne!(auth, AuthType::None, "auth_type parsed as none");
            if let Err(e) = AuthKey::new(auth, secret.to_vec()) {
                panic!("accepted secret makes no key: {e}");
            }
            if auth.is_proprietary() {
                assert!(vr.rfc3768, "proprietary auth forces rfc3768");
            }
        }
        if vr.iftype == IfType::Macvlan {
            assert_eq!(vr.netdrv, NetDriver::Libnl);
            assert_ne!(*vr.vifname(), *vr.interface.as_str());
            assert!(
                vifnames.insert(vr.vifname().into_owned()),
                "repeated vifname"
            );
        }
        assert!(
            instances.insert((vr.interface.as_str().to_string(), vr.group, family)),
            "repeated (interface, group, family)"
        );
        round_trip_through_api(vr);
    }
    let mut routes = HashSet::new();
    for r in config.static_routes() {
        let mask = u32::from(r.mask.addr());
        assert_eq!(u32::from(r.route) & mask, u32::from(r.route), "host bits");
        assert_eq!(
            mask.leading_ones() + mask.trailing_zeros(),
            32,
            "contiguous mask"
        );
        assert!(routes.insert((r.route, r.prefix_len())), "repeated route");
    }
    if let Some(api) = &config.api {
        let users: HashSet<_> = api.users.iter().map(|u| u.user.as_str()).collect();
        assert_eq!(users.len(), api.users.len(), "repeated user");
    }
    // Validation is idempotent: an accepted configuration stays accepted and unchanged.
    let before = config.clone();
    if let Err(e) = config.validate() {
        panic!("accepted configuration fails validation again: {e}");
    }
    config.warnings = before.warnings.clone();
    assert_eq!(config, before);
}

/// `GET /config/vrouter` shows a router as JSON (without its secret); with the secret put
/// back, `POST /config/vrouter` accepts it as the same router.
fn round_trip_through_api(vr: &rvrrpd::config::VRouter) {
    let mut value = serde_json::to_value(vr).expect("a vrouter serializes");
    let secret = vr.auth_secret.as_ref().map(rvrrpd::config::Secret::expose);
    if let (Some(secret), Some(map)) = (secret, value.as_object_mut()) {
        let Ok(secret) = std::str::from_utf8(secret) else {
            return;
        };
        map.insert("auth_secret".into(), secret.into());
    }
    let body = serde_json::to_vec(&value).expect("JSON");
    match rvrrpd::api::routes::validate_vrouter(&body) {
        Ok(again) => assert_eq!(&again, vr, "{value}"),
        Err(e) => panic!("a valid router shown by the API is refused back: {e}: {value}"),
    }
}
