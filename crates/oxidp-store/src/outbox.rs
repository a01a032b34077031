//! The SQL of the outbox and of the audit trail of session removals, shared by both backends
//! (except the claim of due messages, which differs: see `dialect.rs`), and the conversions
//! between their rows and domain values.
//!
//! The table keeps its first name, `backchannel_outbox`, from when it held only back-channel
//! logout notifications: renaming it is not safe while a previous version serves. A message's
//! `kind` and JSON `payload` say what it carries; a back-channel logout message also fills the
//! legacy columns `subject_id`, `session_id` and `reason` (which a previous version reads), and
//! a row whose payload is NULL (written before the kinds, or by a previous version since) is
//! read from them. `logout_token` is written empty: tokens are signed at each attempt.
//!
//! Message ids are stored as canonical UUID text (lowercase, hyphenated): its byte order, which
//! both databases use for these columns, is the order of the UUIDs, so "newest first" is
//! `ORDER BY id DESC` for the time-ordered UUIDv7 ids, as in the in-memory store (audit entry
//! ids likewise). Statuses and
//! reasons are stored as their `as_str` values.
//!
//! A session removal writes its messages with multi-row `INSERT`s of at most
//! the backend's `MESSAGE_CHUNK` rows and deletes its sessions with `IN` lists of at most [`KEY_CHUNK`]
//! keys, which keeps every statement well under both databases' limits on bound values.

use crate::sql::{column, instant};
use oxidp_core::model::{
    AuditEntry, BackchannelLogout, DeliveryAttempt, DeliveryStatus, LogoutReason, OutboxKind,
    OutboxMessage, OutboxPayload,
};
use oxidp_core::store::{StoreError, StoreResult};
use sqlx::{ColumnIndex, Decode, Row, Type};
use std::fmt::Write as _;
use uuid::Uuid;

/// The columns of `backchannel_outbox`, in the order [`insert_messages`] binds them.
pub(crate) const MESSAGE_COLUMNS: &str = "id, client_id, endpoint, logout_token, subject_id, \
     session_id, reason, created, next_attempt, attempts, give_up_after, status, kind, payload";

/// How many columns [`MESSAGE_COLUMNS`] names.
pub(crate) const MESSAGE_COLUMN_COUNT: usize = 14;

/// Most session keys one `DELETE` lists.
pub(crate) const KEY_CHUNK: usize = 1_000;

/// Records one attempt: message id, at, HTTP status, error.
pub(crate) const INSERT_ATTEMPT: &str = "INSERT INTO backchannel_attempts (message_id, at, http_status, error) \
     VALUES ($1, $2, $3, $4)";

/// The new state of a message after an attempt: id, status, next attempt.
pub(crate) const UPDATE_AFTER_ATTEMPT: &str = "UPDATE backchannel_outbox SET status = $2, \
     next_attempt = $3, attempts = attempts + 1 WHERE id = $1";

/// The messages of one status, newest first, at most `$2`.
pub(crate) const LIST_MESSAGES: &str = "SELECT id, client_id, endpoint, logout_token, \
     subject_id, session_id, reason, created, next_attempt, attempts, give_up_after, status, \
     kind, payload FROM backchannel_outbox WHERE status = $1 ORDER BY id DESC LIMIT $2";

/// The attempts of one message, oldest first.
pub(crate) const LIST_ATTEMPTS: &str = "SELECT message_id, at, http_status, error \
     FROM backchannel_attempts WHERE message_id = $1 ORDER BY at";

/// Appends an audit entry: id, at, actor, request, outcome. A duplicate id is a conflict.
pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (id, at, actor, request, outcome) \
     VALUES ($1, $2, $3, $4, $5)";

/// The newest audit entries first, at most `$1`.
pub(crate) const LIST_AUDIT: &str =
    "SELECT id, at, actor, request, outcome FROM audit_log ORDER BY id DESC LIMIT $1";

