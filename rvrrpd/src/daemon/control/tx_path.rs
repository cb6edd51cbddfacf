//! The transmit path chosen at start-up (`tx_path`, issue 10 part 2): the AF_PACKET
//! sockets, or the XDP path on the interfaces where `vrrp_demux` runs in driver mode (with
//! `auto`, the default: while their driver reports XDP transmit, `xdp_features` &
//! `NDO_XMIT`, followed as it changes). The description is logged and reported by the API
//! (`tx_path` of `GET /run/daemon`, with the interfaces in use at the time of the request).

use std::sync::Arc;

use tracing::{info, warn};

use crate::config::TxPath;
use crate::daemon::worker::{XdpTxPlan, XmitIfaces, XDP_MIN_BATCH};
use crate::net::xdp::{AttachMode, FastPath};
use crate::net::xdp_features::{FeatureWatch, Features, NDO_XMIT};

/// What the workers use, and its description.
pub(super) fn choose(want: TxPath, fast: Option<&mut FastPath>) -> (Option<XdpTxPlan>, String) {
    const PACKET: &str = "AF_PACKET sendmmsg";
    if want == TxPath::Packet {
        return (None, PACKET.to_string());
    }
    let key = want.as_str();
    let fallback = |why: String| {
        warn!("tx_path = \"{key}\": {why}; sending on AF_PACKET sockets");
        (None, format!("{PACKET} (tx_path = {key}: {why})"))
    };
    let Some(fast) = fast else {
        return fallback("no eBPF fast path".into());
    };
    let (driver, other): (Vec<_>, Vec<_>) = fast
        .attached()
        .map(|(name, ifindex, mode)| (name.to_string(), ifindex, mode))
        .partition(|(_, _, mode)| *mode == AttachMode::Driver);
    if driver.is_empty() {
        return fallback("XDP is not attached in driver mode on any interface".into());
    }
    // `auto` subscribes to the drivers' changes before it reads their features, so that no
    // change falls between the two.
    let watch = match want {
        TxPath::Auto => match FeatureWatch::open() {
            Ok(w) => Some(w),
            Err(e) => return fallback(format!("cannot follow the drivers' XDP transmit: {e}")),
        },
        _ => None,
    };
    // `xdp` only asks, to warn about the interfaces that report no XDP transmit.
    let own = match watch {
        Some(_) => None,
        None => Features::open().map_err(|e| warn!("{e}")).ok(),
    };
    let features = watch.as_ref().map(FeatureWatch::queries).or(own.as_ref());
    let mut entries = Vec::new();
    for (name, ifindex, _) in driver {
        let xmit = match features.map(|f| f.get(ifindex)) {
            Some(Ok(f)) => f & NDO_XMIT != 0,
            Some(Err(e)) => {
                warn!("{name}: {e}");
                false
            }
            None => false,
        };
        if !xmit && want == TxPath::Xdp {
            warn!(
                "tx_path = \"xdp\": {name} reports no XDP transmit (xdp_features): its \
                 driver (or, on veth, its peer) may drop the adverts; \"auto\" would \
                 use the AF_PACKET socket there while it does"
            );
        }
        entries.push((ifindex, name, xmit || want == TxPath::Xdp));
    }
    let tx = match fast.xdp_tx() {
        Ok(tx) => tx,
        Err(e) => return fallback(e.to_string()),
    };
    let ifaces = Arc::new(XmitIfaces::new(entries));
    let names: Vec<&str> = ifaces.all().map(|(_, n)| n).collect();
    let mut desc = format!(
        "XDP live frames for turns of {XDP_MIN_BATCH}+ adverts on {}{}, {PACKET} otherwise",
        names.join(", "),
        if watch.is_some() {
            " while their drivers report XDP transmit"
        } else {
            ""
        }
    );
    if !other.is_empty() {
        let others: Vec<&str> = other.iter().map(|(n, _, _)| n.as_str()).collect();
        desc.push_str(&format!(
            " and on {} (XDP not in driver mode)",
            others.join(", ")
        ));
    }
    if let Some(watch) = watch {
        follow(watch, Arc::clone(&ifaces));
    }
    (Some(XdpTxPlan { tx, ifaces }), desc)
}

