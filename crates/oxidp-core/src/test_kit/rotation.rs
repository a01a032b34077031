//! Conformance checks for [`GrantStore::rotate_refresh_token`]: a first use and a retry each
//! happen whole or not at all, and of concurrent rotations of one token exactly one wins.

use super::{grant, join_all, now, unique};
use crate::model::{PersistedGrant, RefreshTokenRotation, RotationStep};
use crate::store::{GrantStore, StoreError};
use time::Duration;

/// A refresh token of one kit run: `name` distinguishes the keys.
fn token(uid: &str, name: &str) -> PersistedGrant {
    PersistedGrant {
        data: format!(r#"{{"token":"{name}"}}"#),
        ..grant(
            &format!("kit-rotation-{uid}-{name}"),
            "refresh_token",
            Some("s"),
            Some("sid"),
            &format!("kit-client-{uid}"),
            now(),
        )
    }
}

fn first_use(presented: &PersistedGrant, issue: Vec<PersistedGrant>) -> RefreshTokenRotation {
    RefreshTokenRotation {
        key: presented.key.clone(),
        data: format!(r#"{{"successor":"{}"}}"#, issue[0].key),
        step: RotationStep::FirstUse {
            at: now() + Duration::seconds(3),
        },
        issue,
    }
}

async fn read<S: GrantStore + ?Sized>(store: &S, key: &str) -> Option<PersistedGrant> {
    store.get_grant(key).await.expect("get_grant")
}

/// A first use consumes the presented token at the given instant, replaces its data and
/// creates every issued grant, returning the presented grant as it now is; a second first use
/// of the same token, or one of an unknown token, changes nothing and returns `None`.
pub async fn rotate_refresh_token_consumes_and_issues_at_once<S: GrantStore + ?Sized>(store: &S) {
    let uid = unique();
    let old = token(&uid, "old");
    store.store_grant(&old).await.expect("store_grant");
    let successor = token(&uid, "successor");
    let access = PersistedGrant {
        grant_type: "reference_token".to_owned(),
        ..token(&uid, "access")
    };
    let rotation = first_use(&old, vec![successor.clone(), access.clone()]);
    let RotationStep::FirstUse { at } = rotation.step else {
        unreachable!("a first use")
    };
    let rotated = store
        .rotate_refresh_token(&rotation)
        .await
        .expect("rotate_refresh_token")
        .expect("an unconsumed token rotates");
    let expected = PersistedGrant {
        consumed: Some(at),
        data: rotation.data.clone(),
        ..old.clone()
    };
    assert_eq!(rotated, expected, "the presented grant as it now is");
    assert_eq!(read(store, &old.key).await, Some(expected.clone()));
    assert_eq!(read(store, &successor.key).await, Some(successor.clone()));
    assert_eq!(read(store, &access.key).await, Some(access));

    let again = first_use(&old, vec![token(&uid, "second-successor")]);
    assert_eq!(
        store.rotate_refresh_token(&again).await,
        Ok(None),
        "a consumed token does not rotate again"
    );
    assert_eq!(read(store, &again.issue[0].key).await, None);
    assert_eq!(read(store, &old.key).await, Some(expected));

    let missing = first_use(&token(&uid, "missing"), vec![token(&uid, "orphan")]);
    assert_eq!(store.rotate_refresh_token(&missing).await, Ok(None));
    assert_eq!(read(store, &missing.issue[0].key).await, None);
}

/// Of concurrent first uses of one token exactly one succeeds, and only its successor exists.
pub async fn concurrent_rotations_of_one_token_have_one_winner<S: GrantStore + ?Sized>(store: &S) {
    let uid = unique();
    let old = token(&uid, "old");
    store.store_grant(&old).await.expect("store_grant");
    let rotations: Vec<RefreshTokenRotation> = (0..8)
        .map(|n| first_use(&old, vec![token(&uid, &format!("successor-{n}"))]))
        .collect();
    let results = join_all(rotations.iter().map(|r| store.rotate_refresh_token(r))).await;
    let mut winners = 0;
    for (rotation, result) in rotations.iter().zip(results) {
        let won = result.expect("rotate_refresh_token").is_some();
        winners += usize::from(won);
        assert_eq!(
            read(store, &rotation.issue[0].key).await.is_some(),
            won,
            "a successor exists exactly when its rotation won"
        );
    }
    assert_eq!(winners, 1, "exactly one concurrent rotation wins");
}

/// A rotation that fails part-way (its second issued grant's key is taken: a conflict) changes
/// nothing: the presented token stays unconsumed with its data, the first issued grant is not
/// created, the taken one is untouched; so does a failed retry, whose successor stays.
pub async fn a_failed_rotation_changes_nothing<S: GrantStore + ?Sized>(store: &S) {
    let uid = unique();
    let old = token(&uid, "old");
    let taken = token(&uid, "taken");
    for grant in [&old, &taken] {
        store.store_grant(grant).await.expect("store_grant");
    }
    let fresh = token(&uid, "fresh");
    let clash = PersistedGrant {
        data: "{}".to_owned(),
        ..taken.clone()
    };
    let rotation = first_use(&old, vec![fresh.clone(), clash.clone()]);
    assert_eq!(
        store.rotate_refresh_token(&rotation).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        read(store, &old.key).await,
        Some(old.clone()),
        "the presented token is still unconsumed, with its data"
    );
    assert_eq!(read(store, &fresh.key).await, None);
    assert_eq!(read(store, &taken.key).await, Some(taken.clone()));

    // The same token rotates once the failure is gone.
    let retried = first_use(&old, vec![fresh.clone()]);
    let rotated = store
        .rotate_refresh_token(&retried)
        .await
        .expect("rotate_refresh_token")
        .expect("the token was left unconsumed");
    let failed_retry = RefreshTokenRotation {
        key: old.key.clone(),
        data: r#"{"successor":"none"}"#.to_owned(),
        step: RotationStep::Retry {
            successor: fresh.key.clone(),
        },
        issue: vec![token(&uid, "fresh-2"), clash],
    };
    assert_eq!(
        store.rotate_refresh_token(&failed_retry).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(read(store, &old.key).await, Some(rotated));
    assert_eq!(read(store, &fresh.key).await, Some(fresh));
    assert_eq!(read(store, &failed_retry.issue[0].key).await, None);
}

/// A retry of a consumed token deletes its unused successor, replaces its data (keeping its
/// consumption instant) and creates the issued grants. It changes nothing and returns `None`
/// when the successor was used, or gone, or the presented token is unconsumed; of concurrent
/// retries exactly one wins.
pub async fn a_retry_rotation_replaces_an_unused_successor<S: GrantStore + ?Sized>(store: &S) {
    let uid = unique();
    let consumed_at = now() - Duration::seconds(2);
    let old = PersistedGrant {
        consumed: Some(consumed_at),
        ..token(&uid, "old")
    };
    let unused = token(&uid, "unused");
    for grant in [&old, &unused] {
        store.store_grant(grant).await.expect("store_grant");
    }
    let retry = |successor: &PersistedGrant, name: &str| RefreshTokenRotation {
        key: old.key.clone(),
        data: format!(r#"{{"successor":"{name}"}}"#),
        step: RotationStep::Retry {
            successor: successor.key.clone(),
        },
        issue: vec![token(&uid, name)],
    };
    let first = retry(&unused, "replacement");
    let rotated = store
        .rotate_refresh_token(&first)
        .await
        .expect("rotate_refresh_token")
        .expect("a retry with an unused successor rotates");
    let expected = PersistedGrant {
        data: first.data.clone(),
        ..old.clone()
    };
    assert_eq!(rotated, expected, "the consumption instant is kept");
    assert_eq!(
        read(store, &unused.key).await,
        None,
        "the successor is gone"
    );
    assert_eq!(
        read(store, &first.issue[0].key).await,
        Some(first.issue[0].clone())
    );

    // The replacement is used: a retry naming it changes nothing.
    let replacement = first.issue[0].clone();
    store
        .consume_grant(&replacement.key, now())
        .await
        .expect("consume_grant")
        .expect("the replacement is consumed");
    let late = retry(&replacement, "too-late");
    assert_eq!(store.rotate_refresh_token(&late).await, Ok(None));
    assert_eq!(read(store, &late.issue[0].key).await, None);
    assert_eq!(read(store, &old.key).await, Some(expected.clone()));
    assert!(read(store, &replacement.key).await.is_some());
    // A successor that is gone: nothing either.
    let gone = retry(&unused, "after-gone");
    assert_eq!(store.rotate_refresh_token(&gone).await, Ok(None));
    assert_eq!(read(store, &gone.issue[0].key).await, None);

    // An unconsumed token is no retry: nothing changes, its would-be successor stays.
    let fresh = token(&uid, "fresh");
    let beside = token(&uid, "beside");
    for grant in [&fresh, &beside] {
        store.store_grant(grant).await.expect("store_grant");
    }
    let not_a_retry = RefreshTokenRotation {
        key: fresh.key.clone(),
        ..retry(&beside, "not-a-retry")
    };
    assert_eq!(store.rotate_refresh_token(&not_a_retry).await, Ok(None));
    assert_eq!(read(store, &fresh.key).await, Some(fresh));
    assert_eq!(read(store, &beside.key).await, Some(beside.clone()));

    // Concurrent retries over one unused successor: one wins.
    let racing = PersistedGrant {
        consumed: Some(consumed_at),
        ..token(&uid, "racing")
    };
    store.store_grant(&racing).await.expect("store_grant");
    let retries: Vec<RefreshTokenRotation> = (0..6)
        .map(|n| RefreshTokenRotation {
            key: racing.key.clone(),
            ..retry(&beside, &format!("race-{n}"))
        })
        .collect();
    let results = join_all(retries.iter().map(|r| store.rotate_refresh_token(r))).await;
    let winners = results
        .into_iter()
        .filter(|r| r.as_ref().expect("rotate_refresh_token").is_some())
        .count();
    assert_eq!(winners, 1, "exactly one concurrent retry wins");
}
