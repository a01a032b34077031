//! The store conformance kit: one suite every store implementation must pass.
//!
//! Each behaviour is a `pub async fn` taking the store under test, so a failing check is named
//! after the behaviour it breaks; [`run_all`] runs every one of them in turn. A store crate calls
//! them from its own tests, once per backend (memory, SQLite, PostgreSQL).
//!
//! The functions never assume an empty store: every id, key, subject, session, client and grant
//! type they create embeds a fresh UUID, and every check is scoped to those values. The kit can
//! therefore run against a shared database, and its functions in parallel with each other.
//! Timestamps are whole seconds in UTC, as the stores keep seconds.
//!
//! The one caveat is [`remove_expired_grants_respects_batch_size`] and
//! [`remove_expired_grants_removes_only_expired`]: they expire grants decades in the past (so
//! that nothing another kit function writes is ever a candidate) and remove their grants when
//! they finish, but two runs of them on the same database *at the same moment* could remove
//! each other's grants. The same holds for the batch checks of the session cleanup
//! (which tolerate expired sessions left by others, but not others removing theirs:
//! [`expired_sessions_are_taken_oldest_first_in_batches`],
//! [`an_expired_batch_commits_its_expirations_or_gives_its_sessions_back`],
//! [`concurrent_expired_session_takers_are_disjoint`]), and for the outbox checks that claim messages
//! ([`outbox_messages_round_trip_every_field`], [`claim_due_claims_due_pending_messages_in_batches`],
//! [`concurrent_claims_are_disjoint`],
//! [`each_recorded_attempt_updates_the_message_and_attempts_list_oldest_first`] and
//! [`record_attempts_records_a_batch_like_single_attempts`]), which claim at
//! instants decades in the past and could claim each other's messages; and for
//! [`remove_expired_sign_in_failures_removes_only_expired_in_batches`] and
//! [`remove_expired_revoked_token_ids_removes_only_expired_in_batches`] and
//! [`remove_expired_dpop_proofs_removes_only_expired_in_batches`]. Give each concurrent run
//! its own database or schema.

mod clients;
mod dpop_proofs;
mod expiration;
mod grant_filters;
mod grants;
mod keys;
mod outbox;
mod resources;
mod revoked_tokens;
mod rotation;
mod sessions;
mod sign_in;
mod users;

pub use clients::{
    client_delete_reports_whether_it_existed, client_upsert_replaces,
    clients_are_listed_in_client_id_order, clients_round_trip_every_field,
};
pub use dpop_proofs::{
    concurrent_dpop_proof_records_have_one_winner, dpop_proofs_are_recorded_once,
    remove_expired_dpop_proofs_removes_only_expired_in_batches,
};
pub use expiration::{
    an_expired_batch_commits_its_expirations_or_gives_its_sessions_back,
    commit_expirations_commits_each_expired_session_once,
    concurrent_expired_session_takers_are_disjoint,
    expired_sessions_are_taken_oldest_first_in_batches,
};
pub use grant_filters::{
    empty_grant_filter_is_refused, grant_filter_with_empty_list_matches_nothing,
    grant_filters_combine_fields, grant_filters_select_by_each_field,
    grants_are_ordered_by_created_then_key, remove_grants_returns_count_and_keeps_others,
};
pub use grants::{
    consume_grant_succeeds_exactly_once, create_grant_refuses_an_existing_key,
    grants_round_trip_every_field, remove_expired_grants_removes_only_expired,
    remove_expired_grants_respects_batch_size, remove_grant_reports_whether_it_existed,
    store_grant_replaces,
};
pub use keys::{
    data_protection_keys_are_ordered_by_activation_then_id, data_protection_keys_round_trip,
    duplicate_data_protection_key_is_a_conflict, duplicate_signing_key_is_a_conflict,
    sealing_a_data_protection_key_replaces_only_the_unsealed_material,
    signing_key_delete_reports_whether_it_existed, signing_keys_are_ordered_by_activation_then_id,
    signing_keys_round_trip,
};
pub use outbox::{
    claim_due_claims_due_pending_messages_in_batches,
    commit_removal_deletes_sessions_revokes_grants_and_enqueues,
    commit_removal_with_empty_grant_filter_changes_nothing, concurrent_claims_are_disjoint,
    each_recorded_attempt_updates_the_message_and_attempts_list_oldest_first,
    list_messages_filters_by_status_newest_first_with_limit,
    outbox_messages_round_trip_every_field, record_attempts_records_a_batch_like_single_attempts,
};
pub use resources::{
    api_resource_upsert_replaces, api_resources_are_listed_in_name_order,
    api_resources_round_trip_every_field,
};
pub use revoked_tokens::{
    remove_expired_revoked_token_ids_removes_only_expired_in_batches,
    revoked_token_ids_round_trip_and_are_recorded_once,
};
pub use rotation::{
    a_failed_rotation_changes_nothing, a_retry_rotation_replaces_an_unused_successor,
    concurrent_rotations_of_one_token_have_one_winner,
    rotate_refresh_token_consumes_and_issues_at_once,
};
pub use sessions::{
    create_session_refuses_an_existing_key, delete_session_reports_whether_it_existed,
    empty_session_filter_is_refused, session_filters_select_exactly_and_in_order,
    session_query_filters_by_subject_session_and_display_name_prefix,
    session_query_malformed_token_restarts_at_page_one, session_query_page_size_defaults_and_caps,
    session_query_pages_backward_to_the_same_pages,
    session_query_pages_by_display_name_in_name_order, session_query_pages_forward_with_totals,
    session_query_stale_token_restarts_at_page_one, session_query_without_matches_is_empty,
    sessions_round_trip_every_field, touch_session_changes_only_renewed_and_expires,
    update_session_replaces_every_field,
};
pub use sign_in::{
    concurrent_sign_in_failure_replacements_succeed_once,
    remove_expired_sign_in_failures_removes_only_expired_in_batches,
    sign_in_failures_add_up_and_restart_after_expiry,
    sign_in_failures_are_replaced_only_from_what_was_read,
};
pub use users::{
    duplicate_user_subject_is_a_conflict, duplicate_username_is_a_conflict,
    user_update_of_unknown_subject_reports_false, user_update_replaces_every_field,
    user_update_to_another_username_is_a_conflict, users_are_listed_in_username_order,
    users_round_trip_every_field,
};

