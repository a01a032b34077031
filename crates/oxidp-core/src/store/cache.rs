//! Short-lived read caches for clients and API resources (read on every token request, rarely
//! changed) and for users looked up by subject id (read on every refresh, userinfo and code
//! redemption). Writes through a cache invalidate it at once; a change made by another instance
//! or the CLI is seen within the cache duration.
//!
//! Entries age by the injected [`Clock`], not by the process's monotonic time, so tests move a
//! manual clock past the cache duration instead of sleeping. The system clock counts whole
//! seconds, so a duration is honoured to within one second.

use super::{ClientStore, ResourceStore, StoreResult, UserStore};
use crate::clock::{Clock, later};
use crate::model::{ApiResource, Client, User};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use time::OffsetDateTime;

/// Bounds the number of entries a cache keeps, so probing random client ids or subjects
/// cannot grow it without limit.
const MAX_ENTRIES: usize = 10_000;

/// Values remembered by key for `ttl`, at most [`MAX_ENTRIES`] of them.
struct Remembered<V> {
    ttl: Duration,
    clock: Arc<dyn Clock>,
    /// Each value with the instant it stops being fresh.
    entries: RwLock<HashMap<String, (OffsetDateTime, V)>>,
    /// Bumped by every write through the cache, so that a value read from the store before
    /// a write finished is not remembered after it.
    generation: AtomicU64,
}

impl<V: Clone> Remembered<V> {
    fn new(ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            ttl,
            clock,
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// The generation to hand back to [`Remembered::put`] for a value about to be read.
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn get(&self, key: &str) -> Option<V> {
        let now = self.clock.now();
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .filter(|(fresh_until, _)| now < *fresh_until)
            .map(|(_, value)| value.clone())
    }

    /// Remembers `value`, read at `generation`, unless a write came through since.
    fn put(&self, key: &str, value: V, generation: u64) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        let now = self.clock.now();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (fresh_until, _)| now < *fresh_until);
        }
        if entries.len() < MAX_ENTRIES {
            entries.insert(key.to_owned(), (later(now, self.ttl), value));
        }
    }

    /// The value remembered under `key`, or else what `load` reads (then remembered).
    async fn get_or_load<F, Fut>(&self, key: &str, load: F) -> StoreResult<V>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = StoreResult<V>>,
    {
        if let Some(value) = self.get(key) {
            return Ok(value);
        }
        let generation = self.generation();
        let value = load().await?;
        self.put(key, value.clone(), generation);
        Ok(value)
    }

    fn forget(&self, key: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(key);
    }

    fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

/// A [`ClientStore`] that remembers lookups (including misses) for a while.
pub struct CachedClientStore {
    inner: Arc<dyn ClientStore>,
    entries: Remembered<Option<Client>>,
}

impl CachedClientStore {
    /// Caches `inner` for `ttl`, as `clock` tells time.
    pub fn new(inner: Arc<dyn ClientStore>, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner,
            entries: Remembered::new(ttl, clock),
        }
    }
}

#[async_trait]
impl ClientStore for CachedClientStore {
    async fn find_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        self.entries
            .get_or_load(client_id, || self.inner.find_client(client_id))
            .await
    }
    async fn upsert_client(&self, client: &Client) -> StoreResult<()> {
        self.inner.upsert_client(client).await?;
        self.entries.clear();
        Ok(())
    }
    async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
        let existed = self.inner.delete_client(client_id).await?;
        self.entries.clear();
        Ok(existed)
    }
    // Listing is for operators and start-up checks, never a request path: not cached.
    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        self.inner.list_clients().await
    }
}

/// A [`ResourceStore`] that remembers the list of resources for a while.
pub struct CachedResourceStore {
    inner: Arc<dyn ResourceStore>,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    /// The list with the instant it stops being fresh.
    all: RwLock<Option<(OffsetDateTime, Arc<Vec<ApiResource>>)>>,
}

impl CachedResourceStore {
    /// Caches `inner` for `ttl`, as `clock` tells time.
    pub fn new(inner: Arc<dyn ResourceStore>, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner,
            ttl,
            clock,
            all: RwLock::new(None),
        }
    }

    fn invalidate(&self) {
        *self.all.write().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[async_trait]
impl ResourceStore for CachedResourceStore {
    async fn find_api_resource(&self, name: &str) -> StoreResult<Option<ApiResource>> {
        Ok(self
            .list_api_resources()
            .await?
            .into_iter()
            .find(|r| r.name == name))
    }
    async fn upsert_api_resource(&self, resource: &ApiResource) -> StoreResult<()> {
        self.inner.upsert_api_resource(resource).await?;
        self.invalidate();
        Ok(())
    }
    async fn list_api_resources(&self) -> StoreResult<Vec<ApiResource>> {
        let now = self.clock.now();
        if let Some((fresh_until, all)) =
            self.all.read().unwrap_or_else(|e| e.into_inner()).as_ref()
            && now < *fresh_until
        {
            return Ok(all.as_ref().clone());
        }
        let all = self.inner.list_api_resources().await?;
        *self.all.write().unwrap_or_else(|e| e.into_inner()) =
            Some((later(now, self.ttl), Arc::new(all.clone())));
        Ok(all)
    }
}

/// A [`UserStore`] that remembers lookups by subject id (including misses) for a while. Lookups
/// by username, which sign-in uses to check a password, always read the store.
pub struct CachedUserStore {
    inner: Arc<dyn UserStore>,
    entries: Remembered<Option<User>>,
}

impl CachedUserStore {
    /// Caches `inner`'s lookups by subject id for `ttl`, as `clock` tells time.
    pub fn new(inner: Arc<dyn UserStore>, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner,
            entries: Remembered::new(ttl, clock),
        }
    }
}

