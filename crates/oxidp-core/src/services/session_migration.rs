//! Session migration: switching server-side sessions on (or off) signs no one out.
//!
//! A browser's cookie is of the kind the server issued when it signed in: a self-contained
//! cookie (the whole ticket, encrypted) or a reference cookie (a 256-bit key to a record). When
//! the setting changes, [`SessionMigrationService::migrate`] converts a cookie of the other kind
//! on its next request, before the session is read; the caller then reads the session with the
//! new value and sends it back in the same response.
//!
//! **To server-side.** A valid, unexpired self-contained cookie becomes a record with the same
//! ticket (sid, client list, claims, expiry) and a reference cookie. The new cookie value is not
//! random but derived from the old one with a keyed hash (HMAC-SHA256 under a secret of the
//! shared data-protection key ring), so:
//! - concurrent requests carrying the same old cookie, on any instance, aim at the same record
//!   key; `create_session` lets exactly one of them create it, the others meet
//!   [`StoreError::Conflict`] and carry on with the record the winner made;
//! - a migration is remembered by a marker grant (type [`SESSION_MIGRATION`], no subject and no
//!   session id, so removing a session's grants leaves it) that lives as long as the old cookie
//!   could be valid. An old cookie whose marker exists but whose record is gone (logged out,
//!   revoked by an administrator, another user signed in) is refused: replaying a copy of the
//!   old cookie cannot bring an ended session back.
//!
//! An expired or unreadable old cookie is left alone: no record is made, so reading the
//! session fails and the browser is signed out.
//!
//! **Back to self-contained.** With server-side sessions off, a reference cookie whose record
//! exists and has not expired becomes a self-contained cookie with the record's ticket, and the
//! record is deleted (the session now lives in the cookie). Concurrent conversions each produce
//! a valid cookie for the same session; the record is deleted once.
//!
//! With `migrate_cookie_sessions` off, or with a custom ticket store, nothing is converted.

use super::server_side_sessions::{ServerSideTicketStore, is_session_key, row_key};
use super::session::{SelfContainedTicketStore, SessionError, TicketStore as _};
use crate::clock::Clock;
use crate::keys::DataProtector;
use crate::model::{AuthenticationTicket, PersistedGrant};
use crate::store::{GrantStore, SessionStore, StoreError};
use oxidp_jose::{b64url_encode, sha256};
use std::sync::Arc;

/// The grant type of the marker that remembers a migrated self-contained cookie.
pub const SESSION_MIGRATION: &str = "session_migration";

/// Purpose of the keyed hash that turns an old cookie into its reference cookie.
const PURPOSE: &str = "oxidp.session-migration.v1";

/// What [`SessionMigrationService::migrate`] made of a cookie value.
#[derive(Clone, PartialEq, Eq)]
pub enum Migration {
    /// Nothing to convert: read the session with the cookie as it is.
    Unchanged,
    /// Converted: read the session with this value and send it to the browser.
    Replaced(String),
}

impl std::fmt::Debug for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unchanged => f.write_str("Unchanged"),
            // The value is a bearer credential.
            Self::Replaced(_) => f.write_str("Replaced([redacted])"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Off,
    ToServerSide,
    ToSelfContained,
}

/// Converts cookies issued under the other setting of server-side sessions.
pub struct SessionMigrationService {
    direction: Direction,
    server_side: ServerSideTicketStore,
    self_contained: SelfContainedTicketStore,
    sessions: Arc<dyn SessionStore>,
    grants: Arc<dyn GrantStore>,
    protector: Arc<DataProtector>,
    clock: Arc<dyn Clock>,
    issuer: String,
}

impl std::fmt::Debug for SessionMigrationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionMigrationService")
            .field("direction", &self.direction)
            .finish_non_exhaustive()
    }
}

/// The stores and keys a [`SessionMigrationService`] works with.
#[derive(Clone)]
pub struct MigrationStores {
    /// Where server-side sessions live.
    pub sessions: Arc<dyn SessionStore>,
    /// Where migration markers live.
    pub grants: Arc<dyn GrantStore>,
    /// The data-protection key ring (tickets, and the keyed hash of old cookies).
    pub protector: Arc<DataProtector>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

impl SessionMigrationService {
    /// A service that converts self-contained cookies to server-side sessions when
    /// `server_side_enabled`, reference cookies back to self-contained ones otherwise, and
    /// nothing when `!migrate`. `display_name_claim` is the claim indexed on new records.
    pub fn new(
        stores: MigrationStores,
        server_side_enabled: bool,
        migrate: bool,
        display_name_claim: Option<String>,
        issuer: String,
    ) -> Self {
        let direction = match (migrate, server_side_enabled) {
            (false, _) => Direction::Off,
            (true, true) => Direction::ToServerSide,
            (true, false) => Direction::ToSelfContained,
        };
        Self {
            direction,
            server_side: ServerSideTicketStore::new(
                stores.sessions.clone(),
                stores.protector.clone(),
                display_name_claim,
            ),
            self_contained: SelfContainedTicketStore::new(stores.protector.clone()),
            sessions: stores.sessions,
            grants: stores.grants,
            protector: stores.protector,
            clock: stores.clock,
            issuer,
        }
    }

    /// Whether this service converts anything.
    pub fn is_enabled(&self) -> bool {
        self.direction != Direction::Off
    }

