//! [`GrantStore::rotate_refresh_token`](oxidp_core::store::GrantStore::rotate_refresh_token):
//! a refresh token's rotation in one transaction, so a failure never leaves a consumed token
//! without its successor (see [`RefreshTokenRotation`]).
//!
//! The two databases get there differently, because a refresh is on the hot path. PostgreSQL
//! runs the whole rotation as **one statement**: data-modifying CTEs (the successor deleted,
//! the presented token updated, the new grants inserted only if that update matched) are one
//! atomic statement, and one round trip, no more than the consume-then-insert it replaces. A
//! concurrent rotation of the same token waits on its row lock and then finds the condition
//! false (READ COMMITTED re-checks the updated row), so exactly one wins. SQLite has no
//! data-modifying CTEs; it runs the same steps as separate statements in one transaction,
//! in-process, where the write lock serializes rotations. Either way an insert that fails (a
//! key in use) undoes the whole rotation.

use crate::error::store_error;
use crate::{PostgresStore, SqliteStore, sql};
use oxidp_core::model::{PersistedGrant, RefreshTokenRotation, RotationStep};
use oxidp_core::store::StoreResult;
use std::fmt::Write as _;

/// The columns of `persisted_grants`, in the order [`bind_grant!`] binds them.
const COLUMNS: &str =
    "key, grant_type, subject_id, session_id, client_id, created, expires, consumed, data";
/// How many columns [`COLUMNS`] names.
const COLUMN_COUNT: usize = 9;

/// A first use: consumes the unconsumed token `$1` at `$2` and sets its data to `$3`.
const CONSUME_PRESENTED: &str = "UPDATE persisted_grants SET consumed = $2, data = $3 \
     WHERE key = $1 AND consumed IS NULL RETURNING \
     key, grant_type, subject_id, session_id, client_id, created, expires, consumed, data";
/// A retry: sets the data of the consumed token `$1` to `$2`, keeping its consumption instant.
const RETRY_PRESENTED: &str = "UPDATE persisted_grants SET data = $2 \
     WHERE key = $1 AND consumed IS NOT NULL RETURNING \
     key, grant_type, subject_id, session_id, client_id, created, expires, consumed, data";
/// A retry: deletes the successor `$1` if it is still unused.
const DELETE_UNUSED: &str = "DELETE FROM persisted_grants WHERE key = $1 AND consumed IS NULL";

/// Binds the nine columns of a grant, in [`COLUMNS`] order.
macro_rules! bind_grant {
    ($query:expr, $grant:expr) => {
        $query
            .bind(&$grant.key)
            .bind(&$grant.grant_type)
            .bind(&$grant.subject_id)
            .bind(&$grant.session_id)
            .bind(&$grant.client_id)
            .bind(sql::seconds($grant.created))
            .bind($grant.expires.map(sql::seconds))
            .bind($grant.consumed.map(sql::seconds))
            .bind(&$grant.data)
    };
}

/// `( $first, ..., $first+8 ), ...` for `rows` grants: the value rows of an insert.
fn value_rows(first: usize, rows: usize) -> String {
    let mut sql = String::new();
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..COLUMN_COUNT {
            let separator = if col == 0 { "" } else { ", " };
            let _ = write!(sql, "{separator}${}", first + row * COLUMN_COUNT + col);
        }
        sql.push(')');
    }
    sql
}

