//! Operator client for the API: logs in, fetches `/run/vrrp`, renders a table or JSON.
//!
//! Meant for a small front-end binary (`rvrrpctl`): parse [`ClientArgs`] with clap and call
//! [`run`]. HTTPS needs `--ca-cert FILE` (the server's certificate or its CA, PEM) or
//! `--insecure`: API certificates are usually self-signed and no system trust store is used.
//! The password comes from `--password`, else `RVRRPD_PASSWORD`, else a prompt without echo.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::login::percent_encode;
use super::views::VrrpSummary;

/// Largest response accepted.
const MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// Command line of the operator client (defined with the other binaries' in [`crate::cli`]).
pub use crate::cli::ClientArgs;

/// A client failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not understood.
    #[error("invalid API address {0:?} (expected http://HOST:PORT or https://HOST:PORT)")]
    Url(String),
    /// TLS setup or handshake.
    #[error("TLS: {0}")]
    Tls(String),
    /// Connecting or talking HTTP.
    #[error("{0}")]
    Http(String),
    /// The server answered with an error.
    #[error("{path}: {status}: {message}")]
    Status {
        /// Request path.
        path: String,
        /// HTTP status.
        status: StatusCode,
        /// The server's `error` message.
        message: String,
    },
    /// Unexpected response body.
    #[error("{path}: unexpected response: {reason}")]
    Body {
        /// Request path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading the password.
    #[error("reading the password: {0}")]
    Password(#[source] std::io::Error),
}

/// Where the API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// HTTPS.
    pub tls: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
}

impl Endpoint {
    /// Parses `http://HOST:PORT`, `https://HOST[:PORT]` or `HOST:PORT` (default port 7080).
    pub fn parse(url: &str) -> Result<Self, ClientError> {
        let bad = || ClientError::Url(url.to_string());
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else if url.contains("://") {
            return Err(bad());
        } else {
            (false, url)
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(bad());
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(port) => Some(port),
                None if after.is_empty() => None,
                None => return Err(bad()),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad())?,
            None => 7080,
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            tls,
            host: host.to_string(),
            port,
        })
    }
}

/// How to check the server's certificate.
#[derive(Debug, Clone, Default)]
pub enum TrustMode {
    /// Trust the certificates in this PEM file.
    CaFile(PathBuf),
    /// Accept any certificate (testing only).
    Insecure,
    /// No TLS trust configured (HTTP only).
    #[default]
    None,
}

/// A logged-in (or not yet) API client. Each request uses a new connection.
pub struct Client {
    endpoint: Endpoint,
    tls: Option<TlsConnector>,
    cookies: Vec<(String, String)>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("logged_in", &!self.cookies.is_empty())
            .finish()
    }
}

impl Client {
    /// A client for `url`.
    pub fn new(url: &str, trust: TrustMode) -> Result<Self, ClientError> {
        let endpoint = Endpoint::parse(url)?;
        let tls = if endpoint.tls {
            Some(TlsConnector::from(tls_config(&trust)?))
        } else {
            None
        };
        Ok(Self {
            endpoint,
            tls,
            cookies: Vec::new(),
        })
    }

    /// `POST /auth` with a form-encoded body; keeps the session cookies.
    pub async fn login(&mut self, user: &str, password: &[u8]) -> Result<(), ClientError> {
        let body = format!(
            "user={}&passwd={}",
            percent_encode(user.as_bytes()),
            percent_encode(password)
        );
        let (status, headers, body) = self
            .request(
                Method::POST,
                "/auth",
                Some(("application/x-www-form-urlencoded", body.into_bytes())),
            )
            .await?;
        check_status("/auth", status, &body)?;
        self.cookies = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .filter_map(|pair| pair.split_once('='))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        Ok(())
    }

    /// `POST /auth/logout` (errors ignored: the session expires anyway).
    pub async fn logout(&mut self) {
        let _ = self.request(Method::POST, "/auth/logout", None).await;
        self.cookies.clear();
    }

