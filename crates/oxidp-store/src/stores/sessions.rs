//! [`SessionStore`]: server-side sessions and their keyset-paged queries. The SQL and the
//! paging rules live in [`crate::sessions`]; the totals' cache in [`crate::session_counts`].

use crate::dialect::Query;
use crate::error::store_error;
use crate::{PostgresStore, SqliteStore, sql};
use async_trait::async_trait;
use oxidp_core::model::{QueryResult, ServerSideSession, SessionFilter, SessionQuery};
use oxidp_core::store::{SessionStore, StoreError, StoreResult};
use time::OffsetDateTime;

/// Implements [`SessionStore`] for one backend's store type.
macro_rules! session_store {
    ($store:ty) => {
        impl $store {
            /// Binds the 9 columns of `session` in the order of `CREATE_SESSION`.
            async fn write_session(
                &self,
                sql: &'static str,
                session: &ServerSideSession,
            ) -> StoreResult<u64> {
                let done = sqlx::query(sql)
                    .bind(&session.key)
                    .bind(&session.scheme)
                    .bind(&session.subject_id)
                    .bind(&session.session_id)
                    .bind(session.display_name.as_deref())
                    .bind(sql::seconds(session.created))
                    .bind(sql::seconds(session.renewed))
                    .bind(crate::sessions::optional_seconds(session.expires))
                    .bind(session.ticket.as_slice())
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(done.rows_affected())
            }

            /// Binds the values of a session statement built at run time.
            fn session_statement<'q>(statement: &'q crate::sessions::Statement) -> Query<'q, Self> {
                // Only column names, operators and `$n` placeholders were written into the
                // text; every value is bound below.
                let mut query = sqlx::query(sqlx::AssertSqlSafe(statement.sql.as_str()));
                for value in &statement.binds {
                    query = match value {
                        crate::sessions::Value::Text(text) => query.bind(text.as_str()),
                        crate::sessions::Value::Int(int) => query.bind(*int),
                    };
                }
                query
            }

            /// The sessions a statement built at run time returns, in its order.
            async fn fetch_sessions(
                &self,
                statement: &crate::sessions::Statement,
            ) -> StoreResult<Vec<ServerSideSession>> {
                let rows = Self::session_statement(statement)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                rows.iter().map(crate::sessions::session_from_row).collect()
            }

            /// The counts of the page `rows` (not empty) among the sessions matching `query`,
            /// over at most `bound` + 1 of them.
            async fn count_session_page(
                &self,
                query: &SessionQuery,
                rows: &[ServerSideSession],
                bound: u64,
            ) -> StoreResult<Option<crate::sessions::Counts>> {
                let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
                    return Ok(None);
                };
                let statement = crate::sessions::count_page(query, first, last, bound);
                let row = Self::session_statement(&statement)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(store_error)?;
                crate::sessions::counts_from_row(&row).map(Some)
            }

            /// Whether a session matching `query` lies on the `op` side of `session`.
            async fn session_beyond(
                &self,
                query: &SessionQuery,
                op: &str,
                session: &ServerSideSession,
            ) -> StoreResult<bool> {
                let statement = crate::sessions::probe_beyond(query, op, session);
                Ok(!self.fetch_sessions(&statement).await?.is_empty())
            }

            /// The total of a large filter: remembered, or counted now and remembered.
            async fn large_session_total(&self, query: &SessionQuery) -> StoreResult<u64> {
                if let Some(total) = self.session_counts.large_total(query) {
                    return Ok(total);
                }
                let statement = crate::sessions::count_matching(query);
                let row = Self::session_statement(&statement)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(store_error)?;
                let total: i64 = sql::column(&row, "total_rows")?;
                let total = u64::try_from(total).unwrap_or(0);
                self.session_counts.remember(query, total);
                Ok(total)
            }

            /// One page of `size` (and whether more rows lie in the direction read), starting
            /// again at page 1 when nothing lies beyond the token's page any more.
            async fn session_page(
                &self,
                query: &SessionQuery,
                page: crate::sessions::Page,
                size: u32,
            ) -> StoreResult<(crate::sessions::Page, Vec<ServerSideSession>, bool)> {
                use crate::sessions::{Page, select_page, take_extra_row};
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

        #[async_trait]
        impl SessionStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn create_session(&self, session: &ServerSideSession) -> StoreResult<()> {
                match self
                    .write_session(crate::sessions::CREATE_SESSION, session)
                    .await?
                {
                    0 => Err(StoreError::Conflict),
                    _ => Ok(()),
                }
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn get_session(&self, key: &str) -> StoreResult<Option<ServerSideSession>> {
                let row = sqlx::query(crate::sessions::GET_SESSION)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error)?;
                row.as_ref()
                    .map(crate::sessions::session_from_row)
                    .transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn update_session(&self, session: &ServerSideSession) -> StoreResult<bool> {
                let updated = self
                    .write_session(crate::sessions::UPDATE_SESSION, session)
                    .await?;
                Ok(updated > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn touch_session(
                &self,
                key: &str,
                renewed: OffsetDateTime,
                expires: Option<OffsetDateTime>,
            ) -> StoreResult<bool> {
                let done = sqlx::query(crate::sessions::TOUCH_SESSION)
                    .bind(key)
                    .bind(sql::seconds(renewed))
                    .bind(crate::sessions::optional_seconds(expires))
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn delete_session(&self, key: &str) -> StoreResult<bool> {
                let done = sqlx::query(crate::sessions::DELETE_SESSION)
                    .bind(key)
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(filter = ?filter))]
            async fn get_sessions(
                &self,
                filter: &SessionFilter,
            ) -> StoreResult<Vec<ServerSideSession>> {
                self.fetch_sessions(&crate::sessions::select_sessions(filter)?)
                    .await
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn count_active_sessions(&self, now: OffsetDateTime) -> StoreResult<u64> {
                let count: i64 = sqlx::query_scalar(crate::expiration::COUNT_ACTIVE_SESSIONS)
                    .bind(sql::seconds(now))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(u64::try_from(count).unwrap_or(0))
            }

            async fn query_sessions(
                &self,
                query: &SessionQuery,
            ) -> StoreResult<QueryResult<ServerSideSession>> {
                use crate::sessions::{Page, empty_result, large_page_result, page_result};
                // No stored text holds NUL (PostgreSQL's cannot): such a filter matches nothing,
                // and must not reach the database as an error.
                let has_nul = [&query.subject_id, &query.session_id, &query.display_name]
                    .iter()
                    .any(|value| value.as_deref().is_some_and(|v| v.contains('\0')));
                if has_nul {
                    return Ok(empty_result());
                }
                let size = query.page_size();
                let (mut page, mut rows, mut more) = self
                    .session_page(query, Page::requested(query), size)
                    .await?;
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
                        if crate::sessions::restart_backward(&page, rows.len(), size, counts) {
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
    };
}

session_store!(SqliteStore);
session_store!(PostgresStore);
