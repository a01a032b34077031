//! Conformance checks for [`UserStore`]: round trips, uniqueness of subject ids and usernames,
//! updates and listing order.

use super::{assert_sorted, now, unique};
use crate::model::User;
use crate::store::{StoreError, UserStore};
use serde_json::json;
use time::Duration;

/// A user with every field set: nested JSON claims, several roles, a password hash.
fn full_user(subject_id: &str, username: &str) -> User {
    User {
        subject_id: subject_id.to_owned(),
        username: username.to_owned(),
        password_hash: Some(
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
             Zm9vYmFyYmF6Zm9vYmFyYmF6Zm9vYmFyYmF6Zm9vYmE"
                .to_owned(),
        ),
        claims: [
            ("name".to_owned(), json!("Zoë O'Brien \"✓\"")),
            ("email".to_owned(), json!("zoe@example.com")),
            ("email_verified".to_owned(), json!(true)),
            (
                "address".to_owned(),
                json!({"street_address": "1 Main St\nFlat 2", "country": "IE", "geo": {"lat": 1.5, "n": -7, "none": null}}),
            ),
            ("groups".to_owned(), json!(["a", ["b", 2], {"c": false}])),
        ]
        .into_iter()
        .collect(),
        enabled: true,
        roles: vec!["admin".to_owned(), "auditor".to_owned()],
        created: now() - Duration::days(3),
    }
}

/// A user with no hash, claims or roles, disabled.
fn bare_user(subject_id: &str, username: &str) -> User {
    User {
        subject_id: subject_id.to_owned(),
        username: username.to_owned(),
        password_hash: None,
        claims: Default::default(),
        enabled: false,
        roles: Vec::new(),
        created: now(),
    }
}

/// Asserts that two users are equal, field by field (their `Debug` hides the hash and claims).
fn assert_user_eq(actual: Option<&User>, expected: &User) {
    let actual = actual.unwrap_or_else(|| panic!("user {} was not found", expected.subject_id));
    let who = &expected.subject_id;
    assert_eq!(actual.subject_id, expected.subject_id);
    assert_eq!(actual.username, expected.username, "username of {who}");
    assert!(
        actual.password_hash == expected.password_hash,
        "password hash of {who} differs (present: {} vs expected {})",
        actual.password_hash.is_some(),
        expected.password_hash.is_some()
    );
    assert_eq!(actual.claims, expected.claims, "claims of {who}");
    assert_eq!(actual.enabled, expected.enabled, "enabled of {who}");
    assert_eq!(actual.roles, expected.roles, "roles of {who}");
    assert_eq!(actual.created, expected.created, "created of {who}");
    assert!(actual == expected, "user {who} read back differs");
}

/// A user with every field set (nested JSON claims, roles in a given order, a hash) and a bare
/// disabled user without a hash both read back equal, by subject id and by username; unknown
/// ones read back as `None`.
pub async fn users_round_trip_every_field<S: UserStore + ?Sized>(store: &S) {
    let id = unique();
    let full = full_user(&format!("kit-sub-{id}"), &format!("kit-user-{id}"));
    store.create_user(&full).await.expect("create_user");
    let id = unique();
    let bare = bare_user(&format!("kit-sub-{id}"), &format!("kit-üser-{id}"));
    store.create_user(&bare).await.expect("create_user (bare)");

    for user in [&full, &bare] {
        let by_subject = store
            .find_user_by_subject(&user.subject_id)
            .await
            .expect("find_user_by_subject");
        assert_user_eq(by_subject.as_ref(), user);
        let by_username = store
            .find_user_by_username(&user.username)
            .await
            .expect("find_user_by_username");
        assert_user_eq(by_username.as_ref(), user);
    }

    let missing = format!("kit-missing-{}", unique());
    assert!(
        store
            .find_user_by_subject(&missing)
            .await
            .expect("find_user_by_subject")
            .is_none(),
        "an unknown subject id must read back as None"
    );
    assert!(
        store
            .find_user_by_username(&missing)
            .await
            .expect("find_user_by_username")
            .is_none(),
        "an unknown username must read back as None"
    );
    // Usernames match exactly: another case is another user.
    assert!(
        store
            .find_user_by_username(&full.username.to_uppercase())
            .await
            .expect("find_user_by_username")
            .is_none(),
        "usernames must match exactly, case included"
    );
}

/// Creating a user with a taken subject id is a conflict and leaves the first user as it was.
pub async fn duplicate_user_subject_is_a_conflict<S: UserStore + ?Sized>(store: &S) {
    let id = unique();
    let subject_id = format!("kit-sub-{id}");
    let first = full_user(&subject_id, &format!("kit-user-{id}"));
    store.create_user(&first).await.expect("create_user");
    let second = bare_user(&subject_id, &format!("kit-other-{id}"));
    assert_eq!(
        store.create_user(&second).await,
        Err(StoreError::Conflict),
        "a second user with the same subject id must be a conflict"
    );
    let found = store
        .find_user_by_subject(&subject_id)
        .await
        .expect("find_user_by_subject");
    assert_user_eq(found.as_ref(), &first);
    assert!(
        store
            .find_user_by_username(&second.username)
            .await
            .expect("find_user_by_username")
            .is_none(),
        "a refused user must not be stored"
    );
}

