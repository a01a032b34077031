//! The extractor for protocol POSTs: checks the content type, enforces the body limit, parses
//! the form under RFC 6749's rules and keeps the `Authorization` header for client
//! authentication. Rejections are protocol errors, never axum's plain-text ones.

use crate::error::ProtocolError;
use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use oxidp_core::error::OAuthError;
use oxidp_core::params::Parameters;
use oxidp_core::services::ClientCredentials;

/// A parsed protocol request.
#[derive(Debug)]
pub struct ProtocolForm {
    /// The form parameters.
    pub params: Parameters,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

impl ProtocolForm {
    /// The client credentials the request carries.
    pub fn credentials(&self) -> Result<ClientCredentials, ProtocolError> {
        ClientCredentials::extract(self.authorization.as_deref(), &self.params)
            .map_err(|e| ProtocolError::from(e).with_basic_challenge(self.authorization.is_some()))
    }
}

/// The body limit, shared through request extensions by the router.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl<S: Send + Sync> FromRequest<S> for ProtocolForm {
    type Rejection = ProtocolError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|media| {
                media
                    .trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(OAuthError::invalid_request(
                "the content type must be application/x-www-form-urlencoded",
            )
            .into());
        }
        let authorization = match request.headers().get(header::AUTHORIZATION) {
            Some(value) => Some(
                value
                    .to_str()
                    .map_err(|_| {
                        OAuthError::invalid_request("the Authorization header is not valid text")
                    })?
                    .to_owned(),
            ),
            None => None,
        };
        let limit = request
            .extensions()
            .get::<BodyLimit>()
            .map_or(64 * 1024, |l| l.0);
        let body: Body = request.into_body();
        let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
            ProtocolError::from(OAuthError::invalid_request(format!(
                "the request body exceeds {limit} bytes"
            )))
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
        })?;
        let params = Parameters::from_form(&bytes)?;
        Ok(Self {
            params,
            authorization,
        })
    }
}
