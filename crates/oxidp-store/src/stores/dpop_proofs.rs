//! [`DpopProofStore`]: the DPoP proofs seen. Recording a proof is an
//! `INSERT ... ON CONFLICT DO NOTHING`: the database's unique key decides which of concurrent
//! uses (on one instance or several) is the first, and only that insert adds a row.

use crate::dialect::Dialect;
use crate::error::store_error;
use crate::{PostgresStore, SqliteStore, sql};
use async_trait::async_trait;
use oxidp_core::store::{DpopProofStore, StoreResult};
use time::OffsetDateTime;

const RECORD: &str =
    "INSERT INTO dpop_proofs (key, expires) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";

/// Implements [`DpopProofStore`] for one backend's store type.
macro_rules! dpop_proof_store {
    ($store:ty) => {
        #[async_trait]
        impl DpopProofStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn record_dpop_proof(
                &self,
                key: &str,
                expires: OffsetDateTime,
            ) -> StoreResult<bool> {
                let done = sqlx::query(RECORD)
                    .bind(key)
                    .bind(sql::seconds(expires))
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(batch = batch))]
            async fn remove_expired_dpop_proofs(
                &self,
                now: OffsetDateTime,
                batch: u32,
            ) -> StoreResult<u64> {
                remove_expired!(
                    self,
                    <$store as Dialect>::REMOVE_EXPIRED_DPOP_PROOFS,
                    now,
                    batch
                )
            }
        }
    };
}

dpop_proof_store!(SqliteStore);
dpop_proof_store!(PostgresStore);
