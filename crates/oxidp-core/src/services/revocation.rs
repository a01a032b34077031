//! Token revocation (RFC 7009).
//!
//! Reference tokens are deleted. A refresh token is revoked with its family (the client's
//! refresh and reference tokens in that user session), as RFC 7009 §2.1 asks. A JWT access
//! token cannot be recalled once issued (APIs validate it locally until it expires), so revoking
//! one succeeds without effect, as §2.2 allows; that is why short JWT lifetimes matter.

use super::Context;
use super::access_token::looks_like_jwt;
use super::token::handle_key;
use crate::error::{ErrorCode, OAuthError};
use crate::model::{Client, PersistedGrantFilter, grant_types};
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
            if kind == grant_types::REFRESH_TOKEN {
                let filter = PersistedGrantFilter {
                    subject_id: grant.subject_id.clone(),
                    session_id: grant.session_id.clone(),
                    client_id: Some(client.client_id.clone()),
                    grant_types: Some(vec![
                        grant_types::REFRESH_TOKEN.to_owned(),
                        grant_types::REFERENCE_TOKEN.to_owned(),
                    ]),
                    ..PersistedGrantFilter::default()
                };
                // The session is what ties a family together; a grant without one is revoked alone.
                if grant.session_id.is_some() && grant.subject_id.is_some() {
                    self.ctx.stores.grants.remove_grants(&filter).await?;
                }
            }
            self.ctx.stores.grants.remove_grant(&key).await?;
            tracing::info!(client_id = %client.client_id, kind, "revoked token");
            return Ok(());
        }
        Ok(())
    }
}
