//! The store conformance kit of `oxidp-core`, run against every backend: memory, SQLite (a file
//! in a temporary directory) and PostgreSQL (a schema of its own per test); plus the set-up
//! behaviour of the SQL stores (migrations, WAL mode, URL schemes).

use oxidp_core::model::{BackchannelLogout, DeliveryStatus, LogoutReason, OutboxPayload};
use oxidp_core::store::MemoryStore;
use oxidp_core::test_kit;
use oxidp_store::testing::{drop_test_schema, postgres_test_store};
use oxidp_store::{Backend, SetupError, SqlStore, SqliteStore, StoreOptions};
use tempfile::TempDir;

/// A SQLite store in a fresh file, and the directory that holds it (removed when dropped).
async fn sqlite_store() -> (SqliteStore, TempDir) {
    let dir = TempDir::new().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("oxidp.db").display());
    let store = match oxidp_store::connect(&url, &StoreOptions::default()).await {
        Ok(SqlStore::Sqlite(store)) => store,
        Ok(other) => panic!("a sqlite URL opened {:?}", other.backend()),
        Err(e) => panic!("cannot open {url}: {e}"),
    };
    (store, dir)
}

/// One test per kit function and backend, named `<backend>::<behaviour>`.
macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod memory {
            use super::*;
            $(
                #[tokio::test]
                async fn $check() {
                    test_kit::$check(&MemoryStore::default()).await;
                }
            )*
        }

        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $check() {
                    let (store, _dir) = sqlite_store().await;
                    test_kit::$check(&store).await;
                    store.close().await;
                }
            )*
        }

        mod postgres {
            use super::*;
            $(
                #[tokio::test]
                async fn $check() {
                    let store = postgres_test_store().await;
                    test_kit::$check(&store).await;
                    drop_test_schema(store).await;
                }
            )*
        }
    };
}

conformance!(
    clients_round_trip_every_field,
    client_upsert_replaces,
    client_delete_reports_whether_it_existed,
    api_resources_round_trip_every_field,
    api_resource_upsert_replaces,
    api_resources_are_listed_in_name_order,
    grants_round_trip_every_field,
    store_grant_replaces,
    create_grant_refuses_an_existing_key,
    consume_grant_succeeds_exactly_once,
    rotate_refresh_token_consumes_and_issues_at_once,
    concurrent_rotations_of_one_token_have_one_winner,
    a_failed_rotation_changes_nothing,
    a_retry_rotation_replaces_an_unused_successor,
    grant_filters_select_by_each_field,
    grant_filters_combine_fields,
    grant_filter_with_empty_list_matches_nothing,
    grants_are_ordered_by_created_then_key,
    empty_grant_filter_is_refused,
    remove_grant_reports_whether_it_existed,
    remove_grants_returns_count_and_keeps_others,
    remove_expired_grants_removes_only_expired,
    remove_expired_grants_respects_batch_size,
    signing_keys_round_trip,
    signing_keys_are_ordered_by_activation_then_id,
    duplicate_signing_key_is_a_conflict,
    signing_key_delete_reports_whether_it_existed,
    data_protection_keys_round_trip,
    data_protection_keys_are_ordered_by_activation_then_id,
    duplicate_data_protection_key_is_a_conflict,
    users_round_trip_every_field,
    duplicate_user_subject_is_a_conflict,
    duplicate_username_is_a_conflict,
    user_update_replaces_every_field,
    user_update_to_another_username_is_a_conflict,
    user_update_of_unknown_subject_reports_false,
    users_are_listed_in_username_order,
    sessions_round_trip_every_field,
    create_session_refuses_an_existing_key,
    update_session_replaces_every_field,
    touch_session_changes_only_renewed_and_expires,
    delete_session_reports_whether_it_existed,
    session_filters_select_exactly_and_in_order,
    empty_session_filter_is_refused,
    session_query_pages_forward_with_totals,
    session_query_pages_backward_to_the_same_pages,
    session_query_malformed_token_restarts_at_page_one,
    session_query_stale_token_restarts_at_page_one,
    session_query_filters_by_subject_session_and_display_name_prefix,
    session_query_pages_by_display_name_in_name_order,
    session_query_page_size_defaults_and_caps,
    session_query_without_matches_is_empty,
    outbox_messages_round_trip_every_field,
    commit_removal_deletes_sessions_revokes_grants_and_enqueues,
    commit_removal_with_empty_grant_filter_changes_nothing,
    claim_due_claims_due_pending_messages_in_batches,
    concurrent_claims_are_disjoint,
    each_recorded_attempt_updates_the_message_and_attempts_list_oldest_first,
    record_attempts_records_a_batch_like_single_attempts,
    list_messages_filters_by_status_newest_first_with_limit,
    expired_sessions_are_taken_oldest_first_in_batches,
    an_expired_batch_commits_its_expirations_or_gives_its_sessions_back,
    concurrent_expired_session_takers_are_disjoint,
    commit_expirations_commits_each_expired_session_once,
    sign_in_failures_are_replaced_only_from_what_was_read,
    concurrent_sign_in_failure_replacements_succeed_once,
    sign_in_failures_add_up_and_restart_after_expiry,
    remove_expired_sign_in_failures_removes_only_expired_in_batches,
    revoked_token_ids_round_trip_and_are_recorded_once,
    remove_expired_revoked_token_ids_removes_only_expired_in_batches,
    dpop_proofs_are_recorded_once,
    concurrent_dpop_proof_records_have_one_winner,
    remove_expired_dpop_proofs_removes_only_expired_in_batches,
);

