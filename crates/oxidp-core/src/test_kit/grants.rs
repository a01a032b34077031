//! Conformance checks for [`GrantStore`] on single grants: round trips, replacement, creation
//! conflicts, removal by key and removal of expired grants.

use super::{full_grant, get_keys, grant, join_all, now, unique};
use crate::model::{PersistedGrant, PersistedGrantFilter};
use crate::store::{GrantStore, StoreError};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// An instant far in the past (between 1971 and 1980), different on every call, that no grant
/// outside the expiry checks of this kit expires before.
fn distant_past() -> OffsetDateTime {
    let offset = (Uuid::new_v4().as_u128() % (9 * 365 * 86_400)) as i64;
    OffsetDateTime::from_unix_timestamp(365 * 86_400 + offset).expect("a valid timestamp")
}

/// Asserts that two grants are equal, field by field (their `Debug` hides the key and data).
fn assert_grant_eq(actual: Option<&PersistedGrant>, expected: &PersistedGrant) {
    let actual = actual.unwrap_or_else(|| panic!("grant {} was not found", expected.key));
    let fields = [
        ("key", actual.key == expected.key),
        ("grant_type", actual.grant_type == expected.grant_type),
        ("subject_id", actual.subject_id == expected.subject_id),
        ("session_id", actual.session_id == expected.session_id),
        ("client_id", actual.client_id == expected.client_id),
        ("created", actual.created == expected.created),
        ("expires", actual.expires == expected.expires),
        ("consumed", actual.consumed == expected.consumed),
        ("data", actual.data == expected.data),
    ];
    for (field, equal) in fields {
        assert!(
            equal,
            "grant {}: field `{field}` read back differs\n  expected: {expected:?} data={:?}\n    actual: {actual:?} data={:?}",
            expected.key, expected.data, actual.data
        );
    }
}

/// A grant with every optional field set reads back equal, and so does one with every optional
/// field `None`; an unknown key reads back as `None`.
pub async fn grants_round_trip_every_field<S: GrantStore + ?Sized>(store: &S) {
    let uid = unique();
    let client_id = format!("kit-client-{uid}");
    let full = full_grant(&format!("kit-grant-{uid}-full"), &client_id);
    store.store_grant(&full).await.expect("store_grant");
    let found = store.get_grant(&full.key).await.expect("get_grant");
    assert_grant_eq(found.as_ref(), &full);

    let minimal = PersistedGrant {
        key: format!("kit-grant-{uid}-minimal"),
        grant_type: "client_assertion_jti".to_owned(),
        subject_id: None,
        session_id: None,
        client_id,
        created: now(),
        expires: None,
        consumed: None,
        data: String::new(),
    };
    store.store_grant(&minimal).await.expect("store_grant");
    let found = store.get_grant(&minimal.key).await.expect("get_grant");
    assert_grant_eq(found.as_ref(), &minimal);

    let missing = store
        .get_grant(&format!("kit-missing-{uid}"))
        .await
        .expect("get_grant");
    assert!(missing.is_none(), "an unknown key must read back as None");
}

/// `store_grant` on an existing key replaces every field (including clearing options and
/// setting `consumed`), and leaves one grant.
pub async fn store_grant_replaces<S: GrantStore + ?Sized>(store: &S) {
    let uid = unique();
    let client_id = format!("kit-client-{uid}");
    let original = full_grant(&format!("kit-grant-{uid}"), &client_id);
    store.store_grant(&original).await.expect("store_grant");

    let replacement = PersistedGrant {
        grant_type: "other_type".to_owned(),
        subject_id: None,
        session_id: Some(format!("sid-{uid}-2")),
        created: original.created + Duration::seconds(1),
        expires: None,
        consumed: Some(original.created + Duration::seconds(30)),
        data: r#"{"replaced":true}"#.to_owned(),
        ..original.clone()
    };
    store
        .store_grant(&replacement)
        .await
        .expect("store_grant (replace)");
    let found = store.get_grant(&original.key).await.expect("get_grant");
    assert_grant_eq(found.as_ref(), &replacement);

    let filter = PersistedGrantFilter {
        client_id: Some(client_id),
        ..Default::default()
    };
    assert_eq!(
        get_keys(store, &filter).await,
        [original.key.as_str()],
        "store_grant must leave exactly one grant with the key"
    );
}

