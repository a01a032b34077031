//! Local user accounts.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use time::OffsetDateTime;

/// A user who signs in with a username and password.
#[derive(Clone, PartialEq)]
pub struct User {
    /// Stable, unique subject identifier (`sub`); never reused, never changes.
    pub subject_id: String,
    /// Unique login name (compared exactly as stored).
    pub username: String,
    /// PHC-format argon2id hash; `None` for an account that cannot sign in with a password.
    pub password_hash: Option<String>,
    /// OIDC claims (`name`, `email`, `email_verified`, ...), released by scope.
    pub claims: BTreeMap<String, serde_json::Value>,
    /// A disabled user cannot sign in.
    pub enabled: bool,
    /// Roles (`admin` opens the admin pages).
    pub roles: Vec<String>,
    /// When the account was created.
    pub created: OffsetDateTime,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("subject_id", &self.subject_id)
            .field("username", &self.username)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "[redacted]"),
            )
            .field("enabled", &self.enabled)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl User {
    /// Whether the user has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// The claims and roles of a user as stored (JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserProfile {
    /// Claims.
    #[serde(default)]
    pub claims: BTreeMap<String, serde_json::Value>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
}
