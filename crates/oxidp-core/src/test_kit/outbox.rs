//! Conformance checks for [`OutboxStore`]: every field round-trips, a session removal deletes
//! its sessions, revokes its grants and enqueues its messages atomically (and an empty grant
//! filter writes nothing), due messages are claimed in batches and leased (also by concurrent
//! callers, who never share a message), attempts update their message and are listed oldest
//! first, and messages are listed by status, newest first.
//!
//! Every message a check writes has a subject embedding a fresh UUID, and a check only asserts
//! about its own messages: a listing or a claim may also return messages left by others. The
//! claim checks claim at an instant far in the past (1971 to 1980, as the expiry checks of the
//! kit do) so that only messages written as due then are candidates; the other checks write
//! messages due now or later, which those claims never take. Two claim checks running on one
//! database *at the same moment* could still claim each other's messages (see the
//! [kit's caveat](super)).

use super::{grant, join_all, now, unique};
use crate::model::{
    AttemptOutcome, BackchannelLogout, DeliveryAttempt, DeliveryStatus, LogoutReason,
    OutboxMessage, OutboxPayload, PersistedGrantFilter, ServerSideSession, SessionRemoval,
};
use crate::store::{GrantStore, OutboxStore, SessionStore, StoreError};
use std::collections::HashSet;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// More than any check of the kit leaves in one status, so that a listing this long holds every
/// message of the calling check.
const LIST_ALL: u32 = 100_000;

/// An instant far in the past (between 1971 and 1980), different on every call, at which no
/// message outside the claim checks of this kit is due.
fn distant_past() -> OffsetDateTime {
    let offset = (Uuid::new_v4().as_u128() % (9 * 365 * 86_400)) as i64;
    OffsetDateTime::from_unix_timestamp(365 * 86_400 + offset).expect("a valid timestamp")
}

/// A pending message of `subject_id`, written now, due at `next_attempt`, given up a day after
/// it. Its texts hold characters that need escaping or more than one byte.
fn message(subject_id: &str, n: usize, next_attempt: OffsetDateTime) -> OutboxMessage {
    let id = Uuid::now_v7();
    OutboxMessage {
        id,
        client_id: format!("kit-client-{n}-é"),
        endpoint: format!("https://rp.example/logout?n={n}&q='\"✓\""),
        payload: logout(
            subject_id,
            &format!("kit-sid-{n}-🦀"),
            LogoutReason::UserLogout,
        ),
        created: now(),
        next_attempt,
        attempts: 0,
        give_up_after: next_attempt + Duration::days(1),
        status: DeliveryStatus::Pending,
    }
}

/// A back-channel logout payload.
fn logout(subject_id: &str, session_id: &str, reason: LogoutReason) -> OutboxPayload {
    OutboxPayload::BackchannelLogout(BackchannelLogout {
        subject_id: subject_id.to_owned(),
        session_id: session_id.to_owned(),
        reason,
    })
}

/// A session of `subject_id` under `key`, created a minute ago.
fn session(key: &str, subject_id: &str) -> ServerSideSession {
    let created = now() - Duration::minutes(1);
    ServerSideSession {
        key: key.to_owned(),
        scheme: "oxidp".to_owned(),
        subject_id: subject_id.to_owned(),
        session_id: format!("sid-{key}"),
        display_name: None,
        created,
        renewed: created,
        expires: Some(created + Duration::days(1)),
        ticket: key.as_bytes().to_vec(),
    }
}

/// The outcome that records `attempt` and leaves its message `status`, due at `next_attempt`.
fn outcome(
    attempt: &DeliveryAttempt,
    status: DeliveryStatus,
    next_attempt: OffsetDateTime,
) -> AttemptOutcome {
    AttemptOutcome {
        attempt: attempt.clone(),
        status,
        next_attempt,
    }
}

