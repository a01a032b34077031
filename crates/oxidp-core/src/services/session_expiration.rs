//! The end of expired server-side sessions: the cleanup job that drains them in batches, and
//! the same processing for a session a browser request meets expired before the job did.
//!
//! For each expired session: the record is deleted, the refresh tokens, reference tokens, codes
//! and CIBA requests of its coordinated clients are revoked, and back-channel logout
//! (`session_expiration`) is enqueued to every client of the session (or, with
//! `expired_sessions_trigger_backchannel_logout` off, to the coordinated ones only). All three
//! commit together ([`OutboxStore::commit_expirations`](crate::store::OutboxStore)), so a crash
//! mid-batch loses no notification.
//!
//! Instances share the work without doing it twice (and so do the lanes a run works in at
//! once): a worker takes its batch ([`OutboxStore::take_expired`](crate::store::OutboxStore)),
//! which keeps other takers off it until its commit (PostgreSQL: deleted and row-locked in an
//! open transaction; SQLite: kept apart in memory, the commit removing only what is still
//! expired), and a worker that fails gives the batch back whole. A session a browser meets
//! expired goes through [`OutboxStore::commit_expirations`](crate::store::OutboxStore) instead,
//! whose delete is the gate: only one of the two commits removes the session.

use super::Context;
use super::backchannel::{BackchannelLogoutService, EndedSession};
use super::coordination::is_coordinated;
use super::server_side_sessions::{ServerSideTicketStore, row_key};
use super::session_management::SessionManagementError;
use crate::model::{LogoutReason, ServerSideSession, SessionExpiration};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

/// Most lanes a run works in: what the store asks for
/// ([`OutboxStore::expiration_lanes`](crate::store::OutboxStore)), up to this.
const MAX_LANES: usize = 4;

/// What one cleanup run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanupSummary {
    /// Expired sessions removed by this run.
    pub sessions_removed: u64,
    /// Back-channel logout notifications enqueued.
    pub notifications_enqueued: u64,
    /// Batches committed.
    pub batches: u64,
}

/// Ends expired server-side sessions.
#[derive(Debug)]
pub struct ExpiredSessionCleanup {
    ctx: Arc<Context>,
    tickets: ServerSideTicketStore,
    backchannel: Arc<BackchannelLogoutService>,
}

impl ExpiredSessionCleanup {
    pub(crate) fn new(
        ctx: Arc<Context>,
        tickets: ServerSideTicketStore,
        backchannel: Arc<BackchannelLogoutService>,
    ) -> Self {
        Self {
            ctx,
            tickets,
            backchannel,
        }
    }

