//! `/.well-known/openid-configuration` and its JWKS.

use super::AppState;
use crate::error::ProtocolError;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub async fn configuration(State(state): State<AppState>) -> Result<Response, ProtocolError> {
    let document = state.idp.discovery.document().await?;
    Ok(cacheable(Json(document).into_response(), 3600))
}

pub async fn jwks(State(state): State<AppState>) -> Result<Response, ProtocolError> {
    let jwks = state.idp.discovery.jwks().await?;
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
