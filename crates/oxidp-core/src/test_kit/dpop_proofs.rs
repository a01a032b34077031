//! Conformance checks for [`DpopProofStore`]: the seen DPoP proofs, recorded once across
//! every caller, and the removal of expired entries.

use super::{join_all, now, unique};
use crate::store::DpopProofStore;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// An instant far in the past (between 1971 and 1980), different on every call, that no entry
/// outside the expiry check of this kit expires before.
fn distant_past() -> OffsetDateTime {
    let offset = (Uuid::new_v4().as_u128() % (9 * 365 * 86_400)) as i64;
    OffsetDateTime::from_unix_timestamp(365 * 86_400 + offset).expect("a valid timestamp")
}

/// A proof is recorded the first time only, whatever the expiry of the second attempt;
/// another key is recorded on its own.
pub async fn dpop_proofs_are_recorded_once<S: DpopProofStore + ?Sized>(store: &S) {
    let key = format!("kit-proof-{}", unique());
    let expires = now() + Duration::minutes(1);
    assert!(
        store
            .record_dpop_proof(&key, expires)
            .await
            .expect("record")
    );
    assert!(
        !store
            .record_dpop_proof(&key, expires)
            .await
            .expect("record"),
        "a proof was recorded twice"
    );
    assert!(
        !store
            .record_dpop_proof(&key, expires + Duration::hours(1))
            .await
            .expect("record"),
        "another expiry made a seen proof new again"
    );
    assert!(
        store
            .record_dpop_proof(&format!("{key}-other"), expires)
            .await
            .expect("record")
    );
}

/// Of concurrent records of one proof, exactly one wins (the replay of a proof sent to two
/// instances at once is refused on one of them).
pub async fn concurrent_dpop_proof_records_have_one_winner<S: DpopProofStore + ?Sized>(store: &S) {
    let key = format!("kit-proof-{}", unique());
    let expires = now() + Duration::minutes(1);
    let outcomes = join_all((0..8).map(|_| store.record_dpop_proof(&key, expires))).await;
    let won = outcomes
        .into_iter()
        .map(|r| r.expect("record"))
        .filter(|won| *won)
        .count();
    assert_eq!(won, 1, "{won} concurrent records of one proof succeeded");
}

/// Only entries expired at `now` (`expires <= now`) are removed, at most `batch` at a time; a
/// removed proof can be recorded again, a kept one cannot. Works decades in the past; must not
/// run at the same moment as itself on one database. Its live entries stay behind, to expire
/// for a later run.
pub async fn remove_expired_dpop_proofs_removes_only_expired_in_batches<
    S: DpopProofStore + ?Sized,
>(
    store: &S,
) {
    let uid = unique();
    let now = distant_past();
    let key = |name: &str| format!("kit-proof-{uid}-{name}");
    let expired = [
        (key("expires-now"), now),
        (key("expired-1s"), now - Duration::seconds(1)),
        (key("expired-1h"), now - Duration::hours(1)),
    ];
    let kept = [
        (key("expires-later"), now + Duration::seconds(1)),
        (key("expires-tomorrow"), now + Duration::days(1)),
    ];
    for (key, expires) in expired.iter().chain(&kept) {
        assert!(
            store
                .record_dpop_proof(key, *expires)
                .await
                .expect("record")
        );
    }
    let first = store
        .remove_expired_dpop_proofs(now, 2)
        .await
        .expect("remove");
    assert_eq!(first, 2, "the batch size bounds a removal");
    let rest = store
        .remove_expired_dpop_proofs(now, 100)
        .await
        .expect("remove");
    // At least ours; entries an earlier run left for its own distant past may have expired
    // at this one.
    assert!(rest >= 1, "the rest of the expired entries go next");
    for (key, expires) in &kept {
        assert!(
            !store
                .record_dpop_proof(key, *expires)
                .await
                .expect("record"),
            "live entry {key} was removed"
        );
    }
    for (key, expires) in &expired {
        assert!(
            store
                .record_dpop_proof(key, *expires)
                .await
                .expect("record"),
            "expired entry {key} was kept"
        );
    }
    // What this check recorded again expired long ago: leave nothing behind for the next run
    // to count.
    store
        .remove_expired_dpop_proofs(now, 100)
        .await
        .expect("remove");
}
