//! [`ClientStore`] and [`ResourceStore`]: clients and API resources, each stored as its serde
//! JSON body beside its key (SQL in [`crate::sql`]).

use crate::error::store_error;
use crate::{PostgresStore, SqliteStore, sql};
use async_trait::async_trait;
use oxidp_core::model::{ApiResource, Client};
use oxidp_core::store::{ClientStore, ResourceStore, StoreResult};
use time::OffsetDateTime;

/// Implements [`ClientStore`] and [`ResourceStore`] for one backend's store type.
macro_rules! client_stores {
    ($store:ty) => {
        #[async_trait]
        impl ClientStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(client_id = %client_id))]
            async fn find_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
                let row = sqlx::query(sql::FIND_CLIENT)
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error)?;
                row.map(|row| sql::from_json("client", &sql::data_column(&row)?))
                    .transpose()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(client_id = %client.client_id))]
            async fn upsert_client(&self, client: &Client) -> StoreResult<()> {
                let data = sql::to_json("client", client)?;
                sqlx::query(sql::UPSERT_CLIENT)
                    .bind(&client.client_id)
                    .bind(data)
                    .bind(sql::seconds(OffsetDateTime::now_utc()))
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(client_id = %client_id))]
            async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
                let done = sqlx::query(sql::DELETE_CLIENT)
                    .bind(client_id)
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_clients(&self) -> StoreResult<Vec<Client>> {
                let rows = sqlx::query(sql::LIST_CLIENTS)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                rows.iter()
                    .map(|row| sql::from_json("client", &sql::data_column(row)?))
                    .collect()
            }
        }

        #[async_trait]
        impl ResourceStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
            async fn find_api_resource(&self, name: &str) -> StoreResult<Option<ApiResource>> {
                let row = sqlx::query(sql::FIND_API_RESOURCE)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error)?;
                row.map(|row| sql::from_json("API resource", &sql::data_column(&row)?))
                    .transpose()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(name = %resource.name))]
            async fn upsert_api_resource(&self, resource: &ApiResource) -> StoreResult<()> {
                let data = sql::to_json("API resource", resource)?;
                sqlx::query(sql::UPSERT_API_RESOURCE)
                    .bind(&resource.name)
                    .bind(data)
                    .bind(sql::seconds(OffsetDateTime::now_utc()))
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_api_resources(&self) -> StoreResult<Vec<ApiResource>> {
                let rows = sqlx::query(sql::LIST_API_RESOURCES)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                rows.iter()
                    .map(|row| sql::from_json("API resource", &sql::data_column(row)?))
                    .collect()
            }
        }
    };
}

client_stores!(SqliteStore);
client_stores!(PostgresStore);