/// The whole kit in one go on one store, as the kit's own entry point runs it: checks that the
/// functions do not interfere when they share a database.
#[tokio::test]
async fn whole_kit_runs_on_one_shared_store_of_each_backend() {
    test_kit::run_all(&MemoryStore::default()).await;
    let (sqlite, _dir) = sqlite_store().await;
    test_kit::run_all(&sqlite).await;
    let postgres = postgres_test_store().await;
    test_kit::run_all(&postgres).await;
    // And again on the same, now non-empty, databases.
    test_kit::run_all(&sqlite).await;
    test_kit::run_all(&postgres).await;
    drop_test_schema(postgres).await;
}

#[tokio::test]
async fn sqlite_file_and_directory_are_created_in_wal_mode() {
    let dir = TempDir::new().expect("a temporary directory");
    let path = dir.path().join("nested").join("deeper").join("oxidp.db");
    let url = format!("sqlite://{}", path.display());
    let store = oxidp_store::connect(&url, &StoreOptions::default())
        .await
        .expect("connect creates the file");
    assert!(path.exists(), "the database file was not created");
    let SqlStore::Sqlite(sqlite) = &store else {
        panic!("a sqlite URL opened {:?}", store.backend())
    };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(sqlite.pool())
        .await
        .expect("PRAGMA journal_mode");
    assert_eq!(mode, "wal");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(sqlite.pool())
        .await
        .expect("PRAGMA foreign_keys");
    assert_eq!(foreign_keys, 1);
    store.close().await;
}

#[tokio::test]
async fn sqlite_migrations_are_idempotent_and_data_survives_reopening() {
    let dir = TempDir::new().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("oxidp.db").display());
    oxidp_store::migrate(&url).await.expect("first migration");
    oxidp_store::migrate(&url).await.expect("second migration");

    let store = oxidp_store::connect(&url, &StoreOptions::default())
        .await
        .expect("connect");
    store
        .migrate()
        .await
        .expect("migrating an open store again");
    let client = oxidp_core::model::Client::new("survivor");
    store
        .stores()
        .clients
        .upsert_client(&client)
        .await
        .expect("upsert_client");
    store.close().await;

    let reopened = oxidp_store::connect(&url, &StoreOptions::default())
        .await
        .expect("reconnect");
    let found = reopened
        .stores()
        .clients
        .find_client("survivor")
        .await
        .expect("find_client");
    assert_eq!(found, Some(client));
    reopened.close().await;
}

