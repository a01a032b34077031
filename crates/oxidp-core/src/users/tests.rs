use super::*;
use crate::clock::ManualClock;
use crate::store::MemoryStore;
use serde_json::json;
use std::sync::atomic::Ordering;

/// Cheap parameters, so that the tests that do not check the defaults run fast.
const CHEAP: PasswordHashingOptions = PasswordHashingOptions {
    memory_kib: 1024,
    iterations: 1,
    parallelism: 1,
};

fn service() -> (UserService, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::default());
    let hasher = PasswordHasher::new(CHEAP).unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    (UserService::new(store.clone(), hasher, clock), store)
}

fn verifications(service: &UserService) -> usize {
    service.hasher.verifications.load(Ordering::SeqCst)
}

async fn alice(service: &UserService) -> User {
    let claims = [("name".to_owned(), json!("Alice Smith"))].into();
    service
        .create_user(
            "alice",
            Some(Password::new("correct horse")),
            claims,
            vec!["admin".to_owned()],
            None,
        )
        .await
        .unwrap()
}

#[test]
fn default_options_are_owasp() {
    assert_eq!(
        PasswordHashingOptions::default(),
        PasswordHashingOptions {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1
        }
    );
}

#[test]
fn password_debug_is_redacted() {
    let password = Password::new("hunter2");
    assert_eq!(format!("{password:?}"), "[redacted]");
    assert_eq!(password.expose(), "hunter2");
}

#[test]
fn out_of_range_parameters_are_refused() {
    let options = PasswordHashingOptions {
        memory_kib: 1,
        ..CHEAP
    };
    assert!(matches!(
        PasswordHasher::new(options),
        Err(PasswordError::InvalidParameters(_))
    ));
}

#[tokio::test]
async fn hash_is_phc_argon2id_with_the_configured_parameters() {
    let hasher = PasswordHasher::new(PasswordHashingOptions::default()).unwrap();
    let hash = hasher.hash("secret".to_owned()).await.unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    validate_password_hash(&hash).unwrap();

    let hasher = PasswordHasher::new(CHEAP).unwrap();
    let hash = hasher.hash("secret".to_owned()).await.unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
    // A fresh salt each time.
    assert_ne!(hash, hasher.hash("secret".to_owned()).await.unwrap());
}

#[tokio::test]
async fn verify_accepts_the_right_password_only() {
    let hasher = PasswordHasher::new(CHEAP).unwrap();
    let hash = hasher.hash("right".to_owned()).await.unwrap();
    assert!(hasher.verify(&hash, "right".to_owned()).await);
    assert!(!hasher.verify(&hash, "wrong".to_owned()).await);
    assert!(!hasher.verify(&hash, String::new()).await);
    assert!(!hasher.verify("not a hash", "right".to_owned()).await);
}

#[tokio::test]
async fn verify_uses_the_parameters_of_the_stored_hash() {
    let old = PasswordHasher::new(PasswordHashingOptions {
        memory_kib: 2048,
        ..CHEAP
    })
    .unwrap();
    let hash = old.hash("pw".to_owned()).await.unwrap();
    let new = PasswordHasher::new(CHEAP).unwrap();
    assert!(new.verify(&hash, "pw".to_owned()).await);
}

#[test]
fn dummy_hash_is_a_valid_hash_with_the_configured_parameters() {
    let hasher = PasswordHasher::new(CHEAP).unwrap();
    let dummy = hasher.dummy_hash();
    validate_password_hash(&dummy).unwrap();
    let parsed = PasswordHash::new(&dummy).unwrap();
    let params = Params::try_from(&parsed).unwrap();
    assert_eq!(
        (params.m_cost(), params.t_cost(), params.p_cost()),
        (1024, 1, 1)
    );
    assert_eq!(parsed.algorithm.as_str(), "argon2id");
}

#[test]
fn password_hash_validation_names_the_problem() {
    for bad in [
        "",
        "plaintext",
        "$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$aGFzaGhhc2g",
        "$argon2id$v=19$m=19456,t=2,p=1$b3hpZHAtZHVtbXktc2FsdA",
        "$argon2id$v=19$m=1,t=2,p=1$b3hpZHAtZHVtbXktc2FsdA$b3hpZHAtZHVtbXktaGFzaC1uZXZlci1tYXRjaGluZyE",
    ] {
        assert!(
            matches!(
                validate_password_hash(bad),
                Err(PasswordError::InvalidHash(_))
            ),
            "{bad} was accepted"
        );
    }
}

#[tokio::test]
async fn right_password_returns_the_user() {
    let (service, _) = service();
    let created = alice(&service).await;
    let user = service
        .validate_credentials("alice", "correct horse")
        .await
        .unwrap();
    assert!(user == Some(created));
    assert_eq!(verifications(&service), 1);
}

#[tokio::test]
async fn wrong_password_returns_none() {
    let (service, _) = service();
    alice(&service).await;
    let user = service
        .validate_credentials("alice", "Correct horse")
        .await
        .unwrap();
    assert!(user.is_none());
    assert_eq!(verifications(&service), 1);
}

