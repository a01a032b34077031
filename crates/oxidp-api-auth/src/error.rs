//! Why a request was refused, and how that is said on the wire: RFC 6750 §3 challenges for the
//! caller's mistakes (RFC 9449 §7.1 `DPoP` challenges when the request used DPoP or the error is
//! about its proof), a plain `503` when the issuer cannot be asked.
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
    /// A [`ConfirmationCheck`](crate::ConfirmationCheck) refused the proof of possession, the
    /// DPoP proof's key is not the one the token is bound to (RFC 9449 §7.1), or the token is
    /// bound (`cnf`) in a way no check of this validator can confirm.
    #[error("the token's proof of possession is invalid")]
    ConfirmationFailed,
    /// A DPoP-bound token (`cnf.jkt`) presented with the `Bearer` scheme (RFC 9449 §7.2).
    #[error("a DPoP-bound token must be presented with the DPoP scheme")]
    DpopBoundAsBearer,
    /// A token presented with the `DPoP` scheme that is not bound to a key (no `cnf.jkt`).
    #[error("the token is not bound to a DPoP key")]
    NotDpopBound,
    /// A `Bearer` token at an API that accepts only DPoP-bound tokens.
    #[error("this API accepts only DPoP-bound tokens")]
    DpopRequired,
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
    /// The DPoP proof is missing, malformed or does not fit the request (`401` with
    /// `WWW-Authenticate: DPoP error="invalid_dpop_proof"`, RFC 9449 §7.1); holds why.
    #[error("{0}")]
    InvalidDpopProof(&'static str),
    /// The DPoP proof lacks a fresh nonce of this API (`401` with `WWW-Authenticate: DPoP
    /// error="use_dpop_nonce"` and a `DPoP-Nonce` header to retry with, RFC 9449 §9).
    #[error("the DPoP proof must carry the nonce this API provides")]
    UseDpopNonce,
    /// The replay cache of DPoP proofs could not answer (`503`): refusing is safer than
    /// accepting a proof that may have been seen.
    #[error("the DPoP replay check is unavailable")]
    ReplayCheckUnavailable,
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
    dpop: Option<DpopChallenge>,
    dpop_scheme: bool,
}

