//! What a device's driver says it can do with XDP (`xdp_features`, kernel 6.3+), read over
//! the `netdev` generic-netlink family. The transmit path asks whether a device accepts
//! frames redirected to it (`NETDEV_XDP_ACT_NDO_XMIT`): veth sets that bit only while its
//! peer can receive them (an XDP program or GRO on the peer), and a driver without XDP
//! transmit never does. [`FeatureWatch`] follows changes as they happen (the family's
//! `mgmt` multicast group): a veth whose peer loses its XDP program stops accepting such
//! frames at that moment, without an error to the sender.

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
const CTRL_ATTR_MCAST_GROUPS: u16 = 7;
const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;
const NETDEV_CMD_DEV_GET: u8 = 1;
const NETDEV_CMD_DEV_ADD_NTF: u8 = 2;
const NETDEV_CMD_DEV_CHANGE_NTF: u8 = 4;
const NETDEV_A_DEV_IFINDEX: u16 = 1;
const NETDEV_A_DEV_XDP_FEATURES: u16 = 3;
/// Attribute type bits that are flags, not part of the type.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// The `xdp_features` of `ifindex` (in the calling thread's network namespace).
pub fn xdp_features(ifindex: u32) -> NetResult<u64> {
    Features::open()?.get(ifindex)
}

fn feature_error(ifindex: u32, what: String) -> NetError {
    NetError::Invalid(format!("xdp_features of ifindex {ifindex}: {what}"))
}

/// The `netdev` family as the controller describes it.
struct Family {
    id: u16,
    /// The `mgmt` multicast group (device added, removed, changed).
    mgmt: Option<u32>,
}

/// A generic-netlink socket and the `netdev` family.
fn open() -> Result<(Socket, Family), String> {
    let mut sock = Socket::new(NETLINK_GENERIC).map_err(|e| format!("socket: {e}"))?;
    sock.bind_auto().map_err(|e| format!("bind: {e}"))?;
    sock.connect(&SocketAddr::new(0, 0))
        .map_err(|e| format!("connect: {e}"))?;
    let family = request(
        &sock,
        GENL_ID_CTRL,
        CTRL_CMD_GETFAMILY,
        CTRL_ATTR_FAMILY_NAME,
        b"netdev\0",
    )
    .map_err(|e| format!("resolving the netdev family (kernel < 6.3?): {e}"))?;
    let id = attr(&family, CTRL_ATTR_FAMILY_ID)
        .and_then(|a| a.get(..2))
        .map(|b| u16::from_ne_bytes([b[0], b[1]]))
        .ok_or("no family id in the reply")?;
    Ok((
        sock,
        Family {
            id,
            mgmt: mcast_group(&family, b"mgmt"),
        },
    ))
}

/// Asks for devices' `xdp_features`: one socket and one family lookup for any number of
/// devices.
pub struct Features {
    sock: Socket,
    family: u16,
}

impl Features {
    /// Opens the socket and resolves the `netdev` family (kernel 6.3+).
    pub fn open() -> NetResult<Self> {
        let (sock, family) = open().map_err(|e| NetError::Invalid(format!("xdp_features: {e}")))?;
        Ok(Features {
            sock,
            family: family.id,
        })
    }

    /// `NETDEV_CMD_DEV_GET` of `ifindex`: its `xdp_features`.
    pub fn get(&self, ifindex: u32) -> NetResult<u64> {
        let dev = request(
            &self.sock,
            self.family,
            NETDEV_CMD_DEV_GET,
            NETDEV_A_DEV_IFINDEX,
            &ifindex.to_ne_bytes(),
        )
        .map_err(|e| feature_error(ifindex, format!("NETDEV_CMD_DEV_GET: {e}")))?;
        attr_u64(&dev, NETDEV_A_DEV_XDP_FEATURES)
            .ok_or_else(|| feature_error(ifindex, "no xdp_features in the reply".into()))
    }
}

