//! `GET|POST /account/consent`: the user approves (or denies) what a client asked for. An
//! approval issues the code directly; "remember my decision" stores a consent grant per user
//! and client.

use crate::pages::{ConsentView, ScopeView};
use crate::routes::AppState;
use crate::routes::authorize::{authorize_params, complete, validate};
use axum::extract::rejection::{QueryRejection, RawFormRejection};
use axum::extract::{Query, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use oxidp_core::options::paths;
use oxidp_core::services::AuthorizeRequest;
use oxidp_core::services::identity::{self, OPENID};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct ConsentQuery {
    return_url: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    query: Result<Query<ConsentQuery>, QueryRejection>,
) -> Response {
    let return_url = query.ok().and_then(|q| q.0.return_url).unwrap_or_default();
    let Some(params) = authorize_params(&return_url) else {
        return state.error_page(StatusCode::BAD_REQUEST, "The consent request is invalid.");
    };
    let request = match validate(&state, &params, jar.clone()).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let (session, jar) = match state.browser_session(jar).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if session.is_none() {
        return (
            jar,
            Redirect::to(&format!("{}?{}", paths::LOGIN, return_query(&return_url))),
        )
            .into_response();
    }
    let csrf = match state.csrf().await {
        Ok(csrf) => csrf,
        Err(response) => return response,
    };
    let (csrf_token, cookie) = csrf.token_for(&jar);
    let jar = match cookie {
        Some(cookie) => jar.add(cookie),
        None => jar,
    };
    let view = consent_view(&state, &request, return_url, csrf_token).await;
    match state.pages.consent(&view) {
        Ok(page) => (jar, page.allow_form_redirect_to(&request.redirect_uri)).into_response(),
        Err(error) => {
            tracing::error!(%error, "consent template failed");
            state.error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown.",
            )
        }
    }
}

pub async fn submit(
    State(state): State<AppState>,
    jar: CookieJar,
    form: Result<RawForm, RawFormRejection>,
) -> Response {
    let Ok(RawForm(body)) = form else {
        return state.error_page(StatusCode::BAD_REQUEST, "The form is malformed.");
    };
    // `scopes` repeats, so the form is read as pairs rather than through the one-value parser.
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let csrf = match state.csrf().await {
        Ok(csrf) => csrf,
        Err(response) => return response,
    };
    if !csrf.verify_jar(&jar, field("csrf_token")) {
        return state.error_page(
            StatusCode::BAD_REQUEST,
            "The form has expired. Go back and try again.",
        );
    }
    let Some(params) = field("return_url").and_then(authorize_params) else {
        return state.error_page(StatusCode::BAD_REQUEST, "The consent request is invalid.");
    };
    let request = match validate(&state, &params, jar.clone()).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let (session, jar) = match state.browser_session(jar).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Some(session) = session else {
        return state.error_page(
            StatusCode::BAD_REQUEST,
            "Your session has ended. Start again from the application.",
        );
    };
    if field("button") != Some("yes") {
        let denied =
            state
                .idp
                .authorize
                .error(&request, "access_denied", "the user denied the request");
        return state.authorize_response(&denied, jar);
    }
    let chosen: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "scopes")
        .map(|(_, v)| v.as_str())
        .collect();
    let granted = request.consented_scopes(&chosen);
    if granted.is_empty() {
        let denied = state
            .idp
            .authorize
            .error(&request, "access_denied", "no scope was approved");
        return state.authorize_response(&denied, jar);
    }
    if field("remember").is_some() && request.client.allow_remember_consent {
        let subject = &session.ticket.subject_id;
        if let Err(error) = state
            .idp
            .consent
            .remember(subject, &request.client.client_id, &granted)
            .await
        {
            tracing::error!(%error, "cannot store consent");
        }
    }
    complete(&state, jar, &request, session, granted).await
}

async fn consent_view(
    state: &AppState,
    request: &AuthorizeRequest,
    return_url: String,
    csrf_token: String,
) -> ConsentView {
    let resources = state
        .idp
        .context
        .stores
        .resources
        .list_api_resources()
        .await
        .unwrap_or_default();
    let mut identity_scopes = Vec::new();
    let mut api_scopes = Vec::new();
    for scope in &request.scopes.scopes {
        let (display_name, description) = identity::describe(scope);
        if identity::is_identity_scope(scope) || scope == identity::OFFLINE_ACCESS {
            identity_scopes.push(ScopeView {
                name: scope.clone(),
                display_name: display_name.to_owned(),
                description: Some(description.to_owned()).filter(|d| !d.is_empty()),
                required: scope == OPENID,
            });
        } else {
            let owner = resources.iter().find(|r| r.scopes.contains(scope));
            api_scopes.push(ScopeView {
                name: scope.clone(),
                display_name: scope.clone(),
                description: owner.map(|r| {
                    format!(
                        "Access to {}",
                        r.display_name.clone().unwrap_or_else(|| r.name.clone())
                    )
                }),
                required: false,
            });
        }
    }
    ConsentView {
        return_url,
        client_name: request
            .client
            .client_name
            .clone()
            .unwrap_or_else(|| request.client.client_id.clone()),
        client_id: request.client.client_id.clone(),
        identity_scopes,
        api_scopes,
        allow_remember: request.client.allow_remember_consent,
        csrf_token,
    }
}

fn return_query(return_url: &str) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    serializer.append_pair("return_url", return_url);
    serializer.finish()
}
