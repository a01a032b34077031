//! Conformance checks for the expired-session cleanup: [`OutboxStore::take_expired`] takes
//! expired sessions oldest first (never to two callers at once) and its batch either commits
//! their removal, revocations and notifications together or gives the sessions back; and
//! [`OutboxStore::commit_expirations`] removes, revokes and enqueues only for sessions that are
//! still there and still expired, so processing a session twice commits it once.
//!
//! As the other expiry checks of the kit, these take at instants far in the past and only
//! assert about their own sessions (see the [kit's caveat](super)).

use super::{grant, join_all, unique};
use crate::model::{
    BackchannelLogout, DeliveryStatus, LogoutReason, OutboxMessage, OutboxPayload, PersistedGrant,
    PersistedGrantFilter, ServerSideSession, SessionExpiration, SessionFilter, grant_types,
};
use crate::store::{GrantStore, OutboxStore, SessionStore};
use std::collections::HashSet;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// An instant far in the past (between 1971 and 1980), different on every call.
fn distant_past() -> OffsetDateTime {
    let offset = (Uuid::new_v4().as_u128() % (9 * 365 * 86_400)) as i64;
    OffsetDateTime::from_unix_timestamp(365 * 86_400 + offset).expect("a valid timestamp")
}

fn session(
    key: &str,
    subject_id: &str,
    session_id: &str,
    expires: Option<OffsetDateTime>,
) -> ServerSideSession {
    let created = OffsetDateTime::from_unix_timestamp(86_400).expect("a valid timestamp");
    ServerSideSession {
        key: key.to_owned(),
        scheme: "oxidp".to_owned(),
        subject_id: subject_id.to_owned(),
        session_id: session_id.to_owned(),
        display_name: None,
        created,
        renewed: created,
        expires,
        ticket: vec![1, 2, 3],
    }
}

fn by_subject(subject_id: &str) -> SessionFilter {
    SessionFilter {
        subject_id: Some(subject_id.to_owned()),
        session_id: None,
    }
}

/// Deletes the sessions of `subject_id` (the kit's clean-up after a check).
async fn remove_sessions_of<S: SessionStore + ?Sized>(store: &S, subject_id: &str) {
    let sessions = store
        .get_sessions(&by_subject(subject_id))
        .await
        .expect("get_sessions");
    for session in sessions {
        store
            .delete_session(&session.key)
            .await
            .expect("delete_session");
    }
}

async fn create_all<S: SessionStore + ?Sized>(store: &S, sessions: &[ServerSideSession]) {
    for session in sessions {
        store.create_session(session).await.expect("create_session");
    }
}

/// Takes and commits batches of `batch` until one comes back empty or every one of `wanted`
/// sessions of `subject_id` was taken; returns those, checking each batch's size and order.
/// Sessions of others taken meanwhile are removed too (see the kit's caveat).
async fn take_ours<S: OutboxStore + ?Sized>(
    store: &S,
    now: OffsetDateTime,
    batch: u32,
    subject_id: &str,
    wanted: usize,
) -> Vec<ServerSideSession> {
    let mut ours = Vec::new();
    for _ in 0..1_000 {
        let taken = store.take_expired(now, batch).await.expect("take_expired");
        let sessions = taken.sessions().to_vec();
        assert!(
            sessions.len() <= batch as usize,
            "a batch of {batch} took {}",
            sessions.len()
        );
        for session in &sessions {
            assert!(
                session.is_expired(now),
                "a live session was taken: {session:?}"
            );
        }
        for pair in sessions.windows(2) {
            assert!(
                pair[0].expires <= pair[1].expires,
                "a batch is not in expiry order"
            );
        }
        let removed = taken.commit(&[]).await.expect("commit");
        assert_eq!(
            removed,
            sessions.len() as u64,
            "a commit removes every taken session"
        );
        let done = sessions.is_empty();
        ours.extend(sessions.into_iter().filter(|s| s.subject_id == subject_id));
        if done || ours.len() >= wanted {
            break;
        }
    }
    ours
}

fn keys(sessions: &[ServerSideSession]) -> Vec<&str> {
    sessions.iter().map(|s| s.key.as_str()).collect()
}

