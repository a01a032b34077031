//! Where SQLite and PostgreSQL differ: the one place to read when a statement must be written
//! twice.
//!
//! Almost every statement is shared text (`$n` placeholders work on both databases through
//! sqlx). What differs is the row locking of work that several workers (or instances) share:
//! PostgreSQL takes disjoint batches with `FOR UPDATE SKIP LOCKED`, while SQLite has no row
//! locks and relies on its single write lock, which makes one statement atomic. Those
//! statements, and the batch sizes that suit each engine, are the associated items of
//! [`Dialect`]. The expired-session batches of the cleanup job differ in mechanism, not only in
//! text (a transaction left open on PostgreSQL, an in-process registry of taken keys on
//! SQLite), and live with their backend in `postgres.rs` and `sqlite.rs`.

use crate::{PostgresStore, SqliteStore};

/// What a backend's store type brings to the shared store implementations in
/// [`crate::stores`]: its sqlx driver and the statements that differ between the databases.
pub(crate) trait Dialect {
    /// The sqlx driver.
    type Db: sqlx::Database;
    /// Deletes one batch of expired grants: expired before `$1`, at most `$2`.
    const REMOVE_EXPIRED_GRANTS: &'static str;
    /// Deletes one batch of expired sign-in failure counters: expired at `$1`, at most `$2`.
    const REMOVE_EXPIRED_SIGN_IN_FAILURES: &'static str;
    /// Deletes one batch of revoked JWT ids whose token expired: at `$1`, at most `$2`.
    const REMOVE_EXPIRED_REVOKED_TOKENS: &'static str;
    /// Deletes one batch of seen DPoP proofs whose window has passed: at `$1`, at most `$2`.
    const REMOVE_EXPIRED_DPOP_PROOFS: &'static str;
    /// Claims a batch of due outbox messages by moving their next attempt to the lease, and
    /// returns them: due at `$1`, leased until `$2`, at most `$3`, of the kinds listed where
    /// the text says `{kinds}` (see `crate::outbox::claim_due`). No two concurrent callers may
    /// get the same message.
    const CLAIM_DUE_MESSAGES: &'static str;
    /// Most outbox messages one `INSERT` writes (each binds `MESSAGE_COLUMN_COUNT` values).
    const MESSAGE_CHUNK: usize;
}

/// A query of a store type's driver.
pub(crate) type Query<'q, S> =
    sqlx::query::Query<'q, <S as Dialect>::Db, <<S as Dialect>::Db as sqlx::Database>::Arguments>;
/// A connection (or open transaction, through `&mut *tx`) of a store type's driver.
pub(crate) type Connection<S> = <<S as Dialect>::Db as sqlx::Database>::Connection;
/// A row of a store type's driver.
pub(crate) type Row<S> = <<S as Dialect>::Db as sqlx::Database>::Row;

impl Dialect for SqliteStore {
    type Db = sqlx::Sqlite;

    /// SQLite has no row locks: the write lock serializes concurrent cleanups.
    const REMOVE_EXPIRED_GRANTS: &'static str = "DELETE FROM persisted_grants WHERE key IN \
         (SELECT key FROM persisted_grants WHERE expires < $1 ORDER BY expires LIMIT $2)";

    const REMOVE_EXPIRED_SIGN_IN_FAILURES: &'static str = "DELETE FROM sign_in_failures WHERE \
         key IN (SELECT key FROM sign_in_failures WHERE expires <= $1 ORDER BY expires LIMIT $2)";

    const REMOVE_EXPIRED_REVOKED_TOKENS: &'static str = "DELETE FROM revoked_tokens WHERE \
         jti IN (SELECT jti FROM revoked_tokens WHERE expires <= $1 ORDER BY expires LIMIT $2)";

    const REMOVE_EXPIRED_DPOP_PROOFS: &'static str = "DELETE FROM dpop_proofs WHERE \
         key IN (SELECT key FROM dpop_proofs WHERE expires <= $1 ORDER BY expires LIMIT $2)";

    /// One statement is atomic in SQLite (the write lock serializes concurrent claimers).
    const CLAIM_DUE_MESSAGES: &'static str = "UPDATE backchannel_outbox SET next_attempt = $2 \
         WHERE id IN (SELECT id FROM backchannel_outbox WHERE status = 'pending' \
         AND next_attempt <= $1 AND kind IN ({kinds}) ORDER BY next_attempt, id LIMIT $3) \
         RETURNING id, client_id, endpoint, logout_token, subject_id, session_id, reason, \
         created, next_attempt, attempts, give_up_after, status, kind, payload";

    /// Small on SQLite: binding a value looks its `$n` name up among all of the statement's
    /// parameters, so a statement's binding cost grows with the square of its parameters (256
    /// rows made it most of a cleanup's time).
    const MESSAGE_CHUNK: usize = 16;
}

impl Dialect for PostgresStore {
    type Db = sqlx::Postgres;

    /// `SKIP LOCKED` lets instances cleaning up at the same time take different rows instead
    /// of waiting on each other.
    const REMOVE_EXPIRED_GRANTS: &'static str = "DELETE FROM persisted_grants WHERE key IN \
         (SELECT key FROM persisted_grants WHERE expires < $1 ORDER BY expires LIMIT $2 \
         FOR UPDATE SKIP LOCKED)";

    /// As for grants: instances cleaning up at once take different rows.
    const REMOVE_EXPIRED_SIGN_IN_FAILURES: &'static str = "DELETE FROM sign_in_failures WHERE \
         key IN (SELECT key FROM sign_in_failures WHERE expires <= $1 ORDER BY expires LIMIT $2 \
         FOR UPDATE SKIP LOCKED)";

    /// As for grants: instances cleaning up at once take different rows.
    const REMOVE_EXPIRED_REVOKED_TOKENS: &'static str = "DELETE FROM revoked_tokens WHERE \
         jti IN (SELECT jti FROM revoked_tokens WHERE expires <= $1 ORDER BY expires LIMIT $2 \
         FOR UPDATE SKIP LOCKED)";

    /// As for grants: instances cleaning up at once take different rows.
    const REMOVE_EXPIRED_DPOP_PROOFS: &'static str = "DELETE FROM dpop_proofs WHERE \
         key IN (SELECT key FROM dpop_proofs WHERE expires <= $1 ORDER BY expires LIMIT $2 \
         FOR UPDATE SKIP LOCKED)";

    /// `SKIP LOCKED` gives instances claiming at the same time different rows (a row another
    /// claimer updated meanwhile is re-checked and, leased, no longer due), and the
    /// `MATERIALIZED` CTE selects and locks the batch exactly once.
    const CLAIM_DUE_MESSAGES: &'static str = "WITH due AS MATERIALIZED \
         (SELECT id FROM backchannel_outbox WHERE status = 'pending' AND next_attempt <= $1 \
         AND kind IN ({kinds}) ORDER BY next_attempt, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
         UPDATE backchannel_outbox SET next_attempt = $2 WHERE id IN (SELECT id FROM due) \
         RETURNING id, client_id, endpoint, logout_token, subject_id, session_id, reason, \
         created, next_attempt, attempts, give_up_after, status, kind, payload";

    /// 3,584 bound values: well under PostgreSQL's 65,535 per statement.
    const MESSAGE_CHUNK: usize = 256;
}
