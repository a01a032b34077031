//! Signing keys with automatic rotation.
//!
//! Per configured algorithm the keys form a sequence ordered by activation. The key that signs
//! is the latest one whose activation has passed; it retires when its successor activates. A
//! successor is created one announcement period before it activates, so JWKS caches know it
//! before the first token it signs; a retired key stays published for the retention period,
//! which covers every token it signed, and is then deleted. Instances share keys through the
//! store and hold a short-lived in-memory view of them, so signing never touches the database.

use super::data_protection::{DataProtector, ProtectError, purposes};
use super::to_time;
use crate::clock::Clock;
use crate::model::SigningKeyRecord;
use crate::options::KeyManagementOptions;
use crate::store::{KeyStore, StoreError};
use oxidp_jose::{Jwk, JwkSet, SigningAlgorithm, SigningKey};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;

/// Errors of key management.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A private key could not be decrypted or parsed.
    #[error("signing key {kid} is unusable: {reason}")]
    Unusable {
        /// The key id.
        kid: String,
        /// Why.
        reason: String,
    },
    /// The algorithm is not among the configured ones.
    #[error("no signing key for {0}: the algorithm is not configured in `keys.algorithms`")]
    NoKey(SigningAlgorithm),
}

impl From<ProtectError> for KeyError {
    fn from(error: ProtectError) -> Self {
        match error {
            ProtectError::Store(e) => Self::Store(e),
            ProtectError::Data(e) => Self::Unusable {
                kid: String::new(),
                reason: e.to_string(),
            },
        }
    }
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Published, not signing yet.
    Announced,
    /// Signing tokens.
    Signing,
    /// Published for verification only, until `retires + retention`.
    Retired,
}

/// A key as `oxidp keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub algorithm: String,
    /// Created (published).
    pub created: OffsetDateTime,
    /// Starts signing.
    pub activates: OffsetDateTime,
    /// Stops signing (when a successor is known).
    pub retires: Option<OffsetDateTime>,
    /// Removed from JWKS.
    pub removed: Option<OffsetDateTime>,
    /// Current status.
    pub status: KeyStatus,
}

struct View {
    valid_until: OffsetDateTime,
    signing: HashMap<SigningAlgorithm, Arc<SigningKey>>,
    jwks: Arc<JwkSet>,
    /// The same keys ready to verify our own tokens, parsed once per view.
    verifier: Arc<oxidp_jose::verify::VerifierKeys>,
}

