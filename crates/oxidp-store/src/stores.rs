//! The store traits implemented once for both backends.
//!
//! sqlx's drivers share no trait for "a pool that runs this query and reports rows affected",
//! so the implementations are written once here as a macro and expanded for each backend type
//! (`impl_stores!(SqliteStore, sqlx::Sqlite, remove_expired_grants = ...)`). The SQL text is shared (see
//! [`crate::sql`]); each backend passes the one statement that differs between dialects.

/// Implements [`ClientStore`](oxidp_core::store::ClientStore),
/// [`ResourceStore`](oxidp_core::store::ResourceStore),
/// [`GrantStore`](oxidp_core::store::GrantStore), [`KeyStore`](oxidp_core::store::KeyStore)
/// and [`UserStore`](oxidp_core::store::UserStore) for `$store`, a struct with a
/// `pool: sqlx::Pool<$db>` field.
macro_rules! impl_stores {
    ($store:ty, $db:ty, remove_expired_grants = $remove_expired:expr) => {
        #[async_trait::async_trait]
        impl oxidp_core::store::ClientStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(client_id = %client_id))]
            async fn find_client(
                &self,
                client_id: &str,
            ) -> oxidp_core::store::StoreResult<Option<oxidp_core::model::Client>> {
                let row = sqlx::query($crate::sql::FIND_CLIENT)
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                row.map(|row| $crate::sql::from_json("client", &$crate::sql::data_column(&row)?))
                    .transpose()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(client_id = %client.client_id))]
            async fn upsert_client(
                &self,
                client: &oxidp_core::model::Client,
            ) -> oxidp_core::store::StoreResult<()> {
                let data = $crate::sql::to_json("client", client)?;
                sqlx::query($crate::sql::UPSERT_CLIENT)
                    .bind(&client.client_id)
                    .bind(data)
                    .bind($crate::sql::seconds(time::OffsetDateTime::now_utc()))
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_clients(
                &self,
            ) -> oxidp_core::store::StoreResult<Vec<oxidp_core::model::Client>> {
                let rows = sqlx::query($crate::sql::LIST_CLIENTS)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                rows.iter()
                    .map(|row| $crate::sql::from_json("client", &$crate::sql::data_column(row)?))
                    .collect()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(client_id = %client_id))]
            async fn delete_client(&self, client_id: &str) -> oxidp_core::store::StoreResult<bool> {
                let done = sqlx::query($crate::sql::DELETE_CLIENT)
                    .bind(client_id)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(done.rows_affected() > 0)
            }
        }

        #[async_trait::async_trait]
        impl oxidp_core::store::ResourceStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
            async fn find_api_resource(
                &self,
                name: &str,
            ) -> oxidp_core::store::StoreResult<Option<oxidp_core::model::ApiResource>> {
                let row = sqlx::query($crate::sql::FIND_API_RESOURCE)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                row.map(|row| {
                    $crate::sql::from_json("API resource", &$crate::sql::data_column(&row)?)
                })
                .transpose()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(name = %resource.name))]
            async fn upsert_api_resource(
                &self,
                resource: &oxidp_core::model::ApiResource,
            ) -> oxidp_core::store::StoreResult<()> {
                let data = $crate::sql::to_json("API resource", resource)?;
                sqlx::query($crate::sql::UPSERT_API_RESOURCE)
                    .bind(&resource.name)
                    .bind(data)
                    .bind($crate::sql::seconds(time::OffsetDateTime::now_utc()))
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_api_resources(
                &self,
            ) -> oxidp_core::store::StoreResult<Vec<oxidp_core::model::ApiResource>> {
                let rows = sqlx::query($crate::sql::LIST_API_RESOURCES)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                rows.iter()
                    .map(|row| {
                        $crate::sql::from_json("API resource", &$crate::sql::data_column(row)?)
                    })
                    .collect()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(name = %name))]
            async fn delete_api_resource(
                &self,
                name: &str,
            ) -> oxidp_core::store::StoreResult<bool> {
                let done = sqlx::query($crate::sql::DELETE_API_RESOURCE)
                    .bind(name)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(done.rows_affected() > 0)
            }
        }

        impl $store {
            /// Runs `INSERT` of `sql` (`STORE_GRANT` or `CREATE_GRANT`) for `grant`.
            async fn insert_grant(
                &self,
                sql: &'static str,
                grant: &oxidp_core::model::PersistedGrant,
            ) -> oxidp_core::store::StoreResult<u64> {
                let done = sqlx::query(sql)
                    .bind(&grant.key)
                    .bind(&grant.grant_type)
                    .bind(&grant.subject_id)
                    .bind(&grant.session_id)
                    .bind(&grant.client_id)
                    .bind($crate::sql::seconds(grant.created))
                    .bind(grant.expires.map($crate::sql::seconds))
                    .bind(grant.consumed.map($crate::sql::seconds))
                    .bind(&grant.data)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(done.rows_affected())
            }

            /// Binds the values of a statement built at run time.
            fn dynamic<'q>(
                statement: &'q $crate::sql::Dynamic<'q>,
            ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments> {
                // Only column names and `$n` placeholders were written into the text; every
                // value is bound below.
                let mut query = sqlx::query(sqlx::AssertSqlSafe(statement.sql.as_str()));
                for value in &statement.binds {
                    query = query.bind(*value);
                }
                query
            }
        }

        #[async_trait::async_trait]
        impl oxidp_core::store::GrantStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(client_id = %grant.client_id))]
            async fn store_grant(
                &self,
                grant: &oxidp_core::model::PersistedGrant,
            ) -> oxidp_core::store::StoreResult<()> {
                self.insert_grant($crate::sql::STORE_GRANT, grant).await?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(client_id = %grant.client_id))]
            async fn create_grant(
                &self,
                grant: &oxidp_core::model::PersistedGrant,
            ) -> oxidp_core::store::StoreResult<()> {
                match self.insert_grant($crate::sql::CREATE_GRANT, grant).await? {
                    0 => Err(oxidp_core::store::StoreError::Conflict),
                    _ => Ok(()),
                }
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn consume_grant(
                &self,
                key: &str,
                at: time::OffsetDateTime,
            ) -> oxidp_core::store::StoreResult<bool> {
                let result = sqlx::query($crate::sql::CONSUME_GRANT)
                    .bind(key)
                    .bind(at.unix_timestamp())
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(result.rows_affected() == 1)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn get_grant(
                &self,
                key: &str,
            ) -> oxidp_core::store::StoreResult<Option<oxidp_core::model::PersistedGrant>> {
                let row = sqlx::query($crate::sql::GET_GRANT)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                row.as_ref().map($crate::sql::grant_from_row).transpose()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(filter = ?filter))]
            async fn get_grants(
                &self,
                filter: &oxidp_core::model::PersistedGrantFilter,
            ) -> oxidp_core::store::StoreResult<Vec<oxidp_core::model::PersistedGrant>> {
                let statement = $crate::sql::select_grants(filter)?;
                let rows = Self::dynamic(&statement)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                rows.iter().map($crate::sql::grant_from_row).collect()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn remove_grant(&self, key: &str) -> oxidp_core::store::StoreResult<bool> {
                let done = sqlx::query($crate::sql::REMOVE_GRANT)
                    .bind(key)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(filter = ?filter))]
            async fn remove_grants(
                &self,
                filter: &oxidp_core::model::PersistedGrantFilter,
            ) -> oxidp_core::store::StoreResult<u64> {
                let statement = $crate::sql::delete_grants(filter)?;
                let done = Self::dynamic(&statement)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(done.rows_affected())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(batch = batch))]
            async fn remove_expired_grants(
                &self,
                now: time::OffsetDateTime,
                batch: u32,
            ) -> oxidp_core::store::StoreResult<u64> {
                let done = sqlx::query($remove_expired)
                    .bind($crate::sql::seconds(now))
                    .bind(i64::from(batch))
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(done.rows_affected())
            }
        }

        #[async_trait::async_trait]
        impl oxidp_core::store::KeyStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_signing_keys(
                &self,
            ) -> oxidp_core::store::StoreResult<Vec<oxidp_core::model::SigningKeyRecord>> {
                let rows = sqlx::query($crate::sql::LIST_SIGNING_KEYS)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                rows.iter().map($crate::sql::signing_key_from_row).collect()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(kid = %key.id))]
            async fn insert_signing_key(
                &self,
                key: &oxidp_core::model::SigningKeyRecord,
            ) -> oxidp_core::store::StoreResult<()> {
                let done = sqlx::query($crate::sql::INSERT_SIGNING_KEY)
                    .bind(&key.id)
                    .bind(&key.algorithm)
                    .bind($crate::sql::seconds(key.created))
                    .bind($crate::sql::seconds(key.activates))
                    .bind(&key.protected_private_key)
                    .bind(&key.public_jwk)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                match done.rows_affected() {
                    0 => Err(oxidp_core::store::StoreError::Conflict),
                    _ => Ok(()),
                }
            }

            #[tracing::instrument(level = "debug", skip_all, fields(kid = %id))]
            async fn delete_signing_key(&self, id: &str) -> oxidp_core::store::StoreResult<bool> {
                let done = sqlx::query($crate::sql::DELETE_SIGNING_KEY)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_data_protection_keys(
                &self,
            ) -> oxidp_core::store::StoreResult<Vec<oxidp_core::model::DataProtectionKeyRecord>>
            {
                let rows = sqlx::query($crate::sql::LIST_DATA_PROTECTION_KEYS)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                rows.iter()
                    .map($crate::sql::data_protection_key_from_row)
                    .collect()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(key_id = %key.id))]
            async fn insert_data_protection_key(
                &self,
                key: &oxidp_core::model::DataProtectionKeyRecord,
            ) -> oxidp_core::store::StoreResult<()> {
                let done = sqlx::query($crate::sql::INSERT_DATA_PROTECTION_KEY)
                    .bind(key.id.hyphenated().to_string())
                    .bind($crate::sql::seconds(key.created))
                    .bind($crate::sql::seconds(key.activates))
                    .bind($crate::sql::seconds(key.expires))
                    .bind(&key.material)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                match done.rows_affected() {
                    0 => Err(oxidp_core::store::StoreError::Conflict),
                    _ => Ok(()),
                }
            }

            #[tracing::instrument(level = "debug", skip_all, fields(key_id = %id))]
            async fn delete_data_protection_key(
                &self,
                id: uuid::Uuid,
            ) -> oxidp_core::store::StoreResult<bool> {
                let done = sqlx::query($crate::sql::DELETE_DATA_PROTECTION_KEY)
                    .bind(id.hyphenated().to_string())
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(done.rows_affected() > 0)
            }
        }
        #[async_trait::async_trait]
        impl oxidp_core::store::UserStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(subject_id = %subject_id))]
            async fn find_user_by_subject(
                &self,
                subject_id: &str,
            ) -> oxidp_core::store::StoreResult<Option<oxidp_core::model::User>> {
                let row = sqlx::query($crate::sql::FIND_USER_BY_SUBJECT)
                    .bind(subject_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                row.as_ref().map($crate::sql::user_from_row).transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn find_user_by_username(
                &self,
                username: &str,
            ) -> oxidp_core::store::StoreResult<Option<oxidp_core::model::User>> {
                let row = sqlx::query($crate::sql::FIND_USER_BY_USERNAME)
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                row.as_ref().map($crate::sql::user_from_row).transpose()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(subject_id = %user.subject_id))]
            async fn create_user(
                &self,
                user: &oxidp_core::model::User,
            ) -> oxidp_core::store::StoreResult<()> {
                sqlx::query($crate::sql::CREATE_USER)
                    .bind(&user.subject_id)
                    .bind(&user.username)
                    .bind(user.password_hash.as_deref())
                    .bind($crate::sql::user_profile(user)?)
                    .bind(user.enabled)
                    .bind($crate::sql::seconds(user.created))
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(subject_id = %user.subject_id))]
            async fn update_user(
                &self,
                user: &oxidp_core::model::User,
            ) -> oxidp_core::store::StoreResult<bool> {
                let done = sqlx::query($crate::sql::UPDATE_USER)
                    .bind(&user.subject_id)
                    .bind(&user.username)
                    .bind(user.password_hash.as_deref())
                    .bind($crate::sql::user_profile(user)?)
                    .bind(user.enabled)
                    .bind($crate::sql::seconds(user.created))
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_users(
                &self,
            ) -> oxidp_core::store::StoreResult<Vec<oxidp_core::model::User>> {
                let rows = sqlx::query($crate::sql::LIST_USERS)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                rows.iter().map($crate::sql::user_from_row).collect()
            }
        }
    };
}

pub(crate) use impl_stores;