    /// Converts `cookie_value` if it is a cookie of the other kind that still stands for a live
    /// session; see the module documentation for the rules.
    pub async fn migrate(&self, cookie_value: &str) -> Result<Migration, SessionError> {
        match self.direction {
            Direction::Off => Ok(Migration::Unchanged),
            Direction::ToServerSide if !is_session_key(cookie_value) => {
                self.to_server_side(cookie_value).await
            }
            Direction::ToSelfContained if is_session_key(cookie_value) => {
                self.to_self_contained(cookie_value).await
            }
            _ => Ok(Migration::Unchanged),
        }
    }

    async fn to_server_side(&self, old_cookie: &str) -> Result<Migration, SessionError> {
        let Some(mut ticket) = self.self_contained.retrieve(old_cookie).await? else {
            // Tampered with, or sealed by a key this ring does not hold: nothing to migrate.
            tracing::debug!("unreadable cookie not migrated");
            return Ok(Migration::Unchanged);
        };
        let now = self.clock.now();
        let sid = ticket.session_id.clone();
        if ticket.expires <= now {
            refused("expired", &sid);
            return Ok(Migration::Unchanged);
        }
        let reference = self.reference_for(old_cookie).await?;
        let key = row_key(&reference);
        let marker = marker(&key, &ticket, now);
        if let Some(existing) = self.grants.get_grant(&marker.key).await?
            && !existing.is_expired(now)
        {
            return if self.sessions.get_session(&key).await?.is_some() {
                // Migrated before (by a concurrent request, or its response was lost).
                Ok(Migration::Replaced(reference))
            } else {
                // Migrated, and the session ended since: a replayed old cookie stays dead.
                refused("session_ended", &sid);
                Ok(Migration::Unchanged)
            };
        }
        ticket.issuer.get_or_insert_with(|| self.issuer.clone());
        let created = ticket.auth_time.min(ticket.issued);
        match self.server_side.create(&reference, &ticket, created).await {
            Ok(()) => {
                self.grants.store_grant(&marker).await?;
                metrics::counter!("oxidp_sessions_migrated_total", "direction" => "to_server_side")
                    .increment(1);
                tracing::info!(subject_id = %ticket.subject_id, %sid, "cookie session migrated to a server-side session");
                Ok(Migration::Replaced(reference))
            }
            Err(SessionError::Store(StoreError::Conflict)) => {
                // A concurrent request with the same cookie created the record first. Its
                // marker may not be written yet: writing it again is harmless.
                self.grants.store_grant(&marker).await?;
                tracing::debug!(%sid, "cookie session migrated concurrently");
                Ok(Migration::Replaced(reference))
            }
            Err(other) => Err(other),
        }
    }

    async fn to_self_contained(&self, reference: &str) -> Result<Migration, SessionError> {
        let key = row_key(reference);
        let Some(session) = self.sessions.get_session(&key).await? else {
            return Ok(Migration::Unchanged);
        };
        let sid = session.session_id.clone();
        let now = self.clock.now();
        let reason = match self.server_side.open(&session).await {
            Some(ticket) if ticket.expires > now => Ok(ticket),
            Some(_) => Err("expired"),
            None => Err("unreadable"),
        };
        let ticket = match reason {
            Ok(ticket) => ticket,
            Err(reason) => {
                // The session is over either way.
                self.sessions.delete_session(&key).await?;
                refused(reason, &sid);
                return Ok(Migration::Unchanged);
            }
        };
        let cookie = self.self_contained.store(&ticket).await?;
        // The session now lives in the cookie; a concurrent conversion may have deleted the
        // record already, and its cookie is as valid as this one.
        self.sessions.delete_session(&key).await?;
        metrics::counter!("oxidp_sessions_migrated_total", "direction" => "to_self_contained")
            .increment(1);
        tracing::info!(subject_id = %ticket.subject_id, %sid, "server-side session converted to a self-contained cookie");
        Ok(Migration::Replaced(cookie))
    }

    /// The reference cookie that replaces `old_cookie`: HMAC-SHA256 of the old cookie under the
    /// key ring's derivation key, the same on every instance sharing the ring and unknowable
    /// without it.
    async fn reference_for(&self, old_cookie: &str) -> Result<String, SessionError> {
        let secret = self
            .protector
            .derive_secret(&format!("{PURPOSE}:{old_cookie}"))
            .await
            .map_err(|_| SessionError::Protection)?;
        Ok(b64url_encode(secret))
    }
}

/// The marker of a migration to the record under `key`: kept as long as the old cookie could
/// be presented, with neither subject nor session id so that removing a session's grants does
/// not remove it.
fn marker(key: &str, ticket: &AuthenticationTicket, now: time::OffsetDateTime) -> PersistedGrant {
    PersistedGrant {
        key: b64url_encode(sha256(format!("{SESSION_MIGRATION}:{key}"))),
        grant_type: SESSION_MIGRATION.to_owned(),
        subject_id: None,
        session_id: None,
        client_id: String::new(),
        created: now,
        expires: Some(ticket.expires),
        consumed: None,
        data: String::new(),
    }
}

fn refused(reason: &'static str, sid: &str) {
    metrics::counter!("oxidp_session_migrations_refused_total", "reason" => reason).increment(1);
    tracing::info!(%sid, reason, "cookie session not migrated; the browser is signed out");
}

#[cfg(test)]
mod tests;
