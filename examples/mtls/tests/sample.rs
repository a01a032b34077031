//! The sample end to end: a fresh PKI, oxidp over HTTPS with its mTLS host, the API, and the
//! machine client — the same code `cargo run -p mtls-sample -- demo` runs.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

#[tokio::test]
async fn the_walkthrough_binds_the_token_and_the_api_refuses_another_certificate() {
    let dir = tempfile::TempDir::new().unwrap();
    let outcome = mtls_sample::demo(dir.path()).await.unwrap();
    // Discovery's mtls_endpoint_aliases took the client to the mTLS host.
    assert!(outcome.token_endpoint.ends_with("/connect/token"));
    assert!(
        !outcome.token_endpoint.starts_with(&outcome.issuer),
        "{} is the main host, not the mTLS alias",
        outcome.token_endpoint
    );
    let pki = mtls_sample::Pki {
        dir: dir.path().to_owned(),
    };
    let pem = std::fs::read_to_string(pki.path("orders-client.pem")).unwrap();
    let der = rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        outcome.bound_to.as_deref(),
        Some(oxidp_api_auth::certificate_thumbprint(&der).as_str())
    );
    assert_eq!(outcome.with_own_certificate, 200);
    assert_eq!(outcome.with_other_certificate, 401);
    assert!(outcome.refusal.unwrap().contains("invalid_token"));
}

use rustls::pki_types::pem::PemObject as _;
