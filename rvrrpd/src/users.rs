//! Client API users: creating and verifying `users` entries (the `rvrrpd-pw` formats).
//!
//! Two schemes are understood (see `docs/api.md`):
//!
//! * `{{SHA256}}user:level:salt:hash`, the original's format, kept for compatibility: `salt` is a
//!   random 64-bit number in lowercase hex (not zero-padded) and `hash` the lowercase hex of
//!   SHA-256 over the password bytes followed by the salt's hex *text*. One unkeyed hash round is
//!   cheap to brute-force if the configuration leaks, so new entries should use scrypt.
//! * `{{SCRYPT}}user:level::<PHC string>` (the default of `rvrrpd-pw`): scrypt with
//!   `log2(N) = 15, r = 8, p = 1` (32 MiB, about 0.1 s per verification on a current CPU) and a
//!   random 128-bit salt, written as a standard `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` PHC string.
//!   Verification reads the parameters from the string, so older or stronger entries keep working.
//!
//! The level digit grants access: `0` read-only, `1` read-write (the original always wrote 0 and
//! ignored it, so existing configurations keep read access). Digits 2–9 are reserved and grant
//! read-only access.

use std::fmt;
use std::str::FromStr;

use rand::RngCore;
use scrypt::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{Credential, UserEntry};

/// scrypt cost parameters of new entries: `log2(N)`.
pub const SCRYPT_LOG_N: u8 = 15;
/// scrypt block size `r` of new entries.
pub const SCRYPT_R: u32 = 8;
/// scrypt parallelism `p` of new entries.
pub const SCRYPT_P: u32 = 1;

/// Hash scheme of a new entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// `{{SHA256}}`: compatible with rVRRPd 0.1.3, weak against offline guessing.
    Sha256,
    /// `{{SCRYPT}}` with [`SCRYPT_LOG_N`], [`SCRYPT_R`], [`SCRYPT_P`] (default).
    #[default]
    Scrypt,
}

impl FromStr for Algorithm {
    type Err = UsersError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "sha256" => Ok(Self::Sha256),
            "scrypt" => Ok(Self::Scrypt),
            _ => Err(UsersError::Algorithm(text.to_string())),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sha256 => "sha256",
            Self::Scrypt => "scrypt",
        })
    }
}

/// What a user may do through the API, from the entry's level digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Level 0 (and the reserved 2–9): `GET` only.
    ReadOnly,
    /// Level 1: reads and writes.
    ReadWrite,
}

impl Access {
    /// The access granted by a level digit.
    pub fn from_level(level: u8) -> Self {
        if level == 1 {
            Self::ReadWrite
        } else {
            Self::ReadOnly
        }
    }

    /// Name used in responses and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read-only",
            Self::ReadWrite => "read-write",
        }
    }
}

/// Why an entry could not be created.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// Unknown algorithm name.
    #[error("unknown algorithm {0:?} (expected sha256 or scrypt)")]
    Algorithm(String),
    /// Invalid user name.
    #[error("invalid user name {0:?}: it must be 1 to 64 ASCII letters or digits")]
    User(String),
    /// Invalid level.
    #[error("invalid level {0}: it must be a single digit (0 read-only, 1 read-write)")]
    Level(u8),
    /// Empty password.
    #[error("the password must not be empty")]
    EmptyPassword,
    /// scrypt failed (parameters out of range).
    #[error("scrypt: {0}")]
    Scrypt(String),
}

/// Builds a `users` line for `user` with `password`.
pub fn make_entry(
    user: &str,
    level: u8,
    password: &[u8],
    algorithm: Algorithm,
) -> Result<String, UsersError> {
    match algorithm {
        Algorithm::Sha256 => sha256_entry(user, level, password, rand::thread_rng().next_u64()),
        Algorithm::Scrypt => scrypt_entry(user, level, password, SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P),
    }
}

/// `{{SHA256}}user:level:salt:hash` with the given salt (tests pass a fixed one).
pub fn sha256_entry(
    user: &str,
    level: u8,
    password: &[u8],
    salt: u64,
) -> Result<String, UsersError> {
    check_fields(user, level, password)?;
    let salt = format!("{salt:x}");
    let hash = sha256_hex(password, &salt);
    Ok(format!("{{{{SHA256}}}}{user}:{level}:{salt}:{hash}"))
}

/// `{{SCRYPT}}user:level::<PHC>` with explicit cost parameters (tests use cheap ones).
pub fn scrypt_entry(
    user: &str,
    level: u8,
    password: &[u8],
    log_n: u8,
    r: u32,
    p: u32,
) -> Result<String, UsersError> {
    check_fields(user, level, password)?;
    let params = scrypt::Params::new(log_n, r, p, scrypt::Params::RECOMMENDED_LEN)
        .map_err(|e| UsersError::Scrypt(e.to_string()))?;
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let phc = scrypt::Scrypt
        .hash_password_customized(password, None, None, params, &salt)
        .map_err(|e| UsersError::Scrypt(e.to_string()))?;
    Ok(format!("{{{{SCRYPT}}}}{user}:{level}::{phc}"))
}

fn check_fields(user: &str, level: u8, password: &[u8]) -> Result<(), UsersError> {
    if user.is_empty() || user.len() > 64 || !user.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(UsersError::User(user.to_string()));
    }
    if level > 9 {
        return Err(UsersError::Level(level));
    }
    if password.is_empty() {
        return Err(UsersError::EmptyPassword);
    }
    Ok(())
}

