//! `POST /auth` request bodies.
//!
//! Three forms are accepted:
//! * the original's `user=NAME passwd=PASS`, fields separated by one space (this is what
//!   `curl -d "user=admin passwd=banana"` sends, labelled as form-encoded). Everything after
//!   `passwd=` is the password, taken literally;
//! * `application/x-www-form-urlencoded`: `user=NAME&passwd=PASS` (percent-decoded);
//! * JSON: `{"user": "NAME", "passwd": "PASS"}`.
//!
//! `password` is accepted as well as `passwd`. In every form the body must hold exactly these
//! two fields, once each: an unknown field, a repeated one, an empty body or one over
//! [`MAX_BODY`] bytes is refused (400) with an error naming the problem, as the configuration
//! refuses unknown keys. In the space-separated form a space always separates fields, so a
//! password containing a space must be sent form-encoded or as JSON.

use serde::Deserialize;

/// The longest login body accepted, in bytes: user names have at most 64 characters, and a
/// password of a few hundred bytes is already far beyond what anyone types.
pub const MAX_BODY: usize = 4096;

/// Credentials from a login body. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Password bytes.
    pub password: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why a login body was refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Nothing was sent.
    #[error("empty login body (expected {EXPECTED})")]
    Empty,
    /// More than [`MAX_BODY`] bytes.
    #[error("login body of {0} bytes is over the {MAX_BODY}-byte limit")]
    TooLong(usize),
    /// A field other than `user` and `passwd`.
    #[error("unknown field {0:?} in the login body (expected only user and passwd)")]
    UnknownField(String),
    /// A field given twice (`passwd` and `password` are the same field).
    #[error("field {0:?} given more than once in the login body")]
    RepeatedField(&'static str),
    /// A required field is absent.
    #[error("missing field {0:?} in the login body (expected {EXPECTED})")]
    MissingField(&'static str),
    /// A field is present but empty.
    #[error("empty {0} in the login body")]
    EmptyField(&'static str),
    /// Anything else (not UTF-8, bad JSON, bad percent-encoding).
    #[error("malformed login body: {0} (expected {EXPECTED})")]
    Malformed(String),
}

/// The accepted forms, for error messages.
const EXPECTED: &str =
    "\"user=NAME passwd=PASSWORD\", a form-encoded body or JSON {\"user\": .., \"passwd\": ..}";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLogin {
    user: String,
    #[serde(alias = "password")]
    passwd: String,
}

/// Parses a login body; `json` is true when the request's content type says JSON.
pub fn parse(body: &[u8], json: bool) -> Result<Credentials, BodyError> {
    if body.len() > MAX_BODY {
        return Err(BodyError::TooLong(body.len()));
    }
    let text = std::str::from_utf8(body).map_err(|_| BodyError::Malformed("not UTF-8".into()))?;
    if text.trim().is_empty() {
        return Err(BodyError::Empty);
    }
    let credentials = if json || text.trim_start().starts_with('{') {
        let login: JsonLogin = serde_json::from_str(text).map_err(|e| {
            // serde names the unknown or duplicate field; keep its words.
            BodyError::Malformed(format!("invalid JSON: {e}"))
        })?;
        Credentials {
            user: login.user,
            password: login.passwd.into_bytes(),
        }
    } else if text.starts_with("user=") && text.contains(' ') {
        // The original's form: no percent-encoding, fields separated by one space.
        fields(text.split(' '), |v| Ok(v.as_bytes().to_vec()))?
    } else {
        fields(text.split('&'), |v| {
            percent_decode(v).ok_or_else(|| BodyError::Malformed("bad percent-encoding".into()))
        })?
    };
    if credentials.user.is_empty() {
        return Err(BodyError::EmptyField("user name"));
    }
    if credentials.password.is_empty() {
        return Err(BodyError::EmptyField("password"));
    }
    Ok(credentials)
}

/// The `user` and `passwd` fields of `name=value` pairs (names decoded like values).
fn fields<'a>(
    pairs: impl Iterator<Item = &'a str>,
    decode: impl Fn(&str) -> Result<Vec<u8>, BodyError>,
) -> Result<Credentials, BodyError> {
    let (mut user, mut password) = (None, None);
    for pair in pairs {
        if pair.is_empty() {
            return Err(BodyError::Malformed(
                "an empty field (a separator at the start or the end, or two in a row)".into(),
            ));
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name)?;
        let (field, slot) = match name.as_slice() {
            b"user" => ("user", &mut user),
            b"passwd" | b"password" => ("passwd", &mut password),
            _ => {
                return Err(BodyError::UnknownField(
                    String::from_utf8_lossy(&name).into_owned(),
                ))
            }
        };
        if slot.is_some() {
            return Err(BodyError::RepeatedField(field));
        }
        *slot = Some(decode(value)?);
    }
    let user = user.ok_or(BodyError::MissingField("user"))?;
    let user =
        String::from_utf8(user).map_err(|_| BodyError::Malformed("user name not UTF-8".into()))?;
    let password = password.ok_or(BodyError::MissingField("passwd"))?;
    Ok(Credentials { user, password })
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
pub fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                // Exactly two hex digits (`from_str_radix` alone would also take `+1`).
                let hex = bytes.get(i + 1..i + 3)?;
                let digit = |b: &u8| char::from(*b).to_digit(16);
                let (hi, lo) = (digit(&hex[0])?, digit(&hex[1])?);
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

/// Encodes text for a form body (unreserved characters kept, everything else `%XX`).
pub fn percent_encode(text: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len() * 3);
    for &b in text {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(user: &str, password: &str) -> Result<Credentials, BodyError> {
        Ok(Credentials {
            user: user.into(),
            password: password.as_bytes().to_vec(),
        })
    }

    #[test]
    fn original_space_form() {
        assert_eq!(
            parse(b"user=admin passwd=banana", false),
            creds("admin", "banana")
        );
        assert_eq!(
            parse(b"user=admin passwd=a&b=c%41", false),
            creds("admin", "a&b=c%41")
        );
    }

    #[test]
    fn form_encoded() {
        assert_eq!(
            parse(b"user=admin&passwd=ban%20a+na", false),
            creds("admin", "ban a na")
        );
        assert_eq!(parse(b"password=x&user=op", false), creds("op", "x"));
        let encoded = percent_encode("p&s=s w%rd".as_bytes());
        assert_eq!(
            parse(format!("user=u&passwd={encoded}").as_bytes(), false),
            creds("u", "p&s=s w%rd")
        );
    }

    #[test]
    fn json() {
        assert_eq!(
            parse(br#"{"user":"admin","passwd":"banana"}"#, true),
            creds("admin", "banana")
        );
        assert_eq!(
            parse(br#" {"user":"admin","password":"banana"}"#, false),
            creds("admin", "banana")
        );
    }

    #[test]
    fn malformed() {
        for body in [
            &b""[..],
            b"user=admin",
            b"user=admin passwd=",
            b"passwd=x",
            b"user=&passwd=x",
            b"user=a&passwd=%zz",
            b"{\"user\":1}",
            b"\xff\xfe",
            b"hello world",
        ] {
            assert!(parse(body, false).is_err(), "{body:?}");
        }
    }

    /// Found while writing the `api` fuzz target's reference parser: `%` had to be followed
    /// by two hex digits, but `u8::from_str_radix` also takes a sign, so `%+1` decoded to 0x01.
    #[test]
    fn percent_escapes_need_two_hex_digits() {
        for bad in ["%+1", "%+f", "a%+0b", "%-1", "%1", "%"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
        assert_eq!(percent_decode("%41%4a+%7e"), Some(b"AJ ~".to_vec()));
        assert!(matches!(
            parse(b"user=a&passwd=%+1", false),
            Err(BodyError::Malformed(_))
        ));
    }

    #[test]
    fn unknown_fields_are_refused_in_every_form() {
        let unknown = |f: &str| Err(BodyError::UnknownField(f.into()));
        assert_eq!(parse(b"user=admin&passwd=banana&x=1", false), unknown("x"));
        assert_eq!(parse(b"x=1&user=admin&passwd=banana", false), unknown("x"));
        let empty = |b: &[u8]| matches!(parse(b, false), Err(BodyError::Malformed(m)) if m.contains("empty field"));
        assert!(empty(b"user=admin&passwd=banana&"));
        assert!(empty(b"user=admin  passwd=banana"));
        assert!(empty(b"user=admin passwd=banana "));
        assert_eq!(parse(b"user=admin passwd=banana x=1", false), unknown("x"));
        assert_eq!(parse(b"user=admin x=1 passwd=banana", false), unknown("x"));
        assert_eq!(parse(b"user=admin passwd=a b", false), unknown("b"));
        let json = parse(br#"{"user":"admin","passwd":"banana","x":1}"#, true);
        assert!(
            matches!(&json, Err(BodyError::Malformed(m)) if m.contains("unknown field `x`")),
            "{json:?}"
        );
    }

    #[test]
    fn repeated_fields_are_refused_in_every_form() {
        let repeated = |f| Err(BodyError::RepeatedField(f));
        assert_eq!(
            parse(b"user=admin&passwd=banana&user=root", false),
            repeated("user")
        );
        assert_eq!(
            parse(b"user=admin&passwd=banana&password=x", false),
            repeated("passwd")
        );
        assert_eq!(
            parse(b"user=admin passwd=banana passwd=x", false),
            repeated("passwd")
        );
        for body in [
            &br#"{"user":"admin","passwd":"banana","user":"root"}"#[..],
            br#"{"user":"admin","passwd":"banana","password":"x"}"#,
        ] {
            let r = parse(body, true);
            assert!(
                matches!(&r, Err(BodyError::Malformed(m)) if m.contains("duplicate field")),
                "{r:?}"
            );
        }
    }

    #[test]
    fn empty_and_over_long_bodies_are_refused() {
        for json in [false, true] {
            assert_eq!(parse(b"", json), Err(BodyError::Empty));
            assert_eq!(parse(b"  \r\n", json), Err(BodyError::Empty));
        }
        let long = format!("user=admin&passwd={}", "a".repeat(MAX_BODY));
        assert_eq!(
            parse(long.as_bytes(), false),
            Err(BodyError::TooLong(long.len()))
        );
        let long = format!(r#"{{"user":"admin","passwd":"{}"}}"#, "a".repeat(MAX_BODY));
        assert_eq!(
            parse(long.as_bytes(), true),
            Err(BodyError::TooLong(long.len()))
        );
        let fits = format!("user=admin&passwd={}", "a".repeat(MAX_BODY - 18));
        assert_eq!(fits.len(), MAX_BODY);
        assert!(parse(fits.as_bytes(), false).is_ok());
    }

    #[test]
    fn errors_name_the_problem() {
        let msg = |b: &[u8]| parse(b, false).map(|_| ()).unwrap_err().to_string();
        assert!(msg(b"user=a&passwd=b&x=1").contains("unknown field \"x\""));
        assert!(msg(b"user=a&user=b&passwd=c").contains("\"user\" given more than once"));
        assert!(msg(b"user=a").contains("missing field \"passwd\""));
        assert!(msg(b"").contains("empty login body"));
    }
}
