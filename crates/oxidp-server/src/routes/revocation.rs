//! `POST /connect/revocation` (RFC 7009).

use super::AppState;
use crate::error::ProtocolError;
use crate::request::FormRequest;
use axum::extract::State;
use axum::http::StatusCode;

pub async fn revoke(
    State(state): State<AppState>,
    FormRequest(request): FormRequest,
) -> Result<StatusCode, ProtocolError> {
    state.idp.revocation.endpoint(&request).await?;
    Ok(StatusCode::OK)
}
