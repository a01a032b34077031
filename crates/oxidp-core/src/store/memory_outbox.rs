//! The in-memory [`OutboxStore`]: the reference semantics for the SQL stores. One lock guards
//! every map, so a removal is atomic here as a transaction is in SQL.

use super::memory::Inner;
use super::{ExpiredSessionBatch, MemoryStore, OutboxStore, StoreError, StoreResult};
use crate::model::{
    AttemptOutcome, DeliveryAttempt, DeliveryStatus, OutboxMessage, ServerSideSession,
    SessionExpiration, SessionRemoval,
};
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn commit_removal(&self, removal: &SessionRemoval) -> StoreResult<u64> {
        if removal.grant_filters.iter().any(|f| f.is_empty()) {
            return Err(StoreError::EmptyFilter);
        }
        let mut inner = self.lock();
        let mut removed = 0;
        for key in &removal.session_keys {
            if inner.sessions.remove(key).is_some() {
                removed += 1;
            }
        }
        for filter in &removal.grant_filters {
            inner.grants.retain(|_, grant| !filter.matches(grant));
        }
        for message in &removal.messages {
            inner.outbox.insert(message.id, message.clone());
        }
        Ok(removed)
    }

    async fn commit_expirations(
        &self,
        now: OffsetDateTime,
        expirations: &[SessionExpiration],
    ) -> StoreResult<Vec<String>> {
        let mut inner = self.lock();
        let mut removed = Vec::new();
        for expiration in expirations {
            let still_expired = inner
                .sessions
                .get(&expiration.key)
                .is_some_and(|session| session.is_expired(now));
            if !still_expired {
                continue;
            }
            inner.sessions.remove(&expiration.key);
            revoke_and_enqueue(&mut inner, expiration);
            removed.push(expiration.key.clone());
        }
        Ok(removed)
    }

    async fn take_expired<'a>(
        &'a self,
        now: OffsetDateTime,
        batch: u32,
    ) -> StoreResult<Box<dyn ExpiredSessionBatch + 'a>> {
        let mut inner = self.lock();
        let mut expired: Vec<(OffsetDateTime, String)> = inner
            .sessions
            .values()
            .filter(|s| s.is_expired(now))
            .filter_map(|s| s.expires.map(|e| (e, s.key.clone())))
            .collect();
        expired.sort();
        let sessions = expired
            .into_iter()
            .take(batch as usize)
            .filter_map(|(_, key)| inner.sessions.remove(&key))
            .collect();
        Ok(Box::new(MemoryExpiredBatch {
            store: self,
            sessions,
            committed: false,
        }))
    }

    async fn enqueue(&self, messages: &[OutboxMessage]) -> StoreResult<()> {
        let mut inner = self.lock();
        for message in messages {
            inner.outbox.insert(message.id, message.clone());
        }
        Ok(())
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        batch: u32,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let mut inner = self.lock();
        let mut due: Vec<&mut OutboxMessage> = inner
            .outbox
            .values_mut()
            .filter(|m| m.status == DeliveryStatus::Pending && m.next_attempt <= now)
            .collect();
        due.sort_by_key(|m| (m.next_attempt, m.id));
        Ok(due
            .into_iter()
            .take(batch as usize)
            .map(|message| {
                message.next_attempt = lease_until;
                message.clone()
            })
            .collect())
    }

    async fn record_attempts(&self, outcomes: &[AttemptOutcome]) -> StoreResult<()> {
        // One lock for the batch: all or none, as the SQL stores' transaction.
        let mut inner = self.lock();
        for outcome in outcomes {
            let Some(message) = inner.outbox.get_mut(&outcome.attempt.message_id) else {
                continue;
            };
            message.status = outcome.status;
            message.next_attempt = outcome.next_attempt;
            message.attempts += 1;
            inner.attempts.push(outcome.attempt.clone());
        }
        Ok(())
    }

    async fn list_messages(
        &self,
        status: DeliveryStatus,
        limit: u32,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let inner = self.lock();
        let mut messages: Vec<_> = inner
            .outbox
            .values()
            .filter(|m| m.status == status)
            .cloned()
            .collect();
        messages.sort_by_key(|m| std::cmp::Reverse(m.id));
        messages.truncate(limit as usize);
        Ok(messages)
    }

    async fn list_attempts(&self, message_id: Uuid) -> StoreResult<Vec<DeliveryAttempt>> {
        let inner = self.lock();
        let mut attempts: Vec<_> = inner
            .attempts
            .iter()
            .filter(|a| a.message_id == message_id)
            .cloned()
            .collect();
        attempts.sort_by_key(|a| a.at);
        Ok(attempts)
    }
}

#[async_trait]
impl super::AuditStore for MemoryStore {
    async fn record_audit(&self, entry: &crate::model::AuditEntry) -> StoreResult<()> {
        self.lock().audit.push(entry.clone());
        Ok(())
    }

    async fn list_audit(&self, limit: u32) -> StoreResult<Vec<crate::model::AuditEntry>> {
        let inner = self.lock();
        let mut entries = inner.audit.clone();
        entries.sort_by_key(|e| std::cmp::Reverse(e.id));
        entries.truncate(limit as usize);
        Ok(entries)
    }
}

/// The grant revocations and messages of one expiration, under the store's lock.
fn revoke_and_enqueue(inner: &mut Inner, expiration: &SessionExpiration) {
    if !expiration.revoke_client_ids.is_empty() {
        inner.grants.retain(|_, grant| {
            !(grant.session_id.as_deref() == Some(expiration.session_id.as_str())
                && expiration.revoke_client_ids.contains(&grant.client_id)
                && crate::model::grant_types::SESSION_BOUND.contains(&grant.grant_type.as_str()))
        });
    }
    for message in &expiration.messages {
        inner.outbox.insert(message.id, message.clone());
    }
}

/// Sessions taken out of the map; put back if the batch is dropped uncommitted, as a rolled
/// back transaction would leave them.
struct MemoryExpiredBatch<'a> {
    store: &'a MemoryStore,
    sessions: Vec<ServerSideSession>,
    committed: bool,
}

#[async_trait]
impl ExpiredSessionBatch for MemoryExpiredBatch<'_> {
    fn sessions(&self) -> &[ServerSideSession] {
        &self.sessions
    }

    async fn commit(mut self: Box<Self>, expirations: &[SessionExpiration]) -> StoreResult<u64> {
        let mut inner = self.store.lock();
        for expiration in expirations {
            if self.sessions.iter().any(|s| s.key == expiration.key) {
                revoke_and_enqueue(&mut inner, expiration);
            }
        }
        drop(inner);
        self.committed = true;
        Ok(self.sessions.len() as u64)
    }

    async fn give_back(self: Box<Self>) -> StoreResult<()> {
        // Dropping uncommitted puts them back.
        Ok(())
    }
}

impl Drop for MemoryExpiredBatch<'_> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let mut inner = self.store.lock();
        for session in self.sessions.drain(..) {
            inner.sessions.entry(session.key.clone()).or_insert(session);
        }
    }
}
