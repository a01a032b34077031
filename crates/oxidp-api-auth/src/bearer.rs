//! Reading the access token from the request: the `Authorization` header (RFC 6750 §2.1), and
//! the view of the request that [`ConfirmationCheck`](crate::ConfirmationCheck)s get.

use crate::error::ErrorKind;
use http::header::AUTHORIZATION;
use http::{Extensions, HeaderMap, Method, Uri};
use std::fmt;

/// The request as the validator and the confirmation checks see it.
///
/// Built from the headers alone (serverless handlers) or from the whole request head, which a
/// DPoP check needs for `htm`/`htu` and an mTLS check for the client certificate (typically in
/// the extensions).
///
/// ```
/// use oxidp_api_auth::RequestInfo;
///
/// let (parts, ()) = http::Request::get("/orders").body(()).unwrap().into_parts();
/// let request = RequestInfo::from_parts(&parts);
/// assert_eq!(request.method(), Some(&http::Method::GET));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    headers: &'a HeaderMap,
    method: Option<&'a Method>,
    uri: Option<&'a Uri>,
    extensions: Option<&'a Extensions>,
}

impl<'a> RequestInfo<'a> {
    /// A request known only by its headers.
    ///
    /// ```
    /// # use oxidp_api_auth::RequestInfo;
    /// let headers = http::HeaderMap::new();
    /// assert!(RequestInfo::from_headers(&headers).uri().is_none());
    /// ```
    pub fn from_headers(headers: &'a HeaderMap) -> Self {
        Self {
            headers,
            method: None,
            uri: None,
            extensions: None,
        }
    }

    /// A request known by its whole head.
    ///
    /// ```
    /// # use oxidp_api_auth::RequestInfo;
    /// let (parts, ()) = http::Request::post("/x").body(()).unwrap().into_parts();
    /// assert_eq!(RequestInfo::from_parts(&parts).uri().unwrap().path(), "/x");
    /// ```
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        Self {
            headers: &parts.headers,
            method: Some(&parts.method),
            uri: Some(&parts.uri),
            extensions: Some(&parts.extensions),
        }
    }

    /// The request headers.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The method, when known.
    pub fn method(&self) -> Option<&'a Method> {
        self.method
    }

    /// The URI, when known.
    pub fn uri(&self) -> Option<&'a Uri> {
        self.uri
    }

    /// The request extensions (connection info, client certificate), when known.
    pub fn extensions(&self) -> Option<&'a Extensions> {
        self.extensions
    }
}

/// The token as presented: the authorization scheme and the token string.
///
/// `Debug` never shows the token. Confirmation checks use [`value`](Self::value) to compute
/// hashes such as DPoP's `ath`; nothing else should keep or log it.
#[derive(Clone, Copy)]
pub struct PresentedToken<'a> {
    scheme: &'a str,
    value: &'a str,
}

impl fmt::Debug for PresentedToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresentedToken")
            .field("scheme", &self.scheme)
            .field("value", &"[redacted]")
            .finish()
    }
}

impl<'a> PresentedToken<'a> {
    /// The authorization scheme as written (`Bearer`, or another scheme a check accepts).
    ///
    /// ```
    /// # use oxidp_api_auth::PresentedToken;
    /// # let token = PresentedToken::for_tests("Bearer", "abc");
    /// assert!(token.scheme().eq_ignore_ascii_case("bearer"));
    /// ```
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// The token itself. Never log it.
    ///
    /// ```
    /// # use oxidp_api_auth::PresentedToken;
    /// # let token = PresentedToken::for_tests("Bearer", "abc");
    /// assert_eq!(token.value(), "abc");
    /// ```
    pub fn value(&self) -> &'a str {
        self.value
    }

    /// A presented token built by hand, for testing confirmation checks.
    ///
    /// ```
    /// # use oxidp_api_auth::PresentedToken;
    /// let token = PresentedToken::for_tests("DPoP", "abc");
    /// assert_eq!(token.scheme(), "DPoP");
    /// ```
    pub fn for_tests(scheme: &'a str, value: &'a str) -> Self {
        Self { scheme, value }
    }

    /// Whether the token has the shape of a compact JWS (three dot-separated parts), which is
    /// how JWTs are told from reference tokens.
    pub(crate) fn looks_like_jwt(&self) -> bool {
        self.value.bytes().filter(|b| *b == b'.').count() == 2
    }
}

