//! The transmit path chosen at start-up (`tx_path`, issue 10 part 2): the AF_PACKET
//! sockets, or the XDP path on the interfaces where `vrrp_demux` runs in driver mode (with
//! `auto`: and whose driver reports XDP transmit, `xdp_features` & `NDO_XMIT`). The
//! description is logged and reported by the API (`tx_path` of `GET /run/daemon`).

use tracing::warn;

use crate::config::TxPath;
use crate::daemon::worker::{XdpTxPlan, XDP_MIN_BATCH};
use crate::net::xdp::{AttachMode, FastPath};
use crate::net::xdp_features::{xdp_features, NDO_XMIT};

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
    let (mut driver, other): (Vec<_>, Vec<_>) = fast
        .attached()
        .map(|(name, ifindex, mode)| (name.to_string(), ifindex, mode))
        .partition(|(_, _, mode)| *mode == AttachMode::Driver);
    let mut no_xmit = Vec::new();
    driver.retain(|(name, ifindex, _)| {
        let xmit = match xdp_features(*ifindex) {
            Ok(f) => f & NDO_XMIT != 0,
            Err(e) => {
                warn!("{name}: {e}");
                false
            }
        };
        if !xmit {
            no_xmit.push(name.clone());
            if want == TxPath::Xdp {
                warn!(
                    "tx_path = \"xdp\": {name} reports no XDP transmit (xdp_features): its \
                     driver (or, on veth, its peer) may drop the adverts; \"auto\" would \
                     use the AF_PACKET socket there"
                );
            }
        }
        xmit || want == TxPath::Xdp
    });
    if driver.is_empty() {
        return fallback(if no_xmit.is_empty() {
            "XDP is not attached in driver mode on any interface".into()
        } else {
            format!("no XDP transmit on {}", no_xmit.join(", "))
        });
    }
    let tx = match fast.xdp_tx() {
        Ok(tx) => tx,
        Err(e) => return fallback(e.to_string()),
    };
    let names: Vec<&str> = driver.iter().map(|(n, _, _)| n.as_str()).collect();
    let mut desc = format!(
        "XDP live frames for turns of {XDP_MIN_BATCH}+ adverts on {}, {PACKET} otherwise",
        names.join(", ")
    );
    if !other.is_empty() {
        let others: Vec<&str> = other.iter().map(|(n, _, _)| n.as_str()).collect();
        desc.push_str(&format!(
            " and on {} (XDP not in driver mode)",
            others.join(", ")
        ));
    }
    if want == TxPath::Auto && !no_xmit.is_empty() {
        desc.push_str(&format!(" and on {} (no XDP transmit)", no_xmit.join(", ")));
    }
    let plan = XdpTxPlan {
        tx,
        ifindexes: driver.iter().map(|(_, i, _)| *i).collect(),
    };
    (Some(plan), desc)
}
