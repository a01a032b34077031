//! DPoP (RFC 9449) over HTTP against the real server: proof validation and its bad inputs,
//! binding of access, refresh and code, userinfo, nonces, replay across instances on one
//! PostgreSQL database, and an interoperability test with proofs built without oxidp code.
//!
//! The server's issuer is `http://idp.test` while it listens on `127.0.0.1:PORT`, as behind a
//! proxy: proofs name the issuer-derived URL.

mod bad_input;
mod binding;
mod independent;
mod interop;
mod nonces;
mod replay;
mod userinfo;

use crate::browser::*;
use crate::helpers::*;
use oxidp_jose::dpop::DpopProofBuilder;
use oxidp_jose::{SigningAlgorithm, SigningKey};
use oxidp_server::config::{ClientConfig, Config};
use serde_json::Value;

/// The clients the DPoP tests add to the suite's configuration.
const DPOP_CLIENTS: &str = r#"
[[clients]]
client_id = "dpop-m2m"
secrets = [{ value = "dpop-secret" }]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]
require_dpop = true

[[clients]]
client_id = "dpop-reference"
secrets = [{ value = "dpop-reference-secret" }]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]
access_token_type = "reference"

[[clients]]
client_id = "dpop-nonce"
secrets = [{ value = "dpop-nonce-secret" }]
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]
require_dpop_nonce = true

[[clients]]
client_id = "dpop-public"
require_client_secret = false
allowed_grant_types = ["authorization_code"]
allowed_scopes = ["openid", "profile"]
allow_offline_access = true
redirect_uris = ["https://app.test/callback"]
"#;

/// The token endpoint URL a proof names.
pub const TOKEN_URL: &str = "http://idp.test/connect/token";
/// The userinfo URL a proof names.
pub const USERINFO_URL: &str = "http://idp.test/connect/userinfo";

fn dpop_clients() -> Vec<ClientConfig> {
    Config::from_toml(DPOP_CLIENTS)
        .expect("the DPoP clients are valid")
        .clients
}

/// A server (SQLite, system clock) with the DPoP clients, the configuration changed by `adjust`.
pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn_with(None, |config| {
        config.clients.extend(dpop_clients());
        adjust(config);
    })
    .await
}

/// A server (SQLite, system clock) with the DPoP clients.
pub async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

/// Now, as the server's clock says.
pub fn now(app: &TestApp) -> i64 {
    match &app.clock {
        Some(clock) => oxidp_core::clock::Clock::now(clock.as_ref()).unix_timestamp(),
        None => time::OffsetDateTime::now_utc().unix_timestamp(),
    }
}

/// A client's DPoP key, with proofs built by oxidp-jose.
pub struct Holder {
    pub key: SigningKey,
}

impl Holder {
    pub fn new() -> Self {
        Self {
            key: SigningKey::generate(SigningAlgorithm::ES256).unwrap(),
        }
    }

    pub fn jkt(&self) -> String {
        self.key.thumbprint()
    }

    /// A fresh proof for a POST to the token endpoint.
    pub fn token_proof(&self, app: &TestApp) -> String {
        self.proof(app, "POST", TOKEN_URL, None, None)
    }

    /// A fresh proof for `htm` `htu`, with a nonce and an access token's `ath` when given.
    pub fn proof(
        &self,
        app: &TestApp,
        htm: &str,
        htu: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> String {
        let mut builder = DpopProofBuilder::new(htm, htu, now(app));
        if let Some(nonce) = nonce {
            builder = builder.nonce(nonce);
        }
        if let Some(token) = access_token {
            builder = builder.access_token(token);
        }
        builder.sign(&self.key).unwrap()
    }
}

/// POSTs a token request with one `DPoP` header per proof.
pub async fn post_token(
    app: &TestApp,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
    proofs: &[&str],
) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url("/connect/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(form));
    if let Some((id, secret)) = basic {
        request = request.header("authorization", basic_header(id, secret));
    }
    for proof in proofs {
        request = request.header("dpop", *proof);
    }
    request.send().await.unwrap()
}

/// A client-credentials request of `client` with one `DPoP` header per proof.
pub async fn client_credentials(
    app: &TestApp,
    client: (&str, &str),
    proofs: &[&str],
) -> reqwest::Response {
    post_token(
        app,
        Some(client),
        &[("grant_type", "client_credentials")],
        proofs,
    )
    .await
}

/// A successful client-credentials token response bound to `holder`'s key.
pub async fn bound_token(app: &TestApp, client: (&str, &str), holder: &Holder) -> Value {
    let response = client_credentials(app, client, &[&holder.token_proof(app)]).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

/// GET /connect/userinfo with `authorization` and one `DPoP` header per proof.
pub async fn userinfo(app: &TestApp, authorization: &str, proofs: &[&str]) -> reqwest::Response {
    let mut request = app
        .http
        .get(app.url("/connect/userinfo"))
        .header("authorization", authorization);
    for proof in proofs {
        request = request.header("dpop", *proof);
    }
    request.send().await.unwrap()
}

/// The `WWW-Authenticate` header of a response.
pub fn challenge(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .expect("a WWW-Authenticate header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The `DPoP-Nonce` header of a response, if any.
pub fn nonce_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Signs alice in for `client_id` (with `dpop_jkt` when given) and returns the code and the
/// PKCE verifier.
pub async fn code_for(
    app: &TestApp,
    client_id: &str,
    scope: &str,
    dpop_jkt: Option<&str>,
) -> (String, String) {
    let browser = Browser::new(app);
    let (verifier, challenge) = pkce();
    let mut params = vec![
        ("client_id", client_id),
        ("redirect_uri", WEB_REDIRECT),
        ("response_type", "code"),
        ("scope", scope),
        ("state", "st-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if let Some(jkt) = dpop_jkt {
        params.push(("dpop_jkt", jkt));
    }
    let response = browser.authorize(&params).await;
    let next = location(&response);
    assert!(next.starts_with("/account/login"), "{next}");
    let posted = browser.sign_in_at(&next, "alice", "alice-password").await;
    let callback = browser.follow_to_client(posted).await;
    let code = query(&callback)
        .get("code")
        .unwrap_or_else(|| panic!("no code in {callback}"))
        .clone();
    (code, verifier)
}

/// Redeems `code` as `client` (no secret for a public client) with the given proofs.
pub async fn redeem(
    app: &TestApp,
    client: (&str, Option<&str>),
    code: &str,
    verifier: &str,
    proofs: &[&str],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", WEB_REDIRECT),
        ("code_verifier", verifier),
    ];
    let basic = match client.1 {
        Some(secret) => Some((client.0, secret)),
        None => {
            form.push(("client_id", client.0));
            None
        }
    };
    post_token(app, basic, &form, proofs).await
}

/// Uses `refresh_token` as `client` with the given proofs.
pub async fn refresh(
    app: &TestApp,
    client: (&str, Option<&str>),
    refresh_token: &str,
    proofs: &[&str],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    let basic = match client.1 {
        Some(secret) => Some((client.0, secret)),
        None => {
            form.push(("client_id", client.0));
            None
        }
    };
    post_token(app, basic, &form, proofs).await
}

/// The `cnf.jkt` of a JWT access token, if any.
pub fn jkt_of(access_token: &str) -> Option<String> {
    jwt_payload(access_token)["cnf"]["jkt"]
        .as_str()
        .map(str::to_owned)
}
