//! A rendered page and the security headers every HTML response carries.
//!
//! Each page gets `Cache-Control: no-store`, `X-Frame-Options: DENY`,
//! `Referrer-Policy: no-referrer`, `X-Content-Type-Options: nosniff` and a strict
//! `Content-Security-Policy` (no scripts, inline styles only, forms to ourselves, no framing).
//! Chrome and Safari also check `form-action` against the redirects that follow a form
//! submission, so a page whose form ends in a redirect to a client (login, consent) must name
//! that client's origin: see [`Page::allow_form_redirect_to`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use url::{Origin, Url};

/// Schemes that can run script or read local data; never allowed as a form target or link.
const DANGEROUS_SCHEMES: &[&str] = &["javascript", "data", "vbscript", "blob", "file", "about"];

/// A rendered HTML page with its status and Content-Security-Policy. Convert it into a response
/// with [`IntoResponse`]; the security headers are added then.
#[derive(Debug, Clone)]
pub struct Page {
    html: String,
    status: StatusCode,
    form_action: Vec<String>,
    script_nonce: Option<String>,
}

impl Page {
    /// A page with status 200 whose forms may post to our own origin only.
    pub(crate) fn new(html: String) -> Self {
        Self {
            html,
            status: StatusCode::OK,
            form_action: vec!["'self'".to_owned()],
            script_nonce: None,
        }
    }

    /// A page whose only form posts to `source` (a CSP source expression) and whose only
    /// script carries `nonce`.
    pub(crate) fn form_post(html: String, source: String, nonce: String) -> Self {
        Self {
            html,
            status: StatusCode::OK,
            form_action: vec![source],
            script_nonce: Some(nonce),
        }
    }

    /// The same page with another status (e.g. 400 for a failed sign-in).
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Also allows, in `form-action`, the origin of `uri`: the client redirect URI (as given in
    /// the request) that a submission of this page's form ends at. Without it Chrome blocks
    /// the final redirect of login and consent. A URI that does not parse, or has a
    /// script-capable scheme, is ignored (and logged).
    #[must_use]
    pub fn allow_form_redirect_to(mut self, uri: &str) -> Self {
        match csp_source(uri) {
            Some(source) if !self.form_action.contains(&source) => self.form_action.push(source),
            Some(_) => {}
            None => tracing::warn!("redirect URI not usable as a form-action source; ignored"),
        }
        self
    }

    /// The HTML body.
    pub fn html(&self) -> &str {
        &self.html
    }

    /// The response status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `Content-Security-Policy` header value this page is served with.
    pub fn content_security_policy(&self) -> String {
        let mut csp = String::from("default-src 'none'; style-src 'unsafe-inline'; ");
        if let Some(nonce) = &self.script_nonce {
            csp.push_str("script-src 'nonce-");
            csp.push_str(nonce);
            csp.push_str("'; ");
        }
        csp.push_str("form-action ");
        csp.push_str(&self.form_action.join(" "));
        csp.push_str("; frame-ancestors 'none'; base-uri 'none'");
        csp
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let csp = self.content_security_policy();
        let mut response = (self.status, Html(self.html)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        match HeaderValue::try_from(csp) {
            Ok(value) => {
                headers.insert(header::CONTENT_SECURITY_POLICY, value);
            }
            // Unreachable: every part is checked ASCII. Fail closed rather than serve without.
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
        response
    }
}

/// The CSP source expression for the origin of `uri`: `scheme://host[:port]`, or `scheme:` for
/// a URI without a tuple origin (a native app's private-use scheme). `None` when the URI does
/// not parse, has a dangerous scheme, or the result holds characters a source may not.
pub(crate) fn csp_source(uri: &str) -> Option<String> {
    let url = Url::parse(uri).ok()?;
    if DANGEROUS_SCHEMES.contains(&url.scheme()) {
        return None;
    }
    let source = match url.origin() {
        origin @ Origin::Tuple(..) => origin.ascii_serialization(),
        Origin::Opaque(_) => format!("{}:", url.scheme()),
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+-.:/[]".contains(c);
    source.chars().all(allowed).then_some(source)
}

/// Whether `uri` is safe to put in an `href`: it parses and has no script-capable scheme.
pub(crate) fn safe_link(uri: &str) -> bool {
    Url::parse(uri).is_ok_and(|url| !DANGEROUS_SCHEMES.contains(&url.scheme()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_source_is_the_origin() {
        let source = |uri| csp_source(uri);
        assert_eq!(
            source("https://app.example/cb?x=1").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(
            source("http://127.0.0.1:53211/cb").as_deref(),
            Some("http://127.0.0.1:53211")
        );
        assert_eq!(
            source("http://[::1]:8080/").as_deref(),
            Some("http://[::1]:8080")
        );
        assert_eq!(
            source("com.example.app:/cb").as_deref(),
            Some("com.example.app:")
        );
        assert_eq!(source("javascript:alert(1)"), None);
        assert_eq!(source("data:text/html,x"), None);
        assert_eq!(source("not a url"), None);
    }

    #[test]
    fn allow_form_redirect_to_extends_form_action_once() {
        let page = Page::new(String::new())
            .allow_form_redirect_to("https://app.example/cb")
            .allow_form_redirect_to("https://app.example/other")
            .allow_form_redirect_to("javascript:alert(1)");
        assert_eq!(
            page.content_security_policy(),
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' \
             https://app.example; frame-ancestors 'none'; base-uri 'none'"
        );
    }
}
