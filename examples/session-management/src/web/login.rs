//! Signing in: `GET /login` sends the browser to the identity server's authorize endpoint;
//! `GET /callback` takes the code back, redeems it through the token manager and starts a local
//! session.
//!
//! Each sign-in has its own `state` (bound to this browser by the short-lived `web.login`
//! cookie, so a code from someone else's sign-in cannot be planted here), `nonce` (bound into
//! the ID token) and PKCE verifier (so a stolen code is useless without it). The `state` is
//! one-time: a replayed callback finds nothing.

use super::error::WebError;
use super::local_sessions::{LOGIN_TIMEOUT, LocalSession, PendingLogin};
use super::pages::{cookie, removal};
use super::tokens::check_id_token;
use super::{CALLBACK_PATH, SCOPES, SESSION_COOKIE, WebApp};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use oxidp_jose::{b64url_encode, constant_time_eq, random_token, sha256};
use serde::Deserialize;
use time::OffsetDateTime;

/// The cookie that ties a sign-in in progress to the browser that started it.
const LOGIN_COOKIE: &str = "web.login";

/// Starts the code flow (or goes home if the browser is signed in already).
pub(crate) async fn login(State(app): State<WebApp>, jar: CookieJar) -> Response {
    if app.current(&jar).is_some() {
        return Redirect::to("/").into_response();
    }
    let state = random_token();
    let nonce = random_token();
    let code_verifier = random_token();
    let challenge = b64url_encode(sha256(&code_verifier));
    let settings = &app.inner.settings;
    let mut authorize = match url::Url::parse(&app.inner.issuer.metadata().authorization_endpoint) {
        Ok(url) => url,
        Err(error) => {
            return WebError::identity_server("The identity server's address is unusable.", error)
                .into_response();
        }
    };
    authorize
        .query_pairs_mut()
        .append_pair("client_id", &settings.client_id)
        .append_pair("redirect_uri", &app.url(CALLBACK_PATH))
        .append_pair("response_type", "code")
        .append_pair("scope", SCOPES)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    app.inner
        .sessions
        .start_login(state.clone(), PendingLogin::new(nonce, code_verifier));
    let mut login_cookie = cookie(LOGIN_COOKIE, state, app.secure_cookies());
    login_cookie.set_max_age(time::Duration::try_from(LOGIN_TIMEOUT).ok());
    (jar.add(login_cookie), Redirect::to(authorize.as_str())).into_response()
}

/// The authorization response (RFC 6749 §4.1.2, with RFC 9207's `iss`).
#[derive(Deserialize)]
pub(crate) struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// Finishes the code flow and starts the local session.
pub(crate) async fn callback(
    State(app): State<WebApp>,
    jar: CookieJar,
    Query(callback): Query<Callback>,
) -> Result<Response, WebError> {
    let state = callback.state.unwrap_or_default();
    let from_this_browser = jar
        .get(LOGIN_COOKIE)
        .is_some_and(|c| constant_time_eq(c.value().as_bytes(), state.as_bytes()));
    let pending = from_this_browser
        .then(|| app.inner.sessions.finish_login(&state))
        .flatten()
        .ok_or(WebError::BadRequest(
            "This sign-in was not started here, has expired or has finished already. Sign in again.",
        ))?;
    let jar = jar.remove(removal(LOGIN_COOKIE));
    let issuer = &app.inner.issuer.metadata().issuer;
    if callback.iss.as_ref().is_some_and(|iss| iss != issuer) {
        return Err(WebError::BadRequest(
            "The answer came from another identity server.",
        ));
    }
    if let Some(error) = callback.error {
        tracing::info!(error, "the identity server refused the sign-in");
        return Err(WebError::BadRequest(
            "The identity server did not sign you in.",
        ));
    }
    let code = callback
        .code
        .ok_or(WebError::BadRequest("The answer carries no code."))?;

    // A new key for every sign-in, so that a key known before signing in (session fixation)
    // never becomes a signed-in session.
    let key = random_token();
    let tokens = app
        .inner
        .tokens
        .exchange_code(
            &key,
            &code,
            &app.url(CALLBACK_PATH),
            Some(&pending.code_verifier),
        )
        .await
        .map_err(|e| WebError::identity_server("The sign-in could not be completed.", e))?;
    let checked = match &tokens.id_token {
        Some(id_token) => app.check_id_token(id_token.secret(), &pending.nonce).await,
        None => Err(anyhow::anyhow!("the token response has no ID token")),
    };
    let (mut claims, signed_in) = match checked {
        Ok(checked) => checked,
        Err(error) => {
            let _ = app.inner.tokens.sign_out(&key).await;
            return Err(WebError::identity_server(
                "The identity server's ID token is not valid.",
                error,
            ));
        }
    };
    // The ID token names the user; the profile (`name`) comes from the UserInfo endpoint.
    match app
        .userinfo(tokens.access_token.secret(), &signed_in.subject)
        .await
    {
        Ok(userinfo) => {
            for (name, value) in userinfo {
                claims.entry(name).or_insert(value);
            }
        }
        Err(error) => tracing::warn!(error = format!("{error:#}"), "no UserInfo claims"),
    }
    if let Some(previous) = jar.get(SESSION_COOKIE) {
        app.inner.sessions.remove(previous.value());
        let _ = app.inner.tokens.forget(previous.value()).await;
    }
    tracing::info!(sub = %signed_in.subject, sid = signed_in.sid.as_deref().unwrap_or("-"), "signed in");
    app.inner.sessions.insert(
        key.clone(),
        LocalSession {
            subject: signed_in.subject,
            sid: signed_in.sid,
            claims,
            csrf_token: random_token(),
            signed_in_at: OffsetDateTime::now_utc(),
            refreshes: 0,
            last_refresh: None,
            api_answer: None,
            notice: None,
        },
    );
    let jar = jar.add(cookie(SESSION_COOKIE, key, app.secure_cookies()));
    Ok((jar, Redirect::to("/")).into_response())
}

impl WebApp {
    /// Verifies an ID token's signature and claims; returns its claims and who signed in.
    async fn check_id_token(
        &self,
        id_token: &str,
        nonce: &str,
    ) -> anyhow::Result<(
        serde_json::Map<String, serde_json::Value>,
        super::tokens::SignedIn,
    )> {
        let (_, claims) = self.inner.issuer.verify(id_token).await?;
        let signed_in = check_id_token(
            &claims,
            &self.inner.issuer.metadata().issuer,
            &self.inner.settings.client_id,
            nonce,
            OffsetDateTime::now_utc().unix_timestamp(),
        )?;
        Ok((claims, signed_in))
    }

    /// The UserInfo claims for the signed-in user. Their `sub` must be the ID token's, or
    /// they may belong to someone else (OpenID Connect Core §5.3.2).
    async fn userinfo(
        &self,
        access_token: &str,
        subject: &str,
    ) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
        let endpoint = self
            .inner
            .issuer
            .metadata()
            .userinfo_endpoint
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("the server has no UserInfo endpoint"))?;
        let claims: serde_json::Map<String, serde_json::Value> = self
            .inner
            .http
            .get(endpoint)
            .bearer_auth(access_token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        anyhow::ensure!(
            claims.get("sub").and_then(|sub| sub.as_str()) == Some(subject),
            "the UserInfo claims are for another subject"
        );
        Ok(claims)
    }
}
