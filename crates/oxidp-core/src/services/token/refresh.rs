//! The `refresh_token` grant (RFC 6749 §6).
//!
//! Refresh tokens are opaque 256-bit handles stored hashed, bound to the client and the user
//! session. A narrower `scope` is honoured, a wider one refused.
//!
//! One-time tokens rotate. The request is checked first (expiry, user, scope, session), then
//! one store operation ([`GrantStore::rotate_refresh_token`](crate::store::GrantStore::rotate_refresh_token))
//! consumes the token and stores its successor (and a reference access token) together, so a
//! database error, a timeout or a crash never leaves the client holding a used token without
//! its successor. The consumed token records its successor's key. Presenting it again:
//! - within the client's retry grace (`refresh_token_reuse_grace`) while the successor is
//!   unused: the client most likely never received the response, so it gets a fresh successor
//!   and the unused one is revoked;
//! - otherwise (after the grace, or once the successor was used): theft is the likely story,
//!   and the family is revoked (the client's refresh and reference tokens in that session).
//!
//! A request that loses a race with a concurrent rotation of the same token is refused without
//! revoking anything: the winner's response is on its way to the client.
//!
//! DPoP (RFC 9449 §5): a public client's refresh tokens are bound to the key of the proof the
//! family began with, and are refused without a proof of that key (before anything else, so a
//! thief without the key can neither use nor burn them). A confidential client's are not
//! bound (it authenticates); either way the new access token is bound to the key of the
//! refresh request's proof.

use super::super::Context;
use super::super::identity::OPENID;
use super::super::scopes::{GrantedScopes, narrow_scopes};
use super::{
    Confirmation, SessionInfo, TokenResponse, handle_key, issue_access_token, issue_id_token,
    mint_access_token, revoke_family,
};
use crate::clock::later;
use crate::error::{ErrorCode, OAuthError};
use crate::model::{
    Client, MAX_REFRESH_TOKEN_REUSE_GRACE, PersistedGrant, RefreshTokenExpiration,
    RefreshTokenRotation, RefreshTokenUsage, RotationStep, grant_types,
};
use crate::params::Parameters;
use oxidp_jose::random_token;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use time::OffsetDateTime;

/// What a refresh token stands for; shared by every token of one family, but for `successor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshTokenData {
    /// The user.
    pub subject_id: String,
    /// The session.
    pub session: SessionInfo,
    /// Scopes originally granted.
    pub scopes: Vec<String>,
    /// When the family began (the original authorization).
    #[serde(with = "time::serde::timestamp")]
    pub family_created: OffsetDateTime,
    /// The family's absolute end.
    #[serde(with = "time::serde::timestamp")]
    pub absolute_expiry: OffsetDateTime,
    /// On a consumed token only: the storage key of the token issued in its place, which a
    /// retry within the grace replaces. Tokens stored before this field existed have none, so
    /// presenting them again revokes the family, as it always did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<String>,
    /// The DPoP key thumbprint the family is bound to (public clients that began it with a
    /// proof); every use needs a proof of that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// A public client's family is bound to the certificate (`x5t#S256`) it was issued over
    /// (RFC 8705 §4): every refresh must present that certificate again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

impl RefreshTokenData {
    pub(crate) fn new_family(
        client: &Client,
        subject: &str,
        session: &SessionInfo,
        scopes: &[String],
        now: OffsetDateTime,
        jkt: Option<&str>,
    ) -> Self {
        // RFC 9449 §5: only a public client's refresh tokens are bound; a confidential
        // client proves itself by authenticating.
        let jkt = jkt.filter(|_| client.is_public()).map(str::to_owned);
        Self {
            jkt,
            subject_id: subject.to_owned(),
            session: session.clone(),
            scopes: scopes.to_vec(),
            family_created: now,
            absolute_expiry: later(now, client.absolute_refresh_token_lifetime),
            successor: None,
            cnf: None,
        }
    }

    fn expiry(&self, client: &Client, now: OffsetDateTime) -> OffsetDateTime {
        match client.refresh_token_expiration {
            RefreshTokenExpiration::Absolute => self.absolute_expiry,
            RefreshTokenExpiration::Sliding => {
                later(now, client.sliding_refresh_token_lifetime).min(self.absolute_expiry)
            }
        }
    }
}

pub(crate) fn refresh_key(handle: &str) -> String {
    handle_key(handle, grant_types::REFRESH_TOKEN)
}

fn invalid_grant(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, description)
}

/// A new refresh token of `family`: its handle, and the grant that stores it.
fn refresh_grant(
    client: &Client,
    family: &RefreshTokenData,
    now: OffsetDateTime,
) -> Result<(String, PersistedGrant), OAuthError> {
    let handle = random_token();
    let data = RefreshTokenData {
        successor: None,
        ..family.clone()
    };
    let grant = PersistedGrant {
        key: refresh_key(&handle),
        grant_type: grant_types::REFRESH_TOKEN.to_owned(),
        subject_id: Some(family.subject_id.clone()),
        session_id: Some(family.session.session_id.clone()),
        client_id: client.client_id.clone(),
        created: now,
        expires: Some(family.expiry(client, now)),
        consumed: None,
        data: serde_json::to_string(&data).map_err(|_| OAuthError::server_error())?,
    };
    Ok((handle, grant))
}

