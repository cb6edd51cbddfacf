//! Sessions: the original's four cookies (`user`, `ts`, `nonce`, `token`), their expiry and
//! revocation, and the throttling of failed logins.
//!
//! `token` is the lowercase hex HMAC-SHA3-256, keyed with the API secret, of the text
//! `user ‖ ts ‖ nonce` (`ts` in unix seconds and `nonce` a random u64, both in decimal), as in
//! rVRRPd 0.1.3. Unlike the original, a session expires [`SessionPolicy::lifetime`] after `ts`
//! (checked on the server, whatever the browser keeps), a logout revokes its nonce, and tokens
//! are compared in constant time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha3::Sha3_256;
use subtle::ConstantTimeEq;

use crate::config::{Secret, UserEntry};
use crate::users::{hex, Access};

/// Session lifetime and clock tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// How long a session is valid after login (default 1 hour); also the cookies' `Max-Age`.
    pub lifetime: Duration,
    /// How far in the future a `ts` may be (clock steps; default 60 s).
    pub max_future: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            lifetime: Duration::from_secs(3600),
            max_future: Duration::from_secs(60),
        }
    }
}

/// Throttling of failed logins per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed within `window` (default 5); the next attempts get 429.
    pub max_failures: u32,
    /// Window in which failures are counted (default 5 minutes).
    pub window: Duration,
    /// How long an address is refused once over the limit (default 60 s).
    pub lockout: Duration,
    /// Addresses tracked at most (default 4096); the oldest record is dropped beyond that.
    pub max_tracked: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::from_secs(300),
            lockout: Duration::from_secs(60),
            max_tracked: 4096,
        }
    }
}

/// An authenticated session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// User name.
    pub user: String,
    /// Login time (unix seconds).
    pub ts: u64,
    /// Session nonce.
    pub nonce: u64,
    /// What the user may do.
    pub access: Access,
}

/// A newly issued session's cookie values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// `user` cookie.
    pub user: String,
    /// `ts` cookie.
    pub ts: u64,
    /// `nonce` cookie.
    pub nonce: u64,
    /// `token` cookie.
    pub token: String,
}

/// Why a request's cookies do not make a valid session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// A cookie is missing or malformed.
    #[error("no session (log in with POST /auth)")]
    Missing,
    /// The token does not match.
    #[error("invalid session token")]
    BadToken,
    /// Too old, or from the future.
    #[error("session expired (log in again)")]
    Expired,
    /// Logged out.
    #[error("session ended by logout")]
    Revoked,
    /// The user is no longer configured.
    #[error("unknown user")]
    UnknownUser,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    first: Instant,
    count: u32,
    locked_until: Option<Instant>,
}

/// Session keys, revoked nonces and failed-login records of one API server.
pub struct Sessions {
    key: Vec<u8>,
    policy: SessionPolicy,
    throttle: ThrottlePolicy,
    revoked: Mutex<HashMap<u64, u64>>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("key", &"<redacted>")
            .field("policy", &self.policy)
            .field("throttle", &self.throttle)
            .finish_non_exhaustive()
    }
}

