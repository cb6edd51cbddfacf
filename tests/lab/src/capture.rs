//! tcpdump captures in a namespace: started before a scenario, read while running or after stop.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cmd::require_tool;
use crate::error::{io_ctx, Result};
use crate::pcap;
use crate::proc::{Proc, Signal};
use crate::trace::Trace;
use crate::wait::wait_until;

/// The capture filter: VRRP over IPv4/IPv6, ARP and ICMPv6 (neighbour discovery).
pub const FILTER: &str = "ip proto 112 or ip6 proto 112 or arp or icmp6";

/// A running (or stopped) tcpdump writing a pcap file.
#[derive(Debug)]
pub struct Capture {
    proc: Proc,
    file: PathBuf,
}

impl Capture {
    /// Starts tcpdump on `iface` in `ns`, writing `file`; returns once it is listening.
    pub fn start(ns: &str, iface: &str, file: &Path) -> Result<Capture> {
        let tcpdump = require_tool("tcpdump", "apt-get install tcpdump")?;
        let dir = file.parent().unwrap_or(Path::new("."));
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "capture".into());
        let argv: Vec<String> = vec![
            tcpdump.to_string_lossy().into_owned(),
            "-i".into(),
            iface.into(),
            "-n".into(),
            "-U".into(),
            // Deliver each packet at once (TPACKET_V3 blocks otherwise lag up to 1 s).
            "--immediate-mode".into(),
            "-Z".into(),
            "root".into(),
            "-s".into(),
            "512".into(),
            "-w".into(),
            file.to_string_lossy().into_owned(),
            FILTER.into(),
        ];
        let mut proc = Proc::spawn(Some(ns), &format!("tcpdump-{name}"), dir, &argv)?;
        let ready = wait_until(
            "tcpdump to listen",
            Duration::from_secs(10),
            Duration::from_millis(20),
            || proc.stderr().contains("listening on") || !proc.is_running(),
        );
        if ready.is_err() || !proc.is_running() {
            return Err(crate::LabError::Other(format!(
                "tcpdump did not start: {}",
                proc.output()
            )));
        }
        Ok(Capture {
            proc,
            file: file.to_path_buf(),
        })
    }

    /// The pcap file path.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Decodes what has been written so far (tcpdump keeps running).
    pub fn snapshot(&self) -> Result<Trace> {
        let bytes = std::fs::read(&self.file)
            .map_err(io_ctx(format!("reading {}", self.file.display())))?;
        let (lt, recs) = pcap::parse(&bytes)?;
        Ok(Trace::from_raw(lt, &recs))
    }

    /// Stops tcpdump cleanly (SIGINT flushes) and decodes the whole file.
    pub fn stop(&mut self) -> Result<Trace> {
        if self.proc.is_running() {
            // Give in-flight frames a moment to land.
            std::thread::sleep(Duration::from_millis(100));
            self.proc.signal(Signal::Int)?;
            if self.proc.wait_exit(Duration::from_secs(5)).is_err() {
                self.proc.stop(Duration::from_secs(1))?;
            }
        }
        self.snapshot()
    }
}
