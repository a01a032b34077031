//! The SQL of the expired-session cleanup, shared by both backends (except the statement that
//! takes a batch, which differs and lives in the backend modules).
//!
//! A cleanup worker takes a batch inside an open transaction (deleted and row-locked on
//! PostgreSQL, under the write lock on SQLite), works out each session's revocations and
//! notifications, then writes them in the same transaction and commits. A session a browser
//! meets expired is ended with [`delete_expired_by_key`] as the gate instead: only the sessions
//! that statement deletes — still there, still expired — get their grants revoked and their
//! messages enqueued, so a session the job and a browser both process is committed once.

use std::fmt::Write as _;

/// Sessions alive at `$1`.
pub(crate) const COUNT_ACTIVE_SESSIONS: &str =
    "SELECT COUNT(*) FROM server_side_sessions WHERE expires IS NULL OR expires > $1";

/// `DELETE` of the sessions among `keys` (`keys` > 0, bound from `$2`) that are expired at `$1`,
/// returning the keys it deleted.
///
/// `+expires` keeps the planner on the primary key: every row of a backlog is expired, and a
/// planner whose statistics predate the backlog (or SQLite's, which has none) may otherwise
/// intersect with a scan of the whole `expires` index, once per batch (50 ms per batch on a
/// million sessions in PostgreSQL, measured).
pub(crate) fn delete_expired_by_key(keys: usize) -> String {
    let mut sql =
        String::from("DELETE FROM server_side_sessions WHERE +expires <= $1 AND key IN (");
    push_placeholders(&mut sql, 2, keys);
    sql.push_str(") RETURNING key");
    sql
}

/// `DELETE` of the session-bound grants (types bound as `$1`..`$4`, see
/// `grant_types::SESSION_BOUND`) of `sessions` session ids and `clients` client ids, bound in
/// that order after the types.
pub(crate) fn revoke_session_grants(sessions: usize, clients: usize) -> String {
    let types = oxidp_core::model::grant_types::SESSION_BOUND.len();
    let mut sql = String::from("DELETE FROM persisted_grants WHERE grant_type IN (");
    push_placeholders(&mut sql, 1, types);
    sql.push_str(") AND session_id IN (");
    push_placeholders(&mut sql, types + 1, sessions);
    sql.push_str(") AND client_id IN (");
    push_placeholders(&mut sql, types + sessions + 1, clients);
    sql.push(')');
    sql
}

/// `$first, $first+1, ...` (`count` of them).
fn push_placeholders(sql: &mut String, first: usize, count: usize) {
    for n in first..first + count {
        let separator = if n == first { "" } else { ", " };
        let _ = write!(sql, "{separator}${n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_number_their_placeholders_in_bind_order() {
        assert_eq!(
            delete_expired_by_key(2),
            "DELETE FROM server_side_sessions WHERE +expires <= $1 AND key IN ($2, $3) RETURNING key"
        );
        assert_eq!(
            revoke_session_grants(2, 1),
            "DELETE FROM persisted_grants WHERE grant_type IN ($1, $2, $3, $4) \
             AND session_id IN ($5, $6) AND client_id IN ($7)"
        );
    }
}