    /// `GET path`, parsed as JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let (status, _, body) = self.request(Method::GET, path, None).await?;
        check_status(path, status, &body)?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Body {
            path: path.to_string(),
            reason: e.to_string(),
        })
    }

    /// Sends one request with the session cookies; returns status, headers and body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<(StatusCode, hyper::HeaderMap, Bytes), ClientError> {
        let (response, driver) = self.send(method, path, body).await?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| ClientError::Http(format!("reading the response: {e}")))?
            .to_bytes();
        driver.abort();
        Ok((parts.status, parts.headers, body))
    }

    /// `GET path` whose body is read as it arrives (`/events`); fails unless 2xx.
    pub async fn open_stream(&self, path: &str) -> Result<hyper::body::Incoming, ClientError> {
        let (response, _driver) = self.send(Method::GET, path, None).await?;
        let (parts, body) = response.into_parts();
        if !parts.status.is_success() {
            let body = Limited::new(body, MAX_RESPONSE)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            check_status(path, parts.status, &body)?;
            return Err(ClientError::Http(format!("{path}: {}", parts.status)));
        }
        // The connection task ends with the body.
        Ok(body)
    }

    /// Connects and sends one request; returns the response (body unread) and the task
    /// driving the connection.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<
        (
            hyper::Response<hyper::body::Incoming>,
            tokio::task::JoinHandle<()>,
        ),
        ClientError,
    > {
        let addr = (self.endpoint.host.as_str(), self.endpoint.port);
        let tcp = TcpStream::connect(addr).await.map_err(|e| {
            ClientError::Http(format!(
                "cannot connect to {}:{}: {e}",
                self.endpoint.host, self.endpoint.port
            ))
        })?;
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.host_header());
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            builder = builder.header(header::COOKIE, cookie);
        }
        let body = match body {
            Some((content_type, bytes)) => {
                builder = builder.header(header::CONTENT_TYPE, content_type);
                Bytes::from(bytes)
            }
            None => Bytes::new(),
        };
        let request = builder
            .body(Full::new(body))
            .map_err(|e| ClientError::Http(e.to_string()))?;
        match &self.tls {
            Some(connector) => {
                let name = ServerName::try_from(self.endpoint.host.clone())
                    .map_err(|e| ClientError::Tls(e.to_string()))?;
                let stream = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| ClientError::Tls(e.to_string()))?;
                exchange(TokioIo::new(stream), request).await
            }
            None => exchange(TokioIo::new(tcp), request).await,
        }
    }

    fn host_header(&self) -> HeaderValue {
        let host = if self.endpoint.host.contains(':') {
            format!("[{}]:{}", self.endpoint.host, self.endpoint.port)
        } else {
            format!("{}:{}", self.endpoint.host, self.endpoint.port)
        };
        HeaderValue::from_str(&host).unwrap_or(HeaderValue::from_static("localhost"))
    }
}

async fn exchange<I>(
    io: I,
    request: Request<Full<Bytes>>,
) -> Result<
    (
        hyper::Response<hyper::body::Incoming>,
        tokio::task::JoinHandle<()>,
    ),
    ClientError,
>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let http = |e: hyper::Error| ClientError::Http(e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(http)?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let response = sender.send_request(request).await.map_err(http)?;
    Ok((response, driver))
}

fn check_status(path: &str, status: StatusCode, body: &[u8]) -> Result<(), ClientError> {
    if status.is_success() {
        return Ok(());
    }
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_default();
    Err(ClientError::Status {
        path: path.to_string(),
        status,
        message,
    })
}

