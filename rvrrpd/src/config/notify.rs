//! Notification directives: the per-`[[vrouter]]` scripts (`notify_master`, `notify_backup`,
//! `notify_fault`, `notify_stop`, `notify`) and the general `notify_fifo`, `script_user`,
//! `notify_timeout` and `notify_max_running`.
//!
//! A script is a command line split keepalived-style into an argument vector (see
//! [`split_argv`]); it is executed directly, never through a shell. Whether the program can
//! be executed is checked by [`check_executable`] during validation, so a script that cannot
//! run is a configuration error rather than a log line at the first failover.

use std::fmt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::serde_util::value_error;

/// A notify command line: the text as configured and its argument vector.
///
/// Boxed, so that an absent script (`Option<NotifyScript>`, the common case) costs one word:
/// every `[[vrouter]]` and every group's spec carry five of them (240 bytes inline before).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NotifyScript(Box<ScriptLine>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct ScriptLine {
    text: String,
    argv: Vec<String>,
}

impl NotifyScript {
    /// The command line as configured.
    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    /// The program and its arguments (never empty; the program is an absolute path).
    pub fn argv(&self) -> &[String] {
        &self.0.argv
    }

    /// The program to execute.
    pub fn program(&self) -> &Path {
        Path::new(&self.0.argv[0])
    }
}

impl TryFrom<String> for NotifyScript {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let invalid = |why: &str| value_error(format_args!("{text:?}"), why);
        let argv =
            split_argv(&text).map_err(|e| invalid(&format!("is not a valid command line: {e}")))?;
        match argv.first() {
            None => Err(invalid("is empty (remove the directive to run no script)")),
            Some(program) if !program.starts_with('/') => Err(invalid(
                "must start with the absolute path of the program (scripts are executed directly, without a shell or PATH search)",
            )),
            Some(_) => Ok(Self(Box::new(ScriptLine { text, argv }))),
        }
    }
}

impl From<NotifyScript> for String {
    fn from(script: NotifyScript) -> String {
        script.0.text
    }
}

impl fmt::Display for NotifyScript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.text)
    }
}

/// Why a command line could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// A quote was opened and never closed.
    #[error("unterminated {0} quote")]
    UnterminatedQuote(char),
    /// The line ends with a lone backslash.
    #[error("trailing backslash")]
    TrailingBackslash,
    /// A control character (newline, NUL, ...) outside quotes.
    #[error("control character {0:?}")]
    Control(char),
}

/// Splits a command line as keepalived does, with the same rules as `[[track_script]]`
/// ([`crate::track::command::split`]): words separated by blanks, `'...'` and `"..."` quote
/// (a backslash escapes the next character, except inside single quotes); quotes may join
/// parts of one word (`a"b c"d` is `ab cd`). Control characters other than tabs are refused.
pub fn split_argv(line: &str) -> Result<Vec<String>, SplitError> {
    use crate::track::command::{split, CommandError};
    if let Some(c) = line.chars().find(|c| c.is_control() && *c != '\t') {
        return Err(SplitError::Control(c));
    }
    match split(line) {
        Ok(words) => Ok(words),
        Err(CommandError::Empty) => Ok(Vec::new()),
        Err(CommandError::Unterminated(q)) => Err(SplitError::UnterminatedQuote(q)),
        Err(CommandError::TrailingBackslash) => Err(SplitError::TrailingBackslash),
    }
}

/// Checks that `program` is a regular file that `user` (uid, gid; `None` = root, the daemon)
/// may execute; the error says why not.
pub fn check_executable(program: &Path, user: Option<(u32, u32)>) -> Result<(), String> {
    let meta = std::fs::metadata(program).map_err(|e| format!("{}: {e}", program.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", program.display()));
    }
    let mode = meta.permissions().mode();
    let allowed = match user {
        None | Some((0, _)) => mode & 0o111 != 0,
        Some((uid, _)) if uid == meta.uid() => mode & 0o100 != 0,
        Some((_, gid)) if gid == meta.gid() => mode & 0o010 != 0,
        Some(_) => mode & 0o001 != 0,
    };
    if allowed {
        Ok(())
    } else {
        let who = match user {
            Some((uid, _)) if uid != 0 => format!("uid {uid}"),
            _ => "anyone".to_string(),
        };
        Err(format!(
            "{} is not executable by {who} (mode {:o})",
            program.display(),
            mode & 0o7777
        ))
    }
}

/// `script_user`: the user (and optionally group) scripts run as, `"user"` or `"user group"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ScriptUser {
    /// User name.
    pub user: String,
    /// Group name; `None` means the user's primary group.
    pub group: Option<String>,
}

impl TryFrom<String> for ScriptUser {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            [user] => Ok(Self {
                user: (*user).to_string(),
                group: None,
            }),
            [user, group] => Ok(Self {
                user: (*user).to_string(),
                group: Some((*group).to_string()),
            }),
            _ => Err(value_error(
                format_args!("{text:?}"),
                "is not a user name, optionally followed by a group name (\"user\" or \"user group\")",
            )),
        }
    }
}

impl From<ScriptUser> for String {
    fn from(user: ScriptUser) -> String {
        match user.group {
            Some(group) => format!("{} {group}", user.user),
            None => user.user,
        }
    }
}

