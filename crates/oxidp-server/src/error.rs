//! Rendering of errors at the web edge. Protocol endpoints answer RFC 6749 §5.2 JSON
//! (`error`, `error_description`) with the status core decided; internals never reach a body.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oxidp_core::error::OAuthError;
use serde_json::json;

/// A protocol error on its way to the client.
#[derive(Debug)]
pub struct ProtocolError {
    error: OAuthError,
    basic_challenge: bool,
    status_override: Option<StatusCode>,
}

impl ProtocolError {
    /// Adds `WWW-Authenticate: Basic` to an `invalid_client` answer, as RFC 6749 §5.2
    /// requires when the client tried HTTP Basic.
    pub fn with_basic_challenge(mut self, tried_basic: bool) -> Self {
        self.basic_challenge = tried_basic;
        self
    }

    /// Answers with `status` instead of the protocol default (413 for oversized bodies).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status_override = Some(status);
        self
    }
}

impl From<OAuthError> for ProtocolError {
    fn from(error: OAuthError) -> Self {
        Self {
            error,
            basic_challenge: false,
            status_override: None,
        }
    }
}

impl IntoResponse for ProtocolError {
    fn into_response(self) -> Response {
        let status = self.status_override.unwrap_or_else(|| {
            StatusCode::from_u16(self.error.status()).unwrap_or(StatusCode::BAD_REQUEST)
        });
        let mut body = json!({ "error": self.error.code.as_str() });
        if let Some(description) = &self.error.description {
            body["error_description"] = json!(description);
        }
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.basic_challenge && status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"oxidp\", charset=\"UTF-8\""),
            );
        }
        response
    }
}

/// Wraps a JSON body with the headers every token-bearing response needs (RFC 6749 §5.1).
pub fn no_store_json(body: impl serde::Serialize) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
