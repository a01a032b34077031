//! The web app's HTML: minijinja templates embedded from `templates/`, with HTML auto-escaping
//! (claims and messages are never trusted as markup), and the cookie helpers.

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use std::sync::LazyLock;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The templates, parsed once; they are part of the binary, so a parse error is a bug that
/// the tests catch.
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    for (name, source) in [
        ("layout.html", include_str!("../../templates/layout.html")),
        ("home.html", include_str!("../../templates/home.html")),
        ("message.html", include_str!("../../templates/message.html")),
    ] {
        if let Err(error) = env.add_template(name, source) {
            tracing::error!(%error, template = name, "template does not parse");
        }
    }
    env
});

/// Renders `name` with `view`; pages are never cached (they show a session's state).
pub(crate) fn render(name: &str, view: impl Serialize) -> Response {
    let page = TEMPLATES
        .get_template(name)
        .and_then(|template| template.render(Serde(view)));
    match page {
        Ok(page) => {
            let mut response = Html(page).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            tracing::error!(%error, template = name, "page rendering failed");
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown.",
            )
                .into_response()
        }
    }
}

/// The message page's view.
#[derive(Serialize)]
pub(crate) struct MessageView<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

/// A time as the pages show it: RFC 3339, whole seconds, UTC.
pub(crate) fn display_time(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// A cookie only this app's pages read: `HttpOnly` (no script sees it), `SameSite=Lax` (sent
/// on the identity server's redirect back, not on cross-site POSTs), `Secure` over https.
pub(crate) fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build()
}

/// The cookie that deletes `name`.
pub(crate) fn removal(name: &'static str) -> Cookie<'static> {
    Cookie::build((name, "")).path("/").build()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    #[test]
    fn every_template_parses() {
        for name in ["layout.html", "home.html", "message.html"] {
            assert!(TEMPLATES.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn messages_are_escaped() {
        let view = MessageView {
            title: "Oops",
            message: "<script>alert(1)</script>",
        };
        let page = TEMPLATES
            .get_template("message.html")
            .unwrap()
            .render(Serde(view))
            .unwrap();
        assert!(page.contains("&lt;script&gt;"), "{page}");
        assert!(!page.contains("<script>"), "{page}");
    }
}
