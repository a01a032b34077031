//! In-memory stores: the library default and the reference semantics for the SQL stores.

use super::{ClientStore, GrantStore, KeyStore, ResourceStore, StoreError, StoreResult, UserStore};
use crate::model::{
    ApiResource, Client, DataProtectionKeyRecord, PersistedGrant, PersistedGrantFilter,
    RefreshTokenRotation, RotationStep, ServerSideSession, SigningKeyRecord, User,
};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use time::OffsetDateTime;
use uuid::Uuid;

/// Every store in process memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
pub(super) struct Inner {
    clients: BTreeMap<String, Client>,
    resources: BTreeMap<String, ApiResource>,
    pub(super) grants: BTreeMap<String, PersistedGrant>,
    signing_keys: BTreeMap<String, SigningKeyRecord>,
    data_protection_keys: BTreeMap<Uuid, DataProtectionKeyRecord>,
    users: BTreeMap<String, User>,
    pub(super) sessions: BTreeMap<String, ServerSideSession>,
    pub(super) outbox: BTreeMap<Uuid, crate::model::OutboxMessage>,
    pub(super) attempts: Vec<crate::model::DeliveryAttempt>,
    pub(super) audit: Vec<crate::model::AuditEntry>,
    pub(super) sign_in_failures: BTreeMap<String, crate::model::SignInFailures>,
    pub(super) revoked_tokens: BTreeMap<String, crate::model::RevokedToken>,
    pub(super) dpop_proofs: BTreeMap<String, OffsetDateTime>,
}

impl MemoryStore {
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave these maps half-updated (each operation
        // checks everything before its inserts and removes, which cannot fail), so a poisoned
        // lock is still safe to use.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn find_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        Ok(self.lock().clients.get(client_id).cloned())
    }
    async fn upsert_client(&self, client: &Client) -> StoreResult<()> {
        self.lock()
            .clients
            .insert(client.client_id.clone(), client.clone());
        Ok(())
    }
    async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
        Ok(self.lock().clients.remove(client_id).is_some())
    }
    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        let mut clients: Vec<Client> = self.lock().clients.values().cloned().collect();
        clients.sort_by(|a, b| a.client_id.as_bytes().cmp(b.client_id.as_bytes()));
        Ok(clients)
    }
}

#[async_trait]
impl ResourceStore for MemoryStore {
    async fn find_api_resource(&self, name: &str) -> StoreResult<Option<ApiResource>> {
        Ok(self.lock().resources.get(name).cloned())
    }
    async fn upsert_api_resource(&self, resource: &ApiResource) -> StoreResult<()> {
        self.lock()
            .resources
            .insert(resource.name.clone(), resource.clone());
        Ok(())
    }
    async fn list_api_resources(&self) -> StoreResult<Vec<ApiResource>> {
        Ok(self.lock().resources.values().cloned().collect())
    }
}

