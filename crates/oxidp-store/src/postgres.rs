//! The PostgreSQL store: one database shared by any number of oxidp instances.

use crate::StoreOptions;
use crate::error::SetupError;
use crate::session_counts::{SessionCountPolicy, SessionCounts};
use crate::stores::impl_stores;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::sync::Arc;

/// Deletes one batch of expired grants. `SKIP LOCKED` lets instances cleaning up at the same
/// time take different rows instead of waiting on each other.
const REMOVE_EXPIRED_GRANTS: &str = "DELETE FROM persisted_grants WHERE key IN \
     (SELECT key FROM persisted_grants WHERE expires < $1 ORDER BY expires LIMIT $2 \
     FOR UPDATE SKIP LOCKED)";

/// Deletes one batch of expired sessions and returns them. `SKIP LOCKED` gives instances
/// cleaning up at the same time different rows, and `RETURNING` reports only the rows this
/// statement deleted, so no two callers get the same session.
const REMOVE_EXPIRED_SESSIONS: &str = "DELETE FROM server_side_sessions WHERE key IN \
     (SELECT key FROM server_side_sessions WHERE expires < $1 ORDER BY expires LIMIT $2 \
     FOR UPDATE SKIP LOCKED) \
     RETURNING key, scheme, subject_id, session_id, display_name, created, renewed, expires, \
     ticket";

/// Most messages one `INSERT` writes (12 bound values each, well under PostgreSQL's 65,535).
const MESSAGE_CHUNK: usize = 256;

/// Claims a batch of expired sessions for this cleanup worker by leasing them until `$2`, and
/// returns them. As for outbox messages, `SKIP LOCKED` and the `MATERIALIZED` CTE give
/// concurrent workers different sessions, each locked and leased exactly once.
const CLAIM_EXPIRED_SESSIONS: &str = "WITH due AS MATERIALIZED \
     (SELECT key FROM server_side_sessions WHERE expires <= $1 \
     AND (claimed_until IS NULL OR claimed_until <= $1) \
     ORDER BY expires LIMIT $3 FOR UPDATE SKIP LOCKED) \
     UPDATE server_side_sessions SET claimed_until = $2 WHERE key IN (SELECT key FROM due) \
     RETURNING key, scheme, subject_id, session_id, display_name, created, renewed, expires, \
     ticket";

/// Claims a batch of due outbox messages by moving their next attempt to the lease, and returns
/// them. `SKIP LOCKED` gives instances claiming at the same time different rows (a row another
/// claimer updated meanwhile is re-checked and, leased, no longer due), and the `MATERIALIZED`
/// CTE selects and locks the batch exactly once, so no two callers get the same message.
const CLAIM_DUE_MESSAGES: &str = "WITH due AS MATERIALIZED \
     (SELECT id FROM backchannel_outbox WHERE status = 'pending' AND next_attempt <= $1 \
     ORDER BY next_attempt, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
     UPDATE backchannel_outbox SET next_attempt = $2 WHERE id IN (SELECT id FROM due) \
     RETURNING id, client_id, endpoint, logout_token, subject_id, session_id, reason, created, \
     next_attempt, attempts, give_up_after, status";

/// Every store in one PostgreSQL database (in the connection's `search_path` schema).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    session_counts: Arc<SessionCounts>,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://` or `postgresql://`). Does not migrate: see
    /// [`PostgresStore::migrate`].
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, SetupError> {
        let connect_options =
            PgConnectOptions::from_str(url).map_err(|e| SetupError::connect(&e))?;
        Self::connect_with(connect_options, options).await
    }

    /// Connects with explicit connection options (for example a `search_path`).
    pub async fn connect_with(
        connect_options: PgConnectOptions,
        options: &StoreOptions,
    ) -> Result<Self, SetupError> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect_options)
            .await
            .map_err(|e| SetupError::connect(&e))?;
        Ok(Self::from_pool(pool))
    }

    /// A store over an existing pool.
    pub fn from_pool(pool: PgPool) -> Self {
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
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the migrations not yet applied; running it again is harmless, and instances
    /// starting together take turns (sqlx holds an advisory lock while migrating).
    pub async fn migrate(&self) -> Result<(), SetupError> {
        crate::migrations::postgres()
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
    PostgresStore,
    sqlx::Postgres,
    remove_expired_grants = REMOVE_EXPIRED_GRANTS,
    get_and_remove_expired_sessions = REMOVE_EXPIRED_SESSIONS,
    claim_due = CLAIM_DUE_MESSAGES,
    claim_expired_sessions = CLAIM_EXPIRED_SESSIONS,
    message_chunk = MESSAGE_CHUNK,
);
