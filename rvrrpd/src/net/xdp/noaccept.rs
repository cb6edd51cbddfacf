//! The accept-mode map (`NOACCEPT`) and its switch (`NOACCEPT_ON`): the VIPs whose traffic
//! `vrrp_demux` drops, except VRRP and IPv6 neighbour discovery (groups with
//! `accept_mode = false`, RFC 5798 §6.4.3).

use std::net::IpAddr;

use aya::maps::{Array, HashMap as BpfHashMap};
use rvrrpd_common::{addr_bytes, addr_from, VipKey, NOACCEPT_MAP, NOACCEPT_ON_MAP};

use super::error::map_err;
use super::{FastPath, XdpResult};

/// The map key of a VIP.
pub fn vip_key(a: &IpAddr) -> VipKey {
    let (family, addr) = addr_bytes(a);
    VipKey::new(family, addr)
}

impl FastPath {
    /// Adds `add` to and removes `remove` from the VIPs whose traffic the XDP program drops;
    /// `on` says whether any remain (the lookup is switched off while none do). Entries go
    /// in before the switch goes on, and the switch goes off before the last entries go.
    pub fn update_no_accept(
        &mut self,
        add: &[IpAddr],
        remove: &[IpAddr],
        on: bool,
    ) -> XdpResult<()> {
        if !on {
            self.set_no_accept_on(false)?;
        }
        let mut map: BpfHashMap<_, VipKey, u32> =
            BpfHashMap::try_from(self.map_data(NOACCEPT_MAP)?)
                .map_err(map_err(NOACCEPT_MAP, "open"))?;
        for a in add {
            map.insert(vip_key(a), 1, 0)
                .map_err(map_err(NOACCEPT_MAP, "insert"))?;
        }
        for a in remove {
            super::error::absent_ok(map.remove(&vip_key(a)))
                .map_err(map_err(NOACCEPT_MAP, "remove"))?;
        }
        if on {
            self.set_no_accept_on(true)?;
        }
        Ok(())
    }

    fn set_no_accept_on(&mut self, on: bool) -> XdpResult<()> {
        let mut arr: Array<_, u32> = Array::try_from(self.map_data(NOACCEPT_ON_MAP)?)
            .map_err(map_err(NOACCEPT_ON_MAP, "open"))?;
        arr.set(0, u32::from(on), 0)
            .map_err(map_err(NOACCEPT_ON_MAP, "update"))
    }

    /// The VIPs whose traffic the XDP program drops, sorted (empty while switched off).
    pub fn no_accept(&mut self) -> XdpResult<Vec<IpAddr>> {
        let on = {
            let arr: Array<_, u32> = Array::try_from(self.map_data(NOACCEPT_ON_MAP)?)
                .map_err(map_err(NOACCEPT_ON_MAP, "open"))?;
            arr.get(&0, 0).map_err(map_err(NOACCEPT_ON_MAP, "lookup"))?
        };
        if on == 0 {
            return Ok(Vec::new());
        }
        let map: BpfHashMap<_, VipKey, u32> = BpfHashMap::try_from(self.map_data(NOACCEPT_MAP)?)
            .map_err(map_err(NOACCEPT_MAP, "open"))?;
        let mut out = Vec::new();
        for k in map.keys() {
            let k = k.map_err(map_err(NOACCEPT_MAP, "iterate"))?;
            out.extend(addr_from(k.family, &k.addr));
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvrrpd_common::{FAMILY_V4, FAMILY_V6};

    #[test]
    fn keys_pad_ipv4_and_tag_the_family() {
        let k = vip_key(&"192.0.2.1".parse().expect("ip"));
        assert_eq!(k.family, FAMILY_V4);
        assert_eq!(&k.addr[..4], &[192, 0, 2, 1]);
        assert!(k.addr[4..].iter().all(|b| *b == 0));
        let k6 = vip_key(&"2001:db8::1".parse().expect("ip"));
        assert_eq!(k6.family, FAMILY_V6);
        assert_eq!(k6.addr[15], 1);
    }
}
