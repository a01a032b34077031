//! The `authorization_code` grant (RFC 6749 §4.1.3) with PKCE (RFC 7636).
//!
//! A code is one-time: redeeming marks it consumed atomically, so of two concurrent redemptions
//! exactly one succeeds. A second redemption is treated as an attack (RFC 6749 §4.1.2): the
//! refresh and reference tokens issued to that client in that user session are revoked.

use super::super::Context;
use super::super::identity::{OFFLINE_ACCESS, OPENID};
use super::super::scopes::narrow_scopes;
use super::refresh::{RefreshTokenData, issue_refresh_token};
use super::{
    Confirmation, SessionInfo, TokenResponse, handle_key, issue_access_token, issue_id_token,
    revoke_family,
};
use crate::error::{ErrorCode, OAuthError};
use crate::model::{Client, grant_types};
use crate::params::Parameters;
use serde::{Deserialize, Serialize};

/// What an authorization code stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AuthorizationCodeData {
    pub client_id: String,
    pub redirect_uri: String,
    pub subject_id: String,
    pub session: SessionInfo,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// The DPoP key thumbprint the authorization request bound the code to (`dpop_jkt`,
    /// RFC 9449 §10): redeeming needs a proof with that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

/// The storage key of a code.
pub(crate) fn code_key(code: &str) -> String {
    handle_key(code, grant_types::AUTHORIZATION_CODE)
}

fn invalid_grant(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, description)
}

/// Redeems a code; `jkt` is the thumbprint of the request's DPoP proof key, if any, to which
/// the access token (and a public client's refresh token) is bound.
pub(super) async fn redeem(
    ctx: &Context,
    client: &Client,
    params: &Parameters,
    jkt: Option<&str>,
    binding: Option<&Confirmation>,
) -> Result<TokenResponse, OAuthError> {
    let code = params.require("code")?;
    let redirect_uri = params.require("redirect_uri")?;
    let key = code_key(code);
    let Some(grant) = ctx.stores.grants.get_grant(&key).await? else {
        return Err(invalid_grant("the code is invalid"));
    };
    if grant.grant_type != grant_types::AUTHORIZATION_CODE || grant.client_id != client.client_id {
        return Err(invalid_grant("the code is invalid"));
    }
    let data: AuthorizationCodeData =
        serde_json::from_str(&grant.data).map_err(|_| invalid_grant("the code is invalid"))?;
    // Before the code is consumed: someone holding a stolen code but not the key cannot
    // burn it.
    if let Some(bound) = &data.dpop_jkt
        && jkt != Some(bound.as_str())
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidDpopProof,
            "the code is bound to a DPoP key; a proof with that key is required",
        ));
    }
    let now = ctx.clock.now();
    if ctx.stores.grants.consume_grant(&key, now).await?.is_none() {
        tracing::warn!(client_id = %client.client_id, sid = %data.session.session_id, "authorization code replayed; revoking its tokens");
        revoke_family(
            ctx,
            &client.client_id,
            &data.subject_id,
            &data.session.session_id,
        )
        .await?;
        return Err(invalid_grant("the code has already been used"));
    }
    if grant.is_expired(now) {
        return Err(invalid_grant("the code has expired"));
    }
    if data.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    crate::services::pkce::verify(data.code_challenge.as_deref(), params.get("code_verifier"))?;
    let user = ctx
        .stores
        .users
        .find_user_by_subject(&data.subject_id)
        .await?;
    let Some(user) = user.filter(|u| u.enabled) else {
        return Err(invalid_grant("the user is no longer active"));
    };

    let granted = narrow_scopes(ctx, &data.scopes, None, &user).await?;
    let (access_token, claims) = issue_access_token(
        ctx,
        client,
        &data.subject_id,
        &granted,
        Some(&data.session),
        binding,
    )
    .await?;
    let id_token = if granted.contains(OPENID) {
        Some(
            issue_id_token(
                ctx,
                client,
                &data.subject_id,
                &data.session,
                data.nonce.as_deref(),
                Some(&access_token),
            )
            .await?,
        )
    } else {
        None
    };
    let refresh_token = if granted.contains(OFFLINE_ACCESS) && client.allow_offline_access {
        let mut family = RefreshTokenData::new_family(
            client,
            &data.subject_id,
            &data.session,
            &granted.scopes,
            now,
            jkt,
        );
        // RFC 8705 §4: a public client's refresh tokens are bound to its certificate (a
        // confidential client's are already bound to its authentication).
        if client.is_public() {
            family.cnf = binding
                .and_then(|b| b.x5t_s256.clone())
                .map(|x5t_s256| Confirmation {
                    jkt: None,
                    x5t_s256: Some(x5t_s256),
                });
        }
        Some(issue_refresh_token(ctx, client, &family, now).await?)
    } else {
        None
    };
    tracing::info!(client_id = %client.client_id, sid = %data.session.session_id, "authorization code redeemed");
    Ok(TokenResponse {
        access_token,
        token_type: claims.token_type(),
        expires_in: client.access_token_lifetime.as_secs(),
        scope: granted.joined(),
        id_token,
        refresh_token,
        dpop_nonce: None,
    })
}