/// The single PostgreSQL statement of a rotation issuing `rows` grants. Binds: `$1` the
/// presented key; `$2` the consumption instant (first use) or the successor's key (retry);
/// `$3` the new data; then the grants from `$4`. Returns the presented row if it was updated.
///
/// Every sub-statement carries the whole condition, since each runs whatever the others find:
/// a retry deletes the successor only if the presented token is consumed, and updates the
/// presented token only if the deletion happened (the uncorrelated `EXISTS` runs before any
/// row of the update is locked, so concurrent retries lock the successor first and cannot
/// deadlock on the presented token).
fn postgres_statement(retry: bool, rows: usize) -> String {
    let presented = if retry {
        "gone AS (DELETE FROM persisted_grants WHERE key = $2 AND consumed IS NULL AND EXISTS \
         (SELECT 1 FROM persisted_grants WHERE key = $1 AND consumed IS NOT NULL) RETURNING key), \
         presented AS (UPDATE persisted_grants SET data = $3 WHERE key = $1 \
         AND consumed IS NOT NULL AND EXISTS (SELECT 1 FROM gone) RETURNING *)"
    } else {
        "presented AS (UPDATE persisted_grants SET consumed = $2, data = $3 WHERE key = $1 \
         AND consumed IS NULL RETURNING *)"
    };
    let mut sql = format!("WITH {presented}");
    if rows > 0 {
        let _ = write!(
            sql,
            ", issued AS (INSERT INTO persisted_grants ({COLUMNS}) SELECT v.* FROM (VALUES {}) \
             AS v WHERE EXISTS (SELECT 1 FROM presented))",
            value_rows(4, rows)
        );
    }
    let _ = write!(sql, " SELECT {COLUMNS} FROM presented");
    sql
}

impl PostgresStore {
    /// The rotation as one statement (see the module documentation).
    pub(crate) async fn rotate(
        &self,
        rotation: &RefreshTokenRotation,
    ) -> StoreResult<Option<PersistedGrant>> {
        let retry = matches!(rotation.step, RotationStep::Retry { .. });
        let statement = postgres_statement(retry, rotation.issue.len());
        // Only column names and `$n` placeholders were written into the text; every value is
        // bound below.
        let query = sqlx::query(sqlx::AssertSqlSafe(statement.as_str())).bind(&rotation.key);
        let mut query = match &rotation.step {
            RotationStep::FirstUse { at } => query.bind(sql::seconds(*at)),
            RotationStep::Retry { successor } => query.bind(successor),
        }
        .bind(&rotation.data);
        for grant in &rotation.issue {
            query = bind_grant!(query, grant);
        }
        let row = query
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(sql::grant_from_row).transpose()
    }
}

impl SqliteStore {
    /// The rotation as statements in one transaction (see the module documentation).
    pub(crate) async fn rotate(
        &self,
        rotation: &RefreshTokenRotation,
    ) -> StoreResult<Option<PersistedGrant>> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // Each early return drops `tx`, which rolls everything back.
        let presented = match &rotation.step {
            RotationStep::FirstUse { at } => sqlx::query(CONSUME_PRESENTED)
                .bind(&rotation.key)
                .bind(sql::seconds(*at))
                .bind(&rotation.data)
                .fetch_optional(&mut *tx)
                .await
                .map_err(store_error)?,
            RotationStep::Retry { successor } => {
                let deleted = sqlx::query(DELETE_UNUSED)
                    .bind(successor)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                if deleted.rows_affected() == 0 {
                    return Ok(None);
                }
                sqlx::query(RETRY_PRESENTED)
                    .bind(&rotation.key)
                    .bind(&rotation.data)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?
            }
        };
        let Some(presented) = presented else {
            return Ok(None);
        };
        let presented = sql::grant_from_row(&presented)?;
        if !rotation.issue.is_empty() {
            let statement = format!(
                "INSERT INTO persisted_grants ({COLUMNS}) VALUES {}",
                value_rows(1, rotation.issue.len())
            );
            // Only column names and `$n` placeholders were written into the text; every value
            // is bound below.
            let mut query = sqlx::query(sqlx::AssertSqlSafe(statement.as_str()));
            for grant in &rotation.issue {
                query = bind_grant!(query, grant);
            }
            query.execute(&mut *tx).await.map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)?;
        Ok(Some(presented))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_postgres_statement_numbers_its_values_after_the_three_fixed_ones() {
        let statement = postgres_statement(false, 2);
        assert!(statement.contains("VALUES ($4, $5, $6, $7, $8, $9, $10, $11, $12), ($13,"));
        assert!(statement.ends_with("$21)) AS v WHERE EXISTS (SELECT 1 FROM presented)) SELECT key, grant_type, subject_id, session_id, client_id, created, expires, consumed, data FROM presented"));
        let retry = postgres_statement(true, 0);
        assert!(retry.contains("gone AS (DELETE") && !retry.contains("issued"));
    }
}
