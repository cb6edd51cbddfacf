//! The programs loaded in a throw-away namespace, run on frames, their verdicts, counters and
//! ring events compared with the reference classifier.

use super::*;
/// The programs loaded in a namespace of their own, with a fixed demux map, and the counter
/// values after the last run (to check each run's increments).
pub(crate) struct Rig {
    pub(crate) fp: FastPath,
    pub(crate) groups: BTreeMap<(u32, u8, u8), (u32, u32)>,
    pub(crate) last: Counters,
    /// Frames run, by program.
    pub(crate) runs: [usize; 2],
    /// Mismatches (all are reported at the end, not just the first).
    pub(crate) failures: Vec<String>,
}

impl Rig {
    pub(crate) fn new(fp: FastPath, groups: &[(DemuxKey, u32, u32)]) -> Rig {
        let mut rig = Rig {
            fp,
            groups: BTreeMap::new(),
            last: Counters::default(),
            runs: [0; 2],
            failures: Vec::new(),
        };
        for &(k, worker, flags) in groups {
            rig.fp.set_group(k, worker, flags).expect("set_group");
            rig.groups
                .insert((k.ifindex, k.vrid, k.family), (worker, flags));
        }
        rig.last = counters(&rig.fp);
        rig
    }

    pub(crate) fn group(&self, ifindex: u32, a: &Advert) -> Option<(u32, u32)> {
        self.groups.get(&(ifindex, a.vrid, a.family)).copied()
    }

    /// What `vrrp_demux` must do with a frame of class `class` on `ifindex`.
    pub(crate) fn expect_xdp(&self, class: &Class, ifindex: u32) -> Outcome {
        let mut counters = Counters::default();
        let mut events = Vec::new();
        let ret = match class {
            Class::Foreign => XDP_PASS,
            Class::Bad(c) => {
                bump(&mut counters, &[*c]);
                XDP_DROP
            }
            Class::Advert(a) => match self.group(ifindex, a) {
                None => {
                    bump(&mut counters, &[Counter::UnknownVrid]);
                    XDP_DROP
                }
                Some((worker, flags)) => {
                    bump(&mut counters, &[Counter::Delivered]);
                    if a.vrrp.len() > MAX_VRRP_LEN {
                        bump(&mut counters, &[Counter::Truncated]);
                    }
                    let n = a.vrrp.len().min(MAX_VRRP_LEN);
                    events.push((
                        worker,
                        (
                            ifindex,
                            a.family,
                            a.ttl,
                            a.vrrp.len() as u16,
                            a.src,
                            a.vrrp[..n].to_vec(),
                        ),
                    ));
                    if flags & FLAG_PASS != 0 {
                        bump(&mut counters, &[Counter::Passed]);
                        XDP_PASS
                    } else {
                        XDP_DROP
                    }
                }
            },
        };
        Outcome {
            ret,
            counters,
            events,
        }
    }

    /// What `vrrp_sock_filter` must do with a frame of `len` bytes of class `class`.
    pub(crate) fn expect_sock(&self, class: &Class, ifindex: u32, len: usize) -> Outcome {
        let mut counters = Counters::default();
        let ret = match class {
            Class::Foreign => 0,
            Class::Bad(c) => {
                bump(&mut counters, &[*c]);
                0
            }
            Class::Advert(a) if self.group(ifindex, a).is_none() => {
                bump(&mut counters, &[Counter::UnknownVrid]);
                0
            }
            Class::Advert(_) => {
                bump(&mut counters, &[Counter::Passed]);
                // Kept whole: the kernel pulled the 14-byte Ethernet header.
                (len - 14) as u32
            }
        };
        Outcome {
            ret,
            counters,
            events: Vec::new(),
        }
    }

    /// The counters' increments since the last call, and every pending event.
    pub(crate) fn observe(&mut self, ret: u32) -> Outcome {
        let now = counters(&self.fp);
        let mut delta = Counters::default();
        for (d, (n, l)) in delta.0.iter_mut().zip(now.0.iter().zip(self.last.0)) {
            *d = n - l;
        }
        self.last = now;
        let mut events = Vec::new();
        for w in 0..self.fp.workers() {
            events.extend(drain_all(&mut self.fp, w).iter().map(|e| (w, view(e))));
        }
        Outcome {
            ret,
            counters: delta,
            events,
        }
    }