/// The id of multicast group `name` in a `CTRL_CMD_GETFAMILY` reply's attributes.
fn mcast_group(family: &[u8], name: &[u8]) -> Option<u32> {
    // A list of nested attributes (their type is an index), each with a name and an id.
    attrs(attr(family, CTRL_ATTR_MCAST_GROUPS)?)
        .map(|(_, group)| group)
        .find(|group| {
            attr(group, CTRL_ATTR_MCAST_GRP_NAME)
                .map(|n| n.strip_suffix(b"\0").unwrap_or(n))
                .is_some_and(|n| n == name)
        })
        .and_then(|group| attr_u32(group, CTRL_ATTR_MCAST_GRP_ID))
}

/// Changes of devices' `xdp_features` in this network namespace, as they happen: a socket
/// subscribed to the `netdev` family's `mgmt` group. Subscribe first, then read the
/// current values ([`FeatureWatch::queries`]): no change falls between the two.
pub struct FeatureWatch {
    events: Socket,
    queries: Features,
    buf: BytesMut,
}

impl FeatureWatch {
    /// Subscribes (kernel 6.3+, whose `netdev` family announces device changes).
    pub fn open() -> NetResult<Self> {
        let err = |what: String| NetError::Invalid(format!("watching xdp_features: {what}"));
        let (events, family) = open().map_err(err)?;
        let group = family
            .mgmt
            .ok_or_else(|| err("the netdev family has no mgmt multicast group".into()))?;
        events
            .add_membership(group)
            .map_err(|e| err(format!("joining the mgmt group: {e}")))?;
        Ok(FeatureWatch {
            events,
            queries: Features::open()?,
            buf: BytesMut::with_capacity(16 * 1024),
        })
    }

    /// Its querier, for the current values.
    pub fn queries(&self) -> &Features {
        &self.queries
    }

    /// Blocks until the kernel announces device changes; returns (ifindex, `xdp_features`)
    /// of each device added or changed in the datagram received.
    pub fn changes(&mut self) -> NetResult<Vec<(u32, u64)>> {
        self.buf.clear();
        let n = self
            .events
            .recv(&mut self.buf, 0)
            .map_err(|e| NetError::Invalid(format!("watching xdp_features: recv: {e}")))?;
        Ok(parse_changes(
            self.buf.get(..n).unwrap_or_default(),
            self.queries.family,
        ))
    }
}

/// The (ifindex, `xdp_features`) of each device-added or device-changed notification of
/// `family` in a datagram (several netlink messages may share one).
fn parse_changes(mut dgram: &[u8], family: u16) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    while dgram.len() >= 20 {
        let mlen = u32::from_ne_bytes([dgram[0], dgram[1], dgram[2], dgram[3]]) as usize;
        if mlen < 20 || mlen > dgram.len() {
            break;
        }
        let mtype = u16::from_ne_bytes([dgram[4], dgram[5]]);
        let cmd = dgram[16];
        if mtype == family && (cmd == NETDEV_CMD_DEV_CHANGE_NTF || cmd == NETDEV_CMD_DEV_ADD_NTF) {
            let attrs = &dgram[20..mlen];
            let ifindex = attr_u32(attrs, NETDEV_A_DEV_IFINDEX);
            if let (Some(i), Some(f)) = (ifindex, attr_u64(attrs, NETDEV_A_DEV_XDP_FEATURES)) {
                out.push((i, f));
            }
        }
        dgram = dgram
            .get(align4(mlen).min(dgram.len())..)
            .unwrap_or_default();
    }
    out
}

