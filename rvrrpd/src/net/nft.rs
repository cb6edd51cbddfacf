//! Accept mode without XDP: an nftables table `inet rvrrpd` whose input chain drops packets
//! addressed to the VIPs of groups with `accept_mode = false` (except IPv6 neighbour
//! solicitations / advertisements and traffic of the host itself, on `lo`), as keepalived's
//! `no_accept` does with its own table.
//!
//! Driven through the `nft` command (one `nft -f -` run per change, applied atomically):
//! the sets hold every such VIP whatever the group's state (a Backup holds no VIP, so the
//! input hook never sees traffic for it there), so they change only at start-up, reload and
//! API writes, never per transition: a process per change costs nothing that matters, and
//! nftables' netlink protocol stays nftables' business.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

/// The table rvrrpd owns (removed on exit, and at start-up if a crashed run left it).
pub const TABLE: &str = "rvrrpd";

/// How long one `nft` run may take.
const NFT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an nftables change failed.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    /// The `nft` command could not be started or fed.
    #[error("running {path}: {source}")]
    Spawn {
        /// The command.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// `nft` refused the script.
    #[error("{path} failed ({status}): {stderr}")]
    Refused {
        /// The command.
        path: PathBuf,
        /// Its exit status.
        status: String,
        /// What it printed.
        stderr: String,
    },
    /// `nft` did not finish in time (killed).
    #[error("{path} did not finish within {NFT_TIMEOUT:?}")]
    Timeout {
        /// The command.
        path: PathBuf,
    },
}

/// The script that makes the table hold exactly `vips`: created if missing, its sets flushed
/// and refilled in the same transaction (nft applies a file atomically, so no packet sees an
/// empty set in between).
pub fn script(vips: &[IpAddr]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "table inet {TABLE} {{\n\
         \tset no_accept_v4 {{ type ipv4_addr; }}\n\
         \tset no_accept_v6 {{ type ipv6_addr; }}\n\
         }}\n\
         flush table inet {TABLE}\n\
         table inet {TABLE} {{\n\
         \tchain no_accept {{\n\
         \t\ttype filter hook input priority filter - 10; policy accept;\n\
         \t\tiif lo accept\n\
         \t\tip daddr @no_accept_v4 counter drop\n\
         \t\tip6 daddr @no_accept_v6 icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert }} accept\n\
         \t\tip6 daddr @no_accept_v6 counter drop\n\
         \t}}\n\
         }}"
    );
    for (set, list) in [
        (
            "no_accept_v4",
            vips.iter().filter(|a| a.is_ipv4()).collect::<Vec<_>>(),
        ),
        (
            "no_accept_v6",
            vips.iter().filter(|a| a.is_ipv6()).collect::<Vec<_>>(),
        ),
    ] {
        if list.is_empty() {
            continue;
        }
        let elems: Vec<String> = list.iter().map(|a| a.to_string()).collect();
        let _ = writeln!(
            s,
            "add element inet {TABLE} {set} {{ {} }}",
            elems.join(", ")
        );
    }
    s
}

/// The `nft` command, if installed.
pub fn find() -> Option<PathBuf> {
    ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/bin/nft"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// The script that adds `add` to and deletes `remove` from the table's sets (which must
/// exist: see [`script`]).
pub fn update_script(add: &[IpAddr], remove: &[IpAddr]) -> String {
    let mut s = String::new();
    for (verb, list) in [("add", add), ("delete", remove)] {
        for (set, v4) in [("no_accept_v4", true), ("no_accept_v6", false)] {
            let elems: Vec<String> = list
                .iter()
                .filter(|a| a.is_ipv4() == v4)
                .map(|a| a.to_string())
                .collect();
            if !elems.is_empty() {
                let _ = writeln!(
                    s,
                    "{verb} element inet {TABLE} {set} {{ {} }}",
                    elems.join(", ")
                );
            }
        }
    }
    s
}

/// Makes table `inet rvrrpd` drop traffic to exactly `vips` (see [`script`]).
pub async fn apply(nft: &Path, vips: &[IpAddr]) -> Result<(), NftError> {
    run(nft, &["-f", "-"], Some(script(vips))).await
}

/// Adds and deletes set elements of table `inet rvrrpd` (see [`update_script`]).
pub async fn update(nft: &Path, add: &[IpAddr], remove: &[IpAddr]) -> Result<(), NftError> {
    let text = update_script(add, remove);
    if text.is_empty() {
        return Ok(());
    }
    run(nft, &["-f", "-"], Some(text)).await
}

/// Deletes table `inet rvrrpd`; `Ok(false)` if there was none.
pub async fn delete_table(nft: &Path) -> Result<bool, NftError> {
    if run(nft, &["list", "table", "inet", TABLE], None)
        .await
        .is_err()
    {
        return Ok(false);
    }
    run(nft, &["delete", "table", "inet", TABLE], None).await?;
    Ok(true)
}

async fn run(nft: &Path, args: &[&str], stdin: Option<String>) -> Result<(), NftError> {
    let spawn_err = |source| NftError::Spawn {
        path: nft.to_path_buf(),
        source,
    };
    let mut child = tokio::process::Command::new(nft)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(spawn_err)?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).await.map_err(spawn_err)?;
        drop(pipe);
    }
    let out = match tokio::time::timeout(NFT_TIMEOUT, child.wait_with_output()).await {
        Ok(r) => r.map_err(spawn_err)?,
        Err(_) => {
            return Err(NftError::Timeout {
                path: nft.to_path_buf(),
            })
        }
    };
    if out.status.success() {
        Ok(())
    } else {
        Err(NftError::Refused {
            path: nft.to_path_buf(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_replaces_the_sets_in_one_transaction() {
        let vips: Vec<IpAddr> = ["10.0.0.1", "2001:db8::1", "10.0.0.2"]
            .iter()
            .map(|a| a.parse().expect("ip"))
            .collect();
        let s = script(&vips);
        // Created if missing, flushed, then refilled: one file, one transaction.
        let flush = s.find("flush table inet rvrrpd").expect("flush");
        let add4 = s
            .find("add element inet rvrrpd no_accept_v4 { 10.0.0.1, 10.0.0.2 }")
            .expect("v4 elements");
        let add6 = s
            .find("add element inet rvrrpd no_accept_v6 { 2001:db8::1 }")
            .expect("v6 elements");
        assert!(flush < add4 && flush < add6);
        assert!(s.contains("nd-neighbor-solicit, nd-neighbor-advert"));
        assert!(s.contains("iif lo accept"));
        // No elements: the sets stay empty (no `add element` with an empty list, which nft
        // refuses).
        assert!(!script(&[]).contains("add element"));
    }

    #[test]
    fn update_script_adds_and_deletes_per_family() {
        let a: Vec<IpAddr> = vec!["10.0.0.3".parse().expect("ip")];
        let r: Vec<IpAddr> = vec![
            "2001:db8::2".parse().expect("ip"),
            "10.0.0.1".parse().expect("ip"),
        ];
        assert_eq!(
            update_script(&a, &r),
            "add element inet rvrrpd no_accept_v4 { 10.0.0.3 }\n\
             delete element inet rvrrpd no_accept_v4 { 10.0.0.1 }\n\
             delete element inet rvrrpd no_accept_v6 { 2001:db8::2 }\n"
        );
        assert_eq!(update_script(&[], &[]), "");
    }
}
