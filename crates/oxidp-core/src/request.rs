//! One request context for every protocol endpoint: what the web edge hands the core.
//!
//! The listener fills a [`PeerInfo`] (remote address as trusted, the TLS client certificate
//! chain when there is one); the edge adds the method, the issuer-relative path, the parameters
//! and the raw `Authorization` and `DPoP` headers, and passes one [`ProtocolRequest`] to one
//! service. Rules about those headers (how many, which scheme, proof of possession) are made
//! here and in the services, never in handlers.

mod forwarded;

pub use forwarded::{TrustedProxies, client_address};

use crate::error::{Challenge, ChallengeScheme, ErrorCode, OAuthError};
use crate::params::Parameters;
use crate::services::ClientCredentials;
use std::net::SocketAddr;

/// The connection a request arrived on, as the listener (and a trusted proxy) says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerInfo {
    /// The client's address, when known (behind a trusted proxy: the address it reports).
    pub remote_addr: Option<SocketAddr>,
    /// The TLS client certificate chain, leaf first, DER-encoded; empty without mutual TLS.
    pub client_certificates: Vec<Vec<u8>>,
}

impl PeerInfo {
    /// A peer known only by its address (plain TCP).
    pub fn from_addr(remote_addr: SocketAddr) -> Self {
        Self {
            remote_addr: Some(remote_addr),
            client_certificates: Vec::new(),
        }
    }

    /// The TLS client certificate (the chain's leaf), if one was presented and verified.
    pub fn client_certificate(&self) -> Option<&[u8]> {
        self.client_certificates.first().map(Vec::as_slice)
    }
}

/// An HTTP method, as far as the protocols care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestMethod {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

impl RequestMethod {
    /// The method name (`htm` of a DPoP proof).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// A protocol request as the core sees it.
#[derive(Debug, Clone)]
pub struct ProtocolRequest {
    /// The method.
    pub method: RequestMethod,
    /// The path relative to the issuer (`/connect/token`), without query or fragment.
    pub path: String,
    /// The parameters: the form body of a POST, the query of a GET.
    pub params: Parameters,
    /// Every `Authorization` header, in order (more than one is refused where it matters).
    pub authorization: Vec<String>,
    /// Every `DPoP` header, in order.
    pub dpop: Vec<String>,
    /// The connection.
    pub peer: PeerInfo,
}

impl ProtocolRequest {
    /// A request with no headers, from no known peer (tests, and callers that have only
    /// parameters).
    pub fn new(method: RequestMethod, path: impl Into<String>, params: Parameters) -> Self {
        Self {
            method,
            path: path.into(),
            params,
            authorization: Vec::new(),
            dpop: Vec::new(),
            peer: PeerInfo::default(),
        }
    }

    /// The same request with an `Authorization` header.
    #[must_use]
    pub fn with_authorization(mut self, value: impl Into<String>) -> Self {
        self.authorization.push(value.into());
        self
    }

    /// The request URL as the issuer sees it (the `htu` a DPoP proof must name, RFC 9449
    /// §4.3): the issuer followed by the path, so a proxy or a path prefix in front does not
    /// change it.
    pub fn url(&self, issuer: &str) -> String {
        format!("{}{}", issuer.trim_end_matches('/'), self.path)
    }

    /// The one `Authorization` header, if any. Two of them are ambiguous: `invalid_request`,
    /// never "the first one wins".
    pub fn authorization(&self) -> Result<Option<&str>, OAuthError> {
        match self.authorization.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.as_str())),
            _ => Err(OAuthError::invalid_request(
                "the Authorization header is repeated",
            )),
        }
    }

    /// The client credentials the request carries (RFC 6749 §2.3). A failure after an HTTP
    /// Basic attempt carries the Basic challenge.
    pub fn client_credentials(&self) -> Result<ClientCredentials, OAuthError> {
        let authorization = self.authorization()?;
        ClientCredentials::extract(authorization, &self.params)
            .map_err(|e| e.with_basic_challenge_if(authorization.is_some()))
    }

    /// The access token of a resource request: in the `Authorization` header with the Bearer
    /// (RFC 6750 §2.1) or the DPoP (RFC 9449 §7.1) scheme, or as the `access_token` form field
    /// of a POST (RFC 6750 §2.2, Bearer) — exactly one of them. Errors carry the challenge of
    /// the scheme tried (Bearer when none was).
    pub fn access_token(&self) -> Result<PresentedToken, OAuthError> {
        let challenge = |scheme: ChallengeScheme| {
            move |error: OAuthError| error.with_challenge(Challenge::new(scheme))
        };
        let bearer = challenge(ChallengeScheme::Bearer);
        let from_header = match self.authorization().map_err(bearer)? {
            None => None,
            Some(value) => {
                let (scheme, token) = value.split_once(' ').ok_or_else(|| {
                    bearer(OAuthError::invalid_request(
                        "malformed Authorization header",
                    ))
                })?;
                let scheme = if scheme.eq_ignore_ascii_case("bearer") {
                    TokenScheme::Bearer
                } else if scheme.eq_ignore_ascii_case("dpop") {
                    TokenScheme::Dpop
                } else {
                    return Err(bearer(OAuthError::invalid_request(
                        "the Bearer or DPoP scheme is required",
                    )));
                };
                if token.trim().is_empty() {
                    return Err(challenge(scheme.challenge())(OAuthError::invalid_request(
                        "the Authorization header has no token",
                    )));
                }
                Some(PresentedToken {
                    token: token.trim().to_owned(),
                    scheme,
                })
            }
        };
        let from_body = match self.method {
            RequestMethod::Post => self.params.get("access_token").map(|token| PresentedToken {
                token: token.to_owned(),
                scheme: TokenScheme::Bearer,
            }),
            RequestMethod::Get => None,
        };
        match (from_header, from_body) {
            (Some(_), Some(_)) => Err(bearer(OAuthError::invalid_request(
                "the token was sent more than once",
            ))),
            (Some(token), None) | (None, Some(token)) => Ok(token),
            // RFC 6750 §3.1: no credentials at all get a challenge without an error code.
            (None, None) => Err(OAuthError::new(ErrorCode::InvalidToken, "no access token")
                .with_challenge(Challenge {
                    bare: true,
                    ..Challenge::new(ChallengeScheme::Bearer)
                })),
        }
    }
}