/// What a `DPoP` challenge says besides the error (RFC 9449 §7.1): the proof algorithms the API
/// accepts and, in nonce mode, the nonce to use next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DpopChallenge {
    pub(crate) algs: Arc<str>,
    pub(crate) nonce: Option<String>,
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
        Self {
            kind,
            realm: None,
            dpop: None,
            dpop_scheme: false,
        }
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

    /// The same error, with the `DPoP` challenge of an API that accepts DPoP: the proof
    /// algorithms it accepts (`algs`, space-separated) and, in nonce mode, the nonce to send next
    /// (the `DPoP-Nonce` header). [`DpopCheck`](crate::DpopCheck) adds it to every error of
    /// its validator; call it yourself only for errors of your own.
    ///
    /// ```
    /// # use oxidp_api_auth::{AuthError, ErrorKind};
    /// let error = AuthError::new(ErrorKind::MissingToken)
    ///     .with_realm("api")
    ///     .with_dpop_challenge("ES256 EdDSA", None);
    /// assert_eq!(
    ///     error.www_authenticate().as_deref(),
    ///     Some(r#"Bearer realm="api", DPoP realm="api", algs="ES256 EdDSA""#)
    /// );
    /// ```
    pub fn with_dpop_challenge(mut self, algs: &str, nonce: Option<String>) -> Self {
        self.dpop = Some(DpopChallenge {
            algs: algs.into(),
            nonce,
        });
        self
    }

    /// The same error, for a token that was presented with the `DPoP` scheme: its challenge
    /// uses that scheme (RFC 9449 §7.1).
    pub(crate) fn presented_with_dpop(mut self) -> Self {
        self.dpop_scheme = true;
        self
    }

    /// The nonce the caller must put in its next DPoP proof, sent as the `DPoP-Nonce` header:
    /// always with [`ErrorKind::UseDpopNonce`], and with other errors of an API in nonce mode.
    ///
    /// ```
    /// # use oxidp_api_auth::{AuthError, ErrorKind};
    /// let error = AuthError::new(ErrorKind::UseDpopNonce).with_dpop_challenge("ES256", Some("n-1".into()));
    /// assert_eq!(error.dpop_nonce(), Some("n-1"));
    /// ```
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.dpop.as_ref().and_then(|dpop| dpop.nonce.as_deref())
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
            ErrorKind::MissingToken
            | ErrorKind::InvalidToken(_)
            | ErrorKind::InvalidDpopProof(_)
            | ErrorKind::UseDpopNonce => StatusCode::UNAUTHORIZED,
            ErrorKind::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ErrorKind::InsufficientScope(_) => StatusCode::FORBIDDEN,
            ErrorKind::IssuerUnavailable | ErrorKind::ReplayCheckUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// The error code the response carries, if any: RFC 6750's `invalid_request`,
    /// `invalid_token` or `insufficient_scope`, RFC 9449's `invalid_dpop_proof` or
    /// `use_dpop_nonce`, or RFC 6749's `temporarily_unavailable` in the body of a `503`.
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
            ErrorKind::InvalidDpopProof(_) => Some("invalid_dpop_proof"),
            ErrorKind::UseDpopNonce => Some("use_dpop_nonce"),
            ErrorKind::IssuerUnavailable | ErrorKind::ReplayCheckUnavailable => {
                Some("temporarily_unavailable")
            }
        }
    }

    fn is_unavailable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::IssuerUnavailable | ErrorKind::ReplayCheckUnavailable
        )
    }

    /// Whether the error is said with the `DPoP` scheme: it is about the proof, or the token
    /// came with that scheme, or it is bound to a key and came without it.
    fn is_dpop_error(&self) -> bool {
        self.dpop_scheme
            || matches!(
                self.kind,
                ErrorKind::InvalidDpopProof(_)
                    | ErrorKind::UseDpopNonce
                    | ErrorKind::InvalidToken(InvalidToken::NotDpopBound)
            )
    }

    /// The `WWW-Authenticate` value (RFC 6750 §3, RFC 9449 §7.1); `None` for `503`, which
    /// challenges nobody.
    ///
    /// The error is said in the scheme it concerns: `DPoP` for a token presented with that
    /// scheme and for proof errors (with the accepted `algs`), `Bearer` otherwise. An API that
    /// accepts DPoP adds a `DPoP` challenge after a `Bearer` one, so that a caller learns it may
    /// use DPoP (RFC 9449 §7.1); both go in one header value, comma-separated (RFC 9110 §11.6.1).
    ///
    /// ```
    /// # use oxidp_api_auth::{AuthError, ErrorKind};
    /// let error = AuthError::new(ErrorKind::InsufficientScope(vec!["orders.write".into()]));
    /// assert_eq!(
    ///     error.www_authenticate().as_deref(),
    ///     Some(r#"Bearer error="insufficient_scope", error_description="the token lacks a required scope", scope="orders.write""#)
    /// );
    ///
    /// let error = AuthError::new(ErrorKind::InvalidDpopProof("the DPoP proof is for another URL"))
    ///     .with_dpop_challenge("ES256", None);
    /// assert_eq!(
    ///     error.www_authenticate().as_deref(),
    ///     Some(r#"DPoP error="invalid_dpop_proof", error_description="the DPoP proof is for another URL", algs="ES256""#)
    /// );
    /// ```
    pub fn www_authenticate(&self) -> Option<String> {
        if self.is_unavailable() {
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
        let algs = self
            .dpop
            .as_ref()
            .map(|dpop| format!("algs=\"{}\"", quoted(&dpop.algs)));
        if self.is_dpop_error() {
            params.extend(algs);
            return Some(challenge("DPoP", &params));
        }
        let bearer = challenge("Bearer", &params);
        let Some(algs) = algs else {
            return Some(bearer);
        };
        let mut dpop = Vec::new();
        if let Some(realm) = &self.realm {
            dpop.push(format!("realm=\"{}\"", quoted(realm)));
        }
        dpop.push(algs);
        Some(format!("{bearer}, {}", challenge("DPoP", &dpop)))
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
        if self.is_unavailable() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let Some(nonce) = self
            .dpop_nonce()
            .and_then(|nonce| HeaderValue::from_str(nonce).ok())
        {
            headers.insert(DPOP_NONCE, nonce);
            // A browser-based client reads the nonce only if it is exposed (RFC 9449 §8.1).
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("WWW-Authenticate, DPoP-Nonce"),
            );
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// The header that carries a DPoP nonce (RFC 9449 §8.1).
pub(crate) const DPOP_NONCE: &str = "dpop-nonce";

fn challenge(scheme: &str, params: &[String]) -> String {
    if params.is_empty() {
        scheme.to_owned()
    } else {
        format!("{scheme} {}", params.join(", "))
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

    #[test]
    fn a_use_dpop_nonce_refusal_carries_the_nonce_and_exposes_it() {
        let error = AuthError::new(ErrorKind::UseDpopNonce)
            .with_realm("api")
            .with_dpop_challenge("ES256", Some("n-1".into()));
        let response: http::Response<String> = error.to_http_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"DPoP realm="api", error="use_dpop_nonce", error_description="the DPoP proof must carry the nonce this API provides", algs="ES256""#
        );
        assert_eq!(response.headers()[DPOP_NONCE], "n-1");
        assert!(
            response.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS]
                .to_str()
                .is_ok_and(|exposed| exposed.contains("DPoP-Nonce"))
        );
        let body: serde_json::Value = serde_json::from_str(response.body()).unwrap_or_default();
        assert_eq!(body["error"], "use_dpop_nonce");
    }

    #[test]
    fn an_error_for_a_dpop_presented_token_is_said_with_the_dpop_scheme() {
        let error = AuthError::new(ErrorKind::InsufficientScope(vec!["a".into()]))
            .presented_with_dpop()
            .with_dpop_challenge("ES256", None);
        assert_eq!(
            error.www_authenticate().unwrap_or_default(),
            r#"DPoP error="insufficient_scope", error_description="the token lacks a required scope", scope="a", algs="ES256""#
        );
    }

    #[test]
    fn an_unavailable_replay_check_is_a_503_without_a_challenge() {
        let error =
            AuthError::new(ErrorKind::ReplayCheckUnavailable).with_dpop_challenge("ES256", None);
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.www_authenticate(), None);
        assert_eq!(error.error_code(), Some("temporarily_unavailable"));
    }
}
