//! `cargo xtask lab`: a failover demo in network namespaces.
//!
//! Three rvrrpd routers (priorities 150/100/50, macvlan mode, one VIP) and a client on a
//! bridge. Shows who is Master (from the adverts on a capture and from the kernel), pings the
//! VIP continuously from the client, SIGKILLs the Master, prints the failover time measured on
//! the capture, the new Master and how many pings were lost. Everything is removed at the end
//! (also on error or Ctrl-C of a step: the lab is torn down when dropped).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use rvrrpd_lab::config::rvrrpd::{self as rvconf, RvrrpdConf, VRouter};
use rvrrpd_lab::{kernel, theory, wait_for, Capture, Lab, Mac, Proc, Signal};

/// Demo parameters.
#[derive(Debug, Clone)]
pub struct Args {
    /// The rvrrpd binary to run (built by the caller).
    pub rvrrpd: PathBuf,
    /// VRRP version (2 or 3).
    pub version: u8,
    /// Advertisement interval, seconds.
    pub interval: f64,
}

impl Args {
    /// VRRPv2, 1 s adverts.
    pub fn new(rvrrpd: PathBuf) -> Args {
        Args {
            rvrrpd,
            version: 2,
            interval: 1.0,
        }
    }
}

const VRID: u8 = 42;
const VIF: &str = "vrrp42";
const PRIORITIES: [u8; 3] = [150, 100, 50];

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The router currently advertising alone (over the last 3 intervals), by index.
fn sole_master(lab: &Lab, cap: &Capture, interval: f64) -> Option<usize> {
    let t = cap.snapshot().ok()?;
    let s = t.senders(VRID, false, now() - 3.0 * interval - 0.2);
    let [ip] = s.as_slice() else { return None };
    lab.routers().iter().position(|n| IpAddr::V4(n.ipv4) == *ip)
}

fn wait_master(lab: &Lab, cap: &Capture, interval: f64, not: Option<usize>) -> Result<usize> {
    let to = Duration::from_secs_f64(10.0 * interval + 10.0);
    let (i, _) = wait_for("a single Master", to, Duration::from_millis(100), || {
        sole_master(lab, cap, interval).filter(|i| Some(*i) != not)
    })?;
    Ok(i)
}

fn print_roles(lab: &Lab, master: usize, dead: Option<usize>) {
    let vip = IpAddr::V4(Lab::vip4(1));
    for (i, n) in lab.routers().iter().enumerate() {
        let holds = kernel::has_address(&n.ns, vip).unwrap_or(false);
        println!(
            "    {}  {:<15} priority {:>3}  {:<7} {}",
            n.name,
            n.ipv4.to_string(),
            PRIORITIES[i],
            if Some(i) == dead {
                "DEAD"
            } else if i == master {
                "MASTER"
            } else {
                "backup"
            },
            if holds {
                format!("holds {vip} on {VIF}")
            } else {
                String::new()
            }
        );
    }
}

