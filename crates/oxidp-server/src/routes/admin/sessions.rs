//! `GET /admin/sessions`: one page of sessions (filters and keyset paging from the query
//! string), the pending and failed back-channel deliveries with their attempts, and the audit
//! log. Query parameters: `subject_id` (exact), `session_id` (exact), `display_name` (prefix),
//! `count` (page size), `results_token` and `prior=true` (from the page links). A parameter
//! that does not parse is ignored rather than refused.

use super::{Admin, SESSIONS_PATH, flash};
use crate::error::PageError;
use crate::pages::{
    AdminAttemptView, AdminAuditView, AdminDeliveryView, AdminFiltersView, AdminPagingView,
    AdminSessionRow, AdminSessionsView, AdminTime,
};
use crate::routes::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use oxidp_core::model::{
    AuditEntry, DeliveryStatus, OutboxMessage, OutboxPayload, QueryResult, SessionQuery,
};
use oxidp_core::services::{AdminContext, SessionManagementError, UserSession};
use oxidp_core::store::StoreError;
use serde::Deserialize;

/// Deliveries (of each status) and audit entries shown.
const LIST_LIMIT: u32 = 50;

/// The query string; every field is optional text so that no input is refused.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SessionsQuery {
    subject_id: Option<String>,
    session_id: Option<String>,
    display_name: Option<String>,
    count: Option<String>,
    results_token: Option<String>,
    prior: Option<String>,
}

/// Shows the page.
pub(crate) async fn sessions(
    State(state): State<AppState>,
    Admin { admin, jar }: Admin,
    query: Result<Query<SessionsQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let filters = AdminFiltersView {
        subject_id: query.subject_id.clone().unwrap_or_default(),
        session_id: query.session_id.clone().unwrap_or_default(),
        display_name: query.display_name.clone().unwrap_or_default(),
        count: query.count.clone().unwrap_or_default(),
    };
    let management = &state.idp.session_management;
    let (sessions_enabled, sessions, paging) = match management
        .query_sessions(&session_query(query))
        .await
    {
        Ok(page) => (
            true,
            page.results.iter().cloned().map(row).collect(),
            paging(&page, &filters),
        ),
        Err(SessionManagementError::Disabled) => (false, Vec::new(), AdminPagingView::default()),
        Err(error) => return Err(unavailable(&error)),
    };
    let (pending_deliveries, failed_deliveries, audit) =
        lists(&state, &admin).await.map_err(|e| unavailable(&e))?;
    let (csrf_token, jar) = state.csrf_token(jar).await?;
    let (flash, jar) = flash::take(&state, jar);
    let view = AdminSessionsView {
        csrf_token,
        flash,
        filters,
        sessions_enabled,
        sessions,
        paging,
        pending_deliveries,
        failed_deliveries,
        audit,
    };
    Ok((jar, state.pages.admin_sessions(&view)?).into_response())
}

fn unavailable(error: &dyn std::fmt::Display) -> PageError {
    tracing::error!(%error, "admin sessions page failed");
    PageError::unavailable()
}

