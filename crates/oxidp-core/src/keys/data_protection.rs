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
    /// DPoP server nonces (the sealed issue time; RFC 9449 §8).
    pub const DPOP_NONCE: &str = "oxidp.dpop-nonce.v1";
}

/// Encrypts and decrypts secrets at rest with the shared key ring.
pub struct DataProtector {
    store: Arc<dyn KeyStore>,
    clock: Arc<dyn Clock>,
    key_lifetime: time::Duration,
    cache_duration: time::Duration,
    cached: RwLock<Option<(OffsetDateTime, Arc<KeyRing>)>>,
    refresh: tokio::sync::Mutex<()>,
    master_key: Option<[u8; 32]>,
    last_forced_reload: std::sync::Mutex<Option<std::time::Instant>>,
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
            master_key: None,
            last_forced_reload: std::sync::Mutex::new(None),
        }
    }

    /// Seals the ring's keys at rest under `master_key` (the keys it creates from now on; keys
    /// created without it stay readable).
    pub fn with_master_key(mut self, master_key: Option<[u8; 32]>) -> Self {
        self.master_key = master_key;
        self
    }

    /// Creates a new key that encrypts from now on; older keys keep decrypting. Returns its id.
    pub async fn rotate(&self) -> Result<Uuid, ProtectError> {
        let _single_flight = self.refresh.lock().await;
        let now = self.clock.now();
        let record = self.new_record(now, now);
        self.store.insert_data_protection_key(&record).await?;
        tracing::info!(key_id = %record.id, "rotated the data-protection key");
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(record.id)
    }

    /// Every key of the ring as stored (material sealed when a master key is configured).
    pub async fn list(&self) -> Result<Vec<DataProtectionKeyRecord>, ProtectError> {
        Ok(self.store.list_data_protection_keys().await?)
    }

    fn new_record(
        &self,
        now: OffsetDateTime,
        activates: OffsetDateTime,
    ) -> DataProtectionKeyRecord {
        let id = Uuid::now_v7();
        let material = random_bytes::<32>();
        let stored = match &self.master_key {
            Some(master) => oxidp_jose::data_protection::master::seal(master, id, &material),
            None => material.to_vec(),
        };
        DataProtectionKeyRecord {
            id,
            created: now,
            activates,
            expires: activates + self.key_lifetime,
            material: stored,
        }
    }

    /// With a master key configured, seals the keys that were stored unsealed (created before
    /// the master key was), so a copy of the database alone no longer reveals them. Each key
    /// is replaced only while still unsealed: instances starting together seal it once.
    async fn seal_unsealed(
        &self,
        records: &mut [DataProtectionKeyRecord],
    ) -> Result<(), StoreError> {
        use oxidp_jose::data_protection::master;
        let Some(master_key) = &self.master_key else {
            return Ok(());
        };
        for record in records.iter_mut() {
            if master::is_sealed(&record.material) {
                continue;
            }
            let Ok(material) = <[u8; 32]>::try_from(record.material.as_slice()) else {
                continue;
            };
            let sealed = master::seal(master_key, record.id, &material);
            if self
                .store
                .seal_data_protection_key(record.id, &record.material, &sealed)
                .await?
            {
                tracing::info!(key_id = %record.id, "data-protection key sealed with the master key");
            }
            // Sealed here or by another instance meanwhile: either way it opens with the key.
            record.material = sealed;
        }
        Ok(())
    }

    fn open_material(&self, record: &DataProtectionKeyRecord) -> Option<[u8; 32]> {
        use oxidp_jose::data_protection::master;
        if !master::is_sealed(&record.material) {
            return <[u8; 32]>::try_from(record.material.as_slice()).ok();
        }
        let Some(key) = &self.master_key else {
            tracing::error!(key_id = %record.id, "data-protection key is sealed by a master key and none is configured (OXIDP_MASTER_KEY_FILE)");
            return None;
        };
        match master::open(key, record.id, &record.material) {
            Ok(material) => Some(material),
            Err(_) => {
                tracing::error!(key_id = %record.id, "data-protection key does not open with the configured master key");
                None
            }
        }
    }

    /// Encrypts `plaintext` for `purpose` with the current key.
    pub async fn protect(&self, purpose: &str, plaintext: &[u8]) -> Result<Vec<u8>, ProtectError> {
        Ok(self.ring(false).await?.protect(purpose, plaintext)?)
    }

    /// Decrypts what [`DataProtector::protect`] produced for the same purpose.
    pub async fn unprotect(&self, purpose: &str, data: &[u8]) -> Result<Vec<u8>, ProtectError> {
        match self.ring(false).await?.unprotect(purpose, data) {
            // Another instance may have created the key: re-read the ring, but at most once per
            // few seconds, so forged envelopes naming random key ids cannot hammer the database.
            Err(DataProtectionError::UnknownKey(_)) if self.may_force_reload() => {
                Ok(self.ring(true).await?.unprotect(purpose, data)?)
            }
            other => Ok(other?),
        }
    }

    fn may_force_reload(&self) -> bool {
        const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
        let mut last = self
            .last_forced_reload
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| at.elapsed() < MIN_INTERVAL) {
            return false;
        }
        *last = Some(std::time::Instant::now());
        true
    }

    /// A 256-bit secret for `purpose` derived from the ring: the same on every instance sharing
    /// it and across rotations, without being stored anywhere.
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
            let record = self.new_record(now, activates);
            self.store.insert_data_protection_key(&record).await?;
            tracing::info!(key_id = %record.id, "created data-protection key");
            records.push(record);
        }
        self.seal_unsealed(&mut records).await?;
        let current = current_key(&records, now)
            .map(|r| r.id)
            .unwrap_or(Uuid::nil());
        let keys = records
            .iter()
            .filter_map(|r| {
                self.open_material(r)
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
    async fn a_master_key_seals_the_ring_at_rest() {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(ManualClock::starting_now());
        let dp = protector(store.clone(), clock.clone()).with_master_key(Some([9u8; 32]));
        let sealed = dp.protect("p", b"secret").await.unwrap();
        let stored = store.list_data_protection_keys().await.unwrap().remove(0);
        assert!(oxidp_jose::data_protection::master::is_sealed(
            &stored.material
        ));
        let same_master = protector(store.clone(), clock.clone()).with_master_key(Some([9u8; 32]));
        assert_eq!(
            same_master.unprotect("p", &sealed).await.unwrap(),
            b"secret"
        );
        let no_master = protector(store.clone(), clock.clone());
        assert!(no_master.unprotect("p", &sealed).await.is_err());
    }

    #[tokio::test]
    async fn keys_created_before_a_master_key_are_sealed_when_it_appears() {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(ManualClock::starting_now());
        let before = protector(store.clone(), clock.clone());
        let data = before.protect("p", b"from before").await.unwrap();
        let old = store.list_data_protection_keys().await.unwrap();
        assert!(!oxidp_jose::data_protection::master::is_sealed(
            &old[0].material
        ));

        let with_master = protector(store.clone(), clock.clone()).with_master_key(Some([7u8; 32]));
        assert_eq!(
            with_master.unprotect("p", &data).await.unwrap(),
            b"from before",
            "old data still opens"
        );
        let now_stored = store.list_data_protection_keys().await.unwrap();
        assert_eq!(now_stored.len(), old.len());
        assert!(
            now_stored
                .iter()
                .all(|k| oxidp_jose::data_protection::master::is_sealed(&k.material)),
            "every key is sealed at rest now"
        );
        assert!(
            protector(store.clone(), clock.clone())
                .unprotect("p", &data)
                .await
                .is_err(),
            "without the master key the copy reveals nothing"
        );
    }

    #[tokio::test]
    async fn rotation_switches_the_encrypting_key_and_keeps_old_data_readable() {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(ManualClock::starting_now());
        let dp = protector(store.clone(), clock.clone());
        let first = dp.maintain().await.unwrap();
        let sealed = dp.protect("p", b"old").await.unwrap();
        clock.advance(time::Duration::seconds(1));
        let rotated = dp.rotate().await.unwrap();
        assert_ne!(first, rotated);
        assert_eq!(dp.maintain().await.unwrap(), rotated);
        assert_eq!(dp.unprotect("p", &sealed).await.unwrap(), b"old");
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
