//! Local users: password hashing with argon2id and credential validation.
//!
//! [`PasswordHasher`] hashes and verifies passwords on tokio's blocking pool (argon2 is
//! deliberately slow and must not stall the async workers). [`UserService`] creates users,
//! changes their password or status, and validates a username and password.
//!
//! Validation takes the same time whether or not the username exists: every call runs exactly
//! one argon2 verification, against the user's hash or, for an unknown, disabled or
//! password-less user, against a dummy hash with the configured parameters. An attacker timing
//! failed logins therefore cannot tell which usernames exist.
//!
//! Passwords are never logged; where one is kept in a struct it is a [`Password`], whose
//! `Debug` prints `[redacted]`.

use crate::clock::Clock;
use crate::model::User;
use crate::store::{StoreError, UserStore};
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Params, Version};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// argon2id cost parameters. The default is OWASP's recommendation: 19 MiB, 2 passes, 1 lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashingOptions {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Degree of parallelism (lanes).
    pub parallelism: u32,
}

impl Default for PasswordHashingOptions {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// A plaintext password. `Debug` prints `[redacted]`; [`Password::expose`] reveals it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a plaintext password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The plaintext.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The plaintext, consuming the wrapper.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for Password {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

/// Why a password could not be hashed, or a hash is unusable. Messages never carry a password.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The cost parameters are out of argon2's range.
    #[error("invalid password-hashing parameters: {0}")]
    InvalidParameters(String),
    /// The text is not an argon2 hash in PHC format.
    #[error("not an argon2 PHC hash: {0}")]
    InvalidHash(String),
    /// Hashing failed (the blocking task could not run or argon2 refused its input).
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// Checks that `hash` is an argon2 (`argon2id`, `argon2i` or `argon2d`) hash in PHC format,
/// with parameters, salt and output that argon2 accepts, so that it can verify passwords.
pub fn validate_password_hash(hash: &str) -> Result<(), PasswordError> {
    let invalid = |e: &dyn fmt::Display| PasswordError::InvalidHash(e.to_string());
    let parsed = PasswordHash::new(hash).map_err(|e| invalid(&e))?;
    Algorithm::try_from(parsed.algorithm.as_str()).map_err(|_| {
        PasswordError::InvalidHash(format!(
            "algorithm `{}` is not argon2id, argon2i or argon2d",
            parsed.algorithm.as_str()
        ))
    })?;
    if let Some(version) = parsed.version {
        Version::try_from(version).map_err(|e| invalid(&e))?;
    }
    Params::try_from(&parsed).map_err(|e| invalid(&e))?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(PasswordError::InvalidHash(
            "the salt or the hash output is missing".to_owned(),
        ));
    }
    Ok(())
}

/// Why a user operation failed. Messages never carry a password.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The username is empty, has surrounding white space or control characters.
    #[error("invalid username: {0}")]
    InvalidUsername(&'static str),
    /// The subject id is empty.
    #[error("invalid subject id: it is empty")]
    EmptySubjectId,
    /// The password is empty.
    #[error("the password is empty")]
    EmptyPassword,
    /// No user has this username.
    #[error("no user with this username")]
    NotFound,
    /// The username or the subject id belongs to another user.
    #[error("the username or the subject id is already taken")]
    Conflict,
    /// A claim that cannot be set: `sub` (the subject id) or an empty name.
    #[error("`sub` is the subject id and a claim needs a name; neither can be set")]
    ReservedClaim,
    /// Hashing failed.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for UserError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => Self::Conflict,
            other => Self::Store(other),
        }
    }
}

/// A new random subject id: 128 bits, base64url (22 characters).
pub fn new_subject_id() -> String {
    oxidp_jose::b64url_encode(oxidp_jose::random_bytes::<16>())
}

/// Checks that a username can be stored: not empty, no surrounding white space, no control
/// characters.
pub fn validate_username(username: &str) -> Result<(), UserError> {
    if username.is_empty() {
        return Err(UserError::InvalidUsername("it is empty"));
    }
    if username.trim() != username {
        return Err(UserError::InvalidUsername(
            "it starts or ends with white space",
        ));
    }
    if username.chars().any(char::is_control) {
        return Err(UserError::InvalidUsername("it contains control characters"));
    }
    Ok(())
}

/// Users: creation, password and status changes, credential validation.
#[derive(Clone)]
pub struct UserService {
    store: Arc<dyn UserStore>,
    hasher: PasswordHasher,
    clock: Arc<dyn Clock>,
    /// Verified against when there is no real hash to verify against.
    dummy_hash: Arc<str>,
}

impl fmt::Debug for UserService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserService")
            .field("hasher", &self.hasher)
            .finish_non_exhaustive()
    }
}

impl UserService {
    /// A service over `store`, hashing with `hasher`, timestamping with `clock`.
    pub fn new(store: Arc<dyn UserStore>, hasher: PasswordHasher, clock: Arc<dyn Clock>) -> Self {
        let dummy_hash = hasher.dummy_hash().into();
        Self {
            store,
            hasher,
            clock,
            dummy_hash,
        }
    }

