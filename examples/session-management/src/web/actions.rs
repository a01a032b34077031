//! The signed-in user's actions, each a CSRF-protected `POST` that redirects back home
//! (post-redirect-get):
//!
//! - `POST /call-api` asks the token manager for an access token, which it refreshes first when
//!   the token is within a minute (at most half its lifetime) of expiring, and calls the API.
//! - `POST /refresh` renews the tokens now.
//!
//! The `web` client is coordinated with the user session, so every refresh slides the session
//! on the identity server (its `renewed` and `expires` move forward), and once the session is
//! gone the refresh token is refused: the app then ends its local session too.

use super::WebApp;
use super::error::WebError;
use super::local_sessions::ApiAnswer;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, http::header};
use axum_extra::extract::cookie::CookieJar;
use oxidp_client::{Error as ClientError, Token};
use oxidp_jose::constant_time_eq;
use serde::Deserialize;
use time::OffsetDateTime;

/// The body of every action form (sign-out included).
#[derive(Deserialize)]
pub(crate) struct ActionForm {
    #[serde(default)]
    csrf_token: String,
}

/// Calls the API with the session's access token, refreshed if due.
pub(crate) async fn call_api(
    State(app): State<WebApp>,
    jar: CookieJar,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Result<Response, WebError> {
    let Some(key) = app.checked_session(&jar, form)? else {
        return Ok(Redirect::to("/").into_response());
    };
    if let Some(token) = app.access_token(&key).await {
        let answer = app.call_api_with(&token).await;
        app.inner
            .sessions
            .update(&key, |session| session.api_answer = Some(answer));
    }
    Ok(Redirect::to("/").into_response())
}

/// Renews the session's tokens now.
pub(crate) async fn refresh(
    State(app): State<WebApp>,
    jar: CookieJar,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Result<Response, WebError> {
    let Some(key) = app.checked_session(&jar, form)? else {
        return Ok(Redirect::to("/").into_response());
    };
    // The token manager refreshes only when the access token is due (it has no "refresh
    // now"), so make it due: the same stored set, with an access token that expires now.
    let manager = &app.inner.tokens;
    if let Ok(Some(mut tokens)) = manager.tokens(&key).await {
        tokens.expires_at = OffsetDateTime::now_utc();
        if let Err(error) = manager.store_tokens(&key, tokens).await {
            tracing::warn!(%error, "cannot mark the tokens for renewal");
        }
    }
    app.access_token(&key).await;
    Ok(Redirect::to("/").into_response())
}

impl WebApp {
    /// The key of the signed-in session whose CSRF token the form carries; `None` when the
    /// browser is not signed in (any more).
    pub(crate) fn checked_session(
        &self,
        jar: &CookieJar,
        form: Result<Form<ActionForm>, FormRejection>,
    ) -> Result<Option<String>, WebError> {
        let Ok(Form(form)) = form else {
            return Err(WebError::BadRequest("The form is malformed."));
        };
        let Some((key, session)) = self.current(jar) else {
            return Ok(None);
        };
        if !constant_time_eq(session.csrf_token.as_bytes(), form.csrf_token.as_bytes()) {
            return Err(WebError::BadRequest(
                "The form has expired. Go back, reload the page and try again.",
            ));
        }
        Ok(Some(key))
    }

    /// A valid access token for the session, refreshed if due, with the refresh recorded. If
    /// the identity server refuses to refresh, the user session is over: the local session
    /// ends. Other failures leave a notice for the home page.
    async fn access_token(&self, key: &str) -> Option<Token> {
        let manager = &self.inner.tokens;
        let before = manager.tokens(key).await.ok().flatten();
        match manager.access_token(key).await {
            Ok(token) => {
                let refreshed =
                    before.is_some_and(|before| before.access_token != token.access_token);
                if refreshed {
                    self.inner.sessions.update(key, |session| {
                        session.refreshes += 1;
                        session.last_refresh = Some(OffsetDateTime::now_utc());
                    });
                }
                Some(token)
            }
            Err(ClientError::ReauthenticationRequired { reason }) => {
                tracing::info!(reason = ?reason, "the tokens cannot be renewed; signing out");
                self.inner.sessions.end(
                    key,
                    "the identity server no longer renews your tokens (your session there has ended)",
                );
                None
            }
            Err(error) => {
                tracing::warn!(%error, "cannot get an access token");
                self.inner.sessions.update(key, |session| {
                    session.notice =
                        Some("The identity server did not answer; try again in a moment.".into());
                });
                None
            }
        }
    }

    /// Calls the API; what it answered, or why it could not be reached.
    async fn call_api_with(&self, token: &Token) -> ApiAnswer {
        let at = OffsetDateTime::now_utc();
        let request = match token.authorization_header() {
            Ok(authorization) => self
                .inner
                .http
                .get(self.inner.settings.api_url.clone())
                .header(header::AUTHORIZATION, authorization),
            Err(_) => return unreachable_api(at, "the access token does not fit a header"),
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(%error, "the API did not answer");
                return unreachable_api(at, "the API did not answer");
            }
        };
        let status = response.status().as_u16();
        // A refused token is explained in the RFC 6750 challenge, not in the body.
        let challenge = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|value| value.to_str().ok())
            .map(|value| format!("WWW-Authenticate: {value}"));
        let body = response.text().await.unwrap_or_default();
        let body = match challenge {
            Some(challenge) if body.is_empty() => challenge,
            _ => body,
        };
        let body = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|json| serde_json::to_string_pretty(&json).ok())
            .unwrap_or(body);
        ApiAnswer { at, status, body }
    }
}

fn unreachable_api(at: OffsetDateTime, why: &str) -> ApiAnswer {
    ApiAnswer {
        at,
        status: 0,
        body: why.to_owned(),
    }
}
