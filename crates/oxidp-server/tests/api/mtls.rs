//! RFC 8705 over real TLS handshakes: `tls_client_auth` per registered attribute,
//! `self_signed_tls_client_auth`, refusals (wrong CA, expired, another client's certificate),
//! certificate-bound tokens at userinfo and introspection, discovery and the mTLS host.

use crate::browser::{Browser, WEB_REDIRECT, pkce, query};
use crate::helpers::{assert_oauth_error, jwt_payload};
use crate::tls_support::*;
use serde_json::{Value, json};

/// Clients for every way to authenticate with a certificate; `self_signed` is registered by
/// its `x5c`.
pub fn mtls_toml(self_signed: &Issued) -> String {
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "use": "sig",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        "x5c": [self_signed.x5c()],
    }]})
    .to_string();
    format!(
        r#"
[server]
issuer = "https://idp.test"

[password_hashing]
memory_kib = 1024
iterations = 1

[[users]]
username = "alice"
password = "alice-password"

[[api_resources]]
name = "orders-api"
scopes = ["orders.read"]
secrets = [{{ value = "orders-api-secret" }}]

[[api_resources]]
name = "oxidp-admin"
scopes = ["oxidp.admin"]

[[clients]]
client_id = "bound-admin"
tls_client_auth_subject_dn = "CN=bound-admin,O=oxidp tests"
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["oxidp.admin"]
tls_client_certificate_bound_access_tokens = true

[[clients]]
client_id = "by-dn"
tls_client_auth_subject_dn = "CN=by-dn,O=oxidp tests"
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]
tls_client_certificate_bound_access_tokens = true

[[clients]]
client_id = "by-dns"
tls_client_auth_san_dns = "dns.client.test"
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]

[[clients]]
client_id = "by-uri"
tls_client_auth_san_uri = "spiffe://oxidp.test/by-uri"
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]

[[clients]]
client_id = "by-ip"
tls_client_auth_san_ip = "192.0.2.10"
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]

[[clients]]
client_id = "by-email"
tls_client_auth_san_email = "ops@client.test"
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]

[[clients]]
client_id = "self-signed"
jwks = '{jwks}'
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]
tls_client_certificate_bound_access_tokens = true

[[clients]]
client_id = "bound-reference"
tls_client_auth_subject_dn = "CN=bound-reference,O=oxidp tests"
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]
access_token_type = "reference"
tls_client_certificate_bound_access_tokens = true

[[clients]]
client_id = "secret-bound"
secrets = [{{ value = "secret-bound-secret" }}]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]
tls_client_certificate_bound_access_tokens = true

[[clients]]
client_id = "bound-native"
require_client_secret = false
allowed_grant_types = ["authorization_code"]
allowed_scopes = ["openid", "offline_access"]
allow_offline_access = true
redirect_uris = ["{WEB_REDIRECT}"]
tls_client_certificate_bound_access_tokens = true

[[clients]]
client_id = "bound-web"
secrets = [{{ value = "bound-web-secret" }}]
allowed_grant_types = ["authorization_code"]
allowed_scopes = ["openid", "profile"]
redirect_uris = ["{WEB_REDIRECT}"]
tls_client_certificate_bound_access_tokens = true
"#
    )
}

async fn server() -> (TlsServer, Issued) {
    let self_signed = self_signed_client("self-signed");
    let server = TlsServer::start(Pki::new("mtls test CA"), &mtls_toml(&self_signed), |_| {}).await;
    (server, self_signed)
}

