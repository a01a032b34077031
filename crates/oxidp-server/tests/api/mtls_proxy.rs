//! Behind a TLS-terminating proxy: the client certificate arrives in
//! `server.client_certificate_header`, believed only from `server.trusted_proxies`. A forged
//! header from anyone else never authenticates; unreadable values are `invalid_request`.

use crate::helpers::{assert_oauth_error, jwt_payload};
use crate::mtls::mtls_toml;
use crate::tls_support::*;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

const HEADER: &str = "x-ssl-client-cert";

/// The server over plain HTTP, trusting `proxies` to forward certificates in [`HEADER`].
async fn behind_proxy(proxies: &[&str]) -> TlsServer {
    let self_signed = self_signed_client("self-signed");
    let proxies: Vec<String> = proxies.iter().map(|p| (*p).to_owned()).collect();
    TlsServer::plain(
        Pki::new("proxy test CA"),
        &mtls_toml(&self_signed),
        |config| {
            config.server.trusted_proxies = proxies;
            config.server.client_certificate_header = Some(HEADER.to_owned());
        },
    )
    .await
}

async fn token_with_header(server: &TlsServer, value: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url("/connect/token"))
        .header(HEADER, value)
        .form(&[("grant_type", "client_credentials"), ("client_id", "by-dn")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_certificate_forwarded_by_a_trusted_proxy_authenticates_and_binds() {
    let server = behind_proxy(&["127.0.0.1"]).await;
    let certificate = server.pki.client("by-dn", Vec::new());
    // nginx's $ssl_client_escaped_cert: URL-encoded PEM.
    let escaped = utf8_percent_encode(&certificate.cert_pem, NON_ALPHANUMERIC).to_string();
    let response = token_with_header(&server, &escaped).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let claims = jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["x5t#S256"], certificate.x5t());
    // Envoy's X-Forwarded-Client-Cert element.
    let xfcc = format!("Hash=00;Cert=\"{escaped}\";Subject=\"CN=by-dn,O=oxidp tests\"");
    assert_eq!(token_with_header(&server, &xfcc).await.status(), 200);
    // Without the header, the proxy's request carries no certificate.
    let response = reqwest::Client::new()
        .post(server.url("/connect/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "by-dn")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 401, "invalid_client").await;
}

#[tokio::test]
async fn a_forged_header_from_an_untrusted_address_never_authenticates() {
    // Loopback is not a trusted proxy here: the test is "anyone else".
    let server = behind_proxy(&["10.0.0.0/8"]).await;
    let certificate = server.pki.client("by-dn", Vec::new());
    let response = token_with_header(&server, &certificate.cert_pem.replace('\n', "")).await;
    assert_oauth_error(response, 401, "invalid_client").await;
    let escaped = utf8_percent_encode(&certificate.cert_pem, NON_ALPHANUMERIC).to_string();
    let response = token_with_header(&server, &escaped).await;
    assert_oauth_error(response, 401, "invalid_client").await;
    // Even garbage is ignored rather than read: the header is not believed at all.
    let response = token_with_header(&server, "garbage").await;
    assert_oauth_error(response, 401, "invalid_client").await;
}

#[tokio::test]
async fn unreadable_certificate_headers_are_invalid_request_never_5xx() {
    let server = behind_proxy(&["127.0.0.1"]).await;
    let certificate = server.pki.client("by-dn", Vec::new());
    let garbage = "-----BEGIN%20CERTIFICATE-----%0AnotBase64%21%0A-----END%20CERTIFICATE-----";
    let response = token_with_header(&server, garbage).await;
    assert_oauth_error(response, 400, "invalid_request").await;

    let fifty = utf8_percent_encode(&certificate.cert_pem.repeat(50), NON_ALPHANUMERIC).to_string();
    let response = token_with_header(&server, &fifty).await;
    let status = response.status().as_u16();
    assert!(
        (400..500).contains(&status),
        "a 50-certificate chain got {status}"
    );

    let oversized = "A".repeat(64 * 1024);
    let response = token_with_header(&server, &oversized).await;
    let status = response.status().as_u16();
    assert!(
        (400..500).contains(&status),
        "an oversized header got {status}"
    );

    let response = reqwest::Client::new()
        .post(server.url("/connect/token"))
        .header(HEADER, &certificate.cert_pem.replace('\n', ""))
        .header(HEADER, &certificate.cert_pem.replace('\n', ""))
        .form(&[("grant_type", "client_credentials"), ("client_id", "by-dn")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 400, "invalid_request").await;
}