/// The messages of `status` among `ids`, in the order the store lists them.
async fn listed<S: OutboxStore + ?Sized>(
    store: &S,
    status: DeliveryStatus,
    ids: &HashSet<Uuid>,
) -> Vec<OutboxMessage> {
    store
        .list_messages(status, LIST_ALL)
        .await
        .expect("list_messages")
        .into_iter()
        .filter(|m| ids.contains(&m.id))
        .collect()
}

/// Claims at `now` until nothing is due; returns the messages of `subject_id` it got, and
/// asserts that no call returned more than `batch`.
async fn claim_all<S: OutboxStore + ?Sized>(
    store: &S,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    batch: u32,
    subject_id: &str,
) -> Vec<OutboxMessage> {
    let mut got = Vec::new();
    for _ in 0..10_000 {
        let claimed = store
            .claim_due(now, lease_until, batch)
            .await
            .expect("claim_due");
        assert!(
            claimed.len() <= batch as usize,
            "claim_due returned {} messages for a batch of {batch}",
            claimed.len()
        );
        if claimed.is_empty() {
            break;
        }
        got.extend(
            claimed
                .into_iter()
                .filter(|m| m.payload.subject_id() == Some(subject_id)),
        );
    }
    got
}

/// Asserts that `actual` holds exactly `expected` (in any order), field by field.
fn assert_same_messages(actual: &[OutboxMessage], expected: &[OutboxMessage], what: &str) {
    let mut actual = actual.to_vec();
    let mut expected = expected.to_vec();
    actual.sort_by_key(|m| m.id);
    expected.sort_by_key(|m| m.id);
    assert_eq!(
        actual.iter().map(|m| m.id).collect::<Vec<_>>(),
        expected.iter().map(|m| m.id).collect::<Vec<_>>(),
        "{what}: not the expected messages"
    );
    for (actual, expected) in actual.iter().zip(&expected) {
        assert_message_eq(actual, expected);
    }
}

/// Asserts that two messages are equal, naming the first field that differs (their `Debug`
/// hides some).
fn assert_message_eq(actual: &OutboxMessage, expected: &OutboxMessage) {
    let fields = [
        ("id", actual.id == expected.id),
        ("client_id", actual.client_id == expected.client_id),
        ("endpoint", actual.endpoint == expected.endpoint),
        ("payload", actual.payload == expected.payload),
        ("created", actual.created == expected.created),
        ("next_attempt", actual.next_attempt == expected.next_attempt),
        ("attempts", actual.attempts == expected.attempts),
        (
            "give_up_after",
            actual.give_up_after == expected.give_up_after,
        ),
        ("status", actual.status == expected.status),
    ];
    for (field, equal) in fields {
        assert!(equal, "message {}: `{field}` differs", expected.id);
    }
}

/// Every field of a message reads back as written, for every status and reason: pending
/// messages through `claim_due` (with the lease as their next attempt), the others through
/// `list_messages`.
pub async fn outbox_messages_round_trip_every_field<S: OutboxStore + ?Sized>(store: &S) {
    let subject = format!("kit-sub-{}", unique());
    let due = distant_past();
    let reasons = [
        LogoutReason::UserLogout,
        LogoutReason::Terminated,
        LogoutReason::SessionExpiration,
    ];
    let statuses = [
        DeliveryStatus::Pending,
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
    ];
    let mut messages = Vec::new();
    for (r, reason) in reasons.into_iter().enumerate() {
        for (s, status) in statuses.into_iter().enumerate() {
            let n = r * statuses.len() + s;
            let next_attempt = due - Duration::seconds(n as i64 + 1);
            let base = message(&subject, n, next_attempt);
            messages.push(OutboxMessage {
                payload: logout(&subject, &format!("kit-sid-{n}-🦀"), reason),
                status,
                attempts: u32::try_from(n).expect("a small count") * 7 + 1,
                created: now() - Duration::seconds(n as i64 * 61),
                give_up_after: now() + Duration::hours(n as i64 + 1),
                ..base
            });
        }
    }
    store.enqueue(&messages).await.expect("enqueue");
    store.enqueue(&[]).await.expect("enqueue of nothing");

    let lease = now() + Duration::minutes(5);
    let claimed = claim_all(store, due, lease, 100, &subject).await;
    let pending: Vec<OutboxMessage> = messages
        .iter()
        .filter(|m| m.status == DeliveryStatus::Pending)
        .map(|m| OutboxMessage {
            next_attempt: lease,
            ..m.clone()
        })
        .collect();
    assert_same_messages(&claimed, &pending, "claimed pending messages");

    let ids: HashSet<Uuid> = messages.iter().map(|m| m.id).collect();
    for status in [DeliveryStatus::Delivered, DeliveryStatus::Failed] {
        let expected: Vec<OutboxMessage> = messages
            .iter()
            .filter(|m| m.status == status)
            .cloned()
            .collect();
        let actual = listed(store, status, &ids).await;
        assert_same_messages(&actual, &expected, status.as_str());
    }
}

