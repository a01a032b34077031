//! `POST /admin/sessions/revoke`: removes one session (or a user's sessions) with the chosen
//! revocations, records it in the audit trail under the administrator's name, and redirects (303) back
//! to the page with the outcome as a flash message.
//!
//! The form carries `csrf_token`, `subject_id`, `session_id` (at least one non-empty; both are
//! AND-combined) and the checkboxes `remove_session`, `revoke_tokens`, `revoke_consents` and
//! `send_backchannel_logout`: present means yes, absent means no, as browsers send them.

use super::{Admin, SESSIONS_PATH, flash};
use crate::browser::CsrfForm;
use crate::error::PageError;
use crate::routes::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use oxidp_core::services::{RemoveSessionsContext, SessionManagementError};
use serde::Deserialize;

/// The revoke form (its CSRF token is checked by [`CsrfForm`]).
#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    subject_id: Option<String>,
    session_id: Option<String>,
    remove_session: Option<String>,
    revoke_tokens: Option<String>,
    revoke_consents: Option<String>,
    send_backchannel_logout: Option<String>,
}

impl RevokeForm {
    fn context(self) -> RemoveSessionsContext {
        let non_empty = |value: Option<String>| value.filter(|v| !v.is_empty());
        RemoveSessionsContext {
            subject_id: non_empty(self.subject_id),
            session_id: non_empty(self.session_id),
            client_ids: None,
            remove_server_side_session: self.remove_session.is_some(),
            revoke_tokens: self.revoke_tokens.is_some(),
            revoke_consents: self.revoke_consents.is_some(),
            send_backchannel_logout_notification: self.send_backchannel_logout.is_some(),
        }
    }
}

/// Revokes, then redirects back to the page.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Admin { admin, jar }: Admin,
    CsrfForm(form): CsrfForm<RevokeForm>,
) -> Result<Response, PageError> {
    let management = &state.idp.session_management;
    match management
        .remove_sessions_audited(&form.context(), &admin)
        .await
    {
        Ok(summary) => {
            let jar = flash::set(&state, jar, &summary);
            Ok((jar, Redirect::to(SESSIONS_PATH)).into_response())
        }
        Err(SessionManagementError::EmptyFilter) => Err(PageError::bad_request(
            "Choose a session or a subject to revoke.",
        )),
        Err(SessionManagementError::Disabled) => Err(PageError::new(
            StatusCode::CONFLICT,
            "Server-side sessions are not enabled on this server.",
        )),
        Err(error) => {
            tracing::error!(%error, "admin revocation failed");
            Err(PageError::unavailable())
        }
    }
}
