//! What the browser pages do: the decisions behind the authorize endpoint and the login,
//! consent and logout pages, made once here so that the web edge only parses, calls one method
//! and renders the outcome.
//!
//! The edge hands over what it read (parameters, the browser's session, the form fields) and
//! receives a page to show, a response for the client, or a redirect between our own pages.
//! Every rule that matters — which return URLs may be followed after sign-in (no open
//! redirector), when a logout needs no confirmation, whether consent may be remembered, issuing
//! the code and recording the client in the session — lives in this module.

mod consent;
mod logout;

pub use consent::{ConsentDecision, ConsentPage, ConsentPageOutcome, ScopeDescription};
pub use logout::{LoggedOut, LogoutOutcome};

use super::authorize::{AuthorizeError, AuthorizeRequest, AuthorizeResponse, AuthorizeService};
use super::end_session::EndSessionService;
use super::login::{LoginError, LoginService};
use super::session::{SessionError, SessionService};
use super::session_management::SessionManagementService;
use super::{ConsentService, Context, Interaction, resume_after_login};
use crate::model::AuthenticationTicket;
use crate::options::paths;
use crate::params::Parameters;
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

/// A signed-in browser: its cookie value and the ticket behind it.
#[derive(Debug, Clone)]
pub struct BrowserSession {
    /// The cookie value (what the ticket store returned).
    pub cookie_value: String,
    /// The ticket.
    pub ticket: AuthenticationTicket,
}

/// Why a page cannot go on, as the user is told: the status and a message that never carries
/// internals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageFailure {
    /// The HTTP status.
    pub status: u16,
    /// What the user reads.
    pub message: Cow<'static, str>,
    /// The browser's session ended meanwhile: its cookie should go.
    pub session_ended: bool,
}

impl PageFailure {
    /// 400 with `message`.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, message)
    }

    /// A failure with any status.
    pub fn new(status: u16, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
            session_ended: false,
        }
    }

    /// 503: a store or another dependency is down.
    pub fn unavailable() -> Self {
        Self::new(503, "The service is temporarily unavailable.")
    }

    /// 400: the session ended between two steps (logged out elsewhere, revoked).
    pub fn session_ended() -> Self {
        Self {
            session_ended: true,
            ..Self::bad_request("Your session has ended. Start again from the application.")
        }
    }
}

impl From<crate::store::StoreError> for PageFailure {
    fn from(error: crate::store::StoreError) -> Self {
        tracing::error!(%error, "store failure behind a page");
        Self::unavailable()
    }
}

impl From<SessionError> for PageFailure {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Ended => Self::session_ended(),
            error => {
                tracing::error!(%error, "session store failure behind a page");
                Self::unavailable()
            }
        }
    }
}

/// Where the browser goes next from the authorize endpoint or the consent page.
#[derive(Debug, Clone)]
pub enum AuthorizeOutcome {
    /// To one of our pages (login, consent) with a return URL back to the request.
    Page(String),
    /// Back to the client with a code or an error. `session_cookie` is the new cookie value
    /// when recording the client changed it.
    Respond {
        /// The response.
        response: AuthorizeResponse,
        /// A new session cookie value, with the ticket it carries.
        session_cookie: Option<(String, Box<AuthenticationTicket>)>,
    },
    /// An error page: the client or its redirect URI cannot be trusted with the answer.
    Failure(PageFailure),
}

impl From<AuthorizeError> for AuthorizeOutcome {
    fn from(error: AuthorizeError) -> Self {
        match error {
            AuthorizeError::Page(error) => Self::Failure(PageFailure::bad_request(
                error
                    .description
                    .unwrap_or(Cow::Borrowed("The authorization request is invalid.")),
            )),
            AuthorizeError::Redirect(response) => Self::Respond {
                response,
                session_cookie: None,
            },
        }
    }
}

/// What the login page shows.
#[derive(Debug, Clone, Default)]
pub struct LoginPage {
    /// Where to go after signing in (kept in the form).
    pub return_url: String,
    /// The username to prefill (`login_hint`).
    pub login_hint: String,
    /// The client's display name, when the login is part of its request.
    pub client_name: Option<String>,
    /// The client redirect URI the form's submission may end at (for `form-action`).
    pub form_redirect: Option<String>,
}