/// `INSERT` of `rows` messages (`rows` > 0), whose values are bound row after row in the order
/// of [`MESSAGE_COLUMNS`].
pub(crate) fn insert_messages(rows: usize) -> String {
    let mut sql = format!("INSERT INTO backchannel_outbox ({MESSAGE_COLUMNS}) VALUES ");
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..MESSAGE_COLUMN_COUNT {
            let separator = if col == 0 { "" } else { ", " };
            let _ = write!(sql, "{separator}${}", row * MESSAGE_COLUMN_COUNT + col + 1);
        }
        sql.push(')');
    }
    sql
}

/// A backend's claim statement (`Dialect::CLAIM_DUE_MESSAGES`) with `{kinds}` replaced by the
/// placeholders of [`OutboxKind::ALL`], bound from `$4` in that order.
pub(crate) fn claim_due(template: &str) -> String {
    let mut kinds = String::new();
    for n in 0..OutboxKind::ALL.len() {
        let separator = if n == 0 { "" } else { ", " };
        let _ = write!(kinds, "{separator}${}", n + 4);
    }
    template.replace("{kinds}", &kinds)
}

/// `DELETE` of the sessions whose key is one of `keys` (`keys` > 0) values bound in order.
pub(crate) fn delete_sessions_by_key(keys: usize) -> String {
    let mut sql = String::from("DELETE FROM server_side_sessions WHERE key IN (");
    for n in 1..=keys {
        let separator = if n == 1 { "" } else { ", " };
        let _ = write!(sql, "{separator}${n}");
    }
    sql.push(')');
    sql
}

/// A message id as stored.
pub(crate) fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// An attempt count as stored (counts beyond `i32::MAX` are kept at `i32::MAX`).
pub(crate) fn attempts_value(attempts: u32) -> i32 {
    i32::try_from(attempts).unwrap_or(i32::MAX)
}

fn parse_id(what: &str, id: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| StoreError::Corrupt(format!("{what} is not a UUID")))
}

/// The values a message stores: its kind, its payload's JSON, and the legacy columns
/// (`subject_id`, `session_id`, `reason`) a previous version reads, empty for kinds without them.
pub(crate) struct StoredPayload {
    pub(crate) kind: OutboxKind,
    pub(crate) json: String,
    pub(crate) subject_id: String,
    pub(crate) session_id: String,
    pub(crate) reason: &'static str,
}

/// How `payload` is stored.
pub(crate) fn stored_payload(payload: &OutboxPayload) -> StoreResult<StoredPayload> {
    let (kind, json) = payload
        .to_stored()
        .map_err(|_| StoreError::Corrupt("an outbox payload cannot be serialized".to_owned()))?;
    let (subject_id, session_id, reason) = match payload {
        OutboxPayload::BackchannelLogout(logout) => (
            logout.subject_id.clone(),
            logout.session_id.clone(),
            logout.reason.as_str(),
        ),
    };
    Ok(StoredPayload {
        kind,
        json,
        subject_id,
        session_id,
        reason,
    })
}

/// A `backchannel_outbox` row.
pub(crate) fn message_from_row<R>(row: &R) -> StoreResult<OutboxMessage>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: String = column(row, "id")?;
    let status: String = column(row, "status")?;
    let attempts: i32 = column(row, "attempts")?;
    Ok(OutboxMessage {
        id: parse_id("outbox message id", &id)?,
        client_id: column(row, "client_id")?,
        endpoint: column(row, "endpoint")?,
        payload: payload_from_row(row)?,
        created: instant("created", column(row, "created")?)?,
        next_attempt: instant("next_attempt", column(row, "next_attempt")?)?,
        attempts: u32::try_from(attempts)
            .map_err(|_| StoreError::Corrupt("`attempts` is negative".to_owned()))?,
        give_up_after: instant("give_up_after", column(row, "give_up_after")?)?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt("unknown delivery status".to_owned()))?,
    })
}

