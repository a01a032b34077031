//! The server-rendered pages: sign-in, consent, sign-out, error and the OAuth form_post page.
//!
//! Templates are minijinja with HTML auto-escaping. The defaults are embedded in the binary;
//! an operator can re-brand by pointing [`Pages::new`] at a directory holding any of
//! [`TEMPLATE_NAMES`] (e.g. a new `layout.html` alone). Every template is parsed, and rendered
//! once with sample data, at start-up, so a broken override stops the server with the file's
//! name instead of failing a user's sign-in later. Undefined variables are errors.
//!
//! Each render function takes a typed view model and returns a [`Page`], which carries the
//! security headers and Content-Security-Policy when turned into a response.

mod admin;
mod response;
mod views;

use std::path::Path;

use anyhow::Context as _;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

pub use admin::*;
pub use response::Page;
pub use views::{
    ConsentView, ErrorView, FormPostView, LoggedOutView, LoginView, LogoutView, ScopeView,
};

/// The product name shown in the header of every page (the `product_name` global).
const PRODUCT_NAME: &str = "oxidp";

/// The embedded default templates, by name.
const DEFAULTS: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("consent.html", include_str!("../templates/consent.html")),
    ("logout.html", include_str!("../templates/logout.html")),
    (
        "logged_out.html",
        include_str!("../templates/logged_out.html"),
    ),
    ("error.html", include_str!("../templates/error.html")),
    (
        "form_post.html",
        include_str!("../templates/form_post.html"),
    ),
    (
        "admin_sessions.html",
        include_str!("../templates/admin_sessions.html"),
    ),
];

/// The names of the templates an override directory may replace.
pub const TEMPLATE_NAMES: [&str; 8] = [
    "layout.html",
    "login.html",
    "consent.html",
    "logout.html",
    "logged_out.html",
    "error.html",
    "form_post.html",
    "admin_sessions.html",
];

/// Shown when even the error template fails: static, so it cannot fail or leak.
const FALLBACK_ERROR_HTML: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Error</title></head><body><main><h1>Something went wrong</h1>\
<p>Please try again later.</p></main></body></html>";

/// A page failed to render.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The template engine failed (in practice only with an operator's override).
    #[error("template rendering failed")]
    Render(#[from] minijinja::Error),
    /// The form_post target is not a URL usable as a form action.
    #[error("the form_post action is not a usable URL")]
    InvalidAction,
}

/// The page renderer: a template environment with the defaults and any overrides loaded.
#[derive(Debug)]
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    /// Loads the embedded templates, then every `NAME.html` in `override_dir` that matches one
    /// of [`TEMPLATE_NAMES`] in place of the default. Other files there are ignored with a
    /// warning. Fails, naming the file, when a template does not parse or does not render with
    /// sample data.
    pub fn new(override_dir: Option<&Path>) -> anyhow::Result<Pages> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_global("product_name", PRODUCT_NAME);
        for (name, source) in DEFAULTS {
            env.add_template(name, source)
                .with_context(|| format!("embedded template {name} does not parse"))?;
        }
        if let Some(dir) = override_dir {
            load_overrides(&mut env, dir)?;
        }
        let pages = Pages { env };
        pages.self_test()?;
        Ok(pages)
    }

    /// The sign-in page.
    pub fn login(&self, view: &LoginView) -> Result<Page, RenderError> {
        self.render("login.html", view).map(Page::new)
    }

    /// The consent page. Chain [`Page::allow_form_redirect_to`] with the client's redirect URI.
    pub fn consent(&self, view: &ConsentView) -> Result<Page, RenderError> {
        self.render("consent.html", view).map(Page::new)
    }

    /// The sign-out confirmation page.
    pub fn logout(&self, view: &LogoutView) -> Result<Page, RenderError> {
        self.render("logout.html", view).map(Page::new)
    }

    /// The signed-out page. A redirect URI that is not a safe link is left out.
    pub fn logged_out(&self, view: &LoggedOutView) -> Result<Page, RenderError> {
        let mut view = view.clone();
        view.post_logout_redirect_uri = view
            .post_logout_redirect_uri
            .filter(|uri| response::safe_link(uri));
        self.render("logged_out.html", &view).map(Page::new)
    }

    /// A generic error page (status 200 until [`Page::with_status`]); see also
    /// [`render_error_page`].
    pub fn error(&self, view: &ErrorView) -> Result<Page, RenderError> {
        self.render("error.html", view).map(Page::new)
    }

    /// The `response_mode=form_post` page: its CSP allows forms to the action's origin only and
    /// the one inline script, through a fresh nonce.
    pub fn form_post(&self, view: &FormPostView) -> Result<Page, RenderError> {
        let source = response::csp_source(&view.action).ok_or(RenderError::InvalidAction)?;
        let nonce = oxidp_jose::b64url_encode(oxidp_jose::random_bytes::<16>());
        #[derive(Serialize)]
        struct WithNonce<'a> {
            #[serde(flatten)]
            view: &'a FormPostView,
            csp_nonce: &'a str,
        }
        let html = self.render(
            "form_post.html",
            &WithNonce {
                view,
                csp_nonce: &nonce,
            },
        )?;
        Ok(Page::form_post(html, source, nonce))
    }

    fn render<T: Serialize>(&self, name: &str, view: &T) -> Result<String, RenderError> {
        Ok(self.env.get_template(name)?.render(Serde(view))?)
    }

    /// Renders every page with sample data so broken overrides fail at start-up.
    fn self_test(&self) -> anyhow::Result<()> {
        let check = |name: &str, result: Result<Page, RenderError>| {
            result
                .map(drop)
                .map_err(anyhow::Error::new)
                .with_context(|| format!("template {name} does not render with sample data"))
        };
        check("login.html", self.login(&LoginView::sample()))?;
        check("consent.html", self.consent(&ConsentView::sample()))?;
        check("logout.html", self.logout(&LogoutView::sample()))?;
        check("logged_out.html", self.logged_out(&LoggedOutView::sample()))?;
        check("error.html", self.error(&ErrorView::sample()))?;
        check("form_post.html", self.form_post(&FormPostView::sample()))?;
        check(
            "admin_sessions.html",
            self.admin_sessions(&AdminSessionsView::sample()),
        )
    }
}

fn load_overrides(env: &mut Environment<'static>, dir: &Path) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read template directory {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !TEMPLATE_NAMES.contains(&name.as_str()) {
            tracing::warn!(file = %path.display(), "unknown file in the template directory; ignored");
            continue;
        }
        let source = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read template {}", path.display()))?;
        env.add_template_owned(name, source)
            .with_context(|| format!("template {} does not parse", path.display()))?;
        tracing::info!(file = %path.display(), "template overridden");
    }
    Ok(())
}

/// Renders the error page with `status` and a fresh error id, logs the id with `tracing::warn!`,
/// and returns the response. `message` is shown to the user: a generic explanation, never an
/// internal error. Falls back to a static page if the template fails.
pub fn render_error_page(pages: &Pages, status: StatusCode, message: &str) -> Response {
    let error_id: String = oxidp_jose::random_bytes::<8>()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    tracing::warn!(error_id = %error_id, status = status.as_u16(), message, "error page shown");
    let title = if status.is_server_error() {
        "Something went wrong"
    } else {
        status.canonical_reason().unwrap_or("Error")
    };
    let view = ErrorView {
        error_id,
        title: title.to_owned(),
        message: message.to_owned(),
    };
    match pages.error(&view) {
        Ok(page) => page.with_status(status).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "error template failed to render");
            Page::new(FALLBACK_ERROR_HTML.to_owned())
                .with_status(status)
                .into_response()
        }
    }
}
