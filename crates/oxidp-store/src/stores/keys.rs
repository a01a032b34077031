//! [`KeyStore`]: signing keys and data-protection keys, shared by every instance on one
//! database.

use crate::error::store_error;
use crate::{PostgresStore, SqliteStore, sql};
use async_trait::async_trait;
use oxidp_core::model::{DataProtectionKeyRecord, SigningKeyRecord};
use oxidp_core::store::{KeyStore, StoreError, StoreResult};
use uuid::Uuid;

/// Implements [`KeyStore`] for one backend's store type.
macro_rules! key_store {
    ($store:ty) => {
        #[async_trait]
        impl KeyStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
                let rows = sqlx::query(sql::LIST_SIGNING_KEYS)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                rows.iter().map(sql::signing_key_from_row).collect()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(kid = %key.id))]
            async fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
                let done = sqlx::query(sql::INSERT_SIGNING_KEY)
                    .bind(&key.id)
                    .bind(&key.algorithm)
                    .bind(sql::seconds(key.created))
                    .bind(sql::seconds(key.activates))
                    .bind(&key.protected_private_key)
                    .bind(&key.public_jwk)
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                match done.rows_affected() {
                    0 => Err(StoreError::Conflict),
                    _ => Ok(()),
                }
            }

            #[tracing::instrument(level = "debug", skip_all, fields(kid = %id))]
            async fn delete_signing_key(&self, id: &str) -> StoreResult<bool> {
                let done = sqlx::query(sql::DELETE_SIGNING_KEY)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_data_protection_keys(&self) -> StoreResult<Vec<DataProtectionKeyRecord>> {
                let rows = sqlx::query(sql::LIST_DATA_PROTECTION_KEYS)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                rows.iter().map(sql::data_protection_key_from_row).collect()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(key_id = %key.id))]
            async fn insert_data_protection_key(
                &self,
                key: &DataProtectionKeyRecord,
            ) -> StoreResult<()> {
                let done = sqlx::query(sql::INSERT_DATA_PROTECTION_KEY)
                    .bind(key.id.hyphenated().to_string())
                    .bind(sql::seconds(key.created))
                    .bind(sql::seconds(key.activates))
                    .bind(sql::seconds(key.expires))
                    .bind(&key.material)
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                match done.rows_affected() {
                    0 => Err(StoreError::Conflict),
                    _ => Ok(()),
                }
            }

            #[tracing::instrument(level = "debug", skip_all, fields(key_id = %id))]
            async fn seal_data_protection_key(
                &self,
                id: Uuid,
                unsealed: &[u8],
                sealed: &[u8],
            ) -> StoreResult<bool> {
                let done = sqlx::query(sql::SEAL_DATA_PROTECTION_KEY)
                    .bind(sealed)
                    .bind(id.hyphenated().to_string())
                    .bind(unsealed)
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

key_store!(SqliteStore);
key_store!(PostgresStore);
