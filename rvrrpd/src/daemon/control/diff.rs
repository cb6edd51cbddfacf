//! How a reload classifies the vrouters: the running ones against the new file's (see
//! [`super::reload`] for what happens to each class).

use std::collections::{HashMap, HashSet};

use crate::config::VRouter;

/// What changes between the running vrouters and the new file's.
#[derive(Debug, Default)]
pub(super) struct Diff {
    /// Vrouters left as they were.
    pub unchanged: usize,
    /// Running vrouters the new file no longer has.
    pub removed: Vec<VRouter>,
    /// New form of the vrouters updated in place.
    pub updated: Vec<VRouter>,
    /// New form of the vrouters stopped and started again.
    pub restarted: Vec<VRouter>,
    /// New vrouters.
    pub added: Vec<VRouter>,
    /// What to start, in the new file's order: the added and the restarted.
    pub start: Vec<VRouter>,
}

/// A vrouter's identity ([`VRouter::identity`]).
type Key<'a> = (&'a str, u8, bool);

fn key(vr: &VRouter) -> Key<'_> {
    vr.identity()
}

/// `vr` with the settings that can change in place set to `base`'s.
fn without_live_settings(vr: &VRouter, base: &VRouter) -> VRouter {
    let mut v = vr.clone();
    v.priority = base.priority;
    v.preemption = base.preemption;
    v.accept_mode = base.accept_mode;
    v.track_interface = base.track_interface.clone();
    v.track_script = base.track_script.clone();
    v.track_file = base.track_file.clone();
    v
}

/// Classifies `old` (running) against `new` (the file). Linear: the new vrouters are indexed
/// by key once (validation makes keys unique; were one repeated, its first vrouter counts, as
/// a search in file order would find).
pub(super) fn classify(old: &[VRouter], new: &[VRouter]) -> Diff {
    let mut index: HashMap<Key<'_>, usize> = HashMap::with_capacity(new.len());
    for (i, n) in new.iter().enumerate() {
        index.entry(key(n)).or_insert(i);
    }
    let old_keys: HashSet<Key<'_>> = old.iter().map(key).collect();
    // The new vrouters to start: the restarted (marked here) and the added (below).
    let mut start = vec![false; new.len()];
    let mut diff = Diff::default();
    for vr in old {
        match index.get(&key(vr)).map(|&i| (i, &new[i])) {
            None => diff.removed.push(vr.clone()),
            Some((_, n)) if n == vr => diff.unchanged += 1,
            Some((_, n)) if without_live_settings(n, vr) == *vr => diff.updated.push(n.clone()),
            Some((i, n)) => {
                start[i] = true;
                diff.restarted.push(n.clone());
            }
        }
    }
    for (i, n) in new.iter().enumerate() {
        if !old_keys.contains(&key(n)) {
            start[i] = true;
            diff.added.push(n.clone());
        }
    }
    diff.start = new
        .iter()
        .zip(&start)
        .filter(|(_, &s)| s)
        .map(|(n, _)| n.clone())
        .collect();
    diff
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Format};

    /// `groups` vrouters, 250 per interface, the priority and VIP of each from `f`.
    fn vrouters(groups: usize, f: impl Fn(usize) -> (u8, u32)) -> Vec<VRouter> {
        let mut text = String::new();
        for i in 0..groups {
            let (priority, host) = f(i);
            text.push_str(&format!(
                "[[vrouter]]\ngroup = {}\ninterface = \"veth{}\"\npriority = {priority}\n\
                 vip = [\"10.{}.{}.{}/16\"]\n",
                i % 250 + 1,
                i / 250,
                host >> 16 & 255,
                host >> 8 & 255,
                host & 255,
            ));
        }
        let config = Config::from_str(&text, Some(Format::Toml), "test.toml")
            .unwrap_or_else(|e| panic!("{e}"));
        config.vrouters
    }

    fn names(v: &[VRouter]) -> Vec<String> {
        v.iter()
            .map(|r| format!("{}/{}", r.interface, r.group))
            .collect()
    }

    #[test]
    fn classes() {
        // 0..6 running; the file drops 0, changes 1's priority (in place) and 2's VIP
        // (restart), keeps 3..6 and adds 6, 7 — listed before the restarted 2.
        let old = vrouters(6, |i| (100, i as u32 + 1));
        let new_all = vrouters(8, |i| match i {
            1 => (50, 2),
            2 => (100, 99),
            _ => (100, i as u32 + 1),
        });
        let mut new: Vec<VRouter> = new_all[6..].to_vec();
        new.extend_from_slice(&new_all[1..6]);
        let d = classify(&old, &new);
        assert_eq!(d.unchanged, 3);
        assert_eq!(names(&d.removed), ["veth0/1"]);
        assert_eq!(names(&d.updated), ["veth0/2"]);
        assert_eq!(d.updated[0].priority.get(), 50);
        assert_eq!(names(&d.restarted), ["veth0/3"]);
        assert_eq!(names(&d.added), ["veth0/7", "veth0/8"]);
        assert_eq!(names(&d.start), ["veth0/7", "veth0/8", "veth0/3"]);
    }

    /// The reload of 10,000 unchanged groups (finding 12): prints how long the diff takes
    /// (`cargo test -p rvrrpd --lib diff -- --nocapture`); asserts the result only.
    #[test]
    fn ten_thousand_unchanged() {
        let old = vrouters(10_000, |i| (100, i as u32 + 1));
        let new = old.clone();
        let t = std::time::Instant::now();
        let d = classify(&old, &new);
        let took = t.elapsed();
        println!("reload diff, 10,000 unchanged vrouters: {took:?}");
        assert_eq!(d.unchanged, 10_000);
        assert!(d.removed.is_empty() && d.updated.is_empty() && d.start.is_empty());
    }
}
