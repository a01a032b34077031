//! The UserInfo endpoint (OIDC Core §5.3): the claims of the token's user that its scopes release.
//!
//! A DPoP-bound token (`cnf.jkt`) is accepted only with the `DPoP` scheme and a proof of its
//! key naming it in `ath` (RFC 9449 §7); as a Bearer token it is `invalid_token`, and so is an
//! unbound token presented with the `DPoP` scheme.

use super::Context;
use super::access_token::{certificate_confirmed, validate_access_token};
use super::dpop::{DpopService, Site, dpop_challenge, dpop_error};
use super::identity::{OPENID, claims_for};
use super::server_side_sessions::ServerSideTicketStore;
use super::token::AccessTokenClaims;
use crate::error::{Challenge, ChallengeScheme, ErrorCode, OAuthError};
use crate::model::{Client, SessionFilter};
use crate::request::{PresentedToken, ProtocolRequest, TokenScheme};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The challenge of the scheme the token came with (a DPoP one names the proof algorithms).
fn challenge(scheme: TokenScheme) -> Challenge {
    match scheme {
        TokenScheme::Bearer => Challenge::new(ChallengeScheme::Bearer),
        TokenScheme::Dpop => dpop_challenge(),
    }
}

fn invalid_token(scheme: TokenScheme) -> OAuthError {
    token_refused(scheme, "the access token is invalid")
}

fn token_refused(scheme: TokenScheme, description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, description).with_challenge(challenge(scheme))
}

/// RFC 6750 §3.1: a token without `openid` (or not from a user session) is 403 with the scope
/// it lacks.
fn insufficient_scope(scheme: TokenScheme) -> OAuthError {
    OAuthError::new(
        ErrorCode::InsufficientScope,
        "the access token lacks the openid scope",
    )
    .with_challenge(Challenge {
        scope: Some(OPENID.to_owned()),
        ..challenge(scheme)
    })
}

/// A userinfo answer.
#[derive(Debug, Clone)]
pub struct UserInfoResponse {
    /// The user's claims.
    pub claims: Map<String, Value>,
    /// A fresh DPoP nonce for the `DPoP-Nonce` response header (nonce mode, RFC 9449 §8).
    pub dpop_nonce: Option<String>,
}

/// Answers userinfo requests.
#[derive(Debug)]
pub struct UserInfoService {
    ctx: Arc<Context>,
    server_side: Option<ServerSideTicketStore>,
    dpop: Arc<DpopService>,
}

impl UserInfoService {
    pub(crate) fn new(
        ctx: Arc<Context>,
        server_side: Option<ServerSideTicketStore>,
        dpop: Arc<DpopService>,
    ) -> Self {
        Self {
            ctx,
            server_side,
            dpop,
        }
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

    /// Serves a userinfo request: the token is taken from the request (RFC 6750 §2.1/§2.2,
    /// RFC 9449 §7.1), a DPoP-bound one must come with its proof, and every refusal carries
    /// the `WWW-Authenticate` challenge of the scheme used.
    pub async fn endpoint(
        &self,
        request: &ProtocolRequest,
    ) -> Result<UserInfoResponse, OAuthError> {
        let presented = request.access_token()?;
        let claims = validate_access_token(&self.ctx, &presented.token)
            .await?
            .ok_or_else(|| invalid_token(presented.scheme))?;
        if !certificate_confirmed(&claims, &request.peer) {
            tracing::info!(client_id = %claims.client_id, "certificate-bound token without its certificate");
            return Err(invalid_token(presented.scheme));
        }
        let client = self
            .ctx
            .stores
            .clients
            .find_client(&claims.client_id)
            .await?;
        let dpop_nonce = self
            .confirm(request, &presented, &claims, client.as_ref())
            .await?;
        let claims = self.claims(claims, client, presented.scheme).await?;
        Ok(UserInfoResponse { claims, dpop_nonce })
    }

    /// RFC 9449 §7: a bound token needs the DPoP scheme and a proof of its key naming it; an
    /// unbound one the Bearer scheme. Returns the fresh nonce to send, in nonce mode.
    async fn confirm(
        &self,
        request: &ProtocolRequest,
        presented: &PresentedToken,
        claims: &AccessTokenClaims,
        client: Option<&Client>,
    ) -> Result<Option<String>, OAuthError> {
        let bound = claims.cnf.as_ref().and_then(|cnf| cnf.jkt.as_deref());
        match (bound, presented.scheme) {
            (None, TokenScheme::Bearer) => Ok(None),
            (None, TokenScheme::Dpop) => Err(token_refused(
                TokenScheme::Dpop,
                "the access token is not DPoP-bound; present it as a Bearer token",
            )),
            (Some(_), TokenScheme::Bearer) => Err(token_refused(
                TokenScheme::Dpop,
                "the access token is DPoP-bound; present it with the DPoP scheme and a proof",
            )),
            (Some(bound), TokenScheme::Dpop) => {
                let outcome = self
                    .dpop
                    .check(request, Site::Resource, client, Some(&presented.token))
                    .await?;
                match outcome.jkt() {
                    None => Err(dpop_error(
                        Site::Resource,
                        ErrorCode::InvalidDpopProof,
                        "a DPoP proof is required",
                    )),
                    Some(jkt) if jkt != bound => Err(dpop_error(
                        Site::Resource,
                        ErrorCode::InvalidDpopProof,
                        "the DPoP proof's key is not the key the token is bound to",
                    )),
                    Some(_) => Ok(outcome.nonce),
                }
            }
        }
    }

    /// The user's claims for a valid, confirmed token.
    async fn claims(
        &self,
        claims: AccessTokenClaims,
        client: Option<Client>,
        scheme: TokenScheme,
    ) -> Result<Map<String, Value>, OAuthError> {
        if !claims.scopes().any(|s| s == OPENID) || claims.sid.is_none() {
            return Err(insufficient_scope(scheme));
        }
        let user = self
            .ctx
            .stores
            .users
            .find_user_by_subject(&claims.sub)
            .await?
            .filter(|u| u.enabled)
            .ok_or_else(|| invalid_token(scheme))?;
        // The session's claims when it is kept server-side (what the user signed in with);
        // the user store otherwise.
        let session_claims = match &claims.sid {
            Some(sid) => self.session_claims(&user.subject_id, sid).await,
            None => None,
        };
        let source = session_claims.as_ref().unwrap_or(&user.claims);
        if let Some(sid) = &claims.sid
            && let Some(client) = &client
            && !super::coordination::validate_and_extend(&self.ctx, client, &claims.sub, sid)
                .await?
        {
            return Err(invalid_token(scheme));
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
