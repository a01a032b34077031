//! Token revocation (RFC 7009).
//!
//! Reference tokens are deleted. A JWT access token cannot be recalled once issued (APIs
//! validate it locally until it expires), so revoking one succeeds without effect, as RFC 7009
//! §2.2 allows for tokens the server cannot revoke; that is why short JWT lifetimes matter.

use super::Context;
use super::access_token::looks_like_jwt;
use super::token::reference_token_key;
use crate::error::{ErrorCode, OAuthError};
use crate::model::{Client, grant_types};
use crate::params::Parameters;
use std::sync::Arc;

/// Revokes tokens.
#[derive(Debug)]
pub struct RevocationService {
    ctx: Arc<Context>,
}

impl RevocationService {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Revokes `token` for the authenticated `client`. Unknown and already revoked tokens
    /// succeed (RFC 7009 §2.2); a token issued to another client is refused. An unknown
    /// `token_type_hint` is ignored (§2.1).
    pub async fn revoke(&self, client: &Client, params: &Parameters) -> Result<(), OAuthError> {
        let token = params.require("token")?;
        if looks_like_jwt(token) {
            return Ok(());
        }
        let key = reference_token_key(token);
        let Some(grant) = self.ctx.stores.grants.get_grant(&key).await? else {
            return Ok(());
        };
        if grant.grant_type != grant_types::REFERENCE_TOKEN {
            return Ok(());
        }
        if grant.client_id != client.client_id {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "the token was not issued to this client",
            ));
        }
        self.ctx.stores.grants.remove_grant(&key).await?;
        tracing::info!(client_id = %client.client_id, "revoked reference token");
        Ok(())
    }
}
