//! RP-initiated logout and its confirmation page: when the user is signed out at once, when
//! they are asked first, and what the logged-out page offers.

use super::{BrowserSession, InteractionService, PageFailure};
use crate::params::Parameters;
use crate::services::EndSessionRequest;

/// The logged-out page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedOut {
    /// Where the page links back to (the client's registered URI, with `state`).
    pub post_logout_redirect_uri: Option<String>,
    /// The client's name, when the logout came from one.
    pub client_name: Option<String>,
    /// A session was ended: the cookie must go.
    pub signed_out: bool,
}

/// What the end-session endpoint does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// Done (signed out, or there was nothing to sign out of): show the logged-out page.
    LoggedOut(LoggedOut),
    /// Ask the user first; the form carries this protected id of the request.
    Confirm {
        /// The protected logout request.
        logout_id: String,
    },
}

impl InteractionService {
    /// `GET|POST /connect/endsession`. An ID token of this very session (and a `logout_hint`
    /// naming the same user, if any) shows the client is the user's own: no prompt. Anything
    /// else asks first.
    pub async fn end_session(
        &self,
        params: &Parameters,
        session: Option<&BrowserSession>,
    ) -> Result<LogoutOutcome, PageFailure> {
        let request = self.end_session.validate(params).await.map_err(|error| {
            PageFailure::bad_request(
                error
                    .description
                    .unwrap_or("The logout request is invalid.".into()),
            )
        })?;
        let Some(session) = session else {
            return Ok(LogoutOutcome::LoggedOut(logged_out(&request, false)));
        };
        let ticket = &session.ticket;
        let username = self
            .ctx
            .stores
            .users
            .find_user_by_subject(&ticket.subject_id)
            .await?
            .map(|u| u.username);
        if request.names_session(&ticket.subject_id, &ticket.session_id, username.as_deref()) {
            return self
                .sign_out(session, &request)
                .await
                .map(LogoutOutcome::LoggedOut);
        }
        let logout_id = self
            .end_session
            .protect(&request)
            .await
            .map_err(|_| PageFailure::unavailable())?;
        Ok(LogoutOutcome::Confirm { logout_id })
    }

    /// The user confirmed the logout (`logout_id` from the confirmation form, if any).
    pub async fn confirm_logout(
        &self,
        logout_id: Option<&str>,
        session: Option<&BrowserSession>,
    ) -> Result<LoggedOut, PageFailure> {
        let request = match logout_id {
            Some(id) => self
                .end_session
                .unprotect(id)
                .await
                .ok_or_else(|| PageFailure::bad_request("The logout request is invalid."))?,
            None => EndSessionRequest::default(),
        };
        match session {
            Some(session) => self.sign_out(session, &request).await,
            None => Ok(logged_out(&request, false)),
        }
    }

    async fn sign_out(
        &self,
        session: &BrowserSession,
        request: &EndSessionRequest,
    ) -> Result<LoggedOut, PageFailure> {
        self.session_management
            .end_browser_session(&session.cookie_value, &session.ticket)
            .await
            .map_err(|error| {
                tracing::error!(%error, "cannot end the session");
                PageFailure::unavailable()
            })?;
        Ok(logged_out(request, true))
    }
}

fn logged_out(request: &EndSessionRequest, signed_out: bool) -> LoggedOut {
    LoggedOut {
        post_logout_redirect_uri: request.redirect_url(),
        client_name: request.client_name.clone(),
        signed_out,
    }
}