    /// The hasher.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The user with this username.
    pub async fn find_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.store.find_user_by_username(username).await
    }

    /// Every user, ordered by username.
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        self.store.list_users().await
    }

    /// The user whose username and password these are, if the user exists, is enabled, has a
    /// password and the password matches; `None` otherwise. Every call runs exactly one argon2
    /// verification, so a failure takes the same time whatever its reason.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn validate_credentials(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, StoreError> {
        let user = self.store.find_user_by_username(username).await?;
        let (candidate, hash) = match user {
            Some(user) if user.enabled && user.password_hash.is_some() => {
                let hash = user.password_hash.clone().unwrap_or_default();
                (Some(user), hash)
            }
            _ => (None, self.dummy_hash.to_string()),
        };
        // Unconditional: the unknown, disabled and password-less cases pay for one
        // verification too.
        let matches = self.hasher.verify(&hash, password.to_owned()).await;
        match candidate {
            Some(user) if matches => {
                tracing::debug!(subject_id = %user.subject_id, "credentials accepted");
                Ok(Some(user))
            }
            Some(user) => {
                tracing::info!(subject_id = %user.subject_id, "wrong password");
                Ok(None)
            }
            None => {
                tracing::info!("unknown, disabled or password-less user");
                Ok(None)
            }
        }
    }

    /// Creates an enabled user. Without `subject_id`, a random 128-bit one (base64url) is
    /// made; without `password`, the user cannot sign in with a password until one is set.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn create_user(
        &self,
        username: &str,
        password: Option<Password>,
        claims: BTreeMap<String, serde_json::Value>,
        roles: Vec<String>,
        subject_id: Option<String>,
    ) -> Result<User, UserError> {
        validate_username(username)?;
        let subject_id = subject_id.unwrap_or_else(new_subject_id);
        if subject_id.is_empty() {
            return Err(UserError::EmptySubjectId);
        }
        let password_hash = match password {
            Some(password) => Some(self.hash(password).await?),
            None => None,
        };
        let user = User {
            subject_id,
            username: username.to_owned(),
            password_hash,
            claims,
            enabled: true,
            roles,
            created: self.clock.now(),
        };
        self.store.create_user(&user).await?;
        tracing::info!(subject_id = %user.subject_id, "user created");
        Ok(user)
    }

    /// Stores a user whose password is already hashed (seeding from configuration), as given.
    /// The hash must be an argon2 PHC string; [`UserError::Conflict`] if the username or the
    /// subject id is taken.
    #[tracing::instrument(level = "debug", skip_all, fields(subject_id = %user.subject_id))]
    pub async fn create_user_with_hash(&self, user: &User) -> Result<(), UserError> {
        validate_username(&user.username)?;
        if user.subject_id.is_empty() {
            return Err(UserError::EmptySubjectId);
        }
        if let Some(hash) = &user.password_hash {
            validate_password_hash(hash)?;
        }
        self.store.create_user(user).await?;
        Ok(())
    }

    /// Replaces the password of the user with this username.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn set_password(
        &self,
        username: &str,
        password: Password,
    ) -> Result<User, UserError> {
        let mut user = self.existing(username).await?;
        user.password_hash = Some(self.hash(password).await?);
        self.replace(&user).await?;
        tracing::info!(subject_id = %user.subject_id, "password changed");
        Ok(user)
    }

    /// Enables or disables the user with this username.
    #[tracing::instrument(level = "debug", skip_all, fields(enabled))]
    pub async fn set_enabled(&self, username: &str, enabled: bool) -> Result<User, UserError> {
        let mut user = self.existing(username).await?;
        user.enabled = enabled;
        self.replace(&user).await?;
        tracing::info!(subject_id = %user.subject_id, enabled, "user status changed");
        Ok(user)
    }

    /// Replaces the roles of the user with this username (`admin` opens the admin pages and,
    /// with the `oxidp.admin` scope, the admin API).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn set_roles(&self, username: &str, roles: Vec<String>) -> Result<User, UserError> {
        let mut user = self.existing(username).await?;
        let mut roles = roles;
        roles.sort();
        roles.dedup();
        user.roles = roles;
        self.replace(&user).await?;
        tracing::info!(subject_id = %user.subject_id, roles = %user.roles.join(","), "user roles changed");
        Ok(user)
    }

    /// Sets (or, with `None`, removes) claims of the user with this username; the others stay.
    /// `sub` is the subject id and cannot be set as a claim.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn set_claims(
        &self,
        username: &str,
        changes: BTreeMap<String, Option<serde_json::Value>>,
    ) -> Result<User, UserError> {
        if changes
            .keys()
            .any(|name| name == "sub" || name.trim().is_empty())
        {
            return Err(UserError::ReservedClaim);
        }
        let mut user = self.existing(username).await?;
        for (name, value) in changes {
            match value {
                Some(value) => user.claims.insert(name, value),
                None => user.claims.remove(&name),
            };
        }
        self.replace(&user).await?;
        tracing::info!(subject_id = %user.subject_id, "user claims changed");
        Ok(user)
    }

    async fn hash(&self, password: Password) -> Result<String, UserError> {
        if password.expose().is_empty() {
            return Err(UserError::EmptyPassword);
        }
        Ok(self.hasher.hash(password.into_inner()).await?)
    }

    async fn existing(&self, username: &str) -> Result<User, UserError> {
        self.store
            .find_user_by_username(username)
            .await?
            .ok_or(UserError::NotFound)
    }

    /// Writes `user` back; gone in between is [`UserError::NotFound`].
    async fn replace(&self, user: &User) -> Result<(), UserError> {
        match self.store.update_user(user).await? {
            true => Ok(()),
            false => Err(UserError::NotFound),
        }
    }
}

mod hasher;
#[cfg(test)]
mod tests;

pub use hasher::PasswordHasher;
