//! The PostgreSQL store: one database shared by any number of oxidp instances.

use crate::StoreOptions;
use crate::error::{SetupError, store_error};
use crate::session_counts::{SessionCountPolicy, SessionCounts};
use oxidp_core::model::{ServerSideSession, SessionExpiration};
use oxidp_core::store::{ExpiredSessionBatch, StoreResult};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Takes a batch of expired sessions for a cleanup worker: deletes them and returns them,
/// inside the worker's open transaction, which keeps the rows locked until it commits or rolls
/// back. `SKIP LOCKED` passes over rows another worker holds, and the `MATERIALIZED` CTE selects
/// and locks the batch exactly once, so concurrent workers take disjoint batches; a renewal or
/// an on-sight expiration of a held session waits for the outcome and then finds it gone.
const TAKE_EXPIRED_SESSIONS: &str = "WITH due AS MATERIALIZED \
     (SELECT key FROM server_side_sessions WHERE expires <= $1 \
     ORDER BY expires LIMIT $2 FOR UPDATE SKIP LOCKED) \
     DELETE FROM server_side_sessions WHERE key IN (SELECT key FROM due) \
     RETURNING key, scheme, subject_id, session_id, display_name, created, renewed, expires, \
     ticket";

/// Every store in one PostgreSQL database (in the connection's `search_path` schema).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    pub(crate) session_counts: Arc<SessionCounts>,
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
        // The pool's own first connection retries until the acquire timeout and then reports
        // only that it timed out; one plain connection first says why (refused, unknown host,
        // authentication failed) at once.
        reach(&connect_options, options.wait_for_database).await?;
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

impl PostgresStore {
    /// See [`OutboxStore::take_expired`](oxidp_core::store::OutboxStore::take_expired): the batch is deleted and row-locked in a transaction
    /// left open until its commit or rollback.
    pub(crate) async fn take_expired_batch(
        &self,
        now: time::OffsetDateTime,
        batch: u32,
    ) -> StoreResult<Box<dyn ExpiredSessionBatch + '_>> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let rows = sqlx::query(TAKE_EXPIRED_SESSIONS)
            .bind(crate::sql::seconds(now))
            .bind(i64::from(batch))
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;
        let mut sessions = rows
            .iter()
            .map(crate::sessions::session_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        crate::sessions::sort_by_expiry(&mut sessions);
        Ok(Box::new(HeldBatch { tx, sessions }))
    }

    /// Half the pool, at most four: a lane holds a connection for its batch's transaction and
    /// may need a second one meanwhile (client lookups), so lanes alone can never exhaust the
    /// pool and wait on each other.
    pub(crate) fn expiration_lane_count(&self) -> usize {
        let pool_size = self.pool.options().get_max_connections() as usize;
        (pool_size / 2).clamp(1, 4)
    }
}

/// Expired sessions taken by a cleanup worker: deleted in `tx`, which is still open (and rolls
/// back if dropped, once its connection is released).
struct HeldBatch {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    sessions: Vec<ServerSideSession>,
}

#[async_trait::async_trait]
impl ExpiredSessionBatch for HeldBatch {
    fn sessions(&self) -> &[ServerSideSession] {
        &self.sessions
    }

    #[tracing::instrument(level = "debug", skip_all, fields(sessions = self.sessions.len()))]
    async fn commit(self: Box<Self>, expirations: &[SessionExpiration]) -> StoreResult<u64> {
        let HeldBatch { mut tx, sessions } = *self;
        let taken: HashSet<&str> = sessions.iter().map(|s| s.key.as_str()).collect();
        let ours: Vec<&SessionExpiration> = expirations
            .iter()
            .filter(|expiration| taken.contains(expiration.key.as_str()))
            .collect();
        PostgresStore::revoke_and_enqueue(&mut tx, &ours).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(sessions.len() as u64)
    }

    async fn give_back(self: Box<Self>) -> StoreResult<()> {
        self.tx.rollback().await.map_err(store_error)
    }
}

/// How long one attempt to reach the database may take.
const CONNECT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens and closes one connection: at once, or retrying with a growing backoff (logged) for
/// up to `wait`.
async fn reach(connect_options: &PgConnectOptions, wait: Duration) -> Result<(), SetupError> {
    use sqlx::{ConnectOptions as _, Connection as _};
    let deadline = tokio::time::Instant::now() + wait;
    let mut backoff = Duration::from_millis(500);
    loop {
        let attempt =
            tokio::time::timeout(CONNECT_ATTEMPT_TIMEOUT, connect_options.connect()).await;
        let error = match attempt {
            Ok(Ok(connection)) => {
                let _ = connection.close().await;
                return Ok(());
            }
            Ok(Err(error)) => SetupError::connect(&error),
            Err(_) => SetupError::Connect(format!(
                "no answer within {}s",
                CONNECT_ATTEMPT_TIMEOUT.as_secs()
            )),
        };
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(error);
        }
        let pause = backoff.min(deadline - now);
        tracing::warn!(%error, retry_in_ms = pause.as_millis(), "database not reachable yet; waiting for it");
        tokio::time::sleep(pause).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_run_holds_at_most_half_the_pool_in_batches() {
        let lanes = |max_connections| {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .connect_lazy("postgres://postgres@127.0.0.1:5432/test")
                .expect("a lazy pool");
            PostgresStore::from_pool(pool).expiration_lane_count()
        };
        assert_eq!(lanes(1), 1, "one lane even with one connection");
        assert_eq!(lanes(4), 2);
        assert_eq!(lanes(10), 4, "the default pool");
        assert_eq!(lanes(50), 4, "never more than four");
    }
}
