//! The store traits implemented once for both backends.
//!
//! sqlx's drivers share no trait for "a pool that runs this query and reports rows affected",
//! so the implementations are written once here as a macro and expanded for each backend type
//! (`impl_stores!(SqliteStore, sqlx::Sqlite, remove_expired_grants = ...)`). The SQL text is shared (see
//! [`crate::sql`]); each backend passes the one statement that differs between dialects.

/// Implements [`ClientStore`](oxidp_core::store::ClientStore),
/// [`ResourceStore`](oxidp_core::store::ResourceStore),
/// [`GrantStore`](oxidp_core::store::GrantStore), [`KeyStore`](oxidp_core::store::KeyStore)
/// [`UserStore`](oxidp_core::store::UserStore) and
/// [`SessionStore`](oxidp_core::store::SessionStore),
/// [`OutboxStore`](oxidp_core::store::OutboxStore) and
/// [`AuditStore`](oxidp_core::store::AuditStore) for `$store`, a struct with a
/// `pool: sqlx::Pool<$db>` field.
macro_rules! impl_stores {
    (
        $store:ty,
        $db:ty,
        remove_expired_grants = $remove_expired:expr,
        get_and_remove_expired_sessions = $remove_expired_sessions:expr,
        claim_due = $claim_due:expr,
        message_chunk = $message_chunk:expr $(,)?
    ) => {
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
            ) -> oxidp_core::store::StoreResult<Option<oxidp_core::model::PersistedGrant>> {
                let row = sqlx::query($crate::sql::CONSUME_GRANT)
                    .bind(key)
                    .bind(at.unix_timestamp())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                row.as_ref().map($crate::sql::grant_from_row).transpose()
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

        impl $store {
            /// Binds the 9 columns of `session` in the order of `CREATE_SESSION`.
            async fn write_session(
                &self,
                sql: &'static str,
                session: &oxidp_core::model::ServerSideSession,
            ) -> oxidp_core::store::StoreResult<u64> {
                let done = sqlx::query(sql)
                    .bind(&session.key)
                    .bind(&session.scheme)
                    .bind(&session.subject_id)
                    .bind(&session.session_id)
                    .bind(session.display_name.as_deref())
                    .bind($crate::sql::seconds(session.created))
                    .bind($crate::sql::seconds(session.renewed))
                    .bind($crate::sessions::optional_seconds(session.expires))
                    .bind(session.ticket.as_slice())
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(done.rows_affected())
            }

            /// Binds the values of a session statement built at run time.
            fn session_statement<'q>(
                statement: &'q $crate::sessions::Statement,
            ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments> {
                // Only column names, operators and `$n` placeholders were written into the
                // text; every value is bound below.
                let mut query = sqlx::query(sqlx::AssertSqlSafe(statement.sql.as_str()));
                for value in &statement.binds {
                    query = match value {
                        $crate::sessions::Value::Text(text) => query.bind(text.as_str()),
                        $crate::sessions::Value::Int(int) => query.bind(*int),
                    };
                }
                query
            }

            /// The rows a claim statement returns: due at `$1`, leased until `$2`, at most `$3`.
            async fn claim_rows(
                &self,
                sql: &'static str,
                now: time::OffsetDateTime,
                lease_until: time::OffsetDateTime,
                batch: u32,
            ) -> oxidp_core::store::StoreResult<Vec<<$db as sqlx::Database>::Row>> {
                sqlx::query(sql)
                    .bind($crate::sql::seconds(now))
                    .bind($crate::sql::seconds(lease_until))
                    .bind(i64::from(batch))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::error::store_error)
            }

            /// The sessions a statement built at run time returns, in its order.
            async fn fetch_sessions(
                &self,
                statement: &$crate::sessions::Statement,
            ) -> oxidp_core::store::StoreResult<Vec<oxidp_core::model::ServerSideSession>> {
                let rows = Self::session_statement(statement)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                rows.iter()
                    .map($crate::sessions::session_from_row)
                    .collect()
            }

            /// The counts of the page `rows` (not empty) among the sessions matching `query`,
            /// over at most `bound` + 1 of them.
            async fn count_session_page(
                &self,
                query: &oxidp_core::model::SessionQuery,
                rows: &[oxidp_core::model::ServerSideSession],
                bound: u64,
            ) -> oxidp_core::store::StoreResult<Option<$crate::sessions::Counts>> {
                let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
                    return Ok(None);
                };
                let statement = $crate::sessions::count_page(query, first, last, bound);
                let row = Self::session_statement(&statement)
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                $crate::sessions::counts_from_row(&row).map(Some)
            }

            /// Whether a session matching `query` lies on the `op` side of `session`.
            async fn session_beyond(
                &self,
                query: &oxidp_core::model::SessionQuery,
                op: &str,
                session: &oxidp_core::model::ServerSideSession,
            ) -> oxidp_core::store::StoreResult<bool> {
                let statement = $crate::sessions::probe_beyond(query, op, session);
                Ok(!self.fetch_sessions(&statement).await?.is_empty())
            }

            /// The total of a large filter: remembered, or counted now and remembered.
            async fn large_session_total(
                &self,
                query: &oxidp_core::model::SessionQuery,
            ) -> oxidp_core::store::StoreResult<u64> {
                if let Some(total) = self.session_counts.large_total(query) {
                    return Ok(total);
                }
                let statement = $crate::sessions::count_matching(query);
                let row = Self::session_statement(&statement)
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                let total: i64 = $crate::sql::column(&row, "total_rows")?;
                let total = u64::try_from(total).unwrap_or(0);
                self.session_counts.remember(query, total);
                Ok(total)
            }

            /// One page of `size` (and whether more rows lie in the direction read), starting
            /// again at page 1 when nothing lies beyond the token's page any more.
            async fn session_page(
                &self,
                query: &oxidp_core::model::SessionQuery,
                page: $crate::sessions::Page,
                size: u32,
            ) -> oxidp_core::store::StoreResult<(
                $crate::sessions::Page,
                Vec<oxidp_core::model::ServerSideSession>,
                bool,
            )> {
                use $crate::sessions::{Page, select_page, take_extra_row};
                let mut rows = self
                    .fetch_sessions(&select_page(query, &page, size + 1))
                    .await?;
                let page = if rows.is_empty() && !page.is_first() {
                    rows = self
                        .fetch_sessions(&select_page(query, &Page::First, size + 1))
                        .await?;
                    Page::First
                } else {
                    page
                };
                let more = take_extra_row(&page, &mut rows, size);
                Ok((page, rows, more))
            }
        }

        #[async_trait::async_trait]
        impl oxidp_core::store::SessionStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_session(
                &self,
                session: &oxidp_core::model::ServerSideSession,
            ) -> oxidp_core::store::StoreResult<()> {
                match self
                    .write_session($crate::sessions::CREATE_SESSION, session)
                    .await?
                {
                    0 => Err(oxidp_core::store::StoreError::Conflict),
                    _ => Ok(()),
                }
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn get_session(
                &self,
                key: &str,
            ) -> oxidp_core::store::StoreResult<Option<oxidp_core::model::ServerSideSession>> {
                let row = sqlx::query($crate::sessions::GET_SESSION)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                row.as_ref()
                    .map($crate::sessions::session_from_row)
                    .transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn update_session(
                &self,
                session: &oxidp_core::model::ServerSideSession,
            ) -> oxidp_core::store::StoreResult<bool> {
                let updated = self
                    .write_session($crate::sessions::UPDATE_SESSION, session)
                    .await?;
                Ok(updated > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn touch_session(
                &self,
                key: &str,
                renewed: time::OffsetDateTime,
                expires: Option<time::OffsetDateTime>,
            ) -> oxidp_core::store::StoreResult<bool> {
                let done = sqlx::query($crate::sessions::TOUCH_SESSION)
                    .bind(key)
                    .bind($crate::sql::seconds(renewed))
                    .bind($crate::sessions::optional_seconds(expires))
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn delete_session(&self, key: &str) -> oxidp_core::store::StoreResult<bool> {
                let done = sqlx::query($crate::sessions::DELETE_SESSION)
                    .bind(key)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(filter = ?filter))]
            async fn get_sessions(
                &self,
                filter: &oxidp_core::model::SessionFilter,
            ) -> oxidp_core::store::StoreResult<Vec<oxidp_core::model::ServerSideSession>> {
                self.fetch_sessions(&$crate::sessions::select_sessions(filter)?)
                    .await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(filter = ?filter))]
            async fn delete_sessions(
                &self,
                filter: &oxidp_core::model::SessionFilter,
            ) -> oxidp_core::store::StoreResult<Vec<oxidp_core::model::ServerSideSession>> {
                let mut removed = self
                    .fetch_sessions(&$crate::sessions::delete_sessions(filter)?)
                    .await?;
                $crate::sessions::sort_by_created(&mut removed);
                Ok(removed)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(batch = batch))]
            async fn get_and_remove_expired(
                &self,
                now: time::OffsetDateTime,
                batch: u32,
            ) -> oxidp_core::store::StoreResult<Vec<oxidp_core::model::ServerSideSession>> {
                let rows = sqlx::query($remove_expired_sessions)
                    .bind($crate::sql::seconds(now))
                    .bind(i64::from(batch))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                let mut removed = rows
                    .iter()
                    .map($crate::sessions::session_from_row)
                    .collect::<oxidp_core::store::StoreResult<Vec<_>>>()?;
                $crate::sessions::sort_by_expiry(&mut removed);
                Ok(removed)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn count_active_sessions(
                &self,
                now: time::OffsetDateTime,
            ) -> oxidp_core::store::StoreResult<u64> {
                let count: i64 = sqlx::query_scalar($crate::expiration::COUNT_ACTIVE_SESSIONS)
                    .bind($crate::sql::seconds(now))
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(u64::try_from(count).unwrap_or(0))
            }

            async fn query_sessions(
                &self,
                query: &oxidp_core::model::SessionQuery,
            ) -> oxidp_core::store::StoreResult<
                oxidp_core::model::QueryResult<oxidp_core::model::ServerSideSession>,
            > {
                use $crate::sessions::{Page, empty_result, large_page_result, page_result};
                // No stored text holds NUL (PostgreSQL's cannot): such a filter matches nothing,
                // and must not reach the database as an error.
                let has_nul = [&query.subject_id, &query.session_id, &query.display_name]
                    .iter()
                    .any(|value| value.as_deref().is_some_and(|v| v.contains('\0')));
                if has_nul {
                    return Ok(empty_result());
                }
                let size = query.page_size();
                let (mut page, mut rows, mut more) =
                    self.session_page(query, Page::requested(query), size).await?;
                if rows.is_empty() {
                    return Ok(empty_result());
                }
                // A filter known to be large skips the bounded count (see `session_counts`).
                if self.session_counts.large_total(query).is_none() {
                    let bound = self.session_counts.exact_up_to();
                    let Some(mut counts) = self.count_session_page(query, &rows, bound).await?
                    else {
                        return Ok(empty_result());
                    };
                    if u64::try_from(counts.total).unwrap_or(0) <= bound {
                        if $crate::sessions::restart_backward(&page, rows.len(), size, counts) {
                            (_, rows, _) = self.session_page(query, Page::First, size).await?;
                            match self.count_session_page(query, &rows, bound).await? {
                                Some(recounted) => counts = recounted,
                                None => return Ok(empty_result()),
                            }
                        }
                        return Ok(page_result(query, rows, size, counts));
                    }
                }
                let total = self.large_session_total(query).await?;
                if page.is_backward() && !more && rows.len() < (size as usize) {
                    // A short first page reached backwards: show a full one instead.
                    (page, rows, more) = self.session_page(query, Page::First, size).await?;
                }
                let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
                    return Ok(empty_result());
                };
                let flags = match page {
                    Page::First => (false, more),
                    Page::After(..) => (self.session_beyond(query, "<", first).await?, more),
                    Page::Before(..) => (more, self.session_beyond(query, ">", last).await?),
                };
                Ok(large_page_result(query, rows, size, &page, flags, total))
            }
        }

        impl $store {
            /// Inserts `messages` on `conn`, at most the backend's `MESSAGE_CHUNK` rows per
            /// statement.
            async fn insert_outbox_messages(
                conn: &mut <$db as sqlx::Database>::Connection,
                messages: &[&oxidp_core::model::OutboxMessage],
            ) -> oxidp_core::store::StoreResult<()> {
                for chunk in messages.chunks($message_chunk) {
                    let sql = $crate::outbox::insert_messages(chunk.len());
                    // Only column names and `$n` placeholders were written into the text; every
                    // value is bound below.
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                    for message in chunk {
                        query = query
                            .bind($crate::outbox::id_text(message.id))
                            .bind(message.client_id.as_str())
                            .bind(message.endpoint.as_str())
                            .bind(message.logout_token.as_str())
                            .bind(message.subject_id.as_str())
                            .bind(message.session_id.as_str())
                            .bind(message.reason.as_str())
                            .bind($crate::sql::seconds(message.created))
                            .bind($crate::sql::seconds(message.next_attempt))
                            .bind($crate::outbox::attempts_value(message.attempts))
                            .bind($crate::sql::seconds(message.give_up_after))
                            .bind(message.status.as_str());
                    }
                    query
                        .execute(&mut *conn)
                        .await
                        .map_err($crate::error::store_error)?;
                }
                Ok(())
            }

            /// In one transaction, for each of `expirations` whose record is still there and
            /// still expired at `now`: deletes it, revokes and enqueues (see
            /// `OutboxStore::commit_expirations`); returns the keys removed.
            async fn commit_still_expired(
                &self,
                now: time::OffsetDateTime,
                expirations: &[&oxidp_core::model::SessionExpiration],
            ) -> oxidp_core::store::StoreResult<Vec<String>> {
                if expirations.is_empty() {
                    return Ok(Vec::new());
                }
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err($crate::error::store_error)?;
                // The gate: only what this deletes (still there, still expired) is processed.
                let mut removed = std::collections::HashSet::new();
                for chunk in expirations.chunks($crate::outbox::KEY_CHUNK) {
                    let sql = $crate::expiration::delete_expired_by_key(chunk.len());
                    // Only `$n` placeholders were written into the text; every value is bound.
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                        .bind($crate::sql::seconds(now));
                    for expiration in chunk {
                        query = query.bind(expiration.key.as_str());
                    }
                    let rows = query
                        .fetch_all(&mut *tx)
                        .await
                        .map_err($crate::error::store_error)?;
                    for row in &rows {
                        removed.insert($crate::sql::column::<_, String>(row, "key")?);
                    }
                }
                let committed: Vec<&oxidp_core::model::SessionExpiration> = expirations
                    .iter()
                    .copied()
                    .filter(|expiration| removed.contains(&expiration.key))
                    .collect();
                Self::revoke_and_enqueue(&mut tx, &committed).await?;
                tx.commit().await.map_err($crate::error::store_error)?;
                Ok(committed.into_iter().map(|e| e.key.clone()).collect())
            }

            /// The grant revocations and messages of committed expirations, on `conn`.
            async fn revoke_and_enqueue(
                conn: &mut <$db as sqlx::Database>::Connection,
                committed: &[&oxidp_core::model::SessionExpiration],
            ) -> oxidp_core::store::StoreResult<()> {
                // Sessions usually share their set of coordinated clients: one statement per set.
                let mut by_clients: std::collections::BTreeMap<&[String], Vec<&str>> =
                    std::collections::BTreeMap::new();
                for expiration in committed {
                    if !expiration.revoke_client_ids.is_empty() {
                        by_clients
                            .entry(expiration.revoke_client_ids.as_slice())
                            .or_default()
                            .push(expiration.session_id.as_str());
                    }
                }
                for (clients, session_ids) in by_clients {
                    for chunk in session_ids.chunks($crate::outbox::KEY_CHUNK) {
                        let sql = $crate::expiration::revoke_session_grants(chunk.len(), clients.len());
                        // Only `$n` placeholders were written into the text; every value is bound.
                        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                        for grant_type in oxidp_core::model::grant_types::SESSION_BOUND {
                            query = query.bind(grant_type);
                        }
                        for session_id in chunk {
                            query = query.bind(*session_id);
                        }
                        for client_id in clients {
                            query = query.bind(client_id.as_str());
                        }
                        query
                            .execute(&mut *conn)
                            .await
                            .map_err($crate::error::store_error)?;
                    }
                }
                let messages: Vec<&oxidp_core::model::OutboxMessage> = committed
                    .iter()
                    .flat_map(|expiration| &expiration.messages)
                    .collect();
                Self::insert_outbox_messages(conn, &messages).await
            }

            /// Deletes the sessions with these keys on `conn`; returns how many existed.
            async fn delete_sessions_by_key(
                conn: &mut <$db as sqlx::Database>::Connection,
                keys: &[String],
            ) -> oxidp_core::store::StoreResult<u64> {
                let mut removed = 0;
                for chunk in keys.chunks($crate::outbox::KEY_CHUNK) {
                    let sql = $crate::outbox::delete_sessions_by_key(chunk.len());
                    // Only `$n` placeholders were written into the text; every key is bound.
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                    for key in chunk {
                        query = query.bind(key.as_str());
                    }
                    removed += query
                        .execute(&mut *conn)
                        .await
                        .map_err($crate::error::store_error)?
                        .rows_affected();
                }
                Ok(removed)
            }
        }

        #[async_trait::async_trait]
        impl oxidp_core::store::OutboxStore for $store {
            #[tracing::instrument(
                level = "debug",
                skip_all,
                fields(
                    sessions = removal.session_keys.len(),
                    filters = removal.grant_filters.len(),
                    messages = removal.messages.len(),
                )
            )]
            async fn commit_removal(
                &self,
                removal: &oxidp_core::model::SessionRemoval,
            ) -> oxidp_core::store::StoreResult<u64> {
                // Built before the transaction starts: an empty filter writes nothing.
                let grant_deletions = removal
                    .grant_filters
                    .iter()
                    .map($crate::sql::delete_grants)
                    .collect::<oxidp_core::store::StoreResult<Vec<_>>>()?;
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err($crate::error::store_error)?;
                let removed = Self::delete_sessions_by_key(&mut tx, &removal.session_keys).await?;
                for statement in &grant_deletions {
                    Self::dynamic(statement)
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::error::store_error)?;
                }
                let messages: Vec<_> = removal.messages.iter().collect();
                Self::insert_outbox_messages(&mut tx, &messages).await?;
                // Dropping the transaction on any error above rolls everything back.
                tx.commit().await.map_err($crate::error::store_error)?;
                Ok(removed)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(sessions = expirations.len()))]
            async fn commit_expirations(
                &self,
                now: time::OffsetDateTime,
                expirations: &[oxidp_core::model::SessionExpiration],
            ) -> oxidp_core::store::StoreResult<Vec<String>> {
                let expirations: Vec<&oxidp_core::model::SessionExpiration> =
                    expirations.iter().collect();
                self.commit_still_expired(now, &expirations).await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(batch = batch))]
            async fn take_expired<'a>(
                &'a self,
                now: time::OffsetDateTime,
                batch: u32,
            ) -> oxidp_core::store::StoreResult<
                Box<dyn oxidp_core::store::ExpiredSessionBatch + 'a>,
            > {
                // Each backend holds a batch its own way (see its `take_expired_batch`).
                self.take_expired_batch(now, batch).await
            }

            fn expiration_lanes(&self) -> usize {
                self.expiration_lane_count()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(messages = messages.len()))]
            async fn enqueue(
                &self,
                messages: &[oxidp_core::model::OutboxMessage],
            ) -> oxidp_core::store::StoreResult<()> {
                if messages.is_empty() {
                    return Ok(());
                }
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err($crate::error::store_error)?;
                let messages: Vec<_> = messages.iter().collect();
                Self::insert_outbox_messages(&mut tx, &messages).await?;
                tx.commit().await.map_err($crate::error::store_error)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(batch = batch))]
            async fn claim_due(
                &self,
                now: time::OffsetDateTime,
                lease_until: time::OffsetDateTime,
                batch: u32,
            ) -> oxidp_core::store::StoreResult<Vec<oxidp_core::model::OutboxMessage>> {
                let rows = self.claim_rows($claim_due, now, lease_until, batch).await?;
                let mut claimed = rows
                    .iter()
                    .map($crate::outbox::message_from_row)
                    .collect::<oxidp_core::store::StoreResult<Vec<_>>>()?;
                // `RETURNING` has no order; every claimed message now has the same
                // `next_attempt`, so this is (next_attempt, id) order.
                claimed.sort_by_key(|message| message.id);
                Ok(claimed)
            }

            #[tracing::instrument(
                level = "debug",
                skip_all,
                fields(message_id = %attempt.message_id, status = status.as_str())
            )]
            async fn record_attempt(
                &self,
                attempt: &oxidp_core::model::DeliveryAttempt,
                status: oxidp_core::model::DeliveryStatus,
                next_attempt: time::OffsetDateTime,
            ) -> oxidp_core::store::StoreResult<()> {
                let outcome = oxidp_core::model::AttemptOutcome {
                    attempt: attempt.clone(),
                    status,
                    next_attempt,
                };
                oxidp_core::store::OutboxStore::record_attempts(self, std::slice::from_ref(&outcome))
                    .await
            }

            #[tracing::instrument(level = "debug", skip_all, fields(attempts = outcomes.len()))]
            async fn record_attempts(
                &self,
                outcomes: &[oxidp_core::model::AttemptOutcome],
            ) -> oxidp_core::store::StoreResult<()> {
                if outcomes.is_empty() {
                    return Ok(());
                }
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .map_err($crate::error::store_error)?;
                for outcome in outcomes {
                    let id = $crate::outbox::id_text(outcome.attempt.message_id);
                    let updated = sqlx::query($crate::outbox::UPDATE_AFTER_ATTEMPT)
                        .bind(id.as_str())
                        .bind(outcome.status.as_str())
                        .bind($crate::sql::seconds(outcome.next_attempt))
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::error::store_error)?;
                    // A message that is gone gets no attempt, as in `record_attempt`.
                    if updated.rows_affected() == 0 {
                        continue;
                    }
                    sqlx::query($crate::outbox::INSERT_ATTEMPT)
                        .bind(id.as_str())
                        .bind($crate::sql::seconds(outcome.attempt.at))
                        .bind(outcome.attempt.http_status.map(i32::from))
                        .bind(outcome.attempt.error.as_deref())
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::error::store_error)?;
                }
                tx.commit().await.map_err($crate::error::store_error)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(status = status.as_str(), limit = limit))]
            async fn list_messages(
                &self,
                status: oxidp_core::model::DeliveryStatus,
                limit: u32,
            ) -> oxidp_core::store::StoreResult<Vec<oxidp_core::model::OutboxMessage>> {
                let rows = sqlx::query($crate::outbox::LIST_MESSAGES)
                    .bind(status.as_str())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                rows.iter().map($crate::outbox::message_from_row).collect()
            }

            #[tracing::instrument(level = "debug", skip_all, fields(message_id = %message_id))]
            async fn list_attempts(
                &self,
                message_id: uuid::Uuid,
            ) -> oxidp_core::store::StoreResult<Vec<oxidp_core::model::DeliveryAttempt>> {
                let rows = sqlx::query($crate::outbox::LIST_ATTEMPTS)
                    .bind($crate::outbox::id_text(message_id))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                rows.iter().map($crate::outbox::attempt_from_row).collect()
            }
        }

        #[async_trait::async_trait]
        impl oxidp_core::store::AuditStore for $store {
            #[tracing::instrument(level = "debug", skip_all, fields(id = %entry.id))]
            async fn record_audit(
                &self,
                entry: &oxidp_core::model::AuditEntry,
            ) -> oxidp_core::store::StoreResult<()> {
                sqlx::query($crate::outbox::INSERT_AUDIT)
                    .bind($crate::outbox::id_text(entry.id))
                    .bind($crate::sql::seconds(entry.at))
                    .bind(entry.actor.as_str())
                    .bind(entry.request.as_str())
                    .bind(entry.outcome.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok(())
            }

            #[tracing::instrument(level = "debug", skip_all, fields(limit = limit))]
            async fn list_audit(
                &self,
                limit: u32,
            ) -> oxidp_core::store::StoreResult<Vec<oxidp_core::model::AuditEntry>> {
                let rows = sqlx::query($crate::outbox::LIST_AUDIT)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                rows.iter().map($crate::outbox::audit_from_row).collect()
            }
        }
    };
}

pub(crate) use impl_stores;
