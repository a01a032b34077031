//! Errors: `sqlx` failures translated into the domain's [`StoreError`], and the set-up errors of
//! connecting and migrating.
//!
//! Messages name what failed (a category, a SQLSTATE code, a column) but never carry values: a
//! value may be a secret, a token hash or personal data, and these messages reach logs.

use oxidp_core::store::StoreError;
use sqlx::error::ErrorKind;
use std::path::PathBuf;

/// Why a store could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The URL's scheme names no supported database.
    #[error(
        "unsupported database URL scheme `{0}`: use `sqlite://PATH`, `postgres://...` or `postgresql://...`"
    )]
    UnsupportedScheme(String),
    /// The URL could not be understood.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The directory of the SQLite file could not be created.
    #[error("cannot create the directory {} for the SQLite database", .path.display())]
    CreateDirectory {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be reached or refused the connection.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(String),
}

/// Why a backup could not be written.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The target file exists; a backup never overwrites.
    #[error("{} exists already; a backup never overwrites a file", .0.display())]
    TargetExists(PathBuf),
    /// The backend has no online backup here.
    #[error(
        "oxidp backup copies SQLite databases; back up PostgreSQL with pg_dump (see docs/operations.md)"
    )]
    Unsupported,
    /// The database could not write the copy.
    #[error("the backup failed: {0}")]
    Failed(String),
}

impl SetupError {
    pub(crate) fn connect(error: &sqlx::Error) -> Self {
        match error {
            sqlx::Error::Configuration(source) => Self::InvalidUrl(source.to_string()),
            other => Self::Connect(describe(other)),
        }
    }

    pub(crate) fn migrate(error: &sqlx::migrate::MigrateError) -> Self {
        use sqlx::migrate::MigrateError;
        let message = match error {
            MigrateError::Execute(e) => describe(e),
            MigrateError::ExecuteMigration(e, version) => {
                format!("migration {version}: {}", describe(e))
            }
            // The other variants describe versions and checksums, never data.
            other => other.to_string(),
        };
        Self::Migrate(message)
    }
}

/// Translates a `sqlx` error: a unique violation is a [`StoreError::Conflict`], a value that
/// cannot be read back is [`StoreError::Corrupt`], anything else [`StoreError::Unavailable`].
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation => {
            StoreError::Conflict
        }
        sqlx::Error::Decode(_)
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => StoreError::Corrupt(describe(&error)),
        _ => StoreError::Unavailable(describe(&error)),
    }
}

/// A description of `error` that names its kind but carries no value.
pub(crate) fn describe(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("database error {code}: {}", db.message()),
            None => format!("database error: {}", db.message()),
        },
        sqlx::Error::Io(io) => format!("I/O error: {io}"),
        sqlx::Error::Tls(_) => "TLS error".to_owned(),
        sqlx::Error::Configuration(_) => "invalid database configuration".to_owned(),
        sqlx::Error::Protocol(_) => "database protocol error".to_owned(),
        sqlx::Error::PoolTimedOut => "timed out waiting for a database connection".to_owned(),
        sqlx::Error::PoolClosed => "the connection pool is closed".to_owned(),
        sqlx::Error::WorkerCrashed => "the database worker thread crashed".to_owned(),
        sqlx::Error::RowNotFound => "no row returned".to_owned(),
        sqlx::Error::ColumnNotFound(column) => format!("column `{column}` not found"),
        sqlx::Error::ColumnIndexOutOfBounds { index, len } => {
            format!("column index {index} out of bounds ({len} columns)")
        }
        sqlx::Error::TypeNotFound { type_name } => format!("type `{type_name}` not found"),
        // Decoding errors name types and the column, not the stored value.
        sqlx::Error::ColumnDecode { index, source } => {
            format!("column {index} cannot be decoded: {source}")
        }
        sqlx::Error::Decode(source) => format!("a value cannot be decoded: {source}"),
        sqlx::Error::Encode(_) => "a value cannot be encoded".to_owned(),
        sqlx::Error::Migrate(e) => format!("migration error: {e}"),
        _ => "database error".to_owned(),
    }
}