use crate::model::{PersistedGrant, PersistedGrantFilter};
use crate::store::{
    ClientStore, DpopProofStore, GrantStore, KeyStore, OutboxStore, ResourceStore,
    RevokedTokenStore, SessionStore, SignInFailureStore, UserStore,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Runs every check of the kit, one after the other.
pub async fn run_all<S>(store: &S)
where
    S: ClientStore
        + ResourceStore
        + GrantStore
        + KeyStore
        + UserStore
        + SessionStore
        + OutboxStore
        + SignInFailureStore
        + RevokedTokenStore
        + DpopProofStore
        + ?Sized,
{
    clients_round_trip_every_field(store).await;
    client_upsert_replaces(store).await;
    client_delete_reports_whether_it_existed(store).await;
    clients_are_listed_in_client_id_order(store).await;

    api_resources_round_trip_every_field(store).await;
    api_resource_upsert_replaces(store).await;
    api_resources_are_listed_in_name_order(store).await;

    grants_round_trip_every_field(store).await;
    store_grant_replaces(store).await;
    create_grant_refuses_an_existing_key(store).await;
    consume_grant_succeeds_exactly_once(store).await;
    rotate_refresh_token_consumes_and_issues_at_once(store).await;
    concurrent_rotations_of_one_token_have_one_winner(store).await;
    a_failed_rotation_changes_nothing(store).await;
    a_retry_rotation_replaces_an_unused_successor(store).await;
    grant_filters_select_by_each_field(store).await;
    grant_filters_combine_fields(store).await;
    grant_filter_with_empty_list_matches_nothing(store).await;
    grants_are_ordered_by_created_then_key(store).await;
    empty_grant_filter_is_refused(store).await;
    remove_grant_reports_whether_it_existed(store).await;
    remove_grants_returns_count_and_keeps_others(store).await;
    remove_expired_grants_removes_only_expired(store).await;
    remove_expired_grants_respects_batch_size(store).await;

    signing_keys_round_trip(store).await;
    signing_keys_are_ordered_by_activation_then_id(store).await;
    duplicate_signing_key_is_a_conflict(store).await;
    signing_key_delete_reports_whether_it_existed(store).await;

    data_protection_keys_round_trip(store).await;
    data_protection_keys_are_ordered_by_activation_then_id(store).await;
    duplicate_data_protection_key_is_a_conflict(store).await;
    sealing_a_data_protection_key_replaces_only_the_unsealed_material(store).await;

    users_round_trip_every_field(store).await;
    duplicate_user_subject_is_a_conflict(store).await;
    duplicate_username_is_a_conflict(store).await;
    user_update_replaces_every_field(store).await;
    user_update_to_another_username_is_a_conflict(store).await;
    user_update_of_unknown_subject_reports_false(store).await;
    users_are_listed_in_username_order(store).await;

    sessions_round_trip_every_field(store).await;
    create_session_refuses_an_existing_key(store).await;
    update_session_replaces_every_field(store).await;
    touch_session_changes_only_renewed_and_expires(store).await;
    delete_session_reports_whether_it_existed(store).await;
    session_filters_select_exactly_and_in_order(store).await;
    empty_session_filter_is_refused(store).await;
    session_query_pages_forward_with_totals(store).await;
    session_query_pages_backward_to_the_same_pages(store).await;
    session_query_malformed_token_restarts_at_page_one(store).await;
    session_query_stale_token_restarts_at_page_one(store).await;
    session_query_filters_by_subject_session_and_display_name_prefix(store).await;
    session_query_pages_by_display_name_in_name_order(store).await;
    session_query_page_size_defaults_and_caps(store).await;
    session_query_without_matches_is_empty(store).await;

    outbox_messages_round_trip_every_field(store).await;
    commit_removal_deletes_sessions_revokes_grants_and_enqueues(store).await;
    commit_removal_with_empty_grant_filter_changes_nothing(store).await;
    claim_due_claims_due_pending_messages_in_batches(store).await;
    concurrent_claims_are_disjoint(store).await;
    each_recorded_attempt_updates_the_message_and_attempts_list_oldest_first(store).await;
    record_attempts_records_a_batch_like_single_attempts(store).await;
    list_messages_filters_by_status_newest_first_with_limit(store).await;

    expired_sessions_are_taken_oldest_first_in_batches(store).await;
    an_expired_batch_commits_its_expirations_or_gives_its_sessions_back(store).await;
    concurrent_expired_session_takers_are_disjoint(store).await;
    commit_expirations_commits_each_expired_session_once(store).await;

    sign_in_failures_are_replaced_only_from_what_was_read(store).await;
    concurrent_sign_in_failure_replacements_succeed_once(store).await;
    sign_in_failures_add_up_and_restart_after_expiry(store).await;
    remove_expired_sign_in_failures_removes_only_expired_in_batches(store).await;

    revoked_token_ids_round_trip_and_are_recorded_once(store).await;
    remove_expired_revoked_token_ids_removes_only_expired_in_batches(store).await;

    dpop_proofs_are_recorded_once(store).await;
    concurrent_dpop_proof_records_have_one_winner(store).await;
    remove_expired_dpop_proofs_removes_only_expired_in_batches(store).await;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// The current instant in UTC, whole seconds.
fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).expect("0 is a valid nanosecond")
}

