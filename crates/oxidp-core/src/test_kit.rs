//! The store conformance kit: one suite every store implementation must pass.
//!
//! Each behaviour is a `pub async fn` taking the store under test, so a failing check is named
//! after the behaviour it breaks; [`run_all`] runs every one of them in turn. A store crate calls
//! them from its own tests, once per backend (memory, SQLite, PostgreSQL).
//!
//! The functions never assume an empty store: every id, key, subject, session, client and grant
//! type they create embeds a fresh UUID, and every check is scoped to those values. The kit can
//! therefore run against a shared database, and its functions in parallel with each other.
//! Timestamps are whole seconds in UTC, as the stores keep seconds.
//!
//! The one caveat is [`remove_expired_grants_respects_batch_size`] and
//! [`remove_expired_grants_removes_only_expired`]: they expire grants decades in the past (so
//! that nothing another kit function writes is ever a candidate) and remove their grants when
//! they finish, but two runs of them on the same database *at the same moment* could remove
//! each other's grants. Give each concurrent run its own database or schema.

use crate::model::{
    AccessTokenType, ApiResource, Client, DataProtectionKeyRecord, GrantType, HashedSecret,
    PersistedGrant, PersistedGrantFilter, SigningKeyRecord,
};
use crate::store::{ClientStore, GrantStore, KeyStore, ResourceStore, StoreError};
use std::time::Duration as StdDuration;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Runs every check of the kit, one after the other.
pub async fn run_all<S>(store: &S)
where
    S: ClientStore + ResourceStore + GrantStore + KeyStore + ?Sized,
{
    clients_round_trip_every_field(store).await;
    client_upsert_replaces(store).await;
    clients_are_listed_in_id_order(store).await;
    client_delete_reports_whether_it_existed(store).await;

    api_resources_round_trip_every_field(store).await;
    api_resource_upsert_replaces(store).await;
    api_resources_are_listed_in_name_order(store).await;
    api_resource_delete_reports_whether_it_existed(store).await;

    grants_round_trip_every_field(store).await;
    store_grant_replaces(store).await;
    create_grant_refuses_an_existing_key(store).await;
    grant_filters_select_by_each_field(store).await;
    grant_filters_combine_fields(store).await;
    grant_filter_with_empty_list_matches_nothing(store).await;
    grants_are_ordered_by_created_then_key(store).await;
    empty_grant_filter_is_refused(store).await;
    remove_grant_reports_whether_it_existed(store).await;
    remove_grants_returns_count_and_keeps_others(store).await;
    remove_expired_grants_removes_only_expired(store).await;
    remove_expired_grants_respects_batch_size(store).await;

    signing_keys_round_trip(store).await;
    signing_keys_are_ordered_by_activation_then_id(store).await;
    duplicate_signing_key_is_a_conflict(store).await;
    signing_key_delete_reports_whether_it_existed(store).await;

    data_protection_keys_round_trip(store).await;
    data_protection_keys_are_ordered_by_activation_then_id(store).await;
    duplicate_data_protection_key_is_a_conflict(store).await;
    data_protection_key_delete_reports_whether_it_existed(store).await;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// The current instant in UTC, whole seconds.
fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).expect("0 is a valid nanosecond")
}

/// A fresh identifier fragment (32 hex digits).
fn unique() -> String {
    Uuid::new_v4().simple().to_string()
}

/// A client with every field set to a non-default value.
fn full_client(client_id: &str) -> Client {
    let expires = now() + Duration::days(30);
    Client {
        client_id: client_id.to_owned(),
        client_name: Some("Kit client ✓".to_owned()),
        enabled: false,
        secrets: vec![
            HashedSecret {
                sha256: HashedSecret::from_plaintext("first").sha256,
                description: Some("rotating".to_owned()),
                expires: Some(expires),
            },
            HashedSecret::from_plaintext("second"),
        ],
        jwks: Some(serde_json::json!({
            "keys": [{
                "kty": "EC",
                "crv": "P-256",
                "kid": "kit-key",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
                "use": "sig",
                "nested": {"n": 1, "f": 1.5, "b": true, "z": null}
            }]
        })),
        allowed_grant_types: vec![GrantType::ClientCredentials],
        allowed_scopes: vec!["api1".to_owned(), "api2.read".to_owned()],
        access_token_type: AccessTokenType::Reference,
        access_token_lifetime: StdDuration::from_secs(5_405),
    }
}