/// A removal deletes exactly the listed sessions (counting only those that existed), revokes
/// exactly the grants its filters match, and enqueues its messages (more than one `INSERT`'s
/// worth).
pub async fn commit_removal_deletes_sessions_revokes_grants_and_enqueues<S>(store: &S)
where
    S: OutboxStore + SessionStore + GrantStore + ?Sized,
{
    let uid = unique();
    let subject = format!("kit-sub-{uid}");
    let other_subject = format!("kit-other-{uid}");
    let (client_a, client_b) = (format!("kit-a-{uid}"), format!("kit-b-{uid}"));
    let sid = format!("kit-sid-{uid}");

    let keys: Vec<String> = (0..3).map(|n| format!("kit-session-{uid}-{n}")).collect();
    for key in &keys {
        store
            .create_session(&session(key, &subject))
            .await
            .expect("create_session");
    }
    let created = now();
    let grants = [
        // Matched by the first filter (subject and client A).
        grant(
            &format!("kit-g1-{uid}"),
            "refresh_token",
            Some(&subject),
            None,
            &client_a,
            created,
        ),
        // Another client of the subject: kept.
        grant(
            &format!("kit-g2-{uid}"),
            "refresh_token",
            Some(&subject),
            None,
            &client_b,
            created,
        ),
        // Another subject at client A: kept.
        grant(
            &format!("kit-g3-{uid}"),
            "refresh_token",
            Some(&other_subject),
            None,
            &client_a,
            created,
        ),
        // Matched by the second filter (session id).
        grant(
            &format!("kit-g4-{uid}"),
            "reference_token",
            Some(&other_subject),
            Some(&sid),
            &client_b,
            created,
        ),
    ];
    for g in &grants {
        store.store_grant(g).await.expect("store_grant");
    }

    let messages: Vec<OutboxMessage> = (0..300)
        .map(|n| message(&subject, n, now() + Duration::days(1)))
        .collect();
    let removal = SessionRemoval {
        session_keys: vec![
            keys[0].clone(),
            keys[1].clone(),
            format!("kit-missing-{uid}"),
        ],
        grant_filters: vec![
            PersistedGrantFilter {
                subject_id: Some(subject.clone()),
                client_id: Some(client_a.clone()),
                ..PersistedGrantFilter::default()
            },
            PersistedGrantFilter {
                session_id: Some(sid.clone()),
                ..PersistedGrantFilter::default()
            },
        ],
        messages: messages.clone(),
    };
    let removed = store
        .commit_removal(&removal)
        .await
        .expect("commit_removal");
    assert_eq!(
        removed, 2,
        "the missing session was counted, or one was not deleted"
    );

    for key in &keys[..2] {
        assert!(
            store.get_session(key).await.expect("get_session").is_none(),
            "session {key} was not deleted"
        );
    }
    assert!(
        store
            .get_session(&keys[2])
            .await
            .expect("get_session")
            .is_some(),
        "a session that was not listed was deleted"
    );

    for (g, revoked) in grants.iter().zip([true, false, false, true]) {
        let found = store.get_grant(&g.key).await.expect("get_grant");
        assert_eq!(
            found.is_none(),
            revoked,
            "grant {} was {}",
            g.key,
            if revoked { "kept" } else { "revoked" }
        );
    }

    let ids: HashSet<Uuid> = messages.iter().map(|m| m.id).collect();
    let enqueued = listed(store, DeliveryStatus::Pending, &ids).await;
    assert_same_messages(&enqueued, &messages, "enqueued messages");

    // Already gone: nothing deleted, the messages are still enqueued.
    let again = SessionRemoval {
        session_keys: vec![keys[0].clone()],
        grant_filters: Vec::new(),
        messages: vec![message(&subject, 300, now() + Duration::days(1))],
    };
    assert_eq!(
        store.commit_removal(&again).await.expect("commit_removal"),
        0
    );
    let ids: HashSet<Uuid> = again.messages.iter().map(|m| m.id).collect();
    assert_eq!(
        listed(store, DeliveryStatus::Pending, &ids).await.len(),
        1,
        "the message of a removal whose session was already gone was not enqueued"
    );
}

