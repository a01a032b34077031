//! Token revocation (RFC 7009).
//!
//! Reference tokens are deleted. A refresh token is revoked with its family (the client's
//! refresh and reference tokens in that user session), as RFC 7009 §2.1 asks. A JWT access
//! token cannot be recalled from the APIs that validate it locally, so its id (`jti`) goes on
//! the revocation list ([`RevokedTokenStore`](crate::store::RevokedTokenStore)) until it
//! expires: this server's introspection, userinfo and admin API refuse it from then on, and so
//! do APIs that ask the server through introspection. Only the client the token was issued to
//! may revoke it, as for every other token.

use super::Context;
use super::access_token::{current_jwt_claims, looks_like_jwt};
use super::client_auth::ClientAuthenticator;
use super::token::{handle_key, revoke_family};
use crate::error::{ErrorCode, OAuthError};
use crate::model::{Client, RevokedToken, grant_types};
use crate::params::Parameters;
use crate::request::ProtocolRequest;
use crate::store::StoreError;
use std::sync::Arc;
use time::OffsetDateTime;

/// Revokes tokens.
#[derive(Debug)]
pub struct RevocationService {
    ctx: Arc<Context>,
    client_auth: Arc<ClientAuthenticator>,
}

/// The answer to a client revoking another client's token.
fn not_this_clients() -> OAuthError {
    OAuthError::new(
        ErrorCode::UnauthorizedClient,
        "the token was not issued to this client",
    )
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
            return self.revoke_jwt(client, token).await;
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
                return Err(not_this_clients());
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

    /// Puts a JWT access token of `client` on the revocation list until it expires. A JWT that
    /// is not one of ours, or no longer valid, needs nothing: it is refused anyway.
    async fn revoke_jwt(&self, client: &Client, token: &str) -> Result<(), OAuthError> {
        let Some(claims) = current_jwt_claims(&self.ctx, token).await? else {
            return Ok(());
        };
        if claims.client_id != client.client_id {
            return Err(not_this_clients());
        }
        let expires = OffsetDateTime::from_unix_timestamp(claims.exp).map_err(|_| {
            tracing::error!(client_id = %client.client_id, "a JWT of ours has an unusable exp");
            OAuthError::server_error()
        })?;
        self.ctx
            .stores
            .revoked_tokens
            .revoke_token_id(&RevokedToken {
                jti: claims.jti,
                client_id: claims.client_id,
                expires,
            })
            .await?;
        tracing::info!(client_id = %client.client_id, "revoked JWT access token");
        Ok(())
    }

    /// Removes up to `batch` ids of revoked JWTs that have expired since (the background upkeep
    /// calls this); returns how many went.
    pub async fn remove_expired(&self, batch: u32) -> Result<u64, StoreError> {
        self.ctx
            .stores
            .revoked_tokens
            .remove_expired_revoked_token_ids(self.ctx.clock.now(), batch)
            .await
    }
}
