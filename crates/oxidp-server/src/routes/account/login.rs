//! `GET|POST /account/login`: the password form. Failures re-render the form with one generic
//! message whatever the reason; the core throttles attempts and decides where to go next.

use crate::browser::{Browser, CsrfForm};
use crate::error::PageError;
use crate::pages::{LoginView, Page};
use crate::request::Peer;
use crate::routes::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use oxidp_core::services::LoginOutcome;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    return_url: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: Option<String>,
    password: Option<String>,
    return_url: Option<String>,
}

const INVALID: &str = "Invalid username or password.";
const THROTTLED: &str = "Too many failed attempts. Please wait a few minutes and try again.";

/// Shown after a sign-in that was not part of an authorization request.
const SIGNED_IN: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed in</title></head>\
<body><main><h1>You are signed in</h1><p>You can close this window.</p></main></body></html>";

pub async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let return_url = query.ok().and_then(|q| q.0.return_url).unwrap_or_default();
    let page = state.idp.interaction.login_page(return_url).await;
    let username = page.login_hint.clone();
    render(&state, jar, page, username, None, StatusCode::OK).await
}

pub async fn submit(
    State(state): State<AppState>,
    Browser { session, jar }: Browser,
    Peer(peer): Peer,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<Response, PageError> {
    let return_url = form.return_url.unwrap_or_default();
    let username = form.username.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    let address = peer.remote_addr.map(|a| a.ip());
    let interaction = &state.idp.interaction;
    let (message, status) = match interaction
        .login(
            (&username, &password),
            address,
            session.as_ref(),
            &return_url,
        )
        .await?
    {
        LoginOutcome::SignedIn {
            cookie_value,
            ticket,
            next,
        } => {
            let jar = jar.add(state.session_cookie(cookie_value, &ticket));
            return Ok(match next {
                Some(next) => (jar, Redirect::to(&next)).into_response(),
                None => (jar, Page::new(SIGNED_IN.to_owned())).into_response(),
            });
        }
        LoginOutcome::Invalid if username.is_empty() || password.is_empty() => {
            (INVALID, StatusCode::BAD_REQUEST)
        }
        LoginOutcome::Invalid => (INVALID, StatusCode::OK),
        LoginOutcome::Throttled => (THROTTLED, StatusCode::TOO_MANY_REQUESTS),
    };
    let page = interaction.login_page(return_url).await;
    render(&state, jar, page, username, Some(message), status).await
}

async fn render(
    state: &AppState,
    jar: CookieJar,
    page: oxidp_core::services::LoginPage,
    username: String,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (csrf_token, jar) = state.csrf_token(jar).await?;
    let view = LoginView {
        return_url: page.return_url,
        username,
        error: error.map(str::to_owned),
        csrf_token,
        client_name: page.client_name,
    };
    let mut rendered = state.pages.login(&view)?.with_status(status);
    // Browsers apply form-action to the redirects after the POST too, which end at the client.
    if let Some(uri) = &page.form_redirect {
        rendered = rendered.allow_form_redirect_to(uri);
    }
    Ok((jar, rendered).into_response())
}
