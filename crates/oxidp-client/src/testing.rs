//! Test doubles for client apps (feature `testing`): a fake authorization server on
//! `127.0.0.1:0` and a clock moved by hand.
//!
//! [`FakeAuthorizationServer`] serves a discovery document, a token endpoint
//! (`client_credentials`, `authorization_code` and `refresh_token` grants, with one-time
//! rotating refresh tokens as oxidp issues them) and an RFC 7009 revocation endpoint. It knows
//! one client ([`CLIENT_ID`], [`CLIENT_SECRET`]), issues numbered tokens (`at-1`, `rt-1`,
//! `id-1`, then `at-2`, ...), counts and records the requests it gets, and can be switched to
//! slow, failing or malformed answers. [`ManualClock`] lets a test step over token lifetimes
//! without sleeping.
//!
//! It is a test double, not an authorization server: it signs nothing (its tokens are plain
//! numbered strings), checks no redirect URI or PKCE verifier, and keeps everything in memory.
//! Not for production.
//!
//! ```
//! use oxidp_client::testing::{FakeAuthorizationServer, ManualClock};
//! use oxidp_client::{ClientCredentialsManager, RefreshTokenManager};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), oxidp_client::Error> {
//! let server = FakeAuthorizationServer::start().await;
//! let clock = ManualClock::new();
//! let client = server.client_builder().clock(clock.clone()).build()?;
//!
//! let tokens = ClientCredentialsManager::new(client.clone());
//! assert_eq!(tokens.get_token().await?.access_token.secret(), "at-1");
//!
//! let sessions = RefreshTokenManager::new(client);
//! sessions
//!     .exchange_code("s1", oxidp_client::testing::AUTHORIZATION_CODE, "https://app.test/cb", None)
//!     .await?;
//! clock.advance(300); // the access token's whole lifetime
//! assert_eq!(sessions.access_token("s1").await?.access_token.secret(), "at-3");
//! assert_eq!(server.token_requests(), 3);
//! # Ok(()) }
//! ```

use crate::client::{OAuthClient, OAuthClientBuilder};
use crate::clock::Clock;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use time::OffsetDateTime;

/// The id of the one client the fake server knows.
pub const CLIENT_ID: &str = "app";

/// That client's secret. It holds a space, a `/` and a `+`, so that a client which does not
/// form-encode its `client_secret_basic` credentials (RFC 6749 §2.3.1) is refused.
pub const CLIENT_SECRET: &str = "app secret/+";

/// The one authorization code the token endpoint redeems (any number of times); any other
/// code gets `invalid_grant`.
pub const AUTHORIZATION_CODE: &str = "good-code";

/// What the fake token endpoint does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Authenticates the client and issues tokens living `expires_in` seconds (the response
    /// has no `expires_in` if `None`); with `rotate`, every refresh returns a new refresh token
    /// and the old one stops working, otherwise the refresh token stays the same.
    Issue {
        /// The `expires_in` of the responses.
        expires_in: Option<u64>,
        /// Whether refreshes rotate the refresh token.
        rotate: bool,
    },
    /// Answers every request with this status and body, without looking at it.
    Answer {
        /// The HTTP status.
        status: u16,
        /// The body, sent as it is.
        body: String,
    },
}

impl Default for Behaviour {
    /// Tokens living 300 seconds, refresh tokens rotated.
    fn default() -> Self {
        Self::Issue {
            expires_in: Some(300),
            rotate: true,
        }
    }
}

/// A request the token endpoint received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// Its `Authorization` header, if any.
    pub authorization: Option<String>,
    /// Its form parameters (of a repeated parameter, the last value).
    pub form: HashMap<String, String>,
    /// Its `DPoP` proof header, if any.
    pub dpop: Option<String>,
}

#[derive(Debug)]
struct ServerState {
    /// Where the server listens.
    url: String,
    /// The issuer its discovery document names.
    issuer: Mutex<String>,
    token_requests: AtomicUsize,
    token_forms: Mutex<Vec<TokenRequest>>,
    revocations: Mutex<Vec<HashMap<String, String>>>,
    revocation_status: Mutex<u16>,
    behaviour: Mutex<Behaviour>,
    delay: Mutex<Duration>,
    /// The one refresh token that is currently redeemable.
    live_refresh_token: Mutex<Option<String>>,
    dpop_nonce: Mutex<Option<String>>,
    issued: AtomicUsize,
}

