//! `api` input: a sequence of steps, each a selector byte and its fields (see [`decode`]).
//!
//! Steps log in (the three body forms, right or wrong passwords, or raw bodies), send
//! requests (templated or raw paths, cookies from an earlier login — intact, altered or
//! wrapped in other cookies — or raw `Cookie` headers, templated or raw bodies) and log out.

use crate::{Reader, Writer};

/// The users the target configures, by index: `(name, password, read-write)`.
pub const USERS: [(&str, &str, bool); 3] = [
    ("admin", "banana", true),
    ("reader", "pw0", false),
    ("scrypter", "s3cret pw", true),
];

/// Login body form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// `user=NAME passwd=PASS` (the original's).
    Space,
    /// `user=NAME&passwd=PASS`, percent-encoded.
    Urlencoded,
    /// `{"user": .., "passwd": ..}`.
    Json,
    /// These bytes as the body.
    Raw(Vec<u8>),
}

/// A login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// Client address index.
    pub peer: u8,
    /// Body form.
    pub form: Form,
    /// User index into [`USERS`]; anything else is an unknown user.
    pub user: u8,
    /// Whether the password is the user's.
    pub right_password: bool,
    /// `Content-Type: application/json`.
    pub json_type: bool,
}

/// How a request's `Cookie` header is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cookies {
    /// No header.
    None,
    /// The cookies of session `index` (modulo the sessions issued), as issued.
    Session(u8),
    /// Session `index`'s cookies with one value altered by `how`.
    Altered(u8, u8),
    /// Session `index`'s cookies between these bytes (before, after).
    Wrapped(u8, Vec<u8>, Vec<u8>),
    /// These bytes as the header.
    Raw(Vec<u8>),
}

/// A request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Nothing.
    Empty,
    /// `{"priority": N}`.
    Priority(i64),
    /// `{"preemption": B}`.
    Preemption(bool),
    /// One of the vrouter templates (index), with a group number.
    VRouter(u8, u8),
    /// These bytes.
    Raw(Vec<u8>),
}

/// A request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Client address index.
    pub peer: u8,
    /// Method index (GET, POST, PUT, DELETE, PATCH).
    pub method: u8,
    /// Path template index, group and interface index; or a raw path.
    pub path: Result<(u8, u8, u8), Vec<u8>>,
    /// Cookies.
    pub cookies: Cookies,
    /// Body.
    pub body: Body,
    /// `Content-Type: application/json`.
    pub json_type: bool,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `POST /auth`.
    Login(Login),
    /// Any request.
    Call(Call),
    /// `POST /auth/logout` with session `index`'s cookies.
    Logout(u8, u8),
}

/// Decodes the steps (every byte string is a sequence of them).
pub fn decode(data: &[u8]) -> Vec<Step> {
    let mut r = Reader::new(data);
    let mut steps = Vec::new();
    while !r.is_empty() && steps.len() < 24 {
        let step = match r.u8() % 3 {
            0 => {
                let peer = r.u8();
                let form = match r.u8() % 4 {
                    0 => Form::Space,
                    1 => Form::Urlencoded,
                    2 => Form::Json,
                    _ => Form::Raw(r.blob16().to_vec()),
                };
                let user = r.u8();
                let flags = r.u8();
                Step::Login(Login {
                    peer,
                    form,
                    user,
                    right_password: flags & 1 != 0,
                    json_type: flags & 2 != 0,
                })
            }
            1 => {
                let peer = r.u8();
                let method = r.u8();
                let path = match r.u8() {
                    0xff => Err(r.blob().to_vec()),
                    t => Ok((t, r.u8(), r.u8())),
                };
                let cookies = match r.u8() % 5 {
                    0 => Cookies::None,
                    1 => Cookies::Session(r.u8()),
                    2 => Cookies::Altered(r.u8(), r.u8()),
                    3 => Cookies::Wrapped(r.u8(), r.blob().to_vec(), r.blob().to_vec()),
                    _ => Cookies::Raw(r.blob().to_vec()),
                };
                let body = match r.u8() % 5 {
                    0 => Body::Empty,
                    1 => Body::Priority(i64::from(r.u16() as i16)),
                    2 => Body::Preemption(r.u8() & 1 != 0),
                    3 => Body::VRouter(r.u8(), r.u8()),
                    _ => Body::Raw(r.blob16().to_vec()),
                };
                let json_type = r.u8() & 1 != 0;
                Step::Call(Call {
                    peer,
                    method,
                    path,
                    cookies,
                    body,
                    json_type,
                })
            }
            _ => Step::Logout(r.u8(), r.u8()),
        };
        steps.push(step);
    }
    steps
}