/// A removal with an empty grant filter among its filters is refused before anything is
/// written: its sessions and grants remain and none of its messages is enqueued.
pub async fn commit_removal_with_empty_grant_filter_changes_nothing<S>(store: &S)
where
    S: OutboxStore + SessionStore + GrantStore + ?Sized,
{
    let uid = unique();
    let subject = format!("kit-sub-{uid}");
    let client = format!("kit-client-{uid}");
    let key = format!("kit-session-{uid}");
    store
        .create_session(&session(&key, &subject))
        .await
        .expect("create_session");
    let kept = grant(
        &format!("kit-grant-{uid}"),
        "refresh_token",
        Some(&subject),
        None,
        &client,
        now(),
    );
    store.store_grant(&kept).await.expect("store_grant");
    let messages: Vec<OutboxMessage> = (0..3)
        .map(|n| message(&subject, n, now() + Duration::days(1)))
        .collect();

    let removal = SessionRemoval {
        session_keys: vec![key.clone()],
        grant_filters: vec![
            PersistedGrantFilter {
                subject_id: Some(subject.clone()),
                ..PersistedGrantFilter::default()
            },
            PersistedGrantFilter::default(),
        ],
        messages: messages.clone(),
    };
    let result = store.commit_removal(&removal).await;
    assert!(
        matches!(result, Err(StoreError::EmptyFilter)),
        "a removal with an empty grant filter was not refused: {result:?}"
    );

    assert!(
        store
            .get_session(&key)
            .await
            .expect("get_session")
            .is_some(),
        "the session was deleted by a refused removal"
    );
    assert!(
        store
            .get_grant(&kept.key)
            .await
            .expect("get_grant")
            .is_some(),
        "the grant was revoked by a refused removal"
    );
    let ids: HashSet<Uuid> = messages.iter().map(|m| m.id).collect();
    for status in [
        DeliveryStatus::Pending,
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
    ] {
        assert!(
            listed(store, status, &ids).await.is_empty(),
            "a refused removal enqueued messages"
        );
    }
}