async fn token_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn tls_client_auth_succeeds_for_each_registered_attribute() {
    let (server, _) = server().await;
    let pki = &server.pki;
    let cases = [
        ("by-dn", pki.client("by-dn", Vec::new())),
        ("by-dns", pki.client("any", vec![dns("dns.client.test")])),
        (
            "by-uri",
            pki.client("any", vec![uri("spiffe://oxidp.test/by-uri")]),
        ),
        (
            "by-ip",
            pki.client(
                "any",
                vec![rcgen::SanType::IpAddress([192, 0, 2, 10].into())],
            ),
        ),
        (
            "by-email",
            pki.client("any", vec![email("ops@client.test")]),
        ),
    ];
    for (client_id, certificate) in &cases {
        let response = server
            .client_credentials(Some(certificate), client_id)
            .await;
        assert_eq!(response.status(), 200, "{client_id}");
        let body: Value = response.json().await.unwrap();
        let claims = jwt_payload(body["access_token"].as_str().unwrap());
        assert_eq!(claims["client_id"], *client_id);
        if *client_id == "by-dn" {
            assert_eq!(claims["cnf"]["x5t#S256"], certificate.x5t());
            assert_eq!(body["token_type"], "Bearer");
        } else {
            assert!(claims.get("cnf").is_none(), "{client_id} is not bound");
        }
    }
    // The same attribute values in the wrong client's certificate do not carry over.
    let near_miss = pki.client("by-dn ", Vec::new());
    let response = server.client_credentials(Some(&near_miss), "by-dn").await;
    assert_oauth_error(response, 401, "invalid_client").await;
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_invalid_client() {
    let (server, _) = server().await;
    let foreign = Pki::new("someone else's CA").client("by-dn", Vec::new());
    let response = server.client_credentials(Some(&foreign), "by-dn").await;
    assert_oauth_error(response, 401, "invalid_client").await;
}

#[tokio::test]
async fn an_expired_certificate_is_invalid_client() {
    let (server, _) = server().await;
    let expired = server.pki.expired_client("by-dn");
    let response = server.client_credentials(Some(&expired), "by-dn").await;
    assert_oauth_error(response, 401, "invalid_client").await;
}

#[tokio::test]
async fn the_certificate_of_another_client_is_invalid_client() {
    let (server, self_signed) = server().await;
    let dns_client = server.pki.client("any", vec![dns("dns.client.test")]);
    let response = server.client_credentials(Some(&dns_client), "by-dn").await;
    assert_oauth_error(response, 401, "invalid_client").await;
    // A CA-issued certificate is not the self-signed client's registered one, and the
    // self-signed one does not chain to the CA.
    let response = server
        .client_credentials(Some(&dns_client), "self-signed")
        .await;
    assert_oauth_error(response, 401, "invalid_client").await;
    let response = server
        .client_credentials(Some(&self_signed), "by-dns")
        .await;
    assert_oauth_error(response, 401, "invalid_client").await;
}

#[tokio::test]
async fn no_certificate_is_invalid_client_and_a_bound_secret_client_needs_one() {
    let (server, _) = server().await;
    let response = server.client_credentials(None, "by-dn").await;
    assert_oauth_error(response, 401, "invalid_client").await;
    let response = server
        .client(None)
        .post(server.url("/connect/token"))
        .basic_auth("secret-bound", Some("secret-bound-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let body = assert_oauth_error(response, 400, "invalid_request").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("certificate")
    );
    // With any certificate, the secret authenticates and the token is bound to it.
    let certificate = self_signed_client("whatever");
    let response = server
        .client(Some(&certificate))
        .post(server.url("/connect/token"))
        .basic_auth("secret-bound", Some("secret-bound-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let body = token_of(response).await;
    let claims = jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["x5t#S256"], certificate.x5t());
}

#[tokio::test]
async fn self_signed_tls_client_auth_matches_the_registered_certificate_only() {
    let (server, self_signed) = server().await;
    let body = token_of(
        server
            .client_credentials(Some(&self_signed), "self-signed")
            .await,
    )
    .await;
    let claims = jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["x5t#S256"], self_signed.x5t());
    // Same subject, different key and certificate: no match.
    let impostor = self_signed_client("self-signed");
    let response = server
        .client_credentials(Some(&impostor), "self-signed")
        .await;
    assert_oauth_error(response, 401, "invalid_client").await;
}

#[tokio::test]
async fn introspection_returns_the_thumbprint_of_a_bound_reference_token() {
    let (server, _) = server().await;
    let certificate = server.pki.client("bound-reference", Vec::new());
    let body = token_of(
        server
            .client_credentials(Some(&certificate), "bound-reference")
            .await,
    )
    .await;
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.matches('.').count(), 0, "a reference token");
    // The client introspects its own token, authenticating with its certificate.
    let response = server
        .client(Some(&certificate))
        .post(server.url("/connect/introspect"))
        .form(&[("token", token), ("client_id", "bound-reference")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let introspected: Value = response.json().await.unwrap();
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["cnf"]["x5t#S256"], certificate.x5t());
    // And revokes it, authenticating the same way.
    let response = server
        .client(Some(&certificate))
        .post(server.url("/connect/revocation"))
        .form(&[("token", token), ("client_id", "bound-reference")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// alice signs in through `bound-web` over TLS; the code is redeemed presenting
/// `certificate`.
async fn bound_user_token(server: &TlsServer, certificate: &Issued) -> String {
    let body = user_tokens(server, certificate, "bound-web", "openid profile").await;
    body["access_token"].as_str().unwrap().to_owned()
}

/// alice signs in through `client_id` (`bound-web` with its secret, or a public client)
/// over TLS; the code is redeemed presenting `certificate`. Returns the token response.
async fn user_tokens(
    server: &TlsServer,
    certificate: &Issued,
    client_id: &str,
    scope: &str,
) -> Value {
    let browser = Browser {
        http: reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(server.pki.ca_pem.as_bytes()).unwrap()])
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        base: server.base.clone(),
    };
    let (verifier, challenge) = pkce();
    let callback = browser
        .code_flow_callback(client_id, scope, &challenge, ("alice", "alice-password"))
        .await;
    let code = query(&callback)["code"].clone();
    let mut request = server
        .client(Some(certificate))
        .post(server.url("/connect/token"));
    if client_id == "bound-web" {
        request = request.basic_auth("bound-web", Some("bound-web-secret"));
    }
    let response = request
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code.as_str()),
            ("redirect_uri", WEB_REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    token_of(response).await
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_to_its_certificate() {
    let (server, _) = server().await;
    let certificate = self_signed_client("native-instance");
    let body = user_tokens(
        &server,
        &certificate,
        "bound-native",
        "openid offline_access",
    )
    .await;
    let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |identity: Option<Issued>, token: String| {
        let request = server
            .client(identity.as_ref())
            .post(server.url("/connect/token"));
        async move {
            request
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", "bound-native"),
                    ("refresh_token", token.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // Another certificate cannot use it (and using it that way does not burn it).
    let response = refresh(Some(self_signed_client("thief")), refresh_token.clone()).await;
    assert_oauth_error(response, 400, "invalid_grant").await;
    let response = refresh(None, refresh_token.clone()).await;
    assert_oauth_error(response, 400, "invalid_request").await;
    // The certificate it was issued over can, and the new access token is bound to it.
    let body = token_of(refresh(Some(certificate.clone()), refresh_token).await).await;
    let claims = jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["x5t#S256"], certificate.x5t());
}

#[tokio::test]
async fn userinfo_refuses_a_bound_token_without_its_certificate() {
    let (server, _) = server().await;
    let certificate = server.pki.client("web-instance", Vec::new());
    let token = bound_user_token(&server, &certificate).await;
    let claims = jwt_payload(&token);
    assert_eq!(claims["cnf"]["x5t#S256"], certificate.x5t());

    let userinfo = |identity: Option<&Issued>| {
        server
            .client(identity)
            .get(server.url("/connect/userinfo"))
            .bearer_auth(&token)
            .send()
    };
    let response = userinfo(Some(&certificate)).await.unwrap();
    assert_eq!(response.status(), 200);
    for other in [None, Some(server.pki.client("web-instance", Vec::new()))] {
        let response = userinfo(other.as_ref()).await.unwrap();
        assert_eq!(response.status(), 401);
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }
}

#[tokio::test]
async fn discovery_advertises_certificate_authentication_and_bound_tokens() {
    let (server, _) = server().await;
    let document: Value = server
        .client(None)
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["tls_client_certificate_bound_access_tokens"], true);
    for endpoint in [
        "token_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        let methods = document[endpoint].as_array().unwrap();
        assert!(methods.contains(&json!("tls_client_auth")), "{endpoint}");
        assert!(
            methods.contains(&json!("self_signed_tls_client_auth")),
            "{endpoint}"
        );
    }
    assert!(
        document.get("mtls_endpoint_aliases").is_none(),
        "no mTLS host"
    );
}

#[tokio::test]
async fn a_separate_mtls_host_is_advertised_and_the_main_host_asks_for_no_certificate() {
    let self_signed = self_signed_client("self-signed");
    let server = TlsServer::start(
        Pki::new("mtls test CA"),
        &mtls_toml(&self_signed),
        |config| {
            config.server.mtls.listen = Some(([127, 0, 0, 1], 0).into());
        },
    )
    .await;
    let mtls_base = server.mtls_base.clone().expect("an mTLS listener");
    let port = mtls_base.rsplit(':').next().unwrap();
    let document: Value = server
        .client(None)
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let aliases = &document["mtls_endpoint_aliases"];
    assert_eq!(
        aliases["token_endpoint"],
        format!("https://idp.test:{port}/connect/token")
    );
    assert!(aliases["introspection_endpoint"].is_string());
    assert!(aliases["revocation_endpoint"].is_string());
    assert!(aliases["userinfo_endpoint"].is_string());

    let certificate = server.pki.client("by-dn", Vec::new());
    // The main host never asks, so the certificate is not sent: nothing authenticates.
    let response = server.client_credentials(Some(&certificate), "by-dn").await;
    assert_oauth_error(response, 401, "invalid_client").await;
    // The mTLS host asks.
    let response = server
        .client(Some(&certificate))
        .post(format!("{mtls_base}/connect/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "by-dn")])
        .send()
        .await
        .unwrap();
    let body = token_of(response).await;
    let claims = jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["x5t#S256"], certificate.x5t());
}

#[tokio::test]
async fn the_admin_api_refuses_a_bound_token_without_its_certificate() {
    let toml = mtls_toml(&self_signed_client("self-signed"));
    // The session API answers only when sessions are kept server-side.
    let server = TlsServer::start(Pki::new("mtls test CA"), &toml, |config| {
        config.server_side_sessions.enabled = true;
    })
    .await;
    let certificate = server.pki.client("bound-admin", Vec::new());
    let response = server
        .client(Some(&certificate))
        .post(server.url("/connect/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "bound-admin"),
            ("scope", "oxidp.admin"),
        ])
        .send()
        .await
        .unwrap();
    let token = token_of(response).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let sessions = |identity: Option<&Issued>| {
        server
            .client(identity)
            .get(server.url("/api/admin/sessions"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(sessions(Some(&certificate)).await.unwrap().status(), 200);
    assert_eq!(sessions(None).await.unwrap().status(), 401);
    let other = server.pki.client("bound-admin", Vec::new());
    assert_eq!(sessions(Some(&other)).await.unwrap().status(), 401);
}

#[tokio::test]
async fn a_50_certificate_chain_fails_the_handshake_and_the_server_carries_on() {
    let (server, _) = server().await;
    let leaf = server.pki.client("by-dn", Vec::new());
    let long = Issued {
        cert_pem: format!("{}{}", leaf.cert_pem, server.pki.ca_pem.repeat(49)),
        ..leaf.clone()
    };
    let refused = server
        .client(Some(&long))
        .post(server.url("/connect/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "by-dn")])
        .send()
        .await;
    assert!(
        refused.is_err(),
        "the handshake is refused, no response at all"
    );
    let response = server.client_credentials(Some(&leaf), "by-dn").await;
    assert_eq!(response.status(), 200);
}