/// Current unix time in seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Sessions {
    /// Keys sessions with `secret`, or with a random 128-bit key when there is none.
    pub fn new(secret: Option<&Secret>, policy: SessionPolicy, throttle: ThrottlePolicy) -> Self {
        let key = match secret {
            Some(secret) if !secret.is_empty() => secret.expose().to_vec(),
            _ => {
                let mut key = vec![0u8; 16];
                rand::rngs::OsRng.fill_bytes(&mut key);
                key
            }
        };
        Self {
            key,
            policy,
            throttle,
            revoked: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The session policy.
    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// The token of (`user`, `ts`, `nonce`).
    pub fn token(&self, user: &str, ts: u64, nonce: u64) -> String {
        token_with_key(&self.key, user, ts, nonce)
    }

    /// Issues a session for `user` at unix time `now`.
    pub fn issue(&self, user: &str, now: u64) -> Issued {
        let nonce = rand::rngs::OsRng.next_u64();
        Issued {
            user: user.to_string(),
            ts: now,
            nonce,
            token: self.token(user, now, nonce),
        }
    }

    /// Checks the cookies `(name, value)` of a request at unix time `now` against `users`.
    pub fn validate<'a>(
        &self,
        cookies: impl IntoIterator<Item = (&'a str, &'a str)>,
        users: &[UserEntry],
        now: u64,
    ) -> Result<Session, SessionError> {
        let (mut user, mut ts, mut nonce, mut token) = (None, None, None, None);
        for (name, value) in cookies {
            match name {
                "user" => user = Some(value),
                "ts" => ts = Some(value),
                "nonce" => nonce = Some(value),
                "token" => token = Some(value),
                _ => {}
            }
        }
        let (Some(user), Some(ts), Some(nonce), Some(token)) = (user, ts, nonce, token) else {
            return Err(SessionError::Missing);
        };
        let ts: u64 = ts.parse().map_err(|_| SessionError::Missing)?;
        let nonce: u64 = nonce.parse().map_err(|_| SessionError::Missing)?;
        if user.is_empty() || user.len() > 64 || !user.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(SessionError::Missing);
        }
        let expected = self.token(user, ts, nonce);
        if !bool::from(expected.as_bytes().ct_eq(token.as_bytes())) {
            return Err(SessionError::BadToken);
        }
        if ts > now.saturating_add(self.policy.max_future.as_secs())
            || now.saturating_sub(ts) >= self.policy.lifetime.as_secs()
        {
            return Err(SessionError::Expired);
        }
        if self
            .revoked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&nonce)
        {
            return Err(SessionError::Revoked);
        }
        let entry = users
            .iter()
            .find(|entry| entry.user == user)
            .ok_or(SessionError::UnknownUser)?;
        Ok(Session {
            user: user.to_string(),
            ts,
            nonce,
            access: Access::from_level(entry.level),
        })
    }

    /// Revokes `session` (logout) until it would have expired anyway.
    pub fn revoke(&self, session: &Session, now: u64) {
        let lifetime = self.policy.lifetime.as_secs();
        let mut revoked = self.revoked.lock().unwrap_or_else(|e| e.into_inner());
        revoked.retain(|_, ts| now.saturating_sub(*ts) < lifetime);
        revoked.insert(session.nonce, session.ts);
    }

    /// `Err(retry_after)` when `addr` is locked out of logging in.
    pub fn check_throttle(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(&addr).and_then(|f| f.locked_until) {
            Some(until) if until > now => Err(until - now),
            Some(_) => {
                failures.remove(&addr);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Records a failed login from `addr`; returns true when this failure locked it out.
    pub fn record_failure(&self, addr: IpAddr, now: Instant) -> bool {
        let policy = self.throttle;
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if !failures.contains_key(&addr) && failures.len() >= policy.max_tracked {
            failures.retain(|_, f| match f.locked_until {
                Some(until) => until > now,
                None => now.duration_since(f.first) < policy.window,
            });
            if failures.len() >= policy.max_tracked {
                if let Some(oldest) = failures
                    .iter()
                    .min_by_key(|(_, f)| f.first)
                    .map(|(a, _)| *a)
                {
                    failures.remove(&oldest);
                }
            }
        }
        let record = failures.entry(addr).or_insert(Failures {
            first: now,
            count: 0,
            locked_until: None,
        });
        if now.duration_since(record.first) >= policy.window {
            *record = Failures {
                first: now,
                count: 0,
                locked_until: None,
            };
        }
        record.count += 1;
        if record.count >= policy.max_failures && record.locked_until.is_none() {
            record.locked_until = Some(now + policy.lockout);
            return true;
        }
        false
    }

    /// Forgets the failures of `addr` after a successful login.
    pub fn record_success(&self, addr: IpAddr) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&addr);
    }
}