/// A fake OAuth 2.0 authorization server on `127.0.0.1`, running until dropped.
///
/// Endpoints: `GET /.well-known/openid-configuration`, `POST /token`, `POST /revoke`. Both
/// `POST` endpoints authenticate the client with `client_secret_basic` or
/// `client_secret_post` (`401 invalid_client` otherwise). The token endpoint, in its default
/// [`Behaviour`]:
///
/// * `client_credentials`: an access token, with the requested `scope` echoed back;
/// * `authorization_code` with [`AUTHORIZATION_CODE`]: an access token, an ID token and a
///   refresh token;
/// * `refresh_token`: redeems only the refresh token issued last (or the one named with
///   [`accept_refresh_token`](Self::accept_refresh_token)); any other gets `invalid_grant`.
///   It returns a new access token and a new refresh token, so a refresh token works once.
///
/// The revocation endpoint records each request and answers `200` (or the status set with
/// [`set_revocation_status`](Self::set_revocation_status)); it does not make revoked tokens
/// unusable.
///
/// ```
/// use oxidp_client::testing::FakeAuthorizationServer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), oxidp_client::Error> {
/// let server = FakeAuthorizationServer::start().await;
/// let client = server.client_builder().build()?;
/// assert_eq!(client.token_endpoint().as_str(), server.token_endpoint());
///
/// server.answer_token_requests(503, r#"{"error":"temporarily_unavailable"}"#);
/// let error = oxidp_client::ClientCredentialsManager::new(client).get_token().await.unwrap_err();
/// assert!(error.is_transient());
/// assert_eq!(server.token_requests(), 1);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FakeAuthorizationServer {
    issuer: String,
    state: Arc<ServerState>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeAuthorizationServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeAuthorizationServer {
    /// Starts a server on a free port of `127.0.0.1`, in the default [`Behaviour`].
    ///
    /// # Panics
    /// If no local port can be bound (a test set-up failure), or outside a Tokio runtime.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let issuer = format!("http://{}", listener.local_addr().expect("local address"));
        let state = Arc::new(ServerState {
            url: issuer.clone(),
            issuer: Mutex::new(issuer.clone()),
            token_requests: AtomicUsize::new(0),
            token_forms: Mutex::new(Vec::new()),
            revocations: Mutex::new(Vec::new()),
            revocation_status: Mutex::new(200),
            behaviour: Mutex::new(Behaviour::default()),
            delay: Mutex::new(Duration::ZERO),
            live_refresh_token: Mutex::new(None),
            issued: AtomicUsize::new(0),
            dpop_nonce: Mutex::new(None),
        });
        let app = Router::new()
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route("/echo", get(echo))
            .route("/.well-known/openid-configuration", get(discovery))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            issuer,
            state,
            server,
        }
    }

    /// The server's URL, `http://127.0.0.1:PORT`, which is also the issuer its discovery
    /// document names (unless changed with
    /// [`set_discovery_issuer`](Self::set_discovery_issuer)).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The token endpoint's URL.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer)
    }

    /// The revocation endpoint's URL.
    pub fn revocation_endpoint(&self) -> String {
        format!("{}/revoke", self.issuer)
    }

    /// A builder of a client with the right credentials ([`CLIENT_ID`], [`CLIENT_SECRET`]) and
    /// both endpoints set, so that it needs no discovery.
    pub fn client_builder(&self) -> OAuthClientBuilder {
        OAuthClient::builder(CLIENT_ID, CLIENT_SECRET)
            .token_endpoint(self.token_endpoint())
            .revocation_endpoint(self.revocation_endpoint())
    }

    /// Changes what the token endpoint does from now on.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *lock(&self.state.behaviour) = behaviour;
    }

    /// Makes the token endpoint answer every request with `status` and `body`
    /// ([`Behaviour::Answer`]), until [`set_behaviour`](Self::set_behaviour) says otherwise.
    pub fn answer_token_requests(&self, status: u16, body: &str) {
        self.set_behaviour(Behaviour::Answer {
            status,
            body: body.to_owned(),
        });
    }

    /// Makes the token endpoint wait this long before it answers (for tests of concurrent
    /// callers).
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.state.delay) = delay;
    }

    /// Makes the revocation endpoint answer with `status`: `200` by default, any other with
    /// the OAuth error `temporarily_unavailable`.
    pub fn set_revocation_status(&self, status: u16) {
        *lock(&self.state.revocation_status) = status;
    }

    /// Makes the discovery document name `issuer` as its issuer (a document for another
    /// issuer, which clients must refuse).
    pub fn set_discovery_issuer(&self, issuer: impl Into<String>) {
        *lock(&self.state.issuer) = issuer.into();
    }

    /// Makes `refresh_token` the one redeemable refresh token, in place of the one issued
    /// last.
    pub fn accept_refresh_token(&self, refresh_token: &str) {
        *lock(&self.state.live_refresh_token) = Some(refresh_token.to_owned());
    }

    /// How many requests the token endpoint received.
    pub fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    /// The last request the token endpoint received.
    pub fn last_token_request(&self) -> Option<TokenRequest> {
        lock(&self.state.token_forms).last().cloned()
    }

    /// Requires a DPoP proof with `nonce` at the token endpoint: a proof without it gets `400
    /// use_dpop_nonce` with `DPoP-Nonce: nonce`, and successful answers carry the header too.
    /// (Proofs are always verified when present: a bad one gets `400 invalid_dpop_proof`, and
    /// a good one a `token_type` of `DPoP`.)
    ///
    /// # Panics
    /// If a lock was poisoned by a panicking test.
    pub fn require_dpop_nonce(&self, nonce: &str) {
        *lock(&self.state.dpop_nonce) = Some(nonce.to_owned());
    }

    /// A URL that answers any GET with the `authorization` and `dpop` headers it received, as
    /// JSON: a stand-in API for tests of [`OAuthClient::send_with_token`].
    pub fn echo_url(&self) -> String {
        format!("{}/echo", self.issuer)
    }

    /// The forms of the authenticated revocation requests received, oldest first.
    pub fn revocations(&self) -> Vec<HashMap<String, String>> {
        lock(&self.state.revocations).clone()
    }
}

