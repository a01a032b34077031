//! Conformance checks for [`GrantStore`] queries by filter: selection by each field and by
//! combinations, empty lists, the refused empty filter, result order and `remove_grants`.

use super::{full_grant, get_keys, grant, now, unique};
use crate::model::{PersistedGrant, PersistedGrantFilter};
use crate::store::{GrantStore, StoreError};
use time::Duration;

/// The keys of `grants`, in order.
fn keys(grants: &[PersistedGrant]) -> Vec<&str> {
    grants.iter().map(|g| g.key.as_str()).collect()
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