    pub(crate) fn expect(&mut self, got: Outcome, want: Outcome, what: impl FnOnce() -> String) {
        if got != want {
            self.failures
                .push(format!("{}\n  got  {got:?}\n  want {want:?}", what()));
        }
    }

    /// Panics with every mismatch seen (the first 30 in full).
    pub(crate) fn finish(&self) {
        if !self.failures.is_empty() {
            let shown: Vec<&str> = self.failures.iter().take(30).map(String::as_str).collect();
            panic!(
                "{} of {} runs went wrong:\n{}",
                self.failures.len(),
                self.runs[0] + self.runs[1],
                shown.join("\n")
            );
        }
    }

    /// Runs both programs on `frame` and checks each against the outcome the reference
    /// classifier predicts. The kernel refuses (EINVAL) to run XDP on a frame shorter than an
    /// Ethernet header, and a socket filter on an IPv4 / IPv6 packet shorter than the fixed
    /// IP header (as the stack drops those before any socket sees them): no program ever sees
    /// such frames.
    pub(crate) fn check(&mut self, what: &str, frame: &[u8], ifindex: u32) {
        let skb_refused = match skb_l3(frame) {
            Some((at, 4)) => frame.len() < at + 20,
            Some((at, _)) => frame.len() < at + 40,
            None => frame.len() < 14,
        };
        for (prog, refused) in [(Prog::Xdp, frame.len() < 14), (Prog::Sock, skb_refused)] {
            if refused {
                assert!(
                    self.test_run(prog, frame, ifindex).is_err(),
                    "{what}: the kernel runs {} on this {}-byte frame",
                    prog.name(),
                    frame.len()
                );
                continue;
            }
            let class = match prog {
                Prog::Xdp => classify_xdp(frame),
                Prog::Sock => classify_skb(frame),
            };
            let want = match prog {
                Prog::Xdp => self.expect_xdp(&class, ifindex),
                Prog::Sock => self.expect_sock(&class, ifindex, frame.len()),
            };
            let ret = self
                .test_run(prog, frame, ifindex)
                .unwrap_or_else(|e| panic!("{what}: {} test_run: {e:?}", prog.name()));
            let got = self.observe(ret);
            self.expect(got, want, || {
                format!(
                    "{what}: {} on ifindex {ifindex}, oracle says {class:?}",
                    prog.name()
                )
            });
            self.runs[prog as usize] += 1;
        }
    }

    pub(crate) fn test_run(&mut self, prog: Prog, frame: &[u8], ifindex: u32) -> XdpResult<u32> {
        match prog {
            Prog::Xdp => self.fp.test_run(frame, ifindex),
            Prog::Sock => self.fp.test_run_socket_filter(frame, ifindex),
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) enum Prog {
    Xdp = 0,
    Sock = 1,
}

impl Prog {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Prog::Xdp => "vrrp_demux",
            Prog::Sock => "vrrp_sock_filter",
        }
    }
}

/// Loads the programs in a fresh namespace with a second device (`d0`, whose ifindex `f`
/// gets) and runs `f` there with a rig whose demux map is:
/// (lo, 5, v4) → worker 0; (lo, 5, v6) → worker 1; (lo, 9, v4) → worker 1 with FLAG_PASS;
/// (d0, 7, v4) → worker 0.
pub(crate) fn with_rig(tag: &'static str, f: impl FnOnce(&mut Rig, u32) + Send + 'static) {
    let ns = TestNs::new(tag);
    let d0 = ns.add_device("d0");
    object();
    ns.run(move || {
        let fp = load(WORKERS);
        let mut rig = Rig::new(
            fp,
            &[
                (DemuxKey::new(LO, 5, FAMILY_V4), 0, 0),
                (DemuxKey::new(LO, 5, FAMILY_V6), 1, 0),
                (DemuxKey::new(LO, 9, FAMILY_V4), 1, FLAG_PASS),
                (DemuxKey::new(d0, 7, FAMILY_V4), 0, 0),
            ],
        );
        f(&mut rig, d0);
        rig.finish();
    });
}
