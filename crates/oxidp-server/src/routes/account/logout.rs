//! `GET|POST /connect/endsession` (RP-initiated logout) and `POST /account/logout` (the
//! confirmation). The core decides whether to ask, and ends the session; then the browser goes
//! back to the client's registered post-logout redirect URI, or sees the logged-out page.

use crate::browser::{Browser, CsrfForm};
use crate::error::PageError;
use crate::pages::{LoggedOutView, LogoutView};
use crate::request::PageParams;
use crate::routes::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use oxidp_core::services::{LoggedOut, LogoutOutcome};
use serde::Deserialize;

pub async fn end_session(
    State(state): State<AppState>,
    Browser { session, jar }: Browser,
    PageParams { params, .. }: PageParams,
) -> Result<Response, PageError> {
    match state
        .idp
        .interaction
        .end_session(&params, session.as_ref())
        .await?
    {
        LogoutOutcome::LoggedOut(done) => logged_out(&state, jar, done),
        LogoutOutcome::Confirm { logout_id } => {
            let (csrf_token, jar) = state.csrf_token(jar).await?;
            let page = state.pages.logout(&LogoutView {
                logout_id,
                csrf_token,
            })?;
            Ok((jar, page).into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    logout_id: Option<String>,
}

pub async fn confirm(
    State(state): State<AppState>,
    Browser { session, jar }: Browser,
    CsrfForm(form): CsrfForm<LogoutForm>,
) -> Result<Response, PageError> {
    let logout_id = form.logout_id.as_deref().filter(|id| !id.is_empty());
    let done = state
        .idp
        .interaction
        .confirm_logout(logout_id, session.as_ref())
        .await?;
    logged_out(&state, jar, done)
}

/// Back to the client at its registered post-logout redirect URI (with `state`) when the
/// request named one; the logged-out page otherwise.
fn logged_out(state: &AppState, jar: CookieJar, done: LoggedOut) -> Result<Response, PageError> {
    let jar = if done.signed_out {
        jar.add(state.removal_cookie())
    } else {
        jar
    };
    if let Some(url) = &done.post_logout_redirect_uri {
        return Ok((jar, Redirect::to(url)).into_response());
    }
    let page = state.pages.logged_out(&LoggedOutView {
        post_logout_redirect_uri: done.post_logout_redirect_uri,
        client_name: done.client_name,
    })?;
    Ok((jar, page).into_response())
}