#[tokio::test]
async fn postgres_migrations_are_idempotent() {
    let store = postgres_test_store().await;
    store.migrate().await.expect("second migration");
    store.migrate().await.expect("third migration");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await
        .expect("the migrations table exists in the test schema");
    assert!(applied >= 1);
    drop_test_schema(store).await;
}

#[tokio::test]
async fn postgres_url_connects_through_connect() {
    let url = oxidp_store::testing::test_database_url();
    let store = oxidp_store::open(&url, &StoreOptions::default())
        .await
        .expect("connect to the test database");
    assert_eq!(store.backend(), Backend::Postgres);
    store.close().await;
}

#[tokio::test]
async fn unsupported_url_scheme_is_a_clear_error() {
    let error = oxidp_store::connect("mysql://root@localhost/oxidp", &StoreOptions::default())
        .await
        .expect_err("mysql is not supported");
    assert!(
        matches!(&error, SetupError::UnsupportedScheme(scheme) if scheme == "mysql"),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("`mysql`"), "{message}");
    assert!(message.contains("sqlite://"), "{message}");

    let error = oxidp_store::migrate("no scheme at all")
        .await
        .expect_err("a URL needs a scheme");
    assert!(matches!(error, SetupError::InvalidUrl(_)), "{error:?}");
}

#[tokio::test]
async fn unreachable_postgres_is_a_connect_error_without_the_password() {
    let options = StoreOptions {
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(2),
        ..StoreOptions::default()
    };
    // Port 1 on the loopback interface refuses connections.
    let error = oxidp_store::connect("postgres://user:hunter2@127.0.0.1:1/oxidp", &options)
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(error, SetupError::Connect(_)), "{error:?}");
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

#[tokio::test]
async fn a_refused_postgres_connection_fails_with_its_cause_not_a_pool_timeout() {
    // The default options: a 30 s acquire timeout, no waiting for the database.
    let error = oxidp_store::connect(
        "postgres://postgres@127.0.0.1:1/oxidp",
        &StoreOptions::default(),
    )
    .await
    .expect_err("nothing listens on port 1");
    let message = error.to_string();
    assert!(message.contains("refused"), "{message}");
    assert!(!message.contains("timed out"), "{message}");

    // Asked to wait, it retries for that long, then gives the same cause.
    let waiting = StoreOptions {
        wait_for_database: std::time::Duration::from_millis(1200),
        ..StoreOptions::default()
    };
    let error = oxidp_store::connect("postgres://postgres@127.0.0.1:1/oxidp", &waiting)
        .await
        .expect_err("still nothing on port 1");
    assert!(error.to_string().contains("refused"), "{error}");
}

