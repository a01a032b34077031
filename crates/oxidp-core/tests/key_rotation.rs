//! Signing-key rotation driven by an injected clock.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken set-up; unwrap is how it says so"
)]

use oxidp_core::clock::ManualClock;
use oxidp_core::keys::{DataProtector, KeyManager, KeyStatus};
use oxidp_core::options::KeyManagementOptions;
use oxidp_core::store::{KeyStore, MemoryStore};
use oxidp_jose::SigningAlgorithm;
use std::sync::Arc;
use std::time::Duration;

const DAY: u64 = 86_400;

struct Fixture {
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    keys: KeyManager,
}

fn options() -> KeyManagementOptions {
    KeyManagementOptions {
        algorithms: vec![SigningAlgorithm::ES256],
        rotation_interval: Duration::from_secs(90 * DAY),
        announcement_period: Duration::from_secs(14 * DAY),
        retention_period: Duration::from_secs(7 * DAY),
        cache_duration: Duration::from_secs(300),
        data_protection_key_lifetime: Duration::from_secs(365 * DAY),
        master_key: None,
    }
}

fn manager(
    store: &Arc<MemoryStore>,
    clock: &Arc<ManualClock>,
    options: KeyManagementOptions,
) -> KeyManager {
    let protector = Arc::new(DataProtector::new(
        store.clone(),
        clock.clone(),
        options.data_protection_key_lifetime,
        options.cache_duration,
    ));
    KeyManager::new(store.clone(), protector, clock.clone(), options)
}

fn fixture() -> Fixture {
    let store = Arc::new(MemoryStore::default());
    let clock = Arc::new(ManualClock::starting_now());
    let keys = manager(&store, &clock, options());
    Fixture { store, clock, keys }
}

fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

async fn published(keys: &KeyManager) -> Vec<String> {
    keys.jwks()
        .await
        .unwrap()
        .keys
        .iter()
        .map(|k| k.kid.clone().unwrap())
        .collect()
}

#[tokio::test]
async fn first_use_creates_a_key_that_signs_at_once() {
    let f = fixture();
    let key = f.keys.default_signing_key().await.unwrap();
    assert_eq!(key.algorithm(), SigningAlgorithm::ES256);
    assert_eq!(published(&f.keys).await, vec![key.kid().to_owned()]);
    assert_eq!(f.store.list_signing_keys().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_successor_is_published_an_announcement_period_before_it_signs() {
    let f = fixture();
    let first = f.keys.default_signing_key().await.unwrap().kid().to_owned();

    f.clock.advance(days(90 - 14) + time::Duration::seconds(1));
    f.keys.maintain().await.unwrap();
    let kids = published(&f.keys).await;
    assert_eq!(kids.len(), 2, "successor announced");
    let successor = kids.iter().find(|k| **k != first).unwrap().clone();
    assert_eq!(
        f.keys.default_signing_key().await.unwrap().kid(),
        first,
        "old key still signs"
    );

    f.clock.advance(days(14));
    assert_eq!(
        f.keys.default_signing_key().await.unwrap().kid(),
        successor,
        "successor signs after announcement"
    );
    assert!(
        published(&f.keys).await.contains(&first),
        "retired key still published"
    );
    let statuses: Vec<_> = f
        .keys
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.kid, k.status))
        .collect();
    assert!(statuses.contains(&(first.clone(), KeyStatus::Retired)));
    assert!(statuses.contains(&(successor.clone(), KeyStatus::Signing)));
}

#[tokio::test]
async fn a_retired_key_is_removed_after_the_retention_period() {
    let f = fixture();
    let first = f.keys.default_signing_key().await.unwrap().kid().to_owned();
    f.clock.advance(days(90 - 14) + time::Duration::seconds(1));
    f.keys.maintain().await.unwrap();
    f.clock.advance(days(14));
    f.keys.maintain().await.unwrap();

    f.clock.advance(days(7) - time::Duration::seconds(10));
    f.keys.maintain().await.unwrap();
    assert!(
        published(&f.keys).await.contains(&first),
        "still within retention"
    );

    f.clock.advance(time::Duration::seconds(20));
    f.keys.maintain().await.unwrap();
    assert!(!published(&f.keys).await.contains(&first));
    assert!(
        f.store
            .list_signing_keys()
            .await
            .unwrap()
            .iter()
            .all(|k| k.id != first)
    );
}

#[tokio::test]
async fn manual_rotation_announces_first_unless_immediate() {
    let f = fixture();
    let first = f.keys.default_signing_key().await.unwrap().kid().to_owned();
    let announced = f.keys.rotate(SigningAlgorithm::ES256, false).await.unwrap();
    assert_eq!(announced.status, KeyStatus::Announced);
    assert_eq!(f.keys.default_signing_key().await.unwrap().kid(), first);
    assert!(published(&f.keys).await.contains(&announced.kid));

    f.clock.advance(time::Duration::minutes(1));
    let urgent = f.keys.rotate(SigningAlgorithm::ES256, true).await.unwrap();
    assert_eq!(urgent.status, KeyStatus::Signing);
    assert_eq!(
        f.keys.default_signing_key().await.unwrap().kid(),
        urgent.kid
    );
}

#[tokio::test]
async fn instances_on_one_store_share_their_keys() {
    let f = fixture();
    let other = manager(&f.store, &f.clock, options());
    let a = f.keys.default_signing_key().await.unwrap();
    let b = other.default_signing_key().await.unwrap();
    assert_eq!(a.kid(), b.kid());
    assert_eq!(f.store.list_signing_keys().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_key_rotated_by_another_instance_is_seen_within_the_cache_duration() {
    let f = fixture();
    let other = manager(&f.store, &f.clock, options());
    f.keys.default_signing_key().await.unwrap();
    let rotated = other.rotate(SigningAlgorithm::ES256, false).await.unwrap();
    f.clock.advance(time::Duration::seconds(301));
    assert!(published(&f.keys).await.contains(&rotated.kid));
}

#[tokio::test]
async fn private_keys_are_stored_encrypted() {
    let f = fixture();
    let key = f.keys.default_signing_key().await.unwrap();
    let stored = f.store.list_signing_keys().await.unwrap().remove(0);
    let pkcs8 = key.expose_pkcs8();
    assert!(
        !stored
            .protected_private_key
            .windows(pkcs8.len())
            .any(|w| w == pkcs8)
    );
    assert!(!stored.public_jwk.contains("\"d\""));
}

#[tokio::test]
async fn every_configured_algorithm_gets_a_key() {
    let store = Arc::new(MemoryStore::default());
    let clock = Arc::new(ManualClock::starting_now());
    let keys = manager(
        &store,
        &clock,
        KeyManagementOptions {
            algorithms: SigningAlgorithm::ALL.to_vec(),
            ..options()
        },
    );
    for alg in SigningAlgorithm::ALL {
        assert_eq!(keys.signing_key(alg).await.unwrap().algorithm(), alg);
    }
    assert_eq!(published(&keys).await.len(), 4);
}

#[tokio::test]
async fn a_long_overdue_key_is_replaced_at_once() {
    let f = fixture();
    let first = f.keys.default_signing_key().await.unwrap().kid().to_owned();
    f.clock.advance(days(400));
    let now_signing = f.keys.default_signing_key().await.unwrap();
    assert_ne!(now_signing.kid(), first);
}