/// Runs the demo.
pub fn run(args: Args) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the lab needs root (network namespaces, raw sockets): run it with sudo");
    }
    let out = std::process::Command::new(&args.rvrrpd)
        .arg("--version")
        .output()
        .with_context(|| format!("running {}", args.rvrrpd.display()))?;
    if !out.status.success() {
        bail!(
            "{} --version failed: is the daemon built?",
            args.rvrrpd.display()
        );
    }
    let iv = args.interval;
    println!(
        "== rvrrpd failover lab: VRRPv{} VRID {VRID}, adverts every {iv}s ==",
        args.version
    );
    let lab = Lab::builder()
        .routers(3)
        .build()
        .context("creating the namespaces")?;
    let vip = Lab::vip4(1);
    println!(
        "  namespaces {}-{{r1,r2,r3,cl,sw}}, segment 10.0.0.0/24, VIP {vip}, virtual MAC {}",
        lab.prefix(),
        Mac::vrrp(VRID, false)
    );
    let cap = lab.capture("lab").context("starting tcpdump")?;
    let mut procs: Vec<Proc> = Vec::new();
    for (i, n) in lab.routers().iter().enumerate() {
        let v = VRouter::new(VRID, "eth0", vip)
            .priority(PRIORITIES[i])
            .preemption(true)
            .version(args.version)
            .advert(iv)
            .macvlan(VIF)
            // The demo pings the VIP itself: without accept mode (the RFC default) the
            // Master drops traffic addressed to it.
            .accept_mode(true);
        let conf = RvrrpdConf::new(lab.dir(), &n.name).vrouter(v);
        procs.push(rvconf::spawn(&lab, &n.ns, &args.rvrrpd, &n.name, &conf, 1)?);
    }
    println!("  started rvrrpd in r1, r2, r3; waiting for the election...");
    let master = wait_master(&lab, &cap, iv, None).context("no Master elected")?;
    println!("  elected (from the adverts on the wire):");
    print_roles(&lab, master, None);

    let client = lab.client().clone();
    let pre = kernel::ping(&client.ns, vip.into(), 3, Duration::from_secs(1))?;
    let arp = kernel::neigh_mac(&client.ns, vip.into())?.unwrap_or_else(|| "-".into());
    println!(
        "  client -> {vip}: {}/{} replies, ARP entry {arp}",
        pre.received, pre.sent
    );
    let argv: Vec<String> = ["ping", "-n", "-D", "-i", "0.1", "-W", "1"]
        .iter()
        .map(|s| s.to_string())
        .chain([vip.to_string()])
        .collect();
    let mut ping = lab.spawn(&client.ns, "ping", &argv)?;
    std::thread::sleep(Duration::from_secs(2));

    let old = &lab.routers()[master];
    println!(
        "  continuous ping running (every 100 ms); {} dies: SIGKILL of its rvrrpd and link unplugged ...",
        old.name
    );
    let t0 = now();
    procs[master].signal(Signal::Kill)?;
    // Without this the dead Master's kernel would keep answering for the VIP.
    lab.unplug(old)?;
    let new = wait_master(&lab, &cap, iv, Some(master)).context("no takeover")?;
    let t = cap.snapshot()?;
    let gap = t
        .failover(
            VRID,
            IpAddr::V4(old.ipv4),
            IpAddr::V4(lab.routers()[new].ipv4),
            t0 - iv,
        )
        .map(|f| f.gap());
    let mdi =
        theory::master_down_interval(args.version, PRIORITIES[new], Duration::from_secs_f64(iv));
    match gap {
        Some(g) => println!(
            "  failover: {} took over {g:.3}s after {}'s last advert (Master_Down_Interval {:.3}s)",
            lab.routers()[new].name,
            old.name,
            mdi.as_secs_f64()
        ),
        None => println!(
            "  failover: {} took over (gap not measurable)",
            lab.routers()[new].name
        ),
    }
    std::thread::sleep(Duration::from_secs(3));
    ping.signal(Signal::Int)?;
    ping.wait_exit(Duration::from_secs(3))?;
    let pout = ping.stdout();
    let st = kernel::parse_ping_summary(&pout).context("no ping summary")?;
    let times: Vec<f64> = pout
        .lines()
        .filter(|l| l.contains("bytes from"))
        .filter_map(|l| l.strip_prefix('[')?.split(']').next()?.parse().ok())
        .collect();
    let outage = times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    println!(
        "  ping: {} sent, {} received, {} lost; longest gap between replies {outage:.2}s",
        st.sent,
        st.received,
        st.lost()
    );
    println!("  after the failover:");
    print_roles(&lab, new, Some(master));
    println!("  cleaning up (stopping daemons, deleting namespaces)");
    drop(procs);
    drop(cap);
    drop(lab);
    println!("== done ==");
    Ok(())
}