/// A resource with every field set to a non-default value.
fn full_resource(name: &str) -> ApiResource {
    ApiResource {
        name: name.to_owned(),
        display_name: Some("Kit API".to_owned()),
        enabled: false,
        scopes: vec!["kit.read".to_owned(), "kit.write".to_owned()],
        secrets: vec![HashedSecret {
            sha256: HashedSecret::from_plaintext("introspect").sha256,
            description: Some("introspection".to_owned()),
            expires: Some(now() + Duration::days(7)),
        }],
    }
}

/// A grant with every optional field set; expires a day from now so that no expiry check of
/// the kit removes it.
fn full_grant(key: &str, client_id: &str) -> PersistedGrant {
    let created = now();
    PersistedGrant {
        key: key.to_owned(),
        grant_type: "reference_token".to_owned(),
        subject_id: Some(format!("sub-{key}")),
        session_id: Some(format!("sid-{key}")),
        client_id: client_id.to_owned(),
        created,
        expires: Some(created + Duration::days(1)),
        consumed: Some(created + Duration::seconds(5)),
        data: r#"{"claims":{"sub":"alice","scope":["api1"]},"note":"é \" \\"}"#.to_owned(),
    }
}

/// A minimal grant of one type for one client.
fn grant(
    key: &str,
    grant_type: &str,
    subject_id: Option<&str>,
    session_id: Option<&str>,
    client_id: &str,
    created: OffsetDateTime,
) -> PersistedGrant {
    PersistedGrant {
        key: key.to_owned(),
        grant_type: grant_type.to_owned(),
        subject_id: subject_id.map(str::to_owned),
        session_id: session_id.map(str::to_owned),
        client_id: client_id.to_owned(),
        created,
        expires: Some(created + Duration::days(1)),
        consumed: None,
        data: "{}".to_owned(),
    }
}

/// The keys of `grants`, in order.
fn keys(grants: &[PersistedGrant]) -> Vec<&str> {
    grants.iter().map(|g| g.key.as_str()).collect()
}

async fn get_keys<S: GrantStore + ?Sized>(store: &S, filter: &PersistedGrantFilter) -> Vec<String> {
    store
        .get_grants(filter)
        .await
        .expect("get_grants")
        .into_iter()
        .map(|g| g.key)
        .collect()
}

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

/// An instant far in the past (between 1971 and 1980), different on every call, that no grant
/// outside the expiry checks of this kit expires before.
fn distant_past() -> OffsetDateTime {
    let offset = (Uuid::new_v4().as_u128() % (9 * 365 * 86_400)) as i64;
    OffsetDateTime::from_unix_timestamp(365 * 86_400 + offset).expect("a valid timestamp")
}

