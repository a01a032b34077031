//! [`RevokedTokenStore`]: the revocation list of JWT access tokens. Recording an id is an
//! `INSERT ... ON CONFLICT DO NOTHING`, so revoking a token twice, or on two instances at once,
//! keeps one entry.

use crate::dialect::Dialect;
use crate::error::store_error;
use crate::{PostgresStore, SqliteStore, sql};
use async_trait::async_trait;
use oxidp_core::model::RevokedToken;
use oxidp_core::store::{RevokedTokenStore, StoreResult};
use time::OffsetDateTime;

const REVOKE: &str = "INSERT INTO revoked_tokens (jti, client_id, expires) VALUES ($1, $2, $3) \
     ON CONFLICT (jti) DO NOTHING";

const FIND: &str = "SELECT jti, client_id, expires FROM revoked_tokens WHERE jti = $1";

/// Implements [`RevokedTokenStore`] for one backend's store type.
macro_rules! revoked_token_store {
    ($store:ty) => {
        #[async_trait]
        impl RevokedTokenStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(client_id = %revoked.client_id))]
            async fn revoke_token_id(&self, revoked: &RevokedToken) -> StoreResult<()> {
                sqlx::query(REVOKE)
                    .bind(&revoked.jti)
                    .bind(&revoked.client_id)
                    .bind(sql::seconds(revoked.expires))
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn find_revoked_token_id(
                &self,
                jti: &str,
            ) -> StoreResult<Option<RevokedToken>> {
                let row = sqlx::query(FIND)
                    .bind(jti)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error)?;
                row.map(|row| {
                    Ok(RevokedToken {
                        jti: sql::column(&row, "jti")?,
                        client_id: sql::column(&row, "client_id")?,
                        expires: sql::instant("expires", sql::column(&row, "expires")?)?,
                    })
                })
                .transpose()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(batch = batch))]
            async fn remove_expired_revoked_token_ids(
                &self,
                now: OffsetDateTime,
                batch: u32,
            ) -> StoreResult<u64> {
                remove_expired!(self, <$store as Dialect>::REMOVE_EXPIRED_REVOKED_TOKENS, now, batch)
            }
        }
    };
}

revoked_token_store!(SqliteStore);
revoked_token_store!(PostgresStore);
