//! View models: the exact data each template sees. Templates read these fields by name, so an
//! operator's override can rely on them; renaming a field is a breaking change for overrides.

use serde::Serialize;

/// The sign-in form, posted to `/account/login` with `username`, `password`, `return_url` and
/// `csrf_token`.
#[derive(Debug, Clone, Serialize)]
pub struct LoginView {
    /// Where to continue after a successful sign-in (a local URL, checked by the handler).
    pub return_url: String,
    /// Prefill for the username field, e.g. the `login_hint` or the name just tried.
    pub username: String,
    /// A message for the user, shown in a `role="alert"` element; never an internal error.
    pub error: Option<String>,
    /// The CSRF token for this browser (see [`crate::csrf::Csrf::token_for`]).
    pub csrf_token: String,
    /// The display name of the client the user is signing in to, when there is one.
    pub client_name: Option<String>,
}

/// One scope on the consent page.
#[derive(Debug, Clone, Serialize)]
pub struct ScopeView {
    /// The scope value submitted in the `scopes` field.
    pub name: String,
    /// A human-readable label.
    pub display_name: String,
    /// An optional longer explanation shown under the label.
    pub description: Option<String>,
    /// Required scopes are shown checked and disabled, and submitted through a hidden input.
    pub required: bool,
}

/// The consent form, posted to `/account/consent` with `scopes` (repeated), `remember`
/// (`"true"` when checked, absent otherwise), `button` (`"yes"` or `"no"`), `return_url` and
/// `csrf_token`.
#[derive(Debug, Clone, Serialize)]
pub struct ConsentView {
    /// Where to continue after the decision.
    pub return_url: String,
    /// The client's display name.
    pub client_name: String,
    /// The client's id, shown in small print.
    pub client_id: String,
    /// Identity (OpenID Connect) scopes, e.g. `openid`, `profile`, `email`.
    pub identity_scopes: Vec<ScopeView>,
    /// API (resource) scopes.
    pub api_scopes: Vec<ScopeView>,
    /// Whether to offer the "Remember my decision" checkbox.
    pub allow_remember: bool,
    /// The CSRF token for this browser.
    pub csrf_token: String,
}

/// The sign-out confirmation, posted to `/account/logout` with `logout_id` and `csrf_token`.
#[derive(Debug, Clone, Serialize)]
pub struct LogoutView {
    /// Identifies the pending logout request (may be empty when none is pending).
    pub logout_id: String,
    /// The CSRF token for this browser.
    pub csrf_token: String,
}

/// The page shown after signing out.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedOutView {
    /// A validated post-logout redirect URI to offer as a link back to the client. The page
    /// drops it if it does not parse as a URL or uses a script-capable scheme.
    pub post_logout_redirect_uri: Option<String>,
    /// The client's display name for the link text ("the application" when absent).
    pub client_name: Option<String>,
}

/// A generic error page. `message` is shown to the user as is: keep internals out of it.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorView {
    /// A random id also written to the log, so support can find the details.
    pub error_id: String,
    /// A short heading.
    pub title: String,
    /// A user-facing explanation.
    pub message: String,
}

/// The OAuth `response_mode=form_post` page: a form that posts `fields` to the client's
/// redirect URI, submitted by a tiny nonce-allowed script or by the user's click.
#[derive(Debug, Clone, Serialize)]
pub struct FormPostView {
    /// The client's (validated) redirect URI.
    pub action: String,
    /// The response parameters, e.g. `("code", ...)`, `("state", ...)`, `("iss", ...)`.
    pub fields: Vec<(String, String)>,
}

impl LoginView {
    pub(super) fn sample() -> Self {
        Self {
            return_url: "/connect/authorize?client_id=sample".into(),
            username: "alice".into(),
            error: Some("Sample error".into()),
            csrf_token: "sample-csrf".into(),
            client_name: Some("Sample app".into()),
        }
    }
}

impl ConsentView {
    pub(super) fn sample() -> Self {
        let scope = |name: &str, required| ScopeView {
            name: name.into(),
            display_name: name.into(),
            description: Some("Sample description".into()),
            required,
        };
        Self {
            return_url: "/connect/authorize?client_id=sample".into(),
            client_name: "Sample app".into(),
            client_id: "sample".into(),
            identity_scopes: vec![scope("openid", true), scope("profile", false)],
            api_scopes: vec![scope("api.read", false)],
            allow_remember: true,
            csrf_token: "sample-csrf".into(),
        }
    }
}

impl LogoutView {
    pub(super) fn sample() -> Self {
        Self {
            logout_id: "sample".into(),
            csrf_token: "sample-csrf".into(),
        }
    }
}

impl LoggedOutView {
    pub(super) fn sample() -> Self {
        Self {
            post_logout_redirect_uri: Some("https://app.example/signed-out".into()),
            client_name: Some("Sample app".into()),
        }
    }
}

impl ErrorView {
    pub(super) fn sample() -> Self {
        Self {
            error_id: "0011223344556677".into(),
            title: "Sample title".into(),
            message: "Sample message".into(),
        }
    }
}

impl FormPostView {
    pub(super) fn sample() -> Self {
        Self {
            action: "https://app.example/callback".into(),
            fields: vec![
                ("code".into(), "sample".into()),
                ("state".into(), "s".into()),
            ],
        }
    }
}
