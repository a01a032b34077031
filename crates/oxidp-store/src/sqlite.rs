//! The SQLite store: one database file, in WAL mode, the default for a single instance.

use crate::StoreOptions;
use crate::error::{SetupError, store_error};
use crate::session_counts::{SessionCountPolicy, SessionCounts};
use oxidp_core::model::{ServerSideSession, SessionExpiration};
use oxidp_core::store::{ExpiredSessionBatch, StoreResult};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long a connection waits for another one's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Every store in one SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    pub(crate) session_counts: Arc<SessionCounts>,
    taken: Arc<TakenSessions>,
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
            taken: Arc::default(),
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

/// The expired sessions this process's cleanup workers have taken and not yet committed or
/// given back.
///
/// A SQLite batch holds no lock until its commit: holding the database's one write lock while
/// the batch's tickets are opened would keep every other writer (refresh grants, renewals, the
/// delivery worker) waiting that long, and a lease column costs a write of every expired row. Within the process these keys keep takers
/// apart; the commit deletes only sessions still there and still expired, so even two
/// processes on one file (one should own the job) commit each session once.
#[derive(Debug, Default)]
struct TakenSessions {
    /// Held from the read of a batch until its keys are registered, so that two takers never
    /// read the same rows in between.
    taking: tokio::sync::Mutex<()>,
    keys: Mutex<HashSet<String>>,
}

impl TakenSessions {
    fn keys(&self) -> MutexGuard<'_, HashSet<String>> {
        // Only inserts and removes of whole keys happen under the lock: a panic cannot leave
        // the set half-updated.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SqliteStore {
    /// See [`OutboxStore::take_expired`](oxidp_core::store::OutboxStore::take_expired) and
    /// [`TakenSessions`].
    pub(crate) async fn take_expired_batch(
        &self,
        now: time::OffsetDateTime,
        batch: u32,
    ) -> StoreResult<Box<dyn ExpiredSessionBatch + '_>> {
        let _taking = self.taken.taking.lock().await;
        let held: Vec<String> = self.taken.keys().iter().cloned().collect();
        let sql = take_expired_sql(held.len());
        // Only `$n` placeholders were written into the text; every value is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(crate::sql::seconds(now))
            .bind(i64::from(batch));
        for key in &held {
            query = query.bind(key.as_str());
        }
        let rows = query.fetch_all(&self.pool).await.map_err(store_error)?;
        let mut sessions = rows
            .iter()
            .map(crate::sessions::session_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        crate::sessions::sort_by_expiry(&mut sessions);
        self.taken
            .keys()
            .extend(sessions.iter().map(|s| s.key.clone()));
        Ok(Box::new(TakenBatch {
            store: self,
            now,
            sessions,
        }))
    }

    /// One batch at a time: SQLite has one writer, so a second batch would only queue for it.
    pub(crate) fn expiration_lane_count(&self) -> usize {
        1
    }
}

/// The expired sessions at `$1`, oldest expiry first, at most `$2`, except the `held` keys
/// bound from `$3`.
fn take_expired_sql(held: usize) -> String {
    let mut sql = format!(
        "SELECT {} FROM server_side_sessions WHERE expires <= $1",
        crate::sessions::SESSION_COLUMNS
    );
    if held > 0 {
        sql.push_str(" AND key NOT IN (");
        for n in 0..held {
            let separator = if n == 0 { "" } else { ", " };
            let _ = write!(sql, "{separator}${}", n + 3);
        }
        sql.push(')');
    }
    sql.push_str(" ORDER BY expires LIMIT $2");
    sql
}

/// A batch read at `now` and registered in [`TakenSessions`] until it is committed, given back
/// or dropped.
struct TakenBatch<'a> {
    store: &'a SqliteStore,
    now: time::OffsetDateTime,
    sessions: Vec<ServerSideSession>,
}

#[async_trait::async_trait]
impl ExpiredSessionBatch for TakenBatch<'_> {
    fn sessions(&self) -> &[ServerSideSession] {
        &self.sessions
    }

    #[tracing::instrument(level = "debug", skip_all, fields(sessions = self.sessions.len()))]
    async fn commit(self: Box<Self>, expirations: &[SessionExpiration]) -> StoreResult<u64> {
        let given: HashMap<&str, &SessionExpiration> = expirations
            .iter()
            .map(|expiration| (expiration.key.as_str(), expiration))
            .collect();
        // A taken session without an expiration is still removed, with nothing else to do.
        let bare: Vec<SessionExpiration> = self
            .sessions
            .iter()
            .filter(|s| !given.contains_key(s.key.as_str()))
            .map(|s| SessionExpiration {
                key: s.key.clone(),
                session_id: s.session_id.clone(),
                revoke_client_ids: Vec::new(),
                messages: Vec::new(),
            })
            .collect();
        let ours: Vec<&SessionExpiration> = self
            .sessions
            .iter()
            .filter_map(|s| given.get(s.key.as_str()).copied())
            .chain(&bare)
            .collect();
        // A session slid since it was read is no longer expired at `now`, and is kept.
        let removed = self.store.commit_still_expired(self.now, &ours).await?;
        Ok(removed.len() as u64)
    }

    async fn give_back(self: Box<Self>) -> StoreResult<()> {
        // Dropping releases the keys.
        Ok(())
    }
}

impl Drop for TakenBatch<'_> {
    fn drop(&mut self) {
        let mut keys = self.store.taken.keys();
        for session in &self.sessions {
            keys.remove(&session.key);
        }
    }
}
