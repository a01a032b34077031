//! `POST /backchannel-logout`: OpenID Connect Back-Channel Logout 1.0. The identity server
//! POSTs a signed logout token here when a user session that this app took part in ends
//! (sign-out elsewhere, an administrator's revocation, expiry). The app verifies it (signature
//! against the server's keys, then the claims, see `tokens`) and ends every local session of
//! that `sid` (or of that `sub`, when the token names no `sid`): the browser is signed out at
//! its next request, without the user doing anything here.
//!
//! Answers: `200` when the token is valid (even if no local session matched: the session may
//! have ended here already), `400` with `{"error": "invalid_request"}` when it is not, `503`
//! when the server's keys cannot be fetched, so that the server retries later.

use super::WebApp;
use super::issuer::SignatureError;
use super::tokens::check_logout_token;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;
use std::fmt::Display;
use time::OffsetDateTime;

/// The notification's body.
#[derive(Deserialize)]
pub(crate) struct Notification {
    logout_token: Option<String>,
}

/// Receives one logout token.
pub(crate) async fn receive(
    State(app): State<WebApp>,
    form: Result<Form<Notification>, FormRejection>,
) -> Response {
    let Some(token) = form.ok().and_then(|Form(body)| body.logout_token) else {
        return refuse("no logout_token");
    };
    let (header, claims) = match app.inner.issuer.verify(&token).await {
        Ok(verified) => verified,
        Err(error @ SignatureError::KeysUnavailable) => {
            tracing::warn!(%error, "logout token not checked; the server will retry");
            return no_store(StatusCode::SERVICE_UNAVAILABLE.into_response());
        }
        Err(error) => return refuse(error),
    };
    let logout = match check_logout_token(
        &header,
        &claims,
        &app.inner.issuer.metadata().issuer,
        &app.inner.settings.client_id,
        OffsetDateTime::now_utc().unix_timestamp(),
    ) {
        Ok(logout) => logout,
        Err(error) => return refuse(error),
    };
    let ended = app.inner.sessions.end_matching(
        logout.subject.as_deref(),
        logout.sid.as_deref(),
        logout.reason.as_deref(),
    );
    // Forgetting is enough: the server has revoked the session's refresh tokens, and refuses
    // them anyway now that the session they are coordinated with is gone.
    for key in &ended {
        if let Err(error) = app.inner.tokens.forget(key).await {
            tracing::warn!(%error, "cannot forget the tokens of an ended session");
        }
    }
    tracing::info!(
        sid = logout.sid.as_deref().unwrap_or("-"),
        sub = logout.subject.as_deref().unwrap_or("-"),
        reason = logout.reason.as_deref().unwrap_or("-"),
        sessions_ended = ended.len(),
        "back-channel logout"
    );
    no_store(StatusCode::OK.into_response())
}

fn refuse(reason: impl Display) -> Response {
    tracing::warn!(%reason, "logout token refused");
    let body = Json(serde_json::json!({
        "error": "invalid_request",
        "error_description": "the logout token is not valid",
    }));
    no_store((StatusCode::BAD_REQUEST, body).into_response())
}

/// Logout responses must not be cached (Back-Channel Logout §2.8).
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
