//! [`GrantStore`]: persisted grants (reference tokens, codes, refresh tokens, consents, replay
//! records). Grant filters become a `WHERE` clause built at run time (see
//! [`sql::select_grants`]), every value bound.

use crate::dialect::{Dialect, Query};
use crate::error::store_error;
use crate::{PostgresStore, SqliteStore, sql};
use async_trait::async_trait;
use oxidp_core::model::{PersistedGrant, PersistedGrantFilter, RefreshTokenRotation};
use oxidp_core::store::{GrantStore, StoreError, StoreResult};
use time::OffsetDateTime;

/// Implements [`GrantStore`] (and the helpers the outbox's removals share) for one backend's
/// store type.
macro_rules! grant_store {
    ($store:ty) => {
        impl $store {
            /// Runs `INSERT` of `sql` (`STORE_GRANT` or `CREATE_GRANT`) for `grant`.
            async fn insert_grant(
                &self,
                sql: &'static str,
                grant: &PersistedGrant,
            ) -> StoreResult<u64> {
                let done = sqlx::query(sql)
                    .bind(&grant.key)
                    .bind(&grant.grant_type)
                    .bind(&grant.subject_id)
                    .bind(&grant.session_id)
                    .bind(&grant.client_id)
                    .bind(sql::seconds(grant.created))
                    .bind(grant.expires.map(sql::seconds))
                    .bind(grant.consumed.map(sql::seconds))
                    .bind(&grant.data)
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(done.rows_affected())
            }

            /// Binds the values of a statement built at run time.
            pub(crate) fn dynamic<'q>(statement: &'q sql::Dynamic<'q>) -> Query<'q, Self> {
                // Only column names and `$n` placeholders were written into the text; every
                // value is bound below.
                let mut query = sqlx::query(sqlx::AssertSqlSafe(statement.sql.as_str()));
                for value in &statement.binds {
                    query = query.bind(*value);
                }
                query
            }
        }

        #[async_trait]
        impl GrantStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(client_id = %grant.client_id))]
            async fn store_grant(&self, grant: &PersistedGrant) -> StoreResult<()> {
                self.insert_grant(sql::STORE_GRANT, grant).await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(client_id = %grant.client_id))]
            async fn create_grant(&self, grant: &PersistedGrant) -> StoreResult<()> {
                match self.insert_grant(sql::CREATE_GRANT, grant).await? {
                    0 => Err(StoreError::Conflict),
                    _ => Ok(()),
                }
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn consume_grant(
                &self,
                key: &str,
                at: OffsetDateTime,
            ) -> StoreResult<Option<PersistedGrant>> {
                let row = sqlx::query(sql::CONSUME_GRANT)
                    .bind(key)
                    .bind(at.unix_timestamp())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error)?;
                row.as_ref().map(sql::grant_from_row).transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn rotate_refresh_token(
                &self,
                rotation: &RefreshTokenRotation,
            ) -> StoreResult<Option<PersistedGrant>> {
                // The one grant operation whose mechanism differs between the databases:
                // see `crate::rotation`.
                self.rotate(rotation).await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn get_grant(&self, key: &str) -> StoreResult<Option<PersistedGrant>> {
                let row = sqlx::query(sql::GET_GRANT)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error)?;
                row.as_ref().map(sql::grant_from_row).transpose()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(filter = ?filter))]
            async fn get_grants(
                &self,
                filter: &PersistedGrantFilter,
            ) -> StoreResult<Vec<PersistedGrant>> {
                let statement = sql::select_grants(filter)?;
                let rows = Self::dynamic(&statement)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                rows.iter().map(sql::grant_from_row).collect()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn remove_grant(&self, key: &str) -> StoreResult<bool> {
                let done = sqlx::query(sql::REMOVE_GRANT)
                    .bind(key)
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(filter = ?filter))]
            async fn remove_grants(&self, filter: &PersistedGrantFilter) -> StoreResult<u64> {
                let statement = sql::delete_grants(filter)?;
                let done = Self::dynamic(&statement)
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(done.rows_affected())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(batch = batch))]
            async fn remove_expired_grants(
                &self,
                now: OffsetDateTime,
                batch: u32,
            ) -> StoreResult<u64> {
                remove_expired!(self, Self::REMOVE_EXPIRED_GRANTS, now, batch)
            }
        }
    };
}

grant_store!(SqliteStore);
grant_store!(PostgresStore);
