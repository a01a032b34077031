//! The SQLite store: one database file, in WAL mode, the default for a single instance.

use crate::StoreOptions;
use crate::error::{BackupError, SetupError, store_error};
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

/// Bytes of WAL kept on disk after a checkpoint (64 MiB).
const JOURNAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

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
            .busy_timeout(BUSY_TIMEOUT)
            // After a checkpoint has reset it, the WAL file is cut back to this size instead of
            // keeping the largest size it ever reached.
            .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT.to_string());
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

    /// Moves every committed page from the WAL into the database file and truncates the WAL.
    ///
    /// SQLite's own automatic checkpoints are passive: under continuous load some reader
    /// always holds an old snapshot, the WAL is never reset and grows without bound
    /// (checkpoint starvation). This one waits (up to the busy timeout) for the readers of
    /// older snapshots to finish, holding writers back meanwhile, which takes milliseconds
    /// when transactions are short. Returns the WAL frames it could not move (0 when complete).
    pub async fn checkpoint(&self) -> StoreResult<i64> {
        let row: (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        let (busy, log_frames, checkpointed) = row;
        Ok(if busy != 0 {
            log_frames.max(0)
        } else {
            (log_frames - checkpointed).max(0)
        })
    }

    /// Writes a consistent copy of the database to `path` while it is in use (`VACUUM INTO`:
    /// one read transaction, so concurrent writes are either wholly in the copy or not at all;
    /// the copy is compacted and has no WAL of its own). `path` must not exist yet.
    pub async fn backup_to(&self, path: &std::path::Path) -> Result<(), BackupError> {
        if path.exists() {
            return Err(BackupError::TargetExists(path.to_owned()));
        }
        let target = path
            .to_str()
            .ok_or_else(|| BackupError::Failed("the backup path is not valid UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.pool)
            .await
            .map_err(|e| BackupError::Failed(crate::error::describe(&e)))?;
        Ok(())
    }

    /// Checkpoints the WAL into the database file, then closes every connection (waiting for
    /// those in use to be returned), so that a stopped server leaves one self-sufficient
    /// database file behind.
    pub async fn close(&self) {
        if let Err(error) = self.checkpoint().await {
            tracing::warn!(%error, "SQLite checkpoint at shutdown failed; the WAL file is still needed");
        }
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