/// `claim_due` returns only pending messages due at `now`, at most `batch` per call, and moves
/// their next attempt to the lease, so claiming again at the same `now` returns none of them.
pub async fn claim_due_claims_due_pending_messages_in_batches<S: OutboxStore + ?Sized>(store: &S) {
    let subject = format!("kit-sub-{}", unique());
    let at = distant_past();
    let due: Vec<OutboxMessage> = (0..7)
        .map(|n| message(&subject, n, at - Duration::seconds(n as i64)))
        .collect();
    let not_due = message(&subject, 7, at + Duration::seconds(1));
    let delivered = OutboxMessage {
        status: DeliveryStatus::Delivered,
        ..message(&subject, 8, at - Duration::seconds(1))
    };
    let failed = OutboxMessage {
        status: DeliveryStatus::Failed,
        ..message(&subject, 9, at - Duration::seconds(1))
    };
    let mut all = due.clone();
    all.extend([not_due.clone(), delivered, failed]);
    store.enqueue(&all).await.expect("enqueue");

    // The first call fills its batch: at least the seven messages above are due.
    let lease = now() + Duration::minutes(5);
    let first = store.claim_due(at, lease, 3).await.expect("claim_due");
    assert_eq!(first.len(), 3, "claim_due did not fill its batch");
    let mut claimed: Vec<OutboxMessage> = first
        .into_iter()
        .filter(|m| m.payload.subject_id() == Some(subject.as_str()))
        .collect();
    claimed.extend(claim_all(store, at, lease, 3, &subject).await);
    let expected: Vec<OutboxMessage> = due
        .iter()
        .map(|m| OutboxMessage {
            next_attempt: lease,
            ..m.clone()
        })
        .collect();
    assert_same_messages(&claimed, &expected, "claimed messages");

    // Leased: not due again at the same instant.
    let again = claim_all(store, at, lease, 100, &subject).await;
    assert!(
        again.is_empty(),
        "{} leased messages were claimed again",
        again.len()
    );

    // The message due a second later is claimed then, and only it.
    let later = claim_all(store, at + Duration::seconds(1), lease, 100, &subject).await;
    let expected = OutboxMessage {
        next_attempt: lease,
        ..not_due
    };
    assert_same_messages(&later, &[expected], "messages due a second later");
}

/// Eight callers claiming at once, in small batches, get disjoint sets of messages that
/// together are every due message.
pub async fn concurrent_claims_are_disjoint<S: OutboxStore + ?Sized>(store: &S) {
    let subject = format!("kit-sub-{}", unique());
    let at = distant_past();
    let messages: Vec<OutboxMessage> = (0..100)
        .map(|n| message(&subject, n, at - Duration::seconds(n as i64 % 17)))
        .collect();
    store.enqueue(&messages).await.expect("enqueue");

    let lease = now() + Duration::minutes(5);
    let results = join_all((0..8).map(|_| claim_all(store, at, lease, 7, &subject))).await;

    let mut seen: HashSet<Uuid> = HashSet::new();
    for message in results.iter().flatten() {
        assert!(
            seen.insert(message.id),
            "message {} was claimed by two callers",
            message.id
        );
    }
    let expected: Vec<OutboxMessage> = messages
        .iter()
        .map(|m| OutboxMessage {
            next_attempt: lease,
            ..m.clone()
        })
        .collect();
    let claimed: Vec<OutboxMessage> = results.into_iter().flatten().collect();
    assert_same_messages(
        &claimed,
        &expected,
        "messages claimed by concurrent callers",
    );
}