#[tokio::test]
async fn unknown_username_returns_none_after_one_verification() {
    let (service, _) = service();
    alice(&service).await;
    let user = service
        .validate_credentials("mallory", "correct horse")
        .await
        .unwrap();
    assert!(user.is_none());
    assert_eq!(
        verifications(&service),
        1,
        "an unknown username must cost one argon2 verification, as a wrong password does"
    );
}

#[tokio::test]
async fn disabled_user_returns_none_even_with_the_right_password() {
    let (service, _) = service();
    alice(&service).await;
    let disabled = service.set_enabled("alice", false).await.unwrap();
    assert!(!disabled.enabled);
    let user = service
        .validate_credentials("alice", "correct horse")
        .await
        .unwrap();
    assert!(user.is_none());
    assert_eq!(verifications(&service), 1);

    service.set_enabled("alice", true).await.unwrap();
    let user = service
        .validate_credentials("alice", "correct horse")
        .await
        .unwrap();
    assert!(user.is_some());
}

#[tokio::test]
async fn user_without_password_returns_none_after_one_verification() {
    let (service, _) = service();
    service
        .create_user("nopass", None, BTreeMap::new(), Vec::new(), None)
        .await
        .unwrap();
    // Even the dummy password does not open the account.
    let user = service.validate_credentials("nopass", "").await.unwrap();
    assert!(user.is_none());
    assert_eq!(verifications(&service), 1);
}

#[tokio::test]
async fn create_user_makes_a_random_subject_id_and_keeps_a_given_one() {
    let (service, store) = service();
    let created = alice(&service).await;
    assert_eq!(created.subject_id.len(), 22, "{}", created.subject_id);
    assert!(oxidp_jose::b64url_decode(&created.subject_id).is_some());
    assert!(created.enabled);
    assert_eq!(created.roles, ["admin"]);
    let hash = created.password_hash.as_deref().unwrap();
    assert!(hash.starts_with("$argon2id$"));
    let stored = store
        .find_user_by_subject(&created.subject_id)
        .await
        .unwrap();
    assert!(stored == Some(created));

    let bob = service
        .create_user(
            "bob",
            Some(Password::new("pw")),
            BTreeMap::new(),
            Vec::new(),
            Some("bob-sub".to_owned()),
        )
        .await
        .unwrap();
    assert_eq!(bob.subject_id, "bob-sub");
}

#[tokio::test]
async fn create_user_refuses_taken_usernames_bad_usernames_and_empty_passwords() {
    let (service, _) = service();
    alice(&service).await;
    let again = service
        .create_user("alice", None, BTreeMap::new(), Vec::new(), None)
        .await;
    assert!(matches!(again, Err(UserError::Conflict)), "{again:?}");
    for bad in ["", " alice", "alice\n", "al\u{7}ice"] {
        let result = service
            .create_user(bad, None, BTreeMap::new(), Vec::new(), None)
            .await;
        assert!(
            matches!(result, Err(UserError::InvalidUsername(_))),
            "{bad:?}: {result:?}"
        );
    }
    let empty = service
        .create_user(
            "carol",
            Some(Password::new("")),
            BTreeMap::new(),
            Vec::new(),
            None,
        )
        .await;
    assert!(matches!(empty, Err(UserError::EmptyPassword)), "{empty:?}");
}

#[tokio::test]
async fn set_password_replaces_the_old_one() {
    let (service, _) = service();
    alice(&service).await;
    service
        .set_password("alice", Password::new("new one"))
        .await
        .unwrap();
    let old = service
        .validate_credentials("alice", "correct horse")
        .await
        .unwrap();
    assert!(old.is_none());
    let new = service
        .validate_credentials("alice", "new one")
        .await
        .unwrap();
    assert!(new.is_some());
}

#[tokio::test]
async fn changes_to_an_unknown_user_are_not_found() {
    let (service, _) = service();
    let result = service.set_password("ghost", Password::new("pw")).await;
    assert!(matches!(result, Err(UserError::NotFound)), "{result:?}");
    let result = service.set_enabled("ghost", false).await;
    assert!(matches!(result, Err(UserError::NotFound)), "{result:?}");
}

#[tokio::test]
async fn create_user_with_hash_checks_the_hash() {
    let (service, _) = service();
    let hash = service.hasher().hash("pw".to_owned()).await.unwrap();
    let mut user = User {
        subject_id: "s1".to_owned(),
        username: "seeded".to_owned(),
        password_hash: Some(hash),
        claims: BTreeMap::new(),
        enabled: true,
        roles: Vec::new(),
        created: time::OffsetDateTime::UNIX_EPOCH,
    };
    service.create_user_with_hash(&user).await.unwrap();
    assert!(
        service
            .validate_credentials("seeded", "pw")
            .await
            .unwrap()
            .is_some()
    );
    user.subject_id = "s2".to_owned();
    user.username = "other".to_owned();
    user.password_hash = Some("plaintext".to_owned());
    let result = service.create_user_with_hash(&user).await;
    assert!(
        matches!(
            result,
            Err(UserError::Password(PasswordError::InvalidHash(_)))
        ),
        "{result:?}"
    );
}
