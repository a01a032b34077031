//! `GET|POST /account/login`: the password form. Failures re-render the form with one generic
//! message whatever the reason, and are throttled per username and per client address.

use crate::routes::AppState;
use crate::routes::authorize::authorize_params;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use axum_extra::extract::cookie::CookieJar;
use oxidp_core::services::LoginError;
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    return_url: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: Option<String>,
    password: Option<String>,
    return_url: Option<String>,
    csrf_token: Option<String>,
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
) -> Response {
    let return_url = query.ok().and_then(|q| q.0.return_url).unwrap_or_default();
    let login_hint = authorize_params(&return_url)
        .and_then(|p| p.get("login_hint").map(str::to_owned))
        .unwrap_or_default();
    render(&state, jar, return_url, login_hint, None, StatusCode::OK).await
}

pub async fn submit(
    State(state): State<AppState>,
    jar: CookieJar,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return state.error_page(StatusCode::BAD_REQUEST, "The form is malformed.");
    };
    let csrf = match state.csrf().await {
        Ok(csrf) => csrf,
        Err(response) => return response,
    };
    if !csrf.verify_jar(&jar, form.csrf_token.as_deref()) {
        return state.error_page(
            StatusCode::BAD_REQUEST,
            "The form has expired. Go back and try again.",
        );
    }
    let return_url = form.return_url.unwrap_or_default();
    let username = form.username.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        return render(
            &state,
            jar,
            return_url,
            username,
            Some(INVALID),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let (previous, jar) = match state.browser_session(jar).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let ip = connect_info.map(|Extension(ConnectInfo(address))| address.ip());
    match state
        .idp
        .login
        .login(
            &username,
            &password,
            ip,
            previous
                .as_ref()
                .map(|s| (s.cookie_value.as_str(), &s.ticket)),
        )
        .await
    {
        Ok((ticket, cookie_value)) => {
            let jar = jar.add(state.session_cookie(cookie_value, &ticket));
            if followable(&return_url) {
                (jar, Redirect::to(&return_url)).into_response()
            } else {
                (jar, crate::pages::Page::new(SIGNED_IN.to_owned())).into_response()
            }
        }
        Err(LoginError::InvalidCredentials) => {
            render(
                &state,
                jar,
                return_url,
                username,
                Some(INVALID),
                StatusCode::OK,
            )
            .await
        }
        Err(LoginError::Throttled) => {
            render(
                &state,
                jar,
                return_url,
                username,
                Some(THROTTLED),
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await
        }
        Err(error) => {
            tracing::error!(%error, "sign-in failed");
            state.error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable.",
            )
        }
    }
}

/// Whether to send the browser on to `return_url` after sign-in: an authorization request of
/// ours, or a local admin page. Nothing else is followed (another origin, `//host`, a scheme,
/// a backslash), so the sign-in page cannot serve as an open redirect.
fn followable(return_url: &str) -> bool {
    authorize_params(return_url).is_some() || admin_path(return_url)
}

/// A path under `/admin/`: visible ASCII only (no backslash, which browsers read as `/`), no
/// `//` anywhere and no `..` segment, so it cannot leave the origin or the admin area.
fn admin_path(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    url.starts_with("/admin/")
        && !url.contains("//")
        && url.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
        && !path.split('/').any(|segment| segment == "..")
}

async fn render(
    state: &AppState,
    jar: CookieJar,
    return_url: String,
    username: String,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf = match state.csrf().await {
        Ok(csrf) => csrf,
        Err(response) => return response,
    };
    let (csrf_token, cookie) = csrf.token_for(&jar);
    let jar = match cookie {
        Some(cookie) => jar.add(cookie),
        None => jar,
    };
    let client_name =
        match authorize_params(&return_url).and_then(|p| p.get("client_id").map(str::to_owned)) {
            Some(client_id) => state
                .idp
                .context
                .stores
                .clients
                .find_client(&client_id)
                .await
                .ok()
                .flatten()
                .map(|c| c.client_name.unwrap_or(c.client_id)),
            None => None,
        };
    // Browsers apply form-action to the redirects after the POST too, which end at the client.
    let redirect_uri = match authorize_params(&return_url) {
        Some(params) => state
            .idp
            .authorize
            .validate(&params)
            .await
            .ok()
            .map(|r| r.redirect_uri),
        None => None,
    };
    let view = crate::pages::LoginView {
        return_url,
        username,
        error: error.map(str::to_owned),
        csrf_token,
        client_name,
    };
    match state.pages.login(&view) {
        Ok(page) => {
            let page = match &redirect_uri {
                Some(uri) => page.allow_form_redirect_to(uri),
                None => page,
            };
            (jar, page.with_status(status)).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "login template failed");
            state.error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown.",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::followable;

    #[test]
    fn admin_pages_and_authorize_requests_are_followed() {
        assert!(followable("/admin/sessions"));
        assert!(followable("/admin/sessions?subject_id=a%2Fb&count=1"));
        assert!(followable("/connect/authorize?client_id=web"));
    }

    #[test]
    fn anything_else_is_not_followed() {
        for url in [
            "",
            "/",
            "/admin",
            "//evil.example/admin/",
            "https://evil.example/admin/x",
            "javascript:alert(1)",
            "/admin//evil.example",
            "/admin/\\evil.example",
            "/admin/../account/logout",
            "/admin/x?next=https://evil.example",
            "/admin/x y",
            "/admin/x\r\nSet-Cookie:a=b",
            "/account/login",
            "/connect/authorize",
        ] {
            assert!(!followable(url), "{url:?} must not be followed");
        }
    }
}
