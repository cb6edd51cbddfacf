//! `[api]`: the client API listener and its users.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::secret::Secret;
use super::serde_util::value_error;

/// The `[api]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Authorized users (serialized without their password hashes).
    #[serde(
        default,
        deserialize_with = "super::serde_util::deserialize_parsed_list"
    )]
    pub users: Vec<UserEntry>,
    /// Secret keying session tokens; `None` means a random 128-bit value at every start.
    /// Never serialized.
    #[serde(default, skip_serializing)]
    pub secret: Option<Secret>,
    /// Listening address and port (default `0.0.0.0:7080`).
    #[serde(default = "default_host", deserialize_with = "deserialize_host")]
    pub host: SocketAddr,
    /// Serve HTTPS instead of HTTP (default false).
    #[serde(default, deserialize_with = "super::serde_util::or_default")]
    pub tls: bool,
    /// TLS private key file (default `/etc/rvrrpd/ssl/key.pem`).
    #[serde(default = "default_tls_key")]
    pub tls_key: PathBuf,
    /// TLS certificate chain file (default `/etc/rvrrpd/ssl/cert.pem`).
    #[serde(default = "default_tls_cert")]
    pub tls_cert: PathBuf,
    /// Extension: client addresses or networks (`10.0.0.0/8`, `::1`) that may read `/metrics`
    /// without a session (default: none; `/metrics` then needs a session like every path).
    #[serde(default)]
    pub metrics_allow: Vec<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            users: Vec::new(),
            metrics_allow: Vec::new(),
            secret: None,
            host: default_host(),
            tls: false,
            tls_key: default_tls_key(),
            tls_cert: default_tls_cert(),
        }
    }
}

fn default_host() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 7080))
}

fn default_tls_key() -> PathBuf {
    PathBuf::from("/etc/rvrrpd/ssl/key.pem")
}

fn default_tls_cert() -> PathBuf {
    PathBuf::from("/etc/rvrrpd/ssl/cert.pem")
}

fn deserialize_host<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.trim().parse().map_err(|_| {
        serde::de::Error::custom(value_error(
            format_args!("{text:?}"),
            "is not a valid listening address (address:port, e.g. 0.0.0.0:7080 or [::]:7080)",
        ))
    })
}

/// One `users` entry, as written by `rvrrpd-pw`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    /// User name: alphanumeric, 1–64 characters.
    pub user: String,
    /// Access level, one digit (the original always writes 0).
    pub level: u8,
    /// How the password is verified.
    pub credential: Credential,
}

/// A stored password verifier.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// `{{SHA256}}user:level:salt:hash`: SHA-256 over the password followed by the salt's hex text.
    Sha256 {
        /// Salt, lowercase hex text (not zero-padded).
        salt: String,
        /// Digest, 64 lowercase hex characters.
        hash: String,
    },
    /// `{{SCRYPT}}user:level::<PHC string>`.
    Scrypt {
        /// The PHC-style string (`$...`).
        phc: String,
    },
}

impl Credential {
    /// The scheme's name as written between double braces.
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Sha256 { .. } => "SHA256",
            Self::Scrypt { .. } => "SCRYPT",
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential::{}(<redacted>)", self.scheme())
    }
}