#[async_trait]
impl GrantStore for MemoryStore {
    async fn store_grant(&self, grant: &PersistedGrant) -> StoreResult<()> {
        self.lock().grants.insert(grant.key.clone(), grant.clone());
        Ok(())
    }
    async fn create_grant(&self, grant: &PersistedGrant) -> StoreResult<()> {
        let mut inner = self.lock();
        if inner.grants.contains_key(&grant.key) {
            return Err(StoreError::Conflict);
        }
        inner.grants.insert(grant.key.clone(), grant.clone());
        Ok(())
    }
    async fn consume_grant(
        &self,
        key: &str,
        at: OffsetDateTime,
    ) -> StoreResult<Option<PersistedGrant>> {
        let mut inner = self.lock();
        match inner.grants.get_mut(key) {
            Some(grant) if grant.consumed.is_none() => {
                grant.consumed = Some(at);
                Ok(Some(grant.clone()))
            }
            _ => Ok(None),
        }
    }
    async fn rotate_refresh_token(
        &self,
        rotation: &RefreshTokenRotation,
    ) -> StoreResult<Option<PersistedGrant>> {
        let mut inner = self.lock();
        // Every condition is checked before anything changes: under the lock, that is the
        // whole transaction.
        let Some(presented) = inner.grants.get(&rotation.key) else {
            return Ok(None);
        };
        let allowed = match &rotation.step {
            RotationStep::FirstUse { .. } => presented.consumed.is_none(),
            RotationStep::Retry { successor } => {
                presented.consumed.is_some()
                    && inner
                        .grants
                        .get(successor)
                        .is_some_and(|s| s.consumed.is_none())
            }
        };
        if !allowed {
            return Ok(None);
        }
        let mut fresh = std::collections::BTreeSet::new();
        for grant in &rotation.issue {
            if inner.grants.contains_key(&grant.key) || !fresh.insert(&grant.key) {
                return Err(StoreError::Conflict);
            }
        }
        match &rotation.step {
            RotationStep::FirstUse { at } => {
                if let Some(presented) = inner.grants.get_mut(&rotation.key) {
                    presented.consumed = Some(*at);
                }
            }
            RotationStep::Retry { successor } => {
                inner.grants.remove(successor);
            }
        }
        for grant in &rotation.issue {
            inner.grants.insert(grant.key.clone(), grant.clone());
        }
        let presented = inner.grants.get_mut(&rotation.key).map(|presented| {
            presented.data.clone_from(&rotation.data);
            presented.clone()
        });
        Ok(presented)
    }
    async fn get_grant(&self, key: &str) -> StoreResult<Option<PersistedGrant>> {
        Ok(self.lock().grants.get(key).cloned())
    }
    async fn get_grants(&self, filter: &PersistedGrantFilter) -> StoreResult<Vec<PersistedGrant>> {
        if filter.is_empty() {
            return Err(StoreError::EmptyFilter);
        }
        let mut grants: Vec<_> = self
            .lock()
            .grants
            .values()
            .filter(|g| filter.matches(g))
            .cloned()
            .collect();
        grants.sort_by(|a, b| (a.created, &a.key).cmp(&(b.created, &b.key)));
        Ok(grants)
    }
    async fn remove_grant(&self, key: &str) -> StoreResult<bool> {
        Ok(self.lock().grants.remove(key).is_some())
    }
    async fn remove_grants(&self, filter: &PersistedGrantFilter) -> StoreResult<u64> {
        if filter.is_empty() {
            return Err(StoreError::EmptyFilter);
        }
        let mut inner = self.lock();
        let before = inner.grants.len();
        inner.grants.retain(|_, g| !filter.matches(g));
        Ok((before - inner.grants.len()) as u64)
    }
    async fn remove_expired_grants(&self, now: OffsetDateTime, batch: u32) -> StoreResult<u64> {
        Ok(remove_batch(&mut self.lock().grants, batch, |g| {
            g.expires.is_some_and(|e| e < now)
        }))
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let mut keys: Vec<_> = self.lock().signing_keys.values().cloned().collect();
        keys.sort_by(|a, b| (a.activates, &a.id).cmp(&(b.activates, &b.id)));
        Ok(keys)
    }
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        let mut inner = self.lock();
        if inner.signing_keys.contains_key(&key.id) {
            return Err(StoreError::Conflict);
        }
        inner.signing_keys.insert(key.id.clone(), key.clone());
        Ok(())
    }
    async fn delete_signing_key(&self, id: &str) -> StoreResult<bool> {
        Ok(self.lock().signing_keys.remove(id).is_some())
    }
    async fn list_data_protection_keys(&self) -> StoreResult<Vec<DataProtectionKeyRecord>> {
        let mut keys: Vec<_> = self.lock().data_protection_keys.values().cloned().collect();
        keys.sort_by_key(|k| (k.activates, k.id));
        Ok(keys)
    }
    async fn insert_data_protection_key(&self, key: &DataProtectionKeyRecord) -> StoreResult<()> {
        let mut inner = self.lock();
        if inner.data_protection_keys.contains_key(&key.id) {
            return Err(StoreError::Conflict);
        }
        inner.data_protection_keys.insert(key.id, key.clone());
        Ok(())
    }
    async fn seal_data_protection_key(
        &self,
        id: Uuid,
        unsealed: &[u8],
        sealed: &[u8],
    ) -> StoreResult<bool> {
        let mut inner = self.lock();
        match inner.data_protection_keys.get_mut(&id) {
            Some(key) if key.material == unsealed => {
                key.material = sealed.to_vec();
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn find_user_by_subject(&self, subject_id: &str) -> StoreResult<Option<User>> {
        Ok(self.lock().users.get(subject_id).cloned())
    }
    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        Ok(self
            .lock()
            .users
            .values()
            .find(|u| u.username == username)
            .cloned())
    }
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        let mut inner = self.lock();
        if inner.users.contains_key(&user.subject_id)
            || inner.users.values().any(|u| u.username == user.username)
        {
            return Err(StoreError::Conflict);
        }
        inner.users.insert(user.subject_id.clone(), user.clone());
        Ok(())
    }
    async fn update_user(&self, user: &User) -> StoreResult<bool> {
        let mut inner = self.lock();
        // Unknown first, as the SQL stores answer (their UPDATE matches no row before any
        // uniqueness check runs).
        if !inner.users.contains_key(&user.subject_id) {
            return Ok(false);
        }
        if inner
            .users
            .values()
            .any(|u| u.username == user.username && u.subject_id != user.subject_id)
        {
            return Err(StoreError::Conflict);
        }
        inner.users.insert(user.subject_id.clone(), user.clone());
        Ok(true)
    }
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let mut users: Vec<_> = self.lock().users.values().cloned().collect();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(users)
    }
}

/// Removes up to `batch` entries of `map` that `expired` selects; returns how many went. The
/// batched expiry of every in-memory store (grants, sign-in counters, revoked token ids).
pub(super) fn remove_batch<V>(
    map: &mut BTreeMap<String, V>,
    batch: u32,
    expired: impl Fn(&V) -> bool,
) -> u64 {
    let keys: Vec<String> = map
        .iter()
        .filter(|(_, value)| expired(value))
        .map(|(key, _)| key.clone())
        .take(batch as usize)
        .collect();
    for key in &keys {
        map.remove(key);
    }
    keys.len() as u64
}
