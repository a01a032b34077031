//! The UserInfo endpoint (OIDC Core §5.3): the claims of the token's user that its scopes release.

use super::Context;
use super::access_token::{certificate_confirmed, validate_access_token};
use super::identity::{OPENID, claims_for};
use super::server_side_sessions::ServerSideTicketStore;
use crate::error::{Challenge, ChallengeScheme, ErrorCode, OAuthError};
use crate::model::SessionFilter;
use crate::request::{PeerInfo, ProtocolRequest};
use serde_json::{Map, Value};
use std::sync::Arc;

fn invalid_token() -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, "the access token is invalid")
        .with_challenge(Challenge::new(ChallengeScheme::Bearer))
}

/// RFC 6750 §3.1: a token without `openid` (or not from a user session) is 403 with the scope
/// it lacks.
fn insufficient_scope() -> OAuthError {
    OAuthError::new(
        ErrorCode::InsufficientScope,
        "the access token lacks the openid scope",
    )
    .with_challenge(Challenge {
        scope: Some(OPENID.to_owned()),
        ..Challenge::new(ChallengeScheme::Bearer)
    })
}

/// Answers userinfo requests.
#[derive(Debug)]
pub struct UserInfoService {
    ctx: Arc<Context>,
    server_side: Option<ServerSideTicketStore>,
}

impl UserInfoService {
    pub(crate) fn new(ctx: Arc<Context>, server_side: Option<ServerSideTicketStore>) -> Self {
        Self { ctx, server_side }
    }

    /// With server-side sessions, the claims captured in the token's session (exactly one
    /// session must match its `sub` and `sid`); `None` otherwise.
    async fn session_claims(
        &self,
        subject_id: &str,
        session_id: &str,
    ) -> Option<std::collections::BTreeMap<String, Value>> {
        let tickets = self.server_side.as_ref()?;
        let filter = SessionFilter {
            subject_id: Some(subject_id.to_owned()),
            session_id: Some(session_id.to_owned()),
        };
        let sessions = self.ctx.stores.sessions.get_sessions(&filter).await.ok()?;
        let [session] = sessions.as_slice() else {
            return None;
        };
        tickets.open(session).await.map(|ticket| ticket.claims)
    }

    /// Serves a userinfo request: the token is taken from the request (RFC 6750 §2.1/§2.2)
    /// and every refusal carries its `WWW-Authenticate` challenge.
    pub async fn endpoint(
        &self,
        request: &ProtocolRequest,
    ) -> Result<Map<String, Value>, OAuthError> {
        let token = request.bearer_token()?;
        self.userinfo_over(&token, &request.peer).await
    }

    /// The user's claims for `token`, presented without a client certificate (a
    /// certificate-bound token is then refused).
    pub async fn userinfo(&self, token: &str) -> Result<Map<String, Value>, OAuthError> {
        self.userinfo_over(token, &PeerInfo::default()).await
    }

    /// The user's claims for `token` presented over the connection `peer`: a token bound to a
    /// certificate the connection did not present is `invalid_token` (RFC 8705 §3).
    pub async fn userinfo_over(
        &self,
        token: &str,
        peer: &PeerInfo,
    ) -> Result<Map<String, Value>, OAuthError> {
        let claims = validate_access_token(&self.ctx, token)
            .await?
            .ok_or_else(invalid_token)?;
        if !certificate_confirmed(&claims, peer) {
            tracing::info!(client_id = %claims.client_id, "certificate-bound token without its certificate");
            return Err(invalid_token());
        }
        if !claims.scopes().any(|s| s == OPENID) || claims.sid.is_none() {
            return Err(insufficient_scope());
        }
        let user = self
            .ctx
            .stores
            .users
            .find_user_by_subject(&claims.sub)
            .await?
            .filter(|u| u.enabled)
            .ok_or_else(invalid_token)?;
        // The session's claims when it is kept server-side (what the user signed in with);
        // the user store otherwise.
        let session_claims = match &claims.sid {
            Some(sid) => self.session_claims(&user.subject_id, sid).await,
            None => None,
        };
        let source = session_claims.as_ref().unwrap_or(&user.claims);
        if let Some(sid) = &claims.sid {
            let client = self
                .ctx
                .stores
                .clients
                .find_client(&claims.client_id)
                .await?;
            if let Some(client) = client
                && !super::coordination::validate_and_extend(&self.ctx, &client, &claims.sub, sid)
                    .await?
            {
                return Err(invalid_token());
            }
        }
        let mut response = Map::new();
        response.insert("sub".into(), Value::String(user.subject_id.clone()));
        for name in claims_for(claims.scopes()) {
            if name == "preferred_username" && !source.contains_key(name) {
                response.insert(name.into(), Value::String(user.username.clone()));
            } else if let Some(value) = source.get(name) {
                response.insert(name.into(), value.clone());
            }
        }
        Ok(response)
    }
}
