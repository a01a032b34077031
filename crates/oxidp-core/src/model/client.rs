//! OAuth clients.

use oxidp_jose::{b64url_encode, constant_time_eq, sha256};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;
use time::OffsetDateTime;

/// A grant type a client may use at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// RFC 6749 §4.4.
    ClientCredentials,
}

impl GrantType {
    /// The `grant_type` parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
        }
    }

    /// Parses a `grant_type` parameter value this server implements.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "client_credentials" => Some(Self::ClientCredentials),
            _ => None,
        }
    }
}

/// The format of the access tokens a client receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessTokenType {
    /// A signed JWT (RFC 9068) that APIs validate locally.
    #[default]
    Jwt,
    /// An opaque handle that APIs validate through introspection; revocable.
    Reference,
}

/// A secret stored as its SHA-256 hash; the plaintext is never kept.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashedSecret {
    /// base64url(SHA-256(secret)).
    pub sha256: String,
    /// What the secret is for, to tell secrets apart when rotating them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// After this instant the secret no longer authenticates.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expires: Option<OffsetDateTime>,
}

impl fmt::Debug for HashedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashedSecret")
            .field("sha256", &"[redacted]")
            .field("description", &self.description)
            .field("expires", &self.expires)
            .finish()
    }
}

impl HashedSecret {
    /// Hashes a plaintext secret.
    pub fn from_plaintext(secret: &str) -> Self {
        Self {
            sha256: hash_secret(secret),
            description: None,
            expires: None,
        }
    }

    /// Whether `presented` matches this secret and the secret is still valid at `now`.
    /// The comparison runs in constant time.
    pub fn matches(&self, presented: &str, now: OffsetDateTime) -> bool {
        let matches = constant_time_eq(hash_secret(presented).as_bytes(), self.sha256.as_bytes());
        matches && self.expires.is_none_or(|expires| now < expires)
    }
}

/// base64url(SHA-256(secret)): the stored form of client and API secrets.
pub fn hash_secret(secret: &str) -> String {
    b64url_encode(sha256(secret.as_bytes()))
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    /// The `client_id`.
    pub client_id: String,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// A disabled client cannot authenticate.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Hashed secrets for `client_secret_basic` and `client_secret_post`.
    #[serde(default)]
    pub secrets: Vec<HashedSecret>,
    /// Public keys (a JWK set) for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Grant types the client may use.
    #[serde(default)]
    pub allowed_grant_types: Vec<GrantType>,
    /// Scopes the client may request.
    #[serde(default)]
    pub allowed_scopes: Vec<String>,
    /// Format of the access tokens issued to the client.
    #[serde(default)]
    pub access_token_type: AccessTokenType,
    /// Lifetime of the access tokens issued to the client.
    #[serde(with = "humantime_serde", default = "default_access_token_lifetime")]
    pub access_token_lifetime: Duration,
}

fn yes() -> bool {
    true
}

fn default_access_token_lifetime() -> Duration {
    Duration::from_secs(3600)
}

impl Client {
    /// A new enabled client with defaults for everything but its id.
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_name: None,
            enabled: true,
            secrets: Vec::new(),
            jwks: None,
            allowed_grant_types: Vec::new(),
            allowed_scopes: Vec::new(),
            access_token_type: AccessTokenType::Jwt,
            access_token_lifetime: default_access_token_lifetime(),
        }
    }

    /// Whether the client is registered with a key set for `private_key_jwt`.
    pub fn has_jwks(&self) -> bool {
        self.jwks.is_some()
    }
}
