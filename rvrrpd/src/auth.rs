//! VRRPv2 authentication, byte-compatible with rVRRPd 0.1.3.
//!
//! The 8 bytes of authentication data that follow the address list of a VRRPv2 advertisement
//! are, by auth type:
//!
//! | type | number | 8 bytes |
//! |---|---|---|
//! | none | 0 | zeros (ignored on reception, RFC 3768 §5.3.10) |
//! | `rfc2338-simple` | 1 | the secret, truncated to 8 bytes, NUL-padded |
//! | `p0-t8-sha256` | 250 | first 8 bytes of HMAC-SHA256(key = secret, msg = header with checksum zero ‖ addresses) |
//! | `p1-t8-shake256` (`p1-b8-shake256`) | 251 | first 8 bytes of SHAKE256(secret ‖ header with checksum zero ‖ addresses) |
//!
//! The digest is computed first, with the checksum field zero; the VRRP checksum then covers
//! header, addresses and digest. Neither the IP header nor a sequence number is covered, so
//! P0/P1 advertisements can be replayed: they only keep out peers that do not know the secret.
//!
//! VRRPv3 (RFC 5798) has no authentication: only [`AuthType::None`] applies to it.

use core::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sha3::digest::{ExtendableOutput, Update, XofReader};
use sha3::Shake256;
use subtle::ConstantTimeEq;

/// Length of the VRRP header (version/type .. checksum).
const HEADER_LEN: usize = 8;
/// Length of the authentication data of a VRRPv2 advertisement.
pub const AUTH_DATA_LEN: usize = 8;

/// Why an authentication check or a key construction failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The advertisement's auth type differs from the configured one.
    #[error("authentication type mismatch: got {got}, expected {expected}")]
    TypeMismatch {
        /// Auth type field of the advertisement.
        got: u8,
        /// Auth type number of the configured key.
        expected: u8,
    },
    /// The simple (cleartext) password differs from the configured one.
    #[error("bad simple password")]
    BadPassword,
    /// The P0/P1 digest does not match the one computed with the configured secret.
    #[error("bad {0} digest")]
    BadDigest(&'static str),
    /// The message is too short to hold its header, addresses and authentication data.
    #[error("VRRP message truncated: need {needed} bytes for authentication, got {got}")]
    Truncated {
        /// Bytes the layout requires.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// A VRRPv3 advertisement was checked against a key other than `none`.
    #[error("VRRPv3 advertisements carry no authentication, but {0} is configured")]
    V3NotAuthenticated(&'static str),
    /// `from_name` was given a name no auth type has.
    #[error("unknown auth_type {0:?} (expected rfc2338-simple, p0-t8-sha256 or p1-t8-shake256)")]
    UnknownType(String),
    /// The secret is longer than the auth type allows.
    #[error("{kind} secret too long: {len} bytes, at most {max}")]
    SecretTooLong {
        /// Name of the auth type.
        kind: &'static str,
        /// Length given.
        len: usize,
        /// Longest secret allowed.
        max: usize,
    },
    /// An authenticated type was given an empty secret.
    #[error("{0} secret is empty")]
    EmptySecret(&'static str),
}

/// The VRRPv2 authentication types rvrrpd knows, with their wire numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum AuthType {
    /// No authentication (RFC 3768).
    #[default]
    None = 0,
    /// Cleartext password (RFC 2338, removed by RFC 3768; kept for interoperability).
    Simple = 1,
    /// rVRRPd's truncated HMAC-SHA256.
    P0Sha256 = 250,
    /// rVRRPd's truncated SHAKE256 over secret ‖ message.
    P1Shake256 = 251,
}

impl AuthType {
    /// Parses a configuration name. `p1-t8-shake256` (the docs) and `p1-b8-shake256` (the
    /// original's code) both select [`AuthType::P1Shake256`]; `none` selects no authentication.
    pub fn from_name(name: &str) -> Result<Self, AuthError> {
        match name {
            "none" => Ok(AuthType::None),
            "rfc2338-simple" => Ok(AuthType::Simple),
            "p0-t8-sha256" => Ok(AuthType::P0Sha256),
            "p1-t8-shake256" | "p1-b8-shake256" => Ok(AuthType::P1Shake256),
            other => Err(AuthError::UnknownType(other.to_owned())),
        }
    }

    /// The auth type for a wire number, if rvrrpd knows it.
    pub fn from_number(n: u8) -> Option<Self> {
        match n {
            0 => Some(AuthType::None),
            1 => Some(AuthType::Simple),
            250 => Some(AuthType::P0Sha256),
            251 => Some(AuthType::P1Shake256),
            _ => None,
        }
    }

    /// The configuration name (the documented spelling).
    pub fn name(self) -> &'static str {
        match self {
            AuthType::None => "none",
            AuthType::Simple => "rfc2338-simple",
            AuthType::P0Sha256 => "p0-t8-sha256",
            AuthType::P1Shake256 => "p1-t8-shake256",
        }
    }

    /// The number carried in the advertisement's auth type field.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The longest secret the type accepts (0 for none, 8 for simple, 64 for P0/P1).
    pub fn max_secret_len(self) -> usize {
        match self {
            AuthType::None => 0,
            AuthType::Simple => 8,
            AuthType::P0Sha256 | AuthType::P1Shake256 => 64,
        }
    }
}

impl AuthType {
    /// The configuration's `auth_type` keywords (no `auth_type` means no authentication).
    pub const KEYWORDS: &'static [&'static str] =
        &["rfc2338-simple", "p0-t8-sha256", "p1-t8-shake256"];

    /// Whether this is one of rVRRPd's proprietary types (VRRPv2 only, forces `rfc3768`).
    pub fn is_proprietary(self) -> bool {
        matches!(self, AuthType::P0Sha256 | AuthType::P1Shake256)
    }
}