/// What the API adds to the description: the interfaces the XDP path sends on now.
pub(super) fn now(ifaces: &XmitIfaces) -> String {
    let (on, off) = ifaces.split();
    let list = |v: Vec<&str>| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    format!(
        "; XDP transmit now on: {}; AF_PACKET now on: {}",
        list(on),
        list(off)
    )
}

/// Follows the drivers' XDP transmit in a thread of its own (it sleeps in `recv` until a
/// device changes): an interface whose driver stops reporting it sends on its socket from
/// the workers' next turn (on veth: the peer lost its XDP program and GRO, and would drop
/// the frames without telling anyone), and returns to the XDP path when it reports it again.
fn follow(watch: FeatureWatch, ifaces: Arc<XmitIfaces>) {
    let theirs = Arc::clone(&ifaces);
    let spawned = std::thread::Builder::new()
        .name("rvrrpd-xdp-tx".into())
        .spawn(move || follow_changes(watch, &theirs));
    if let Err(e) = spawned {
        warn!("following the drivers' XDP transmit: {e}; adverts on the AF_PACKET sockets");
        all_off(&ifaces);
    }
}

/// The following thread: applies each change until the socket keeps failing.
fn follow_changes(mut watch: FeatureWatch, ifaces: &XmitIfaces) {
    /// Receive errors in a row after which the thread gives up (every interface then sends
    /// on its socket): one is lost notifications, a run of them a broken socket.
    const MAX_ERRORS: u32 = 10;
    let mut errors = 0;
    loop {
        let changes = match watch.changes() {
            Ok(c) => {
                errors = 0;
                c
            }
            Err(e) if errors >= MAX_ERRORS => {
                warn!(
                    "{e}; no longer following the drivers' XDP transmit: adverts on the \
                     AF_PACKET sockets"
                );
                all_off(ifaces);
                return;
            }
            Err(e) => {
                errors += 1;
                // Most likely notifications lost (ENOBUFS): read every interface again.
                warn!("{e}; reading every interface's XDP transmit again");
                std::thread::sleep(std::time::Duration::from_millis(100));
                reread(&watch, ifaces)
            }
        };
        for (ifindex, features) in changes {
            let on = features & NDO_XMIT != 0;
            match ifaces.set(ifindex, on) {
                Some(name) if on => {
                    info!("{name}: the driver reports XDP transmit: adverts through XDP")
                }
                Some(name) => warn!(
                    "{name}: the driver no longer reports XDP transmit (on veth: the peer has \
                     no XDP program or GRO); adverts on the AF_PACKET socket"
                ),
                None => {}
            }
        }
    }
}

/// Every interface's features read again (none for one that cannot be read).
fn reread(watch: &FeatureWatch, ifaces: &XmitIfaces) -> Vec<(u32, u64)> {
    ifaces
        .all()
        .map(|(ifindex, name)| match watch.queries().get(ifindex) {
            Ok(f) => (ifindex, f),
            Err(e) => {
                warn!("{name}: {e}; its adverts go on the AF_PACKET socket");
                (ifindex, 0)
            }
        })
        .collect()
}

/// Every interface of the path back to its socket.
fn all_off(ifaces: &XmitIfaces) {
    for (ifindex, _) in ifaces.all() {
        ifaces.set(ifindex, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_says_which_interfaces_each_path_sends_on_now() {
        let ifaces = XmitIfaces::new([(2, "s0".to_string(), true), (3, "s1".to_string(), false)]);
        assert_eq!(
            now(&ifaces),
            "; XDP transmit now on: s0; AF_PACKET now on: s1"
        );
        ifaces.set(2, false);
        assert_eq!(
            now(&ifaces),
            "; XDP transmit now on: none; AF_PACKET now on: s0, s1"
        );
    }
}
