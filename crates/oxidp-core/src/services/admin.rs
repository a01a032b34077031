//! Administrator rights by construction: every audited operation takes an [`AdminContext`],
//! and only three checks make one — the role check behind the admin pages
//! ([`AdminService::for_signed_in_user`]), the scope check behind the admin API
//! ([`AdminService::for_access_token`]) and the local operator's command line
//! ([`AdminContext::for_local_operator`], for tools that already hold the database). There is
//! no free-form actor string an unauthenticated path could pass.

use super::Context;
use super::access_token::{certificate_confirmed, validate_access_token};
use crate::model::{
    AuditEntry, AuthenticationTicket, DeliveryAttempt, DeliveryStatus, OutboxMessage,
};
use crate::request::PeerInfo;
use crate::store::{StoreError, StoreResult};
use std::sync::Arc;

/// The role that opens the admin pages (and, for tokens issued to users, the admin API).
pub const ADMIN_ROLE: &str = "admin";

/// The scope an access token needs to call the admin API.
pub const ADMIN_SCOPE: &str = "oxidp.admin";

/// Proof that an administrator is acting, and how the audit trail names them
/// (`page:<sub>`, `api:<client_id>`, `cli:<user>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminContext {
    actor: String,
}

impl AdminContext {
    /// The operator at the command line. Whoever runs the CLI holds the database credentials
    /// already, so the check is the operating system's; the name is for the audit trail.
    pub fn for_local_operator(os_user: &str) -> Self {
        let name = if os_user.trim().is_empty() {
            "unknown"
        } else {
            os_user
        };
        Self {
            actor: format!("cli:{name}"),
        }
    }

    /// How the audit trail names this administrator.
    pub fn actor(&self) -> &str {
        &self.actor
    }
}

/// Why an access token does not open the admin API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminTokenError {
    /// Unknown, expired or revoked token.
    #[error("the access token is invalid or expired")]
    InvalidToken,
    /// The token lacks the admin scope, or its user lacks the admin role.
    #[error("the access token does not grant administration")]
    InsufficientScope,
    /// The store could not be read.
    #[error("the service is temporarily unavailable")]
    Unavailable,
}

/// One outbox message with its delivery history, as the admin page lists it.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    /// The message.
    pub message: OutboxMessage,
    /// Its attempts, oldest first.
    pub attempts: Vec<DeliveryAttempt>,
}

/// Makes [`AdminContext`]s and serves the administrators' read-only views.
#[derive(Debug)]
pub struct AdminService {
    ctx: Arc<Context>,
}

impl AdminService {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// The role check of the admin pages: the signed-in user exists, is enabled and holds
    /// [`ADMIN_ROLE`]. Read on every request, so taking the role away takes effect at once.
    pub async fn for_signed_in_user(
        &self,
        ticket: &AuthenticationTicket,
    ) -> StoreResult<Option<AdminContext>> {
        let user = self
            .ctx
            .stores
            .users
            .find_user_by_subject(&ticket.subject_id)
            .await?;
        Ok(user
            .filter(|u| u.enabled && u.has_role(ADMIN_ROLE))
            .map(|u| AdminContext {
                actor: format!("page:{}", u.subject_id),
            }))
    }

    /// The scope check of the admin API: a valid, unbound access token of ours with
    /// [`ADMIN_SCOPE`] (a DPoP-bound token is refused: the API checks no proofs).
    /// A token issued to a user (not to a client for itself) also needs that user to hold
    /// [`ADMIN_ROLE`] now, so an interactive client allowed the scope cannot make any user an
    /// administrator.
    pub async fn for_access_token(&self, token: &str) -> Result<AdminContext, AdminTokenError> {
        self.for_access_token_over(token, &PeerInfo::default())
            .await
    }

    /// [`for_access_token`](Self::for_access_token) for a token presented over the connection
    /// `peer`: a certificate-bound token needs that certificate (RFC 8705 §3).
    pub async fn for_access_token_over(
        &self,
        token: &str,
        peer: &PeerInfo,
    ) -> Result<AdminContext, AdminTokenError> {
        let claims = validate_access_token(&self.ctx, token)
            .await
            .map_err(|error| {
                tracing::error!(error = %error.code.as_str(), "admin API: token validation failed");
                AdminTokenError::Unavailable
            })?
            .filter(|claims| certificate_confirmed(claims, peer))
            .ok_or(AdminTokenError::InvalidToken)?;
        // The admin API takes Bearer tokens and checks no DPoP proof: a DPoP-bound token
        // presented there is a token without its proof, which never passes.
        if claims.token_type() == super::TokenType::Dpop {
            tracing::warn!(client_id = %claims.client_id, "admin API: DPoP-bound token refused");
            return Err(AdminTokenError::InvalidToken);
        }
        if !claims.scopes().any(|scope| scope == ADMIN_SCOPE) {
            tracing::warn!(client_id = %claims.client_id, "admin API: token without the admin scope");
            return Err(AdminTokenError::InsufficientScope);
        }
        if claims.sid.is_some() || claims.sub != claims.client_id {
            let user = self
                .ctx
                .stores
                .users
                .find_user_by_subject(&claims.sub)
                .await
                .map_err(|_| AdminTokenError::Unavailable)?;
            if !user.is_some_and(|u| u.enabled && u.has_role(ADMIN_ROLE)) {
                tracing::warn!(client_id = %claims.client_id, subject_id = %claims.sub, "admin API: user without the admin role");
                return Err(AdminTokenError::InsufficientScope);
            }
        }
        Ok(AdminContext {
            actor: format!("api:{}", claims.client_id),
        })
    }

    /// The latest audit entries, newest first.
    pub async fn audit_log(
        &self,
        _admin: &AdminContext,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        self.ctx.stores.audit.list_audit(limit).await
    }

    /// Outbox messages in `status`, with their attempts.
    pub async fn deliveries(
        &self,
        _admin: &AdminContext,
        status: DeliveryStatus,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let outbox = &self.ctx.stores.outbox;
        let messages = outbox.list_messages(status, limit).await?;
        let mut records = Vec::with_capacity(messages.len());
        for message in messages {
            let attempts = outbox.list_attempts(message.id).await?;
            records.push(DeliveryRecord { message, attempts });
        }
        Ok(records)
    }
}
