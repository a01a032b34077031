//! The browser side of a session: the authentication cookie, CSRF for our forms, and the
//! responses that send a browser elsewhere (redirects, form posts to clients, error pages).
//!
//! Two extractors carry the repeated parts of every page handler: [`Browser`] (the cookie jar
//! and the signed-in session, renewed when it slid) and [`CsrfForm`] (a form body whose CSRF
//! token has been checked before the handler runs).

use crate::csrf::{CSRF_FIELD, Csrf};
use crate::error::PageError;
use crate::pages::{FormPostView, render_error_page};
use crate::routes::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use oxidp_core::model::AuthenticationTicket;
use oxidp_core::services::{AuthorizeOutcome, AuthorizeResponse, BrowserSession, ResponseMode};
use serde::de::DeserializeOwned;

/// The browser's cookies and its signed-in session, if any. Return `jar` with the response:
/// it carries the renewed (or removed) session cookie.
#[derive(Debug)]
pub struct Browser {
    /// The signed-in session.
    pub session: Option<BrowserSession>,
    /// The cookies, updated.
    pub jar: CookieJar,
}

impl FromRequestParts<AppState> for Browser {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let jar = CookieJar::from_headers(&parts.headers);
        let (session, jar) = state.browser_session(jar).await?;
        Ok(Self { session, jar })
    }
}

/// A form body of type `T` whose CSRF token matched the browser's CSRF cookie. A malformed
/// form, or one whose token does not match, never reaches the handler.
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, PageError> {
        let jar = CookieJar::from_headers(request.headers());
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    PageError::new(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.")
                } else {
                    PageError::bad_request("The form is malformed.")
                }
            })?;
        let form: T = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| PageError::bad_request("The form is malformed."))?;
        let token: Option<String> = form_urlencoded::parse(&bytes)
            .find(|(name, _)| name == CSRF_FIELD)
            .map(|(_, value)| value.into_owned());
        drop(bytes);
        let csrf = state.csrf().await?;
        if !csrf.verify_jar(&jar, token.as_deref()) {
            return Err(PageError::bad_request(
                "The form has expired. Go back and try again.",
            ));
        }
        Ok(Self(form))
    }
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
    ) -> Result<(Option<BrowserSession>, CookieJar), PageError> {
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
                PageError::unavailable()
            })?;
        let Some(authenticated) = authenticated else {
            return Ok((None, jar.add(self.removal_cookie())));
        };
        let (cookie_value, jar) = match authenticated.renewed_cookie {
            Some(renewed) => {
                let jar = jar.add(self.session_cookie(renewed.clone(), &authenticated.ticket));
                (renewed, jar)
            }
            None => (cookie_value, jar),
        };
        let session = BrowserSession {
            cookie_value,
            ticket: authenticated.ticket,
        };
        Ok((Some(session), jar))
    }

    /// The authentication cookie for `value`: `HttpOnly`, `SameSite=Lax` (it must travel on the
    /// top-level redirect from a client), `Secure` over https, expiring with the ticket.
    pub fn session_cookie(&self, value: String, ticket: &AuthenticationTicket) -> Cookie<'static> {
        Cookie::build((self.session_cookie_name(), value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure_cookies)
            .path("/")
            .max_age(time::Duration::seconds(
                self.idp.interaction.cookie_max_age(ticket),
            ))
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
    pub async fn csrf(&self) -> Result<Csrf, PageError> {
        let key = self
            .idp
            .protector()
            .derive_secret("oxidp.csrf.v1")
            .await
            .map_err(|error| {
                tracing::error!(%error, "cannot derive the CSRF key");
                PageError::unavailable()
            })?;
        Ok(Csrf::new(key, self.secure_cookies))
    }

    /// The CSRF token for a form on the page about to be rendered, and the jar that carries
    /// its cookie.
    pub async fn csrf_token(&self, jar: CookieJar) -> Result<(String, CookieJar), PageError> {
        let (token, cookie) = self.csrf().await?.token_for(&jar);
        let jar = match cookie {
            Some(cookie) => jar.add(cookie),
            None => jar,
        };
        Ok((token, jar))
    }

    /// The error page; `message` is shown to the user, so it must never carry internals.
    pub fn error_page(&self, status: StatusCode, message: &str) -> Response {
        render_error_page(&self.pages, status, message)
    }

    /// Where an authorize-like decision sends the browser: one of our pages, the client
    /// (redirect or form post, with a renewed cookie when recording the client changed it),
    /// or the error page (removing the cookie when the session ended).
    pub fn authorize_outcome(&self, outcome: AuthorizeOutcome, jar: CookieJar) -> Response {
        match outcome {
            AuthorizeOutcome::Page(url) => (jar, Redirect::to(&url)).into_response(),
            AuthorizeOutcome::Respond {
                response,
                session_cookie,
            } => {
                let jar = match session_cookie {
                    Some((value, ticket)) => jar.add(self.session_cookie(value, &ticket)),
                    None => jar,
                };
                self.authorize_response(&response, jar)
            }
            AuthorizeOutcome::Failure(failure) => {
                let jar = if failure.session_ended {
                    jar.add(self.removal_cookie())
                } else {
                    jar
                };
                (jar, PageError::from(failure)).into_response()
            }
        }
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
                        PageError::new(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "The response could not be delivered.",
                        )
                        .into_response()
                    }
                }
            }
        }
    }
}
