//! The SQLite store: one database file, in WAL mode, the default for a single instance.

use crate::StoreOptions;
use crate::error::SetupError;
use crate::session_counts::{SessionCountPolicy, SessionCounts};
use crate::stores::impl_stores;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How long a connection waits for another one's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Deletes one batch of expired grants (SQLite has no row locks: the write lock serializes
/// concurrent cleanups).
const REMOVE_EXPIRED_GRANTS: &str = "DELETE FROM persisted_grants WHERE key IN \
     (SELECT key FROM persisted_grants WHERE expires < $1 ORDER BY expires LIMIT $2)";

/// Deletes one batch of expired sessions and returns them. One statement is atomic in SQLite
/// (the write lock serializes concurrent cleanups), so no two callers get the same session.
const REMOVE_EXPIRED_SESSIONS: &str = "DELETE FROM server_side_sessions WHERE key IN \
     (SELECT key FROM server_side_sessions WHERE expires < $1 ORDER BY expires LIMIT $2) \
     RETURNING key, scheme, subject_id, session_id, display_name, created, renewed, expires, \
     ticket";

/// Most messages one `INSERT` writes (12 bound values each). Small on SQLite: binding a value
/// looks its `$n` name up among all of the statement's parameters, so a statement's binding
/// cost grows with the square of its parameters (256 rows made it most of a cleanup's time).
const MESSAGE_CHUNK: usize = 16;

/// Claims a batch of expired sessions for this cleanup worker by leasing them until `$2`, and
/// returns them. SQLite runs one write at a time, so the statement alone keeps two workers
/// from claiming the same session.
const CLAIM_EXPIRED_SESSIONS: &str = "UPDATE server_side_sessions SET claimed_until = $2 \
     WHERE key IN (SELECT key FROM server_side_sessions WHERE expires <= $1 \
     AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY expires LIMIT $3) \
     RETURNING key, scheme, subject_id, session_id, display_name, created, renewed, expires, \
     ticket";

/// Claims a batch of due outbox messages by moving their next attempt to the lease, and returns
/// them. One statement is atomic in SQLite (the write lock serializes concurrent claimers), so
/// no two callers get the same message.
const CLAIM_DUE_MESSAGES: &str = "UPDATE backchannel_outbox SET next_attempt = $2 WHERE id IN \
     (SELECT id FROM backchannel_outbox WHERE status = 'pending' AND next_attempt <= $1 \
     ORDER BY next_attempt, id LIMIT $3) \
     RETURNING id, client_id, endpoint, logout_token, subject_id, session_id, reason, created, \
     next_attempt, attempts, give_up_after, status";

/// Every store in one SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    session_counts: Arc<SessionCounts>,
}

impl SqliteStore {
    /// Opens the database at `url` (`sqlite://PATH`, `sqlite:PATH` or `sqlite::memory:`),
    /// creating the file and its directory if missing, with WAL journaling, foreign keys on and
    /// a busy timeout of five seconds. Does not migrate: see [`SqliteStore::migrate`].
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, SetupError> {
        let connect_options = SqliteConnectOptions::from_str(url)
            .map_err(|e| SetupError::connect(&e))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        if let Some(dir) = connect_options.get_filename().parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(|source| SetupError::CreateDirectory {
                path: dir.to_owned(),
                source,
            })?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect_options)
            .await
            .map_err(|e| SetupError::connect(&e))?;
        Ok(Self::from_pool(pool))
    }

    /// A store over an existing pool.
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self {
            pool,
            session_counts: Arc::default(),
        }
    }

    /// The same store with another [`SessionCountPolicy`] for session queries (the default:
    /// exact counts up to 5,000 matching sessions, larger totals reused for 10 s).
    #[must_use]
    pub fn with_session_count_policy(mut self, policy: SessionCountPolicy) -> Self {
        self.session_counts = Arc::new(SessionCounts::new(policy));
        self
    }

    /// The connection pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Applies the migrations not yet applied; running it again is harmless.
    pub async fn migrate(&self) -> Result<(), SetupError> {
        crate::migrations::sqlite()
            .run(&self.pool)
            .await
            .map_err(|e| SetupError::migrate(&e))
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl_stores!(
    SqliteStore,
    sqlx::Sqlite,
    remove_expired_grants = REMOVE_EXPIRED_GRANTS,
    get_and_remove_expired_sessions = REMOVE_EXPIRED_SESSIONS,
    claim_due = CLAIM_DUE_MESSAGES,
    claim_expired_sessions = CLAIM_EXPIRED_SESSIONS,
    message_chunk = MESSAGE_CHUNK,
);
