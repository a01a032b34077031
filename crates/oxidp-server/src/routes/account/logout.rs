//! `GET|POST /connect/endsession` (RP-initiated logout) and `POST /account/logout` (the
//! confirmation). Signing out deletes the authentication cookie and ends the session; the
//! logged-out page links back to the client's registered post-logout redirect URI.

use crate::pages::{LoggedOutView, LogoutView};
use crate::routes::AppState;
use axum::Form;
use axum::extract::rejection::{FormRejection, RawFormRejection};
use axum::extract::{RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use oxidp_core::model::AuthenticationTicket;
use oxidp_core::params::Parameters;
use oxidp_core::services::EndSessionRequest;
use serde::Deserialize;

pub async fn end_session(
    State(state): State<AppState>,
    jar: CookieJar,
    form: Result<RawForm, RawFormRejection>,
) -> Response {
    let Ok(RawForm(bytes)) = form else {
        return state.error_page(StatusCode::BAD_REQUEST, "The logout request is malformed.");
    };
    let Ok(params) = Parameters::from_form(&bytes) else {
        return state.error_page(
            StatusCode::BAD_REQUEST,
            "The logout request repeats a parameter.",
        );
    };
    let request = match state.idp.end_session.validate(&params).await {
        Ok(request) => request,
        Err(error) => {
            let message = error
                .description
                .as_deref()
                .unwrap_or("The logout request is invalid.");
            return state.error_page(StatusCode::BAD_REQUEST, message);
        }
    };
    let (session, jar) = match state.browser_session(jar).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Some(session) = session else {
        return logged_out(&state, jar, &request);
    };
    // An ID token of this very session (and a logout_hint naming the same user, if any) shows
    // the RP is the user's own: no prompt. Anything else asks first.
    let username = match state
        .idp
        .context
        .stores
        .users
        .find_user_by_subject(&session.ticket.subject_id)
        .await
    {
        Ok(user) => user.map(|u| u.username),
        Err(_) => None,
    };
    if request.names_session(
        &session.ticket.subject_id,
        &session.ticket.session_id,
        username.as_deref(),
    ) {
        return sign_out(
            &state,
            jar,
            &session.cookie_value,
            &session.ticket,
            &request,
        )
        .await;
    }
    let logout_id = match state.idp.end_session.protect(&request).await {
        Ok(id) => id,
        Err(_) => {
            return state.error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable.",
            );
        }
    };
    let csrf = match state.csrf().await {
        Ok(csrf) => csrf,
        Err(response) => return response,
    };
    let (csrf_token, cookie) = csrf.token_for(&jar);
    let jar = match cookie {
        Some(cookie) => jar.add(cookie),
        None => jar,
    };
    match state.pages.logout(&LogoutView {
        logout_id,
        csrf_token,
    }) {
        Ok(page) => (jar, page).into_response(),
        Err(error) => {
            tracing::error!(%error, "logout template failed");
            state.error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown.",
            )
        }
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    logout_id: Option<String>,
    csrf_token: Option<String>,
}

pub async fn confirm(
    State(state): State<AppState>,
    jar: CookieJar,
    form: Result<Form<LogoutForm>, FormRejection>,
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
    let request = match form.logout_id {
        Some(id) => match state.idp.end_session.unprotect(&id).await {
            Some(request) => request,
            None => {
                return state.error_page(StatusCode::BAD_REQUEST, "The logout request is invalid.");
            }
        },
        None => EndSessionRequest::default(),
    };
    let (session, jar) = match state.browser_session(jar).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match session {
        Some(session) => {
            sign_out(
                &state,
                jar,
                &session.cookie_value,
                &session.ticket,
                &request,
            )
            .await
        }
        None => logged_out(&state, jar, &request),
    }
}

async fn sign_out(
    state: &AppState,
    jar: CookieJar,
    cookie_value: &str,
    ticket: &AuthenticationTicket,
    request: &EndSessionRequest,
) -> Response {
    if let Err(error) = state
        .idp
        .session_management
        .end_browser_session(cookie_value, ticket)
        .await
    {
        tracing::error!(%error, "cannot end the session");
        return state.error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is temporarily unavailable.",
        );
    }
    logged_out(state, jar.add(state.removal_cookie()), request)
}

fn logged_out(state: &AppState, jar: CookieJar, request: &EndSessionRequest) -> Response {
    let view = LoggedOutView {
        post_logout_redirect_uri: request.redirect_url(),
        client_name: request.client_name.clone(),
    };
    match state.pages.logged_out(&view) {
        Ok(page) => (jar, page).into_response(),
        Err(error) => {
            tracing::error!(%error, "logged-out template failed");
            state.error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown.",
            )
        }
    }
}
