//! The administration pages under `/admin`, for signed-in users with the `admin` role.
//!
//! Authorization is by construction: every handler here takes an [`Admin`] extractor, and the
//! [`AdminContext`] inside it can only be made by the core's role check. An anonymous browser is sent to the sign-in page with a return URL back here;
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

use crate::error::PageError;
use crate::routes::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use oxidp_core::options::paths;
use oxidp_core::services::AdminContext;

/// The session administration page.
pub(crate) const SESSIONS_PATH: &str = "/admin/sessions";

/// Extracts the signed-in administrator, or answers for the handler: 303 to the sign-in page
/// for an anonymous browser, 403 for a signed-in user without the role. The [`AdminContext`]
/// inside can only come from the core's role check.
#[derive(Debug)]
pub(crate) struct Admin {
    /// Who is acting.
    pub(crate) admin: AdminContext,
    /// The request's cookies, with the session cookie renewed when the session slid: return it
    /// with the response.
    pub(crate) jar: CookieJar,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let (session, jar) = state
            .browser_session(jar)
            .await
            .map_err(IntoResponse::into_response)?;
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
        match state.idp.admin.for_signed_in_user(&session.ticket).await {
            Ok(Some(admin)) => Ok(Admin { admin, jar }),
            Ok(None) => {
                tracing::warn!(subject_id = %session.ticket.subject_id, "admin page refused");
                let page = PageError::new(
                    StatusCode::FORBIDDEN,
                    "You do not have permission to view this page.",
                );
                Err((jar, page).into_response())
            }
            Err(error) => {
                tracing::error!(%error, "user store failed");
                Err((jar, PageError::unavailable()).into_response())
            }
        }
    }
}
