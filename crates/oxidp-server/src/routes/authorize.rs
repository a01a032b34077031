//! `GET|POST /connect/authorize`: the core validates and decides (login, consent, or the
//! code); this handler renders the outcome.

use super::AppState;
use crate::browser::Browser;
use crate::request::PageParams;
use axum::extract::State;
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use oxidp_core::options::paths;

pub async fn authorize(
    State(state): State<AppState>,
    browser: Browser,
    PageParams { method, params }: PageParams,
) -> Response {
    // The session cookie is SameSite=Lax: a cross-site POST arrives without it. Answer a POST
    // with the same request as a GET, which the browser then sends with the cookie.
    if method == Method::POST {
        let location = format!("{}?{}", paths::AUTHORIZE, params.to_query());
        return (browser.jar, Redirect::to(&location)).into_response();
    }
    let outcome = state
        .idp
        .interaction
        .authorize(&params, browser.session)
        .await;
    state.authorize_outcome(outcome, browser.jar)
}