/// Encodes steps (the inverse of [`decode`] for values within the field widths).
pub fn encode(steps: &[Step]) -> Vec<u8> {
    let mut w = Writer::new();
    for step in steps {
        match step {
            Step::Login(l) => {
                w.u8(0).u8(l.peer);
                match &l.form {
                    Form::Space => w.u8(0),
                    Form::Urlencoded => w.u8(1),
                    Form::Json => w.u8(2),
                    Form::Raw(b) => w.u8(3).blob16(b),
                };
                w.u8(l.user)
                    .u8(u8::from(l.right_password) | u8::from(l.json_type) << 1);
            }
            Step::Call(c) => {
                w.u8(1).u8(c.peer).u8(c.method);
                match &c.path {
                    Ok((t, g, i)) => w.u8(*t).u8(*g).u8(*i),
                    Err(raw) => w.u8(0xff).blob(raw),
                };
                match &c.cookies {
                    Cookies::None => w.u8(0),
                    Cookies::Session(i) => w.u8(1).u8(*i),
                    Cookies::Altered(i, how) => w.u8(2).u8(*i).u8(*how),
                    Cookies::Wrapped(i, a, b) => w.u8(3).u8(*i).blob(a).blob(b),
                    Cookies::Raw(b) => w.u8(4).blob(b),
                };
                match &c.body {
                    Body::Empty => w.u8(0),
                    Body::Priority(p) => w.u8(1).u16(*p as i16 as u16),
                    Body::Preemption(b) => w.u8(2).u8(u8::from(*b)),
                    Body::VRouter(t, g) => w.u8(3).u8(*t).u8(*g),
                    Body::Raw(b) => w.u8(4).blob16(b),
                };
                w.u8(u8::from(c.json_type));
            }
            Step::Logout(peer, i) => {
                w.u8(2).u8(*peer).u8(*i);
            }
        }
    }
    w.finish()
}

/// Path templates; `{g}` is the group, `{i}` the interface.
pub const PATHS: [&str; 18] = [
    "/auth",
    "/auth/logout",
    "/metrics",
    "/run/vrrp",
    "/run/vrrp/{g}",
    "/run/vrrp/{g}/{i}",
    "/run/global",
    "/run/daemon",
    "/run/protocols",
    "/run/protocols/static",
    "/run/interfaces",
    "/config/global",
    "/config/vrouter",
    "/config/vrouter/{g}/{i}",
    "/config/protocols",
    "/run/vrrp/{g}/{i}/priority",
    "/run/vrrp/{g}/{i}/preemption",
    "/run/vrrp/{g}/{i}/handover",
];

/// Interfaces the paths name (some configured, some not, some encoded).
pub const INTERFACES: [&str; 6] = ["eth0", "eth1", "eth9", "%65th0", "standby2", "e%2Fx"];

/// `[[vrouter]]` bodies for `POST /config/vrouter`; `{g}` is the group.
pub const VROUTERS: [&str; 4] = [
    r#"{"group": {g}, "interface": "eth9", "vip": "10.9.0.1"}"#,
    r#"{"group": {g}, "interface": "eth0", "vip": ["fe80::9", "2001:db8::9"], "version": 3, "timers": {"advert": 0.5}}"#,
    r#"{"group": {g}, "interface": "eth9", "vip": "10.9.0.2", "auth_type": "p0-t8-sha256", "auth_secret": "s"}"#,
    r#"{"group": {g}, "interface": "eth8", "iftype": "macvlan", "vip": "10.8.0.1", "priority": 254, "preemption": true}"#,
];
