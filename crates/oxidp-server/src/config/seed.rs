//! Clients and API resources as written in the configuration file, and their conversion into
//! the domain model (secrets are hashed on the way in and never stored in plaintext).

use anyhow::{Context as _, bail};
use oxidp_core::model::{ApiResource, Client, HashedSecret};
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
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

/// `[[clients]]`: the fields of the core [`Client`] as it reads them (its defaults, its
/// names), with `secrets` written as [`SecretConfig`]s (hashed at load time) and `jwks` as a
/// table or a JSON string. There is no second copy of the client's fields here: a setting
/// added to [`Client`] is configurable at once. Unknown keys are refused by name.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The client's settings (its `secrets` are replaced by the hashed [`Self::secrets`]).
    pub client: Client,
    /// Secrets for `client_secret_basic` / `client_secret_post`.
    pub secrets: Vec<SecretConfig>,
}

impl ClientConfig {
    /// A client configured with `client` and these secrets.
    pub fn new(client: Client, secrets: Vec<SecretConfig>) -> Self {
        Self { client, secrets }
    }

    pub(super) fn validate(&self) -> anyhow::Result<()> {
        for (index, secret) in self.secrets.iter().enumerate() {
            secret
                .validate()
                .with_context(|| format!("in `secrets[{index}]`"))?;
        }
        self.to_client().map(drop)
    }

    /// The domain client, with secrets hashed, validated by the core.
    pub fn to_client(&self) -> anyhow::Result<Client> {
        let mut client = self.client.clone();
        client.secrets = self
            .secrets
            .iter()
            .map(SecretConfig::hashed)
            .collect::<anyhow::Result<_>>()?;
        client.validate()?;
        Ok(client)
    }
}

impl Serialize for ClientConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut value = serde_json::to_value(&self.client).map_err(S::Error::custom)?;
        if let Some(map) = value.as_object_mut() {
            map.insert(
                "secrets".to_owned(),
                serde_json::to_value(&self.secrets).map_err(S::Error::custom)?,
            );
        }
        value.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ClientConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut fields = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let secrets = match fields.remove("secrets") {
            Some(value) => serde_json::from_value(value)
                .map_err(|e| D::Error::custom(format!("in `secrets`: {e}")))?,
            None => Vec::new(),
        };
        if let Some(serde_json::Value::String(text)) = fields.get("jwks") {
            let parsed = serde_json::from_str(text)
                .map_err(|_| D::Error::custom("`jwks` is not valid JSON"))?;
            fields.insert("jwks".to_owned(), parsed);
        }
        let given: Vec<String> = fields.keys().cloned().collect();
        let client: Client =
            serde_json::from_value(serde_json::Value::Object(fields)).map_err(D::Error::custom)?;
        // Every field given is written back when the client serializes (only unset optional
        // fields are skipped), so a key that does not come back is not a client setting.
        let known = serde_json::to_value(&client).map_err(D::Error::custom)?;
        if let Some(unknown) = given.iter().find(|key| known.get(key.as_str()).is_none()) {
            return Err(D::Error::custom(format!("unknown field `{unknown}`")));
        }
        Ok(Self { client, secrets })
    }
}

fn yes() -> bool {
    true
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