fn tls_config(trust: &TrustMode) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?;
    let mut config = match trust {
        TrustMode::CaFile(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
            let mut roots = RootCertStore::empty();
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert =
                    cert.map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
            }
            if roots.is_empty() {
                return Err(ClientError::Tls(format!(
                    "{}: holds no PEM certificate",
                    path.display()
                )));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        TrustMode::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
        TrustMode::None => {
            return Err(ClientError::Tls(
                "HTTPS needs --ca-cert FILE (the server's certificate or its CA) or --insecure"
                    .into(),
            ))
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts any certificate but still checks the handshake signatures (`--insecure`).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Renders groups as a text table.
pub fn render_table(groups: &[VrrpSummary]) -> String {
    let headers = [
        "GROUP",
        "INTERFACE",
        "VIRTUAL IP",
        "STATE",
        "PRIORITY",
        "PREEMPT",
        "MASTER",
    ];
    let rows: Vec<[String; 7]> = groups
        .iter()
        .map(|g| {
            [
                g.group.to_string(),
                g.interface.clone(),
                if g.virtual_ips.len() > 1 {
                    format!("{} (+{})", g.virtual_ip, g.virtual_ips.len() - 1)
                } else {
                    g.virtual_ip.clone()
                },
                g.state.clone(),
                g.priority.to_string(),
                if g.preempt { "yes" } else { "no" }.to_string(),
                g.master.clone().unwrap_or_else(|| "-".to_string()),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut out = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    };
    let mut out = line(&headers);
    for row in &rows {
        out.push_str(&line(&row.each_ref().map(String::as_str)));
    }
    out
}

/// Logs in, fetches `/run/vrrp`, logs out; returns the table (or JSON) to print.
pub async fn status(args: &ClientArgs, password: &[u8]) -> Result<String, ClientError> {
    let mut client = Client::new(&args.url, trust_mode(args))?;
    client.login(&args.user, password).await?;
    if args.reload {
        let reply = client
            .request(
                Method::POST,
                "/config/reload",
                Some(("application/json", b"{}".to_vec())),
            )
            .await;
        client.logout().await;
        let (status, _, body) = reply?;
        check_status("/config/reload", status, &body)?;
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| ClientError::Body {
                path: "/config/reload".to_string(),
                reason: e.to_string(),
            })?;
        let result = value
            .get("result")
            .and_then(|r| r.as_str())
            .unwrap_or("reloaded");
        return Ok(format!("{result}\n"));
    }
    let groups: Result<Vec<VrrpSummary>, _> = client.get_json("/run/vrrp").await;
    client.logout().await;
    let groups = groups?;
    Ok(if args.json {
        let mut text = serde_json::to_string_pretty(&groups).unwrap_or_default();
        text.push('\n');
        text
    } else {
        render_table(&groups)
    })
}

/// Runs [`status`] on a private runtime, reading the password as documented above; with
/// `--watch`, prints transitions as they come ([`super::watch::watch`]) and returns "".
pub fn run(args: &ClientArgs) -> Result<String, ClientError> {
    let password = match (&args.password, std::env::var("RVRRPD_PASSWORD")) {
        (Some(p), _) => p.clone(),
        (None, Ok(p)) => p,
        (None, Err(_)) => rpassword::prompt_password(format!("Password for {}: ", args.user))
            .map_err(ClientError::Password)?,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClientError::Http(format!("starting the runtime: {e}")))?;
    if args.watch {
        let mut out = std::io::stdout();
        return runtime
            .block_on(super::watch::watch(args, password.as_bytes(), &mut out))
            .map(|_| String::new());
    }
    runtime.block_on(status(args, password.as_bytes()))
}

/// The [`TrustMode`] the arguments ask for.
pub fn trust_mode(args: &ClientArgs) -> TrustMode {
    match (&args.ca_cert, args.insecure) {
        (Some(path), _) => TrustMode::CaFile(path.clone()),
        (None, true) => TrustMode::Insecure,
        (None, false) => TrustMode::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        let ep = |s: &str| Endpoint::parse(s).ok();
        assert_eq!(
            ep("https://10.0.0.1:7443"),
            Some(Endpoint {
                tls: true,
                host: "10.0.0.1".into(),
                port: 7443
            })
        );
        assert_eq!(
            ep("localhost"),
            Some(Endpoint {
                tls: false,
                host: "localhost".into(),
                port: 7080
            })
        );
        assert_eq!(ep("http://[::1]:80/").map(|e| e.host), Some("::1".into()));
        assert!(ep("ftp://x").is_none());
        assert!(ep("http://x:y").is_none());
        assert!(ep("http://x/path").is_none());
    }

    #[test]
    fn table_renders() {
        let g = VrrpSummary {
            virtual_ip: "10.0.0.1".into(),
            group: 1,
            interface: "eth0".into(),
            name: "eth0-1".into(),
            priority: 254,
            preempt: true,
            state: "Master".into(),
            virtual_ips: vec!["10.0.0.1".into()],
            version: 2,
            master: None,
            counters: Default::default(),
        };
        let table = render_table(&[g]);
        assert!(
            table.starts_with("GROUP  INTERFACE  VIRTUAL IP  STATE"),
            "{table}"
        );
        assert!(
            table.contains("1      eth0       10.0.0.1    Master  254       yes      -"),
            "{table}"
        );
    }
}