/// Creates, rotates, publishes and hands out the signing keys.
pub struct KeyManager {
    store: Arc<dyn KeyStore>,
    protector: Arc<DataProtector>,
    clock: Arc<dyn Clock>,
    options: KeyManagementOptions,
    view: RwLock<Option<Arc<View>>>,
    refresh: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl KeyManager {
    /// A key manager over `store`, encrypting private keys with `protector`.
    pub fn new(
        store: Arc<dyn KeyStore>,
        protector: Arc<DataProtector>,
        clock: Arc<dyn Clock>,
        options: KeyManagementOptions,
    ) -> Self {
        Self {
            store,
            protector,
            clock,
            options,
            view: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// The key that signs with `algorithm` now.
    pub async fn signing_key(
        &self,
        algorithm: SigningAlgorithm,
    ) -> Result<Arc<SigningKey>, KeyError> {
        self.current_view()
            .await?
            .signing
            .get(&algorithm)
            .cloned()
            .ok_or(KeyError::NoKey(algorithm))
    }

    /// The key that signs access tokens now.
    pub async fn default_signing_key(&self) -> Result<Arc<SigningKey>, KeyError> {
        self.signing_key(self.options.default_algorithm()).await
    }

    /// The published keys: announced, signing and retired-but-retained.
    pub async fn jwks(&self) -> Result<Arc<JwkSet>, KeyError> {
        Ok(self.current_view().await?.jwks.clone())
    }

    /// The published keys ready to verify our own tokens, parsed once per key view rather
    /// than per token.
    pub async fn verifier(&self) -> Result<Arc<oxidp_jose::verify::VerifierKeys>, KeyError> {
        Ok(self.current_view().await?.verifier.clone())
    }

    /// The algorithms keys are kept for.
    pub fn algorithms(&self) -> &[SigningAlgorithm] {
        &self.options.algorithms
    }

    /// Runs rotation now (create due successors, delete expired keys) and refreshes the view.
    pub async fn maintain(&self) -> Result<(), KeyError> {
        let _single_flight = self.refresh.lock().await;
        self.rebuild().await.map(|_| ())
    }

    /// Creates a new key for `algorithm`: it signs after the announcement period, or at once
    /// when `immediately` (for a key believed compromised; caches that have not seen it yet will
    /// fail to verify until they refresh).
    pub async fn rotate(
        &self,
        algorithm: SigningAlgorithm,
        immediately: bool,
    ) -> Result<KeyInfo, KeyError> {
        if !self.options.algorithms.contains(&algorithm) {
            return Err(KeyError::NoKey(algorithm));
        }
        let _single_flight = self.refresh.lock().await;
        let now = self.clock.now();
        let activates = if immediately {
            // Strictly after the key signing now, so the order of the two is never a tie.
            let records = self.store.list_signing_keys().await?;
            let current = signing_record(&records, algorithm, now)
                .map(|r| r.activates + time::Duration::seconds(1));
            current.map_or(now, |after| after.max(now))
        } else {
            now + to_time(self.options.announcement_period)
        };
        let record = self.create_key(algorithm, now, activates).await?;
        self.rebuild().await?;
        let records = self.store.list_signing_keys().await?;
        Ok(self.info(&record, &records, self.clock.now()))
    }

    /// Every stored key with its schedule.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let now = self.clock.now();
        let records = self.store.list_signing_keys().await?;
        Ok(records
            .iter()
            .map(|r| self.info(r, &records, now))
            .collect())
    }

    async fn current_view(&self) -> Result<Arc<View>, KeyError> {
        let now = self.clock.now();
        if let Some(view) = self.fresh_view(now) {
            return Ok(view);
        }
        let _single_flight = self.refresh.lock().await;
        if let Some(view) = self.fresh_view(now) {
            return Ok(view);
        }
        self.rebuild().await
    }

    fn fresh_view(&self, now: OffsetDateTime) -> Option<Arc<View>> {
        let view = self.view.read().unwrap_or_else(|e| e.into_inner());
        view.as_ref().filter(|v| now < v.valid_until).cloned()
    }

    async fn rebuild(&self) -> Result<Arc<View>, KeyError> {
        let now = self.clock.now();
        let mut records = self.store.list_signing_keys().await?;
        for algorithm in &self.options.algorithms {
            if let Some(activates) = self.successor_due(&records, *algorithm, now) {
                let record = self.create_key(*algorithm, now, activates).await?;
                records.push(record);
            }
        }
        records.sort_by(|a, b| (a.activates, &a.id).cmp(&(b.activates, &b.id)));
        let expired: Vec<String> = records
            .iter()
            .filter(|r| {
                self.info(r, &records, now)
                    .removed
                    .is_some_and(|t| t <= now)
            })
            .map(|r| r.id.clone())
            .collect();
        for kid in &expired {
            self.store.delete_signing_key(kid).await?;
            tracing::info!(%kid, "deleted signing key after its retention period");
        }
        records.retain(|r| !expired.contains(&r.id));

        let mut signing = HashMap::new();
        let mut next_change = now + to_time(self.options.cache_duration);
        for algorithm in &self.options.algorithms {
            let Some(record) = signing_record(&records, *algorithm, now) else {
                continue;
            };
            let pkcs8 = self
                .protector
                .unprotect(purposes::SIGNING_KEY, &record.protected_private_key)
                .await
                .map_err(|e| KeyError::Unusable {
                    kid: record.id.clone(),
                    reason: e.to_string(),
                })?;
            let key =
                SigningKey::from_pkcs8(*algorithm, &pkcs8).map_err(|e| KeyError::Unusable {
                    kid: record.id.clone(),
                    reason: e.to_string(),
                })?;
            signing.insert(*algorithm, Arc::new(key));
        }
        // A successor that activates before the cache would expire shortens the view's life, so
        // the switch happens on time.
        for record in records.iter().filter(|r| r.activates > now) {
            next_change = next_change.min(record.activates);
        }
        let keys: Vec<Jwk> = records
            .iter()
            .filter_map(|r| serde_json::from_str(&r.public_jwk).ok())
            .collect();
        let view = Arc::new(View {
            valid_until: next_change,
            signing,
            verifier: Arc::new(oxidp_jose::verify::VerifierKeys::from_jwks(
                &serde_json::json!({ "keys": keys }),
            )),
            jwks: Arc::new(JwkSet { keys }),
        });
        *self.view.write().unwrap_or_else(|e| e.into_inner()) = Some(view.clone());
        Ok(view)
    }

    /// When a new key for `algorithm` must be created now, the instant it should activate.
    fn successor_due(
        &self,
        records: &[SigningKeyRecord],
        algorithm: SigningAlgorithm,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        let of_alg: Vec<_> = records
            .iter()
            .filter(|r| r.algorithm == algorithm.as_str())
            .collect();
        if of_alg.iter().any(|r| r.activates > now) {
            return None; // a successor is already announced
        }
        let Some(current) = signing_record(records, algorithm, now) else {
            return Some(now); // first start: nothing is published yet, so nothing to announce
        };
        let rotation = to_time(self.options.rotation_interval);
        let announcement = to_time(self.options.announcement_period);
        let due_at = current.activates + rotation;
        if due_at - announcement > now {
            return None;
        }
        // A key long overdue (the server was off) is replaced at once rather than kept signing
        // for another announcement period.
        if due_at + announcement <= now {
            Some(now)
        } else {
            Some(due_at.max(now))
        }
    }

    async fn create_key(
        &self,
        algorithm: SigningAlgorithm,
        now: OffsetDateTime,
        activates: OffsetDateTime,
    ) -> Result<SigningKeyRecord, KeyError> {
        let key = tokio::task::spawn_blocking(move || SigningKey::generate(algorithm))
            .await
            .map_err(|e| KeyError::Unusable {
                kid: String::new(),
                reason: e.to_string(),
            })?
            .map_err(|e| KeyError::Unusable {
                kid: String::new(),
                reason: e.to_string(),
            })?;
        let protected_private_key = self
            .protector
            .protect(purposes::SIGNING_KEY, key.expose_pkcs8())
            .await?;
        let record = SigningKeyRecord {
            id: key.kid().to_owned(),
            algorithm: algorithm.as_str().to_owned(),
            created: now,
            activates,
            protected_private_key,
            public_jwk: serde_json::to_string(&key.public_jwk()).unwrap_or_default(),
        };
        self.store.insert_signing_key(&record).await?;
        tracing::info!(kid = %record.id, %algorithm, activates = %record.activates, "created signing key");
        Ok(record)
    }

    fn info(
        &self,
        record: &SigningKeyRecord,
        all: &[SigningKeyRecord],
        now: OffsetDateTime,
    ) -> KeyInfo {
        let retention = to_time(self.options.retention_period);
        let configured = self
            .options
            .algorithms
            .iter()
            .any(|a| a.as_str() == record.algorithm);
        // A key retires when the next key of its algorithm activates. Keys of an algorithm no
        // longer configured retire at the end of their rotation interval.
        let retires = all
            .iter()
            .filter(|r| {
                r.algorithm == record.algorithm
                    && (r.activates, &r.id) > (record.activates, &record.id)
            })
            .map(|r| r.activates)
            .min()
            .or_else(|| {
                (!configured).then(|| record.activates + to_time(self.options.rotation_interval))
            });
        let removed = retires.map(|t| t + retention);
        let status = if record.activates > now {
            KeyStatus::Announced
        } else if retires.is_some_and(|t| t <= now) {
            KeyStatus::Retired
        } else {
            KeyStatus::Signing
        };
        KeyInfo {
            kid: record.id.clone(),
            algorithm: record.algorithm.clone(),
            created: record.created,
            activates: record.activates,
            retires,
            removed,
            status,
        }
    }
}

/// The record that signs for `algorithm` at `now`: the latest activated one.
fn signing_record(
    records: &[SigningKeyRecord],
    algorithm: SigningAlgorithm,
    now: OffsetDateTime,
) -> Option<&SigningKeyRecord> {
    records
        .iter()
        .filter(|r| r.algorithm == algorithm.as_str() && r.activates <= now)
        .max_by(|a, b| (a.activates, &a.id).cmp(&(b.activates, &b.id)))
}
