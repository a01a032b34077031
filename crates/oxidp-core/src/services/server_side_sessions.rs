//! The server-side [`TicketStore`]: the cookie carries a 256-bit random key; the ticket lives,
//! encrypted, in a [`ServerSideSession`] with plaintext columns to find and expire it.
//!
//! The record's key is a hash of the cookie value, never the value itself, so a copy of the
//! database (or a paging token naming a row) yields no usable cookie. The `renewed` and
//! `expires` columns are authoritative: a ticket read back takes its issue and expiry instants
//! from them, so extending a session is a column update ([`TicketStore::extend`]), not a
//! re-encryption.

use super::session::{SessionError, TicketStore};
use crate::keys::DataProtector;
use crate::model::{AuthenticationTicket, ServerSideSession};
use crate::store::SessionStore;
use async_trait::async_trait;
use oxidp_jose::{b64url_encode, random_token, sha256};
use std::sync::Arc;

/// Purpose of the data-protection envelope of a stored ticket.
const PURPOSE: &str = "oxidp.server-side-session.v1";

/// The scheme recorded for the identity server's own cookie.
pub const SCHEME: &str = "oxidp";

/// The stored key of a cookie value.
pub(crate) fn row_key(cookie_value: &str) -> String {
    b64url_encode(sha256(cookie_value))
}

/// Whether a cookie value has the shape of a session key (256 bits, base64url). A
/// self-contained cookie never has it: its envelope alone is longer than 32 bytes.
pub(crate) fn is_session_key(cookie_value: &str) -> bool {
    cookie_value.len() == 43
        && oxidp_jose::b64url_decode(cookie_value).is_some_and(|b| b.len() == 32)
}

/// Tickets in a [`SessionStore`].
#[derive(Clone)]
pub struct ServerSideTicketStore {
    sessions: Arc<dyn SessionStore>,
    protector: Arc<DataProtector>,
    display_name_claim: Option<String>,
}

impl std::fmt::Debug for ServerSideTicketStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSideTicketStore")
            .field("display_name_claim", &self.display_name_claim)
            .finish_non_exhaustive()
    }
}

impl ServerSideTicketStore {
    /// Tickets in `sessions`, encrypted with `protector`; `display_name_claim` chooses the
    /// claim indexed as display name.
    pub fn new(
        sessions: Arc<dyn SessionStore>,
        protector: Arc<DataProtector>,
        display_name_claim: Option<String>,
    ) -> Self {
        Self {
            sessions,
            protector,
            display_name_claim,
        }
    }

    async fn record(
        &self,
        key: &str,
        ticket: &AuthenticationTicket,
        created: time::OffsetDateTime,
    ) -> Result<ServerSideSession, SessionError> {
        let json = serde_json::to_vec(ticket).map_err(|_| SessionError::Protection)?;
        let sealed = self
            .protector
            .protect(PURPOSE, &json)
            .await
            .map_err(|_| SessionError::Protection)?;
        let display_name = self
            .display_name_claim
            .as_ref()
            .and_then(|claim| ticket.claims.get(claim))
            .and_then(|value| value.as_str())
            .map(str::to_owned);
        Ok(ServerSideSession {
            key: key.to_owned(),
            scheme: SCHEME.to_owned(),
            subject_id: ticket.subject_id.clone(),
            session_id: ticket.session_id.clone(),
            display_name,
            created,
            renewed: ticket.issued,
            expires: Some(ticket.expires),
            ticket: sealed,
        })
    }

    /// Creates the record of `ticket` under the key of `cookie_value`, created at `created`.
    /// A record already under that key is [`StoreError::Conflict`](crate::store::StoreError).
    pub(crate) async fn create(
        &self,
        cookie_value: &str,
        ticket: &AuthenticationTicket,
        created: time::OffsetDateTime,
    ) -> Result<(), SessionError> {
        let record = self.record(&row_key(cookie_value), ticket, created).await?;
        self.sessions.create_session(&record).await?;
        Ok(())
    }

    /// The ticket inside a stored session, with issue and expiry instants from its columns;
    /// `None` when it cannot be decrypted or read.
    pub async fn open(&self, session: &ServerSideSession) -> Option<AuthenticationTicket> {
        let json = self
            .protector
            .unprotect(PURPOSE, &session.ticket)
            .await
            .ok()?;
        let mut ticket: AuthenticationTicket = serde_json::from_slice(&json).ok()?;
        ticket.issued = session.renewed;
        // A session without expiry never expires: represent it as the far future.
        ticket.expires = session
            .expires
            .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc());
        Some(ticket)
    }
}

#[async_trait]
impl TicketStore for ServerSideTicketStore {
    async fn store(&self, ticket: &AuthenticationTicket) -> Result<String, SessionError> {
        let cookie_value = random_token();
        let record = self
            .record(&row_key(&cookie_value), ticket, ticket.issued)
            .await?;
        self.sessions.create_session(&record).await?;
        metrics::counter!("oxidp_sessions_created_total").increment(1);
        tracing::debug!(sid = %ticket.session_id, "server-side session created");
        Ok(cookie_value)
    }

