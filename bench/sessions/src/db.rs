//! Direct SQL on the benchmark database, for what the store API does not do: bulk loads, setup
//! look-ups (a row's position in paging order), counts that check what a step wrote, and
//! clean-up of the rows a step added.

use anyhow::Context as _;
use oxidp_store::{SqlStore, StoreOptions};

/// The pool of either backend.
pub(crate) enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Pool {
    pub(crate) fn of(store: &SqlStore) -> Self {
        match store {
            SqlStore::Sqlite(s) => Self::Sqlite(s.pool().clone()),
            SqlStore::Postgres(s) => Self::Postgres(s.pool().clone()),
        }
    }

    /// `sqlite` or `postgres`.
    pub(crate) fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// Runs `$body` with `$pool` bound to the pool and `$db` to the sqlx database type.
macro_rules! with_pool {
    ($pool:expr, |$p:ident, $db:ident| $body:expr) => {
        match $pool {
            $crate::db::Pool::Sqlite($p) => {
                type $db = sqlx::Sqlite;
                $body
            }
            $crate::db::Pool::Postgres($p) => {
                type $db = sqlx::Postgres;
                $body
            }
        }
    };
}
pub(crate) use with_pool;

/// Opens (and migrates) the database as the server does (`oxidp_server::open_stores`: the
/// default store options but the pool size), keeping the store for its pool.
pub(crate) async fn open(url: &str, max_connections: u32) -> anyhow::Result<(SqlStore, Pool)> {
    let options = StoreOptions {
        max_connections,
        ..StoreOptions::default()
    };
    let store = oxidp_store::connect(url, &options)
        .await
        .with_context(|| format!("cannot open {}", oxidp_server::redact_url(url)))?;
    let pool = Pool::of(&store);
    Ok((store, pool))
}

/// A single integer from `sql` with text values bound to `$1..$n`.
pub(crate) async fn scalar(pool: &Pool, sql: &str, binds: &[&str]) -> anyhow::Result<i64> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    Ok(with_pool!(pool, |pool, Db| {
        let mut query = sqlx::query_scalar::<Db, i64>(sql);
        for value in binds {
            query = query.bind(*value);
        }
        query.fetch_one(pool).await?
    }))
}

/// Runs `sql` with text values bound to `$1..$n`; returns the rows affected.
pub(crate) async fn execute(pool: &Pool, sql: &str, binds: &[&str]) -> anyhow::Result<u64> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    Ok(with_pool!(pool, |pool, Db| {
        let mut query = sqlx::query::<Db>(sql);
        for value in binds {
            query = query.bind(*value);
        }
        query.execute(pool).await?.rows_affected()
    }))
}

/// One row's `(created, key)` from `sql` with text values bound to `$1..$n` and an integer
/// (the offset) bound last.
pub(crate) async fn position(
    pool: &Pool,
    sql: &str,
    binds: &[&str],
    offset: i64,
) -> anyhow::Result<Option<(i64, String)>> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    Ok(with_pool!(pool, |pool, Db| {
        let mut query = sqlx::query_as::<Db, (i64, String)>(sql);
        for value in binds {
            query = query.bind(*value);
        }
        query.bind(offset).fetch_optional(pool).await?
    }))
}

/// One row's `(display_name, created, key)` from `sql` with text values bound to `$1..$n` and
/// an integer (the offset) bound last.
pub(crate) async fn name_position(
    pool: &Pool,
    sql: &str,
    binds: &[&str],
    offset: i64,
) -> anyhow::Result<Option<(String, i64, String)>> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    Ok(with_pool!(pool, |pool, Db| {
        let mut query = sqlx::query_as::<Db, (String, i64, String)>(sql);
        for value in binds {
            query = query.bind(*value);
        }
        query.bind(offset).fetch_optional(pool).await?
    }))
}
