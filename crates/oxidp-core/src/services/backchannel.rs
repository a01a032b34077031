//! OIDC Back-Channel Logout 1.0: logout tokens, and the outbox messages that carry them.
//!
//! Messages are written to the outbox in the same transaction as the removal that caused them
//! and delivered by the outbox's worker with retries (see [`super::OutboxDeliveryService`]), so
//! a client that is down receives its logout when it comes back. Each attempt carries a freshly
//! signed token (same `jti`), since a logout token is short-lived and retries last much longer.

use super::Context;
use crate::error::OAuthError;
use crate::model::{
    BackchannelLogout, Client, DeliveryStatus, LogoutReason, OutboxMessage, OutboxPayload,
};
use serde::Serialize;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use uuid::Uuid;

/// The event a logout token announces (Back-Channel Logout §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token is valid: short, as the spec recommends (§2.4: "two minutes").
const LOGOUT_TOKEN_LIFETIME: i64 = 120;

#[derive(Serialize)]
struct LogoutTokenClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
    sub: &'a str,
    sid: &'a str,
    events: serde_json::Value,
    logout_reason: &'a str,
}

/// A session to notify clients about.
#[derive(Debug, Clone)]
pub struct EndedSession<'a> {
    /// `sub`.
    pub subject_id: &'a str,
    /// `sid`.
    pub session_id: &'a str,
    /// The clients that used the session.
    pub client_ids: &'a [String],
}

/// Builds logout tokens and outbox messages.
#[derive(Debug)]
pub struct BackchannelLogoutService {
    ctx: Arc<Context>,
}

impl BackchannelLogoutService {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Signs a logout token (`typ: logout+jwt`) for `client_id`.
    pub async fn logout_token(
        &self,
        client_id: &str,
        subject_id: &str,
        session_id: &str,
        reason: LogoutReason,
        jti: &str,
    ) -> Result<String, OAuthError> {
        let now = self.ctx.clock.now().unix_timestamp();
        let claims = LogoutTokenClaims {
            iss: &self.ctx.options.issuer,
            aud: client_id,
            iat: now,
            exp: now + LOGOUT_TOKEN_LIFETIME,
            jti,
            sub: subject_id,
            sid: session_id,
            events: json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
            logout_reason: reason.as_str(),
        };
        let key = self.ctx.keys.default_signing_key().await.map_err(|error| {
            tracing::error!(%error, "no signing key for a logout token");
            OAuthError::server_error()
        })?;
        key.sign_jwt("logout+jwt", &claims)
            .map_err(|_| OAuthError::server_error())
    }

    /// One message per client of the session that has a back-channel logout URI; `only`
    /// narrows to those clients. Unknown or deleted clients are skipped, not fatal. Each client
    /// appears once even if listed twice. No token is signed here: the delivery worker signs a
    /// fresh one for every attempt (a token lives two minutes, retries much longer), so a
    /// token signed at enqueue would only be thrown away.
    pub async fn messages_for(
        &self,
        session: &EndedSession<'_>,
        reason: LogoutReason,
        only: Option<&[String]>,
    ) -> Result<Vec<OutboxMessage>, OAuthError> {
        let now = self.ctx.clock.now();
        let give_up_after =
            super::outbox::later(now, self.ctx.options.backchannel_logout.retry_period);
        let mut seen = HashSet::new();
        let mut messages = Vec::new();
        for client_id in session.client_ids {
            if !seen.insert(client_id) || only.is_some_and(|only| !only.contains(client_id)) {
                continue;
            }
            let Some(client) = self.ctx.stores.clients.find_client(client_id).await? else {
                tracing::info!(%client_id, "client of an ended session no longer exists; no back-channel logout");
                continue;
            };
            let Some(endpoint) = backchannel_endpoint(&client) else {
                continue;
            };
            messages.push(OutboxMessage {
                id: Uuid::now_v7(),
                client_id: client.client_id.clone(),
                endpoint,
                payload: OutboxPayload::BackchannelLogout(BackchannelLogout {
                    subject_id: session.subject_id.to_owned(),
                    session_id: session.session_id.to_owned(),
                    reason,
                }),
                created: now,
                next_attempt: now,
                attempts: 0,
                give_up_after,
                status: DeliveryStatus::Pending,
            });
        }
        Ok(messages)
    }
}

fn backchannel_endpoint(client: &Client) -> Option<String> {
    client
        .enabled
        .then(|| client.backchannel_logout_uri.clone())
        .flatten()
}