    async fn retrieve(
        &self,
        cookie_value: &str,
    ) -> Result<Option<AuthenticationTicket>, SessionError> {
        let key = row_key(cookie_value);
        let Some(session) = self.sessions.get_session(&key).await? else {
            return Ok(None);
        };
        match self.open(&session).await {
            Some(ticket) => Ok(Some(ticket)),
            None => {
                // A ticket no key can open (tampered, or its key retired) is a dead session.
                tracing::warn!(sid = %session.session_id, "unreadable server-side session deleted");
                self.sessions.delete_session(&key).await?;
                Ok(None)
            }
        }
    }

    async fn renew(
        &self,
        cookie_value: &str,
        ticket: &AuthenticationTicket,
    ) -> Result<String, SessionError> {
        let key = row_key(cookie_value);
        let existing = self.sessions.get_session(&key).await?;
        let created = existing
            .as_ref()
            .map_or(ticket.issued, |session| session.created);
        let record = self.record(&key, ticket, created).await?;
        if existing.is_some() {
            self.sessions.update_session(&record).await?;
        } else {
            // Signing in again over a cookie whose record is gone (expired, removed): the
            // sign-in recreates it under the same key.
            self.sessions.create_session(&record).await?;
        }
        Ok(cookie_value.to_owned())
    }

    async fn update(
        &self,
        cookie_value: &str,
        ticket: &AuthenticationTicket,
    ) -> Result<Option<String>, SessionError> {
        let key = row_key(cookie_value);
        let Some(existing) = self.sessions.get_session(&key).await? else {
            return Ok(None);
        };
        let record = self.record(&key, ticket, existing.created).await?;
        Ok(self
            .sessions
            .update_session(&record)
            .await?
            .then(|| cookie_value.to_owned()))
    }

    async fn extend(
        &self,
        cookie_value: &str,
        ticket: &AuthenticationTicket,
    ) -> Result<Option<String>, SessionError> {
        let touched = self
            .sessions
            .touch_session(&row_key(cookie_value), ticket.issued, Some(ticket.expires))
            .await?;
        Ok(touched.then(|| cookie_value.to_owned()))
    }

    async fn remove(&self, cookie_value: &str) -> Result<(), SessionError> {
        self.sessions.delete_session(&row_key(cookie_value)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::model::User;
    use crate::options::AuthenticationOptions;
    use crate::services::session::SessionService;
    use crate::store::MemoryStore;
    use std::time::Duration;

    fn service(
        store: &Arc<MemoryStore>,
        clock: &Arc<ManualClock>,
        sliding: bool,
    ) -> SessionService {
        let protector = Arc::new(DataProtector::new(
            store.clone(),
            clock.clone(),
            Duration::from_secs(86_400),
            Duration::from_secs(60),
        ));
        let tickets = Arc::new(ServerSideTicketStore::new(store.clone(), protector, None));
        let options = AuthenticationOptions {
            cookie_lifetime: Duration::from_secs(3600),
            cookie_sliding_expiration: sliding,
            ..Default::default()
        };
        SessionService::new(
            tickets,
            store.clone(),
            clock.clone(),
            options,
            "https://idp.test".into(),
        )
    }

    fn alice(clock: &ManualClock) -> User {
        use crate::clock::Clock;
        User {
            subject_id: "alice".into(),
            username: "alice".into(),
            password_hash: None,
            claims: Default::default(),
            enabled: true,
            roles: vec![],
            created: clock.now(),
        }
    }

    #[tokio::test]
    async fn a_session_removed_elsewhere_is_not_recreated_by_a_client_update_or_a_renewal() {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(ManualClock::starting_now());
        let sessions = service(&store, &clock, true);
        let (mut ticket, cookie) = sessions
            .sign_in(&alice(&clock), &["pwd"], "local", None)
            .await
            .unwrap();
        assert_eq!(ticket.issuer.as_deref(), Some("https://idp.test"));
        store.delete_session(&row_key(&cookie)).await.unwrap();
        assert!(matches!(
            sessions.add_client(&cookie, &mut ticket, "web").await,
            Err(SessionError::Ended)
        ));
        assert!(
            store
                .get_session(&row_key(&cookie))
                .await
                .unwrap()
                .is_none()
        );
        clock.advance(time::Duration::minutes(40));
        assert!(sessions.authenticate(&cookie).await.unwrap().is_none());
        assert!(
            store
                .get_session(&row_key(&cookie))
                .await
                .unwrap()
                .is_none(),
            "not recreated"
        );
    }

    #[tokio::test]
    async fn the_stored_key_is_a_hash_of_the_cookie_value() {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(ManualClock::starting_now());
        let sessions = service(&store, &clock, false);
        let (_, cookie) = sessions
            .sign_in(&alice(&clock), &["pwd"], "local", None)
            .await
            .unwrap();
        assert!(store.get_session(&cookie).await.unwrap().is_none());
        assert!(
            store
                .get_session(&row_key(&cookie))
                .await
                .unwrap()
                .is_some()
        );
    }
}