impl FromStr for UserEntry {
    type Err = String;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        // The message never echoes the line: it holds a password hash.
        let malformed = |why: &str| {
            format!(
                "is not a valid user entry ({why}); expected {{{{SHA256}}}}user:level:salt:hash \
                 or {{{{SCRYPT}}}}user:level::<scrypt string>, as written by rvrrpd-pw"
            )
        };
        let (scheme, rest) = if let Some(rest) = line.strip_prefix("{{SHA256}}") {
            ("SHA256", rest)
        } else if let Some(rest) = line.strip_prefix("{{SCRYPT}}") {
            ("SCRYPT", rest)
        } else {
            return Err(malformed("unknown or missing {{SCHEME}} prefix"));
        };
        let mut fields = rest.splitn(4, ':');
        let (Some(user), Some(level), Some(salt), Some(verifier)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(malformed("too few ':'-separated fields"));
        };
        if user.is_empty() || user.len() > 64 || !user.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(malformed("the user name must be 1 to 64 letters or digits"));
        }
        let level = match level.as_bytes() {
            [digit @ b'0'..=b'9'] => digit - b'0',
            _ => return Err(malformed("the level must be a single digit")),
        };
        let is_lower_hex = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        let credential = if scheme == "SHA256" {
            if salt.is_empty() || salt.len() > 16 || !is_lower_hex(salt) {
                return Err(malformed("the salt must be 1 to 16 lowercase hex digits"));
            }
            if verifier.len() != 64 || !is_lower_hex(verifier) {
                return Err(malformed("the hash must be 64 lowercase hex digits"));
            }
            Credential::Sha256 {
                salt: salt.to_string(),
                hash: verifier.to_string(),
            }
        } else {
            if !salt.is_empty() {
                return Err(malformed("the salt field must be empty for {{SCRYPT}}"));
            }
            if !verifier.starts_with('$')
                || verifier.len() < 2
                || !verifier.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(malformed(
                    "the scrypt string must be a '$'-prefixed PHC string",
                ));
            }
            Credential::Scrypt {
                phc: verifier.to_string(),
            }
        };
        Ok(Self {
            user: user.to_string(),
            level,
            credential,
        })
    }
}

impl<'de> Deserialize<'de> for UserEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let line = String::deserialize(deserializer)?;
        line.parse().map_err(serde::de::Error::custom)
    }
}

/// Serialized as `{"user": .., "level": .., "scheme": ..}`: never the salt or hash.
impl Serialize for UserEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut entry = serializer.serialize_struct("UserEntry", 3)?;
        entry.serialize_field("user", &self.user)?;
        entry.serialize_field("level", &self.level)?;
        entry.serialize_field("scheme", self.credential.scheme())?;
        entry.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "095820af1ec2ad8b5c5c5aa2ea2ecf9e0c88d4e86b95e6ab6c1b8fb8a9a2c8f1";

    #[test]
    fn sha256_entry_parses() {
        let line = format!("{{{{SHA256}}}}admin:0:1eb7ac761a1201f9:{HASH}");
        let entry: Result<UserEntry, _> = line.parse();
        assert!(matches!(
            entry,
            Ok(UserEntry { ref user, level: 0, credential: Credential::Sha256 { .. } }) if user == "admin"
        ));
    }

    #[test]
    fn scrypt_entry_parses() {
        let entry: Result<UserEntry, _> =
            "{{SCRYPT}}bob:1::$scrypt$ln=15,r=8,p=1$c2FsdA$aGFzaA".parse();
        assert!(matches!(
            entry,
            Ok(UserEntry {
                level: 1,
                credential: Credential::Scrypt { .. },
                ..
            })
        ));
    }

    #[test]
    fn malformed_entries_are_rejected() {
        for bad in [
            "admin:0:1:2",
            "{{SHA256}}ad-min:0:1eb7:".to_string().as_str(),
            &format!("{{{{SHA256}}}}admin:00:1eb7:{HASH}"),
            &format!("{{{{SHA256}}}}admin:0:1EB7:{HASH}"),
            "{{SHA256}}admin:0:1eb7:abcd",
            "{{SCRYPT}}admin:0:salt:$scrypt$x",
        ] {
            assert!(bad.parse::<UserEntry>().is_err(), "{bad}");
        }
    }

    #[test]
    fn serialization_hides_hashes() {
        let line = format!("{{{{SHA256}}}}admin:0:1eb7ac761a1201f9:{HASH}");
        let api = ApiConfig {
            users: line.parse().into_iter().collect(),
            secret: Some(Secret::new("hunter2")),
            ..ApiConfig::default()
        };
        let json = serde_json::to_string(&api).unwrap_or_default();
        assert!(json.contains("\"user\":\"admin\""), "{json}");
        assert!(
            !json.contains(HASH) && !json.contains("1eb7ac") && !json.contains("hunter2"),
            "{json}"
        );
    }
}