/// `take_expired` takes sessions expired at `now` (expiry at or before it), oldest expiry
/// first, at most `batch` per call (none for 0), never live or unexpiring ones; a committed
/// batch's sessions are gone.
pub async fn expired_sessions_are_taken_oldest_first_in_batches<S>(store: &S)
where
    S: OutboxStore + SessionStore + ?Sized,
{
    let uid = unique();
    let subject = format!("kit-sub-{uid}");
    let now = distant_past();
    let named = |name: &str, expires| {
        session(
            &format!("kit-take-{uid}-{name}"),
            &subject,
            &format!("kit-sid-{uid}-{name}"),
            expires,
        )
    };
    let mut expired: Vec<_> = [3, 0, 4, 1, 2]
        .into_iter()
        .map(|n| {
            named(
                &format!("expired-{n}"),
                Some(now - Duration::minutes(n + 1)),
            )
        })
        .collect();
    expired.push(named("expires-now", Some(now)));
    let later = named("expires-later", Some(now + Duration::seconds(1)));
    let never = named("never-expires", None);
    create_all(store, &expired).await;
    create_all(store, &[later.clone(), never.clone()]).await;
    let mut oldest_first = expired.clone();
    oldest_first.sort_by_key(|s| s.expires);

    let none = store.take_expired(now, 0).await.expect("take_expired");
    assert!(none.sessions().is_empty(), "a batch of 0 takes nothing");
    assert_eq!(none.commit(&[]).await.expect("commit"), 0);

    let taken = take_ours(store, now, 2, &subject, expired.len()).await;
    assert_eq!(
        keys(&taken),
        keys(&oldest_first),
        "expired sessions, oldest expiry first"
    );
    let left = store
        .get_sessions(&by_subject(&subject))
        .await
        .expect("get_sessions");
    assert_eq!(
        keys(&left),
        vec![later.key.as_str(), never.key.as_str()],
        "committed batches removed exactly the expired sessions"
    );

    remove_sessions_of(store, &subject).await;
}

/// A batch given back (rolled back) returns its sessions, untouched, to the next taker; a
/// commit removes them, revokes the session-bound grants of each expiration's clients (not
/// other clients', not consents) and enqueues its messages, ignoring expirations of sessions the
/// batch did not take.
pub async fn an_expired_batch_commits_its_expirations_or_gives_its_sessions_back<S>(store: &S)
where
    S: OutboxStore + SessionStore + GrantStore + ?Sized,
{
    let uid = unique();
    let subject = format!("kit-sub-{uid}");
    let now = distant_past();
    let (coordinated, other) = (format!("kit-coord-{uid}"), format!("kit-other-{uid}"));
    let sid = |name: &str| format!("kit-sid-{uid}-{name}");
    let expired: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|name| {
            session(
                &format!("kit-batch-{uid}-{name}"),
                &subject,
                &sid(name),
                Some(now - Duration::minutes(1)),
            )
        })
        .collect();
    create_all(store, &expired).await;
    let created = super::now();
    let g = |name: &str, grant_type: &str, session: &str, client: &str| {
        grant(
            &format!("kit-g-{uid}-{name}"),
            grant_type,
            Some(&subject),
            Some(&sid(session)),
            client,
            created,
        )
    };
    let revoked = [
        g("a-refresh", grant_types::REFRESH_TOKEN, "a", &coordinated),
        g("b-code", grant_types::AUTHORIZATION_CODE, "b", &coordinated),
    ];
    let kept = [
        g("a-other-client", grant_types::REFRESH_TOKEN, "a", &other),
        g("a-consent", grant_types::USER_CONSENT, "a", &coordinated),
    ];
    for grant in revoked.iter().chain(&kept) {
        store.store_grant(grant).await.expect("store_grant");
    }

    let first = store.take_expired(now, 1_000).await.expect("take_expired");
    let mut ours: Vec<&ServerSideSession> = first
        .sessions()
        .iter()
        .filter(|s| s.subject_id == subject)
        .collect();
    ours.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        ours,
        expired.iter().collect::<Vec<_>>(),
        "both taken, whole"
    );
    first.give_back().await.expect("give_back");
    let back = store
        .get_sessions(&by_subject(&subject))
        .await
        .expect("get_sessions");
    assert_eq!(back, expired, "a dropped batch gives its sessions back");

    let second = store.take_expired(now, 1_000).await.expect("take_expired");
    let taken: Vec<ServerSideSession> = second
        .sessions()
        .iter()
        .filter(|s| s.subject_id == subject)
        .cloned()
        .collect();
    assert_eq!(taken.len(), 2, "given-back sessions are taken again");
    let expiration = |s: &ServerSideSession, messages: usize| SessionExpiration {
        key: s.key.clone(),
        session_id: s.session_id.clone(),
        revoke_client_ids: vec![coordinated.clone()],
        messages: (0..messages)
            .map(|_| message(&subject, &s.session_id, &coordinated))
            .collect(),
    };
    let not_taken = session(
        &format!("kit-batch-{uid}-not-taken"),
        &subject,
        &sid("not-taken"),
        Some(now - Duration::hours(1)),
    );
    let expirations = [
        expiration(&taken[0], 300),
        expiration(&not_taken, 1),
        expiration(&taken[1], 1),
    ];
    let removed = second.commit(&expirations).await.expect("commit");
    assert!(removed >= 2, "the commit removed {removed} sessions");

    let left = store
        .get_sessions(&by_subject(&subject))
        .await
        .expect("get_sessions");
    assert!(left.is_empty(), "sessions left after the commit: {left:?}");
    let filter = assert_grants_left(store, &subject, &kept).await;
    let enqueued: HashSet<Uuid> = pending_of(store, &subject)
        .await
        .iter()
        .map(|m| m.id)
        .collect();
    let wanted: HashSet<Uuid> = expirations[0]
        .messages
        .iter()
        .chain(&expirations[2].messages)
        .map(|m| m.id)
        .collect();
    assert_eq!(
        enqueued, wanted,
        "exactly the taken sessions' messages are enqueued"
    );
    store.remove_grants(&filter).await.expect("remove_grants");
}