fn parse_form(body: &str) -> HashMap<String, String> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

/// Accepts `client_secret_basic` (form-encoded id and secret, RFC 6749 §2.3.1) or
/// `client_secret_post`.
fn authenticated(headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    use base64::Engine as _;
    if let Some(header) = headers.get("authorization") {
        let credentials = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Basic "))
            .and_then(|encoded| {
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()
            })
            .and_then(|decoded| String::from_utf8(decoded).ok());
        let Some((id, secret)) = credentials
            .as_deref()
            .and_then(|decoded| decoded.split_once(':'))
        else {
            return false;
        };
        let unescape = |value: &str| {
            form_urlencoded::parse(format!("v={value}").as_bytes())
                .next()
                .map(|(_, value)| value.into_owned())
        };
        return unescape(id).as_deref() == Some(CLIENT_ID)
            && unescape(secret).as_deref() == Some(CLIENT_SECRET);
    }
    form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "error": error }))).into_response()
}

async fn token(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    let form = parse_form(&body);
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let dpop = headers
        .get("dpop")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    lock(&state.token_forms).push(TokenRequest {
        authorization,
        form: form.clone(),
        dpop: dpop.clone(),
    });
    let delay = *lock(&state.delay);
    tokio::time::sleep(delay).await;
    let behaviour = lock(&state.behaviour).clone();
    let (expires_in, rotate) = match behaviour {
        Behaviour::Answer { status: code, body } => return (status(code), body).into_response(),
        Behaviour::Issue { expires_in, rotate } => (expires_in, rotate),
    };
    if !authenticated(&headers, &form) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let nonce = lock(&state.dpop_nonce).clone();
    let token_type = match check_proof(&state, dpop.as_deref(), nonce.as_deref()) {
        Ok(token_type) => token_type,
        Err(refusal) => return *refusal,
    };
    let n = state.issued.fetch_add(1, Ordering::SeqCst) + 1;
    let mut response = json!({ "access_token": format!("at-{n}"), "token_type": token_type });
    if let Some(expires_in) = expires_in {
        response["expires_in"] = json!(expires_in);
    }
    let new_refresh_token = |response: &mut Value| {
        let refresh_token = format!("rt-{n}");
        response["refresh_token"] = json!(refresh_token);
        *lock(&state.live_refresh_token) = Some(refresh_token);
    };
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            if let Some(scope) = form.get("scope") {
                response["scope"] = json!(scope);
            }
        }
        Some("authorization_code") => {
            if form.get("code").map(String::as_str) != Some(AUTHORIZATION_CODE) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            response["id_token"] = json!(format!("id-{n}"));
            new_refresh_token(&mut response);
        }
        Some("refresh_token") => {
            let live = lock(&state.live_refresh_token).clone();
            if live.is_none() || form.get("refresh_token") != live.as_ref() {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            if rotate {
                new_refresh_token(&mut response);
            }
        }
        _ => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
    let mut response = axum::Json(response).into_response();
    if let Some(value) = nonce.and_then(|nonce| nonce.parse().ok()) {
        response.headers_mut().insert("dpop-nonce", value);
    }
    response
}

