//! The data-protection key ring as a service: loads the AES keys from the store, creates the
//! next key before the current one expires, and re-reads the store when it meets a key id it
//! does not know (another instance may have created it).

use super::to_time;
use crate::clock::Clock;
use crate::model::DataProtectionKeyRecord;
use crate::store::{KeyStore, StoreError};
use oxidp_jose::{DataProtectionError, DataProtectionKey, KeyRing, random_bytes};
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;
use uuid::Uuid;

/// Purpose strings: a value protected for one purpose cannot be unprotected for another.
pub mod purposes {
    /// Private parts of signing keys.
    pub const SIGNING_KEY: &str = "oxidp.signing-key.v1";
}

/// Encrypts and decrypts secrets at rest with the shared key ring.
pub struct DataProtector {
    store: Arc<dyn KeyStore>,
    clock: Arc<dyn Clock>,
    key_lifetime: time::Duration,
    cache_duration: time::Duration,
    cached: RwLock<Option<(OffsetDateTime, Arc<KeyRing>)>>,
    refresh: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for DataProtector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataProtector").finish_non_exhaustive()
    }
}

/// Errors of the data protector.
#[derive(Debug, thiserror::Error)]
pub enum ProtectError {
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The data cannot be decrypted.
    #[error(transparent)]
    Data(#[from] DataProtectionError),
}

impl DataProtector {
    /// A protector over `store`. Keys encrypt for `key_lifetime`; the ring is re-read at least
    /// every `cache_duration`.
    pub fn new(
        store: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
        key_lifetime: std::time::Duration,
        cache_duration: std::time::Duration,
    ) -> Self {
        Self {
            store,
            clock,
            key_lifetime: to_time(key_lifetime),
            cache_duration: to_time(cache_duration),
            cached: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// Encrypts `plaintext` for `purpose` with the current key.
    pub async fn protect(&self, purpose: &str, plaintext: &[u8]) -> Result<Vec<u8>, ProtectError> {
        Ok(self.ring(false).await?.protect(purpose, plaintext)?)
    }

    /// Decrypts what [`DataProtector::protect`] produced for the same purpose.
    pub async fn unprotect(&self, purpose: &str, data: &[u8]) -> Result<Vec<u8>, ProtectError> {
        match self.ring(false).await?.unprotect(purpose, data) {
            Err(DataProtectionError::UnknownKey(_)) => {
                Ok(self.ring(true).await?.unprotect(purpose, data)?)
            }
            other => Ok(other?),
        }
    }

    /// A 256-bit secret for `purpose` derived from the current key: the same on every instance
    /// sharing the ring, without being stored anywhere.
    pub async fn derive_secret(&self, purpose: &str) -> Result<[u8; 32], ProtectError> {
        Ok(self.ring(false).await?.derive_secret(purpose)?)
    }

    /// Makes sure a current key exists and its successor is created in time; returns the
    /// id of the key that encrypts now.
    pub async fn maintain(&self) -> Result<Uuid, ProtectError> {
        let ring = self.ring(true).await?;
        ring.current_key_id()
            .ok_or(ProtectError::Data(DataProtectionError::NoKey))
    }

    async fn ring(&self, force: bool) -> Result<Arc<KeyRing>, StoreError> {
        let now = self.clock.now();
        if !force && let Some(ring) = self.fresh(now) {
            return Ok(ring);
        }
        let _single_flight = self.refresh.lock().await;
        if !force && let Some(ring) = self.fresh(now) {
            return Ok(ring);
        }
        let ring = Arc::new(self.load(now).await?);
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) =
            Some((now + self.cache_duration, ring.clone()));
        Ok(ring)
    }

    fn fresh(&self, now: OffsetDateTime) -> Option<Arc<KeyRing>> {
        let cached = self.cached.read().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|(valid_until, _)| now < *valid_until)
            .map(|(_, ring)| ring.clone())
    }

    async fn load(&self, now: OffsetDateTime) -> Result<KeyRing, StoreError> {
        let mut records = self.store.list_data_protection_keys().await?;
        let current = current_key(&records, now);
        // Create the successor ahead of time (while the cache duration still separates it from
        // the current key's expiry) so that every instance knows it before it starts encrypting.
        let needs_successor = match current {
            None => true,
            Some(key) => {
                key.expires - self.cache_duration * 2 <= now
                    && !records.iter().any(|r| r.activates > key.activates)
            }
        };
        if needs_successor {
            let activates = current.map_or(now, |key| key.expires.max(now));
            let record = DataProtectionKeyRecord {
                id: Uuid::now_v7(),
                created: now,
                activates,
                expires: activates + self.key_lifetime,
                material: random_bytes::<32>().to_vec(),
            };
            self.store.insert_data_protection_key(&record).await?;
            tracing::info!(key_id = %record.id, "created data-protection key");
            records.push(record);
        }
        let current = current_key(&records, now)
            .map(|r| r.id)
            .unwrap_or(Uuid::nil());
        let keys = records
            .iter()
            .filter_map(|r| {
                <[u8; 32]>::try_from(r.material.as_slice())
                    .ok()
                    .map(|m| DataProtectionKey::new(r.id, &m))
            })
            .collect();
        Ok(KeyRing::new(current, keys))
    }
}

/// The key that encrypts at `now`: the most recently activated key that has not expired.
fn current_key(
    records: &[DataProtectionKeyRecord],
    now: OffsetDateTime,
) -> Option<&DataProtectionKeyRecord> {
    records
        .iter()
        .filter(|r| r.activates <= now && now < r.expires)
        .max_by_key(|r| (r.activates, r.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::MemoryStore;
    use std::time::Duration;

    fn protector(store: Arc<MemoryStore>, clock: Arc<ManualClock>) -> DataProtector {
        DataProtector::new(
            store,
            clock,
            Duration::from_secs(90 * 86400),
            Duration::from_secs(300),
        )
    }

    #[tokio::test]
    async fn the_first_use_creates_a_key_and_round_trips() {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(ManualClock::starting_now());
        let dp = protector(store.clone(), clock);
        let sealed = dp.protect("p", b"secret").await.unwrap();
        assert_eq!(dp.unprotect("p", &sealed).await.unwrap(), b"secret");
        assert_eq!(store.list_data_protection_keys().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn instances_sharing_a_store_share_the_ring() {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(ManualClock::starting_now());
        let a = protector(store.clone(), clock.clone());
        let b = protector(store.clone(), clock);
        let sealed = a.protect("p", b"secret").await.unwrap();
        assert_eq!(b.unprotect("p", &sealed).await.unwrap(), b"secret");
        assert_eq!(store.list_data_protection_keys().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_successor_is_created_before_expiry_and_old_data_still_decrypts() {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(ManualClock::starting_now());
        let dp = protector(store.clone(), clock.clone());
        let first = dp.maintain().await.unwrap();
        let sealed = dp.protect("p", b"old").await.unwrap();
        clock.advance(time::Duration::days(90) - time::Duration::minutes(5));
        dp.maintain().await.unwrap();
        assert_eq!(store.list_data_protection_keys().await.unwrap().len(), 2);
        clock.advance(time::Duration::minutes(10));
        let second = dp.maintain().await.unwrap();
        assert_ne!(first, second);
        assert_eq!(dp.unprotect("p", &sealed).await.unwrap(), b"old");
    }
}
