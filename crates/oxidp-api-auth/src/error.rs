//! Why a request was refused, and how that is said on the wire: RFC 6750 §3 challenges for the
//! caller's mistakes, a plain `503` when the issuer cannot be asked.
//!
//! Descriptions are fixed strings chosen here, never text from a library error, so nothing
//! internal (or token material) reaches a response.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use std::fmt;
use std::sync::Arc;

/// Why a token is not accepted (`error="invalid_token"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidToken {
    /// Not a readable JWT, or claims of the wrong shape.
    #[error("the token is malformed")]
    Malformed,
    /// The JWT header's `typ` is not `at+jwt` (RFC 9068 §4).
    #[error("the token is not an access token")]
    WrongType,
    /// `alg` is `none`, symmetric or unknown, or the header has `crit`.
    #[error("the token's algorithm is not allowed")]
    AlgorithmNotAllowed,
    /// No key of the issuer has the token's `kid`.
    #[error("the token was signed by an unknown key")]
    UnknownKey,
    /// The signature does not verify (or the key does not fit the algorithm).
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    /// `aud` does not name this API.
    #[error("the token is not intended for this API")]
    WrongAudience,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// The issuer says the reference token is not active (revoked, expired or unknown).
    #[error("the token is not active")]
    Inactive,
    /// An opaque token, and this validator has no introspection credentials.
    #[error("reference tokens are not accepted")]
    ReferenceTokenNotAccepted,
    /// A [`ConfirmationCheck`](crate::ConfirmationCheck) refused the proof of possession.
    #[error("the token's proof of possession is invalid")]
    ConfirmationFailed,
}

/// What went wrong, without the presentation details.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No access token in the request (`401`, challenge without an error code, RFC 6750 §3.1).
    #[error("no access token was presented")]
    MissingToken,
    /// The `Authorization` header is malformed (`400 invalid_request`).
    #[error("{0}")]
    InvalidRequest(&'static str),
    /// The token is refused (`401 invalid_token`).
    #[error(transparent)]
    InvalidToken(InvalidToken),
    /// The token lacks scopes (`403 insufficient_scope`); holds the scopes required.
    #[error("the token lacks a required scope")]
    InsufficientScope(Vec<String>),
    /// The issuer (its metadata, keys or introspection endpoint) could not be reached or
    /// refused our credentials (`503`). Not the caller's fault; retrying later may succeed.
    #[error("the token issuer is unavailable")]
    IssuerUnavailable,
}

/// A refused request, ready to be rendered: for axum with [`IntoResponse`], for anything else
/// with [`status`](Self::status) and [`www_authenticate`](Self::www_authenticate).
///
/// ```
/// use oxidp_api_auth::{AuthError, ErrorKind, InvalidToken};
///
/// let error = AuthError::from(InvalidToken::Expired).with_realm("orders-api");
/// assert_eq!(error.status(), 401);
/// assert_eq!(
///     error.www_authenticate().as_deref(),
///     Some(r#"Bearer realm="orders-api", error="invalid_token", error_description="the token has expired""#)
/// );
/// assert_eq!(error.kind(), &ErrorKind::InvalidToken(InvalidToken::Expired));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    kind: ErrorKind,
    realm: Option<Arc<str>>,
}

impl AuthError {
    /// An error of `kind`, without a realm.
    ///
    /// ```
    /// # use oxidp_api_auth::{AuthError, ErrorKind};
    /// let error = AuthError::new(ErrorKind::MissingToken);
    /// assert_eq!(error.www_authenticate().as_deref(), Some("Bearer"));
    /// ```
    pub fn new(kind: ErrorKind) -> Self {
        Self { kind, realm: None }
    }