/// A removal that fails on its last statement (a message id that already exists) rolls back its
/// session deletions and grant revocations too; a duplicate id is a conflict. (The in-memory
/// store replaces a message with the same id, so this is no kit check.)
async fn failed_removal_rolls_everything_back(stores: oxidp_core::store::Stores) {
    use oxidp_core::model::{
        OutboxMessage, PersistedGrant, PersistedGrantFilter, ServerSideSession, SessionRemoval,
    };
    use oxidp_core::store::StoreError;
    let uid = uuid::Uuid::new_v4().simple().to_string();
    let at = time::OffsetDateTime::from_unix_timestamp(1_900_000_000).expect("a valid instant");
    let subject = format!("sub-{uid}");
    let key = format!("session-{uid}");
    let session = ServerSideSession {
        key: key.clone(),
        scheme: "oxidp".to_owned(),
        subject_id: subject.clone(),
        session_id: format!("sid-{uid}"),
        display_name: None,
        created: at,
        renewed: at,
        expires: None,
        ticket: vec![1, 2, 3],
    };
    stores
        .sessions
        .create_session(&session)
        .await
        .expect("create_session");
    let grant = PersistedGrant {
        key: format!("grant-{uid}"),
        grant_type: "refresh_token".to_owned(),
        subject_id: Some(subject.clone()),
        session_id: None,
        client_id: "client".to_owned(),
        created: at,
        expires: None,
        consumed: None,
        data: "{}".to_owned(),
    };
    stores
        .grants
        .store_grant(&grant)
        .await
        .expect("store_grant");
    let message = |id| OutboxMessage {
        id,
        client_id: "client".to_owned(),
        endpoint: "https://rp.example/logout".to_owned(),
        payload: OutboxPayload::BackchannelLogout(BackchannelLogout {
            subject_id: subject.clone(),
            session_id: session.session_id.clone(),
            reason: LogoutReason::Terminated,
        }),
        created: at,
        next_attempt: at,
        attempts: 0,
        give_up_after: at,
        status: DeliveryStatus::Pending,
    };
    let existing = message(uuid::Uuid::now_v7());
    stores
        .outbox
        .enqueue(std::slice::from_ref(&existing))
        .await
        .expect("enqueue");
    let fresh = message(uuid::Uuid::now_v7());

    let removal = SessionRemoval {
        session_keys: vec![key.clone()],
        grant_filters: vec![PersistedGrantFilter {
            subject_id: Some(subject.clone()),
            ..PersistedGrantFilter::default()
        }],
        messages: vec![fresh.clone(), existing.clone()],
    };
    let result = stores.outbox.commit_removal(&removal).await;
    assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
    assert!(
        stores
            .sessions
            .get_session(&key)
            .await
            .expect("get_session")
            .is_some(),
        "the session deletion was not rolled back"
    );
    assert!(
        stores
            .grants
            .get_grant(&grant.key)
            .await
            .expect("get_grant")
            .is_some(),
        "the grant revocation was not rolled back"
    );
    let pending = stores
        .outbox
        .list_messages(DeliveryStatus::Pending, 1_000)
        .await
        .expect("list_messages");
    assert!(
        !pending.iter().any(|m| m.id == fresh.id),
        "the message insert was not rolled back"
    );
    assert_eq!(
        stores.outbox.enqueue(std::slice::from_ref(&existing)).await,
        Err(StoreError::Conflict)
    );

    // An attempt at a message that does not exist is ignored, as in the in-memory store.
    let unknown = uuid::Uuid::now_v7();
    stores
        .outbox
        .record_attempts(&[oxidp_core::model::AttemptOutcome {
            attempt: oxidp_core::model::DeliveryAttempt {
                message_id: unknown,
                at,
                http_status: None,
                error: None,
            },
            status: DeliveryStatus::Failed,
            next_attempt: at,
        }])
        .await
        .expect("record_attempts of an unknown message");
    assert!(
        stores
            .outbox
            .list_attempts(unknown)
            .await
            .expect("list_attempts")
            .is_empty()
    );
}

