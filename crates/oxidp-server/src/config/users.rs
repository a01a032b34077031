//! Users seeded from the configuration, and the password-hashing parameters.

use anyhow::{Context as _, bail};
use oxidp_core::clock::Clock;
use oxidp_core::model::User;
use oxidp_core::users::{
    PasswordHasher, PasswordHashingOptions, UserError, UserService, new_subject_id,
    validate_password_hash, validate_username,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[[users]]`: a local account created at start-up if its username does not exist yet.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Login name.
    pub username: String,
    /// Subject id; a random one is generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_id: Option<String>,
    /// Plaintext password (hashed with argon2id at seeding; demo use only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A PHC-format argon2id hash, so no plaintext sits in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// Claims (`name`, `email`, `email_verified`, ...).
    #[serde(default)]
    pub claims: BTreeMap<String, serde_json::Value>,
    /// Roles (`admin` opens the admin pages).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Whether the account may sign in.
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

fn yes() -> bool {
    true
}

/// `[password_hashing]`: argon2id cost. Defaults are OWASP's recommendation (m=19 MiB, t=2, p=1).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordHashingConfig {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Degree of parallelism.
    pub parallelism: u32,
}

impl Default for PasswordHashingConfig {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl PasswordHashingConfig {
    /// The core's hashing options.
    pub fn options(&self) -> PasswordHashingOptions {
        PasswordHashingOptions {
            memory_kib: self.memory_kib,
            iterations: self.iterations,
            parallelism: self.parallelism,
        }
    }

    /// A hasher with these parameters; an error naming the section if argon2 refuses them.
    pub fn hasher(&self) -> anyhow::Result<PasswordHasher> {
        PasswordHasher::new(self.options())
            .map_err(|e| anyhow::anyhow!("invalid value for key `password_hashing`: {e}"))
    }
}

impl UserConfig {
    /// Checks one entry: a valid non-empty username, a non-empty subject id if given, at most
    /// one of `password` and `password_hash` (neither makes an account that cannot sign in
    /// with a password), a non-empty password, and a hash that is an argon2 PHC string.
    pub fn validate(&self) -> anyhow::Result<()> {
        validate_username(&self.username).map_err(|e| anyhow::anyhow!("`username`: {e}"))?;
        if self.subject_id.as_deref() == Some("") {
            bail!("`subject_id` must not be empty");
        }
        match (&self.password, &self.password_hash) {
            (Some(_), Some(_)) => bail!("give `password` or `password_hash`, not both"),
            (Some(password), None) if password.is_empty() => {
                bail!("`password` must not be empty")
            }
            (None, Some(hash)) => {
                validate_password_hash(hash).map_err(|e| anyhow::anyhow!("`password_hash`: {e}"))?
            }
            _ => {}
        }
        Ok(())
    }

    /// Creates this user unless a user with its username exists (an existing user, its
    /// password included, is never changed). Returns whether the user was created.
    pub async fn seed(&self, service: &UserService, clock: &dyn Clock) -> anyhow::Result<bool> {
        if service.find_user(&self.username).await?.is_some() {
            return Ok(false);
        }
        let password_hash = match (&self.password, &self.password_hash) {
            (Some(password), _) => Some(service.hasher().hash(password.clone()).await?),
            (None, hash) => hash.clone(),
        };
        let user = User {
            subject_id: self.subject_id.clone().unwrap_or_else(new_subject_id),
            username: self.username.clone(),
            password_hash,
            claims: self.claims.clone(),
            enabled: self.enabled,
            roles: self.roles.clone(),
            created: clock.now(),
        };
        match service.create_user_with_hash(&user).await {
            Ok(()) => Ok(true),
            // Another instance seeding at the same moment created it first.
            Err(UserError::Conflict) if service.find_user(&self.username).await?.is_some() => {
                Ok(false)
            }
            Err(UserError::Conflict) => {
                bail!("the subject id belongs to another user")
            }
            Err(other) => Err(other.into()),
        }
    }
}

/// Checks the `[[users]]` entries and the `[password_hashing]` section; errors name the key.
pub(crate) fn validate(
    users: &[UserConfig],
    hashing: &PasswordHashingConfig,
) -> anyhow::Result<()> {
    hashing.hasher()?;
    let mut usernames = std::collections::BTreeSet::new();
    let mut subject_ids = std::collections::BTreeSet::new();
    for (index, user) in users.iter().enumerate() {
        let key = || format!("invalid value for key `users[{index}]` ({})", user.username);
        user.validate().with_context(key)?;
        if !usernames.insert(user.username.as_str()) {
            bail!("{}: the username appears in an earlier entry", key());
        }
        if let Some(subject_id) = &user.subject_id
            && !subject_ids.insert(subject_id.as_str())
        {
            bail!("{}: the subject id appears in an earlier entry", key());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxidp_core::clock::ManualClock;
    use oxidp_core::store::{MemoryStore, UserStore};
    use std::sync::Arc;

    const CHEAP: PasswordHashingConfig = PasswordHashingConfig {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    fn user(json: serde_json::Value) -> UserConfig {
        serde_json::from_value(json).unwrap()
    }

    fn service() -> (UserService, Arc<MemoryStore>) {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(ManualClock::starting_now());
        let service = UserService::new(store.clone(), CHEAP.hasher().unwrap(), clock);
        (service, store)
    }

    fn error(users: &[UserConfig]) -> String {
        format!("{:#}", validate(users, &CHEAP).unwrap_err())
    }

    #[test]
    fn valid_entries_pass() {
        let users = [
            user(serde_json::json!({"username": "alice", "password": "alice"})),
            user(serde_json::json!({"username": "nopass", "enabled": false})),
        ];
        validate(&users, &CHEAP).unwrap();
    }

    #[test]
    fn password_and_hash_together_are_refused_naming_the_entry() {
        let users = [
            user(serde_json::json!({"username": "alice", "password": "a"})),
            user(serde_json::json!({
                "username": "bob",
                "password": "b",
                "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$b3hpZHAtZHVtbXktc2FsdA$b3hpZHAtZHVtbXktaGFzaC1uZXZlci1tYXRjaGluZyE"
            })),
        ];
        let message = error(&users);
        assert!(message.contains("`users[1]` (bob)"), "{message}");
        assert!(message.contains("not both"), "{message}");
    }

    #[test]
    fn a_hash_that_is_not_argon2_phc_is_refused() {
        let message = error(&[user(serde_json::json!({
            "username": "alice",
            "password_hash": "5f4dcc3b5aa765d61d8327deb882cf99"
        }))]);
        assert!(message.contains("`users[0]` (alice)"), "{message}");
        assert!(message.contains("password_hash"), "{message}");
    }

    #[test]
    fn empty_or_malformed_usernames_and_empty_passwords_are_refused() {
        for (json, expected) in [
            (serde_json::json!({"username": ""}), "username"),
            (serde_json::json!({"username": " alice"}), "username"),
            (
                serde_json::json!({"username": "alice", "password": ""}),
                "password",
            ),
            (
                serde_json::json!({"username": "alice", "subject_id": ""}),
                "subject_id",
            ),
        ] {
            let message = error(&[user(json)]);
            assert!(message.contains("`users[0]`"), "{message}");
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn duplicate_usernames_and_subject_ids_are_refused() {
        let message = error(&[
            user(serde_json::json!({"username": "alice"})),
            user(serde_json::json!({"username": "alice"})),
        ]);
        assert!(message.contains("`users[1]`"), "{message}");
        let message = error(&[
            user(serde_json::json!({"username": "alice", "subject_id": "s"})),
            user(serde_json::json!({"username": "bob", "subject_id": "s"})),
        ]);
        assert!(message.contains("`users[1]` (bob)"), "{message}");
    }

    #[test]
    fn out_of_range_hashing_parameters_are_refused() {
        let hashing = PasswordHashingConfig {
            memory_kib: 1,
            ..CHEAP
        };
        let message = format!("{:#}", validate(&[], &hashing).unwrap_err());
        assert!(message.contains("password_hashing"), "{message}");
    }

    #[tokio::test]
    async fn seeding_hashes_the_password_with_the_configured_parameters() {
        let (service, store) = service();
        let entry = user(serde_json::json!({
            "username": "alice",
            "subject_id": "alice-sub",
            "password": "alice",
            "roles": ["admin"],
            "claims": {"name": "Alice Smith", "address": {"country": "IE"}}
        }));
        assert!(
            entry
                .seed(&service, &ManualClock::starting_now())
                .await
                .unwrap()
        );
        let stored = store
            .find_user_by_subject("alice-sub")
            .await
            .unwrap()
            .unwrap();
        let hash = stored.password_hash.as_deref().unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert_eq!(stored.roles, ["admin"]);
        assert_eq!(stored.claims["address"]["country"], "IE");
        assert!(stored.enabled);
        let valid = service
            .validate_credentials("alice", "alice")
            .await
            .unwrap();
        assert!(valid.is_some());
    }

    #[tokio::test]
    async fn seeding_stores_a_given_hash_as_is_and_keeps_enabled() {
        let (service, store) = service();
        let hash = service.hasher().hash("pw".to_owned()).await.unwrap();
        let entry = user(serde_json::json!({
            "username": "bob",
            "password_hash": hash,
            "enabled": false
        }));
        assert!(
            entry
                .seed(&service, &ManualClock::starting_now())
                .await
                .unwrap()
        );
        let stored = store.find_user_by_username("bob").await.unwrap().unwrap();
        assert_eq!(stored.password_hash.as_deref(), Some(hash.as_str()));
        assert!(!stored.enabled);
        assert_eq!(stored.subject_id.len(), 22, "a random subject id");
    }

    #[tokio::test]
    async fn seeding_never_overwrites_an_existing_user() {
        let (service, store) = service();
        let first = user(serde_json::json!({"username": "alice", "password": "original"}));
        assert!(
            first
                .seed(&service, &ManualClock::starting_now())
                .await
                .unwrap()
        );
        let before = store.find_user_by_username("alice").await.unwrap().unwrap();
        let changed = user(serde_json::json!({
            "username": "alice",
            "password": "changed",
            "roles": ["admin"]
        }));
        assert!(
            !changed
                .seed(&service, &ManualClock::starting_now())
                .await
                .unwrap()
        );
        let after = store.find_user_by_username("alice").await.unwrap().unwrap();
        assert!(after == before, "the stored user was changed");
        let original = service
            .validate_credentials("alice", "original")
            .await
            .unwrap();
        assert!(original.is_some());
    }

    #[tokio::test]
    async fn seeding_a_subject_id_of_another_user_fails() {
        let (service, _) = service();
        let first = user(serde_json::json!({"username": "alice", "subject_id": "s"}));
        first
            .seed(&service, &ManualClock::starting_now())
            .await
            .unwrap();
        let second = user(serde_json::json!({"username": "bob", "subject_id": "s"}));
        let message = format!(
            "{:#}",
            second
                .seed(&service, &ManualClock::starting_now())
                .await
                .unwrap_err()
        );
        assert!(message.contains("subject id"), "{message}");
    }
}
