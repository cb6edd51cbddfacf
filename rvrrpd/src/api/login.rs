//! `POST /auth` request bodies.
//!
//! Three forms are accepted:
//! * the original's `user=NAME passwd=PASS`, fields separated by one space (this is what
//!   `curl -d "user=admin passwd=banana"` sends, labelled as form-encoded). Everything after
//!   `passwd=` is the password, taken literally;
//! * `application/x-www-form-urlencoded`: `user=NAME&passwd=PASS` (percent-decoded);
//! * JSON: `{"user": "NAME", "passwd": "PASS"}`.
//!
//! `password` is accepted as well as `passwd` in the last two forms.

use serde::Deserialize;

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
    /// Neither form matched.
    #[error("malformed login body: {0} (expected \"user=NAME passwd=PASSWORD\", a form-encoded body or JSON {{\"user\": .., \"passwd\": ..}})")]
    Malformed(&'static str),
}

#[derive(Deserialize)]
struct JsonLogin {
    user: String,
    #[serde(alias = "password")]
    passwd: String,
}

/// Parses a login body; `json` is true when the request's content type says JSON.
pub fn parse(body: &[u8], json: bool) -> Result<Credentials, BodyError> {
    let text = std::str::from_utf8(body).map_err(|_| BodyError::Malformed("not UTF-8"))?;
    let credentials = if json || text.trim_start().starts_with('{') {
        let login: JsonLogin =
            serde_json::from_str(text).map_err(|_| BodyError::Malformed("invalid JSON"))?;
        Credentials {
            user: login.user,
            password: login.passwd.into_bytes(),
        }
    } else if let Some(rest) = text.strip_prefix("user=").filter(|_| text.contains(' ')) {
        let (user, password) = rest
            .split_once(" passwd=")
            .ok_or(BodyError::Malformed("missing \" passwd=\""))?;
        Credentials {
            user: user.to_string(),
            password: password.as_bytes().to_vec(),
        }
    } else {
        parse_form(text)?
    };
    if credentials.user.is_empty() {
        return Err(BodyError::Malformed("empty user name"));
    }
    if credentials.password.is_empty() {
        return Err(BodyError::Malformed("empty password"));
    }
    Ok(credentials)
}

fn parse_form(text: &str) -> Result<Credentials, BodyError> {
    let (mut user, mut password) = (None, None);
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value).ok_or(BodyError::Malformed("bad percent-encoding"))?;
        match percent_decode(name).as_deref() {
            Some(b"user") => {
                user =
                    Some(String::from_utf8(value).map_err(|_| BodyError::Malformed("not UTF-8"))?)
            }
            Some(b"passwd" | b"password") => password = Some(value),
            _ => {}
        }
    }
    match (user, password) {
        (Some(user), Some(password)) => Ok(Credentials { user, password }),
        (None, _) => Err(BodyError::Malformed("missing user")),
        (_, None) => Err(BodyError::Malformed("missing passwd")),
    }
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
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
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
            parse(b"user=admin passwd=a b&c", false),
            creds("admin", "a b&c")
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
}
