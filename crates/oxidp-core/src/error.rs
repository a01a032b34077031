//! Protocol errors (RFC 6749 §5.2, RFC 7009, RFC 7662): the `error` code, its description and
//! the HTTP status are all decided here, so every endpoint answers the same way.

use crate::store::StoreError;
use std::borrow::Cow;

/// An OAuth 2.0 error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Missing, repeated or malformed parameter.
    InvalidRequest,
    /// Client authentication failed.
    InvalidClient,
    /// The grant (code, refresh token, assertion) is invalid.
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// The requested scope is invalid or not allowed.
    InvalidScope,
    /// The response type is not supported (authorization endpoint).
    UnsupportedResponseType,
    /// The server failed; nothing the client can fix.
    ServerError,
}

impl ErrorCode {
    /// The `error` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
        }
    }
}

/// A protocol error as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", code.as_str(), description.as_deref().unwrap_or(""))]
pub struct OAuthError {
    /// The error code.
    pub code: ErrorCode,
    /// A human-readable description for the client developer; never internals.
    pub description: Option<Cow<'static, str>>,
}

impl OAuthError {
    /// An error with a description.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: Some(description.into()),
        }
    }

    /// `invalid_request` with a description.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_client`; the description stays generic so that it does not reveal whether the
    /// client exists.
    pub fn invalid_client() -> Self {
        Self::new(ErrorCode::InvalidClient, "client authentication failed")
    }

    /// `server_error` with a generic description.
    pub fn server_error() -> Self {
        Self::new(
            ErrorCode::ServerError,
            "the server could not process the request",
        )
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self.code {
            ErrorCode::InvalidClient => 401,
            ErrorCode::ServerError => 500,
            _ => 400,
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store failure while handling a protocol request");
        Self::server_error()
    }
}