/// The token in the `Authorization` header, if its scheme is `Bearer` or one of `extra_schemes`.
///
/// No header, or another scheme (`Basic`, say): [`ErrorKind::MissingToken`]. Several
/// `Authorization` headers, an empty token, several tokens or characters outside RFC 6750's
/// `b64token`: [`ErrorKind::InvalidRequest`].
pub(crate) fn presented_token<'a>(
    headers: &'a HeaderMap,
    extra_schemes: &[&str],
) -> Result<PresentedToken<'a>, ErrorKind> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(ErrorKind::MissingToken);
    };
    if values.next().is_some() {
        return Err(ErrorKind::InvalidRequest(
            "the request has more than one Authorization header",
        ));
    }
    let value = value.to_str().map_err(|_| {
        ErrorKind::InvalidRequest("the Authorization header is not valid ASCII text")
    })?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let accepted = scheme.eq_ignore_ascii_case("bearer")
        || extra_schemes
            .iter()
            .any(|extra| scheme.eq_ignore_ascii_case(extra));
    if !accepted {
        return Err(ErrorKind::MissingToken);
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() {
        return Err(ErrorKind::InvalidRequest(
            "the Authorization header has no token",
        ));
    }
    if !is_b64token(token) {
        return Err(ErrorKind::InvalidRequest(if token.contains([' ', ',']) {
            "the Authorization header holds more than one token"
        } else {
            "the token contains characters a bearer token cannot hold"
        }));
    }
    Ok(PresentedToken {
        scheme,
        value: token,
    })
}

/// The scheme of the request's single `Authorization` header, if it has one.
pub(crate) fn presented_scheme(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    Some(value.split_once(' ').map_or(value, |(scheme, _)| scheme))
}

/// RFC 6750 §2.1: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn token(values: &[&str]) -> Result<String, ErrorKind> {
        presented_token(&headers(values), &[]).map(|t| t.value().to_owned())
    }

    #[test]
    fn a_bearer_token_is_read_whatever_the_scheme_case() {
        assert_eq!(token(&["Bearer abc.def-_~+/="]).unwrap(), "abc.def-_~+/=");
        assert_eq!(token(&["bearer abc"]).unwrap(), "abc");
    }

    #[test]
    fn no_header_or_another_scheme_is_a_missing_token() {
        assert_eq!(token(&[]), Err(ErrorKind::MissingToken));
        assert_eq!(token(&["Basic dXNlcjpwdw=="]), Err(ErrorKind::MissingToken));
        assert_eq!(token(&["DPoP abc"]), Err(ErrorKind::MissingToken));
    }

    #[test]
    fn malformed_headers_are_invalid_requests() {
        for values in [
            &["Bearer"][..],
            &["Bearer "],
            &["Bearer a b"],
            &["Bearer a,b"],
            &["Bearer a\"b"],
            &["Bearer =="],
            &["Bearer a", "Bearer b"],
        ] {
            assert!(
                matches!(token(values), Err(ErrorKind::InvalidRequest(_))),
                "{values:?}"
            );
        }
    }

    #[test]
    fn extra_schemes_are_accepted_when_a_check_asks_for_them() {
        let headers = headers(&["DPoP abc"]);
        let token = presented_token(&headers, &["DPoP"]).unwrap();
        assert_eq!((token.scheme(), token.value()), ("DPoP", "abc"));
    }

    #[test]
    fn jwts_are_told_from_reference_tokens_by_shape() {
        assert!(PresentedToken::for_tests("Bearer", "a.b.c").looks_like_jwt());
        assert!(!PresentedToken::for_tests("Bearer", "a.b").looks_like_jwt());
        assert!(!PresentedToken::for_tests("Bearer", "opaque").looks_like_jwt());
    }

    #[test]
    fn debug_hides_the_token() {
        let token = PresentedToken::for_tests("Bearer", "secret-token");
        assert!(!format!("{token:?}").contains("secret-token"));
    }
}
