//! The migrations of each database, embedded in the binary at compile time.
//!
//! Files live in `migrations/sqlite/` and `migrations/postgres/`, named
//! `<version>_<description>.sql` with a `YYYYMMDDHHMMSS` version. A new file must also be listed
//! below; a test checks that the lists and the directories agree.

use sqlx::SqlStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use std::borrow::Cow;

/// One embedded migration: version, description, SQL.
type Embedded = (i64, &'static str, &'static str);

/// The SQLite migrations, in order.
const SQLITE: &[Embedded] = &[
    (
        20250601000000,
        "initial",
        include_str!("../migrations/sqlite/20250601000000_initial.sql"),
    ),
    (
        20250610000000,
        "users",
        include_str!("../migrations/sqlite/20250610000000_users.sql"),
    ),
    (
        20250701000000,
        "server_side_sessions",
        include_str!("../migrations/sqlite/20250701000000_server_side_sessions.sql"),
    ),
    (
        20250801000000,
        "backchannel_outbox",
        include_str!("../migrations/sqlite/20250801000000_backchannel_outbox.sql"),
    ),
    (
        20250802000000,
        "audit_log",
        include_str!("../migrations/sqlite/20250802000000_audit_log.sql"),
    ),
    (
        20251101000000,
        "session_cleanup_claims",
        include_str!("../migrations/sqlite/20251101000000_session_cleanup_claims.sql"),
    ),
    (
        20251202000000,
        "drop_session_cleanup_claims",
        include_str!("../migrations/sqlite/20251202000000_drop_session_cleanup_claims.sql"),
    ),
    (
        20261202120000,
        "outbox_kinds",
        include_str!("../migrations/sqlite/20261202120000_outbox_kinds.sql"),
    ),
    (
        20261202130000,
        "sign_in_failures",
        include_str!("../migrations/sqlite/20261202130000_sign_in_failures.sql"),
    ),
    (
        20261202130100,
        "revoked_tokens",
        include_str!("../migrations/sqlite/20261202130100_revoked_tokens.sql"),
    ),
    (
        20261202140000,
        "dpop_proofs",
        include_str!("../migrations/sqlite/20261202140000_dpop_proofs.sql"),
    ),
];

/// The PostgreSQL migrations, in order.
const POSTGRES: &[Embedded] = &[
    (
        20250601000000,
        "initial",
        include_str!("../migrations/postgres/20250601000000_initial.sql"),
    ),
    (
        20250610000000,
        "users",
        include_str!("../migrations/postgres/20250610000000_users.sql"),
    ),
    (
        20250701000000,
        "server_side_sessions",
        include_str!("../migrations/postgres/20250701000000_server_side_sessions.sql"),
    ),
    (
        20250801000000,
        "backchannel_outbox",
        include_str!("../migrations/postgres/20250801000000_backchannel_outbox.sql"),
    ),
    (
        20250802000000,
        "audit_log",
        include_str!("../migrations/postgres/20250802000000_audit_log.sql"),
    ),
    (
        20251101000000,
        "session_cleanup_claims",
        include_str!("../migrations/postgres/20251101000000_session_cleanup_claims.sql"),
    ),
    (
        20251202000000,
        "drop_session_cleanup_claims",
        include_str!("../migrations/postgres/20251202000000_drop_session_cleanup_claims.sql"),
    ),
    (
        20261202120000,
        "outbox_kinds",
        include_str!("../migrations/postgres/20261202120000_outbox_kinds.sql"),
    ),
    (
        20261202130000,
        "sign_in_failures",
        include_str!("../migrations/postgres/20261202130000_sign_in_failures.sql"),
    ),
    (
        20261202130100,
        "revoked_tokens",
        include_str!("../migrations/postgres/20261202130100_revoked_tokens.sql"),
    ),
    (
        20261202140000,
        "dpop_proofs",
        include_str!("../migrations/postgres/20261202140000_dpop_proofs.sql"),
    ),
];

fn migrator(embedded: &[Embedded]) -> Migrator {
    let migrations = embedded
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                SqlStr::from_static(sql),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// The migrator for SQLite databases.
pub(crate) fn sqlite() -> Migrator {
    migrator(SQLITE)
}

/// The migrator for PostgreSQL databases.
pub(crate) fn postgres() -> Migrator {
    migrator(POSTGRES)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dialect: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dialect);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .expect("the migrations directory exists")
            .map(|entry| {
                entry
                    .expect("a readable directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }

    fn listed(embedded: &[Embedded]) -> Vec<String> {
        embedded
            .iter()
            .map(|(version, description, _)| format!("{version}_{description}.sql"))
            .collect()
    }

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        assert_eq!(listed(SQLITE), files("sqlite"));
        assert_eq!(listed(POSTGRES), files("postgres"));
    }

    #[test]
    fn both_databases_have_the_same_versions() {
        let versions = |e: &[Embedded]| e.iter().map(|m| m.0).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
    }
}