/// A u32 attribute.
fn attr_u32(attrs: &[u8], t: u16) -> Option<u32> {
    let b = attr(attrs, t)?.get(..4)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// A u64 attribute.
fn attr_u64(attrs: &[u8], t: u16) -> Option<u64> {
    let mut w = [0u8; 8];
    w.copy_from_slice(attr(attrs, t)?.get(..8)?);
    Some(u64::from_ne_bytes(w))
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
fn attr(buf: &[u8], t: u16) -> Option<&[u8]> {
    attrs(buf)
        .find(|(ty, _)| *ty == t)
        .map(|(_, payload)| payload)
}

/// The attributes of `buf`, (type, payload) each; the walk stops at the first one whose
/// length does not fit.
fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = u16::from_ne_bytes([*buf.first()?, *buf.get(1)?]) as usize;
        let ty = u16::from_ne_bytes([*buf.get(2)?, *buf.get(3)?]) & NLA_TYPE_MASK;
        if len < 4 || len > buf.len() {
            return None;
        }
        let payload = &buf[4..len];
        buf = &buf[align4(len).min(buf.len())..];
        Some((ty, payload))
    })
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

    /// An attribute of type `t` with `payload`, padded to 4 bytes.
    fn nla(t: u16, payload: &[u8]) -> Vec<u8> {
        let mut a = ((4 + payload.len()) as u16).to_ne_bytes().to_vec();
        a.extend_from_slice(&t.to_ne_bytes());
        a.extend_from_slice(payload);
        a.resize(align4(a.len()), 0);
        a
    }

    #[test]
    fn the_mgmt_group_is_found_among_the_familys_groups() {
        let group = |i: u16, name: &[u8], id: u32| {
            let mut g = nla(CTRL_ATTR_MCAST_GRP_NAME, name);
            g.extend(nla(CTRL_ATTR_MCAST_GRP_ID, &id.to_ne_bytes()));
            nla(i, &g)
        };
        let mut groups = group(1, b"page-pool\0", 11);
        groups.extend(group(2, b"mgmt\0", 7));
        let mut family = nla(CTRL_ATTR_FAMILY_ID, &30u16.to_ne_bytes());
        family.extend(nla(CTRL_ATTR_MCAST_GROUPS, &groups));
        assert_eq!(mcast_group(&family, b"mgmt"), Some(7));
        assert_eq!(mcast_group(&family, b"page-pool"), Some(11));
        assert_eq!(mcast_group(&family, b"mgm"), None);
        assert_eq!(
            mcast_group(&nla(CTRL_ATTR_FAMILY_ID, &[30, 0]), b"mgmt"),
            None
        );
    }

    #[test]
    fn change_notifications_of_the_family_are_read_and_others_skipped() {
        let msg = |mtype: u16, cmd: u8, ifindex: u32, features: u64| {
            let mut attrs = nla(NETDEV_A_DEV_IFINDEX, &ifindex.to_ne_bytes());
            attrs.extend(nla(NETDEV_A_DEV_XDP_FEATURES, &features.to_ne_bytes()));
            let mut m = ((20 + attrs.len()) as u32).to_ne_bytes().to_vec();
            m.extend_from_slice(&mtype.to_ne_bytes());
            m.extend_from_slice(&[0; 10]); // flags, sequence, port
            m.extend_from_slice(&[cmd, 1, 0, 0]);
            m.extend(attrs);
            m
        };
        let mut dgram = msg(30, NETDEV_CMD_DEV_CHANGE_NTF, 5, NDO_XMIT | 1);
        dgram.extend(msg(30, 3, 6, 0)); // a device removed: nothing to follow
        dgram.extend(msg(31, NETDEV_CMD_DEV_CHANGE_NTF, 7, 0)); // another family
        dgram.extend(msg(30, NETDEV_CMD_DEV_ADD_NTF, 8, 1));
        assert_eq!(parse_changes(&dgram, 30), vec![(5, NDO_XMIT | 1), (8, 1)]);
        // A length past the end stops the walk instead of reading beyond it.
        let mut bad = msg(30, NETDEV_CMD_DEV_CHANGE_NTF, 5, 1);
        bad[0] = 200;
        assert!(parse_changes(&bad, 30).is_empty());
    }

    #[test]
    fn a_watch_subscribes_and_reads_current_features() {
        // Needs kernel 6.3+; loopback has no ndo_xdp_xmit.
        let w = FeatureWatch::open().expect("watching the netdev family");
        let f = w.queries().get(1).expect("loopback's features");
        assert_eq!(f & NDO_XMIT, 0);
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
