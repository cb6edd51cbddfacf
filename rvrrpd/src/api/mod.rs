//! The client API: a REST interface over HTTP/1.1 or HTTPS compatible with rVRRPd 0.1.3's
//! (paths, JSON fields, session cookies), with writes, metrics and stronger authentication.
//!
//! The API talks to the daemon only through the [`Backend`] trait; `mock::MockBackend`
//! implements it in memory for tests and fuzzing (compiled only with `cfg(test)` or the
//! `test-support` feature, never into the shipped daemon). Start a server with [`serve`] (or [`bind`] then [`Server::run`]). The
//! endpoints are documented in `docs/api.md` and `docs/openapi.yaml`.

pub mod acl;
pub mod backend;
pub mod client;
pub mod error;
pub mod events;
pub mod login;
pub mod metrics;
#[cfg(any(test, feature = "test-support"))]
pub mod mock;
pub mod routes;
pub mod server;
pub mod session;
pub mod views;
pub mod watch;
pub mod writes;

pub use backend::{
    Backend, GlobalView, GroupCounters, GroupState, GroupView, Histogram, InterfaceView,
    MetricsView, RouteView, TrackedView, WriteError, WriteOp, WriteOutcome,
};
pub use error::ApiError;
pub use events::TransitionView;
#[cfg(any(test, feature = "test-support"))]
pub use mock::MockBackend;
pub use server::{bind, serve, serve_with, Server, ServerOptions};
