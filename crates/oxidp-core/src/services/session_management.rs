//! Session management: query, list and remove server-side sessions, with selective revocation
//! of tokens and consents and back-channel logout to the session's clients.
//!
//! A removal is one atomic commit ([`OutboxStore::commit_removal`](crate::store::OutboxStore)):
//! the sessions deleted, the grants revoked and the logout notifications enqueued together.

use super::Context;
use super::backchannel::{BackchannelLogoutService, EndedSession};
use super::server_side_sessions::ServerSideTicketStore;
use crate::error::OAuthError;
use crate::model::{
    LogoutReason, PersistedGrantFilter, QueryResult, ServerSideSession, SessionFilter,
    SessionQuery, SessionRemoval, grant_types,
};
use crate::store::StoreError;
use std::sync::Arc;
use time::OffsetDateTime;

/// A session as management sees it: columns plus what the ticket says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSession {
    /// `sub`.
    pub subject_id: String,
    /// `sid`.
    pub session_id: String,
    /// The indexed display name.
    pub display_name: Option<String>,
    /// Created.
    pub created: OffsetDateTime,
    /// Last renewed.
    pub renewed: OffsetDateTime,
    /// Expires (`None`: never).
    pub expires: Option<OffsetDateTime>,
    /// Clients that used the session, in order of first use.
    pub client_ids: Vec<String>,
}

/// What to remove and revoke. The four flags default to true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveSessionsContext {
    /// The user's sessions.
    pub subject_id: Option<String>,
    /// One session.
    pub session_id: Option<String>,
    /// Only these clients' grants, consents and notifications (the sessions are removed all
    /// the same when `remove_server_side_session`).
    pub client_ids: Option<Vec<String>>,
    /// Delete the session records (signs the browsers out).
    pub remove_server_side_session: bool,
    /// Revoke refresh tokens, reference tokens, authorization codes and pending CIBA requests.
    pub revoke_tokens: bool,
    /// Revoke consents. Consents are per user and client: with a session id, the consents of
    /// the clients in that session's client list are revoked; with only a subject, all of the
    /// user's consents (narrowed by `client_ids` when given).
    pub revoke_consents: bool,
    /// Send back-channel logout to the session's clients.
    pub send_backchannel_logout_notification: bool,
}

impl Default for RemoveSessionsContext {
    fn default() -> Self {
        Self {
            subject_id: None,
            session_id: None,
            client_ids: None,
            remove_server_side_session: true,
            revoke_tokens: true,
            revoke_consents: true,
            send_backchannel_logout_notification: true,
        }
    }
}

/// What a removal did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemovalSummary {
    /// Sessions matched by the filter.
    pub sessions_matched: u64,
    /// Session records deleted.
    pub sessions_removed: u64,
    /// Back-channel logout notifications enqueued.
    pub notifications_enqueued: u64,
}

/// Errors of session management.
#[derive(Debug, thiserror::Error)]
pub enum SessionManagementError {
    /// Neither a subject nor a session id was given.
    #[error("a subject id or a session id is required")]
    EmptyFilter,
    /// Server-side sessions are off: there is nothing to manage.
    #[error("server-side sessions are not enabled")]
    Disabled,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A token could not be signed.
    #[error("a logout token could not be signed")]
    Signing,
}

impl From<OAuthError> for SessionManagementError {
    fn from(_: OAuthError) -> Self {
        Self::Signing
    }
}

/// Queries and removes sessions.
#[derive(Debug)]
pub struct SessionManagementService {
    ctx: Arc<Context>,
    tickets: Option<ServerSideTicketStore>,
    backchannel: Arc<BackchannelLogoutService>,
}

impl SessionManagementService {
    pub(crate) fn new(
        ctx: Arc<Context>,
        tickets: Option<ServerSideTicketStore>,
        backchannel: Arc<BackchannelLogoutService>,
    ) -> Self {
        Self {
            ctx,
            tickets,
            backchannel,
        }
    }

    fn tickets(&self) -> Result<&ServerSideTicketStore, SessionManagementError> {
        self.tickets
            .as_ref()
            .ok_or(SessionManagementError::Disabled)
    }

