//! `-m 0`: print every VRRP advert seen on one interface, one line each, until interrupted.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::auth::AuthType;
use crate::net::sniff::Sniffer;
use crate::wire::{parse_ethernet_frame, RxMeta, Version, VrrpPacket, VrrpRepr};

/// Runs the sniffer on `iface` until SIGINT/SIGTERM.
pub fn run(iface: &str) -> Result<(), crate::net::NetError> {
    let mut sniffer = Sniffer::open(iface)?;
    // A plain flag: the loop below polls it between bounded waits.
    let stop = super::sys::stop_flag_on_signals(&[libc::SIGINT, libc::SIGTERM])
        .map_err(|e| crate::net::NetError::os("installing signal handlers", e))?;
    println!("rvrrpd: listening for VRRP on {iface} (Ctrl-C to stop)");
    while !stop.load(Ordering::Relaxed) {
        if !sniffer.wait_readable(Duration::from_millis(200))? {
            continue;
        }
        while let Some(f) = sniffer.recv()? {
            if let Some(line) = describe(f.frame) {
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// One human-readable line for a VRRP frame, or None if it is not one.
pub fn describe(frame: &[u8]) -> Option<String> {
    let view = parse_ethernet_frame(frame).ok()?;
    let meta = RxMeta {
        src: view.src_ip,
        dst: view.dst_ip,
        ttl: view.ttl,
    };
    let now = time::OffsetDateTime::now_utc();
    let ts = format!(
        "{:02}:{:02}:{:02}.{:03}",
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    );
    let parsed = VrrpPacket::new_checked(view.vrrp).and_then(|p| VrrpRepr::parse(&p, &meta));
    Some(match parsed {
        Ok(p) => {
            let r = &p.repr;
            let interval = match r.version {
                Version::V2 => format!("{}s", r.max_advert_int),
                Version::V3 => format!("{}cs", r.max_advert_int),
            };
            let auth = match r.version {
                Version::V2 => AuthType::from_number(r.auth_type).map_or_else(
                    || format!(" auth={}", r.auth_type),
                    |a| format!(" auth={}", a.name()),
                ),
                Version::V3 => String::new(),
            };
            let addrs: Vec<String> = r.addrs.iter().map(|a| a.to_string()).collect();
            format!(
                "{ts} {} {} > {} VRRPv{} vrid={} prio={} intvl={interval}{auth} addrs=[{}] ttl={}",
                view.src_mac,
                view.src_ip,
                view.dst_ip,
                if r.version == Version::V2 { 2 } else { 3 },
                r.vrid,
                r.priority,
                addrs.join(","),
                view.ttl
            )
        }
        Err(e) => format!(
            "{ts} {} {} > {} invalid VRRP: {e}",
            view.src_mac, view.src_ip, view.dst_ip
        ),
    })
}
