//! `POST /connect/introspect` (RFC 7662).

use super::AppState;
use crate::error::{ProtocolError, no_store_json};
use crate::form::ProtocolForm;
use axum::extract::State;
use axum::response::Response;
use oxidp_core::options::paths;

pub async fn introspect(
    State(state): State<AppState>,
    form: ProtocolForm,
) -> Result<Response, ProtocolError> {
    let credentials = form.credentials()?;
    let caller = state
        .idp
        .client_auth
        .authenticate_introspector(&credentials, paths::INTROSPECTION)
        .await
        .map_err(|e| ProtocolError::from(e).with_basic_challenge(credentials.used_basic()))?;
    let response = state
        .idp
        .introspection
        .introspect(&caller, &form.params)
        .await?;
    Ok(no_store_json(response))
}