/// The result of a sign-in attempt.
#[derive(Debug)]
pub enum LoginOutcome {
    /// Signed in: set the cookie and go to `next` (or show the signed-in page).
    SignedIn {
        /// The new cookie value.
        cookie_value: String,
        /// The ticket behind it.
        ticket: Box<AuthenticationTicket>,
        /// Where to continue, if the return URL may be followed.
        next: Option<String>,
    },
    /// Wrong credentials (whatever the reason): show the form again.
    Invalid,
    /// Too many failures: show the form with a wait message.
    Throttled,
}

/// The decisions of the interactive pages.
#[derive(Debug)]
pub struct InteractionService {
    ctx: Arc<Context>,
    authorize: Arc<AuthorizeService>,
    consent: Arc<ConsentService>,
    sessions: Arc<SessionService>,
    login: Arc<LoginService>,
    end_session: Arc<EndSessionService>,
    session_management: Arc<SessionManagementService>,
}

/// The services the interaction service drives.
pub(crate) struct InteractionParts {
    pub(crate) authorize: Arc<AuthorizeService>,
    pub(crate) consent: Arc<ConsentService>,
    pub(crate) sessions: Arc<SessionService>,
    pub(crate) login: Arc<LoginService>,
    pub(crate) end_session: Arc<EndSessionService>,
    pub(crate) session_management: Arc<SessionManagementService>,
}

impl InteractionService {
    pub(crate) fn new(ctx: Arc<Context>, parts: InteractionParts) -> Self {
        Self {
            ctx,
            authorize: parts.authorize,
            consent: parts.consent,
            sessions: parts.sessions,
            login: parts.login,
            end_session: parts.end_session,
            session_management: parts.session_management,
        }
    }

    /// The authorize endpoint: validate the request, then send the browser to login or
    /// consent, or issue the code.
    pub async fn authorize(
        &self,
        params: &Parameters,
        session: Option<BrowserSession>,
    ) -> AuthorizeOutcome {
        let request = match self.authorize.validate(params).await {
            Ok(request) => request,
            Err(error) => return error.into(),
        };
        let interaction = self
            .authorize
            .interaction(&request, session.as_ref().map(|s| &s.ticket))
            .await;
        match (interaction, session) {
            (Err(error), _) => error.into(),
            (Ok(Interaction::Login), _) => {
                AuthorizeOutcome::Page(page_url(paths::LOGIN, &resume_after_login(params)))
            }
            (Ok(Interaction::Consent), _) => {
                AuthorizeOutcome::Page(page_url(paths::CONSENT, params))
            }
            (Ok(Interaction::None), Some(session)) => {
                let scopes = request.scopes.scopes.clone();
                self.complete(&request, session, scopes).await
            }
            (Ok(Interaction::None), None) => AuthorizeOutcome::Failure(PageFailure::new(
                500,
                "The request could not be completed.",
            )),
        }
    }

    /// Issues the code for `scopes`, records the client in the session and answers the client.
    async fn complete(
        &self,
        request: &AuthorizeRequest,
        mut session: BrowserSession,
        scopes: Vec<String>,
    ) -> AuthorizeOutcome {
        let response = match self
            .authorize
            .issue_code(request, &session.ticket, scopes)
            .await
        {
            Ok(response) => response,
            Err(error) => {
                tracing::error!(%error, "cannot issue an authorization code");
                return AuthorizeOutcome::Failure(if error.status() == 503 {
                    PageFailure::unavailable()
                } else {
                    PageFailure::new(500, "The request could not be completed.")
                });
            }
        };
        let client_id = &request.client.client_id;
        match self
            .sessions
            .add_client(&session.cookie_value, &mut session.ticket, client_id)
            .await
        {
            Ok(changed) => AuthorizeOutcome::Respond {
                response,
                session_cookie: changed.map(|value| (value, Box::new(session.ticket))),
            },
            Err(error) => AuthorizeOutcome::Failure(error.into()),
        }
    }