impl serde::Serialize for AuthType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// The configuration's `auth_type`: one of [`AuthType::KEYWORDS`] (or `p1-b8-shake256`, the
/// original code's spelling). `none` is not a keyword: leaving `auth_type` out means none.
impl<'de> serde::Deserialize<'de> for AuthType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        match AuthType::from_name(&text) {
            Ok(kind) if kind != AuthType::None => Ok(kind),
            _ => Err(serde::de::Error::custom(
                crate::config::serde_util::value_error(
                    format_args!("{text:?}"),
                    format_args!(
                        "is not a valid authentication type (expected {})",
                        crate::config::serde_util::one_of(Self::KEYWORDS)
                    ),
                ),
            )),
        }
    }
}

impl fmt::Display for AuthType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An auth type with its secret. `Debug` never shows the secret; it is wiped on drop.
#[derive(Clone)]
pub struct AuthKey {
    kind: AuthType,
    secret: Vec<u8>,
}

impl AuthKey {
    /// No authentication.
    pub fn none() -> Self {
        AuthKey {
            kind: AuthType::None,
            secret: Vec::new(),
        }
    }

    /// A key of `kind` with `secret`. The secret must be non-empty (unless `kind` is
    /// [`AuthType::None`], whose secret is discarded) and at most
    /// [`AuthType::max_secret_len`] bytes long.
    pub fn new(kind: AuthType, secret: impl Into<Vec<u8>>) -> Result<Self, AuthError> {
        let secret = secret.into();
        match kind {
            AuthType::None => Ok(AuthKey::none()),
            _ if secret.is_empty() => Err(AuthError::EmptySecret(kind.name())),
            _ if secret.len() > kind.max_secret_len() => Err(AuthError::SecretTooLong {
                kind: kind.name(),
                len: secret.len(),
                max: kind.max_secret_len(),
            }),
            _ => Ok(AuthKey { kind, secret }),
        }
    }

    /// The auth type of this key.
    pub fn kind(&self) -> AuthType {
        self.kind
    }

    /// The 8 bytes of authentication data for a VRRPv2 advertisement whose 8-byte header
    /// (with the checksum field zero) and address list are `header_zero_cksum_and_addrs`.
    pub fn sign(&self, header_zero_cksum_and_addrs: &[u8]) -> [u8; AUTH_DATA_LEN] {
        self.compute(&[header_zero_cksum_and_addrs])
    }

