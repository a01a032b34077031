//! `GET|POST /connect/authorize`: validate, then send the browser to login or consent, or issue
//! the code. Errors the client cannot be trusted with render the error page.

use super::AppState;
use crate::browser::BrowserSession;
use axum::extract::rejection::RawFormRejection;
use axum::extract::{RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use oxidp_core::options::paths;
use oxidp_core::params::Parameters;
use oxidp_core::services::{AuthorizeError, AuthorizeRequest, Interaction};

pub async fn authorize(
    State(state): State<AppState>,
    method: axum::http::Method,
    jar: CookieJar,
    form: Result<RawForm, RawFormRejection>,
) -> Response {
    let Ok(RawForm(bytes)) = form else {
        return state.error_page(
            StatusCode::BAD_REQUEST,
            "The authorization request is malformed.",
        );
    };
    let Ok(params) = Parameters::from_form(&bytes) else {
        return state.error_page(
            StatusCode::BAD_REQUEST,
            "The authorization request repeats a parameter.",
        );
    };
    // The session cookie is SameSite=Lax: a cross-site POST arrives without it. Answer a POST
    // with the same request as a GET, which the browser then sends with the cookie.
    if method == axum::http::Method::POST {
        return (
            jar,
            Redirect::to(&format!("{}?{}", paths::AUTHORIZE, params.to_query())),
        )
            .into_response();
    }
    let request = match validate(&state, &params, jar.clone()).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let (session, jar) = match state.browser_session(jar).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state
        .idp
        .authorize
        .interaction(&request, session.as_ref().map(|s| &s.ticket))
        .await
    {
        Err(error) => render_error(&state, error, jar),
        Ok(Interaction::Login) => {
            let resumed = oxidp_core::services::resume_after_login(&params);
            (jar, Redirect::to(&interaction_url(paths::LOGIN, &resumed))).into_response()
        }
        Ok(Interaction::Consent) => {
            (jar, Redirect::to(&interaction_url(paths::CONSENT, &params))).into_response()
        }
        Ok(Interaction::None) => match session {
            Some(session) => {
                let scopes = request.scopes.scopes.clone();
                complete(&state, jar, &request, session, scopes).await
            }
            None => state.error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The request could not be completed.",
            ),
        },
    }
}

/// Validates an authorization request, rendering its error as the client is trusted.
pub(crate) async fn validate(
    state: &AppState,
    params: &Parameters,
    jar: CookieJar,
) -> Result<AuthorizeRequest, Response> {
    state
        .idp
        .authorize
        .validate(params)
        .await
        .map_err(|error| render_error(state, error, jar))
}

fn render_error(state: &AppState, error: AuthorizeError, jar: CookieJar) -> Response {
    match error {
        AuthorizeError::Page(error) => {
            let message = error
                .description
                .as_deref()
                .unwrap_or("The authorization request is invalid.");
            state.error_page(StatusCode::BAD_REQUEST, message)
        }
        AuthorizeError::Redirect(response) => state.authorize_response(&response, jar),
    }
}

/// Issues the code for `scopes`, records the client in the session and answers the client.
pub(crate) async fn complete(
    state: &AppState,
    jar: CookieJar,
    request: &AuthorizeRequest,
    mut session: BrowserSession,
    scopes: Vec<String>,
) -> Response {
    let response = match state
        .idp
        .authorize
        .issue_code(request, &session.ticket, scopes)
        .await
    {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, "cannot issue an authorization code");
            return state.error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The request could not be completed.",
            );
        }
    };
    let client_id = &request.client.client_id;
    let jar = match state
        .idp
        .sessions
        .add_client(&session.cookie_value, &mut session.ticket, client_id)
        .await
    {
        Ok(Some(value)) => jar.add(state.session_cookie(value, &session.ticket)),
        Ok(None) => jar,
        Err(oxidp_core::services::SessionError::Ended) => {
            let jar = jar.add(state.removal_cookie());
            let page = state.error_page(
                StatusCode::BAD_REQUEST,
                "Your session has ended. Start again from the application.",
            );
            return (jar, page).into_response();
        }
        Err(error) => {
            tracing::error!(%error, "cannot update the session");
            return state.error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable.",
            );
        }
    };
    state.authorize_response(&response, jar)
}

/// `/account/...?return_url=/connect/authorize?...`
fn interaction_url(page: &str, params: &Parameters) -> String {
    let return_url = format!("{}?{}", paths::AUTHORIZE, params.to_query());
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    serializer.append_pair("return_url", &return_url);
    format!("{page}?{}", serializer.finish())
}

/// The authorization parameters inside a return URL; `None` unless it is a local URL of the
/// authorization endpoint (anything else would make the login page an open redirector).
pub(crate) fn authorize_params(return_url: &str) -> Option<Parameters> {
    let query = return_url
        .strip_prefix(paths::AUTHORIZE)?
        .strip_prefix('?')?;
    Parameters::from_form(query.as_bytes()).ok()
}
