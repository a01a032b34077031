//! Conformance checks for [`RevokedTokenStore`]: the revocation list of JWT ids.

use super::{now, unique};
use crate::model::RevokedToken;
use crate::store::RevokedTokenStore;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// An instant far in the past (between 1971 and 1980), different on every call, that no entry
/// outside the expiry check of this kit expires before.
fn distant_past() -> OffsetDateTime {
    let offset = (Uuid::new_v4().as_u128() % (9 * 365 * 86_400)) as i64;
    OffsetDateTime::from_unix_timestamp(365 * 86_400 + offset).expect("a valid timestamp")
}

/// A revoked id is found with every field; revoking it again (by anyone, with any expiry)
/// keeps the first entry; an id never revoked is not found.
pub async fn revoked_token_ids_round_trip_and_are_recorded_once<S: RevokedTokenStore + ?Sized>(
    store: &S,
) {
    let uid = unique();
    let revoked = RevokedToken {
        jti: format!("kit-jti-{uid}"),
        client_id: format!("kit-client-{uid}"),
        expires: now() + Duration::minutes(5),
    };
    assert_eq!(
        store
            .find_revoked_token_id(&revoked.jti)
            .await
            .expect("find"),
        None
    );
    store.revoke_token_id(&revoked).await.expect("revoke");
    assert_eq!(
        store
            .find_revoked_token_id(&revoked.jti)
            .await
            .expect("find"),
        Some(revoked.clone())
    );
    let again = RevokedToken {
        client_id: format!("kit-other-{uid}"),
        expires: revoked.expires + Duration::hours(1),
        ..revoked.clone()
    };
    store.revoke_token_id(&again).await.expect("revoke again");
    assert_eq!(
        store
            .find_revoked_token_id(&revoked.jti)
            .await
            .expect("find"),
        Some(revoked),
        "revoking a revoked id changes nothing"
    );
    assert_eq!(
        store
            .find_revoked_token_id(&format!("kit-jti-{uid}-never"))
            .await
            .expect("find"),
        None
    );
}

/// Only ids whose token expired at `now` (`expires <= now`) are removed, at most `batch` at a
/// time. Works decades in the past; must not run at the same moment as itself on one database.
/// Its live entries stay behind (there is no delete), to expire for a later run.
pub async fn remove_expired_revoked_token_ids_removes_only_expired_in_batches<
    S: RevokedTokenStore + ?Sized,
>(
    store: &S,
) {
    let uid = unique();
    let now = distant_past();
    let entry = |name: &str, expires: OffsetDateTime| RevokedToken {
        jti: format!("kit-jti-{uid}-{name}"),
        client_id: format!("kit-client-{uid}"),
        expires,
    };
    let expired = [
        entry("expires-now", now),
        entry("expired-1s", now - Duration::seconds(1)),
        entry("expired-1h", now - Duration::hours(1)),
    ];
    let kept = [
        entry("expires-later", now + Duration::seconds(1)),
        entry("expires-tomorrow", now + Duration::days(1)),
    ];
    for revoked in expired.iter().chain(&kept) {
        store.revoke_token_id(revoked).await.expect("revoke");
    }
    let first = store
        .remove_expired_revoked_token_ids(now, 2)
        .await
        .expect("remove");
    assert_eq!(first, 2, "the batch size bounds a removal");
    let rest = store
        .remove_expired_revoked_token_ids(now, 100)
        .await
        .expect("remove");
    // At least ours; entries an earlier run left for its own distant past may have expired
    // at this one (the store has no way to delete an entry before it expires).
    assert!(rest >= 1, "the rest of the expired ids go next");
    for revoked in &expired {
        assert_eq!(
            store
                .find_revoked_token_id(&revoked.jti)
                .await
                .expect("find"),
            None,
            "expired id {} was kept",
            revoked.jti
        );
    }
    for revoked in &kept {
        assert_eq!(
            store
                .find_revoked_token_id(&revoked.jti)
                .await
                .expect("find")
                .as_ref(),
            Some(revoked),
            "live id {} was removed",
            revoked.jti
        );
    }
}
