//! `POST /connect/introspect` (RFC 7662).

use super::AppState;
use crate::error::{ProtocolError, no_store_json};
use crate::request::FormRequest;
use axum::extract::State;
use axum::response::Response;

pub async fn introspect(
    State(state): State<AppState>,
    FormRequest(request): FormRequest,
) -> Result<Response, ProtocolError> {
    let response = state.idp.introspection.endpoint(&request).await?;
    Ok(no_store_json(response))
}