/// Eight callers taking and committing expired batches at the same time never get the same
/// session, and between them get every one of 200.
pub async fn concurrent_expired_session_takers_are_disjoint<S>(store: &S)
where
    S: OutboxStore + SessionStore + ?Sized,
{
    let uid = unique();
    let subject = format!("kit-sub-{uid}");
    let now = distant_past();
    let sessions: Vec<_> = (0..200)
        .map(|n| {
            session(
                &format!("kit-take-{uid}-{n:03}"),
                &subject,
                &format!("kit-sid-{uid}-{n}"),
                Some(now - Duration::seconds(1 + n % 50)),
            )
        })
        .collect();
    create_all(store, &sessions).await;

    let caller = || take_ours(store, now, 16, &subject, usize::MAX);
    let results = join_all((0..8).map(|_| caller())).await;

    let mut seen: HashSet<&str> = HashSet::new();
    for session in results.iter().flatten() {
        assert!(
            seen.insert(&session.key),
            "session {} was taken by two callers",
            session.key
        );
    }
    assert_eq!(
        seen.len(),
        sessions.len(),
        "the callers did not take every expired session"
    );
    let left = store
        .get_sessions(&by_subject(&subject))
        .await
        .expect("get_sessions");
    assert!(left.is_empty(), "{} sessions left", left.len());
}

/// Checks that `subject_id`'s grants are exactly `kept`; returns the filter that selects them.
async fn assert_grants_left<S: GrantStore + ?Sized>(
    store: &S,
    subject_id: &str,
    kept: &[PersistedGrant],
) -> PersistedGrantFilter {
    let filter = PersistedGrantFilter {
        subject_id: Some(subject_id.to_owned()),
        ..PersistedGrantFilter::default()
    };
    let mut grants: Vec<String> = store
        .get_grants(&filter)
        .await
        .expect("get_grants")
        .into_iter()
        .map(|g| g.key)
        .collect();
    grants.sort();
    let mut expected: Vec<String> = kept.iter().map(|g| g.key.clone()).collect();
    expected.sort();
    assert_eq!(grants, expected, "grants left after the commit");
    filter
}

/// A pending logout message for `session_id`, due in a day (so no claim check takes it).
fn message(subject_id: &str, session_id: &str, client_id: &str) -> OutboxMessage {
    let due = super::now() + Duration::days(1);
    OutboxMessage {
        id: Uuid::now_v7(),
        client_id: client_id.to_owned(),
        endpoint: "https://rp.example/logout".to_owned(),
        payload: OutboxPayload::BackchannelLogout(BackchannelLogout {
            subject_id: subject_id.to_owned(),
            session_id: session_id.to_owned(),
            reason: LogoutReason::SessionExpiration,
        }),
        created: super::now(),
        next_attempt: due,
        attempts: 0,
        give_up_after: due + Duration::days(1),
        status: DeliveryStatus::Pending,
    }
}

async fn pending_of<S: OutboxStore + ?Sized>(store: &S, subject_id: &str) -> Vec<OutboxMessage> {
    store
        .list_messages(DeliveryStatus::Pending, 100_000)
        .await
        .expect("list_messages")
        .into_iter()
        .filter(|m| m.payload.subject_id() == Some(subject_id))
        .collect()
}

