//! The administration pages under `/admin`, for signed-in users with the `admin` role.
//!
//! Authorization is by construction: every handler here takes an [`Admin`] extractor, and the
//! [`AdminUser`] inside it can only be made by that extractor's check (its field is private to
//! this module). An anonymous browser is sent to the sign-in page with a return URL back here;
//! a signed-in user without the role gets a 403 error page. The check reads the user record on
//! every request, so taking the role away takes effect at once.
//!
//! - `GET /admin/sessions` ([`sessions`]): query, page and inspect sessions, back-channel
//!   deliveries and the audit log.
//! - `POST /admin/sessions/revoke` ([`revoke`]): remove a session (CSRF-checked, audited), then
//!   redirect back with a flash message (post-redirect-get).

mod flash;
mod revoke;
mod sessions;

pub(crate) use revoke::revoke;
pub(crate) use sessions::sessions;

use crate::routes::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use oxidp_core::options::paths;

/// The role that opens the admin pages.
pub(crate) const ADMIN_ROLE: &str = "admin";

/// The session administration page.
pub(crate) const SESSIONS_PATH: &str = "/admin/sessions";

/// A signed-in, enabled user holding the [`ADMIN_ROLE`]. Only [`Admin`]'s check makes one.
#[derive(Debug, Clone)]
pub(crate) struct AdminUser {
    subject_id: String,
}

impl AdminUser {
    /// The administrator's subject id.
    pub(crate) fn subject_id(&self) -> &str {
        &self.subject_id
    }
}

/// Extracts the signed-in administrator, or answers for the handler: 303 to the sign-in page
/// for an anonymous browser, 403 for a signed-in user without the role.
#[derive(Debug)]
pub(crate) struct Admin {
    /// Who is acting.
    pub(crate) user: AdminUser,
    /// The request's cookies, with the session cookie renewed when the session slid: return it
    /// with the response.
    pub(crate) jar: CookieJar,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let (session, jar) = state.browser_session(jar).await?;
        let Some(session) = session else {
            // A POST cannot be replayed after sign-in: come back to the page instead.
            let return_url = match (&parts.method, parts.uri.path_and_query()) {
                (&Method::GET, Some(path)) => path.as_str(),
                _ => SESSIONS_PATH,
            };
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("return_url", return_url)
                .finish();
            let location = format!("{}?{query}", paths::LOGIN);
            return Err((jar, Redirect::to(&location)).into_response());
        };
        let user = state
            .idp
            .context
            .stores
            .users
            .find_user_by_subject(&session.ticket.subject_id)
            .await
            .map_err(|error| {
                tracing::error!(%error, "user store failed");
                state.error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The service is temporarily unavailable.",
                )
            })?;
        match user {
            Some(user) if user.enabled && user.has_role(ADMIN_ROLE) => Ok(Admin {
                user: AdminUser {
                    subject_id: user.subject_id,
                },
                jar,
            }),
            _ => {
                tracing::warn!(subject_id = %session.ticket.subject_id, "admin page refused");
                let page = state.error_page(
                    StatusCode::FORBIDDEN,
                    "You do not have permission to view this page.",
                );
                Err((jar, page).into_response())
            }
        }
    }
}
