//! The `authorization_code` grant (RFC 6749 §4.1.3) with PKCE (RFC 7636).
//!
//! A code is one-time: redeeming marks it consumed atomically, so of two concurrent redemptions
//! exactly one succeeds. A second redemption is treated as an attack (RFC 6749 §4.1.2): the
//! refresh and reference tokens issued to that client in that user session are revoked.

use super::super::Context;
use super::super::identity::{OFFLINE_ACCESS, OPENID};
use super::super::scopes::narrow_scopes;
use super::refresh::{RefreshTokenData, issue_refresh_token};
use super::{SessionInfo, TokenResponse, handle_key, issue_access_token, issue_id_token};
use crate::error::{ErrorCode, OAuthError};
use crate::model::{Client, PersistedGrantFilter, grant_types};
use crate::params::Parameters;
use oxidp_jose::{b64url_encode, constant_time_eq, sha256};
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
}

/// The storage key of a code.
pub(crate) fn code_key(code: &str) -> String {
    handle_key(code, grant_types::AUTHORIZATION_CODE)
}

fn invalid_grant(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, description)
}

pub(super) async fn redeem(
    ctx: &Context,
    client: &Client,
    params: &Parameters,
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
    let now = ctx.clock.now();
    if ctx.stores.grants.consume_grant(&key, now).await?.is_none() {
        tracing::warn!(client_id = %client.client_id, sid = %data.session.session_id, "authorization code replayed; revoking its tokens");
        revoke_session_tokens(ctx, client, &data).await?;
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
    verify_pkce(data.code_challenge.as_deref(), params.get("code_verifier"))?;
    let user = ctx
        .stores
        .users
        .find_user_by_subject(&data.subject_id)
        .await?;
    if !user.is_some_and(|u| u.enabled) {
        return Err(invalid_grant("the user is no longer active"));
    }

    let granted = narrow_scopes(ctx, &data.scopes, None).await?;
    let (access_token, _) =
        issue_access_token(ctx, client, &data.subject_id, &granted, Some(&data.session)).await?;
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
        let family = RefreshTokenData::new_family(
            client,
            &data.subject_id,
            &data.session,
            &granted.scopes,
            now,
        );
        Some(issue_refresh_token(ctx, client, &family, now).await?)
    } else {
        None
    };
    tracing::info!(client_id = %client.client_id, sid = %data.session.session_id, "authorization code redeemed");
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: client.access_token_lifetime.as_secs(),
        scope: granted.joined(),
        id_token,
        refresh_token,
    })
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(code_verifier)) == code_challenge`. A verifier without a
/// challenge is refused too (RFC 9700 §2.1.1), so a downgrade cannot go unnoticed.
fn verify_pkce(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(invalid_grant(
            "code_verifier sent, but the authorization request had no code_challenge",
        )),
        (Some(_), None) => Err(invalid_grant("code_verifier is missing")),
        (Some(challenge), Some(verifier)) => {
            let well_formed = (43..=128).contains(&verifier.len())
                && verifier
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if well_formed
                && constant_time_eq(
                    b64url_encode(sha256(verifier)).as_bytes(),
                    challenge.as_bytes(),
                )
            {
                Ok(())
            } else {
                Err(invalid_grant(
                    "code_verifier does not match the code_challenge",
                ))
            }
        }
    }
}

/// Revokes the refresh and reference tokens of this client in this user session.
pub(crate) async fn revoke_session_tokens(
    ctx: &Context,
    client: &Client,
    data: &AuthorizationCodeData,
) -> Result<u64, OAuthError> {
    let filter = PersistedGrantFilter {
        subject_id: Some(data.subject_id.clone()),
        session_id: Some(data.session.session_id.clone()),
        client_id: Some(client.client_id.clone()),
        grant_types: Some(vec![
            grant_types::REFRESH_TOKEN.to_owned(),
            grant_types::REFERENCE_TOKEN.to_owned(),
        ]),
        ..PersistedGrantFilter::default()
    };
    Ok(ctx.stores.grants.remove_grants(&filter).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_accepts_the_rfc7636_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verify_pkce(Some(challenge), Some(verifier)).is_ok());
    }

    #[test]
    fn pkce_refuses_wrong_missing_and_unexpected_verifiers() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(
            verify_pkce(
                Some(challenge),
                Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX")
            )
            .is_err()
        );
        assert!(verify_pkce(Some(challenge), None).is_err());
        assert!(verify_pkce(None, Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).is_err());
        assert!(verify_pkce(Some(challenge), Some("short")).is_err());
    }
}