/// Each attempt adds one to the message's attempts and sets its status and next attempt; the
/// attempts of a message are listed oldest first, whatever order they were recorded in, and
/// without those of other messages.
pub async fn each_recorded_attempt_updates_the_message_and_attempts_list_oldest_first<S>(store: &S)
where
    S: OutboxStore + ?Sized,
{
    let subject = format!("kit-sub-{}", unique());
    let at = distant_past();
    let original = OutboxMessage {
        attempts: 2,
        ..message(&subject, 0, at - Duration::seconds(100))
    };
    let other = message(&subject, 1, at + Duration::days(1));
    store
        .enqueue(&[original.clone(), other.clone()])
        .await
        .expect("enqueue");

    let attempt = |offset: i64, http_status: Option<u16>, error: Option<&str>| DeliveryAttempt {
        message_id: original.id,
        at: at - Duration::seconds(offset),
        http_status,
        error: error.map(str::to_owned),
    };
    let second = attempt(50, Some(503), None);
    let first = attempt(90, None, Some("connection refused: \"rp.example\" ✗"));
    // Recorded newest first; still pending, due again at `at`.
    store
        .record_attempts(&[outcome(
            &second,
            DeliveryStatus::Pending,
            at - Duration::seconds(60),
        )])
        .await
        .expect("record_attempts");
    store
        .record_attempts(&[outcome(&first, DeliveryStatus::Pending, at)])
        .await
        .expect("record_attempts");
    store
        .record_attempts(&[outcome(
            &DeliveryAttempt {
                message_id: other.id,
                at: at - Duration::seconds(70),
                http_status: Some(500),
                error: Some("server error".to_owned()),
            },
            DeliveryStatus::Failed,
            at,
        )])
        .await
        .expect("record_attempts");

    let lease = now() + Duration::minutes(5);
    let claimed = claim_all(store, at, lease, 100, &subject).await;
    let expected = OutboxMessage {
        attempts: 4,
        next_attempt: lease,
        ..original.clone()
    };
    assert_same_messages(&claimed, &[expected], "the message after two attempts");

    let third = attempt(10, Some(204), None);
    let retry_at = at + Duration::days(3);
    store
        .record_attempts(&[outcome(&third, DeliveryStatus::Delivered, retry_at)])
        .await
        .expect("record_attempts");
    let ids = HashSet::from([original.id]);
    let delivered = listed(store, DeliveryStatus::Delivered, &ids).await;
    let expected = OutboxMessage {
        attempts: 5,
        next_attempt: retry_at,
        status: DeliveryStatus::Delivered,
        ..original.clone()
    };
    assert_same_messages(&delivered, &[expected], "the delivered message");
    assert!(
        listed(store, DeliveryStatus::Pending, &ids)
            .await
            .is_empty(),
        "the delivered message is still listed as pending"
    );

    let attempts = store
        .list_attempts(original.id)
        .await
        .expect("list_attempts");
    assert_eq!(attempts, vec![first, second, third]);

    let ids = HashSet::from([other.id]);
    let failed = listed(store, DeliveryStatus::Failed, &ids).await;
    let expected = OutboxMessage {
        attempts: 1,
        next_attempt: at,
        status: DeliveryStatus::Failed,
        ..other.clone()
    };
    assert_same_messages(&failed, &[expected], "the failed message");
    assert_eq!(
        store
            .list_attempts(other.id)
            .await
            .expect("list_attempts")
            .len(),
        1
    );
    assert!(
        store
            .list_attempts(Uuid::now_v7())
            .await
            .expect("list_attempts")
            .is_empty(),
        "an unknown message has attempts"
    );
}

