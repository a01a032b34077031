//! `POST /connect/revocation` (RFC 7009).

use super::AppState;
use crate::error::ProtocolError;
use crate::form::ProtocolForm;
use axum::extract::State;
use axum::http::StatusCode;
use oxidp_core::options::paths;

pub async fn revoke(
    State(state): State<AppState>,
    form: ProtocolForm,
) -> Result<StatusCode, ProtocolError> {
    let credentials = form.credentials()?;
    let client = state
        .idp
        .client_auth
        .authenticate_client(&credentials, paths::REVOCATION)
        .await
        .map_err(|e| ProtocolError::from(e).with_basic_challenge(credentials.used_basic()))?;
    state.idp.revocation.revoke(&client, &form.params).await?;
    Ok(StatusCode::OK)
}
