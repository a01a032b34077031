//! Clients and API resources as written in the configuration file, and their conversion into
//! the domain model (secrets are hashed on the way in and never stored in plaintext).

use anyhow::{Context as _, bail};
use oxidp_core::model::{
    AccessTokenType, ApiResource, Client, GrantType, HashedSecret, RefreshTokenExpiration,
    RefreshTokenUsage,
};
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

/// `[[clients]]`. Defaults are those of [`Client::new`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientConfig {
    /// The `client_id` (required).
    pub client_id: String,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// Whether the client may authenticate.
    pub enabled: bool,
    /// Secrets for `client_secret_basic` / `client_secret_post`.
    pub secrets: Vec<SecretConfig>,
    /// A JWK set (as a JSON string or a table) for `private_key_jwt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Grant types the client may use.
    pub allowed_grant_types: Vec<GrantType>,
    /// Scopes the client may request.
    pub allowed_scopes: Vec<String>,
    /// `jwt` or `reference`.
    pub access_token_type: AccessTokenType,
    /// Access-token lifetime.
    #[serde(with = "humantime_serde")]
    pub access_token_lifetime: Duration,
    /// `false` makes a public client (no secret; PKCE required).
    pub require_client_secret: bool,
    /// Redirect URIs (exact match).
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs (exact match).
    pub post_logout_redirect_uris: Vec<String>,
    /// Whether PKCE is required (always for public clients).
    pub require_pkce: bool,
    /// Whether refresh tokens may be requested (`offline_access`).
    pub allow_offline_access: bool,
    /// Whether the user is asked for consent.
    pub require_consent: bool,
    /// Whether the consent page offers "remember my decision".
    pub allow_remember_consent: bool,
    /// Authorization-code lifetime.
    #[serde(with = "humantime_serde")]
    pub authorization_code_lifetime: Duration,
    /// ID-token lifetime.
    #[serde(with = "humantime_serde")]
    pub identity_token_lifetime: Duration,
    /// `one_time` (rotating) or `re_use`.
    pub refresh_token_usage: RefreshTokenUsage,
    /// `absolute` or `sliding`.
    pub refresh_token_expiration: RefreshTokenExpiration,
    /// Longest life of a refresh-token family.
    #[serde(with = "humantime_serde")]
    pub absolute_refresh_token_lifetime: Duration,
    /// Sliding refresh-token lifetime.
    #[serde(with = "humantime_serde")]
    pub sliding_refresh_token_lifetime: Duration,
    /// Where the client receives back-channel logout tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Whether the client requires `sid` in logout tokens (always sent).
    pub backchannel_logout_session_required: bool,
    /// Whether the client's tokens follow the user session (unset: the global setting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coordinate_lifetime_with_user_session: Option<bool>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        let c = Client::new("");
        Self {
            client_id: c.client_id,
            client_name: c.client_name,
            enabled: c.enabled,
            secrets: Vec::new(),
            jwks: None,
            allowed_grant_types: c.allowed_grant_types,
            allowed_scopes: c.allowed_scopes,
            access_token_type: c.access_token_type,
            access_token_lifetime: c.access_token_lifetime,
            require_client_secret: c.require_client_secret,
            redirect_uris: c.redirect_uris,
            post_logout_redirect_uris: c.post_logout_redirect_uris,
            require_pkce: c.require_pkce,
            allow_offline_access: c.allow_offline_access,
            require_consent: c.require_consent,
            allow_remember_consent: c.allow_remember_consent,
            authorization_code_lifetime: c.authorization_code_lifetime,
            identity_token_lifetime: c.identity_token_lifetime,
            refresh_token_usage: c.refresh_token_usage,
            refresh_token_expiration: c.refresh_token_expiration,
            absolute_refresh_token_lifetime: c.absolute_refresh_token_lifetime,
            sliding_refresh_token_lifetime: c.sliding_refresh_token_lifetime,
            backchannel_logout_uri: c.backchannel_logout_uri,
            backchannel_logout_session_required: c.backchannel_logout_session_required,
            coordinate_lifetime_with_user_session: c.coordinate_lifetime_with_user_session,
        }
    }
}

fn yes() -> bool {
    true
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
        // Lifetimes are bounded by `durations::validate_client`, which names the full key.
        for uri in self
            .redirect_uris
            .iter()
            .chain(&self.post_logout_redirect_uris)
            .chain(&self.backchannel_logout_uri)
        {
            let parsed =
                url::Url::parse(uri).with_context(|| format!("`{uri}` is not an absolute URL"))?;
            if parsed.fragment().is_some() {
                bail!("redirect URI `{uri}` must not contain a fragment");
            }
        }
        if self
            .allowed_grant_types
            .contains(&GrantType::AuthorizationCode)
            && self.redirect_uris.is_empty()
        {
            bail!("a client using authorization_code needs `redirect_uris`");
        }
        if self.require_client_secret
            && self.secrets.is_empty()
            && self.jwks.is_none()
            && !self.allowed_grant_types.is_empty()
        {
            bail!(
                "a confidential client needs `secrets` or `jwks` (or `require_client_secret = false` for a public client)"
            );
        }
        if !self.require_client_secret
            && (!self.secrets.is_empty()
                || self
                    .allowed_grant_types
                    .contains(&GrantType::ClientCredentials))
        {
            bail!(
                "a public client (`require_client_secret = false`) has no secrets and cannot use client_credentials"
            );
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
            require_client_secret: self.require_client_secret,
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            require_pkce: self.require_pkce,
            allow_offline_access: self.allow_offline_access,
            require_consent: self.require_consent,
            allow_remember_consent: self.allow_remember_consent,
            authorization_code_lifetime: self.authorization_code_lifetime,
            identity_token_lifetime: self.identity_token_lifetime,
            refresh_token_usage: self.refresh_token_usage,
            refresh_token_expiration: self.refresh_token_expiration,
            absolute_refresh_token_lifetime: self.absolute_refresh_token_lifetime,
            sliding_refresh_token_lifetime: self.sliding_refresh_token_lifetime,
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: self.backchannel_logout_session_required,
            coordinate_lifetime_with_user_session: self.coordinate_lifetime_with_user_session,
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
