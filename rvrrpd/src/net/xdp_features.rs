//! What a device's driver says it can do with XDP (`xdp_features`, kernel 6.3+), read over
//! the `netdev` generic-netlink family. The transmit path asks whether a device accepts
//! frames redirected to it (`NETDEV_XDP_ACT_NDO_XMIT`): veth sets that bit only while its
//! peer can receive them (an XDP program or GRO on the peer), and a driver without XDP
//! transmit never does.

use bytes::BytesMut;
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

use super::{NetError, NetResult};

/// `NETDEV_XDP_ACT_NDO_XMIT` (`include/uapi/linux/netdev.h`): the device implements
/// `ndo_xdp_xmit`, i.e. accepts frames redirected to it.
pub const NDO_XMIT: u64 = 1 << 2;

const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const NETDEV_CMD_DEV_GET: u8 = 1;
const NETDEV_A_DEV_IFINDEX: u16 = 1;
const NETDEV_A_DEV_XDP_FEATURES: u16 = 3;
/// Attribute type bits that are flags, not part of the type.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// The `xdp_features` of `ifindex` (in the calling thread's network namespace).
pub fn xdp_features(ifindex: u32) -> NetResult<u64> {
    let err =
        |what: String| NetError::Invalid(format!("xdp_features of ifindex {ifindex}: {what}"));
    let mut sock = Socket::new(NETLINK_GENERIC).map_err(|e| err(format!("socket: {e}")))?;
    sock.bind_auto().map_err(|e| err(format!("bind: {e}")))?;
    sock.connect(&SocketAddr::new(0, 0))
        .map_err(|e| err(format!("connect: {e}")))?;
    let family = request(
        &sock,
        GENL_ID_CTRL,
        CTRL_CMD_GETFAMILY,
        CTRL_ATTR_FAMILY_NAME,
        b"netdev\0",
    )
    .map_err(|e| err(format!("resolving the netdev family (kernel < 6.3?): {e}")))?;
    let id = attr(&family, CTRL_ATTR_FAMILY_ID)
        .and_then(|a| a.get(..2))
        .map(|b| u16::from_ne_bytes([b[0], b[1]]))
        .ok_or_else(|| err("no family id in the reply".into()))?;
    let dev = request(
        &sock,
        id,
        NETDEV_CMD_DEV_GET,
        NETDEV_A_DEV_IFINDEX,
        &ifindex.to_ne_bytes(),
    )
    .map_err(|e| err(format!("NETDEV_CMD_DEV_GET: {e}")))?;
    attr(&dev, NETDEV_A_DEV_XDP_FEATURES)
        .and_then(|a| a.get(..8))
        .map(|b| {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            u64::from_ne_bytes(w)
        })
        .ok_or_else(|| err("no xdp_features in the reply".into()))
}

/// Sends a generic-netlink request `cmd` to `family` with one attribute; returns the
/// reply's attributes.
fn request(
    sock: &Socket,
    family: u16,
    cmd: u8,
    atype: u16,
    payload: &[u8],
) -> Result<Vec<u8>, String> {
    let alen = 4 + payload.len();
    let len = 16 + 4 + align4(alen);
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&family.to_ne_bytes());
    m.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
    m.extend_from_slice(&[cmd, 1, 0, 0]); // genlmsghdr: cmd, version, reserved
    m.extend_from_slice(&(alen as u16).to_ne_bytes());
    m.extend_from_slice(&atype.to_ne_bytes());
    m.extend_from_slice(payload);
    m.resize(len, 0);
    sock.send(&m, 0).map_err(|e| format!("send: {e}"))?;
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let n = sock.recv(&mut buf, 0).map_err(|e| format!("recv: {e}"))?;
    let r = buf.get(..n).ok_or("short read")?;
    if r.len() < 20 {
        return Err(format!("reply of {} bytes", r.len()));
    }
    let mlen = u32::from_ne_bytes([r[0], r[1], r[2], r[3]]) as usize;
    let mtype = u16::from_ne_bytes([r[4], r[5]]);
    if mtype == NLMSG_ERROR {
        let code = i32::from_ne_bytes([r[16], r[17], r[18], r[19]]);
        return Err(std::io::Error::from_raw_os_error(-code).to_string());
    }
    r.get(20..mlen.min(r.len()))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| "truncated reply".to_string())
}

/// The payload of the first attribute of type `t` in `attrs`.
fn attr(mut attrs: &[u8], t: u16) -> Option<&[u8]> {
    while attrs.len() >= 4 {
        let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
        let ty = u16::from_ne_bytes([attrs[2], attrs[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > attrs.len() {
            return None;
        }
        if ty == t {
            return attrs.get(4..len);
        }
        attrs = attrs.get(align4(len).min(attrs.len())..)?;
    }
    None
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_walked_with_padding() {
        // A 5-byte attribute (type 2, padded to 8), then an 8-byte u64 (type 3).
        let mut a = vec![9, 0, 2, 0, b'n', b'e', b't', b'd', b'e', 0, 0, 0];
        a.extend_from_slice(&[12, 0, 3, 0]);
        a.extend_from_slice(&7u64.to_ne_bytes());
        assert_eq!(attr(&a, 2), Some(&b"netde"[..]));
        assert_eq!(attr(&a, 3), Some(&7u64.to_ne_bytes()[..]));
        assert_eq!(attr(&a, 4), None);
        // A length past the end is refused, not read.
        assert_eq!(attr(&[200, 0, 3, 0, 1, 2], 3), None);
    }

    #[test]
    fn loopback_reports_its_features() {
        // Needs kernel 6.3+ (netdev family); loopback has no ndo_xdp_xmit.
        match xdp_features(1) {
            Ok(f) => assert_eq!(f & NDO_XMIT, 0, "loopback claims ndo_xdp_xmit: {f:#x}"),
            Err(e) => panic!("{e}"),
        }
    }
}
