//! `GET|POST /account/consent`: the user approves (or denies) what a client asked for. The
//! core decides what the page shows and what the answer does.

use crate::browser::{Browser, CsrfForm};
use crate::error::PageError;
use crate::pages::{ConsentView, ScopeView};
use crate::routes::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use oxidp_core::services::{ConsentDecision, ConsentPageOutcome, ScopeDescription};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct ConsentQuery {
    return_url: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Browser { session, jar }: Browser,
    query: Result<Query<ConsentQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let return_url = query.ok().and_then(|q| q.0.return_url).unwrap_or_default();
    let page = match state
        .idp
        .interaction
        .consent_page(return_url, session.as_ref())
        .await
    {
        ConsentPageOutcome::Show(page) => page,
        ConsentPageOutcome::Elsewhere(outcome) => return Ok(state.authorize_outcome(outcome, jar)),
    };
    let (csrf_token, jar) = state.csrf_token(jar).await?;
    let scopes = |list: Vec<ScopeDescription>| list.into_iter().map(scope_view).collect();
    let view = ConsentView {
        return_url: page.return_url,
        client_name: page.client_name,
        client_id: page.client_id,
        identity_scopes: scopes(page.identity_scopes),
        api_scopes: scopes(page.api_scopes),
        allow_remember: page.allow_remember,
        csrf_token,
    };
    let rendered = state
        .pages
        .consent(&view)?
        .allow_form_redirect_to(&page.redirect_uri);
    Ok((jar, rendered).into_response())
}

/// The form: `scopes` repeats, so it is read as pairs.
pub async fn submit(
    State(state): State<AppState>,
    Browser { session, jar }: Browser,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let decision = ConsentDecision {
        approved: field("button") == Some("yes"),
        scopes: pairs
            .iter()
            .filter(|(k, _)| k == "scopes")
            .map(|(_, v)| v.clone())
            .collect(),
        remember: field("remember").is_some(),
    };
    let return_url = field("return_url").unwrap_or_default();
    let outcome = state
        .idp
        .interaction
        .consent_decision(return_url, session, decision)
        .await;
    state.authorize_outcome(outcome, jar)
}

fn scope_view(scope: ScopeDescription) -> ScopeView {
    ScopeView {
        name: scope.name,
        display_name: scope.display_name,
        description: scope.description,
        required: scope.required,
    }
}
