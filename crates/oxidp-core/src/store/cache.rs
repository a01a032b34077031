//! Short-lived read caches for clients and API resources: they are read on every token
//! request and change rarely. Writes through the cache invalidate it at once; a change made by
//! another instance is seen within the cache duration.

use super::{ClientStore, ResourceStore, StoreResult};
use crate::model::{ApiResource, Client};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Bounds the number of cached client entries, so probing random client ids cannot grow the
/// cache without limit.
const MAX_CLIENT_ENTRIES: usize = 10_000;

/// A [`ClientStore`] that remembers lookups (including misses) for a while.
pub struct CachedClientStore {
    inner: Arc<dyn ClientStore>,
    ttl: Duration,
    entries: RwLock<HashMap<String, (Instant, Option<Client>)>>,
}

impl CachedClientStore {
    /// Caches `inner` for `ttl`.
    pub fn new(inner: Arc<dyn ClientStore>, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    fn invalidate(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[async_trait]
impl ClientStore for CachedClientStore {
    async fn find_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        if let Some((at, client)) = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(client_id)
            && at.elapsed() < self.ttl
        {
            return Ok(client.clone());
        }
        let client = self.inner.find_client(client_id).await?;
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CLIENT_ENTRIES {
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
        }
        if entries.len() < MAX_CLIENT_ENTRIES {
            entries.insert(client_id.to_owned(), (Instant::now(), client.clone()));
        }
        Ok(client)
    }
    async fn upsert_client(&self, client: &Client) -> StoreResult<()> {
        self.inner.upsert_client(client).await?;
        self.invalidate();
        Ok(())
    }
    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        self.inner.list_clients().await
    }
    async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
        let existed = self.inner.delete_client(client_id).await?;
        self.invalidate();
        Ok(existed)
    }
}

/// A [`ResourceStore`] that remembers the list of resources for a while.
pub struct CachedResourceStore {
    inner: Arc<dyn ResourceStore>,
    ttl: Duration,
    all: RwLock<Option<(Instant, Arc<Vec<ApiResource>>)>>,
}

impl CachedResourceStore {
    /// Caches `inner` for `ttl`.
    pub fn new(inner: Arc<dyn ResourceStore>, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
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
        if let Some((at, all)) = self.all.read().unwrap_or_else(|e| e.into_inner()).as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(all.as_ref().clone());
        }
        let all = self.inner.list_api_resources().await?;
        *self.all.write().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), Arc::new(all.clone())));
        Ok(all)
    }
    async fn delete_api_resource(&self, name: &str) -> StoreResult<bool> {
        let existed = self.inner.delete_api_resource(name).await?;
        self.invalidate();
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn writes_through_the_cache_are_seen_at_once() {
        let backend = Arc::new(MemoryStore::default());
        let cache = CachedClientStore::new(backend.clone(), Duration::from_secs(60));
        assert!(cache.find_client("c").await.unwrap().is_none());
        cache.upsert_client(&Client::new("c")).await.unwrap();
        assert!(cache.find_client("c").await.unwrap().is_some());
        cache.delete_client("c").await.unwrap();
        assert!(cache.find_client("c").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_write_behind_the_cache_is_seen_after_the_ttl() {
        let backend = Arc::new(MemoryStore::default());
        let cache = CachedResourceStore::new(backend.clone(), Duration::from_millis(50));
        assert!(cache.list_api_resources().await.unwrap().is_empty());
        backend
            .upsert_api_resource(&ApiResource::new("api"))
            .await
            .unwrap();
        assert!(
            cache.list_api_resources().await.unwrap().is_empty(),
            "still cached"
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(cache.list_api_resources().await.unwrap().len(), 1);
    }
}