/// The authentication scheme an access token was presented with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScheme {
    /// `Bearer` (RFC 6750), also for a token in the form body.
    Bearer,
    /// `DPoP` (RFC 9449 §7.1): a proof of the token's key must come with it.
    Dpop,
}

impl TokenScheme {
    /// The challenge scheme of the same name.
    pub fn challenge(self) -> ChallengeScheme {
        match self {
            Self::Bearer => ChallengeScheme::Bearer,
            Self::Dpop => ChallengeScheme::Dpop,
        }
    }
}

/// An access token as a resource request presented it.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedToken {
    /// The token.
    pub token: String,
    /// The scheme it came with.
    pub scheme: TokenScheme,
}

impl std::fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedToken")
            .field("token", &"[redacted]")
            .field("scheme", &self.scheme)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: &[u8]) -> ProtocolRequest {
        ProtocolRequest::new(
            RequestMethod::Post,
            "/connect/userinfo",
            Parameters::from_form(body).expect("form"),
        )
    }

    #[test]
    fn url_is_issuer_relative() {
        let request = post(b"");
        assert_eq!(
            request.url("https://id.example/tenant/"),
            "https://id.example/tenant/connect/userinfo"
        );
    }

    #[test]
    fn two_authorization_headers_are_invalid_request() {
        let request = post(b"grant_type=client_credentials")
            .with_authorization("Basic YTpi")
            .with_authorization("Basic Yzpk");
        let error = request.client_credentials().expect_err("ambiguous");
        assert_eq!(error.code, ErrorCode::InvalidRequest);
        assert_eq!(error.status(), 400);
    }

    fn token_of(request: &ProtocolRequest) -> Option<(String, TokenScheme)> {
        request.access_token().ok().map(|t| (t.token, t.scheme))
    }

    #[test]
    fn access_token_from_header_or_body_but_not_both() {
        assert_eq!(
            token_of(&post(b"").with_authorization("Bearer abc")),
            Some(("abc".to_owned(), TokenScheme::Bearer))
        );
        assert_eq!(
            token_of(&post(b"").with_authorization("DPoP abc")),
            Some(("abc".to_owned(), TokenScheme::Dpop))
        );
        assert_eq!(
            token_of(&post(b"access_token=xyz")),
            Some(("xyz".to_owned(), TokenScheme::Bearer))
        );
        let both = post(b"access_token=xyz")
            .with_authorization("Bearer abc")
            .access_token()
            .expect_err("twice");
        assert_eq!(both.code, ErrorCode::InvalidRequest);
        assert!(
            both.www_authenticate()
                .is_some_and(|v| v.starts_with("Bearer "))
        );
        let missing = post(b"").access_token().expect_err("none");
        assert_eq!(missing.status(), 401);
        assert_eq!(
            missing.www_authenticate().as_deref(),
            Some("Bearer realm=\"oxidp\"")
        );
        let basic = post(b"")
            .with_authorization("Basic YTpi")
            .access_token()
            .expect_err("wrong scheme");
        assert_eq!(basic.code, ErrorCode::InvalidRequest);
        let empty = post(b"")
            .with_authorization("DPoP  ")
            .access_token()
            .expect_err("no token");
        assert!(
            empty
                .www_authenticate()
                .is_some_and(|v| v.starts_with("DPoP "))
        );
    }

    #[test]
    fn a_get_body_token_is_not_read() {
        let mut request = post(b"access_token=xyz");
        request.method = RequestMethod::Get;
        assert_eq!(request.access_token().expect_err("none").status(), 401);
    }
}
