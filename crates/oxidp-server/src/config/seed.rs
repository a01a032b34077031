//! Clients and API resources as written in the configuration file, and their conversion into
//! the domain model (secrets are hashed on the way in and never stored in plaintext).

use anyhow::{Context as _, bail};
use oxidp_core::model::{AccessTokenType, ApiResource, Client, GrantType, HashedSecret};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use time::OffsetDateTime;

/// A secret in the configuration: exactly one of `value`, `value_file` or `sha256`.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretConfig {
    /// The plaintext secret (hashed at load time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A file holding the plaintext secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_file: Option<PathBuf>,
    /// The secret's hash, base64url(SHA-256(secret)), so the plaintext never sits in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// A note telling secrets apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When the secret stops working (RFC 3339).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expires: Option<OffsetDateTime>,
}

impl std::fmt::Debug for SecretConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretConfig")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl SecretConfig {
    fn validate(&self) -> anyhow::Result<()> {
        let given = [
            self.value.is_some(),
            self.value_file.is_some(),
            self.sha256.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            bail!("a secret needs exactly one of `value`, `value_file` or `sha256`");
        }
        if let Some(hash) = &self.sha256
            && oxidp_jose::b64url_decode(hash).is_none_or(|bytes| bytes.len() != 32)
        {
            bail!("`sha256` must be the base64url SHA-256 of the secret (43 characters)");
        }
        Ok(())
    }

    fn hashed(&self) -> anyhow::Result<HashedSecret> {
        let sha256 = match (&self.value, &self.value_file, &self.sha256) {
            (Some(value), _, _) => HashedSecret::from_plaintext(value).sha256,
            (_, Some(path), _) => {
                let value = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read secret file {}", path.display()))?;
                HashedSecret::from_plaintext(value.trim_end_matches(['\r', '\n'])).sha256
            }
            (_, _, Some(hash)) => hash.clone(),
            _ => bail!("a secret needs exactly one of `value`, `value_file` or `sha256`"),
        };
        Ok(HashedSecret {
            sha256,
            description: self.description.clone(),
            expires: self.expires,
        })
    }
}

/// `[[clients]]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The `client_id`.
    pub client_id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// Whether the client may authenticate.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Secrets for `client_secret_basic` / `client_secret_post`.
    #[serde(default)]
    pub secrets: Vec<SecretConfig>,
    /// A JWK set (as a JSON string or a table) for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Grant types the client may use.
    #[serde(default)]
    pub allowed_grant_types: Vec<GrantType>,
    /// Scopes the client may request.
    #[serde(default)]
    pub allowed_scopes: Vec<String>,
    /// `jwt` or `reference`.
    #[serde(default)]
    pub access_token_type: AccessTokenType,
    /// Access-token lifetime.
    #[serde(with = "humantime_serde", default = "one_hour")]
    pub access_token_lifetime: Duration,
}

fn yes() -> bool {
    true
}

fn one_hour() -> Duration {
    Duration::from_secs(3600)
}

impl ClientConfig {
    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if self.client_id.trim().is_empty() {
            bail!("`client_id` must not be empty");
        }
        for (index, secret) in self.secrets.iter().enumerate() {
            secret
                .validate()
                .with_context(|| format!("in `secrets[{index}]`"))?;
        }
        self.parsed_jwks()?;
        if self.access_token_lifetime.is_zero() {
            bail!("`access_token_lifetime` must be positive");
        }
        Ok(())
    }

    fn parsed_jwks(&self) -> anyhow::Result<Option<serde_json::Value>> {
        let jwks = match &self.jwks {
            None => return Ok(None),
            Some(serde_json::Value::String(text)) => {
                serde_json::from_str(text).context("`jwks` is not valid JSON")?
            }
            Some(other) => other.clone(),
        };
        if !jwks.get("keys").is_some_and(|k| k.is_array()) {
            bail!("`jwks` must be a JWK set: {{\"keys\": [...]}}");
        }
        Ok(Some(jwks))
    }

    /// The domain client, with secrets hashed.
    pub fn to_client(&self) -> anyhow::Result<Client> {
        Ok(Client {
            client_id: self.client_id.clone(),
            client_name: self.client_name.clone(),
            enabled: self.enabled,
            secrets: self
                .secrets
                .iter()
                .map(SecretConfig::hashed)
                .collect::<anyhow::Result<_>>()?,
            jwks: self.parsed_jwks()?,
            allowed_grant_types: self.allowed_grant_types.clone(),
            allowed_scopes: self.allowed_scopes.clone(),
            access_token_type: self.access_token_type,
            access_token_lifetime: self.access_token_lifetime,
        })
    }
}

/// `[[api_resources]]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiResourceConfig {
    /// Unique name; the `aud` of tokens for its scopes.
    pub name: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Whether the resource is active.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The API's scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Secrets the API uses at the introspection endpoint.
    #[serde(default)]
    pub secrets: Vec<SecretConfig>,
}

impl ApiResourceConfig {
    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if self.name.trim().is_empty() {
            bail!("`name` must not be empty");
        }
        for (index, secret) in self.secrets.iter().enumerate() {
            secret
                .validate()
                .with_context(|| format!("in `secrets[{index}]`"))?;
        }
        Ok(())
    }

    /// The domain resource, with secrets hashed.
    pub fn to_resource(&self) -> anyhow::Result<ApiResource> {
        Ok(ApiResource {
            name: self.name.clone(),
            display_name: self.display_name.clone(),
            enabled: self.enabled,
            scopes: self.scopes.clone(),
            secrets: self
                .secrets
                .iter()
                .map(SecretConfig::hashed)
                .collect::<anyhow::Result<_>>()?,
        })
    }
}