    /// The same error, challenging for `realm`.
    ///
    /// ```
    /// # use oxidp_api_auth::{AuthError, ErrorKind};
    /// let error = AuthError::new(ErrorKind::MissingToken).with_realm("orders-api");
    /// assert_eq!(error.www_authenticate().as_deref(), Some(r#"Bearer realm="orders-api""#));
    /// ```
    pub fn with_realm(mut self, realm: impl Into<Arc<str>>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// What went wrong.
    ///
    /// ```
    /// # use oxidp_api_auth::{AuthError, ErrorKind};
    /// assert_eq!(AuthError::new(ErrorKind::IssuerUnavailable).kind(), &ErrorKind::IssuerUnavailable);
    /// ```
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The HTTP status: 400, 401, 403 or 503.
    ///
    /// ```
    /// # use oxidp_api_auth::{AuthError, ErrorKind};
    /// assert_eq!(AuthError::new(ErrorKind::InsufficientScope(vec!["a".into()])).status(), 403);
    /// ```
    pub fn status(&self) -> StatusCode {
        match &self.kind {
            ErrorKind::MissingToken | ErrorKind::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            ErrorKind::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ErrorKind::InsufficientScope(_) => StatusCode::FORBIDDEN,
            ErrorKind::IssuerUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The error code the response carries, if any: RFC 6750's `invalid_request`,
    /// `invalid_token` or `insufficient_scope`, or RFC 6749's `temporarily_unavailable` in the
    /// body of a `503`.
    ///
    /// ```
    /// # use oxidp_api_auth::{AuthError, InvalidToken};
    /// assert_eq!(AuthError::from(InvalidToken::BadSignature).error_code(), Some("invalid_token"));
    /// ```
    pub fn error_code(&self) -> Option<&'static str> {
        match &self.kind {
            ErrorKind::MissingToken => None,
            ErrorKind::InvalidRequest(_) => Some("invalid_request"),
            ErrorKind::InvalidToken(_) => Some("invalid_token"),
            ErrorKind::InsufficientScope(_) => Some("insufficient_scope"),
            ErrorKind::IssuerUnavailable => Some("temporarily_unavailable"),
        }
    }

    /// The `WWW-Authenticate` value (RFC 6750 §3); `None` for `503`, which challenges nobody.
    ///
    /// ```
    /// # use oxidp_api_auth::{AuthError, ErrorKind};
    /// let error = AuthError::new(ErrorKind::InsufficientScope(vec!["orders.write".into()]));
    /// assert_eq!(
    ///     error.www_authenticate().as_deref(),
    ///     Some(r#"Bearer error="insufficient_scope", error_description="the token lacks a required scope", scope="orders.write""#)
    /// );
    /// ```
    pub fn www_authenticate(&self) -> Option<String> {
        if matches!(self.kind, ErrorKind::IssuerUnavailable) {
            return None;
        }
        let mut params = Vec::new();
        if let Some(realm) = &self.realm {
            params.push(format!("realm=\"{}\"", quoted(realm)));
        }
        if let Some(code) = self.error_code() {
            params.push(format!("error=\"{code}\""));
            params.push(format!(
                "error_description=\"{}\"",
                quoted(&self.kind.to_string())
            ));
        }
        if let ErrorKind::InsufficientScope(scopes) = &self.kind {
            params.push(format!("scope=\"{}\"", quoted(&scopes.join(" "))));
        }
        Some(if params.is_empty() {
            "Bearer".to_owned()
        } else {
            format!("Bearer {}", params.join(", "))
        })
    }

    /// The response as an `http::Response` with any body type that can be built from a
    /// `String` (serverless runtimes): the status, the challenge, and a JSON body with `error`
    /// and `error_description` (empty when no token was presented).
    ///
    /// ```
    /// # use oxidp_api_auth::{AuthError, InvalidToken};
    /// let response: http::Response<String> = AuthError::from(InvalidToken::Expired).to_http_response();
    /// assert_eq!(response.status(), 401);
    /// assert!(response.headers().contains_key("www-authenticate"));
    /// ```
    pub fn to_http_response<B: From<String>>(&self) -> http::Response<B> {
        let body = match self.error_code() {
            Some(code) => serde_json::json!({
                "error": code,
                "error_description": self.kind.to_string(),
            })
            .to_string(),
            None => String::new(),
        };
        let mut response = http::Response::new(B::from(body));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        if let Some(challenge) = self
            .www_authenticate()
            .and_then(|value| HeaderValue::from_str(&value).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if self.error_code().is_some() {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if matches!(self.kind, ErrorKind::IssuerUnavailable) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Drops the characters a quoted-string cannot hold as they are (RFC 9110 §5.6.4); the values
/// here are our own descriptions and scope names, which never need them.
fn quoted(value: &str) -> String {
    value
        .chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for AuthError {}

impl From<ErrorKind> for AuthError {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind)
    }
}

impl From<InvalidToken> for AuthError {
    fn from(reason: InvalidToken) -> Self {
        Self::new(ErrorKind::InvalidToken(reason))
    }
}

impl From<InvalidToken> for ErrorKind {
    fn from(reason: InvalidToken) -> Self {
        Self::InvalidToken(reason)
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        self.to_http_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_token_challenges_without_an_error_code() {
        let error = AuthError::new(ErrorKind::MissingToken).with_realm("api");
        assert_eq!(error.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(error.www_authenticate().unwrap(), r#"Bearer realm="api""#);
        let response: http::Response<String> = error.to_http_response();
        assert!(response.body().is_empty());
    }

    #[test]
    fn a_malformed_header_is_a_bad_request() {
        let error = AuthError::new(ErrorKind::InvalidRequest("two tokens"));
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            error.www_authenticate().unwrap(),
            r#"Bearer error="invalid_request", error_description="two tokens""#
        );
    }

    #[test]
    fn an_unavailable_issuer_is_a_503_without_a_challenge() {
        let error = AuthError::new(ErrorKind::IssuerUnavailable);
        let response: http::Response<String> = error.to_http_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!response.headers().contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    }

    #[test]
    fn quotes_cannot_break_out_of_a_challenge_parameter() {
        let error = AuthError::new(ErrorKind::InsufficientScope(vec!["a\"b".into()]));
        assert!(error.www_authenticate().unwrap().ends_with(r#"scope="ab""#));
    }
}