    /// Checks the authentication of a received VRRPv2 message (header, addresses and
    /// authentication data; trailing bytes are ignored). The checksum field is treated as zero
    /// when recomputing a digest, and the comparison runs in constant time.
    pub fn verify(&self, vrrp_message: &[u8]) -> Result<(), AuthError> {
        if vrrp_message.len() < HEADER_LEN {
            return Err(AuthError::Truncated {
                needed: HEADER_LEN,
                got: vrrp_message.len(),
            });
        }
        if vrrp_message[0] >> 4 == 3 {
            return match self.kind {
                AuthType::None => Ok(()),
                kind => Err(AuthError::V3NotAuthenticated(kind.name())),
            };
        }
        let got_type = vrrp_message[4];
        if got_type != self.kind.number() {
            return Err(AuthError::TypeMismatch {
                got: got_type,
                expected: self.kind.number(),
            });
        }
        if self.kind == AuthType::None {
            // Nothing to check: RFC 3768 ignores the authentication data of type 0.
            return Ok(());
        }
        let addrs_end = HEADER_LEN + 4 * usize::from(vrrp_message[3]);
        let needed = addrs_end + AUTH_DATA_LEN;
        if vrrp_message.len() < needed {
            return Err(AuthError::Truncated {
                needed,
                got: vrrp_message.len(),
            });
        }
        let received = &vrrp_message[addrs_end..needed];
        let expected = self.compute(&[
            &vrrp_message[..6],
            &[0, 0],
            &vrrp_message[HEADER_LEN..addrs_end],
        ]);
        let equal: bool = received.ct_eq(&expected).into();
        match (self.kind, equal) {
            (AuthType::None, _) | (_, true) => Ok(()),
            (AuthType::Simple, false) => Err(AuthError::BadPassword),
            (kind, false) => Err(AuthError::BadDigest(kind.name())),
        }
    }

    /// Authentication data over the concatenation of `parts`.
    fn compute(&self, parts: &[&[u8]]) -> [u8; AUTH_DATA_LEN] {
        let mut out = [0u8; AUTH_DATA_LEN];
        match self.kind {
            AuthType::None => {}
            AuthType::Simple => {
                let n = self.secret.len().min(AUTH_DATA_LEN);
                out[..n].copy_from_slice(&self.secret[..n]);
            }
            AuthType::P0Sha256 => {
                // HMAC accepts keys of any length, so this never takes the error branch; an
                // all-zero tag would simply fail verification.
                if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret) {
                    for p in parts {
                        Mac::update(&mut mac, p);
                    }
                    let tag = mac.finalize().into_bytes();
                    out.copy_from_slice(&tag[..AUTH_DATA_LEN]);
                }
            }
            AuthType::P1Shake256 => {
                let mut xof = Shake256::default();
                xof.update(&self.secret);
                for p in parts {
                    xof.update(p);
                }
                xof.finalize_xof().read(&mut out);
            }
        }
        out
    }
}

impl Default for AuthKey {
    fn default() -> Self {
        AuthKey::none()
    }
}

impl PartialEq for AuthKey {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.secret.len() == other.secret.len()
            && bool::from(self.secret.ct_eq(&other.secret))
    }
}