/// `create_grant` stores a new key, but refuses an existing one with [`StoreError::Conflict`]
/// and leaves the existing grant untouched; once the key is removed it can be created again.
pub async fn create_grant_refuses_an_existing_key<S: GrantStore + ?Sized>(store: &S) {
    let uid = unique();
    let first = full_grant(&format!("kit-grant-{uid}"), &format!("kit-client-{uid}"));
    store.create_grant(&first).await.expect("create_grant");
    assert_grant_eq(
        store
            .get_grant(&first.key)
            .await
            .expect("get_grant")
            .as_ref(),
        &first,
    );

    let second = PersistedGrant {
        data: r#"{"second":true}"#.to_owned(),
        consumed: None,
        ..first.clone()
    };
    assert_eq!(
        store.create_grant(&second).await,
        Err(StoreError::Conflict),
        "create_grant on an existing key must be a conflict"
    );
    assert_grant_eq(
        store
            .get_grant(&first.key)
            .await
            .expect("get_grant")
            .as_ref(),
        &first,
    );

    assert!(store.remove_grant(&first.key).await.expect("remove_grant"));
    store
        .create_grant(&second)
        .await
        .expect("create_grant after removal");
    assert_grant_eq(
        store
            .get_grant(&first.key)
            .await
            .expect("get_grant")
            .as_ref(),
        &second,
    );
}

/// Removing a grant reports `true` and removes it; removing it again reports `false`.
pub async fn remove_grant_reports_whether_it_existed<S: GrantStore + ?Sized>(store: &S) {
    let uid = unique();
    let client_id = format!("kit-client-{uid}");
    let removed = full_grant(&format!("kit-grant-{uid}-1"), &client_id);
    let kept = full_grant(&format!("kit-grant-{uid}-2"), &client_id);
    for grant in [&removed, &kept] {
        store.store_grant(grant).await.expect("store_grant");
    }
    assert!(
        store
            .remove_grant(&removed.key)
            .await
            .expect("remove_grant")
    );
    assert!(
        store
            .get_grant(&removed.key)
            .await
            .expect("get_grant")
            .is_none()
    );
    assert!(
        !store
            .remove_grant(&removed.key)
            .await
            .expect("remove_grant again")
    );
    assert!(
        store
            .get_grant(&kept.key)
            .await
            .expect("get_grant")
            .is_some(),
        "removing one grant removed another"
    );
}

/// `remove_expired_grants` removes grants whose expiry is strictly before `now`, and never
/// grants expiring at or after `now` or grants without expiry.
pub async fn remove_expired_grants_removes_only_expired<S: GrantStore + ?Sized>(store: &S) {
    let uid = unique();
    let client_id = format!("kit-client-{uid}");
    let now = distant_past();
    let created = now - Duration::days(400);
    let with_expiry = |name: &str, expires: Option<OffsetDateTime>| PersistedGrant {
        expires,
        ..grant(
            &format!("kit-grant-{uid}-{name}"),
            "t",
            None,
            None,
            &client_id,
            created,
        )
    };
    let expired = [
        with_expiry("expired-1s", Some(now - Duration::seconds(1))),
        with_expiry("expired-1h", Some(now - Duration::hours(1))),
    ];
    let kept = [
        with_expiry("expires-now", Some(now)),
        with_expiry("expires-later", Some(now + Duration::seconds(1))),
        with_expiry("never-expires", None),
    ];
    for grant in expired.iter().chain(&kept) {
        store.store_grant(grant).await.expect("store_grant");
    }

    let removed = store
        .remove_expired_grants(now, 100)
        .await
        .expect("remove_expired_grants");
    assert_eq!(removed, 2, "remove_expired_grants reported a wrong count");
    for grant in &expired {
        assert!(
            store
                .get_grant(&grant.key)
                .await
                .expect("get_grant")
                .is_none(),
            "expired grant {} was kept",
            grant.key
        );
    }
    for grant in &kept {
        assert!(
            store
                .get_grant(&grant.key)
                .await
                .expect("get_grant")
                .is_some(),
            "grant {} was removed though it has not expired",
            grant.key
        );
    }
    // Leave nothing that a later expiry check on the same database could count as expired.
    let ours = PersistedGrantFilter {
        client_id: Some(client_id),
        ..Default::default()
    };
    store.remove_grants(&ours).await.expect("remove_grants");
}

