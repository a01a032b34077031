//! The browser session behind the authentication cookie.
//!
//! Everything about the cookie goes through one abstraction, [`TicketStore`]: a ticket goes
//! in, an opaque cookie value comes out, and back. [`SelfContainedTicketStore`] encrypts the
//! whole ticket into the cookie with the data-protection key ring; server-side sessions
//! ([`ServerSideTicketStore`](super::ServerSideTicketStore)) keep it in the store and put only
//! a key in the cookie.

use crate::clock::Clock;
use crate::keys::DataProtector;
use crate::model::{AuthenticationTicket, PersistedGrantFilter, User, grant_types};
use crate::options::AuthenticationOptions;
use crate::store::{GrantStore, StoreError};
use async_trait::async_trait;
use oxidp_jose::{b64url_decode, b64url_encode, random_bytes};
use std::sync::Arc;
use time::OffsetDateTime;

/// Purpose of the data-protection envelope of a self-contained ticket.
const TICKET_PURPOSE: &str = "oxidp.auth-ticket.v1";

/// Errors of the ticket store.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The ticket could not be protected.
    #[error("the ticket could not be protected")]
    Protection,
    /// The session ended meanwhile (logged out or revoked elsewhere).
    #[error("the session has ended")]
    Ended,
}

/// Where authentication tickets live; the cookie carries what [`TicketStore::store`] returns.
#[async_trait]
pub trait TicketStore: Send + Sync + std::fmt::Debug {
    /// Stores a new ticket; returns the cookie value.
    async fn store(&self, ticket: &AuthenticationTicket) -> Result<String, SessionError>;
    /// The ticket for a cookie value; `None` when unknown, tampered with or unreadable.
    async fn retrieve(
        &self,
        cookie_value: &str,
    ) -> Result<Option<AuthenticationTicket>, SessionError>;
    /// Replaces the ticket behind a cookie value; returns the (possibly new) cookie value.
    async fn renew(
        &self,
        cookie_value: &str,
        ticket: &AuthenticationTicket,
    ) -> Result<String, SessionError>;
    /// Replaces the ticket of a live session (its content changed, e.g. the client list);
    /// returns the cookie value, or `None` when the session no longer exists (it is then not
    /// recreated: a logged-out or revoked session stays ended).
    async fn update(
        &self,
        cookie_value: &str,
        ticket: &AuthenticationTicket,
    ) -> Result<Option<String>, SessionError> {
        self.renew(cookie_value, ticket).await.map(Some)
    }
    /// Extends a live session whose content is unchanged (only `issued` and `expires` moved);
    /// `None` when it no longer exists. Stores that can update those two alone override this.
    async fn extend(
        &self,
        cookie_value: &str,
        ticket: &AuthenticationTicket,
    ) -> Result<Option<String>, SessionError> {
        self.update(cookie_value, ticket).await
    }
    /// Forgets the ticket behind a cookie value.
    async fn remove(&self, cookie_value: &str) -> Result<(), SessionError>;
}

/// The whole ticket, encrypted, in the cookie.
#[derive(Debug)]
pub struct SelfContainedTicketStore {
    protector: Arc<DataProtector>,
}

impl SelfContainedTicketStore {
    /// A store that encrypts with `protector`.
    pub fn new(protector: Arc<DataProtector>) -> Self {
        Self { protector }
    }
}

#[async_trait]
impl TicketStore for SelfContainedTicketStore {
    async fn store(&self, ticket: &AuthenticationTicket) -> Result<String, SessionError> {
        let json = serde_json::to_vec(ticket).map_err(|_| SessionError::Protection)?;
        let sealed = self
            .protector
            .protect(TICKET_PURPOSE, &json)
            .await
            .map_err(|_| SessionError::Protection)?;
        Ok(b64url_encode(sealed))
    }