    async fn to_user_session(
        &self,
        tickets: &ServerSideTicketStore,
        session: &ServerSideSession,
    ) -> Option<UserSession> {
        let ticket = tickets.open(session).await?;
        Some(UserSession {
            subject_id: session.subject_id.clone(),
            session_id: session.session_id.clone(),
            display_name: session.display_name.clone(),
            created: session.created,
            renewed: session.renewed,
            expires: session.expires,
            client_ids: ticket.client_ids,
        })
    }

    /// One page of sessions. Sessions whose ticket cannot be read are left out of the page.
    pub async fn query_sessions(
        &self,
        query: &SessionQuery,
    ) -> Result<QueryResult<UserSession>, SessionManagementError> {
        let tickets = self.tickets()?;
        let page = self.ctx.stores.sessions.query_sessions(query).await?;
        let mut results = Vec::with_capacity(page.results.len());
        for session in &page.results {
            if let Some(user_session) = self.to_user_session(tickets, session).await {
                results.push(user_session);
            }
        }
        Ok(QueryResult {
            results_token: page.results_token,
            has_prev_results: page.has_prev_results,
            has_next_results: page.has_next_results,
            total_count: page.total_count,
            total_pages: page.total_pages,
            current_page: page.current_page,
            results,
        })
    }

    /// Every session of a user or with a session id (exact).
    pub async fn get_sessions(
        &self,
        filter: &SessionFilter,
    ) -> Result<Vec<UserSession>, SessionManagementError> {
        if filter.is_empty() {
            return Err(SessionManagementError::EmptyFilter);
        }
        let tickets = self.tickets()?;
        let mut sessions = Vec::new();
        for session in self.ctx.stores.sessions.get_sessions(filter).await? {
            if let Some(user_session) = self.to_user_session(tickets, &session).await {
                sessions.push(user_session);
            }
        }
        Ok(sessions)
    }

    /// Removes sessions and revokes what the context says, in one commit.
    pub async fn remove_sessions(
        &self,
        context: &RemoveSessionsContext,
    ) -> Result<RemovalSummary, SessionManagementError> {
        let filter = SessionFilter {
            subject_id: context.subject_id.clone(),
            session_id: context.session_id.clone(),
        };
        if filter.is_empty() {
            return Err(SessionManagementError::EmptyFilter);
        }
        let tickets = self.tickets()?;
        let sessions = self.ctx.stores.sessions.get_sessions(&filter).await?;
        let only = context.client_ids.as_deref();
        let mut removal = SessionRemoval::default();
        let mut consent_clients: Vec<String> = Vec::new();
        for session in &sessions {
            let client_ids = tickets
                .open(session)
                .await
                .map(|t| t.client_ids)
                .unwrap_or_default();
            if context.remove_server_side_session {
                removal.session_keys.push(session.key.clone());
            }
            if context.revoke_tokens {
                removal.grant_filters.push(PersistedGrantFilter {
                    subject_id: Some(session.subject_id.clone()),
                    session_id: Some(session.session_id.clone()),
                    client_ids: context.client_ids.clone(),
                    grant_types: Some(session_grant_types()),
                    ..PersistedGrantFilter::default()
                });
            }
            consent_clients.extend(
                client_ids
                    .iter()
                    .filter(|c| only.is_none_or(|only| only.contains(c)))
                    .cloned(),
            );
            if context.send_backchannel_logout_notification {
                let ended = EndedSession {
                    subject_id: &session.subject_id,
                    session_id: &session.session_id,
                    client_ids: &client_ids,
                };
                removal.messages.extend(
                    self.backchannel
                        .messages_for(&ended, LogoutReason::Terminated, only)
                        .await?,
                );
            }
        }
        if context.revoke_consents {
            let clients = match (&context.session_id, &context.client_ids) {
                // One session: the consents of the clients it used.
                (Some(_), _) => Some(consent_clients),
                (None, Some(only)) => Some(only.clone()),
                (None, None) => None,
            };
            let subjects: Vec<String> = match &context.subject_id {
                Some(subject) => vec![subject.clone()],
                None => sessions.iter().map(|s| s.subject_id.clone()).collect(),
            };
            for subject in subjects {
                if clients.as_ref().is_some_and(Vec::is_empty) {
                    continue;
                }
                removal.grant_filters.push(PersistedGrantFilter {
                    subject_id: Some(subject),
                    client_ids: clients.clone(),
                    grant_type: Some(grant_types::USER_CONSENT.to_owned()),
                    ..PersistedGrantFilter::default()
                });
            }
        }
        let notifications = removal.messages.len() as u64;
        let removed = self.ctx.stores.outbox.commit_removal(&removal).await?;
        metrics::counter!("oxidp_backchannel_logout_enqueued_total").increment(notifications);
        tracing::info!(
            subject_id = ?context.subject_id,
            sid = ?context.session_id,
            matched = sessions.len(),
            removed,
            notifications,
            "sessions removed"
        );
        Ok(RemovalSummary {
            sessions_matched: sessions.len() as u64,
            sessions_removed: removed,
            notifications_enqueued: notifications,
        })
    }
}