/// The token of (`user`, `ts`, `nonce`) under `key`: lowercase hex HMAC-SHA3-256 of the text
/// `user ‖ ts ‖ nonce`.
pub fn token_with_key(key: &[u8], user: &str, ts: u64, nonce: u64) -> String {
    // HMAC accepts keys of any length.
    let mut mac = match <Hmac<Sha3_256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(user.as_bytes());
    mac.update(ts.to_string().as_bytes());
    mac.update(nonce.to_string().as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Splits `Cookie` header values into `(name, value)` pairs.
pub fn parse_cookies<'a>(headers: impl IntoIterator<Item = &'a str>) -> Vec<(&'a str, &'a str)> {
    headers
        .into_iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            Some((name.trim(), value.trim().trim_matches('"')))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<UserEntry> {
        ["{{SHA256}}admin:0:1:0000000000000000000000000000000000000000000000000000000000000000"]
            .iter()
            .filter_map(|l| l.parse().ok())
            .collect()
    }

    fn sessions() -> Sessions {
        Sessions::new(
            Some(&Secret::new("k")),
            SessionPolicy::default(),
            ThrottlePolicy::default(),
        )
    }

    #[test]
    fn token_vector_from_python() {
        // hmac.new(b"k", b"admin" + b"1700000000" + b"42", hashlib.sha3_256).hexdigest()
        assert_eq!(
            token_with_key(b"k", "admin", 1_700_000_000, 42),
            "e3e05a428e1d6661ab781b55131bd88d7558c9c5ba834bc00967d0bd1ededc59"
        );
    }

    #[test]
    fn issued_session_validates_until_expiry() {
        let s = sessions();
        let i = s.issue("admin", 1000);
        let (ts, nonce) = (i.ts.to_string(), i.nonce.to_string());
        let cookies = || {
            [
                ("user", "admin"),
                ("ts", ts.as_str()),
                ("nonce", nonce.as_str()),
                ("token", i.token.as_str()),
            ]
        };
        let ok = s.validate(cookies(), &users(), 1000 + 3599);
        assert_eq!(ok.as_ref().map(|s| s.access), Ok(Access::ReadOnly));
        assert_eq!(
            s.validate(cookies(), &users(), 1000 + 3600),
            Err(SessionError::Expired)
        );
        assert_eq!(
            s.validate(cookies(), &users(), 1000 - 61),
            Err(SessionError::Expired)
        );
        if let Ok(session) = ok {
            s.revoke(&session, 1001);
        }
        assert_eq!(
            s.validate(cookies(), &users(), 1002),
            Err(SessionError::Revoked)
        );
        assert_eq!(s.validate(cookies(), &[], 1002), Err(SessionError::Revoked));
    }

    #[test]
    fn forged_tokens_are_refused() {
        let s = sessions();
        let other = Sessions::new(None, SessionPolicy::default(), ThrottlePolicy::default());
        let forged = other.token("admin", 1000, 1);
        let cookies = [
            ("user", "admin"),
            ("ts", "1000"),
            ("nonce", "1"),
            ("token", forged.as_str()),
        ];
        assert_eq!(
            s.validate(cookies, &users(), 1000),
            Err(SessionError::BadToken)
        );
        assert_eq!(
            s.validate([("user", "admin")], &users(), 1000),
            Err(SessionError::Missing)
        );
    }

    #[test]
    fn throttle_locks_out_after_max_failures() {
        let s = sessions();
        let addr: IpAddr = [192, 0, 2, 1].into();
        let t0 = Instant::now();
        for i in 0..4 {
            assert!(!s.record_failure(addr, t0), "failure {i}");
            assert!(s.check_throttle(addr, t0).is_ok());
        }
        assert!(s.record_failure(addr, t0));
        assert!(s
            .check_throttle(addr, t0 + Duration::from_secs(59))
            .is_err());
        assert!(s.check_throttle(addr, t0 + Duration::from_secs(60)).is_ok());
        s.record_failure(addr, t0 + Duration::from_secs(61));
        s.record_success(addr);
        assert!(s.check_throttle(addr, t0 + Duration::from_secs(61)).is_ok());
    }

    #[test]
    fn cookies_parse() {
        let c = parse_cookies(["user=admin; ts=1", "nonce=\"2\";token=abc"]);
        assert_eq!(
            c,
            vec![
                ("user", "admin"),
                ("ts", "1"),
                ("nonce", "2"),
                ("token", "abc")
            ]
        );
    }
}