/// The payload of a `backchannel_outbox` row: from `kind` and `payload`, or, for a row without
/// a payload, from the legacy back-channel logout columns.
fn payload_from_row<R>(row: &R) -> StoreResult<OutboxPayload>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    let kind: String = column(row, "kind")?;
    let kind = OutboxKind::parse(&kind)
        .ok_or_else(|| StoreError::Corrupt("unknown outbox message kind".to_owned()))?;
    match (kind, column::<R, Option<String>>(row, "payload")?) {
        (kind, Some(json)) => OutboxPayload::from_stored(kind, &json).map_err(|e| {
            StoreError::Corrupt(format!(
                "stored outbox payload is not valid ({:?} error at column {})",
                e.classify(),
                e.column()
            ))
        }),
        (OutboxKind::BackchannelLogout, None) => {
            let reason: String = column(row, "reason")?;
            Ok(OutboxPayload::BackchannelLogout(BackchannelLogout {
                subject_id: column(row, "subject_id")?,
                session_id: column(row, "session_id")?,
                reason: LogoutReason::parse(&reason)
                    .ok_or_else(|| StoreError::Corrupt("unknown logout reason".to_owned()))?,
            }))
        }
    }
}

/// A `backchannel_attempts` row.
pub(crate) fn attempt_from_row<R>(row: &R) -> StoreResult<DeliveryAttempt>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
{
    let message_id: String = column(row, "message_id")?;
    let http_status: Option<i32> = column(row, "http_status")?;
    Ok(DeliveryAttempt {
        message_id: parse_id("attempt message id", &message_id)?,
        at: instant("at", column(row, "at")?)?,
        http_status: http_status
            .map(|s| {
                u16::try_from(s)
                    .map_err(|_| StoreError::Corrupt("`http_status` is out of range".to_owned()))
            })
            .transpose()?,
        error: column(row, "error")?,
    })
}

/// An `audit_log` row.
pub(crate) fn audit_from_row<R>(row: &R) -> StoreResult<AuditEntry>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: String = column(row, "id")?;
    Ok(AuditEntry {
        id: parse_id("audit entry id", &id)?,
        at: instant("at", column(row, "at")?)?,
        actor: column(row, "actor")?,
        request: column(row, "request")?,
        outcome: column(row, "outcome")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_numbers_the_placeholders_row_after_row() {
        assert_eq!(
            insert_messages(2),
            format!(
                "INSERT INTO backchannel_outbox ({MESSAGE_COLUMNS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14), \
                 ($15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)"
            )
        );
        assert_eq!(
            MESSAGE_COLUMNS.split(',').count(),
            MESSAGE_COLUMN_COUNT,
            "the column count matches the column list"
        );
    }

    #[test]
    fn claims_bind_every_known_kind_after_the_three_values() {
        assert_eq!(
            claim_due("WHERE kind IN ({kinds}) LIMIT $3"),
            "WHERE kind IN ($4) LIMIT $3"
        );
        assert_eq!(
            OutboxKind::ALL.len(),
            1,
            "extend the expected text with the kinds"
        );
    }

    #[test]
    fn session_deletion_lists_every_key() {
        assert_eq!(
            delete_sessions_by_key(3),
            "DELETE FROM server_side_sessions WHERE key IN ($1, $2, $3)"
        );
    }

    #[test]
    fn canonical_uuid_text_sorts_as_the_uuids() {
        let mut ids: Vec<Uuid> = (0..200).map(|_| Uuid::new_v4()).collect();
        ids.extend((0..200).map(|_| Uuid::now_v7()));
        let mut texts: Vec<String> = ids.iter().copied().map(id_text).collect();
        ids.sort();
        texts.sort();
        let sorted: Vec<String> = ids.into_iter().map(id_text).collect();
        assert_eq!(texts, sorted);
    }
}
