//! Conformance checks for [`KeyStore`]: signing keys and data-protection keys, their round
//! trips, listing order, duplicate ids and deletion.

use super::{assert_sorted, now, unique};
use crate::model::{DataProtectionKeyRecord, SigningKeyRecord};
use crate::store::{KeyStore, StoreError};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

fn signing_key(id: &str, activates: OffsetDateTime) -> SigningKeyRecord {
    SigningKeyRecord {
        id: id.to_owned(),
        algorithm: "ES256".to_owned(),
        created: activates - Duration::hours(1),
        activates,
        // Every byte value, including NUL and invalid UTF-8.
        protected_private_key: (0..=255u8).chain([0, 0xff, 0]).collect(),
        public_jwk: format!(r#"{{"kty":"EC","crv":"P-256","kid":"{id}","x":"AA","y":"BB"}}"#),
    }
}

fn data_protection_key(id: Uuid, activates: OffsetDateTime) -> DataProtectionKeyRecord {
    DataProtectionKeyRecord {
        id,
        created: activates - Duration::hours(2),
        activates,
        expires: activates + Duration::days(90),
        material: (0..32u8).rev().collect(),
    }
}

/// Asserts that two signing keys are equal, field by field (their `Debug` hides the key).
fn assert_signing_key_eq(actual: Option<&SigningKeyRecord>, expected: &SigningKeyRecord) {
    let actual = actual.unwrap_or_else(|| panic!("signing key {} was not found", expected.id));
    assert_eq!(actual.id, expected.id);
    assert_eq!(
        actual.algorithm, expected.algorithm,
        "algorithm of {}",
        expected.id
    );
    assert_eq!(
        actual.created, expected.created,
        "created of {}",
        expected.id
    );
    assert_eq!(
        actual.activates, expected.activates,
        "activates of {}",
        expected.id
    );
    assert_eq!(
        actual.protected_private_key, expected.protected_private_key,
        "protected private key bytes of {}",
        expected.id
    );
    assert_eq!(
        actual.public_jwk, expected.public_jwk,
        "public JWK of {}",
        expected.id
    );
}

/// Asserts that two data-protection keys are equal, field by field.
fn assert_data_protection_key_eq(
    actual: Option<&DataProtectionKeyRecord>,
    expected: &DataProtectionKeyRecord,
) {
    let actual =
        actual.unwrap_or_else(|| panic!("data-protection key {} was not found", expected.id));
    assert_eq!(actual.id, expected.id);
    assert_eq!(
        actual.created, expected.created,
        "created of {}",
        expected.id
    );
    assert_eq!(
        actual.activates, expected.activates,
        "activates of {}",
        expected.id
    );
    assert_eq!(
        actual.expires, expected.expires,
        "expires of {}",
        expected.id
    );
    assert_eq!(
        actual.material, expected.material,
        "material of {}",
        expected.id
    );
}

async fn find_signing_key<S: KeyStore + ?Sized>(store: &S, id: &str) -> Option<SigningKeyRecord> {
    let keys = store.list_signing_keys().await.expect("list_signing_keys");
    keys.into_iter().find(|k| k.id == id)
}

async fn find_data_protection_key<S: KeyStore + ?Sized>(
    store: &S,
    id: Uuid,
) -> Option<DataProtectionKeyRecord> {
    let keys = store
        .list_data_protection_keys()
        .await
        .expect("list_data_protection_keys");
    keys.into_iter().find(|k| k.id == id)
}

/// A signing key reads back equal: every byte of the protected private key, the JWK string as
/// written, and its timestamps.
pub async fn signing_keys_round_trip<S: KeyStore + ?Sized>(store: &S) {
    let key = signing_key(&format!("kit-kid-{}", unique()), now());
    store
        .insert_signing_key(&key)
        .await
        .expect("insert_signing_key");
    assert_signing_key_eq(find_signing_key(store, &key.id).await.as_ref(), &key);
}

/// Signing keys are listed by activation time, then by id in byte order.
pub async fn signing_keys_are_ordered_by_activation_then_id<S: KeyStore + ?Sized>(store: &S) {
    let prefix = format!("kit-kid-{}-", unique());
    let base = now();
    let inserted = [
        ("b", base),
        ("A", base + Duration::seconds(100)),
        ("a", base),
        ("c", base - Duration::seconds(100)),
        ("B", base),
    ];
    for (suffix, activates) in inserted {
        let key = signing_key(&format!("{prefix}{suffix}"), activates);
        store
            .insert_signing_key(&key)
            .await
            .expect("insert_signing_key");
    }
    let listed = store.list_signing_keys().await.expect("list_signing_keys");
    assert_sorted(&listed, |k| (k.activates, k.id.clone()), "signing keys");
    let ours: Vec<String> = listed
        .iter()
        .filter_map(|k| k.id.strip_prefix(&prefix).map(str::to_owned))
        .collect();
    assert_eq!(
        ours,
        ["c", "B", "a", "b", "A"],
        "signing keys are not ordered"
    );
}

/// Inserting a signing key whose id exists is a [`StoreError::Conflict`] and keeps the
/// original.
pub async fn duplicate_signing_key_is_a_conflict<S: KeyStore + ?Sized>(store: &S) {
    let original = signing_key(&format!("kit-kid-{}", unique()), now());
    store
        .insert_signing_key(&original)
        .await
        .expect("insert_signing_key");
    let duplicate = SigningKeyRecord {
        algorithm: "RS256".to_owned(),
        protected_private_key: vec![1, 2, 3],
        ..original.clone()
    };
    assert_eq!(
        store.insert_signing_key(&duplicate).await,
        Err(StoreError::Conflict)
    );
    assert_signing_key_eq(
        find_signing_key(store, &original.id).await.as_ref(),
        &original,
    );
}

/// Deleting a signing key reports `true` and removes it; deleting it again reports `false`.
pub async fn signing_key_delete_reports_whether_it_existed<S: KeyStore + ?Sized>(store: &S) {
    let uid = unique();
    let key = signing_key(&format!("kit-kid-{uid}-1"), now());
    let other = signing_key(&format!("kit-kid-{uid}-2"), now());
    for key in [&key, &other] {
        store
            .insert_signing_key(key)
            .await
            .expect("insert_signing_key");
    }
    assert!(
        store
            .delete_signing_key(&key.id)
            .await
            .expect("delete_signing_key")
    );
    assert!(find_signing_key(store, &key.id).await.is_none());
    assert!(
        !store
            .delete_signing_key(&key.id)
            .await
            .expect("delete_signing_key again")
    );
    assert!(
        find_signing_key(store, &other.id).await.is_some(),
        "deleting one signing key removed another"
    );
}

/// A data-protection key reads back equal: id, timestamps and every byte of the material.
pub async fn data_protection_keys_round_trip<S: KeyStore + ?Sized>(store: &S) {
    let key = data_protection_key(Uuid::new_v4(), now());
    store
        .insert_data_protection_key(&key)
        .await
        .expect("insert_data_protection_key");
    assert_data_protection_key_eq(find_data_protection_key(store, key.id).await.as_ref(), &key);
}

/// Data-protection keys are listed by activation time, then by id.
pub async fn data_protection_keys_are_ordered_by_activation_then_id<S: KeyStore + ?Sized>(
    store: &S,
) {
    // Ids whose first byte differs, so that the order by id does not depend on chance.
    let with_first_byte = |byte: u8| {
        let mut bytes = *Uuid::new_v4().as_bytes();
        bytes[0] = byte;
        Uuid::from_bytes(bytes)
    };
    let (low, high, earliest) = (
        with_first_byte(0x9f),
        with_first_byte(0xa0),
        with_first_byte(0xff),
    );
    let base = now();
    let inserted = [
        (high, base),
        (earliest, base - Duration::seconds(10)),
        (low, base),
    ];
    for (id, activates) in inserted {
        store
            .insert_data_protection_key(&data_protection_key(id, activates))
            .await
            .expect("insert_data_protection_key");
    }
    let listed = store
        .list_data_protection_keys()
        .await
        .expect("list_data_protection_keys");
    assert_sorted(&listed, |k| (k.activates, k.id), "data-protection keys");
    let ours: Vec<Uuid> = listed
        .iter()
        .map(|k| k.id)
        .filter(|id| [low, high, earliest].contains(id))
        .collect();
    assert_eq!(
        ours,
        [earliest, low, high],
        "data-protection keys are not ordered"
    );
}

/// Inserting a data-protection key whose id exists is a [`StoreError::Conflict`] and keeps the
/// original.
pub async fn duplicate_data_protection_key_is_a_conflict<S: KeyStore + ?Sized>(store: &S) {
    let original = data_protection_key(Uuid::new_v4(), now());
    store
        .insert_data_protection_key(&original)
        .await
        .expect("insert_data_protection_key");
    let duplicate = DataProtectionKeyRecord {
        material: vec![7; 32],
        ..original.clone()
    };
    assert_eq!(
        store.insert_data_protection_key(&duplicate).await,
        Err(StoreError::Conflict)
    );
    assert_data_protection_key_eq(
        find_data_protection_key(store, original.id).await.as_ref(),
        &original,
    );
}

/// Sealing replaces the material only while it is the unsealed one given: a second sealer (or
/// a stale one) changes nothing, and an unknown id is `false`.
pub async fn sealing_a_data_protection_key_replaces_only_the_unsealed_material<
    S: KeyStore + ?Sized,
>(
    store: &S,
) {
    let key = data_protection_key(Uuid::new_v4(), now());
    store
        .insert_data_protection_key(&key)
        .await
        .expect("insert_data_protection_key");
    let sealed = b"sealed-material".to_vec();
    assert!(
        store
            .seal_data_protection_key(key.id, &key.material, &sealed)
            .await
            .expect("seal_data_protection_key"),
        "the first seal replaces the material"
    );
    assert_eq!(
        find_data_protection_key(store, key.id)
            .await
            .expect("the key")
            .material,
        sealed
    );
    assert!(
        !store
            .seal_data_protection_key(key.id, &key.material, b"other")
            .await
            .expect("seal_data_protection_key"),
        "the material is no longer the unsealed one"
    );
    assert_eq!(
        find_data_protection_key(store, key.id)
            .await
            .expect("the key")
            .material,
        sealed
    );
    assert!(
        !store
            .seal_data_protection_key(Uuid::new_v4(), &key.material, &sealed)
            .await
            .expect("seal_data_protection_key")
    );
}