/// `remove_expired_grants` removes at most `batch` grants per call (none for a batch of 0).
pub async fn remove_expired_grants_respects_batch_size<S: GrantStore + ?Sized>(store: &S) {
    let uid = unique();
    let client_id = format!("kit-client-{uid}");
    let now = distant_past();
    let expired: Vec<PersistedGrant> = (0..5)
        .map(|n| PersistedGrant {
            expires: Some(now - Duration::minutes(n + 1)),
            ..grant(
                &format!("kit-grant-{uid}-{n}"),
                "t",
                None,
                None,
                &client_id,
                now - Duration::days(1),
            )
        })
        .collect();
    let never = PersistedGrant {
        expires: None,
        ..grant(
            &format!("kit-grant-{uid}-never"),
            "t",
            None,
            None,
            &client_id,
            now,
        )
    };
    for grant in expired.iter().chain([&never]) {
        store.store_grant(grant).await.expect("store_grant");
    }
    let filter = PersistedGrantFilter {
        client_id: Some(client_id),
        ..Default::default()
    };
    let count = |expected: usize| {
        let filter = &filter;
        async move {
            let left = get_keys(store, filter).await.len();
            assert_eq!(left, expected, "grants left after removing expired ones");
        }
    };

    let remove = |batch| store.remove_expired_grants(now, batch);
    assert_eq!(remove(0).await.expect("remove_expired_grants"), 0);
    count(6).await;
    assert_eq!(remove(2).await.expect("remove_expired_grants"), 2);
    count(4).await;
    assert_eq!(remove(2).await.expect("remove_expired_grants"), 2);
    count(2).await;
    assert_eq!(remove(2).await.expect("remove_expired_grants"), 1);
    count(1).await;
    assert_eq!(remove(2).await.expect("remove_expired_grants"), 0);
    assert!(
        store
            .get_grant(&never.key)
            .await
            .expect("get_grant")
            .is_some(),
        "a grant without expiry was removed"
    );
    store.remove_grants(&filter).await.expect("remove_grants");
}

/// `consume_grant` marks an unconsumed grant consumed at the given instant and returns it (every
/// field, `consumed` set) exactly once; a consumed or unknown grant returns `None` and is left
/// unchanged. Of many concurrent consumers exactly one wins (the guarantee one-time codes rely
/// on).
pub async fn consume_grant_succeeds_exactly_once<S: GrantStore + ?Sized>(store: &S) {
    let uid = unique();
    let at = now() + Duration::seconds(7);
    let fresh = grant(
        &format!("kit-consume-{uid}"),
        "authorization_code",
        Some("s"),
        Some("sid"),
        &format!("kit-client-{uid}"),
        now(),
    );
    store.store_grant(&fresh).await.expect("store_grant");
    let taken = store
        .consume_grant(&fresh.key, at)
        .await
        .expect("consume_grant")
        .expect("the first consume returns the grant");
    assert_eq!(
        taken,
        PersistedGrant {
            consumed: Some(at),
            ..fresh.clone()
        }
    );
    let read = store
        .get_grant(&fresh.key)
        .await
        .expect("get_grant")
        .expect("still stored");
    assert_eq!(read.consumed, Some(at));
    assert!(
        store
            .consume_grant(&fresh.key, at + Duration::seconds(1))
            .await
            .expect("consume again")
            .is_none()
    );
    let read = store
        .get_grant(&fresh.key)
        .await
        .expect("get_grant")
        .expect("still stored");
    assert_eq!(
        read.consumed,
        Some(at),
        "a second consume does not move the instant"
    );
    assert!(
        store
            .consume_grant(&format!("kit-missing-{uid}"), at)
            .await
            .expect("consume unknown")
            .is_none()
    );

    let raced = grant(
        &format!("kit-race-{uid}"),
        "authorization_code",
        None,
        None,
        &format!("kit-client-{uid}"),
        now(),
    );
    store.store_grant(&raced).await.expect("store_grant");
    let attempts = (0..8).map(|_| store.consume_grant(&raced.key, at));
    let mut wins = 0;
    for result in join_all(attempts).await {
        if result.expect("consume_grant").is_some() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "exactly one concurrent consumer wins");
}
