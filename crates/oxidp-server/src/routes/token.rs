//! `POST /connect/token`.

use super::AppState;
use crate::error::{ProtocolError, no_store_json};
use crate::form::ProtocolForm;
use axum::extract::State;
use axum::response::Response;
use oxidp_core::options::paths;

pub async fn token(
    State(state): State<AppState>,
    form: ProtocolForm,
) -> Result<Response, ProtocolError> {
    let credentials = form.credentials()?;
    let client = state
        .idp
        .client_auth
        .authenticate_client(&credentials, paths::TOKEN)
        .await
        .map_err(|e| ProtocolError::from(e).with_basic_challenge(credentials.used_basic()))?;
    let response = state.idp.tokens.handle(&client, &form.params).await?;
    let grant_type = match form.params.get("grant_type") {
        Some("client_credentials") => "client_credentials",
        Some("authorization_code") => "authorization_code",
        Some("refresh_token") => "refresh_token",
        _ => "other",
    };
    metrics::counter!("oxidp_tokens_issued_total", "grant_type" => grant_type).increment(1);
    Ok(no_store_json(&response))
}