/// The token type a request earns: `Bearer` without a proof, `DPoP` with a valid one; or the
/// refusal of a bad proof, or of one without the nonce required.
fn check_proof(
    state: &ServerState,
    proof: Option<&str>,
    nonce: Option<&str>,
) -> Result<&'static str, Box<Response>> {
    let Some(proof) = proof else {
        return Ok("Bearer");
    };
    let htu = format!("{}/token", state.url);
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut expected = oxidp_jose::dpop::ProofExpectation::new("POST", &htu, now);
    if let Some(nonce) = nonce {
        expected = expected.with_nonce(nonce);
    }
    match oxidp_jose::dpop::DpopProof::verify(proof, &expected) {
        Ok(_) => Ok("DPoP"),
        Err(error) if error.is_nonce_error() => {
            let mut refusal = oauth_error(StatusCode::BAD_REQUEST, "use_dpop_nonce");
            if let Some(value) = nonce.and_then(|nonce| nonce.parse().ok()) {
                refusal.headers_mut().insert("dpop-nonce", value);
            }
            Err(Box::new(refusal))
        }
        Err(_) => Err(Box::new(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
        ))),
    }
}

async fn echo(headers: HeaderMap) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    axum::Json(json!({
        "authorization": header("authorization"),
        "dpop": header("dpop"),
    }))
    .into_response()
}

async fn revoke(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form = parse_form(&body);
    if !authenticated(&headers, &form) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    lock(&state.revocations).push(form);
    let code = *lock(&state.revocation_status);
    if code == 200 {
        StatusCode::OK.into_response()
    } else {
        oauth_error(status(code), "temporarily_unavailable")
    }
}

async fn discovery(State(state): State<Arc<ServerState>>) -> Response {
    // The endpoints are where the server is, whatever issuer it claims to be.
    let url = &state.url;
    axum::Json(json!({
        "issuer": lock(&state.issuer).clone(),
        "token_endpoint": format!("{url}/token"),
        "revocation_endpoint": format!("{url}/revoke"),
    }))
    .into_response()
}

/// A [`Clock`] that stands still until moved; it starts at the current time.
///
/// ```
/// use oxidp_client::Clock;
/// use oxidp_client::testing::ManualClock;
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// assert_eq!(clock.now(), start);
/// clock.advance(90);
/// assert_eq!(clock.now() - start, time::Duration::seconds(90));
/// ```
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock showing the current time, shared (pass a clone to
    /// [`OAuthClientBuilder::clock`] and keep one to move it).
    pub fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(OffsetDateTime::now_utc())))
    }

    /// Moves the clock `seconds` forward (backward if negative).
    pub fn advance(&self, seconds: i64) {
        *lock(&self.0) += time::Duration::seconds(seconds);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *lock(&self.0)
    }
}
