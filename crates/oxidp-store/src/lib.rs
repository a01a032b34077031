//! SQL stores for oxidp: SQLite (the default, one file) and PostgreSQL (several instances on one
//! database).
//!
//! [`connect`] picks the backend from the URL scheme, opens a pool, applies the embedded
//! migrations and returns a [`SqlStore`], whose [`SqlStore::stores`] is what the server runs on.
//! [`migrate`] only applies the migrations (`oxidp migrate`).
//!
//! Both backends implement every store trait of [`oxidp_core::store`] from the same code, one
//! module per aggregate under `stores/`, and the same SQL (see `sql.rs`; for sessions and their
//! keyset paging, `sessions.rs`; for the outbox and the audit trail, `outbox.rs`; `$n`
//! placeholders work on both). The few statements that differ between the databases are in
//! `dialect.rs`. Both pass the conformance kit of `oxidp-core` (`tests/conformance.rs`). Timestamps are stored as BIGINT unix seconds in both
//! databases; client and API resource bodies as their serde JSON.
//! `sqlx` errors become [`StoreError`](oxidp_core::store::StoreError)s here: a unique violation
//! is a conflict, an unreadable value is corrupt, anything else is "unavailable", with a message
//! that carries no value.
//!
//! [`testing`] gives tests (here and in the server crate) an isolated PostgreSQL schema or an
//! in-memory SQLite database.

mod dialect;
mod error;
mod expiration;
mod migrations;
mod outbox;
mod postgres;
mod rotation;
mod session_counts;
mod sessions;
mod sql;
mod sqlite;
mod stores;
pub mod testing;

pub use error::{BackupError, SetupError};
pub use postgres::PostgresStore;
pub use session_counts::SessionCountPolicy;
pub use sqlite::SqliteStore;

use oxidp_core::store::Stores;
use std::sync::Arc;
use std::time::Duration;

/// Connection pool settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a query waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// How long opening a PostgreSQL store keeps retrying (with a logged, growing backoff) a
    /// database that cannot be reached. Zero, the default, fails at the first refusal with
    /// its cause, so a wrong URL or a stopped database is known within seconds.
    pub wait_for_database: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(30),
            wait_for_database: Duration::ZERO,
        }
    }
}

/// The database kind a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:`
    Sqlite,
    /// `postgres:` or `postgresql:`
    Postgres,
}

impl Backend {
    /// The backend `url` names, from its scheme.
    pub fn from_url(url: &str) -> Result<Self, SetupError> {
        let Some((scheme, _)) = url.split_once(':') else {
            return Err(SetupError::InvalidUrl(
                "a database URL starts with `sqlite:`, `postgres:` or `postgresql:`".to_owned(),
            ));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(SetupError::UnsupportedScheme(scheme.to_owned())),
        }
    }
}

/// An open SQL store of either backend.
#[derive(Debug, Clone)]
pub enum SqlStore {
    /// A SQLite database.
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(PostgresStore),
}

impl SqlStore {
    /// Every store of the server, backed by this database.
    pub fn stores(&self) -> Stores {
        match self {
            Self::Sqlite(store) => Stores::from_backend(Arc::new(store.clone())),
            Self::Postgres(store) => Stores::from_backend(Arc::new(store.clone())),
        }
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the migrations not yet applied.
    pub async fn migrate(&self) -> Result<(), SetupError> {
        match self {
            Self::Sqlite(store) => store.migrate().await,
            Self::Postgres(store) => store.migrate().await,
        }
    }

    /// Writes a consistent copy of a SQLite database to `path` while the server runs;
    /// [`BackupError::Unsupported`] for PostgreSQL, whose own tools (`pg_dump`) do this.
    pub async fn backup_to(&self, path: &std::path::Path) -> Result<(), BackupError> {
        match self {
            Self::Sqlite(store) => store.backup_to(path).await,
            Self::Postgres(_) => Err(BackupError::Unsupported),
        }
    }

    /// Closes every connection, waiting for those in use to be returned (SQLite: after moving
    /// the WAL into the database file).
    pub async fn close(&self) {
        match self {
            Self::Sqlite(store) => store.close().await,
            Self::Postgres(store) => store.close().await,
        }
    }
}

/// Opens the database at `url` and applies its migrations.
///
/// `sqlite://PATH` (relative to the working directory; `sqlite:///abs/path` for an absolute
/// one) creates the file and its directory if missing and uses WAL journaling;
/// `postgres://...` and `postgresql://...` connect to an existing database. Any other scheme is
/// [`SetupError::UnsupportedScheme`].
pub async fn connect(url: &str, options: &StoreOptions) -> Result<SqlStore, SetupError> {
    let store = open(url, options).await?;
    store.migrate().await?;
    Ok(store)
}

/// Opens the database at `url` without migrating it (see [`connect`] for the URLs).
pub async fn open(url: &str, options: &StoreOptions) -> Result<SqlStore, SetupError> {
    Ok(match Backend::from_url(url)? {
        Backend::Sqlite => SqlStore::Sqlite(SqliteStore::connect(url, options).await?),
        Backend::Postgres => SqlStore::Postgres(PostgresStore::connect(url, options).await?),
    })
}

/// Applies the migrations of the database at `url` (creating a SQLite file if missing), then
/// closes the connection.
pub async fn migrate(url: &str) -> Result<(), SetupError> {
    let options = StoreOptions {
        max_connections: 1,
        ..StoreOptions::default()
    };
    let store = connect(url, &options).await?;
    store.close().await;
    Ok(())
}
