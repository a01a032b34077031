//! Token introspection (RFC 7662).
//!
//! An API resource sees tokens whose audience includes it, with the scopes narrowed to its own;
//! a client sees the tokens issued to it. Everything else, like every invalid, expired or
//! unknown token, is `{"active": false}` with no further detail.

use super::Context;
use super::client_auth::Introspector;
use super::token::{AccessTokenClaims, reference_token_key};
use crate::error::OAuthError;
use crate::model::grant_types;
use crate::params::Parameters;
use serde_json::{Value, json};
use std::sync::Arc;

/// Answers introspection requests.
#[derive(Debug)]
pub struct IntrospectionService {
    ctx: Arc<Context>,
}

impl IntrospectionService {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// The introspection response for `token` as seen by `caller`.
    pub async fn introspect(
        &self,
        caller: &Introspector,
        params: &Parameters,
    ) -> Result<Value, OAuthError> {
        let token = params.require("token")?;
        let claims = if looks_like_jwt(token) {
            self.jwt_claims(token).await?
        } else {
            self.reference_claims(token).await?
        };
        let Some(mut claims) = claims else {
            return Ok(inactive());
        };
        match caller {
            Introspector::ApiResource(resource) => {
                if !claims.aud.contains(&resource.name) {
                    return Ok(inactive());
                }
                claims.scope = claims
                    .scope
                    .split(' ')
                    .filter(|s| resource.scopes.iter().any(|r| r == s))
                    .collect::<Vec<_>>()
                    .join(" ");
            }
            Introspector::Client(client) => {
                if claims.client_id != client.client_id {
                    return Ok(inactive());
                }
            }
        }
        let mut response = serde_json::to_value(&claims).map_err(|_| OAuthError::server_error())?;
        response["active"] = json!(true);
        response["token_type"] = json!("Bearer");
        Ok(response)
    }

    async fn jwt_claims(&self, token: &str) -> Result<Option<AccessTokenClaims>, OAuthError> {
        let jwks = self.ctx.keys.jwks().await.map_err(|error| {
            tracing::error!(%error, "keys unavailable for introspection");
            OAuthError::server_error()
        })?;
        let Ok(header) = jwt_header(token) else {
            return Ok(None);
        };
        if header.get("typ").and_then(Value::as_str) != Some("at+jwt") {
            return Ok(None);
        }
        let jwks = serde_json::to_value(&*jwks).map_err(|_| OAuthError::server_error())?;
        let Ok(raw) = oxidp_jose::verify::verify_signature(token, &jwks) else {
            return Ok(None);
        };
        let Ok(claims) = serde_json::from_value::<AccessTokenClaims>(Value::Object(raw)) else {
            return Ok(None);
        };
        Ok(self.is_current(&claims).then_some(claims))
    }

    async fn reference_claims(&self, token: &str) -> Result<Option<AccessTokenClaims>, OAuthError> {
        let Some(grant) = self
            .ctx
            .stores
            .grants
            .get_grant(&reference_token_key(token))
            .await?
        else {
            return Ok(None);
        };
        if grant.grant_type != grant_types::REFERENCE_TOKEN
            || grant.is_expired(self.ctx.clock.now())
        {
            return Ok(None);
        }
        let Ok(claims) = serde_json::from_str::<AccessTokenClaims>(&grant.data) else {
            return Ok(None);
        };
        Ok(self.is_current(&claims).then_some(claims))
    }

    fn is_current(&self, claims: &AccessTokenClaims) -> bool {
        let now = self.ctx.clock.now().unix_timestamp();
        let skew = self.ctx.options.clock_skew.as_secs() as i64;
        claims.iss == self.ctx.options.issuer && now < claims.exp && claims.nbf - skew <= now
    }
}

fn inactive() -> Value {
    json!({ "active": false })
}

pub(crate) fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

fn jwt_header(token: &str) -> Result<Value, ()> {
    let header = token.split('.').next().ok_or(())?;
    serde_json::from_slice(&oxidp_jose::b64url_decode(header).ok_or(())?).map_err(|_| ())
}
