//! The browser side of a session: the authentication cookie, CSRF for our forms, and the
//! responses that send a browser elsewhere (redirects, form posts to clients, error pages).

use crate::csrf::Csrf;
use crate::pages::{FormPostView, render_error_page};
use crate::routes::AppState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use oxidp_core::model::AuthenticationTicket;
use oxidp_core::services::{AuthorizeResponse, ResponseMode};

/// A signed-in browser: its cookie value and ticket.
#[derive(Debug, Clone)]
pub struct BrowserSession {
    /// The cookie value (what the ticket store returned).
    pub cookie_value: String,
    /// The ticket.
    pub ticket: AuthenticationTicket,
}

impl AppState {
    /// The name of the authentication cookie (`__Host-` prefixed over https).
    pub fn session_cookie_name(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-oxidp.session"
        } else {
            "oxidp.session"
        }
    }

    /// The browser's session, if its cookie holds a valid one. A new cookie value (sliding
    /// renewal, or a cookie converted by session migration) goes into the returned jar; an
    /// invalid cookie is removed.
    pub async fn browser_session(
        &self,
        jar: CookieJar,
    ) -> Result<(Option<BrowserSession>, CookieJar), Response> {
        let Some(cookie) = jar.get(self.session_cookie_name()) else {
            return Ok((None, jar));
        };
        let cookie_value = cookie.value().to_owned();
        let authenticated = self
            .idp
            .sessions
            .authenticate(&cookie_value)
            .await
            .map_err(|error| {
                tracing::error!(%error, "session store failed");
                self.error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The service is temporarily unavailable.",
                )
            })?;
        match authenticated {
            None => Ok((None, jar.add(self.removal_cookie()))),
            Some(authenticated) => {
                let (cookie_value, jar) = match authenticated.renewed_cookie {
                    Some(renewed) => {
                        let jar =
                            jar.add(self.session_cookie(renewed.clone(), &authenticated.ticket));
                        (renewed, jar)
                    }
                    None => (cookie_value, jar),
                };
                Ok((
                    Some(BrowserSession {
                        cookie_value,
                        ticket: authenticated.ticket,
                    }),
                    jar,
                ))
            }
        }
    }

    /// The authentication cookie for `value`: `HttpOnly`, `SameSite=Lax` (it must travel on the
    /// top-level redirect from a client), `Secure` over https, expiring with the ticket.
    pub fn session_cookie(&self, value: String, ticket: &AuthenticationTicket) -> Cookie<'static> {
        Cookie::build((self.session_cookie_name(), value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure_cookies)
            .path("/")
            .max_age(time::Duration::seconds(self.idp.sessions.max_age(ticket)))
            .build()
    }

    /// A cookie that deletes the authentication cookie.
    pub fn removal_cookie(&self) -> Cookie<'static> {
        Cookie::build((self.session_cookie_name(), ""))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure_cookies)
            .path("/")
            .max_age(time::Duration::ZERO)
            .build()
    }

    /// CSRF protection keyed by a secret derived from the shared data-protection key ring, so
    /// a form rendered by one instance can be posted to another.
    pub async fn csrf(&self) -> Result<Csrf, Response> {
        let key = self
            .idp
            .context
            .protector
            .derive_secret("oxidp.csrf.v1")
            .await
            .map_err(|error| {
                tracing::error!(%error, "cannot derive the CSRF key");
                self.error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The service is temporarily unavailable.",
                )
            })?;
        Ok(Csrf::new(key, self.secure_cookies))
    }

    /// The error page; `message` is shown to the user, so it must never carry internals.
    pub fn error_page(&self, status: StatusCode, message: &str) -> Response {
        render_error_page(&self.pages, status, message)
    }

    /// Sends an authorization response to the client: a redirect, or a form post page.
    pub fn authorize_response(&self, response: &AuthorizeResponse, jar: CookieJar) -> Response {
        match response.response_mode {
            ResponseMode::Query => (jar, Redirect::to(&response.redirect_url())).into_response(),
            ResponseMode::FormPost => {
                let view = FormPostView {
                    action: response.redirect_uri.clone(),
                    fields: response.parameters.clone(),
                };
                match self.pages.form_post(&view) {
                    Ok(page) => (jar, page).into_response(),
                    Err(error) => {
                        tracing::error!(%error, "form_post template failed");
                        self.error_page(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "The response could not be delivered.",
                        )
                    }
                }
            }
        }
    }
}
