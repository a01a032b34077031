//! Session coordination: the tokens of a coordinated client live and die with the user
//! session they came from. Using them (refresh, userinfo, introspection) slides the session;
//! once it is gone, they stop working.

use super::Context;
use crate::model::{Client, SessionFilter};
use crate::store::StoreError;
use std::sync::Arc;

/// Checks and extends the user sessions behind coordinated clients' tokens.
#[derive(Debug)]
pub struct SessionCoordinationService {
    ctx: Arc<Context>,
}

impl SessionCoordinationService {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Whether `client`'s token lifetimes follow the user session.
    pub fn is_coordinated(&self, client: &Client) -> bool {
        is_coordinated(&self.ctx, client)
    }

    /// For a coordinated client: whether the session `sid` of `sub` is alive, sliding it
    /// (renewed = now, expires = now + its window) when half its window has passed, as browser
    /// requests do. A session without
    /// expiry is always alive. Uncoordinated clients always pass.
    pub async fn validate_and_extend(
        &self,
        client: &Client,
        subject_id: &str,
        session_id: &str,
    ) -> Result<bool, StoreError> {
        validate_and_extend(&self.ctx, client, subject_id, session_id).await
    }
}

/// Whether `client`'s token lifetimes follow the user session (only meaningful with server-side
/// sessions, which are the only way to know that a session is gone).
pub(crate) fn is_coordinated(ctx: &Context, client: &Client) -> bool {
    ctx.options.server_side_sessions.enabled
        && client.coordinate_lifetime_with_user_session.unwrap_or(
            ctx.options
                .authentication
                .coordinate_client_lifetimes_with_user_session,
        )
}

/// See [`SessionCoordinationService::validate_and_extend`].
pub(crate) async fn validate_and_extend(
    ctx: &Context,
    client: &Client,
    subject_id: &str,
    session_id: &str,
) -> Result<bool, StoreError> {
    {
        if !is_coordinated(ctx, client) {
            return Ok(true);
        }
        let filter = SessionFilter {
            subject_id: Some(subject_id.to_owned()),
            session_id: Some(session_id.to_owned()),
        };
        let sessions = ctx.stores.sessions.get_sessions(&filter).await?;
        let now = ctx.clock.now();
        let Some(session) = sessions.into_iter().find(|s| !s.is_expired(now)) else {
            tracing::info!(client_id = %client.client_id, sid = %session_id, "user session gone; coordinated token refused");
            return Ok(false);
        };
        // The browser's renewal rule: one write per half window, not one per token use.
        if let Some(expires) = session.slid_expiry(now) {
            ctx.stores
                .sessions
                .touch_session(&session.key, now, Some(expires))
                .await?;
        }
        Ok(true)
    }
}