    /// What the login page shows for `return_url`.
    pub async fn login_page(&self, return_url: String) -> LoginPage {
        let Some(params) = authorize_params(&return_url) else {
            return LoginPage {
                return_url,
                ..LoginPage::default()
            };
        };
        let request = self.authorize.validate(&params).await.ok();
        LoginPage {
            login_hint: params.get("login_hint").unwrap_or_default().to_owned(),
            client_name: request.as_ref().map(|r| r.client.display_name()),
            form_redirect: request.map(|r| r.redirect_uri),
            return_url,
        }
    }

    /// Signs the user in with a password. A signed-in browser's session (if any) is replaced.
    pub async fn login(
        &self,
        credentials: (&str, &str),
        client_ip: Option<IpAddr>,
        previous: Option<&BrowserSession>,
        return_url: &str,
    ) -> Result<LoginOutcome, PageFailure> {
        let (username, password) = credentials;
        if username.is_empty() || password.is_empty() {
            return Ok(LoginOutcome::Invalid);
        }
        let previous = previous.map(|s| (s.cookie_value.as_str(), &s.ticket));
        match self
            .login
            .login(username, password, client_ip, previous)
            .await
        {
            Ok((ticket, cookie_value)) => Ok(LoginOutcome::SignedIn {
                cookie_value,
                ticket: Box::new(ticket),
                next: followable(return_url).then(|| return_url.to_owned()),
            }),
            Err(LoginError::InvalidCredentials) => Ok(LoginOutcome::Invalid),
            Err(LoginError::Throttled) => Ok(LoginOutcome::Throttled),
            Err(error) => {
                tracing::error!(%error, "sign-in failed");
                Err(PageFailure::unavailable())
            }
        }
    }

    /// Seconds until the ticket expires (the cookie's `Max-Age`).
    pub fn cookie_max_age(&self, ticket: &AuthenticationTicket) -> i64 {
        self.sessions.max_age(ticket)
    }

    /// Whether cookies must be `Secure` (the issuer is https).
    pub fn secure_cookies(&self) -> bool {
        self.ctx.options.is_https()
    }
}

/// `/account/...?return_url=/connect/authorize?...`
fn page_url(page: &str, params: &Parameters) -> String {
    let return_url = format!("{}?{}", paths::AUTHORIZE, params.to_query());
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    serializer.append_pair("return_url", &return_url);
    format!("{page}?{}", serializer.finish())
}

/// The authorization parameters inside a return URL; `None` unless it is a local URL of the
/// authorization endpoint (anything else would make the login page an open redirector).
pub(crate) fn authorize_params(return_url: &str) -> Option<Parameters> {
    let query = return_url
        .strip_prefix(paths::AUTHORIZE)?
        .strip_prefix('?')?;
    Parameters::from_form(query.as_bytes()).ok()
}

/// Whether to send the browser on to `return_url` after sign-in: an authorization request of
/// ours, or a local admin page. Nothing else is followed (another origin, `//host`, a scheme,
/// a backslash), so the sign-in page cannot serve as an open redirect.
pub fn followable(return_url: &str) -> bool {
    authorize_params(return_url).is_some() || admin_path(return_url)
}

/// A path under `/admin/`: visible ASCII only (no backslash, which browsers read as `/`), no
/// `//` anywhere and no `..` segment, so it cannot leave the origin or the admin area.
fn admin_path(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    url.starts_with("/admin/")
        && !url.contains("//")
        && url.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
        && !path.split('/').any(|segment| segment == "..")
}

#[cfg(test)]
mod tests {
    use super::followable;

    #[test]
    fn admin_pages_and_authorize_requests_are_followed() {
        assert!(followable("/admin/sessions"));
        assert!(followable("/admin/sessions?subject_id=a%2Fb&count=1"));
        assert!(followable("/connect/authorize?client_id=web"));
    }

    #[test]
    fn anything_else_is_not_followed() {
        for url in [
            "",
            "/",
            "/admin",
            "//evil.example/admin/",
            "https://evil.example/admin/x",
            "javascript:alert(1)",
            "/admin//evil.example",
            "/admin/\\evil.example",
            "/admin/../account/logout",
            "/admin/x?next=https://evil.example",
            "/admin/x y",
            "/admin/x\r\nSet-Cookie:a=b",
            "/account/login",
            "/connect/authorize",
        ] {
            assert!(!followable(url), "{url:?} must not be followed");
        }
    }
}
