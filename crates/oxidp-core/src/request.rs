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

    /// The access token of a resource request (RFC 6750 §2.1 and §2.2): in the `Authorization`
    /// header with the Bearer scheme, or as the `access_token` form field of a POST — exactly
    /// one of them. Errors carry the Bearer challenge.
    pub fn bearer_token(&self) -> Result<String, OAuthError> {
        let challenge =
            |error: OAuthError| error.with_challenge(Challenge::new(ChallengeScheme::Bearer));
        let from_header = match self.authorization().map_err(challenge)? {
            None => None,
            Some(value) => {
                let (scheme, token) = value.split_once(' ').ok_or_else(|| {
                    challenge(OAuthError::invalid_request(
                        "malformed Authorization header",
                    ))
                })?;
                if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
                    return Err(challenge(OAuthError::invalid_request(
                        "the Bearer scheme is required",
                    )));
                }
                Some(token.trim().to_owned())
            }
        };
        let from_body = match self.method {
            RequestMethod::Post => self.params.get("access_token").map(str::to_owned),
            RequestMethod::Get => None,
        };
        match (from_header, from_body) {
            (Some(_), Some(_)) => Err(challenge(OAuthError::invalid_request(
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

    #[test]
    fn bearer_token_from_header_or_body_but_not_both() {
        assert_eq!(
            post(b"")
                .with_authorization("Bearer abc")
                .bearer_token()
                .ok()
                .as_deref(),
            Some("abc")
        );
        assert_eq!(
            post(b"access_token=xyz").bearer_token().ok().as_deref(),
            Some("xyz")
        );
        let both = post(b"access_token=xyz")
            .with_authorization("Bearer abc")
            .bearer_token()
            .expect_err("twice");
        assert_eq!(both.code, ErrorCode::InvalidRequest);
        assert!(
            both.www_authenticate()
                .is_some_and(|v| v.starts_with("Bearer "))
        );
        let missing = post(b"").bearer_token().expect_err("none");
        assert_eq!(missing.status(), 401);
        assert_eq!(
            missing.www_authenticate().as_deref(),
            Some("Bearer realm=\"oxidp\"")
        );
        let basic = post(b"")
            .with_authorization("Basic YTpi")
            .bearer_token()
            .expect_err("wrong scheme");
        assert_eq!(basic.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn a_get_body_token_is_not_read() {
        let mut request = post(b"access_token=xyz");
        request.method = RequestMethod::Get;
        assert_eq!(request.bearer_token().expect_err("none").status(), 401);
    }
}
