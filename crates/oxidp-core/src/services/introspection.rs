//! Token introspection (RFC 7662).
//!
//! An API resource sees tokens whose audience includes it, with the scopes narrowed to its own;
//! a client sees the access and refresh tokens issued to it. Everything else, like every invalid, expired or
//! unknown token, is `{"active": false}` with no further detail.

use super::Context;
use super::access_token::validate_access_token;
use super::client_auth::{ClientAuthenticator, Introspector};
use super::token::{RefreshTokenData, refresh_key};
use crate::error::OAuthError;
use crate::model::grant_types;
use crate::params::Parameters;
use crate::request::ProtocolRequest;
use serde_json::{Value, json};
use std::sync::Arc;

/// Answers introspection requests.
#[derive(Debug)]
pub struct IntrospectionService {
    ctx: Arc<Context>,
    client_auth: Arc<ClientAuthenticator>,
}

impl IntrospectionService {
    pub(crate) fn new(ctx: Arc<Context>, client_auth: Arc<ClientAuthenticator>) -> Self {
        Self { ctx, client_auth }
    }

    /// Serves an introspection request: authenticates the caller, then introspects.
    pub async fn endpoint(&self, request: &ProtocolRequest) -> Result<Value, OAuthError> {
        let caller = self
            .client_auth
            .authenticate_introspection_request(request)
            .await?;
        self.introspect(&caller, &request.params).await
    }

    /// The introspection response for `token` as seen by `caller`.
    pub async fn introspect(
        &self,
        caller: &Introspector,
        params: &Parameters,
    ) -> Result<Value, OAuthError> {
        let token = params.require("token")?;
        let Some(mut claims) = validate_access_token(&self.ctx, token).await? else {
            return self.introspect_refresh_token(caller, token).await;
        };
        match caller {
            Introspector::ApiResource(resource) => {
                if !claims.aud.contains(&resource.name) {
                    return Ok(inactive());
                }
                claims.scope = claims
                    .scopes()
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
        if let Some(sid) = &claims.sid
            && let Some(client) = self
                .ctx
                .stores
                .clients
                .find_client(&claims.client_id)
                .await?
            && !super::coordination::validate_and_extend(&self.ctx, &client, &claims.sub, sid)
                .await?
        {
            return Ok(inactive());
        }
        let mut response = serde_json::to_value(&claims).map_err(|_| OAuthError::server_error())?;
        response["active"] = json!(true);
        response["token_type"] = json!(claims.token_type().as_str());
        Ok(response)
    }
}

impl IntrospectionService {
    /// RFC 7662 §2.1: a client may introspect its own refresh tokens. A used (rotated),
    /// revoked or expired one is inactive, as is one whose user is disabled or whose
    /// coordinated session has ended; an API resource sees no refresh token.
    async fn introspect_refresh_token(
        &self,
        caller: &Introspector,
        token: &str,
    ) -> Result<Value, OAuthError> {
        let Introspector::Client(client) = caller else {
            return Ok(inactive());
        };
        let grant = self
            .ctx
            .stores
            .grants
            .get_grant(&refresh_key(token))
            .await?;
        let now = self.ctx.clock.now();
        let Some(grant) = grant.filter(|g| {
            g.grant_type == grant_types::REFRESH_TOKEN
                && g.client_id == client.client_id
                && g.consumed.is_none()
                && !g.is_expired(now)
        }) else {
            return Ok(inactive());
        };
        let Ok(family) = serde_json::from_str::<RefreshTokenData>(&grant.data) else {
            return Ok(inactive());
        };
        let user = self
            .ctx
            .stores
            .users
            .find_user_by_subject(&family.subject_id)
            .await?;
        let sid = &family.session.session_id;
        if !user.is_some_and(|u| u.enabled)
            || !super::coordination::validate_and_extend(&self.ctx, client, &family.subject_id, sid)
                .await?
        {
            return Ok(inactive());
        }
        let mut response = json!({
            "active": true,
            "token_type": "refresh_token",
            "iss": self.ctx.options.issuer,
            "client_id": client.client_id,
            "sub": family.subject_id,
            "sid": sid,
            "scope": family.scopes.join(" "),
            "iat": grant.created.unix_timestamp(),
        });
        if let Some(expires) = grant.expires {
            response["exp"] = json!(expires.unix_timestamp());
        }
        if let Some(jkt) = &family.jkt {
            response["cnf"] = json!({ "jkt": jkt });
        }
        Ok(response)
    }
}

fn inactive() -> Value {
    json!({ "active": false })
}
