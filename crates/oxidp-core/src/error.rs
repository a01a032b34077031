//! Protocol errors (RFC 6749 §5.2, RFC 6750 §3, RFC 7009, RFC 7662, RFC 9449, CIBA §13): the
//! `error` code, its description, the HTTP status and the headers that travel with it
//! (`WWW-Authenticate`, `DPoP-Nonce`, `Retry-After`) are all decided here, so every endpoint
//! answers the same way and the web edge only renders.

use crate::store::StoreError;
use std::borrow::Cow;

/// An OAuth 2.0 (or extension) error code.
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
    /// The resource owner or the server denied the request.
    AccessDenied,
    /// The access token is expired, revoked or malformed (RFC 6750 §3.1).
    InvalidToken,
    /// The access token lacks a scope the resource needs (RFC 6750 §3.1).
    InsufficientScope,
    /// The token type cannot be revoked (RFC 7009 §2.2.1).
    UnsupportedTokenType,
    /// CIBA / device flow: the user has not answered yet.
    AuthorizationPending,
    /// CIBA / device flow: the client polls too fast.
    SlowDown,
    /// CIBA / device flow: the request expired.
    ExpiredToken,
    /// The DPoP proof is missing, malformed or does not match (RFC 9449 §7.1).
    InvalidDpopProof,
    /// The server requires a DPoP nonce (RFC 9449 §8).
    UseDpopNonce,
    /// CIBA: the hint names no known user.
    UnknownUserId,
    /// CIBA: the binding message is invalid.
    InvalidBindingMessage,
    /// CIBA: the client requires a user code and none was sent.
    MissingUserCode,
    /// CIBA: the login hint token expired.
    ExpiredLoginHintToken,
    /// The server cannot answer now (a dependency is down); try again later.
    TemporarilyUnavailable,
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
            Self::AccessDenied => "access_denied",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::UnknownUserId => "unknown_user_id",
            Self::InvalidBindingMessage => "invalid_binding_message",
            Self::MissingUserCode => "missing_user_code",
            Self::ExpiredLoginHintToken => "expired_login_hint_token",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::ServerError => "server_error",
        }
    }

    /// The HTTP status this code answers with at a token-style endpoint, unless the error
    /// says otherwise (RFC 6749 §5.2, RFC 6750 §3.1, CIBA §13).
    pub fn default_status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope | Self::AccessDenied => 403,
            Self::TemporarilyUnavailable => 503,
            Self::ServerError => 500,
            _ => 400,
        }
    }
}

/// The authentication scheme of a `WWW-Authenticate` challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeScheme {
    /// HTTP Basic client authentication (RFC 6749 §5.2).
    Basic,
    /// Bearer tokens (RFC 6750 §3).
    Bearer,
    /// DPoP-bound tokens (RFC 9449 §7.1).
    Dpop,
}

impl ChallengeScheme {
    /// The scheme name as written in the header.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "Basic",
            Self::Bearer => "Bearer",
            Self::Dpop => "DPoP",
        }
    }
}

/// A `WWW-Authenticate` challenge. The error code and description of the [`OAuthError`] it
/// travels with are added as `error` and `error_description` unless `bare` is set (RFC 6750
/// §3.1: a request with no credentials at all gets the scheme and realm only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme.
    pub scheme: ChallengeScheme,
    /// Only the scheme and realm, no error attributes.
    pub bare: bool,
    /// `scope` attribute (insufficient scope).
    pub scope: Option<String>,
    /// `algs` attribute (DPoP: the accepted proof algorithms).
    pub algs: Option<String>,
}

impl Challenge {
    /// A challenge of `scheme` carrying the error's attributes.
    pub fn new(scheme: ChallengeScheme) -> Self {
        Self {
            scheme,
            bare: false,
            scope: None,
            algs: None,
        }
    }

    /// The header value for `error`.
    pub fn header_value(&self, error: &OAuthError) -> String {
        let mut value = format!("{} realm=\"oxidp\"", self.scheme.as_str());
        if self.scheme == ChallengeScheme::Basic {
            value.push_str(", charset=\"UTF-8\"");
            return value;
        }
        if self.bare {
            return value;
        }
        let mut attribute = |name: &str, content: &str| {
            // Quoted-string content: the values we put here are ASCII without quotes or
            // backslashes, but a description must never be able to break the header.
            let clean: String = content
                .chars()
                .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
                .collect();
            value.push_str(&format!(", {name}=\"{clean}\""));
        };
        attribute("error", error.code.as_str());
        if let Some(description) = &error.description {
            attribute("error_description", description);
        }
        if let Some(scope) = &self.scope {
            attribute("scope", scope);
        }
        if let Some(algs) = &self.algs {
            attribute("algs", algs);
        }
        value
    }
}

/// A protocol error as the client sees it: the body (`error`, `error_description`), the status
/// and the headers that go with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", code.as_str(), description.as_deref().unwrap_or(""))]
pub struct OAuthError {
    /// The error code.
    pub code: ErrorCode,
    /// A human-readable description for the client developer; never internals.
    pub description: Option<Cow<'static, str>>,
    /// The status, when it is not the code's default.
    pub status_override: Option<u16>,
    /// The `WWW-Authenticate` challenge to send, if any.
    pub challenge: Option<Challenge>,
    /// A fresh `DPoP-Nonce` to send (RFC 9449 §8).
    pub dpop_nonce: Option<String>,
    /// Seconds for `Retry-After` (temporarily unavailable, slow down).
    pub retry_after: Option<u32>,
}