impl ScriptUser {
    /// Looks the user (and group) up: (uid, gid), or why not.
    pub fn resolve(&self) -> Result<(u32, u32), String> {
        let (uid, primary) = lookup_user(&self.user)
            .ok_or_else(|| format!("names user {:?}, which does not exist", self.user))?;
        let gid = match &self.group {
            Some(group) => lookup_group(group)
                .ok_or_else(|| format!("names group {group:?}, which does not exist"))?,
            None => primary,
        };
        Ok((uid, gid))
    }
}

fn lookup_user(name: &str) -> Option<(u32, u32)> {
    crate::sysuser::lookup(name).map(|ids| (ids.uid, ids.gid))
}

fn lookup_group(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 64 * 1024];
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: as in `lookup_user`.
    let rc = unsafe {
        libc::getgrnam_r(
            name.as_ptr(),
            &mut grp,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then_some(grp.gr_gid)
}

/// `notify_timeout`: seconds a notify script may run before it is killed, 1–3600 (default 30).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct NotifyTimeout(Duration);

impl NotifyTimeout {
    /// The timeout.
    pub fn as_duration(self) -> Duration {
        self.0
    }
}

impl Default for NotifyTimeout {
    fn default() -> Self {
        Self(Duration::from_secs(30))
    }
}

impl TryFrom<f64> for NotifyTimeout {
    type Error = String;

    fn try_from(secs: f64) -> Result<Self, Self::Error> {
        if (0.1..=3600.0).contains(&secs) {
            Ok(Self(Duration::from_secs_f64(secs)))
        } else {
            Err(value_error(secs, "is out of range (0.1–3600 seconds)"))
        }
    }
}

impl From<NotifyTimeout> for f64 {
    fn from(timeout: NotifyTimeout) -> f64 {
        timeout.0.as_secs_f64()
    }
}

/// `notify_max_running`: notify scripts running at once, 1–1024 (default 16); more wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u16")]
pub struct NotifyMaxRunning(u16);

impl NotifyMaxRunning {
    /// The bound.
    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

impl Default for NotifyMaxRunning {
    fn default() -> Self {
        Self(16)
    }
}

impl TryFrom<i64> for NotifyMaxRunning {
    type Error = String;

    fn try_from(n: i64) -> Result<Self, Self::Error> {
        match u16::try_from(n) {
            Ok(n @ 1..=1024) => Ok(Self(n)),
            _ => Err(value_error(n, "is out of range (1–1024)")),
        }
    }
}

impl From<NotifyMaxRunning> for u16 {
    fn from(n: NotifyMaxRunning) -> u16 {
        n.0
    }
}

/// Checks a virtual router `name` (keepalived's instance name): 1–64 printable characters,
/// no blanks and no `"` (it is quoted in `notify_fifo` lines).
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let invalid = |why: &str| Err(value_error(format_args!("{name:?}"), why));
    if name.is_empty() || name.chars().count() > 64 {
        return invalid("is not a valid name (1–64 characters)");
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\')
    {
        return invalid(
            "is not a valid name (no blanks, quotes, backslashes or control characters)",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Vec<String> {
        split_argv(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn argv_splits_like_keepalived() {
        assert_eq!(split("/bin/x a  b\tc"), ["/bin/x", "a", "b", "c"]);
        assert_eq!(split("  /bin/x  "), ["/bin/x"]);
        assert_eq!(split("/bin/x 'a b' \"c d\""), ["/bin/x", "a b", "c d"]);
        assert_eq!(
            split(r#"/bin/x "a \"q\" \\ \n""#),
            ["/bin/x", r#"a "q" \ n"#]
        );
        assert_eq!(split(r"/bin/x a\ b \'"), ["/bin/x", "a b", "'"]);
        assert_eq!(split(r#"/bin/x a"b c"d ''"#), ["/bin/x", "ab cd", ""]);
        assert_eq!(split("/bin/x 'it''s'"), ["/bin/x", "its"]);
        assert!(split("").is_empty());
        assert_eq!(
            split_argv("/bin/x 'a"),
            Err(SplitError::UnterminatedQuote('\''))
        );
        assert_eq!(
            split_argv("/bin/x \"a"),
            Err(SplitError::UnterminatedQuote('"'))
        );
        assert_eq!(split_argv("/bin/x a\\"), Err(SplitError::TrailingBackslash));
        assert_eq!(split_argv("/bin/x\na"), Err(SplitError::Control('\n')));
    }

    #[test]
    fn scripts_need_an_absolute_program() {
        let ok = NotifyScript::try_from("/usr/bin/logger -t 'rvrrpd notify'".to_string());
        assert_eq!(
            ok.map(|s| s.argv().to_vec()),
            Ok(vec![
                "/usr/bin/logger".into(),
                "-t".into(),
                "rvrrpd notify".into()
            ])
        );
        for bad in ["", "   ", "logger x", "./x", "/bin/x 'open"] {
            assert!(NotifyScript::try_from(bad.to_string()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn executability() {
        assert_eq!(check_executable(Path::new("/bin/sh"), None), Ok(()));
        assert!(check_executable(Path::new("/nonexistent/x"), None)
            .is_err_and(|e| e.contains("No such file")));
        assert!(check_executable(Path::new("/tmp"), None).is_err_and(|e| e.contains("regular")));
        assert!(check_executable(Path::new("/etc/passwd"), None)
            .is_err_and(|e| e.contains("not executable")));
    }

    #[test]
    fn names() {
        assert_eq!(check_name("VI_1"), Ok(()));
        for bad in ["", "a b", "a\"b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