/// Lowercase hex SHA-256 of `password ‖ salt_text`.
fn sha256_hex(password: &[u8], salt_text: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(password);
    digest.update(salt_text.as_bytes());
    hex(&digest.finalize())
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Whether `password` matches the stored credential. Comparisons are constant-time; scrypt
/// entries cost one scrypt evaluation (call it off the async executor).
pub fn verify(credential: &Credential, password: &[u8]) -> bool {
    match credential {
        Credential::Sha256 { salt, hash } => {
            let computed = sha256_hex(password, salt);
            computed.as_bytes().ct_eq(hash.as_bytes()).into()
        }
        Credential::Scrypt { phc } => match PasswordHash::new(phc) {
            // `verify_password` compares the outputs in constant time.
            Ok(parsed) => scrypt::Scrypt.verify_password(password, &parsed).is_ok(),
            Err(_) => false,
        },
    }
}

/// Finds `user` in `users` and verifies `password`. An unknown user costs a verification too
/// (against another entry, result ignored), so response time does not reveal which names exist.
pub fn authenticate<'a>(
    users: &'a [UserEntry],
    user: &str,
    password: &[u8],
) -> Option<&'a UserEntry> {
    match users.iter().find(|entry| entry.user == user) {
        Some(entry) => verify(&entry.credential, password).then_some(entry),
        None => {
            // The costliest scheme configured, so unknown names take as long as known ones.
            let decoy = users
                .iter()
                .find(|u| matches!(u.credential, Credential::Scrypt { .. }))
                .or(users.first());
            if let Some(decoy) = decoy {
                let _ = verify(&decoy.credential, password);
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently with Python:
    /// `hashlib.sha256(b"banana" + b"1eb7ac761a1201f9").hexdigest()`.
    const BANANA_1EB7: &str = "3df024b5dc20a168d6a3fe406c65ec286e71c61c9c738e079ddd6dae255ee695";

    fn entry(line: &str) -> UserEntry {
        match line.parse() {
            Ok(entry) => entry,
            Err(e) => panic!("{line}: {e}"),
        }
    }

    #[test]
    fn sha256_vector_from_python() {
        let line = format!("{{{{SHA256}}}}admin:0:1eb7ac761a1201f9:{BANANA_1EB7}");
        let admin = entry(&line);
        assert!(verify(&admin.credential, b"banana"));
        assert!(!verify(&admin.credential, b"banana "));
        assert!(!verify(&admin.credential, b"Banana"));
        assert!(!verify(&admin.credential, b""));
    }

    #[test]
    fn sha256_entry_matches_vector_and_round_trips() {
        let line = sha256_entry("admin", 0, b"banana", 0x1eb7_ac76_1a12_01f9).unwrap_or_default();
        assert_eq!(
            line,
            format!("{{{{SHA256}}}}admin:0:1eb7ac761a1201f9:{BANANA_1EB7}")
        );
        // A small salt is not zero-padded, as in the original.
        let short = sha256_entry("bob", 1, b"pw", 0xab).unwrap_or_default();
        assert!(short.starts_with("{{SHA256}}bob:1:ab:"), "{short}");
        assert!(verify(&entry(&short).credential, b"pw"));
    }

    #[test]
    fn scrypt_entry_round_trips() {
        let line = scrypt_entry("carol", 1, b"correct horse", 4, 8, 1).unwrap_or_default();
        assert!(
            line.starts_with("{{SCRYPT}}carol:1::$scrypt$ln=4,r=8,p=1$"),
            "{line}"
        );
        let carol = entry(&line);
        assert_eq!(carol.level, 1);
        assert!(verify(&carol.credential, b"correct horse"));
        assert!(!verify(&carol.credential, b"correct horse!"));
    }

    #[test]
    fn scrypt_vector_from_python() {
        // hashlib.scrypt(b"banana", salt=b"rvrrpd-test-salt", n=16, r=8, p=1, dklen=32),
        // salt and hash in unpadded standard base64 as PHC strings have them.
        let line = "{{SCRYPT}}admin:1::$scrypt$ln=4,r=8,p=1$cnZycnBkLXRlc3Qtc2FsdA$\
                    xKZfxYOuJp+qRZsLXhuWVE4eadRdf+ByCPXbI7FXyKk";
        let admin = entry(line);
        assert!(verify(&admin.credential, b"banana"));
        assert!(!verify(&admin.credential, b"apple"));
    }

    #[test]
    fn bad_fields_are_refused() {
        assert!(matches!(
            sha256_entry("ad-min", 0, b"x", 1),
            Err(UsersError::User(_))
        ));
        assert!(matches!(
            sha256_entry("", 0, b"x", 1),
            Err(UsersError::User(_))
        ));
        assert!(matches!(
            sha256_entry("a", 10, b"x", 1),
            Err(UsersError::Level(10))
        ));
        assert!(matches!(
            sha256_entry("a", 0, b"", 1),
            Err(UsersError::EmptyPassword)
        ));
        assert!(matches!(
            "md5".parse::<Algorithm>(),
            Err(UsersError::Algorithm(_))
        ));
        assert_eq!("SHA256".parse::<Algorithm>().ok(), Some(Algorithm::Sha256));
    }

    #[test]
    fn authenticate_finds_user_and_checks_password() {
        let users = vec![
            entry(&format!(
                "{{{{SHA256}}}}admin:0:1eb7ac761a1201f9:{BANANA_1EB7}"
            )),
            entry(&sha256_entry("op", 1, b"secret", 7).unwrap_or_default()),
        ];
        assert_eq!(
            authenticate(&users, "op", b"secret").map(|u| u.level),
            Some(1)
        );
        assert!(authenticate(&users, "op", b"banana").is_none());
        assert!(authenticate(&users, "nobody", b"banana").is_none());
        assert_eq!(Access::from_level(0), Access::ReadOnly);
        assert_eq!(Access::from_level(1), Access::ReadWrite);
        assert_eq!(Access::from_level(7), Access::ReadOnly);
    }
}
