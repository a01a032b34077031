//! The HTTPS listener: ALPN, protocol versions, start-up errors for bad certificate files,
//! and the certificate reload that keeps the old certificate when the new file is bad.

use crate::helpers::wait_until;
use crate::tls_support::*;
use oxidp_core::clock::SystemClock;
use oxidp_core::store::{MemoryStore, Stores};
use oxidp_server::Server;
use oxidp_server::config::{Config, TlsConfig};
use rustls::pki_types::pem::PemObject as _;
use std::sync::Arc;
use std::time::Duration;

const TOML: &str = "[server]\nlisten = \"127.0.0.1:0\"\n";

async fn build(config: Config) -> anyhow::Result<Server> {
    Server::build_with(
        config,
        Stores::from_backend(Arc::new(MemoryStore::default())),
        Arc::new(SystemClock),
    )
    .await
}

#[tokio::test]
async fn https_speaks_h2_and_http11_and_the_issuer_defaults_to_https() {
    let server = TlsServer::start(Pki::new("tls test CA"), TOML, |_| {}).await;
    let response = server
        .client(None)
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_2, "ALPN h2");
    let document: serde_json::Value = response.json().await.unwrap();
    assert_eq!(document["issuer"], server.base);

    let http11 = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(server.pki.ca_pem.as_bytes()).unwrap()])
        .http1_only()
        .build()
        .unwrap();
    let response = http11.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);

    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(server.url("/healthz").replace("https://", "http://"))
        .send()
        .await;
    assert!(plain.is_err());
}

#[tokio::test]
async fn tls_1_2_is_accepted_and_1_3_is_the_default() {
    let server = TlsServer::start(Pki::new("tls test CA"), TOML, |_| {}).await;
    for (version, expected) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(server.pki.ca_pem.as_bytes())
        {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let address = server.base.trim_start_matches("https://");
        let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let stream = connector.connect(name, tcp).await.expect("handshake");
        assert_eq!(stream.get_ref().1.protocol_version(), Some(expected));
    }
}

#[tokio::test]
async fn bad_certificate_files_stop_start_up_with_a_clear_error() {
    let pki = Pki::new("tls test CA");
    let dir = tempfile::TempDir::new().unwrap();
    let server = pki.server();
    let other = pki.server();
    let expired = {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(10);
        params.not_after = now - time::Duration::days(1);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let cert = write(&dir, "server.pem", &server.cert_pem);
    let key = write(&dir, "server.key", &server.key_pem);
    let cases = [
        (
            dir.path().join("missing.pem"),
            key.clone(),
            "cannot read the TLS certificate file",
        ),
        (
            cert.clone(),
            dir.path().join("missing.key"),
            "cannot read the TLS private key file",
        ),
        (
            write(&dir, "garbage.pem", "hello"),
            key.clone(),
            "holds no CERTIFICATE",
        ),
        (
            cert.clone(),
            write(&dir, "garbage.key", "hello"),
            "no usable private key",
        ),
        (
            cert.clone(),
            write(&dir, "other.key", &other.key_pem),
            "does not match",
        ),
        (
            write(&dir, "expired.pem", &expired.0),
            write(&dir, "expired.key", &expired.1),
            "expired on",
        ),
    ];
    for (certificate_file, private_key_file, expected) in cases {
        let mut config = Config::from_toml(TOML).unwrap();
        config.server.tls = Some(TlsConfig {
            certificate_file,
            private_key_file,
        });
        let error = build(config).await.expect_err("refused");
        let message = format!("{error:#}");
        assert!(message.contains(expected), "{message}");
        assert!(message.contains("server.tls"), "{message}");
    }
}

/// The leaf certificate a new connection to `server` is served.
async fn served(server: &TlsServer) -> Vec<u8> {
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(server.pki.ca_pem.as_bytes()).unwrap()])
        .tls_info(true)
        .build()
        .unwrap();
    let response = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let info = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .unwrap();
    info.peer_certificate().unwrap().to_vec()
}

#[tokio::test]
async fn sighup_reloads_the_certificate() {
    // A handler of the test's own first: from then on SIGHUP never ends the test process,
    // whenever the server's handler is installed.
    let _ours = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).unwrap();
    let server = TlsServer::start(Pki::new("tls test CA"), TOML, |_| {}).await;
    let renewed = server.pki.server();
    write(&server.dir, "server.pem", &renewed.cert_pem);
    write(&server.dir, "server.key", &renewed.key_pem);
    let pid = std::process::id().to_string();
    wait_until(
        "the renewed certificate after SIGHUP",
        Duration::from_secs(10),
        || async {
            let sent = std::process::Command::new("kill")
                .args(["-HUP", &pid])
                .status()
                .unwrap();
            assert!(sent.success());
            (served(&server).await == renewed.der).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn the_certificate_is_reloaded_and_a_bad_file_keeps_the_current_one() {
    let server = TlsServer::start(Pki::new("tls test CA"), TOML, |_| {}).await;
    let certificate = server.certificate.clone().expect("TLS");
    let served = || served(&server);
    let kept_alive = server.client(None);
    assert_eq!(
        kept_alive
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let first = served().await;
    assert_eq!(first, certificate.current_leaf());

    let renewed = server.pki.server();
    write(&server.dir, "server.pem", &renewed.cert_pem);
    write(&server.dir, "server.key", &renewed.key_pem);
    certificate.reload().expect("the renewed files load");
    assert_eq!(
        served().await,
        renewed.der,
        "new connections get the renewed certificate"
    );
    // The connection opened before the reload is still served.
    assert_eq!(
        kept_alive
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    write(
        &server.dir,
        "server.pem",
        "-----BEGIN CERTIFICATE-----\ngarbage\n",
    );
    let error = certificate.reload().expect_err("a bad file is refused");
    assert!(format!("{error:#}").contains("server.pem"));
    assert_eq!(served().await, renewed.der, "the current certificate stays");
}