#[async_trait]
impl UserStore for CachedUserStore {
    async fn find_user_by_subject(&self, subject_id: &str) -> StoreResult<Option<User>> {
        self.entries
            .get_or_load(subject_id, || self.inner.find_user_by_subject(subject_id))
            .await
    }
    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.inner.find_user_by_username(username).await
    }
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        self.inner.create_user(user).await?;
        self.entries.forget(&user.subject_id);
        Ok(())
    }
    async fn update_user(&self, user: &User) -> StoreResult<bool> {
        let existed = self.inner.update_user(user).await?;
        self.entries.forget(&user.subject_id);
        Ok(existed)
    }
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.inner.list_users().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::MemoryStore;

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::starting_now())
    }

    #[tokio::test]
    async fn writes_through_the_cache_are_seen_at_once() {
        let backend = Arc::new(MemoryStore::default());
        let cache = CachedClientStore::new(backend.clone(), Duration::from_secs(60), clock());
        assert!(cache.find_client("c").await.unwrap().is_none());
        cache.upsert_client(&Client::new("c")).await.unwrap();
        assert!(cache.find_client("c").await.unwrap().is_some());
        cache.delete_client("c").await.unwrap();
        assert!(cache.find_client("c").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_write_behind_the_cache_is_seen_after_the_ttl() {
        let backend = Arc::new(MemoryStore::default());
        let clock = clock();
        let cache =
            CachedResourceStore::new(backend.clone(), Duration::from_secs(60), clock.clone());
        assert!(cache.list_api_resources().await.unwrap().is_empty());
        backend
            .upsert_api_resource(&ApiResource::new("api"))
            .await
            .unwrap();
        assert!(
            cache.list_api_resources().await.unwrap().is_empty(),
            "still cached"
        );
        clock.advance(time::Duration::seconds(59));
        assert!(
            cache.list_api_resources().await.unwrap().is_empty(),
            "still cached"
        );
        clock.advance(time::Duration::seconds(1));
        assert_eq!(cache.list_api_resources().await.unwrap().len(), 1);
    }

    fn user(subject: &str, username: &str) -> User {
        User {
            subject_id: subject.to_owned(),
            username: username.to_owned(),
            password_hash: None,
            claims: Default::default(),
            enabled: true,
            roles: Vec::new(),
            created: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn user_writes_through_the_cache_are_seen_at_once() {
        let backend = Arc::new(MemoryStore::default());
        let cache = CachedUserStore::new(backend.clone(), Duration::from_secs(60), clock());
        assert!(cache.find_user_by_subject("s1").await.unwrap().is_none());
        let mut alice = user("s1", "alice");
        cache.create_user(&alice).await.unwrap();
        assert!(cache.find_user_by_subject("s1").await.unwrap().is_some());
        alice.enabled = false;
        assert!(cache.update_user(&alice).await.unwrap());
        let found = cache.find_user_by_subject("s1").await.unwrap().unwrap();
        assert!(!found.enabled, "a disabled user is seen disabled at once");
    }

    #[tokio::test]
    async fn a_user_change_behind_the_cache_is_seen_after_the_ttl_and_usernames_are_never_cached() {
        let backend = Arc::new(MemoryStore::default());
        let clock = clock();
        let cache = CachedUserStore::new(backend.clone(), Duration::from_secs(5), clock.clone());
        let mut alice = user("s1", "alice");
        backend.create_user(&alice).await.unwrap();
        assert!(
            cache
                .find_user_by_subject("s1")
                .await
                .unwrap()
                .unwrap()
                .enabled
        );
        alice.enabled = false;
        backend.update_user(&alice).await.unwrap();
        assert!(
            !cache
                .find_user_by_username("alice")
                .await
                .unwrap()
                .unwrap()
                .enabled,
            "a lookup by username reads the store"
        );
        assert!(
            cache
                .find_user_by_subject("s1")
                .await
                .unwrap()
                .unwrap()
                .enabled,
            "still cached"
        );
        clock.advance(time::Duration::seconds(5));
        assert!(
            !cache
                .find_user_by_subject("s1")
                .await
                .unwrap()
                .unwrap()
                .enabled
        );
    }

    #[test]
    fn a_value_read_before_a_write_through_the_cache_is_not_remembered() {
        let remembered = Remembered::new(Duration::from_secs(60), clock());
        let read_at = remembered.generation();
        // A write comes through (and forgets the key) while the old value is being read.
        remembered.forget("s1");
        remembered.put("s1", "the old value", read_at);
        assert_eq!(remembered.get("s1"), None);
        remembered.put("s1", "the new value", remembered.generation());
        assert_eq!(remembered.get("s1"), Some("the new value"));
    }
}
