//! HTTPS: secure cookies, the operator client over HTTP and HTTPS, TLS file errors.

use crate::harness::*;
use rvrrpd::api::client::{self, ClientArgs};
use rvrrpd::api::{self, Backend, MockBackend, ServerOptions};
use rvrrpd::config::ApiConfig;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// HTTPS

static DIRS: AtomicUsize = AtomicUsize::new(0);

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rvrrpd-api-test-{}-{}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

struct Pki {
    dir: PathBuf,
    cert_pem: String,
}

impl Pki {
    fn new() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .unwrap_or_else(|e| panic!("rcgen: {e}"));
        let dir = temp_dir();
        let cert_pem = certified.cert.pem();
        std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem())
            .unwrap_or_else(|e| panic!("{e}"));
        Pki { dir, cert_pem }
    }

    fn api_config(&self) -> ApiConfig {
        ApiConfig {
            tls: true,
            tls_key: self.dir.join("key.pem"),
            tls_cert: self.dir.join("cert.pem"),
            ..api_config()
        }
    }

    fn agent(&self) -> ureq::Agent {
        let cert = ureq::tls::Certificate::from_pem(self.cert_pem.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&[cert]))
            .build();
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            // The daemon closes a connection idle for 10 s: a pooled one reused just then fails.
            .max_idle_age(Duration::from_secs(5))
            .tls_config(tls)
            .build()
            .into()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn https_serves_with_secure_cookies() {
    let pki = Pki::new();
    let h = Harness::start_full(pki.api_config(), ServerOptions::default(), pki.agent());
    assert!(h.base.starts_with("https://localhost:"));
    let login = h.send(
        "POST",
        "/auth",
        None,
        Some("application/x-www-form-urlencoded"),
        Some("user=admin passwd=banana"),
    );
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.set_cookies.len(), 4);
    assert!(
        login.set_cookies.iter().all(|c| c.ends_with("; Secure")),
        "{:?}",
        login.set_cookies
    );
    let session = login.cookie_header();
    let reply = h.get("/run/vrrp", &session);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()[0]["state"], "Master");
    assert_eq!(h.get("/run/vrrp", "").status, 401);

    // A plain-HTTP request to the TLS port gets nothing useful.
    let port = h.base.rsplit(':').next().unwrap_or_default();
    let plain = plain_agent()
        .get(format!("http://127.0.0.1:{port}/run/vrrp"))
        .call();
    assert!(plain.map(|r| r.status().as_u16() != 200).unwrap_or(true));
}

#[test]
fn operator_client_over_http_and_https() {
    let pki = Pki::new();
    let https = Harness::start_full(pki.api_config(), ServerOptions::default(), pki.agent());
    let http = Harness::start();
    let rt = runtime();
    let cert_file = pki.dir.join("cert.pem");
    let args = |url: &str, ca: Option<PathBuf>, json: bool| ClientArgs {
        url: url.to_string(),
        user: "admin".into(),
        password: None,
        ca_cert: ca,
        insecure: false,
        json,
        reload: false,
        watch: false,
        count: None,
    };
    let table = rt
        .block_on(client::status(
            &args(&https.base, Some(cert_file.clone()), false),
            b"banana",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(table.starts_with("GROUP"), "{table}");
    assert!(
        table.contains("10.0.0.1") && table.contains("Master"),
        "{table}"
    );
    assert!(table.contains("10.0.1.1 (+1)"), "{table}");

    let json = rt
        .block_on(client::status(&args(&http.base, None, true), b"banana"))
        .unwrap_or_else(|e| panic!("{e}"));
    let parsed: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(parsed[1]["group"], 2);

    let wrong = rt.block_on(client::status(&args(&http.base, None, false), b"apple"));
    assert!(
        matches!(&wrong, Err(client::ClientError::Status { status, .. }) if status.as_u16() == 401),
        "{wrong:?}"
    );
    let untrusted = rt.block_on(client::status(&args(&https.base, None, false), b"banana"));
    assert!(matches!(untrusted, Err(client::ClientError::Tls(_))));
    let mut insecure = args(&https.base, None, false);
    insecure.insecure = true;
    assert!(rt.block_on(client::status(&insecure, b"banana")).is_ok());
    // rvrrpctl --reload: POST /config/reload, the daemon's answer printed; a read-only user
    // is refused (rvrrpctl then exits non-zero).
    let mut reload = args(&http.base, None, false);
    reload.reload = true;
    let refused = rt.block_on(client::status(&reload, b"banana"));
    assert!(
        matches!(&refused, Err(client::ClientError::Status { status, .. }) if status.as_u16() == 403),
        "{refused:?}"
    );
    reload.user = "op".into();
    let said = rt
        .block_on(client::status(&reload, b"oppass"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(said.contains("reload"), "{said}");
    rt.shutdown_timeout(Duration::from_secs(1));
}

#[test]
fn tls_file_problems_name_the_file() {
    let rt = runtime();
    let pki = Pki::new();
    let bind = |cfg: ApiConfig| {
        let backend: Arc<dyn Backend> = Arc::new(MockBackend::sample());
        rt.block_on(api::bind(&cfg, backend, ServerOptions::default()))
            .map(|s| s.local_addr())
    };
    let missing = ApiConfig {
        tls_key: pki.dir.join("missing-key.pem"),
        ..pki.api_config()
    };
    let error = bind(missing)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("missing-key.pem") && error.contains("tls_key"),
        "{error}"
    );

    let garbage = pki.dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap_or_else(|e| panic!("{e}"));
    let bad_cert = ApiConfig {
        tls_cert: garbage.clone(),
        ..pki.api_config()
    };
    let error = bind(bad_cert)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("garbage.pem") && error.contains("tls_cert"),
        "{error}"
    );

    let other = Pki::new();
    let mismatched = ApiConfig {
        tls_key: other.dir.join("key.pem"),
        ..pki.api_config()
    };
    let error = bind(mismatched)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("key.pem") && error.contains("cert.pem"),
        "{error}"
    );

    // Port already in use.
    let first = bind(api_config()).unwrap_or_else(|e| panic!("{e}"));
    let _ = first;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let taken = ApiConfig {
        host: listener.local_addr().unwrap_or_else(|e| panic!("{e}")),
        ..api_config()
    };
    let error = bind(taken).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("cannot listen on 127.0.0.1:"), "{error}");
    rt.shutdown_timeout(Duration::from_secs(1));
}
