//! Conformance checks for [`SignInFailureStore`]: the compare-and-set the sign-in throttle
//! counts attempts with, atomic additions, and the removal of expired counters.

use super::{join_all, now, unique};
use crate::model::SignInFailures;
use crate::store::SignInFailureStore;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// An instant far in the past (between 1971 and 1980), different on every call, that no
/// counter outside the expiry check of this kit expires before.
fn distant_past() -> OffsetDateTime {
    let offset = (Uuid::new_v4().as_u128() % (9 * 365 * 86_400)) as i64;
    OffsetDateTime::from_unix_timestamp(365 * 86_400 + offset).expect("a valid timestamp")
}

fn counter(failures: u32, last_failure: OffsetDateTime) -> SignInFailures {
    SignInFailures {
        failures,
        last_failure,
        expires: last_failure + Duration::hours(1),
    }
}

/// A counter is created only where there is none, replaced only while it is still what the
/// caller read, read back field by field, and cleared.
pub async fn sign_in_failures_are_replaced_only_from_what_was_read<
    S: SignInFailureStore + ?Sized,
>(
    store: &S,
) {
    let key = format!("kit-failures-{}", unique());
    let now = now();
    assert_eq!(store.get_sign_in_failures(&key).await.expect("get"), None);
    let first = counter(1, now);
    assert!(
        store
            .replace_sign_in_failures(&key, None, &first)
            .await
            .expect("create"),
        "a counter where there is none is created"
    );
    assert_eq!(
        store.get_sign_in_failures(&key).await.expect("get"),
        Some(first.clone())
    );
    let second = counter(2, now + Duration::seconds(5));
    assert!(
        !store
            .replace_sign_in_failures(&key, None, &second)
            .await
            .expect("create again"),
        "an existing counter is not replaced as if there were none"
    );
    let stale = counter(1, now - Duration::seconds(1));
    assert!(
        !store
            .replace_sign_in_failures(&key, Some(&stale), &second)
            .await
            .expect("replace stale"),
        "a counter that changed since it was read is not replaced"
    );
    assert!(
        store
            .replace_sign_in_failures(&key, Some(&first), &second)
            .await
            .expect("replace"),
        "the counter as read is replaced"
    );
    assert_eq!(
        store.get_sign_in_failures(&key).await.expect("get"),
        Some(second)
    );
    assert!(store.clear_sign_in_failures(&key).await.expect("clear"));
    assert!(!store.clear_sign_in_failures(&key).await.expect("clear"));
    assert_eq!(store.get_sign_in_failures(&key).await.expect("get"), None);
}

/// Of eight callers replacing the counter they all read, exactly one succeeds; so do eight
/// callers creating a counter where there was none.
pub async fn concurrent_sign_in_failure_replacements_succeed_once<
    S: SignInFailureStore + ?Sized,
>(
    store: &S,
) {
    let key = format!("kit-failures-{}", unique());
    let now = now();
    let created = join_all((1..=8).map(|n| {
        let next = counter(n, now);
        let key = key.clone();
        async move { store.replace_sign_in_failures(&key, None, &next).await }
    }))
    .await;
    let won = created
        .into_iter()
        .map(|r| r.expect("create"))
        .filter(|won| *won)
        .count();
    assert_eq!(won, 1, "{won} concurrent creations succeeded");
    let read = store
        .get_sign_in_failures(&key)
        .await
        .expect("get")
        .expect("created");
    let replaced = join_all((1..=8).map(|n| {
        let next = counter(read.failures + n, now + Duration::seconds(1));
        let (key, read) = (key.clone(), read.clone());
        async move {
            store
                .replace_sign_in_failures(&key, Some(&read), &next)
                .await
        }
    }))
    .await;
    let won = replaced
        .into_iter()
        .map(|r| r.expect("replace"))
        .filter(|won| *won)
        .count();
    assert_eq!(won, 1, "{won} concurrent replacements succeeded");
    store.clear_sign_in_failures(&key).await.expect("clear");
}

/// Additions count one each, also when they run at once, move the latest failure and the
/// expiry, and start again from one after the counter expired.
pub async fn sign_in_failures_add_up_and_restart_after_expiry<S: SignInFailureStore + ?Sized>(
    store: &S,
) {
    let key = format!("kit-failures-{}", unique());
    let now = now();
    let expires = now + Duration::minutes(10);
    let first = store
        .add_sign_in_failure(&key, now, expires)
        .await
        .expect("add");
    assert_eq!(
        first,
        SignInFailures {
            failures: 1,
            last_failure: now,
            expires,
        }
    );
    let results = join_all((0..8).map(|_| store.add_sign_in_failure(&key, now, expires))).await;
    for result in results {
        result.expect("add");
    }
    let later = now + Duration::seconds(30);
    let counted = store
        .add_sign_in_failure(&key, later, later + Duration::minutes(10))
        .await
        .expect("add");
    assert_eq!(
        counted,
        SignInFailures {
            failures: 10,
            last_failure: later,
            expires: later + Duration::minutes(10),
        },
        "every addition counts once"
    );
    assert_eq!(
        store.get_sign_in_failures(&key).await.expect("get"),
        Some(counted.clone())
    );
    let after_expiry = counted.expires;
    let restarted = store
        .add_sign_in_failure(&key, after_expiry, after_expiry + Duration::minutes(10))
        .await
        .expect("add");
    assert_eq!(
        restarted.failures, 1,
        "a counter that expired counts from one again"
    );
    store.clear_sign_in_failures(&key).await.expect("clear");
}

/// Only counters expired at `now` (`expires <= now`) are removed, at most `batch` at a time.
/// Like the grant expiry checks, it works decades in the past and must not run at the same
/// moment as itself on one database.
pub async fn remove_expired_sign_in_failures_removes_only_expired_in_batches<
    S: SignInFailureStore + ?Sized,
>(
    store: &S,
) {
    let uid = unique();
    let now = distant_past();
    let at = |name: &str, expires: OffsetDateTime| {
        (
            format!("kit-failures-{uid}-{name}"),
            SignInFailures {
                failures: 3,
                last_failure: now - Duration::days(1),
                expires,
            },
        )
    };
    let expired = [
        at("expires-now", now),
        at("expired-1s", now - Duration::seconds(1)),
        at("expired-1h", now - Duration::hours(1)),
    ];
    let kept = [
        at("expires-later", now + Duration::seconds(1)),
        at("expires-tomorrow", now + Duration::days(1)),
    ];
    for (key, counter) in expired.iter().chain(&kept) {
        assert!(
            store
                .replace_sign_in_failures(key, None, counter)
                .await
                .expect("create")
        );
    }
    let first = store
        .remove_expired_sign_in_failures(now, 2)
        .await
        .expect("remove");
    assert_eq!(first, 2, "the batch size bounds a removal");
    let rest = store
        .remove_expired_sign_in_failures(now, 100)
        .await
        .expect("remove");
    assert_eq!(rest, 1, "the rest of the expired counters go next");
    for (key, _) in &expired {
        assert_eq!(
            store.get_sign_in_failures(key).await.expect("get"),
            None,
            "expired counter {key} was kept"
        );
    }
    for (key, counter) in &kept {
        assert_eq!(
            store.get_sign_in_failures(key).await.expect("get").as_ref(),
            Some(counter),
            "live counter {key} was removed"
        );
        store.clear_sign_in_failures(key).await.expect("clear");
    }
}