fn session_query(query: SessionsQuery) -> SessionQuery {
    SessionQuery {
        results_token: non_empty(query.results_token),
        request_prior_results: query.prior.as_deref() == Some("true"),
        count_requested: query
            .count
            .as_deref()
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(0),
        subject_id: non_empty(query.subject_id),
        session_id: non_empty(query.session_id),
        display_name: non_empty(query.display_name),
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

type Lists = (
    Vec<AdminDeliveryView>,
    Vec<AdminDeliveryView>,
    Vec<AdminAuditView>,
);

async fn lists(state: &AppState, admin: &AdminContext) -> Result<Lists, StoreError> {
    let pending = deliveries(state, admin, DeliveryStatus::Pending).await?;
    let failed = deliveries(state, admin, DeliveryStatus::Failed).await?;
    let audit = state
        .idp
        .admin
        .audit_log(admin, LIST_LIMIT)
        .await?
        .into_iter()
        .map(audit_view)
        .collect();
    Ok((pending, failed, audit))
}

async fn deliveries(
    state: &AppState,
    admin: &AdminContext,
    status: DeliveryStatus,
) -> Result<Vec<AdminDeliveryView>, StoreError> {
    let records = state
        .idp
        .admin
        .deliveries(admin, status, LIST_LIMIT)
        .await?;
    Ok(records
        .into_iter()
        .map(|record| {
            let history = record
                .attempts
                .into_iter()
                .map(|attempt| AdminAttemptView {
                    at: AdminTime::new(attempt.at),
                    outcome: match (attempt.http_status, attempt.error) {
                        (Some(status), _) => format!("HTTP {status}"),
                        (None, Some(error)) => error,
                        (None, None) => "no answer".to_owned(),
                    },
                })
                .collect();
            delivery_view(record.message, history)
        })
        .collect())
}

fn delivery_view(message: OutboxMessage, history: Vec<AdminAttemptView>) -> AdminDeliveryView {
    AdminDeliveryView {
        client_id: message.client_id,
        session_id: message.payload.session_id().unwrap_or_default().to_owned(),
        reason: match &message.payload {
            OutboxPayload::BackchannelLogout(logout) => logout.reason.as_str().to_owned(),
        },
        attempts: message.attempts,
        next_attempt: AdminTime::new(message.next_attempt),
        history,
    }
}

fn row(session: UserSession) -> AdminSessionRow {
    AdminSessionRow {
        subject_id: session.subject_id,
        session_id: session.session_id,
        display_name: session.display_name,
        client_ids: session.client_ids,
        created: AdminTime::new(session.created),
        renewed: AdminTime::new(session.renewed),
        expires: session.expires.map(AdminTime::new),
    }
}

/// The page position and the links to the neighbours, which keep the filters and page size.
fn paging(page: &QueryResult<UserSession>, filters: &AdminFiltersView) -> AdminPagingView {
    let link = |prior: bool| {
        let token = page.results_token.as_deref()?;
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("subject_id", &filters.subject_id),
            ("session_id", &filters.session_id),
            ("display_name", &filters.display_name),
            ("count", &filters.count),
        ] {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
        query.append_pair("results_token", token);
        if prior {
            query.append_pair("prior", "true");
        }
        Some(format!("{SESSIONS_PATH}?{}", query.finish()))
    };
    AdminPagingView {
        current_page: page.current_page,
        total_pages: page.total_pages,
        total_count: page.total_count,
        prev_url: page.has_prev_results.then(|| link(true)).flatten(),
        next_url: page.has_next_results.then(|| link(false)).flatten(),
    }
}

fn audit_view(entry: AuditEntry) -> AdminAuditView {
    AdminAuditView {
        at: AdminTime::new(entry.at),
        actor: entry.actor,
        request: readable(&entry.request),
        outcome: readable(&entry.outcome),
    }
}

/// A JSON object as `name=value` pairs, leaving out nulls; anything else as stored.
fn readable(json: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(fields)) => fields
            .iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(name, value)| match value {
                serde_json::Value::String(text) => format!("{name}={text}"),
                other => format!("{name}={other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => json.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_lists_the_set_fields() {
        assert_eq!(
            readable(r#"{"session_id":"s1","subject_id":null}"#),
            "session_id=s1"
        );
        assert_eq!(readable(r#"{"client_ids":["a"]}"#), r#"client_ids=["a"]"#);
        assert_eq!(readable("not json"), "not json");
    }

    #[test]
    fn page_links_keep_the_filters_and_mark_the_prior_page() {
        let page = QueryResult::<UserSession> {
            results_token: Some("tok en".into()),
            has_prev_results: true,
            has_next_results: true,
            total_count: 3,
            total_pages: 3,
            current_page: 2,
            results: Vec::new(),
        };
        let filters = AdminFiltersView {
            subject_id: "a&b".into(),
            count: "1".into(),
            ..AdminFiltersView::default()
        };
        let paging = paging(&page, &filters);
        assert_eq!(
            paging.prev_url.as_deref(),
            Some("/admin/sessions?subject_id=a%26b&count=1&results_token=tok+en&prior=true")
        );
        assert_eq!(
            paging.next_url.as_deref(),
            Some("/admin/sessions?subject_id=a%26b&count=1&results_token=tok+en")
        );
    }
}