    async fn retrieve(
        &self,
        cookie_value: &str,
    ) -> Result<Option<AuthenticationTicket>, SessionError> {
        let Some(sealed) = b64url_decode(cookie_value) else {
            return Ok(None);
        };
        let Ok(json) = self.protector.unprotect(TICKET_PURPOSE, &sealed).await else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&json).ok())
    }

    async fn renew(
        &self,
        _cookie_value: &str,
        ticket: &AuthenticationTicket,
    ) -> Result<String, SessionError> {
        self.store(ticket).await
    }

    async fn remove(&self, _cookie_value: &str) -> Result<(), SessionError> {
        // Nothing is kept server-side; deleting the cookie is all there is.
        Ok(())
    }
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The ticket.
    pub ticket: AuthenticationTicket,
    /// A new cookie value to send when the cookie changed (sliding renewal, or a session
    /// migration that converted the cookie presented), else `None`.
    pub renewed_cookie: Option<String>,
}

/// Signs browsers in and out and reads their sessions.
pub struct SessionService {
    tickets: Arc<dyn TicketStore>,
    grants: Arc<dyn GrantStore>,
    clock: Arc<dyn Clock>,
    options: AuthenticationOptions,
    issuer: String,
    expiration: Option<Arc<super::ExpiredSessionCleanup>>,
    migration: Option<Arc<super::SessionMigrationService>>,
}