/// `commit_expirations` deletes only sessions still there and still expired; for exactly those
/// it revokes the session-bound grants of the listed clients (not other clients', not consents)
/// and enqueues the messages (more than one `INSERT`'s worth); committing the same expirations
/// again changes nothing.
pub async fn commit_expirations_commits_each_expired_session_once<S>(store: &S)
where
    S: OutboxStore + SessionStore + GrantStore + ?Sized,
{
    let uid = unique();
    let subject = format!("kit-sub-{uid}");
    let now = distant_past();
    let (coordinated, other) = (format!("kit-coord-{uid}"), format!("kit-other-{uid}"));
    let sid = |name: &str| format!("kit-sid-{uid}-{name}");
    let key = |name: &str| format!("kit-expire-{uid}-{name}");
    let expired_a = session(
        &key("a"),
        &subject,
        &sid("a"),
        Some(now - Duration::minutes(2)),
    );
    let expired_b = session(
        &key("b"),
        &subject,
        &sid("b"),
        Some(now - Duration::minutes(1)),
    );
    // Slid after it was claimed: no longer expired at commit time.
    let slid = session(
        &key("slid"),
        &subject,
        &sid("slid"),
        Some(now + Duration::hours(1)),
    );
    create_all(store, &[expired_a.clone(), expired_b.clone(), slid.clone()]).await;

    let created = super::now();
    let g = |name: &str, grant_type: &str, session: &str, client: &str| {
        grant(
            &format!("kit-g-{uid}-{name}"),
            grant_type,
            Some(&subject),
            Some(&sid(session)),
            client,
            created,
        )
    };
    let revoked = [
        g("a-refresh", grant_types::REFRESH_TOKEN, "a", &coordinated),
        g("a-code", grant_types::AUTHORIZATION_CODE, "a", &coordinated),
        g(
            "b-reference",
            grant_types::REFERENCE_TOKEN,
            "b",
            &coordinated,
        ),
    ];
    let kept = [
        g("a-other-client", grant_types::REFRESH_TOKEN, "a", &other),
        g("a-consent", grant_types::USER_CONSENT, "a", &coordinated),
        g(
            "slid-refresh",
            grant_types::REFRESH_TOKEN,
            "slid",
            &coordinated,
        ),
    ];
    for grant in revoked.iter().chain(&kept) {
        store.store_grant(grant).await.expect("store_grant");
    }

    let expiration = |s: &ServerSideSession, messages: usize| SessionExpiration {
        key: s.key.clone(),
        session_id: s.session_id.clone(),
        revoke_client_ids: vec![coordinated.clone()],
        messages: (0..messages)
            .map(|_| message(&subject, &s.session_id, &coordinated))
            .collect(),
    };
    let missing = session(
        &key("missing"),
        &subject,
        &sid("missing"),
        Some(now - Duration::hours(1)),
    );
    let expirations = [
        expiration(&expired_a, 300),
        expiration(&slid, 1),
        expiration(&missing, 1),
        expiration(&expired_b, 1),
    ];
    let removed = store
        .commit_expirations(now, &expirations)
        .await
        .expect("commit_expirations");
    assert_eq!(
        removed,
        vec![expired_a.key.clone(), expired_b.key.clone()],
        "the keys removed"
    );

    let left = store
        .get_sessions(&by_subject(&subject))
        .await
        .expect("get_sessions");
    assert_eq!(
        keys(&left),
        vec![slid.key.as_str()],
        "only the slid session is left"
    );
    let filter = assert_grants_left(store, &subject, &kept).await;

    let pending = pending_of(store, &subject).await;
    let enqueued: HashSet<Uuid> = pending.iter().map(|m| m.id).collect();
    let wanted: HashSet<Uuid> = expirations[0]
        .messages
        .iter()
        .chain(&expirations[3].messages)
        .map(|m| m.id)
        .collect();
    assert_eq!(
        enqueued, wanted,
        "exactly the removed sessions' messages are enqueued"
    );

    let again = store
        .commit_expirations(now, &expirations)
        .await
        .expect("commit_expirations");
    assert!(again.is_empty(), "a second commit removed {again:?}");
    assert_eq!(
        pending_of(store, &subject).await.len(),
        wanted.len(),
        "a second commit enqueued"
    );

    store.remove_grants(&filter).await.expect("remove_grants");
    remove_sessions_of(store, &subject).await;
}
