//! A local token issuer for the tests and benchmarks of resource servers (feature `testing`):
//! an HTTP server on `127.0.0.1:0` with a discovery document, a JWKS and an introspection
//! endpoint, which mints tokens and counts how often each endpoint is asked.
//!
//! Not for production: its keys live in memory and it trusts whoever asks.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use oxidp_jose::{SigningAlgorithm, SigningKey};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// The API resource name and introspection secret the test issuer expects.
pub const AUDIENCE: &str = "test-api";
/// The API resource's introspection secret at the test issuer.
pub const INTROSPECTION_SECRET: &str = "test-api-secret";

/// A running local issuer; stops when dropped.
///
/// ```
/// use oxidp_api_auth::testing::{TestIssuer, bearer};
/// use oxidp_api_auth::Validator;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let issuer = TestIssuer::start().await;
/// let validator = Validator::new(issuer.validator_options()).unwrap();
/// let token = issuer.mint(&issuer.claims("orders.read"));
/// let validated = validator.validate(&bearer(&token)).await.unwrap();
/// assert!(validated.claims().has_scope("orders.read"));
/// assert_eq!(issuer.jwks_fetches(), 1);
/// # }
/// ```
#[derive(Debug)]
pub struct TestIssuer {
    issuer: String,
    key: SigningKey,
    state: Arc<IssuerState>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct IssuerState {
    issuer: String,
    published: RwLock<Vec<Value>>,
    jwks_fetches: AtomicUsize,
    introspections: AtomicUsize,
    available: AtomicBool,
    reference_tokens: Mutex<HashMap<String, Value>>,
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestIssuer {
    /// Starts an issuer with one ES256 key.
    ///
    /// # Panics
    /// If no local port can be bound (a test set-up failure).
    pub async fn start() -> Self {
        oxidp_jose::install_crypto_provider();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local address");
        let issuer = format!("http://{address}");
        let key = SigningKey::generate(SigningAlgorithm::ES256).expect("an ES256 key");
        let public = serde_json::to_value(key.public_jwk()).expect("a JWK serializes");
        let state = Arc::new(IssuerState {
            issuer: issuer.clone(),
            published: RwLock::new(vec![public]),
            jwks_fetches: AtomicUsize::new(0),
            introspections: AtomicUsize::new(0),
            available: AtomicBool::new(true),
            reference_tokens: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/introspect", post(introspect))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            issuer,
            key,
            state,
            server,
        }
    }

    /// The issuer URL (`http://127.0.0.1:PORT`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Options for a validator of this issuer's tokens for [`AUDIENCE`], with introspection.
    pub fn validator_options(&self) -> crate::ValidatorOptions {
        crate::ValidatorOptions::new(self.issuer.clone(), AUDIENCE)
            .introspection_secret(INTROSPECTION_SECRET)
    }

    /// The key the issuer signs with (published in its JWKS).
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// Valid access-token claims for [`AUDIENCE`] with `scope`, expiring in 5 minutes.
    pub fn claims(&self, scope: &str) -> Value {
        let now = crate::jwt::now();
        json!({
            "iss": self.issuer,
            "aud": AUDIENCE,
            "exp": now + 300,
            "iat": now,
            "nbf": now,
            "scope": scope,
            "sub": "test-client",
            "client_id": "test-client",
            "jti": oxidp_jose::random_token(),
        })
    }

    /// `claims` signed as an RFC 9068 access token (`typ: at+jwt`) with the issuer's key.
    ///
    /// # Panics
    /// If the claims cannot be signed (they always can).
    pub fn mint(&self, claims: &Value) -> String {
        self.key.sign_jwt("at+jwt", claims).expect("signing works")
    }

    /// `claims` bound to the DPoP key with thumbprint `jkt` (`cnf.jkt`, RFC 9449 §6.1), signed
    /// as [`mint`](Self::mint) does.
    ///
    /// # Panics
    /// If the claims are not a JSON object (a test bug).
    pub fn mint_dpop_bound(&self, claims: &Value, jkt: &str) -> String {
        let mut claims = claims.clone();
        claims["cnf"] = json!({ "jkt": jkt });
        self.mint(&claims)
    }

    /// Adds `key`'s public half to the JWKS (a rotation).
    ///
    /// # Panics
    /// If a lock was poisoned by a panicking test.
    pub fn publish(&self, key: &SigningKey) {
        let public = serde_json::to_value(key.public_jwk()).expect("a JWK serializes");
        self.state.published.write().expect("lock").push(public);
    }

    /// Replaces the whole JWKS with `keys` (for malformed or hostile key sets).
    ///
    /// # Panics
    /// If a lock was poisoned by a panicking test.
    pub fn set_jwks(&self, keys: Vec<Value>) {
        *self.state.published.write().expect("lock") = keys;
    }

    /// An opaque reference token that introspects as active with `claims`.
    ///
    /// # Panics
    /// If a lock was poisoned by a panicking test.
    pub fn issue_reference_token(&self, claims: Value) -> String {
        let token = oxidp_jose::random_token();
        self.state
            .reference_tokens
            .lock()
            .expect("lock")
            .insert(token.clone(), claims);
        token
    }

    /// Makes every endpoint answer `503` (or answer again).
    pub fn set_available(&self, available: bool) {
        self.state.available.store(available, Ordering::SeqCst);
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// How many introspection requests arrived.
    pub fn introspections(&self) -> usize {
        self.state.introspections.load(Ordering::SeqCst)
    }
}

/// Request headers carrying `token` as `Authorization: Bearer`.
///
/// # Panics
/// If `token` cannot be a header value (a test bug).
pub fn bearer(token: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    let value = format!("Bearer {token}")
        .parse()
        .expect("a token is a valid header value");
    headers.insert(http::header::AUTHORIZATION, value);
    headers
}

async fn discovery(State(state): State<Arc<IssuerState>>) -> Response {
    if !state.available.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    Json(json!({
        "issuer": state.issuer,
        "jwks_uri": format!("{}/jwks", state.issuer),
        "introspection_endpoint": format!("{}/introspect", state.issuer),
    }))
    .into_response()
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> Response {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if !state.available.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = state
        .published
        .read()
        .map(|keys| keys.clone())
        .unwrap_or_default();
    Json(json!({ "keys": keys })).into_response()
}

async fn introspect(
    State(state): State<Arc<IssuerState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    state.introspections.fetch_add(1, Ordering::SeqCst);
    if !state.available.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{AUDIENCE}:{INTROSPECTION_SECRET}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let claims = form.get("token").and_then(|token| {
        state
            .reference_tokens
            .lock()
            .ok()
            .and_then(|tokens| tokens.get(token).cloned())
    });
    match claims {
        Some(mut claims) => {
            claims["active"] = json!(true);
            Json(claims).into_response()
        }
        None => Json(json!({ "active": false })).into_response(),
    }
}