/// Asserts that `items` is sorted (strictly ascending) by `key`.
fn assert_sorted<T, K: Ord + std::fmt::Debug>(items: &[T], key: impl Fn(&T) -> K, what: &str) {
    for pair in items.windows(2) {
        let (a, b) = (key(&pair[0]), key(&pair[1]));
        assert!(a < b, "{what} are not in order: {a:?} before {b:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Clients

/// A client with every field set (secrets with and without expiry, a JWK set, a non-default
/// token type and lifetime) reads back equal, and so does a client with only defaults; an
/// unknown id reads back as `None`.
pub async fn clients_round_trip_every_field<S: ClientStore + ?Sized>(store: &S) {
    let client = full_client(&format!("kit-client-{}", unique()));
    store.upsert_client(&client).await.expect("upsert_client");
    let found = store
        .find_client(&client.client_id)
        .await
        .expect("find_client");
    assert_eq!(
        found.as_ref(),
        Some(&client),
        "full client read back differs"
    );

    let minimal = Client::new(format!("kit-client-{}", unique()));
    store.upsert_client(&minimal).await.expect("upsert_client");
    let found = store
        .find_client(&minimal.client_id)
        .await
        .expect("find_client");
    assert_eq!(
        found.as_ref(),
        Some(&minimal),
        "minimal client read back differs"
    );

    let missing = store
        .find_client(&format!("kit-missing-{}", unique()))
        .await
        .expect("find_client");
    assert_eq!(missing, None, "an unknown client id must read back as None");
}

/// Upserting a client with an existing id replaces every field, and leaves one client.
pub async fn client_upsert_replaces<S: ClientStore + ?Sized>(store: &S) {
    let id = format!("kit-client-{}", unique());
    store
        .upsert_client(&full_client(&id))
        .await
        .expect("upsert_client");
    let mut replacement = Client::new(&id);
    replacement.client_name = Some("replaced".to_owned());
    replacement.secrets = vec![HashedSecret::from_plaintext("new secret")];
    store
        .upsert_client(&replacement)
        .await
        .expect("upsert_client (replace)");

    let found = store.find_client(&id).await.expect("find_client");
    assert_eq!(found.as_ref(), Some(&replacement), "upsert did not replace");
    let listed = store.list_clients().await.expect("list_clients");
    let copies = listed.iter().filter(|c| c.client_id == id).count();
    assert_eq!(
        copies, 1,
        "upsert must leave exactly one client with the id"
    );
}

/// Clients are listed in byte order of their id (upper case before lower case).
pub async fn clients_are_listed_in_id_order<S: ClientStore + ?Sized>(store: &S) {
    let prefix = format!("kit-order-{}-", unique());
    for suffix in ["b", "a0", "B", "a"] {
        store
            .upsert_client(&Client::new(format!("{prefix}{suffix}")))
            .await
            .expect("upsert_client");
    }
    let listed = store.list_clients().await.expect("list_clients");
    assert_sorted(&listed, |c| c.client_id.clone(), "clients");
    let ours: Vec<String> = listed
        .iter()
        .filter_map(|c| c.client_id.strip_prefix(&prefix).map(str::to_owned))
        .collect();
    assert_eq!(ours, ["B", "a", "a0", "b"], "clients are not ordered by id");
}

/// Deleting a client reports `true` and removes it; deleting it again reports `false`.
pub async fn client_delete_reports_whether_it_existed<S: ClientStore + ?Sized>(store: &S) {
    let id = format!("kit-client-{}", unique());
    let other = format!("kit-client-{}", unique());
    for client_id in [&id, &other] {
        store
            .upsert_client(&Client::new(client_id))
            .await
            .expect("upsert_client");
    }
    assert!(store.delete_client(&id).await.expect("delete_client"));
    assert_eq!(store.find_client(&id).await.expect("find_client"), None);
    assert!(!store.delete_client(&id).await.expect("delete_client again"));
    assert!(
        store
            .find_client(&other)
            .await
            .expect("find_client")
            .is_some(),
        "deleting one client removed another"
    );
}

// ---------------------------------------------------------------------------------------------
// API resources

/// A resource with every field set reads back equal, and so does one with only defaults; an
/// unknown name reads back as `None`.
pub async fn api_resources_round_trip_every_field<S: ResourceStore + ?Sized>(store: &S) {
    let resource = full_resource(&format!("kit-api-{}", unique()));
    store
        .upsert_api_resource(&resource)
        .await
        .expect("upsert_api_resource");
    let found = store
        .find_api_resource(&resource.name)
        .await
        .expect("find_api_resource");
    assert_eq!(
        found.as_ref(),
        Some(&resource),
        "full resource read back differs"
    );

    let minimal = ApiResource::new(format!("kit-api-{}", unique()));
    store
        .upsert_api_resource(&minimal)
        .await
        .expect("upsert_api_resource");
    let found = store
        .find_api_resource(&minimal.name)
        .await
        .expect("find_api_resource");
    assert_eq!(
        found.as_ref(),
        Some(&minimal),
        "minimal resource read back differs"
    );

    let missing = store
        .find_api_resource(&format!("kit-missing-{}", unique()))
        .await
        .expect("find_api_resource");
    assert_eq!(
        missing, None,
        "an unknown resource name must read back as None"
    );
}

/// Upserting a resource with an existing name replaces every field, and leaves one resource.
pub async fn api_resource_upsert_replaces<S: ResourceStore + ?Sized>(store: &S) {
    let name = format!("kit-api-{}", unique());
    store
        .upsert_api_resource(&full_resource(&name))
        .await
        .expect("upsert_api_resource");
    let mut replacement = ApiResource::new(&name);
    replacement.scopes = vec!["only.this".to_owned()];
    store
        .upsert_api_resource(&replacement)
        .await
        .expect("upsert_api_resource (replace)");

    let found = store
        .find_api_resource(&name)
        .await
        .expect("find_api_resource");
    assert_eq!(found.as_ref(), Some(&replacement), "upsert did not replace");
    let listed = store
        .list_api_resources()
        .await
        .expect("list_api_resources");
    let copies = listed.iter().filter(|r| r.name == name).count();
    assert_eq!(
        copies, 1,
        "upsert must leave exactly one resource with the name"
    );
}

/// Resources are listed in byte order of their name (upper case before lower case).
pub async fn api_resources_are_listed_in_name_order<S: ResourceStore + ?Sized>(store: &S) {
    let prefix = format!("kit-order-{}-", unique());
    for suffix in ["b", "a0", "B", "a"] {
        store
            .upsert_api_resource(&ApiResource::new(format!("{prefix}{suffix}")))
            .await
            .expect("upsert_api_resource");
    }
    let listed = store
        .list_api_resources()
        .await
        .expect("list_api_resources");
    assert_sorted(&listed, |r| r.name.clone(), "resources");
    let ours: Vec<String> = listed
        .iter()
        .filter_map(|r| r.name.strip_prefix(&prefix).map(str::to_owned))
        .collect();
    assert_eq!(
        ours,
        ["B", "a", "a0", "b"],
        "resources are not ordered by name"
    );
}

/// Deleting a resource reports `true` and removes it; deleting it again reports `false`.
pub async fn api_resource_delete_reports_whether_it_existed<S: ResourceStore + ?Sized>(store: &S) {
    let name = format!("kit-api-{}", unique());
    let other = format!("kit-api-{}", unique());
    for resource in [&name, &other] {
        store
            .upsert_api_resource(&ApiResource::new(resource))
            .await
            .expect("upsert_api_resource");
    }
    assert!(
        store
            .delete_api_resource(&name)
            .await
            .expect("delete_api_resource")
    );
    assert_eq!(
        store
            .find_api_resource(&name)
            .await
            .expect("find_api_resource"),
        None
    );
    assert!(
        !store
            .delete_api_resource(&name)
            .await
            .expect("delete_api_resource again")
    );
    assert!(
        store
            .find_api_resource(&other)
            .await
            .expect("find_api_resource")
            .is_some(),
        "deleting one resource removed another"
    );
}

// ---------------------------------------------------------------------------------------------
// Grants

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

/// Values shared by the filter checks, unique to one call.
struct FilterFixture {
    keys: [String; 5],
    clients: [String; 3],
    subjects: [String; 2],
    sessions: [String; 2],
    types: [String; 3],
}

impl FilterFixture {
    /// Stores five grants (inserted out of creation order):
    ///
    /// | grant | type | subject | session | client | created |
    /// |---|---|---|---|---|---|
    /// | 1 | t1 | s1 | sid1 | ca | +1 |
    /// | 2 | t2 | s1 | sid2 | cb | +2 |
    /// | 3 | t1 | s2 | — | ca | +3 |
    /// | 4 | t3 | — | — | cc | +4 |
    /// | 5 | t2 | s1 | sid1 | cc | +5 |
    async fn store<S: GrantStore + ?Sized>(store: &S) -> Self {
        let uid = unique();
        let name = |what: &str, n: usize| format!("kit-{what}-{uid}-{n}");
        let fixture = Self {
            keys: [1, 2, 3, 4, 5].map(|n| name("grant", n)),
            clients: [1, 2, 3].map(|n| name("client", n)),
            subjects: [1, 2].map(|n| name("sub", n)),
            sessions: [1, 2].map(|n| name("sid", n)),
            types: [1, 2, 3].map(|n| name("type", n)),
        };
        let [ca, cb, cc] = &fixture.clients;
        let [s1, s2] = &fixture.subjects;
        let [sid1, sid2] = &fixture.sessions;
        let [t1, t2, t3] = &fixture.types;
        let [k1, k2, k3, k4, k5] = &fixture.keys;
        let base = now();
        let at = |s: i64| base + Duration::seconds(s);
        let grants = [
            grant(k5, t2, Some(s1), Some(sid1), cc, at(5)),
            grant(k3, t1, Some(s2), None, ca, at(3)),
            grant(k1, t1, Some(s1), Some(sid1), ca, at(1)),
            grant(k4, t3, None, None, cc, at(4)),
            grant(k2, t2, Some(s1), Some(sid2), cb, at(2)),
        ];
        for grant in &grants {
            store.store_grant(grant).await.expect("store_grant");
        }
        fixture
    }

    /// The keys of grants `numbers` (1-based), in order.
    fn keys(&self, numbers: &[usize]) -> Vec<String> {
        numbers.iter().map(|n| self.keys[n - 1].clone()).collect()
    }
}

fn some(value: &str) -> Option<String> {
    Some(value.to_owned())
}

fn list(values: &[&String]) -> Option<Vec<String>> {
    Some(values.iter().map(|v| (*v).clone()).collect())
}

/// Each filter field on its own selects the matching grants, ordered by creation.
pub async fn grant_filters_select_by_each_field<S: GrantStore + ?Sized>(store: &S) {
    let f = FilterFixture::store(store).await;
    let [ca, cb, cc] = &f.clients;
    let [s1, s2] = &f.subjects;
    let [sid1, sid2] = &f.sessions;
    let [t1, t2, t3] = &f.types;
    #[rustfmt::skip]
    let cases: Vec<(&str, PersistedGrantFilter, &[usize])> = vec![
        ("subject s1", PersistedGrantFilter { subject_id: some(s1), ..Default::default() }, &[1, 2, 5]),
        ("subject s2", PersistedGrantFilter { subject_id: some(s2), ..Default::default() }, &[3]),
        ("unknown subject", PersistedGrantFilter { subject_id: some(&format!("{s1}-none")), ..Default::default() }, &[]),
        ("session sid1", PersistedGrantFilter { session_id: some(sid1), ..Default::default() }, &[1, 5]),
        ("session sid2", PersistedGrantFilter { session_id: some(sid2), ..Default::default() }, &[2]),
        ("client ca", PersistedGrantFilter { client_id: some(ca), ..Default::default() }, &[1, 3]),
        ("client cc", PersistedGrantFilter { client_id: some(cc), ..Default::default() }, &[4, 5]),
        ("clients [ca, cc]", PersistedGrantFilter { client_ids: list(&[ca, cc]), ..Default::default() }, &[1, 3, 4, 5]),
        ("clients [cb]", PersistedGrantFilter { client_ids: list(&[cb]), ..Default::default() }, &[2]),
        ("type t1", PersistedGrantFilter { grant_type: some(t1), ..Default::default() }, &[1, 3]),
        ("type t3", PersistedGrantFilter { grant_type: some(t3), ..Default::default() }, &[4]),
        ("types [t2, t3]", PersistedGrantFilter { grant_types: list(&[t2, t3]), ..Default::default() }, &[2, 4, 5]),
        ("types [t1]", PersistedGrantFilter { grant_types: list(&[t1]), ..Default::default() }, &[1, 3]),
    ];
    for (name, filter, expected) in cases {
        assert_eq!(
            get_keys(store, &filter).await,
            f.keys(expected),
            "filter by {name}"
        );
    }
}

/// Filter fields combine with AND (including a single value with a list of the same field).
pub async fn grant_filters_combine_fields<S: GrantStore + ?Sized>(store: &S) {
    let f = FilterFixture::store(store).await;
    let [ca, cb, cc] = &f.clients;
    let [s1, _] = &f.subjects;
    let [sid1, _] = &f.sessions;
    let [t1, t2, t3] = &f.types;
    #[rustfmt::skip]
    let cases: Vec<(&str, PersistedGrantFilter, &[usize])> = vec![
        ("subject + session", PersistedGrantFilter { subject_id: some(s1), session_id: some(sid1), ..Default::default() }, &[1, 5]),
        ("subject + type", PersistedGrantFilter { subject_id: some(s1), grant_type: some(t2), ..Default::default() }, &[2, 5]),
        ("subject + session + client", PersistedGrantFilter { subject_id: some(s1), session_id: some(sid1), client_id: some(ca), ..Default::default() }, &[1]),
        ("client + disjoint clients", PersistedGrantFilter { client_id: some(ca), client_ids: list(&[cb, cc]), ..Default::default() }, &[]),
        ("client + overlapping clients", PersistedGrantFilter { client_id: some(cc), client_ids: list(&[ca, cc]), ..Default::default() }, &[4, 5]),
        ("subject + clients + types", PersistedGrantFilter { subject_id: some(s1), client_ids: list(&[cb, cc]), grant_types: list(&[t2, t3]), ..Default::default() }, &[2, 5]),
        ("session + types + clients", PersistedGrantFilter { session_id: some(sid1), grant_types: list(&[t1]), client_ids: list(&[ca]), ..Default::default() }, &[1]),
        ("type + disjoint types", PersistedGrantFilter { grant_type: some(t1), grant_types: list(&[t2]), ..Default::default() }, &[]),
        ("every field", PersistedGrantFilter { subject_id: some(s1), session_id: some(sid1), client_id: some(cc), client_ids: list(&[cc]), grant_type: some(t2), grant_types: list(&[t1, t2]) }, &[5]),
    ];
    for (name, filter, expected) in cases {
        assert_eq!(
            get_keys(store, &filter).await,
            f.keys(expected),
            "filter by {name}"
        );
    }
}

/// An empty `client_ids` or `grant_types` list is a criterion that matches nothing (it is not
/// ignored, and it is not refused as an empty filter).
pub async fn grant_filter_with_empty_list_matches_nothing<S: GrantStore + ?Sized>(store: &S) {
    let f = FilterFixture::store(store).await;
    let [ca, _, _] = &f.clients;
    let empty_clients = PersistedGrantFilter {
        client_id: some(ca),
        client_ids: Some(Vec::new()),
        ..Default::default()
    };
    assert_eq!(get_keys(store, &empty_clients).await, Vec::<String>::new());
    let empty_types = PersistedGrantFilter {
        client_id: some(ca),
        grant_types: Some(Vec::new()),
        ..Default::default()
    };
    assert_eq!(get_keys(store, &empty_types).await, Vec::<String>::new());
    let only_empty = PersistedGrantFilter {
        client_ids: Some(Vec::new()),
        ..Default::default()
    };
    assert_eq!(get_keys(store, &only_empty).await, Vec::<String>::new());
    assert_eq!(
        store
            .remove_grants(&only_empty)
            .await
            .expect("remove_grants"),
        0
    );
    let ours = PersistedGrantFilter {
        client_ids: list(&f.clients.iter().collect::<Vec<_>>()),
        ..Default::default()
    };
    assert_eq!(get_keys(store, &ours).await, f.keys(&[1, 2, 3, 4, 5]));
}

/// Grants come back ordered by creation time, then by key in byte order.
pub async fn grants_are_ordered_by_created_then_key<S: GrantStore + ?Sized>(store: &S) {
    let uid = unique();
    let client_id = format!("kit-client-{uid}");
    let base = now();
    let key = |suffix: &str| format!("kit-grant-{uid}-{suffix}");
    let inserted = [
        grant(&key("c"), "t", None, None, &client_id, base),
        grant(
            &key("a"),
            "t",
            None,
            None,
            &client_id,
            base + Duration::seconds(10),
        ),
        grant(&key("b"), "t", None, None, &client_id, base),
        grant(
            &key("d"),
            "t",
            None,
            None,
            &client_id,
            base - Duration::seconds(5),
        ),
        grant(&key("Z"), "t", None, None, &client_id, base),
    ];
    for grant in &inserted {
        store.store_grant(grant).await.expect("store_grant");
    }
    let filter = PersistedGrantFilter {
        client_id: Some(client_id),
        ..Default::default()
    };
    let found = store.get_grants(&filter).await.expect("get_grants");
    let expected = ["d", "Z", "b", "c", "a"].map(key);
    assert_eq!(
        keys(&found),
        expected,
        "grants are not ordered by created, key"
    );
}

/// A filter with no criterion is refused by `get_grants` and `remove_grants` with
/// [`StoreError::EmptyFilter`], and removes nothing.
pub async fn empty_grant_filter_is_refused<S: GrantStore + ?Sized>(store: &S) {
    let uid = unique();
    let kept = full_grant(&format!("kit-grant-{uid}"), &format!("kit-client-{uid}"));
    store.store_grant(&kept).await.expect("store_grant");
    let empty = PersistedGrantFilter::default();
    assert_eq!(store.get_grants(&empty).await, Err(StoreError::EmptyFilter));
    assert_eq!(
        store.remove_grants(&empty).await,
        Err(StoreError::EmptyFilter)
    );
    assert!(
        store
            .get_grant(&kept.key)
            .await
            .expect("get_grant")
            .is_some(),
        "a refused empty filter removed a grant"
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

/// `remove_grants` removes exactly the matching grants, returns how many, and keeps the rest.
pub async fn remove_grants_returns_count_and_keeps_others<S: GrantStore + ?Sized>(store: &S) {
    let f = FilterFixture::store(store).await;
    let [ca, cb, cc] = &f.clients;
    let [s1, _] = &f.subjects;
    let all = PersistedGrantFilter {
        client_ids: list(&[ca, cb, cc]),
        ..Default::default()
    };

    let subject_and_types = PersistedGrantFilter {
        subject_id: some(s1),
        grant_types: list(&[&f.types[1]]),
        ..Default::default()
    };
    assert_eq!(
        store
            .remove_grants(&subject_and_types)
            .await
            .expect("remove_grants"),
        2
    );
    assert_eq!(get_keys(store, &all).await, f.keys(&[1, 3, 4]));
    assert_eq!(
        store
            .remove_grants(&subject_and_types)
            .await
            .expect("remove_grants again"),
        0
    );

    let client = PersistedGrantFilter {
        client_id: some(ca),
        ..Default::default()
    };
    assert_eq!(
        store.remove_grants(&client).await.expect("remove_grants"),
        2
    );
    assert_eq!(get_keys(store, &all).await, f.keys(&[4]));
    assert_eq!(store.remove_grants(&all).await.expect("remove_grants"), 1);
    assert_eq!(get_keys(store, &all).await, Vec::<String>::new());
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

// ---------------------------------------------------------------------------------------------
// Keys

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

/// Deleting a data-protection key reports `true` and removes it; deleting it again reports
/// `false`.
pub async fn data_protection_key_delete_reports_whether_it_existed<S: KeyStore + ?Sized>(
    store: &S,
) {
    let key = data_protection_key(Uuid::new_v4(), now());
    let other = data_protection_key(Uuid::new_v4(), now());
    for key in [&key, &other] {
        store
            .insert_data_protection_key(key)
            .await
            .expect("insert_data_protection_key");
    }
    assert!(
        store
            .delete_data_protection_key(key.id)
            .await
            .expect("delete_data_protection_key")
    );
    assert!(find_data_protection_key(store, key.id).await.is_none());
    assert!(
        !store
            .delete_data_protection_key(key.id)
            .await
            .expect("delete_data_protection_key again")
    );
    assert!(
        find_data_protection_key(store, other.id).await.is_some(),
        "deleting one data-protection key removed another"
    );
}
