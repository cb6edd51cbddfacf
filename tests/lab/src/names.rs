//! Unique names for namespaces and files, so parallel tests never collide.

use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Prefix shared by every namespace the lab creates (used to find stale ones).
pub const NS_PREFIX: &str = "rl";

/// A prefix unique to this process and call: `rl<pid>x<n>`.
pub fn unique_prefix() -> String {
    format!(
        "{NS_PREFIX}{}x{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// Extracts the creator pid from a lab namespace name (`rl<pid>x<n>-...`).
pub fn creator_pid(ns: &str) -> Option<u32> {
    let rest = ns.strip_prefix(NS_PREFIX)?;
    let (pid, tail) = rest.split_once('x')?;
    let (n, _) = tail.split_once('-')?;
    n.parse::<u32>().ok()?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_unique_and_parse_back() {
        let a = unique_prefix();
        let b = unique_prefix();
        assert_ne!(a, b);
        assert_eq!(creator_pid(&format!("{a}-r1")), Some(std::process::id()));
        assert_eq!(creator_pid("other-ns"), None);
    }
}