/// Creating a user with a taken username is a conflict and stores nothing.
pub async fn duplicate_username_is_a_conflict<S: UserStore + ?Sized>(store: &S) {
    let id = unique();
    let username = format!("kit-user-{id}");
    let first = full_user(&format!("kit-sub-{id}"), &username);
    store.create_user(&first).await.expect("create_user");
    let second = bare_user(&format!("kit-other-{id}"), &username);
    assert_eq!(
        store.create_user(&second).await,
        Err(StoreError::Conflict),
        "a second user with the same username must be a conflict"
    );
    assert!(
        store
            .find_user_by_subject(&second.subject_id)
            .await
            .expect("find_user_by_subject")
            .is_none(),
        "a refused user must not be stored"
    );
    let found = store
        .find_user_by_username(&username)
        .await
        .expect("find_user_by_username");
    assert_user_eq(found.as_ref(), &first);
}

/// Updating a user replaces every field: a new username (the old one no longer finds it), a new
/// hash, disabled, other claims and roles; and back to no hash.
pub async fn user_update_replaces_every_field<S: UserStore + ?Sized>(store: &S) {
    let id = unique();
    let original = full_user(&format!("kit-sub-{id}"), &format!("kit-user-{id}"));
    store.create_user(&original).await.expect("create_user");

    let mut changed = original.clone();
    changed.username = format!("kit-renamed-{id}");
    changed.password_hash = Some(
        "$argon2id$v=19$m=8192,t=3,p=1$bmV3c2FsdG5ld3NhbHQ$\
         YmF6YmFyZm9vYmF6YmFyZm9vYmF6YmFyZm9vYmF6YmE"
            .to_owned(),
    );
    changed.enabled = false;
    changed.claims = [("name".to_owned(), json!("Renamed"))]
        .into_iter()
        .collect();
    changed.roles = vec!["viewer".to_owned()];
    changed.created = original.created + Duration::seconds(1);
    assert!(
        store.update_user(&changed).await.expect("update_user"),
        "updating an existing user must report true"
    );
    let found = store
        .find_user_by_subject(&original.subject_id)
        .await
        .expect("find_user_by_subject");
    assert_user_eq(found.as_ref(), &changed);
    let found = store
        .find_user_by_username(&changed.username)
        .await
        .expect("find_user_by_username");
    assert_user_eq(found.as_ref(), &changed);
    assert!(
        store
            .find_user_by_username(&original.username)
            .await
            .expect("find_user_by_username")
            .is_none(),
        "the old username must no longer find the renamed user"
    );

    let mut cleared = changed.clone();
    cleared.password_hash = None;
    cleared.enabled = true;
    assert!(store.update_user(&cleared).await.expect("update_user"));
    let found = store
        .find_user_by_subject(&original.subject_id)
        .await
        .expect("find_user_by_subject");
    assert_user_eq(found.as_ref(), &cleared);

    // The old username is free again.
    let reuse = bare_user(&format!("kit-reuse-{id}"), &original.username);
    store
        .create_user(&reuse)
        .await
        .expect("create_user with a username given up by a rename");
}

/// Renaming a user to another user's username is a conflict and changes neither user.
pub async fn user_update_to_another_username_is_a_conflict<S: UserStore + ?Sized>(store: &S) {
    let id = unique();
    let alice = full_user(&format!("kit-sub-a-{id}"), &format!("kit-user-a-{id}"));
    let bob = bare_user(&format!("kit-sub-b-{id}"), &format!("kit-user-b-{id}"));
    for user in [&alice, &bob] {
        store.create_user(user).await.expect("create_user");
    }
    let mut taken = bob.clone();
    taken.username = alice.username.clone();
    taken.enabled = true;
    assert_eq!(
        store.update_user(&taken).await,
        Err(StoreError::Conflict),
        "taking another user's username must be a conflict"
    );
    for user in [&alice, &bob] {
        let found = store
            .find_user_by_subject(&user.subject_id)
            .await
            .expect("find_user_by_subject");
        assert_user_eq(found.as_ref(), user);
    }
}

/// Updating a user that does not exist reports `false` and creates nothing.
pub async fn user_update_of_unknown_subject_reports_false<S: UserStore + ?Sized>(store: &S) {
    let id = unique();
    let ghost = full_user(&format!("kit-ghost-{id}"), &format!("kit-ghost-{id}"));
    assert!(
        !store.update_user(&ghost).await.expect("update_user"),
        "updating an unknown user must report false"
    );
    assert!(
        store
            .find_user_by_subject(&ghost.subject_id)
            .await
            .expect("find_user_by_subject")
            .is_none(),
        "updating an unknown user must not create it"
    );
    assert!(
        store
            .find_user_by_username(&ghost.username)
            .await
            .expect("find_user_by_username")
            .is_none(),
        "updating an unknown user must not create it"
    );
}

/// Users are listed in byte order of their username (upper case before lower case), whatever
/// the order of their subject ids.
pub async fn users_are_listed_in_username_order<S: UserStore + ?Sized>(store: &S) {
    let prefix = format!("kit-order-{}-", unique());
    for (subject, suffix) in [("1", "b"), ("2", "a0"), ("3", "B"), ("4", "a")] {
        let user = bare_user(&format!("{prefix}{subject}"), &format!("{prefix}{suffix}"));
        store.create_user(&user).await.expect("create_user");
    }
    let listed = store.list_users().await.expect("list_users");
    assert_sorted(&listed, |u| u.username.clone(), "users");
    let ours: Vec<(String, String)> = listed
        .iter()
        .filter_map(|u| {
            let username = u.username.strip_prefix(&prefix)?;
            let subject = u.subject_id.strip_prefix(&prefix)?;
            Some((username.to_owned(), subject.to_owned()))
        })
        .collect();
    let expected = [("B", "3"), ("a", "4"), ("a0", "2"), ("b", "1")]
        .map(|(u, s)| (u.to_owned(), s.to_owned()));
    assert_eq!(ours, expected, "users are not ordered by username");
}