impl OAuthError {
    /// An error with a description.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: Some(description.into()),
            status_override: None,
            challenge: None,
            dpop_nonce: None,
            retry_after: None,
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

    /// `temporarily_unavailable` (503 with `Retry-After`): a store or another dependency is
    /// down, and the same request may succeed later.
    pub fn temporarily_unavailable() -> Self {
        Self::new(
            ErrorCode::TemporarilyUnavailable,
            "the service is temporarily unavailable",
        )
        .with_retry_after(RETRY_AFTER_SECONDS)
    }

    /// The same error answered with `status` instead of the code's default.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status_override = Some(status);
        self
    }

    /// The same error with a `WWW-Authenticate` challenge.
    #[must_use]
    pub fn with_challenge(mut self, challenge: Challenge) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// The same error with a `DPoP-Nonce` header.
    #[must_use]
    pub fn with_dpop_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.dpop_nonce = Some(nonce.into());
        self
    }

    /// The same error with a `Retry-After` header.
    #[must_use]
    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// A failed client authentication answers with a Basic challenge when the client tried
    /// HTTP Basic (RFC 6749 §5.2).
    #[must_use]
    pub fn with_basic_challenge_if(self, tried_basic: bool) -> Self {
        if tried_basic && self.code == ErrorCode::InvalidClient {
            self.with_challenge(Challenge::new(ChallengeScheme::Basic))
        } else {
            self
        }
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        self.status_override
            .unwrap_or_else(|| self.code.default_status())
    }

    /// Whether the server, not the client, is at fault (5xx).
    pub fn is_server_side(&self) -> bool {
        self.status() >= 500
    }

    /// The `WWW-Authenticate` header value, if the error carries a challenge.
    pub fn www_authenticate(&self) -> Option<String> {
        self.challenge.as_ref().map(|c| c.header_value(self))
    }
}

/// What `Retry-After` says when a dependency is down: long enough for a failover, short
/// enough that a retrying client does not give up.
pub const RETRY_AFTER_SECONDS: u32 = 5;

impl From<StoreError> for OAuthError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => {
                tracing::error!(%error, "store unavailable while handling a protocol request");
                Self::temporarily_unavailable()
            }
            _ => {
                tracing::error!(%error, "store failure while handling a protocol request");
                Self::server_error()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_code_unless_overridden() {
        assert_eq!(OAuthError::invalid_request("x").status(), 400);
        assert_eq!(OAuthError::invalid_client().status(), 401);
        assert_eq!(OAuthError::new(ErrorCode::InvalidToken, "x").status(), 401);
        assert_eq!(
            OAuthError::new(ErrorCode::InsufficientScope, "x").status(),
            403
        );
        assert_eq!(OAuthError::temporarily_unavailable().status(), 503);
        assert_eq!(
            OAuthError::invalid_request("too big")
                .with_status(413)
                .status(),
            413
        );
    }

    #[test]
    fn challenges_carry_the_error_and_never_break_the_header() {
        let error = OAuthError::new(ErrorCode::InvalidDpopProof, "bad \"proof\"\r\n")
            .with_challenge(Challenge {
                algs: Some("ES256 EdDSA".to_owned()),
                ..Challenge::new(ChallengeScheme::Dpop)
            });
        assert_eq!(
            error.www_authenticate().as_deref(),
            Some(
                "DPoP realm=\"oxidp\", error=\"invalid_dpop_proof\", \
                 error_description=\"bad proof\", algs=\"ES256 EdDSA\""
            )
        );
        let bare = OAuthError::new(ErrorCode::InvalidToken, "missing").with_challenge(Challenge {
            bare: true,
            ..Challenge::new(ChallengeScheme::Bearer)
        });
        assert_eq!(
            bare.www_authenticate().as_deref(),
            Some("Bearer realm=\"oxidp\"")
        );
    }

    #[test]
    fn basic_challenge_only_for_invalid_client_after_basic() {
        assert!(
            OAuthError::invalid_client()
                .with_basic_challenge_if(true)
                .www_authenticate()
                .is_some_and(|v| v.starts_with("Basic "))
        );
        assert!(
            OAuthError::invalid_client()
                .with_basic_challenge_if(false)
                .challenge
                .is_none()
        );
        assert!(
            OAuthError::invalid_request("x")
                .with_basic_challenge_if(true)
                .challenge
                .is_none()
        );
    }

    #[test]
    fn an_unavailable_store_is_503_with_retry_after() {
        let error = OAuthError::from(StoreError::Unavailable("down".into()));
        assert_eq!(error.code, ErrorCode::TemporarilyUnavailable);
        assert_eq!(error.status(), 503);
        assert_eq!(error.retry_after, Some(RETRY_AFTER_SECONDS));
        let corrupt = OAuthError::from(StoreError::Corrupt("x".into()));
        assert_eq!(corrupt.status(), 500);
    }
}