/// The grants that belong to a session.
fn session_grant_types() -> Vec<String> {
    grant_types::SESSION_BOUND
        .iter()
        .map(|t| (*t).to_owned())
        .collect()
}

impl SessionManagementService {
    /// Ends a browser's session at its user's request: notifies every client of the session
    /// (once) and, with server-side sessions, deletes the record in the same commit.
    pub async fn end_browser_session(
        &self,
        cookie_value: &str,
        ticket: &crate::model::AuthenticationTicket,
    ) -> Result<u64, SessionManagementError> {
        let ended = EndedSession {
            subject_id: &ticket.subject_id,
            session_id: &ticket.session_id,
            client_ids: &ticket.client_ids,
        };
        let messages = self
            .backchannel
            .messages_for(&ended, LogoutReason::UserLogout, None)
            .await?;
        let count = messages.len() as u64;
        if self.tickets.is_some() {
            let key = super::server_side_sessions::row_key(cookie_value);
            // The coordinated clients' tokens end with the session.
            let mut coordinated = Vec::new();
            for client_id in &ticket.client_ids {
                if let Some(client) = self.ctx.stores.clients.find_client(client_id).await?
                    && super::coordination::is_coordinated(&self.ctx, &client)
                {
                    coordinated.push(client.client_id);
                }
            }
            let grant_filters = if coordinated.is_empty() {
                Vec::new()
            } else {
                vec![PersistedGrantFilter {
                    subject_id: Some(ticket.subject_id.clone()),
                    session_id: Some(ticket.session_id.clone()),
                    client_ids: Some(coordinated),
                    grant_types: Some(session_grant_types()),
                    ..PersistedGrantFilter::default()
                }]
            };
            let removal = SessionRemoval {
                session_keys: vec![key],
                grant_filters,
                messages,
            };
            self.ctx.stores.outbox.commit_removal(&removal).await?;
        } else if !messages.is_empty() {
            self.ctx.stores.outbox.enqueue(&messages).await?;
        }
        metrics::counter!("oxidp_backchannel_logout_enqueued_total").increment(count);
        tracing::info!(sid = %ticket.session_id, notifications = count, "browser session ended");
        Ok(count)
    }
}

impl SessionManagementService {
    /// [`remove_sessions`](Self::remove_sessions) by an administrator, recorded in the audit
    /// trail under the administrator's name (`page:<sub>`, `api:<client_id>`, `cli:<user>`).
    pub async fn remove_sessions_audited(
        &self,
        context: &RemoveSessionsContext,
        admin: &super::AdminContext,
    ) -> Result<RemovalSummary, SessionManagementError> {
        let actor = admin.actor();
        let summary = self.remove_sessions(context).await?;
        let entry = crate::model::AuditEntry {
            id: uuid::Uuid::now_v7(),
            at: self.ctx.clock.now(),
            actor: actor.to_owned(),
            request: serde_json::json!({
                "subject_id": context.subject_id,
                "session_id": context.session_id,
                "client_ids": context.client_ids,
                "remove_server_side_session": context.remove_server_side_session,
                "revoke_tokens": context.revoke_tokens,
                "revoke_consents": context.revoke_consents,
                "send_backchannel_logout_notification": context.send_backchannel_logout_notification,
            })
            .to_string(),
            outcome: serde_json::json!({
                "sessions_matched": summary.sessions_matched,
                "sessions_removed": summary.sessions_removed,
                "notifications_enqueued": summary.notifications_enqueued,
            })
            .to_string(),
        };
        self.ctx.stores.audit.record_audit(&entry).await?;
        Ok(summary)
    }
}
