//! Signing out from the web app: `POST /logout` revokes the session's tokens (RFC 7009, through
//! the token manager), ends the local session and sends the browser to the identity server's
//! end-session endpoint (RP-initiated logout), which ends the user session there and sends the
//! browser back to `GET /signed-out`.

use super::actions::ActionForm;
use super::error::WebError;
use super::pages::removal;
use super::{SESSION_COOKIE, SIGNED_OUT_PATH, WebApp};
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

/// Signs out here and at the identity server.
pub(crate) async fn logout(
    State(app): State<WebApp>,
    jar: CookieJar,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Result<Response, WebError> {
    let Some(key) = app.checked_session(&jar, form)? else {
        return Ok(Redirect::to("/").into_response());
    };
    let id_token = app
        .inner
        .tokens
        .tokens(&key)
        .await
        .ok()
        .flatten()
        .and_then(|tokens| tokens.id_token);
    app.inner.sessions.remove(&key);
    // Revoke before leaving: the refresh token must not outlive the sign-out even if the
    // browser never reaches the end-session endpoint.
    if let Err(error) = app.inner.tokens.sign_out(&key).await {
        tracing::warn!(%error, "token revocation on sign-out failed");
    }
    let jar = jar.remove(removal(SESSION_COOKIE));
    let Some(endpoint) = &app.inner.issuer.metadata().end_session_endpoint else {
        return Ok((jar, Redirect::to("/")).into_response());
    };
    let mut end_session = url::Url::parse(endpoint)
        .map_err(|e| WebError::identity_server("The identity server's address is unusable.", e))?;
    {
        let mut query = end_session.query_pairs_mut();
        if let Some(id_token) = &id_token {
            query.append_pair("id_token_hint", id_token.secret());
        }
        query
            .append_pair("client_id", &app.inner.settings.client_id)
            .append_pair("post_logout_redirect_uri", &app.url(SIGNED_OUT_PATH));
    }
    Ok((jar, Redirect::to(end_session.as_str())).into_response())
}

/// Where the identity server sends the browser back: the (signed-out) home page.
pub(crate) async fn signed_out() -> Redirect {
    Redirect::to("/")
}