    /// One cleanup run: claims and ends expired sessions batch by batch until none is left.
    /// Safe to run in any number of instances at once.
    pub async fn remove_expired_sessions(&self) -> Result<CleanupSummary, SessionManagementError> {
        let started = Instant::now();
        // Lanes overlap one batch's database round trips and commit with another's ticket
        // work; each holds its own batch, so they stay disjoint, as instances do.
        let lanes = self
            .ctx
            .stores
            .outbox
            .expiration_lanes()
            .clamp(1, MAX_LANES);
        let lane = |n: usize| async move {
            if n < lanes {
                self.drain().await
            } else {
                (CleanupSummary::default(), None)
            }
        };
        let done = tokio::join!(lane(0), lane(1), lane(2), lane(3));
        let mut summary = CleanupSummary::default();
        let mut failure = None;
        for (lane_summary, error) in [done.0, done.1, done.2, done.3] {
            summary.sessions_removed += lane_summary.sessions_removed;
            summary.notifications_enqueued += lane_summary.notifications_enqueued;
            summary.batches += lane_summary.batches;
            failure = failure.or(error);
        }
        metrics::counter!("oxidp_sessions_removed_by_cleanup_total")
            .increment(summary.sessions_removed);
        metrics::histogram!("oxidp_session_cleanup_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        if let Ok(active) = self
            .ctx
            .stores
            .sessions
            .count_active_sessions(self.ctx.clock.now())
            .await
        {
            metrics::gauge!("oxidp_sessions_active").set(active as f64);
        }
        if summary.sessions_removed > 0 {
            tracing::info!(
                removed = summary.sessions_removed,
                notifications = summary.notifications_enqueued,
                batches = summary.batches,
                "expired sessions removed"
            );
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(summary),
        }
    }

    /// One lane of a run: takes and ends batches until one comes back empty or something
    /// fails; returns what it did, and the error it stopped on. A failed batch is given back
    /// whole (nothing of it is committed), for the next run.
    async fn drain(&self) -> (CleanupSummary, Option<SessionManagementError>) {
        let batch_size = self
            .ctx
            .options
            .server_side_sessions
            .remove_expired_sessions_batch_size
            .max(1);
        let mut summary = CleanupSummary::default();
        loop {
            let now = self.ctx.clock.now();
            let batch = match self.ctx.stores.outbox.take_expired(now, batch_size).await {
                Ok(batch) if batch.sessions().is_empty() => return (summary, None),
                Ok(batch) => batch,
                Err(error) => return (summary, Some(error.into())),
            };
            let mut expirations = Vec::with_capacity(batch.sessions().len());
            for session in batch.sessions() {
                match self.expiration_of(session).await {
                    Ok(expiration) => expirations.push(expiration),
                    Err(error) => {
                        if let Err(rollback) = batch.give_back().await {
                            tracing::warn!(%rollback, "expired sessions not given back; they will be once the connection is released");
                        }
                        return (summary, Some(error));
                    }
                }
            }
            match batch.commit(&expirations).await {
                Ok(removed) => {
                    let notifications = notification_count(&expirations);
                    metrics::counter!("oxidp_backchannel_logout_enqueued_total")
                        .increment(notifications);
                    summary.sessions_removed += removed;
                    summary.notifications_enqueued += notifications;
                    summary.batches += 1;
                }
                Err(error) => return (summary, Some(error.into())),
            }
        }
    }

    /// Ends the session behind `cookie_value` if its record is expired (a browser met it before
    /// the cleanup job did); returns whether this call ended it.
    pub async fn expire_on_sight(
        &self,
        cookie_value: &str,
    ) -> Result<bool, SessionManagementError> {
        let key = row_key(cookie_value);
        let Some(session) = self.ctx.stores.sessions.get_session(&key).await? else {
            return Ok(false);
        };
        if !session.is_expired(self.ctx.clock.now()) {
            return Ok(false);
        }
        let (removed, _) = self.expire(std::slice::from_ref(&session)).await?;
        if removed > 0 {
            tracing::info!(sid = %session.session_id, "expired session ended on sight");
        }
        Ok(removed > 0)
    }

    /// Works out and commits the end of `sessions` through the gate of
    /// [`OutboxStore::commit_expirations`](crate::store::OutboxStore); returns (sessions
    /// removed, notifications).
    async fn expire(
        &self,
        sessions: &[ServerSideSession],
    ) -> Result<(u64, u64), SessionManagementError> {
        let mut expirations = Vec::with_capacity(sessions.len());
        for session in sessions {
            expirations.push(self.expiration_of(session).await?);
        }
        let removed = self
            .ctx
            .stores
            .outbox
            .commit_expirations(self.ctx.clock.now(), &expirations)
            .await?;
        let removed_keys: HashSet<&str> = removed.iter().map(String::as_str).collect();
        expirations.retain(|e| removed_keys.contains(e.key.as_str()));
        let notifications = notification_count(&expirations);
        metrics::counter!("oxidp_backchannel_logout_enqueued_total").increment(notifications);
        Ok((removed.len() as u64, notifications))
    }

    /// What ending one session changes. A ticket that cannot be read still ends: there is just
    /// no client to revoke for or notify.
    async fn expiration_of(
        &self,
        session: &ServerSideSession,
    ) -> Result<SessionExpiration, SessionManagementError> {
        let client_ids = match self.tickets.open(session).await {
            Some(ticket) => ticket.client_ids,
            None => {
                tracing::warn!(sid = %session.session_id, "expired session with an unreadable ticket; no client is notified");
                Vec::new()
            }
        };
        let mut coordinated = Vec::new();
        let mut seen = HashSet::new();
        for client_id in &client_ids {
            if !seen.insert(client_id) {
                continue;
            }
            // Unknown or deleted clients are skipped, not fatal.
            if let Some(client) = self.ctx.stores.clients.find_client(client_id).await?
                && is_coordinated(&self.ctx, &client)
            {
                coordinated.push(client.client_id);
            }
        }
        let ended = EndedSession {
            subject_id: &session.subject_id,
            session_id: &session.session_id,
            client_ids: &client_ids,
        };
        let notify_all = self
            .ctx
            .options
            .server_side_sessions
            .expired_sessions_trigger_backchannel_logout;
        let only = (!notify_all).then_some(coordinated.as_slice());
        let messages = if only.is_some_and(<[String]>::is_empty) {
            Vec::new()
        } else {
            self.backchannel
                .messages_for(&ended, LogoutReason::SessionExpiration, only)
                .await?
        };
        Ok(SessionExpiration {
            key: session.key.clone(),
            session_id: session.session_id.clone(),
            revoke_client_ids: coordinated,
            messages,
        })
    }
}

fn notification_count(expirations: &[SessionExpiration]) -> u64 {
    expirations.iter().map(|e| e.messages.len() as u64).sum()
}
