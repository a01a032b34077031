//! [`AuditStore`]: the append-only audit trail of administrative actions (SQL in
//! [`crate::outbox`]).

use crate::error::store_error;
use crate::{PostgresStore, SqliteStore, sql};
use async_trait::async_trait;
use oxidp_core::model::AuditEntry;
use oxidp_core::store::{AuditStore, StoreResult};

/// Implements [`AuditStore`] for one backend's store type.
macro_rules! audit_store {
    ($store:ty) => {
        #[async_trait]
        impl AuditStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(id = %entry.id))]
            async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
                sqlx::query(crate::outbox::INSERT_AUDIT)
                    .bind(crate::outbox::id_text(entry.id))
                    .bind(sql::seconds(entry.at))
                    .bind(entry.actor.as_str())
                    .bind(entry.request.as_str())
                    .bind(entry.outcome.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(limit = limit))]
            async fn list_audit(&self, limit: u32) -> StoreResult<Vec<AuditEntry>> {
                let rows = sqlx::query(crate::outbox::LIST_AUDIT)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                rows.iter().map(crate::outbox::audit_from_row).collect()
            }
        }
    };
}

audit_store!(SqliteStore);
audit_store!(PostgresStore);