/// Audit entries read back as written, newest first, at most `limit`; in the SQL stores a
/// duplicate id is a conflict (the in-memory store appends it again).
async fn audit_entries_round_trip_newest_first(stores: oxidp_core::store::Stores, sql: bool) {
    use oxidp_core::model::AuditEntry;
    use oxidp_core::store::StoreError;
    let at = time::OffsetDateTime::from_unix_timestamp(1_900_000_000).expect("a valid instant");
    let entries: Vec<AuditEntry> = (0..3)
        .map(|n| AuditEntry {
            id: uuid::Uuid::now_v7(),
            at: at + time::Duration::seconds(n),
            actor: format!("cli:opérateur-{n}"),
            request: format!(r#"{{"subject_id":"alice","n":{n},"q":"\"✓\""}}"#),
            outcome: r#"{"sessions":2,"grants":5}"#.to_owned(),
        })
        .collect();
    for entry in &entries {
        stores
            .audit
            .record_audit(entry)
            .await
            .expect("record_audit");
    }
    let listed = stores.audit.list_audit(100).await.expect("list_audit");
    let newest_first: Vec<AuditEntry> = entries.iter().rev().cloned().collect();
    assert_eq!(listed, newest_first);
    let limited = stores.audit.list_audit(2).await.expect("list_audit");
    assert_eq!(limited, newest_first[..2]);
    if sql {
        assert_eq!(
            stores.audit.record_audit(&entries[0]).await,
            Err(StoreError::Conflict)
        );
    }
}

#[tokio::test]
async fn sqlite_failed_removal_rolls_everything_back() {
    let (store, _dir) = sqlite_store().await;
    failed_removal_rolls_everything_back(SqlStore::Sqlite(store.clone()).stores()).await;
    store.close().await;
}

#[tokio::test]
async fn postgres_failed_removal_rolls_everything_back() {
    let store = postgres_test_store().await;
    failed_removal_rolls_everything_back(SqlStore::Postgres(store.clone()).stores()).await;
    drop_test_schema(store).await;
}

#[tokio::test]
async fn sqlite_audit_entries_round_trip_newest_first() {
    let (store, _dir) = sqlite_store().await;
    audit_entries_round_trip_newest_first(SqlStore::Sqlite(store.clone()).stores(), true).await;
    store.close().await;
}

#[tokio::test]
async fn postgres_audit_entries_round_trip_newest_first() {
    let store = postgres_test_store().await;
    audit_entries_round_trip_newest_first(SqlStore::Postgres(store.clone()).stores(), true).await;
    drop_test_schema(store).await;
}

#[tokio::test]
async fn memory_audit_entries_round_trip_newest_first() {
    audit_entries_round_trip_newest_first(oxidp_core::store::Stores::in_memory(), false).await;
}

/// `count_active_sessions` counts sessions alive at an instant: unexpiring ones, and those
/// expiring after it (a store of its own, since the count is global).
async fn active_sessions_are_counted(stores: oxidp_core::store::Stores) {
    use oxidp_core::model::ServerSideSession;
    let at = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("a valid instant");
    let expiring = |n: i64, expires: Option<time::OffsetDateTime>| ServerSideSession {
        key: format!("count-{n}"),
        scheme: "oxidp".to_owned(),
        subject_id: "count-sub".to_owned(),
        session_id: format!("count-sid-{n}"),
        display_name: None,
        created: at - time::Duration::days(1),
        renewed: at - time::Duration::days(1),
        expires,
        ticket: vec![0],
    };
    assert_eq!(
        stores
            .sessions
            .count_active_sessions(at)
            .await
            .expect("count"),
        0
    );
    let sessions = [
        expiring(1, None),
        expiring(2, Some(at + time::Duration::seconds(1))),
        expiring(3, Some(at)),
        expiring(4, Some(at - time::Duration::hours(1))),
    ];
    for session in &sessions {
        stores
            .sessions
            .create_session(session)
            .await
            .expect("create_session");
    }
    assert_eq!(
        stores
            .sessions
            .count_active_sessions(at)
            .await
            .expect("count"),
        2
    );
    let later = at + time::Duration::seconds(1);
    assert_eq!(
        stores
            .sessions
            .count_active_sessions(later)
            .await
            .expect("count"),
        1
    );
}

#[tokio::test]
async fn sqlite_active_sessions_are_counted() {
    let (store, _dir) = sqlite_store().await;
    active_sessions_are_counted(SqlStore::Sqlite(store.clone()).stores()).await;
    store.close().await;
}

#[tokio::test]
async fn postgres_active_sessions_are_counted() {
    let store = postgres_test_store().await;
    active_sessions_are_counted(SqlStore::Postgres(store.clone()).stores()).await;
    drop_test_schema(store).await;
}

#[tokio::test]
async fn memory_active_sessions_are_counted() {
    active_sessions_are_counted(oxidp_core::store::Stores::in_memory()).await;
}

/// The SQL stores with a low bound on exact counts, so that the paging checks run on *large*
/// filters too: totals counted once and reused, page numbers from the token, flags from the
/// extra row and the probe (see `oxidp_store::SessionCountPolicy`).
mod large_filters {
    use super::*;
    use oxidp_core::model::{ServerSideSession, SessionQuery};
    use oxidp_core::store::SessionStore;
    use oxidp_store::SessionCountPolicy;
    use std::time::Duration;

    fn policy(reuse_for: Duration) -> SessionCountPolicy {
        SessionCountPolicy {
            exact_up_to: 10,
            reuse_for,
        }
    }

    macro_rules! large {
        ($($check:ident),* $(,)?) => {
            mod sqlite {
                use super::*;
                $(
                    #[tokio::test]
                    async fn $check() {
                        let (store, _dir) = sqlite_store().await;
                        let store = store.with_session_count_policy(policy(Duration::from_secs(60)));
                        test_kit::$check(&store).await;
                        store.close().await;
                    }
                )*
            }

            mod postgres {
                use super::*;
                $(
                    #[tokio::test]
                    async fn $check() {
                        let store = postgres_test_store()
                            .await
                            .with_session_count_policy(policy(Duration::from_secs(60)));
                        test_kit::$check(&store).await;
                        drop_test_schema(store).await;
                    }
                )*
            }
        };
    }

    large!(
        session_query_pages_forward_with_totals,
        session_query_pages_backward_to_the_same_pages,
        session_query_malformed_token_restarts_at_page_one,
        session_query_pages_by_display_name_in_name_order,
        session_query_page_size_defaults_and_caps,
        session_query_without_matches_is_empty,
    );

    fn session(subject: &str, n: i64) -> ServerSideSession {
        let created =
            time::OffsetDateTime::now_utc() - time::Duration::hours(1) + time::Duration::seconds(n);
        ServerSideSession {
            key: format!("{subject}-key-{n:03}"),
            scheme: "oxidp".to_owned(),
            subject_id: subject.to_owned(),
            session_id: format!("{subject}-sid-{n}"),
            display_name: None,
            created,
            renewed: created,
            expires: None,
            ticket: vec![1, 2, 3],
        }
    }

    /// A large filter's total is reused for the policy's period, then counted again; page
    /// numbers and flags stay exact meanwhile.
    async fn a_large_total_is_reused_then_recounted<S: SessionStore>(store: &S, reused: bool) {
        let subject = format!("large-{}", uuid::Uuid::new_v4().simple());
        for n in 0..30 {
            store
                .create_session(&session(&subject, n))
                .await
                .expect("create_session");
        }
        let query = SessionQuery {
            count_requested: 25,
            subject_id: Some(subject.clone()),
            ..SessionQuery::default()
        };
        let page = store.query_sessions(&query).await.expect("query_sessions");
        assert_eq!((page.total_count, page.total_pages), (30, 2));
        for n in 0..5 {
            assert!(
                store
                    .delete_session(&format!("{subject}-key-{n:03}"))
                    .await
                    .expect("delete_session")
            );
        }
        let page = store.query_sessions(&query).await.expect("query_sessions");
        let expected_total = if reused { 30 } else { 25 };
        assert_eq!(page.total_count, expected_total, "total after 5 deletions");
        assert_eq!(page.results.len(), 25);
        assert_eq!(page.results[0].key, format!("{subject}-key-005"));
        assert!(!page.has_prev_results);
        assert!(
            !page.has_next_results,
            "the flags come from the rows, not the total"
        );
        assert_eq!(page.current_page, 1);
    }

    #[tokio::test]
    async fn sqlite_a_large_total_is_reused_within_its_period() {
        let (store, _dir) = sqlite_store().await;
        let store = store.with_session_count_policy(policy(Duration::from_secs(60)));
        a_large_total_is_reused_then_recounted(&store, true).await;
        store.close().await;
    }

    #[tokio::test]
    async fn sqlite_a_large_total_is_recounted_after_its_period() {
        let (store, _dir) = sqlite_store().await;
        let store = store.with_session_count_policy(policy(Duration::ZERO));
        a_large_total_is_reused_then_recounted(&store, false).await;
        store.close().await;
    }

    #[tokio::test]
    async fn postgres_a_large_total_is_reused_within_its_period() {
        let store = postgres_test_store()
            .await
            .with_session_count_policy(policy(Duration::from_secs(60)));
        a_large_total_is_reused_then_recounted(&store, true).await;
        drop_test_schema(store).await;
    }
}

/// A filter with a NUL character (which no stored text holds, and PostgreSQL's cannot) is an
/// empty page, not a database error.
async fn a_filter_with_nul_matches_nothing<S: oxidp_core::store::SessionStore>(store: &S) {
    use oxidp_core::model::SessionQuery;
    for query in [
        SessionQuery {
            display_name: Some("Al\0ice".to_owned()),
            ..SessionQuery::default()
        },
        SessionQuery {
            subject_id: Some("\0".to_owned()),
            ..SessionQuery::default()
        },
    ] {
        let page = store
            .query_sessions(&query)
            .await
            .expect("a NUL filter is not an error");
        assert!(page.results.is_empty() && page.results_token.is_none());
    }
}

#[tokio::test]
async fn sqlite_a_filter_with_nul_matches_nothing() {
    let (store, _dir) = sqlite_store().await;
    a_filter_with_nul_matches_nothing(&store).await;
    store.close().await;
}

#[tokio::test]
async fn postgres_a_filter_with_nul_matches_nothing() {
    let store = postgres_test_store().await;
    a_filter_with_nul_matches_nothing(&store).await;
    drop_test_schema(store).await;
}

/// A row written the way a version before the outbox kinds writes it (no `kind`, no
/// `payload`: during a rolling upgrade, or before the migration) reads back as a back-channel
/// logout message from its legacy columns.
async fn a_row_without_kind_or_payload_is_a_backchannel_logout(
    stores: oxidp_core::store::Stores,
    insert: impl std::future::Future<Output = ()>,
    id: uuid::Uuid,
) {
    insert.await;
    let pending = stores
        .outbox
        .list_messages(DeliveryStatus::Pending, 1_000)
        .await
        .expect("list_messages");
    let message = pending
        .into_iter()
        .find(|m| m.id == id)
        .expect("the legacy row is listed");
    assert_eq!(
        message.payload,
        OutboxPayload::BackchannelLogout(BackchannelLogout {
            subject_id: "legacy-subject".to_owned(),
            session_id: "legacy-sid".to_owned(),
            reason: LogoutReason::SessionExpiration,
        })
    );
    assert_eq!(
        message.payload.kind(),
        oxidp_core::model::OutboxKind::BackchannelLogout
    );
}

/// The columns a version before the outbox kinds writes.
const LEGACY_INSERT: &str = "INSERT INTO backchannel_outbox (id, client_id, endpoint, \
     logout_token, subject_id, session_id, reason, created, next_attempt, attempts, \
     give_up_after, status) VALUES ($1, 'rp', 'https://rp.example/bcl', '', 'legacy-subject', \
     'legacy-sid', 'session_expiration', 0, 4102444800, 0, 4102444800, 'pending')";

#[tokio::test]
async fn sqlite_a_row_without_kind_or_payload_is_a_backchannel_logout() {
    let (store, _dir) = sqlite_store().await;
    let id = uuid::Uuid::now_v7();
    let insert = async {
        sqlx::query(LEGACY_INSERT)
            .bind(id.hyphenated().to_string())
            .execute(store.pool())
            .await
            .expect("legacy insert");
    };
    let stores = SqlStore::Sqlite(store.clone()).stores();
    a_row_without_kind_or_payload_is_a_backchannel_logout(stores, insert, id).await;
    store.close().await;
}

#[tokio::test]
async fn postgres_a_row_without_kind_or_payload_is_a_backchannel_logout() {
    let store = postgres_test_store().await;
    let id = uuid::Uuid::now_v7();
    let insert = async {
        sqlx::query(LEGACY_INSERT)
            .bind(id.hyphenated().to_string())
            .execute(store.pool())
            .await
            .expect("legacy insert");
    };
    let stores = SqlStore::Postgres(store.clone()).stores();
    a_row_without_kind_or_payload_is_a_backchannel_logout(stores, insert, id).await;
    drop_test_schema(store).await;
}

/// A message of a kind this version does not know (written by a newer instance during a
/// rolling upgrade) is left to the instances that know it: never claimed, and no obstacle to
/// claiming the others.
async fn messages_of_unknown_kinds_are_not_claimed(
    stores: oxidp_core::store::Stores,
    insert_unknown: impl std::future::Future<Output = ()>,
) {
    insert_unknown.await;
    let at = time::OffsetDateTime::from_unix_timestamp(1_000).expect("an instant");
    let known = oxidp_core::model::OutboxMessage {
        id: uuid::Uuid::now_v7(),
        client_id: "rp".to_owned(),
        endpoint: "https://rp.example/bcl".to_owned(),
        payload: OutboxPayload::BackchannelLogout(BackchannelLogout {
            subject_id: "known-subject".to_owned(),
            session_id: "known-sid".to_owned(),
            reason: LogoutReason::UserLogout,
        }),
        created: at,
        next_attempt: at,
        attempts: 0,
        give_up_after: at + time::Duration::DAY,
        status: DeliveryStatus::Pending,
    };
    stores
        .outbox
        .enqueue(std::slice::from_ref(&known))
        .await
        .expect("enqueue");
    let claimed = stores
        .outbox
        .claim_due(at, at + time::Duration::MINUTE, 100)
        .await
        .expect("a claim beside a message of an unknown kind");
    let ids: Vec<uuid::Uuid> = claimed.iter().map(|m| m.id).collect();
    assert_eq!(ids, [known.id]);
}

/// A message of a kind from the future, due at the same instant as the known one.
const UNKNOWN_KIND_INSERT: &str = "INSERT INTO backchannel_outbox (id, client_id, endpoint, \
     logout_token, subject_id, session_id, reason, created, next_attempt, attempts, \
     give_up_after, status, kind, payload) VALUES ($1, 'rp', 'https://rp.example/ping', '', '', \
     '', '', 1000, 1000, 0, 90000, 'pending', 'from_the_future', '{}')";

#[tokio::test]
async fn sqlite_messages_of_unknown_kinds_are_not_claimed() {
    let (store, _dir) = sqlite_store().await;
    let insert = async {
        sqlx::query(UNKNOWN_KIND_INSERT)
            .bind(uuid::Uuid::now_v7().hyphenated().to_string())
            .execute(store.pool())
            .await
            .expect("insert of an unknown kind");
    };
    messages_of_unknown_kinds_are_not_claimed(SqlStore::Sqlite(store.clone()).stores(), insert)
        .await;
    store.close().await;
}

#[tokio::test]
async fn postgres_messages_of_unknown_kinds_are_not_claimed() {
    let store = postgres_test_store().await;
    let insert = async {
        sqlx::query(UNKNOWN_KIND_INSERT)
            .bind(uuid::Uuid::now_v7().hyphenated().to_string())
            .execute(store.pool())
            .await
            .expect("insert of an unknown kind");
    };
    messages_of_unknown_kinds_are_not_claimed(SqlStore::Postgres(store.clone()).stores(), insert)
        .await;
    drop_test_schema(store).await;
}
