//! `GET` and `DELETE /api/admin/sessions`: query and remove server-side sessions through
//! [`SessionManagementService`](oxidp_core::services::SessionManagementService).

use super::auth::AdminCaller;
use super::error::{ApiError, ApiJson, ApiQuery, ErrorEnvelope};
use crate::AppState;
use axum::Json;
use axum::extract::State;
use oxidp_core::model::{QueryResult, SessionQuery};
use oxidp_core::services::{RemovalSummary, RemoveSessionsContext, UserSession};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

/// The filters and paging of `GET /api/admin/sessions`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SessionsQuery {
    /// Exact subject id (`sub`).
    pub subject_id: Option<String>,
    /// Exact session id (`sid`).
    pub session_id: Option<String>,
    /// Display-name prefix (case-sensitive). With one, the sessions are ordered by display
    /// name, then by creation.
    pub display_name: Option<String>,
    /// The `results_token` of the page you are on; omit for page 1. A malformed or stale token
    /// (or one of a query with a display-name filter added or removed) restarts at page 1.
    pub results_token: Option<String>,
    /// Go to the page before `results_token` instead of the one after it.
    pub prior: Option<bool>,
    /// Page size: 25 when omitted or 0, at most 1,000.
    pub count: Option<u32>,
}

impl From<SessionsQuery> for SessionQuery {
    fn from(query: SessionsQuery) -> Self {
        Self {
            results_token: query.results_token.filter(|t| !t.is_empty()),
            request_prior_results: query.prior.unwrap_or(false),
            count_requested: query.count.unwrap_or(0),
            subject_id: query.subject_id,
            session_id: query.session_id,
            display_name: query.display_name,
        }
    }
}

/// One server-side session.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionView {
    /// The user (`sub`).
    pub subject_id: String,
    /// The session id (`sid`).
    pub session_id: String,
    /// The indexed display name, if the server indexes one.
    pub display_name: Option<String>,
    /// When the session was created (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// When it was last renewed (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub renewed: OffsetDateTime,
    /// When it expires (RFC 3339); `null`: never.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires: Option<OffsetDateTime>,
    /// The clients that used the session, in order of first use.
    pub client_ids: Vec<String>,
}

impl From<UserSession> for SessionView {
    fn from(session: UserSession) -> Self {
        Self {
            subject_id: session.subject_id,
            session_id: session.session_id,
            display_name: session.display_name,
            created: session.created,
            renewed: session.renewed,
            expires: session.expires,
            client_ids: session.client_ids,
        }
    }
}

/// One page of sessions, in ascending order of creation; with a `display_name` filter, in
/// ascending order of display name, then of creation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionPage {
    /// This page's token: pass it back as `results_token` (with `prior=true` to go back);
    /// `null` for an empty page.
    pub results_token: Option<String>,
    /// Whether a previous page exists.
    pub has_prev_results: bool,
    /// Whether a next page exists.
    pub has_next_results: bool,
    /// Matching sessions in all.
    pub total_count: u64,
    /// Pages in all.
    pub total_pages: u64,
    /// This page's number, from 1.
    pub current_page: u64,
    /// The sessions on this page.
    pub results: Vec<SessionView>,
}

impl From<QueryResult<UserSession>> for SessionPage {
    fn from(page: QueryResult<UserSession>) -> Self {
        Self {
            results_token: page.results_token,
            has_prev_results: page.has_prev_results,
            has_next_results: page.has_next_results,
            total_count: page.total_count,
            total_pages: page.total_pages,
            current_page: page.current_page,
            results: page.results.into_iter().map(SessionView::from).collect(),
        }
    }
}

fn yes() -> bool {
    true
}

/// What `DELETE /api/admin/sessions` removes and revokes. A `subject_id` or a `session_id`
/// (or both, AND-combined) is required; the four flags default to `true`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveSessionsRequest {
    /// Every session of this user.
    pub subject_id: Option<String>,
    /// The session with this id.
    pub session_id: Option<String>,
    /// Only these clients' tokens, consents and notifications (omit for all clients; the
    /// sessions themselves are removed all the same). Must not be empty when given.
    pub client_ids: Option<Vec<String>>,
    /// Delete the session records, which signs the browsers out.
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub remove_server_side_session: bool,
    /// Revoke the sessions' refresh tokens, reference tokens, authorization codes and pending
    /// CIBA requests.
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub revoke_tokens: bool,
    /// Revoke consents. Consents belong to a user and a client, not to a session: with a
    /// `session_id`, the consents of the clients in that session's client list are revoked;
    /// with only a `subject_id`, all of the user's consents (narrowed by `client_ids`).
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub revoke_consents: bool,
    /// Send OIDC back-channel logout to the sessions' clients that registered a URI.
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub send_backchannel_logout_notification: bool,
}

