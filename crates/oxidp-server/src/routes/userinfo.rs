//! `GET|POST /connect/userinfo` (OIDC Core §5.3) with Bearer tokens (RFC 6750) in the
//! `Authorization` header or as the `access_token` form field of a POST, or DPoP-bound tokens
//! with their proof (RFC 9449 §7). The core decides every refusal and its `WWW-Authenticate`
//! challenge, and the fresh `DPoP-Nonce` of a success.

use super::AppState;
use crate::error::{ProtocolError, with_dpop_nonce};
use crate::request::ResourceRequest;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub async fn userinfo(
    State(state): State<AppState>,
    ResourceRequest(request): ResourceRequest,
) -> Result<Response, ProtocolError> {
    let answer = state.idp.userinfo.endpoint(&request).await?;
    let mut response = Json(answer.claims).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(with_dpop_nonce(response, answer.dpop_nonce))
}