impl std::fmt::Debug for SessionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService")
            .field("tickets", &self.tickets)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl SessionService {
    /// A session service over a ticket store; `grants` are revoked when another user signs in
    /// over a session.
    pub fn new(
        tickets: Arc<dyn TicketStore>,
        grants: Arc<dyn GrantStore>,
        clock: Arc<dyn Clock>,
        options: AuthenticationOptions,
        issuer: String,
    ) -> Self {
        Self {
            tickets,
            grants,
            clock,
            options,
            issuer,
            expiration: None,
            migration: None,
        }
    }

    /// Converts a cookie issued under the other setting of server-side sessions before reading
    /// it (see [`SessionMigrationService`](super::SessionMigrationService)); the converted value
    /// comes back as [`Authenticated::renewed_cookie`].
    pub fn with_migration(mut self, migration: Arc<super::SessionMigrationService>) -> Self {
        self.migration = Some(migration);
        self
    }

    /// Ends an expired server-side session met by a request as the cleanup job would (revoking
    /// coordinated clients' tokens, notifying its clients), instead of just deleting it.
    pub fn with_expiration(mut self, expiration: Arc<super::ExpiredSessionCleanup>) -> Self {
        self.expiration = Some(expiration);
        self
    }

    fn lifetime(&self) -> time::Duration {
        crate::clock::capped(self.options.cookie_lifetime)
    }

    /// Signs `user` in over the browser's previous session, if any (its cookie value and
    /// ticket). Every sign-in gets a new cookie value (server-side: a new key), so a cookie
    /// stolen before a forced re-login does not survive it (OWASP ASVS 3.2.1). The same user
    /// signing in again keeps the session id and the client list; another user gets a new
    /// session id, and the previous user's grants of that session are revoked.
    pub async fn sign_in(
        &self,
        user: &User,
        amr: &[&str],
        idp: &str,
        previous: Option<(&str, &AuthenticationTicket)>,
    ) -> Result<(AuthenticationTicket, String), SessionError> {
        let now = self.clock.now();
        let same_user = previous.filter(|(_, p)| p.subject_id == user.subject_id);
        if let Some((_, prior)) = previous.filter(|(_, p)| p.subject_id != user.subject_id) {
            let revoked = revoke_session_grants(&*self.grants, prior).await?;
            tracing::info!(sid = %prior.session_id, revoked, "another user signed in over a session; its grants are revoked");
        }
        let ticket = AuthenticationTicket {
            subject_id: user.subject_id.clone(),
            session_id: same_user.map_or_else(new_session_id, |(_, p)| p.session_id.clone()),
            auth_time: now,
            idp: idp.to_owned(),
            amr: amr.iter().map(|a| (*a).to_owned()).collect(),
            client_ids: same_user
                .map(|(_, p)| p.client_ids.clone())
                .unwrap_or_default(),
            issued: now,
            expires: now + self.lifetime(),
            claims: user.claims.clone(),
            issuer: Some(self.issuer.clone()),
        };
        // Never the previous key: whoever kept a copy of the old cookie must find nothing
        // behind it. The new session is stored before the old one goes, so a failure in
        // between leaves the user signed in rather than out.
        let cookie = self.tickets.store(&ticket).await?;
        if let Some((previous_cookie, _)) = previous {
            self.tickets.remove(previous_cookie).await?;
        }
        tracing::info!(subject_id = %ticket.subject_id, sid = %ticket.session_id, "signed in");
        Ok((ticket, cookie))
    }

    /// The session of a cookie value, if valid now. An expired session met this way is
    /// removed. With sliding expiration the session is extended at most once per half
    /// lifetime, never on every request.
    pub async fn authenticate(
        &self,
        cookie_value: &str,
    ) -> Result<Option<Authenticated>, SessionError> {
        let migrated = match &self.migration {
            Some(migration) => match migration.migrate(cookie_value).await? {
                super::Migration::Replaced(value) => Some(value),
                super::Migration::Unchanged => None,
            },
            None => None,
        };
        let current = migrated.as_deref().unwrap_or(cookie_value);
        let Some(mut authenticated) = self.read(current).await? else {
            return Ok(None);
        };
        if authenticated.renewed_cookie.is_none() {
            authenticated.renewed_cookie = migrated;
        }
        Ok(Some(authenticated))
    }

    /// The session behind a cookie of the current kind, renewed when it slides.
    async fn read(&self, cookie_value: &str) -> Result<Option<Authenticated>, SessionError> {
        let Some(mut ticket) = self.tickets.retrieve(cookie_value).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        if ticket.expires <= now {
            if let Some(expiration) = &self.expiration {
                expiration
                    .expire_on_sight(cookie_value)
                    .await
                    .map_err(|error| match error {
                        super::SessionManagementError::Store(error) => SessionError::Store(error),
                        _ => SessionError::Protection,
                    })?;
            }
            // Without server-side processing, or if the job got there first: just delete.
            self.tickets.remove(cookie_value).await?;
            return Ok(None);
        }
        let mut renewed_cookie = None;
        if self.options.cookie_sliding_expiration
            && crate::model::renewal_due(ticket.issued, self.lifetime(), now)
        {
            ticket.issued = now;
            ticket.expires = now + self.lifetime();
            match self.tickets.extend(cookie_value, &ticket).await? {
                Some(cookie) => renewed_cookie = Some(cookie),
                None => return Ok(None),
            }
        }
        Ok(Some(Authenticated {
            ticket,
            renewed_cookie,
        }))
    }

    /// Records that `client_id` used the session; returns the new cookie value when it changed.
    pub async fn add_client(
        &self,
        cookie_value: &str,
        ticket: &mut AuthenticationTicket,
        client_id: &str,
    ) -> Result<Option<String>, SessionError> {
        if !ticket.add_client(client_id) {
            return Ok(None);
        }
        match self.tickets.update(cookie_value, ticket).await? {
            Some(cookie) => Ok(Some(cookie)),
            None => Err(SessionError::Ended),
        }
    }

    /// Ends the session behind a cookie value.
    pub async fn sign_out(&self, cookie_value: &str) -> Result<(), SessionError> {
        self.tickets.remove(cookie_value).await
    }

    /// Seconds until the ticket expires (the cookie's `Max-Age`).
    pub fn max_age(&self, ticket: &AuthenticationTicket) -> i64 {
        (ticket.expires - self.clock.now())
            .whole_seconds()
            .clamp(0, i64::from(i32::MAX))
    }

    /// The current instant, from the injected clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}

/// A new session id: 128 random bits.
fn new_session_id() -> String {
    b64url_encode(random_bytes::<16>())
}

/// Revokes every grant that ends with a session (see [`grant_types::SESSION_BOUND`]):
/// refresh tokens, reference tokens, codes and pending CIBA requests.
pub(crate) async fn revoke_session_grants(
    grants: &dyn GrantStore,
    ticket: &AuthenticationTicket,
) -> Result<u64, StoreError> {
    let filter = PersistedGrantFilter {
        subject_id: Some(ticket.subject_id.clone()),
        session_id: Some(ticket.session_id.clone()),
        grant_types: Some(
            grant_types::SESSION_BOUND
                .iter()
                .map(|kind| (*kind).to_owned())
                .collect(),
        ),
        ..PersistedGrantFilter::default()
    };
    grants.remove_grants(&filter).await
}
