//! Validation of our own access tokens (JWT or reference), shared by introspection, userinfo
//! and the admin API: one place, so a revoked token is refused by all of them.

use super::Context;
use super::token::{AccessTokenClaims, reference_token_key};
use crate::certificates::thumbprint;
use crate::error::OAuthError;
use crate::model::grant_types;
use crate::request::PeerInfo;
use serde_json::Value;

/// The claims of `token` if it is one of our access tokens, valid now and not revoked; `None`
/// otherwise. A revoked reference token is gone from the store; a revoked JWT still verifies,
/// so its id is looked up in the revocation list.
pub(crate) async fn validate_access_token(
    ctx: &Context,
    token: &str,
) -> Result<Option<AccessTokenClaims>, OAuthError> {
    if !looks_like_jwt(token) {
        let claims = reference_claims(ctx, token).await?;
        return Ok(claims.filter(|claims| is_current(ctx, claims)));
    }
    let Some(claims) = current_jwt_claims(ctx, token).await? else {
        return Ok(None);
    };
    if ctx
        .stores
        .revoked_tokens
        .find_revoked_token_id(&claims.jti)
        .await?
        .is_some()
    {
        tracing::debug!(client_id = %claims.client_id, "revoked JWT access token refused");
        return Ok(None);
    }
    Ok(Some(claims))
}

/// The claims of `token` if it is one of our JWT access tokens (signature, `typ`, issuer) and
/// valid now, whether or not it was revoked.
pub(crate) async fn current_jwt_claims(
    ctx: &Context,
    token: &str,
) -> Result<Option<AccessTokenClaims>, OAuthError> {
    let claims = jwt_claims(ctx, token).await?;
    Ok(claims.filter(|claims| is_current(ctx, claims)))
}

async fn jwt_claims(ctx: &Context, token: &str) -> Result<Option<AccessTokenClaims>, OAuthError> {
    let Some(header) = jwt_header(token) else {
        return Ok(None);
    };
    if header.get("typ").and_then(Value::as_str) != Some("at+jwt") {
        return Ok(None);
    }
    let verifier = ctx.keys.verifier().await.map_err(|error| {
        tracing::error!(%error, "keys unavailable for token validation");
        OAuthError::server_error()
    })?;
    let Ok(raw) = verifier.verify(token) else {
        return Ok(None);
    };
    Ok(serde_json::from_value::<AccessTokenClaims>(Value::Object(raw)).ok())
}

async fn reference_claims(
    ctx: &Context,
    token: &str,
) -> Result<Option<AccessTokenClaims>, OAuthError> {
    let Some(grant) = ctx
        .stores
        .grants
        .get_grant(&reference_token_key(token))
        .await?
    else {
        return Ok(None);
    };
    if grant.grant_type != grant_types::REFERENCE_TOKEN || grant.is_expired(ctx.clock.now()) {
        return Ok(None);
    }
    Ok(serde_json::from_str::<AccessTokenClaims>(&grant.data).ok())
}

fn is_current(ctx: &Context, claims: &AccessTokenClaims) -> bool {
    let now = ctx.clock.now().unix_timestamp();
    let skew = ctx.options.clock_skew.as_secs() as i64;
    claims.iss == ctx.options.issuer && now < claims.exp && claims.nbf - skew <= now
}

/// RFC 8705 §3: whether the connection `peer` may use a token with these claims. A token bound
/// to a certificate (`cnf["x5t#S256"]`) is honoured only over a connection that presented
/// that certificate (directly, or through a trusted proxy); an unbound token anywhere.
pub(crate) fn certificate_confirmed(claims: &AccessTokenClaims, peer: &PeerInfo) -> bool {
    let Some(bound) = claims.cnf.as_ref().and_then(|c| c.x5t_s256.as_deref()) else {
        return true;
    };
    peer.client_certificate().is_some_and(|leaf| {
        oxidp_jose::constant_time_eq(thumbprint(leaf).as_bytes(), bound.as_bytes())
    })
}

/// Whether `token` has the shape of a compact JWS.
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

/// The decoded header of a compact JWS, unverified.
pub(crate) fn jwt_header(token: &str) -> Option<Value> {
    let header = token.split('.').next()?;
    serde_json::from_slice(&oxidp_jose::b64url_decode(header)?).ok()
}
