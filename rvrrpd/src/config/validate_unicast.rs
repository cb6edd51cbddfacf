//! Checks of the unicast directives (`unicast_peer`, `unicast_src`, `unicast_ttl`,
//! `unicast_min_ttl`) of one `[[vrouter]]`.

use std::net::IpAddr;

use super::error::ConfigError;
use super::serde_util::value_error;
use super::validate::Context;
use super::{AddressFamily, VRouter};

/// Most unicast peers per vrouter: each is a comparison in the kernel filters (nine classic
/// BPF instructions for IPv6), and every advert is sent once per peer.
pub const MAX_UNICAST_PEERS: usize = 64;

fn family_of(a: &IpAddr) -> AddressFamily {
    match a {
        IpAddr::V4(_) => AddressFamily::Ipv4,
        IpAddr::V6(_) => AddressFamily::Ipv6,
    }
}

fn family_word(f: AddressFamily) -> &'static str {
    match f {
        AddressFamily::Ipv4 => "IPv4",
        AddressFamily::Ipv6 => "IPv6",
    }
}

/// Why `a` cannot be a unicast endpoint, if it cannot.
fn unusable(a: &IpAddr) -> Option<&'static str> {
    if a.is_unspecified() {
        Some("is the unspecified address")
    } else if a.is_multicast() {
        Some("is a multicast address (unicast mode sends to each peer's own address)")
    } else if a.is_loopback() {
        Some("is a loopback address")
    } else {
        None
    }
}

/// Validates the unicast directives of `vr` (path `p`, e.g. `vrouter[0]`).
pub(super) fn unicast(vr: &VRouter, p: &str, ctx: &Context<'_>) -> Result<(), ConfigError> {
    if !vr.is_unicast() {
        let set = [
            ("unicast_src", vr.unicast_src.is_some()),
            ("unicast_ttl", vr.unicast_ttl != 255),
            ("unicast_min_ttl", vr.unicast_min_ttl != 255),
        ];
        if let Some((name, _)) = set.iter().find(|(_, set)| *set) {
            return Err(ctx.error(
                &format!("{p}.{name}"),
                format!("needs unicast_peer: without peers the vrouter runs in multicast mode, where {name} has no meaning"),
            ));
        }
        return Ok(());
    }
    let family = vr.family();
    let at = format!("{p}.unicast_peer");
    if vr.unicast_peer.len() > MAX_UNICAST_PEERS {
        return Err(ctx.error(
            &at,
            format!(
                "lists {} peers; at most {MAX_UNICAST_PEERS} are allowed",
                vr.unicast_peer.len()
            ),
        ));
    }
    for (i, peer) in vr.unicast_peer.iter().enumerate() {
        if family_of(peer) != family {
            return Err(ctx.error(
                &at,
                value_error(
                    peer,
                    format_args!(
                        "is an {} address, but the vrouter's virtual addresses are {}",
                        family_word(family_of(peer)),
                        family_word(family)
                    ),
                ),
            ));
        }
        if let Some(why) = unusable(peer) {
            return Err(ctx.error(&at, value_error(peer, why)));
        }
        if vr.unicast_peer[..i].contains(peer) {
            return Err(ctx.error(&at, value_error(peer, "is listed twice")));
        }
    }
    if let Some(src) = &vr.unicast_src {
        let at = format!("{p}.unicast_src");
        if family_of(src) != family {
            return Err(ctx.error(
                &at,
                value_error(
                    src,
                    format_args!(
                        "is an {} address, but the vrouter's virtual addresses are {}",
                        family_word(family_of(src)),
                        family_word(family)
                    ),
                ),
            ));
        }
        if let Some(why) = unusable(src) {
            return Err(ctx.error(&at, value_error(src, why)));
        }
        if vr.unicast_peer.contains(src) {
            return Err(ctx.error(
                &at,
                value_error(
                    src,
                    "is also listed in unicast_peer (we would advertise to ourselves)",
                ),
            ));
        }
    }
    for (name, v) in [
        ("unicast_ttl", vr.unicast_ttl),
        ("unicast_min_ttl", vr.unicast_min_ttl),
    ] {
        if v == 0 {
            return Err(ctx.error(&format!("{p}.{name}"), "= 0 is out of range (1–255)"));
        }
    }
    Ok(())
}