/// A fresh identifier fragment (32 hex digits).
fn unique() -> String {
    Uuid::new_v4().simple().to_string()
}

/// A grant with every optional field set; expires a day from now so that no expiry check of
/// the kit removes it.
fn full_grant(key: &str, client_id: &str) -> PersistedGrant {
    let created = now();
    PersistedGrant {
        key: key.to_owned(),
        grant_type: "reference_token".to_owned(),
        subject_id: Some(format!("sub-{key}")),
        session_id: Some(format!("sid-{key}")),
        client_id: client_id.to_owned(),
        created,
        expires: Some(created + Duration::days(1)),
        consumed: Some(created + Duration::seconds(5)),
        data: r#"{"claims":{"sub":"alice","scope":["api1"]},"note":"é \" \\"}"#.to_owned(),
    }
}

/// A minimal grant of one type for one client.
fn grant(
    key: &str,
    grant_type: &str,
    subject_id: Option<&str>,
    session_id: Option<&str>,
    client_id: &str,
    created: OffsetDateTime,
) -> PersistedGrant {
    PersistedGrant {
        key: key.to_owned(),
        grant_type: grant_type.to_owned(),
        subject_id: subject_id.map(str::to_owned),
        session_id: session_id.map(str::to_owned),
        client_id: client_id.to_owned(),
        created,
        expires: Some(created + Duration::days(1)),
        consumed: None,
        data: "{}".to_owned(),
    }
}

async fn get_keys<S: GrantStore + ?Sized>(store: &S, filter: &PersistedGrantFilter) -> Vec<String> {
    store
        .get_grants(filter)
        .await
        .expect("get_grants")
        .into_iter()
        .map(|g| g.key)
        .collect()
}

/// Asserts that `items` is sorted (strictly ascending) by `key`.
fn assert_sorted<T, K: Ord + std::fmt::Debug>(items: &[T], key: impl Fn(&T) -> K, what: &str) {
    for pair in items.windows(2) {
        let (a, b) = (key(&pair[0]), key(&pair[1]));
        assert!(a < b, "{what} are not in order: {a:?} before {b:?}");
    }
}

/// Polls every future together, so store calls really overlap.
pub(super) async fn join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (future, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