/// Stores a new refresh token of `family` and returns its handle.
pub(crate) async fn issue_refresh_token(
    ctx: &Context,
    client: &Client,
    family: &RefreshTokenData,
    now: OffsetDateTime,
) -> Result<String, OAuthError> {
    let (handle, grant) = refresh_grant(client, family, now)?;
    ctx.stores.grants.store_grant(&grant).await?;
    Ok(handle)
}

/// How long a rotated token of `client` may be presented again while its successor is unused:
/// the client's own setting, else the server's default, never above the bound.
fn reuse_grace(ctx: &Context, client: &Client) -> Duration {
    client
        .refresh_token_reuse_grace
        .unwrap_or(ctx.options.tokens.refresh_token_reuse_grace)
        .min(MAX_REFRESH_TOKEN_REUSE_GRACE)
}

/// Redeems a refresh token; `jkt` is the thumbprint of the request's DPoP proof key, if any.
pub(super) async fn redeem(
    ctx: &Context,
    client: &Client,
    params: &Parameters,
    jkt: Option<&str>,
    binding: Option<&Confirmation>,
) -> Result<TokenResponse, OAuthError> {
    let handle = params.require("refresh_token")?;
    let Some(grant) = ctx.stores.grants.get_grant(&refresh_key(handle)).await? else {
        return Err(invalid_grant("the refresh token is invalid"));
    };
    if grant.grant_type != grant_types::REFRESH_TOKEN || grant.client_id != client.client_id {
        return Err(invalid_grant("the refresh token is invalid"));
    }
    let family: RefreshTokenData = serde_json::from_str(&grant.data)
        .map_err(|_| invalid_grant("the refresh token is invalid"))?;
    if let Some(bound) = &family.jkt
        && jkt != Some(bound.as_str())
    {
        return Err(OAuthError::new(
            ErrorCode::InvalidDpopProof,
            "the refresh token is bound to a DPoP key; a proof with that key is required",
        ));
    }
    if client.refresh_token_usage == RefreshTokenUsage::ReUse {
        return reuse(ctx, client, params, handle, grant, &family, binding).await;
    }
    let rotated = match grant.consumed {
        None => {
            let now = ctx.clock.now();
            let granted = check(ctx, client, params, &grant, &family, now, binding).await?;
            let step = RotationStep::FirstUse { at: now };
            rotate(ctx, client, grant, &family, granted, step, binding).await?
        }
        Some(consumed) => {
            presented_again(ctx, client, params, grant, &family, consumed, binding).await?
        }
    };
    rotated.ok_or_else(|| {
        // Another request rotated the token between our read and our rotation: the same
        // client racing itself, whose winning response is on its way. Nothing is revoked.
        tracing::info!(client_id = %client.client_id, sid = %family.session.session_id, "refresh token rotated by a concurrent request");
        invalid_grant("the refresh token has already been used")
    })
}

/// A consumed one-time token presented again: a retry within the grace while its successor is
/// unused gets a fresh successor (the unused one revoked); anything else revokes the family.
async fn presented_again(
    ctx: &Context,
    client: &Client,
    params: &Parameters,
    grant: PersistedGrant,
    family: &RefreshTokenData,
    consumed: OffsetDateTime,
    binding: Option<&Confirmation>,
) -> Result<Option<TokenResponse>, OAuthError> {
    let now = ctx.clock.now();
    let grace = reuse_grace(ctx, client);
    let session_id = &family.session.session_id;
    if !grace.is_zero()
        && now <= later(consumed, grace)
        && let Some(successor) = &family.successor
    {
        let stored = ctx.stores.grants.get_grant(successor).await?;
        if stored.is_some_and(|s| s.consumed.is_none() && s.client_id == client.client_id) {
            let granted = check(ctx, client, params, &grant, family, now, binding).await?;
            let step = RotationStep::Retry {
                successor: successor.clone(),
            };
            let rotated = rotate(ctx, client, grant, family, granted, step, binding).await?;
            if rotated.is_some() {
                tracing::info!(client_id = %client.client_id, sid = %session_id, "rotated refresh token presented again within the grace; its unused successor was replaced");
            }
            return Ok(rotated);
        }
    }
    // Used before, and not a retry we can tell from theft: the whole family goes.
    let revoked = revoke_family(ctx, &client.client_id, &family.subject_id, session_id).await?;
    tracing::warn!(client_id = %client.client_id, sid = %session_id, revoked, "refresh token reused; family revoked");
    Err(invalid_grant("the refresh token has already been used"))
}

