//! Token revocation (RFC 7009).
//!
//! Reference tokens are deleted. A refresh token is revoked with its family (the client's
//! refresh and reference tokens in that user session), as RFC 7009 §2.1 asks. A JWT access
//! token cannot be recalled once issued (APIs validate it locally until it expires), so revoking
//! one succeeds without effect, as §2.2 allows; that is why short JWT lifetimes matter.

use super::Context;
use super::access_token::looks_like_jwt;
use super::client_auth::ClientAuthenticator;
use super::token::{handle_key, revoke_family};
use crate::error::{ErrorCode, OAuthError};
use crate::model::{Client, grant_types};
use crate::params::Parameters;
use crate::request::ProtocolRequest;
use std::sync::Arc;

/// Revokes tokens.
#[derive(Debug)]
pub struct RevocationService {
    ctx: Arc<Context>,
    client_auth: Arc<ClientAuthenticator>,
}

impl RevocationService {
    pub(crate) fn new(ctx: Arc<Context>, client_auth: Arc<ClientAuthenticator>) -> Self {
        Self { ctx, client_auth }
    }

    /// Serves a revocation request: authenticates the client, then revokes.
    pub async fn endpoint(&self, request: &ProtocolRequest) -> Result<(), OAuthError> {
        let client = self.client_auth.authenticate_request(request).await?;
        self.revoke(&client, &request.params).await
    }

    /// Revokes `token` for the authenticated `client`. Unknown and already revoked tokens
    /// succeed (RFC 7009 §2.2); a token issued to another client is refused. The
    /// `token_type_hint` only decides which kind is looked up first; an unknown hint is ignored
    /// (§2.1).
    pub async fn revoke(&self, client: &Client, params: &Parameters) -> Result<(), OAuthError> {
        let token = params.require("token")?;
        if looks_like_jwt(token) {
            return Ok(());
        }
        let kinds = match params.get("token_type_hint") {
            Some("refresh_token") => [grant_types::REFRESH_TOKEN, grant_types::REFERENCE_TOKEN],
            _ => [grant_types::REFERENCE_TOKEN, grant_types::REFRESH_TOKEN],
        };
        for kind in kinds {
            let key = handle_key(token, kind);
            let Some(grant) = self.ctx.stores.grants.get_grant(&key).await? else {
                continue;
            };
            if grant.grant_type != kind {
                continue;
            }
            if grant.client_id != client.client_id {
                return Err(OAuthError::new(
                    ErrorCode::UnauthorizedClient,
                    "the token was not issued to this client",
                ));
            }
            // The session is what ties a family together; a grant without one is revoked alone.
            if kind == grant_types::REFRESH_TOKEN
                && let (Some(subject_id), Some(session_id)) = (&grant.subject_id, &grant.session_id)
            {
                revoke_family(&self.ctx, &client.client_id, subject_id, session_id).await?;
            }
            self.ctx.stores.grants.remove_grant(&key).await?;
            tracing::info!(client_id = %client.client_id, kind, "revoked token");
            return Ok(());
        }
        Ok(())
    }
}
