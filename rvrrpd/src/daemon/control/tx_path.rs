//! The transmit path chosen at start-up (`tx_path`, issue 10 part 2): the AF_PACKET
//! sockets, or the XDP path on the interfaces where `vrrp_demux` runs in driver mode. The
//! description is logged and reported by the API (`tx_path` of `GET /run/daemon`).

use tracing::warn;

use crate::config::TxPath;
use crate::daemon::worker::{XdpTxPlan, XDP_MIN_BATCH};
use crate::net::xdp::{AttachMode, FastPath};

/// What the workers use, and its description.
pub(super) fn choose(want: TxPath, fast: Option<&mut FastPath>) -> (Option<XdpTxPlan>, String) {
    const PACKET: &str = "AF_PACKET sendmmsg";
    if want == TxPath::Packet {
        return (None, PACKET.to_string());
    }
    let fallback = |why: String| {
        warn!("tx_path = \"xdp\": {why}; sending on AF_PACKET sockets");
        (None, format!("{PACKET} (tx_path = xdp: {why})"))
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
    let plan = XdpTxPlan {
        tx,
        ifindexes: driver.iter().map(|(_, i, _)| *i).collect(),
    };
    (Some(plan), desc)
}
