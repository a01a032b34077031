//! The web app: a confidential client of the identity server that signs users in with the
//! authorization code flow (PKCE, `state`, `nonce`), keeps each user's tokens with
//! `oxidp-client`'s [`RefreshTokenManager`], calls the API with them, and ends its own session
//! when the identity server says the user session is over.
//!
//! Its sessions are in memory, keyed by a random 256-bit value in the `web.session` cookie (the
//! same key names the user's tokens in the token manager). Routes:
//!
//! | route | does |
//! |---|---|
//! | `GET /` | the home page: signed in or not, the ID token's claims, the tokens' state, the API's last answer, the back-channel logouts received |
//! | `GET /login` | starts the code flow |
//! | `GET /callback` | finishes it: code exchange, ID token checks, a new local session |
//! | `POST /call-api` | gets an access token (refreshed when due) and calls the API |
//! | `POST /refresh` | renews the tokens now (each refresh slides the user session on the server) |
//! | `POST /logout` | revokes the tokens, ends the local session, and sends the browser to the server's end-session endpoint |
//! | `GET /signed-out` | where the server sends the browser back after logout |
//! | `POST /backchannel-logout` | receives OIDC Back-Channel Logout tokens and ends the local sessions of that `sid` |
//!
//! Every `POST` from the browser carries the session's CSRF token.

mod actions;
mod backchannel;
mod error;
mod home;
mod issuer;
mod local_sessions;
mod login;
mod logout;
mod pages;
mod tokens;

use axum::Router;
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use issuer::Issuer;
use local_sessions::{LocalSession, LocalSessions};
use oxidp_client::{OAuthClient, RefreshTokenManager};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Where the identity server sends the browser back with the authorization code.
pub const CALLBACK_PATH: &str = "/callback";
/// Where the identity server sends the browser back after logout.
pub const SIGNED_OUT_PATH: &str = "/signed-out";
/// Where the identity server POSTs logout tokens.
pub const BACKCHANNEL_LOGOUT_PATH: &str = "/backchannel-logout";
/// The cookie that holds the key of the browser's local session.
pub const SESSION_COOKIE: &str = "web.session";
/// The scopes the web app asks for: an ID token, a name, the API, and a refresh token.
pub const SCOPES: &str = "openid profile sample-api.read offline_access";

/// What the web app needs to know.
#[derive(Clone)]
pub struct WebSettings {
    /// The identity server's issuer URL.
    pub issuer: String,
    /// The web app's own base URL (`http://127.0.0.1:5002/`).
    pub base_url: Url,
    /// The API route the app calls.
    pub api_url: Url,
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: String,
}

impl fmt::Debug for WebSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSettings")
            .field("issuer", &self.issuer)
            .field("base_url", &self.base_url.as_str())
            .field("api_url", &self.api_url.as_str())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The web app; cheap to clone.
#[derive(Clone)]
pub struct WebApp {
    inner: Arc<State>,
}

/// What every handler shares.
pub(crate) struct State {
    settings: WebSettings,
    issuer: Issuer,
    tokens: RefreshTokenManager,
    sessions: LocalSessions,
    http: reqwest::Client,
}

impl fmt::Debug for WebApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebApp")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl WebApp {
    /// Reads the identity server's discovery document and prepares the token manager.
    pub async fn connect(settings: WebSettings) -> anyhow::Result<Self> {
        // No redirects: an identity server answers its endpoints directly, and following a
        // redirect could send the client's credentials elsewhere.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        let issuer = Issuer::discover(http.clone(), &settings.issuer).await?;
        // The token and revocation endpoints come from the document just read, rather than a
        // second discovery by `OAuthClientBuilder::discover`.
        let mut client = OAuthClient::builder(&settings.client_id, settings.client_secret.as_str())
            .token_endpoint(issuer.metadata().token_endpoint.as_str())
            .http_client(http.clone());
        if let Some(revocation) = &issuer.metadata().revocation_endpoint {
            client = client.revocation_endpoint(revocation.as_str());
        }
        let tokens = RefreshTokenManager::new(client.build()?);
        Ok(Self {
            inner: Arc::new(State {
                settings,
                issuer,
                tokens,
                sessions: LocalSessions::default(),
                http,
            }),
        })
    }

    /// The app's routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(home::home))
            .route("/login", get(login::login))
            .route(CALLBACK_PATH, get(login::callback))
            .route("/call-api", post(actions::call_api))
            .route("/refresh", post(actions::refresh))
            .route("/logout", post(logout::logout))
            .route(SIGNED_OUT_PATH, get(logout::signed_out))
            .route(BACKCHANNEL_LOGOUT_PATH, post(backchannel::receive))
            .with_state(self.clone())
    }

    /// The token manager: each local session's tokens, under the session's cookie value.
    pub fn tokens(&self) -> &RefreshTokenManager {
        &self.inner.tokens
    }

    /// How many local sessions are signed in.
    pub fn signed_in_count(&self) -> usize {
        self.inner.sessions.len()
    }

    /// The browser's local session, if it is signed in: its key and a copy of it.
    fn current(&self, jar: &CookieJar) -> Option<(String, LocalSession)> {
        let key = jar.get(SESSION_COOKIE)?.value().to_owned();
        let session = self.inner.sessions.get(&key)?;
        Some((key, session))
    }

    /// Whether cookies need `Secure`: whenever the app is served over https.
    fn secure_cookies(&self) -> bool {
        self.inner.settings.base_url.scheme() == "https"
    }

    /// An absolute URL of the app.
    fn url(&self, path: &str) -> String {
        self.inner
            .settings
            .base_url
            .join(path)
            .map(String::from)
            .unwrap_or_else(|_| path.to_owned())
    }
}
