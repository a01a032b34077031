//! Test support: stores that are isolated from every other test, so tests run in parallel.
//!
//! [`postgres_test_store`] creates a fresh schema (`t_<uuid>`) in the test database and pins
//! every connection's `search_path` to it; [`drop_test_schema`] removes it afterwards.
//! [`sqlite_memory_store`] opens a private in-memory SQLite database. Both are migrated.
//!
//! The PostgreSQL server is never optional: if it does not answer, the helper panics with the
//! command that starts it, rather than letting a test pass without having run.

use crate::{PostgresStore, SqliteStore, StoreOptions};
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
use std::str::FromStr;
use std::time::Duration;

/// The environment variable naming the PostgreSQL database tests use.
pub const TEST_DATABASE_URL_VAR: &str = "OXIDP_TEST_DATABASE_URL";

/// The database tests use when [`TEST_DATABASE_URL_VAR`] is not set.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Prefix of the schemas [`postgres_test_store`] creates.
const SCHEMA_PREFIX: &str = "t_";

/// The PostgreSQL URL tests use: [`TEST_DATABASE_URL_VAR`], or [`DEFAULT_TEST_DATABASE_URL`].
pub fn test_database_url() -> String {
    std::env::var(TEST_DATABASE_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_DATABASE_URL.to_owned())
}

/// A migrated PostgreSQL store in a new schema of its own, in the database of
/// [`test_database_url`].
///
/// # Panics
/// If the server cannot be reached (with the command that starts it), or if the schema cannot
/// be created or migrated.
pub async fn postgres_test_store() -> PostgresStore {
    let url = test_database_url();
    let shown = without_password(&url);
    let options = PgConnectOptions::from_str(&url).unwrap_or_else(|e| {
        panic!("{TEST_DATABASE_URL_VAR} is not a PostgreSQL URL ({shown}): {e}")
    });
    let schema = format!("{SCHEMA_PREFIX}{}", uuid::Uuid::new_v4().simple());

    let mut admin = options.connect().await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {shown} ({}): start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
             or set {TEST_DATABASE_URL_VAR}",
            crate::error::describe(&e)
        )
    });
    // The name is made of the prefix and hex digits only.
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot create schema {schema} at {shown}: {e}"));
    let _ = admin.close().await;

    let store_options = StoreOptions {
        max_connections: 4,
        acquire_timeout: Duration::from_secs(30),
        ..StoreOptions::default()
    };
    let store =
        PostgresStore::connect_with(options.options([("search_path", &schema)]), &store_options)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {shown} with schema {schema}: {e}"));
    store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("cannot migrate schema {schema} at {shown}: {e}"));
    store
}

/// Another store on the same schema as `store`, with a connection pool of its own: a second
/// instance of the server sharing the database.
///
/// # Panics
/// If the schema cannot be read or the server cannot be reached.
pub async fn another_instance(store: &PostgresStore) -> PostgresStore {
    let schema: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(store.pool())
        .await
        .expect("the store's schema");
    let url = test_database_url();
    let options = PgConnectOptions::from_str(&url)
        .unwrap_or_else(|e| panic!("{TEST_DATABASE_URL_VAR} is not a PostgreSQL URL: {e}"));
    let store_options = StoreOptions {
        max_connections: 4,
        acquire_timeout: Duration::from_secs(30),
        ..StoreOptions::default()
    };
    PostgresStore::connect_with(options.options([("search_path", &schema)]), &store_options)
        .await
        .unwrap_or_else(|e| panic!("cannot connect a second pool to schema {schema}: {e}"))
}

/// Drops the schema of a store made by [`postgres_test_store`] and closes its pool. Best
/// effort: failures are ignored, and a store on any other schema is only closed.
pub async fn drop_test_schema(store: PostgresStore) {
    let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(store.pool())
        .await
        .ok()
        .flatten();
    if let Some(schema) = schema.filter(|s| is_test_schema(s)) {
        let _ = sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(store.pool())
            .await;
    }
    store.close().await;
}

/// Whether `name` is a schema [`postgres_test_store`] creates (and so safe to drop).
fn is_test_schema(name: &str) -> bool {
    name.strip_prefix(SCHEMA_PREFIX)
        .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A migrated SQLite store in a private in-memory database, which lives as long as the store.
///
/// # Panics
/// If the database cannot be opened or migrated.
pub async fn sqlite_memory_store() -> SqliteStore {
    let options = SqliteConnectOptions::from_str("sqlite::memory:")
        .expect("a valid in-memory URL")
        .foreign_keys(true);
    // One connection that is never closed: an in-memory database disappears with its last
    // connection, and a single connection also avoids shared-cache table locks.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options)
        .await
        .expect("an in-memory SQLite database opens");
    let store = SqliteStore::from_pool(pool);
    store
        .migrate()
        .await
        .expect("the SQLite migrations apply to an in-memory database");
    store
}

/// `url` with its password, if any, replaced, for messages.
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_generated_schema_names_are_dropped() {
        assert!(is_test_schema("t_0123456789abcdef0123456789abcdef"));
        assert!(!is_test_schema("public"));
        assert!(!is_test_schema("t_short"));
        assert!(!is_test_schema("t_0123456789abcdef0123456789abcdeg"));
    }

    #[test]
    fn passwords_are_hidden_in_messages() {
        let shown = without_password("postgres://user:hunter2@db:5432/oxidp");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("user:***@db"), "{shown}");
    }
}