/// What must hold for `grant` to be honoured now, whatever its usage: not expired, the user
/// still active, the requested scope within the family's, the user session still there (for
/// a coordinated client, which extends it), and the certificate the family is bound to
/// presented again. Returns the scopes to grant.
async fn check(
    ctx: &Context,
    client: &Client,
    params: &Parameters,
    grant: &PersistedGrant,
    family: &RefreshTokenData,
    now: OffsetDateTime,
    binding: Option<&Confirmation>,
) -> Result<GrantedScopes, OAuthError> {
    if grant.is_expired(now) {
        return Err(invalid_grant("the refresh token has expired"));
    }
    if let Some(bound) = family.cnf.as_ref().and_then(|c| c.x5t_s256.as_deref())
        && binding.and_then(|b| b.x5t_s256.as_deref()) != Some(bound)
    {
        tracing::info!(client_id = %client.client_id, "refresh token presented without its certificate");
        return Err(invalid_grant(
            "the refresh token is bound to another client certificate",
        ));
    }
    let user = ctx
        .stores
        .users
        .find_user_by_subject(&family.subject_id)
        .await?;
    let Some(user) = user.filter(|u| u.enabled) else {
        return Err(invalid_grant("the user is no longer active"));
    };
    let granted = narrow_scopes(ctx, &family.scopes, params.get("scope"), &user).await?;
    if !super::super::coordination::validate_and_extend(
        ctx,
        client,
        &family.subject_id,
        &family.session.session_id,
    )
    .await?
    {
        return Err(invalid_grant("the user session has ended"));
    }
    Ok(granted)
}

/// Rotates `grant` as `step` says, issuing a successor and an access token in the same
/// transaction; `None` when a concurrent request rotated it first (nothing was stored).
async fn rotate(
    ctx: &Context,
    client: &Client,
    grant: PersistedGrant,
    family: &RefreshTokenData,
    granted: GrantedScopes,
    step: RotationStep,
    binding: Option<&Confirmation>,
) -> Result<Option<TokenResponse>, OAuthError> {
    let now = ctx.clock.now();
    let (handle, successor) = refresh_grant(client, family, now)?;
    let access = mint_access_token(
        ctx,
        client,
        &family.subject_id,
        &granted,
        Some(&family.session),
        binding,
    )
    .await?;
    let data = RefreshTokenData {
        successor: Some(successor.key.clone()),
        ..family.clone()
    };
    let rotation = RefreshTokenRotation {
        key: grant.key,
        data: serde_json::to_string(&data).map_err(|_| OAuthError::server_error())?,
        step,
        issue: std::iter::once(successor).chain(access.grant).collect(),
    };
    // Everything that can fail is done before the rotation commits, so that after it only
    // the response's way back can be lost (which the retry grace covers).
    let response = respond(
        ctx,
        client,
        family,
        granted,
        access.token,
        access.claims,
        handle,
    );
    let response = response.await?;
    let rotated = ctx.stores.grants.rotate_refresh_token(&rotation).await?;
    Ok(rotated.map(|_| response))
}

/// A reusable token: honoured as long as it is valid, slid when its expiration slides.
async fn reuse(
    ctx: &Context,
    client: &Client,
    params: &Parameters,
    handle: &str,
    grant: PersistedGrant,
    family: &RefreshTokenData,
    binding: Option<&Confirmation>,
) -> Result<TokenResponse, OAuthError> {
    if grant.consumed.is_some() {
        // Rotated while the client was one-time; a reusable client does not revive it.
        return Err(invalid_grant("the refresh token has already been used"));
    }
    let now = ctx.clock.now();
    let granted = check(ctx, client, params, &grant, family, now, binding).await?;
    if client.refresh_token_expiration == RefreshTokenExpiration::Sliding {
        let slid = PersistedGrant {
            expires: Some(family.expiry(client, now)),
            ..grant
        };
        ctx.stores.grants.store_grant(&slid).await?;
    }
    let (access_token, claims) = issue_access_token(
        ctx,
        client,
        &family.subject_id,
        &granted,
        Some(&family.session),
        binding,
    )
    .await?;
    respond(
        ctx,
        client,
        family,
        granted,
        access_token,
        claims,
        handle.to_owned(),
    )
    .await
}

/// The token response: the access token, an ID token when `openid` was granted, the refresh
/// token the client holds from now on.
async fn respond(
    ctx: &Context,
    client: &Client,
    family: &RefreshTokenData,
    granted: GrantedScopes,
    access_token: String,
    claims: super::AccessTokenClaims,
    refresh_token: String,
) -> Result<TokenResponse, OAuthError> {
    let id_token = if granted.contains(OPENID) {
        Some(
            issue_id_token(
                ctx,
                client,
                &family.subject_id,
                &family.session,
                None,
                Some(&access_token),
            )
            .await?,
        )
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        token_type: claims.token_type(),
        expires_in: client.access_token_lifetime.as_secs(),
        scope: granted.joined(),
        id_token,
        refresh_token: Some(refresh_token),
        dpop_nonce: None,
    })
}
