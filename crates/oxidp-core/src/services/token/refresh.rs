//! The `refresh_token` grant (RFC 6749 §6).
//!
//! Refresh tokens are opaque 256-bit handles stored hashed, bound to the client and the user
//! session. One-time tokens rotate: each use consumes the token atomically and returns a
//! successor; presenting a consumed token again is taken as theft and revokes the family (the
//! client's refresh and reference tokens in that session). A narrower `scope` is honoured, a
//! wider one refused.

use super::super::Context;
use super::super::identity::OPENID;
use super::super::scopes::narrow_scopes;
use super::{
    SessionInfo, TokenResponse, handle_key, issue_access_token, issue_id_token, revoke_family,
};
use crate::clock::later;
use crate::error::{ErrorCode, OAuthError};
use crate::model::{
    Client, PersistedGrant, RefreshTokenExpiration, RefreshTokenUsage, grant_types,
};
use crate::params::Parameters;
use oxidp_jose::random_token;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What a refresh token stands for; shared by every token of one family.
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
}

impl RefreshTokenData {
    pub(crate) fn new_family(
        client: &Client,
        subject: &str,
        session: &SessionInfo,
        scopes: &[String],
        now: OffsetDateTime,
    ) -> Self {
        Self {
            subject_id: subject.to_owned(),
            session: session.clone(),
            scopes: scopes.to_vec(),
            family_created: now,
            absolute_expiry: later(now, client.absolute_refresh_token_lifetime),
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

/// Stores a new refresh token of `family` and returns its handle.
pub(crate) async fn issue_refresh_token(
    ctx: &Context,
    client: &Client,
    family: &RefreshTokenData,
    now: OffsetDateTime,
) -> Result<String, OAuthError> {
    let handle = random_token();
    let grant = PersistedGrant {
        key: refresh_key(&handle),
        grant_type: grant_types::REFRESH_TOKEN.to_owned(),
        subject_id: Some(family.subject_id.clone()),
        session_id: Some(family.session.session_id.clone()),
        client_id: client.client_id.clone(),
        created: now,
        expires: Some(family.expiry(client, now)),
        consumed: None,
        data: serde_json::to_string(family).map_err(|_| OAuthError::server_error())?,
    };
    ctx.stores.grants.store_grant(&grant).await?;
    Ok(handle)
}

pub(super) async fn redeem(
    ctx: &Context,
    client: &Client,
    params: &Parameters,
) -> Result<TokenResponse, OAuthError> {
    let handle = params.require("refresh_token")?;
    let key = refresh_key(handle);
    let now = ctx.clock.now();
    let one_time = client.refresh_token_usage == RefreshTokenUsage::OneTime;
    // A one-time token is claimed in the same statement that reads it (the hot path needs one
    // round trip, not two); what follows may still refuse it.
    let claimed = if one_time {
        ctx.stores.grants.consume_grant(&key, now).await?
    } else {
        None
    };
    let grant = match claimed {
        Some(grant) => grant,
        None => {
            let Some(grant) = ctx.stores.grants.get_grant(&key).await? else {
                return Err(invalid_grant("the refresh token is invalid"));
            };
            if one_time
                && grant.grant_type == grant_types::REFRESH_TOKEN
                && grant.client_id == client.client_id
            {
                // It exists, is ours, and could not be claimed: it was used before. Theft is
                // the likely story: the whole family goes.
                if let Ok(family) = serde_json::from_str::<RefreshTokenData>(&grant.data) {
                    let session_id = &family.session.session_id;
                    let revoked =
                        revoke_family(ctx, &client.client_id, &family.subject_id, session_id)
                            .await?;
                    tracing::warn!(client_id = %client.client_id, sid = %session_id, revoked, "refresh token reused; family revoked");
                }
                return Err(invalid_grant("the refresh token has already been used"));
            }
            grant
        }
    };
    if grant.grant_type != grant_types::REFRESH_TOKEN || grant.client_id != client.client_id {
        return Err(invalid_grant("the refresh token is invalid"));
    }
    let family: RefreshTokenData = serde_json::from_str(&grant.data)
        .map_err(|_| invalid_grant("the refresh token is invalid"))?;
    if grant.is_expired(now) {
        return Err(invalid_grant("the refresh token has expired"));
    }
    let user = ctx
        .stores
        .users
        .find_user_by_subject(&family.subject_id)
        .await?;
    let Some(user) = user.filter(|u| u.enabled) else {
        return Err(invalid_grant("the user is no longer active"));
    };
    let granted = match narrow_scopes(ctx, &family.scopes, params.get("scope"), &user).await {
        Ok(granted) => granted,
        Err(error) => {
            // A malformed request must not cost the client its token: hand the claim back.
            if one_time {
                ctx.stores
                    .grants
                    .store_grant(&PersistedGrant {
                        consumed: None,
                        ..grant
                    })
                    .await?;
            }
            return Err(error);
        }
    };
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

    let refresh_token = if one_time {
        issue_refresh_token(ctx, client, &family, now).await?
    } else {
        if client.refresh_token_expiration == RefreshTokenExpiration::Sliding {
            let slid = PersistedGrant {
                expires: Some(family.expiry(client, now)),
                ..grant
            };
            ctx.stores.grants.store_grant(&slid).await?;
        }
        handle.to_owned()
    };
    let (access_token, claims) = issue_access_token(
        ctx,
        client,
        &family.subject_id,
        &granted,
        Some(&family.session),
    )
    .await?;
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
    })
}
