//! Token introspection (RFC 7662).
//!
//! An API resource sees tokens whose audience includes it, with the scopes narrowed to its own;
//! a client sees the tokens issued to it. Everything else, like every invalid, expired or
//! unknown token, is `{"active": false}` with no further detail.

use super::Context;
use super::access_token::validate_access_token;
use super::client_auth::{ClientAuthenticator, Introspector};
use crate::error::OAuthError;
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
            return Ok(inactive());
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

fn inactive() -> Value {
    json!({ "active": false })
}
