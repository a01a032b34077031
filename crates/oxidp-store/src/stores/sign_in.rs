//! [`SignInFailureStore`]: failed sign-in counters. Every operation is one statement, which
//! makes it atomic on both databases: the compare-and-set is an `UPDATE` (or an `INSERT ... ON
//! CONFLICT DO NOTHING`) whose `WHERE` names the whole counter as read, and an addition is an
//! upsert that reads and writes the row in one step.

use crate::dialect::Dialect;
use crate::error::store_error;
use crate::{PostgresStore, SqliteStore, sql};
use async_trait::async_trait;
use oxidp_core::model::SignInFailures;
use oxidp_core::store::{SignInFailureStore, StoreError, StoreResult};
use sqlx::{ColumnIndex, Decode, Row, Type};
use time::OffsetDateTime;

const GET: &str = "SELECT failures, last_failure, expires FROM sign_in_failures WHERE key = $1";

const CREATE: &str = "INSERT INTO sign_in_failures (key, failures, last_failure, expires) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING";

const REPLACE: &str = "UPDATE sign_in_failures SET failures = $2, last_failure = $3, \
     expires = $4 WHERE key = $1 AND failures = $5 AND last_failure = $6 AND expires = $7";

/// A counter that expired before `$2` starts again at one.
const ADD: &str = "INSERT INTO sign_in_failures (key, failures, last_failure, expires) \
     VALUES ($1, 1, $2, $3) ON CONFLICT (key) DO UPDATE SET \
     failures = CASE WHEN sign_in_failures.expires > $2 \
     THEN sign_in_failures.failures + 1 ELSE 1 END, \
     last_failure = $2, expires = $3 \
     RETURNING failures, last_failure, expires";

const CLEAR: &str = "DELETE FROM sign_in_failures WHERE key = $1";

fn counter_from_row<R>(row: &R) -> StoreResult<SignInFailures>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let failures: i64 = sql::column(row, "failures")?;
    Ok(SignInFailures {
        failures: u32::try_from(failures)
            .map_err(|_| StoreError::Corrupt("`failures` is out of range".into()))?,
        last_failure: sql::instant("last_failure", sql::column(row, "last_failure")?)?,
        expires: sql::instant("expires", sql::column(row, "expires")?)?,
    })
}

/// Implements [`SignInFailureStore`] for one backend's store type.
macro_rules! sign_in_failure_store {
    ($store:ty) => {
        #[async_trait]
        impl SignInFailureStore for $store {
            #[tracing::instrument(level = "debug", skip_all)]
            async fn get_sign_in_failures(&self, key: &str) -> StoreResult<Option<SignInFailures>> {
                let row = sqlx::query(GET)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error)?;
                row.as_ref().map(counter_from_row).transpose()
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn replace_sign_in_failures(
                &self,
                key: &str,
                current: Option<&SignInFailures>,
                next: &SignInFailures,
            ) -> StoreResult<bool> {
                let query = sqlx::query(match current {
                    None => CREATE,
                    Some(_) => REPLACE,
                })
                .bind(key)
                .bind(i64::from(next.failures))
                .bind(sql::seconds(next.last_failure))
                .bind(sql::seconds(next.expires));
                let query = match current {
                    None => query,
                    Some(current) => query
                        .bind(i64::from(current.failures))
                        .bind(sql::seconds(current.last_failure))
                        .bind(sql::seconds(current.expires)),
                };
                let done = query.execute(&self.pool).await.map_err(store_error)?;
                Ok(done.rows_affected() == 1)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn add_sign_in_failure(
                &self,
                key: &str,
                at: OffsetDateTime,
                expires: OffsetDateTime,
            ) -> StoreResult<SignInFailures> {
                let row = sqlx::query(ADD)
                    .bind(key)
                    .bind(sql::seconds(at))
                    .bind(sql::seconds(expires))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(store_error)?;
                counter_from_row(&row)
            }

            #[tracing::instrument(level = "debug", skip_all)]
            async fn clear_sign_in_failures(&self, key: &str) -> StoreResult<bool> {
                let done = sqlx::query(CLEAR)
                    .bind(key)
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(done.rows_affected() > 0)
            }

            #[tracing::instrument(level = "debug", skip_all, fields(batch = batch))]
            async fn remove_expired_sign_in_failures(
                &self,
                now: OffsetDateTime,
                batch: u32,
            ) -> StoreResult<u64> {
                remove_expired!(
                    self,
                    <$store as Dialect>::REMOVE_EXPIRED_SIGN_IN_FAILURES,
                    now,
                    batch
                )
            }
        }
    };
}

sign_in_failure_store!(SqliteStore);
sign_in_failure_store!(PostgresStore);