/// `record_attempts` records a batch as batches of one record each outcome: every message's state
/// and attempt; an outcome for a message that is gone is skipped without failing the batch.
pub async fn record_attempts_records_a_batch_like_single_attempts<S>(store: &S)
where
    S: OutboxStore + ?Sized,
{
    let subject = format!("kit-sub-{}", unique());
    let at = distant_past();
    let delivered = message(&subject, 0, at - Duration::seconds(10));
    let retried = message(&subject, 1, at - Duration::seconds(10));
    store
        .enqueue(&[delivered.clone(), retried.clone()])
        .await
        .expect("enqueue");
    let outcome = |id: Uuid, status: DeliveryStatus, next: OffsetDateTime, http: Option<u16>| {
        AttemptOutcome {
            attempt: DeliveryAttempt {
                message_id: id,
                at: at - Duration::seconds(5),
                http_status: http,
                error: (http != Some(200)).then(|| "HTTP 503".to_owned()),
            },
            status,
            next_attempt: next,
        }
    };
    let outcomes = [
        outcome(delivered.id, DeliveryStatus::Delivered, at, Some(200)),
        outcome(Uuid::now_v7(), DeliveryStatus::Delivered, at, Some(200)),
        outcome(
            retried.id,
            DeliveryStatus::Pending,
            at + Duration::days(1),
            Some(503),
        ),
    ];
    store
        .record_attempts(&outcomes)
        .await
        .expect("record_attempts");
    store.record_attempts(&[]).await.expect("an empty batch");

    let ids = HashSet::from([delivered.id, retried.id]);
    let expected = OutboxMessage {
        attempts: 1,
        next_attempt: at,
        status: DeliveryStatus::Delivered,
        ..delivered.clone()
    };
    assert_same_messages(
        &listed(store, DeliveryStatus::Delivered, &ids).await,
        &[expected],
        "the delivered message",
    );
    let expected = OutboxMessage {
        attempts: 1,
        next_attempt: at + Duration::days(1),
        ..retried.clone()
    };
    assert_same_messages(
        &listed(store, DeliveryStatus::Pending, &ids).await,
        &[expected],
        "the message to retry",
    );
    for (message, outcome) in [(&delivered, &outcomes[0]), (&retried, &outcomes[2])] {
        assert_eq!(
            store
                .list_attempts(message.id)
                .await
                .expect("list_attempts"),
            vec![outcome.attempt.clone()],
            "the attempts of message {}",
            message.id
        );
    }
}

/// `list_messages` returns only messages of the status asked for, newest (greatest id) first,
/// at most `limit` of them.
pub async fn list_messages_filters_by_status_newest_first_with_limit<S: OutboxStore + ?Sized>(
    store: &S,
) {
    let subject = format!("kit-sub-{}", unique());
    let later = now() + Duration::days(1);
    // Written one by one, so that their ids (UUIDv7) grow, alternating failed and delivered.
    let mut failed = Vec::new();
    let mut delivered = Vec::new();
    for n in 0..10 {
        let status = if n % 2 == 0 {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Delivered
        };
        let message = OutboxMessage {
            status,
            ..message(&subject, n, later)
        };
        store
            .enqueue(std::slice::from_ref(&message))
            .await
            .expect("enqueue");
        if status == DeliveryStatus::Failed {
            failed.push(message);
        } else {
            delivered.push(message);
        }
    }
    failed.reverse();
    delivered.reverse();

    for (status, mine) in [
        (DeliveryStatus::Failed, &failed),
        (DeliveryStatus::Delivered, &delivered),
    ] {
        let all = store
            .list_messages(status, LIST_ALL)
            .await
            .expect("list_messages");
        assert!(
            all.iter().all(|m| m.status == status),
            "list_messages({}) returned another status",
            status.as_str()
        );
        for pair in all.windows(2) {
            assert!(
                pair[0].id > pair[1].id,
                "messages are not newest first: {} before {}",
                pair[0].id,
                pair[1].id
            );
        }
        let ids: HashSet<Uuid> = mine.iter().map(|m| m.id).collect();
        let own: Vec<OutboxMessage> = all.into_iter().filter(|m| ids.contains(&m.id)).collect();
        assert_eq!(
            own.iter().map(|m| m.id).collect::<Vec<_>>(),
            mine.iter().map(|m| m.id).collect::<Vec<_>>(),
            "this check's messages are not listed newest first"
        );
        for (actual, expected) in own.iter().zip(mine.iter()) {
            assert_message_eq(actual, expected);
        }

        // The newest three: others may have written newer ones meanwhile, never older ones.
        let limited = store.list_messages(status, 3).await.expect("list_messages");
        assert_eq!(limited.len(), 3, "list_messages ignored its limit");
        for (listed, own) in limited.iter().zip(mine.iter()) {
            assert_eq!(listed.status, status);
            assert!(
                listed.id >= own.id,
                "list_messages with a limit skipped newer message {}",
                own.id
            );
        }
        assert!(
            store
                .list_messages(status, 0)
                .await
                .expect("list_messages")
                .is_empty(),
            "a limit of 0 returned messages"
        );
    }
}
