//! [`UserStore`]: local user accounts; claims and roles are stored as one JSON profile.

use crate::error::store_error;
use crate::{PostgresStore, SqliteStore, sql};
use async_trait::async_trait;
use oxidp_core::model::User;
use oxidp_core::store::{StoreResult, UserStore};

/// Implements [`UserStore`] for one backend's store type.
macro_rules! user_store {
    ($store:ty) => {
        #[async_trait]
        impl UserStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(subject_id = %subject_id))]
            async fn find_user_by_subject(&self, subject_id: &str) -> StoreResult<Option<User>> {
                let row = sqlx::query(sql::FIND_USER_BY_SUBJECT)
                    .bind(subject_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error)?;
                row.as_ref().map(sql::user_from_row).transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
                let row = sqlx::query(sql::FIND_USER_BY_USERNAME)
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error)?;
                row.as_ref().map(sql::user_from_row).transpose()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(subject_id = %user.subject_id))]
            async fn create_user(&self, user: &User) -> StoreResult<()> {
                sqlx::query(sql::CREATE_USER)
                    .bind(&user.subject_id)
                    .bind(&user.username)
                    .bind(user.password_hash.as_deref())
                    .bind(sql::user_profile(user)?)
                    .bind(user.enabled)
                    .bind(sql::seconds(user.created))
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(subject_id = %user.subject_id))]
            async fn update_user(&self, user: &User) -> StoreResult<bool> {
                let done = sqlx::query(sql::UPDATE_USER)
                    .bind(&user.subject_id)
                    .bind(&user.username)
                    .bind(user.password_hash.as_deref())
                    .bind(sql::user_profile(user)?)
                    .bind(user.enabled)
                    .bind(sql::seconds(user.created))
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn list_users(&self) -> StoreResult<Vec<User>> {
                let rows = sqlx::query(sql::LIST_USERS)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                rows.iter().map(sql::user_from_row).collect()
            }
        }
    };
}

user_store!(SqliteStore);
user_store!(PostgresStore);
