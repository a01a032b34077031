//! The token endpoint's grants and access-token issuance: RFC 9068 JWTs or reference tokens.

use super::Context;
use super::scopes::{GrantedScopes, resolve_api_scopes};
use crate::error::{ErrorCode, OAuthError};
use crate::model::{AccessTokenType, Client, GrantType, PersistedGrant, grant_types};
use crate::params::Parameters;
use oxidp_jose::{b64url_encode, random_bytes, random_token, sha256};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer` for now.
    pub token_type: &'static str,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// Granted scopes, space-separated.
    pub scope: String,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// The claims of an access token, as signed into a JWT or stored behind a reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Audiences: the API resources of the granted scopes.
    #[serde(with = "one_or_many")]
    pub aud: Vec<String>,
    /// Space-separated scopes (RFC 9068 §2.2.3).
    pub scope: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Subject: the user, or the client for client credentials (RFC 9068 §2.2).
    pub sub: String,
    /// Unique token id.
    pub jti: String,
}

/// `aud` is a string when there is one audience and an array otherwise (RFC 7519 §4.1.3).
mod one_or_many {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(values: &[String], serializer: S) -> Result<S::Ok, S::Error> {
        match values {
            [one] => one.serialize(serializer),
            many => many.serialize(serializer),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<String>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(deserializer)? {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        })
    }
}

/// The storage key of a reference token: a hash, so a database leak reveals no usable token.
pub(crate) fn reference_token_key(handle: &str) -> String {
    b64url_encode(sha256(format!("{handle}:{}", grant_types::REFERENCE_TOKEN)))
}

/// Issues tokens.
#[derive(Debug)]
pub struct TokenService {
    ctx: Arc<Context>,
}

impl TokenService {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Handles a token request from an authenticated client.
    pub async fn handle(
        &self,
        client: &Client,
        params: &Parameters,
    ) -> Result<TokenResponse, OAuthError> {
        let grant_type = params.require("grant_type")?;
        let Some(grant_type) = GrantType::parse(grant_type) else {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!("grant type `{grant_type}` is not supported"),
            ));
        };
        if !client.allowed_grant_types.contains(&grant_type) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("the client may not use `{}`", grant_type.as_str()),
            ));
        }
        match grant_type {
            GrantType::ClientCredentials => self.client_credentials(client, params).await,
        }
    }

    async fn client_credentials(
        &self,
        client: &Client,
        params: &Parameters,
    ) -> Result<TokenResponse, OAuthError> {
        let granted = resolve_api_scopes(&self.ctx, client, params.get("scope")).await?;
        self.issue_access_token(client, &client.client_id, granted)
            .await
    }

    async fn issue_access_token(
        &self,
        client: &Client,
        subject: &str,
        granted: GrantedScopes,
    ) -> Result<TokenResponse, OAuthError> {
        let now = self.ctx.clock.now();
        let lifetime = client.access_token_lifetime.as_secs();
        let audiences = if granted.audiences.is_empty() {
            vec![format!("{}/resources", self.ctx.options.issuer)]
        } else {
            granted.audiences
        };
        let claims = AccessTokenClaims {
            iss: self.ctx.options.issuer.clone(),
            exp: now.unix_timestamp() + lifetime as i64,
            iat: now.unix_timestamp(),
            nbf: now.unix_timestamp(),
            aud: audiences,
            scope: granted.scopes.join(" "),
            client_id: client.client_id.clone(),
            sub: subject.to_owned(),
            jti: b64url_encode(random_bytes::<16>()),
        };
        let access_token = match client.access_token_type {
            AccessTokenType::Jwt => {
                let key = self.ctx.keys.default_signing_key().await.map_err(|error| {
                    tracing::error!(%error, "no usable signing key");
                    OAuthError::server_error()
                })?;
                key.sign_jwt("at+jwt", &claims).map_err(|error| {
                    tracing::error!(%error, "signing failed");
                    OAuthError::server_error()
                })?
            }
            AccessTokenType::Reference => {
                let handle = random_token();
                let grant = PersistedGrant {
                    key: reference_token_key(&handle),
                    grant_type: grant_types::REFERENCE_TOKEN.to_owned(),
                    subject_id: Some(claims.sub.clone()),
                    session_id: None,
                    client_id: client.client_id.clone(),
                    created: now,
                    expires: Some(now + time::Duration::seconds(lifetime as i64)),
                    consumed: None,
                    data: serde_json::to_string(&claims).map_err(|_| OAuthError::server_error())?,
                };
                self.ctx.stores.grants.store_grant(&grant).await?;
                handle
            }
        };
        tracing::debug!(client_id = %client.client_id, jti = %claims.jti, "issued access token");
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: lifetime,
            scope: claims.scope,
        })
    }
}
