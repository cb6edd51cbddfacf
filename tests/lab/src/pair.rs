//! Two network namespaces joined by one veth pair, `xa` in the first and `xb` in the second,
//! both ends up: the smallest topology, for tests of the eBPF programs between two ends.
//! Removed on drop (deleting a namespace deletes its veth end).

use crate::{cmd, names, Result};

/// The two namespaces; their veth ends are [`VethPair::A_DEV`] and [`VethPair::B_DEV`].
#[derive(Debug)]
pub struct VethPair {
    /// The first namespace (`xa`).
    pub a: String,
    /// The second namespace (`xb`).
    pub b: String,
}

impl VethPair {
    /// The veth end in [`VethPair::a`].
    pub const A_DEV: &'static str = "xa";
    /// The veth end in [`VethPair::b`].
    pub const B_DEV: &'static str = "xb";

    /// Namespaces `<unique prefix>-<tag>a` and `-<tag>b`, joined and up.
    pub fn new(tag: &str) -> Result<VethPair> {
        let p = names::unique_prefix();
        let pair = VethPair {
            a: format!("{p}-{tag}a"),
            b: format!("{p}-{tag}b"),
        };
        for ns in [&pair.a, &pair.b] {
            cmd::run(&["ip", "netns", "add", ns.as_str()])?;
        }
        cmd::run(&[
            "ip",
            "link",
            "add",
            Self::A_DEV,
            "netns",
            &pair.a,
            "type",
            "veth",
            "peer",
            "name",
            Self::B_DEV,
            "netns",
            &pair.b,
        ])?;
        for (ns, dev) in [(&pair.a, Self::A_DEV), (&pair.b, Self::B_DEV)] {
            cmd::ip(ns, &["link", "set", dev, "up"])?;
        }
        Ok(pair)
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = cmd::run(&["ip", "netns", "del", ns.as_str()]);
        }
    }
}
