//! `POST /connect/token`.

use super::AppState;
use crate::error::{ProtocolError, no_store_json, with_dpop_nonce};
use crate::request::FormRequest;
use axum::extract::State;
use axum::response::Response;

pub async fn token(
    State(state): State<AppState>,
    FormRequest(request): FormRequest,
) -> Result<Response, ProtocolError> {
    let response = state.idp.tokens.endpoint(&request).await?;
    let grant_type = match request.params.get("grant_type") {
        Some("client_credentials") => "client_credentials",
        Some("authorization_code") => "authorization_code",
        Some("refresh_token") => "refresh_token",
        _ => "other",
    };
    metrics::counter!("oxidp_tokens_issued_total", "grant_type" => grant_type).increment(1);
    let nonce = response.dpop_nonce.clone();
    Ok(with_dpop_nonce(no_store_json(&response), nonce))
}
