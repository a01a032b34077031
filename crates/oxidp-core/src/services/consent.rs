//! Remembered consent: one grant per user and client, holding the scopes the user approved.
//! Consent is per user and client, not per session.

use super::Context;
use super::token::handle_key;
use crate::error::OAuthError;
use crate::model::{PersistedGrant, grant_types};
use std::sync::Arc;

fn consent_key(subject_id: &str, client_id: &str) -> String {
    handle_key(
        &format!("{subject_id}:{client_id}"),
        grant_types::USER_CONSENT,
    )
}

/// The scopes `subject_id` has remembered consenting to for `client_id`.
pub(crate) async fn remembered_scopes(
    ctx: &Context,
    subject_id: &str,
    client_id: &str,
) -> Result<Option<Vec<String>>, OAuthError> {
    let Some(grant) = ctx
        .stores
        .grants
        .get_grant(&consent_key(subject_id, client_id))
        .await?
    else {
        return Ok(None);
    };
    if grant.grant_type != grant_types::USER_CONSENT || grant.is_expired(ctx.clock.now()) {
        return Ok(None);
    }
    Ok(serde_json::from_str(&grant.data).ok())
}

/// Records and reads consent decisions.
#[derive(Debug)]
pub struct ConsentService {
    ctx: Arc<Context>,
}

impl ConsentService {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Remembers that `subject_id` approved `scopes` for `client_id` (replacing what was there).
    pub async fn remember(
        &self,
        subject_id: &str,
        client_id: &str,
        scopes: &[String],
    ) -> Result<(), OAuthError> {
        let grant = PersistedGrant {
            key: consent_key(subject_id, client_id),
            grant_type: grant_types::USER_CONSENT.to_owned(),
            subject_id: Some(subject_id.to_owned()),
            session_id: None,
            client_id: client_id.to_owned(),
            created: self.ctx.clock.now(),
            expires: None,
            consumed: None,
            data: serde_json::to_string(scopes).map_err(|_| OAuthError::server_error())?,
        };
        self.ctx.stores.grants.store_grant(&grant).await?;
        tracing::info!(%subject_id, %client_id, "consent remembered");
        Ok(())
    }

    /// The remembered scopes, if any.
    pub async fn remembered(
        &self,
        subject_id: &str,
        client_id: &str,
    ) -> Result<Option<Vec<String>>, OAuthError> {
        remembered_scopes(&self.ctx, subject_id, client_id).await
    }
}
