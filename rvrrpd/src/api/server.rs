//! The HTTP/1.1 listener, plain or TLS (rustls with the ring provider).
//!
//! [`bind`] opens the socket and loads the TLS files, so configuration problems surface before
//! anything is served and the bound address (port 0 in tests) is known; [`Server::run`] serves
//! until the shutdown future resolves, then lets open connections finish their current request
//! (at most [`DRAIN_TIMEOUT`]).

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use super::acl::IpNet;
use super::backend::Backend;
use super::error::ApiError;
use super::routes::{self, AppState};
use super::session::{SessionPolicy, ThrottlePolicy};
use crate::config::ApiConfig;

/// How long a client may take to send a request's headers (also the keep-alive idle limit).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for open connections.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Server settings that are not (yet) in `[api]`.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Client addresses or networks that may read `/metrics` without a session, in addition
    /// to `[api] metrics_allow`.
    pub metrics_allow: Vec<IpNet>,
    /// Session lifetime.
    pub session: SessionPolicy,
    /// Failed-login throttling.
    pub throttle: ThrottlePolicy,
    /// Simultaneous connections at most (default 256); more are closed at once.
    pub max_connections: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            metrics_allow: Vec::new(),
            session: SessionPolicy::default(),
            throttle: ThrottlePolicy::default(),
            max_connections: 256,
        }
    }
}

impl ServerOptions {
    /// Parses `metrics_allow` entries (addresses or CIDR networks).
    pub fn with_metrics_allow<S: AsRef<str>>(
        mut self,
        entries: impl IntoIterator<Item = S>,
    ) -> Result<Self, ApiError> {
        self.metrics_allow = entries
            .into_iter()
            .map(|e| e.as_ref().parse::<IpNet>().map_err(ApiError::MetricsAllow))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }
}

/// A bound, not yet running API server.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: Option<TlsAcceptor>,
    state: Arc<AppState>,
    max_connections: usize,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Opens the listener of `cfg` (`host`, `tls`, `tls_key`, `tls_cert`, `metrics_allow`, which
/// adds to [`ServerOptions::metrics_allow`]).
pub async fn bind(
    cfg: &ApiConfig,
    backend: Arc<dyn Backend>,
    options: ServerOptions,
) -> Result<Server, ApiError> {
    let tls = if cfg.tls {
        Some(TlsAcceptor::from(load_tls(&cfg.tls_key, &cfg.tls_cert)?))
    } else {
        None
    };
    let listener = TcpListener::bind(cfg.host)
        .await
        .map_err(|source| ApiError::Bind {
            addr: cfg.host,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ApiError::Bind {
        addr: cfg.host,
        source,
    })?;
    let max_connections = options.max_connections.max(1);
    let state = Arc::new(AppState::new(cfg, backend, options, tls.is_some())?);
    Ok(Server {
        listener,
        local_addr,
        tls,
        state,
        max_connections,
    })
}

/// Binds with default [`ServerOptions`] and serves until `shutdown` resolves.
pub async fn serve(
    cfg: &ApiConfig,
    backend: Arc<dyn Backend>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ApiError> {
    serve_with(cfg, backend, ServerOptions::default(), shutdown).await
}

/// Binds with `options` and serves until `shutdown` resolves.
pub async fn serve_with(
    cfg: &ApiConfig,
    backend: Arc<dyn Backend>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ApiError> {
    bind(cfg, backend, options).await?.run(shutdown).await
}

impl Server {
    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ApiError> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        info!("client API listening on {scheme}://{}", self.local_addr);
        let stop_rx = self.state.stop.subscribe();
        let permits = Arc::new(Semaphore::new(self.max_connections));
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                            warn!(%peer, "client API: too many connections, closing this one");
                            continue;
                        };
                        tasks.spawn(connection(
                            stream,
                            peer,
                            Arc::clone(&self.state),
                            self.tls.clone(),
                            stop_rx.clone(),
                            permit,
                        ));
                    }
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        warn!("client API: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        drop(self.listener);
        let _ = self.state.stop.send(true);
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            debug!("client API: closing connections still open after {DRAIN_TIMEOUT:?}");
            tasks.abort_all();
        }
        info!("client API stopped");
        Ok(())
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<AppState>,
    tls: Option<TlsAcceptor>,
    stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    match tls {
        Some(acceptor) => {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => serve_connection(TokioIo::new(stream), peer, state, stop).await,
                Ok(Err(e)) => debug!(%peer, "client API: TLS handshake failed: {e}"),
                Err(_) => debug!(%peer, "client API: TLS handshake timed out"),
            }
        }
        None => serve_connection(TokioIo::new(stream), peer, state, stop).await,
    }
}

async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    state: Arc<AppState>,
    mut stop: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let ip = peer.ip().to_canonical();
    let service = service_fn(move |req| routes::handle(Arc::clone(&state), ip, req));
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                debug!(%peer, "client API connection: {e}");
            }
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Loads the TLS key and certificate chain; errors name the file.
pub fn load_tls(key_path: &Path, cert_path: &Path) -> Result<Arc<rustls::ServerConfig>, ApiError> {
    let cert_error = |reason: String| ApiError::TlsFile {
        what: "certificate file (tls_cert)",
        path: cert_path.to_path_buf(),
        reason,
    };
    let key_error = |reason: String| ApiError::TlsFile {
        what: "key file (tls_key)",
        path: key_path.to_path_buf(),
        reason,
    };
    let cert_pem = std::fs::read(cert_path).map_err(|e| cert_error(e.to_string()))?;
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| cert_error(format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(cert_error("holds no PEM certificate".into()));
    }
    let key_pem = std::fs::read(key_path).map_err(|e| key_error(e.to_string()))?;
    warn_if_readable_by_others(key_path);
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| key_error(format!("not valid PEM: {e}")))?
        .ok_or_else(|| key_error("holds no PEM private key (PKCS#8, PKCS#1 or SEC1)".into()))?;
    let tls_error = |reason: String| ApiError::Tls {
        key: key_path.to_path_buf(),
        cert: cert_path.to_path_buf(),
        reason,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| tls_error(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            warn!(
                "client API: TLS key file {} is accessible to other users (chmod 600 it)",
                path.display()
            );
        }
    }
}