impl TryFrom<RemoveSessionsRequest> for RemoveSessionsContext {
    type Error = ApiError;

    fn try_from(request: RemoveSessionsRequest) -> Result<Self, ApiError> {
        let non_empty = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
        let subject_id = non_empty(request.subject_id);
        let session_id = non_empty(request.session_id);
        if subject_id.is_none() && session_id.is_none() {
            return Err(ApiError::invalid_request(
                "a subject_id or a session_id is required",
            ));
        }
        if request
            .client_ids
            .as_ref()
            .is_some_and(|ids| ids.is_empty() || ids.iter().any(|id| id.trim().is_empty()))
        {
            return Err(ApiError::invalid_request(
                "client_ids must list client ids; omit it for all clients",
            ));
        }
        Ok(Self {
            subject_id,
            session_id,
            client_ids: request.client_ids,
            remove_server_side_session: request.remove_server_side_session,
            revoke_tokens: request.revoke_tokens,
            revoke_consents: request.revoke_consents,
            send_backchannel_logout_notification: request.send_backchannel_logout_notification,
        })
    }
}

/// What a removal did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RemovalSummaryView {
    /// Sessions the filter matched.
    pub sessions_matched: u64,
    /// Session records deleted.
    pub sessions_removed: u64,
    /// Back-channel logout notifications enqueued (delivered asynchronously, with retries).
    pub notifications_enqueued: u64,
}

impl From<RemovalSummary> for RemovalSummaryView {
    fn from(summary: RemovalSummary) -> Self {
        Self {
            sessions_matched: summary.sessions_matched,
            sessions_removed: summary.sessions_removed,
            notifications_enqueued: summary.notifications_enqueued,
        }
    }
}

/// Lists server-side sessions, one page at a time.
#[utoipa::path(
    get,
    path = "/api/admin/sessions",
    operation_id = "query_sessions",
    tag = "sessions",
    params(SessionsQuery),
    security(("bearer" = ["oxidp.admin"])),
    responses(
        (status = 200, description = "One page of sessions", body = SessionPage),
        (status = 400, description = "`invalid_request`: a malformed query parameter", body = ErrorEnvelope),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorEnvelope),
        (status = 403, description = "`forbidden`: the token lacks oxidp.admin", body = ErrorEnvelope),
        (status = 409, description = "`not_enabled`: server-side sessions are off", body = ErrorEnvelope),
        (status = 503, description = "`unavailable`: the store is unavailable", body = ErrorEnvelope),
    )
)]
pub async fn query_sessions(
    caller: AdminCaller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SessionsQuery>,
) -> Result<Json<SessionPage>, ApiError> {
    tracing::debug!(actor = %caller.actor(), "admin API: query sessions");
    let page = state
        .idp
        .session_management
        .query_sessions(&query.into())
        .await?;
    Ok(Json(page.into()))
}

/// Removes sessions and revokes their tokens and consents, and sends back-channel logout, as
/// the body says; recorded in the audit trail as `api:<client_id>`.
#[utoipa::path(
    delete,
    path = "/api/admin/sessions",
    operation_id = "remove_sessions",
    tag = "sessions",
    request_body(content = RemoveSessionsRequest, content_type = "application/json"),
    security(("bearer" = ["oxidp.admin"])),
    responses(
        (status = 200, description = "What was removed", body = RemovalSummaryView),
        (status = 400, description = "`invalid_request`: malformed JSON, or neither subject_id nor session_id", body = ErrorEnvelope),
        (status = 401, description = "`unauthorized`: no valid access token", body = ErrorEnvelope),
        (status = 403, description = "`forbidden`: the token lacks oxidp.admin", body = ErrorEnvelope),
        (status = 409, description = "`not_enabled`: server-side sessions are off", body = ErrorEnvelope),
        (status = 415, description = "`invalid_request`: the body is not application/json", body = ErrorEnvelope),
        (status = 503, description = "`unavailable`: the store is unavailable", body = ErrorEnvelope),
    )
)]
pub async fn remove_sessions(
    caller: AdminCaller,
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RemoveSessionsRequest>,
) -> Result<Json<RemovalSummaryView>, ApiError> {
    let context = RemoveSessionsContext::try_from(request)?;
    let summary = state
        .idp
        .session_management
        .remove_sessions_audited(&context, caller.admin())
        .await?;
    tracing::info!(
        actor = %caller.actor(),
        subject_id = ?context.subject_id,
        sid = ?context.session_id,
        removed = summary.sessions_removed,
        "admin API: sessions removed"
    );
    Ok(Json(summary.into()))
}
