//! The client API against a real server on 127.0.0.1 (port 0) with the in-memory backend, over
//! plain HTTP and over HTTPS, using an independent HTTP client (ureq).

mod harness;
mod schema;

mod access;
mod events;
mod https;
mod login;
mod responses;
mod writes;
