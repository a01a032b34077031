//! Conformance checks for the expired-session cleanup: [`SessionStore::claim_expired`] leases
//! expired sessions oldest first (never to two callers at once, again once the lease lapses),
//! and [`OutboxStore::commit_expirations`] removes, revokes and enqueues only for sessions that
//! are still there and still expired, so processing a session twice commits it once.
//!
//! As the other expiry checks of the kit, these claim at instants far in the past and only
//! assert about their own sessions (see the [kit's caveat](super)).

use super::{grant, join_all, unique};
use crate::model::{
    DeliveryStatus, LogoutReason, OutboxMessage, PersistedGrantFilter, ServerSideSession,
    SessionExpiration, SessionFilter, grant_types,
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

async fn create_all<S: SessionStore + ?Sized>(store: &S, sessions: &[ServerSideSession]) {
    for session in sessions {
        store.create_session(session).await.expect("create_session");
    }
}

/// Claims in batches of `batch` until a claim comes back empty or every one of `wanted` keys was
/// claimed; returns the claimed sessions of `subject_id`, checking each batch's size and order.
async fn claim_ours<S: SessionStore + ?Sized>(
    store: &S,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    batch: u32,
    subject_id: &str,
    wanted: usize,
) -> Vec<ServerSideSession> {
    let mut ours = Vec::new();
    for _ in 0..1_000 {
        let claimed = store
            .claim_expired(now, lease_until, batch)
            .await
            .expect("claim_expired");
        assert!(
            claimed.len() <= batch as usize,
            "a batch of {batch} claimed {}",
            claimed.len()
        );
        for session in &claimed {
            assert!(
                session.is_expired(now),
                "a live session was claimed: {session:?}"
            );
        }
        for pair in claimed.windows(2) {
            assert!(
                pair[0].expires <= pair[1].expires,
                "a batch is not in expiry order"
            );
        }
        let done = claimed.is_empty();
        ours.extend(claimed.into_iter().filter(|s| s.subject_id == subject_id));
        if done || ours.len() >= wanted {
            break;
        }
    }
    ours
}

fn keys(sessions: &[ServerSideSession]) -> Vec<&str> {
    sessions.iter().map(|s| s.key.as_str()).collect()
}

/// `claim_expired` returns sessions expired at `now` (expiry at or before it), oldest expiry
/// first, at most `batch` per call (none for 0), never live or unexpiring ones; claimed sessions
/// are not claimed again until their lease lapses, and claiming deletes nothing.
pub async fn expired_sessions_are_claimed_oldest_first_until_the_lease_lapses<S>(store: &S)
where
    S: SessionStore + ?Sized,
{
    let uid = unique();
    let subject = format!("kit-sub-{uid}");
    let now = distant_past();
    let lease = Duration::minutes(1);
    let named = |name: &str, expires| {
        session(
            &format!("kit-claim-{uid}-{name}"),
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

    assert!(
        store
            .claim_expired(now, now + lease, 0)
            .await
            .expect("claim_expired")
            .is_empty(),
        "a batch of 0 claims nothing"
    );
    let claimed = claim_ours(store, now, now + lease, 2, &subject, expired.len()).await;
    assert_eq!(
        keys(&claimed),
        keys(&oldest_first),
        "expired sessions, oldest expiry first"
    );

    let again = claim_ours(store, now, now + lease, 100, &subject, 1).await;
    assert!(
        again.is_empty(),
        "leased sessions were claimed again: {:?}",
        keys(&again)
    );

    let left = store
        .get_sessions(&by_subject(&subject))
        .await
        .expect("get_sessions");
    assert_eq!(left.len(), expired.len() + 2, "claiming deleted sessions");

    // Once the lease lapses, the sessions are claimable again (with the one expired since).
    let lapsed = now + lease;
    let reclaimed = claim_ours(
        store,
        lapsed,
        lapsed + lease,
        100,
        &subject,
        expired.len() + 1,
    )
    .await;
    let mut expected: Vec<&str> = keys(&oldest_first);
    expected.push(later.key.as_str());
    assert_eq!(
        keys(&reclaimed),
        expected,
        "sessions claimed after their lease lapsed"
    );

    store
        .delete_sessions(&by_subject(&subject))
        .await
        .expect("delete_sessions");
}

/// Eight callers claiming expired sessions at the same time never get the same session, and
/// between them get every one of 200.
pub async fn concurrent_expired_session_claims_are_disjoint<S>(store: &S)
where
    S: SessionStore + ?Sized,
{
    let uid = unique();
    let subject = format!("kit-sub-{uid}");
    let now = distant_past();
    let sessions: Vec<_> = (0..200)
        .map(|n| {
            session(
                &format!("kit-claim-{uid}-{n:03}"),
                &subject,
                &format!("kit-sid-{uid}-{n}"),
                Some(now - Duration::seconds(1 + n % 50)),
            )
        })
        .collect();
    create_all(store, &sessions).await;

    let lease_until = now + Duration::days(365);
    let caller = || claim_ours(store, now, lease_until, 16, &subject, usize::MAX);
    let results = join_all((0..8).map(|_| caller())).await;

    let mut seen: HashSet<&str> = HashSet::new();
    for session in results.iter().flatten() {
        assert!(
            seen.insert(&session.key),
            "session {} was claimed by two callers",
            session.key
        );
    }
    assert_eq!(
        seen.len(),
        sessions.len(),
        "the callers did not claim every expired session"
    );
    store
        .delete_sessions(&by_subject(&subject))
        .await
        .expect("delete_sessions");
}

/// A pending logout message for `session_id`, due in a day (so no claim check takes it).
fn message(subject_id: &str, session_id: &str, client_id: &str) -> OutboxMessage {
    let due = super::now() + Duration::days(1);
    OutboxMessage {
        id: Uuid::now_v7(),
        client_id: client_id.to_owned(),
        endpoint: "https://rp.example/logout".to_owned(),
        logout_token: String::new(),
        subject_id: subject_id.to_owned(),
        session_id: session_id.to_owned(),
        reason: LogoutReason::SessionExpiration,
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
        .filter(|m| m.subject_id == subject_id)
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
    let filter = PersistedGrantFilter {
        subject_id: Some(subject.clone()),
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
    store
        .delete_sessions(&by_subject(&subject))
        .await
        .expect("delete_sessions");
}
