//! A small fake authorization server on 127.0.0.1:0: a token endpoint that counts its requests,
//! checks the client's credentials, issues numbered tokens and one-time rotating refresh tokens
//! (like oxidp: a refresh token used twice gets `invalid_grant`), a revocation endpoint that
//! records what it was asked, and a discovery document. Its behaviour can be switched to
//! failures and malformed answers.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use oxidp_client::{Clock, OAuthClient, OAuthClientBuilder};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

pub const CLIENT_ID: &str = "app";
pub const SECRET: &str = "app secret/+";
pub const JWT_SHAPED: &str = "header.payload.signature";

/// A token request as received: its Authorization header and its form.
pub type TokenRequest = (Option<String>, HashMap<String, String>);

/// What the token endpoint does.
#[derive(Clone)]
pub enum Behaviour {
    /// Issues tokens living `expires_in` seconds (no `expires_in` if `None`).
    Issue {
        expires_in: Option<u64>,
        rotate: bool,
    },
    /// Answers this status and body, whatever is asked.
    Answer { status: u16, body: String },
}

pub struct FakeState {
    pub issuer: Mutex<String>,
    pub token_requests: AtomicUsize,
    pub token_forms: Mutex<Vec<TokenRequest>>,
    pub revocations: Mutex<Vec<HashMap<String, String>>>,
    pub revocation_status: Mutex<u16>,
    pub behaviour: Mutex<Behaviour>,
    pub delay: Mutex<Duration>,
    /// The one refresh token that is currently redeemable.
    pub live_refresh_token: Mutex<Option<String>>,
    issued: AtomicUsize,
}

pub struct Fake {
    pub url: String,
    pub state: Arc<FakeState>,
}

impl Fake {
    pub async fn start() -> Self {
        let state = Arc::new(FakeState {
            issuer: Mutex::new(String::new()),
            token_requests: AtomicUsize::new(0),
            token_forms: Mutex::new(Vec::new()),
            revocations: Mutex::new(Vec::new()),
            revocation_status: Mutex::new(200),
            behaviour: Mutex::new(Behaviour::Issue {
                expires_in: Some(300),
                rotate: true,
            }),
            delay: Mutex::new(Duration::ZERO),
            live_refresh_token: Mutex::new(None),
            issued: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route("/.well-known/openid-configuration", get(discovery))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        *state.issuer.lock().unwrap() = url.clone();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, state }
    }

    /// A client of this fake with the right credentials.
    pub fn client(&self, clock: Arc<dyn Clock>) -> OAuthClient {
        self.builder(SECRET).clock(clock).build().unwrap()
    }

    pub fn builder(&self, secret: &str) -> OAuthClientBuilder {
        OAuthClient::builder(CLIENT_ID, secret)
            .token_endpoint(format!("{}/token", self.url))
            .revocation_endpoint(format!("{}/revoke", self.url))
    }

    pub fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    pub fn behave(&self, behaviour: Behaviour) {
        *self.state.behaviour.lock().unwrap() = behaviour;
    }

    pub fn answer(&self, status: u16, body: &str) {
        self.behave(Behaviour::Answer {
            status,
            body: body.to_owned(),
        });
    }

    pub fn delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    /// Makes `token` the redeemable refresh token.
    pub fn accept_refresh_token(&self, token: &str) {
        *self.state.live_refresh_token.lock().unwrap() = Some(token.to_owned());
    }

    pub fn last_token_form(&self) -> TokenRequest {
        self.state
            .token_forms
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap()
    }

    pub fn revocations(&self) -> Vec<HashMap<String, String>> {
        self.state.revocations.lock().unwrap().clone()
    }
}

fn parse_form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

/// Accepts `client_secret_basic` (form-encoded id and secret, RFC 6749 §2.3.1) or
/// `client_secret_post`.
fn authenticated(headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    use base64::Engine as _;
    if let Some(header) = headers.get("authorization") {
        let encoded = header.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        let decoded = String::from_utf8(decoded).unwrap();
        let (id, secret) = decoded.split_once(':').unwrap();
        let unescape = |v: &str| parse_form(&format!("v={v}"))["v"].clone();
        return unescape(id) == CLIENT_ID && unescape(secret) == SECRET;
    }
    form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(SECRET)
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "error": error }))).into_response()
}

async fn token(State(state): State<Arc<FakeState>>, headers: HeaderMap, body: String) -> Response {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    let form = parse_form(&body);
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    state.token_forms.lock().unwrap().push((auth, form.clone()));
    let delay = *state.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let behaviour = state.behaviour.lock().unwrap().clone();
    let (expires_in, rotate) = match behaviour {
        Behaviour::Answer { status, body } => {
            return (StatusCode::from_u16(status).unwrap(), body).into_response();
        }
        Behaviour::Issue { expires_in, rotate } => (expires_in, rotate),
    };
    if !authenticated(&headers, &form) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let n = state.issued.fetch_add(1, Ordering::SeqCst) + 1;
    let mut response = json!({ "access_token": format!("at-{n}"), "token_type": "Bearer" });
    if let Some(expires_in) = expires_in {
        response["expires_in"] = json!(expires_in);
    }
    let new_refresh_token = |response: &mut Value| {
        let refresh_token = format!("rt-{n}");
        response["refresh_token"] = json!(refresh_token);
        *state.live_refresh_token.lock().unwrap() = Some(refresh_token);
    };
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            if let Some(scope) = form.get("scope") {
                response["scope"] = json!(scope);
            }
        }
        Some("authorization_code") => {
            if form.get("code").map(String::as_str) != Some("good-code") {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            response["id_token"] = json!(format!("id-{n}"));
            new_refresh_token(&mut response);
        }
        Some("refresh_token") => {
            let live = state.live_refresh_token.lock().unwrap().clone();
            if live.is_none() || form.get("refresh_token") != live.as_ref() {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            if rotate {
                new_refresh_token(&mut response);
            }
        }
        _ => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
    axum::Json(response).into_response()
}

async fn revoke(State(state): State<Arc<FakeState>>, headers: HeaderMap, body: String) -> Response {
    let form = parse_form(&body);
    if !authenticated(&headers, &form) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    state.revocations.lock().unwrap().push(form);
    let status = *state.revocation_status.lock().unwrap();
    if status == 200 {
        StatusCode::OK.into_response()
    } else {
        oauth_error(
            StatusCode::from_u16(status).unwrap(),
            "temporarily_unavailable",
        )
    }
}

async fn discovery(State(state): State<Arc<FakeState>>) -> Response {
    let issuer = state.issuer.lock().unwrap().clone();
    axum::Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/token"),
        "revocation_endpoint": format!("{issuer}/revoke"),
    }))
    .into_response()
}

/// A clock the test moves by hand.
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(OffsetDateTime::now_utc())))
    }

    pub fn advance(&self, seconds: i64) {
        *self.0.lock().unwrap() += time::Duration::seconds(seconds);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// An address nothing listens on.
pub async fn unreachable_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}
