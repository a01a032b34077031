//! `/.well-known/openid-configuration` and its JWKS.

use super::AppState;
use crate::error::ProtocolError;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use oxidp_core::error::OAuthError;
use oxidp_core::services::discovery_document;

pub async fn configuration(State(state): State<AppState>) -> Result<Response, ProtocolError> {
    let resources = state
        .idp
        .context
        .stores
        .resources
        .list_api_resources()
        .await
        .map_err(OAuthError::from)?;
    let mut scopes: Vec<String> = resources
        .into_iter()
        .filter(|r| r.enabled)
        .flat_map(|r| r.scopes)
        .collect();
    scopes.sort();
    scopes.dedup();
    let document = discovery_document(&state.idp.context, scopes);
    Ok(cacheable(Json(document).into_response(), 3600))
}

pub async fn jwks(State(state): State<AppState>) -> Result<Response, ProtocolError> {
    let jwks = state.idp.context.keys.jwks().await.map_err(|error| {
        tracing::error!(%error, "cannot publish keys");
        OAuthError::server_error()
    })?;
    let mut response = Json(&*jwks).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    // Short enough that an announced key is fetched well within the announcement period.
    Ok(cacheable(response, 300))
}

fn cacheable(mut response: Response, seconds: u32) -> Response {
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={seconds}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}