impl Eq for AuthKey {}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthKey")
            .field("kind", &self.kind)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Drop for AuthKey {
    fn drop(&mut self) {
        for b in self.secret.iter_mut() {
            // SAFETY: `b` is a valid, aligned, exclusive reference into the vector.
            unsafe { core::ptr::write_volatile(b, 0) };
        }
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    /// VRRPv2 header with checksum zero + one address, for `auth_type`.
    fn message_head(auth_type: u8) -> Vec<u8> {
        vec![
            0x21, 0x33, 0x64, 0x01, auth_type, 0x01, 0x00, 0x00, 192, 168, 1, 100,
        ]
    }

    /// Independent HMAC-SHA256 (RFC 2104) from plain SHA-256, for keys of at most 64 bytes.
    fn reference_hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
        let mut k = [0u8; 64];
        k[..key.len()].copy_from_slice(key);
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let inner = Sha256::new()
            .chain_update(&ipad)
            .chain_update(msg)
            .finalize();
        Sha256::new()
            .chain_update(&opad)
            .chain_update(inner)
            .finalize()
            .into()
    }

    /// A full message: head, the signature, with a non-zero checksum field.
    fn signed(key: &AuthKey) -> Vec<u8> {
        let mut msg = message_head(key.kind().number());
        let tag = key.sign(&msg);
        msg.extend_from_slice(&tag);
        msg[6] = 0xab; // any checksum: verify must zero it
        msg[7] = 0xcd;
        msg
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(AuthType::from_name("rfc2338-simple"), Ok(AuthType::Simple));
        assert_eq!(AuthType::from_name("p0-t8-sha256"), Ok(AuthType::P0Sha256));
        assert_eq!(
            AuthType::from_name("p1-t8-shake256"),
            Ok(AuthType::P1Shake256)
        );
        assert_eq!(
            AuthType::from_name("p1-b8-shake256"),
            Ok(AuthType::P1Shake256)
        );
        assert_eq!(AuthType::from_name("none"), Ok(AuthType::None));
        assert_eq!(
            AuthType::from_name("md5"),
            Err(AuthError::UnknownType("md5".into()))
        );
        for t in [
            AuthType::None,
            AuthType::Simple,
            AuthType::P0Sha256,
            AuthType::P1Shake256,
        ] {
            assert_eq!(AuthType::from_name(t.name()), Ok(t));
            assert_eq!(AuthType::from_number(t.number()), Some(t));
        }
        assert_eq!(AuthType::from_number(2), None);
        assert_eq!(
            [0, 1, 250, 251],
            [
                AuthType::None,
                AuthType::Simple,
                AuthType::P0Sha256,
                AuthType::P1Shake256
            ]
            .map(AuthType::number)
        );
        assert_eq!(AuthType::Simple.max_secret_len(), 8);
        assert_eq!(AuthType::P0Sha256.max_secret_len(), 64);
        assert_eq!(AuthType::P1Shake256.max_secret_len(), 64);
    }

    #[test]
    fn key_construction_checks_secret() {
        assert_eq!(
            AuthKey::new(AuthType::Simple, "123456789"),
            Err(AuthError::SecretTooLong {
                kind: "rfc2338-simple",
                len: 9,
                max: 8
            })
        );
        assert_eq!(
            AuthKey::new(AuthType::P0Sha256, ""),
            Err(AuthError::EmptySecret("p0-t8-sha256"))
        );
        assert!(AuthKey::new(AuthType::P1Shake256, vec![7u8; 64]).is_ok());
        assert!(AuthKey::new(AuthType::P1Shake256, vec![7u8; 65]).is_err());
        assert_eq!(AuthKey::new(AuthType::None, "ignored"), Ok(AuthKey::none()));
    }

    #[test]
    fn debug_hides_secret() {
        let key = AuthKey::new(AuthType::Simple, "s3cr3t").unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(!shown.contains("115"), "{shown}"); // not even as byte values
        assert!(shown.contains("Simple"));
    }

    #[test]
    fn none_signs_zeros() {
        assert_eq!(AuthKey::none().sign(&message_head(0)), [0; 8]);
    }

    #[test]
    fn simple_is_nul_padded_secret() {
        let key = AuthKey::new(AuthType::Simple, "pass").unwrap();
        assert_eq!(key.sign(&message_head(1)), *b"pass\0\0\0\0");
        let key = AuthKey::new(AuthType::Simple, "12345678").unwrap();
        assert_eq!(key.sign(&message_head(1)), *b"12345678");
    }

    #[test]
    fn p0_is_truncated_hmac_sha256() {
        let key = AuthKey::new(AuthType::P0Sha256, "secret").unwrap();
        let head = message_head(250);
        let full = reference_hmac_sha256(b"secret", &head);
        assert_eq!(key.sign(&head), full[..8]);
    }

    #[test]
    fn p0_matches_rfc4231_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let key = AuthKey::new(AuthType::P0Sha256, "Jefe").unwrap();
        assert_eq!(
            key.sign(b"what do ya want for nothing?"),
            [0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e]
        );
    }

    #[test]
    fn p1_is_truncated_shake256_of_secret_then_message() {
        let key = AuthKey::new(AuthType::P1Shake256, "secret").unwrap();
        let head = message_head(251);
        let mut xof = Shake256::default();
        xof.update(b"secret");
        xof.update(&head);
        let mut want = [0u8; 8];
        xof.finalize_xof().read(&mut want);
        assert_eq!(key.sign(&head), want);
    }

    #[test]
    fn shake256_known_answer() {
        // SHAKE256("") starts 46 b9 dd 2b 0b a8 8d 13 (FIPS 202 example values).
        let key = AuthKey {
            kind: AuthType::P1Shake256,
            secret: Vec::new(),
        };
        assert_eq!(
            key.sign(b""),
            [0x46, 0xb9, 0xdd, 0x2b, 0x0b, 0xa8, 0x8d, 0x13]
        );
    }

    #[test]
    fn verify_accepts_own_signatures() {
        for key in [
            AuthKey::none(),
            AuthKey::new(AuthType::Simple, "pw").unwrap(),
            AuthKey::new(AuthType::P0Sha256, "k0").unwrap(),
            AuthKey::new(AuthType::P1Shake256, "k1").unwrap(),
        ] {
            let mut msg = signed(&key);
            assert_eq!(key.verify(&msg), Ok(()), "{key:?}");
            msg.extend_from_slice(&[0; 6]); // Ethernet padding is ignored
            assert_eq!(key.verify(&msg), Ok(()), "{key:?}");
        }
    }

    #[test]
    fn verify_rejects_wrong_type() {
        let key = AuthKey::new(AuthType::P0Sha256, "k").unwrap();
        let msg = signed(&AuthKey::new(AuthType::Simple, "k").unwrap());
        assert_eq!(
            key.verify(&msg),
            Err(AuthError::TypeMismatch {
                got: 1,
                expected: 250
            })
        );
        assert_eq!(
            AuthKey::none().verify(&msg),
            Err(AuthError::TypeMismatch {
                got: 1,
                expected: 0
            })
        );
    }

    #[test]
    fn verify_rejects_wrong_password() {
        let key = AuthKey::new(AuthType::Simple, "right").unwrap();
        let msg = signed(&AuthKey::new(AuthType::Simple, "wrong").unwrap());
        assert_eq!(key.verify(&msg), Err(AuthError::BadPassword));
        // A prefix of the password is not the password.
        let msg = signed(&AuthKey::new(AuthType::Simple, "righ").unwrap());
        assert_eq!(key.verify(&msg), Err(AuthError::BadPassword));
    }

    #[test]
    fn verify_rejects_tampering() {
        for kind in [AuthType::P0Sha256, AuthType::P1Shake256] {
            let key = AuthKey::new(kind, "k").unwrap();
            let good = signed(&key);
            // Flip a bit in the digest, then in the priority, then in the address.
            for pos in [good.len() - 1, 2, 11] {
                let mut bad = good.clone();
                bad[pos] ^= 0x01;
                assert_eq!(
                    key.verify(&bad),
                    Err(AuthError::BadDigest(kind.name())),
                    "{pos}"
                );
            }
            let other = AuthKey::new(kind, "K").unwrap();
            assert_eq!(other.verify(&good), Err(AuthError::BadDigest(kind.name())));
        }
    }

    #[test]
    fn verify_rejects_truncated() {
        let key = AuthKey::new(AuthType::Simple, "pw").unwrap();
        let msg = signed(&key);
        assert_eq!(
            key.verify(&msg[..msg.len() - 1]),
            Err(AuthError::Truncated {
                needed: 20,
                got: 19
            })
        );
        assert_eq!(
            key.verify(&msg[..3]),
            Err(AuthError::Truncated { needed: 8, got: 3 })
        );
    }

    #[test]
    fn v3_has_no_authentication() {
        let msg = [0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0x00, 0x00, 10, 0, 0, 1];
        assert_eq!(AuthKey::none().verify(&msg), Ok(()));
        let key = AuthKey::new(AuthType::Simple, "pw").unwrap();
        assert_eq!(
            key.verify(&msg),
            Err(AuthError::V3NotAuthenticated("rfc2338-simple"))
        );
    }

    #[test]
    fn keys_compare_by_kind_and_secret() {
        let a = AuthKey::new(AuthType::P0Sha256, "abc").unwrap();
        assert_eq!(a, a.clone());
        assert_ne!(a, AuthKey::new(AuthType::P1Shake256, "abc").unwrap());
        assert_ne!(a, AuthKey::new(AuthType::P0Sha256, "abd").unwrap());
        assert_ne!(a, AuthKey::new(AuthType::P0Sha256, "ab").unwrap());
    }
}
